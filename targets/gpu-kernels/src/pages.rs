//! The kernels' bodies, free of GPU intrinsics: each takes the thread's first page and the grid's
//! stride as arguments. `lib.rs` wraps them in `ptx-kernel` entry points; `trueno-zram`'s tests
//! compile this same file for the host and run it thread by thread against the CPU path, so the
//! buffer layout and status protocol are tested on machines without a GPU.
//!
//! Pages are compressed by the core's own same-fill detector and LZ4 compressor on the scalar
//! backend, the oracle that every CPU backend is tested against, under `StandardCompressor`'s page
//! policy ([`compress_page`]); they are decoded by the core's `PageDecompressor`, as
//! `StandardCompressor` decodes them. The host tests compare
//! every page with `StandardCompressor`'s, byte for byte.

use trueno_zram_core::lz4::{self, Lz4Error};
use trueno_zram_core::{
    Algorithm, CompressedPage, Encoding, Error, PAGE_SIZE, Page, PageDecompressor, SimdBackend,
    samefill,
};

/// The length a compression kernel reports for a page it could not compress (a page's wire form is
/// never empty: it has at least its tag byte).
pub const FAILED_LEN: u32 = 0;
/// Decompression status of a page that decoded.
pub const STATUS_OK: u32 = 0;
/// Decompression status of a page whose input was refused (the host asks the CPU why).
pub const STATUS_FAILED: u32 = 1;

/// `StandardCompressor::compress` for the two algorithms the kernels have: a same-fill page first,
/// then LZ4 into one byte short of a page, stored when the block does not fit (`SameFillOnly`:
/// stored). `StandardCompressor` also carries the Zstandard encoder, whose tables and code would
/// take every GPU thread from 45 KB of stack and 64 registers to 137 KB and 255, so the kernels call
/// the codecs it calls, directly.
pub fn compress_page(
    algorithm: Algorithm,
    lz4: &mut lz4::Compressor,
    page: &Page,
) -> Result<CompressedPage, Error> {
    if let Some(word) = samefill::detect_with(SimdBackend::Scalar, page) {
        return Ok(CompressedPage::same_fill(word));
    }
    match algorithm {
        Algorithm::SameFillOnly => Ok(CompressedPage::stored(page)),
        Algorithm::Lz4 => {
            let mut block = [0u8; PAGE_SIZE - 1];
            match lz4.compress_page(page, &mut block) {
                Ok(len) => CompressedPage::from_parts(Encoding::Lz4, &block[..len]),
                Err(Error::Lz4(Lz4Error::DestinationTooSmall { .. })) => {
                    Ok(CompressedPage::stored(page))
                }
                Err(e) => Err(e),
            }
        }
        _ => Err(Error::InvalidConfig("no GPU kernel for this algorithm")),
    }
}

/// Compresses pages `first`, `first + step`, ... below `count` from `pages` (`count * 4096` bytes).
/// Page `i` is written in its wire form (tag byte, then payload: `CompressedPage::to_bytes`) at
/// `out + i * out_stride`, and its length to `out_lens[i]`; [`FAILED_LEN`] means the page could not
/// be compressed. Inlined into each kernel with a constant `algorithm`: a run-time choice keeps both
/// paths' buffers alive and costs another 32 KiB of local memory per thread.
///
/// # Safety
/// `pages` holds `count * 4096` readable bytes, `out` holds `count * out_stride` writable bytes and
/// `out_lens` `count` writable `u32`s; the buffers do not overlap, and no other caller works on the
/// same pages at the same time.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub unsafe fn compress_pages(
    algorithm: Algorithm,
    first: usize,
    step: usize,
    pages: *const u8,
    count: u32,
    out: *mut u8,
    out_stride: u32,
    out_lens: *mut u32,
) {
    let count = count as usize;
    let stride = out_stride as usize;
    let mut lz4 = lz4::Compressor::with_backend(SimdBackend::Scalar);
    for i in (first..count).step_by(step.max(1)) {
        // SAFETY: i < count, so the page lies inside the `count * 4096` bytes of `pages`, and the slot
        // inside the `count * out_stride` bytes of `out`; no other caller touches page i.
        let (page, slot) = unsafe {
            (
                &*pages.add(i * PAGE_SIZE).cast::<Page>(),
                core::slice::from_raw_parts_mut(out.add(i * stride), stride),
            )
        };
        let written = compress_page(algorithm, &mut lz4, page)
            .and_then(|packed| packed.to_bytes(slot))
            .ok()
            .and_then(|len| u32::try_from(len).ok())
            .unwrap_or(FAILED_LEN);
        // SAFETY: i < count.
        unsafe { out_lens.add(i).write(written) };
    }
}

/// Decompresses pages `first`, `first + step`, ... below `count`. Page `i`'s wire form lies at
/// `packed[offsets[i]..offsets[i + 1]]`; its 4096 bytes go to `out + i * 4096` and its status
/// ([`STATUS_OK`], [`STATUS_FAILED`]) to `status[i]`.
///
/// # Safety
/// `offsets` holds `count + 1` values, each at most the length of `packed`; `out` holds
/// `count * 4096` writable bytes and `status` `count` writable `u32`s; `out` and `status` overlap
/// nothing, and no other caller works on the same pages at the same time.
#[inline(always)]
pub unsafe fn decompress_pages(
    first: usize,
    step: usize,
    packed: *const u8,
    offsets: *const u32,
    count: u32,
    out: *mut u8,
    status: *mut u32,
) {
    let count = count as usize;
    // Decoding needs only the page's encoding and the Zstandard decoder's workspace.
    let mut codec = PageDecompressor::new(SimdBackend::Scalar);
    for i in (first..count).step_by(step.max(1)) {
        // SAFETY: i < count, so offsets[i] and offsets[i + 1] exist.
        let (start, end) = unsafe { (*offsets.add(i) as usize, *offsets.add(i + 1) as usize) };
        let ok = match end.checked_sub(start) {
            Some(len) => {
                // SAFETY: start <= end <= the length of `packed`; page i of `out` is this caller's.
                let (wire, page) = unsafe {
                    (
                        core::slice::from_raw_parts(packed.add(start), len),
                        &mut *out.add(i * PAGE_SIZE).cast::<Page>(),
                    )
                };
                CompressedPage::from_bytes(wire)
                    .and_then(|p| codec.decompress_into(&p, page))
                    .is_ok()
            }
            None => false,
        };
        let value = if ok { STATUS_OK } else { STATUS_FAILED };
        // SAFETY: i < count.
        unsafe { status.add(i).write(value) };
    }
}

/// Moves the wire forms of pages `first`, `first + step`, ... below `count` from their fixed slots
/// (`slots + i * out_stride`, `lens[i]` bytes, as [`compress_pages`] left them) to
/// `packed + offsets[i]`, back to back, so that only the bytes the pages need cross PCIe to the
/// host. A length above `out_stride` is clamped to it (the host's offsets then disagree with the
/// page, which it detects).
///
/// # Safety
/// `slots` holds `count * out_stride` readable bytes, `lens` and `offsets` `count` values each, and
/// `packed` at least `offsets[i] + min(lens[i], out_stride)` writable bytes for every `i`; those
/// ranges of `packed` do not overlap each other or `slots`, and no other caller works on the same
/// pages at the same time.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub unsafe fn gather_wire_forms(
    first: usize,
    step: usize,
    slots: *const u8,
    out_stride: u32,
    lens: *const u32,
    offsets: *const u32,
    count: u32,
    packed: *mut u8,
) {
    let count = count as usize;
    let stride = out_stride as usize;
    for i in (first..count).step_by(step.max(1)) {
        // SAFETY: i < count, so lens[i] and offsets[i] exist; the slot holds `stride` bytes and the
        // destination range is this page's, by the caller's guarantee.
        unsafe {
            let len = (*lens.add(i) as usize).min(stride);
            let start = *offsets.add(i) as usize;
            core::ptr::copy_nonoverlapping(slots.add(i * stride), packed.add(start), len);
        }
    }
}
