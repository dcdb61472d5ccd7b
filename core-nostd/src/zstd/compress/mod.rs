//! The Zstandard encoder: one RFC 8878 frame per call, specialised for 4 KiB pages, allocation-free.
//!
//! A frame holds the content size, blocks of at most 4 KiB (a page is one block), and optionally the
//! XXH64 checksum. Blocks carry Huffman-coded literals when that pays and FSE-coded sequences
//! with predefined, RLE or new tables, whichever is smallest, and use repeat offsets.
//!
//! | levels | match finder | tables |
//! | --- | --- | --- |
//! | -7..=-1 | [fast](fast), 5- then 6-byte hashes, step 1 to 7; literals sent raw | 8 KiB |
//! | 1, 2 | fast, 5-byte hashes, a longer match one byte on preferred | 8 KiB |
//! | 3 | [double-fast](dfast): 8-byte and 4-byte hashes | 32 KiB |
//! | 4 | [greedy](lazy) hash chains, depth 4 | 32 KiB |
//! | 5, 6 | lazy hash chains, depth 8 and 16 | 32 KiB |
//! | 7..=9 | lazy2 hash chains, depth 16, 48, 128 | 32 KiB |
//!
//! "Tables" are the match finder's position tables (16-bit positions). Every [`Compressor`] also
//! holds the sequence store (15 KiB), the entropy tables (9 KiB) and the Huffman code (1.5 KiB),
//! whatever the level: [`Compressor::FOOTPRINT`] bytes in all (58 968 on x86-64, checked at compile time
//! to stay within 64 KiB), the stack size of [`compress_into`]. Nothing is allocated.
//!
//! Windows are at most 32 KiB (positions fit 16 bits, see `matching`); a longer input is cut into
//! 32 KiB windows that do not reference each other, and its frame declares a 32 KiB window.
//!
//! A dictionary (zstd format or raw content) lives in a `Compressor<DICT_WINDOW>`: up to half of
//! `DICT_WINDOW` bytes of its content, copied in, precede the input's first part; frames carry its
//! ID and start with its repeat offsets. That adds `DICT_WINDOW` bytes to the footprint.

mod bits;
mod block;
mod dfast;
mod fast;
mod fse;
mod huffman;
mod lazy;
mod literals;
mod matching;
mod sequences;

use crate::error::{Error, Result};
use crate::simd::SimdBackend;
use crate::zstd::tables::{BLOCK_HEADER_SIZE, CHECKSUM_SIZE, FRAME_MAGIC, INITIAL_REPEAT_OFFSETS};
use dfast::{Dfast, DfastParams};
use fast::{Fast, FastParams};
use lazy::{Lazy, LazyParams, Lookahead};
use literals::LiteralsEncoder;
use matching::WINDOW_MAX;
use sequences::{BLOCK_MAX, SeqStore, SequenceTables};

/// Smallest level: the fastest.
pub const MIN_LEVEL: i8 = -7;
/// Largest level: the smallest output.
pub const MAX_LEVEL: i8 = 9;
/// The level that 0 stands for, as in the reference implementation.
pub const DEFAULT_LEVEL: i8 = 3;
/// Levels below this send literals raw, as the reference does at its negative levels: Huffman
/// coding is then most of the time a page takes.
const HUFFMAN_FROM_LEVEL: i8 = 1;
/// Levels below this (the fast and double-fast finders) choose each sequence stream's table by a
/// quick rule, as the reference does at those strategies, instead of costing the predefined and a
/// new table: measured 1% to 3% faster at levels -1 and 1 and no slower at level 3, for 0.1% to
/// 0.2% of ratio (still above libzstd's at each of these levels).
const QUICK_TABLES_BELOW: i8 = 4;

/// Which finder a level uses, with its parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Strategy {
    Fast(FastParams),
    Dfast(DfastParams),
    Lazy(LazyParams),
}

/// Checks that `level` is one this encoder has (`-7..=9`, 0 meaning 3), without building the
/// tables a [`Compressor`] holds.
pub fn check_level(level: i8) -> Result<()> {
    strategy(level).map(|_| ())
}

/// The strategy of a level in `MIN_LEVEL..=MAX_LEVEL` (0 meaning [`DEFAULT_LEVEL`]).
fn strategy(level: i8) -> Result<Strategy> {
    let lazy = |depth, lookahead, target_len| {
        Strategy::Lazy(LazyParams {
            depth,
            lookahead,
            target_len,
        })
    };
    Ok(match level {
        -7..=-1 => {
            // Each level down skips more: a larger first step and a faster-growing one.
            let a = level.unsigned_abs();
            Strategy::Fast(FastParams {
                hash_bytes: if a <= 2 { 5 } else { 6 },
                step: usize::from(a),
                skip_log: 6 - u32::from(a.min(7)) / 2,
            })
        }
        1 => Strategy::Fast(FastParams {
            hash_bytes: 5,
            step: 1,
            skip_log: 7,
        }),
        2 => Strategy::Fast(FastParams {
            hash_bytes: 5,
            step: 1,
            skip_log: 9,
        }),
        0 | 3 => Strategy::Dfast(DfastParams { short_bytes: 4 }),
        4 => lazy(4, Lookahead::Greedy, 32),
        5 => lazy(8, Lookahead::Lazy, 32),
        6 => lazy(16, Lookahead::Lazy, 64),
        7 => lazy(16, Lookahead::Lazy2, 64),
        8 => lazy(48, Lookahead::Lazy2, 128),
        9 => lazy(128, Lookahead::Lazy2, 256),
        _ => {
            return Err(Error::InvalidConfig(
                "zstd level must be in -7..=9 (0 means 3)",
            ));
        }
    })
}

/// The state of one match finder. Variants differ in size, and the enum takes the largest: nothing
/// is boxed in an allocation-free core.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
enum Finder {
    Fast(Fast),
    Dfast(Dfast),
    Lazy(Lazy),
}

impl Finder {
    /// An empty finder of the kind `strategy` runs.
    fn for_strategy(strategy: Strategy) -> Self {
        match strategy {
            Strategy::Fast(_) => Self::Fast(Fast::new()),
            Strategy::Dfast(_) => Self::Dfast(Dfast::new()),
            Strategy::Lazy(_) => Self::Lazy(Lazy::new()),
        }
    }
}

/// A Zstandard compressor: a level, the checksum flag, optionally a dictionary, and every table it
/// needs, kept between calls so that compressing a page sets up almost nothing.
///
/// `DICT_WINDOW` is room for a dictionary: [`Compressor::with_dictionary`] keeps up to half of it of
/// the dictionary's content (its end) and compresses the first `DICT_WINDOW` minus that many bytes
/// of each input against it. The default, 0, holds no dictionary and costs nothing.
#[derive(Clone)]
pub struct Compressor<const DICT_WINDOW: usize = 0> {
    level: i8,
    strategy: Strategy,
    /// Whether blocks are compressed by the build for AVX2 and BMI2 (same output, faster).
    wide: bool,
    checksum: bool,
    finder: Finder,
    store: SeqStore,
    tables: SequenceTables,
    literals: LiteralsEncoder,
    /// `Dictionary_ID` written in each frame (0: none, or raw content).
    dict_id: u32,
    /// Repeat offsets that frames start with.
    initial_reps: [u32; 3],
    /// Bytes of dictionary content at the start of `window`.
    dict_len: usize,
    /// Dictionary content, then the start of the input being compressed.
    window: [u8; DICT_WINDOW],
}

impl<const W: usize> core::fmt::Debug for Compressor<W> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Compressor")
            .field("level", &self.level)
            .field("checksum", &self.checksum)
            .field("dictionary_id", &self.dict_id)
            .field("dictionary_bytes", &self.dict_len)
            .finish_non_exhaustive()
    }
}

impl Compressor {
    /// Bytes a compressor without dictionary occupies, at every level.
    pub const FOOTPRINT: usize = core::mem::size_of::<Self>();

    /// A compressor for `level` (`-7..=9`, 0 meaning 3), without checksum or dictionary.
    pub fn new(level: i8) -> Result<Self> {
        Self::build(level)
    }

    /// The largest frame [`Compressor::compress_into`] can write for `len` bytes of input: every
    /// block raw, plus the frame header and checksum.
    pub const fn bound(len: usize) -> usize {
        len + (len / BLOCK_MAX + 1) * BLOCK_HEADER_SIZE + 18 + CHECKSUM_SIZE
    }
}

impl<const W: usize> Compressor<W> {
    fn build(level: i8) -> Result<Self> {
        let strategy = strategy(level)?;
        let mut tables = SequenceTables::new();
        tables.set_quick_choice(level < QUICK_TABLES_BELOW);
        Ok(Self {
            level,
            strategy,
            wide: SimdBackend::Avx2.is_available(),
            checksum: false,
            finder: Finder::for_strategy(strategy),
            store: SeqStore::new(),
            tables,
            literals: LiteralsEncoder::new(level >= HUFFMAN_FROM_LEVEL),
            dict_id: 0,
            initial_reps: INITIAL_REPEAT_OFFSETS,
            dict_len: 0,
            window: [0; W],
        })
    }

    /// A compressor for `level` that uses `dictionary`: in the zstd dictionary format (its ID goes
    /// into each frame, its repeat offsets start each frame, its content precedes the input) or, for
    /// any other bytes, raw content. The entropy tables of a formatted dictionary are checked but not
    /// used: each block carries its own. `DICT_WINDOW` must be between 8 KiB and 32 KiB.
    pub fn with_dictionary(level: i8, dictionary: &[u8]) -> Result<Self> {
        if !(2 * BLOCK_MAX..=WINDOW_MAX).contains(&W) {
            return Err(Error::InvalidConfig(
                "a dictionary needs a DICT_WINDOW of 8 KiB to 32 KiB",
            ));
        }
        let mut c = Self::build(level)?;
        let mut huffman = crate::zstd::huffman::HuffmanTable::EMPTY;
        let mut sequences = crate::zstd::sequences::SequenceTables::EMPTY;
        let dict =
            crate::zstd::dictionary::Dictionary::parse(dictionary, &mut huffman, &mut sequences)?;
        let keep = dict.content.len().min(W / 2);
        let tail = &dict.content[dict.content.len() - keep..];
        c.window[..keep].copy_from_slice(tail);
        c.dict_len = keep;
        c.dict_id = dict.id;
        // Repeat offsets reaching before the kept content stay valid: the decoder has the whole
        // content, and the finders only use offsets that stay inside what they see.
        c.initial_reps = dict.repeat_offsets;
        Ok(c)
    }

    /// Runs on `backend` (resolved to one this CPU has): AVX2 or wider uses the block loop built
    /// for AVX2 and BMI2, any other the portable build. The frames are the same bytes on every
    /// backend; by default the best one detected runs.
    pub fn with_backend(mut self, backend: SimdBackend) -> Self {
        self.wide = matches!(backend.resolve(), SimdBackend::Avx2 | SimdBackend::Avx512);
        self
    }

    /// Adds (or removes) the XXH64 content checksum at the end of each frame.
    pub fn with_checksum(mut self, checksum: bool) -> Self {
        self.checksum = checksum;
        self
    }

    /// The level this compressor was built for.
    pub fn level(&self) -> i8 {
        self.level
    }

    /// Switches to `level` (`-7..=9`, 0 meaning 3) for the next frames: the frames are then the
    /// bytes a compressor built for `level` writes. The match finder's tables are kept when the new
    /// level uses the same finder (levels -7 to 2 share one), so that a caller choosing the level
    /// page by page pays nothing for the switch.
    pub fn set_level(&mut self, level: i8) -> Result<()> {
        let strategy = strategy(level)?;
        if core::mem::discriminant(&strategy) != core::mem::discriminant(&self.strategy) {
            self.replace_finder(strategy);
        }
        self.strategy = strategy;
        self.level = level;
        self.tables.set_quick_choice(level < QUICK_TABLES_BELOW);
        self.literals.set_huffman(level >= HUFFMAN_FROM_LEVEL);
        Ok(())
    }

    /// Out of line: building the new finder may take its size in stack (up to tens of KiB), which
    /// must not count against every caller of [`Self::set_level`], most of which keep the finder.
    #[inline(never)]
    fn replace_finder(&mut self, strategy: Strategy) {
        self.finder = Finder::for_strategy(strategy);
    }

    /// Whether frames end with a checksum.
    pub fn checksum(&self) -> bool {
        self.checksum
    }

    /// The `Dictionary_ID` frames carry (0 without dictionary or with raw content).
    pub fn dictionary_id(&self) -> u32 {
        self.dict_id
    }

    /// Compresses `src` into one frame at the start of `dst`; returns its length. Fails with
    /// [`Error::OutputTooSmall`] when `dst` cannot hold it ([`Compressor::bound`] always can).
    pub fn compress_into(&mut self, src: &[u8], dst: &mut [u8]) -> Result<usize> {
        let available = dst.len();
        let too_small = |needed: usize| Error::OutputTooSmall { needed, available };
        // With a dictionary, the first part of the input is compressed behind its content.
        let first = if self.dict_len > 0 {
            src.len().min(W - self.dict_len)
        } else {
            0
        };
        let mut pos = self
            .write_frame_header(src.len(), first, dst)
            .ok_or(too_small(18))?;
        self.store.reps = self.initial_reps;
        if src.is_empty() {
            // One empty raw block, marked last.
            let header = 1u32.to_le_bytes();
            dst.get_mut(pos..pos + BLOCK_HEADER_SIZE)
                .ok_or(too_small(pos + BLOCK_HEADER_SIZE))?
                .copy_from_slice(&header[..BLOCK_HEADER_SIZE]);
            pos += BLOCK_HEADER_SIZE;
        }
        let mut parts = Parts {
            strategy: self.strategy,
            wide: self.wide,
            finder: &mut self.finder,
            store: &mut self.store,
            literals: &mut self.literals,
            tables: &mut self.tables,
        };
        if first > 0 {
            let end = self.dict_len + first;
            self.window[self.dict_len..end].copy_from_slice(&src[..first]);
            let window = &self.window[..end];
            parts.begin_window(window, self.dict_len);
            pos = parts.compress_window(window, self.dict_len, first == src.len(), dst, pos)?;
        }
        let rest = &src[first..];
        let windows = rest.len().div_ceil(WINDOW_MAX);
        for (wi, window) in rest.chunks(WINDOW_MAX).enumerate() {
            parts.begin_window(window, 0);
            pos = parts.compress_window(window, 0, wi + 1 == windows, dst, pos)?;
        }
        if self.checksum {
            let digest = xxhash_rust::xxh64::xxh64(src, 0);
            dst.get_mut(pos..pos + CHECKSUM_SIZE)
                .ok_or(too_small(pos + CHECKSUM_SIZE))?
                .copy_from_slice(&digest.to_le_bytes()[..CHECKSUM_SIZE]);
            pos += CHECKSUM_SIZE;
        }
        Ok(pos)
    }

    /// Writes magic number, frame header descriptor, window descriptor, dictionary ID and content
    /// size. `first` is how much of the input is compressed behind the dictionary's content.
    fn write_frame_header(&self, len: usize, first: usize, dst: &mut [u8]) -> Option<usize> {
        let single_segment = self.dict_len == 0 && len <= WINDOW_MAX;
        let len64 = u64::try_from(len).ok()?;
        let (fcs_flag, fcs_bytes, fcs_value): (u8, usize, u64) = if single_segment && len < 256 {
            (0, 1, len64)
        } else if (256..65_792).contains(&len) {
            (1, 2, len64 - 256)
        } else if len64 <= u64::from(u32::MAX) {
            (2, 4, len64)
        } else {
            (3, 8, len64)
        };
        let dict_flag = u8::from(self.dict_id != 0) * 3;
        let descriptor = (fcs_flag << 6)
            | (u8::from(single_segment) << 5)
            | (u8::from(self.checksum) << 2)
            | dict_flag;
        let mut header = [0u8; 18];
        header[..4].copy_from_slice(&FRAME_MAGIC.to_le_bytes());
        header[4] = descriptor;
        let mut n = 5;
        if !single_segment {
            // The farthest any match reaches: the dictionary's content and the first part, or
            // one 32 KiB window.
            let reach = (self.dict_len + first).max(if len > first { WINDOW_MAX } else { 0 });
            let log = (usize::BITS - reach.saturating_sub(1).leading_zeros()).max(10);
            header[n] = u8::try_from((log - 10) << 3).ok()?;
            n += 1;
        }
        if dict_flag != 0 {
            header[n..n + 4].copy_from_slice(&self.dict_id.to_le_bytes());
            n += 4;
        }
        header[n..n + fcs_bytes].copy_from_slice(&fcs_value.to_le_bytes()[..fcs_bytes]);
        n += fcs_bytes;
        dst.get_mut(..n)?.copy_from_slice(&header[..n]);
        Some(n)
    }
}

/// The parts of a compressor that compress one window, borrowed apart from its dictionary window.
struct Parts<'a> {
    strategy: Strategy,
    /// Whether the AVX2 and BMI2 build of the block loop may run.
    wide: bool,
    finder: &'a mut Finder,
    store: &'a mut SeqStore,
    literals: &'a mut LiteralsEncoder,
    tables: &'a mut SequenceTables,
}

impl Parts<'_> {
    /// Starts a window whose first `history` bytes (dictionary content) are only referenced.
    fn begin_window(&mut self, window: &[u8], history: usize) {
        match (&mut *self.finder, self.strategy) {
            (Finder::Fast(f), Strategy::Fast(p)) => {
                f.begin();
                f.prime(window, history, p.hash_bytes);
            }
            (Finder::Dfast(f), Strategy::Dfast(p)) => {
                f.begin();
                f.prime(window, history, p.short_bytes);
            }
            // The lazy finder inserts every position before the one it searches, history included.
            (Finder::Lazy(f), _) => f.begin(window.len()),
            (Finder::Fast(f), _) => f.begin(),
            (Finder::Dfast(f), _) => f.begin(),
        }
    }

    /// Compresses `window[start..]` block by block into `dst` from `pos`; returns the new position.
    /// The same code runs compiled for the baseline or, where the CPU has them (`wide`), with
    /// AVX2 and BMI1/2: variable shifts, bit scans and wide moves in single instructions. Only the
    /// instructions differ; every value computed is the same, and so is the output.
    fn compress_window(
        &mut self,
        window: &[u8],
        start: usize,
        last_window: bool,
        dst: &mut [u8],
        pos: usize,
    ) -> Result<usize> {
        #[cfg(target_arch = "x86_64")]
        if self.wide {
            // SAFETY: `wide` is only set when `SimdBackend::Avx2` is available, which detection
            // grants only on CPUs (and OSes) with AVX2, BMI1 and BMI2.
            return unsafe { self.compress_window_avx2(window, start, last_window, dst, pos) };
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = self.wide;
        self.compress_window_any::<false>(window, start, last_window, dst, pos)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,bmi1,bmi2")]
    unsafe fn compress_window_avx2(
        &mut self,
        window: &[u8],
        start: usize,
        last_window: bool,
        dst: &mut [u8],
        pos: usize,
    ) -> Result<usize> {
        self.compress_window_any::<true>(window, start, last_window, dst, pos)
    }

    /// The block loop. `WIDE` (set only by the AVX2 build) writes each block through
    /// `block::write_block_avx2`, a function of its own: the entropy stage apart from the
    /// finder's loop measured 1% to 3% faster than both inlined into one function.
    #[inline(always)]
    fn compress_window_any<const WIDE: bool>(
        &mut self,
        window: &[u8],
        mut start: usize,
        last_window: bool,
        dst: &mut [u8],
        mut pos: usize,
    ) -> Result<usize> {
        let available = dst.len();
        while start < window.len() {
            let end = (start + BLOCK_MAX).min(window.len());
            let last = last_window && end == window.len();
            let reps = self.store.reps;
            self.store.clear();
            #[cfg(target_arch = "x86_64")]
            if WIDE {
                // SAFETY: as for `write_block_avx2` below.
                unsafe { self.find_avx2(&window[..end], start) };
            } else {
                self.find(&window[..end], start);
            }
            #[cfg(not(target_arch = "x86_64"))]
            self.find(&window[..end], start);
            let needed = pos + BLOCK_HEADER_SIZE + end - start;
            let out = dst
                .get_mut(pos..)
                .ok_or(Error::OutputTooSmall { needed, available })?;
            let content = &window[start..end];
            #[cfg(target_arch = "x86_64")]
            let block = if WIDE {
                // SAFETY: WIDE is only set by `compress_window_avx2`, which runs only where
                // AVX2, BMI1 and BMI2 are available.
                unsafe {
                    block::write_block_avx2(
                        content,
                        self.store,
                        last,
                        self.literals,
                        self.tables,
                        out,
                    )
                }
            } else {
                block::write_block(content, self.store, last, self.literals, self.tables, out)
            };
            #[cfg(not(target_arch = "x86_64"))]
            let block =
                block::write_block(content, self.store, last, self.literals, self.tables, out);
            let (written, compressed) = block.ok_or(Error::OutputTooSmall { needed, available })?;
            if !compressed {
                // The decoder only updates repeat offsets in compressed blocks.
                self.store.reps = reps;
            }
            pos += written;
            start = end;
        }
        Ok(pos)
    }

    /// [`Parts::find`] with each finder compiled for AVX2 and BMI1/2 in a function of its own.
    ///
    /// # Safety
    /// The CPU must have AVX2, BMI1 and BMI2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,bmi1,bmi2")]
    unsafe fn find_avx2(&mut self, window: &[u8], start: usize) {
        // Safe to call here, where the same features are enabled.
        #[target_feature(enable = "avx2,bmi1,bmi2")]
        #[inline(never)]
        fn fast(f: &mut Fast, w: &[u8], start: usize, p: FastParams, s: &mut SeqStore) {
            f.compress_block(w, start, p, s);
        }
        #[target_feature(enable = "avx2,bmi1,bmi2")]
        #[inline(never)]
        fn dfast(f: &mut Dfast, w: &[u8], start: usize, p: DfastParams, s: &mut SeqStore) {
            f.compress_block(w, start, p, s);
        }
        match (&mut *self.finder, self.strategy) {
            (Finder::Fast(f), Strategy::Fast(p)) => fast(f, window, start, p, self.store),
            (Finder::Dfast(f), Strategy::Dfast(p)) => dfast(f, window, start, p, self.store),
            _ => self.find(window, start),
        }
    }

    #[inline(always)]
    fn find(&mut self, window: &[u8], start: usize) {
        match (&mut *self.finder, self.strategy) {
            (Finder::Fast(f), Strategy::Fast(p)) => f.compress_block(window, start, p, self.store),
            (Finder::Dfast(f), Strategy::Dfast(p)) => {
                f.compress_block(window, start, p, self.store)
            }
            (Finder::Lazy(f), Strategy::Lazy(p)) => f.compress_block(window, start, p, self.store),
            // The finder is built from the strategy; a mismatch cannot happen, and all-literals
            // output would still be a valid frame.
            _ => self.store.push_literals(&window[start..]),
        }
    }
}

// Every table of a compressor, at every level, fits 64 KiB: checked when the crate compiles.
const _: () = assert!(Compressor::FOOTPRINT <= 64 * 1024);

/// Compresses `src` into one frame at `level` (`-7..=9`, 0 meaning 3) without checksum; returns the
/// frame's length. The compressor lives on the stack for the call: [`Compressor::FOOTPRINT`] bytes.
/// Keep a [`Compressor`] to compress many inputs without setting it up each time.
pub fn compress_into(src: &[u8], dst: &mut [u8], level: i8) -> Result<usize> {
    Compressor::new(level)?.compress_into(src, dst)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pages with structure: text-like runs, repeats at many distances, and noise, from a fixed
    /// generator so that every target sees the same bytes.
    fn sample_pages() -> [[u8; 4096]; 4] {
        let mut pages = [[0u8; 4096]; 4];
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for (k, page) in pages.iter_mut().enumerate() {
            let mut i = 0;
            while i < page.len() {
                let r = next();
                let len = (r % 40) as usize + 1;
                match (r >> 8) % 4 {
                    0 if i > 64 => {
                        let dist = ((r >> 16) % (i as u64).min(2000)) as usize + 1;
                        for j in i..(i + len).min(page.len()) {
                            page[j] = page[j - dist];
                        }
                    }
                    1 => page[i..(i + len).min(4096)].fill(b"eaiou rst"[(r >> 20) as usize % 9]),
                    _ if k == 3 => page[i..(i + len).min(4096)].fill((r >> 32) as u8),
                    _ => {
                        for j in i..(i + len).min(page.len()) {
                            page[j] = b"the page of text "[((r >> 24) as usize + j) % 17];
                        }
                    }
                }
                i += len;
            }
        }
        pages
    }

    /// The frames of every level over the sample pages, hashed: the same on every target and
    /// every run. A change here is a change of output that must be deliberate.
    #[test]
    fn output_is_the_same_bytes_on_every_target() {
        let pages = sample_pages();
        let mut all = [0u8; 4 * 4200];
        let mut digests = [0u64; 17];
        for (d, level) in digests.iter_mut().zip(MIN_LEVEL..=MAX_LEVEL) {
            let mut c = Compressor::new(level).unwrap().with_checksum(true);
            let mut pos = 0;
            for p in &pages {
                pos += c.compress_into(p, &mut all[pos..]).unwrap();
            }
            *d = xxhash_rust::xxh64::xxh64(&all[..pos], u64::from(level.unsigned_abs()));
        }
        let combined = digests.iter().fold(0u64, |a, &d| a.rotate_left(7) ^ d);
        assert_eq!(combined, EXPECTED_DIGEST, "digests per level: {digests:x?}");
    }

    /// The AVX2/BMI2 build of the block loop writes exactly the portable build's frames.
    #[test]
    fn every_backend_writes_the_same_frames() {
        let pages = sample_pages();
        for level in MIN_LEVEL..=MAX_LEVEL {
            let mut portable = Compressor::new(level)
                .unwrap()
                .with_backend(SimdBackend::Scalar);
            assert!(!portable.wide);
            for backend in SimdBackend::available() {
                let mut other = Compressor::new(level).unwrap().with_backend(backend);
                for p in &pages {
                    let (mut a, mut b) = ([0u8; 4200], [0u8; 4200]);
                    let la = portable.compress_into(p, &mut a).unwrap();
                    let lb = other.compress_into(p, &mut b).unwrap();
                    assert_eq!(a[..la], b[..lb], "level {level}, backend {backend}");
                }
            }
        }
    }

    /// A compressor switched to a level writes the frames of one built for it, whatever level
    /// it ran at before (the finder kept or replaced, the table and literal rules switched).
    #[test]
    fn a_switched_level_writes_the_frames_of_that_level() {
        let pages = sample_pages();
        let mut switched = Compressor::new(1).unwrap();
        assert!(switched.set_level(10).is_err());
        assert_eq!(switched.level(), 1);
        let (mut a, mut b) = ([0u8; 4200], [0u8; 4200]);
        for (k, level) in [-1, 1, -7, 2, 3, 9, 0, -1, 7, 1].into_iter().enumerate() {
            switched.set_level(level).unwrap();
            assert_eq!(switched.level(), level);
            let mut fresh = Compressor::new(level).unwrap();
            let p = &pages[k % pages.len()];
            let la = switched.compress_into(p, &mut a).unwrap();
            let lb = fresh.compress_into(p, &mut b).unwrap();
            assert_eq!(a[..la], b[..lb], "level {level}");
        }
    }

    /// The encoding never depends on the room left in the destination: one byte less than the
    /// frame is refused. Found by fuzzing: a closing run of one byte that the fastest levels cut
    /// into several sequences was sent compressed, not RLE, unless the compressed block did not fit.
    #[test]
    fn a_destination_one_byte_short_is_refused() {
        // Zeros with a scattered nonzero byte, then a closing block of 54 zeros.
        let mut input = [0u8; 4096 + 54];
        let mut x = 0x2545_f491u32;
        for b in &mut input[..4096] {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            if (x >> 16).is_multiple_of(23) {
                *b = (x >> 24) as u8 | 1;
            }
        }
        for level in MIN_LEVEL..=MAX_LEVEL {
            let mut c = Compressor::new(level).unwrap();
            let mut frame = [0u8; 4400];
            let n = c.compress_into(&input, &mut frame).unwrap();
            // Last block, RLE, 54 bytes: the header, then the byte.
            let header = 1u32 | (1 << 1) | (54 << 3);
            assert_eq!(
                frame[n - 4..n - 1],
                header.to_le_bytes()[..3],
                "level {level}: the last block is RLE"
            );
            assert!(
                c.compress_into(&input, &mut frame[..n - 1]).is_err(),
                "level {level}"
            );
        }
    }

    /// The footprint the module documentation gives for 64-bit targets.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn footprint_is_as_documented() {
        assert_eq!(Compressor::FOOTPRINT, 58_968);
    }

    const EXPECTED_DIGEST: u64 = 11_896_674_280_115_289_212;
}
