//! The CUDA backend. Where a device exists: every page of the memdump corpus compressed on the GPU
//! has the CPU's bytes, CPU-made pages decode on the GPU, refused pages are reported by index. Where
//! none exists (CI, development machines): the backend answers `NoDevice` without panicking, and
//! `Backend::Auto` runs on the CPU with the CPU's bytes.
#![cfg(feature = "cuda")]

use trueno_zram::gpu::{CudaBatchCompressor, GpuDevice, driver_library_present};
use trueno_zram::{
    Algorithm, AutoBatch, Backend, BatchCompressor, BatchError, CompressedPage, CompressorBuilder,
    Encoding, PAGE_SIZE, Page, RayonBatch, samefill,
};

/// The memdump corpus, or local pages where it is absent, plus pages of every encoding.
fn pages() -> Vec<Page> {
    let mut pages = trueno_zram_tests::corpus_pages("corpus/memdump.bin", "memdump pages");
    if pages.is_empty() {
        pages = trueno_zram_tests::local_pages(2000);
    }
    pages.push([0u8; PAGE_SIZE]);
    let mut fill = [0u8; PAGE_SIZE];
    samefill::fill(&mut fill, 0x0123_4567_89ab_cdef);
    pages.push(fill);
    let mut noise = [0u8; PAGE_SIZE];
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for b in noise.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x.to_le_bytes()[3];
    }
    pages.push(noise);
    pages
}

/// The GPU backend, or `None` with one line saying why the GPU tests are skipped.
fn gpu(builder: CompressorBuilder, what: &str) -> Option<CudaBatchCompressor> {
    match CudaBatchCompressor::new(builder) {
        Ok(gpu) => Some(gpu),
        Err(BatchError::NoDevice { reason }) => {
            eprintln!("skipped {what}: no CUDA device ({reason})");
            None
        }
        Err(e) => panic!("a CUDA device exists but the backend cannot start: {e}"),
    }
}

/// The index of the first page where two batches differ.
fn first_difference(a: &[CompressedPage], b: &[CompressedPage]) -> Option<usize> {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).position(|(x, y)| x != y)
}

#[test]
fn gpu_pages_are_the_cpu_pages_byte_for_byte() {
    let pages = pages();
    for algorithm in [Algorithm::Lz4, Algorithm::SameFillOnly] {
        let builder = CompressorBuilder::new().algorithm(algorithm);
        let Some(gpu) = gpu(builder, "the GPU-vs-CPU comparison") else {
            return;
        };
        let cpu = RayonBatch::new(builder, 0).unwrap();
        let expected = cpu.compress_to_vec(&pages).unwrap();
        let got = gpu.compress_to_vec(&pages).unwrap();
        assert_eq!(
            first_difference(&got, &expected),
            None,
            "{algorithm:?}: the GPU's page differs from the CPU's"
        );
        // CPU-made pages decode on the GPU.
        let back = gpu.decompress_to_vec(&expected).unwrap();
        let wrong = back.iter().zip(&pages).position(|(a, b)| a != b);
        assert_eq!(wrong, None, "{algorithm:?}: GPU decoding of CPU pages");
        eprintln!(
            "{algorithm:?}: {} pages on {} equal the CPU's",
            pages.len(),
            gpu.name()
        );
    }
}

#[test]
fn gpu_reports_a_refused_page_by_index() {
    let Some(gpu) = gpu(CompressorBuilder::new(), "the GPU error test") else {
        return;
    };
    let pages = pages();
    let mut packed = gpu.compress_to_vec(&pages[..100.min(pages.len())]).unwrap();
    let bad = packed.len() / 2;
    packed[bad] = CompressedPage::from_parts(Encoding::Lz4, &[0x10, 7, 9, 0]).unwrap();
    match gpu.decompress_to_vec(&packed) {
        Err(BatchError::Page { index, .. }) => assert_eq!(index, bad),
        other => panic!("expected the bad page's error, got {other:?}"),
    }
    // Auto with the GPU for every batch gives the CPU's bytes too.
    let auto = AutoBatch::new(CompressorBuilder::new(), 2)
        .unwrap()
        .with_min_gpu_pages(Some(1));
    assert!(auto.has_gpu() && auto.compresses_on_gpu(1));
    let cpu = RayonBatch::new(CompressorBuilder::new(), 2).unwrap();
    assert_eq!(
        auto.compress_to_vec(&pages).unwrap(),
        cpu.compress_to_vec(&pages).unwrap()
    );
}

#[test]
fn without_a_device_the_backend_says_so_and_auto_uses_the_cpu() {
    let builder = CompressorBuilder::new();
    let pages = pages();
    let cpu = RayonBatch::new(builder, 2).unwrap();
    let expected = cpu.compress_to_vec(&pages).unwrap();

    // Auto gives the CPU's bytes wherever it runs.
    let auto = AutoBatch::new(builder, 2).unwrap();
    assert_eq!(auto.compress_to_vec(&pages).unwrap(), expected);
    assert_eq!(auto.decompress_to_vec(&expected).unwrap(), pages);
    let boxed = Backend::Auto.build(builder, 2).unwrap();
    assert_eq!(boxed.compress_to_vec(&pages).unwrap(), expected);

    if driver_library_present() {
        eprintln!("skipped the no-device checks: the CUDA driver library is installed here");
        return;
    }
    let no_driver = |result: Result<(), BatchError>| match result {
        Err(BatchError::NoDevice { reason }) => {
            assert!(reason.contains("libcuda"), "{reason}");
        }
        other => panic!("expected NoDevice, got {other:?}"),
    };
    no_driver(CudaBatchCompressor::new(builder).map(|_| ()));
    no_driver(GpuDevice::open(0).map(|_| ()));
    no_driver(Backend::Cuda.build(builder, 2).map(|_| ()));
    assert!(!auto.has_gpu());
    assert!(auto.no_gpu_reason().is_some_and(|r| r.contains("libcuda")));
    assert!(!auto.compresses_on_gpu(1 << 20) && !auto.decompresses_on_gpu(1 << 20));
    assert!(auto.name().starts_with("auto (rayon"), "{}", auto.name());
}

/// A stand-in `libcuda.so` (see its header): a driver without devices, with a device too old, with a
/// JIT that refuses our PTX, or with an emulated device (with and without stream-ordered allocation)
/// that runs the kernels' bodies on the CPU.
const STUB_DRIVER: &str = include_str!("gpu_stub/libcuda.c");

/// Set in the child processes that run [`stub_driver_child`]: the stub's mode.
const STUB_MODE_ENV: &str = "TRUENO_STUB_CUDA";

#[test]
fn the_stub_driver_exports_exactly_the_functions_the_backend_checks_for() {
    let mut defined: Vec<&str> = STUB_DRIVER
        .lines()
        .filter_map(|l| l.strip_prefix("CUresult "))
        .filter_map(|l| l.split('(').next())
        .collect();
    defined.sort_unstable();
    let mut checked = trueno_zram::gpu::device::DRIVER_FUNCTIONS.to_vec();
    checked.sort_unstable();
    assert_eq!(defined, checked);
}

#[test]
fn stub_drivers_are_refused_cleanly_or_run_the_kernels_on_the_cpu() {
    if driver_library_present() {
        eprintln!("skipped the stub-driver tests: a real CUDA driver library is installed here");
        return;
    }
    let dir = std::env::temp_dir().join(format!("trueno-cuda-stub-{}", std::process::id()));
    let source = dir.join("libcuda.c");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(&source, STUB_DRIVER).unwrap();
    // A complete driver, and one from before CUDA 11.2 (no stream-ordered allocation).
    let complete = dir.join("complete");
    let ancient = dir.join("ancient");
    for (lib_dir, flags) in [
        (&complete, &[][..]),
        (&ancient, &["-DOMIT_ALLOC_ASYNC"][..]),
    ] {
        std::fs::create_dir_all(lib_dir).unwrap();
        let compiled = std::process::Command::new("cc")
            .args(["-shared", "-fPIC", "-Wall", "-Wextra", "-Werror"])
            .args(flags)
            .arg("-o")
            .arg(lib_dir.join("libcuda.so"))
            .arg(&source)
            .status();
        if !compiled.is_ok_and(|s| s.success()) {
            std::fs::remove_dir_all(&dir).ok();
            eprintln!(
                "skipped the stub-driver tests: no C compiler (cc) to build the stub libcuda.so"
            );
            return;
        }
    }
    for (mode, lib_dir) in [
        ("none", &complete),
        ("old", &complete),
        ("jit", &complete),
        ("emulate", &complete),
        ("pools", &complete),
        ("ancient", &ancient),
    ] {
        // The loader reads LD_LIBRARY_PATH when a process starts: the checks run in a child.
        let child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "stub_driver_child", "--ignored", "--nocapture"])
            .env("LD_LIBRARY_PATH", lib_dir)
            .env(STUB_MODE_ENV, mode)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&child.stdout);
        let stderr = String::from_utf8_lossy(&child.stderr);
        assert!(
            child.status.success() && stdout.contains(&format!("stub driver `{mode}` checked")),
            "stub driver `{mode}`: the child failed ({}):\n{stdout}\n{stderr}",
            child.status
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
#[ignore = "run by stub_drivers_are_refused_cleanly_or_run_the_kernels_on_the_cpu, with a stub driver"]
fn stub_driver_child() {
    let Ok(mode) = std::env::var(STUB_MODE_ENV) else {
        eprintln!("skipped stub_driver_child: only its parent test runs it, with a stub driver");
        return;
    };
    assert!(
        driver_library_present(),
        "the stub libcuda.so was not found"
    );
    let builder = CompressorBuilder::new();
    let no_device = |result: Result<(), BatchError>, expected: &str| match result {
        Err(BatchError::NoDevice { reason }) => assert!(reason.contains(expected), "{reason}"),
        other => panic!("{mode}: expected NoDevice ({expected}), got {other:?}"),
    };
    match mode.as_str() {
        "none" => {
            for result in [
                GpuDevice::open(0).map(|_| ()),
                CudaBatchCompressor::new(builder).map(|_| ()),
                Backend::Cuda.build(builder, 1).map(|_| ()),
            ] {
                no_device(result, "CUDA_ERROR_NO_DEVICE");
            }
        }
        "ancient" => {
            let expected = "too old or incomplete: it lacks cuMemAllocAsync";
            no_device(GpuDevice::open(0).map(|_| ()), expected);
            no_device(CudaBatchCompressor::new(builder).map(|_| ()), expected);
        }
        "old" => {
            let expected = "Stub GPU has compute capability 6.1; the kernels need 7.0 or newer";
            no_device(GpuDevice::open(0).map(|_| ()), expected);
            no_device(CudaBatchCompressor::new(builder).map(|_| ()), expected);
        }
        "jit" => {
            let device = GpuDevice::open(0).unwrap();
            assert_eq!(
                (
                    device.name(),
                    device.compute_capability(),
                    device.multiprocessors()
                ),
                ("Stub GPU", (9, 0), 4)
            );
            no_device(GpuDevice::open(1).map(|_| ()), "no CUDA device 1");
            match CudaBatchCompressor::new(builder) {
                Err(BatchError::Gpu { operation, reason }) => {
                    assert_eq!(operation, "module load");
                    assert!(reason.contains("CUDA_ERROR_INVALID_PTX"), "{reason}");
                }
                other => panic!("expected the module load's error, got {other:?}"),
            }
        }
        "emulate" | "pools" => {
            emulated::check_the_whole_host_path();
            println!("stub driver `{mode}` checked");
            return;
        }
        other => panic!("unknown stub mode {other}"),
    }
    // Auto runs on the CPU whatever the driver says.
    let auto = AutoBatch::new(builder, 1).unwrap();
    assert!(!auto.has_gpu());
    let pages = trueno_zram_tests::local_pages(64);
    let cpu = RayonBatch::new(builder, 1).unwrap();
    assert_eq!(
        auto.compress_to_vec(&pages).unwrap(),
        cpu.compress_to_vec(&pages).unwrap()
    );
    println!(
        "stub driver `{mode}` checked: {}",
        auto.no_gpu_reason().unwrap_or("")
    );
}

/// The kernels' bodies (`targets/gpu-kernels/src/pages.rs`), compiled for the host.
#[path = "../../targets/gpu-kernels/src/pages.rs"]
#[allow(dead_code)]
mod kernel_bodies;

/// The emulated device: kernel launches run the kernels' own bodies (`pages.rs`, compiled here for
/// the host) thread by thread, on buffers that the stub keeps in host memory.
mod emulated {
    use std::ffi::{CStr, c_char, c_int, c_void};
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Kernel launches so far.
    static LAUNCHES: AtomicUsize = AtomicUsize::new(0);

    type Launcher = extern "C" fn(*const c_char, u32, u32, *mut *mut c_void) -> c_int;

    /// Kernel parameter `i` (the driver passes an array of pointers to the values).
    ///
    /// # Safety
    /// `params` has at least `i + 1` entries and entry `i` points to a `T`.
    unsafe fn param<T: Copy>(params: *mut *mut c_void, i: usize) -> T {
        // SAFETY: the caller's guarantee.
        unsafe { (*params.add(i)).cast::<T>().read() }
    }

    /// A device pointer parameter: the stub's device memory is host memory.
    ///
    /// # Safety
    /// As for [`param`], with a `u64` device pointer.
    unsafe fn pointer<T>(params: *mut *mut c_void, i: usize) -> *mut T {
        // SAFETY: the caller's guarantee.
        let address = unsafe { param::<u64>(params, i) };
        usize::try_from(address).unwrap() as *mut T
    }

    extern "C" fn launch(
        kernel: *const c_char,
        grid: u32,
        block: u32,
        params: *mut *mut c_void,
    ) -> c_int {
        // SAFETY: the stub passes the name cuModuleGetFunction handed out, a C string.
        let name = unsafe { CStr::from_ptr(kernel) }.to_str().unwrap_or("");
        let threads = grid as usize * block as usize;
        LAUNCHES.fetch_add(1, Ordering::SeqCst);
        // SAFETY: cudarc passes one pointer per kernel parameter, in the PTX entry's order (the
        // kernels' parameter lists are checked against the PTX by std-adapter's tests); the buffers
        // are the stub's allocations of the sizes the host asked for.
        unsafe {
            match name {
                "trueno_lz4_compress_pages" | "trueno_same_fill_compress_pages" => {
                    let algorithm = if name.contains("lz4") {
                        Algorithm::Lz4
                    } else {
                        Algorithm::SameFillOnly
                    };
                    for thread in 0..threads {
                        super::kernel_bodies::compress_pages(
                            algorithm,
                            thread,
                            threads,
                            pointer(params, 0),
                            param(params, 1),
                            pointer(params, 2),
                            param(params, 3),
                            pointer(params, 4),
                        );
                    }
                }
                "trueno_gather_wire_forms" => {
                    for thread in 0..threads {
                        super::kernel_bodies::gather_wire_forms(
                            thread,
                            threads,
                            pointer(params, 0),
                            param(params, 1),
                            pointer(params, 2),
                            pointer(params, 3),
                            param(params, 4),
                            pointer(params, 5),
                        );
                    }
                }
                "trueno_decompress_pages" => {
                    for thread in 0..threads {
                        super::kernel_bodies::decompress_pages(
                            thread,
                            threads,
                            pointer(params, 0),
                            pointer(params, 1),
                            param(params, 2),
                            pointer(params, 3),
                            pointer(params, 4),
                        );
                    }
                }
                _ => return 1,
            }
        }
        0
    }

    /// Hands [`launch`] to the stub.
    fn register_launcher() {
        // SAFETY: loads the stub (already found by driver_library_present) and looks up the
        // function it exports for this purpose, whose C signature is `void (launcher_fn)`; the
        // handle is never closed, so the function stays valid.
        unsafe {
            let handle = libc::dlopen(c"libcuda.so".as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL);
            assert!(!handle.is_null(), "dlopen of the stub failed");
            let symbol = libc::dlsym(handle, c"trueno_stub_set_launcher".as_ptr());
            assert!(
                !symbol.is_null(),
                "the stub has no trueno_stub_set_launcher"
            );
            let set: extern "C" fn(Launcher) = std::mem::transmute(symbol);
            set(launch);
        }
    }

    pub fn check_the_whole_host_path() {
        register_launcher();
        let pages = pages();
        for algorithm in [Algorithm::Lz4, Algorithm::SameFillOnly] {
            let builder = CompressorBuilder::new().algorithm(algorithm);
            let gpu = CudaBatchCompressor::new(builder)
                .unwrap()
                .with_launch_pages(1000);
            assert_eq!(gpu.name(), "cuda Stub GPU");
            let cpu = RayonBatch::new(builder, 0).unwrap();
            let expected = cpu.compress_to_vec(&pages).unwrap();

            let before = LAUNCHES.load(Ordering::SeqCst);
            let got = gpu.compress_to_vec(&pages).unwrap();
            assert_eq!(
                LAUNCHES.load(Ordering::SeqCst) - before,
                2 * pages.len().div_ceil(1000),
                "compression and gathering, per 1000 pages"
            );
            assert_eq!(first_difference(&got, &expected), None, "{algorithm:?}");
            let back = gpu.decompress_to_vec(&expected).unwrap();
            assert!(back == pages, "{algorithm:?}: decoded pages differ");
            assert!(gpu.compress_to_vec(&[]).unwrap().is_empty());
        }

        // A refused page is the CPU's error, at its index in the batch (here in the second launch).
        let gpu = CudaBatchCompressor::new(CompressorBuilder::new())
            .unwrap()
            .with_launch_pages(1000);
        let mut packed = gpu.compress_to_vec(&pages).unwrap();
        let bad = 1000 + (packed.len() - 1000) / 2;
        packed[bad] = CompressedPage::from_parts(Encoding::Lz4, &[0x10, 7, 9, 0]).unwrap();
        match gpu.decompress_to_vec(&packed) {
            Err(BatchError::Page { index, .. }) => assert_eq!(index, bad),
            other => panic!("expected the bad page's error, got {other:?}"),
        }
        let mut short = vec![[0u8; PAGE_SIZE]; 2];
        assert!(matches!(
            gpu.decompress_batch(&packed[..3], &mut short),
            Err(BatchError::LengthMismatch { .. })
        ));

        // Auto finds the device and sends large batches to it.
        let auto = AutoBatch::new(CompressorBuilder::new(), 2).unwrap();
        assert!(auto.has_gpu() && auto.no_gpu_reason().is_none());
        assert!(auto.name().contains("cuda Stub GPU"), "{}", auto.name());
        let auto = auto.with_min_gpu_pages(Some(1000));
        assert!(auto.compresses_on_gpu(1000) && !auto.compresses_on_gpu(999));
        let before = LAUNCHES.load(Ordering::SeqCst);
        let expected = RayonBatch::new(CompressorBuilder::new(), 2)
            .unwrap()
            .compress_to_vec(&pages)
            .unwrap();
        assert_eq!(auto.compress_to_vec(&pages).unwrap(), expected);
        assert!(
            LAUNCHES.load(Ordering::SeqCst) > before,
            "Auto used the GPU"
        );
        let before = LAUNCHES.load(Ordering::SeqCst);
        assert_eq!(
            auto.compress_to_vec(&pages[..999]).unwrap(),
            expected[..999]
        );
        assert_eq!(
            LAUNCHES.load(Ordering::SeqCst),
            before,
            "Auto kept 999 pages on the CPU"
        );
    }
}
