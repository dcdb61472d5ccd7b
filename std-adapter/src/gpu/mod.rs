//! The CUDA batch backend (feature `cuda`): LZ4 pages compressed and decompressed on an NVIDIA GPU,
//! with exactly the bytes of the CPU path, so that CPU and GPU pages mix freely.
//!
//! - [`device`]: finds the driver library and a device before anything touches CUDA. `cudarc` panics
//!   when its driver calls run without `libcuda`; here every probe checks first and answers
//!   [`BatchError::NoDevice`](crate::BatchError::NoDevice) with the reason.
//! - [`kernels`]: the PTX and its ABI. The kernels are the core's own page codec (`StandardCompressor`
//!   on the scalar backend) compiled for `nvptx64-nvidia-cuda` from `targets/gpu-kernels` by
//!   `cargo xtask ptx`: the GPU runs the CPU's algorithm by construction.
//! - [`CudaBatchCompressor`]: a [`BatchCompressor`](crate::BatchCompressor) that moves a batch over
//!   PCIe, runs one page per GPU thread and brings the pages back.
//!
//! Which backend a batch should use is decided in [`crate::backend`].

pub mod device;
pub mod kernels;

mod compressor;

pub use compressor::CudaBatchCompressor;
pub use device::{GpuDevice, driver_library_present};

/// The kernels' bodies (`targets/gpu-kernels/src/pages.rs`) compiled for the host, so that tests run
/// the GPU's page loop, buffer layout and status protocol on the CPU, thread by thread.
#[cfg(test)]
#[path = "../../../targets/gpu-kernels/src/pages.rs"]
mod kernel_bodies;
