//! Any input up to 80 KiB at the level its first byte picks: our frame decodes to the input with our
//! decoder, compressing again gives the same bytes, and a destination one byte short of the frame is
//! refused, never overrun.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trueno_zram_core::zstd;

fuzz_target!(|data: &[u8]| {
    let Some((&choice, data)) = data.split_first() else {
        return;
    };
    let data = &data[..data.len().min(80 * 1024)];
    // 17 levels: -7..=9.
    let level = i8::try_from(choice % 17).unwrap_or(0) - 7;
    let mut c = zstd::Compressor::new(level)
        .expect("every level in range")
        .with_checksum(choice & 0x80 != 0);
    let mut frame = vec![0u8; zstd::Compressor::bound(data.len())];
    let n = c
        .compress_into(data, &mut frame)
        .expect("a bound-sized destination always suffices");
    frame.truncate(n);
    let mut again = vec![0u8; n];
    assert_eq!(c.compress_into(data, &mut again), Ok(n));
    assert_eq!(again, frame, "the same input gives the same frame");
    let mut back = vec![0u8; data.len()];
    assert_eq!(zstd::decompress_into(&frame, &mut back), Ok(data.len()));
    assert_eq!(back, data);
    let mut short = vec![0u8; n - 1];
    assert!(c.compress_into(data, &mut short).is_err());
});
