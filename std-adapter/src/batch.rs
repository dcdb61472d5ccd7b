//! Many pages at once: the [`BatchCompressor`] trait, the seam where other backends (a GPU) plug in,
//! and [`RayonBatch`], which spreads pages over a rayon thread pool.
//!
//! Each worker compresses with its own clone of a prototype compressor, so that the hot path takes no
//! shared lock; a clone serves a run of [`RayonBatch::CHUNK_PAGES`] pages, so its setup cost is
//! spread over many pages. Every page is compressed on its own, exactly as the single-page
//! [`PageCompressor`] API does it: a batch gives the same bytes as a loop.
//!
//! Batches also go straight into a [`PagePool`]: workers compress and insert in one pass (the pool
//! locks per size class, so workers storing pages of different sizes do not contend), and read back
//! through the pool's `decompress_into`, which holds a class lock only while copying bytes out.

use rayon::prelude::*;

use crate::{
    AllocError, CompressedPage, CompressorBuilder, Error, Handle, Page, PageCompressor, PagePool,
    StandardCompressor,
};

/// What can go wrong with a batch.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError {
    /// Input and output slices differ in length.
    #[error("batch of {inputs} pages given {outputs} output slots; they must be equal")]
    LengthMismatch {
        /// Pages in.
        inputs: usize,
        /// Slots out.
        outputs: usize,
    },
    /// One page failed; the others may or may not have been processed.
    #[error("page {index} of the batch: {source}")]
    Page {
        /// Its index in the batch.
        index: usize,
        /// The codec's error.
        #[source]
        source: Error,
    },
    /// The compressor configuration is invalid.
    #[error("cannot build the batch's compressor: {0}")]
    Config(#[source] Error),
    /// The page pool refused a page (memory limit, exhausted heap) or a handle.
    #[error("page {index} of the batch: {source}")]
    Pool {
        /// Its index in the batch.
        index: usize,
        /// The pool's error.
        #[source]
        source: AllocError,
    },
    /// The requested GPU backend cannot run here: no driver library, no device, a device too old, or
    /// a build without the `cuda` feature. [`crate::backend::Backend::Auto`] falls back to the CPU.
    #[error("no usable GPU: {reason}")]
    NoDevice {
        /// What is missing.
        reason: String,
    },
    /// A GPU operation failed (allocation, copy, kernel launch), or the GPU disagreed with the CPU.
    #[error("GPU {operation} failed: {reason}")]
    Gpu {
        /// What was being done.
        operation: &'static str,
        /// The driver's error, or what went wrong.
        reason: String,
    },
    /// The thread pool could not be built.
    #[error("cannot start {threads} worker threads: {reason}")]
    ThreadPool {
        /// Threads asked for.
        threads: usize,
        /// Why it failed.
        reason: String,
    },
}

/// Compresses and decompresses slices of pages. Implementations decide how to spread the work; each
/// page's result must equal what the single-page API gives for it.
pub trait BatchCompressor: Send + Sync {
    /// A short name for reports (`rayon x4`).
    fn name(&self) -> String;

    /// Compresses `pages[i]` into `out[i]` for every `i`.
    fn compress_batch(&self, pages: &[Page], out: &mut [CompressedPage]) -> Result<(), BatchError>;

    /// Decompresses `packed[i]` into `out[i]` for every `i`.
    fn decompress_batch(
        &self,
        packed: &[CompressedPage],
        out: &mut [Page],
    ) -> Result<(), BatchError>;

    /// Compresses `pages` into a new vector.
    fn compress_to_vec(&self, pages: &[Page]) -> Result<Vec<CompressedPage>, BatchError> {
        let mut out = vec![CompressedPage::same_fill(0); pages.len()];
        self.compress_batch(pages, &mut out)?;
        Ok(out)
    }

    /// Decompresses `packed` into a new vector of pages.
    fn decompress_to_vec(&self, packed: &[CompressedPage]) -> Result<Vec<Page>, BatchError> {
        let mut out = vec![[0u8; crate::PAGE_SIZE]; packed.len()];
        self.decompress_batch(packed, &mut out)?;
        Ok(out)
    }

    /// Compresses `pages` into `pool` and returns their handles in page order. On failure the pages
    /// already stored are removed again: a failed batch leaves the pool as it found it.
    fn compress_to_pool(&self, pages: &[Page], pool: &PagePool) -> Result<Vec<Handle>, BatchError> {
        let packed = self.compress_to_vec(pages)?;
        let mut handles = Vec::with_capacity(packed.len());
        for (index, page) in packed.iter().enumerate() {
            match pool.insert_page(page) {
                Ok(h) => handles.push(h),
                Err(source) => {
                    remove_all(pool, &handles);
                    return Err(BatchError::Pool { index, source });
                }
            }
        }
        Ok(handles)
    }

    /// Decompresses the pages that `handles` name in `pool` into `out`.
    fn decompress_from_pool(
        &self,
        pool: &PagePool,
        handles: &[Handle],
        out: &mut [Page],
    ) -> Result<(), BatchError> {
        check_lengths(handles.len(), out.len())?;
        let packed = handles
            .iter()
            .enumerate()
            .map(|(index, &h)| {
                pool.get_page(h)
                    .map_err(|source| BatchError::Pool { index, source })
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.decompress_batch(&packed, out)
    }
}

/// Removes `handles` from `pool`, undoing part of a batch (a handle already gone is no loss).
fn remove_all(pool: &PagePool, handles: &[Handle]) {
    for &h in handles {
        let _ = pool.remove(h);
    }
}

/// A [`BatchCompressor`] on a rayon thread pool of its own, with per-worker codec state.
pub struct RayonBatch<C = StandardCompressor> {
    prototype: C,
    pool: rayon::ThreadPool,
    threads: usize,
}

impl RayonBatch<StandardCompressor> {
    /// A batch compressor with `threads` workers (0: one per CPU) and compressors that `builder`
    /// builds.
    pub fn new(builder: CompressorBuilder, threads: usize) -> Result<Self, BatchError> {
        let prototype = builder.build().map_err(BatchError::Config)?;
        Self::with_compressor(prototype, threads)
    }
}

impl<C: PageCompressor + Clone + Send + Sync> RayonBatch<C> {
    /// Pages each worker's compressor clone handles before the pool may split the work further.
    pub const CHUNK_PAGES: usize = 64;

    /// Stack of each worker thread. Codec state lives in the worker's compressor clone, but encoders
    /// keep page-sized buffers on the stack, and unoptimised builds multiply frame sizes: 8 MiB of
    /// address space (touched only as used) keeps every build clear of the 2 MiB default.
    pub const WORKER_STACK_BYTES: usize = 8 << 20;

    /// A batch compressor whose workers use clones of `prototype`.
    pub fn with_compressor(prototype: C, threads: usize) -> Result<Self, BatchError> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("trueno-batch-{i}"))
            .stack_size(Self::WORKER_STACK_BYTES)
            .build()
            .map_err(|e| BatchError::ThreadPool {
                threads,
                reason: e.to_string(),
            })?;
        let threads = pool.current_num_threads();
        Ok(Self {
            prototype,
            pool,
            threads,
        })
    }

    /// The number of worker threads.
    pub fn threads(&self) -> usize {
        self.threads
    }
}

pub(crate) fn check_lengths(inputs: usize, outputs: usize) -> Result<(), BatchError> {
    if inputs == outputs {
        Ok(())
    } else {
        Err(BatchError::LengthMismatch { inputs, outputs })
    }
}

impl<C: PageCompressor + Clone + Send + Sync> BatchCompressor for RayonBatch<C> {
    fn name(&self) -> String {
        format!("rayon x{}", self.threads)
    }

    fn compress_batch(&self, pages: &[Page], out: &mut [CompressedPage]) -> Result<(), BatchError> {
        self.each_pair(pages, out, |codec, index, page, slot| {
            *slot = codec
                .compress(page)
                .map_err(|source| BatchError::Page { index, source })?;
            Ok(())
        })
    }

    fn decompress_batch(
        &self,
        packed: &[CompressedPage],
        out: &mut [Page],
    ) -> Result<(), BatchError> {
        self.each_pair(packed, out, |codec, index, page, slot| {
            codec
                .decompress_into(page, slot)
                .map_err(|source| BatchError::Page { index, source })
        })
    }

    fn compress_to_pool(&self, pages: &[Page], pool: &PagePool) -> Result<Vec<Handle>, BatchError> {
        let chunk = Self::CHUNK_PAGES;
        // Each chunk yields the handles it stored and, if it stopped early, why.
        let chunks: Vec<(Vec<Handle>, Option<BatchError>)> = self.pool.install(|| {
            pages
                .par_chunks(chunk)
                .enumerate()
                .map_init(
                    || self.prototype.clone(),
                    |codec, (n, src)| {
                        let mut handles = Vec::with_capacity(src.len());
                        for (i, page) in src.iter().enumerate() {
                            let index = n * chunk + i;
                            let stored = codec
                                .compress(page)
                                .map_err(|source| BatchError::Page { index, source })
                                .and_then(|packed| {
                                    pool.insert_page(&packed)
                                        .map_err(|source| BatchError::Pool { index, source })
                                });
                            match stored {
                                Ok(h) => handles.push(h),
                                Err(e) => return (handles, Some(e)),
                            }
                        }
                        (handles, None)
                    },
                )
                .collect()
        });
        let mut all = Vec::with_capacity(pages.len());
        let mut first_error = None;
        for (handles, error) in chunks {
            all.extend(handles);
            if first_error.is_none() {
                first_error = error;
            }
        }
        match first_error {
            None => Ok(all),
            Some(e) => {
                remove_all(pool, &all);
                Err(e)
            }
        }
    }

    fn decompress_from_pool(
        &self,
        pool: &PagePool,
        handles: &[Handle],
        out: &mut [Page],
    ) -> Result<(), BatchError> {
        self.each_pair(handles, out, |codec, index, &handle, slot| {
            pool.decompress_into(handle, codec, slot)
                .map_err(|source| BatchError::Pool { index, source })
        })
    }
}

impl<C: PageCompressor + Clone + Send + Sync> RayonBatch<C> {
    /// Runs `op` on every (input, output) pair in parallel, chunk by chunk, each worker with its own
    /// clone of the compressor; `op` gets the pair's index in the batch for its error. Stops at the
    /// first error.
    fn each_pair<S: Sync, D: Send>(
        &self,
        inputs: &[S],
        outputs: &mut [D],
        op: impl Fn(&mut C, usize, &S, &mut D) -> Result<(), BatchError> + Sync,
    ) -> Result<(), BatchError> {
        check_lengths(inputs.len(), outputs.len())?;
        let chunk = Self::CHUNK_PAGES;
        self.pool.install(|| {
            inputs
                .par_chunks(chunk)
                .zip(outputs.par_chunks_mut(chunk))
                .enumerate()
                .try_for_each_init(
                    || self.prototype.clone(),
                    |codec, (n, (src, dst))| {
                        for (i, (input, output)) in src.iter().zip(dst.iter_mut()).enumerate() {
                            op(codec, n * chunk + i, input, output)?;
                        }
                        Ok(())
                    },
                )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Encoding, PAGE_SIZE, samefill};

    fn mixed_pages(n: usize) -> Vec<Page> {
        (0..n)
            .map(|i| {
                let mut p = [0u8; PAGE_SIZE];
                if i % 3 == 0 {
                    samefill::fill(&mut p, i as u64);
                } else {
                    let mut x = u32::try_from(i).unwrap() | 1;
                    for b in p.iter_mut() {
                        x ^= x << 13;
                        x ^= x >> 17;
                        x ^= x << 5;
                        *b = x.to_le_bytes()[3];
                    }
                }
                p
            })
            .collect()
    }

    #[test]
    fn pool_batches_store_what_single_pages_give() {
        let pages = mixed_pages(300);
        let mut single = CompressorBuilder::new().build().unwrap();
        for threads in [1, 2] {
            let batch = RayonBatch::new(CompressorBuilder::new(), threads).unwrap();
            let pool = PagePool::new();
            let handles = batch.compress_to_pool(&pages, &pool).unwrap();
            assert_eq!(handles.len(), pages.len());
            for (page, &h) in pages.iter().zip(&handles) {
                assert_eq!(pool.get_page(h).unwrap(), single.compress(page).unwrap());
            }
            let stats = pool.stats();
            assert_eq!(stats.orig_data_size, 300 * PAGE_SIZE as u64);
            assert_eq!(stats.same_pages, 100);
            let mut back = vec![[0u8; PAGE_SIZE]; pages.len()];
            batch
                .decompress_from_pool(&pool, &handles, &mut back)
                .unwrap();
            assert!(back == pages);
        }
    }

    #[test]
    fn a_full_pool_fails_the_batch_and_keeps_nothing() {
        let pages = mixed_pages(400);
        let batch = RayonBatch::new(CompressorBuilder::new(), 2).unwrap();
        let pool = PagePool::new();
        let before = pool.stats().mem_used_total;
        // Room for some pages but not all: the batch must fail and leave no object behind.
        pool.set_limit(Some(usize::try_from(before).unwrap() + 64 * PAGE_SIZE));
        match batch.compress_to_pool(&pages, &pool) {
            Err(BatchError::Pool { index, .. }) => assert!(index < pages.len()),
            other => panic!("{other:?}"),
        }
        assert_eq!(pool.len(), 0);
        assert_eq!(pool.stats().orig_data_size, 0);
        let mut back = vec![[0u8; PAGE_SIZE]; 1];
        assert!(matches!(
            batch.decompress_from_pool(&pool, &[], &mut back),
            Err(BatchError::LengthMismatch { .. })
        ));
    }

    /// A one-thread backend with only the required methods, to exercise the trait's defaults.
    struct Serial;

    impl BatchCompressor for Serial {
        fn name(&self) -> String {
            "serial".into()
        }

        fn compress_batch(
            &self,
            pages: &[Page],
            out: &mut [CompressedPage],
        ) -> Result<(), BatchError> {
            check_lengths(pages.len(), out.len())?;
            let mut c = CompressorBuilder::new()
                .build()
                .map_err(BatchError::Config)?;
            for (index, (p, o)) in pages.iter().zip(out.iter_mut()).enumerate() {
                *o = c
                    .compress(p)
                    .map_err(|source| BatchError::Page { index, source })?;
            }
            Ok(())
        }

        fn decompress_batch(
            &self,
            packed: &[CompressedPage],
            out: &mut [Page],
        ) -> Result<(), BatchError> {
            check_lengths(packed.len(), out.len())?;
            let mut c = CompressorBuilder::new()
                .build()
                .map_err(BatchError::Config)?;
            for (index, (p, o)) in packed.iter().zip(out.iter_mut()).enumerate() {
                c.decompress_into(p, o)
                    .map_err(|source| BatchError::Page { index, source })?;
            }
            Ok(())
        }
    }

    #[test]
    fn the_default_pool_methods_agree_with_rayon() {
        let pages = mixed_pages(150);
        let (a, b) = (PagePool::new(), PagePool::new());
        let serial = Serial.compress_to_pool(&pages, &a).unwrap();
        let rayon = RayonBatch::new(CompressorBuilder::new(), 2).unwrap();
        let parallel = rayon.compress_to_pool(&pages, &b).unwrap();
        for (&x, &y) in serial.iter().zip(&parallel) {
            assert_eq!(a.get_page(x).unwrap(), b.get_page(y).unwrap());
        }
        assert_eq!(a.stats().compr_data_size, b.stats().compr_data_size);
        let mut back = vec![[0u8; PAGE_SIZE]; pages.len()];
        Serial.decompress_from_pool(&a, &serial, &mut back).unwrap();
        assert!(back == pages);
        // A stale handle is an error naming the page, not a panic.
        a.remove(serial[7]).unwrap();
        assert!(matches!(
            Serial.decompress_from_pool(&a, &serial, &mut back),
            Err(BatchError::Pool { index: 7, .. })
        ));
        b.remove(parallel[9]).unwrap();
        assert!(matches!(
            rayon.decompress_from_pool(&b, &parallel, &mut back),
            Err(BatchError::Pool { index: 9, .. })
        ));
        let tight = PagePool::new();
        tight.set_limit(Some(
            usize::try_from(tight.stats().mem_used_total).unwrap() + 8 * PAGE_SIZE,
        ));
        assert!(matches!(
            Serial.compress_to_pool(&pages, &tight),
            Err(BatchError::Pool { .. })
        ));
        assert_eq!(tight.len(), 0);
    }

    #[test]
    fn length_mismatch_is_an_error() {
        let batch = RayonBatch::new(CompressorBuilder::new(), 2).unwrap();
        let pages = mixed_pages(3);
        let mut out = vec![CompressedPage::same_fill(0); 2];
        assert!(matches!(
            batch.compress_batch(&pages, &mut out),
            Err(BatchError::LengthMismatch {
                inputs: 3,
                outputs: 2
            })
        ));
        let mut back = vec![[0u8; PAGE_SIZE]; 1];
        assert!(matches!(
            batch.decompress_batch(&out, &mut back),
            Err(BatchError::LengthMismatch {
                inputs: 2,
                outputs: 1
            })
        ));
    }

    #[test]
    fn a_bad_page_is_reported_by_its_index() {
        let batch = RayonBatch::new(CompressorBuilder::new(), 2).unwrap();
        let mut packed = batch.compress_to_vec(&mixed_pages(200)).unwrap();
        // A codec encoding whose payload no build of this test decodes as a page of 4096 bytes.
        packed[150] = CompressedPage::from_parts(Encoding::Lz4, &[0xff; 3]).unwrap();
        match batch.decompress_to_vec(&packed) {
            Err(BatchError::Page { index, .. }) => assert_eq!(index, 150),
            other => panic!("{other:?}"),
        }
    }
}
