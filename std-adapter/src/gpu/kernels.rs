//! The GPU kernels: their PTX and the ABI shared with `targets/gpu-kernels/src/lib.rs`.
//!
//! `lz4.ptx` is the core's page codec (`StandardCompressor` on the scalar backend) compiled for
//! `nvptx64-nvidia-cuda` (`sm_70`, PTX ISA 7.0, so any driver since CUDA 11 JIT-compiles it for any
//! GPU since Volta). `cargo xtask ptx` regenerates it; `cargo xtask ci` checks that it is up to date
//! with the sources and that `ptxas` assembles it for `sm_80` and `sm_90`.
//!
//! Resource use (`cargo xtask ptx-check` prints `ptxas -v`): the LZ4 compression kernel uses 72
//! registers on sm_80 and 71 on sm_90 and a 28 664-byte local-memory stack (the 16 KiB LZ4 hash
//! table, the 4 KiB block, the `CompressedPage` being built); the same-fill kernel 32 registers and
//! 8 KB; the decompression kernel, which decodes every encoding the core does (its Zstandard decoder
//! included), 255 registers and about 51 KB, so only two 128-thread blocks fit on a multiprocessor;
//! the gather kernel 28 to 32 registers and no stack; no shared memory, no barriers. The driver
//! reserves local memory for every thread a device can hold at once (29 KB x 2048 threads x 132 SMs,
//! about 7.7 GB on an H100), so the compression kernel needs a data-centre GPU's memory; where the
//! reservation fails, the launch returns an error ([`BatchError::Gpu`](crate::BatchError::Gpu)),
//! never wrong pages.

use cudarc::driver::LaunchConfig;

use crate::{Algorithm, PAGE_SIZE};

/// The PTX module, embedded in the library.
pub const PTX: &str = include_str!("lz4.ptx");

/// `trueno_lz4_compress_pages(pages, count, out, out_stride, out_lens)`: LZ4 pages.
pub const LZ4_COMPRESS: &str = "trueno_lz4_compress_pages";
/// `trueno_same_fill_compress_pages(pages, count, out, out_stride, out_lens)`: same-fill or stored.
pub const SAME_FILL_COMPRESS: &str = "trueno_same_fill_compress_pages";
/// `trueno_gather_wire_forms(slots, out_stride, lens, offsets, count, packed)`: packs the compression
/// kernels' slots back to back before they cross PCIe.
pub const GATHER: &str = "trueno_gather_wire_forms";
/// `trueno_decompress_pages(packed, offsets, count, out, status)`: any encoding.
pub const DECOMPRESS: &str = "trueno_decompress_pages";

/// The compression kernel for `algorithm`, or `None` when the GPU has none for it.
pub fn compress_kernel(algorithm: Algorithm) -> Option<&'static str> {
    match algorithm {
        Algorithm::Lz4 => Some(LZ4_COMPRESS),
        Algorithm::SameFillOnly => Some(SAME_FILL_COMPRESS),
        #[allow(unreachable_patterns)]
        // Algorithm is non-exhaustive: new codecs have no kernel yet.
        _ => None,
    }
}

/// Bytes per page in the compression kernels' output: a wire form is at most a tag byte and 4096
/// payload bytes; rounded up to keep slots 16-byte aligned.
pub const OUT_STRIDE: usize = PAGE_SIZE + 16;

/// A compression kernel's output length for a page it could not compress.
pub const FAILED_LEN: u32 = 0;
/// A decompression kernel's status for a page that decoded.
pub const STATUS_OK: u32 = 0;

/// Threads per block. Each thread holds one page's codec state, so blocks stay small; at the 64 to 72
/// registers per thread the LZ4 kernel uses, 7 or 8 such blocks (about 1024 threads) fit on a
/// multiprocessor (the decompression kernel's 255 registers allow 2).
const THREADS_PER_BLOCK: u32 = 128;
/// Blocks per multiprocessor at full residency (blocks beyond it wait for a free slot).
const BLOCKS_PER_MULTIPROCESSOR: u32 = 8;

/// One thread per page, but no more blocks than the device holds at once: the kernels loop over the
/// pages with a grid stride, so each thread's compressor (and its 16 KiB table) serves many pages.
pub fn launch_config(pages: u32, multiprocessors: u32) -> LaunchConfig {
    let wanted = pages.div_ceil(THREADS_PER_BLOCK).max(1);
    let resident = multiprocessors
        .saturating_mul(BLOCKS_PER_MULTIPROCESSOR)
        .max(1);
    LaunchConfig {
        grid_dim: (wanted.min(resident), 1, 1),
        block_dim: (THREADS_PER_BLOCK, 1, 1),
        shared_mem_bytes: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parameters of a `.entry` in the PTX, in order.
    fn entry_params(name: &str) -> Vec<String> {
        let start = PTX
            .find(&format!(".entry {name}("))
            .unwrap_or_else(|| panic!("{name} is not in lz4.ptx"));
        let rest = &PTX[start..];
        let end = rest.find(')').unwrap();
        rest[..end]
            .lines()
            .skip(1)
            .map(|l| l.trim().trim_end_matches(',').to_owned())
            .filter(|l| !l.is_empty())
            .collect()
    }

    #[test]
    fn the_ptx_has_every_kernel_with_the_parameters_the_host_passes() {
        for kernel in [LZ4_COMPRESS, SAME_FILL_COMPRESS] {
            let params = entry_params(kernel);
            // pages, count, out, out_stride, out_lens
            let kinds: Vec<&str> = params
                .iter()
                .map(|p| p.split_whitespace().nth(1).unwrap())
                .collect();
            assert_eq!(kinds, [".u64", ".u32", ".u64", ".u32", ".u64"], "{kernel}");
        }
        let params = entry_params(GATHER);
        let kinds: Vec<&str> = params
            .iter()
            .map(|p| p.split_whitespace().nth(1).unwrap())
            .collect();
        // slots, out_stride, lens, offsets, count, packed
        assert_eq!(kinds, [".u64", ".u32", ".u64", ".u64", ".u32", ".u64"]);
        let params = entry_params(DECOMPRESS);
        let kinds: Vec<&str> = params
            .iter()
            .map(|p| p.split_whitespace().nth(1).unwrap())
            .collect();
        // packed, offsets, count, out, status
        assert_eq!(kinds, [".u64", ".u64", ".u32", ".u64", ".u64"]);
    }

    #[test]
    fn launches_cover_every_page_within_residency() {
        let small = launch_config(1, 132);
        assert_eq!((small.grid_dim.0, small.block_dim.0), (1, 128));
        let fits = launch_config(132 * 8 * 128, 132);
        assert_eq!(fits.grid_dim.0, 132 * 8);
        let strided = launch_config(1 << 20, 132);
        assert_eq!(strided.grid_dim.0, 132 * 8);
        assert_eq!(launch_config(0, 0).grid_dim.0, 1);
    }
}
