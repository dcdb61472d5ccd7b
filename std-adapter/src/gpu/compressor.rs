//! [`CudaBatchCompressor`]: batches of pages through the GPU kernels.
//!
//! A batch travels in launches of at most [`CudaBatchCompressor::MAX_PAGES_PER_LAUNCH`] pages (so
//! offsets fit `u32` and buffers stay a few hundred MB). Compression sends the pages, runs one page
//! per thread into fixed slots, reads the lengths, has the gather kernel pack the wire forms back to
//! back at the offsets it computed, and brings back only those bytes; decompression sends the wire
//! forms back to back with their offsets and receives the pages straight into the caller's slice.
//! The host checks everything it receives: a length beyond its slot, or a wire form that does not
//! parse as a page, is an error.
//!
//! When the GPU refuses a page (a kernel status), the CPU runs the same page to say why: its error
//! is returned as [`BatchError::Page`]; if the CPU accepts the page, the GPU disagreed with the CPU
//! and that is a [`BatchError::Gpu`], never silently patched over.

use std::sync::{Arc, Mutex, PoisonError};

use cudarc::driver::{CudaFunction, CudaSlice, CudaStream, LaunchConfig, PushKernelArg};
use cudarc::nvrtc::Ptx;
use rayon::prelude::*;

use super::device::{GpuDevice, guarded};
use super::kernels::{self, FAILED_LEN, OUT_STRIDE, STATUS_OK};
use crate::batch::check_lengths;
use crate::{
    Algorithm, BatchCompressor, BatchError, CompressedPage, CompressorBuilder, PAGE_SIZE, Page,
    PageCompressor, SimdBackend,
};

/// A [`BatchCompressor`] on one CUDA device.
pub struct CudaBatchCompressor {
    device: GpuDevice,
    stream: Arc<CudaStream>,
    compress: CudaFunction,
    gather: CudaFunction,
    decompress: CudaFunction,
    /// The algorithm the compression kernel applies.
    algorithm: Algorithm,
    /// Builds the CPU twin of the kernels, to explain a page the GPU refused. (A compressor is not
    /// kept: with the Zstandard encoder's tables it is about 95 KB, copied at every move.)
    builder: CompressorBuilder,
    /// One batch at a time on the stream, so that a batch's synchronisation waits only for itself.
    busy: Mutex<()>,
    /// Pages per kernel launch.
    launch_pages: usize,
}

impl std::fmt::Debug for CudaBatchCompressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CudaBatchCompressor")
            .field("device", &self.device.name())
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl CudaBatchCompressor {
    /// Pages per kernel launch: 65 536 pages are 256 MiB in and 257 MiB of output slots.
    pub const MAX_PAGES_PER_LAUNCH: usize = 65_536;

    /// A GPU batch compressor on the first CUDA device, for the algorithm of `builder`.
    /// [`BatchError::NoDevice`] when there is no usable device (see [`GpuDevice::open`]),
    /// [`BatchError::Config`] for an algorithm the kernels do not have.
    pub fn new(builder: CompressorBuilder) -> Result<Self, BatchError> {
        Self::on_device(builder, 0)
    }

    /// [`CudaBatchCompressor::new`] on device `ordinal`.
    pub fn on_device(builder: CompressorBuilder, ordinal: usize) -> Result<Self, BatchError> {
        let builder = builder.prefer_backend(SimdBackend::Scalar);
        let algorithm = builder.build().map_err(BatchError::Config)?.algorithm();
        let compress_name = kernels::compress_kernel(algorithm).ok_or(BatchError::Config(
            crate::Error::InvalidConfig("the GPU backend has no kernel for this algorithm"),
        ))?;
        // The kernels build their compressor from the algorithm alone; a builder that sets anything
        // else would give the CPU other bytes than the GPU, so it is refused rather than ignored.
        let kernel_builder = CompressorBuilder::new()
            .algorithm(algorithm)
            .prefer_backend(SimdBackend::Scalar);
        if format!("{builder:?}") != format!("{kernel_builder:?}") {
            return Err(BatchError::Config(crate::Error::InvalidConfig(
                "the GPU kernels apply only the builder's algorithm, and this builder sets more",
            )));
        }
        let device = GpuDevice::open(ordinal)?;
        let context = device.context().clone();
        // The driver JIT-compiles the PTX for this device here (and caches the result on disk).
        let module = guarded("module load", || {
            context.load_module(Ptx::from_src(kernels::PTX))
        })?;
        let compress = guarded("kernel lookup", || module.load_function(compress_name))?;
        let gather = guarded("kernel lookup", || module.load_function(kernels::GATHER))?;
        let decompress = guarded("kernel lookup", || {
            module.load_function(kernels::DECOMPRESS)
        })?;
        let stream = guarded("stream creation", || context.new_stream())?;
        Ok(Self {
            device,
            stream,
            compress,
            gather,
            decompress,
            algorithm,
            builder,
            busy: Mutex::new(()),
            launch_pages: Self::MAX_PAGES_PER_LAUNCH,
        })
    }

    /// Splits batches into launches of at most `pages` pages (1 to
    /// [`CudaBatchCompressor::MAX_PAGES_PER_LAUNCH`]): less device memory per launch.
    pub fn with_launch_pages(mut self, pages: usize) -> Self {
        self.launch_pages = pages.clamp(1, Self::MAX_PAGES_PER_LAUNCH);
        self
    }

    /// The device this compressor runs on.
    pub fn device(&self) -> &GpuDevice {
        &self.device
    }

    /// The algorithm the compression kernel applies.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    fn compress_launch(
        &self,
        first_index: usize,
        pages: &[Page],
        out: &mut [CompressedPage],
    ) -> Result<(), BatchError> {
        let count = launch_count(pages.len())?;
        let stride = u32::try_from(OUT_STRIDE).map_err(|_| internal("the slot size"))?;
        let stream = &self.stream;
        let d_pages = guarded("copy to the device", || {
            stream.clone_htod(pages.as_flattened())
        })?;
        let mut d_out = guarded("allocation", || {
            stream.alloc_zeros::<u8>(pages.len() * OUT_STRIDE)
        })?;
        let mut d_lens = guarded("allocation", || stream.alloc_zeros::<u32>(pages.len()))?;
        let config = kernels::launch_config(count, self.device.multiprocessors());
        let mut launch = stream.launch_builder(&self.compress);
        launch
            .arg(&d_pages)
            .arg(&count)
            .arg(&mut d_out)
            .arg(&stride)
            .arg(&mut d_lens);
        // SAFETY: the kernel's contract (targets/gpu-kernels): `pages` holds count * 4096 bytes (a
        // copy of `pages`), `out` count * out_stride bytes and `out_lens` count u32s, all separate
        // allocations; the argument types match the PTX entry (checked by the kernels tests).
        guarded("compression kernel launch", || unsafe {
            launch.launch(config)
        })?;
        let lens = guarded("copy from the device", || stream.clone_dtoh(&d_lens))?;

        // Pack the wire forms back to back on the device, so that only their bytes come back.
        let (offsets, total) = wire_offsets(first_index, &lens)?;
        let packed = if total == 0 {
            Vec::new() // every page refused: nothing to gather
        } else {
            self.gather_launch(&d_out, &d_lens, &offsets, total, config)?
        };

        unpack_wire_forms(first_index, &packed, &offsets, &lens, out, |i| {
            self.explain_compress_failure(first_index + i, &pages[i])
        })
    }

    /// Packs the compression kernel's slots back to back on the device (page `i` at `offsets[i]`,
    /// `total` bytes in all) and brings them to the host.
    fn gather_launch(
        &self,
        d_slots: &CudaSlice<u8>,
        d_lens: &CudaSlice<u32>,
        offsets: &[u32],
        total: usize,
        config: LaunchConfig,
    ) -> Result<Vec<u8>, BatchError> {
        let count = launch_count(offsets.len())?;
        let stride = u32::try_from(OUT_STRIDE).map_err(|_| internal("the slot size"))?;
        let stream = &self.stream;
        let d_offsets = guarded("copy to the device", || stream.clone_htod(offsets))?;
        let mut d_packed = guarded("allocation", || stream.alloc_zeros::<u8>(total))?;
        let mut launch = stream.launch_builder(&self.gather);
        launch
            .arg(d_slots)
            .arg(&stride)
            .arg(d_lens)
            .arg(&d_offsets)
            .arg(&count)
            .arg(&mut d_packed);
        // SAFETY: the kernel's contract (targets/gpu-kernels): `slots` holds count * out_stride
        // bytes, `lens` and `offsets` count values, and every offsets[i] + lens[i] <= total, the
        // size of `packed` (wire_offsets computes them so, from the same lens, each at most
        // OUT_STRIDE); the argument types match the PTX entry (checked by the kernels tests).
        guarded("gather kernel launch", || unsafe { launch.launch(config) })?;
        let packed = guarded("copy from the device", || stream.clone_dtoh(&d_packed))?;
        guarded("synchronisation", || stream.synchronize())?;
        Ok(packed)
    }

    /// The error for a page the compression kernel refused: the CPU's, or a disagreement.
    fn explain_compress_failure(&self, index: usize, page: &Page) -> BatchError {
        match self.builder.build().and_then(|mut cpu| cpu.compress(page)) {
            Err(source) => BatchError::Page { index, source },
            Ok(_) => disagreement(index, "the kernel refused a page that the CPU compresses"),
        }
    }

    fn decompress_launch(
        &self,
        first_index: usize,
        packed: &[CompressedPage],
        out: &mut [Page],
    ) -> Result<(), BatchError> {
        let count = launch_count(packed.len())?;
        let (wire, offsets) = pack_wire_forms(packed)?;
        let stream = &self.stream;
        let d_wire = guarded("copy to the device", || stream.clone_htod(&wire))?;
        let d_offsets = guarded("copy to the device", || stream.clone_htod(&offsets))?;
        let mut d_pages = guarded("allocation", || {
            stream.alloc_zeros::<u8>(packed.len() * PAGE_SIZE)
        })?;
        let mut d_status = guarded("allocation", || stream.alloc_zeros::<u32>(packed.len()))?;
        let config = kernels::launch_config(count, self.device.multiprocessors());
        let mut launch = stream.launch_builder(&self.decompress);
        launch
            .arg(&d_wire)
            .arg(&d_offsets)
            .arg(&count)
            .arg(&mut d_pages)
            .arg(&mut d_status);
        // SAFETY: the kernel's contract (targets/gpu-kernels): `offsets` holds count + 1 ascending
        // values, the last being the length of `packed` (pack_wire_forms builds them so); `out`
        // holds count * 4096 bytes and `status` count u32s, all separate allocations; the argument
        // types match the PTX entry (checked by the kernels tests).
        guarded("decompression kernel launch", || unsafe {
            launch.launch(config)
        })?;
        let status = guarded("copy from the device", || stream.clone_dtoh(&d_status))?;
        guarded("copy from the device", || {
            stream.memcpy_dtoh(&d_pages, out.as_flattened_mut())
        })?;
        guarded("synchronisation", || stream.synchronize())?;

        check_statuses(&status, |i| {
            let mut page = [0u8; PAGE_SIZE];
            let decoded = self
                .builder
                .build()
                .and_then(|mut cpu| cpu.decompress_into(&packed[i], &mut page));
            match decoded {
                Err(source) => BatchError::Page {
                    index: first_index + i,
                    source,
                },
                Ok(()) => disagreement(
                    first_index + i,
                    "the kernel refused a page that the CPU decodes",
                ),
            }
        })
    }
}

/// Where each page's wire form goes when the slots are packed back to back, and the packed size. A
/// length above [`OUT_STRIDE`] is an error: the kernel wrote beyond its slot.
fn wire_offsets(first_index: usize, lens: &[u32]) -> Result<(Vec<u32>, usize), BatchError> {
    let mut offsets = Vec::with_capacity(lens.len());
    let mut total = 0usize;
    for (i, &len) in lens.iter().enumerate() {
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if len > OUT_STRIDE {
            return Err(disagreement(
                first_index + i,
                format!("the kernel reported {len} bytes, more than its slot"),
            ));
        }
        offsets.push(u32::try_from(total).map_err(|_| internal("the packed size"))?);
        total += len;
    }
    Ok((offsets, total))
}

/// Turns the gathered output of a compression launch (page `i`'s wire form at
/// `packed[offsets[i]..offsets[i] + lens[i]]`) into pages. A wire form that does not parse is a
/// disagreement with the CPU; for a page the kernel refused, `explain(i)` gives the error. Batch
/// indices start at `first_index`.
fn unpack_wire_forms(
    first_index: usize,
    packed: &[u8],
    offsets: &[u32],
    lens: &[u32],
    out: &mut [CompressedPage],
    explain: impl Fn(usize) -> BatchError + Sync,
) -> Result<(), BatchError> {
    if offsets.len() != out.len() || lens.len() != out.len() {
        return Err(disagreement(
            first_index,
            "the kernel's output has the wrong size",
        ));
    }
    out.par_iter_mut()
        .zip(offsets.par_iter().zip(lens.par_iter()))
        .enumerate()
        .try_for_each(|(i, (slot_out, (&offset, &len)))| {
            if len == FAILED_LEN {
                return Err(explain(i));
            }
            let start = usize::try_from(offset).unwrap_or(usize::MAX);
            let end = start.saturating_add(usize::try_from(len).unwrap_or(usize::MAX));
            let Some(wire) = packed.get(start..end) else {
                return Err(disagreement(
                    first_index + i,
                    format!("its output ({len} bytes at {start}) lies outside the packed output"),
                ));
            };
            *slot_out = CompressedPage::from_bytes(wire).map_err(|e| {
                disagreement(
                    first_index + i,
                    format!("its output ({len} bytes) is not a page: {e}"),
                )
            })?;
            Ok(())
        })
}

/// Checks the decompression kernel's statuses; for the first page it refused, `explain(i)` gives
/// the error.
fn check_statuses(status: &[u32], explain: impl Fn(usize) -> BatchError) -> Result<(), BatchError> {
    match status.iter().position(|&s| s != STATUS_OK) {
        None => Ok(()),
        Some(i) => Err(explain(i)),
    }
}

/// A launch's page count as the kernels take it.
fn launch_count(pages: usize) -> Result<u32, BatchError> {
    u32::try_from(pages).map_err(|_| internal("the launch size"))
}

fn internal(what: &str) -> BatchError {
    BatchError::Gpu {
        operation: "launch preparation",
        reason: format!("{what} does not fit the kernel's u32 parameters"),
    }
}

fn disagreement(index: usize, what: impl std::fmt::Display) -> BatchError {
    BatchError::Gpu {
        operation: "check against the CPU",
        reason: format!("page {index}: {what}"),
    }
}

/// The wire forms of `packed` back to back, and the `count + 1` offsets that delimit them.
fn pack_wire_forms(packed: &[CompressedPage]) -> Result<(Vec<u8>, Vec<u32>), BatchError> {
    let mut offsets = Vec::with_capacity(packed.len() + 1);
    let mut total = 0u32;
    offsets.push(total);
    for page in packed {
        let len = u32::try_from(page.wire_len()).map_err(|_| internal("a page's length"))?;
        total = total
            .checked_add(len)
            .ok_or_else(|| internal("the batch's compressed size"))?;
        offsets.push(total);
    }
    let mut wire = vec![0u8; usize::try_from(total).map_err(|_| internal("the batch size"))?];
    // Split the buffer into one piece per page, then fill the pieces in parallel.
    let mut pieces = Vec::with_capacity(packed.len());
    let mut rest = wire.as_mut_slice();
    for page in packed {
        let (piece, tail) = rest.split_at_mut(page.wire_len());
        pieces.push(piece);
        rest = tail;
    }
    pieces
        .into_par_iter()
        .zip(packed.par_iter())
        .try_for_each(|(piece, page)| page.to_bytes(piece).map(|_| ()))
        .map_err(|e| BatchError::Gpu {
            operation: "launch preparation",
            reason: format!("a page's wire form: {e}"),
        })?;
    Ok((wire, offsets))
}

impl BatchCompressor for CudaBatchCompressor {
    fn name(&self) -> String {
        format!("cuda {}", self.device.name())
    }

    fn compress_batch(&self, pages: &[Page], out: &mut [CompressedPage]) -> Result<(), BatchError> {
        check_lengths(pages.len(), out.len())?;
        let _one_batch_at_a_time = self.busy.lock().unwrap_or_else(PoisonError::into_inner);
        let chunk = self.launch_pages;
        for (n, (src, dst)) in pages.chunks(chunk).zip(out.chunks_mut(chunk)).enumerate() {
            self.compress_launch(n * chunk, src, dst)?;
        }
        Ok(())
    }

    fn decompress_batch(
        &self,
        packed: &[CompressedPage],
        out: &mut [Page],
    ) -> Result<(), BatchError> {
        check_lengths(packed.len(), out.len())?;
        let _one_batch_at_a_time = self.busy.lock().unwrap_or_else(PoisonError::into_inner);
        let chunk = self.launch_pages;
        for (n, (src, dst)) in packed.chunks(chunk).zip(out.chunks_mut(chunk)).enumerate() {
            self.decompress_launch(n * chunk, src, dst)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Encoding;

    #[test]
    fn wire_forms_are_packed_back_to_back() {
        let pages = [
            CompressedPage::same_fill(0x0102_0304_0506_0708),
            CompressedPage::from_parts(Encoding::Lz4, &[0x40, 1, 2, 3, 4]).unwrap(),
            CompressedPage::stored(&[9u8; PAGE_SIZE]),
        ];
        let (wire, offsets) = pack_wire_forms(&pages).unwrap();
        assert_eq!(offsets, [0, 9, 15, 15 + 1 + 4096]);
        assert_eq!(wire.len(), 15 + 1 + 4096);
        for (i, page) in pages.iter().enumerate() {
            let piece = &wire[offsets[i] as usize..offsets[i + 1] as usize];
            assert_eq!(&CompressedPage::from_bytes(piece).unwrap(), page);
        }
        let (wire, offsets) = pack_wire_forms(&[]).unwrap();
        assert!(wire.is_empty());
        assert_eq!(offsets, [0]);
    }
}

/// The host side of the kernels' protocol, run against the kernel bodies on the CPU.
#[cfg(test)]
mod host_protocol_tests {
    use super::*;
    use crate::gpu::kernel_bodies;
    use crate::{Encoding, samefill};

    /// Pages of every kind: text (the PTX itself), same-fill, zero, noise, and mixtures.
    fn pages() -> Vec<Page> {
        let mut pages: Vec<Page> = kernels::PTX
            .as_bytes()
            .chunks_exact(PAGE_SIZE)
            .take(24)
            .map(|c| c.try_into().unwrap())
            .collect();
        pages.push([0u8; PAGE_SIZE]);
        let mut fill = [0u8; PAGE_SIZE];
        samefill::fill(&mut fill, 0xdead_beef_0bad_f00d);
        pages.push(fill);
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut noise = [0u8; PAGE_SIZE];
        for b in noise.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x.to_le_bytes()[5];
        }
        pages.push(noise);
        let mut half = noise;
        half[..2048].fill(0x41);
        pages.push(half);
        pages
    }

    /// The compression kernel's output as the host receives it: the compression and gather
    /// kernels' bodies as `threads` GPU threads run them (one after another), with the host's
    /// offsets in between. Returns the packed wire forms, their offsets and lengths.
    fn compress_on_host(
        algorithm: Algorithm,
        pages: &[Page],
        threads: usize,
        tamper: impl FnOnce(&mut [u8], &mut [u32]),
    ) -> (Vec<u8>, Vec<u32>, Vec<u32>) {
        let mut slots = vec![0xa5u8; pages.len() * OUT_STRIDE];
        let mut lens = vec![u32::MAX; pages.len()];
        let count = u32::try_from(pages.len()).unwrap();
        let stride = u32::try_from(OUT_STRIDE).unwrap();
        for thread in 0..threads {
            // SAFETY: the buffers have the sizes the body's contract asks for and are not shared.
            unsafe {
                kernel_bodies::compress_pages(
                    algorithm,
                    thread,
                    threads,
                    pages.as_flattened().as_ptr(),
                    count,
                    slots.as_mut_ptr(),
                    stride,
                    lens.as_mut_ptr(),
                );
            }
        }
        tamper(&mut slots, &mut lens);
        let (offsets, total) = wire_offsets(0, &lens).unwrap();
        let mut packed = vec![0u8; total];
        for thread in 0..threads {
            // SAFETY: offsets come from wire_offsets over the same lens (each at most the stride),
            // so every page's range lies inside `packed` and the ranges do not overlap.
            unsafe {
                kernel_bodies::gather_wire_forms(
                    thread,
                    threads,
                    slots.as_ptr(),
                    stride,
                    lens.as_ptr(),
                    offsets.as_ptr(),
                    count,
                    packed.as_mut_ptr(),
                );
            }
        }
        (packed, offsets, lens)
    }

    /// The decompression kernel's body as `threads` GPU threads run it.
    fn decompress_on_host(packed: &[CompressedPage], threads: usize) -> (Vec<u8>, Vec<u32>) {
        let (wire, offsets) = pack_wire_forms(packed).unwrap();
        let mut out = vec![0x5au8; packed.len() * PAGE_SIZE];
        let mut status = vec![u32::MAX; packed.len()];
        let count = u32::try_from(packed.len()).unwrap();
        for thread in 0..threads {
            // SAFETY: offsets come from pack_wire_forms (count + 1 ascending values ending at the
            // wire's length); out and status have the sizes the contract asks for.
            unsafe {
                kernel_bodies::decompress_pages(
                    thread,
                    threads,
                    wire.as_ptr(),
                    offsets.as_ptr(),
                    count,
                    out.as_mut_ptr(),
                    status.as_mut_ptr(),
                );
            }
        }
        (out, status)
    }

    #[test]
    fn the_abi_constants_match_the_kernels() {
        assert_eq!(FAILED_LEN, kernel_bodies::FAILED_LEN);
        assert_eq!(STATUS_OK, kernel_bodies::STATUS_OK);
        assert_ne!(kernel_bodies::STATUS_FAILED, STATUS_OK);
    }

    #[test]
    fn the_kernel_bodies_give_the_cpu_pages_through_the_host_protocol() {
        let pages = pages();
        for algorithm in [Algorithm::Lz4, Algorithm::SameFillOnly] {
            // The CPU on its best SIMD backend: the bytes must not depend on the backend.
            let mut cpu = CompressorBuilder::new()
                .algorithm(algorithm)
                .build()
                .unwrap();
            let expected: Vec<CompressedPage> =
                pages.iter().map(|p| cpu.compress(p).unwrap()).collect();
            assert!(expected.iter().any(|p| p.encoding() == Encoding::SameFill));
            assert!(expected.iter().any(|p| p.encoding() == Encoding::Stored));
            if algorithm == Algorithm::Lz4 {
                assert!(expected.iter().any(|p| p.encoding() == Encoding::Lz4));
            }
            for threads in [1, 3, 64] {
                let (packed, offsets, lens) =
                    compress_on_host(algorithm, &pages, threads, |_, _| {});
                let stored: usize = expected.iter().map(CompressedPage::wire_len).sum();
                assert_eq!(packed.len(), stored, "only the wire forms come back");
                let mut got = vec![CompressedPage::same_fill(0); pages.len()];
                unpack_wire_forms(0, &packed, &offsets, &lens, &mut got, |i| {
                    panic!("page {i} refused")
                })
                .unwrap();
                assert!(got == expected, "{algorithm:?} on {threads} threads");

                let (back, status) = decompress_on_host(&expected, threads);
                check_statuses(&status, |i| panic!("page {i} refused")).unwrap();
                assert!(back == pages.as_flattened(), "{algorithm:?} decoded");
            }
        }
    }

    #[test]
    fn the_decompression_kernel_decodes_every_encoding_the_core_does() {
        // A Zstandard frame (single segment, content size 4096, one RLE block of 'z'), as the core's
        // own tests build it, beside pages of the other encodings.
        let frame = [
            0x28, 0xB5, 0x2F, 0xFD, 0x60, 0x00, 0x0F, 0x03, 0x80, 0x00, b'z',
        ];
        let packed = vec![
            CompressedPage::from_parts(Encoding::Zstd, &frame).unwrap(),
            CompressedPage::same_fill(7),
            CompressedPage::stored(&[3u8; PAGE_SIZE]),
            CompressedPage::from_parts(Encoding::Zstd, &frame).unwrap(),
        ];
        let mut cpu = CompressorBuilder::new().build().unwrap();
        let expected: Vec<Page> = packed.iter().map(|p| cpu.decompress(p).unwrap()).collect();
        assert_eq!(expected[0], [b'z'; PAGE_SIZE]);
        let (back, status) = decompress_on_host(&packed, 3);
        check_statuses(&status, |i| panic!("page {i} refused")).unwrap();
        assert!(back == expected.as_flattened());
    }

    #[test]
    fn refused_and_malformed_pages_are_errors_with_their_index() {
        let pages = pages();
        let mut cpu = CompressorBuilder::new().build().unwrap();
        let mut packed: Vec<CompressedPage> =
            pages.iter().map(|p| cpu.compress(p).unwrap()).collect();
        // An LZ4 block with an offset before the start of the page.
        packed[5] = CompressedPage::from_parts(Encoding::Lz4, &[0x10, 7, 9, 0]).unwrap();
        let (_, status) = decompress_on_host(&packed, 4);
        let refused = check_statuses(&status, |i| disagreement(100 + i, "refused"));
        assert!(
            matches!(&refused, Err(BatchError::Gpu { reason, .. }) if reason.starts_with("page 105:")),
            "{refused:?}"
        );

        let mut out = vec![CompressedPage::same_fill(0); pages.len()];
        let (packed, offsets, lens) = compress_on_host(Algorithm::Lz4, &pages, 2, |_, lens| {
            lens[3] = FAILED_LEN;
        });
        let failed = unpack_wire_forms(10, &packed, &offsets, &lens, &mut out, |i| {
            disagreement(10 + i, "refused")
        });
        assert!(
            matches!(&failed, Err(BatchError::Gpu { reason, .. }) if reason.starts_with("page 13:")),
            "{failed:?}"
        );
        let (packed, offsets, lens) = compress_on_host(Algorithm::Lz4, &pages, 2, |slots, lens| {
            lens[3] = 5;
            slots[3 * OUT_STRIDE] = 9; // no such tag
        });
        let malformed = unpack_wire_forms(10, &packed, &offsets, &lens, &mut out, |_| {
            panic!("not refused")
        });
        assert!(
            matches!(&malformed, Err(BatchError::Gpu { reason, .. })
                if reason.contains("page 13: its output (5 bytes) is not a page")),
            "{malformed:?}"
        );
        let outside = unpack_wire_forms(0, &packed[..10], &offsets, &lens, &mut out, |_| {
            panic!("not refused")
        });
        assert!(
            matches!(&outside, Err(BatchError::Gpu { reason, .. }) if reason.contains("outside")),
            "{outside:?}"
        );
        let short = unpack_wire_forms(0, &packed, &offsets[..1], &lens, &mut out, |_| panic!("no"));
        assert!(matches!(short, Err(BatchError::Gpu { .. })));
        let too_long = wire_offsets(7, &[9, u32::try_from(OUT_STRIDE).unwrap() + 1]);
        assert!(
            matches!(&too_long, Err(BatchError::Gpu { reason, .. }) if reason.starts_with("page 8:")),
            "{too_long:?}"
        );
    }
}
