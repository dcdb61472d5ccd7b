//! The sequences section of a compressed block (RFC 8878, 3.1.1.3.2) and sequence execution
//! (3.1.1.4): the header with its table modes, the three FSE tables, the interleaved bitstream, and
//! the literal copies and matches each sequence makes, with the repeat-offset rules (3.1.1.5).

use super::bits::BackwardBits;
use super::error::ZstdError;
use super::fse::{self, FSE_MAX_SYMBOLS, FseEntry, ROW_LEN};
use super::tables::*;
use core::hint::select_unpredictable;

type Result<T> = core::result::Result<T, ZstdError>;

/// One state of a sequence decoding table: the FSE transition and, for its code, the baseline value
/// and extra bits, so that decoding needs one lookup per state. Packed in one `u64` (baseline in
/// bits 0..32, next state base 32..48, state bits 48..56, extra bits 56..64): the decoding loop
/// holds each entry in one register and takes the fields apart as it needs them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SeqEntry(u64);

impl SeqEntry {
    const ZERO: Self = Self(0);

    const fn new(baseline: u32, next_base: u16, nb_bits: u8, extra_bits: u8) -> Self {
        Self(
            baseline as u64
                | ((next_base as u64) << 32)
                | ((nb_bits as u64) << 48)
                | ((extra_bits as u64) << 56),
        )
    }

    /// This code (its transition fields zero) in a state whose symbol's successor number is
    /// `x`: [`fse::transition`] with its fields put straight in place. For x in `[count, 2 *
    /// count)`, `nb_bits <= log` and the base is below the table size.
    #[inline(always)]
    fn in_state(self, x: u16, log: u32) -> Self {
        let x = u32::from(x);
        let nb_bits = log.wrapping_sub(31 - (x | 1).leading_zeros()) & 15;
        let next_base = (x << nb_bits).wrapping_sub(1 << log) & 0xFFFF;
        Self(self.0 | (u64::from(next_base) << 32) | (u64::from(nb_bits) << 48))
    }

    #[inline(always)]
    #[allow(clippy::cast_possible_truncation)] // the low 32 bits
    const fn baseline(self) -> u32 {
        self.0 as u32
    }

    #[inline(always)]
    #[allow(clippy::cast_possible_truncation)] // 16 bits
    const fn next_base(self) -> usize {
        (self.0 >> 32) as u16 as usize
    }

    #[inline(always)]
    const fn nb_bits(self) -> u32 {
        (self.0 >> 48) as u32 & 0xFF
    }

    #[inline(always)]
    const fn extra_bits(self) -> u32 {
        (self.0 >> 56) as u32
    }
}

/// A sequence decoding table of up to `N` states.
#[derive(Clone)]
pub(crate) struct SeqTable<const N: usize> {
    pub(crate) entries: [SeqEntry; N],
    pub(crate) log: u32,
}

impl<const N: usize> SeqTable<N> {
    pub(crate) const EMPTY: Self = Self {
        entries: [SeqEntry::ZERO; N],
        log: 0,
    };

    /// The table of a distribution whose symbols are codes with these baselines and extra bits.
    /// Unused entries stay zero when the distribution is invalid (checked by the tests).
    const fn from_distribution(
        counts: &[i16],
        log: u32,
        baseline: &[u32],
        extra_bits: &[u8],
    ) -> Self {
        let mut fse = [FseEntry::ZERO; N];
        let mut table = Self::EMPTY;
        if !fse::build_table(counts, log, &mut fse) {
            return table;
        }
        table.log = log;
        let mut i = 0;
        while i < (1 << log) && i < N {
            table.entries[i] = Self::entry(fse[i], baseline, extra_bits);
            i += 1;
        }
        table
    }

    const fn entry(e: FseEntry, baseline: &[u32], extra_bits: &[u8]) -> SeqEntry {
        let symbol = e.symbol as usize;
        // Symbols were checked against the alphabet; a zero entry never indexes out of bounds.
        let (b, x) = if symbol < baseline.len() && symbol < extra_bits.len() {
            (baseline[symbol], extra_bits[symbol])
        } else {
            (0, 0)
        };
        SeqEntry::new(b, e.base, e.nb_bits, x)
    }
}

/// Predefined literals-length table (3.1.1.3.2.2), built at compile time.
pub(crate) static LL_PREDEFINED: SeqTable<LL_TABLE_SIZE> = SeqTable::from_distribution(
    &LL_DEFAULT_DISTRIBUTION,
    LL_DEFAULT_ACCURACY_LOG,
    &LL_BASELINE,
    &LL_EXTRA_BITS,
);
/// Predefined match-length table.
pub(crate) static ML_PREDEFINED: SeqTable<ML_TABLE_SIZE> = SeqTable::from_distribution(
    &ML_DEFAULT_DISTRIBUTION,
    ML_DEFAULT_ACCURACY_LOG,
    &ML_BASELINE,
    &ML_EXTRA_BITS,
);
/// Predefined offset table.
pub(crate) static OF_PREDEFINED: SeqTable<OF_TABLE_SIZE> = SeqTable::from_distribution(
    &OF_DEFAULT_DISTRIBUTION,
    OF_DEFAULT_ACCURACY_LOG,
    &OF_BASELINE,
    &OF_EXTRA_BITS,
);

pub(crate) const LL_TABLE_SIZE: usize = 1 << LL_MAX_ACCURACY_LOG;
pub(crate) const ML_TABLE_SIZE: usize = 1 << ML_MAX_ACCURACY_LOG;
pub(crate) const OF_TABLE_SIZE: usize = 1 << OF_MAX_ACCURACY_LOG;

/// The format of one alphabet: its name, limits and code values.
struct Alphabet {
    what: &'static str,
    max_symbol: usize,
    max_log: u32,
    baseline: &'static [u32],
    extra_bits: &'static [u8],
    /// Each code's baseline and extra bits in a table entry, for every 6-bit symbol (zero past
    /// the alphabet), so that building a table looks them up without a bounds check.
    codes: &'static [SeqEntry; FSE_MAX_SYMBOLS],
}

/// Table entries holding each code's baseline and extra bits (the transition left zero).
const fn code_entries(baseline: &[u32], extra_bits: &[u8]) -> [SeqEntry; FSE_MAX_SYMBOLS] {
    let mut codes = [SeqEntry::ZERO; FSE_MAX_SYMBOLS];
    let mut code = 0;
    while code < baseline.len() && code < extra_bits.len() && code < FSE_MAX_SYMBOLS {
        codes[code] = SeqEntry::new(baseline[code], 0, 0, extra_bits[code]);
        code += 1;
    }
    codes
}

static LL_CODES: [SeqEntry; FSE_MAX_SYMBOLS] = code_entries(&LL_BASELINE, &LL_EXTRA_BITS);
static ML_CODES: [SeqEntry; FSE_MAX_SYMBOLS] = code_entries(&ML_BASELINE, &ML_EXTRA_BITS);
static OF_CODES: [SeqEntry; FSE_MAX_SYMBOLS] = code_entries(&OF_BASELINE, &OF_EXTRA_BITS);

const LL: Alphabet = Alphabet {
    what: "literals-length table",
    max_symbol: LL_MAX_SYMBOL,
    max_log: LL_MAX_ACCURACY_LOG,
    baseline: &LL_BASELINE,
    extra_bits: &LL_EXTRA_BITS,
    codes: &LL_CODES,
};
const ML: Alphabet = Alphabet {
    what: "match-length table",
    max_symbol: ML_MAX_SYMBOL,
    max_log: ML_MAX_ACCURACY_LOG,
    baseline: &ML_BASELINE,
    extra_bits: &ML_EXTRA_BITS,
    codes: &ML_CODES,
};
const OF: Alphabet = Alphabet {
    what: "offset table",
    max_symbol: OF_MAX_SYMBOL,
    max_log: OF_MAX_ACCURACY_LOG,
    baseline: &OF_BASELINE,
    extra_bits: &OF_EXTRA_BITS,
    codes: &OF_CODES,
};

/// A decoder's own table for one alphabet and which table is current.
#[derive(Clone)]
pub(crate) struct TableState<const N: usize> {
    /// The table the sequences decode with: built from a description, RLE, or a copy of the
    /// predefined one, so that the decoding loop finds all three tables at fixed places.
    own: SeqTable<N>,
    /// Whether this frame has set up a table yet (a repeat mode needs one).
    active: bool,
    /// Whether `own` holds the predefined table (then a predefined mode copies nothing).
    is_predefined: bool,
    /// The FSE description the own table was built from (when it was, and it fits).
    description: [u8; DESCRIPTION_CACHE],
    description_len: usize,
}

/// Longest table description remembered: 53 symbols of up to 10 bits, with room to spare.
const DESCRIPTION_CACHE: usize = 96;

impl<const N: usize> TableState<N> {
    const EMPTY: Self = Self {
        own: SeqTable::EMPTY,
        active: false,
        is_predefined: false,
        description: [0; DESCRIPTION_CACHE],
        description_len: 0,
    };

    /// Builds the own table from an FSE table description at the start of `src`; returns the bytes
    /// it took. A description identical to the one the own table was built from is not rebuilt.
    /// That is rare on single pages (libzstd level 1 and 3 frames of memdump's 16,384 pages: 6% of
    /// the descriptions in page order, 0.4% in a shuffled order; the Huffman trees 0.1% and 0%),
    /// but the check costs little (dropping it, and the Huffman one, measured no faster), and it
    /// spares rebuilding a dictionary's tables at each frame whose blocks only repeat them.
    #[inline(always)]
    fn read_description(
        &mut self,
        src: &[u8],
        alphabet: &Alphabet,
        scratch: &mut SpreadScratch,
    ) -> Result<usize> {
        let cached = &self.description[..self.description_len];
        if !cached.is_empty() && src.starts_with(cached) {
            // The own table still is the table of this description (only RLE mode overwrites it,
            // and that forgets the description).
            self.active = true;
            return Ok(self.description_len);
        }
        let mut next_state = [0u16; FSE_MAX_SYMBOLS];
        let mut low_symbols = [0u8; FSE_MAX_SYMBOLS];
        let row = &mut scratch.row;
        let fse::LaidOut { log, high, used } = fse::read_and_lay_out(
            src,
            alphabet.max_symbol,
            alphabet.max_log,
            alphabet.what,
            row,
            &mut next_state,
            &mut low_symbols,
        )?;
        let size = 1usize << log;
        if high == size {
            // No low-probability symbols (libzstd writes none for blocks of fewer than 2048
            // sequences): the spread gives state `u` the row's symbol `u * step^-1`, so the
            // states take their symbols straight from the row, without dealing them out first.
            let inverse = fse::step_inverse(log);
            let mask = (size - 1) & (ROW_LEN - 9);
            let mut k = 0usize;
            for entry in self.own.entries.iter_mut().take(size) {
                *entry = next_entry(row[k], &mut next_state, alphabet, log);
                k = (k + inverse) & mask;
            }
        } else {
            let symbols = &mut scratch.symbols;
            if !fse::deal(row, log, high, &low_symbols, symbols) {
                return Err(ZstdError::BadProbabilities {
                    what: alphabet.what,
                    remaining: 0,
                });
            }
            for (entry, &symbol) in self.own.entries.iter_mut().zip(symbols.iter()).take(size) {
                *entry = next_entry(symbol, &mut next_state, alphabet, log);
            }
        }
        self.own.log = log;
        self.active = true;
        self.is_predefined = false;
        self.description_len = 0;
        if let (Some(cache), Some(desc)) = (self.description.get_mut(..used), src.get(..used)) {
            cache.copy_from_slice(desc);
            self.description_len = used;
        }
        Ok(used)
    }

    /// Applies a table mode (3.1.1.3.2.1.2) with its description at the start of `src`.
    #[inline(always)]
    fn apply_mode(
        &mut self,
        mode: u8,
        src: &[u8],
        alphabet: &Alphabet,
        predefined: &SeqTable<N>,
        scratch: &mut SpreadScratch,
    ) -> Result<usize> {
        match mode {
            0 => {
                if !self.is_predefined {
                    let size = 1usize << predefined.log;
                    if let (Some(own), Some(table)) = (
                        self.own.entries.get_mut(..size),
                        predefined.entries.get(..size),
                    ) {
                        own.copy_from_slice(table);
                    }
                    self.own.log = predefined.log;
                    self.is_predefined = true;
                    self.description_len = 0;
                }
                self.active = true;
                Ok(0)
            }
            1 => {
                let &symbol = src.first().ok_or(ZstdError::Truncated {
                    what: alphabet.what,
                    needed: 1,
                    available: 0,
                })?;
                let symbol = usize::from(symbol);
                if symbol > alphabet.max_symbol {
                    return Err(ZstdError::SymbolOutOfRange {
                        what: alphabet.what,
                        symbol,
                        max: alphabet.max_symbol,
                    });
                }
                self.own.entries[0] =
                    SeqEntry::new(alphabet.baseline[symbol], 0, 0, alphabet.extra_bits[symbol]);
                self.own.log = 0;
                self.active = true;
                self.is_predefined = false;
                self.description_len = 0;
                Ok(1)
            }
            2 => self.read_description(src, alphabet, scratch),
            _ => {
                if !self.active {
                    return Err(ZstdError::NoPreviousTable {
                        what: alphabet.what,
                    });
                }
                Ok(0)
            }
        }
    }
}

/// The three sequence tables a decoder keeps from block to block.
#[derive(Clone)]
pub(crate) struct SequenceTables {
    ll: TableState<LL_TABLE_SIZE>,
    ml: TableState<ML_TABLE_SIZE>,
    of: TableState<OF_TABLE_SIZE>,
}

impl SequenceTables {
    pub(crate) const EMPTY: Self = Self {
        ll: TableState::EMPTY,
        ml: TableState::EMPTY,
        of: TableState::EMPTY,
    };

    /// Forgets the tables: a new frame starts without any to repeat.
    pub(crate) fn reset(&mut self) {
        self.ll.active = false;
        self.ml.active = false;
        self.of.active = false;
    }

    /// Reads a dictionary's tables (5, in the order offsets, match lengths, literals lengths) from
    /// the start of `src`; returns the bytes they took.
    pub(crate) fn read_dictionary_tables(&mut self, src: &[u8]) -> Result<usize> {
        let mut scratch = SpreadScratch::EMPTY;
        let mut pos = self.of.read_description(src, &OF, &mut scratch)?;
        pos += self
            .ml
            .read_description(src.get(pos..).unwrap_or(&[]), &ML, &mut scratch)?;
        pos += self
            .ll
            .read_description(src.get(pos..).unwrap_or(&[]), &LL, &mut scratch)?;
        Ok(pos)
    }
}

/// Where a block's sequences write: the destination, the output so far, the literals in its tail,
/// and what matches may reach back to.
pub(crate) struct Output<'a, 'd> {
    pub(crate) dst: &'a mut [u8],
    /// Output written so far (the whole destination, earlier frames included).
    pub(crate) out: usize,
    /// Next unread literal; the literals end at `dst.len()`.
    pub(crate) lit: usize,
    /// Where this frame's output starts.
    pub(crate) frame_start: usize,
    /// The frame's window size: no offset reaches further into the frame's output.
    pub(crate) window: u64,
    /// Dictionary content before the frame's output.
    pub(crate) dict: &'d [u8],
}

/// A decoded sequence: literals to copy, then a match (its offset resolved, 0 when invalid).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Sequence {
    lit_len: u32,
    match_len: u32,
    offset: u32,
}

/// The table entry of the next state (in state order) of `symbol`, numbering its states with
/// the successor numbers in `next_state`.
#[inline(always)]
fn next_entry(
    symbol: u8,
    next_state: &mut [u16; FSE_MAX_SYMBOLS],
    alphabet: &Alphabet,
    log: u32,
) -> SeqEntry {
    let symbol = usize::from(symbol) & (FSE_MAX_SYMBOLS - 1);
    let x = next_state[symbol];
    next_state[symbol] = x.wrapping_add(1);
    alphabet.codes[symbol].in_state(x, log)
}

/// Scratch space for building an FSE table: the symbol of each state, and the row of symbols
/// dealt out to the states. Kept in the decoder rather than on the stack (small boards give
/// decoding 4 KiB of stack).
pub(crate) struct SpreadScratch {
    symbols: [u8; 1 << fse::FSE_MAX_LOG],
    row: [u8; ROW_LEN],
}

impl SpreadScratch {
    pub(crate) const EMPTY: Self = Self {
        symbols: [0; 1 << fse::FSE_MAX_LOG],
        row: [0; ROW_LEN],
    };
}

/// Decodes the sequences section `src` and executes its sequences into `o` (whose literals section
/// was decoded already); ends with the literals left over.
#[inline(always)]
pub(crate) fn decode_and_execute(
    src: &[u8],
    tables: &mut SequenceTables,
    reps_out: &mut [u32; 3],
    spread: &mut SpreadScratch,
    o: &mut Output<'_, '_>,
) -> Result<()> {
    let (count, mut pos) = read_count(src)?;
    if count == 0 {
        if pos != src.len() {
            return Err(ZstdError::SizeMismatch {
                what: "sequences section without sequences",
                size: src.len(),
                expected: pos,
            });
        }
        return o.last_literals();
    }
    let &modes = src.get(pos).ok_or(ZstdError::Truncated {
        what: "sequences section header",
        needed: pos + 1,
        available: src.len(),
    })?;
    pos += 1;
    if modes & 3 != 0 {
        return Err(ZstdError::ReservedBit {
            what: "symbol compression modes",
        });
    }
    let rest = |pos: usize| src.get(pos..).unwrap_or(&[]);
    pos += tables
        .ll
        .apply_mode(modes >> 6, rest(pos), &LL, &LL_PREDEFINED, spread)?;
    pos += tables
        .of
        .apply_mode((modes >> 4) & 3, rest(pos), &OF, &OF_PREDEFINED, spread)?;
    pos += tables
        .ml
        .apply_mode((modes >> 2) & 3, rest(pos), &ML, &ML_PREDEFINED, spread)?;

    let mut bits = BackwardBits::new(rest(pos), "sequences")?;
    let ll_state = bits.read_index(tables.ll.own.log);
    let of_state = bits.read_index(tables.of.own.log);
    let ml_state = bits.read_index(tables.ml.own.log);
    let mut decoder = SeqDecoder {
        ll_state,
        of_state,
        ml_state,
        reps: *reps_out,
        bits,
    };
    // Each sequence is executed as soon as it is decoded. Local copies of the decoder and the
    // output, whose addresses never escape, keep their fields in registers.
    // Fused on purpose: on memdump pages, decoding alone takes about 1.2 us a page (a chain of
    // about 16 cycles a sequence through the states and the bit reader) and the copies alone
    // about 1.4 us, while this loop overlaps them in about 1.95 us. Decoding chunks of 2 to 128
    // sequences before executing them measured 9-16% slower, decoding one or two sequences
    // ahead of the copies 7-9% slower.
    let mut local = o.reborrow();
    let tables = &*tables;
    // A countdown, so that the loop carries one counter; the index of a sequence that fails is
    // worked out from it.
    let mut left = count - 1;
    while left > 0 {
        let s = decoder.next(tables, true);
        if let Err(e) = local.execute(
            s.lit_len as usize,
            s.match_len as usize,
            s.offset as usize,
            0,
        ) {
            return Err(at_sequence(e, count - 1 - left));
        }
        left -= 1;
    }
    // The last sequence updates no state.
    let s = decoder.next(tables, false);
    local.execute(
        s.lit_len as usize,
        s.match_len as usize,
        s.offset as usize,
        count - 1,
    )?;
    let (out, lit) = (local.out, local.lit);
    o.out = out;
    o.lit = lit;
    *reps_out = decoder.reps;
    let bits = decoder.bits;
    if !bits.finished() {
        return Err(ZstdError::BadBitstream {
            what: "sequences",
            why: if bits.overflowed() {
                "it holds fewer bits than its sequences need"
            } else {
                "bits are left after the last sequence"
            },
        });
    }
    o.last_literals()
}

/// `e` with the index of the sequence that failed filled in (`execute` in the loop leaves it 0).
#[cold]
fn at_sequence(e: ZstdError, index: usize) -> ZstdError {
    match e {
        ZstdError::ZeroOffset { .. } => ZstdError::ZeroOffset { sequence: index },
        other => other,
    }
}

/// What the sequence decoder carries from one sequence to the next: the three FSE states, the
/// repeat offsets and the bit reader.
struct SeqDecoder<'a> {
    ll_state: usize,
    of_state: usize,
    ml_state: usize,
    reps: [u32; 3],
    bits: BackwardBits<'a>,
}

impl SeqDecoder<'_> {
    /// Decodes one sequence; then, with `update`, the next states (not after the last sequence).
    /// Reads past the stream's start give zero bits and are caught once, at the end.
    #[inline(always)]
    fn next(&mut self, tables: &SequenceTables, update: bool) -> Sequence {
        let ll_e = tables.ll.own.entries[self.ll_state & (LL_TABLE_SIZE - 1)];
        let ml_e = tables.ml.own.entries[self.ml_state & (ML_TABLE_SIZE - 1)];
        let of_e = tables.of.own.entries[self.of_state & (OF_TABLE_SIZE - 1)];
        let bits = &mut self.bits;
        bits.reload();
        let (of_bits, ml_bits, ll_bits) = (of_e.extra_bits(), ml_e.extra_bits(), ll_e.extra_bits());
        let state_bits = if update {
            ll_e.nb_bits() + ml_e.nb_bits() + of_e.nb_bits()
        } else {
            0
        };
        let (offset_value, match_len, lit_len);
        if of_bits + ml_bits + ll_bits + state_bits <= 56 {
            // The usual case: everything this sequence reads fits in what a reload leaves (at
            // least 56 bits), so one read takes it all and the fields come apart independently
            // (the last one read is the lowest). Fewer dependent steps than one read per field.
            let mut v = bits.read(of_bits + ml_bits + ll_bits + state_bits);
            if update {
                // States in the order literals length, match length, offset.
                let (ll_nb, ml_nb, of_nb) = (ll_e.nb_bits(), ml_e.nb_bits(), of_e.nb_bits());
                self.of_state = of_e.next_base() + low_bits(v, of_nb) as usize;
                v >>= of_nb;
                self.ml_state = ml_e.next_base() + low_bits(v, ml_nb) as usize;
                v >>= ml_nb;
                self.ll_state = ll_e.next_base() + low_bits(v, ll_nb) as usize;
                v >>= ll_nb;
            }
            // Extra bits in the RFC's order: offset, match length, literals length.
            lit_len = ll_e.baseline() + low_bits(v, ll_bits);
            v >>= ll_bits;
            match_len = ml_e.baseline() + low_bits(v, ml_bits);
            v >>= ml_bits;
            offset_value = of_e.baseline() + low_bits(v, of_bits);
        } else {
            // Long extra bits (at most 31 + 16 + 16): a reload in between when the three exceed
            // the 57 bits a reload leaves minus the states' 26.
            offset_value = of_e.baseline() + bits.read_u32(of_bits);
            match_len = ml_e.baseline() + bits.read_u32(ml_bits);
            if of_bits + ml_bits + ll_bits > 31 {
                bits.reload();
            }
            lit_len = ll_e.baseline() + bits.read_u32(ll_bits);
            if update {
                self.ll_state = ll_e.next_base() + bits.read_index(ll_e.nb_bits());
                self.ml_state = ml_e.next_base() + bits.read_index(ml_e.nb_bits());
                self.of_state = of_e.next_base() + bits.read_index(of_e.nb_bits());
            }
        }
        let offset = resolve_offset(offset_value, of_bits <= 1, lit_len, &mut self.reps);
        Sequence {
            lit_len,
            match_len,
            offset,
        }
    }
}

/// The low `n` bits of `v` (`n < 32`), as a `u32`.
#[inline(always)]
fn low_bits(v: u64, n: u32) -> u32 {
    #[allow(clippy::cast_possible_truncation)] // masked to at most 31 bits
    let bits = (v & ((1u64 << (n & 31)) - 1)) as u32;
    bits
}

/// Number_of_Sequences (3.1.1.3.2.1): the count and the bytes it took.
#[inline(always)]
fn read_count(src: &[u8]) -> Result<(usize, usize)> {
    let byte = |i: usize| -> Result<usize> {
        src.get(i)
            .map(|&b| usize::from(b))
            .ok_or(ZstdError::Truncated {
                what: "sequences section header",
                needed: i + 1,
                available: src.len(),
            })
    };
    let b0 = byte(0)?;
    Ok(match b0 {
        0..=127 => (b0, 1),
        128..=254 => (((b0 - 128) << 8) + byte(1)?, 2),
        _ => (byte(1)? + (byte(2)? << 8) + 0x7F00, 3),
    })
}

/// Turns an `Offset_Value` into an offset, updating the repeat offsets (3.1.1.5), without
/// branches: they would mispredict on every other sequence. `is_repeat` says that the value is a
/// repeat code (1..=3, offset codes 0 and 1: no more than one extra bit). Gives 0, which no
/// sequence may use, for the offset that `Repeated_Offset1 - 1` gives when that offset is 1.
#[inline(always)]
fn resolve_offset(offset_value: u32, is_repeat: bool, lit_len: u32, reps: &mut [u32; 3]) -> u32 {
    let [rep0, rep1, rep2] = *reps;
    // With no literals before the match, the repeat codes shift by one: 0 is the first repeat
    // offset, 1 the second, 2 the third, 3 the first minus one.
    let which = offset_value
        .wrapping_add(u32::from(lit_len == 0))
        .wrapping_sub(1);
    let low = select_unpredictable(which & 1 != 0, rep1, rep0);
    let high = select_unpredictable(which & 1 != 0, rep0.wrapping_sub(1), rep2);
    let repeated = select_unpredictable(which & 2 != 0, high, low);
    let offset = select_unpredictable(is_repeat, repeated, offset_value.wrapping_sub(3));
    // A new offset, the third or the first minus one pushes the list down; the first keeps it;
    // the second swaps the first two.
    let keeps_rep2 = is_repeat && which <= 1;
    let keeps_rep1 = is_repeat && which == 0;
    *reps = [
        offset,
        select_unpredictable(keeps_rep1, rep1, rep0),
        select_unpredictable(keeps_rep2, rep2, rep1),
    ];
    offset
}

impl<'d> Output<'_, 'd> {
    /// Copies `lit_len` literals, then a match of `match_len` bytes at `offset` back (sequence
    /// `index` of its block, for the error of an offset of 0).
    #[inline(always)]
    fn execute(
        &mut self,
        lit_len: usize,
        match_len: usize,
        offset: usize,
        index: usize,
    ) -> Result<()> {
        let lit_end = self.lit + lit_len;
        let match_start = self.out + lit_len;
        let end = match_start + match_len;
        // Fast path: the copies below write up to WILD bytes past their ends, so those bytes must
        // lie before the unread literals; the match stays in this frame's output (`offset - 1`
        // wraps for 0) and its window. The last sequences of a block take the careful path.
        if end + WILD <= lit_end
            && lit_end <= self.dst.len()
            && offset.wrapping_sub(1) < match_start - self.frame_start
            && offset as u64 <= self.window
        {
            if lit_end + WILD <= self.dst.len() {
                // SAFETY: the literal copy reads below `lit_end + 32 <= dst.len()` and writes
                // below `out + lit_len + 32 <= end + 32 <= lit_end`.
                unsafe { wild_copy(self.dst.as_mut_ptr(), self.lit, self.out, lit_len) };
            } else {
                // The last literals of the block: a wide copy would read past the destination.
                // SAFETY: the copy reads below `lit_end <= dst.len()` and writes below
                // `out + lit_len <= end <= lit_end`.
                unsafe { copy_down_exact(self.dst.as_mut_ptr(), self.lit, self.out, lit_len) };
            }
            // SAFETY: the match reads from `match_start - offset >= frame_start` (1 <= offset <=
            // match_start - frame_start) and writes below `end + 32 <= lit_end <= dst.len()`.
            unsafe { copy_match_wide(self.dst.as_mut_ptr(), match_start, offset, match_len) };
            self.out = end;
            self.lit = lit_end;
            return Ok(());
        }
        if offset == 0 {
            return Err(ZstdError::ZeroOffset { sequence: index });
        }
        let mut slow = self.reborrow();
        slow.execute_careful(lit_len, match_len, offset)?;
        let (out, lit) = (slow.out, slow.lit);
        self.out = out;
        self.lit = lit;
        Ok(())
    }

    /// A copy of this output that writes to the same destination.
    #[inline(always)]
    fn reborrow(&mut self) -> Output<'_, 'd> {
        Output {
            dst: &mut *self.dst,
            out: self.out,
            lit: self.lit,
            frame_start: self.frame_start,
            window: self.window,
            dict: self.dict,
        }
    }

    /// `execute` with exact copies and every check.
    #[inline(never)]
    fn execute_careful(&mut self, lit_len: usize, match_len: usize, offset: usize) -> Result<()> {
        let lit_end = self.lit + lit_len;
        if lit_end > self.dst.len() {
            return Err(ZstdError::LiteralsOverrun {
                needed: lit_len,
                available: self.dst.len() - self.lit,
            });
        }
        // The output never passes the unread literals, so this copy moves bytes down or not at all.
        self.dst.copy_within(self.lit..lit_end, self.out);
        self.out += lit_len;
        self.lit = lit_end;
        let end = self.out + match_len;
        if end > self.lit {
            return Err(ZstdError::OutputTooSmall {
                needed: (end + (self.dst.len() - self.lit)) as u64,
                available: self.dst.len(),
            });
        }
        let produced = self.out - self.frame_start;
        if offset <= produced {
            if offset as u64 > self.window {
                return Err(ZstdError::OffsetTooFar {
                    offset,
                    available: usize::try_from(self.window).unwrap_or(usize::MAX),
                });
            }
            copy_match(self.dst, self.out, offset, match_len);
        } else {
            let from_dict = offset - produced;
            let Some(dict_start) = self.dict.len().checked_sub(from_dict) else {
                return Err(ZstdError::OffsetTooFar {
                    offset,
                    available: produced + self.dict.len(),
                });
            };
            let n = from_dict.min(match_len);
            self.dst[self.out..self.out + n]
                .copy_from_slice(&self.dict[dict_start..dict_start + n]);
            if match_len > n {
                copy_match(self.dst, self.out + n, offset, match_len - n);
            }
        }
        self.out = end;
        Ok(())
    }

    /// Copies the literals that no sequence consumed.
    pub(crate) fn last_literals(&mut self) -> Result<()> {
        let n = self.dst.len() - self.lit;
        self.dst.copy_within(self.lit.., self.out);
        self.out += n;
        self.lit = self.dst.len();
        Ok(())
    }
}

/// How far the wide copies may overshoot (up to 31 bytes past a copy's end).
const WILD: usize = 32;

/// Copies `N` bytes from `base + from` to `base + to`, reading all before writing any.
///
/// # Safety
/// Both ranges must lie inside the allocation that `base` points into.
#[inline(always)]
unsafe fn copy_chunk<const N: usize>(base: *mut u8, from: usize, to: usize) {
    // SAFETY: the caller guarantees both ranges are in bounds; unaligned accesses of a byte array.
    unsafe {
        let chunk = core::ptr::read_unaligned(base.add(from).cast::<[u8; N]>());
        core::ptr::write_unaligned(base.add(to).cast::<[u8; N]>(), chunk);
    }
}

/// Copies `len` bytes from `from` to `to <= from` in 16-byte chunks, writing and reading up to 31
/// bytes past the ends (at least one chunk). Each chunk is read before it is written, and a later
/// chunk's source lies past every earlier chunk's destination, so moving down is exact.
///
/// # Safety
/// `from + len + 31` and `to + len + 31` must not exceed the length of the buffer at `base`.
#[inline(always)]
unsafe fn wild_copy(base: *mut u8, from: usize, to: usize, len: usize) {
    // SAFETY: (all chunks) chunk ends stay below `from + len + 31` and `to + len + 31`.
    unsafe {
        // Most literal runs are short: one chunk, then 32 bytes a round for the long ones.
        copy_chunk::<16>(base, from, to);
        let mut i = 16;
        while i < len {
            copy_chunk::<16>(base, from + i, to + i);
            copy_chunk::<16>(base, from + i + 16, to + i + 16);
            i += 32;
        }
    }
}

/// Copies `len` bytes from `from` to `to < from`, reading and writing none past their ends: 8
/// bytes at a time, then byte by byte. (The last literals of a block lie at the very end of the
/// destination, where a wide copy would read past it; a library call costs more than these few
/// bytes.) Each chunk is read before it is written and `to < from`, so moving down is exact.
///
/// # Safety
/// `from + len` and `to + len` must not exceed the length of the buffer at `base`.
#[inline(always)]
unsafe fn copy_down_exact(base: *mut u8, from: usize, to: usize, len: usize) {
    let mut i = 0;
    // SAFETY: (all copies) reads stay below `from + len`, writes below `to + len`.
    unsafe {
        while i + 8 <= len {
            copy_chunk::<8>(base, from + i, to + i);
            i += 8;
        }
        while i < len {
            *base.add(to + i) = *base.add(from + i);
            i += 1;
        }
    }
}

/// For a match offset below 8: the smallest multiple of it that is at least 8.
const SHORT_PERIOD: [usize; 8] = [8, 8, 8, 9, 8, 10, 12, 14];

/// Copies a match of `len` bytes from `offset` back to `out`, writing up to 31 bytes past its end.
///
/// # Safety
/// `1 <= offset <= out` and `out + len + 31` must not exceed the length of the buffer at `base`.
#[inline(always)]
unsafe fn copy_match_wide(base: *mut u8, out: usize, offset: usize, len: usize) {
    let src = out - offset;
    // SAFETY: (all chunks) reads start at `src >= 0` and stay below the writes, which end before
    // `out + len + 31`.
    unsafe {
        if offset >= 16 {
            // Every chunk's source lies before its destination, so it was written already. Most
            // matches are 32 bytes or shorter: two chunks without a branch.
            // A second chunk that the match does not need is read at the first one's source:
            // its own source ends just before `out`, in bytes the last copies wrote, and a load
            // straddling recent stores waits for them to reach the cache instead of forwarding.
            copy_chunk::<16>(base, src, out);
            copy_chunk::<16>(base, src + 16 * usize::from(len > 16), out + 16);
            let mut i = 32;
            while i < len {
                copy_chunk::<16>(base, src + i, out + i);
                copy_chunk::<16>(base, src + i + 16, out + i + 16);
                i += 32;
            }
        } else if offset >= 8 {
            copy_chunk::<8>(base, src, out);
            copy_chunk::<8>(base, src + 8 * usize::from(len > 8), out + 8);
            let mut i = 16;
            while i < len {
                copy_chunk::<8>(base, src + i, out + i);
                copy_chunk::<8>(base, src + i + 8, out + i + 8);
                i += 16;
            }
        } else {
            // A short period: write the smallest multiple of it that is at least 8 bytes one byte
            // at a time, then copy 8 bytes at a time from that distance (the same pattern).
            let period = SHORT_PERIOD[offset & 7];
            for j in 0..period {
                *base.add(out + j) = *base.add(src + j);
            }
            let mut i = period;
            while i < len {
                copy_chunk::<8>(base, out + i - period, out + i);
                i += 8;
            }
        }
    }
}

/// Copies `len` bytes from `offset` back to `out`, repeating the pattern when they overlap.
#[inline(always)]
fn copy_match(dst: &mut [u8], out: usize, offset: usize, len: usize) {
    let src = out - offset;
    if offset >= len {
        dst.copy_within(src..src + len, out);
        return;
    }
    // Overlapping: after each copy the pattern before `out + copied` repeats with period `offset`,
    // so the next copy may take twice as much.
    let mut copied = 0;
    let mut chunk = offset;
    while copied < len {
        let n = chunk.min(len - copied);
        dst.copy_within(src..src + n, out + copied);
        copied += n;
        chunk = copied + offset;
        chunk -= chunk % offset;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predefined_tables_are_built() {
        assert_eq!(LL_PREDEFINED.log, 6);
        assert_eq!(ML_PREDEFINED.log, 6);
        assert_eq!(OF_PREDEFINED.log, 5);
        // RFC 8878 Appendix A, first states of each predefined table.
        assert_eq!(LL_PREDEFINED.entries[0], SeqEntry::new(0, 0, 4, 0));
        assert_eq!(ML_PREDEFINED.entries[0].nb_bits(), 6);
        assert_eq!(ML_PREDEFINED.entries[0].baseline(), 3);
        assert_eq!(OF_PREDEFINED.entries[0].nb_bits(), 5);
        assert_eq!(OF_PREDEFINED.entries[0].baseline(), 1);
        let e = SeqEntry::new(65539, 300, 9, 16);
        assert_eq!(
            (e.baseline(), e.next_base(), e.nb_bits(), e.extra_bits()),
            (65539, 300, 9, 16)
        );
        for log in 5..=9 {
            for x in 1..(2u16 << log) {
                let (nb_bits, next_base) = fse::transition(x, log);
                let e = SeqEntry::new(65539, 0, 0, 16).in_state(x, log);
                assert_eq!(
                    (e.baseline(), e.next_base(), e.nb_bits(), e.extra_bits()),
                    (65539, usize::from(next_base), u32::from(nb_bits), 16),
                    "x {x}, log {log}"
                );
            }
        }
    }

    #[test]
    fn repeat_offsets_follow_the_rfc() {
        let resolve = |value: u32, lit_len: u32, reps: &mut [u32; 3]| {
            resolve_offset(value, value <= 3, lit_len, reps)
        };
        let mut reps = [1, 4, 8];
        assert_eq!(resolve(10, 5, &mut reps), 7);
        assert_eq!(reps, [7, 1, 4]);
        assert_eq!(resolve(1, 5, &mut reps), 7);
        assert_eq!(reps, [7, 1, 4]);
        assert_eq!(resolve(2, 5, &mut reps), 1);
        assert_eq!(reps, [1, 7, 4]);
        assert_eq!(resolve(3, 5, &mut reps), 4);
        assert_eq!(reps, [4, 1, 7]);
        // Literals length 0 shifts: 1 -> rep2, 2 -> rep3, 3 -> rep1 - 1.
        assert_eq!(resolve(1, 0, &mut reps), 1);
        assert_eq!(reps, [1, 4, 7]);
        assert_eq!(resolve(2, 0, &mut reps), 7);
        assert_eq!(reps, [7, 1, 4]);
        assert_eq!(resolve(3, 0, &mut reps), 6);
        assert_eq!(reps, [6, 7, 1]);
        let mut ones = [1, 2, 3];
        assert_eq!(resolve(3, 0, &mut ones), 0);
    }

    /// An output of 64 bytes whose last 8 are unread literals "ABCDEFGH", with 10 bytes of frame
    /// output already written.
    fn output(dst: &mut [u8; 64], window: u64) -> Output<'_, 'static> {
        dst[56..].copy_from_slice(b"ABCDEFGH");
        Output {
            dst,
            out: 10,
            lit: 56,
            frame_start: 0,
            window,
            dict: &[],
        }
    }

    #[test]
    fn hostile_sequences_are_rejected() {
        let mut dst = [0u8; 64];
        // Literals past the literals section.
        assert_eq!(
            output(&mut dst, 1 << 20).execute(9, 3, 1, 0),
            Err(ZstdError::LiteralsOverrun {
                needed: 9,
                available: 8
            })
        );
        // An offset before the start of the output (no dictionary).
        assert_eq!(
            output(&mut dst, 1 << 20).execute(2, 3, 13, 0),
            Err(ZstdError::OffsetTooFar {
                offset: 13,
                available: 12
            })
        );
        // An offset within the output but beyond the window.
        assert_eq!(
            output(&mut dst, 4).execute(2, 3, 6, 0),
            Err(ZstdError::OffsetTooFar {
                offset: 6,
                available: 4
            })
        );
        // A match that would overwrite literals not yet copied: the output does not fit.
        assert!(matches!(
            output(&mut dst, 1 << 20).execute(1, 60, 1, 0),
            Err(ZstdError::OutputTooSmall { .. })
        ));
        // And a valid one: 2 literals, then 3 bytes from 2 back.
        let mut o = output(&mut dst, 1 << 20);
        o.execute(2, 3, 2, 0).unwrap();
        assert_eq!((o.out, o.lit), (15, 58));
        assert_eq!(&o.dst[10..15], b"ABABA");
    }

    #[test]
    fn overlapping_matches_repeat_their_pattern() {
        let mut buf = [0u8; 40];
        buf[..3].copy_from_slice(b"abc");
        copy_match(&mut buf, 3, 3, 37);
        for (i, &b) in buf.iter().enumerate() {
            assert_eq!(b, b"abc"[i % 3], "byte {i}");
        }
        let mut buf = [7u8; 20];
        buf[5] = 9;
        copy_match(&mut buf, 6, 1, 14);
        assert!(buf[6..].iter().all(|&b| b == 9));
    }
}
