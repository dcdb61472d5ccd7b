//! The CUDA kernels of trueno-zram: the core's own page codec, compiled for `nvptx64-nvidia-cuda`.
//!
//! One page per thread, in a grid-stride loop: each thread builds one compressor (its 32 KiB LZ4
//! hash table lives in local memory) and reuses it for every page it visits, as a CPU thread does.
//! The bodies are in [`pages`]; this file only adds the entry points and the thread geometry.
//!
//! The kernel ABI (names, parameter order, status values) is mirrored in
//! `std-adapter/src/gpu/kernels.rs`; `cargo xtask ptx` regenerates `std-adapter/src/gpu/lz4.ptx`.
#![no_std]
#![feature(abi_ptx, stdarch_nvptx)]

pub mod pages;

use core::arch::nvptx;

use trueno_zram_core::Algorithm;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    // The core returns errors for bad input and never panics on it; should a bug panic anyway, the
    // launch fails with an error the host reports, instead of writing wrong bytes.
    // SAFETY: trap only ends this kernel launch.
    unsafe { nvptx::trap() }
}

/// `memcmp`, which LLVM calls for some slice comparisons in the core (the Zstandard decoder's table
/// caches compare up to 129 bytes) and which no CUDA library provides: `compiler_builtins` has one,
/// but it stays out of the LTO module that becomes the PTX.
///
/// # Safety
/// `a` and `b` point to `n` readable bytes each.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    for i in 0..n {
        // Volatile reads keep LLVM from recognising this loop as a memcmp and calling itself.
        // SAFETY: i < n, inside both ranges by the caller's guarantee.
        let (x, y) = unsafe { (a.add(i).read_volatile(), b.add(i).read_volatile()) };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
    }
    0
}

/// `bcmp` (equal or not), which LLVM may call instead of `memcmp` when only equality matters.
///
/// # Safety
/// As for [`memcmp`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: the caller's guarantee.
    unsafe { memcmp(a, b, n) }
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

/// Compresses `count` pages with [`Algorithm::Lz4`]: see [`pages::compress_pages`].
///
/// # Safety
/// As for [`pages::compress_pages`].
#[unsafe(no_mangle)]
pub unsafe extern "ptx-kernel" fn trueno_lz4_compress_pages(
    pages: *const u8,
    count: u32,
    out: *mut u8,
    out_stride: u32,
    out_lens: *mut u32,
) {
    let (first, step) = grid_position();
    // SAFETY: the caller's guarantees; each thread takes its own pages.
    unsafe {
        pages::compress_pages(
            Algorithm::Lz4,
            first,
            step,
            pages,
            count,
            out,
            out_stride,
            out_lens,
        )
    }
}

/// Compresses `count` pages with [`Algorithm::SameFillOnly`]: see [`pages::compress_pages`].
///
/// # Safety
/// As for [`pages::compress_pages`].
#[unsafe(no_mangle)]
pub unsafe extern "ptx-kernel" fn trueno_same_fill_compress_pages(
    pages: *const u8,
    count: u32,
    out: *mut u8,
    out_stride: u32,
    out_lens: *mut u32,
) {
    let (first, step) = grid_position();
    // SAFETY: the caller's guarantees; each thread takes its own pages.
    unsafe {
        pages::compress_pages(
            Algorithm::SameFillOnly,
            first,
            step,
            pages,
            count,
            out,
            out_stride,
            out_lens,
        )
    }
}

/// Packs the compression kernels' output: see [`pages::gather_wire_forms`].
///
/// # Safety
/// As for [`pages::gather_wire_forms`].
#[unsafe(no_mangle)]
pub unsafe extern "ptx-kernel" fn trueno_gather_wire_forms(
    slots: *const u8,
    out_stride: u32,
    lens: *const u32,
    offsets: *const u32,
    count: u32,
    packed: *mut u8,
) {
    let (first, step) = grid_position();
    // SAFETY: the caller's guarantees; each thread takes its own pages.
    unsafe {
        pages::gather_wire_forms(first, step, slots, out_stride, lens, offsets, count, packed)
    }
}

/// Decompresses `count` pages of any encoding: see [`pages::decompress_pages`].
///
/// # Safety
/// As for [`pages::decompress_pages`].
#[unsafe(no_mangle)]
pub unsafe extern "ptx-kernel" fn trueno_decompress_pages(
    packed: *const u8,
    offsets: *const u32,
    count: u32,
    out: *mut u8,
    status: *mut u32,
) {
    let (first, step) = grid_position();
    // SAFETY: the caller's guarantees; each thread takes its own pages.
    unsafe { pages::decompress_pages(first, step, packed, offsets, count, out, status) }
}
