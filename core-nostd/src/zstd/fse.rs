//! Finite State Entropy (RFC 8878, 4.1): reading a table description (the normalized probabilities)
//! and building the decoding table from it.

use super::bits::ForwardBits;
use super::error::ZstdError;
use super::tables::FSE_MIN_ACCURACY_LOG;

type Result<T> = core::result::Result<T, ZstdError>;

/// Most symbols any FSE alphabet of the format has (match-length codes: 53).
pub(crate) const FSE_MAX_SYMBOLS: usize = 64;
/// The largest accuracy log of any FSE table of the format (literals and match lengths: 9).
pub(crate) const FSE_MAX_LOG: u32 = 9;
/// The largest accuracy log [`build_table`] takes: that of the Huffman weights' tables
/// (`HUFFMAN_WEIGHTS_MAX_ACCURACY_LOG`) and of the predefined distributions.
pub(crate) const SMALL_TABLE_LOG: u32 = 6;

/// A table description: one normalized probability per symbol (`-1` is "less than 1") and the
/// accuracy log whose power of two they add up to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NormalizedCounts {
    /// Probabilities of symbols `0..symbols`; the rest are zero.
    pub(crate) counts: [i16; FSE_MAX_SYMBOLS],
    /// Number of symbols described (largest symbol + 1).
    pub(crate) symbols: usize,
    /// Accuracy log: the table has `1 << log` states.
    pub(crate) log: u32,
}

impl NormalizedCounts {
    /// The probabilities of the described symbols.
    pub(crate) fn as_slice(&self) -> &[i16] {
        &self.counts[..self.symbols.min(FSE_MAX_SYMBOLS)]
    }
}

/// Reads an FSE table description from the start of `src` (4.1.1) for an alphabet of symbols
/// `0..=max_symbol` and an accuracy log of at most `max_log`. Returns it and the bytes it took.
#[inline(always)]
pub(crate) fn read_counts(
    src: &[u8],
    max_symbol: usize,
    max_log: u32,
    what: &'static str,
) -> Result<(NormalizedCounts, usize)> {
    if src.is_empty() {
        return Err(ZstdError::Truncated {
            what,
            needed: 1,
            available: 0,
        });
    }
    let max_symbol = max_symbol.min(FSE_MAX_SYMBOLS - 1);
    let mut bits = ForwardBits::new(src);
    let log = (bits.peek32() & 0xF) + FSE_MIN_ACCURACY_LOG;
    if log > max_log {
        return Err(ZstdError::AccuracyLogTooLarge {
            what,
            log,
            limit: max_log,
        });
    }
    bits.skip(4);
    let mut counts = [0i16; FSE_MAX_SYMBOLS];
    // `remaining` is the RFC's "remaining probabilities + 1", so that -1 needs no special case.
    // The next value takes `nb_bits` or `nb_bits - 1` bits, `nb_bits` being the bit length of
    // `remaining` (`threshold` its top bit).
    let mut remaining: i32 = (1 << log) + 1;
    let mut symbol = 0usize;
    let mut previous_was_zero = false;
    while remaining > 1 {
        if previous_was_zero {
            // Zero probabilities are followed by 2-bit repeat flags: that many more zeros, and
            // another flag after a 3.
            loop {
                let repeat = (bits.peek32() & 3) as usize;
                bits.skip(2);
                symbol += repeat;
                if symbol > max_symbol + 1 || bits.consumed_bytes() > src.len() {
                    return Err(ZstdError::SymbolOutOfRange {
                        what,
                        symbol,
                        max: max_symbol,
                    });
                }
                if repeat != 3 {
                    break;
                }
            }
        }
        if symbol > max_symbol {
            return Err(ZstdError::SymbolOutOfRange {
                what,
                symbol,
                max: max_symbol,
            });
        }
        // remaining >= 2 here, so nb_bits >= 2 and threshold >= 2.
        let nb_bits = 32 - remaining.leading_zeros();
        let threshold = 1i32 << (nb_bits - 1);
        #[allow(clippy::cast_possible_wrap)] // masked to at most 15 bits below
        let word = (bits.peek32() & 0x7FFF) as i32;
        let max = (2 * threshold - 1) - remaining;
        // Values below `max` take one bit less. Branch-free: which one a value takes is as
        // unpredictable as the data.
        let low = word & (threshold - 1);
        let full = word & (2 * threshold - 1);
        let short = low < max;
        let long_value = if full >= threshold { full - max } else { full };
        let value = core::hint::select_unpredictable(short, low, long_value);
        bits.skip(nb_bits - u32::from(short));
        let probability = value - 1;
        remaining -= probability.abs();
        if remaining < 1 {
            return Err(ZstdError::BadProbabilities { what, remaining });
        }
        #[allow(clippy::cast_possible_truncation)] // -1 <= probability < 2^10
        {
            counts[symbol] = probability as i16;
        }
        symbol += 1;
        previous_was_zero = probability == 0;
    }
    let used = bits.consumed_bytes();
    if used > src.len() {
        return Err(ZstdError::Truncated {
            what,
            needed: used,
            available: src.len(),
        });
    }
    Ok((
        NormalizedCounts {
            counts,
            symbols: symbol,
            log,
        },
        used,
    ))
}

/// The row [`read_and_lay_out`] writes: a symbol for each state of the largest table, and 8 bytes
/// of room for the eight-byte writes that lay it out.
pub(crate) const ROW_LEN: usize = (1 << FSE_MAX_LOG) + 8;

/// What [`read_and_lay_out`] found: the table's accuracy log, the first state of the
/// low-probability symbols (`1 << log` when there are none), and the bytes the description took.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LaidOut {
    pub(crate) log: u32,
    pub(crate) high: usize,
    pub(crate) used: usize,
}

/// [`read_counts`] and [`lay_out`] in one pass: reads an FSE table description from the start of
/// `src` and lays each symbol out as soon as its probability is read, so that the symbols are
/// walked once and no probabilities are kept. The row's stores and the successor numbers stay off
/// the chain that reading the description is (each value's width depends on the ones before), so
/// they cost little. The same row, `next_state` and `low_symbols` as `lay_out` on `read_counts`'s
/// probabilities, and the same errors.
///
/// Reading is bound by two chains that meet at each value: the bit position (a load per value,
/// its shift, the compare that picks the value's width) and `remaining` (its bit length, the
/// threshold, the value). Measured slower on memdump and files pages, so not to retry as they
/// were: the bit length kept by a loop that halves the threshold as `remaining` falls (3-5%
/// slower: it mispredicts), and the first zero-repeat flag taken without a branch (1.5-3%
/// slower: it adds a step to the bit position's chain, where the branch predicts well).
#[inline(always)]
pub(crate) fn read_and_lay_out(
    src: &[u8],
    max_symbol: usize,
    max_log: u32,
    what: &'static str,
    row: &mut [u8; ROW_LEN],
    next_state: &mut [u16; FSE_MAX_SYMBOLS],
    low_symbols: &mut [u8; FSE_MAX_SYMBOLS],
) -> Result<LaidOut> {
    if src.is_empty() {
        return Err(ZstdError::Truncated {
            what,
            needed: 1,
            available: 0,
        });
    }
    let max_symbol = max_symbol.min(FSE_MAX_SYMBOLS - 1);
    let mut bits = ForwardBits::new(src);
    let log = (bits.peek32() & 0xF) + FSE_MIN_ACCURACY_LOG;
    if log > max_log || log > FSE_MAX_LOG {
        return Err(ZstdError::AccuracyLogTooLarge {
            what,
            log,
            limit: max_log.min(FSE_MAX_LOG),
        });
    }
    bits.skip(4);
    let size = 1usize << log;
    // As in `read_counts`: `remaining` is the RFC's "remaining probabilities + 1".
    let mut remaining: i32 = (1 << log) + 1;
    // States taken by ordinary symbols (from 0) and by low-probability ones (from the last down).
    let mut filled = 0usize;
    let mut high = size;
    let mut symbol = 0usize;
    let mut previous_was_zero = false;
    while remaining > 1 {
        if previous_was_zero {
            loop {
                let repeat = (bits.peek32() & 3) as usize;
                bits.skip(2);
                symbol += repeat;
                if symbol > max_symbol + 1 || bits.consumed_bytes() > src.len() {
                    return Err(ZstdError::SymbolOutOfRange {
                        what,
                        symbol,
                        max: max_symbol,
                    });
                }
                if repeat != 3 {
                    break;
                }
            }
        }
        if symbol > max_symbol {
            return Err(ZstdError::SymbolOutOfRange {
                what,
                symbol,
                max: max_symbol,
            });
        }
        let nb_bits = 32 - remaining.leading_zeros();
        let threshold = 1i32 << (nb_bits - 1);
        #[allow(clippy::cast_possible_wrap)] // masked to at most 15 bits below
        let word = (bits.peek32() & 0x7FFF) as i32;
        let max = (2 * threshold - 1) - remaining;
        let low = word & (threshold - 1);
        let full = word & (2 * threshold - 1);
        let short = low < max;
        let long_value = if full >= threshold { full - max } else { full };
        let value = core::hint::select_unpredictable(short, low, long_value);
        bits.skip(nb_bits - u32::from(short));
        let probability = value - 1;
        remaining -= probability.abs();
        if remaining < 1 {
            return Err(ZstdError::BadProbabilities { what, remaining });
        }
        // The probabilities so far add up to at most `size` (`remaining >= 1`), so `filled +
        // count <= high <= size`: the row's writes stay below `size + 8`, and `high` stays
        // above `filled`.
        let s = symbol & (FSE_MAX_SYMBOLS - 1);
        #[allow(clippy::cast_possible_truncation)] // s < 64
        let byte = s as u8;
        if probability < 0 {
            high -= 1;
            low_symbols[(size - 1 - high) & (FSE_MAX_SYMBOLS - 1)] = byte;
            next_state[s] = 1;
        } else {
            #[allow(clippy::cast_sign_loss)] // probability >= 0
            let count = probability as usize;
            #[allow(clippy::cast_possible_truncation)] // count <= 2^9
            {
                next_state[s] = count as u16;
            }
            // Eight copies even for fewer (the next symbol's run overwrites the excess), so that
            // most symbols take no loop; zero-probability symbols write too, and are overwritten.
            let eight = u64::from(byte) * 0x0101_0101_0101_0101;
            let mut at = filled;
            loop {
                let i = at & ((1 << FSE_MAX_LOG) - 1);
                row[i..i + 8].copy_from_slice(&eight.to_le_bytes());
                at += 8;
                if at >= filled + count {
                    break;
                }
            }
            filled += count;
        }
        symbol += 1;
        previous_was_zero = probability == 0;
    }
    let used = bits.consumed_bytes();
    if used > src.len() {
        return Err(ZstdError::Truncated {
            what,
            needed: used,
            available: src.len(),
        });
    }
    Ok(LaidOut { log, high, used })
}

/// One state of an FSE decoding table: the symbol it emits, and how to find the next state
/// (`base + read(nb_bits)`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct FseEntry {
    pub(crate) symbol: u8,
    pub(crate) nb_bits: u8,
    pub(crate) base: u16,
}

impl FseEntry {
    pub(crate) const ZERO: Self = Self {
        symbol: 0,
        nb_bits: 0,
        base: 0,
    };
}

/// The symbol spread (4.1.1), first half: lays the symbols of ordinary probability out in `row`
/// (at least `(1 << log) + 8` bytes), each repeated as often as its probability, in symbol order
/// (the order the spread deals them in), and the low-probability ("less than 1") ones in
/// `low_symbols`, in the order they take the states from the last one down. Sets each symbol's
/// first successor number (its probability, or 1) in `next_state`. Returns the first state of the
/// low-probability symbols (`1 << log` when there are none), or `None` when the counts do not add
/// up to `1 << log` or `row` is short. `const` so that the predefined tables are built at
/// compile time.
// Casts: symbols are < FSE_MAX_SYMBOLS (64) and counts are checked non-negative before the casts.
#[allow(clippy::cast_possible_truncation)]
#[inline(always)]
pub(crate) const fn lay_out(
    counts: &[i16],
    log: u32,
    row: &mut [u8],
    next_state: &mut [u16; FSE_MAX_SYMBOLS],
    low_symbols: &mut [u8; FSE_MAX_SYMBOLS],
) -> Option<usize> {
    if log > FSE_MAX_LOG || counts.len() > FSE_MAX_SYMBOLS || (1usize << log) + 8 > row.len() {
        return None;
    }
    let size = 1usize << log;
    let mut high = size;
    let mut filled = 0usize;
    let mut s = 0;
    while s < counts.len() {
        let c = counts[s];
        if c == -1 {
            if high == 0 {
                return None;
            }
            high -= 1;
            low_symbols[(size - 1 - high) & (FSE_MAX_SYMBOLS - 1)] = s as u8;
            next_state[s] = 1;
        } else if c < 0 {
            return None;
        } else {
            let count = c as usize;
            // Keeps the row's writes below `size + 8`.
            if filled + count > size {
                return None;
            }
            next_state[s] = count as u16;
            // Eight copies even for fewer (up to 7 bytes past the run, which the next runs
            // overwrite; the row has room for them), so that most symbols take no loop.
            let mut written = 0;
            loop {
                if let Some((_, rest)) = row.split_at_mut_checked(filled + written)
                    && let Some(eight) = rest.first_chunk_mut::<8>()
                {
                    *eight = [s as u8; 8];
                }
                written += 8;
                if written >= count {
                    break;
                }
            }
            filled += count;
        }
        s += 1;
    }
    // The probabilities must fill the table exactly.
    if filled != high {
        return None;
    }
    Some(high)
}

/// The spread's step for a table of `1 << log` states (4.1.1). It is odd and the size a power of
/// two, so `size` steps from state 0 visit every state once.
const fn step(log: u32) -> usize {
    let size = 1usize << log;
    (size >> 1) + (size >> 3) + 3
}

/// The inverse of [`step`] modulo the table size: without low-probability symbols the spread gives
/// its `k`-th row symbol to state `k * step`, so state `u` holds row symbol `u * step_inverse`.
pub(crate) const fn step_inverse(log: u32) -> usize {
    // Newton's iteration for the inverse of an odd number modulo a power of two: each round
    // doubles the bits that are right, and an odd `x` is its own inverse modulo 8.
    let x = step(log);
    let mut inverse = x;
    let mut round = 0;
    while round < 4 {
        inverse = inverse.wrapping_mul(2usize.wrapping_sub(x.wrapping_mul(inverse)));
        round += 1;
    }
    inverse & ((1usize << log) - 1)
}

/// The symbol spread, second half (after [`lay_out`]): deals the symbols of `row` to the states
/// below `high` with the RFC's step, and `low_symbols` to the states from `high` on, writing each
/// state's symbol to `symbols`. Returns false when a buffer is short.
// Casts: none truncate (indexes are masked to the table size).
#[inline(always)]
pub(crate) const fn deal(
    row: &[u8],
    log: u32,
    high: usize,
    low_symbols: &[u8; FSE_MAX_SYMBOLS],
    symbols: &mut [u8],
) -> bool {
    let size = 1usize << log;
    if symbols.len() < size || row.len() < size || high > size {
        return false;
    }
    let step = step(log);
    let mask = size - 1;
    let mut position = 0usize;
    let mut k = 0;
    if high == size {
        // Every state takes the next symbol of the row.
        while k < size {
            symbols[position] = row[k & mask];
            position = (position + step) & mask;
            k += 1;
        }
        return true;
    }
    // States at or past `high` receive a junk byte here and their symbol below, and the row
    // does not advance past them. No branch: the same symbols as placing them one at a time and
    // skipping those states.
    let mut next = 0usize;
    while k < size {
        symbols[position] = row[next & mask];
        next += (position < high) as usize;
        position = (position + step) & mask;
        k += 1;
    }
    let mut placed = 0usize;
    while placed < size - high {
        symbols[size - 1 - placed] = low_symbols[placed & (FSE_MAX_SYMBOLS - 1)];
        placed += 1;
    }
    true
}

/// The transition of a state whose symbol's successor number is `x` (in `[count, 2 * count)`): the
/// bits to read and the base they are added to, so that the successors cover the table.
#[inline(always)]
pub(crate) const fn transition(x: u16, log: u32) -> (u8, u16) {
    let highest_bit = 15 - x.leading_zeros();
    let nb_bits = log.wrapping_sub(highest_bit) & 15;
    // Casts: nb_bits < 16 and the base is below the table size (at most 2^15).
    #[allow(clippy::cast_possible_truncation)]
    let result = (
        nb_bits as u8,
        ((x as u32) << nb_bits).wrapping_sub(1 << log) as u16,
    );
    result
}

/// Builds the decoding table of `counts` with `1 << log` states (`log <= SMALL_TABLE_LOG`: the
/// Huffman weights' tables and the predefined ones) into `table` (4.1.1). Returns false when the
/// counts cannot fill the table or the table is short. Its buffers are small: decoding runs on the
/// 4 KiB stack of small boards.
#[inline(always)]
pub(crate) const fn build_table(counts: &[i16], log: u32, table: &mut [FseEntry]) -> bool {
    if log > SMALL_TABLE_LOG {
        return false;
    }
    let size = 1usize << log;
    let mut row = [0u8; (1 << SMALL_TABLE_LOG) + 8];
    let mut next_state = [0u16; FSE_MAX_SYMBOLS];
    let mut low_symbols = [0u8; FSE_MAX_SYMBOLS];
    if table.len() < size {
        return false;
    }
    let Some(high) = lay_out(counts, log, &mut row, &mut next_state, &mut low_symbols) else {
        return false;
    };
    let mut state = 0;
    if high == size {
        // No low-probability symbols: state `u` takes the row's symbol `u * step^-1`, read
        // straight from the row (see `step_inverse`).
        let inverse = step_inverse(log);
        let mask = size - 1;
        let mut k = 0usize;
        while state < size {
            table[state] = next_entry(row[k & mask], &mut next_state, log);
            k = (k + inverse) & mask;
            state += 1;
        }
        return true;
    }
    let mut symbols = [0u8; 1 << SMALL_TABLE_LOG];
    if !deal(&row, log, high, &low_symbols, &mut symbols) {
        return false;
    }
    while state < size {
        table[state] = next_entry(symbols[state], &mut next_state, log);
        state += 1;
    }
    true
}

/// The entry of the next state (in state order) of `symbol`, numbering its states with the
/// successor numbers in `next_state`.
#[inline(always)]
const fn next_entry(symbol: u8, next_state: &mut [u16; FSE_MAX_SYMBOLS], log: u32) -> FseEntry {
    let s = symbol as usize & (FSE_MAX_SYMBOLS - 1);
    let x = next_state[s];
    next_state[s] = x.wrapping_add(1);
    let (nb_bits, base) = transition(x, log);
    FseEntry {
        symbol,
        nb_bits,
        base,
    }
}

/// Builds the table of `counts`, or says what was wrong with the description.
#[inline(always)]
pub(crate) fn build_checked(
    counts: &NormalizedCounts,
    table: &mut [FseEntry],
    what: &'static str,
) -> Result<()> {
    if build_table(counts.as_slice(), counts.log, table) {
        Ok(())
    } else {
        Err(ZstdError::BadProbabilities { what, remaining: 0 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zstd::tables::*;

    #[test]
    fn predefined_literals_lengths_build() {
        let mut table = [FseEntry::ZERO; 64];
        assert!(build_table(&LL_DEFAULT_DISTRIBUTION, 6, &mut table));
        // RFC 8878, Appendix A: state 0 is literals-length code 0, 4 bits, base 0.
        assert_eq!(
            table[0],
            FseEntry {
                symbol: 0,
                nb_bits: 4,
                base: 0
            }
        );
        // The last states hold the "less than 1" symbols 32..=35 in reverse order, 6 bits each.
        assert_eq!(table[63].symbol, 32);
        assert_eq!(table[60].symbol, 35);
        assert_eq!(table[63].nb_bits, 6);
        // Every next state stays inside the table.
        for e in table {
            assert!(usize::from(e.base) + (1usize << e.nb_bits) <= 64);
        }
    }

    #[test]
    fn all_zero_bits_describe_uniform_low_probabilities() {
        // Log 5 (nibble 0), then every value 0: probability -1 for 32 symbols fills the 32 states.
        let src = [0x00u8; 16];
        let (counts, used) = read_counts(&src, 31, 8, "t").unwrap();
        assert_eq!(counts.log, 5);
        assert_eq!(counts.as_slice(), &[-1i16; 32][..]);
        assert!(used <= src.len());
        // The same description for a 31-symbol alphabet names a symbol too many.
        assert!(matches!(
            read_counts(&src, 30, 8, "t"),
            Err(ZstdError::SymbolOutOfRange { .. })
        ));
    }

    #[test]
    fn rejects_excessive_accuracy_log() {
        // Low nibble 15 -> log 20.
        assert_eq!(
            read_counts(&[0x0F, 0, 0, 0], 35, 9, "t"),
            Err(ZstdError::AccuracyLogTooLarge {
                what: "t",
                log: 20,
                limit: 9
            })
        );
    }

    #[test]
    fn step_inverses_undo_the_step() {
        for log in FSE_MIN_ACCURACY_LOG..=FSE_MAX_LOG {
            let mask = (1usize << log) - 1;
            assert_eq!((step(log) * step_inverse(log)) & mask, 1, "log {log}");
        }
    }

    /// Without low-probability symbols, reading the row at `u * step^-1` gives every state the
    /// symbol that dealing the row out gives it (the table builders rely on this).
    #[test]
    fn the_inverse_step_reads_the_dealt_symbols() {
        let mut seed = 7u32;
        for log in FSE_MIN_ACCURACY_LOG..=FSE_MAX_LOG {
            let size = 1usize << log;
            for _ in 0..20 {
                // Random counts adding up to the table size, over up to 40 symbols.
                let mut counts = [0i16; FSE_MAX_SYMBOLS];
                let mut left = size;
                let mut symbols = 0;
                while left > 0 && symbols < 40 {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    let c = ((seed >> 16) as usize % left.min(size / 4 + 1)).max(1);
                    counts[symbols] = c as i16;
                    left -= c;
                    symbols += 1;
                }
                counts[symbols - 1] += left as i16;
                let counts = &counts[..symbols];
                let mut row = [0u8; (1 << FSE_MAX_LOG) + 8];
                let mut next_state = [0u16; FSE_MAX_SYMBOLS];
                let mut low = [0u8; FSE_MAX_SYMBOLS];
                let high = lay_out(counts, log, &mut row, &mut next_state, &mut low).unwrap();
                assert_eq!(high, size);
                let mut dealt = [0u8; 1 << FSE_MAX_LOG];
                assert!(deal(&row, log, high, &low, &mut dealt));
                let inverse = step_inverse(log);
                for (u, &symbol) in dealt.iter().enumerate().take(size) {
                    assert_eq!(row[(u * inverse) % size], symbol, "log {log}, state {u}");
                }
            }
        }
    }

    /// The fused reader gives what reading the probabilities and then laying them out gives, and
    /// the same error, on descriptions from random bytes (many of them valid) of every alphabet.
    #[test]
    fn read_and_lay_out_matches_read_then_lay_out() {
        let mut seed = 12_345u64;
        let mut valid = 0;
        for round in 0..30_000 {
            let mut src = [0u8; 40];
            for b in &mut src {
                seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                *b = (seed >> 56) as u8;
            }
            // Small logs and short descriptions are the likely valid ones: bias towards them.
            src[0] &= [0x0F, 0xF0, 0xF1, 0xF3, 0xFF][round % 5];
            let len = 1 + (round % 40);
            let src = &src[..len];
            let (max_symbol, max_log) = [(35, 9), (52, 9), (31, 8), (12, 6)][round % 4];
            let expected = read_counts(src, max_symbol, max_log, "t").and_then(|(counts, used)| {
                let mut row = [0u8; ROW_LEN];
                let mut next = [0u16; FSE_MAX_SYMBOLS];
                let mut low = [0u8; FSE_MAX_SYMBOLS];
                let high = lay_out(counts.as_slice(), counts.log, &mut row, &mut next, &mut low)
                    .ok_or(ZstdError::BadProbabilities {
                        what: "t",
                        remaining: 0,
                    })?;
                Ok((counts, used, high, row, next, low))
            });
            let mut row = [0u8; ROW_LEN];
            let mut next = [0u16; FSE_MAX_SYMBOLS];
            let mut low = [0u8; FSE_MAX_SYMBOLS];
            let got =
                read_and_lay_out(src, max_symbol, max_log, "t", &mut row, &mut next, &mut low);
            match expected {
                Err(e) => assert_eq!(got, Err(e), "{src:?}"),
                Ok((counts, used, high, want_row, want_next, want_low)) => {
                    valid += 1;
                    let size = 1usize << counts.log;
                    assert_eq!(
                        got,
                        Ok(LaidOut {
                            log: counts.log,
                            high,
                            used
                        }),
                        "{src:?}"
                    );
                    assert_eq!(row[..high], want_row[..high], "{src:?}");
                    for (s, &c) in counts.as_slice().iter().enumerate() {
                        if c != 0 {
                            assert_eq!(next[s], want_next[s], "{src:?} symbol {s}");
                        }
                    }
                    assert_eq!(low[..size - high], want_low[..size - high], "{src:?}");
                }
            }
        }
        assert!(valid > 1000, "only {valid} valid descriptions");
    }

    #[test]
    fn build_rejects_wrong_sums() {
        let mut table = [FseEntry::ZERO; 32];
        assert!(!build_table(&[16, 15], 5, &mut table));
        assert!(!build_table(&[16, 17], 5, &mut table));
        assert!(build_table(&[16, 16], 5, &mut table));
        // All states "less than 1".
        assert!(build_table(&[-1; 32], 5, &mut table));
    }
}
