//! Firmware for QEMU's mps2-an386 (Cortex-M4F): runs the trueno-zram page suite, prints the summary
//! through semihosting and exits 0 only when every round trip held, every stack depth stayed within
//! its bound and the digest equals the host's. A failure exits 1, a panic or fault 101.
//!
//! With feature `defmt` it logs through defmt over semihosting instead (decode with defmt-print).
//!
//! Feature `pool` adds the pool pass over a fixed heap (`targets/heap.rs`); feature `size-probe`
//! runs the size probe instead of the suite (`cargo xtask firmware-size`).
#![no_std]
#![no_main]

// Linked for its single-core `critical-section` implementation, which defmt's logger takes.
use cortex_m as _;
use cortex_m_rt::{ExceptionFrame, entry, exception};
use trueno_zram_firmware::stack::PaintedStack;

#[cfg(feature = "pool")]
include!("../../heap.rs");

mod suite_input {
    include!(concat!(env!("OUT_DIR"), "/suite_input.rs"));
}

const BOARD: &str = "Cortex-M4F (thumbv7em-none-eabihf, QEMU mps2-an386)";

unsafe extern "C" {
    /// Lowest address of the stack, from cortex-m-rt's linker script (the end of `.bss`/`.uninit`).
    static _stack_end: u32;
}

#[entry]
fn main() -> ! {
    if cfg!(feature = "size-probe") {
        semihosting::process::exit(trueno_zram_firmware::probe::run());
    }
    #[cfg(feature = "pool")]
    init_heap();
    // SAFETY: cortex-m-rt gives the stack everything from `_stack_end` up to `_stack_start`; this
    // firmware never enables an interrupt, so `main` is the only context that uses that stack.
    let mut meter = unsafe { PaintedStack::new(&raw const _stack_end) };
    semihosting::process::exit(report(&mut meter))
}

#[cfg(not(feature = "defmt"))]
fn report(meter: &mut PaintedStack) -> i32 {
    trueno_zram_firmware::board::run_and_report(
        BOARD,
        suite_input::PAGES,
        suite_input::EXPECTED_DIGEST,
        meter,
        &mut Console,
    )
}

#[cfg(feature = "defmt")]
fn report(meter: &mut PaintedStack) -> i32 {
    use defmt_semihosting as _;
    defmt::info!("trueno-zram firmware suite on {=str}", BOARD);
    let result = trueno_zram_firmware::run(suite_input::PAGES, meter).and_then(|summary| {
        defmt::info!("{}", summary);
        summary.check_digest(suite_input::EXPECTED_DIGEST)
    });
    match result {
        Ok(()) => {
            defmt::info!("trueno-zram firmware suite: PASS");
            0
        }
        Err(failure) => {
            defmt::error!("trueno-zram firmware suite: FAIL: {}", failure);
            trueno_zram_firmware::board::FAILURE_EXIT
        }
    }
}

/// Text output through semihosting (SYS_WRITE to the host's stdout).
#[cfg(not(feature = "defmt"))]
struct Console;

#[cfg(not(feature = "defmt"))]
impl core::fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        semihosting::print!("{s}");
        Ok(())
    }
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    semihosting::eprintln!("firmware fault: HardFault at pc {:#010x}", frame.pc());
    semihosting::process::exit(101)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    semihosting::eprintln!("firmware panicked: {info}");
    semihosting::process::exit(101)
}
