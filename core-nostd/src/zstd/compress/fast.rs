//! The fast match finder (levels -7 to 2): one hash table of recent positions, a repeat-offset
//! check before each lookup, and a step that grows with the distance from the last match, faster
//! still at negative levels.

use super::matching::{Epoch, count, get32, get64, hash, low32, read32, read64};
use super::sequences::SeqStore;

/// log2 of the table size: 8192 slots of 16 bits, 16 KiB.
pub const HASH_LOG: u32 = 13;

/// How the fast finder searches at one level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FastParams {
    /// Bytes hashed (4 to 6): more skips short matches and runs faster.
    pub hash_bytes: u32,
    /// Step at the start of a run of literals.
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

    #[inline(never)]
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
        let mut ip = start;
        let e = self.epoch;
        let hb = HB;
        if end >= 8 {
            let ilimit = end - 8;
            while ip < ilimit {
                // Two positions per round, so that their table loads overlap; a match at the
                // first is taken before the second is looked at.
                let ip1 = (ip + 1).min(ilimit - 1);
                // SAFETY: ip, ip1 < ilimit = end - 8.
                let (v0, v1) = unsafe { (read64(window, ip), read64(window, ip1)) };
                let h0 = hash(v0, hb, HASH_LOG);
                let h1 = hash(v1, hb, HASH_LOG);
                let cand0 = e.decode(self.table[h0]);
                self.table[h0] = e.encode(ip);
                let cand1 = e.decode(self.table[h1]);
                self.table[h1] = e.encode(ip1);
                let rep = store.reps[0] as usize;
                // Every candidate is read, valid or not, clamped into the window so that the reads
                // are always in bounds; validity is tested beside the comparison.
                let (r0, r1) = (ip.saturating_sub(rep), ip1.saturating_sub(rep));
                let (c0, c1) = (cand0.min(ip), cand1.min(ip1));
                // SAFETY: r0, c0 <= ip and r1, c1 <= ip1, both below ilimit = end - 8.
                let (at_r0, at_r1, at_c0, at_c1) = unsafe {
                    (
                        read32(window, r0),
                        read32(window, r1),
                        read32(window, c0),
                        read32(window, c1),
                    )
                };
                let (mut mpos, offset) = if ip > anchor && ip >= rep && at_r0 == low32(v0) {
                    (r0, rep)
                } else if cand0 < ip && at_c0 == low32(v0) {
                    // A longer match one byte on (already loaded) beats a short one here.
                    if cand1 < ip1 && at_c1 == low32(v1) && cand1 != cand0 + 1 {
                        let l0 = count(window, ip + 4, cand0 + 4, end);
                        let l1 = count(window, ip1 + 4, cand1 + 4, end);
                        if l1 > l0 + 1 {
                            ip = ip1;
                            (cand1, ip1 - cand1)
                        } else {
                            (cand0, ip - cand0)
                        }
                    } else {
                        (cand0, ip - cand0)
                    }
                } else if ip1 >= rep && at_r1 == low32(v1) {
                    ip = ip1;
                    (r1, rep)
                } else if cand1 < ip1 && at_c1 == low32(v1) {
                    ip = ip1;
                    (cand1, ip1 - cand1)
                } else {
                    ip += 1 + step + ((ip - anchor) >> skip_log);
                    continue;
                };
                let mut len = 4 + count(window, ip + 4, mpos + 4, end);
                while ip > anchor && mpos > 0 && window[ip - 1] == window[mpos - 1] {
                    ip -= 1;
                    mpos -= 1;
                    len += 1;
                }
                #[allow(clippy::cast_possible_truncation)] // offsets are below the 32 KiB window
                store.push(&window[anchor..ip], offset as u32, len);
                let match_start = ip;
                ip += len;
                anchor = ip;
                if ip < ilimit {
                    // Positions inside the match feed later searches.
                    let p2 = match_start + 2;
                    self.table[hash(get64(window, p2), hb, HASH_LOG)] = e.encode(p2);
                    let q = ip - 2;
                    self.table[hash(get64(window, q), hb, HASH_LOG)] = e.encode(q);
                }
                // A match right after a match with the second repeat offset needs no literals.
                while ip < ilimit {
                    let r = store.reps[1] as usize;
                    if ip < r || get32(window, ip) != get32(window, ip - r) {
                        break;
                    }
                    let len = 4 + count(window, ip + 4, ip - r + 4, end);
                    self.table[hash(get64(window, ip), hb, HASH_LOG)] = e.encode(ip);
                    #[allow(clippy::cast_possible_truncation)]
                    store.push(&[], r as u32, len);
                    ip += len;
                    anchor = ip;
                }
            }
        }
        store.push_literals(&window[anchor..end]);
    }
}

impl Default for Fast {
    fn default() -> Self {
        Self::new()
    }
}
