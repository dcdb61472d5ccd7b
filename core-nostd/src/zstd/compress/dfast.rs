//! The double-fast match finder (levels 2 and 3): a table of 8-byte hashes for long matches and one
//! of short hashes for the rest; a short hit is checked against a long one at the next position.

use super::matching::{Epoch, HASH_PRIME, count, hash, low32, read32, read64, record_match};
use super::sequences::SeqStore;

/// log2 of the long table: 8192 slots of 16 bits, 16 KiB.
pub const LONG_LOG: u32 = 13;
/// log2 of the short table: 8192 slots of 16 bits, 16 KiB.
pub const SHORT_LOG: u32 = 13;

/// The step from one position to the next grows by one every `1 << SKIP_LOG` literals: a
/// constant, so that the hot loop shifts by an immediate.
const SKIP_LOG: u32 = 8;

/// The long and the short hash of `v`: `hash(v, 8, LONG_LOG)` and `hash(v, short_bytes,
/// SHORT_LOG)` from one multiplication (shifting the key left before multiplying is shifting the
/// product left after).
#[inline(always)]
fn hashes(v: u64, short_bytes: u32) -> (usize, usize) {
    let product = v.wrapping_mul(HASH_PRIME);
    #[allow(clippy::cast_possible_truncation)] // each result has at most 13 bits
    {
        (
            (product >> (64 - LONG_LOG)) as usize,
            ((product << (64 - 8 * short_bytes)) >> (64 - SHORT_LOG)) as usize,
        )
    }
}

/// How the double-fast finder searches at one level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DfastParams {
    /// Bytes hashed into the short table (4 or 5).
    pub short_bytes: u32,
}

/// State of the double-fast finder.
#[derive(Clone)]
pub struct Dfast {
    long: [u16; 1 << LONG_LOG],
    short: [u16; 1 << SHORT_LOG],
    epoch: Epoch,
}

impl Dfast {
    /// An empty finder.
    pub const fn new() -> Self {
        Self {
            long: [0; 1 << LONG_LOG],
            short: [0; 1 << SHORT_LOG],
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

    /// Inserts position `pos` in both tables.
    ///
    /// # Safety
    /// `pos + 8 <= window.len()`.
    #[inline(always)]
    unsafe fn insert(&mut self, window: &[u8], pos: usize, sb: u32) {
        // SAFETY: as the caller guarantees.
        let v = unsafe { read64(window, pos) };
        let e = self.epoch.encode(pos);
        let (hl, hs) = hashes(v, sb);
        self.long[hl] = e;
        self.short[hs] = e;
    }

    /// Inserts the positions of `window[..end]` (a dictionary's content) as history.
    pub fn prime(&mut self, window: &[u8], end: usize, short_bytes: u32) {
        for p in 0..end.min(window.len().saturating_sub(8)) {
            // SAFETY: p < window.len() - 8.
            unsafe { self.insert(window, p, short_bytes) };
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

    #[inline(always)]
    fn run<const SB: u32>(&mut self, window: &[u8], start: usize, store: &mut SeqStore) {
        let end = window.len();
        let mut anchor = start;
        let mut ip = start;
        let e = self.epoch;
        let sb = SB;
        if end >= 10 && start + 9 < end {
            let ilimit = end - 9;
            // SAFETY: ip = start < ilimit = end - 9.
            let mut v = unsafe { read64(window, ip) };
            let (mut hl, mut hs) = hashes(v, sb);
            let (mut long_cand, mut short_cand) =
                (e.decode(self.long[hl]), e.decode(self.short[hs]));
            let mut rep = store.reps[0] as usize;
            loop {
                let here = e.encode(ip);
                self.long[hl] = here;
                self.short[hs] = here;
                // The next position's candidates are loaded before this one's are compared (and
                // after this insertion, which they must see), so that a mispredicted comparison
                // does not also wait on those loads.
                let next = ip + 1 + ((ip - anchor) >> SKIP_LOG);
                // SAFETY: the read is clamped below ilimit = end - 9.
                let v_next = unsafe { read64(window, next.min(ilimit - 1)) };
                let (hl_next, hs_next) = hashes(v_next, sb);
                let (long_next, short_next) =
                    (e.decode(self.long[hl_next]), e.decode(self.short[hs_next]));
                // Invalid candidates read the current position with a bit flipped, so that they
                // cannot compare equal: one branch per test.
                let long_valid = long_cand < ip;
                let lc = if long_valid { long_cand } else { ip };
                let short_valid = short_cand < ip;
                let sc = if short_valid { short_cand } else { ip };
                // SAFETY: every position read is at most ip, and ip + 8 <= end.
                let (at_long, at_short) = unsafe {
                    (
                        read64(window, lc) ^ u64::from(!long_valid),
                        read32(window, sc) ^ u32::from(!short_valid),
                    )
                };
                let (mut mpos, mut offset, mut len);
                // The repeat offset one byte ahead, as its literals are then never empty. It is
                // valid from a few bytes into the window on: a predictable branch.
                // SAFETY: ip + 1 - rep <= ip + 1, and ip + 1 + 4 <= end.
                if ip + 1 >= rep && unsafe { read32(window, ip + 1 - rep) } == low32(v >> 8) {
                    ip += 1;
                    mpos = ip - rep;
                    offset = rep;
                    len = 4 + count(window, ip + 4, mpos + 4, end);
                } else if at_long == v {
                    mpos = long_cand;
                    offset = ip - long_cand;
                    len = 8 + count(window, ip + 8, mpos + 8, end);
                } else if at_short == low32(v) {
                    // A long match one byte later beats the short one here.
                    // SAFETY: ip + 1 + 8 <= end.
                    let v1 = unsafe { read64(window, ip + 1) };
                    let hl1 = hash(v1, 8, LONG_LOG);
                    let long1 = e.decode(self.long[hl1]);
                    self.long[hl1] = e.encode(ip + 1);
                    // SAFETY: min(long1, ip + 1) + 8 <= ip + 9 <= end.
                    let at_long1 = unsafe { read64(window, long1.min(ip + 1)) };
                    if long1 < ip + 1 && at_long1 == v1 {
                        ip += 1;
                        mpos = long1;
                        offset = ip - long1;
                        len = 8 + count(window, ip + 8, mpos + 8, end);
                    } else {
                        mpos = short_cand;
                        offset = ip - short_cand;
                        len = 4 + count(window, ip + 4, mpos + 4, end);
                        // A short match one byte on that is longer still wins.
                        let hs1 = hash(v1, sb, SHORT_LOG);
                        let short1 = e.decode(self.short[hs1]);
                        if short1 < ip + 1 && short1 != short_cand + 1 {
                            let len1 = count(window, ip + 1, short1, end);
                            if len1 > len + 1 {
                                self.short[hs1] = e.encode(ip + 1);
                                ip += 1;
                                mpos = short1;
                                offset = ip - short1;
                                len = len1;
                            }
                        }
                    }
                } else {
                    if next >= ilimit {
                        break;
                    }
                    ip = next;
                    v = v_next;
                    (hl, hs) = (hl_next, hs_next);
                    (long_cand, short_cand) = (long_next, short_next);
                    continue;
                }
                let match_start;
                (match_start, ip) = record_match(store, window, anchor, (ip, mpos, offset), len);
                anchor = ip;
                if ip >= ilimit {
                    break;
                }
                // SAFETY: here ip < ilimit = end - 9, and a match is at least 4 bytes, so every
                // position inserted or read below is at most ip and 8 bytes from it fit.
                unsafe {
                    self.insert(window, match_start + 2, sb);
                    self.insert(window, ip - 2, sb);
                    self.insert(window, ip - 1, sb);
                }
                loop {
                    let r = store.reps[1] as usize;
                    // SAFETY: ip - r < ip < ilimit (the first read only when ip >= r).
                    if ip < r || unsafe { read32(window, ip) != read32(window, ip - r) } {
                        break;
                    }
                    let len = 4 + count(window, ip + 4, ip - r + 4, end);
                    // SAFETY: ip < ilimit.
                    unsafe { self.insert(window, ip, sb) };
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
                rep = store.reps[0] as usize;
                // SAFETY: ip < ilimit = end - 9.
                v = unsafe { read64(window, ip) };
                (hl, hs) = hashes(v, sb);
                (long_cand, short_cand) = (e.decode(self.long[hl]), e.decode(self.short[hs]));
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
