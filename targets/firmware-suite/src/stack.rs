//! Measuring how deep a call goes on the stack. A board paints the free stack below the stack pointer
//! with a known word, runs the call, and finds the lowest word that changed ([`PaintedStack`]); the host
//! has no such view and measures nothing ([`Unmeasured`]).

/// Runs a call and says how many bytes of stack it used, when it can tell.
pub trait StackMeter {
    /// Runs `f` and returns its stack depth in bytes (`None` where this meter cannot measure).
    fn measure(&mut self, f: &mut dyn FnMut()) -> Option<usize>;
}

/// A meter that runs the call and measures nothing (the host, where the stack is the OS's).
#[derive(Debug, Default, Clone, Copy)]
pub struct Unmeasured;

impl StackMeter for Unmeasured {
    fn measure(&mut self, f: &mut dyn FnMut()) -> Option<usize> {
        f();
        None
    }
}

#[cfg(any(target_arch = "arm", target_arch = "riscv32"))]
pub use painted::PaintedStack;

#[cfg(any(target_arch = "arm", target_arch = "riscv32"))]
mod painted {
    use super::StackMeter;

    /// The word written over free stack; any other value there was written by the measured call.
    const PAINT: u32 = 0x5afe_c0de;

    /// How far below the stack pointer the meter paints: far more than any bound, and it keeps each
    /// measurement short on a board with megabytes of stack. A call that uses all of it reports the
    /// whole window, which is over every bound.
    const WINDOW: usize = 64 * 1024;

    /// A painted-stack meter for a bare-metal board with one execution context and no interrupts, so
    /// that nothing but the measured call writes below the stack pointer.
    #[derive(Debug)]
    pub struct PaintedStack {
        /// Lowest address of the stack region (the stack grows down towards it).
        limit: usize,
    }

    impl PaintedStack {
        /// A meter for the stack whose lowest word is at `limit`.
        ///
        /// # Safety
        /// Every word from `limit` up to the stack pointer at any later [`StackMeter::measure`] must be
        /// stack that nothing else owns, and no interrupt or other context may run on this stack while
        /// a measurement is in progress: the meter overwrites that free stack.
        pub unsafe fn new(limit: *const u32) -> Self {
            Self {
                limit: limit as usize,
            }
        }
    }

    /// The caller's stack pointer.
    ///
    /// A naked function: it has no frame of its own, and calling it forces the caller to have set up
    /// its whole frame first (a non-leaf function saves its return address before its first call).
    /// Reading the stack pointer inline instead lets the compiler allocate the frame after the read
    /// (shrink-wrapping), and the paint would then cover the registers the caller saved.
    #[unsafe(naked)]
    extern "C" fn stack_pointer() -> usize {
        #[cfg(target_arch = "arm")]
        core::arch::naked_asm!("mov r0, sp", "bx lr");
        #[cfg(target_arch = "riscv32")]
        core::arch::naked_asm!("mv a0, sp", "ret");
    }

    impl StackMeter for PaintedStack {
        #[inline(never)]
        fn measure(&mut self, f: &mut dyn FnMut()) -> Option<usize> {
            let top = stack_pointer() & !3;
            let bottom = self.limit.max(top.saturating_sub(WINDOW));
            let words = top.saturating_sub(bottom) / 4;
            let base = bottom as *mut u32;
            for i in 0..words {
                // SAFETY: `bottom + 4 i` lies in [bottom, sp) within [limit, sp): free stack that
                // `PaintedStack::new`'s contract gives us and that no live frame occupies, since this
                // frame is complete (see `stack_pointer`) and frames lie above the stack pointer.
                unsafe { base.add(i).write_volatile(PAINT) };
            }
            f();
            if words == 0 {
                return None;
            }
            let untouched = (0..words)
                // SAFETY: the words painted above; reading them has no effect.
                .take_while(|&i| unsafe { base.add(i).read_volatile() } == PAINT)
                .count();
            Some((words - untouched) * 4)
        }
    }
}
