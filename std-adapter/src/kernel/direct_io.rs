//! Page I/O on a zram block node with `O_DIRECT`, so that every write reaches the device (and its
//! `mm_stat`) at once instead of waiting in the page cache.

use std::fs::File;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::attr::classify;
use super::error::{KernelError, Result};
use crate::{PAGE_SIZE, Page};

/// A page-sized buffer with the alignment `O_DIRECT` requires.
#[repr(C, align(4096))]
struct AlignedPage([u8; PAGE_SIZE]);

/// A block node opened for direct page reads and writes.
pub struct DirectIo {
    file: File,
    path: PathBuf,
    device: String,
    bounce: Box<AlignedPage>,
}

impl DirectIo {
    /// Opens the block node `path` of device `device` for direct reads and writes.
    pub fn open(path: &Path, device: &str) -> Result<Self> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_DIRECT)
            .open(path)
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    return KernelError::NoSuchDevice {
                        name: device.to_owned(),
                        path: path.to_path_buf(),
                    };
                }
                classify(
                    e,
                    device,
                    "block device",
                    "",
                    format!("opening {}", path.display()),
                    path,
                    "opening",
                )
            })?;
        Ok(Self {
            file,
            path: path.to_path_buf(),
            device: device.to_owned(),
            bounce: Box::new(AlignedPage([0; PAGE_SIZE])),
        })
    }

    fn offset(&self, index: u64) -> Result<u64> {
        index
            .checked_mul(PAGE_SIZE as u64)
            .ok_or_else(|| KernelError::Rejected {
                device: self.device.clone(),
                setting: "page index",
                value: index.to_string(),
                hint: "the page index is beyond any device size",
            })
    }

    fn io_error(&self, op: &'static str, source: std::io::Error) -> KernelError {
        KernelError::Io {
            op,
            path: self.path.clone(),
            source,
        }
    }

    /// Writes `page` at page `index`.
    pub fn write_page(&mut self, index: u64, page: &Page) -> Result<()> {
        let offset = self.offset(index)?;
        self.bounce.0.copy_from_slice(page);
        self.file
            .write_all_at(&self.bounce.0, offset)
            .map_err(|e| self.io_error("writing a page to", e))
    }

    /// Reads page `index` into `out`.
    pub fn read_page(&mut self, index: u64, out: &mut Page) -> Result<()> {
        let offset = self.offset(index)?;
        self.file
            .read_exact_at(&mut self.bounce.0, offset)
            .map_err(|e| self.io_error("reading a page from", e))?;
        out.copy_from_slice(&self.bounce.0);
        Ok(())
    }
}
