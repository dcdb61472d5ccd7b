//! Fuzzes the Zstandard decoder: any input must give `Ok` with at most the destination's length, or
//! `Err`; never a panic, an out-of-bounds access or a hang. The first byte chooses the destination
//! size and whether the input's tail serves as a dictionary (raw content, or the zstd format when it
//! starts with the dictionary magic), so dictionary parsing and matches into it are fuzzed too.
//! Seeded by `cargo xtask fuzz zstd_decompress` with the shared vectors when present.

#![no_main]

use libfuzzer_sys::fuzz_target;
use trueno_zram_core::zstd::Decompressor;

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let capacity = match control & 3 {
        0 => 4096,
        1 => 64 * 1024,
        2 => usize::from(control) * 17,
        _ => 1 << 20,
    };
    let mut dst = vec![0u8; capacity];
    // The seeds are whole frames: decode the input as it is, then with the control byte applied.
    check(&mut Decompressor::new(), data, &mut dst);
    if control & 0x80 != 0 && rest.len() > 8 {
        let split = usize::from(control & 0x7C) * 8 % rest.len();
        let (frames, dictionary) = rest.split_at(split);
        if let Ok(mut d) = Decompressor::with_dictionary(dictionary) {
            check(&mut d, frames, &mut dst);
        }
    } else {
        check(&mut Decompressor::new(), rest, &mut dst);
    }
});

fn check(d: &mut Decompressor<'_>, src: &[u8], dst: &mut [u8]) {
    if let Ok(n) = d.decompress_into(src, dst) {
        assert!(n <= dst.len());
    }
}
