//! `PagePool` density and speed on real compressed pages.
//!
//! Every page of the corpus is compressed on its own (as zram does); the pool is filled with the
//! payloads. Density is `mem_used_total / compr_data_size`: all memory the pool holds (spans, tables,
//! bitmaps, the pool itself) per byte of compressed data, measured
//! - after filling the pool,
//! - after a churn that removes a random 50% of the objects and inserts as many again with new sizes
//!   (payloads of other random pages), before and after `compact()`.
//!
//! The reference is one `malloc` per object (glibc; its memory is `malloc_usable_size` plus the 8-byte
//! chunk header, plus the 16-byte box per object), measured in the same run. Linux zram's zsmalloc
//! measured 1.079 on memdump.bin when freshly filled (corpus README; excludes zram's own slot table).
//!
//! Speed: inserting every page's payload (then clearing) and reading every object back into a buffer
//! in a random order,
//! MB/s of uncompressed page data, single thread, interleaved medians, pool against `Box<[u8]>`.

mod harness;

use std::hint::black_box;

use harness::{Contender, Report};
use trueno_zram::{
    Algorithm, CompressorBuilder, Encoding, Handle, OwnedCompressedPage, PAGE_SIZE, Page,
    PageCompressor, PagePool, PoolStats,
};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Each page compressed on its own with our LZ4 through the page API.
fn compress_all(pages: &[Page]) -> Vec<OwnedCompressedPage> {
    let mut c = CompressorBuilder::new()
        .algorithm(Algorithm::Lz4)
        .build()
        .expect("LZ4 compressor");
    pages
        .iter()
        .map(|p| {
            let packed = c.compress(p).expect("compress");
            OwnedCompressedPage::from_page(&packed).expect("memory")
        })
        .collect()
}

fn insert(pool: &PagePool, page: &OwnedCompressedPage) -> Handle {
    pool.insert_encoded(page.encoding(), page.payload())
        .expect("no limit")
}

fn density(stats: &PoolStats) -> f64 {
    stats.mem_used_total as f64 / stats.compr_data_size as f64
}

/// Memory `malloc` holds for one allocation of `len` bytes: the usable size plus the chunk header.
fn malloc_bytes(b: &[u8]) -> usize {
    // SAFETY: `b` is a live allocation made by the global allocator, which is the system malloc here.
    unsafe { libc::malloc_usable_size(b.as_ptr().cast_mut().cast()) + 8 }
}

fn main() {
    let args = harness::args();
    let mut report = Report::new(
        "pool",
        &[
            "pages",
            "compressed MB",
            "fresh x",
            "churned x",
            "compacted x",
            "insert MB/s",
            "get MB/s",
            "vs malloc ins",
            "vs malloc get",
        ],
    );
    for corpus in harness::corpora(&args) {
        let packed = compress_all(&corpus.pages);
        let same = packed
            .iter()
            .filter(|p| p.encoding() == Encoding::SameFill)
            .count();

        // Density, fresh.
        let pool = Box::new(PagePool::new());
        let mut handles: Vec<Handle> = packed.iter().map(|p| insert(&pool, p)).collect();
        let fresh = pool.stats();
        assert_eq!(fresh.same_pages as usize, same);

        // Churn: remove a random half, insert as many with the sizes of other random pages.
        let mut rng = Rng(0x00c0_ffee);
        let mut order: Vec<usize> = (0..handles.len()).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i + 1));
        }
        let half = &order[..order.len() / 2];
        for &i in half {
            pool.remove(handles[i]).expect("live");
        }
        for &i in half {
            handles[i] = insert(&pool, &packed[rng.below(packed.len())]);
        }
        let churned = pool.stats();
        let freed = pool.compact();
        let compacted = pool.stats();
        drop(pool);

        // The malloc reference: one box per object.
        let boxes: Vec<Box<[u8]>> = packed
            .iter()
            .filter(|p| p.encoding() != Encoding::SameFill)
            .map(|p| Box::from(p.payload()))
            .collect();
        let malloc_total: usize = boxes.iter().map(|b| malloc_bytes(b)).sum::<usize>()
            + boxes.capacity() * size_of::<Box<[u8]>>();
        let malloc_density = malloc_total as f64 / fresh.compr_data_size as f64;
        drop(boxes);

        // Speed.
        let bytes = corpus.bytes();
        let filled = Box::new(PagePool::new());
        let filled_handles: Vec<Handle> = packed.iter().map(|p| insert(&filled, p)).collect();
        let stored: Vec<Box<[u8]>> = packed.iter().map(|p| Box::from(p.payload())).collect();
        // Reads come in a random order, as a block device's do.
        let mut read_order: Vec<usize> = (0..packed.len()).collect();
        for i in (1..read_order.len()).rev() {
            read_order.swap(i, rng.below(i + 1));
        }
        let scratch = Box::new(PagePool::new());
        let mut out = vec![0u8; PAGE_SIZE];
        let mut out2 = vec![0u8; PAGE_SIZE];
        let mut contenders = vec![
            Contender::new("pool insert", || {
                for p in &packed {
                    black_box(insert(&scratch, p));
                }
                scratch.clear();
            }),
            Contender::new("malloc insert", || {
                let mut v: Vec<Box<[u8]>> = Vec::with_capacity(packed.len());
                for p in &packed {
                    v.push(Box::from(p.payload()));
                }
                black_box(&v);
            }),
            Contender::new("pool get", || {
                for &i in &read_order {
                    let n = filled.read_into(filled_handles[i], &mut out).expect("live");
                    black_box(&out[..n]);
                }
            }),
            Contender::new("malloc get", || {
                for &i in &read_order {
                    let b = &stored[i];
                    out2[..b.len()].copy_from_slice(b);
                    black_box(&out2[..b.len()]);
                }
            }),
        ];
        let speeds = harness::measure(bytes, args.rounds, &mut contenders);
        drop(contenders);

        report.row(
            format!("{} PagePool", corpus.name),
            vec![
                corpus.pages.len() as f64,
                fresh.compr_data_size as f64 / 1e6,
                density(&fresh),
                density(&churned),
                density(&compacted),
                speeds[0],
                speeds[2],
                speeds[0] / speeds[1],
                speeds[2] / speeds[3],
            ],
        );
        report.row(
            format!("{} malloc/object", corpus.name),
            vec![
                corpus.pages.len() as f64,
                fresh.compr_data_size as f64 / 1e6,
                malloc_density,
                f64::NAN,
                f64::NAN,
                speeds[1],
                speeds[3],
                f64::NAN,
                f64::NAN,
            ],
        );
        report.note(format!(
            "{}: {} same-fill, {} huge pages; compaction gave back {freed} pages ({} ever); \
             mem_used_max {:.1} MB; zsmalloc (kernel zram, corpus README): 1.079x fresh",
            corpus.name,
            fresh.same_pages,
            fresh.huge_pages,
            compacted.pages_compacted,
            compacted.mem_used_max as f64 / 1e6,
        ));
        drop(filled);
    }
    report.note(
        "x = mem_used_total / compr_data_size (all memory the pool holds per compressed byte); \
         MB/s of uncompressed page data, single thread, median of interleaved rounds",
    );
    report.finish(&args);
}
