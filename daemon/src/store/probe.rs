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
//!
//! Most pages are decided by a quarter of the sample: the runs of 8 blocks spread over the page
//! (128 bytes) go first, and a page whose quick sample measures 6.2 bits or more is skipped (random
//! 128-byte samples measure 6.55 typically and never under 6.3 in 20000 pages; fio's buffers, which
//! hold some zero bytes at fixed places, 6.2 or more in 93% of pages), one under 5.5 bits is
//! compressed; only the pages between take the rest of the sample and the rule above. On the shared
//! corpus this decides every page as the whole sample does, but 2 pages of `files.bin` that LZ4
//! does not shrink either (10 pages of `memdump.bin` and 169 of `files.bin` need the whole sample),
//! at a quarter of the probe's cost for random data, whose pages are stored as they are, so that
//! the probe is most of their cost besides the copy.

use trueno_zram::Page;
use trueno_zram::entropy::SampleHistogram;

/// Bytes per sampled run.
const RUN: usize = 16;
/// One run per block of this many bytes.
const BLOCK: usize = 128;
/// Blocks per page.
const BLOCKS: usize = trueno_zram::PAGE_SIZE / BLOCK;
/// The quick sample takes the runs of blocks 0, 5, 10, ... (modulo 32): 8 blocks spread over
/// the page whose runs lie at all 8 offsets inside their blocks (data with a structure of its own,
/// such as fio's buffers, must not be seen at the same place in every block).
const QUICK_BLOCKS: usize = 8;
const QUICK_STEP: usize = 5;
/// Sample entropy, in 1/65536 bit per byte, from which a page is skipped: 6.8 bits.
const SKIP_FROM_Q16: u32 = 68 * 65536 / 10;
/// Quick-sample entropy from which a page is skipped at once: 6.2 bits.
const QUICK_SKIP_FROM_Q16: u32 = 62 * 65536 / 10;
/// Quick-sample entropy under which a page is compressed at once: 5.5 bits.
const QUICK_KEEP_BELOW_Q16: u32 = 55 * 65536 / 10;

/// The blocks of the quick sample, one bit per block (a page has 32 blocks).
const QUICK_MASK: u32 = {
    assert!(BLOCKS <= 32);
    let mut mask = 0;
    let mut k = 0;
    while k < QUICK_BLOCKS {
        mask |= 1 << (k * QUICK_STEP % BLOCKS);
        k += 1;
    }
    mask
};

/// The blocks of the quick sample (`quick == true`) or the others.
fn blocks(quick: bool) -> impl Iterator<Item = usize> {
    (0..BLOCKS).filter(move |&b| (QUICK_MASK >> b & 1 == 1) == quick)
}

/// Adds the run of block `block` to `sample`.
fn add_run(sample: &mut SampleHistogram, page: &Page, block: usize) {
    let at = block * BLOCK + (block * 5 % (BLOCK / RUN)) * RUN;
    if let Some(run) = page.get(at..at + RUN) {
        sample.add(run);
    }
}

/// Whether `page` looks too random for LZ4 to be worth trying: its sample's byte entropy is at
/// least 6.8 bits, decided from the quick sample alone when that is clear.
pub fn looks_incompressible(page: &Page) -> bool {
    let mut sample = SampleHistogram::new();
    for block in blocks(true) {
        add_run(&mut sample, page, block);
    }
    let quick = sample.entropy_q16();
    if quick >= QUICK_SKIP_FROM_Q16 {
        return true;
    }
    if quick < QUICK_KEEP_BELOW_Q16 {
        return false;
    }
    for block in blocks(false) {
        add_run(&mut sample, page, block);
    }
    sample.entropy_q16() >= SKIP_FROM_Q16
}

/// The decision from the whole sample, as before the quick sample: for tests.
#[cfg(test)]
fn whole_sample_says_incompressible(page: &Page) -> bool {
    let mut sample = SampleHistogram::new();
    for block in 0..BLOCKS {
        add_run(&mut sample, page, block);
    }
    sample.entropy_q16() >= SKIP_FROM_Q16
}

#[cfg(test)]
mod tests {
    use super::*;
    use trueno_zram::{Algorithm, CompressorBuilder, PAGE_SIZE, PageCompressor};

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

    /// The quick sample decides every page of the shared corpus as the whole sample does.
    #[test]
    fn quick_sample_decides_the_corpus_as_the_whole_sample() {
        let dir = match std::env::var_os("TRUENO_SHARED") {
            Some(d) => std::path::PathBuf::from(d),
            None => std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
        };
        for name in ["memdump.bin", "files.bin"] {
            let Ok(bytes) = std::fs::read(dir.join("corpus").join(name)) else {
                eprintln!(
                    "skipped the probe's corpus check on {name}: ../shared/corpus/{name} is absent (it exists only beside the repository)"
                );
                continue;
            };
            let mut lz4 = CompressorBuilder::new()
                .algorithm(Algorithm::Lz4)
                .build()
                .unwrap();
            let mut differing = 0;
            for chunk in bytes.chunks_exact(PAGE_SIZE) {
                let page: &Page = chunk.try_into().unwrap_or(&[0; PAGE_SIZE]);
                let quick = looks_incompressible(page);
                if quick != whole_sample_says_incompressible(page) {
                    // Only pages that LZ4 would not shrink by an eighth may be decided otherwise.
                    let packed = lz4.compress(page).unwrap();
                    assert!(packed.payload().len() > PAGE_SIZE * 7 / 8, "{name}");
                    differing += 1;
                }
            }
            assert!(
                differing <= 2,
                "{name}: {differing} pages decided otherwise"
            );
        }
    }
}
