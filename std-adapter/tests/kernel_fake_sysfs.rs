//! The kernel zram interface against a fake sysfs tree: discovery, writes, and every error path that a
//! real kernel would need a broken or different build to show.

// Test helpers fail loudly: a broken fixture is a failed test.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use trueno_zram::kernel::{AlgorithmParams, DeviceConfig, IdleMark, KernelError, Writeback, Zram};

/// A fresh directory under the system temp dir, removed on drop.
struct FakeRoot(PathBuf);

impl FakeRoot {
    fn new() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "trueno-fake-sysfs-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn file(&self, relative: &str, content: &str) {
        let path = self.0.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.0.join(relative)).unwrap()
    }

    fn zram(&self) -> Zram {
        Zram::with_roots(self.0.join("sys"), self.0.join("dev"))
    }

    /// A device directory with the attributes of this machine's 6.18 kernel: no writeback, no
    /// recompression, no max_comp_streams.
    fn device(&self, id: u32, initstate: u32) {
        let d = format!("sys/block/zram{id}");
        for (name, content) in [
            ("comp_algorithm", "lzo-rle lzo [lz4] \n"),
            (
                "disksize",
                if initstate == 0 {
                    "0\n"
                } else {
                    "1073741824\n"
                },
            ),
            ("initstate", if initstate == 0 { "0\n" } else { "1\n" }),
            (
                "mm_stat",
                "    8192      800    12288        0    12288        1        0        0        0\n",
            ),
            ("io_stat", "       0        0 0        0\n"),
            ("debug_stat", "version: 1\n0        0\n"),
            ("algorithm_params", ""),
            ("mem_limit", ""),
            ("idle", ""),
            ("reset", ""),
            ("compact", ""),
        ] {
            self.file(&format!("{d}/{name}"), content);
        }
    }
}

impl Drop for FakeRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn sample_tree() -> FakeRoot {
    let root = FakeRoot::new();
    root.file("sys/class/zram-control/hot_add", "1\n");
    root.file("sys/class/zram-control/hot_remove", "");
    root.file("sys/block/vda/size", "0\n");
    root.device(0, 1);
    root.device(1, 0);
    root
}

#[test]
fn a_kernel_without_zram_says_so() {
    let root = FakeRoot::new();
    root.file("sys/block/vda/size", "0\n");
    let zram = root.zram();
    assert!(!zram.is_available());
    for err in [
        zram.devices().unwrap_err(),
        zram.hot_add().unwrap_err(),
        zram.device(0).unwrap_err(),
        zram.hot_remove(0).unwrap_err(),
    ] {
        assert!(matches!(err, KernelError::NoZram { .. }), "{err}");
        assert!(err.to_string().contains("modprobe zram"), "{err}");
    }
    let empty = FakeRoot::new();
    assert!(matches!(
        empty.zram().devices(),
        Err(KernelError::NoZram { .. })
    ));
}

#[test]
fn devices_are_found_added_and_named() {
    let root = sample_tree();
    let zram = root.zram();
    assert!(zram.is_available());
    let ids: Vec<u32> = zram.devices().unwrap().iter().map(|d| d.id()).collect();
    assert_eq!(ids, [0, 1]);
    let added = zram.hot_add().unwrap();
    assert_eq!(added.name(), "zram1");
    assert_eq!(added.node(), root.0.join("dev/zram1"));
    assert_eq!(zram.find_free().unwrap().unwrap().id(), 1);
    assert_eq!(zram.device_named("/dev/zram0").unwrap().id(), 0);
    assert_eq!(zram.device_named("zram1").unwrap().id(), 1);
    let missing = zram.device(7).unwrap_err();
    assert!(
        matches!(&missing, KernelError::NoSuchDevice { name, .. } if name == "zram7"),
        "{missing}"
    );
    assert!(matches!(
        zram.device_named("sda"),
        Err(KernelError::NoSuchDevice { .. })
    ));
    zram.hot_remove(1).unwrap();
    assert_eq!(root.read("sys/class/zram-control/hot_remove"), "1");
    assert!(matches!(
        zram.hot_remove(9),
        Err(KernelError::NoSuchDevice { .. })
    ));
}

#[test]
fn hot_add_answering_garbage_is_a_parse_error() {
    let root = sample_tree();
    root.file("sys/class/zram-control/hot_add", "oops\n");
    let err = root.zram().hot_add().unwrap_err();
    assert!(matches!(err, KernelError::Parse { .. }), "{err}");
    assert!(err.to_string().contains("oops"), "{err}");
}

#[test]
fn settings_are_written_in_the_kernel_format() {
    let root = sample_tree();
    let dev = root.zram().device(1).unwrap();
    assert!(!dev.is_initialized().unwrap());
    let list = dev.comp_algorithm().unwrap();
    assert_eq!(list.selected.as_deref(), Some("lz4"));
    dev.configure(&DeviceConfig {
        disksize: 64 << 20,
        algorithm: Some("lzo".into()),
        params: Some(AlgorithmParams {
            algorithm: Some("lzo".into()),
            level: Some(3),
            ..Default::default()
        }),
        streams: None,
        mem_limit: Some(32 << 20),
    })
    .unwrap();
    assert_eq!(root.read("sys/block/zram1/comp_algorithm"), "lzo");
    assert_eq!(
        root.read("sys/block/zram1/algorithm_params"),
        "algo=lzo level=3"
    );
    assert_eq!(root.read("sys/block/zram1/disksize"), "67108864");
    assert_eq!(root.read("sys/block/zram1/mem_limit"), "33554432");
    dev.mark_idle(IdleMark::All).unwrap();
    assert_eq!(root.read("sys/block/zram1/idle"), "all");
    dev.reset().unwrap();
    assert_eq!(root.read("sys/block/zram1/reset"), "1");
    let mm = dev.mm_stat().unwrap();
    assert_eq!(
        (mm.orig_data_size, mm.compr_data_size, mm.same_pages),
        (8192, 800, 1)
    );
    assert_eq!(dev.io_stat().unwrap().failed_writes, 0);
    assert_eq!(dev.debug_stat().unwrap().version, 1);
}

#[test]
fn a_refused_memory_limit_resets_the_device_it_initialised() {
    let root = sample_tree();
    std::fs::remove_file(root.0.join("sys/block/zram1/mem_limit")).unwrap();
    let dev = root.zram().device(1).unwrap();
    let err = dev
        .configure(&DeviceConfig {
            disksize: 64 << 20,
            mem_limit: Some(32 << 20),
            ..Default::default()
        })
        .unwrap_err();
    assert!(
        matches!(
            err,
            KernelError::Unsupported {
                setting: "mem_limit",
                ..
            }
        ),
        "{err}"
    );
    // disksize had initialised the device: configure undid it.
    assert_eq!(root.read("sys/block/zram1/disksize"), "67108864");
    assert_eq!(root.read("sys/block/zram1/reset"), "1");
}

#[test]
fn settings_this_kernel_lacks_are_named() {
    let root = sample_tree();
    let dev = root.zram().device(1).unwrap();
    let cases: Vec<(KernelError, &str, &str)> = vec![
        (
            dev.set_recomp_algorithm("lzo", 1).unwrap_err(),
            "recomp_algorithm",
            "CONFIG_ZRAM_MULTI_COMP",
        ),
        (
            dev.recomp_algorithms().unwrap_err(),
            "recomp_algorithm",
            "CONFIG_ZRAM_MULTI_COMP",
        ),
        (
            dev.recompress(&Default::default()).unwrap_err(),
            "recompress",
            "CONFIG_ZRAM_MULTI_COMP",
        ),
        (
            dev.writeback(Writeback::Huge).unwrap_err(),
            "writeback",
            "CONFIG_ZRAM_WRITEBACK",
        ),
        (
            dev.set_backing_dev(Path::new("/dev/vdb")).unwrap_err(),
            "backing_dev",
            "CONFIG_ZRAM_WRITEBACK",
        ),
        (
            dev.backing_dev().unwrap_err(),
            "backing_dev",
            "CONFIG_ZRAM_WRITEBACK",
        ),
        (
            dev.bd_stat().unwrap_err(),
            "bd_stat",
            "CONFIG_ZRAM_WRITEBACK",
        ),
        (
            dev.set_max_comp_streams(4).unwrap_err(),
            "max_comp_streams",
            "one compression stream per CPU",
        ),
    ];
    for (err, setting, needs) in cases {
        let msg = err.to_string();
        assert!(matches!(err, KernelError::Unsupported { .. }), "{msg}");
        assert!(msg.contains(setting) && msg.contains(needs), "{msg}");
    }
}

#[test]
fn bad_requests_fail_before_reaching_the_kernel() {
    let root = sample_tree();
    let zram = root.zram();
    let dev = zram.device(1).unwrap();
    let err = dev.set_comp_algorithm("zstd").unwrap_err();
    assert!(matches!(err, KernelError::UnknownAlgorithm { .. }), "{err}");
    assert!(
        err.to_string().contains("`zstd`") && err.to_string().contains("lzo-rle lzo lz4"),
        "{err}"
    );
    assert_eq!(
        root.read("sys/block/zram1/comp_algorithm"),
        "lzo-rle lzo [lz4] \n"
    );
    assert!(matches!(
        dev.set_disksize(0),
        Err(KernelError::Rejected { .. })
    ));
    assert!(matches!(
        dev.set_algorithm_params(&AlgorithmParams::default()),
        Err(KernelError::Rejected { .. })
    ));
    // zram0 is initialised: configuring it again is refused as busy.
    let busy = zram.device(0).unwrap().configure(&DeviceConfig {
        disksize: 4096,
        ..Default::default()
    });
    assert!(matches!(busy, Err(KernelError::Busy { .. })), "{busy:?}");
}

#[test]
fn malformed_attributes_are_parse_errors() {
    let root = sample_tree();
    root.file("sys/block/zram1/mm_stat", "12 banana\n");
    root.file("sys/block/zram1/comp_algorithm", "[lz4 lzo\n");
    root.file("sys/block/zram1/initstate", "maybe\n");
    let dev = root.zram().device(1).unwrap();
    for err in [
        dev.mm_stat().unwrap_err(),
        dev.comp_algorithm().unwrap_err(),
        dev.is_initialized().unwrap_err(),
    ] {
        assert!(matches!(err, KernelError::Parse { .. }), "{err}");
    }
}
