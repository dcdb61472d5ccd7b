//! Unit tests of the LZ4 codec: round trips, the SIMD kernels against the scalar oracle, the block
//! format's end rules, and every kind of bad input. Sizes shrink under Miri, which runs the scalar
//! kernels (the only ones it can), covering their unsafe copies.

use super::kernels::{Kernels, MATCH_SLACK, SHORT_MATCH_REACH, Scalar};
use super::*;
use crate::Error;
use proptest::prelude::*;

/// A deterministic byte stream: xorshift, for inputs that do not compress.
fn noise(len: usize, seed: u64) -> [u8; 8192] {
    let mut out = [0u8; 8192];
    let mut x = seed | 1;
    for b in out.iter_mut().take(len) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = (x >> 32) as u8;
    }
    out
}

/// Text-like data with repeats at many distances, and runs.
fn structured(len: usize) -> [u8; 8192] {
    let words: [&[u8]; 6] = [
        b"page ",
        b"zram ",
        b"compress ",
        b"\0\0\0\0\0\0\0\0",
        b"lz4 ",
        b"x",
    ];
    let mut out = [0u8; 8192];
    let mut i = 0;
    let mut k = 7usize;
    while i < len {
        k = k.wrapping_mul(31).wrapping_add(17) % 1009;
        let w = words[k % words.len()];
        for &b in w {
            if i < len {
                out[i] = b;
                i += 1;
            }
        }
        if k.is_multiple_of(13) {
            out[i % len] = (k % 251) as u8;
        }
    }
    out
}

fn round_trip_on(backend: SimdBackend, data: &[u8]) -> ([u8; 8300], usize) {
    let mut c = Compressor::with_backend(backend);
    let mut block = [0u8; 8300];
    let n = c.compress_into(data, &mut block).unwrap();
    assert!(n <= compress_bound(data.len()));
    let mut back = [0u8; 8192];
    let m = decompress_into_with(backend, &block[..n], &mut back[..data.len()]).unwrap();
    assert_eq!(m, data.len());
    assert_eq!(&back[..m], data);
    (block, n)
}

#[test]
fn every_backend_writes_the_same_blocks_and_reads_them_back() {
    let sizes: &[usize] = if cfg!(miri) {
        &[0, 1, 12, 13, 64, 300]
    } else {
        &[
            0, 1, 5, 12, 13, 14, 31, 64, 100, 255, 270, 1000, 4095, 4096, 8192,
        ]
    };
    for &len in sizes {
        for data in [noise(len, len as u64), structured(len), [0u8; 8192]] {
            let (reference, n) = round_trip_on(SimdBackend::Scalar, &data[..len]);
            for backend in SimdBackend::available() {
                let (block, m) = round_trip_on(backend, &data[..len]);
                assert_eq!(&block[..m], &reference[..n], "{backend} len {len}");
            }
        }
    }
}

#[test]
fn known_blocks() {
    let mut block = [0u8; 64];
    // An empty input is one zero token, as liblz4 writes it.
    assert_eq!(compress_into(&[], &mut block).unwrap(), 1);
    assert_eq!(block[0], 0);
    let mut out = [0u8; 4];
    assert_eq!(decompress_into(&block[..1], &mut out).unwrap(), 0);
    // Short inputs are literals only.
    let n = compress_into(b"abc", &mut block).unwrap();
    assert_eq!(&block[..n], &[0x30, b'a', b'b', b'c']);
    // 32 equal bytes: 1 literal, a match at offset 1 of 4 + 15 + 7 = 26 bytes, 5 final literals
    // (what liblz4 writes).
    let n = compress_into(&[7u8; 32], &mut block).unwrap();
    assert_eq!(&block[..n], &[0x1f, 7, 1, 0, 7, 0x50, 7, 7, 7, 7, 7]);
    let mut out = [0u8; 32];
    assert_eq!(decompress_into(&block[..n], &mut out).unwrap(), 32);
    assert_eq!(out, [7u8; 32]);
}

#[test]
fn the_end_rules_of_the_format_hold() {
    // The last 5 bytes are literals and the last match starts 12 or more bytes before the end.
    let len = if cfg!(miri) { 200 } else { 4096 };
    for data in [structured(len), [0u8; 8192], [1u8; 8192]] {
        let mut block = [0u8; 8300];
        let n = compress_into(&data[..len], &mut block).unwrap();
        let mut ip = 0;
        let mut op = 0;
        let mut last_match_start = 0;
        loop {
            let token = block[ip];
            ip += 1;
            let mut lit = usize::from(token >> 4);
            if lit == 15 {
                while block[ip] == 255 {
                    lit += 255;
                    ip += 1;
                }
                lit += usize::from(block[ip]);
                ip += 1;
            }
            ip += lit;
            op += lit;
            if ip == n {
                break;
            }
            ip += 2;
            let mut ml = usize::from(token & 15);
            if ml == 15 {
                while block[ip] == 255 {
                    ml += 255;
                    ip += 1;
                }
                ml += usize::from(block[ip]);
                ip += 1;
            }
            last_match_start = op;
            op += ml + 4;
            assert!(op <= len - 5, "match ends within the last 5 bytes");
        }
        assert_eq!(op, len);
        assert!(last_match_start + 12 <= len);
    }
}

#[test]
fn reused_compressor_gives_the_same_blocks_as_a_fresh_one() {
    let len = if cfg!(miri) { 256 } else { 4096 };
    let mut kept = Compressor::new();
    for round in 0..3u64 {
        for data in [structured(len), noise(len, round), structured(len / 2)] {
            let mut a = [0u8; 8300];
            let mut b = [0u8; 8300];
            let n = kept.compress_into(&data[..len], &mut a).unwrap();
            let m = Compressor::new()
                .compress_into(&data[..len], &mut b)
                .unwrap();
            assert_eq!(a[..n], b[..m]);
        }
    }
}

#[test]
fn page_path_matches_the_general_path() {
    if cfg!(miri) {
        return;
    }
    let mut page = [0u8; PAGE_SIZE];
    page.copy_from_slice(&structured(PAGE_SIZE)[..PAGE_SIZE]);
    for backend in SimdBackend::available() {
        let mut c = Compressor::with_backend(backend);
        let mut a = [0u8; 4200];
        let mut b = [0u8; 4200];
        let n = c.compress_page(&page, &mut a).unwrap();
        let m = c.compress_into(&page, &mut b).unwrap();
        assert_eq!(a[..n], b[..m]);
        let mut out = [0u8; PAGE_SIZE];
        decompress_page(backend, &a[..n], &mut out).unwrap();
        assert_eq!(out, page);
    }
}

#[test]
fn earlier_calls_leave_no_stale_matches() {
    // Pages and inputs of other lengths in turn on one compressor: each block is a fresh
    // compressor's.
    let mut c = Compressor::new();
    let len = if cfg!(miri) { 300 } else { 4096 };
    let long = if cfg!(miri) { 500 } else { 8192 };
    let rounds = if cfg!(miri) { 3 } else { 20 };
    for round in 0..rounds {
        let data = if round % 2 == 0 {
            structured(long)
        } else {
            noise(long, round)
        };
        for n in [len, long, len / 3] {
            let mut block = [0u8; 8300];
            let m = c.compress_into(&data[..n], &mut block).unwrap();
            let mut reference = [0u8; 8300];
            let r = Compressor::new()
                .compress_into(&data[..n], &mut reference)
                .unwrap();
            assert_eq!(block[..m], reference[..r], "round {round} len {n}");
        }
    }
}

#[test]
fn limited_and_unlimited_destinations_give_the_same_blocks() {
    // A destination of compress_bound bytes takes the encoder without room checks; a destination
    // of exactly the block's length takes the checked one. Both must write the same bytes.
    let len = if cfg!(miri) { 300 } else { 4096 };
    for data in [structured(len), noise(len, 5), [0u8; 8192]] {
        for backend in SimdBackend::available() {
            let mut c = Compressor::with_backend(backend);
            let mut wide = [0u8; 8300];
            let n = c
                .compress_into(&data[..len], &mut wide[..compress_bound(len)])
                .unwrap();
            let mut exact = [0u8; 8300];
            let m = c.compress_into(&data[..len], &mut exact[..n]).unwrap();
            assert_eq!(wide[..n], exact[..m], "{backend}");
            if len == PAGE_SIZE {
                let page: &Page = data[..PAGE_SIZE].try_into().unwrap();
                let m = c.compress_page(page, &mut exact[..n]).unwrap();
                assert_eq!(wide[..n], exact[..m], "{backend} page");
            }
        }
    }
}

#[test]
fn acceleration_trades_ratio_and_still_round_trips() {
    let len = if cfg!(miri) { 300 } else { 4096 };
    let data = structured(len);
    let mut sizes = [0usize; 3];
    for (i, accel) in [0u32, 8, u32::MAX].into_iter().enumerate() {
        let mut c = Compressor::new();
        c.set_acceleration(accel);
        assert!(c.acceleration() >= 1 && c.acceleration() <= MAX_ACCELERATION);
        let mut block = [0u8; 8300];
        let n = c.compress_into(&data[..len], &mut block).unwrap();
        let mut back = [0u8; 8192];
        assert_eq!(decompress_into(&block[..n], &mut back).unwrap(), len);
        assert_eq!(back[..len], data[..len]);
        sizes[i] = n;
    }
    assert!(sizes[0] <= sizes[2], "{sizes:?}");
}

#[test]
fn compress_rejects_small_destinations_and_large_inputs() {
    let len = if cfg!(miri) { 300 } else { 4096 };
    let data = noise(len, 3);
    let mut block = [0u8; 8300];
    let full = compress_into(&data[..len], &mut block).unwrap();
    // Every destination shorter than the block fails with DestinationTooSmall; the exact size works.
    for cap in [0, 1, full / 2, full - 1] {
        let err = compress_into(&data[..len], &mut block[..cap]).unwrap_err();
        assert!(
            matches!(err, Error::Lz4(Lz4Error::DestinationTooSmall { capacity, needed })
                if capacity == cap && needed > cap),
            "{err:?}"
        );
    }
    assert_eq!(
        compress_into(&data[..len], &mut block[..full]).unwrap(),
        full
    );
    let data = structured(len);
    let full = compress_into(&data[..len], &mut block).unwrap();
    for cap in 0..full {
        if cfg!(miri) && cap % 17 != 0 {
            continue;
        }
        assert!(compress_into(&data[..len], &mut block[..cap]).is_err());
    }
    assert_eq!(
        compress_into(&data[..len], &mut block[..full]).unwrap(),
        full
    );

    if !cfg!(miri) {
        static BIG: [u8; MAX_INPUT_LEN + 1] = [0; MAX_INPUT_LEN + 1];
        static mut OUT: [u8; compress_bound(MAX_INPUT_LEN + 1)] =
            [0; compress_bound(MAX_INPUT_LEN + 1)];
        // SAFETY: only this test touches OUT.
        let out = unsafe { &mut *core::ptr::addr_of_mut!(OUT) };
        assert_eq!(
            compress_into(&BIG, out),
            Err(Error::Lz4(Lz4Error::InputTooLarge {
                len: MAX_INPUT_LEN + 1,
                limit: MAX_INPUT_LEN
            }))
        );
        let n = compress_into(&BIG[..MAX_INPUT_LEN], out).unwrap();
        let mut back = [1u8; MAX_INPUT_LEN];
        assert_eq!(
            decompress_into(&out[..n], &mut back).unwrap(),
            MAX_INPUT_LEN
        );
        assert!(back.iter().all(|&b| b == 0));
    }
}

fn decode_all(block: &[u8], cap: usize) -> core::result::Result<usize, Error> {
    let mut out = [0u8; 512];
    let mut first = None;
    for backend in SimdBackend::available() {
        let r = decompress_into_with(backend, block, &mut out[..cap]);
        match first {
            None => first = Some(r),
            Some(f) => assert_eq!(f, r, "{backend}"),
        }
    }
    first.unwrap_or(Err(Error::InvalidConfig("no backend")))
}

fn lz4_err(r: core::result::Result<usize, Error>) -> Lz4Error {
    match r {
        Err(Error::Lz4(e)) => e,
        other => panic!("expected an LZ4 error, got {other:?}"),
    }
}

#[test]
fn truncated_blocks_are_errors() {
    // Empty: no token.
    assert_eq!(
        lz4_err(decode_all(&[], 64)),
        Lz4Error::Truncated {
            offset: 0,
            needed: 1,
            field: Field::Token
        }
    );
    // Literals cut short: 3 announced, 1 present.
    assert_eq!(
        lz4_err(decode_all(&[0x30, b'a'], 64)),
        Lz4Error::Truncated {
            offset: 1,
            needed: 2,
            field: Field::Literals
        }
    );
    // Offset cut in half.
    assert_eq!(
        lz4_err(decode_all(&[0x10, b'a', 1], 64)),
        Lz4Error::Truncated {
            offset: 2,
            needed: 1,
            field: Field::Offset
        }
    );
    // Length bytes missing after a literal nibble of 15, and after a match nibble of 15.
    assert_eq!(
        lz4_err(decode_all(&[0xf0, 255], 512)),
        Lz4Error::Truncated {
            offset: 2,
            needed: 1,
            field: Field::LengthByte
        }
    );
    assert_eq!(
        lz4_err(decode_all(&[0x1f, b'a', 1, 0], 64)),
        Lz4Error::Truncated {
            offset: 4,
            needed: 1,
            field: Field::LengthByte
        }
    );
    // A match with no final literals: the next token is missing.
    assert_eq!(
        lz4_err(decode_all(&[0x10, b'a', 1, 0], 64)),
        Lz4Error::Truncated {
            offset: 4,
            needed: 1,
            field: Field::Token
        }
    );
    // Every cut of a real block inside its sequences is an error or a shorter, correct prefix.
    let len = if cfg!(miri) { 100 } else { 400 };
    let data = structured(len);
    let mut block = [0u8; 600];
    let n = compress_into(&data[..len], &mut block).unwrap();
    for cut in 0..n {
        let mut out = [0u8; 512];
        if let Ok(m) = decompress_into(&block[..cut], &mut out[..len]) {
            assert!(m < len);
            assert_eq!(out[..m], data[..m]);
        }
    }
}

#[test]
fn bad_offsets_are_errors() {
    // Offset 0.
    assert_eq!(
        lz4_err(decode_all(&[0x10, b'a', 0, 0, 0x00], 64)),
        Lz4Error::ZeroOffset { offset: 2 }
    );
    // Offset 2 after 1 byte of output: before the start.
    assert_eq!(
        lz4_err(decode_all(&[0x10, b'a', 2, 0, 0x00], 64)),
        Lz4Error::OffsetBeforeStart {
            offset: 2,
            distance: 2,
            position: 1
        }
    );
    // A match right at the start (no literals yet).
    assert_eq!(
        lz4_err(decode_all(&[0x00, 1, 0, 0x00], 64)),
        Lz4Error::OffsetBeforeStart {
            offset: 1,
            distance: 1,
            position: 0
        }
    );
}

#[test]
fn lengths_past_either_buffer_are_errors() {
    // 5 literals announced, destination of 4.
    assert_eq!(
        lz4_err(decode_all(&[0x50, 1, 2, 3, 4, 5], 4)),
        Lz4Error::OutputOverrun {
            position: 0,
            needed: 5,
            capacity: 4
        }
    );
    // A match of 4 + 15 + 200 bytes into 64.
    assert_eq!(
        lz4_err(decode_all(&[0x1f, b'a', 1, 0, 200, 0x00], 64)),
        Lz4Error::OutputOverrun {
            position: 1,
            needed: 219,
            capacity: 64
        }
    );
    // Long literal length beyond the input.
    assert!(matches!(
        lz4_err(decode_all(&[0xf0, 20, 1, 2, 3], 512)),
        Lz4Error::Truncated {
            field: Field::Literals,
            ..
        }
    ));
    // A run of 255s that would exceed the destination stops early.
    let mut huge = [255u8; 64];
    huge[0] = 0xf0;
    assert!(matches!(
        lz4_err(decode_all(&huge, 256)),
        Lz4Error::OutputOverrun { .. }
    ));
    // A destination one byte too small for a real block.
    let data = structured(300);
    let mut block = [0u8; 400];
    let n = compress_into(&data[..300], &mut block).unwrap();
    assert!(matches!(
        lz4_err(decode_all(&block[..n], 299)),
        Lz4Error::OutputOverrun { .. }
    ));
    assert_eq!(decode_all(&block[..n], 300), Ok(300));
    // A page block into a page that decodes short is WrongDecodedLength.
    let mut page = [0u8; PAGE_SIZE];
    assert_eq!(
        decompress_page(SimdBackend::Scalar, &block[..n], &mut page),
        Err(Error::WrongDecodedLength { len: 300 })
    );
}

#[test]
fn overlapping_matches_of_every_small_offset_decode() {
    // offset o, then a long match: the output repeats the first o bytes.
    // With an exact-size destination, matches longer than the copy slack take the wide-then-exact
    // path near the end; Miri runs a few of each kind.
    let max_len = if cfg!(miri) { 100 } else { 300 };
    for offset in 1..=20usize {
        for match_len in [4usize, 5, 15, 16, 18, 19, 33, 64, 100, max_len] {
            if cfg!(miri) && ![4, 19, 100].contains(&match_len) {
                continue;
            }
            let mut block = [0u8; 64];
            let mut n = 0;
            block[n] = ((offset.min(15) as u8) << 4) | ((match_len - 4).min(15) as u8);
            n += 1;
            if offset >= 15 {
                block[n] = (offset - 15) as u8;
                n += 1;
            }
            for i in 0..offset {
                block[n] = i as u8 + 1;
                n += 1;
            }
            block[n..n + 2].copy_from_slice(&(offset as u16).to_le_bytes());
            n += 2;
            if match_len - 4 >= 15 {
                let mut rest = match_len - 4 - 15;
                while rest >= 255 {
                    block[n] = 255;
                    n += 1;
                    rest -= 255;
                }
                block[n] = rest as u8;
                n += 1;
            }
            block[n] = 0x50;
            block[n + 1..n + 6].copy_from_slice(b"tail!");
            n += 6;
            let total = offset + match_len + 5;
            // With and without slack after the output.
            for cap in [total, 512] {
                assert_eq!(
                    decode_all(&block[..n], cap),
                    Ok(total),
                    "o {offset} ml {match_len}"
                );
                let mut out = [0u8; 512];
                decompress_into(&block[..n], &mut out[..cap]).unwrap();
                for (i, &b) in out[..offset + match_len].iter().enumerate() {
                    assert_eq!(
                        usize::from(b),
                        i % offset + 1,
                        "o {offset} ml {match_len} i {i}"
                    );
                }
                assert_eq!(&out[offset + match_len..total], b"tail!");
            }
        }
    }
}

#[test]
fn exact_copies_at_the_output_end_match_a_byte_loop() {
    // A match that ends the output exactly is copied wide but for its last bytes, which the exact
    // path copies (word by word once a period of 8 or more bytes is written): every offset and
    // length, against a byte-by-byte expansion.
    let (offsets, lens) = if cfg!(miri) {
        (1..=9usize, 4..=30usize)
    } else {
        (1..=24, 4..=90)
    };
    for offset in offsets {
        for match_len in lens.clone() {
            let mut block = [0u8; 64];
            let mut n = 0;
            block[n] = ((offset.min(15) as u8) << 4) | ((match_len - 4).min(15) as u8);
            n += 1;
            if offset >= 15 {
                block[n] = (offset - 15) as u8;
                n += 1;
            }
            let mut expected = [0u8; 128];
            for (i, e) in expected[..offset].iter_mut().enumerate() {
                block[n] = (i * 37 + 11) as u8;
                *e = block[n];
                n += 1;
            }
            block[n..n + 2].copy_from_slice(&(offset as u16).to_le_bytes());
            n += 2;
            if match_len - 4 >= 15 {
                push_length(&mut block, &mut n, match_len - 4 - 15);
            }
            block[n] = 0x50;
            block[n + 1..n + 6].copy_from_slice(b"tail!");
            n += 6;
            for i in offset..offset + match_len {
                expected[i] = expected[i - offset];
            }
            let total = offset + match_len + 5;
            expected[total - 5..total].copy_from_slice(b"tail!");
            for backend in SimdBackend::available() {
                let mut out = [0u8; 128];
                let r = decompress_into_with(backend, &block[..n], &mut out[..total]);
                assert_eq!(r, Ok(total), "{backend} o {offset} ml {match_len}");
                assert_eq!(
                    &out[..total],
                    &expected[..total],
                    "{backend} o {offset} ml {match_len}"
                );
            }
        }
    }
}

/// Appends an LZ4 length continuation (`rest` = length - 15) to `block` at `n`.
fn push_length(block: &mut [u8], n: &mut usize, mut rest: usize) {
    while rest >= 255 {
        block[*n] = 255;
        *n += 1;
        rest -= 255;
    }
    block[*n] = rest as u8;
    *n += 1;
}

#[test]
fn long_literals_between_matches_decode() {
    // Sequences with 15 or more literals followed by more sequences, so that the wide paths (not
    // only the checked one near the end) decode them, compared with a byte-by-byte decode.
    let literal_lens: &[usize] = if cfg!(miri) {
        &[15, 40]
    } else {
        &[14, 15, 16, 31, 32, 33, 40, 100, 269, 270, 300]
    };
    let match_lens: &[usize] = if cfg!(miri) {
        &[4, 40]
    } else {
        &[4, 18, 19, 40, 300]
    };
    for &literals in literal_lens {
        for &match_len in match_lens {
            let mut block = [0u8; 2048];
            let mut expected = [0u8; 2048];
            let (mut n, mut e) = (0, 0);
            for round in 0..3usize {
                let token_at = n;
                n += 1;
                let mut token = (literals.min(15) << 4) | (match_len - 4).min(15);
                if literals >= 15 {
                    push_length(&mut block, &mut n, literals - 15);
                }
                for i in 0..literals {
                    let b = (i * 7 + round * 13) as u8;
                    block[n] = b;
                    expected[e] = b;
                    n += 1;
                    e += 1;
                }
                let offset = 1 + (round * 5) % e;
                block[n..n + 2].copy_from_slice(&(offset as u16).to_le_bytes());
                n += 2;
                if match_len - 4 >= 15 {
                    push_length(&mut block, &mut n, match_len - 4 - 15);
                }
                for _ in 0..match_len {
                    expected[e] = expected[e - offset];
                    e += 1;
                }
                token &= 0xff;
                block[token_at] = token as u8;
            }
            block[n] = 0x50;
            block[n + 1..n + 6].copy_from_slice(b"tail!");
            expected[e..e + 5].copy_from_slice(b"tail!");
            n += 6;
            e += 5;
            for cap in [e, 2048] {
                for backend in SimdBackend::available() {
                    let mut out = [0u8; 2048];
                    let r = decompress_into_with(backend, &block[..n], &mut out[..cap]);
                    assert_eq!(r, Ok(e), "{backend} ll {literals} ml {match_len} cap {cap}");
                    assert_eq!(
                        &out[..e],
                        &expected[..e],
                        "{backend} ll {literals} ml {match_len}"
                    );
                }
            }
        }
    }
}

/// Runs one copy_match_wild on a buffer and returns it.
fn match_copy<K: Kernels>(seed: &[u8; 600], start: usize, offset: usize, len: usize) -> [u8; 600] {
    let mut buf = *seed;
    assert!(start >= offset && start + len + MATCH_SLACK <= buf.len());
    // SAFETY: the range op - offset .. op + len + MATCH_SLACK lies in buf (asserted).
    unsafe { K::copy_match_wild(buf.as_mut_ptr().add(start), offset, len) };
    buf
}

fn count<K: Kernels>(a: &[u8], b: &[u8]) -> usize {
    assert!(b.len() >= a.len());
    // SAFETY: a and b are whole slices, b at least as long as a.
    unsafe { K::count_equal(a.as_ptr(), b.as_ptr(), a.as_ptr().add(a.len())) }
}

/// Checks one backend's kernels against the scalar ones, byte for byte: the match copy must leave
/// the match bytes equal (the slack it may overwrite differs between widths and is not compared).
fn kernels_agree<K: Kernels>() {
    let seed = noise(600, 99);
    let mut base = [0u8; 600];
    base.copy_from_slice(&seed[..600]);
    let lens: &[usize] = if cfg!(miri) {
        &[4, 17, 40]
    } else {
        &[4, 5, 8, 15, 16, 17, 18, 31, 32, 33, 63, 64, 65, 100, 200]
    };
    let max_offset = if cfg!(miri) { 20 } else { 80 };
    for offset in 1..=max_offset {
        for &len in lens {
            let start = 100;
            let s = match_copy::<Scalar>(&base, start, offset, len);
            let k = match_copy::<K>(&base, start, offset, len);
            assert_eq!(
                s[..start + len],
                k[..start + len],
                "offset {offset} len {len}"
            );
            for i in start..start + len {
                assert_eq!(s[i], s[i - offset]);
            }
        }
    }
    // count_equal: a mismatch at every position, and none.
    let n = if cfg!(miri) { 70 } else { 300 };
    for len in [0, 1, 7, 8, 9, 31, 32, 33, 63, 64, 65, n] {
        let a = &base[..len];
        let mut b = [0u8; 600];
        b[..len].copy_from_slice(a);
        assert_eq!(count::<K>(a, &b[..len]), len);
        assert_eq!(count::<Scalar>(a, &b[..len]), len);
        for at in 0..len {
            b[at] ^= 0x40;
            assert_eq!(count::<K>(a, &b[..len]), at);
            assert_eq!(count::<Scalar>(a, &b[..len]), at);
            b[at] ^= 0x40;
        }
    }
    // copy_match_short: every match of 4..=18 bytes, in a buffer that ends exactly at its reach
    // (so Miri sees any write past it), leaves the same match bytes as the scalar kernel and
    // nothing changed before the match.
    let max_offset = if cfg!(miri) { 12 } else { 40 };
    let lengths = 4..=18usize;
    for offset in 1..=max_offset {
        for len in lengths.clone().step_by(if cfg!(miri) { 7 } else { 1 }) {
            let start = 48;
            let mut s = [0u8; 48 + SHORT_MATCH_REACH];
            s.copy_from_slice(&base[..48 + SHORT_MATCH_REACH]);
            let mut k = s;
            // SAFETY: start - offset .. start + SHORT_MATCH_REACH is each whole buffer's tail.
            unsafe {
                Scalar::copy_match_short(s.as_mut_ptr().add(start), offset, len);
                K::copy_match_short(k.as_mut_ptr().add(start), offset, len);
            }
            assert_eq!(
                s[..start + len],
                k[..start + len],
                "short, offset {offset}, len {len}"
            );
            assert_eq!(s[..start], base[..start]);
            for i in start..start + len {
                assert_eq!(s[i], s[i - offset], "short, offset {offset}, len {len}");
            }
        }
    }
    // copy_wild32 copies at least the bytes asked for.
    for len in [0usize, 1, 31, 32, 33, 100] {
        let mut d1 = [0u8; 200];
        let mut d2 = [0u8; 200];
        // SAFETY: len + 31 < 200 for both buffers and the source.
        unsafe {
            Scalar::copy_wild32(d1.as_mut_ptr(), base.as_ptr(), len);
            K::copy_wild32(d2.as_mut_ptr(), base.as_ptr(), len);
        }
        assert_eq!(d1[..len], base[..len]);
        assert_eq!(d2[..len], base[..len]);
    }
}

#[test]
fn scalar_kernels_are_right() {
    kernels_agree::<Scalar>();
}

#[cfg(target_arch = "x86_64")]
#[test]
fn avx2_kernels_match_scalar() {
    if SimdBackend::Avx2.is_available() {
        kernels_agree::<super::avx2::Avx2>();
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn avx512_kernels_match_scalar() {
    if SimdBackend::Avx512.is_available() {
        kernels_agree::<super::avx512::Avx512>();
    }
}

#[cfg(target_arch = "aarch64")]
#[test]
fn neon_kernels_match_scalar() {
    assert!(SimdBackend::Neon.is_available());
    kernels_agree::<super::neon::Neon>();
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: if cfg!(miri) { 4 } else { 256 },
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_inputs_round_trip_with_identical_blocks(
        data in proptest::collection::vec(any::<u8>(), 0..if cfg!(miri) { 64 } else { 5000 }),
    ) {
        let mut block = vec_block();
        let mut reference = vec_block();
        let n = Compressor::with_backend(SimdBackend::Scalar).compress_into(&data, &mut reference).unwrap();
        for backend in SimdBackend::available() {
            let m = Compressor::with_backend(backend).compress_into(&data, &mut block).unwrap();
            prop_assert_eq!(&block[..m], &reference[..n]);
            let mut back = [0u8; 5000];
            prop_assert_eq!(decompress_into_with(backend, &block[..m], &mut back[..data.len()]).unwrap(), data.len());
            prop_assert_eq!(&back[..data.len()], &data[..]);
        }
    }

    #[test]
    fn structured_inputs_round_trip(
        pieces in proptest::collection::vec((0usize..64, 1usize..300, any::<u8>()), 1..40),
    ) {
        // Runs, repeats of earlier bytes at random distances, and fresh bytes.
        let mut data = [0u8; 8192];
        let mut len = 0;
        for (kind, n, byte) in pieces {
            let n = n.min(8192 - len);
            for i in 0..n {
                data[len + i] = match kind % 3 {
                    0 => byte,
                    1 if len > kind => data[len + i - kind - 1],
                    _ => byte.wrapping_add((i * 7) as u8),
                };
            }
            len += n;
        }
        let mut reference = vec_block();
        let n = Compressor::with_backend(SimdBackend::Scalar).compress_into(&data[..len], &mut reference).unwrap();
        for backend in SimdBackend::available() {
            let mut block = vec_block();
            let m = Compressor::with_backend(backend).compress_into(&data[..len], &mut block).unwrap();
            prop_assert_eq!(&block[..m], &reference[..n]);
            let mut back = [0u8; 8192];
            prop_assert_eq!(decompress_into_with(backend, &block[..m], &mut back[..len]).unwrap(), len);
            prop_assert_eq!(&back[..len], &data[..len]);
        }
    }

    #[test]
    fn arbitrary_blocks_never_panic_and_agree_across_backends(
        block in proptest::collection::vec(any::<u8>(), 0..if cfg!(miri) { 32 } else { 600 }),
        cap in 0usize..2048,
    ) {
        let mut out = [0u8; 2048];
        let reference = decompress_into_with(SimdBackend::Scalar, &block, &mut out[..cap]);
        let expected = out;
        for backend in SimdBackend::available() {
            let mut out = [0u8; 2048];
            let r = decompress_into_with(backend, &block, &mut out[..cap]);
            prop_assert_eq!(r, reference);
            if let Ok(n) = r {
                prop_assert_eq!(&out[..n], &expected[..n]);
            }
        }
    }
}

fn vec_block() -> [u8; 8300] {
    [0u8; 8300]
}
