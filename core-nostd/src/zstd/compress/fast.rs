//! The fast match finder (levels -7 to 2): one hash table of recent positions, a repeat-offset
//! check before each lookup, and a step that grows with the distance from the last match, faster
//! still at negative levels.

use super::matching::{Epoch, count, hash, low32, read32, read64};
use super::sequences::SeqStore;

/// log2 of the table size: 4096 slots of 16 bits, 8 KiB.
pub const HASH_LOG: u32 = 12;

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

    /// Finds the sequences of `window[start..]` (what precedes `start` is history already inserted)
    /// and stores them with the trailing literals.
    pub fn compress_block(
        &mut self,
        window: &[u8],
        start: usize,
        p: FastParams,
        store: &mut SeqStore,
    ) {
        let end = window.len();
        let mut anchor = start;
        let mut ip = start;
        let e = self.epoch;
        let hb = p.hash_bytes;
        if end >= 8 {
            let ilimit = end - 8;
            while ip < ilimit {
                let v = read64(window, ip);
                let h = hash(v, hb, HASH_LOG);
                let cand = e.decode(self.table[h]);
                self.table[h] = e.encode(ip);
                let rep = store.reps[0] as usize;
                let (mut mpos, offset) =
                    if ip > anchor && ip >= rep && read32(window, ip - rep) == low32(v) {
                        (ip - rep, rep)
                    } else if cand < ip && read32(window, cand) == low32(v) {
                        (cand, ip - cand)
                    } else {
                        ip += p.step + ((ip - anchor) >> p.skip_log);
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
                    self.table[hash(read64(window, p2), hb, HASH_LOG)] = e.encode(p2);
                    let q = ip - 2;
                    self.table[hash(read64(window, q), hb, HASH_LOG)] = e.encode(q);
                }
                // A match right after a match with the second repeat offset needs no literals.
                while ip < ilimit {
                    let r = store.reps[1] as usize;
                    if ip < r || read32(window, ip) != read32(window, ip - r) {
                        break;
                    }
                    let len = 4 + count(window, ip + 4, ip - r + 4, end);
                    self.table[hash(read64(window, ip), hb, HASH_LOG)] = e.encode(ip);
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
