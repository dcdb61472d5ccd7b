//! Huffman coding of literals (RFC 8878, "Huffman Coding"): code lengths from a histogram, limited to
//! 11 bits, the weights description (FSE-compressed or 4-bit direct), the canonical codes the decoder
//! derives from the weights, and the 1- or 4-stream encoding.

use super::bits::BitWriter;
use super::fse;

use crate::zstd::tables::{
    HUFFMAN_MAX_BITS as MAX_BITS, HUFFMAN_MAX_WEIGHT,
    HUFFMAN_WEIGHTS_MAX_ACCURACY_LOG as WEIGHTS_MAX_LOG,
};

/// Longest description: a header byte and 127 bytes of FSE stream, or 64 bytes of direct weights.
const MAX_DESCRIPTION: usize = 128;

/// A Huffman code for one literals section, with its description ready to write.
#[derive(Clone)]
pub struct HuffmanCode {
    /// Per symbol: the code in the low bits and its length in bits (0 for absent symbols).
    codes: [(u16, u8); 256],
    /// The description (header byte first).
    description: [u8; MAX_DESCRIPTION],
    description_len: usize,
}

impl HuffmanCode {
    /// An empty code; [`HuffmanCode::build`] fills it.
    pub const fn new() -> Self {
        Self {
            codes: [(0, 0); 256],
            description: [0; MAX_DESCRIPTION],
            description_len: 0,
        }
    }

    /// The description bytes: the Huffman tree description of the literals section.
    pub fn description(&self) -> &[u8] {
        &self.description[..self.description_len]
    }

    /// Builds the code for `counts` (at least two distinct symbols, each count below 65536, the
    /// largest present symbol `max_symbol`). Returns the encoded size of the literals in bits, or
    /// `None` when the weights cannot be described (then the literals go raw).
    #[inline(always)]
    pub fn build(&mut self, counts: &[u32; 256], max_symbol: usize) -> Option<usize> {
        // The present symbols in ascending order: every later loop runs over these only.
        // Written unconditionally and kept when present: no branch on each count.
        let mut present = [0u8; 256];
        let mut n = 0usize;
        for (s, &c) in counts.iter().enumerate().take(max_symbol + 1) {
            #[allow(clippy::cast_possible_truncation)] // s < 256
            {
                present[n & 255] = s as u8;
            }
            n += usize::from(c > 0);
        }
        if n < 2 {
            return None;
        }
        let present = &present[..n];
        let mut lengths = [0u8; 256];
        let max_bits = code_lengths(counts, present, &mut lengths)?;
        // How many symbols have each weight (max_bits + 1 - length), counted in four interleaved
        // histograms: neighbouring symbols often share a length, and with one histogram each
        // increment would wait on the store of the one before.
        let weight = |s: u8| weight_of(lengths[usize::from(s)], max_bits);
        let mut per_weight = [[0u32; 16]; 4];
        let mut quads = present.chunks_exact(4);
        for q in &mut quads {
            for (h, &s) in per_weight.iter_mut().zip(q) {
                h[weight(s)] += 1;
            }
        }
        for &s in quads.remainder() {
            per_weight[0][weight(s)] += 1;
        }
        let [mut symbols_of_weight, w1, w2, w3] = per_weight;
        for (((w, a), b), c) in symbols_of_weight.iter_mut().zip(w1).zip(w2).zip(w3) {
            *w += a + b + c;
        }
        self.description_len = describe(
            &lengths,
            present,
            &symbols_of_weight,
            max_symbol,
            max_bits,
            &mut self.description,
        )?;
        // Canonical codes as the decoder assigns table cells: weights ascending (longest codes
        // first), symbols ascending within a weight, each weight w taking 2^(w-1) cells.
        let mut start = [0u32; MAX_BITS as usize + 2];
        let mut next = 0u32;
        for w in 1..=max_bits as usize {
            start[w] = next;
            next += symbols_of_weight[w] << (w - 1);
        }
        let mut bits = 0usize;
        for &s in present {
            let s = usize::from(s);
            let l = lengths[s];
            let w = ((max_bits + 1 - u32::from(l)) as usize).clamp(1, MAX_BITS as usize + 1);
            let code = start[w] >> (w - 1);
            start[w] += 1 << (w - 1);
            #[allow(clippy::cast_possible_truncation)] // code < 2^11
            {
                self.codes[s] = (code as u16, l);
            }
            bits += counts[s] as usize * usize::from(l);
        }
        // Codes of absent symbols are never looked up: they keep stale values.
        Some(bits)
    }

    /// Encodes `literals` as one backward stream into `out`; returns its length or `None` when it does
    /// not fit. Every literal must have a code.
    #[inline(always)]
    pub fn encode_stream(&self, literals: &[u8], out: &mut [u8]) -> Option<usize> {
        // No code is longer than MAX_BITS (stale ones of absent symbols neither), then the end
        // mark: a writer that checks no room per flush when `out` holds that many bits.
        let max_bits = literals
            .len()
            .checked_mul(MAX_BITS as usize)?
            .checked_add(1)?;
        // SAFETY: `encode_with` adds at most `MAX_BITS` bits per literal and the end mark,
        // `max_bits` in all.
        if let Some(w) = unsafe { BitWriter::roomy(out, max_bits) } {
            return self.encode_with(literals, w);
        }
        self.encode_with(literals, BitWriter::new(out))
    }

    #[inline(always)]
    fn encode_with<const R: bool>(
        &self,
        literals: &[u8],
        mut w: BitWriter<'_, R>,
    ) -> Option<usize> {
        // The decoder reads the last-written symbol first: write from the end. Five codes of at
        // most 11 bits and 7 pending bits fit the 64-bit accumulator: one flush per five.
        let mut chunks = literals.rchunks_exact(5);
        for c in &mut chunks {
            for &b in c.iter().rev() {
                let (code, len) = self.codes[usize::from(b)];
                w.add_clean(u64::from(code), u32::from(len));
            }
            w.flush();
        }
        for &b in chunks.remainder().iter().rev() {
            let (code, len) = self.codes[usize::from(b)];
            w.add_clean(u64::from(code), u32::from(len));
        }
        w.flush();
        w.finish()
    }

    /// Encodes `literals` as four streams behind a six-byte jump table; returns the total length.
    #[inline(always)]
    pub fn encode_four_streams(&self, literals: &[u8], out: &mut [u8]) -> Option<usize> {
        let segment = literals.len().div_ceil(4);
        let mut pos = 6usize;
        let mut sizes = [0usize; 3];
        for (i, part) in literals.chunks(segment.max(1)).enumerate() {
            let len = self.encode_stream(part, out.get_mut(pos..)?)?;
            if i < 3 {
                sizes[i] = len;
            }
            pos += len;
        }
        // Fewer than four chunks happen only for tiny inputs; the missing streams are empty, which
        // the format does not allow, so those inputs use one stream (the caller sees None).
        if literals.len() < 4 {
            return None;
        }
        let table = out.get_mut(..6)?;
        for (i, &s) in sizes.iter().enumerate() {
            let s = u16::try_from(s).ok()?;
            table[2 * i..2 * i + 2].copy_from_slice(&s.to_le_bytes());
        }
        Some(pos)
    }
}

impl Default for HuffmanCode {
    fn default() -> Self {
        Self::new()
    }
}

/// Code lengths for the `present` symbols (ascending, at least two), at most [`MAX_BITS`]; returns
/// the longest.
#[inline(always)]
fn code_lengths(counts: &[u32; 256], present: &[u8], lengths: &mut [u8; 256]) -> Option<u32> {
    let n = present.len();
    let mut sorted = [0u8; 256];
    sort_by_count(counts, present, &mut sorted[..n])?;
    let leaves = &sorted[..n];

    // Two-queue Huffman: leaves in ascending order, internal nodes created in ascending order.
    let mut node_weight = [0u32; 256];
    let mut node_parent = [0u8; 256];
    let mut leaf_parent = [0u8; 256];
    let (mut li, mut ni) = (0usize, 0usize);
    for k in 0..n - 1 {
        #[allow(clippy::cast_possible_truncation)] // k < 255
        let parent = k as u8;
        let mut sum = 0u32;
        for _ in 0..2 {
            let leaf = if li < n {
                counts[usize::from(leaves[li])]
            } else {
                u32::MAX
            };
            if ni >= k || leaf <= node_weight[ni] {
                leaf_parent[li] = parent;
                li += 1;
                sum += leaf;
            } else {
                node_parent[ni] = parent;
                sum += node_weight[ni];
                ni += 1;
            }
        }
        node_weight[k] = sum;
    }
    // Depths: the root is the last internal node.
    let mut depth = [0u8; 256];
    for k in (0..n.saturating_sub(2)).rev() {
        depth[k] = depth[usize::from(node_parent[k])].saturating_add(1);
    }
    let mut max_len = 0u8;
    let mut sorted_len = [0u8; 256];
    for i in 0..n {
        let l = depth[usize::from(leaf_parent[i])].saturating_add(1);
        sorted_len[i] = l;
        max_len = max_len.max(l);
    }
    if u32::from(max_len) > MAX_BITS {
        limit_lengths(&mut sorted_len[..n]);
        max_len = sorted_len[..n].iter().copied().max().unwrap_or(0);
    }
    for (i, &s) in leaves.iter().enumerate() {
        lengths[usize::from(s)] = sorted_len[i];
    }
    Some(u32::from(max_len))
}

/// Sorts `present` (ascending symbols) by ascending count into `out`, ties by symbol: a counting
/// sort for counts below 256, an insertion sort for the few larger ones (at most 16 in a 4 KiB
/// block), which come after every small one.
#[inline(always)]
fn sort_by_count(counts: &[u32; 256], present: &[u8], out: &mut [u8]) -> Option<()> {
    let mut bucket = [0u16; 257];
    let mut large = [0u8; 256];
    let mut n_large = 0usize;
    let mut top = 0usize;
    for &s in present {
        let c = counts[usize::from(s)];
        if c < 256 {
            bucket[c as usize + 1] += 1;
            top = top.max(c as usize + 1);
        } else {
            large[n_large] = s;
            n_large += 1;
        }
    }
    // Prefix sums with the running total in a register: reading back each stored sum would chain
    // every step through a store-to-load forward.
    let mut running = 0u16;
    for b in bucket.iter_mut().take(top + 1) {
        running += *b;
        *b = running;
    }
    for &s in present {
        let c = counts[usize::from(s)];
        if c < 256 {
            let slot = &mut bucket[c as usize];
            *out.get_mut(usize::from(*slot))? = s;
            *slot += 1;
        }
    }
    let small = present.len() - n_large;
    let tail = out.get_mut(small..)?;
    for (i, &s) in large.iter().enumerate().take(n_large) {
        let c = counts[usize::from(s)];
        let mut j = i;
        while j > 0 && counts[usize::from(tail[j - 1])] > c {
            tail[j] = tail[j - 1];
            j -= 1;
        }
        tail[j] = s;
    }
    Some(())
}

/// Limits lengths (of symbols sorted by ascending count) to [`MAX_BITS`] and makes the code complete
/// again: clamp, then lengthen the rarest codes until the Kraft sum fits, then shorten the most
/// frequent codes that can take the slack.
fn limit_lengths(len: &mut [u8]) {
    let max = HUFFMAN_MAX_WEIGHT;
    let unit = |l: u8| 1u32 << (MAX_BITS - u32::from(l));
    let mut kraft = 0u32;
    for l in len.iter_mut() {
        *l = (*l).min(max);
        kraft += unit(*l);
    }
    let full = 1u32 << MAX_BITS;
    while kraft > full {
        // Lengthen the rarest symbol among those with the longest length below the limit: the
        // smallest step, on the cheapest symbol.
        let mut best = usize::MAX;
        let mut best_len = 0u8;
        for (i, &l) in len.iter().enumerate() {
            if l < max && l > best_len {
                best_len = l;
                best = i;
            }
        }
        if best == usize::MAX {
            return;
        }
        kraft -= unit(len[best]) / 2;
        len[best] += 1;
    }
    while kraft < full {
        // Shorten the most frequent symbol among the longest codes that the slack allows.
        let mut best = usize::MAX;
        for i in (0..len.len()).rev() {
            if len[i] > 1
                && kraft + unit(len[i]) <= full
                && (best == usize::MAX || len[i] > len[best])
            {
                best = i;
            }
        }
        if best == usize::MAX {
            return;
        }
        kraft += unit(len[best]);
        len[best] -= 1;
    }
}

/// The weight of a code of `length` bits (RFC 8878: `max_bits + 1 - length`), as an index of a
/// 16-entry histogram.
#[inline(always)]
fn weight_of(length: u8, max_bits: u32) -> usize {
    (max_bits + 1).wrapping_sub(u32::from(length)) as usize & 15
}

/// Writes the tree description for `lengths[..=max_symbol]`: the weights of every symbol but the
/// last, FSE-compressed when that is shorter, else four bits each.
#[inline(always)]
fn describe(
    lengths: &[u8; 256],
    present: &[u8],
    symbols_of_weight: &[u32; 16],
    max_symbol: usize,
    max_bits: u32,
    out: &mut [u8; MAX_DESCRIPTION],
) -> Option<usize> {
    let mut weights = [0u8; 256];
    // Absent symbols have weight 0; only the present ones (all but the last) need computing.
    let (&last, described) = present.split_last()?;
    for &s in described {
        let s = usize::from(s);
        weights[s] = u8::try_from(max_bits + 1 - u32::from(lengths[s])).ok()?;
    }
    // The weights written: every present symbol's but the last one's, and a zero for each
    // absent symbol below the last.
    let mut hist = *symbols_of_weight;
    hist[weight_of(lengths[usize::from(last)], max_bits)] -= 1;
    hist[0] = u32::try_from(max_symbol - described.len()).ok()?;
    let weights = &weights[..max_symbol];
    let direct_len = 1 + max_symbol.div_ceil(2);
    let compressed = compress_weights(weights, &hist, max_bits, &mut out[1..]);
    match compressed {
        Some(len) if len + 1 < direct_len || max_symbol > 128 => {
            out[0] = u8::try_from(len).ok()?;
            Some(len + 1)
        }
        _ if max_symbol <= 128 => {
            out[0] = u8::try_from(127 + max_symbol).ok()?;
            for (i, pair) in weights.chunks(2).enumerate() {
                let hi = pair[0];
                let lo = pair.get(1).copied().unwrap_or(0);
                out[1 + i] = (hi << 4) | lo;
            }
            Some(direct_len)
        }
        _ => None,
    }
}

/// FSE-compresses the weights with two interleaved states (the first state carries the even
/// positions); returns the length of description plus stream, if below 128 bytes.
#[inline(always)]
fn compress_weights(
    weights: &[u8],
    hist: &[u32; 16],
    max_bits: u32,
    out: &mut [u8],
) -> Option<usize> {
    let n = weights.len();
    if n < 2 {
        return None;
    }
    let max_weight = max_bits as usize;
    let mut norm = [0i16; 16];
    let total = u32::try_from(n).ok()?;
    let log = fse::choose_table_log(total, max_weight, WEIGHTS_MAX_LOG).min(WEIGHTS_MAX_LOG);
    if hist.iter().filter(|&&c| c > 0).count() < 2
        || !fse::normalize(&hist[..=max_weight], total, log, &mut norm[..=max_weight])
    {
        return None;
    }
    let out = out.get_mut(..127)?;
    let header = fse::write_description(&norm[..=max_weight], log, out)?;
    let mut table = fse::EncodingTable::new();
    table.build(&norm[..=max_weight], log);
    let mut w = BitWriter::new(out.get_mut(header..)?);
    let (mut s1, mut s2);
    let mut i = n;
    if n % 2 == 1 {
        s1 = table.init_state(weights[n - 1]);
        s2 = table.init_state(weights[n - 2]);
        s1 = table.encode(&mut w, s1, weights[n - 3]);
        i = n - 3;
    } else {
        s2 = table.init_state(weights[n - 1]);
        s1 = table.init_state(weights[n - 2]);
        i -= 2;
    }
    while i >= 2 {
        s2 = table.encode(&mut w, s2, weights[i - 1]);
        s1 = table.encode(&mut w, s1, weights[i - 2]);
        w.flush();
        i -= 2;
    }
    table.flush_state(&mut w, s2);
    table.flush_state(&mut w, s1);
    w.flush();
    let stream = w.finish()?;
    let len = header + stream;
    (len < 128).then_some(len)
}

#[cfg(test)]
#[allow(clippy::needless_range_loop, clippy::same_item_push)]
mod tests {
    use super::*;
    extern crate std;
    use std::{vec, vec::Vec};

    /// Decodes one stream with the RFC's table construction from the weights.
    fn decode(code: &HuffmanCode, counts: &[u32; 256], stream: &[u8], n: usize) -> Vec<u8> {
        let mut max_bits = 0;
        for s in 0..256 {
            max_bits = max_bits.max(code.codes[s].1 as u32);
        }
        let mut table = vec![0u8; 1 << max_bits];
        for s in 0..256usize {
            let (c, l) = code.codes[s];
            if l == 0 {
                assert_eq!(counts[s], 0);
                continue;
            }
            let shift = max_bits - l as u32;
            for v in 0..(1usize << shift) {
                table[((c as usize) << shift) | v] = s as u8;
            }
        }
        let last = *stream.last().unwrap();
        let total_bits = (stream.len() - 1) * 8 + (7 - last.leading_zeros() as usize);
        let bit_at = |i: isize| {
            if i < 0 {
                0
            } else {
                (stream[i as usize / 8] >> (i as usize % 8)) & 1
            }
        };
        let mut pos = total_bits as isize;
        let mut out = Vec::new();
        for _ in 0..n {
            let mut v = 0usize;
            for k in 0..max_bits as isize {
                v = (v << 1) | bit_at(pos - 1 - k) as usize;
            }
            let s = table[v];
            out.push(s);
            pos -= code.codes[s as usize].1 as isize;
        }
        assert_eq!(pos, 0, "the stream must be consumed exactly");
        out
    }

    fn check(data: &[u8]) {
        let mut counts = [0u32; 256];
        for &b in data {
            counts[b as usize] += 1;
        }
        let max_symbol = (0..256).rev().find(|&s| counts[s] > 0).unwrap();
        let mut code = HuffmanCode::new();
        let bits = code.build(&counts, max_symbol).unwrap();
        // Kraft equality: the code is complete.
        let max_len = code.codes.iter().map(|c| c.1).max().unwrap() as u32;
        assert!(max_len <= MAX_BITS);
        let kraft: u32 = code
            .codes
            .iter()
            .filter(|c| c.1 > 0)
            .map(|c| 1u32 << (max_len - c.1 as u32))
            .sum();
        assert_eq!(kraft, 1 << max_len);
        let mut out = vec![0u8; data.len() + 64];
        let len = code.encode_stream(data, &mut out).unwrap();
        assert_eq!(len, (bits + 1).div_ceil(8));
        assert_eq!(decode(&code, &counts, &out[..len], data.len()), data);
        assert!(!code.description().is_empty());
    }

    #[test]
    fn text_and_skewed_data_round_trip() {
        check(b"the quick brown fox jumps over the lazy dog, again and again and again");
        let fib: Vec<u8> = {
            // Fibonacci-like counts force depths beyond 11 bits before limiting.
            let mut v = Vec::new();
            let (mut a, mut b) = (1usize, 1usize);
            for s in 0..18u8 {
                v.extend(std::iter::repeat_n(s, a));
                (a, b) = (b, a + b);
            }
            v
        };
        check(&fib);
        // Every byte value, with uneven counts: too many weights for the direct form.
        let mut all: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        all.extend((0..3000u32).map(|i| (i % 7) as u8));
        check(&all);
        check(&[1, 2]);
        check(&[0, 0, 0, 255]);
    }
}
