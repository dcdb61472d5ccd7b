//! Finite State Entropy encoding (RFC 8878, "FSE"): normalising a histogram to a distribution,
//! writing that distribution as a table description, building the encoding table that matches the
//! decoder's table, and encoding symbols with it.

use super::bits::BitWriter;

/// Largest accuracy log any Zstandard FSE table uses (literal and match lengths: 9).
pub const MAX_TABLE_LOG: u32 = 9;
const MAX_TABLE_SIZE: usize = 1 << MAX_TABLE_LOG;
/// Largest alphabet (match length codes 0..=52).
pub const MAX_SYMBOLS: usize = 53;
/// Room for per-symbol transforms: a power of two, so that a symbol is masked, not divided, into
/// range.
const TRANSFORMS: usize = 64;

/// The per-symbol transform of tANS encoding: how many bits a state emits and where it goes next.
#[derive(Clone, Copy, Default)]
struct SymbolTransform {
    delta_find_state: i32,
    delta_nb_bits: u32,
}

/// An FSE encoding table for one distribution.
#[derive(Clone)]
pub struct EncodingTable {
    table_log: u32,
    next_state: [u16; MAX_TABLE_SIZE],
    transform: [SymbolTransform; TRANSFORMS],
}

impl EncodingTable {
    /// An empty table; [`EncodingTable::build`] fills it.
    pub const fn new() -> Self {
        Self {
            table_log: 0,
            next_state: [0; MAX_TABLE_SIZE],
            transform: [SymbolTransform {
                delta_find_state: 0,
                delta_nb_bits: 0,
            }; TRANSFORMS],
        }
    }

    /// Builds the table for `norm` (counts summing to `1 << table_log`, `-1` meaning "less than one",
    /// as in the RFC's predefined distributions). The symbol spread is the decoder's, so that every
    /// state means the same symbol on both sides.
    #[inline(always)]
    pub fn build(&mut self, norm: &[i16], table_log: u32) {
        let size = 1usize << table_log;
        let mask = size - 1;
        let mut cumul = [0u32; MAX_SYMBOLS + 1];
        let symbols = norm.len().min(MAX_SYMBOLS);
        let mut low_probability = 0usize;
        for (s, &n) in norm.iter().enumerate().take(symbols) {
            // "Less than one" (-1) takes one cell.
            low_probability += usize::from(n == -1);
            cumul[s + 1] = cumul[s] + if n == -1 { 1 } else { n.max(0) as u32 };
        }
        let step = (size >> 1) + (size >> 3) + 3;
        // Each symbol's states, in increasing cell order, get consecutive slots from its cumulative
        // start: the encoder finds the next state for a symbol and a sub-range there.
        let mut fill = cumul;
        if low_probability == 0 {
            // No low-probability cell: the step visits every cell once, so the symbols can be laid
            // out in order first (eight copies per store). The k-th of them lands in cell
            // `k * step mod size`; the step is odd, so cell `c` holds the one at `c * step⁻¹ mod
            // size`, and the cells are filled in order straight from there, without scattering
            // the symbols into a table first.
            let mut in_order = [0u8; MAX_TABLE_SIZE + 16];
            let mut at = 0usize;
            for (s, &n) in norm.iter().enumerate().take(symbols) {
                let copies = u64::from(u8::try_from(s).unwrap_or(0)) * 0x0101_0101_0101_0101;
                let n = n.max(0) as usize;
                // Sixteen copies whatever the count (most counts are below 16, and a loop exit
                // that depends on each would mispredict), more only for the largest.
                if let Some(chunk) = in_order.get_mut(at..at + 16) {
                    chunk[..8].copy_from_slice(&copies.to_le_bytes());
                    chunk[8..].copy_from_slice(&copies.to_le_bytes());
                }
                let mut i = 16;
                while i < n {
                    if let Some(chunk) = in_order.get_mut(at + i..at + i + 8) {
                        chunk.copy_from_slice(&copies.to_le_bytes());
                    }
                    i += 8;
                }
                at += n;
            }
            // Newton's iteration for the inverse modulo a power of two: an odd number is its own
            // inverse modulo 8, and each step doubles the correct low bits (3, 6, 12 >= 9).
            let mut inverse = step;
            for _ in 0..2 {
                inverse = inverse.wrapping_mul(2usize.wrapping_sub(step.wrapping_mul(inverse)));
            }
            let mut k = 0usize;
            for cell in 0..size {
                let slot = &mut fill[usize::from(in_order[k & mask])];
                #[allow(clippy::cast_possible_truncation)] // size + cell < 2 * 512 fits u16
                {
                    self.next_state[*slot as usize % MAX_TABLE_SIZE] = (size + cell) as u16;
                }
                *slot += 1;
                k = k.wrapping_add(inverse);
            }
        } else {
            // The predefined distributions: low-probability symbols take the last cells, as the
            // decoder places them, and the step skips those cells.
            let mut symbol_at = [0u8; MAX_TABLE_SIZE];
            let mut high = size - 1;
            for (s, &n) in norm.iter().enumerate().take(symbols) {
                if n == -1 {
                    symbol_at[high] = u8::try_from(s).unwrap_or(0);
                    high = high.wrapping_sub(1);
                }
            }
            let mut pos = 0usize;
            for (s, &n) in norm.iter().enumerate().take(symbols) {
                for _ in 0..n.max(0) {
                    symbol_at[pos] = u8::try_from(s).unwrap_or(0);
                    pos = (pos + step) & mask;
                    while pos > high {
                        pos = (pos + step) & mask;
                    }
                }
            }
            for (cell, &s) in symbol_at.iter().enumerate().take(size) {
                let slot = &mut fill[usize::from(s)];
                #[allow(clippy::cast_possible_truncation)] // size + cell < 2 * 512 fits u16
                {
                    self.next_state[*slot as usize] = (size + cell) as u16;
                }
                *slot += 1;
            }
        }
        let mut total = 0i32;
        for (slot, &n) in self.transform.iter_mut().zip(norm) {
            // Computed the same way for every count, selected without a branch (counts vary from
            // one symbol to the next): "less than one" (-1) takes one cell like 1, and a 1-cell
            // symbol always emits `table_log` bits, which `(cells - 1) | 1` gives.
            let n = i32::from(n);
            let cells = if n == -1 { 1 } else { n.max(0) };
            let c = cells.max(1) as u32;
            let max_bits_out = table_log - (31 - ((c - 1) | 1).leading_zeros());
            let used = SymbolTransform {
                delta_find_state: total - cells.max(1),
                delta_nb_bits: (max_bits_out << 16).wrapping_sub(c << max_bits_out),
            };
            // Never used for a symbol that occurs; set so that it would emit the most bits.
            let absent = SymbolTransform {
                delta_find_state: 0,
                delta_nb_bits: ((table_log + 1) << 16) - (1 << table_log),
            };
            // Selected with a mask: the compiler would otherwise branch.
            let keep = 0u32.wrapping_sub(u32::from(n != 0));
            *slot = SymbolTransform {
                delta_find_state: used.delta_find_state & keep as i32,
                delta_nb_bits: (used.delta_nb_bits & keep) | (absent.delta_nb_bits & !keep),
            };
            total += cells;
        }
        self.table_log = table_log;
    }

    /// The first state for the last symbol of a stream (the encoder runs backwards): the state of
    /// that symbol reached with the fewest bits.
    #[inline(always)]
    pub fn init_state(&self, symbol: u8) -> u32 {
        let t = self.transform[usize::from(symbol) & (TRANSFORMS - 1)];
        let nb_bits = (t.delta_nb_bits.wrapping_add(1 << 15)) >> 16;
        let value = (nb_bits << 16).wrapping_sub(t.delta_nb_bits);
        let index = ((value >> nb_bits) as i32 + t.delta_find_state) as usize;
        u32::from(self.next_state[index % MAX_TABLE_SIZE])
    }

    /// Encodes `symbol` from `state`: writes the state's low bits and returns the new state.
    #[inline(always)]
    pub fn encode<const R: bool>(&self, w: &mut BitWriter<'_, R>, state: u32, symbol: u8) -> u32 {
        let t = self.transform[usize::from(symbol) & (TRANSFORMS - 1)];
        let nb_bits = (state.wrapping_add(t.delta_nb_bits)) >> 16;
        w.add(u64::from(state), nb_bits);
        let index = ((state >> nb_bits) as i32 + t.delta_find_state) as usize;
        u32::from(self.next_state[index % MAX_TABLE_SIZE])
    }

    /// Writes the final state, which the decoder reads first.
    #[inline(always)]
    pub fn flush_state<const R: bool>(&self, w: &mut BitWriter<'_, R>, state: u32) {
        w.add(u64::from(state), self.table_log);
    }

    /// Bits that encoding `symbol` costs in this table, in 1/256 bit, from its normalised count: used
    /// to compare a predefined or previous table against a new one.
    pub const fn cost_q8(norm: i16, table_log: u32) -> u32 {
        let n = if norm == -1 {
            1
        } else if norm > 0 {
            norm as u32
        } else {
            0
        };
        if n == 0 {
            return u32::MAX / 4096;
        }
        (table_log << 8).saturating_sub(log2_q8(n))
    }
}

impl Default for EncodingTable {
    fn default() -> Self {
        Self::new()
    }
}

/// log2(x) in 1/256 units for 1 <= x < 2^24, from the bit length and a linear step in the mantissa:
/// close enough for choosing between encodings.
#[inline]
pub const fn log2_q8(x: u32) -> u32 {
    if x == 0 {
        return 0;
    }
    let hb = 31 - x.leading_zeros();
    // Mantissa in [0, 256): the bits just under the top bit.
    let frac = if hb >= 8 {
        (x >> (hb - 8)) & 0xff
    } else {
        (x << (8 - hb)) & 0xff
    };
    // log2(1 + f) ~ f + f(1 - f) * 0.34: a correction that keeps the error under 0.01 bit.
    let corr = (frac * (256 - frac) * 87) >> 16;
    (hb << 8) + frac + corr
}

/// The accuracy log for a histogram of `total` symbols whose largest is `max_symbol`: no more cells
/// than the data justifies (a quarter of its count), but enough to give every symbol one.
#[inline(always)]
pub fn choose_table_log(total: u32, max_symbol: usize, max_log: u32) -> u32 {
    let highbit = |x: u32| 31 - (x | 1).leading_zeros();
    let from_total = highbit(total.saturating_sub(1)).saturating_sub(2);
    let symbol_bits = usize::BITS - 1 - (max_symbol | 1).leading_zeros();
    let min_bits = (highbit(total) + 1).min(symbol_bits + 2);
    from_total.min(max_log).max(min_bits).clamp(5, max_log)
}

/// Normalises `counts` (with `total` their sum, at least 2 distinct symbols present) to a
/// distribution summing to `1 << table_log` in which every present symbol keeps at least one cell.
/// Returns false when that is impossible (more symbols than cells).
#[inline(always)]
pub fn normalize(counts: &[u32], total: u32, table_log: u32, norm: &mut [i16]) -> bool {
    let scale = 1u32 << table_log;
    let mut sum = 0u32;
    let mut largest = 0usize;
    let mut largest_norm = 0u32;
    let step = (u64::from(scale) << 32) / u64::from(total.max(1));
    for (s, (&c, n)) in counts.iter().zip(norm.iter_mut()).enumerate() {
        // Zero for an absent symbol, at least one cell for a present one, without a branch on
        // the count.
        let v = ((u64::from(c) * step + (1 << 31)) >> 32).max(u64::from(c > 0)) as u32;
        #[allow(clippy::cast_possible_truncation)] // v <= scale <= 512
        {
            *n = v as i16;
        }
        sum += v;
        if v > largest_norm {
            largest_norm = v;
            largest = s;
        }
    }
    if sum == scale {
        return true;
    }
    if sum < scale || sum - scale < largest_norm / 2 {
        #[allow(clippy::cast_possible_truncation)] // the result lies in 1..=scale
        {
            norm[largest] = (i64::from(largest_norm) + i64::from(scale) - i64::from(sum)) as i16;
        }
        return true;
    }
    // Too many rare symbols rounded up: take cells one at a time from the symbols that lose the
    // least by giving one up (the largest counts).
    let mut excess = sum - scale;
    while excess > 0 {
        let mut best = usize::MAX;
        let mut best_n = 1i16;
        for (s, &n) in norm.iter().enumerate() {
            if n > best_n {
                best_n = n;
                best = s;
            }
        }
        if best == usize::MAX {
            return false;
        }
        norm[best] -= 1;
        excess -= 1;
    }
    true
}

/// Writes a distribution description (RFC 8878 "FSE Table Description") for `norm[..=max_symbol]`
/// (at most 64 symbols) into `out`; returns its length, or `None` when `out` is too small.
///
/// Not inlined: it runs up to four times per block, and inlined into the block loop (the
/// finder's function) it measured 1% to 4% slower at level 3.
#[inline(never)]
pub fn write_description(norm: &[i16], table_log: u32, out: &mut [u8]) -> Option<usize> {
    let mut pos = 0usize;
    let mut acc: u64 = u64::from(table_log - 5);
    let mut acc_bits = 4u32;
    let mut remaining = (1i32 << table_log) + 1;
    let mut threshold = 1i32 << table_log;
    let mut nb_bits = table_log + 1;
    let mut previous_zero = false;
    let mut symbol = 0usize;
    let symbols = norm.len();
    // Moves every whole byte out (eight bytes stored, as many kept), leaving fewer than 8 bits:
    // no branch on how many bits are pending. Fewer than 34 bits are added between two flushes.
    macro_rules! flush16 {
        () => {
            let bytes = (acc_bits / 8) as usize;
            if let Some(chunk) = out.get_mut(pos..pos + 8) {
                chunk.copy_from_slice(&acc.to_le_bytes());
            } else {
                out.get_mut(pos..pos + bytes)?
                    .copy_from_slice(&acc.to_le_bytes()[..bytes]);
            }
            pos += bytes;
            acc >>= acc_bits & 56;
            acc_bits &= 7;
        };
    }
    // Which symbols have a nonzero count: a zero run's length is then one bit scan, not a loop
    // whose exit depends on each count.
    if symbols > 64 {
        return None;
    }
    let nonzero = norm
        .iter()
        .enumerate()
        .fold(0u64, |m, (s, &n)| m | (u64::from(n != 0) << s));
    while symbol < symbols && remaining > 1 {
        if previous_zero {
            // The zeros after a zero, in 2-bit fields: 3 means "three, and another field
            // follows"; each 24 of them first as 16 one bits. `symbol < symbols <= 64`.
            let rest = nonzero >> symbol;
            if rest == 0 {
                return None;
            }
            let mut run = rest.trailing_zeros() as usize;
            symbol += run;
            while run >= 24 {
                run -= 24;
                acc |= 0xffff << acc_bits;
                let b = out.get_mut(pos..pos + 2)?;
                b.copy_from_slice(&acc.to_le_bytes()[..2]);
                pos += 2;
                acc >>= 16;
            }
            // `run / 3` fields of 3 (at most 14 bits), then the remainder.
            #[allow(clippy::cast_possible_truncation)] // run < 24
            let threes = 2 * (run as u32 / 3);
            acc |= (((1u64 << threes) - 1) | (((run % 3) as u64) << threes)) << acc_bits;
            acc_bits += threes + 2;
            flush16!();
        }
        let n = i32::from(norm[symbol]);
        symbol += 1;
        let max = 2 * threshold - 1 - remaining;
        remaining -= n.abs();
        let mut value = n + 1;
        if value >= threshold {
            value += max;
        }
        acc |= (value as u64) << acc_bits;
        acc_bits += nb_bits;
        if value < max {
            acc_bits -= 1;
        }
        previous_zero = value == 1;
        // The threshold is the largest power of two not above what remains (the loop of the
        // format's description, computed at once).
        let bits = 31 - (remaining.max(1) as u32).leading_zeros();
        threshold = 1 << bits;
        nb_bits = bits + 1;
        flush16!();
    }
    if remaining != 1 {
        return None;
    }
    while acc_bits > 0 {
        *out.get_mut(pos)? = acc.to_le_bytes()[0];
        pos += 1;
        acc >>= 8;
        acc_bits = acc_bits.saturating_sub(8);
    }
    Some(pos)
}

#[cfg(test)]
#[allow(clippy::needless_range_loop, clippy::same_item_push)]
pub(crate) mod tests {
    use super::*;
    extern crate std;
    use std::{vec, vec::Vec};

    /// Rebuilds the decoder's view (symbol, bits, baseline per state) as RFC 8878 describes it.
    pub(crate) fn decode_table(norm: &[i16], log: u32) -> Vec<(u8, u32, u32)> {
        let size = 1usize << log;
        let mut sym = vec![0u8; size];
        let mut high = size - 1;
        for (s, &n) in norm.iter().enumerate() {
            if n == -1 {
                sym[high] = s as u8;
                high = high.wrapping_sub(1);
            }
        }
        let step = (size >> 1) + (size >> 3) + 3;
        let mut pos = 0;
        for (s, &n) in norm.iter().enumerate() {
            for _ in 0..n.max(0) {
                sym[pos] = s as u8;
                pos = (pos + step) & (size - 1);
                while pos > high {
                    pos = (pos + step) & (size - 1);
                }
            }
        }
        let mut next: Vec<u32> = norm
            .iter()
            .map(|&n| if n == -1 { 1 } else { n.max(0) as u32 })
            .collect();
        sym.iter()
            .map(|&s| {
                let x = next[s as usize];
                next[s as usize] += 1;
                let bits = log - (31 - x.leading_zeros());
                (s, bits, (x << bits) - size as u32)
            })
            .collect()
    }

    /// Decodes `n` symbols of one state from a finished stream.
    pub(crate) fn decode(stream: &[u8], norm: &[i16], log: u32, n: usize) -> Vec<u8> {
        let table = decode_table(norm, log);
        let last = *stream.last().unwrap();
        let mut bit = (stream.len() - 1) * 8 + (7 - last.leading_zeros() as usize);
        let mut read = |k: u32| {
            let mut v = 0u32;
            for _ in 0..k {
                bit -= 1;
                v = (v << 1) | u32::from((stream[bit / 8] >> (bit % 8)) & 1);
            }
            v
        };
        let mut state = read(log) as usize;
        let mut out = Vec::new();
        for i in 0..n {
            let (s, bits, base) = table[state];
            out.push(s);
            if i + 1 < n {
                state = (base + read(bits)) as usize;
            }
        }
        out
    }

    fn round_trip(symbols: &[u8], norm: &[i16], log: u32) {
        let mut t = EncodingTable::new();
        t.build(norm, log);
        let mut buf = vec![0u8; symbols.len() * 2 + 16];
        let mut w = BitWriter::new(&mut buf);
        let (&last, rest) = symbols.split_last().unwrap();
        let mut state = t.init_state(last);
        for &s in rest.iter().rev() {
            state = t.encode(&mut w, state, s);
            w.flush();
        }
        t.flush_state(&mut w, state);
        let len = w.finish().unwrap();
        assert_eq!(decode(&buf[..len], norm, log, symbols.len()), symbols);
    }

    #[test]
    fn normalised_tables_round_trip() {
        let data: Vec<u8> = (0..3000u32)
            .map(|i| ((i * i + i / 7) % 23) as u8 % 9)
            .collect();
        let mut counts = [0u32; MAX_SYMBOLS];
        for &d in &data {
            counts[d as usize] += 1;
        }
        for log in 5..=9 {
            let mut norm = [0i16; MAX_SYMBOLS];
            assert!(normalize(&counts, data.len() as u32, log, &mut norm));
            assert_eq!(norm.iter().map(|&n| n as i32).sum::<i32>(), 1 << log);
            round_trip(&data, &norm[..9], log);
        }
    }

    #[test]
    fn low_probability_cells_round_trip() {
        // The RFC's predefined offset-code distribution, with its "-1" cells.
        let norm: [i16; 29] = [
            1, 1, 1, 1, 1, 1, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1,
            -1,
        ];
        let data: Vec<u8> = (0..500u32).map(|i| ((i * 7 + i / 3) % 29) as u8).collect();
        round_trip(&data, &norm, 5);
    }

    #[test]
    fn skewed_and_rare_symbols_normalise() {
        let mut counts = [0u32; MAX_SYMBOLS];
        counts[0] = 10_000;
        for c in counts.iter_mut().skip(1).take(40) {
            *c = 1;
        }
        let total = counts.iter().sum();
        let mut norm = [0i16; MAX_SYMBOLS];
        assert!(normalize(&counts, total, 6, &mut norm));
        assert_eq!(norm.iter().map(|&n| n as i32).sum::<i32>(), 64);
        assert!(norm[1..41].iter().all(|&n| n == 1));
        assert!(
            !normalize(&counts, total, 5, &mut norm),
            "41 symbols cannot share 32 cells"
        );
    }

    /// Reads a description back as RFC 8878 specifies, to check the writer.
    pub(crate) fn read_description(data: &[u8]) -> (Vec<i16>, u32, usize) {
        let mut bit = 0usize;
        let read = |n: u32| {
            let mut v = 0u32;
            for i in 0..n {
                v |= u32::from((data[(bit + i as usize) / 8] >> ((bit + i as usize) % 8)) & 1) << i;
            }
            v
        };
        let peek_consume = |bitpos: &mut usize, n: u32, data: &[u8]| {
            let mut v = 0u32;
            for i in 0..n as usize {
                v |= u32::from(
                    (data.get((*bitpos + i) / 8).copied().unwrap_or(0) >> ((*bitpos + i) % 8)) & 1,
                ) << i;
            }
            v
        };
        let log = read(4) + 5;
        bit = 4;
        let mut remaining = (1i32 << log) + 1;
        let mut threshold = 1i32 << log;
        let mut nb = log + 1;
        let mut norm = Vec::new();
        let mut prev0 = false;
        while remaining > 1 {
            if prev0 {
                loop {
                    let r = peek_consume(&mut bit, 2, data);
                    bit += 2;
                    for _ in 0..r {
                        norm.push(0);
                    }
                    if r != 3 {
                        break;
                    }
                }
            }
            let max = 2 * threshold - 1 - remaining;
            let low = peek_consume(&mut bit, nb - 1, data) as i32;
            let value = if low < max {
                bit += nb as usize - 1;
                low
            } else {
                let v = peek_consume(&mut bit, nb, data) as i32;
                bit += nb as usize;
                if v >= threshold { v - max } else { v }
            };
            let n = value - 1;
            remaining -= n.abs();
            norm.push(n as i16);
            prev0 = n == 0;
            while remaining < threshold {
                nb -= 1;
                threshold >>= 1;
            }
        }
        (norm, log, bit.div_ceil(8))
    }

    #[test]
    fn descriptions_read_back() {
        let cases: [&[i16]; 3] = [
            &[
                20, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                0, 0, 0, 0, 0, 5, 6,
            ],
            &[
                1, 1, 1, 1, 1, 1, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1,
                -1, -1,
            ],
            &[-1, 63],
        ];
        for (norm, log) in cases.iter().zip([5u32, 5, 6]) {
            let mut out = [0u8; 64];
            let len = write_description(norm, log, &mut out).unwrap();
            let (back, back_log, back_len) = read_description(&out[..len]);
            assert_eq!(back_log, log);
            assert_eq!(&back[..], *norm);
            assert_eq!(back_len, len);
        }
    }

    #[test]
    fn log2_is_close() {
        for x in [
            1u32, 2, 3, 5, 7, 100, 255, 256, 1000, 4095, 65_536, 1_000_000,
        ] {
            let exact = (x as f64).log2() * 256.0;
            assert!((log2_q8(x) as f64 - exact).abs() < 3.0, "{x}");
        }
    }
}
