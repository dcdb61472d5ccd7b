//! The CUDA kernels of trueno-zram: the core's own page codec, compiled for `nvptx64-nvidia-cuda`.
//!
//! Every kernel calls [`StandardCompressor`] on the scalar backend, the oracle that every CPU backend
//! is tested against, so a page compressed on the GPU has the bytes that the CPU gives it, by
//! construction: same-fill detection, LZ4, and the stored fallback all come from the same source.
//!
//! One page per thread, in a grid-stride loop: each thread builds one compressor (its 32 KiB LZ4
//! hash table lives in local memory) and reuses it for every page it visits, as a CPU thread does.
//!
//! The kernel ABI (names, parameter order, status values) is mirrored in
//! `std-adapter/src/gpu/kernels.rs`; `cargo xtask ptx` regenerates `std-adapter/src/gpu/lz4.ptx`.
#![no_std]
#![feature(abi_ptx, stdarch_nvptx)]

use core::arch::nvptx;

use trueno_zram_core::{
    Algorithm, CompressedPage, CompressorBuilder, PAGE_SIZE, Page, PageCompressor, SimdBackend,
};

/// The length a compression kernel reports for a page it could not compress (a page's wire form is
/// never empty: it has at least its tag byte).
pub const FAILED_LEN: u32 = 0;

/// Decompression status of a page that decoded.
pub const STATUS_OK: u32 = 0;
/// Decompression status of a page whose input was refused (the host asks the CPU why).
pub const STATUS_FAILED: u32 = 1;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    // The core returns errors for bad input and never panics on it; should a bug panic anyway, the
    // launch fails with an error the host reports, instead of writing wrong bytes.
    // SAFETY: trap only ends this kernel launch.
    unsafe { nvptx::trap() }
}

/// This thread's global index and the number of threads in the grid.
fn grid_position() -> (usize, usize) {
    // SAFETY: the special registers are readable in every kernel.
    let (block, block_dim, thread, grid_dim) = unsafe {
        (
            nvptx::_block_idx_x(),
            nvptx::_block_dim_x(),
            nvptx::_thread_idx_x(),
            nvptx::_grid_dim_x(),
        )
    };
    // The registers are non-negative and below 2^31; their products fit in 64 bits.
    (
        block as usize * block_dim as usize + thread as usize,
        grid_dim as usize * block_dim as usize,
    )
}

/// The builder of the page compressor every GPU thread uses: `algorithm` on the scalar backend, the
/// CPU's oracle.
fn builder(algorithm: Algorithm) -> CompressorBuilder {
    CompressorBuilder::new()
        .algorithm(algorithm)
        .prefer_backend(SimdBackend::Scalar)
}

/// The body of the compression kernels, inlined into each with a constant algorithm: a run-time
/// choice would keep both paths' buffers alive and double the 48 KiB local-memory frame.
///
/// # Safety
/// As for [`trueno_lz4_compress_pages`].
#[inline(always)]
unsafe fn compress_pages(
    algorithm: Algorithm,
    pages: *const u8,
    count: u32,
    out: *mut u8,
    out_stride: u32,
    out_lens: *mut u32,
) {
    let (first, step) = grid_position();
    let count = count as usize;
    let stride = out_stride as usize;
    // Built in place: passing the 32 KiB compressor through an Option would copy it.
    let mut codec = builder(algorithm).build();
    for i in (first..count).step_by(step) {
        // SAFETY: i < count, so the page lies inside the `count * 4096` bytes of `pages`, and the slot
        // inside the `count * out_stride` bytes of `out`; no other thread touches page i.
        let (page, slot) = unsafe {
            (
                &*pages.add(i * PAGE_SIZE).cast::<Page>(),
                core::slice::from_raw_parts_mut(out.add(i * stride), stride),
            )
        };
        let written = match codec.as_mut() {
            Ok(codec) => codec
                .compress(page)
                .and_then(|packed| packed.to_bytes(slot))
                .ok()
                .and_then(|len| u32::try_from(len).ok())
                .unwrap_or(FAILED_LEN),
            Err(_) => FAILED_LEN,
        };
        // SAFETY: i < count.
        unsafe { out_lens.add(i).write(written) };
    }
}

/// Compresses `count` pages from `pages` (`count * 4096` bytes) with [`Algorithm::Lz4`]. Page `i` is
/// written in its wire form (tag byte, then payload: `CompressedPage::to_bytes`) at
/// `out + i * out_stride`, and its length to `out_lens[i]`; a length of [`FAILED_LEN`] means the page
/// could not be compressed (the host asks the CPU why).
///
/// # Safety
/// `pages` holds `count * 4096` readable bytes, `out` holds `count * out_stride` writable bytes and
/// `out_lens` `count` writable `u32`s; the buffers do not overlap.
#[unsafe(no_mangle)]
pub unsafe extern "ptx-kernel" fn trueno_lz4_compress_pages(
    pages: *const u8,
    count: u32,
    out: *mut u8,
    out_stride: u32,
    out_lens: *mut u32,
) {
    // SAFETY: the caller's guarantees are those compress_pages needs.
    unsafe { compress_pages(Algorithm::Lz4, pages, count, out, out_stride, out_lens) }
}

/// [`trueno_lz4_compress_pages`] with [`Algorithm::SameFillOnly`].
///
/// # Safety
/// As for [`trueno_lz4_compress_pages`].
#[unsafe(no_mangle)]
pub unsafe extern "ptx-kernel" fn trueno_same_fill_compress_pages(
    pages: *const u8,
    count: u32,
    out: *mut u8,
    out_stride: u32,
    out_lens: *mut u32,
) {
    // SAFETY: the caller's guarantees are those compress_pages needs.
    unsafe {
        compress_pages(
            Algorithm::SameFillOnly,
            pages,
            count,
            out,
            out_stride,
            out_lens,
        )
    }
}

/// Decompresses `count` pages. Page `i`'s wire form lies at `packed[offsets[i]..offsets[i + 1]]`; its
/// 4096 bytes go to `out + i * 4096` and its status ([`STATUS_OK`], [`STATUS_FAILED`]) to `status[i]`.
///
/// # Safety
/// `offsets` holds `count + 1` values, each at most the length of `packed`; `out` holds
/// `count * 4096` writable bytes and `status` `count` writable `u32`s; `out` and `status` overlap
/// nothing.
#[unsafe(no_mangle)]
pub unsafe extern "ptx-kernel" fn trueno_decompress_pages(
    packed: *const u8,
    offsets: *const u32,
    count: u32,
    out: *mut u8,
    status: *mut u32,
) {
    let (first, step) = grid_position();
    let count = count as usize;
    // Decoding needs only the page's encoding; the compressor's LZ4 table goes unused here.
    let mut codec = builder(Algorithm::Lz4).build();
    for i in (first..count).step_by(step) {
        // SAFETY: i < count, so offsets[i] and offsets[i + 1] exist.
        let (start, end) = unsafe { (*offsets.add(i) as usize, *offsets.add(i + 1) as usize) };
        let ok = match (codec.as_mut(), end.checked_sub(start)) {
            (Ok(codec), Some(len)) => {
                // SAFETY: start <= end <= the length of `packed`; page i of `out` is this thread's.
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
            _ => false,
        };
        // SAFETY: i < count.
        unsafe {
            status
                .add(i)
                .write(if ok { STATUS_OK } else { STATUS_FAILED })
        };
    }
}
