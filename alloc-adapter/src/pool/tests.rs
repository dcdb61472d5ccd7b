//! Unit tests of the pool against a model: contents, handles, statistics and accounting after every
//! kind of operation.

use alloc::boxed::Box;
use alloc::vec::Vec;

use super::*;

/// A small deterministic generator (xorshift64*), so that failures reproduce and Miri runs it.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Object `seed` of `len` bytes: distinct contents per seed, so a misplaced object shows.
fn object(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut bytes: Vec<u8> = (0..len.div_ceil(8))
        .flat_map(|_| rng.next().to_le_bytes())
        .collect();
    bytes.truncate(len);
    bytes
}

fn check_accounting(pool: &PagePool) {
    assert_eq!(
        pool.stats().mem_used_total as usize,
        pool.audit_heap_bytes()
    );
}

fn check_all(pool: &PagePool, model: &[(Handle, u64, usize)]) {
    for &(h, seed, len) in model {
        let got = pool.get(h).unwrap();
        assert_eq!(&*got, &object(seed, len)[..], "handle {h:?}");
    }
    assert_eq!(pool.len(), model.len());
    check_accounting(pool);
}

#[test]
fn every_length_round_trips() {
    let pool = Box::new(PagePool::new());
    let lengths: Vec<usize> = if cfg!(miri) {
        alloc::vec![1, 7, 8, 9, 16, 17, 33, 1000, 4095, 4096]
    } else {
        (1..=PAGE_SIZE).collect()
    };
    let mut model = Vec::new();
    for &len in &lengths {
        let h = pool.insert(&object(len as u64, len)).unwrap();
        model.push((h, len as u64, len));
    }
    check_all(&pool, &model);
    for &(h, _, len) in &model {
        assert_eq!(pool.object_len(h).unwrap(), len);
        assert_eq!(pool.get(h).unwrap().kind(), ObjectKind::Raw);
    }
    let stats = pool.stats();
    assert_eq!(
        stats.compr_data_size,
        lengths.iter().map(|&l| l as u64).sum::<u64>()
    );
    assert_eq!(stats.orig_data_size, 0);
}

#[test]
fn bad_sizes_and_handles_are_errors() {
    let pool = Box::new(PagePool::new());
    assert_eq!(
        pool.insert(&[]),
        Err(Error::ObjectSize {
            len: 0,
            max: PAGE_SIZE
        })
    );
    assert_eq!(
        pool.insert(&[0; PAGE_SIZE + 1]),
        Err(Error::ObjectSize {
            len: PAGE_SIZE + 1,
            max: PAGE_SIZE
        })
    );
    let h = pool.insert(b"abc").unwrap();
    pool.remove(h).unwrap();
    assert_eq!(
        pool.remove(h),
        Err(Error::InvalidHandle { raw: h.to_raw() })
    );
    assert!(matches!(pool.get(h), Err(Error::InvalidHandle { .. })));
    // Handles no pool ever gave: a class past the last, an index past the table.
    for raw in [1, 5, 0xff, 200, 1 << 40 | 3, u64::MAX] {
        let h = Handle::from_raw(raw).unwrap();
        assert!(matches!(pool.get(h), Err(Error::InvalidHandle { .. })));
        assert!(matches!(pool.remove(h), Err(Error::InvalidHandle { .. })));
    }
    assert_eq!(Handle::from_raw(0), None);
    assert_eq!(core::mem::size_of::<Option<Handle>>(), 8);
    let h = pool.insert(b"xyz").unwrap();
    assert_eq!(Handle::from_raw(h.to_raw()), Some(h));
    assert!(matches!(pool.get_page(h), Err(Error::NotAPage { .. })));
    let mut small = [0u8; 2];
    assert!(matches!(
        pool.read_into(h, &mut small),
        Err(Error::Core(trueno_zram_core::Error::OutputTooSmall {
            needed: 3,
            available: 2
        }))
    ));
    assert!(matches!(
        pool.insert_encoded(Encoding::SameFill, &[1, 2]),
        Err(Error::Core(
            trueno_zram_core::Error::BadPayloadLength { .. }
        ))
    ));
}

#[test]
fn pages_count_in_mm_stat_terms() {
    let pool = Box::new(PagePool::new());
    let raw = [3u8; PAGE_SIZE];
    let same = CompressedPage::same_fill(0xdead_beef);
    let stored = CompressedPage::stored(&raw);
    let lz4 = CompressedPage::from_parts(Encoding::Lz4, &[7; 1000]).unwrap();
    let hs = pool.insert_page(&same).unwrap();
    let hst = pool.insert_page(&stored).unwrap();
    let hl = pool.insert_page(&lz4).unwrap();
    let hr = pool.insert(&[1; 10]).unwrap();
    let stats = pool.stats();
    assert_eq!(stats.orig_data_size, 3 * PAGE_SIZE as u64);
    assert_eq!(stats.compr_data_size, (PAGE_SIZE + 1000 + 10) as u64);
    assert_eq!(stats.same_pages, 1);
    assert_eq!(stats.huge_pages, 1);
    assert_eq!(stats.objects, 4);
    assert_eq!(pool.get_page(hs).unwrap(), same);
    assert_eq!(pool.get_page(hst).unwrap(), stored);
    assert_eq!(pool.get_page(hl).unwrap(), lz4);
    assert_eq!(
        pool.get(hl).unwrap().kind(),
        ObjectKind::Page(Encoding::Lz4)
    );
    assert_eq!(pool.get(hr).unwrap().encoding(), None);
    let mut c = trueno_zram_core::CompressorBuilder::new().build().unwrap();
    let mut out = [0u8; PAGE_SIZE];
    pool.decompress_into(hst, &mut c, &mut out).unwrap();
    assert_eq!(out, raw);
    for h in [hs, hst, hl, hr] {
        pool.remove(h).unwrap();
    }
    let stats = pool.stats();
    assert_eq!(
        (
            stats.orig_data_size,
            stats.compr_data_size,
            stats.same_pages,
            stats.huge_pages,
            stats.objects
        ),
        (0, 0, 0, 0, 0)
    );
    assert!(stats.mem_used_max > stats.mem_used_total);
    check_accounting(&pool);
}

#[test]
fn overwrite_in_place_keeps_the_handle_and_the_memory() {
    let pool = Box::new(PagePool::new());
    let first = object(1, PAGE_SIZE);
    let h = pool.insert_encoded(Encoding::Stored, &first).unwrap();
    let neighbour = pool
        .insert_encoded(Encoding::Stored, &object(2, PAGE_SIZE))
        .unwrap();
    let lz4 = pool
        .insert_encoded(Encoding::Lz4, &object(3, 1000))
        .unwrap();
    let before = pool.stats();

    // Same class: rewritten where it lies, nothing allocated or freed.
    let second = object(4, PAGE_SIZE);
    assert!(
        pool.overwrite_encoded(h, Encoding::Stored, &second)
            .unwrap()
    );
    assert_eq!(&*pool.get(h).unwrap(), &second[..]);
    assert_eq!(&*pool.get(neighbour).unwrap(), &object(2, PAGE_SIZE)[..]);
    assert_eq!(pool.stats(), before);

    // A shorter payload of the same class, of another encoding: length, kind and figures follow.
    let shorter = object(5, 995);
    assert!(
        pool.overwrite_encoded(lz4, Encoding::Zstd, &shorter)
            .unwrap()
    );
    assert_eq!(
        pool.get_page(lz4).unwrap(),
        CompressedPage::from_parts(Encoding::Zstd, &shorter).unwrap()
    );
    let after = pool.stats();
    assert_eq!(after.compr_data_size, before.compr_data_size - 5);
    assert_eq!(after.mem_used_total, before.mem_used_total);
    assert!(
        pool.overwrite_encoded(h, Encoding::Lz4, &object(6, 4070))
            .unwrap()
    );
    assert_eq!(
        pool.stats().huge_pages,
        1,
        "the stored page became an LZ4 one"
    );

    // Another class: refused, nothing changed.
    assert!(
        !pool
            .overwrite_encoded(h, Encoding::Lz4, &object(7, 500))
            .unwrap()
    );
    assert_eq!(&*pool.get(h).unwrap(), &object(6, 4070)[..]);
    // A payload its encoding does not allow, and a removed handle: errors.
    assert!(
        pool.overwrite_encoded(h, Encoding::Stored, &[1; 100])
            .is_err()
    );
    pool.remove(neighbour).unwrap();
    assert_eq!(
        pool.overwrite_encoded(neighbour, Encoding::Stored, &second),
        Err(Error::InvalidHandle {
            raw: neighbour.to_raw()
        })
    );
    // Compaction still finds every object where its handle says.
    pool.compact();
    assert_eq!(&*pool.get(h).unwrap(), &object(6, 4070)[..]);
    assert_eq!(&*pool.get(lz4).unwrap(), &shorter[..]);
    check_accounting(&pool);
}

#[test]
fn random_operations_match_a_model() {
    let pool = Box::new(PagePool::new());
    let mut rng = Rng(0x1234_5678);
    let mut model: Vec<(Handle, u64, usize)> = Vec::new();
    let steps = if cfg!(miri) { 60 } else { 8_000 };
    for step in 0..steps {
        match rng.below(10) {
            0..=4 => {
                // Lengths cluster like compressed pages, with tiny and full-page ones mixed in.
                let len = match rng.below(8) {
                    0 => 1 + rng.below(16),
                    1 => PAGE_SIZE - rng.below(8),
                    // Miri interprets every byte copied: keep the common objects small there.
                    _ if cfg!(miri) => 20 + rng.below(300),
                    _ => 200 + rng.below(2500),
                };
                let seed = rng.next();
                let h = pool.insert(&object(seed, len)).unwrap();
                model.push((h, seed, len));
            }
            5..=7 if !model.is_empty() => {
                let (h, _, _) = model.swap_remove(rng.below(model.len()));
                pool.remove(h).unwrap();
            }
            8 if !model.is_empty() => {
                let (h, seed, len) = model[rng.below(model.len())];
                let mut buf = [0u8; PAGE_SIZE];
                assert_eq!(pool.read_into(h, &mut buf).unwrap(), len);
                assert_eq!(&buf[..len], &object(seed, len)[..]);
            }
            _ => {
                pool.compact();
            }
        }
        if step % 251 == 0 {
            check_all(&pool, &model);
        }
    }
    check_all(&pool, &model);
    pool.compact();
    check_all(&pool, &model);
    for (h, _, _) in model.drain(..) {
        pool.remove(h).unwrap();
    }
    pool.compact();
    check_accounting(&pool);
    assert_eq!(
        pool.stats().mem_used_total as usize,
        core::mem::size_of::<PagePool>(),
        "an empty, compacted pool holds nothing but itself"
    );
}

#[test]
fn compaction_frees_emptied_spans_and_keeps_handles() {
    let pool = Box::new(PagePool::new());
    // Under Miri, a class with few slots per span keeps the object count small.
    let len = if cfg!(miri) { 3000 } else { 1000 };
    let class = class_of(len).unwrap();
    let spec = CLASSES[class];
    let count = if cfg!(miri) {
        2 * spec.slots
    } else {
        40 * spec.slots
    };
    let mut model: Vec<(Handle, u64, usize)> = (0..count as u64)
        .map(|seed| (pool.insert(&object(seed, len)).unwrap(), seed, len))
        .collect();
    let spans_full = pool.classes[class].lock().live_spans();
    assert_eq!(spans_full, count / spec.slots);
    // Remove three objects in four, scattered over every span.
    let mut rng = Rng(99);
    let mut kept = Vec::new();
    for entry in model.drain(..) {
        if rng.below(4) == 0 {
            kept.push(entry);
        } else {
            pool.remove(entry.0).unwrap();
        }
    }
    let model = kept;
    let before = pool.stats();
    let freed = pool.compact();
    let after = pool.stats();
    check_all(&pool, &model);
    let spans = pool.classes[class].lock().live_spans();
    assert_eq!(spans, model.len().div_ceil(spec.slots));
    assert!(freed > 0);
    assert_eq!(after.pages_compacted, freed as u64);
    assert!(after.mem_used_total < before.mem_used_total);
    // Spans hold only the pages their objects need: data bytes within a page per span of the ideal.
    let data = (model.len() * spec.slot_size) as u64;
    let overhead = after.mem_used_total - data;
    assert!(
        overhead < (spans * PAGE_SIZE) as u64 + 64 * 1024,
        "{overhead} bytes beyond the slots"
    );
    // A second compaction finds nothing to do.
    assert_eq!(pool.compact(), 0);
    check_all(&pool, &model);
}

#[test]
fn memory_limit_refuses_without_damage() {
    let room = if cfg!(miri) { 48 * 1024 } else { 256 * 1024 };
    let limit = core::mem::size_of::<PagePool>() + room;
    let pool = Box::new(PagePool::with_limit(limit));
    assert_eq!(pool.limit(), Some(limit));
    let mut model = Vec::new();
    let mut rng = Rng(7);
    let err = loop {
        let len = 100 + rng.below(3000);
        let seed = rng.next();
        match pool.insert(&object(seed, len)) {
            Ok(h) => model.push((h, seed, len)),
            Err(e) => break e,
        }
    };
    assert!(matches!(err, Error::LimitReached { .. }), "{err:?}");
    let stats = pool.stats();
    assert!(stats.mem_used_total as usize <= limit);
    assert!(stats.mem_used_max as usize <= limit);
    assert_eq!(stats.mem_limit, Some(limit as u64));
    check_all(&pool, &model);
    // Making room makes inserts work again.
    for (h, _, _) in model.drain(..model.len() / 2) {
        pool.remove(h).unwrap();
    }
    pool.compact();
    let h = pool.insert(&object(1, 2000)).unwrap();
    model.push((h, 1, 2000));
    check_all(&pool, &model);
    pool.set_limit(None);
    assert_eq!(pool.limit(), None);
}

#[test]
fn clear_gives_everything_back() {
    let pool = Box::new(PagePool::new());
    for len in [5, 100, 2000, 4096] {
        pool.insert(&object(1, len)).unwrap();
    }
    pool.clear();
    check_accounting(&pool);
    assert_eq!(pool.len(), 0);
    assert_eq!(
        pool.stats().mem_used_total as usize,
        core::mem::size_of::<PagePool>()
    );
}

#[test]
fn pool_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<PagePool>();
    assert_send_sync::<Handle>();
}

#[test]
fn prefetch_takes_any_handle_and_changes_nothing() {
    let pool = Box::new(PagePool::new());
    let page = pool
        .insert_encoded(Encoding::Stored, &object(1, PAGE_SIZE))
        .unwrap();
    let small = pool.insert(&object(2, 40)).unwrap();
    let before = pool.stats();
    pool.prefetch(page);
    pool.prefetch(small);
    pool.remove(small).unwrap();
    // A removed handle, and numbers that name no object, are ignored.
    pool.prefetch(small);
    for raw in [1, 255, 256, u64::MAX] {
        pool.prefetch(Handle::from_raw(raw).unwrap());
    }
    assert_eq!(&*pool.get(page).unwrap(), &object(1, PAGE_SIZE)[..]);
    assert_eq!(pool.stats().objects, before.objects - 1);
    check_accounting(&pool);
}
