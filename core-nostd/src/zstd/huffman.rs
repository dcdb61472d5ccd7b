//! Huffman coding of literals (RFC 8878, 4.2): the tree description (weights, direct or FSE
//! compressed), the decoding table, and the 1- and 4-stream decoders.

use super::bits::{BackwardBits, load_le};
use super::error::ZstdError;
use super::fse::{self, FseEntry};
use super::tables::{
    HUFFMAN_MAX_BITS, HUFFMAN_MAX_SYMBOLS, HUFFMAN_MAX_WEIGHT, HUFFMAN_WEIGHTS_MAX_ACCURACY_LOG,
};

type Result<T> = core::result::Result<T, ZstdError>;

const WHAT: &str = "Huffman weights";

/// The longest code this decoder accepts. RFC 8878 limits codes to 11 bits (what encoders write,
/// `tables::HUFFMAN_MAX_BITS`), but libzstd's decoder accepts 12 and its dictionary builder can write
/// 12-bit codes (zstd's own `zero-weight-dict` test vector has them): decode what libzstd decodes.
pub(crate) const HUFFMAN_DECODE_MAX_BITS: u32 = 12;
const _: () = assert!(
    HUFFMAN_DECODE_MAX_BITS == HUFFMAN_MAX_BITS + 1
        && HUFFMAN_MAX_WEIGHT as u32 == HUFFMAN_MAX_BITS
);

// The weights' FSE tables are built with `fse::build_table`, which takes small tables only.
const _: () = assert!(HUFFMAN_WEIGHTS_MAX_ACCURACY_LOG <= fse::SMALL_TABLE_LOG);

/// Entries of the largest decoding table: one per `HUFFMAN_DECODE_MAX_BITS`-bit prefix.
pub(crate) const HUFFMAN_TABLE_SIZE: usize = 1 << HUFFMAN_DECODE_MAX_BITS;

/// One entry of the decoding table: the code length, then the symbol that the prefix decodes to.
/// Read as a little-endian `u16`, a shift by the whole entry consumes the code (`wrapping_shl`,
/// like x86-64's shifts, takes the count modulo 64, and lengths are at most 12), so the fast loop
/// needs one load and no masking per symbol. Two bytes rather than a `u16`, so that the
/// decoder's layout stays as it was.
pub(crate) type HuffmanEntry = [u8; 2];

/// The entry of `symbol` with a code of `nb_bits` bits.
#[inline(always)]
const fn entry(symbol: u8, nb_bits: u8) -> HuffmanEntry {
    [nb_bits, symbol]
}

/// The symbol of an entry.
#[inline(always)]
const fn entry_symbol(e: HuffmanEntry) -> u8 {
    e[1]
}

/// The code length of an entry.
#[inline(always)]
const fn entry_bits(e: HuffmanEntry) -> u32 {
    e[0] as u32
}

/// The weight of each literal byte, as a tree description gives them (the last one implied).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Weights {
    pub(crate) weights: [u8; HUFFMAN_MAX_SYMBOLS],
    /// Symbols with a weight (the last one included).
    pub(crate) symbols: usize,
    /// The longest code length, `Max_Number_of_Bits`.
    pub(crate) max_bits: u32,
}

/// Reads a Huffman tree description (4.2.1) from the start of `src`: the weights of the symbols and
/// the bytes it took.
#[inline(always)]
pub(crate) fn read_weights(src: &[u8]) -> Result<(Weights, usize)> {
    let Some((&header, rest)) = src.split_first() else {
        return Err(ZstdError::Truncated {
            what: "Huffman tree description",
            needed: 1,
            available: 0,
        });
    };
    let mut weights = [0u8; HUFFMAN_MAX_SYMBOLS];
    let (explicit, used) = if header >= 128 {
        // Direct representation: 4 bits per weight.
        let count = usize::from(header - 127);
        let bytes = count.div_ceil(2);
        let packed = rest.get(..bytes).ok_or(ZstdError::Truncated {
            what: "Huffman tree description",
            needed: bytes,
            available: rest.len(),
        })?;
        for (i, w) in weights.iter_mut().take(count).enumerate() {
            let byte = packed[i / 2];
            *w = if i % 2 == 0 { byte >> 4 } else { byte & 0xF };
        }
        (count, 1 + bytes)
    } else {
        let size = usize::from(header);
        let compressed = rest.get(..size).ok_or(ZstdError::Truncated {
            what: "Huffman tree description",
            needed: size,
            available: rest.len(),
        })?;
        (decode_fse_weights(compressed, &mut weights)?, 1 + size)
    };
    Ok((complete_weights(weights, explicit)?, used))
}

/// Decodes FSE-compressed weights with two interleaved states (4.2.1.2).
#[inline(always)]
fn decode_fse_weights(src: &[u8], weights: &mut [u8; HUFFMAN_MAX_SYMBOLS]) -> Result<usize> {
    let (counts, used) = fse::read_counts(
        src,
        HUFFMAN_DECODE_MAX_BITS as usize,
        HUFFMAN_WEIGHTS_MAX_ACCURACY_LOG,
        WHAT,
    )?;
    let mut table = [FseEntry::ZERO; 1 << HUFFMAN_WEIGHTS_MAX_ACCURACY_LOG];
    fse::build_checked(&counts, &mut table, WHAT)?;
    let mut bits = BackwardBits::new(src.get(used..).unwrap_or(&[]), WHAT)?;
    let mask = (1usize << counts.log) - 1;
    let mut state1 = bits.read_index(counts.log) & mask;
    let mut state2 = bits.read_index(counts.log) & mask;
    let mut n = 0usize;
    // Far from the stream's start a reload leaves at least 56 bits, so eight symbols (6 bits each
    // at most) cannot read past it: no overflow checks in this loop. The same symbols as checking
    // each.
    loop {
        bits.reload();
        if !bits.far_from_start() || n + 8 > HUFFMAN_MAX_SYMBOLS - 1 - 2 {
            break;
        }
        for _ in 0..4 {
            for state in [&mut state1, &mut state2] {
                let e = table[*state & 63];
                weights[n & (HUFFMAN_MAX_SYMBOLS - 1)] = e.symbol;
                n += 1;
                *state = (usize::from(e.base) + bits.read_index(u32::from(e.nb_bits))) & mask;
            }
        }
    }
    // At most 255 weights are explicit; each round emits up to two.
    loop {
        if n + 2 > HUFFMAN_MAX_SYMBOLS - 1 {
            return Err(ZstdError::BadHuffmanWeights {
                what: "more than 255 weights",
            });
        }
        let e = table[state1 & 63];
        weights[n] = e.symbol;
        n += 1;
        state1 = (usize::from(e.base) + bits.read_index(u32::from(e.nb_bits))) & mask;
        bits.reload();
        if bits.overflowed() {
            weights[n] = table[state2 & 63].symbol;
            n += 1;
            break;
        }
        let e = table[state2 & 63];
        weights[n] = e.symbol;
        n += 1;
        state2 = (usize::from(e.base) + bits.read_index(u32::from(e.nb_bits))) & mask;
        bits.reload();
        if bits.overflowed() {
            weights[n] = table[state1 & 63].symbol;
            n += 1;
            break;
        }
    }
    Ok(n)
}

/// Checks the explicit weights, derives the implied last one and the longest code length (4.2.1.3).
#[inline(always)]
fn complete_weights(mut weights: [u8; HUFFMAN_MAX_SYMBOLS], explicit: usize) -> Result<Weights> {
    if explicit >= HUFFMAN_MAX_SYMBOLS {
        return Err(ZstdError::BadHuffmanWeights {
            what: "more than 255 explicit weights",
        });
    }
    let mut total: u32 = 0;
    let mut largest = 0u8;
    for &w in &weights[..explicit] {
        // Branch-free: weight 0 adds nothing; a weight is at most 15 (4 bits), checked below.
        total += (1u32 << (w & 15)) >> 1;
        largest = largest.max(w);
    }
    if u32::from(largest) > HUFFMAN_DECODE_MAX_BITS {
        return Err(ZstdError::BadHuffmanWeights {
            what: "a weight exceeds 12",
        });
    }
    if total == 0 {
        return Err(ZstdError::BadHuffmanWeights {
            what: "every explicit weight is zero",
        });
    }
    let max_bits = 32 - total.leading_zeros(); // highest bit of total, plus one
    if max_bits > HUFFMAN_DECODE_MAX_BITS {
        return Err(ZstdError::BadHuffmanWeights {
            what: "codes longer than 12 bits",
        });
    }
    let rest = (1u32 << max_bits) - total;
    if !rest.is_power_of_two() {
        return Err(ZstdError::BadHuffmanWeights {
            what: "the implied last weight is not a power of two",
        });
    }
    #[allow(clippy::cast_possible_truncation)] // rest <= 2^11, so its log + 1 <= 12
    let last = (rest.trailing_zeros() + 1) as u8;
    weights[explicit] = last;
    Ok(Weights {
        weights,
        symbols: explicit + 1,
        max_bits,
    })
}

/// A Huffman decoding table: `1 << max_bits` entries, indexed by the next `max_bits` bits.
#[derive(Clone)]
pub(crate) struct HuffmanTable {
    pub(crate) entries: [HuffmanEntry; HUFFMAN_TABLE_SIZE],
    pub(crate) max_bits: u32,
    /// The tree description the table was built from (when it fits), to skip rebuilding it.
    description: [u8; DESCRIPTION_CACHE],
    description_len: usize,
}

/// Longest tree description remembered: a header byte and up to 128 bytes.
const DESCRIPTION_CACHE: usize = 129;

impl HuffmanTable {
    pub(crate) const EMPTY: Self = Self {
        entries: [[0; 2]; HUFFMAN_TABLE_SIZE],
        max_bits: 0,
        description: [0; DESCRIPTION_CACHE],
        description_len: 0,
    };

    /// Reads a tree description and builds the table from it; returns the bytes it took. A
    /// description identical to the one the table was built from is not rebuilt (rare between
    /// pages, see `TableState::read_description`, but it spares a dictionary's tree).
    #[inline(always)]
    pub(crate) fn read(&mut self, src: &[u8]) -> Result<usize> {
        let cached = &self.description[..self.description_len.min(DESCRIPTION_CACHE)];
        if !cached.is_empty() && src.starts_with(cached) {
            return Ok(cached.len());
        }
        self.description_len = 0;
        let (weights, used) = read_weights(src)?;
        self.build(&weights);
        if let (Some(cache), Some(desc)) = (self.description.get_mut(..used), src.get(..used)) {
            cache.copy_from_slice(desc);
            self.description_len = used;
        }
        Ok(used)
    }

    /// Fills the table: symbols in order of weight, then of value, each taking `2^(weight-1)`
    /// consecutive entries, so that the lowest weights (longest codes) come first. Symbols are sorted
    /// by weight first so that each weight's loop has one length: its branches predict well.
    #[inline(always)]
    pub(crate) fn build(&mut self, w: &Weights) {
        let max_bits = w.max_bits.min(HUFFMAN_DECODE_MAX_BITS);
        // The symbols are taken in four quarters, one symbol of each in turn, each quarter with
        // its own histogram and its own next places: consecutive symbols of one weight (runs of
        // absent bytes, weight 0, above all) would otherwise wait on each other's increments.
        // Weights past `w.symbols` are zero, and weight 0 is not counted.
        let quarter = w.symbols.div_ceil(4).min(HUFFMAN_MAX_SYMBOLS / 4);
        let weight_of = |q: usize, i: usize| usize::from(w.weights[(q * quarter + i) & 255] & 15);
        let mut histograms = [[0u16; 16]; 4];
        for i in 0..quarter {
            for (q, histogram) in histograms.iter_mut().enumerate() {
                histogram[weight_of(q, i)] += 1;
            }
        }
        let mut rank_count = [0usize; 16];
        for (weight, count) in rank_count.iter_mut().enumerate() {
            *count = histograms
                .iter()
                .map(|h| usize::from(h[weight]))
                .sum::<usize>();
        }
        // Where each weight's symbols start in `sorted`, for each quarter, and in the table.
        let mut rank_next = [[0usize; 16]; 4];
        let mut table_start = [0usize; 16];
        let mut next_symbol = 0usize;
        let mut next_entry = 0usize;
        for weight in 1..=max_bits as usize {
            for (next, histogram) in rank_next.iter_mut().zip(&histograms) {
                next[weight] = next_symbol;
                next_symbol += usize::from(histogram[weight]);
            }
            table_start[weight] = next_entry;
            next_entry += rank_count[weight] << (weight - 1);
        }
        // Symbols of weight 0 go after the others, like one more weight, so that placing one
        // takes no branch; the table ignores them. At most 4 * quarter <= 256 slots in all.
        for (next, histogram) in rank_next.iter_mut().zip(&histograms) {
            next[0] = next_symbol;
            next_symbol += usize::from(histogram[0]);
        }
        let mut sorted = [0u8; HUFFMAN_MAX_SYMBOLS];
        for i in 0..quarter {
            for (q, next) in rank_next.iter_mut().enumerate() {
                let weight = weight_of(q, i);
                let slot = next[weight] & (HUFFMAN_MAX_SYMBOLS - 1);
                #[allow(clippy::cast_possible_truncation)] // symbol < 256
                {
                    sorted[slot] = (q * quarter + i) as u8;
                }
                next[weight] += 1;
            }
        }
        let mut first = 0usize;
        for weight in 1..=max_bits as usize {
            let class = sorted.get(first..first + rank_count[weight]).unwrap_or(&[]);
            first += rank_count[weight];
            #[allow(clippy::cast_possible_truncation)] // a code length <= 11
            let nb_bits = (max_bits + 1 - weight as u32) as u8;
            let len = 1usize << (weight - 1);
            let start = table_start[weight];
            let Some(area) = self.entries.get_mut(start..start + class.len() * len) else {
                continue;
            };
            match len {
                1 => {
                    for (e, &symbol) in area.iter_mut().zip(class) {
                        *e = entry(symbol, nb_bits);
                    }
                }
                2 => {
                    for (e, &symbol) in area.chunks_exact_mut(2).zip(class) {
                        e.copy_from_slice(&[entry(symbol, nb_bits); 2]);
                    }
                }
                4 => {
                    for (e, &symbol) in area.chunks_exact_mut(4).zip(class) {
                        e.copy_from_slice(&[entry(symbol, nb_bits); 4]);
                    }
                }
                _ => {
                    for (e, &symbol) in area.chunks_exact_mut(len).zip(class) {
                        for chunk in e.chunks_exact_mut(8) {
                            chunk.copy_from_slice(&[entry(symbol, nb_bits); 8]);
                        }
                    }
                }
            }
        }
        self.max_bits = max_bits;
    }

    /// Decodes one stream (4.2.2) into exactly `out`.
    #[inline(always)]
    pub(crate) fn decode_1_stream(&self, src: &[u8], out: &mut [u8]) -> Result<()> {
        let mut bits = BackwardBits::new(src, "Huffman stream")?;
        self.decode_stream_into(&mut bits, out);
        finish(&bits)
    }

    /// Decodes four streams after a 6-byte jump table (4.2.2) into exactly `out`. The jump table
    /// starts at `streams_at` in `section`, and the streams end with it; the bytes before them
    /// (the literals header and tree description) let the fast loop load 8 bytes at a time up to
    /// the first stream's start.
    #[inline(always)]
    pub(crate) fn decode_4_streams(
        &self,
        section: &[u8],
        streams_at: usize,
        out: &mut [u8],
    ) -> Result<()> {
        let src = section.get(streams_at..).unwrap_or(&[]);
        let Some((jump, data)) = src.split_first_chunk::<6>() else {
            return Err(ZstdError::Truncated {
                what: "Huffman jump table",
                needed: 6,
                available: src.len(),
            });
        };
        let size1 = usize::from(u16::from_le_bytes([jump[0], jump[1]]));
        let size2 = usize::from(u16::from_le_bytes([jump[2], jump[3]]));
        let size3 = usize::from(u16::from_le_bytes([jump[4], jump[5]]));
        let first_three = size1 + size2 + size3;
        if first_three > data.len() {
            return Err(ZstdError::SizeMismatch {
                what: "Huffman jump table",
                size: first_three,
                expected: data.len(),
            });
        }
        let (s1, rest) = data.split_at(size1);
        let (s2, rest) = rest.split_at(size2);
        let (s3, s4) = rest.split_at(size3);
        let segment = out.len().div_ceil(4);
        if out.len() < 3 * segment {
            return Err(ZstdError::SizeMismatch {
                what: "4-stream literals",
                size: out.len(),
                expected: 3 * segment,
            });
        }
        let (o1, rest) = out.split_at_mut(segment);
        let (o2, rest) = rest.split_at_mut(segment);
        let (o3, o4) = rest.split_at_mut(segment);
        let mut b1 = BackwardBits::new(s1, "Huffman stream 1")?;
        let mut b2 = BackwardBits::new(s2, "Huffman stream 2")?;
        let mut b3 = BackwardBits::new(s3, "Huffman stream 3")?;
        let mut b4 = BackwardBits::new(s4, "Huffman stream 4")?;

        // The bulk of the symbols: all four streams at once, while 8 bytes can be loaded below
        // each stream's position.
        let first = section.len() - data.len();
        let done = self.decode_4_fast(
            section,
            [
                first,
                first + size1,
                first + size1 + size2,
                first + first_three,
            ],
            [&mut b1, &mut b2, &mut b3, &mut b4],
            [&mut *o1, &mut *o2, &mut *o3, &mut *o4],
        )?;
        // The rest, one stream after the other, with the careful reader; reads past a stream's
        // start cannot go out of bounds and are caught by `finish`.
        self.decode_stream_into(&mut b1, o1.get_mut(done..).unwrap_or(&mut []));
        self.decode_stream_into(&mut b2, o2.get_mut(done..).unwrap_or(&mut []));
        self.decode_stream_into(&mut b3, o3.get_mut(done..).unwrap_or(&mut []));
        self.decode_stream_into(&mut b4, o4.get_mut(done..).unwrap_or(&mut []));
        finish(&b1)?;
        finish(&b2)?;
        finish(&b3)?;
        finish(&b4)
    }

    /// Decodes the four streams interleaved (four independent chains of lookups keep the CPU's
    /// units busy), four or five symbols per stream a round, while 8 bytes or more precede every
    /// stream's loaded bytes in `section`: then each round needs no check. A stream's loads may
    /// reach into the bytes before its start (the previous stream, the jump table, the tree
    /// description), as libzstd's fast loop does: their bits sit below the stream's own and a
    /// valid stream never consumes them, since the rounds decode only symbols it holds. A stream
    /// that did consume them is corrupt, and reported so. Returns the symbols written to each
    /// output; the readers continue from there.
    ///
    /// Each stream's unread bits are held left-aligned in one word with a marker bit below them:
    /// the marker's position says how many bits of the loaded bytes were read, so a reload needs
    /// nothing else (the marker replaces the lowest bit of the loaded bytes, which no round
    /// reaches: a round reads at most 4 * 12 bits after a reload that leaves at most 7 read).
    #[inline(always)]
    fn decode_4_fast(
        &self,
        section: &[u8],
        starts: [usize; 4],
        readers: [&mut BackwardBits<'_>; 4],
        outs: [&mut [u8]; 4],
    ) -> Result<usize> {
        // Where each stream's loaded bytes are in `section`, and its bits.
        let mut pos = [0usize; 4];
        let mut bits = [0u64; 4];
        for k in 0..4 {
            let (at, consumed) = readers[k].position();
            pos[k] = starts[k] + at;
            bits[k] = (load_le(section, pos[k]) | 1) << (consumed & 63);
        }
        // Each load reads the 8 bytes at a stream's position: they must lie inside `section`.
        // Streams shorter than 8 bytes hold their bits differently (their reader's position is
        // 0, with the missing bytes counted as read): they get no rounds.
        let short = (0..4).any(|k| {
            let end = starts.get(k + 1).copied().unwrap_or(section.len());
            end < starts[k] + 8
        });
        if short || pos.iter().any(|&p| p + 8 > section.len()) {
            return Ok(0);
        }
        let table = &self.entries;
        // The top `max_bits` bits index the table: a shift of 52 or more leaves at most 12.
        let shift = 64 - self.max_bits.clamp(1, HUFFMAN_DECODE_MAX_BITS);
        let mut done = 0usize;
        // Five symbols a round when codes are 11 bits or shorter (5 * 11 + 7 < 64), else four.
        let per_round = if self.max_bits <= 11 { 5 } else { 4 };
        let rounds = outs[3].len() / per_round;
        let [o1, o2, o3, o4] = outs;
        loop {
            // A reload moves back at most 8 bytes: this many rounds keep every load inside
            // `section`.
            let mut limit = rounds - done / per_round;
            for &p in &pos {
                limit = limit.min(p / 8);
            }
            if limit == 0 {
                break;
            }
            let end = done + limit * per_round;
            // Outputs 1 to 3 are as long as output 4 or longer, and `end` is within output 4.
            let (Some(w1), Some(w2), Some(w3), Some(w4)) = (
                o1.get_mut(done..end),
                o2.get_mut(done..end),
                o3.get_mut(done..end),
                o4.get_mut(done..end),
            ) else {
                break;
            };
            let outs = [w1, w2, w3, w4];
            // SAFETY: every position is at least `8 * limit` (`limit` above), so `limit` rounds,
            // each moving back at most 8 bytes, stay at or after the start of `section`;
            // positions only decrease, and each was at most `section.len() - 8` (checked before
            // the loop); every output holds `limit * per_round` symbols; the shift is 52 or
            // more, so table indexes are below 2^12.
            unsafe {
                if per_round == 5 {
                    Self::rounds_4::<5>(table, shift, section, &mut pos, &mut bits, outs, limit);
                } else {
                    Self::rounds_4::<4>(table, shift, section, &mut pos, &mut bits, outs, limit);
                }
            }
            done = end;
        }
        if done > 0 {
            for (reader, (&p, (&start, &b))) in readers
                .into_iter()
                .zip(pos.iter().zip(starts.iter().zip(&bits)))
            {
                let consumed = b.trailing_zeros();
                // The lowest bit read, counted from the start of `section`, must not be below
                // the stream's start.
                let unread = p * 8 + 64 - consumed as usize;
                if unread < start * 8 {
                    return Err(ZstdError::BadBitstream {
                        what: "Huffman stream",
                        why: "it holds fewer bits than its symbols need",
                    });
                }
                // Loaded bytes that begin before the stream's start begin at it instead, with
                // the bytes below counted as read: at most 64 bits, by the check above.
                let before = start.saturating_sub(p);
                #[allow(clippy::cast_possible_truncation)] // before <= 8
                let consumed = consumed + (before as u32) * 8;
                reader.resume(p + before - start, consumed);
            }
        }
        Ok(done)
    }

    /// `limit` rounds of [`decode_4_fast`](Self::decode_4_fast), `N` symbols per stream each,
    /// into `outs`. The symbols of the four streams alternate, so that four independent chains of
    /// dependent lookups are in flight.
    ///
    /// # Safety
    /// For each stream, `pos[k] + 8 <= data.len()` and `pos[k] >= 8 * limit`; each output holds
    /// `limit * N` bytes; `shift >= 52`.
    #[inline(always)]
    unsafe fn rounds_4<const N: usize>(
        table: &[HuffmanEntry; HUFFMAN_TABLE_SIZE],
        shift: u32,
        data: &[u8],
        pos: &mut [usize; 4],
        bits: &mut [u64; 4],
        outs: [&mut [u8]; 4],
        limit: usize,
    ) {
        let base = data.as_ptr();
        // SAFETY: each position is inside `data` (the caller's contract).
        let mut ip: [*const u8; 4] = core::array::from_fn(|k| unsafe { base.add(pos[k]) });
        let mut op: [*mut u8; 4] = outs.map(<[u8]>::as_mut_ptr);
        let mut b = *bits;
        for _ in 0..limit {
            for k in 0..4 {
                let consumed = b[k].trailing_zeros();
                // SAFETY: a round moves a position back at most 8 bytes (`consumed <= 64`), and
                // `limit` rounds keep it at or after the start of `data`, 8 bytes of which at
                // least follow it (the caller's contract).
                unsafe {
                    ip[k] = ip[k].sub((consumed >> 3) as usize);
                    let word = u64::from_le(ip[k].cast::<u64>().read_unaligned());
                    b[k] = (word | 1) << (consumed & 7);
                }
            }
            for i in 0..N {
                for k in 0..4 {
                    #[allow(clippy::cast_possible_truncation)] // below 2^12 after the shift
                    let index = (b[k] >> shift) as usize;
                    // SAFETY: `shift >= 52` (the caller's contract), so `index < 2^12`, the
                    // table's size; `i < N` and the output holds `N` more bytes this round.
                    unsafe {
                        let e = *table.get_unchecked(index);
                        b[k] = b[k].wrapping_shl(u32::from(u16::from_le_bytes(e)));
                        *op[k].add(i) = entry_symbol(e);
                    }
                }
            }
            for o in &mut op {
                // SAFETY: stays within (or one past the end of) the output: `limit` rounds of
                // `N` bytes.
                *o = unsafe { o.add(N) };
            }
        }
        for k in 0..4 {
            // SAFETY: both pointers are into `data`, and the position is at or after `base`.
            let at = unsafe { ip[k].offset_from_unsigned(base) };
            pos[k] = at;
        }
        *bits = b;
    }

    /// Decodes `out.len()` symbols from one stream.
    #[inline(always)]
    fn decode_stream_into(&self, bits: &mut BackwardBits<'_>, out: &mut [u8]) {
        let shift = self.index_shift();
        let mut chunks = out.chunks_exact_mut(4);
        for chunk in &mut chunks {
            bits.reload();
            let mut window = bits.window();
            let mut used = 0;
            for byte in chunk.iter_mut() {
                let e = self.entries[Self::index(window, shift)];
                window <<= entry_bits(e);
                used += entry_bits(e);
                *byte = entry_symbol(e);
            }
            bits.skip(used);
        }
        for byte in chunks.into_remainder() {
            bits.reload();
            let e = self.entries[Self::index(bits.window(), shift)];
            bits.skip(entry_bits(e));
            *byte = entry_symbol(e);
        }
    }

    /// The shift that leaves the top `max_bits` bits of a left-aligned window.
    #[inline(always)]
    fn index_shift(&self) -> u32 {
        64u32.wrapping_sub(self.max_bits) & 63
    }

    /// The table index of the next symbol in a left-aligned `window`.
    #[inline(always)]
    fn index(window: u64, shift: u32) -> usize {
        #[allow(clippy::cast_possible_truncation)] // masked to 12 bits
        let index = (window >> shift) as usize & (HUFFMAN_TABLE_SIZE - 1);
        index
    }
}

/// A stream must end exactly at its start: bits left over or read past it mean corruption.
fn finish(bits: &BackwardBits<'_>) -> Result<()> {
    if bits.finished() {
        Ok(())
    } else {
        Err(ZstdError::BadBitstream {
            what: "Huffman stream",
            why: if bits.overflowed() {
                "it holds fewer bits than its symbols need"
            } else {
                "bits are left after its last symbol"
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_weights_build_a_complete_code() {
        // Weights 4 symbols: [1, 1, 2] explicit -> total 1 + 1 + 2 = 4, max_bits 3, rest 4 -> last 3.
        let src = [127 + 3, 0x11, 0x20];
        let (w, used) = read_weights(&src).unwrap();
        assert_eq!(used, 3);
        assert_eq!(w.symbols, 4);
        assert_eq!(&w.weights[..4], &[1, 1, 2, 3]);
        assert_eq!(w.max_bits, 3);
        let mut t = HuffmanTable::EMPTY;
        t.build(&w);
        // Symbol 0 and 1 (weight 1) take one 3-bit code each, 2 two entries, 3 four entries.
        let symbols: [u8; 8] = core::array::from_fn(|i| entry_symbol(t.entries[i]));
        assert_eq!(symbols, [0, 1, 2, 2, 3, 3, 3, 3]);
        assert_eq!(entry_bits(t.entries[0]), 3);
        assert_eq!(entry_bits(t.entries[7]), 1);
    }

    #[test]
    fn rejects_incomplete_codes() {
        // Explicit weights [1, 2]: total 3, max_bits 2, rest 1 -> last weight 1: valid.
        assert!(read_weights(&[127 + 2, 0x12]).is_ok());
        // Explicit weights [2, 2, 2]: total 6, next power 8, rest 2 -> valid (weight 2).
        assert!(read_weights(&[127 + 3, 0x22, 0x20]).is_ok());
        // Explicit weights [3, 1, 1]: total 6 -> rest 2, valid; [3, 3, 1]: 9 -> rest 7, not a power.
        assert!(matches!(
            read_weights(&[127 + 3, 0x33, 0x10]),
            Err(ZstdError::BadHuffmanWeights { .. })
        ));
        // A weight of 13 exceeds the 12-bit limit.
        assert!(matches!(
            read_weights(&[127 + 1, 0xD0]),
            Err(ZstdError::BadHuffmanWeights { .. })
        ));
        // Truncated direct weights.
        assert!(matches!(
            read_weights(&[127 + 4, 0x11]),
            Err(ZstdError::Truncated { .. })
        ));
    }
}
