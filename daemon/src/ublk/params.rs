//! The parameters a ublk device is created with, built by a plain function so that they can be
//! checked here. The libublk glue copies them into the kernel's `struct ublk_params`.

use trueno_zram::PAGE_SIZE;

/// `UBLK_PARAM_TYPE_BASIC`.
pub const UBLK_PARAM_TYPE_BASIC: u32 = 1 << 0;
/// `UBLK_PARAM_TYPE_DISCARD` (also carries the write-zeroes limit).
pub const UBLK_PARAM_TYPE_DISCARD: u32 = 1 << 1;
/// `UBLK_ATTR_VOLATILE_CACHE`: the device has a write cache, so the kernel sends flushes.
pub const UBLK_ATTR_VOLATILE_CACHE: u32 = 1 << 2;
/// `UBLK_ATTR_FUA`: the device honours FUA writes.
pub const UBLK_ATTR_FUA: u32 = 1 << 3;
/// `UBLK_MAX_QUEUE_DEPTH` in the kernel.
pub const MAX_QUEUE_DEPTH: u16 = 4096;
/// `UBLK_MAX_NR_QUEUES` in the kernel.
pub const MAX_QUEUES: u16 = 4096;
/// Default queue depth.
pub const DEFAULT_DEPTH: u16 = 128;
/// Most queues by default: more rarely helps a RAM device and each queue costs a thread and
/// `depth` locked buffers.
pub const DEFAULT_MAX_QUEUES: u16 = 4;
/// Bytes per I/O buffer, and so the largest request: 512 KiB (libublk's default).
pub const IO_BUF_BYTES: u32 = 512 << 10;

const SECTOR_SHIFT: u32 = 9;
/// log2 of the 4 KiB block: the store's page, so that no request splits a page.
const BLOCK_SHIFT: u8 = 12;

/// Everything the kernel is told about the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceParams {
    /// Which parameter groups are set (`UBLK_PARAM_TYPE_*`).
    pub types: u32,
    /// `UBLK_ATTR_*`.
    pub attrs: u32,
    /// log2 of the logical block size.
    pub logical_bs_shift: u8,
    /// log2 of the physical block size.
    pub physical_bs_shift: u8,
    /// log2 of the optimal I/O size.
    pub io_opt_shift: u8,
    /// log2 of the minimal I/O size.
    pub io_min_shift: u8,
    /// Largest request in sectors.
    pub max_sectors: u32,
    /// Device size in sectors.
    pub dev_sectors: u64,
    /// Discard alignment in bytes.
    pub discard_alignment: u32,
    /// Discard granularity in bytes.
    pub discard_granularity: u32,
    /// Largest discard in sectors.
    pub max_discard_sectors: u32,
    /// Largest write-zeroes in sectors.
    pub max_write_zeroes_sectors: u32,
    /// Discard segments per request.
    pub max_discard_segments: u16,
}

/// Queues and depth of a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueConfig {
    /// Hardware queues (each served by its own thread).
    pub queues: u16,
    /// Requests in flight per queue.
    pub depth: u16,
}

/// The default queue count: one per CPU, at most [`DEFAULT_MAX_QUEUES`].
pub fn default_queues() -> u16 {
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    u16::try_from(cpus)
        .unwrap_or(u16::MAX)
        .clamp(1, DEFAULT_MAX_QUEUES)
}

/// Checks queues and depth against the kernel's limits.
pub fn queue_config(queues: Option<u16>, depth: Option<u16>) -> Result<QueueConfig, String> {
    let queues = queues.unwrap_or_else(default_queues);
    let depth = depth.unwrap_or(DEFAULT_DEPTH);
    if queues == 0 || queues > MAX_QUEUES {
        return Err(format!("--queues {queues}: must be 1 to {MAX_QUEUES}"));
    }
    if depth == 0 || depth > MAX_QUEUE_DEPTH {
        return Err(format!("--depth {depth}: must be 1 to {MAX_QUEUE_DEPTH}"));
    }
    Ok(QueueConfig { queues, depth })
}

/// The parameters of a device of `size` bytes.
pub fn device_params(size: u64) -> Result<DeviceParams, String> {
    let page = PAGE_SIZE as u64;
    if size == 0 || !size.is_multiple_of(page) {
        return Err(format!(
            "device size {size} is not a positive multiple of {page} bytes"
        ));
    }
    let max_sectors = IO_BUF_BYTES >> SECTOR_SHIFT;
    // Discard and write-zeroes carry no data, so they are not bound by the buffer: allow the
    // largest whole number of pages that fits the 32-bit sector count.
    let block_sectors = 1u32 << (BLOCK_SHIFT - 9);
    let max_ranged = u32::MAX / block_sectors * block_sectors;
    Ok(DeviceParams {
        types: UBLK_PARAM_TYPE_BASIC | UBLK_PARAM_TYPE_DISCARD,
        attrs: UBLK_ATTR_VOLATILE_CACHE | UBLK_ATTR_FUA,
        logical_bs_shift: BLOCK_SHIFT,
        physical_bs_shift: BLOCK_SHIFT,
        io_opt_shift: BLOCK_SHIFT,
        io_min_shift: BLOCK_SHIFT,
        max_sectors,
        dev_sectors: size >> SECTOR_SHIFT,
        discard_alignment: 0,
        discard_granularity: 1 << BLOCK_SHIFT,
        max_discard_sectors: max_ranged,
        max_write_zeroes_sectors: max_ranged,
        max_discard_segments: 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(size: u64) -> DeviceParams {
        device_params(size).unwrap_or_else(|e| unreachable!("{e}"))
    }

    #[test]
    fn blocks_are_4k_and_the_size_is_in_sectors() {
        let p = params(4 << 30);
        assert_eq!(1u32 << p.logical_bs_shift, 4096);
        assert_eq!(1u32 << p.physical_bs_shift, 4096);
        assert_eq!(1u32 << p.io_min_shift, 4096);
        assert_eq!(p.dev_sectors, (4u64 << 30) / 512);
    }

    #[test]
    fn flush_and_fua_are_announced() {
        let p = params(1 << 20);
        assert_ne!(p.attrs & UBLK_ATTR_VOLATILE_CACHE, 0);
        assert_ne!(p.attrs & UBLK_ATTR_FUA, 0);
        assert_eq!(p.types, UBLK_PARAM_TYPE_BASIC | UBLK_PARAM_TYPE_DISCARD);
    }

    #[test]
    fn requests_fit_the_io_buffer() {
        let p = params(1 << 20);
        assert_eq!(u64::from(p.max_sectors) * 512, u64::from(IO_BUF_BYTES));
        assert_eq!(p.max_sectors % 8, 0, "whole pages");
    }

    #[test]
    fn discard_and_write_zeroes_are_page_granular() {
        let p = params(1 << 20);
        assert_eq!(p.discard_granularity, 4096);
        assert_eq!(p.discard_alignment, 0);
        assert_eq!(p.max_discard_segments, 1);
        assert!(p.max_discard_sectors > 0 && p.max_discard_sectors.is_multiple_of(8));
        assert_eq!(p.max_write_zeroes_sectors, p.max_discard_sectors);
        // The largest discard, in bytes, is still a whole number of pages.
        assert_eq!((u64::from(p.max_discard_sectors) * 512) % 4096, 0);
    }

    #[test]
    fn sizes_that_are_not_whole_pages_are_refused() {
        for size in [0, 512, 4095, 4097, (1 << 20) + 512] {
            assert!(device_params(size).is_err(), "size {size}");
        }
    }

    #[test]
    fn queue_defaults_and_limits() {
        let d = queue_config(None, None).unwrap_or_else(|e| unreachable!("{e}"));
        assert!((1..=DEFAULT_MAX_QUEUES).contains(&d.queues));
        let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        assert_eq!(usize::from(d.queues), cpus.min(4));
        assert_eq!(d.depth, 128);
        assert_eq!(
            queue_config(Some(8), Some(64)),
            Ok(QueueConfig {
                queues: 8,
                depth: 64
            })
        );
        assert!(queue_config(Some(0), None).is_err());
        assert!(queue_config(None, Some(0)).is_err());
        assert!(queue_config(None, Some(MAX_QUEUE_DEPTH + 1)).is_err());
        assert!(queue_config(Some(MAX_QUEUES + 1), None).is_err());
    }
}
