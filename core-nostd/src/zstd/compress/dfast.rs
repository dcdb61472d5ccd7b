//! The double-fast match finder (levels 2 and 3): a table of 8-byte hashes for long matches and one
//! of short hashes for the rest; a short hit is checked against a long one at the next position.

use super::matching::{Epoch, count, count_long, hash, low32, read32, read64, record_match};
use super::sequences::SeqStore;

/// log2 of the long table: 8192 slots of 16 bits, 16 KiB.
pub const LONG_LOG: u32 = 13;
/// log2 of the short table: 8192 slots of 16 bits, 16 KiB.
pub const SHORT_LOG: u32 = 13;

/// The step from one position to the next grows by one every `1 << SKIP_LOG` literals: a
/// constant, so that the hot loop shifts by an immediate.
const SKIP_LOG: u32 = 8;

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
    unsafe fn insert<const SB: u32>(&mut self, window: &[u8], pos: usize) {
        // SAFETY: as the caller guarantees.
        let v = unsafe { read64(window, pos) };
        let e = self.epoch.encode(pos);
        self.long[long_hash(v)] = e;
        self.short[short_hash::<SB>(v)] = e;
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

    /// The search. Positions in the loop are encoded as the tables hold them (`position + base`,
    /// see [`Epoch`]): a candidate loaded from a table is used as it is, with no decoding, and is
    /// a position of this window exactly when it is at least `base` (earlier pages' values and
    /// empty slots lie below).
    #[inline(always)]
    fn run<const SB: u32>(&mut self, window: &[u8], start: usize, store: &mut SeqStore) {
        let end = window.len();
        let mut anchor = start;
        // The search starts at position 1 at the least: see below.
        if start.max(1) + 9 < end {
            let ilimit = end - 9;
            let e = self.epoch;
            let base = e.base();
            // `wb + cur` is the window byte at encoded position `cur`; only positions of the
            // window (cur >= base) are ever read through it.
            let wb = window.as_ptr().wrapping_sub(base);
            let elimit = ilimit + base;
            // Position 0 is only inserted: the search starts at 1, so that every candidate,
            // position 0 for a stale one, lies before the position searched.
            if start == 0 {
                // SAFETY: 0 + 8 <= 10 < end.
                unsafe { self.insert::<SB>(window, 0) };
            }
            let mut cur = start.max(1) + base;
            // The anchor, encoded.
            let mut anchor_e = anchor + base;
            // Carried from one position to the next: the position, its long hash and its long
            // candidate (loaded early, as the next position's is below). The rest is read or
            // computed again at each position: fewer values live across the loop.
            // SAFETY: cur - base = max(start, 1) < ilimit = end - 9.
            let mut hl = long_hash(unsafe { at64(wb, cur) });
            let mut long_cand = usize::from(self.long[hl]);
            // The repeat offset is checked from the encoded position `rep_from` on, where its
            // source lies inside the window.
            let mut rep = store.reps[0] as usize;
            let mut rep_from = base + rep - 1;
            loop {
                // SAFETY: cur - base < ilimit = end - 9.
                let v = unsafe { at64(wb, cur) };
                let hs = short_hash::<SB>(v);
                let short_cand = usize::from(self.short[hs]);
                #[allow(clippy::cast_possible_truncation)] // encoded positions fit 16 bits
                let here = cur as u16;
                self.long[hl] = here;
                self.short[hs] = here;
                // The next position's long candidate is loaded before this one's are compared
                // (and after this insertion, which it must see), so that a mispredicted
                // comparison does not also wait on that load.
                let next = cur + 1 + ((cur - anchor_e) >> SKIP_LOG);
                // SAFETY: the read is clamped below elimit, at most window position end - 10.
                let hl_next = long_hash(unsafe { at64(wb, next.min(elimit - 1)) });
                let long_next = usize::from(self.long[hl_next]);
                // A stale candidate is read at `base`, position 0, and a match found there is a
                // real one: cheaper than a test of the candidate's age, and as good.
                let (long_at, short_at) = (long_cand.max(base), short_cand.max(base));
                // SAFETY: each candidate is an earlier position of this window (position 0 at
                // the least, and cur > base), so 8 bytes from it fit as they fit from cur.
                let (at_long, at_short) = unsafe { (at64(wb, long_at), at32(wb, short_at)) };
                let (mut mpos, mut offset, mut len);
                let ip = cur - base;
                // The repeat offset one byte ahead, as its literals are then never empty. It is
                // valid from a few bytes into the window on: a predictable branch.
                // SAFETY: cur >= rep_from puts cur + 1 - rep at a window position <= ip + 1,
                // and ip + 1 + 4 <= end.
                if cur >= rep_from && unsafe { at32(wb, cur + 1 - rep) } == low32(v >> 8) {
                    mpos = ip + 1 - rep;
                    offset = rep;
                    len = 4 + count_long(window, ip + 5, mpos + 4, end);
                    cur += 1;
                } else if at_long == v {
                    mpos = long_at - base;
                    offset = cur - long_at;
                    len = 8 + count_long(window, ip + 8, mpos + 8, end);
                } else if at_short == low32(v) {
                    // A long match one byte later beats the short one here.
                    // SAFETY: ip + 1 + 8 <= end.
                    let v1 = unsafe { at64(wb, cur + 1) };
                    let hl1 = long_hash(v1);
                    let long1 = usize::from(self.long[hl1]);
                    #[allow(clippy::cast_possible_truncation)] // encoded positions fit 16 bits
                    {
                        self.long[hl1] = (cur + 1) as u16;
                    }
                    // SAFETY: as for the candidates above.
                    if unsafe { at64(wb, long1.max(base)) } == v1 && long1 >= base {
                        mpos = long1 - base;
                        offset = cur + 1 - long1;
                        len = 8 + count_long(window, ip + 9, mpos + 8, end);
                        cur += 1;
                    } else {
                        mpos = short_at - base;
                        offset = cur - short_at;
                        len = 4 + count_long(window, ip + 4, mpos + 4, end);
                        // A short match one byte on that is longer still wins.
                        let hs1 = short_hash::<SB>(v1);
                        let short1 = usize::from(self.short[hs1]);
                        if short1 >= base && short1 != short_at + 1 {
                            let len1 = count(window, ip + 1, short1 - base, end);
                            if len1 > len + 1 {
                                #[allow(clippy::cast_possible_truncation)] // as above
                                {
                                    self.short[hs1] = (cur + 1) as u16;
                                }
                                cur += 1;
                                mpos = short1 - base;
                                offset = cur - short1;
                                len = len1;
                            }
                        }
                    }
                } else {
                    if next >= elimit {
                        break;
                    }
                    cur = next;
                    hl = hl_next;
                    long_cand = long_next;
                    continue;
                }
                let (match_start, mut ip);
                (match_start, ip) =
                    record_match(store, window, anchor, (cur - base, mpos, offset), len);
                anchor = ip;
                if ip >= ilimit {
                    break;
                }
                // SAFETY: here ip < ilimit = end - 9, and a match is at least 4 bytes, so every
                // position inserted or read below is at most ip and 8 bytes from it fit.
                unsafe {
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
                rep_from = base + rep - 1;
                cur = ip + base;
                anchor_e = anchor + base;
                // SAFETY: ip < ilimit = end - 9.
                hl = long_hash(unsafe { read64(window, ip) });
                long_cand = usize::from(self.long[hl]);
            }
        }
        store.push_literals(&window[anchor..end]);
    }
}

/// Reads 8 bytes at encoded position `pos` through `wb`, the window's start minus the base.
///
/// # Safety
/// `pos - base` is a window position with 8 bytes from it inside the window.
#[inline(always)]
unsafe fn at64(wb: *const u8, pos: usize) -> u64 {
    // SAFETY: the caller guarantees that the 8 bytes lie inside the window `wb` was made from.
    u64::from_le(unsafe { wb.wrapping_add(pos).cast::<u64>().read_unaligned() })
}

/// Reads 4 bytes at encoded position `pos` through `wb`.
///
/// # Safety
/// `pos - base` is a window position with 4 bytes from it inside the window.
#[inline(always)]
unsafe fn at32(wb: *const u8, pos: usize) -> u32 {
    // SAFETY: as for `at64`.
    u32::from_le(unsafe { wb.wrapping_add(pos).cast::<u32>().read_unaligned() })
}

impl Default for Dfast {
    fn default() -> Self {
        Self::new()
    }
}
