//! Many pages at once: the [`BatchCompressor`] trait, the seam where other backends (a GPU) plug in,
//! and [`RayonBatch`], which spreads pages over a rayon thread pool.
//!
//! Each worker compresses with its own clone of a prototype compressor, so that the hot path takes no
//! shared lock; a clone serves a run of [`RayonBatch::CHUNK_PAGES`] pages, so its setup cost is
//! spread over many pages. Every page is compressed on its own, exactly as the single-page
//! [`PageCompressor`] API does it: a batch gives the same bytes as a loop.

use rayon::prelude::*;

use crate::{CompressedPage, CompressorBuilder, Error, Page, PageCompressor, StandardCompressor};

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
        check_lengths(pages.len(), out.len())?;
        let chunk = Self::CHUNK_PAGES;
        self.pool.install(|| {
            pages
                .par_chunks(chunk)
                .zip(out.par_chunks_mut(chunk))
                .enumerate()
                .try_for_each_init(
                    || self.prototype.clone(),
                    |codec, (n, (src, dst))| {
                        for (i, (page, slot)) in src.iter().zip(dst.iter_mut()).enumerate() {
                            *slot = codec.compress(page).map_err(|source| BatchError::Page {
                                index: n * chunk + i,
                                source,
                            })?;
                        }
                        Ok(())
                    },
                )
        })
    }

    fn decompress_batch(
        &self,
        packed: &[CompressedPage],
        out: &mut [Page],
    ) -> Result<(), BatchError> {
        check_lengths(packed.len(), out.len())?;
        let chunk = Self::CHUNK_PAGES;
        self.pool.install(|| {
            packed
                .par_chunks(chunk)
                .zip(out.par_chunks_mut(chunk))
                .enumerate()
                .try_for_each_init(
                    || self.prototype.clone(),
                    |codec, (n, (src, dst))| {
                        for (i, (page, slot)) in src.iter().zip(dst.iter_mut()).enumerate() {
                            codec.decompress_into(page, slot).map_err(|source| {
                                BatchError::Page {
                                    index: n * chunk + i,
                                    source,
                                }
                            })?;
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
