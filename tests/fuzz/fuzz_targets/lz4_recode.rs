//! Hostile LZ4 blocks given to the recoder (`zstd::compress::Lz4Recoder`, what Adaptive does with
//! large LZ4 blocks): it must return (never panic, never touch memory outside its buffers: the
//! sanitizer watches), write the same frame on every backend and in place as into a second buffer,
//! refuse exactly the blocks our LZ4 decoder refuses (or that decode to more than 4096 bytes), and
//! write frames that our Zstandard decoder decodes to what the LZ4 decoder gives; with the policy's
//! entry point (`recode_in_place_with`), report what the block holds and write raw-literal frames
//! that decode as well.
//!
//! Input: the block.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trueno_zram_core::zstd::compress::{Lz4Recoder, Recode};
use trueno_zram_core::{Error, SimdBackend, lz4, zstd};

const MAX: usize = Lz4Recoder::MAX_CONTENT;

fuzz_target!(|block: &[u8]| {
    let mut content = vec![0u8; MAX];
    let decoded = lz4::decompress_into(block, &mut content);
    let mut reference = vec![0u8; 2 * MAX];
    let expected = Lz4Recoder::new()
        .with_backend(SimdBackend::Scalar)
        .recode_into(block, &mut reference);
    for backend in SimdBackend::available() {
        let mut frame = vec![0u8; 2 * MAX];
        let got = Lz4Recoder::new()
            .with_backend(backend)
            .recode_into(block, &mut frame);
        assert_eq!(got, expected, "{backend}");
        if let Ok(n) = got {
            assert_eq!(frame[..n], reference[..n], "{backend}");
        }
    }
    match (decoded, expected) {
        (Ok(len), Ok(n)) => {
            let mut out = vec![0u8; len];
            assert_eq!(zstd::decompress_into(&reference[..n], &mut out), Ok(len));
            assert_eq!(out, content[..len]);
            // In place: the same frame when it is shorter than the block, else refused.
            let mut buf = block.to_vec();
            match Lz4Recoder::new().recode_in_place(&mut buf, block.len()) {
                Ok(m) => assert_eq!(buf[..m], reference[..n]),
                Err(e) => {
                    assert!(matches!(e, Error::OutputTooSmall { .. }), "{e}");
                    assert!(n >= block.len());
                }
            }
            let mut recoder = Lz4Recoder::new();
            let mut seen = None;
            let mut raw = block.to_vec();
            let recoded = recoder.recode_in_place_with(&mut raw, block.len(), |p| {
                seen = Some(*p);
                Recode::RawLiterals
            });
            let parsed = seen.expect("a decodable block is parsed");
            assert_eq!((parsed.lz4_len, parsed.decoded), (block.len(), len));
            assert!(parsed.literals <= len && 4 * parsed.sequences <= len);
            match recoded {
                Ok(m) => {
                    assert!(m < block.len());
                    let mut out = vec![0u8; len];
                    assert_eq!(zstd::decompress_into(&raw[..m], &mut out), Ok(len));
                    assert_eq!(out, content[..len]);
                }
                Err(e) => assert!(matches!(e, Error::OutputTooSmall { .. }), "{e}"),
            }
        }
        (Ok(_), Err(e)) => assert!(matches!(e, Error::OutputTooSmall { .. }), "{e}"),
        (Err(_), Ok(_)) => panic!("a block that does not decode was recoded"),
        (Err(_), Err(_)) => {}
    }
});
