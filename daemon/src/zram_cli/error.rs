//! The CLI's errors: one line for the user and an exit code a shell script can test.

use trueno_zram::kernel::KernelError;

use crate::units::SizeError;

/// Exit codes, documented in `--help`.
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// Any other failure (I/O, an unexpected kernel answer, a failed round trip).
    pub const FAILURE: u8 = 1;
    /// Bad arguments: an unknown codec, a malformed size (clap uses 2 for its own usage errors too).
    pub const USAGE: u8 = 2;
    /// The action needs root.
    pub const NOT_ROOT: u8 = 3;
    /// No zram in the kernel, or no such device.
    pub const NO_DEVICE: u8 = 4;
    /// The device is busy (swap, mounted, open, initialised).
    pub const BUSY: u8 = 5;
    /// The kernel lacks the algorithm or the setting asked for.
    pub const UNSUPPORTED: u8 = 6;
    /// The size is too large.
    pub const TOO_LARGE: u8 = 7;
}

/// The text of the exit-code table for `--help`.
pub const EXIT_CODES_HELP: &str = "Exit codes: 0 success, 1 failure, 2 bad arguments, 3 needs root, \
4 no zram or no such device, 5 device busy, 6 algorithm or setting not in this kernel, 7 size too large.";

/// An error for the user: its message (one line) and exit code.
#[derive(Debug)]
pub struct CliError {
    /// What went wrong and what to do, one line.
    pub message: String,
    /// The process exit code.
    pub code: u8,
}

impl CliError {
    /// A usage error (exit code 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: exit::USAGE,
        }
    }

    /// A general failure (exit code 1).
    pub fn failure(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: exit::FAILURE,
        }
    }

    /// A busy device (exit code 5).
    pub fn busy(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: exit::BUSY,
        }
    }

    /// A size too large (exit code 7).
    pub fn too_large(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: exit::TOO_LARGE,
        }
    }
}

impl From<SizeError> for CliError {
    fn from(e: SizeError) -> Self {
        if e.too_large {
            Self::too_large(e.message)
        } else {
            Self::usage(e.message)
        }
    }
}

impl From<KernelError> for CliError {
    fn from(e: KernelError) -> Self {
        let code = match &e {
            KernelError::NotRoot { .. } => exit::NOT_ROOT,
            KernelError::NoZram { .. } | KernelError::NoSuchDevice { .. } => exit::NO_DEVICE,
            KernelError::Busy { .. } => exit::BUSY,
            KernelError::UnknownAlgorithm { .. } | KernelError::Unsupported { .. } => {
                exit::UNSUPPORTED
            }
            KernelError::SizeTooLarge { .. } => exit::TOO_LARGE,
            KernelError::Rejected { .. } => exit::USAGE,
            _ => exit::FAILURE,
        };
        Self {
            message: one_line(&e.to_string()),
            code,
        }
    }
}

/// Joins a message's lines so that it stays one line.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Result with a [`CliError`].
pub type CliResult<T = ()> = Result<T, CliError>;
