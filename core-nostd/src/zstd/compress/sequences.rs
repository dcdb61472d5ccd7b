//! The sequences a match finder produces and their encoding (RFC 8878, "Sequences Section"): the
//! literals-length, match-length and offset codes, the choice of a predefined, RLE or new FSE table
//! for each, and the interleaved backward bitstream.

use super::bits::BitWriter;
use super::fse::{self, EncodingTable};
use crate::zstd::tables::{
    LL_BASELINE, LL_DEFAULT_ACCURACY_LOG, LL_DEFAULT_DISTRIBUTION, LL_EXTRA_BITS,
    LL_MAX_ACCURACY_LOG, LL_MAX_SYMBOL, ML_BASELINE, ML_DEFAULT_ACCURACY_LOG,
    ML_DEFAULT_DISTRIBUTION, ML_EXTRA_BITS, ML_MAX_ACCURACY_LOG, ML_MAX_SYMBOL,
    OF_DEFAULT_ACCURACY_LOG, OF_DEFAULT_DISTRIBUTION, OF_MAX_ACCURACY_LOG,
};

/// Largest block this encoder writes: a page. Larger inputs are cut into blocks of this size, which
/// keeps every length in 16 bits and the sequence store small.
pub const BLOCK_MAX: usize = 4096;
/// Most sequences a block can hold (every match is at least 3 bytes).
pub const MAX_SEQUENCES: usize = BLOCK_MAX / 3 + 1;
/// Offset codes used for offsets below 64 KiB plus 3 (16 bits and one more), rounded up to a
/// power of two so that a code is masked into range.
const OF_SYMBOLS: usize = 32;

/// One sequence: literals, then a match, packed in one word so that the encoder reads it with one
/// load. Bits 0..16: literals copied before the match; 16..32: length of the match (at least 3);
/// 32..48: the literals-length (bits 32..38) and match-length (38..44) codes, filled by the
/// encoder's counting pass; 48..64: `Offset_Value` (1..=3 for a repeat offset, else offset + 3),
/// whose highest bit is then the offset code.
#[derive(Clone, Copy, Default)]
pub struct Sequence(u64);

impl Sequence {
    /// A sequence of `lit_len` literals and a `match_len`-byte match. Both are within a 4 KiB block
    /// and `off_base` is at most 32 KiB + 2 (offsets stay inside a 32 KiB window), so each fits
    /// its 16 bits.
    #[inline(always)]
    fn new(lit_len: usize, match_len: usize, off_base: u32) -> Self {
        debug_assert!(lit_len <= BLOCK_MAX && match_len <= BLOCK_MAX && off_base < 1 << 16);
        Self((lit_len as u64) | ((match_len as u64) << 16) | (u64::from(off_base) << 48))
    }

    /// Literals copied before the match.
    #[inline(always)]
    pub fn lit_len(self) -> u32 {
        #[allow(clippy::cast_possible_truncation)] // 16 bits
        {
            (self.0 & 0xffff) as u32
        }
    }

    /// Length of the match.
    #[inline(always)]
    pub fn match_len(self) -> u32 {
        #[allow(clippy::cast_possible_truncation)] // 16 bits
        {
            ((self.0 >> 16) & 0xffff) as u32
        }
    }

    /// The offset value as the format writes it.
    #[inline(always)]
    pub fn off_base(self) -> u32 {
        #[allow(clippy::cast_possible_truncation)] // 16 bits
        {
            (self.0 >> 48) as u32
        }
    }

    /// The offset code: the highest bit of `off_base` (never 0).
    #[inline(always)]
    fn of_code(self) -> u32 {
        highbit(self.off_base())
    }

    /// The literals-length code, once the counting pass stored it.
    #[inline(always)]
    fn ll(self) -> u8 {
        byte(self.0 >> 32) & 63
    }

    /// The match-length code, once the counting pass stored it.
    #[inline(always)]
    fn ml(self) -> u8 {
        byte(self.0 >> 38) & 63
    }

    /// The offset code, once the counting pass stored it.
    #[inline(always)]
    fn of(self) -> u8 {
        byte(self.0 >> 44) & 15
    }
}

/// What a match finder fills for one block: the sequences, every literal byte, and the repeat
/// offsets as they stand after the block.
#[derive(Clone)]
pub struct SeqStore {
    /// Sequences of the block.
    pub seqs: [Sequence; MAX_SEQUENCES],
    /// How many are in use.
    pub count: usize,
    /// Literal bytes of the block, the trailing ones included (16 spare bytes for wide copies).
    pub lits: [u8; BLOCK_MAX + 16],
    /// How many literal bytes.
    pub lit_count: usize,
    /// The repeat offsets (most recent first).
    pub reps: [u32; 3],
    /// The code histograms of the block's sequences, when the finder counted them as it stored
    /// each one (`counted`); otherwise the encoder counts them itself.
    pub hists: CodeHistograms,
    /// Whether `hists` holds the block's counts and each sequence its codes.
    pub counted: bool,
}

/// How often each literals-length, match-length and offset code occurs in a block. 64 counts per
/// length stream, so that a masked code indexes them without a bounds check.
#[derive(Clone)]
pub struct CodeHistograms {
    ll: [u32; 64],
    ml: [u32; 64],
    of: [u32; OF_SYMBOLS],
}

impl CodeHistograms {
    const EMPTY: Self = Self {
        ll: [0; 64],
        ml: [0; 64],
        of: [0; OF_SYMBOLS],
    };
}

impl SeqStore {
    /// An empty store with the frame's initial repeat offsets.
    pub const fn new() -> Self {
        Self {
            seqs: [Sequence(0); MAX_SEQUENCES],
            count: 0,
            lits: [0; BLOCK_MAX + 16],
            lit_count: 0,
            reps: crate::zstd::tables::INITIAL_REPEAT_OFFSETS,
            hists: CodeHistograms::EMPTY,
            counted: false,
        }
    }

    /// Empties the store for the next block, keeping the repeat offsets.
    #[inline]
    pub fn clear(&mut self) {
        self.count = 0;
        self.lit_count = 0;
        self.counted = false;
    }

    /// Makes the `push` methods called with `COUNT` count each sequence's codes as they store it.
    /// At the levels whose literals go raw, the finder's loop, bound by its mispredicted branches,
    /// has room for this work, which the encoder's counting pass then skips.
    #[inline(always)]
    pub fn count_codes_on_push(&mut self) {
        self.hists = CodeHistograms::EMPTY;
        self.counted = true;
    }

    /// Appends literals without a match (the block's tail).
    #[inline(always)]
    pub fn push_literals(&mut self, literals: &[u8]) {
        let n = literals.len();
        // Short runs, the common case, go as one 16-byte move; the buffer has room past its end.
        if n <= 16
            && let (Some(dst), Some(src)) = (
                self.lits.get_mut(self.lit_count..self.lit_count + 16),
                literals.get(..n),
            )
        {
            let mut chunk = [0u8; 16];
            chunk[..n].copy_from_slice(src);
            dst.copy_from_slice(&chunk);
            self.lit_count += n;
            return;
        }
        if let Some(dst) = self.lits.get_mut(self.lit_count..self.lit_count + n) {
            dst.copy_from_slice(literals);
            self.lit_count += n;
        }
    }

    /// Appends `window[from..to]` as literals. A short run is copied as 16 bytes straight from the
    /// window when both sides have the room (the store keeps 16 spare bytes, and what it copies past
    /// `to` is overwritten or ignored): no byte-exact copy through a temporary on the hot path.
    #[inline(always)]
    pub fn push_window_literals(&mut self, window: &[u8], from: usize, to: usize) {
        let n = to.saturating_sub(from);
        if n <= 16
            && let (Some(src), Some(dst)) = (
                window.get(from..from + 16),
                self.lits.get_mut(self.lit_count..self.lit_count + 16),
            )
        {
            dst.copy_from_slice(src);
            self.lit_count += n;
            return;
        }
        if let Some(literals) = window.get(from..to) {
            self.push_literals(literals);
        }
    }

    /// Appends a sequence whose literals are `window[from..to]`: as [`SeqStore::push`].
    #[inline(always)]
    pub fn push_from<const COUNT: bool>(
        &mut self,
        window: &[u8],
        from: usize,
        to: usize,
        offset: u32,
        match_len: usize,
    ) {
        let lit_len = to.saturating_sub(from);
        let off_base = self.offset_code(lit_len > 0, offset);
        self.push_window_literals(window, from, to);
        self.push_sequence::<COUNT>(lit_len, match_len, off_base);
    }

    /// The `Offset_Value` for `offset` after literals (or none), updating the repeat offsets as
    /// the decoder will.
    #[inline(always)]
    fn offset_code(&mut self, has_literals: bool, offset: u32) -> u32 {
        let r = self.reps;
        if has_literals {
            if offset == r[0] {
                1
            } else if offset == r[1] {
                self.reps = [r[1], r[0], r[2]];
                2
            } else if offset == r[2] {
                self.reps = [r[2], r[0], r[1]];
                3
            } else {
                self.reps = [offset, r[0], r[1]];
                offset + 3
            }
        } else if offset == r[1] {
            self.reps = [r[1], r[0], r[2]];
            1
        } else if offset == r[2] {
            self.reps = [r[2], r[0], r[1]];
            2
        } else if offset == r[0].wrapping_sub(1) {
            self.reps = [offset, r[0], r[1]];
            3
        } else {
            self.reps = [offset, r[0], r[1]];
            offset + 3
        }
    }

    #[inline(always)]
    fn push_sequence<const COUNT: bool>(
        &mut self,
        lit_len: usize,
        match_len: usize,
        off_base: u32,
    ) {
        if let Some(seq) = self.seqs.get_mut(self.count) {
            *seq = Sequence::new(lit_len, match_len, off_base);
            if COUNT {
                let h = &mut self.hists;
                count_codes(seq, &mut h.ll, &mut h.ml, &mut h.of);
            }
            self.count += 1;
        }
    }

    /// Appends a sequence: `literals`, then a match of `match_len` bytes at `offset` back. Chooses
    /// the repeat-offset code when the offset is one of the three recent ones and updates them as
    /// the decoder will. The caller keeps the block within [`BLOCK_MAX`] bytes.
    #[inline(always)]
    pub fn push<const COUNT: bool>(&mut self, literals: &[u8], offset: u32, match_len: usize) {
        let off_base = self.offset_code(!literals.is_empty(), offset);
        self.push_literals(literals);
        self.push_sequence::<COUNT>(literals.len(), match_len, off_base);
    }
}

impl Default for SeqStore {
    fn default() -> Self {
        Self::new()
    }
}

/// Literals-length code of each length below 64, derived from the baselines.
const LL_CODE: [u8; 64] = {
    let mut t = [0u8; 64];
    let mut code = 0usize;
    let mut len = 0usize;
    while len < 64 {
        while code < LL_MAX_SYMBOL && LL_BASELINE[code + 1] as usize <= len {
            code += 1;
        }
        #[allow(clippy::cast_possible_truncation)] // code <= 35
        {
            t[len] = code as u8;
        }
        len += 1;
    }
    t
};

/// Match-length code of each (length - 3) below 128, derived from the baselines.
const ML_CODE: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut code = 0usize;
    let mut base = 0usize;
    while base < 128 {
        while code < ML_MAX_SYMBOL && ML_BASELINE[code + 1] as usize <= base + 3 {
            code += 1;
        }
        #[allow(clippy::cast_possible_truncation)] // code <= 52
        {
            t[base] = code as u8;
        }
        base += 1;
    }
    t
};

#[inline(always)]
fn highbit(x: u32) -> u32 {
    31 - (x | 1).leading_zeros()
}

#[inline(always)]
fn ll_code(ll: u32) -> u8 {
    if ll < 64 {
        LL_CODE[ll as usize]
    } else {
        #[allow(clippy::cast_possible_truncation)] // at most 16 + 19
        {
            (highbit(ll) + 19) as u8
        }
    }
}

#[inline(always)]
fn ml_code(ml: u32) -> u8 {
    let base = ml - 3;
    if base < 128 {
        ML_CODE[base as usize]
    } else {
        #[allow(clippy::cast_possible_truncation)] // at most 16 + 36
        {
            (highbit(base) + 36) as u8
        }
    }
}

/// How a sequence stream's table is given (RFC 8878 "Symbol compression modes").
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Predefined = 0,
    Rle = 1,
    Compressed = 2,
}

/// The three tables one block's sequences are encoded with, together, so that the encoding loop
/// reaches all three from one pointer.
#[derive(Clone)]
struct StreamTables {
    ll: EncodingTable,
    ml: EncodingTable,
    of: EncodingTable,
}

/// The encoding tables a compressor keeps: the three predefined ones, built once, and room for
/// the per-block ones.
#[derive(Clone)]
pub struct SequenceTables {
    ll_predefined: EncodingTable,
    ml_predefined: EncodingTable,
    of_predefined: EncodingTable,
    /// The tables of the block being written: new or RLE ones built in place, or copies of the
    /// predefined ones.
    current: StreamTables,
    /// Whether each stream's table is chosen by a quick rule (see `choose`) instead of by cost.
    quick: bool,
}

impl SequenceTables {
    /// Builds the predefined tables.
    pub fn new() -> Self {
        let mut t = Self {
            ll_predefined: EncodingTable::new(),
            ml_predefined: EncodingTable::new(),
            of_predefined: EncodingTable::new(),
            current: StreamTables {
                ll: EncodingTable::new(),
                ml: EncodingTable::new(),
                of: EncodingTable::new(),
            },
            quick: false,
        };
        t.ll_predefined
            .build(&LL_DEFAULT_DISTRIBUTION, LL_DEFAULT_ACCURACY_LOG);
        t.ml_predefined
            .build(&ML_DEFAULT_DISTRIBUTION, ML_DEFAULT_ACCURACY_LOG);
        t.of_predefined
            .build(&OF_DEFAULT_DISTRIBUTION, OF_DEFAULT_ACCURACY_LOG);
        t
    }

    /// Chooses each stream's table by a quick rule instead of comparing costs (the fastest levels).
    pub fn set_quick_choice(&mut self, quick: bool) {
        self.quick = quick;
    }

    /// Writes the sequences section for `seqs`, whose codes `hists` counts (see [`count_all`]),
    /// into `out`; returns its length, or `None` when it does not fit.
    #[inline(always)]
    pub fn write(
        &mut self,
        seqs: &mut [Sequence],
        hists: &CodeHistograms,
        out: &mut [u8],
    ) -> Option<usize> {
        let n = seqs.len();
        let mut pos = write_count(n, out)?;
        if n == 0 {
            return Some(pos);
        }
        let (ll_hist, ml_hist, of_hist) = (&hists.ll, &hists.ml, &hists.of);
        let mode_pos = pos;
        pos += 1;
        let total = u32::try_from(n).ok()?;
        let t = &mut self.current;
        let ll_mode = choose(
            &ll_hist[..=LL_MAX_SYMBOL],
            total,
            &LL_PREDEFINED_COST,
            LL_MAX_ACCURACY_LOG,
            self.quick.then_some(LL_DEFAULT_ACCURACY_LOG),
            &mut t.ll,
            out,
            &mut pos,
        )?;
        let of_mode = choose(
            of_hist,
            total,
            &OF_PREDEFINED_COST,
            OF_MAX_ACCURACY_LOG,
            self.quick.then_some(OF_DEFAULT_ACCURACY_LOG),
            &mut t.of,
            out,
            &mut pos,
        )?;
        let ml_mode = choose(
            &ml_hist[..=ML_MAX_SYMBOL],
            total,
            &ML_PREDEFINED_COST,
            ML_MAX_ACCURACY_LOG,
            self.quick.then_some(ML_DEFAULT_ACCURACY_LOG),
            &mut t.ml,
            out,
            &mut pos,
        )?;
        *out.get_mut(mode_pos)? =
            ((ll_mode as u8) << 6) | ((of_mode as u8) << 4) | ((ml_mode as u8) << 2);
        // A predefined table is copied into place (a few percent of streams): the encoding loop
        // then needs one pointer for its three tables.
        if ll_mode == Mode::Predefined {
            t.ll.clone_from(&self.ll_predefined);
        }
        if ml_mode == Mode::Predefined {
            t.ml.clone_from(&self.ml_predefined);
        }
        if of_mode == Mode::Predefined {
            t.of.clone_from(&self.of_predefined);
        }
        let len = encode_stream(seqs, t, out.get_mut(pos..)?)?;
        Some(pos + len)
    }
}

/// Counts the codes of every sequence into `hists` and stores its codes in it, for the blocks
/// whose finder did not count them as it stored them.
#[inline(always)]
pub fn count_all(seqs: &mut [Sequence], hists: &mut CodeHistograms) {
    // Two histograms per stream, for even and odd sequences, summed after: runs of one code
    // (common: short matches, small offsets) would otherwise chain every increment through a
    // store-to-load forward of the one before.
    // 64 counts each, so that a code is masked into range, not clamped.
    let mut ll_hists = [[0u32; 64]; 2];
    let mut ml_hists = [[0u32; 64]; 2];
    let mut of_hists = [[0u32; OF_SYMBOLS]; 2];
    // Sequences in pairs, the first of each counted in the first histograms: each count's
    // address is then a constant offset from its code.
    let mut pairs = seqs.chunks_exact_mut(2);
    for pair in &mut pairs {
        for h in 0..2 {
            count_codes(
                &mut pair[h],
                &mut ll_hists[h],
                &mut ml_hists[h],
                &mut of_hists[h],
            );
        }
    }
    if let Some(s) = pairs.into_remainder().first_mut() {
        count_codes(s, &mut ll_hists[0], &mut ml_hists[0], &mut of_hists[0]);
    }
    sum_halves(&mut hists.ll, &ll_hists);
    sum_halves(&mut hists.ml, &ml_hists);
    sum_halves(&mut hists.of, &of_hists);
}

/// `total` = the even sequences' counts + the odd ones'.
#[inline(always)]
fn sum_halves<const N: usize>(total: &mut [u32; N], [even, odd]: &[[u32; N]; 2]) {
    for ((t, x), y) in total.iter_mut().zip(even).zip(odd) {
        *t = x + y;
    }
}

impl Default for SequenceTables {
    fn default() -> Self {
        Self::new()
    }
}

/// Counts the codes of `s` in the histograms and stores its literals-length and match-length codes
/// in it.
#[inline(always)]
fn count_codes(
    s: &mut Sequence,
    ll_hist: &mut [u32; 64],
    ml_hist: &mut [u32; 64],
    of_hist: &mut [u32; OF_SYMBOLS],
) {
    let ll = ll_code(s.lit_len());
    let ml = ml_code(s.match_len());
    // off_base < 2^16, so its high bit is below 16.
    let of = s.of_code() & 15;
    ll_hist[usize::from(ll & 63)] += 1;
    ml_hist[usize::from(ml & 63)] += 1;
    of_hist[of as usize & (OF_SYMBOLS - 1)] += 1;
    s.0 |= (u64::from(ll & 63) << 32) | (u64::from(ml & 63) << 38) | (u64::from(of) << 44);
}

/// Number_of_Sequences in 1 to 3 bytes.
#[inline(always)]
fn write_count(n: usize, out: &mut [u8]) -> Option<usize> {
    if n < 128 {
        *out.get_mut(0)? = u8::try_from(n).ok()?;
        Some(1)
    } else if n < 0x7f00 {
        let b = out.get_mut(..2)?;
        b[0] = u8::try_from((n >> 8) + 0x80).ok()?;
        b[1] = u8::try_from(n & 0xff).ok()?;
        Some(2)
    } else {
        let b = out.get_mut(..3)?;
        b[0] = 0xff;
        b[1..].copy_from_slice(&u16::try_from(n - 0x7f00).ok()?.to_le_bytes());
        Some(3)
    }
}

/// What a symbol costs (1/256 bit) under a predefined table that cannot code it: more than any
/// block could cost otherwise, so such a table is never chosen.
const NOT_CODED: u32 = 1 << 24;

/// Cost in 1/256 bit of each symbol under a predefined distribution, computed once at build time.
const fn predefined_costs(dist: &[i16], log: u32) -> [u32; 64] {
    let mut costs = [NOT_CODED; 64];
    let mut s = 0;
    while s < dist.len() {
        costs[s] = EncodingTable::cost_q8(dist[s], log);
        s += 1;
    }
    costs
}

const LL_PREDEFINED_COST: [u32; 64] =
    predefined_costs(&LL_DEFAULT_DISTRIBUTION, LL_DEFAULT_ACCURACY_LOG);
const ML_PREDEFINED_COST: [u32; 64] =
    predefined_costs(&ML_DEFAULT_DISTRIBUTION, ML_DEFAULT_ACCURACY_LOG);
const OF_PREDEFINED_COST: [u32; 64] =
    predefined_costs(&OF_DEFAULT_DISTRIBUTION, OF_DEFAULT_ACCURACY_LOG);

/// Chooses the cheapest of predefined, RLE and a new table for one stream, builds the new or RLE
/// table into `table` and writes its description at `out[*pos..]`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn choose(
    hist: &[u32],
    total: u32,
    predefined_costs: &[u32; 64],
    max_log: u32,
    quick_default_log: Option<u32>,
    table: &mut EncodingTable,
    out: &mut [u8],
    pos: &mut usize,
) -> Option<Mode> {
    let mut max_symbol = 0usize;
    let mut most = 0u32;
    // Without a branch on each count (zero and nonzero alternate unpredictably): an absent
    // symbol keeps the largest symbol as it is.
    for (s, &c) in hist.iter().enumerate() {
        max_symbol = if c > 0 { s } else { max_symbol };
        most = most.max(c);
    }
    // One symbol present: it holds every count.
    let distinct_one = most == total;
    let cost_of = |s: usize| predefined_costs.get(s).copied().map_or(u64::MAX, u64::from);
    // The predefined table's cost: the quick rule needs it only for a single symbol.
    let predefined_cost = if quick_default_log.is_some() {
        u64::from(total).saturating_mul(cost_of(max_symbol))
    } else {
        hist.iter()
            .zip(predefined_costs)
            .map(|(&c, &cost)| u64::from(c) * u64::from(cost))
            .sum()
    };
    if distinct_one {
        // One symbol: an RLE table costs one byte and no bits per sequence.
        if total > 2 || predefined_cost > 8 * 256 {
            let mut norm = [0i16; fse::MAX_SYMBOLS];
            norm[max_symbol] = 1;
            table.build(&norm[..=max_symbol], 0);
            *out.get_mut(*pos)? = u8::try_from(max_symbol).ok()?;
            *pos += 1;
            return Some(Mode::Rle);
        }
        return Some(Mode::Predefined);
    }
    if let Some(default_log) = quick_default_log {
        // The quick rule: few sequences, or no symbol frequent enough to gain from a table of its
        // own, keep the predefined table; otherwise a new one, without costing either. The
        // thresholds are the reference encoder's for its fastest strategy.
        let few = total < ((1u32 << default_log) * 9) >> 3;
        if few || most < total >> (default_log - 1) {
            return Some(Mode::Predefined);
        }
        let log = fse::choose_table_log(total, max_symbol, max_log);
        let mut norm = [0i16; fse::MAX_SYMBOLS];
        if !fse::normalize(&hist[..=max_symbol], total, log, &mut norm[..=max_symbol]) {
            return Some(Mode::Predefined);
        }
        let Some(desc_len) =
            fse::write_description(&norm[..=max_symbol], log, out.get_mut(*pos..)?)
        else {
            return Some(Mode::Predefined);
        };
        *pos += desc_len;
        table.build(&norm[..=max_symbol], log);
        return Some(Mode::Compressed);
    }
    // No table costs less than the histogram's entropy, nor is described in less than a byte:
    // when the predefined table is within that, it wins without building anything.
    let log_total = fse::log2_q8(total);
    let mut entropy = 8 * 256u64;
    for &c in &hist[..=max_symbol] {
        // Zero for an absent symbol.
        entropy += u64::from(c) * u64::from(log_total.saturating_sub(fse::log2_q8(c)));
    }
    if predefined_cost <= entropy {
        return Some(Mode::Predefined);
    }
    // A new table: its description plus the cost of the histogram under it.
    let log = fse::choose_table_log(total, max_symbol, max_log);
    let mut norm = [0i16; fse::MAX_SYMBOLS];
    let mut description = [0u8; 96];
    let mut new_cost = u64::MAX;
    let mut desc_len = 0;
    if fse::normalize(&hist[..=max_symbol], total, log, &mut norm[..=max_symbol])
        && let Some(len) = fse::write_description(&norm[..=max_symbol], log, &mut description)
    {
        desc_len = len;
        new_cost = (len as u64) * 8 * 256;
        for (&c, &n) in hist[..=max_symbol].iter().zip(&norm[..=max_symbol]) {
            // Zero for an absent symbol.
            new_cost += u64::from(c) * u64::from(EncodingTable::cost_q8(n, log));
        }
    }
    if predefined_cost <= new_cost {
        return Some(Mode::Predefined);
    }
    table.build(&norm[..=max_symbol], log);
    out.get_mut(*pos..*pos + desc_len)?
        .copy_from_slice(&description[..desc_len]);
    *pos += desc_len;
    Some(Mode::Compressed)
}

/// Extra bits of each literals-length code, padded to 64 entries so that a masked code indexes
/// it without a bounds check.
const LL_BITS: [u8; 64] = pad64(&LL_EXTRA_BITS);
/// Extra bits of each match-length code, padded the same way.
const ML_BITS: [u8; 64] = pad64(&ML_EXTRA_BITS);

const fn pad64(bits: &[u8]) -> [u8; 64] {
    let mut t = [0u8; 64];
    let mut i = 0;
    while i < bits.len() {
        t[i] = bits[i];
        i += 1;
    }
    t
}

/// The low byte of `x`.
#[inline(always)]
fn byte(x: u64) -> u8 {
    #[allow(clippy::cast_possible_truncation)] // truncation is the point
    {
        x as u8
    }
}

/// Encodes one sequence's three states (offset, match length, literals length, in the reverse
/// of the decoder's reading order); returns the new states.
#[inline(always)]
fn encode_states<const R: bool>(
    w: &mut BitWriter<'_, R>,
    t: &StreamTables,
    [ll_state, ml_state, of_state]: [u32; 3],
    s: Sequence,
) -> [u32; 3] {
    let of_state = t.of.encode(w, of_state, s.of());
    let ml_state = t.ml.encode(w, ml_state, s.ml());
    let ll_state = t.ll.encode(w, ll_state, s.ll());
    [ll_state, ml_state, of_state]
}

/// Writes the extra bits of one sequence: literals and match length, then offset. Every
/// baseline with extra bits is a multiple of 2^bits (match lengths counted from 3), so the extra
/// bits are the length's low bits: no baseline lookup, and the writer masks them.
#[inline(always)]
fn write_extras<const R: bool>(w: &mut BitWriter<'_, R>, s: Sequence) {
    let ll_bits = u32::from(LL_BITS[usize::from(s.ll())]);
    let ml_bits = u32::from(ML_BITS[usize::from(s.ml())]);
    let of_bits = u32::from(s.of());
    w.add(s.0, ll_bits);
    // match_len >= 3, so the subtraction borrows nothing from the bits above it.
    w.add((s.0 >> 16).wrapping_sub(3), ml_bits);
    if ll_bits + ml_bits + of_bits > 30 {
        w.flush();
    }
    w.add(s.0 >> 48, of_bits);
}

/// Most bits one sequence adds to the stream: three states of at most 10, 10 and 9 bits (the
/// largest table logs, plus one) and extra bits of at most 16, 16 and 15 (the format's largest
/// length codes, and offsets below 64 KiB).
const MAX_SEQUENCE_BITS: usize = 10 + 10 + 9 + 16 + 16 + 15;
/// Bits after the sequences: the three final states and the end mark.
const MAX_CLOSING_BITS: usize = 9 + 9 + 8 + 1;

/// The sequences bitstream, with a writer that checks no room per flush when `out` has room for
/// the largest stream these sequences can make (nearly always), else with one that does.
#[inline(always)]
fn encode_stream(seqs: &[Sequence], t: &StreamTables, out: &mut [u8]) -> Option<usize> {
    let max_bits = seqs
        .len()
        .checked_mul(MAX_SEQUENCE_BITS)?
        .checked_add(MAX_CLOSING_BITS)?;
    // SAFETY: `encode_with` adds at most `MAX_SEQUENCE_BITS` per sequence and
    // `MAX_CLOSING_BITS` after them, `max_bits` in all.
    if let Some(w) = unsafe { BitWriter::roomy(out, max_bits) } {
        return encode_with(seqs, t, w);
    }
    encode_with(seqs, t, BitWriter::new(out))
}

/// The sequences bitstream: the last sequence's states first, then every other sequence from the
/// end, each writing its state transitions and extra bits in the reverse of the decoder's reading
/// order (offset, match and literals extra bits, then literals, match and offset states).
#[inline(always)]
fn encode_with<const R: bool>(
    seqs: &[Sequence],
    t: &StreamTables,
    mut w: BitWriter<'_, R>,
) -> Option<usize> {
    let (&last, rest) = seqs.split_last()?;
    let mut states = [
        t.ll.init_state(last.ll()),
        t.ml.init_state(last.ml()),
        t.of.init_state(last.of()),
    ];
    // Within a 4 KiB block literal and match lengths take at most 12 extra bits each and offsets
    // 15. After a flush at most 7 bits are pending; the states add at most 26 (9 + 9 + 8), so the
    // extra bits of all three fit without another flush when they total at most 30 bits, the
    // common case; otherwise one flush between the lengths and the offset makes room.
    write_extras(&mut w, last);
    for &s in rest.iter().rev() {
        w.flush();
        states = encode_states(&mut w, t, states, s);
        write_extras(&mut w, s);
    }
    w.flush();
    let [ll_state, ml_state, of_state] = states;
    t.ml.flush_state(&mut w, ml_state);
    t.of.flush_state(&mut w, of_state);
    t.ll.flush_state(&mut w, ll_state);
    w.flush();
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_bits_are_the_low_bits_of_the_length() {
        for c in 0..=LL_MAX_SYMBOL {
            assert_eq!(
                LL_BASELINE[c] % (1 << LL_EXTRA_BITS[c]),
                0,
                "literals-length code {c}"
            );
        }
        for c in 0..=ML_MAX_SYMBOL {
            assert_eq!(
                (ML_BASELINE[c] - 3) % (1 << ML_EXTRA_BITS[c]),
                0,
                "match-length code {c}"
            );
        }
    }

    #[test]
    fn codes_match_the_baselines() {
        for ll in 0..5000u32 {
            let c = usize::from(ll_code(ll));
            assert!(
                LL_BASELINE[c] <= ll && ll < LL_BASELINE[c] + (1 << LL_EXTRA_BITS[c]),
                "{ll}"
            );
        }
        for ml in 3..5000u32 {
            let c = usize::from(ml_code(ml));
            assert!(
                ML_BASELINE[c] <= ml && ml < ML_BASELINE[c] + (1 << ML_EXTRA_BITS[c]),
                "{ml}"
            );
        }
    }

    /// Codes counted as the finder stores each sequence are those the encoder's own pass counts:
    /// the same histograms, and the same codes in each sequence.
    #[test]
    fn codes_counted_on_push_are_the_counting_pass() {
        let (mut counted, mut plain) = (SeqStore::new(), SeqStore::new());
        counted.count_codes_on_push();
        let mut x = 0x9e37_79b9u32;
        for k in 0..300 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let lits = &[7u8; 200][..(x >> 8) as usize % if k % 7 == 0 { 200 } else { 9 }];
            let offset = 1 + (x >> 12) % if k % 3 == 0 { 4 } else { 30_000 };
            let len = 3 + (x >> 20) as usize % if k % 5 == 0 { 2000 } else { 40 };
            counted.push::<true>(lits, offset, len);
            plain.push::<false>(lits, offset, len);
        }
        let mut hists = CodeHistograms::EMPTY;
        count_all(&mut plain.seqs[..plain.count], &mut hists);
        assert!(counted.counted && !plain.counted);
        assert_eq!(counted.hists.ll, hists.ll);
        assert_eq!(counted.hists.ml, hists.ml);
        assert_eq!(counted.hists.of, hists.of);
        assert_eq!(counted.hists.ll.iter().sum::<u32>(), 300);
        for (a, b) in counted.seqs.iter().zip(&plain.seqs).take(300) {
            assert_eq!(a.0, b.0);
        }
        counted.clear();
        assert!(!counted.counted);
    }

    #[test]
    fn repeat_offsets_follow_the_rfc() {
        let mut s = SeqStore::new();
        s.push::<false>(b"a", 4, 5); // the second offset, with literals
        assert_eq!((s.seqs[0].off_base(), s.reps), (2, [4, 1, 8]));
        s.push::<false>(b"", 1, 5); // without literals, code 1 means the second offset
        assert_eq!((s.seqs[1].off_base(), s.reps), (1, [1, 4, 8]));
        s.push::<false>(b"", 8, 5); // without literals, code 2 means the third
        assert_eq!((s.seqs[2].off_base(), s.reps), (2, [8, 1, 4]));
        s.push::<false>(b"", 7, 5); // without literals, code 3 means the first minus one
        assert_eq!((s.seqs[3].off_base(), s.reps), (3, [7, 8, 1]));
        s.push::<false>(b"xy", 100, 5);
        assert_eq!((s.seqs[4].off_base(), s.reps), (103, [100, 7, 8]));
        assert_eq!(&s.lits[..s.lit_count], b"axy");
    }
}
