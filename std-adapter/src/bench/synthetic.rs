//! A built-in corpus for when the user has none: a deterministic mix of the page kinds found in
//! process memory, in proportions close to an anonymous-memory dump.

use crate::{PAGE_SIZE, Page, samefill};

/// A xorshift64 generator: deterministic, seedable, and plenty for synthetic data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A value below `n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const WORDS: [&str; 24] = [
    "the",
    "page",
    "memory",
    "compress",
    "kernel",
    "swap",
    "value",
    "return",
    "struct",
    "self",
    "function",
    "data",
    "index",
    "buffer",
    "error",
    "result",
    "string",
    "object",
    "list",
    "key",
    "\"name\":",
    "\"id\":",
    "null,",
    "true,",
];

/// Which kind each page is, by percentage band: zero 20, same-fill 5, text 25, pointer-rich
/// structures 20, sparse 15, random (incompressible) 15.
fn fill_page(rng: &mut Rng, page: &mut Page) {
    match rng.below(100) {
        0..20 => page.fill(0),
        20..25 => samefill::fill(page, rng.next()),
        25..50 => text(rng, page),
        50..70 => structures(rng, page),
        70..85 => sparse(rng, page),
        _ => page
            .iter_mut()
            .for_each(|b| *b = rng.next().to_le_bytes()[0]),
    }
}

fn text(rng: &mut Rng, page: &mut Page) {
    let mut at = 0;
    while at < PAGE_SIZE {
        let word = WORDS[usize::try_from(rng.below(WORDS.len() as u64)).unwrap_or(0)];
        for &b in word.as_bytes().iter().chain(b" ") {
            if let Some(slot) = page.get_mut(at) {
                *slot = b;
            }
            at += 1;
        }
    }
}

/// Heap-like records: a pointer, a small counter and a tag, as 8-byte little-endian words.
fn structures(rng: &mut Rng, page: &mut Page) {
    let base = 0x0000_7f00_0000_0000 | (rng.next() & 0xff_ffff_f000);
    for (i, record) in page.chunks_exact_mut(24).enumerate() {
        let i = i as u64;
        let fields = [base + i * 48, i + rng.below(4), 0x10 + (i % 3)];
        for (chunk, value) in record.chunks_exact_mut(8).zip(fields) {
            chunk.copy_from_slice(&value.to_le_bytes());
        }
    }
}

fn sparse(rng: &mut Rng, page: &mut Page) {
    page.fill(0);
    for _ in 0..rng.below(48) + 1 {
        let at = usize::try_from(rng.below(PAGE_SIZE as u64)).unwrap_or(0);
        if let Some(b) = page.get_mut(at) {
            *b = rng.next().to_le_bytes()[0];
        }
    }
}

/// `pages` synthetic pages from `seed`; the same arguments give the same pages.
pub fn synthetic_mix(pages: usize, seed: u64) -> Vec<Page> {
    let mut rng = Rng(seed | 1);
    let mut out = vec![[0u8; PAGE_SIZE]; pages];
    for page in &mut out {
        fill_page(&mut rng, page);
    }
    out
}

/// Splits bytes into whole pages; a short tail is padded with zeros so no data is dropped.
pub fn pages_from_bytes(bytes: &[u8]) -> Vec<Page> {
    bytes
        .chunks(PAGE_SIZE)
        .map(|chunk| {
            let mut page = [0u8; PAGE_SIZE];
            page[..chunk.len()].copy_from_slice(chunk);
            page
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_is_deterministic_and_mixed() {
        let a = synthetic_mix(400, 7);
        assert_eq!(a, synthetic_mix(400, 7));
        assert_ne!(a, synthetic_mix(400, 8));
        let same = a.iter().filter(|p| samefill::detect(p).is_some()).count();
        assert!((60..=140).contains(&same), "{same} same-fill pages of 400");
    }

    #[test]
    fn bytes_become_padded_pages() {
        let pages = pages_from_bytes(&[1u8; PAGE_SIZE + 10]);
        assert_eq!(pages.len(), 2);
        assert_eq!(pages[1][9], 1);
        assert_eq!(pages[1][10], 0);
        assert!(pages_from_bytes(&[]).is_empty());
    }
}
