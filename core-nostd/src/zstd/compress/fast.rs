//! The fast match finder (levels -7 to 2): one hash table of recent positions, a repeat-offset
//! check before each lookup, and a step that grows with the distance from the last match, faster
//! still at negative levels.

use super::matching::{Epoch, count, count_back, get32, get64, hash, low32, read32, read64};
use super::sequences::SeqStore;

/// log2 of the table size: 8192 slots of 16 bits, 16 KiB.
pub const HASH_LOG: u32 = 13;

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
    epoch: Epoch,
}

impl Fast {
    /// An empty finder.
    pub const fn new() -> Self {
        Self {
            table: [0; 1 << HASH_LOG],
            epoch: Epoch::new(),
        }
    }

    /// Starts a window of `len` bytes.
    pub fn begin(&mut self, len: usize) {
        if self.epoch.begin(len) {
            self.table.fill(0);
        }
    }

    /// Inserts the positions of `window[..end]` (a dictionary's content) as history.
    pub fn prime(&mut self, window: &[u8], end: usize, hash_bytes: u32) {
        let e = self.epoch;
        for p in 0..end.min(window.len().saturating_sub(8)) {
            self.table[hash(get64(window, p), hash_bytes, HASH_LOG)] = e.encode(p);
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
        // One loop per hash width, so that the width is a constant in the hot path.
        match p.hash_bytes {
            4 => self.run::<4>(window, start, p.step, p.skip_log, store),
            5 => self.run::<5>(window, start, p.step, p.skip_log, store),
            _ => self.run::<6>(window, start, p.step, p.skip_log, store),
        }
    }

    #[inline(always)]
    fn run<const HB: u32>(
        &mut self,
        window: &[u8],
        start: usize,
        step: usize,
        skip_log: u32,
        store: &mut SeqStore,
    ) {
        let end = window.len();
        let mut anchor = start;
        let e = self.epoch;
        if end < 9 || start + 8 >= end {
            store.push_literals(&window[anchor..]);
            return;
        }
        let ilimit = end - 8;
        let mut ip = start;
        // SAFETY: ip = start < ilimit = end - 8.
        let mut v = unsafe { read64(window, ip) };
        let mut h = hash(v, HB, HASH_LOG);
        let mut cand = e.decode(self.table[h]);
        let mut second = false;
        loop {
            // One position per turn; the next position's candidate is loaded before this one's
            // are compared, so that a mispredicted comparison does not also wait on that load.
            self.table[h] = e.encode(ip);
            // Positions go in pairs: one, the next byte, then a step that grows with the
            // distance from the last match.
            let next = if second {
                ip + step + ((ip - anchor) >> skip_log)
            } else {
                ip + 1
            };
            second = !second;
            // SAFETY: the read is clamped below ilimit = end - 8.
            let v_next = unsafe { read64(window, next.min(ilimit - 1)) };
            let h_next = hash(v_next, HB, HASH_LOG);
            // Loaded after this position's insertion, which it must see when the slots are one.
            let cand_next = e.decode(self.table[h_next]);
            // The repeat offset is tried one byte on, where the literals before it are never
            // empty; candidates are read clamped into the window and validated beside the test.
            // An invalid candidate reads the current position itself with its low bit flipped, so
            // that it cannot compare equal: one branch per test, no separate validity branch.
            let rep = store.reps[0] as usize;
            let rep_valid = ip + 1 >= rep;
            let r = if rep_valid { ip + 1 - rep } else { ip + 1 };
            let cand_valid = cand < ip;
            let c = if cand_valid { cand } else { ip };
            // SAFETY: r <= ip + 1 and c <= ip, and ip + 1 + 4 <= ilimit + 4 < end.
            let (at_r, at_c) = unsafe {
                (
                    read32(window, r) ^ u32::from(!rep_valid),
                    read32(window, c) ^ u32::from(!cand_valid),
                )
            };
            let (mpos, offset, mut len);
            if at_r == low32(v >> 8) {
                ip += 1;
                mpos = r;
                offset = rep;
                len = 4 + count(window, ip + 4, mpos + 4, end);
            } else if at_c == low32(v) {
                mpos = cand;
                offset = ip - cand;
                len = 4 + count(window, ip + 4, mpos + 4, end);
            } else {
                if next >= ilimit {
                    break;
                }
                ip = next;
                v = v_next;
                h = h_next;
                cand = cand_next;
                continue;
            }
            let back = count_back(window, anchor, ip, mpos);
            ip -= back;
            len += back;
            #[allow(clippy::cast_possible_truncation)] // offsets are below the 32 KiB window
            store.push_from(window, anchor, ip, offset as u32, len);
            let match_start = ip;
            ip += len;
            anchor = ip;
            if ip >= ilimit {
                break;
            }
            // Positions inside the match feed later searches.
            let p2 = match_start + 2;
            self.table[hash(get64(window, p2), HB, HASH_LOG)] = e.encode(p2);
            let q = ip - 2;
            self.table[hash(get64(window, q), HB, HASH_LOG)] = e.encode(q);
            // A match right after a match with the second repeat offset needs no literals.
            loop {
                let r = store.reps[1] as usize;
                if ip < r || get32(window, ip) != get32(window, ip - r) {
                    break;
                }
                let len = 4 + count(window, ip + 4, ip - r + 4, end);
                self.table[hash(get64(window, ip), HB, HASH_LOG)] = e.encode(ip);
                #[allow(clippy::cast_possible_truncation)]
                store.push(&[], r as u32, len);
                ip += len;
                anchor = ip;
                if ip >= ilimit {
                    break;
                }
            }
            if ip >= ilimit {
                break;
            }
            // SAFETY: ip < ilimit = end - 8.
            v = unsafe { read64(window, ip) };
            h = hash(v, HB, HASH_LOG);
            cand = e.decode(self.table[h]);
            second = false;
        }
        store.push_literals(&window[anchor..end]);
    }
}

impl Default for Fast {
    fn default() -> Self {
        Self::new()
    }
}
