//! [`CudaBatchCompressor`]: batches of pages through the GPU kernels.
//!
//! A batch travels in launches of at most [`CudaBatchCompressor::MAX_PAGES_PER_LAUNCH`] pages (so
//! offsets fit `u32` and buffers stay a few hundred MB). Compression sends the pages, runs one page
//! per thread, and brings back each page's wire form from a fixed slot; decompression sends the wire
//! forms back to back with their offsets and receives the pages straight into the caller's slice.
//! The host checks everything it receives: a slot that does not parse as a page is an error.
//!
//! When the GPU refuses a page (a kernel status), the CPU runs the same page to say why: its error
//! is returned as [`BatchError::Page`]; if the CPU accepts the page, the GPU disagreed with the CPU
//! and that is a [`BatchError::Gpu`], never silently patched over.

use std::sync::{Arc, Mutex, PoisonError};

use cudarc::driver::{CudaFunction, CudaStream, PushKernelArg};
use cudarc::nvrtc::Ptx;
use rayon::prelude::*;

use super::device::{GpuDevice, guarded};
use super::kernels::{self, FAILED_LEN, OUT_STRIDE, STATUS_OK};
use crate::batch::check_lengths;
use crate::{
    Algorithm, BatchCompressor, BatchError, CompressedPage, CompressorBuilder, PAGE_SIZE, Page,
    PageCompressor, SimdBackend, StandardCompressor,
};

/// A [`BatchCompressor`] on one CUDA device.
pub struct CudaBatchCompressor {
    device: GpuDevice,
    stream: Arc<CudaStream>,
    compress: CudaFunction,
    decompress: CudaFunction,
    /// The CPU twin of the kernels, to explain a page the GPU refused.
    cpu: StandardCompressor,
    /// One batch at a time on the stream, so that a batch's synchronisation waits only for itself.
    busy: Mutex<()>,
    /// Pages per kernel launch.
    launch_pages: usize,
}

impl std::fmt::Debug for CudaBatchCompressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CudaBatchCompressor")
            .field("device", &self.device.name())
            .field("algorithm", &self.cpu.algorithm())
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
        let cpu = builder
            .prefer_backend(SimdBackend::Scalar)
            .build()
            .map_err(BatchError::Config)?;
        let compress_name = kernels::compress_kernel(cpu.algorithm()).ok_or(BatchError::Config(
            crate::Error::InvalidConfig("the GPU backend has no kernel for this algorithm"),
        ))?;
        let device = GpuDevice::open(ordinal)?;
        let context = device.context().clone();
        // The driver JIT-compiles the PTX for this device here (and caches the result on disk).
        let module = guarded("module load", || {
            context.load_module(Ptx::from_src(kernels::PTX))
        })?;
        let compress = guarded("kernel lookup", || module.load_function(compress_name))?;
        let decompress = guarded("kernel lookup", || {
            module.load_function(kernels::DECOMPRESS)
        })?;
        let stream = guarded("stream creation", || context.new_stream())?;
        Ok(Self {
            device,
            stream,
            compress,
            decompress,
            cpu,
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
        self.cpu.algorithm()
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
        let slots = guarded("copy from the device", || stream.clone_dtoh(&d_out))?;
        guarded("synchronisation", || stream.synchronize())?;

        unpack_slots(first_index, &slots, &lens, out, |i| {
            self.explain_compress_failure(first_index + i, &pages[i])
        })
    }

    /// The error for a page the compression kernel refused: the CPU's, or a disagreement.
    fn explain_compress_failure(&self, index: usize, page: &Page) -> BatchError {
        match self.cpu.clone().compress(page) {
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
            match self.cpu.clone().decompress_into(&packed[i], &mut page) {
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

/// Turns the compression kernel's output (a wire form in each `OUT_STRIDE`-byte slot, its length
/// in `lens`) into pages. A slot that does not parse is a disagreement with the CPU; for a page the
/// kernel refused, `explain(i)` gives the error (batch indices start at `first_index`).
fn unpack_slots(
    first_index: usize,
    slots: &[u8],
    lens: &[u32],
    out: &mut [CompressedPage],
    explain: impl Fn(usize) -> BatchError + Sync,
) -> Result<(), BatchError> {
    if slots.len() != out.len() * OUT_STRIDE || lens.len() != out.len() {
        return Err(disagreement(
            first_index,
            "the kernel's output has the wrong size",
        ));
    }
    out.par_iter_mut()
        .zip(slots.par_chunks_exact(OUT_STRIDE))
        .zip(lens.par_iter())
        .enumerate()
        .try_for_each(|(i, ((slot_out, slot), &len))| {
            let parsed = (len != FAILED_LEN)
                .then(|| slot.get(..usize::try_from(len).ok()?))
                .flatten()
                .map(CompressedPage::from_bytes);
            match parsed {
                Some(Ok(page)) => {
                    *slot_out = page;
                    Ok(())
                }
                Some(Err(e)) => Err(disagreement(
                    first_index + i,
                    format!("its output ({len} bytes) is not a page: {e}"),
                )),
                None => Err(explain(i)),
            }
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

    /// The compression kernel's body as `threads` GPU threads run it, one thread after another.
    fn compress_on_host(
        algorithm: Algorithm,
        pages: &[Page],
        threads: usize,
    ) -> (Vec<u8>, Vec<u32>) {
        let mut slots = vec![0xa5u8; pages.len() * OUT_STRIDE];
        let mut lens = vec![u32::MAX; pages.len()];
        let count = u32::try_from(pages.len()).unwrap();
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
                    u32::try_from(OUT_STRIDE).unwrap(),
                    lens.as_mut_ptr(),
                );
            }
        }
        (slots, lens)
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
                let (slots, lens) = compress_on_host(algorithm, &pages, threads);
                let mut got = vec![CompressedPage::same_fill(0); pages.len()];
                unpack_slots(0, &slots, &lens, &mut got, |i| panic!("page {i} refused")).unwrap();
                assert!(got == expected, "{algorithm:?} on {threads} threads");

                let (back, status) = decompress_on_host(&expected, threads);
                check_statuses(&status, |i| panic!("page {i} refused")).unwrap();
                assert!(back == pages.as_flattened(), "{algorithm:?} decoded");
            }
        }
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

        let (mut slots, mut lens) = compress_on_host(Algorithm::Lz4, &pages, 2);
        let mut out = vec![CompressedPage::same_fill(0); pages.len()];
        lens[3] = FAILED_LEN;
        let failed = unpack_slots(10, &slots, &lens, &mut out, |i| {
            disagreement(10 + i, "refused")
        });
        assert!(
            matches!(&failed, Err(BatchError::Gpu { reason, .. }) if reason.starts_with("page 13:")),
            "{failed:?}"
        );
        lens[3] = 5;
        slots[3 * OUT_STRIDE] = 9; // no such tag
        let malformed = unpack_slots(10, &slots, &lens, &mut out, |_| panic!("not refused"));
        assert!(
            matches!(&malformed, Err(BatchError::Gpu { reason, .. }) if reason.contains("page 13: its output (5 bytes) is not a page")),
            "{malformed:?}"
        );
        let short = unpack_slots(0, &slots[..OUT_STRIDE], &lens, &mut out, |_| panic!("no"));
        assert!(matches!(short, Err(BatchError::Gpu { .. })));
    }
}
