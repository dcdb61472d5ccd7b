//! Typed forms of the zram statistics files (`mm_stat`, `io_stat`, `bd_stat`, `debug_stat`), as
//! documented in the kernel's `Documentation/admin-guide/blockdev/zram.rst`.
//!
//! Newer kernels append columns and sometimes print a constant 0 for a retired one; the parsers
//! accept the documented minimum and read the optional tail where it is present.

use std::path::Path;

use serde::Serialize;

use super::error::{KernelError, Result};

/// Memory statistics of a device (`mm_stat`); sizes in bytes, counts in pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct MmStat {
    /// Uncompressed size of the data stored.
    pub orig_data_size: u64,
    /// Compressed size of the data stored.
    pub compr_data_size: u64,
    /// Memory the device uses, allocator overhead and metadata included.
    pub mem_used_total: u64,
    /// The memory limit (0: none).
    pub mem_limit: u64,
    /// Peak of `mem_used_total`.
    pub mem_used_max: u64,
    /// Pages stored as one repeated word, without allocation.
    pub same_pages: u64,
    /// Pages freed by compaction.
    pub pages_compacted: u64,
    /// Incompressible pages stored raw (kernels 4.19 and later).
    pub huge_pages: Option<u64>,
    /// Incompressible pages stored since the device was initialised (kernels 5.15 and later).
    pub huge_pages_since: Option<u64>,
}

impl MmStat {
    /// `orig_data_size / compr_data_size`, or `None` when nothing compressed is stored.
    pub fn compression_ratio(&self) -> Option<f64> {
        (self.compr_data_size > 0).then(|| self.orig_data_size as f64 / self.compr_data_size as f64)
    }

    /// `orig_data_size / mem_used_total`: the ratio that counts what the memory really costs.
    pub fn effective_ratio(&self) -> Option<f64> {
        (self.mem_used_total > 0).then(|| self.orig_data_size as f64 / self.mem_used_total as f64)
    }
}

/// Failure counters of a device (`io_stat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct IoStat {
    /// Reads that failed.
    pub failed_reads: u64,
    /// Writes that failed.
    pub failed_writes: u64,
    /// Requests that were not page-aligned (newer kernels print a constant 0).
    pub invalid_io: u64,
    /// Pages freed by swap slot-free notifications.
    pub notify_free: u64,
}

/// Backing-device statistics (`bd_stat`, writeback kernels only), in pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct BdStat {
    /// Pages currently written back to the backing device.
    pub bd_count: u64,
    /// Pages read from the backing device.
    pub bd_reads: u64,
    /// Pages written to the backing device.
    pub bd_writes: u64,
}

/// Debugging counters (`debug_stat`); its format is versioned by its first line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct DebugStat {
    /// The format version (`version: N`).
    pub version: u32,
    /// Writes that stalled (newer kernels print a constant 0).
    pub writestall: u64,
    /// Slot-free notifications that missed their page.
    pub miss_free: u64,
}

/// The unsigned numbers of a statistics line, at least `min` of them.
fn numbers(path: &Path, content: &str, min: usize) -> Result<Vec<u64>> {
    let parse_error = |reason: String| KernelError::Parse {
        path: path.to_path_buf(),
        content: content.trim().to_owned(),
        reason,
    };
    let values = content
        .split_whitespace()
        .enumerate()
        .map(|(i, field)| {
            field.parse::<u64>().map_err(|_| {
                parse_error(format!(
                    "field {} (`{field}`) is not an unsigned number",
                    i + 1
                ))
            })
        })
        .collect::<Result<Vec<u64>>>()?;
    if values.len() < min {
        return Err(parse_error(format!(
            "{} fields, at least {min} expected",
            values.len()
        )));
    }
    Ok(values)
}

/// Parses `mm_stat` content read from `path` (the path is for error messages).
pub fn parse_mm_stat(path: &Path, content: &str) -> Result<MmStat> {
    let v = numbers(path, content, 7)?;
    Ok(MmStat {
        orig_data_size: v[0],
        compr_data_size: v[1],
        mem_used_total: v[2],
        mem_limit: v[3],
        mem_used_max: v[4],
        same_pages: v[5],
        pages_compacted: v[6],
        huge_pages: v.get(7).copied(),
        huge_pages_since: v.get(8).copied(),
    })
}

/// Parses `io_stat` content.
pub fn parse_io_stat(path: &Path, content: &str) -> Result<IoStat> {
    let v = numbers(path, content, 4)?;
    Ok(IoStat {
        failed_reads: v[0],
        failed_writes: v[1],
        invalid_io: v[2],
        notify_free: v[3],
    })
}

/// Parses `bd_stat` content.
pub fn parse_bd_stat(path: &Path, content: &str) -> Result<BdStat> {
    let v = numbers(path, content, 3)?;
    Ok(BdStat {
        bd_count: v[0],
        bd_reads: v[1],
        bd_writes: v[2],
    })
}

/// Parses `debug_stat` content: `version: N` on the first line, then the counters.
pub fn parse_debug_stat(path: &Path, content: &str) -> Result<DebugStat> {
    let parse_error = |reason: &str| KernelError::Parse {
        path: path.to_path_buf(),
        content: content.trim().to_owned(),
        reason: reason.to_owned(),
    };
    let mut lines = content.lines();
    let version = lines
        .next()
        .and_then(|l| l.trim().strip_prefix("version:"))
        .ok_or_else(|| parse_error("the first line is not `version: N`"))?
        .trim()
        .parse::<u32>()
        .map_err(|_| parse_error("the version is not a number"))?;
    let rest: String = lines.collect::<Vec<_>>().join(" ");
    let v = numbers(path, &rest, 2)?;
    Ok(DebugStat {
        version,
        writestall: v[0],
        miss_free: v[1],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "/sys/block/zram0/x";

    #[test]
    fn mm_stat_of_current_and_older_kernels() {
        let s = parse_mm_stat(
            Path::new(P),
            "  8192     1200   12288        0    12288        1        0        0        3\n",
        )
        .unwrap();
        assert_eq!(s.orig_data_size, 8192);
        assert_eq!(s.compr_data_size, 1200);
        assert_eq!(s.mem_used_total, 12288);
        assert_eq!(s.same_pages, 1);
        assert_eq!(s.huge_pages, Some(0));
        assert_eq!(s.huge_pages_since, Some(3));
        assert!((s.compression_ratio().unwrap() - 8192.0 / 1200.0).abs() < 1e-9);
        let old = parse_mm_stat(Path::new(P), "1 2 3 4 5 6 7").unwrap();
        assert_eq!((old.pages_compacted, old.huge_pages), (7, None));
        assert_eq!(MmStat::default().compression_ratio(), None);
    }

    #[test]
    fn malformed_stats_name_the_problem() {
        let e = parse_mm_stat(Path::new(P), "1 2 3").unwrap_err();
        assert!(e.to_string().contains("3 fields, at least 7"), "{e}");
        let e = parse_io_stat(Path::new(P), "1 2 x 4").unwrap_err();
        assert!(e.to_string().contains("field 3 (`x`)"), "{e}");
        let e = parse_mm_stat(Path::new(P), "1 2 3 4 5 6 -7").unwrap_err();
        assert!(e.to_string().contains("field 7"), "{e}");
        assert!(parse_bd_stat(Path::new(P), "").is_err());
        assert!(parse_debug_stat(Path::new(P), "0 0\n").is_err());
        assert!(parse_debug_stat(Path::new(P), "version: x\n0 0\n").is_err());
        assert!(parse_debug_stat(Path::new(P), "version: 1\n0\n").is_err());
    }

    #[test]
    fn io_bd_and_debug_stat() {
        let io = parse_io_stat(Path::new(P), "       1        2 0        4\n").unwrap();
        assert_eq!(
            io,
            IoStat {
                failed_reads: 1,
                failed_writes: 2,
                invalid_io: 0,
                notify_free: 4
            }
        );
        let bd = parse_bd_stat(Path::new(P), "5 6 7\n").unwrap();
        assert_eq!((bd.bd_count, bd.bd_reads, bd.bd_writes), (5, 6, 7));
        let d = parse_debug_stat(Path::new(P), "version: 1\n0        9\n").unwrap();
        assert_eq!(
            d,
            DebugStat {
                version: 1,
                writestall: 0,
                miss_free: 9
            }
        );
    }
}
