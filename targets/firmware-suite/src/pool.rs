//! The pool pass (feature `pool`): what a hypervisor or an RTOS with a small heap does. Every page of
//! the set, compressed with each page-API codec, goes into a `trueno-zram-alloc` [`PagePool`] in
//! `static` storage whose spans come from the firmware's fixed-size heap; then every page is read
//! back out of the pool and checked, the pool's `mm_stat` figures are checked against what was
//! stored, half the pages are removed and the pool compacted, and a memory limit below what the pages
//! need must turn into a clean error, never an abort.

use core::fmt;

use spin::Mutex;
use trueno_zram_alloc::{Error as PoolError, Handle, PagePool};
use trueno_zram_core::{
    CompressorBuilder, Encoding, PAGE_SIZE, PageCompressor, StandardCompressor,
};

use crate::codecs::{CODECS, Codec, MAX_CODECS};
use crate::pages::PageSet;
use crate::slot::Slot;
use crate::suite::Failure;

/// How the last line of the pool pass's report starts; xtask looks for it.
pub const POOL_DONE_PREFIX: &str = "pool: memory limit refused cleanly";

/// The most pages the pool pass stores at once (the set's pages, for one codec).
pub const MAX_POOL_PAGES: usize = 64;

/// The pool; its structure (about 16 KiB) is static, the spans it grows come from the heap.
static POOL: PagePool = PagePool::new();

struct State {
    original: trueno_zram_core::Page,
    decoded: trueno_zram_core::Page,
    handles: heapless::Vec<Handle, MAX_POOL_PAGES>,
    /// A [`Slot`], so the compressor's state takes `.bss`, not flash.
    compressor: Slot<StandardCompressor>,
}

static STATE: Mutex<State> = Mutex::new(State {
    original: [0; PAGE_SIZE],
    decoded: [0; PAGE_SIZE],
    handles: heapless::Vec::new(),
    compressor: Slot::Empty,
});

/// What the pool held for one codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PoolCodecSummary {
    /// The codec.
    pub name: &'static str,
    /// Pages stored and read back.
    pub pages: u64,
    /// `compr_data_size` with every page stored.
    pub compr_data_size: u64,
    /// `mem_used_total` with every page stored (the pool's structure included).
    pub mem_used_total: u64,
    /// Pages that compaction gave back after half the pages were removed.
    pub pages_compacted: usize,
}

/// What the pool pass did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PoolSummary {
    /// One entry per page-API codec.
    pub codecs: heapless::Vec<PoolCodecSummary, MAX_CODECS>,
    /// `mem_used_max` over the whole pass.
    pub mem_used_max: u64,
}

/// Runs the pool pass over the same page set as the suite.
pub fn run(embedded: &[u8]) -> Result<PoolSummary, Failure> {
    let mut state = STATE.try_lock().ok_or(Failure::StateBusy)?;
    let set = PageSet::new(embedded);
    if set.len() > MAX_POOL_PAGES {
        return Err(Failure::Pool {
            codec: "",
            page: set.len(),
            error: PoolError::ObjectSize {
                len: set.len(),
                max: MAX_POOL_PAGES,
            },
        });
    }
    let mut codecs = heapless::Vec::new();
    for codec in CODECS {
        let summary = run_codec(codec, &set, &mut state)?;
        let _ = codecs.push(summary);
    }
    state.compressor.clear();
    check_limit(&set, &mut state)?;
    Ok(PoolSummary {
        codecs,
        mem_used_max: POOL.stats().mem_used_max,
    })
}

fn pool_failure(codec: &'static str, page: usize) -> impl Fn(PoolError) -> Failure {
    move |error| Failure::Pool { codec, page, error }
}

fn check(codec: &'static str, what: &'static str, ok: bool) -> Result<(), Failure> {
    if ok {
        Ok(())
    } else {
        Err(Failure::PoolCheck { codec, what })
    }
}

fn run_codec(
    codec: &Codec,
    set: &PageSet<'_>,
    state: &mut State,
) -> Result<PoolCodecSummary, Failure> {
    let State {
        original,
        decoded,
        handles,
        compressor,
    } = state;
    let built = CompressorBuilder::new()
        .algorithm(codec.algorithm)
        .build()
        .map_err(|error| Failure::Core {
            codec: codec.name,
            page: usize::MAX,
            error,
        })?;
    compressor.set(built);
    let compressor = compressor.get_mut().ok_or(Failure::NotRun)?;
    POOL.clear();
    handles.clear();
    let (mut same, mut huge, mut compr) = (0u64, 0u64, 0u64);
    for page in 0..set.len() {
        set.load(page, original).ok_or(Failure::NotRun)?;
        let packed = compressor
            .compress(original)
            .map_err(|error| Failure::Core {
                codec: codec.name,
                page,
                error,
            })?;
        match packed.encoding() {
            Encoding::SameFill => same += 1,
            Encoding::Stored => huge += 1,
            Encoding::Lz4 | Encoding::Zstd => {}
        }
        if packed.encoding() != Encoding::SameFill {
            compr += u64::try_from(packed.payload().len()).unwrap_or(u64::MAX);
        }
        let handle = POOL
            .insert_page(&packed)
            .map_err(pool_failure(codec.name, page))?;
        handles.push(handle).map_err(|_| Failure::NotRun)?;
    }
    // Every page comes back out of the pool as it went in.
    for (page, &handle) in handles.iter().enumerate() {
        set.load(page, original).ok_or(Failure::NotRun)?;
        decoded.fill(0xa5);
        POOL.decompress_into(handle, compressor, decoded)
            .map_err(pool_failure(codec.name, page))?;
        if let Some(offset) = original
            .iter()
            .zip(decoded.iter())
            .position(|(a, b)| a != b)
        {
            return Err(Failure::Mismatch {
                codec: codec.name,
                page,
                kind: crate::pages::PageKind::Embedded,
                offset,
            });
        }
    }
    let stored = POOL.stats();
    let pages = u64::try_from(set.len()).unwrap_or(u64::MAX);
    check(
        codec.name,
        "orig_data_size is 4096 per page",
        stored.orig_data_size == pages * 4096,
    )?;
    check(
        codec.name,
        "same_pages counts the same-fill pages",
        stored.same_pages == same,
    )?;
    check(
        codec.name,
        "huge_pages counts the stored pages",
        stored.huge_pages == huge,
    )?;
    check(
        codec.name,
        "compr_data_size sums the payloads",
        stored.compr_data_size == compr,
    )?;
    check(
        codec.name,
        "mem_used_total covers the data",
        stored.mem_used_total >= compr,
    )?;

    // Remove every other page, compact, and the rest still reads back.
    for (page, &handle) in handles.iter().enumerate().step_by(2) {
        POOL.remove(handle)
            .map_err(pool_failure(codec.name, page))?;
    }
    let pages_compacted = POOL.compact();
    for (page, &handle) in handles.iter().enumerate().skip(1).step_by(2) {
        set.load(page, original).ok_or(Failure::NotRun)?;
        POOL.decompress_into(handle, compressor, decoded)
            .map_err(pool_failure(codec.name, page))?;
        check(
            codec.name,
            "a page reads back after compaction",
            original == decoded,
        )?;
    }
    check(
        codec.name,
        "removal and compaction shrink the pool",
        POOL.stats().mem_used_total <= stored.mem_used_total,
    )?;
    POOL.clear();
    Ok(PoolCodecSummary {
        name: codec.name,
        pages,
        compr_data_size: stored.compr_data_size,
        mem_used_total: stored.mem_used_total,
        pages_compacted,
    })
}

/// A limit below what the pages need: an insert must fail with `LimitReached`, and the pool must
/// stay usable and within the limit.
fn check_limit(set: &PageSet<'_>, state: &mut State) -> Result<(), Failure> {
    const WHAT: &str = "memory limit";
    POOL.clear();
    let limit = usize::try_from(POOL.stats().mem_used_total).unwrap_or(usize::MAX) + PAGE_SIZE;
    POOL.set_limit(Some(limit));
    let mut refused = false;
    for page in 0..set.len() {
        set.load(page, &mut state.original).ok_or(Failure::NotRun)?;
        // Raw objects of a whole page each: they never fit in the one page of room for long.
        match POOL.insert(&state.original) {
            Ok(_) => {}
            Err(PoolError::LimitReached { .. }) => {
                refused = true;
                break;
            }
            Err(error) => {
                return Err(Failure::Pool {
                    codec: WHAT,
                    page,
                    error,
                });
            }
        }
    }
    let within = POOL.stats().mem_used_total <= u64::try_from(limit).unwrap_or(u64::MAX);
    POOL.set_limit(None);
    POOL.clear();
    check(WHAT, "an insert past the limit is refused", refused)?;
    check(WHAT, "the pool stays within its limit", within)
}

impl fmt::Display for PoolSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.codecs {
            writeln!(
                f,
                "pool {}: {} pages stored and read back, compr_data_size {} B, mem_used_total {} B, {} pages compacted after removing half",
                c.name, c.pages, c.compr_data_size, c.mem_used_total, c.pages_compacted
            )?;
        }
        write!(
            f,
            "pool: memory limit refused cleanly; mem_used_max {} B",
            self.mem_used_max
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_goes_through_the_pool_and_the_limit_is_clean() {
        let mut text = [0u8; PAGE_SIZE];
        crate::pages::text_page(3, &mut text);
        let summary = run(&text).unwrap();
        assert_eq!(summary.codecs.len(), CODECS.len());
        for c in &summary.codecs {
            assert_eq!(c.pages, 1 + crate::pages::GENERATED.len() as u64);
            assert!(c.mem_used_total > c.compr_data_size, "{c:?}");
        }
        assert!(summary.mem_used_max >= summary.codecs[0].mem_used_total);
        // The pass leaves the pool empty and without a limit.
        assert_eq!(POOL.stats().objects, 0);
        assert_eq!(POOL.limit(), None);
    }
}
