//! What every board's `main` does, so that both boards run the same steps and print the same lines.

use core::fmt::Write;

use crate::stack::StackMeter;
use crate::suite::{Failure, Summary, run};

/// The last line of a passing run; xtask looks for it.
pub const PASS_LINE: &str = "trueno-zram firmware suite: PASS";

/// The start of the last line of a failing run.
pub const FAIL_PREFIX: &str = "trueno-zram firmware suite: FAIL: ";

/// Exit status of a run whose suite failed (a panic exits with 101).
pub const FAILURE_EXIT: i32 = 1;

/// Runs the suite over `embedded`, prints the summary to `console`, checks the digest against the
/// host's `expected`, prints the verdict and returns the exit status for the board to report.
pub fn run_and_report(
    board: &str,
    embedded: &[u8],
    expected: u64,
    meter: &mut dyn StackMeter,
    console: &mut dyn Write,
) -> i32 {
    // The console is semihosting: a write that fails has nowhere to be reported, and the exit status
    // still carries the verdict.
    let _ = writeln!(console, "trueno-zram firmware suite on {board}");
    match run_checked(embedded, expected, meter, console) {
        Ok(_) => {
            let _ = writeln!(console, "{PASS_LINE}");
            0
        }
        Err(failure) => {
            let _ = writeln!(console, "{FAIL_PREFIX}{failure}");
            FAILURE_EXIT
        }
    }
}

fn run_checked(
    embedded: &[u8],
    expected: u64,
    meter: &mut dyn StackMeter,
    console: &mut dyn Write,
) -> Result<Summary, Failure> {
    let summary = run(embedded, meter)?;
    let _ = writeln!(console, "{summary}");
    #[cfg(feature = "pool")]
    {
        let pool = crate::pool::run(embedded)?;
        let _ = writeln!(console, "{pool}");
    }
    let _ = writeln!(console, "expected {expected:#018x} (host)");
    summary.check_digest(expected)?;
    Ok(summary)
}
