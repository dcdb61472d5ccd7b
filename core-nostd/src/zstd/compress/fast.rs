//! The fast match finder (levels -7 to 2): one hash table of recent positions, a repeat-offset
//! check before each lookup, and a step that grows with the distance from the last match, faster
//! still at negative levels.
//!
//! Unlike the other finders' tables, this one is cleared for every window and holds plain
//! positions: every entry is then a position before the one being searched (an empty slot is
//! position 0, which the search never starts at), so a candidate is compared with no validity
//! test. Clearing the table per page costs less than the two tests per position pair it saves.

use super::matching::{count_long, get64, hash, low32, read32, read64, record_match, table_entry};
use super::sequences::SeqStore;

/// log2 of the table size: 4096 slots of 16 bits, 8 KiB. Against 8192 slots, pages lose about
/// 0.1% of ratio (still above libzstd's at levels -1 and 1 on both corpora) for 2% to 3% of speed:
/// half the table to clear, and half the cache lines to touch.
pub const HASH_LOG: u32 = 12;

/// How the fast finder searches at one level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FastParams {
    /// Bytes hashed (4 to 6): more skips short matches and runs faster.
    pub hash_bytes: u32,
    /// Positions are tried in pairs (a byte and the next); this is the step from the second of a
    /// pair to the next pair at the start of a run of literals.
    pub step: usize,
    /// The step grows by one every `1 << skip_log` literals.
    pub skip_log: u32,
}

/// State of the fast finder.
#[derive(Clone)]
pub struct Fast {
    table: [u16; 1 << HASH_LOG],
}

impl Fast {
    /// An empty finder.
    pub const fn new() -> Self {
        Self {
            table: [0; 1 << HASH_LOG],
        }
    }

    /// Starts a window: every slot holds position 0 (what no search starts at).
    pub fn begin(&mut self) {
        self.table.fill(0);
    }

    /// Inserts the positions of `window[..end]` (a dictionary's content) as history.
    pub fn prime(&mut self, window: &[u8], end: usize, hash_bytes: u32) {
        for p in 0..end.min(window.len().saturating_sub(8)) {
            self.table[hash(get64(window, p), hash_bytes, HASH_LOG)] = table_entry(p);
        }
    }

    /// Finds the sequences of `window[start..]` (what precedes `start` is history already inserted)
    /// and stores them with the trailing literals.
    #[inline(always)]
    pub fn compress_block(
        &mut self,
        window: &[u8],
        start: usize,
        p: FastParams,
        store: &mut SeqStore,
    ) {
        // One loop per hash width, so that the width is a constant in the hot path; levels -1
        // and 1 (the ones most used) also get their step schedule as constants, which frees two
        // registers in the search loop. Level -1 and the 6-byte levels (-3 to -7) also count
        // the sequence codes as they store each sequence: their literals go raw, so the entropy
        // stage is mostly the sequences, and the counting fills the finder's stalls on
        // mispredicted branches instead of a pass of its own (measured 1% to 4% faster there; at
        // level 1 it was not, and level -2 shares its loop with level 2).
        match (p.hash_bytes, p.step, p.skip_log) {
            (5, 1, 6) => self.run::<5, true>(window, start, 1, 6, store),
            (5, 1, 7) => self.run::<5, false>(window, start, 1, 7, store),
            (4, ..) => self.run::<4, false>(window, start, p.step, p.skip_log, store),
            (5, ..) => self.run::<5, false>(window, start, p.step, p.skip_log, store),
            _ => self.run::<6, true>(window, start, p.step, p.skip_log, store),
        }
    }

    #[inline(always)]
    fn run<const HB: u32, const COUNT: bool>(
        &mut self,
        window: &[u8],
        start: usize,
        step: usize,
        skip_log: u32,
        store: &mut SeqStore,
    ) {
        if COUNT {
            store.count_codes_on_push();
        }
        let end = window.len();
        let mut anchor = start;
        if end < 10 || start + 9 >= end {
            store.push_literals(&window[anchor..]);
            return;
        }
        // Every read below starts before `ilimit`, so 8 bytes from it stay inside the window; the
        // second position of a pair (`ip0 + 1`) too, as pairs start before `ilimit - 1`.
        let ilimit = end - 8;
        // Position 0 has no history to match, and every empty slot stands for it: the search
        // starts at 1, so that every candidate lies before the position it is tried at.
        let mut ip0 = start.max(1);
        // SAFETY: ip0 <= start + 1 < ilimit.
        let mut v0 = unsafe { read64(window, ip0) };
        let mut h0 = hash(v0, HB, HASH_LOG);
        'search: loop {
            // Positions go in pairs, `ip0` and the next byte, then a step that grows with the
            // distance from the last match. The repeat offset is tried once per pair, at the
            // second byte (its literals are then never empty); a repeat match that starts at the
            // first is found there too, and extended back by `count_back`.
            let (mpos, offset, mut ip, len);
            let rep = store.reps[0] as usize;
            loop {
                let cand0 = usize::from(self.table[h0]);
                self.table[h0] = table_entry(ip0);
                let ip1 = ip0 + 1;
                // SAFETY: ip0 < ilimit - 1, so ip1 + 8 <= end.
                let v1 = unsafe { read64(window, ip1) };
                let h1 = hash(v1, HB, HASH_LOG);
                // Loaded after the first position's insertion, which it must see when the slots
                // are one. Every entry is a position before the current one (module docs), so
                // both candidates are compared as they are. The repeat offset is valid from a
                // few bytes into the window on: a predictable branch.
                let cand1 = usize::from(self.table[h1]);
                self.table[h1] = table_entry(ip1);
                debug_assert!(cand0 < ip0 && cand1 < ip1);
                // SAFETY: cand0 < ip0 < ilimit.
                let at_c0 = unsafe { read32(window, cand0) };
                // SAFETY: ip1 - rep < ip1 < ilimit.
                if ip1 >= rep && unsafe { read32(window, ip1 - rep) } == low32(v1) {
                    (ip, mpos, offset) = (ip1, ip1 - rep, rep);
                    len = 4 + count_long(window, ip + 4, mpos + 4, end);
                    break;
                }
                if at_c0 == low32(v0) {
                    (ip, mpos, offset) = (ip0, cand0, ip0 - cand0);
                    len = 4 + count_long(window, ip + 4, mpos + 4, end);
                    break;
                }
                let next = ip1 + step + ((ip1 - anchor) >> skip_log);
                // SAFETY: cand1 < ip1 < ilimit.
                let at_c1 = unsafe { read32(window, cand1) };
                if at_c1 == low32(v1) {
                    (ip, mpos, offset) = (ip1, cand1, ip1 - cand1);
                    len = 4 + count_long(window, ip + 4, mpos + 4, end);
                    break;
                }
                if next >= ilimit - 1 {
                    break 'search;
                }
                ip0 = next;
                // SAFETY: ip0 < ilimit - 1.
                v0 = unsafe { read64(window, ip0) };
                h0 = hash(v0, HB, HASH_LOG);
            }
            let match_start;
            (match_start, ip) =
                record_match::<COUNT>(store, window, anchor, (ip, mpos, offset), len);
            anchor = ip;
            if ip >= ilimit - 1 {
                break;
            }
            // Positions inside the match feed later searches. From here on ip < ilimit - 1, and
            // every position read is at most ip.
            let p2 = match_start + 2;
            // SAFETY: a match is at least 4 bytes, so p2 <= ip - 2 < ilimit.
            self.table[hash(unsafe { read64(window, p2) }, HB, HASH_LOG)] = table_entry(p2);
            let q = ip - 2;
            // SAFETY: q < ip < ilimit.
            self.table[hash(unsafe { read64(window, q) }, HB, HASH_LOG)] = table_entry(q);
            // A match right after a match with the second repeat offset needs no literals.
            loop {
                let r = store.reps[1] as usize;
                // SAFETY: ip - r < ip < ilimit (the first read only when ip >= r).
                if ip < r || unsafe { read32(window, ip) != read32(window, ip - r) } {
                    break;
                }
                let len = 4 + count_long(window, ip + 4, ip - r + 4, end);
                // SAFETY: ip < ilimit.
                self.table[hash(unsafe { read64(window, ip) }, HB, HASH_LOG)] = table_entry(ip);
                #[allow(clippy::cast_possible_truncation)]
                store.push::<COUNT>(&[], r as u32, len);
                ip += len;
                anchor = ip;
                if ip >= ilimit - 1 {
                    break 'search;
                }
            }
            ip0 = ip;
            // SAFETY: ip0 < ilimit - 1.
            v0 = unsafe { read64(window, ip0) };
            h0 = hash(v0, HB, HASH_LOG);
        }
        store.push_literals(&window[anchor..end]);
    }
}

impl Default for Fast {
    fn default() -> Self {
        Self::new()
    }
}
