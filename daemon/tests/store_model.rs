//! `BlockStore` against a plain byte vector: random request sequences (unaligned included), the
//! same from several threads at once, and the sequences that break naive stores.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cast_possible_truncation
)]
use std::sync::Arc;

use proptest::prelude::*;
use trueno_ublk::store::{BlockStore, DEFAULT_ALGORITHM, StoreConfig, StoreError, parse_algorithm};

const PAGE: usize = 4096;

fn store(size: usize, mem_limit: Option<u64>) -> BlockStore {
    store_with(DEFAULT_ALGORITHM, size, mem_limit)
}

fn store_with(algorithm: &str, size: usize, mem_limit: Option<u64>) -> BlockStore {
    BlockStore::new(StoreConfig {
        size: size as u64,
        algorithm: parse_algorithm(algorithm).unwrap(),
        mem_limit,
    })
    .unwrap()
}

/// Every algorithm this build has.
const ALGORITHMS: [&str; 5] = ["lz4", "samefill", "zstd:1", "zstd:-3", "adaptive"];

#[derive(Debug, Clone)]
enum Op {
    Write { offset: usize, data: Vec<u8> },
    Read { offset: usize, len: usize },
    Discard { offset: usize, len: usize },
    WriteZeroes { offset: usize, len: usize },
    Flush,
}

/// Content that exercises every page kind: zeros, a repeated word, text, noise.
fn content(len: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(vec![0u8; len]),
        any::<u64>().prop_map(move |w| w.to_le_bytes().iter().copied().cycle().take(len).collect()),
        Just(
            b"the quick brown fox jumps over the lazy dog. "
                .iter()
                .copied()
                .cycle()
                .take(len)
                .collect()
        ),
        proptest::collection::vec(any::<u8>(), len),
    ]
}

fn range(size: usize) -> impl Strategy<Value = (usize, usize)> {
    // Aligned whole pages half the time, any bytes the other half.
    prop_oneof![
        (0..size / PAGE, 1..4usize).prop_map(move |(p, n)| {
            let n = n.min(size / PAGE - p);
            (p * PAGE, n * PAGE)
        }),
        (0..size).prop_flat_map(move |o| (Just(o), 0..=(size - o).min(3 * PAGE))),
    ]
}

fn op(size: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => range(size).prop_flat_map(|(offset, len)| content(len).prop_map(move |data| Op::Write { offset, data })),
        3 => range(size).prop_map(|(offset, len)| Op::Read { offset, len }),
        1 => range(size).prop_map(|(offset, len)| Op::Discard { offset, len }),
        1 => range(size).prop_map(|(offset, len)| Op::WriteZeroes { offset, len }),
        1 => Just(Op::Flush),
    ]
}

/// Applies one request to the store and to the model, checking reads against the model.
fn apply(store: &BlockStore, model: &mut [u8], base: usize, op: &Op) {
    match op {
        Op::Write { offset, data } => {
            store.write((base + offset) as u64, data).unwrap();
            model[*offset..offset + data.len()].copy_from_slice(data);
        }
        Op::Read { offset, len } => {
            let mut buf = vec![0xa5; *len];
            store.read((base + offset) as u64, &mut buf).unwrap();
            assert!(
                buf == model[*offset..offset + len],
                "read of {len} at {offset} differs"
            );
        }
        Op::Discard { offset, len } => {
            store.discard((base + offset) as u64, *len as u64).unwrap();
            model[*offset..offset + len].fill(0);
        }
        Op::WriteZeroes { offset, len } => {
            store
                .write_zeroes((base + offset) as u64, *len as u64)
                .unwrap();
            model[*offset..offset + len].fill(0);
        }
        Op::Flush => store.flush().unwrap(),
    }
}

fn check_all(store: &BlockStore, model: &[u8], base: usize) {
    let mut all = vec![0xa5; model.len()];
    store.read(base as u64, &mut all).unwrap();
    assert!(all == model, "whole-device read differs from the model");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn store_matches_a_byte_vector(
        algorithm in proptest::sample::select(&ALGORITHMS[..]),
        ops in proptest::collection::vec(op(16 * PAGE), 1..60),
    ) {
        let size = 16 * PAGE;
        let s = store_with(algorithm, size, None);
        let mut model = vec![0u8; size];
        for op in &ops {
            apply(&s, &mut model, 0, op);
        }
        check_all(&s, &model, 0);
        let st = s.stats();
        let nonzero_pages = model.chunks(PAGE).filter(|p| p.iter().any(|&b| b != 0)).count() as u64;
        prop_assert!(st.orig_data_size / PAGE as u64 >= nonzero_pages);
        prop_assert!(st.same_pages + st.huge_pages <= st.orig_data_size / PAGE as u64);
    }

    #[test]
    fn threads_on_their_own_regions_match_their_models(
        per_thread in proptest::collection::vec(proptest::collection::vec(op(8 * PAGE), 1..30), 4)
    ) {
        let region = 8 * PAGE;
        let s = Arc::new(store(region * per_thread.len(), None));
        let handles: Vec<_> = per_thread.into_iter().enumerate().map(|(t, ops)| {
            let s = Arc::clone(&s);
            std::thread::spawn(move || {
                let mut model = vec![0u8; region];
                for op in &ops {
                    apply(&s, &mut model, t * region, op);
                }
                (t, model)
            })
        }).collect();
        for h in handles {
            let (t, model) = h.join().unwrap();
            check_all(&s, &model, t * region);
        }
    }
}

#[test]
fn threads_writing_sectors_of_the_same_pages_lose_nothing() {
    // Four threads own interleaved 512-byte sectors of the same 8 pages: every write is a
    // read-modify-write of a page that other threads modify at the same time.
    let pages = 8;
    let s = Arc::new(store(pages * PAGE, None));
    let threads = 4;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let s = Arc::clone(&s);
            std::thread::spawn(move || {
                for round in 0..200u32 {
                    for sector in (t..pages * 8).step_by(threads) {
                        let byte = (round as usize * 7 + sector) as u8;
                        s.write((sector * 512) as u64, &[byte; 512]).unwrap();
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let mut all = vec![0; pages * PAGE];
    s.read(0, &mut all).unwrap();
    for (sector, bytes) in all.chunks(512).enumerate() {
        let want = (199 * 7 + sector) as u8;
        assert!(
            bytes.iter().all(|&b| b == want),
            "sector {sector} lost a write"
        );
    }
}

#[test]
fn text_overwritten_by_zeros_reads_zeros() {
    let s = store(4 * PAGE, None);
    let text: Vec<u8> = b"Lorem ipsum dolor sit amet. "
        .iter()
        .copied()
        .cycle()
        .take(PAGE)
        .collect();
    s.write(PAGE as u64, &text).unwrap();
    s.write(PAGE as u64, &[0; PAGE]).unwrap();
    let mut back = vec![1; PAGE];
    s.read(PAGE as u64, &mut back).unwrap();
    assert!(back.iter().all(|&b| b == 0));
    // The same through a partial overwrite of every byte.
    s.write(0, &text).unwrap();
    s.write(0, &[0; 100]).unwrap();
    s.write(100, &vec![0; PAGE - 100]).unwrap();
    s.read(0, &mut back).unwrap();
    assert!(back.iter().all(|&b| b == 0));
    let st = s.stats();
    assert_eq!(st.compr_data_size, 0, "no payload may stay behind");
    assert_eq!(st.same_pages, 2);
}

#[test]
fn write_zeroes_after_a_write_reads_zeros_and_allocates_nothing() {
    let s = store(4 * PAGE, None);
    // An empty pool holds only its own structure.
    let empty = s.stats().mem_used_total;
    let noise: Vec<u8> = (0..3 * PAGE).map(|i| (i * 131 % 251) as u8).collect();
    s.write(0, &noise).unwrap();
    assert!(s.stats().mem_used_total > empty);
    s.write_zeroes(0, 3 * PAGE as u64).unwrap();
    let mut back = vec![1; 3 * PAGE];
    s.read(0, &mut back).unwrap();
    assert!(back.iter().all(|&b| b == 0));
    let st = s.stats();
    assert_eq!((st.compr_data_size, st.same_pages), (0, 3));
    s.compact();
    assert_eq!(
        s.stats().mem_used_total,
        empty,
        "zeroed pages must hold no pool memory"
    );
    // Unaligned: only the named bytes become zero.
    s.write(0, &noise).unwrap();
    s.write_zeroes(1000, 5000).unwrap();
    s.read(0, &mut back).unwrap();
    assert_eq!(&back[..1000], &noise[..1000]);
    assert!(back[1000..6000].iter().all(|&b| b == 0));
    assert_eq!(&back[6000..], &noise[6000..]);
}

#[test]
fn discard_between_two_writes_of_one_page() {
    let s = store(4 * PAGE, None);
    let a: Vec<u8> = (0..PAGE).map(|i| (i % 97) as u8 + 1).collect();
    let b: Vec<u8> = (0..PAGE).map(|i| (i % 89) as u8 + 3).collect();
    s.write(2 * PAGE as u64, &a).unwrap();
    s.discard(2 * PAGE as u64, PAGE as u64).unwrap();
    let mut back = vec![1; PAGE];
    s.read(2 * PAGE as u64, &mut back).unwrap();
    assert!(
        back.iter().all(|&x| x == 0),
        "discarded page must read as zeros"
    );
    assert_eq!(s.stats().orig_data_size, 0, "discard frees the page");
    assert_eq!(s.stats().notify_free, 1);
    s.write(2 * PAGE as u64 + 10, &b[..100]).unwrap();
    s.read(2 * PAGE as u64, &mut back).unwrap();
    assert!(back[..10].iter().all(|&x| x == 0));
    assert_eq!(&back[10..110], &b[..100]);
    assert!(
        back[110..].iter().all(|&x| x == 0),
        "old content resurfaced after discard"
    );
}

#[test]
fn memory_limit_refuses_writes_but_keeps_reads_and_zeroes_working() {
    // Noise that no codec shrinks.
    let noise = |seed: usize| -> Vec<u8> {
        let mut x = (seed as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (0..PAGE)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    };
    let s = store(64 * PAGE, Some(8 * PAGE as u64));
    let mut written = 0;
    let mut refused = None;
    for p in 0..64 {
        match s.write((p * PAGE) as u64, &noise(p)) {
            Ok(()) => written += 1,
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    let e = refused.expect("the limit must stop writes");
    assert!(matches!(e, StoreError::NoSpace { .. }), "{e}");
    assert_eq!(e.errno(), libc::ENOSPC);
    assert!(written >= 1);
    assert!(s.stats().mem_used_total <= 8 * PAGE as u64);
    assert_eq!(s.stats().failed_writes, 1);
    for p in 0..written {
        let mut back = vec![0; PAGE];
        s.read((p * PAGE) as u64, &mut back).unwrap();
        assert_eq!(back, noise(p), "page {p} after the limit was reached");
    }
    // Zeroes and discards need no storage and still work; freeing makes room again.
    s.write_zeroes((written * PAGE) as u64, PAGE as u64)
        .unwrap();
    s.discard(0, PAGE as u64).unwrap();
    s.write((written * PAGE) as u64, &noise(1000)).unwrap();
}

#[test]
fn requests_past_the_end_are_refused() {
    let s = store(4 * PAGE, None);
    let mut buf = [0u8; 16];
    for offset in [4 * PAGE as u64 - 8, 4 * PAGE as u64, u64::MAX - 4] {
        assert!(matches!(
            s.read(offset, &mut buf),
            Err(StoreError::OutOfRange { .. })
        ));
        assert!(matches!(
            s.write(offset, &buf),
            Err(StoreError::OutOfRange { .. })
        ));
    }
    assert!(s.discard(0, u64::MAX).is_err());
    assert!(s.write_zeroes(PAGE as u64, 4 * PAGE as u64).is_err());
    assert_eq!(s.stats().invalid_io, 8);
    assert!(
        BlockStore::new(StoreConfig {
            size: 1000,
            algorithm: parse_algorithm(DEFAULT_ALGORITHM).unwrap(),
            mem_limit: None
        })
        .is_err()
    );
}

#[test]
fn never_written_pages_cost_nothing() {
    // A terabyte device: only its chunk pointers exist until written.
    let s = store(1 << 40, None);
    let empty = s.stats().mem_used_total;
    let mut buf = vec![1; 3 * PAGE];
    s.read((1 << 40) - 3 * PAGE as u64, &mut buf).unwrap();
    assert!(buf.iter().all(|&b| b == 0));
    assert_eq!(s.stats().orig_data_size, 0);
    assert_eq!(s.stats().mem_used_total, empty);
}

#[test]
fn an_algorithm_setting_the_codec_refuses_fails_at_creation() {
    let made = BlockStore::new(StoreConfig {
        size: 4096,
        algorithm: parse_algorithm("zstd:99").unwrap(),
        mem_limit: None,
    });
    assert!(made.is_err(), "zstd level 99 accepted");
}
