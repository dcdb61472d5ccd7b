//! The literals section (RFC 8878, "Literals Section"): raw, RLE or Huffman-compressed, whichever
//! is smallest, with one stream when the sizes fit 10 bits and four otherwise.

use super::huffman::HuffmanCode;

/// Below this many literals a Huffman table cannot pay for its description.
const MIN_HUFFMAN_LITERALS: usize = 24;

/// Literal type field values.
const RAW: u32 = 0;
const RLE: u32 = 1;
const COMPRESSED: u32 = 2;

/// Writes literals sections; keeps the Huffman code between blocks to avoid re-zeroing it.
#[derive(Clone)]
pub struct LiteralsEncoder {
    code: HuffmanCode,
    /// Whether Huffman coding is tried at all: the fastest levels send literals raw.
    huffman: bool,
}

impl LiteralsEncoder {
    /// A new encoder.
    pub const fn new(huffman: bool) -> Self {
        Self {
            code: HuffmanCode::new(),
            huffman,
        }
    }

    /// Whether Huffman coding is tried (the literals are otherwise sent raw).
    #[inline]
    pub fn set_huffman(&mut self, huffman: bool) {
        self.huffman = huffman;
    }

    /// Writes the literals section for `lits` into `out`; returns its length or `None` when it does
    /// not fit.
    #[inline(always)]
    pub fn write(&mut self, lits: &[u8], out: &mut [u8]) -> Option<usize> {
        let n = lits.len();
        if n < MIN_HUFFMAN_LITERALS || !self.huffman {
            return write_raw(lits, out);
        }
        let mut counts = [[0u32; 256]; 4];
        let mut quads = lits.chunks_exact(4);
        for q in &mut quads {
            counts[0][usize::from(q[0])] += 1;
            counts[1][usize::from(q[1])] += 1;
            counts[2][usize::from(q[2])] += 1;
            counts[3][usize::from(q[3])] += 1;
        }
        for &b in quads.remainder() {
            counts[0][usize::from(b)] += 1;
        }
        let [mut total, c1, c2, c3] = counts;
        let mut max_symbol = 0usize;
        let mut largest = 0u32;
        let mut sum_c_log_c = 0u32;
        // Without a branch on each count, so that the loop vectorises: an absent symbol leaves
        // the largest count as it is and does not move the largest symbol.
        for s in 0..256 {
            let c = total[s] + c1[s] + c2[s] + c3[s];
            total[s] = c;
            max_symbol = if c > 0 { s } else { max_symbol };
            largest = largest.max(c);
            sum_c_log_c = sum_c_log_c.wrapping_add(c.wrapping_mul(log2_q8_approx(c)));
        }
        if largest as usize == n {
            return write_rle(lits[0], n, out);
        }
        let raw_size = n + raw_header_len(n);
        // Building the code costs more than all of the above: skip it where it would most likely
        // end raw. No code takes fewer bits than the histogram's entropy (within the log's
        // error), and the description of the weights takes about 2 bits per symbol up to the
        // largest: measured on both corpora at level 1, this sends 90% of the sections that end
        // raw straight there, and costs under 0.06% of the output where it misjudges.
        let n32 = u32::try_from(n).ok()?;
        let entropy_bytes = n32
            .wrapping_mul(log2_q8_approx(n32))
            .saturating_sub(sum_c_log_c)
            / 2048;
        if entropy_bytes as usize + max_symbol / 4 + 4 >= raw_size {
            return write_raw(lits, out);
        }
        let Some(bits) = self.code.build(&total, max_symbol) else {
            return write_raw(lits, out);
        };
        let description = self.code.description().len();
        let single = n <= 1023 && description + bits.div_ceil(8) < 1023;
        let estimate = description + bits.div_ceil(8) + if single { 3 } else { 6 + 4 + 4 };
        if estimate >= raw_size {
            return write_raw(lits, out);
        }
        let header_len = if single || (n <= 1023 && estimate <= 1023) {
            3
        } else if n <= 16383 && estimate <= 16383 {
            4
        } else {
            5
        };
        let body = out.get_mut(header_len..)?;
        body.get_mut(..description)?
            .copy_from_slice(self.code.description());
        let streams = body.get_mut(description..)?;
        let stream_len = if single {
            self.code.encode_stream(lits, streams)
        } else {
            self.code.encode_four_streams(lits, streams)
        };
        let Some(stream_len) = stream_len else {
            return write_raw(lits, out);
        };
        let compressed = description + stream_len;
        if compressed + header_len >= raw_size {
            return write_raw(lits, out);
        }
        let size_format: u64 = match (header_len, single) {
            (3, true) => 0,
            (3, false) => 1,
            (4, _) => 2,
            _ => 3,
        };
        let field_bits = match header_len {
            3 => 10,
            4 => 14,
            _ => 18,
        };
        if compressed >= 1 << field_bits {
            return write_raw(lits, out);
        }
        let header = u64::from(COMPRESSED)
            | (size_format << 2)
            | ((n as u64) << 4)
            | ((compressed as u64) << (4 + field_bits));
        out.get_mut(..header_len)?
            .copy_from_slice(&header.to_le_bytes()[..header_len]);
        Some(header_len + compressed)
    }
}

impl Default for LiteralsEncoder {
    fn default() -> Self {
        Self::new(true)
    }
}

/// log2(c) in 1/256 bit, for 1 <= c < 2^24 (0 for 0): the exponent of `c` as an `f32` and its
/// mantissa's top 8 bits as a linear step, below the exact value by at most 0.09 bit. Exact
/// integer arithmetic on the float's bits, so the same on every target, and it vectorises.
#[inline(always)]
fn log2_q8_approx(c: u32) -> u32 {
    #[allow(clippy::cast_possible_wrap, clippy::cast_precision_loss)] // c < 2^24: exact
    let f = (c as i32) as f32;
    (f.to_bits() >> 15).saturating_sub(127 << 8)
}

/// Header length of a raw or RLE literals section of `n` bytes.
fn raw_header_len(n: usize) -> usize {
    match n {
        0..=31 => 1,
        32..=4095 => 2,
        _ => 3,
    }
}

/// Writes a raw or RLE header of `n` regenerated bytes; returns its length.
fn write_raw_header(kind: u32, n: usize, out: &mut [u8]) -> Option<usize> {
    let len = raw_header_len(n);
    let n = u32::try_from(n).ok()?;
    let header = match len {
        1 => kind | (n << 3),
        2 => kind | (1 << 2) | (n << 4),
        _ => kind | (3 << 2) | (n << 4),
    };
    out.get_mut(..len)?
        .copy_from_slice(&header.to_le_bytes()[..len]);
    Some(len)
}

fn write_raw(lits: &[u8], out: &mut [u8]) -> Option<usize> {
    let h = write_raw_header(RAW, lits.len(), out)?;
    out.get_mut(h..h + lits.len())?.copy_from_slice(lits);
    Some(h + lits.len())
}

fn write_rle(byte: u8, n: usize, out: &mut [u8]) -> Option<usize> {
    let h = write_raw_header(RLE, n, out)?;
    *out.get_mut(h)? = byte;
    Some(h + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;

    #[test]
    fn the_approximate_log_is_at_most_a_tenth_of_a_bit_low() {
        assert_eq!(log2_q8_approx(0), 0);
        for c in 1..=(1u32 << 16) {
            let exact = f64::from(c).log2() * 256.0;
            let approx = f64::from(log2_q8_approx(c));
            assert!(
                approx <= exact + 1e-9 && exact - approx < 0.09 * 256.0,
                "{c}"
            );
        }
    }

    /// Literals that Huffman coding cannot shrink go raw, whether the quick estimate or the
    /// built code decides; skewed ones are compressed.
    #[test]
    fn only_literals_that_shrink_are_huffman_coded() {
        let mut x = 0x9e37_79b9u32;
        let mut noise = [0u8; 1000];
        for b in &mut noise {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *b = x as u8;
        }
        let mut enc = LiteralsEncoder::new(true);
        let mut out = [0u8; 1100];
        let n = enc.write(&noise, &mut out).unwrap();
        assert_eq!(n, noise.len() + 2);
        assert_eq!(out[0] & 3, RAW as u8);
        let skewed: std::vec::Vec<u8> = noise
            .iter()
            .map(|&b| b"aaaabbc"[usize::from(b) % 7])
            .collect();
        let n = enc.write(&skewed, &mut out).unwrap();
        assert!(n < skewed.len() / 2, "{n}");
        assert_eq!(out[0] & 3, COMPRESSED as u8);
    }
}
