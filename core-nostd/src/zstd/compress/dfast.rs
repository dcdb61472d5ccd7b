//! The double-fast match finder (level 3): a table of 8-byte hashes for long matches and one
//! of short hashes for the rest; a short hit is checked against a long one at the next position.

use super::matching::{count_long, hash, low32, read32, read64, record_match, table_entry};
use super::sequences::SeqStore;

/// log2 of the long table: 8192 slots of 16 bits, 16 KiB.
pub const LONG_LOG: u32 = 13;
/// log2 of the short table: 8192 slots of 16 bits, 16 KiB.
pub const SHORT_LOG: u32 = 13;

/// The step from one position to the next grows by one every `1 << SKIP_LOG` literals: a
/// constant, so that the hot loop shifts by an immediate.
const SKIP_LOG: u32 = 7;

/// The long hash of `v`: its 8 bytes.
#[inline(always)]
fn long_hash(v: u64) -> usize {
    hash(v, 8, LONG_LOG)
}

/// The short hash of `v`: its low `SB` bytes.
#[inline(always)]
fn short_hash<const SB: u32>(v: u64) -> usize {
    hash(v, SB, SHORT_LOG)
}

/// How the double-fast finder searches at one level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DfastParams {
    /// Bytes hashed into the short table (4 or 5).
    pub short_bytes: u32,
}

/// State of the double-fast finder.
///
/// As the fast finder's table (see `fast`), both tables are cleared for every window and hold
/// plain positions: every entry is a position before the one being searched (an empty slot is
/// position 0, which the search never starts at), so a candidate is compared with no validity
/// test and no decoding. Clearing 32 KiB per page costs less than the tests it saves.
#[derive(Clone)]
pub struct Dfast {
    long: [u16; 1 << LONG_LOG],
    short: [u16; 1 << SHORT_LOG],
}

impl Dfast {
    /// An empty finder.
    pub const fn new() -> Self {
        Self {
            long: [0; 1 << LONG_LOG],
            short: [0; 1 << SHORT_LOG],
        }
    }

    /// Starts a window: every slot holds position 0 (what no search starts at).
    pub fn begin(&mut self) {
        self.long.fill(0);
        self.short.fill(0);
    }

    /// Inserts position `pos` in both tables.
    ///
    /// # Safety
    /// `pos + 8 <= window.len()`.
    #[inline(always)]
    unsafe fn insert<const SB: u32>(&mut self, window: &[u8], pos: usize) {
        // SAFETY: as the caller guarantees.
        let v = unsafe { read64(window, pos) };
        self.long[long_hash(v)] = table_entry(pos);
        self.short[short_hash::<SB>(v)] = table_entry(pos);
    }

    /// Inserts position `pos` in the short table only.
    ///
    /// # Safety
    /// `pos + 8 <= window.len()`.
    #[inline(always)]
    unsafe fn insert_short<const SB: u32>(&mut self, window: &[u8], pos: usize) {
        // SAFETY: as the caller guarantees.
        let v = unsafe { read64(window, pos) };
        self.short[short_hash::<SB>(v)] = table_entry(pos);
    }

    /// Inserts the positions of `window[..end]` (a dictionary's content) as history.
    pub fn prime(&mut self, window: &[u8], end: usize, short_bytes: u32) {
        for p in 0..end.min(window.len().saturating_sub(8)) {
            // SAFETY: p < window.len() - 8.
            unsafe {
                match short_bytes {
                    4 => self.insert::<4>(window, p),
                    _ => self.insert::<5>(window, p),
                }
            }
        }
    }

    /// Finds the sequences of `window[start..]` and stores them with the trailing literals.
    #[inline(always)]
    pub fn compress_block(
        &mut self,
        window: &[u8],
        start: usize,
        p: DfastParams,
        store: &mut SeqStore,
    ) {
        // One loop per short hash width, so that the width is a constant in the hot path.
        match p.short_bytes {
            4 => self.run::<4>(window, start, store),
            _ => self.run::<5>(window, start, store),
        }
    }

    /// The search. Every table entry is a position before the one searched (struct docs).
    #[inline(always)]
    fn run<const SB: u32>(&mut self, window: &[u8], start: usize, store: &mut SeqStore) {
        let end = window.len();
        let mut anchor = start;
        // The search starts at position 1 at the least: see below.
        if start.max(1) + 9 < end {
            let ilimit = end - 9;
            // Position 0 has no history to match, and every empty slot stands for it: the
            // search starts at 1, so that every candidate lies before the position searched.
            if start == 0 {
                // SAFETY: 0 + 8 <= 10 < end.
                unsafe { self.insert::<SB>(window, 0) };
            }
            let mut cur = start.max(1);
            // Carried from one position to the next: its long hash and its long candidate
            // (loaded early, as the next position's is below). The rest is read or computed
            // again at each position: fewer values live across the loop.
            // SAFETY: cur < ilimit = end - 9.
            let mut hl = long_hash(unsafe { read64(window, cur) });
            let mut long_cand = usize::from(self.long[hl]);
            // The repeat offset (at least 1), checked where its source lies inside the window.
            let mut rep = store.reps[0] as usize;
            loop {
                // SAFETY: cur < ilimit = end - 9.
                let v = unsafe { read64(window, cur) };
                let hs = short_hash::<SB>(v);
                let short_cand = usize::from(self.short[hs]);
                self.long[hl] = table_entry(cur);
                self.short[hs] = table_entry(cur);
                // The next position's long candidate is loaded before this one's are compared
                // (and after this insertion, which it must see), so that a mispredicted
                // comparison does not also wait on that load.
                let next = cur + 1 + ((cur - anchor) >> SKIP_LOG);
                // SAFETY: the read is clamped below ilimit.
                let hl_next = long_hash(unsafe { read64(window, next.min(ilimit - 1)) });
                let long_next = usize::from(self.long[hl_next]);
                debug_assert!(long_cand < cur && short_cand < cur);
                // SAFETY: each candidate is an earlier position than cur, so 8 bytes from it
                // fit as they fit from cur.
                let (at_long, at_short) =
                    unsafe { (read64(window, long_cand), read32(window, short_cand)) };
                let (mpos, offset, len);
                // The repeat offset one byte ahead, as its literals are then never empty. Its
                // source is in the window from a few bytes into it on (a predictable branch),
                // where `cur + 1 - rep` does not wrap, and is then at most cur.
                let rep_src = (cur + 1).wrapping_sub(rep);
                // SAFETY: rep_src <= cur, and cur + 1 + 4 <= end.
                if rep_src <= cur && unsafe { read32(window, rep_src) } == low32(v >> 8) {
                    mpos = rep_src;
                    offset = rep;
                    len = 4 + count_long(window, cur + 5, mpos + 4, end);
                    cur += 1;
                } else if at_long == v {
                    mpos = long_cand;
                    offset = cur - long_cand;
                    len = 8 + count_long(window, cur + 8, mpos + 8, end);
                } else if at_short == low32(v) {
                    // A long match one byte later beats the short one here.
                    // SAFETY: cur + 1 + 8 <= end.
                    let v1 = unsafe { read64(window, cur + 1) };
                    let hl1 = long_hash(v1);
                    let long1 = usize::from(self.long[hl1]);
                    self.long[hl1] = table_entry(cur + 1);
                    // SAFETY: long1 < cur + 1, as every entry before this insertion.
                    if unsafe { read64(window, long1) } == v1 {
                        mpos = long1;
                        offset = cur + 1 - long1;
                        len = 8 + count_long(window, cur + 9, mpos + 8, end);
                        cur += 1;
                    } else {
                        mpos = short_cand;
                        offset = cur - short_cand;
                        len = 4 + count_long(window, cur + 4, mpos + 4, end);
                    }
                } else {
                    if next >= ilimit {
                        break;
                    }
                    cur = next;
                    hl = hl_next;
                    long_cand = long_next;
                    continue;
                }
                let (match_start, mut ip);
                (match_start, ip) =
                    record_match::<false>(store, window, anchor, (cur, mpos, offset), len);
                anchor = ip;
                if ip >= ilimit {
                    break;
                }
                // The match's second position goes into the short table only: more ratio than a
                // search for a longer short match one byte on gave (files.bin 2.6022 against
                // 2.6010), at 2% to 3% less time.
                // SAFETY: here ip < ilimit = end - 9, and a match is at least 4 bytes, so every
                // position inserted or read below is at most ip and 8 bytes from it fit.
                unsafe {
                    self.insert_short::<SB>(window, match_start + 1);
                    self.insert::<SB>(window, match_start + 2);
                    self.insert::<SB>(window, ip - 2);
                    self.insert::<SB>(window, ip - 1);
                }
                loop {
                    let r = store.reps[1] as usize;
                    // SAFETY: ip - r < ip < ilimit (the first read only when ip >= r).
                    if ip < r || unsafe { read32(window, ip) != read32(window, ip - r) } {
                        break;
                    }
                    let len = 4 + count_long(window, ip + 4, ip - r + 4, end);
                    // SAFETY: ip < ilimit.
                    unsafe { self.insert::<SB>(window, ip) };
                    #[allow(clippy::cast_possible_truncation)]
                    store.push::<false>(&[], r as u32, len);
                    ip += len;
                    anchor = ip;
                    if ip >= ilimit {
                        break;
                    }
                }
                if ip >= ilimit {
                    break;
                }
                rep = store.reps[0] as usize;
                cur = ip;
                // SAFETY: ip < ilimit = end - 9.
                hl = long_hash(unsafe { read64(window, ip) });
                long_cand = usize::from(self.long[hl]);
            }
        }
        store.push_literals(&window[anchor..end]);
    }
}

impl Default for Dfast {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::super::sequences::SeqStore;
    use super::{Dfast, DfastParams};
    use crate::zstd::Compressor;

    /// A page of noise with `word` at position 0 and its first `copied` bytes again at `at`.
    fn page_with(word: &[u8; 8], copied: usize, at: &[usize], seed: u32) -> [u8; 4096] {
        let mut page = [0u8; 4096];
        let mut x = seed;
        for b in &mut page {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            *b = (x >> 24) as u8;
        }
        page[..8].copy_from_slice(word);
        for &p in at {
            page[p..p + copied].copy_from_slice(&word[..copied]);
        }
        page
    }

    /// An empty slot stands for position 0, which is a real position: a match against it is
    /// found, long (8 bytes copied) or short (4), on a fresh finder and on one reused.
    #[test]
    fn matches_reach_position_zero() {
        let mut finder = Dfast::new();
        let mut store = SeqStore::new();
        // Early in the page, where the search still tries every position.
        for (copied, at) in [(8, 100), (4, 200), (8, 151)] {
            let page = page_with(b"ABCDEFGH", copied, &[at], 7);
            finder.begin();
            store.clear();
            let params = DfastParams { short_bytes: 4 };
            finder.compress_block(&page, 0, params, &mut store);
            let found = store.seqs[..store.count]
                .iter()
                .any(|s| s.off_base() == at as u32 + 3 && s.match_len() as usize >= copied);
            assert!(found, "{copied} bytes at {at} match position 0");
        }
    }

    /// The tables a page leaves behind never change the next page's frame: a reused compressor
    /// writes what a fresh one does, page after page.
    #[test]
    fn earlier_pages_leave_no_trace() {
        let pages: [[u8; 4096]; 3] = [
            page_with(b"ABCDEFGH", 8, &[8, 100, 2000, 4000], 1),
            page_with(b"ABCDEFGH", 8, &[16, 24, 900, 2048], 2),
            page_with(b"ABCDzzzz", 4, &[50, 300, 3500], 1),
        ];
        let mut reused = Compressor::new(3).unwrap();
        for page in pages.iter().chain(&pages) {
            let (mut a, mut b) = ([0u8; 4200], [0u8; 4200]);
            let la = reused.compress_into(page, &mut a).unwrap();
            let lb = Compressor::new(3)
                .unwrap()
                .compress_into(page, &mut b)
                .unwrap();
            assert_eq!(a[..la], b[..lb]);
        }
    }
}
