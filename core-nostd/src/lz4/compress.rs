//! The LZ4 block encoder: liblz4's fast single-pass match finder on a table of 16-bit positions.
//!
//! The table (16 KiB) is zeroed at the start of every call, as liblz4 does. Measured against keeping
//! it between pages with a tag per entry (`position << 4 | tag`, 15 tags in turn, zeroed once every 15
//! pages): the tag costs five more operations in every probe of the search loop, which is bound by
//! operations per cycle, and the zeroing (wide stores into a table that stays in L1) costs less, so
//! the plain table compresses pages 5-10% faster (see the commit that made this change).
//!
//! With the same hash (13 bits of Knuth's multiplicative hash of 4 bytes, liblz4's `byU16` table),
//! the same skip schedule and the same end-of-block rules, the blocks are byte-for-byte those of
//! `LZ4_compress_fast_extState` on inputs up to [`MAX_INPUT_LEN`] bytes.
//!
//! Why the finder stays this one: on real pages (memdump: 260 sequences a page, 88% of them after
//! 0-3 literals) the time goes to about one unpredictable branch per sequence (where the next match
//! starts) and to the table-lookup chain behind it. Every finder that decides by data instead of by
//! branches puts that chain (load, hash, table, load, compare) on the critical path and measured
//! slower, 3-24% against this loop in the same runs: hashing the whole page first (AVX-512 VBMI),
//! probing the 3 or 4 positions after a match at once and taking the first match by bit mask (which
//! also grew the blocks 0.4-0.7%), and a search loop of 8 or 16 positions a step with gathers and
//! conflict detection. Leaving out the `ip - 2` entry is 4-10% faster but grows memdump's blocks 0.8%;
//! leaving it out after matches shorter than 12 bytes is 0-2% faster and grows them 0.63%. Fingerprint
//! entries (an entry also holds low bits of the hash product, so that a miss is decided without
//! reading the candidate's bytes) were slower: 2-4% with exact 32-bit entries (13-bit slot, 19 bits
//! of product, 32 KiB to clear), 1-4% with 12-bit slots and 4-bit generations that clear the table
//! once every 15 pages (blocks 0.1% larger).

use super::error::Lz4Error;
use super::kernels::{Kernels, WILD_STEP};
use super::{LAST_LITERALS, MAX_INPUT_LEN, MF_LIMIT, MIN_MATCH};
use crate::Page;
use crate::simd::SimdBackend;

/// Bits of the hash: liblz4's `byU16` table has 2^13 entries.
const HASH_LOG: u32 = 13;
/// Entries in the hash table.
pub(crate) const HASH_SIZE: usize = 1 << HASH_LOG;
/// The hash table: the last position seen for each hashed 4-byte sequence.
pub(crate) type Table = [u16; HASH_SIZE];
/// Inputs shorter than this are written as literals only (liblz4's `LZ4_minLength`).
const MIN_INPUT_FOR_MATCH: usize = MF_LIMIT + 1;
/// After 2^SKIP_TRIGGER failed probes, the search step grows by one (liblz4's `LZ4_skipTrigger`).
const SKIP_TRIGGER: u32 = 6;

/// The largest acceleration, as liblz4's `LZ4_ACCELERATION_MAX`.
pub const MAX_ACCELERATION: u32 = 65537;

/// A reusable LZ4 compressor: its hash table (16 KiB), an acceleration and the SIMD backend its
/// kernels run on. Keep one per thread (in a static, on the heap) and call it for every page, so
/// that the table is neither allocated nor on the stack per call.
#[derive(Clone)]
pub struct Compressor {
    table: Table,
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
        self.table = [0; HASH_SIZE];
        Ok(dispatch(
            self.backend,
            &mut self.table,
            self.acceleration,
            src,
            dst,
        )?)
    }

    /// Compresses one page: [`Compressor::compress_into`] specialised for exactly 4096 bytes, where
    /// every end-of-block limit is a constant.
    pub fn compress_page(&mut self, page: &Page, dst: &mut [u8]) -> crate::Result<usize> {
        self.table = [0; HASH_SIZE];
        Ok(dispatch_page(
            self.backend,
            &mut self.table,
            self.acceleration,
            page,
            dst,
        )?)
    }
}

/// Runs the block encoder on the compressor's backend.
fn dispatch(
    backend: SimdBackend,
    table: &mut Table,
    acceleration: u32,
    src: &[u8],
    dst: &mut [u8],
) -> Result<usize, Lz4Error> {
    match backend {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the backend was resolved, so the CPU supports AVX-512 F/BW/VL (and AVX2).
        SimdBackend::Avx512 => unsafe { super::avx512::compress(table, acceleration, src, dst) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the backend was resolved, so the CPU supports AVX2, BMI1 and BMI2.
        SimdBackend::Avx2 => unsafe { super::avx2::compress(table, acceleration, src, dst) },
        #[cfg(target_arch = "aarch64")]
        SimdBackend::Neon => super::neon::compress(table, acceleration, src, dst),
        _ => compress_block::<super::kernels::Scalar>(table, acceleration, src, dst),
    }
}

/// [`dispatch`] for one page.
fn dispatch_page(
    backend: SimdBackend,
    table: &mut Table,
    acceleration: u32,
    page: &Page,
    dst: &mut [u8],
) -> Result<usize, Lz4Error> {
    match backend {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the backend was resolved, so the CPU supports AVX-512 F/BW/VL (and AVX2).
        SimdBackend::Avx512 => unsafe {
            super::avx512::compress_page(table, acceleration, page, dst)
        },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the backend was resolved, so the CPU supports AVX2, BMI1 and BMI2.
        SimdBackend::Avx2 => unsafe { super::avx2::compress_page(table, acceleration, page, dst) },
        #[cfg(target_arch = "aarch64")]
        SimdBackend::Neon => super::neon::compress_page(table, acceleration, page, dst),
        _ => compress_block::<super::kernels::Scalar>(table, acceleration, page, dst),
    }
}

/// The hash-table slot of a 4-byte sequence.
#[inline(always)]
fn hash(sequence: u32) -> usize {
    (sequence.wrapping_mul(2_654_435_761) >> (32 - HASH_LOG)) as usize
}

/// The hash-table slot of the 4-byte sequence at `pos`.
///
/// # Safety
/// `pos + 4 <= src.len()`.
#[inline(always)]
unsafe fn hash_at(src: &[u8], pos: usize) -> usize {
    // SAFETY: the caller's guarantee.
    hash(unsafe { read32(src, pos) })
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

/// Writes the bytes that extend a length nibble of 15 (`rest` = length - 15) at `d + op` and returns
/// the position after them.
///
/// # Safety
/// The `rest / 255 + 1` bytes at `d + op` are writable.
#[inline(always)]
unsafe fn write_extended_length(d: *mut u8, mut op: usize, mut rest: usize) -> usize {
    // SAFETY: the loop writes rest / 255 + 1 bytes from op, which the caller vouches for.
    unsafe {
        while rest >= 255 {
            *d.add(op) = 255;
            op += 1;
            rest -= 255;
        }
        // rest < 255 here.
        #[allow(clippy::cast_possible_truncation)]
        {
            *d.add(op) = rest as u8;
        }
    }
    op + 1
}

/// The error for a block that needs at least `needed` bytes of a `capacity`-byte destination.
#[cold]
fn too_small(needed: usize, capacity: usize) -> Lz4Error {
    Lz4Error::DestinationTooSmall { needed, capacity }
}

/// Encodes `src` (at most [`MAX_INPUT_LEN`] bytes) into `dst`, on a zeroed `table`.
///
/// Room in `dst` is checked once per sequence with estimates that over-count by at most the byte that
/// the final token needs anyway, so a failure means the block cannot fit; after those checks the
/// writes go through a raw pointer without further bounds checks.
#[inline(always)]
pub(crate) fn compress_block<K: Kernels>(
    table: &mut Table,
    acceleration: u32,
    src: &[u8],
    dst: &mut [u8],
) -> Result<usize, Lz4Error> {
    // A destination of compress_bound bytes holds any block (as in liblz4's `notLimited` mode):
    // then the room checks, one to three per sequence, are left out.
    if dst.len() >= super::compress_bound(src.len()) {
        encode::<K, false>(table, acceleration, src, dst)
    } else {
        encode::<K, true>(table, acceleration, src, dst)
    }
}

/// [`compress_block`], checking the room in `dst` when `LIMITED`; without, `dst` must hold
/// [`super::compress_bound`]`(src.len())` bytes.
///
/// Why the bound makes the checks unnecessary: every byte written (tokens, length bytes, literals,
/// offsets) stays in the final block, and the block is at most `len + len / 255 + 2` bytes. A
/// sequence of `L` literals and a match of `M >= 4` bytes costs a token, the offset, the literal
/// length bytes (`(L - 15) / 255 + 1 <= L / 255 + 1` when `L >= 15`) and the match length bytes
/// (`(M - 19) / 255 + 1` when `M >= 19`): at most `L + L / 255 + M`. The last sequence costs at most
/// `L + L / 255 + 2`. Only the wide literal copy writes past the block, and it checks its own room.
#[inline(always)]
fn encode<K: Kernels, const LIMITED: bool>(
    table: &mut Table,
    acceleration: u32,
    src: &[u8],
    dst: &mut [u8],
) -> Result<usize, Lz4Error> {
    let len = src.len();
    let oend = dst.len();
    let s = src.as_ptr();
    // Every write below goes through `d`; `dst` is not touched again.
    let d = dst.as_mut_ptr();
    let mut op = 0usize;
    let mut anchor = 0usize;
    // Positions are below MAX_INPUT_LEN = 65536, so the entry keeps them whole.
    #[allow(clippy::cast_possible_truncation)]
    let entry = |pos: usize| pos as u16;

    if len >= MIN_INPUT_FOR_MATCH {
        // A match may start at most at len - MF_LIMIT, and extends at most to len - LAST_LITERALS.
        let search_limit = len - MF_LIMIT + 1;
        let match_limit = len - LAST_LITERALS;
        // Every read32 below is at a position <= search_limit = len - 11, or at a match candidate
        // below such a position, so its 4 bytes are inside src.
        // SAFETY: len >= 13.
        table[unsafe { hash_at(src, 0) }] = entry(0);
        let mut ip = 1usize;
        // SAFETY: len >= 13.
        let mut forward_hash = unsafe { hash_at(src, 1) };

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
                    // The table started zeroed, so an entry is 0 or an earlier position.
                    candidate = usize::from(table[h]);
                    // SAFETY: forward_ip <= search_limit (checked above).
                    forward_hash = unsafe { hash_at(src, forward_ip) };
                    table[h] = entry(ip);
                    // SAFETY: candidate < ip <= search_limit.
                    if unsafe { read32(src, candidate) == read32(src, ip) } {
                        break;
                    }
                }
            }
            // Extend the match backwards over equal bytes not yet covered.
            // SAFETY: ip - 1 and candidate - 1 are inside src (both are > 0 when read).
            while ip > anchor && candidate > 0 && unsafe { *s.add(ip - 1) == *s.add(candidate - 1) }
            {
                ip -= 1;
                candidate -= 1;
            }

            // Token, literal length and literals; room for them and the 2-byte offset.
            let literals = ip - anchor;
            let needed = 1 + literals / 255 + 1 + literals + 2;
            if LIMITED && needed > oend - op {
                return Err(too_small(op + needed, oend));
            }
            let mut token_at = op;
            op += 1;
            // The room checked above (when LIMITED, else implied by the bound, see `encode`): the
            // `needed` bytes from token_at cover the token, the length bytes, the literals and the
            // offset, which every write of this sequence up to the offset stays within.
            if literals >= 15 {
                // SAFETY: the token and the (literals - 15) / 255 + 1 length bytes are inside that
                // room.
                unsafe {
                    *d.add(token_at) = 15 << 4;
                    op = write_extended_length(d, op, literals - 15);
                }
            } else {
                // SAFETY: token_at is inside that room. literals < 15, so the shifted value fits
                // in a byte.
                #[allow(clippy::cast_possible_truncation)]
                unsafe {
                    *d.add(token_at) = (literals << 4) as u8;
                }
            }
            if len - anchor >= literals + WILD_STEP && oend - op >= literals + WILD_STEP {
                // SAFETY: both buffers hold literals + 32 bytes from anchor and op, covering the
                // rounded-up copy; src and dst are distinct borrows.
                unsafe { K::copy_wild32(d.add(op), s.add(anchor), literals) };
            } else {
                // SAFETY: anchor + literals = ip <= len, and op + literals is inside the room
                // checked above; distinct borrows.
                unsafe { core::ptr::copy_nonoverlapping(s.add(anchor), d.add(op), literals) };
            }
            op += literals;

            // Matches, and further matches that follow without literals.
            loop {
                // candidate < ip and ip - candidate < len <= 65536: the offset fits in 16 bits.
                #[allow(clippy::cast_possible_truncation)]
                let offset = (ip - candidate) as u16;
                // SAFETY: the room for these 2 bytes was checked with the token (above, or before
                // the token of a match-only sequence below), or is implied by the bound.
                unsafe {
                    d.add(op)
                        .cast::<[u8; 2]>()
                        .write_unaligned(offset.to_le_bytes());
                }
                op += 2;
                // SAFETY: a match starts at ip <= search_limit = len - 11, so ip + 4 < match_limit;
                // candidate < ip, so both ranges of match_limit - ip - 4 bytes are inside src.
                let extra = unsafe {
                    K::count_equal(
                        s.add(ip + MIN_MATCH),
                        s.add(candidate + MIN_MATCH),
                        s.add(match_limit),
                    )
                };
                ip += MIN_MATCH + extra;
                if LIMITED && extra / 255 + 1 > oend - op {
                    return Err(too_small(op + extra / 255 + 1, oend));
                }
                // SAFETY: token_at < op, and the extra / 255 + 1 bytes from op (at least the
                // length bytes, and at least 1) are inside dst (checked above).
                unsafe {
                    // min(extra, 15) fits in the low nibble.
                    #[allow(clippy::cast_possible_truncation)]
                    {
                        *d.add(token_at) += extra.min(15) as u8;
                    }
                    if extra < 15 + 255 {
                        // One length byte or none: write it anyway and keep it only when the
                        // nibble is 15, without a branch (the next write overwrites it otherwise).
                        #[allow(clippy::cast_possible_truncation)]
                        {
                            *d.add(op) = extra.wrapping_sub(15) as u8;
                        }
                        op += usize::from(extra >= 15);
                    } else {
                        op = write_extended_length(d, op, extra - 15);
                    }
                }
                anchor = ip;
                if ip >= search_limit {
                    break 'sequences;
                }
                // Index the position two bytes back, then try a match right here.
                // SAFETY: ip < search_limit here, and ip >= 4 after a match.
                table[unsafe { hash_at(src, ip - 2) }] = entry(ip - 2);
                // SAFETY: ip < search_limit.
                let h = unsafe { hash_at(src, ip) };
                candidate = usize::from(table[h]);
                table[h] = entry(ip);
                // SAFETY: candidate < ip < search_limit.
                if unsafe { read32(src, candidate) != read32(src, ip) } {
                    break;
                }
                if LIMITED && 3 > oend - op {
                    return Err(too_small(op + 3, oend));
                }
                token_at = op;
                // SAFETY: op < oend (checked above, or implied by the bound).
                unsafe { *d.add(op) = 0 };
                op += 1;
            }
            ip += 1;
            // SAFETY: ip <= search_limit (it was below it before the increment).
            forward_hash = unsafe { hash_at(src, ip) };
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
        return Err(too_small(op + needed, oend));
    }
    // SAFETY: the token, its length bytes and the literals (`needed` bytes from op) are inside dst
    // (checked above); anchor + literals = len.
    unsafe {
        if literals >= 15 {
            *d.add(op) = 15 << 4;
            op = write_extended_length(d, op + 1, literals - 15);
        } else {
            #[allow(clippy::cast_possible_truncation)]
            {
                *d.add(op) = (literals << 4) as u8;
            }
            op += 1;
        }
        core::ptr::copy_nonoverlapping(s.add(anchor), d.add(op), literals);
    }
    Ok(op + literals)
}
