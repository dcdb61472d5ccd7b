//! Finding a usable CUDA device without ever letting `cudarc` panic.
//!
//! `cudarc` loads `libcuda` on its first driver call and panics when the library is missing (and when
//! a symbol is missing from an older driver). So: look for the library first
//! ([`driver_library_present`]) and for every function the backend can reach
//! ([`DRIVER_FUNCTIONS`]), then ask the driver for devices, each call behind
//! `catch_unwind` as a last guard (which helps only where panics unwind:
//! the release profile aborts, so the checks before each call are what count).

use std::ffi::CString;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, OnceLock};

use cudarc::driver::sys::CUdevice_attribute;
use cudarc::driver::{CudaContext, DriverError};

use crate::BatchError;

/// The oldest compute capability the PTX targets (`sm_70`, Volta): the driver cannot JIT-compile it
/// for older devices.
pub const MIN_COMPUTE_CAPABILITY: (i32, i32) = (7, 0);

/// Whether the CUDA driver library (`libcuda.so`) can be loaded. Checked once per process.
pub fn driver_library_present() -> bool {
    static PRESENT: OnceLock<bool> = OnceLock::new();
    *PRESENT.get_or_init(|| {
        // SAFETY: this loads (and unloads) the NVIDIA driver library by its well-known names, which
        // runs its initialisers; that library is meant to be loaded into this process, as any CUDA
        // program does, and nothing else of ours runs during the load.
        catch_unwind(|| unsafe { cudarc::driver::sys::is_culib_present() }).unwrap_or(false)
    })
}

/// The driver functions that this backend's calls through `cudarc` can reach. `cudarc` looks each one
/// up on first use and panics when the driver lacks it (an old driver), so they are checked first.
pub const DRIVER_FUNCTIONS: &[&str] = &[
    "cuInit",
    "cuDeviceGetCount",
    "cuDeviceGet",
    "cuDeviceGetName",
    "cuDeviceGetAttribute",
    "cuDevicePrimaryCtxRetain",
    "cuDevicePrimaryCtxRelease_v2",
    "cuCtxGetCurrent",
    "cuCtxSetCurrent",
    "cuCtxSynchronize",
    "cuModuleLoadData",
    "cuModuleGetFunction",
    "cuModuleUnload",
    "cuStreamCreate",
    "cuStreamDestroy_v2",
    "cuStreamSynchronize",
    "cuStreamWaitEvent",
    "cuEventCreate",
    "cuEventRecord",
    "cuEventDestroy_v2",
    "cuMemAlloc_v2",
    "cuMemFree_v2",
    "cuMemAllocAsync",
    "cuMemFreeAsync",
    "cuMemsetD8Async",
    "cuMemcpyHtoDAsync_v2",
    "cuMemcpyDtoHAsync_v2",
    "cuLaunchKernel",
    "cuGetErrorString",
    "cuGetErrorName",
];

/// The first of [`DRIVER_FUNCTIONS`] that the driver library lacks, looked up in the library that
/// `cudarc` will load (the first of its candidate names that loads). Checked once per process.
fn missing_driver_function() -> Option<&'static str> {
    static MISSING: OnceLock<Option<&'static str>> = OnceLock::new();
    *MISSING.get_or_init(|| {
        for candidate in cudarc::get_lib_name_candidates("cuda") {
            let Ok(name) = CString::new(candidate) else {
                continue;
            };
            // SAFETY: `name` is a valid C string; loading the NVIDIA driver library runs its
            // initialisers, as driver_library_present does (see there).
            let handle = unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
            if handle.is_null() {
                continue;
            }
            let missing = DRIVER_FUNCTIONS.iter().copied().find(|function| {
                CString::new(*function).map_or(true, |symbol| {
                    // SAFETY: `handle` is a live handle from dlopen and `symbol` a C string.
                    unsafe { libc::dlsym(handle, symbol.as_ptr()) }.is_null()
                })
            });
            // SAFETY: `handle` came from dlopen above and nothing from it is kept.
            unsafe { libc::dlclose(handle) };
            return missing;
        }
        Some("the library itself")
    })
}

/// Runs a driver call, turning its error or its panic into a [`BatchError::Gpu`]. The error's text
/// is taken inside the guard too: it comes from another driver call (`cuGetErrorString`).
pub(crate) fn guarded<T>(
    operation: &'static str,
    call: impl FnOnce() -> Result<T, DriverError>,
) -> Result<T, BatchError> {
    match catch_unwind(AssertUnwindSafe(|| call().map_err(|e| e.to_string()))) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(reason)) => Err(BatchError::Gpu { operation, reason }),
        Err(panic) => Err(BatchError::Gpu {
            operation,
            reason: panic_message(panic.as_ref()),
        }),
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let text = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned());
    format!("the CUDA bindings panicked: {text}")
}

fn no_device(reason: impl Into<String>) -> BatchError {
    BatchError::NoDevice {
        reason: reason.into(),
    }
}

/// An opened CUDA device: its context (the device's primary context) and what the launch
/// configuration needs to know about it.
#[derive(Debug, Clone)]
pub struct GpuDevice {
    context: Arc<CudaContext>,
    name: String,
    compute_capability: (i32, i32),
    multiprocessors: u32,
}

impl GpuDevice {
    /// Opens device `ordinal`, or says why there is none: no driver library, no device with that
    /// ordinal, a device older than [`MIN_COMPUTE_CAPABILITY`], or a driver that refuses.
    pub fn open(ordinal: usize) -> Result<Self, BatchError> {
        if !driver_library_present() {
            return Err(no_device(
                "the CUDA driver library (libcuda.so) is not installed or not on the loader's path",
            ));
        }
        if let Some(function) = missing_driver_function() {
            return Err(no_device(format!(
                "the CUDA driver library is too old or incomplete: it lacks {function}"
            )));
        }
        let count = guarded("device count", CudaContext::device_count)
            .map_err(|e| no_device(format!("the CUDA driver reports no devices: {e}")))?;
        if usize::try_from(count).map_or(true, |count| ordinal >= count) {
            return Err(no_device(format!(
                "no CUDA device {ordinal}: the driver reports {count} device(s)"
            )));
        }
        let context = guarded("context creation", || CudaContext::new(ordinal))
            .map_err(|e| no_device(format!("CUDA device {ordinal} cannot be opened: {e}")))?;
        let name = guarded("device query", || context.name())?;
        let compute_capability = guarded("device query", || context.compute_capability())?;
        if compute_capability < MIN_COMPUTE_CAPABILITY {
            let (major, minor) = compute_capability;
            return Err(no_device(format!(
                "{name} has compute capability {major}.{minor}; the kernels need {}.{} or newer",
                MIN_COMPUTE_CAPABILITY.0, MIN_COMPUTE_CAPABILITY.1
            )));
        }
        let multiprocessors = guarded("device query", || {
            context.attribute(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)
        })?;
        Ok(Self {
            context,
            name,
            compute_capability,
            multiprocessors: u32::try_from(multiprocessors).unwrap_or(1).max(1),
        })
    }

    /// The device's name, as the driver gives it (`NVIDIA H100 80GB HBM3`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The compute capability (major, minor).
    pub fn compute_capability(&self) -> (i32, i32) {
        self.compute_capability
    }

    /// The number of streaming multiprocessors.
    pub fn multiprocessors(&self) -> u32 {
        self.multiprocessors
    }

    pub(crate) fn context(&self) -> &Arc<CudaContext> {
        &self.context
    }
}
