//! Firmware for QEMU's virt board (RISC-V 32, riscv32imac): runs the trueno-zram page suite, prints the
//! summary through semihosting and exits 0 only when every round trip held, every stack depth stayed
//! within its bound and the digest equals the host's. A failure exits 1, a panic or trap 101.
//!
//! Feature `pool` adds the pool pass over a fixed heap (`targets/heap.rs`); feature `size-probe`
//! runs the size probe instead of the suite (`cargo xtask firmware-size`).
#![no_std]
#![no_main]

// Linked for its single-hart `critical-section` implementation, which the pool's heap takes.
#[cfg(feature = "pool")]
use riscv as _;
use trueno_zram_firmware::stack::PaintedStack;

#[cfg(feature = "pool")]
include!("../../heap.rs");

mod suite_input {
    include!(concat!(env!("OUT_DIR"), "/suite_input.rs"));
}

const BOARD: &str = "RISC-V 32 (riscv32imac-unknown-none-elf, QEMU virt)";

unsafe extern "C" {
    /// Lowest address of the stack, from riscv-rt's linker script (the end of the heap region).
    static __estack: u32;
}

#[riscv_rt::entry]
fn main() -> ! {
    if cfg!(feature = "size-probe") {
        semihosting::process::exit(trueno_zram_firmware::probe::run());
    }
    #[cfg(feature = "pool")]
    init_heap();
    // SAFETY: riscv-rt gives the single hart's stack everything from `__estack` up to `_stack_start`;
    // this firmware never enables an interrupt, so `main` is the only context that uses that stack.
    let mut meter = unsafe { PaintedStack::new(&raw const __estack) };
    let code = trueno_zram_firmware::board::run_and_report(
        BOARD,
        suite_input::PAGES,
        suite_input::EXPECTED_DIGEST,
        &mut meter,
        &mut Console,
    );
    semihosting::process::exit(code)
}

/// Text output through semihosting (SYS_WRITE to the host's stdout).
struct Console;

impl core::fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        semihosting::print!("{s}");
        Ok(())
    }
}

/// Every exception (illegal instruction, access fault, ...) ends the run with a report.
#[unsafe(export_name = "ExceptionHandler")]
fn exception(frame: &riscv_rt::TrapFrame) -> ! {
    semihosting::eprintln!(
        "firmware trap: mcause {:#010x}, ra {:#010x}",
        mcause(),
        frame.ra
    );
    semihosting::process::exit(101)
}

fn mcause() -> usize {
    let cause: usize;
    // SAFETY: reads the mcause CSR, which has no side effect in machine mode.
    unsafe { core::arch::asm!("csrr {}, mcause", out(reg) cause, options(nomem, nostack)) };
    cause
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    semihosting::eprintln!("firmware panicked: {info}");
    semihosting::process::exit(101)
}
