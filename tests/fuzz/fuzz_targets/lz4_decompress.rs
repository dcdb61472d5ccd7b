//! Hostile LZ4 blocks: the decoder must return (never panic, never touch memory outside its
//! buffers: the sanitizer watches), give the same result and bytes on every backend, and accept
//! everything liblz4's `LZ4_decompress_safe` accepts with the same output, except matches at
//! offset 0, which liblz4 lets through and we refuse (no encoder writes them).
//!
//! Input: two bytes of destination capacity (little-endian, up to 64 KiB), then the block.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trueno_zram_core::SimdBackend;
use trueno_zram_core::lz4;

fuzz_target!(|data: &[u8]| {
    let Some((cap, block)) = data.split_first_chunk::<2>() else {
        return;
    };
    let cap = usize::from(u16::from_le_bytes(*cap));
    // An exact-size buffer, so the sanitizer catches any access past the destination.
    let mut reference = vec![0u8; cap];
    let expected = lz4::decompress_into_with(SimdBackend::Scalar, block, &mut reference);
    for backend in SimdBackend::available() {
        let mut out = vec![0u8; cap];
        let got = lz4::decompress_into_with(backend, block, &mut out);
        assert_eq!(got, expected, "{backend}");
        if let Ok(n) = got {
            assert_eq!(out[..n], reference[..n], "{backend}");
        }
    }

    let mut theirs = vec![0u8; cap];
    // SAFETY: both buffers are valid for the lengths passed; liblz4 checks the block.
    let n = unsafe {
        lz4_sys::LZ4_decompress_safe(
            block.as_ptr().cast(),
            theirs.as_mut_ptr().cast(),
            i32::try_from(block.len()).unwrap_or(i32::MAX),
            i32::try_from(cap).unwrap_or(i32::MAX),
        )
    };
    let zero_offset = matches!(
        expected,
        Err(trueno_zram_core::Error::Lz4(lz4::Lz4Error::ZeroOffset { .. }))
    );
    if let (Ok(n), false) = (usize::try_from(n), zero_offset) {
        assert_eq!(expected, Ok(n), "liblz4 decodes this block");
        assert_eq!(theirs[..n], reference[..n]);
    }
});
