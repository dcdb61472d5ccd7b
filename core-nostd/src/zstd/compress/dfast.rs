//! The double-fast match finder (levels 2 and 3): a table of 8-byte hashes for long matches and one
//! of short hashes for the rest; a short hit is checked against a long one at the next position.

use super::matching::{Epoch, count, hash, low32, read32, read64};
use super::sequences::SeqStore;

/// log2 of each table: 4096 slots of 16 bits, 8 KiB each, 16 KiB in all.
pub const HASH_LOG: u32 = 12;

/// How the double-fast finder searches at one level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DfastParams {
    /// Bytes hashed into the short table (4 or 5).
    pub short_bytes: u32,
    /// The step grows by one every `1 << skip_log` literals.
    pub skip_log: u32,
}

/// State of the double-fast finder.
pub struct Dfast {
    long: [u16; 1 << HASH_LOG],
    short: [u16; 1 << HASH_LOG],
    epoch: Epoch,
}

impl Dfast {
    /// An empty finder.
    pub const fn new() -> Self {
        Self {
            long: [0; 1 << HASH_LOG],
            short: [0; 1 << HASH_LOG],
            epoch: Epoch::new(),
        }
    }

    /// Starts a window of `len` bytes.
    pub fn begin(&mut self, len: usize) {
        if self.epoch.begin(len) {
            self.long.fill(0);
            self.short.fill(0);
        }
    }

    #[inline(always)]
    fn insert(&mut self, window: &[u8], pos: usize, sb: u32) {
        let v = read64(window, pos);
        let e = self.epoch.encode(pos);
        self.long[hash(v, 8, HASH_LOG)] = e;
        self.short[hash(v, sb, HASH_LOG)] = e;
    }

    /// Finds the sequences of `window[start..]` and stores them with the trailing literals.
    pub fn compress_block(
        &mut self,
        window: &[u8],
        start: usize,
        p: DfastParams,
        store: &mut SeqStore,
    ) {
        let end = window.len();
        let mut anchor = start;
        let mut ip = start;
        let e = self.epoch;
        let sb = p.short_bytes;
        if end >= 9 {
            let ilimit = end - 9;
            while ip < ilimit {
                let v = read64(window, ip);
                let hl = hash(v, 8, HASH_LOG);
                let hs = hash(v, sb, HASH_LOG);
                let long_cand = e.decode(self.long[hl]);
                let short_cand = e.decode(self.short[hs]);
                let here = e.encode(ip);
                self.long[hl] = here;
                self.short[hs] = here;
                // The repeat offset one byte ahead, as its literals are then never empty.
                let rep = store.reps[0] as usize;
                let (mut mpos, offset, mut len);
                if ip + 1 >= rep && read32(window, ip + 1 - rep) == read32(window, ip + 1) {
                    ip += 1;
                    mpos = ip - rep;
                    offset = rep;
                    len = 4 + count(window, ip + 4, mpos + 4, end);
                } else if long_cand < ip && read64(window, long_cand) == v {
                    mpos = long_cand;
                    offset = ip - long_cand;
                    len = 8 + count(window, ip + 8, mpos + 8, end);
                } else if short_cand < ip && read32(window, short_cand) == low32(v) {
                    // A long match one byte later beats the short one here.
                    let v1 = read64(window, ip + 1);
                    let hl1 = hash(v1, 8, HASH_LOG);
                    let long1 = e.decode(self.long[hl1]);
                    self.long[hl1] = e.encode(ip + 1);
                    if long1 < ip + 1 && read64(window, long1) == v1 {
                        ip += 1;
                        mpos = long1;
                        offset = ip - long1;
                        len = 8 + count(window, ip + 8, mpos + 8, end);
                    } else {
                        mpos = short_cand;
                        offset = ip - short_cand;
                        len = 4 + count(window, ip + 4, mpos + 4, end);
                    }
                } else {
                    ip += 1 + ((ip - anchor) >> p.skip_log);
                    continue;
                }
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
                    self.insert(window, match_start + 2, sb);
                    self.insert(window, ip - 2, sb);
                    self.insert(window, ip - 1, sb);
                }
                while ip < ilimit {
                    let r = store.reps[1] as usize;
                    if ip < r || read32(window, ip) != read32(window, ip - r) {
                        break;
                    }
                    let len = 4 + count(window, ip + 4, ip - r + 4, end);
                    self.insert(window, ip, sb);
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

impl Default for Dfast {
    fn default() -> Self {
        Self::new()
    }
}
