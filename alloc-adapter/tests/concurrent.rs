//! Concurrent stress test of `PagePool`: threads insert, read, remove, hand objects to each other and
//! compact at once, each checking every object it reads against its model; at the end the pool's
//! contents, statistics and accounting must match the union of the models exactly.
//!
//! Runs under Miri at a reduced size (`cargo +nightly miri test -p trueno-zram-alloc`).
#![allow(clippy::cast_possible_truncation, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::thread;

use trueno_zram_alloc::{CompressedPage, Encoding, Handle, ObjectKind, PAGE_SIZE, PagePool};

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

/// The contents of object `seed`, `len` bytes.
fn object(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut bytes: Vec<u8> = (0..len.div_ceil(8))
        .flat_map(|_| rng.next().to_le_bytes())
        .collect();
    bytes.truncate(len);
    bytes
}

#[derive(Clone, Copy)]
struct Model {
    handle: Handle,
    seed: u64,
    len: usize,
    page: bool,
}

fn check(pool: &PagePool, m: &Model) {
    let got = pool.get(m.handle).expect("a live handle reads");
    assert_eq!(&*got, &object(m.seed, m.len)[..]);
    let kind = if m.page {
        ObjectKind::Page(Encoding::Lz4)
    } else {
        ObjectKind::Raw
    };
    assert_eq!(got.kind(), kind);
}

fn insert(pool: &PagePool, rng: &mut Rng) -> Model {
    let len = match rng.below(10) {
        0 => 1 + rng.below(20),
        1 => PAGE_SIZE - 1 - rng.below(4),
        // Miri interprets every byte copied: keep the common objects small there.
        _ if cfg!(miri) => 20 + rng.below(200),
        _ => 100 + rng.below(3000),
    };
    let seed = rng.next();
    let bytes = object(seed, len);
    let page = rng.below(2) == 0;
    let handle = if page {
        pool.insert_page(&CompressedPage::from_parts(Encoding::Lz4, &bytes).expect("valid payload"))
    } else {
        pool.insert(&bytes)
    }
    .expect("no limit: inserts succeed");
    Model {
        handle,
        seed,
        len,
        page,
    }
}

fn stress(threads: usize, steps: usize, round: u64) {
    let pool = Arc::new(PagePool::new());
    let mailbox: Arc<Mutex<Vec<Model>>> = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let pool = Arc::clone(&pool);
            let mailbox = Arc::clone(&mailbox);
            thread::spawn(move || {
                let mut rng = Rng(0x5eed ^ (round << 32) ^ ((t as u64 + 1) * 0x1_0001));
                let mut mine: Vec<Model> = Vec::new();
                for _ in 0..steps {
                    match rng.below(100) {
                        0..=44 => mine.push(insert(&pool, &mut rng)),
                        45..=69 if !mine.is_empty() => {
                            let m = mine.swap_remove(rng.below(mine.len()));
                            check(&pool, &m);
                            pool.remove(m.handle).expect("a live handle removes");
                        }
                        70..=89 if !mine.is_empty() => check(&pool, &mine[rng.below(mine.len())]),
                        90..=93 if !mine.is_empty() => {
                            // Hand an object to whichever thread looks next.
                            let m = mine.swap_remove(rng.below(mine.len()));
                            mailbox.lock().expect("mailbox").push(m);
                        }
                        94..=96 => {
                            if let Some(m) = mailbox.lock().expect("mailbox").pop() {
                                check(&pool, &m);
                                mine.push(m);
                            }
                        }
                        _ => {
                            pool.compact();
                            let stats = pool.stats();
                            assert!(stats.mem_used_total <= stats.mem_used_max);
                        }
                    }
                }
                for m in &mine {
                    check(&pool, m);
                }
                mine
            })
        })
        .collect();
    let mut all: Vec<Model> = workers
        .into_iter()
        .flat_map(|w| w.join().expect("a worker panicked"))
        .collect();
    all.extend(mailbox.lock().expect("mailbox").drain(..));

    for m in &all {
        check(&pool, m);
    }
    let stats = pool.stats();
    assert_eq!(stats.objects, all.len() as u64);
    assert_eq!(
        stats.compr_data_size,
        all.iter().map(|m| m.len as u64).sum::<u64>()
    );
    assert_eq!(
        stats.orig_data_size,
        all.iter().filter(|m| m.page).count() as u64 * PAGE_SIZE as u64
    );
    assert_eq!(stats.mem_used_total as usize, pool.audit_heap_bytes());
    pool.compact();
    for m in &all {
        check(&pool, m);
    }
    for m in all.drain(..) {
        pool.remove(m.handle).expect("a live handle removes");
    }
    pool.compact();
    let stats = pool.stats();
    assert_eq!(stats.objects, 0);
    assert_eq!(stats.mem_used_total as usize, size_of::<PagePool>());
    assert_eq!(stats.mem_used_total as usize, pool.audit_heap_bytes());
}

#[test]
fn threads_insert_read_remove_and_compact_at_once() {
    if cfg!(miri) {
        stress(3, 60, 0);
    } else {
        for round in 0..4 {
            stress(6, 4_000, round);
        }
    }
}
