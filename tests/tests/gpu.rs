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

/// A driver library without devices, as a real driver answers in a container without a GPU: a stub
/// `libcuda.so` whose `cuInit` returns `CUDA_ERROR_NO_DEVICE`.
const STUB_DRIVER: &str = r#"
typedef int CUresult;
CUresult cuInit(unsigned int flags) { (void)flags; return 100; }
CUresult cuDeviceGetCount(int *count) { *count = 0; return 3; }
CUresult cuGetErrorString(CUresult e, const char **s) {
    *s = e == 100 ? "no CUDA-capable device is detected" : "initialization error";
    return 0;
}
CUresult cuGetErrorName(CUresult e, const char **s) {
    *s = e == 100 ? "CUDA_ERROR_NO_DEVICE" : "CUDA_ERROR_NOT_INITIALIZED";
    return 0;
}
"#;

/// Set in the child process that runs [`stub_driver_child`].
const STUB_CHILD_ENV: &str = "TRUENO_CUDA_STUB_CHILD";

#[test]
fn a_driver_without_devices_is_no_device_too() {
    if driver_library_present() {
        eprintln!("skipped the stub-driver test: a real CUDA driver library is installed here");
        return;
    }
    let dir = std::env::temp_dir().join(format!("trueno-cuda-stub-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("stub.c");
    std::fs::write(&source, STUB_DRIVER).unwrap();
    let compiled = std::process::Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(dir.join("libcuda.so"))
        .arg(&source)
        .status();
    if !compiled.is_ok_and(|s| s.success()) {
        eprintln!("skipped the stub-driver test: no C compiler (cc) to build the stub libcuda.so");
        return;
    }
    // The loader reads LD_LIBRARY_PATH when a process starts: the checks run in a child.
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "stub_driver_child", "--ignored", "--nocapture"])
        .env("LD_LIBRARY_PATH", &dir)
        .env(STUB_CHILD_ENV, "1")
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).ok();
    let stdout = String::from_utf8_lossy(&child.stdout);
    let stderr = String::from_utf8_lossy(&child.stderr);
    assert!(
        child.status.success() && stdout.contains("stub driver checked"),
        "child failed: {}\n{stdout}\n{stderr}",
        child.status
    );
}

#[test]
#[ignore = "run by a_driver_without_devices_is_no_device_too, in a child process with a stub driver"]
fn stub_driver_child() {
    assert!(
        std::env::var_os(STUB_CHILD_ENV).is_some(),
        "run only by a_driver_without_devices_is_no_device_too"
    );
    assert!(
        driver_library_present(),
        "the stub libcuda.so was not found"
    );
    let builder = CompressorBuilder::new();
    for result in [
        GpuDevice::open(0).map(|_| ()),
        CudaBatchCompressor::new(builder).map(|_| ()),
        Backend::Cuda.build(builder, 1).map(|_| ()),
    ] {
        match result {
            Err(BatchError::NoDevice { reason }) => {
                assert!(reason.contains("CUDA_ERROR_NO_DEVICE"), "{reason}");
            }
            other => panic!("expected NoDevice, got {other:?}"),
        }
    }
    let auto = AutoBatch::new(builder, 1).unwrap();
    assert!(!auto.has_gpu());
    let pages = trueno_zram_tests::local_pages(64);
    let cpu = RayonBatch::new(builder, 1).unwrap();
    assert_eq!(
        auto.compress_to_vec(&pages).unwrap(),
        cpu.compress_to_vec(&pages).unwrap()
    );
    println!(
        "stub driver checked: {}",
        auto.no_gpu_reason().unwrap_or("")
    );
}
