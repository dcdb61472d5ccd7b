//! The LZ4 block encoder: liblz4's fast single-pass match finder, on a hash table that is kept between
//! calls and never cleared per call.
//!
//! The table holds `base + position` for each hashed 4-byte sequence. Every call starts at a `base`
//! above all values written by earlier calls, so a stale entry is simply a value below `base`: it
//! reads as position 0, which is what liblz4 sees in its freshly zeroed table. Nothing is cleared per
//! page; the table is zeroed only when `base` would overflow (once every ~65 000 full-size inputs).
//!
//! With the same hash (13 bits of Knuth's multiplicative hash of 4 bytes, liblz4's `byU16` table), the
//! same skip schedule and the same end-of-block rules, the blocks are byte-for-byte those of
//! `LZ4_compress_fast_extState` on inputs up to [`MAX_INPUT_LEN`] bytes.

use super::error::Lz4Error;
use super::kernels::{Kernels, WILD_STEP};
use super::{LAST_LITERALS, MAX_INPUT_LEN, MF_LIMIT, MIN_MATCH};
use crate::simd::SimdBackend;
use crate::{PAGE_SIZE, Page};

/// Bits of the hash: liblz4's `byU16` table has 2^13 entries.
const HASH_LOG: u32 = 13;
/// Entries in the hash table.
pub(crate) const HASH_SIZE: usize = 1 << HASH_LOG;
/// Inputs shorter than this are written as literals only (liblz4's `LZ4_minLength`).
const MIN_INPUT_FOR_MATCH: usize = MF_LIMIT + 1;
/// After 2^SKIP_TRIGGER failed probes, the search step grows by one (liblz4's `LZ4_skipTrigger`).
const SKIP_TRIGGER: u32 = 6;

/// The largest acceleration, as liblz4's `LZ4_ACCELERATION_MAX`.
pub const MAX_ACCELERATION: u32 = 65537;

/// A reusable LZ4 compressor: its hash table (32 KiB), an acceleration and the SIMD backend its
/// kernels run on. Keep one per thread (in a static, on the heap) and call it for every page; a call
/// costs no table clearing.
#[derive(Clone)]
pub struct Compressor {
    table: [u32; HASH_SIZE],
    /// Table values at or above this belong to the current call.
    next_base: u32,
    acceleration: u32,
    backend: SimdBackend,
}

impl core::fmt::Debug for Compressor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Compressor")
            .field("acceleration", &self.acceleration)
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Default for Compressor {
    fn default() -> Self {
        Self::new()
    }
}

impl Compressor {
    /// A compressor with acceleration 1 (the best ratio of the fast mode) on the best backend here.
    pub fn new() -> Self {
        Self::with_backend(SimdBackend::detect())
    }

    /// A compressor on a chosen backend (one the CPU lacks falls back, see
    /// [`SimdBackend::resolve`]). Every backend writes the same bytes.
    pub fn with_backend(backend: SimdBackend) -> Self {
        Self {
            table: [0; HASH_SIZE],
            // The table starts zeroed, so every entry is below the first base.
            next_base: 1,
            acceleration: 1,
            backend: backend.resolve(),
        }
    }

    /// Sets the acceleration as liblz4 does: 1 searches hardest; each step up trades ratio for speed.
    /// 0 means 1, and values above [`MAX_ACCELERATION`] are clamped to it.
    pub fn set_acceleration(&mut self, acceleration: u32) {
        self.acceleration = acceleration.clamp(1, MAX_ACCELERATION);
    }

    /// The acceleration in use.
    pub fn acceleration(&self) -> u32 {
        self.acceleration
    }

    /// The backend the kernels run on.
    pub fn backend(&self) -> SimdBackend {
        self.backend
    }

    /// Compresses `src` (at most [`MAX_INPUT_LEN`] bytes) into `dst` as one LZ4 block and returns its
    /// length. A `dst` of [`super::compress_bound`]`(src.len())` bytes always suffices; a smaller one
    /// gives [`Lz4Error::DestinationTooSmall`] exactly when the block does not fit.
    pub fn compress_into(&mut self, src: &[u8], dst: &mut [u8]) -> crate::Result<usize> {
        if src.len() > MAX_INPUT_LEN {
            return Err(Lz4Error::InputTooLarge {
                len: src.len(),
                limit: MAX_INPUT_LEN,
            }
            .into());
        }
        let base = self.start_call(src.len());
        Ok(dispatch(
            self.backend,
            &mut self.table,
            base,
            self.acceleration,
            src,
            dst,
        )?)
    }

    /// Compresses one page: [`Compressor::compress_into`] specialised for exactly 4096 bytes, where
    /// every end-of-block limit is a constant.
    pub fn compress_page(&mut self, page: &Page, dst: &mut [u8]) -> crate::Result<usize> {
        let base = self.start_call(PAGE_SIZE);
        Ok(dispatch_page(
            self.backend,
            &mut self.table,
            base,
            self.acceleration,
            page,
            dst,
        )?)
    }

    /// Moves the table's value range, so tests can reach the wrap-around.
    #[cfg(test)]
    pub(crate) fn next_base_for_test(&mut self, next_base: u32) {
        self.next_base = next_base;
    }

    /// Reserves table values `base .. base + len` for a call and returns `base`, zeroing the table
    /// only when the values would overflow.
    fn start_call(&mut self, len: usize) -> u32 {
        // len <= MAX_INPUT_LEN (checked by the callers, or PAGE_SIZE), so it fits in u32.
        #[allow(clippy::cast_possible_truncation)]
        let len = len as u32;
        let base = match self.next_base.checked_add(len) {
            Some(_) => self.next_base,
            None => {
                self.table = [0; HASH_SIZE];
                1
            }
        };
        // base + len cannot overflow here: either checked above, or base is 1 and len <= 65536.
        self.next_base = base + len.max(1);
        base
    }
}

/// Runs the block encoder on the compressor's backend.
fn dispatch(
    backend: SimdBackend,
    table: &mut [u32; HASH_SIZE],
    base: u32,
    acceleration: u32,
    src: &[u8],
    dst: &mut [u8],
) -> Result<usize, Lz4Error> {
    match backend {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the backend was resolved, so the CPU supports AVX-512 F/BW/VL (and AVX2).
        SimdBackend::Avx512 => unsafe {
            super::avx512::compress(table, base, acceleration, src, dst)
        },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the backend was resolved, so the CPU supports AVX2, BMI1 and BMI2.
        SimdBackend::Avx2 => unsafe { super::avx2::compress(table, base, acceleration, src, dst) },
        #[cfg(target_arch = "aarch64")]
        SimdBackend::Neon => super::neon::compress(table, base, acceleration, src, dst),
        _ => compress_block::<super::kernels::Scalar>(table, base, acceleration, src, dst),
    }
}

/// [`dispatch`] for one page.
fn dispatch_page(
    backend: SimdBackend,
    table: &mut [u32; HASH_SIZE],
    base: u32,
    acceleration: u32,
    page: &Page,
    dst: &mut [u8],
) -> Result<usize, Lz4Error> {
    match backend {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the backend was resolved, so the CPU supports AVX-512 F/BW/VL (and AVX2).
        SimdBackend::Avx512 => unsafe {
            super::avx512::compress_page(table, base, acceleration, page, dst)
        },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the backend was resolved, so the CPU supports AVX2, BMI1 and BMI2.
        SimdBackend::Avx2 => unsafe {
            super::avx2::compress_page(table, base, acceleration, page, dst)
        },
        #[cfg(target_arch = "aarch64")]
        SimdBackend::Neon => super::neon::compress_page(table, base, acceleration, page, dst),
        _ => compress_block::<super::kernels::Scalar>(table, base, acceleration, page, dst),
    }
}

/// The hash-table slot of a 4-byte sequence.
#[inline(always)]
fn hash(sequence: u32) -> usize {
    (sequence.wrapping_mul(2_654_435_761) >> (32 - HASH_LOG)) as usize
}

/// Reads the little-endian 4-byte sequence at `pos`.
///
/// # Safety
/// `pos + 4 <= src.len()`.
#[inline(always)]
unsafe fn read32(src: &[u8], pos: usize) -> u32 {
    // SAFETY: the caller guarantees 4 readable bytes at pos; read_unaligned needs no alignment.
    u32::from_le(unsafe { src.as_ptr().add(pos).cast::<u32>().read_unaligned() })
}

/// Writes the bytes that extend a length nibble of 15 (`rest` = length - 15) and returns the new
/// output position. Writes `rest / 255 + 1` bytes; the caller has checked the room.
#[inline(always)]
fn write_extended_length(dst: &mut [u8], mut op: usize, mut rest: usize) -> usize {
    while rest >= 255 {
        dst[op] = 255;
        op += 1;
        rest -= 255;
    }
    // rest < 255 here.
    #[allow(clippy::cast_possible_truncation)]
    {
        dst[op] = rest as u8;
    }
    op + 1
}

/// Copies `len` literals from `src[from..]` to `dst[op..]`, in 32-byte blocks when both buffers have
/// the slack for it.
#[inline(always)]
fn copy_literals<K: Kernels>(src: &[u8], from: usize, dst: &mut [u8], op: usize, len: usize) {
    if src.len() - from >= len + WILD_STEP && dst.len() - op >= len + WILD_STEP {
        // SAFETY: both buffers hold len + 32 bytes from `from` and `op`, covering the rounded-up
        // copy; src and dst are distinct borrows.
        unsafe { K::copy_wild32(dst.as_mut_ptr().add(op), src.as_ptr().add(from), len) };
    } else {
        dst[op..op + len].copy_from_slice(&src[from..from + len]);
    }
}

/// The error for a block that needs at least `needed` bytes.
fn too_small(needed: usize, dst: &[u8]) -> Lz4Error {
    Lz4Error::DestinationTooSmall {
        needed,
        capacity: dst.len(),
    }
}

/// Encodes `src` (at most [`MAX_INPUT_LEN`] bytes, table values `base .. base + src.len()` reserved)
/// into `dst`. Room in `dst` is checked once per sequence with estimates that over-count by at most
/// the byte that the final token needs anyway, so a failure means the block cannot fit.
#[inline(always)]
pub(crate) fn compress_block<K: Kernels>(
    table: &mut [u32; HASH_SIZE],
    base: u32,
    acceleration: u32,
    src: &[u8],
    dst: &mut [u8],
) -> Result<usize, Lz4Error> {
    let len = src.len();
    let oend = dst.len();
    let mut op = 0usize;
    let mut anchor = 0usize;
    // Positions are below MAX_INPUT_LEN = 65536, so `pos as u32` keeps the value, and base + pos does
    // not overflow (start_call reserved the range).
    #[allow(clippy::cast_possible_truncation)]
    let slot_value = |pos: usize| base + pos as u32;

    if len >= MIN_INPUT_FOR_MATCH {
        // A match may start at most at len - MF_LIMIT, and extends at most to len - LAST_LITERALS.
        let search_limit = len - MF_LIMIT + 1;
        let match_limit = len - LAST_LITERALS;
        // Every read32 below is at a position <= search_limit = len - 11, or at a match candidate
        // below such a position, so its 4 bytes are inside src.
        // SAFETY: len >= 13.
        table[hash(unsafe { read32(src, 0) })] = slot_value(0);
        let mut ip = 1usize;
        // SAFETY: len >= 13.
        let mut forward_hash = hash(unsafe { read32(src, 1) });

        'sequences: loop {
            // Search: probe positions with a step that grows after every 64 misses.
            let mut candidate;
            {
                let mut forward_ip = ip;
                let mut step = 1usize;
                let mut probes = acceleration << SKIP_TRIGGER;
                loop {
                    let h = forward_hash;
                    ip = forward_ip;
                    forward_ip += step;
                    step = (probes >> SKIP_TRIGGER) as usize;
                    probes += 1;
                    if forward_ip > search_limit {
                        break 'sequences;
                    }
                    // A value below base is stale: it reads as position 0, as in a zeroed table.
                    candidate = table[h].saturating_sub(base) as usize;
                    // SAFETY: forward_ip <= search_limit (checked above).
                    forward_hash = hash(unsafe { read32(src, forward_ip) });
                    table[h] = slot_value(ip);
                    // SAFETY: candidate < ip <= search_limit (a table value is an earlier position).
                    if unsafe { read32(src, candidate) == read32(src, ip) } {
                        break;
                    }
                }
            }
            // Extend the match backwards over equal bytes not yet covered.
            while ip > anchor && candidate > 0 && src[ip - 1] == src[candidate - 1] {
                ip -= 1;
                candidate -= 1;
            }

            // Token, literal length and literals; room for them and the 2-byte offset.
            let literals = ip - anchor;
            let needed = 1 + literals / 255 + 1 + literals + 2;
            if needed > oend - op {
                return Err(too_small(op + needed, dst));
            }
            let mut token_at = op;
            op += 1;
            if literals >= 15 {
                dst[token_at] = 15 << 4;
                op = write_extended_length(dst, op, literals - 15);
            } else {
                // literals < 15, so the shifted value fits in a byte.
                #[allow(clippy::cast_possible_truncation)]
                {
                    dst[token_at] = (literals << 4) as u8;
                }
            }
            copy_literals::<K>(src, anchor, dst, op, literals);
            op += literals;

            // Matches, and further matches that follow without literals.
            loop {
                // candidate < ip and ip - candidate < len <= 65536: the offset fits in 16 bits.
                #[allow(clippy::cast_possible_truncation)]
                let offset = (ip - candidate) as u16;
                dst[op..op + 2].copy_from_slice(&offset.to_le_bytes());
                op += 2;
                // SAFETY: a match starts at ip <= search_limit = len - 11, so ip + 4 < match_limit;
                // candidate < ip, so both ranges of match_limit - ip - 4 bytes are inside src.
                let extra = unsafe {
                    let p = src.as_ptr();
                    K::count_equal(
                        p.add(ip + MIN_MATCH),
                        p.add(candidate + MIN_MATCH),
                        p.add(match_limit),
                    )
                };
                ip += MIN_MATCH + extra;
                if extra / 255 + 1 > oend - op {
                    return Err(too_small(op + extra / 255 + 1, dst));
                }
                if extra >= 15 {
                    dst[token_at] += 15;
                    op = write_extended_length(dst, op, extra - 15);
                } else {
                    // extra < 15 fits in the low nibble.
                    #[allow(clippy::cast_possible_truncation)]
                    {
                        dst[token_at] += extra as u8;
                    }
                }
                anchor = ip;
                if ip >= search_limit {
                    break 'sequences;
                }
                // Index the position two bytes back, then try a match right here.
                // SAFETY: ip < search_limit here, and ip >= 4 after a match.
                table[hash(unsafe { read32(src, ip - 2) })] = slot_value(ip - 2);
                // SAFETY: ip < search_limit.
                let h = hash(unsafe { read32(src, ip) });
                candidate = table[h].saturating_sub(base) as usize;
                table[h] = slot_value(ip);
                // SAFETY: candidate < ip < search_limit.
                if unsafe { read32(src, candidate) != read32(src, ip) } {
                    break;
                }
                if 3 > oend - op {
                    return Err(too_small(op + 3, dst));
                }
                token_at = op;
                dst[op] = 0;
                op += 1;
            }
            ip += 1;
            // SAFETY: ip <= search_limit (it was below it before the increment).
            forward_hash = hash(unsafe { read32(src, ip) });
        }
    }

    // The last literals.
    let literals = len - anchor;
    let length_bytes = if literals >= 15 {
        (literals - 15) / 255 + 1
    } else {
        0
    };
    let needed = 1 + length_bytes + literals;
    if needed > oend - op {
        return Err(too_small(op + needed, dst));
    }
    if literals >= 15 {
        dst[op] = 15 << 4;
        op = write_extended_length(dst, op + 1, literals - 15);
    } else {
        #[allow(clippy::cast_possible_truncation)]
        {
            dst[op] = (literals << 4) as u8;
        }
        op += 1;
    }
    dst[op..op + literals].copy_from_slice(&src[anchor..]);
    Ok(op + literals)
}
