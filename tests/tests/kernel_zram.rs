//! The kernel zram interface against this machine's real kernel, as root: a device of our own is added,
//! configured with lz4, filled with corpus pages through O_DIRECT, read back, checked in `mm_stat`,
//! refused changes while busy, reset and removed. Skips with one line when not root or without zram.

// Test helpers fail loudly: a broken fixture is a failed test.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::sync::{Mutex, MutexGuard, PoisonError};

use trueno_zram::kernel::{DeviceConfig, DirectIo, KernelError, Zram, ZramDevice};
use trueno_zram::{
    Algorithm, CompressorBuilder, Encoding, PAGE_SIZE, Page, PageCompressor, samefill,
};

/// Held by each test while it owns a device. The kernel hands a removed device's number to the next
/// `hot_add`, so a test that removes its device while another adds one could otherwise reset and
/// remove the other test's device under it.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A device added for this test, reset and removed however the test ends (unless the test removed
/// it itself).
struct OwnDevice {
    zram: Zram,
    dev: ZramDevice,
    removed: bool,
    _turn: MutexGuard<'static, ()>,
}

impl Drop for OwnDevice {
    fn drop(&mut self) {
        if !self.removed {
            let _ = self.dev.reset();
            let _ = self.zram.hot_remove(self.dev.id());
        }
    }
}

/// Adds a device, or says in one line why the test is skipped.
fn own_device(what: &str) -> Option<OwnDevice> {
    let zram = Zram::system();
    if !zram.is_available() {
        eprintln!("skipped {what}: this kernel has no zram");
        return None;
    }
    // A test that failed while holding the lock poisons it; the device it held is gone by now.
    let turn = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
    match zram.hot_add() {
        Ok(dev) => Some(OwnDevice {
            zram,
            dev,
            removed: false,
            _turn: turn,
        }),
        Err(KernelError::NotRoot { .. }) => {
            eprintln!("skipped {what}: adding a zram device needs root");
            None
        }
        Err(e) => panic!("hot_add: {e}"),
    }
}

fn test_pages() -> Vec<Page> {
    let mut pages: Vec<Page> =
        trueno_zram_tests::corpus_pages("corpus/memdump.bin", "corpus pages")
            .into_iter()
            .take(2048)
            .collect();
    if pages.is_empty() {
        pages = trueno_zram_tests::local_pages(1024);
    }
    // Same-fill pages of several words, which the kernel stores without compressing.
    for word in [0u64, 0x0101_0101_0101_0101, 0xdead_beef_0000_0001] {
        let mut p = [0u8; PAGE_SIZE];
        samefill::fill(&mut p, word);
        pages.push(p);
    }
    pages
}

#[test]
fn lz4_device_stores_corpus_pages_and_reports_them() {
    let Some(own) = own_device("the real kernel zram round trip") else {
        return;
    };
    let dev = &own.dev;
    let list = dev.comp_algorithm().unwrap();
    if !list.offers("lz4") {
        eprintln!(
            "skipped the real kernel zram round trip: the kernel offers no lz4 ({})",
            list.joined()
        );
        return;
    }
    let pages = test_pages();
    let disksize = (pages.len() * PAGE_SIZE) as u64;
    dev.configure(&DeviceConfig {
        disksize,
        algorithm: Some("lz4".into()),
        ..Default::default()
    })
    .unwrap();
    assert!(dev.is_initialized().unwrap());
    assert_eq!(dev.disksize().unwrap(), disksize);
    assert_eq!(
        dev.comp_algorithm().unwrap().selected.as_deref(),
        Some("lz4")
    );

    let mut io = DirectIo::open(dev.node(), dev.name()).unwrap();
    for (i, page) in pages.iter().enumerate() {
        io.write_page(i as u64, page).unwrap();
    }
    let mut back = [0u8; PAGE_SIZE];
    for (i, page) in pages.iter().enumerate() {
        io.read_page(i as u64, &mut back).unwrap();
        assert!(back == *page, "page {i} came back different");
    }

    let mm = dev.mm_stat().unwrap();
    let same = pages
        .iter()
        .filter(|p| samefill::detect(p).is_some())
        .count() as u64;
    assert_eq!(mm.orig_data_size, disksize, "{mm:?}");
    assert_eq!(
        mm.same_pages, same,
        "the kernel and our detector disagree on same-fill pages"
    );
    assert!(
        mm.compr_data_size > 0 && mm.compr_data_size < mm.orig_data_size,
        "{mm:?}"
    );
    assert!(mm.mem_used_total >= mm.compr_data_size, "{mm:?}");
    assert_eq!(dev.io_stat().unwrap().failed_writes, 0);
    // Our LZ4 sizes agree with the kernel's: same format and match finder, so only pages the kernel
    // stores whole (its huge threshold is below a page) and its older LZ4's last-block details differ.
    let mut ours = CompressorBuilder::new()
        .algorithm(Algorithm::Lz4)
        .build()
        .unwrap();
    let our_compr: u64 = pages
        .iter()
        .map(|p| ours.compress(p).unwrap())
        .filter(|c| c.encoding() != Encoding::SameFill)
        .map(|c| c.payload().len() as u64)
        .sum();
    let deviation = (mm.compr_data_size as f64 / our_compr as f64 - 1.0).abs();
    assert!(
        deviation < 0.01,
        "kernel {} vs ours {our_compr} bytes",
        mm.compr_data_size
    );
    dev.debug_stat().unwrap();

    // While initialised or open, the kernel refuses reconfiguration: a Busy error, not a raw EBUSY.
    assert!(matches!(
        dev.set_disksize(disksize * 2),
        Err(KernelError::Busy { .. })
    ));
    assert!(matches!(
        dev.set_comp_algorithm("lzo"),
        Err(KernelError::Busy { .. })
    ));
    assert!(matches!(
        dev.reset(),
        Err(KernelError::Busy {
            setting: "reset",
            ..
        })
    ));
    drop(io);

    dev.reset().unwrap();
    assert!(!dev.is_initialized().unwrap());
    assert_eq!(dev.mm_stat().unwrap().orig_data_size, 0);
}

#[test]
fn what_this_kernel_lacks_is_named() {
    let Some(own) = own_device("the real kernel's missing features") else {
        return;
    };
    let dev = &own.dev;
    // An algorithm no kernel has, so that this check runs on every kernel (zstd, tried here
    // before, is offered by many).
    let err = dev.set_comp_algorithm("no-such-algorithm").unwrap_err();
    assert!(matches!(err, KernelError::UnknownAlgorithm { .. }), "{err}");
    assert!(
        err.to_string()
            .contains(&dev.comp_algorithm().unwrap().joined()),
        "the error names what the kernel offers: {err}"
    );
    // The next two can only be checked where the kernel lacks the setting; say when it has it.
    if dev.has("recomp_algorithm") {
        eprintln!("not checked: this kernel has recomp_algorithm, so it is not reported missing");
    } else {
        let err = dev.set_recomp_algorithm("lzo", 1).unwrap_err();
        assert!(
            matches!(
                err,
                KernelError::Unsupported {
                    setting: "recomp_algorithm",
                    ..
                }
            ),
            "{err}"
        );
    }
    if dev.has("writeback") {
        eprintln!("not checked: this kernel has writeback, so it is not reported missing");
    } else {
        let err = dev
            .writeback(trueno_zram::kernel::Writeback::Idle)
            .unwrap_err();
        assert!(
            matches!(
                err,
                KernelError::Unsupported {
                    setting: "writeback",
                    ..
                }
            ),
            "{err}"
        );
    }
    // A size no machine can back: the kernel cannot allocate its table.
    let err = dev.set_disksize(1 << 50).unwrap_err();
    assert!(matches!(err, KernelError::SizeTooLarge { .. }), "{err}");
    assert!(!dev.is_initialized().unwrap());
}

#[test]
fn removed_devices_are_gone() {
    let Some(mut own) = own_device("the real hot_add/hot_remove") else {
        return;
    };
    let id = own.dev.id();
    assert!(own.zram.devices().unwrap().iter().any(|d| d.id() == id));
    own.zram.hot_remove(id).unwrap();
    own.removed = true;
    assert!(matches!(
        own.zram.device(id),
        Err(KernelError::NoSuchDevice { .. })
    ));
}
