//! The pages the suite compresses: the real pages embedded at build time, then generated ones that
//! cover every path of a codec (same-fill, incompressible, text, structured, sparse).

use trueno_zram_core::{PAGE_SIZE, Page};

/// What a page is, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PageKind {
    /// A page from the file embedded at build time (real pages, or generated text without the corpus).
    Embedded,
    /// All zero bytes.
    Zero,
    /// One 8-byte word repeated.
    Pattern,
    /// Pseudo-random bytes: nothing to find, the page is stored.
    Random,
    /// Words and lines, as a text file or a heap of strings.
    Text,
    /// Ascending little-endian counters, as an array of indices.
    Counters,
    /// Zeros with a few scattered words, as a mostly idle heap page.
    Sparse,
    /// Text in the first half and random bytes in the second.
    HalfRandom,
}

/// The generated pages, in the order the suite runs them after the embedded ones.
pub const GENERATED: [PageKind; 7] = [
    PageKind::Zero,
    PageKind::Pattern,
    PageKind::Random,
    PageKind::Text,
    PageKind::Counters,
    PageKind::Sparse,
    PageKind::HalfRandom,
];

/// The embedded pages followed by the generated ones.
#[derive(Debug, Clone, Copy)]
pub struct PageSet<'a> {
    embedded: &'a [u8],
}

impl<'a> PageSet<'a> {
    /// A set over `embedded`, a concatenation of pages; a short tail is ignored.
    pub const fn new(embedded: &'a [u8]) -> Self {
        Self { embedded }
    }

    /// Whole pages in the embedded bytes.
    pub const fn embedded_len(&self) -> usize {
        self.embedded.len() / PAGE_SIZE
    }

    /// Pages in the set.
    pub const fn len(&self) -> usize {
        self.embedded_len() + GENERATED.len()
    }

    /// Whether the set is empty (it never is: the generated pages are always there).
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes page `index` into `out` and says what it is; `None` past the end.
    pub fn load(&self, index: usize, out: &mut Page) -> Option<PageKind> {
        if let Some(chunk) = self.embedded.chunks_exact(PAGE_SIZE).nth(index) {
            out.copy_from_slice(chunk);
            return Some(PageKind::Embedded);
        }
        let kind = *GENERATED.get(index.checked_sub(self.embedded_len())?)?;
        generate(kind, out);
        Some(kind)
    }
}

/// Writes a generated page of `kind` into `out` (an embedded kind gets text).
pub fn generate(kind: PageKind, out: &mut Page) {
    match kind {
        PageKind::Zero => out.fill(0),
        PageKind::Pattern => {
            for w in out.chunks_exact_mut(8) {
                w.copy_from_slice(&0x0123_4567_89ab_cdef_u64.to_le_bytes());
            }
        }
        PageKind::Random => random_bytes(0x9e37_79b9_7f4a_7c15, out),
        PageKind::Text | PageKind::Embedded => text_page(0x5eed, out),
        PageKind::Counters => {
            for (i, w) in (0u32..).zip(out.chunks_exact_mut(4)) {
                w.copy_from_slice(&(0x1000 + i * 3).to_le_bytes());
            }
        }
        PageKind::Sparse => {
            out.fill(0);
            let mut rng = SplitMix64(0xfeed);
            for _ in 0..24 {
                let at = usize::from(rng.next_u16()) % (PAGE_SIZE / 8) * 8;
                out[at..at + 8].copy_from_slice(&rng.next_u64().to_le_bytes());
            }
        }
        PageKind::HalfRandom => {
            let (text, noise) = out.split_at_mut(PAGE_SIZE / 2);
            let mut full = [0u8; PAGE_SIZE];
            text_page(0xabc, &mut full);
            text.copy_from_slice(&full[..PAGE_SIZE / 2]);
            random_bytes(0x1234_5678, noise);
        }
    }
}

const WORDS: [&str; 32] = [
    "the", "page", "memory", "compress", "zram", "swap", "kernel", "block", "value", "return",
    "struct", "impl", "fn", "let", "match", "error", "offset", "length", "buffer", "table", "hash",
    "stream", "frame", "window", "literal", "sequence", "of", "and", "to", "in", "a", "data",
];

/// A text-like page from `seed`: lines of words from a small vocabulary with numbers between them,
/// compressible as source code or logs are. Used by xtask for the embedded file when the shared corpus
/// is absent.
pub fn text_page(seed: u64, out: &mut Page) {
    let mut rng = SplitMix64(seed);
    let mut at = 0;
    let mut column = 0;
    while at < PAGE_SIZE {
        let r = rng.next_u16();
        let word = WORDS[usize::from(r) % WORDS.len()];
        let mut number = [0u8; 5];
        let token: &[u8] = if r.is_multiple_of(7) {
            // A small decimal number now and then, as logs and code have.
            let mut n = r / 7 % 10_000;
            let mut len = 0;
            loop {
                number[4 - len] = b'0' + u8::try_from(n % 10).unwrap_or(0);
                len += 1;
                n /= 10;
                if n == 0 {
                    break;
                }
            }
            &number[5 - len..]
        } else {
            word.as_bytes()
        };
        let (separator, line_break) = if column > 60 {
            (b'\n', true)
        } else {
            (b' ', false)
        };
        for &b in token.iter().chain(core::iter::once(&separator)) {
            if let Some(slot) = out.get_mut(at) {
                *slot = b;
            }
            at += 1;
        }
        column = if line_break {
            0
        } else {
            column + token.len() + 1
        };
    }
}

fn random_bytes(seed: u64, out: &mut [u8]) {
    let mut rng = SplitMix64(seed);
    for chunk in out.chunks_mut(8) {
        let bytes = rng.next_u64().to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
}

/// SplitMix64: a small, well-mixed generator, the same on every target.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn next_u16(&mut self) -> u16 {
        // The top 16 bits of a 64-bit value always fit.
        u16::try_from(self.next_u64() >> 48).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_lists_embedded_then_generated() {
        let mut embedded = [0u8; PAGE_SIZE * 2 + 5];
        embedded[PAGE_SIZE] = 9;
        let set = PageSet::new(&embedded);
        assert_eq!(set.embedded_len(), 2);
        assert_eq!(set.len(), 2 + GENERATED.len());
        let mut page = [1u8; PAGE_SIZE];
        assert_eq!(set.load(1, &mut page), Some(PageKind::Embedded));
        assert_eq!(page[0], 9);
        assert_eq!(set.load(2, &mut page), Some(PageKind::Zero));
        assert_eq!(page, [0u8; PAGE_SIZE]);
        assert_eq!(set.load(set.len(), &mut page), None);
    }

    #[test]
    fn text_is_printable_lines_and_depends_on_seed() {
        let (mut a, mut b) = ([0u8; PAGE_SIZE], [0u8; PAGE_SIZE]);
        text_page(1, &mut a);
        text_page(2, &mut b);
        assert_ne!(a, b);
        assert!(a.iter().all(|&c| c == b'\n' || (b' '..=b'z').contains(&c)));
        assert!(a.iter().filter(|&&c| c == b'\n').count() > 40);
    }

    #[test]
    fn random_and_sparse_pages_are_not_same_fill() {
        for kind in [PageKind::Random, PageKind::Sparse, PageKind::HalfRandom] {
            let mut p = [0u8; PAGE_SIZE];
            generate(kind, &mut p);
            assert!(p.chunks_exact(8).any(|w| w != &p[..8]), "{kind:?}");
        }
    }
}
