//! What every match finder shares: little-endian reads, match-length counting and hashing; and
//! for the lazy finder, 16-bit position tables that a new page reuses without clearing
//! ([`Epoch`]). The fast and double-fast finders' tables are cleared for every page instead and
//! hold plain positions (see `fast`): clearing costs less than the tests of each candidate's age
//! that it saves.
//!
//! Positions are indices into the window a finder sees (at most [`WINDOW_MAX`]). An epoch table
//! stores `position + base`, and `base` moves past every position of the previous window when a
//! new one starts, so a stale entry decodes to an index beyond the window and is ignored exactly
//! like an empty one: the output never depends on earlier pages. Only when `base` would overflow
//! 16 bits is the table cleared (every 15 pages).

use super::sequences::SeqStore;

/// The longest window a finder accepts: positions and `base` share 16 bits.
pub const WINDOW_MAX: usize = 1 << 15;

/// A window position as a plain (not epoch) table entry, as the fast and double-fast finders
/// store them: windows are at most [`WINDOW_MAX`] bytes, so it fits.
#[inline(always)]
pub fn table_entry(pos: usize) -> u16 {
    debug_assert!(pos < WINDOW_MAX);
    #[allow(clippy::cast_possible_truncation)] // positions are below WINDOW_MAX = 2^15
    {
        pos as u16
    }
}

/// Reads 8 bytes at `i`, or 0 when they are not all inside `b`: for the places off the hot path.
#[inline(always)]
pub fn get64(b: &[u8], i: usize) -> u64 {
    b.get(i..i + 8)
        .and_then(|s| s.first_chunk::<8>())
        .map_or(0, |a| u64::from_le_bytes(*a))
}

/// Reads 4 bytes at `i`, or 0 when they are not all inside `b`.
#[inline(always)]
pub fn get32(b: &[u8], i: usize) -> u32 {
    b.get(i..i + 4)
        .and_then(|s| s.first_chunk::<4>())
        .map_or(0, |a| u32::from_le_bytes(*a))
}

/// Reads 8 bytes at `i`. The finders' loops keep every read 8 bytes before the window's end (their
/// `ilimit`) and every candidate before the current position, so the bounds check that a safe read
/// would repeat on each of the millions of probes per second is a debug assertion here: this is
/// the measured hot path of every level (about a fifth of the encoder's time with checked reads).
///
/// # Safety
/// `i + 8 <= b.len()`.
#[inline(always)]
pub unsafe fn read64(b: &[u8], i: usize) -> u64 {
    debug_assert!(i + 8 <= b.len());
    // SAFETY: the caller guarantees that the 8 bytes at `i` lie inside `b`; the read is unaligned.
    u64::from_le(unsafe { core::ptr::read_unaligned(b.as_ptr().add(i).cast::<u64>()) })
}

/// Reads 4 bytes at `i`.
///
/// # Safety
/// `i + 4 <= b.len()`.
#[inline(always)]
pub unsafe fn read32(b: &[u8], i: usize) -> u32 {
    debug_assert!(i + 4 <= b.len());
    // SAFETY: the caller guarantees that the 4 bytes at `i` lie inside `b`; the read is unaligned.
    u32::from_le(unsafe { core::ptr::read_unaligned(b.as_ptr().add(i).cast::<u32>()) })
}

/// The low 32 bits of `v` (the first four bytes of a little-endian read).
#[inline(always)]
pub fn low32(v: u64) -> u32 {
    #[allow(clippy::cast_possible_truncation)] // truncation is the point
    {
        v as u32
    }
}

/// Length of the common run of `b[a..end]` and `b[m..]`, with `m < a`.
#[inline(always)]
pub fn count(b: &[u8], mut a: usize, mut m: usize, end: usize) -> usize {
    let start = a;
    let end = end.min(b.len());
    if m >= a {
        return 0;
    }
    // `a` and `m` advance together, so `m < a` holds throughout.
    while a + 8 <= end {
        // SAFETY: a + 8 <= end <= b.len(), and m < a.
        let x = unsafe { read64(b, a) ^ read64(b, m) };
        if x != 0 {
            return a - start + (x.trailing_zeros() / 8) as usize;
        }
        a += 8;
        m += 8;
    }
    while a < end && b.get(a) == b.get(m) {
        a += 1;
        m += 1;
    }
    a - start
}

/// Length of the common run of `b[a..end]` and `b[m..]` (`m < a`), as [`count`] gives it.
/// Most matches are settled by the first 8-byte compare; longer ones (runs of zeros in memory
/// pages reach thousands of bytes) go on 16 bytes at a time with SSE2, which every x86-64 CPU has,
/// then finish with the 8-byte and byte steps of `count`.
#[inline(always)]
pub fn count_long(b: &[u8], a: usize, m: usize, end: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{_mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8};
        let end = end.min(b.len());
        if m < a && a + 8 <= end {
            // SAFETY: m < a and a + 8 <= end <= b.len(): both 8-byte reads are inside `b`.
            let x = unsafe { read64(b, a) ^ read64(b, m) };
            if x != 0 {
                return (x.trailing_zeros() / 8) as usize;
            }
            let mut n = 8;
            while a + n + 16 <= end {
                // SAFETY: m + n < a + n and a + n + 16 <= end <= b.len(): both 16-byte loads are
                // inside `b`; loadu needs no alignment, and SSE2 is part of x86-64.
                let equal = unsafe {
                    let x = _mm_loadu_si128(b.as_ptr().add(a + n).cast());
                    let y = _mm_loadu_si128(b.as_ptr().add(m + n).cast());
                    _mm_movemask_epi8(_mm_cmpeq_epi8(x, y)).cast_unsigned()
                };
                if equal != 0xffff {
                    return n + (!equal).trailing_zeros() as usize;
                }
                n += 16;
            }
            return n + count(b, a + n, m + n, end);
        }
    }
    count(b, a, m, end)
}

/// Records the match found at `ip` (source `mpos`, `offset` back, `len` bytes) after extending it
/// backwards over the literals since `anchor`; returns where the match starts and where it ends
/// (the next anchor). `COUNT`: as for [`SeqStore::push_from`].
#[inline(always)]
pub fn record_match<const COUNT: bool>(
    store: &mut SeqStore,
    window: &[u8],
    anchor: usize,
    (ip, mpos, offset): (usize, usize, usize),
    len: usize,
) -> (usize, usize) {
    let back = count_back(window, anchor, ip, mpos);
    let start = ip - back;
    let len = len + back;
    #[allow(clippy::cast_possible_truncation)] // offsets are below the 32 KiB window
    store.push_from::<COUNT>(window, anchor, start, offset as u32, len);
    (start, start + len)
}

/// How far a match at `a` (source at `m`, `m < a`) extends backwards: the bytes before both that
/// are equal, not going back past `anchor` (the first byte not yet coded) or the window start.
#[inline(always)]
pub fn count_back(b: &[u8], anchor: usize, mut a: usize, mut m: usize) -> usize {
    let start = a;
    while a > anchor && m > 0 && b.get(a - 1) == b.get(m - 1) {
        a -= 1;
        m -= 1;
    }
    start - a
}

/// The multiplier of [`hash`].
const HASH_PRIME: u64 = 0xcf1b_bcdc_b7a5_6463;

/// Hash of the low `bytes` bytes of `v` (4 to 8) into `log` bits.
#[inline(always)]
pub fn hash(v: u64, bytes: u32, log: u32) -> usize {
    let key = v << (64 - 8 * bytes);
    #[allow(clippy::cast_possible_truncation)] // the result has `log` <= 16 bits
    {
        (key.wrapping_mul(HASH_PRIME) >> (64 - log)) as usize
    }
}

/// The running base of a finder's position tables.
#[derive(Clone, Copy, Debug)]
pub struct Epoch {
    base: u16,
    next: u32,
}

impl Epoch {
    /// A state whose first window clears the tables.
    pub const fn new() -> Self {
        Self {
            base: 1,
            next: 1 << 16,
        }
    }

    /// Starts a window of `len` bytes (at most [`WINDOW_MAX`]); returns true when the caller must
    /// zero its tables first.
    #[inline]
    pub fn begin(&mut self, len: usize) -> bool {
        let len = u32::try_from(len.min(WINDOW_MAX)).unwrap_or(0);
        let clear = self.next + len > 1 << 16;
        if clear {
            self.next = 1;
        }
        #[allow(clippy::cast_possible_truncation)] // next + len <= 2^16, so next < 2^16
        {
            self.base = self.next as u16;
        }
        self.next += len;
        clear
    }

    /// The table value for position `pos` of the window.
    #[inline(always)]
    pub fn encode(self, pos: usize) -> u16 {
        #[allow(clippy::cast_possible_truncation)] // pos + base <= 2^16 - 1 by `begin`
        {
            (pos as u16).wrapping_add(self.base)
        }
    }

    /// The window position a table value stands for; stale and empty values give positions past
    /// the window (at least its length), which every finder rejects with `candidate < current`.
    #[inline(always)]
    pub fn decode(self, value: u16) -> usize {
        usize::from(value.wrapping_sub(self.base))
    }
}

impl Default for Epoch {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;

    #[test]
    fn stale_positions_fall_outside_the_window() {
        let mut e = Epoch::new();
        assert!(e.begin(4096));
        let mut table = [0u16; 8];
        table[0] = e.encode(4095);
        table[1] = e.encode(0);
        for page in 1..15 {
            assert!(!e.begin(4096), "page {page}");
            assert!(e.decode(table[0]) >= 4096 && e.decode(table[1]) >= 4096);
            assert!(e.decode(0) >= 4096, "an empty slot is never a position");
            table[0] = e.encode(4095);
            table[1] = e.encode(0);
            assert_eq!(e.decode(table[0]), 4095);
        }
        assert!(e.begin(4096), "the base wraps after 15 pages");
    }

    #[test]
    fn hashes_of_a_shifted_key_come_from_the_shifted_product() {
        let mut v = 0x0123_4567_89ab_cdefu64;
        for _ in 0..1000 {
            v = v.rotate_left(7).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            for bytes in 4..=8 {
                let product = v.wrapping_mul(HASH_PRIME) << (64 - 8 * bytes);
                assert_eq!(hash(v, bytes, 13), (product >> 51) as usize);
            }
        }
    }

    #[test]
    fn count_stops_at_the_first_difference_and_the_end() {
        let b = b"abcdefghijabcdefghiXabcdefghijabcdefghijabcdefghij";
        assert_eq!(count(b, 10, 0, b.len()), 9);
        assert_eq!(count(b, 30, 20, b.len()), 20);
        assert_eq!(count(b, 30, 20, 35), 5);
    }

    /// The wide count gives `matching::count`'s length for runs of every length up to past
    /// three vectors, at every alignment, cut short by the end or by a differing byte.
    #[test]
    fn the_wide_count_is_the_scalar_count() {
        let mut b = [0u8; 256];
        let mut x = 0x9e37_79b9u32;
        for v in &mut b {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            *v = (x >> 24) as u8;
        }
        let (lens, offsets): (&[usize], &[usize]) = if cfg!(miri) {
            (&[0, 7, 8, 9, 23, 24, 25, 40, 60], &[1, 3, 16])
        } else {
            (
                &(0..72).collect::<std::vec::Vec<_>>(),
                &[1, 2, 3, 7, 8, 15, 16, 17, 33, 64],
            )
        };
        for &off in offsets {
            for &len in lens {
                for a in [off, off + 5, off + 40] {
                    let mut w = b;
                    // A run of `len` bytes equal to those `off` back, then one that differs.
                    for i in a..(a + len).min(w.len()) {
                        w[i] = w[i - off];
                    }
                    if a + len < w.len() {
                        w[a + len] = w[a + len - off] ^ 1;
                    }
                    for end in [w.len(), a + len / 2, a + 20] {
                        assert_eq!(
                            count_long(&w, a, a - off, end),
                            count(&w, a, a - off, end),
                            "offset {off}, run {len}, at {a}, end {end}"
                        );
                    }
                }
            }
        }
    }
}
