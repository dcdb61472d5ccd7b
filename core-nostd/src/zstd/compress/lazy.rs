//! The lazy match finder (levels 4 to 9): hash chains searched to a depth that grows with the level,
//! then greedy (take the match found), lazy (take a better one at the next byte) or lazy2 (also two
//! bytes on) matching, weighing length against the cost of the offset.

use super::matching::{Epoch, count, get32, get64, hash, read32};
use super::sequences::SeqStore;

/// log2 of the head table: 8192 slots of 16 bits, 16 KiB.
pub const HASH_LOG: u32 = 13;
/// log2 of the chain table: 8192 slots of 16 bits, 16 KiB; also the farthest a match reaches.
pub const CHAIN_LOG: u32 = 13;
const CHAIN_MASK: usize = (1 << CHAIN_LOG) - 1;
/// Bytes hashed: matches are at least this long.
const MIN_MATCH: usize = 4;
/// Bytes hashed into the chains.
const HASH_BYTES: u32 = 4;

/// How far the lazy finder looks before taking a match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookahead {
    /// Take the first match found.
    Greedy,
    /// Also try one byte on.
    Lazy,
    /// Also try one and two bytes on.
    Lazy2,
}

/// How the lazy finder searches at one level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LazyParams {
    /// Chain entries examined per search.
    pub depth: u32,
    /// How far it looks ahead.
    pub lookahead: Lookahead,
    /// A match this long is taken without looking further.
    pub target_len: usize,
}

/// State of the lazy finder.
#[derive(Clone)]
pub struct Lazy {
    head: [u16; 1 << HASH_LOG],
    chain: [u16; 1 << CHAIN_LOG],
    epoch: Epoch,
    /// Next window position to insert into the chains.
    next_insert: usize,
}

/// A match: where it starts, its length, its offset.
#[derive(Clone, Copy)]
struct Found {
    len: usize,
    offset: usize,
}

/// The bit cost of an offset as the format writes it, for weighing matches.
#[inline(always)]
fn offset_bits(offset: usize, rep0: usize) -> i64 {
    if offset == rep0 {
        0
    } else {
        i64::from(usize::BITS - 1 - (offset + 3).leading_zeros())
    }
}

impl Lazy {
    /// An empty finder.
    pub const fn new() -> Self {
        Self {
            head: [0; 1 << HASH_LOG],
            chain: [0; 1 << CHAIN_LOG],
            epoch: Epoch::new(),
            next_insert: 0,
        }
    }

    /// Starts a window of `len` bytes.
    pub fn begin(&mut self, len: usize) {
        if self.epoch.begin(len) {
            self.head.fill(0);
        }
        self.next_insert = 0;
    }

    /// Inserts every position before `target` into the chains.
    #[inline(always)]
    fn insert_until(&mut self, window: &[u8], target: usize) {
        let e = self.epoch;
        while self.next_insert < target {
            let p = self.next_insert;
            let h = hash(get64(window, p), HASH_BYTES, HASH_LOG);
            self.chain[p & CHAIN_MASK] = self.head[h];
            self.head[h] = e.encode(p);
            self.next_insert += 1;
        }
    }

    /// The longest match at `ip` among `depth` chain candidates (length 0 when none reaches
    /// [`MIN_MATCH`]).
    #[inline(always)]
    fn search(&mut self, window: &[u8], ip: usize, end: usize, p: LazyParams) -> Found {
        self.insert_until(window, ip);
        let e = self.epoch;
        let h = hash(get64(window, ip), HASH_BYTES, HASH_LOG);
        let mut cand = e.decode(self.head[h]);
        let lowest = ip.saturating_sub(CHAIN_MASK);
        let mut best = Found {
            len: MIN_MATCH - 1,
            offset: 0,
        };
        let first = get32(window, ip);
        let limit = window.len().saturating_sub(4);
        let mut depth = p.depth;
        while cand < ip && cand >= lowest && depth > 0 && ip <= limit {
            depth -= 1;
            // SAFETY: cand < ip <= window.len() - 4.
            let at_cand = unsafe { read32(window, cand) };
            // The byte that would make this match the longest so far decides quickly.
            if window.get(cand + best.len) == window.get(ip + best.len) && at_cand == first {
                let len = 4 + count(window, ip + 4, cand + 4, end);
                if len > best.len {
                    best = Found {
                        len,
                        offset: ip - cand,
                    };
                    if ip + len >= end || len >= p.target_len {
                        break;
                    }
                }
            }
            let next = e.decode(self.chain[cand & CHAIN_MASK]);
            if next >= cand {
                break;
            }
            cand = next;
        }
        if best.len < MIN_MATCH {
            Found { len: 0, offset: 0 }
        } else {
            best
        }
    }

    /// The repeat-offset match at `ip`, or length 0.
    #[inline(always)]
    fn rep_match(window: &[u8], ip: usize, rep: usize, end: usize) -> usize {
        if ip >= rep && rep > 0 && get32(window, ip) == get32(window, ip - rep) {
            4 + count(window, ip + 4, ip - rep + 4, end)
        } else {
            0
        }
    }

    /// Finds the sequences of `window[start..]` and stores them with the trailing literals.
    #[inline(never)]
    pub fn compress_block(
        &mut self,
        window: &[u8],
        start: usize,
        p: LazyParams,
        store: &mut SeqStore,
    ) {
        let end = window.len();
        let mut anchor = start;
        let mut ip = start;
        if end >= 8 {
            let ilimit = end - 8;
            while ip < ilimit {
                let rep0 = store.reps[0] as usize;
                // Candidates: the repeat offset one byte ahead, then the chains here.
                let mut best = Found { len: 0, offset: 0 };
                let mut best_start = ip;
                if ip > anchor || ip + 1 < ilimit {
                    let r = Self::rep_match(window, ip + 1, rep0, end);
                    if r > 0 {
                        best = Found {
                            len: r,
                            offset: rep0,
                        };
                        best_start = ip + 1;
                    }
                }
                let f = self.search(window, ip, end, p);
                if f.len > best.len {
                    best = f;
                    best_start = ip;
                }
                if best.len < MIN_MATCH {
                    ip += 1 + ((ip - anchor) >> 8);
                    continue;
                }
                if p.lookahead != Lookahead::Greedy {
                    let mut pos = best_start;
                    let steps = if p.lookahead == Lookahead::Lazy2 {
                        2
                    } else {
                        1
                    };
                    let mut step = 0;
                    while step < steps && pos + 1 < ilimit && best.len < p.target_len {
                        pos += 1;
                        step += 1;
                        let rep0 = store.reps[0] as usize;
                        let bias = if step == 1 { 4 } else { 7 };
                        let gain_now = best.len as i64 * 4 - offset_bits(best.offset, rep0) + bias;
                        let r = Self::rep_match(window, pos, rep0, end);
                        if r >= MIN_MATCH && r as i64 * 4 > gain_now {
                            best = Found {
                                len: r,
                                offset: rep0,
                            };
                            best_start = pos;
                            step = 0;
                            continue;
                        }
                        let f = self.search(window, pos, end, p);
                        if f.len >= MIN_MATCH
                            && f.len as i64 * 4 - offset_bits(f.offset, rep0) > gain_now
                        {
                            best = f;
                            best_start = pos;
                            step = 0;
                        }
                    }
                }
                // Extend backwards over literals that also match.
                let mut s = best_start;
                let mut len = best.len;
                while s > anchor && s > best.offset && window[s - 1] == window[s - 1 - best.offset]
                {
                    s -= 1;
                    len += 1;
                }
                #[allow(clippy::cast_possible_truncation)]
                // offsets are below the 8 KiB chain reach
                store.push_from::<false>(window, anchor, s, best.offset as u32, len);
                ip = s + len;
                anchor = ip;
                while ip < ilimit {
                    let r = store.reps[1] as usize;
                    let len = Self::rep_match(window, ip, r, end);
                    if len == 0 {
                        break;
                    }
                    #[allow(clippy::cast_possible_truncation)]
                    store.push::<false>(&[], r as u32, len);
                    ip += len;
                    anchor = ip;
                }
            }
        }
        store.push_literals(&window[anchor..end]);
    }
}

impl Default for Lazy {
    fn default() -> Self {
        Self::new()
    }
}
