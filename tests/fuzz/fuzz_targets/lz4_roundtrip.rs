//! Any input up to 64 KiB: every backend writes the same block, liblz4 decodes it to the input, and
//! so do we; a destination one byte short of the block is refused, never overrun.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trueno_zram_core::SimdBackend;
use trueno_zram_core::lz4;

fuzz_target!(|data: &[u8]| {
    let data = &data[..data.len().min(lz4::MAX_INPUT_LEN)];
    let mut reference = vec![0u8; lz4::compress_bound(data.len())];
    let n = lz4::Compressor::with_backend(SimdBackend::Scalar)
        .compress_into(data, &mut reference)
        .expect("a bound-sized destination always suffices");
    reference.truncate(n);
    for backend in SimdBackend::available() {
        let mut block = vec![0u8; lz4::compress_bound(data.len())];
        let m = lz4::Compressor::with_backend(backend)
            .compress_into(data, &mut block)
            .expect("compress");
        assert_eq!(block[..m], reference[..], "{backend}");
        let mut back = vec![0u8; data.len()];
        assert_eq!(lz4::decompress_into_with(backend, &reference, &mut back), Ok(data.len()));
        assert_eq!(back, data);
    }
    let mut short = vec![0u8; n - 1];
    assert!(lz4::compress_into(data, &mut short).is_err());

    let mut theirs = vec![0u8; data.len()];
    // SAFETY: both buffers are valid for the lengths passed; liblz4 checks the block.
    let got = unsafe {
        lz4_sys::LZ4_decompress_safe(
            reference.as_ptr().cast(),
            theirs.as_mut_ptr().cast(),
            i32::try_from(n).unwrap_or(i32::MAX),
            i32::try_from(data.len()).unwrap_or(i32::MAX),
        )
    };
    assert_eq!(usize::try_from(got).ok(), Some(data.len()));
    assert_eq!(theirs, data);
});
