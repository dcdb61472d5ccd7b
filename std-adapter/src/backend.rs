//! Choosing where a batch runs: [`Backend`] and [`AutoBatch`].
//!
//! # When the GPU pays
//!
//! A GPU batch crosses PCIe twice. PCIe 4.0 x16 moves about 25 GB/s each way in practice (31.5 GB/s
//! raw). Compression sends 4096 bytes per page and brings back the page's wire form, gathered back
//! to back on the device, with its length and offset: at most 4097 + 8 bytes (about 1.3 KiB on the
//! memdump corpus, ratio 3.1); on one stream, so at worst 8201 B / 25 GB/s = 0.33 us per page.
//! Decompression costs about (4097 + 4 + 4096) B / 25 GB/s = 0.33 us per page at worst. On top of
//! that a call has a fixed cost: allocations, two launches, three round trips to the device
//! (~80 us), plus the latency of one GPU thread running the scalar LZ4 over one
//! page, which is what a small batch waits for (a GPU thread runs this branchy code at roughly a
//! twentieth of a CPU core: ~200 us per page). [`GPU_CALL_OVERHEAD_SECS`] is that 300 us.
//!
//! The CPU side: our LZ4 compresses memory pages at about 0.35 GB/s per core (`cargo xtask bench
//! lz4`, memdump corpus: 324 MB/s on the development machine, liblz4 358 MB/s) and decompresses at
//! about 0.8 GB/s per core (810 MB/s), and rayon scales it over the worker threads.
//!
//! So with `t` threads a page costs the CPU `4096 / (t * rate)` seconds, and the GPU pays only when
//! that exceeds the link's 0.33 us, by enough to earn back the fixed cost over the batch:
//! `pages >= overhead / (cpu_per_page - link_per_page)`. For compression on 16 threads:
//! 4096 B / 5.6 GB/s = 0.73 us per page, 0.40 us saved per page, 300 us / 0.40 us = 744 pages. With
//! 36 threads or more (12.6 GB/s of LZ4 or faster, beyond half the link) the GPU never pays for
//! compression on Gen4; for decompression that happens already at 16 threads (12.8 GB/s). These are
//! estimates: `cargo xtask bench gpu` measures the real crossover where a GPU exists, and
//! [`AutoBatch::with_min_gpu_pages`] overrides them.

use crate::batch::check_lengths;
use crate::{BatchCompressor, BatchError, CompressedPage, CompressorBuilder, Page, RayonBatch};

/// PCIe 4.0 x16, each direction, in practice.
pub const PCIE_BYTES_PER_SEC: f64 = 25e9;
/// Our LZ4 compression on one CPU core, on memory pages.
pub const CPU_COMPRESS_BYTES_PER_SEC_PER_THREAD: f64 = 0.35e9;
/// Our LZ4 decompression on one CPU core, on memory pages.
pub const CPU_DECOMPRESS_BYTES_PER_SEC_PER_THREAD: f64 = 0.8e9;
/// The fixed cost of one GPU batch: launch, allocations, synchronisation, one page's latency.
pub const GPU_CALL_OVERHEAD_SECS: f64 = 300e-6;

/// Bytes over PCIe per page compressed on the GPU, at worst: the page in; its wire form (a stored
/// page's), its length and its offset back.
const COMPRESS_LINK_BYTES_PER_PAGE: f64 = 4096.0 + 4097.0 + 8.0;
/// Bytes over PCIe per page decompressed on the GPU, at worst: a stored page's wire form and its
/// offset in, the page back.
const DECOMPRESS_LINK_BYTES_PER_PAGE: f64 = 4097.0 + 4.0 + 4096.0;

/// The smallest batch for which the GPU beats `threads` CPU threads running at `cpu_rate` bytes per
/// second per thread, given the bytes each page moves over PCIe; `None` when the CPU is at least as
/// fast as the link.
pub fn min_gpu_pages(threads: usize, cpu_rate: f64, link_bytes_per_page: f64) -> Option<usize> {
    let page = crate::PAGE_SIZE as f64;
    let cpu_secs = page / (threads.max(1) as f64 * cpu_rate);
    let link_secs = link_bytes_per_page / PCIE_BYTES_PER_SEC;
    let saved = cpu_secs - link_secs;
    if saved <= 0.0 {
        return None;
    }
    let pages = (GPU_CALL_OVERHEAD_SECS / saved).ceil();
    // The quotient is positive and finite; a value beyond usize means never.
    (pages < usize::MAX as f64).then(|| {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let pages = pages as usize;
        pages.max(1)
    })
}

/// Where batches run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// The GPU for batches large enough that it pays (see the module documentation), the CPU
    /// otherwise, and always the CPU where no GPU is usable.
    #[default]
    Auto,
    /// rayon worker threads.
    Cpu,
    /// The CUDA device; [`BatchError::NoDevice`] where there is none or the build lacks the `cuda`
    /// feature.
    Cuda,
}

impl Backend {
    /// A batch compressor for this backend with compressors from `builder` and `threads` CPU
    /// workers (0: one per CPU).
    pub fn build(
        self,
        builder: CompressorBuilder,
        threads: usize,
    ) -> Result<Box<dyn BatchCompressor>, BatchError> {
        Ok(match self {
            Self::Auto => Box::new(AutoBatch::new(builder, threads)?),
            Self::Cpu => Box::new(RayonBatch::new(builder, threads)?),
            Self::Cuda => cuda_batch(builder)?,
        })
    }
}

#[cfg(feature = "cuda")]
fn cuda_batch(builder: CompressorBuilder) -> Result<Box<dyn BatchCompressor>, BatchError> {
    Ok(Box::new(crate::gpu::CudaBatchCompressor::new(builder)?))
}

/// Why a build without the `cuda` feature has no GPU.
#[cfg(not(feature = "cuda"))]
const NO_CUDA_FEATURE: &str =
    "this build of trueno-zram has no GPU support (the `cuda` feature is off)";

#[cfg(not(feature = "cuda"))]
fn cuda_batch(_: CompressorBuilder) -> Result<Box<dyn BatchCompressor>, BatchError> {
    Err(BatchError::NoDevice {
        reason: NO_CUDA_FEATURE.into(),
    })
}

#[cfg(feature = "cuda")]
type Gpu = crate::gpu::CudaBatchCompressor;
/// Without the `cuda` feature there is never a GPU.
#[cfg(not(feature = "cuda"))]
type Gpu = std::convert::Infallible;

/// [`Backend::Auto`]: the GPU for large batches, the CPU for the rest and wherever no GPU is usable.
pub struct AutoBatch {
    // Boxed: both hold compressors of about 95 KB, which every move would copy.
    cpu: Box<RayonBatch>,
    gpu: Option<Box<Gpu>>,
    /// Why there is no GPU, when there is none.
    no_gpu_reason: Option<String>,
    min_compress_pages: Option<usize>,
    min_decompress_pages: Option<usize>,
}

impl AutoBatch {
    /// The CPU backend with `threads` workers (0: one per CPU), and the first CUDA device when one is
    /// usable; thresholds from [`min_gpu_pages`] for that many threads.
    pub fn new(builder: CompressorBuilder, threads: usize) -> Result<Self, BatchError> {
        let cpu = Box::new(RayonBatch::new(builder, threads)?);
        let (gpu, no_gpu_reason) = match open_gpu(builder) {
            Ok(gpu) => (Some(gpu), None),
            Err(reason) => (None, Some(reason)),
        };
        let threads = cpu.threads();
        Ok(Self {
            cpu,
            gpu,
            no_gpu_reason,
            min_compress_pages: min_gpu_pages(
                threads,
                CPU_COMPRESS_BYTES_PER_SEC_PER_THREAD,
                COMPRESS_LINK_BYTES_PER_PAGE,
            ),
            min_decompress_pages: min_gpu_pages(
                threads,
                CPU_DECOMPRESS_BYTES_PER_SEC_PER_THREAD,
                DECOMPRESS_LINK_BYTES_PER_PAGE,
            ),
        })
    }

    /// Sends batches of at least `pages` pages (compression and decompression alike) to the GPU, if
    /// there is one; `None` keeps every batch on the CPU.
    pub fn with_min_gpu_pages(mut self, pages: Option<usize>) -> Self {
        self.min_compress_pages = pages;
        self.min_decompress_pages = pages;
        self
    }

    /// Whether a GPU is in use for large batches.
    pub fn has_gpu(&self) -> bool {
        self.gpu.is_some()
    }

    /// Why no GPU is used, when none is.
    pub fn no_gpu_reason(&self) -> Option<&str> {
        self.no_gpu_reason.as_deref()
    }

    /// Whether a compression batch of `pages` pages goes to the GPU.
    pub fn compresses_on_gpu(&self, pages: usize) -> bool {
        self.gpu.is_some() && self.min_compress_pages.is_some_and(|min| pages >= min)
    }

    /// Whether a decompression batch of `pages` pages goes to the GPU.
    pub fn decompresses_on_gpu(&self, pages: usize) -> bool {
        self.gpu.is_some() && self.min_decompress_pages.is_some_and(|min| pages >= min)
    }

    /// The GPU backend, when the batch should use it.
    fn gpu_for(&self, on_gpu: bool) -> Option<&dyn BatchCompressor> {
        #[cfg(feature = "cuda")]
        {
            self.gpu
                .as_ref()
                .filter(|_| on_gpu)
                .map(|g| g.as_ref() as &dyn BatchCompressor)
        }
        #[cfg(not(feature = "cuda"))]
        {
            let _ = on_gpu;
            self.gpu.as_ref().map(|never| match **never {})
        }
    }
}

#[cfg(feature = "cuda")]
fn open_gpu(builder: CompressorBuilder) -> Result<Box<Gpu>, String> {
    crate::gpu::CudaBatchCompressor::new(builder)
        .map(Box::new)
        .map_err(|e| e.to_string())
}

#[cfg(not(feature = "cuda"))]
fn open_gpu(_: CompressorBuilder) -> Result<Box<Gpu>, String> {
    Err(BatchError::NoDevice {
        reason: NO_CUDA_FEATURE.into(),
    }
    .to_string())
}

impl BatchCompressor for AutoBatch {
    fn name(&self) -> String {
        match (&self.gpu, self.min_compress_pages) {
            #[cfg(feature = "cuda")]
            (Some(gpu), Some(min)) => format!(
                "auto ({} | {} from {min} pages)",
                self.cpu.name(),
                gpu.name()
            ),
            _ => format!("auto ({})", self.cpu.name()),
        }
    }

    fn compress_batch(&self, pages: &[Page], out: &mut [CompressedPage]) -> Result<(), BatchError> {
        check_lengths(pages.len(), out.len())?;
        match self.gpu_for(self.compresses_on_gpu(pages.len())) {
            Some(gpu) => gpu.compress_batch(pages, out),
            None => self.cpu.compress_batch(pages, out),
        }
    }

    fn decompress_batch(
        &self,
        packed: &[CompressedPage],
        out: &mut [Page],
    ) -> Result<(), BatchError> {
        check_lengths(packed.len(), out.len())?;
        match self.gpu_for(self.decompresses_on_gpu(packed.len())) {
            Some(gpu) => gpu.decompress_batch(packed, out),
            None => self.cpu.decompress_batch(packed, out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_follow_the_documented_arithmetic() {
        // 16 threads: 0.73 us of CPU per page against 0.33 us of link: 744 pages earn back 300 us.
        let compress = min_gpu_pages(
            16,
            CPU_COMPRESS_BYTES_PER_SEC_PER_THREAD,
            COMPRESS_LINK_BYTES_PER_PAGE,
        );
        assert_eq!(compress, Some(744));
        // One thread: 11.7 us per page on the CPU; 27 pages pay.
        assert_eq!(
            min_gpu_pages(
                1,
                CPU_COMPRESS_BYTES_PER_SEC_PER_THREAD,
                COMPRESS_LINK_BYTES_PER_PAGE
            ),
            Some(27)
        );
        // 36 threads of LZ4 outrun a Gen4 link; so do 16 threads of decompression.
        assert_eq!(
            min_gpu_pages(
                36,
                CPU_COMPRESS_BYTES_PER_SEC_PER_THREAD,
                COMPRESS_LINK_BYTES_PER_PAGE
            ),
            None
        );
        assert_eq!(
            min_gpu_pages(
                16,
                CPU_DECOMPRESS_BYTES_PER_SEC_PER_THREAD,
                DECOMPRESS_LINK_BYTES_PER_PAGE
            ),
            None
        );
    }
}
