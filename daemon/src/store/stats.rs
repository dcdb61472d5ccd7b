//! The store's figures, named as Linux zram names them in `mm_stat` and `io_stat`, plus request
//! counters. Kept in relaxed atomics: each figure is exact on its own, a snapshot is not atomic as a
//! whole (the kernel's files are not either).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use trueno_zram::PoolStats;

/// Live counters, updated by every request. Aligned to their own cache lines, so that their
/// updates do not evict the store's read-mostly fields from other cores' caches.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Counters {
    pub pages_stored: AtomicU64,
    pub same_pages: AtomicU64,
    pub huge_pages_since: AtomicU64,
    pub failed_reads: AtomicU64,
    pub failed_writes: AtomicU64,
    pub invalid_io: AtomicU64,
    pub notify_free: AtomicU64,
    pub reads: AtomicU64,
    pub writes: AtomicU64,
    pub bytes_read: AtomicU64,
    pub bytes_written: AtomicU64,
    pub discards: AtomicU64,
    pub write_zeroes: AtomicU64,
    pub flushes: AtomicU64,
}

impl Counters {
    /// Adds a signed change to a gauge.
    pub fn adjust(gauge: &AtomicU64, delta: i64) {
        if delta >= 0 {
            gauge.fetch_add(delta.unsigned_abs(), Relaxed);
        } else {
            gauge.fetch_sub(delta.unsigned_abs(), Relaxed);
        }
    }

    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }
}

/// A snapshot of a device's figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreStats {
    /// Size of the device in bytes.
    pub disksize: u64,
    /// Uncompressed bytes of the pages held (same-fill pages included), as zram's `orig_data_size`.
    pub orig_data_size: u64,
    /// Bytes of compressed payload held.
    pub compr_data_size: u64,
    /// Bytes of memory the storage holds, its own metadata included.
    pub mem_used_total: u64,
    /// The memory limit in bytes (0: none).
    pub mem_limit: u64,
    /// The most `mem_used_total` has been.
    pub mem_used_max: u64,
    /// Pages held as one repeated 8-byte word, without storage.
    pub same_pages: u64,
    /// Pages that compaction gave back, ever (zram: "pages freed during compaction").
    pub pages_compacted: u64,
    /// Pages held uncompressed because compressing did not pay.
    pub huge_pages: u64,
    /// Huge pages written since the device was created.
    pub huge_pages_since: u64,
    /// Reads that failed (a page that did not decode).
    pub failed_reads: u64,
    /// Writes that failed (memory limit, codec error).
    pub failed_writes: u64,
    /// Requests outside the device.
    pub invalid_io: u64,
    /// Pages freed by discard.
    pub notify_free: u64,
    /// Read requests served.
    pub reads: u64,
    /// Write requests served.
    pub writes: u64,
    /// Bytes read.
    pub bytes_read: u64,
    /// Bytes written.
    pub bytes_written: u64,
    /// Discard requests.
    pub discards: u64,
    /// Write-zeroes requests.
    pub write_zeroes: u64,
    /// Flush requests.
    pub flushes: u64,
}

impl StoreStats {
    /// The store's own counters (pages, same-fill pages, requests) with the pool's memory figures.
    pub(crate) fn new(c: &Counters, pool: &PoolStats, disksize: u64, mem_limit: u64) -> Self {
        let pages_stored = c.pages_stored.load(Relaxed);
        Self {
            disksize,
            orig_data_size: pages_stored.saturating_mul(trueno_zram::PAGE_SIZE as u64),
            compr_data_size: pool.compr_data_size,
            mem_used_total: pool.mem_used_total,
            mem_limit,
            mem_used_max: pool.mem_used_max,
            same_pages: c.same_pages.load(Relaxed),
            pages_compacted: pool.pages_compacted,
            huge_pages: pool.huge_pages,
            huge_pages_since: c.huge_pages_since.load(Relaxed),
            failed_reads: c.failed_reads.load(Relaxed),
            failed_writes: c.failed_writes.load(Relaxed),
            invalid_io: c.invalid_io.load(Relaxed),
            notify_free: c.notify_free.load(Relaxed),
            reads: c.reads.load(Relaxed),
            writes: c.writes.load(Relaxed),
            bytes_read: c.bytes_read.load(Relaxed),
            bytes_written: c.bytes_written.load(Relaxed),
            discards: c.discards.load(Relaxed),
            write_zeroes: c.write_zeroes.load(Relaxed),
            flushes: c.flushes.load(Relaxed),
        }
    }

    /// Every figure as `(name, value)`, in a fixed order: the control socket's wire form.
    pub fn fields(&self) -> [(&'static str, u64); 21] {
        [
            ("disksize", self.disksize),
            ("orig_data_size", self.orig_data_size),
            ("compr_data_size", self.compr_data_size),
            ("mem_used_total", self.mem_used_total),
            ("mem_limit", self.mem_limit),
            ("mem_used_max", self.mem_used_max),
            ("same_pages", self.same_pages),
            ("pages_compacted", self.pages_compacted),
            ("huge_pages", self.huge_pages),
            ("huge_pages_since", self.huge_pages_since),
            ("failed_reads", self.failed_reads),
            ("failed_writes", self.failed_writes),
            ("invalid_io", self.invalid_io),
            ("notify_free", self.notify_free),
            ("reads", self.reads),
            ("writes", self.writes),
            ("bytes_read", self.bytes_read),
            ("bytes_written", self.bytes_written),
            ("discards", self.discards),
            ("write_zeroes", self.write_zeroes),
            ("flushes", self.flushes),
        ]
    }

    /// Sets a figure by name; false when the name is unknown (a newer daemon may send more).
    pub fn set_field(&mut self, name: &str, value: u64) -> bool {
        let slot = match name {
            "disksize" => &mut self.disksize,
            "orig_data_size" => &mut self.orig_data_size,
            "compr_data_size" => &mut self.compr_data_size,
            "mem_used_total" => &mut self.mem_used_total,
            "mem_limit" => &mut self.mem_limit,
            "mem_used_max" => &mut self.mem_used_max,
            "same_pages" => &mut self.same_pages,
            "pages_compacted" => &mut self.pages_compacted,
            "huge_pages" => &mut self.huge_pages,
            "huge_pages_since" => &mut self.huge_pages_since,
            "failed_reads" => &mut self.failed_reads,
            "failed_writes" => &mut self.failed_writes,
            "invalid_io" => &mut self.invalid_io,
            "notify_free" => &mut self.notify_free,
            "reads" => &mut self.reads,
            "writes" => &mut self.writes,
            "bytes_read" => &mut self.bytes_read,
            "bytes_written" => &mut self.bytes_written,
            "discards" => &mut self.discards,
            "write_zeroes" => &mut self.write_zeroes,
            "flushes" => &mut self.flushes,
            _ => return false,
        };
        *slot = value;
        true
    }

    /// The line Linux prints in `/sys/block/zramN/mm_stat`.
    pub fn mm_stat_line(&self) -> String {
        format!(
            "{} {} {} {} {} {} {} {} {}",
            self.orig_data_size,
            self.compr_data_size,
            self.mem_used_total,
            self.mem_limit,
            self.mem_used_max,
            self.same_pages,
            self.pages_compacted,
            self.huge_pages,
            self.huge_pages_since
        )
    }

    /// The line Linux prints in `/sys/block/zramN/io_stat`.
    pub fn io_stat_line(&self) -> String {
        format!(
            "{} {} {} {}",
            self.failed_reads, self.failed_writes, self.invalid_io, self.notify_free
        )
    }
}
