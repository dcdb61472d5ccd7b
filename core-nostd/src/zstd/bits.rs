//! Bit readers. Zstandard's entropy-coded streams (Huffman literals, FSE sequences) are written forward
//! and read backward, starting at the highest set bit of their last byte (RFC 8878, 4.1 and 4.2.2);
//! FSE table descriptions are read forward from the lowest bit.

use super::error::ZstdError;

type Result<T> = core::result::Result<T, ZstdError>;

/// Reads a stream backward through a 64-bit container. Reads past the start of the stream return zero
/// bits and leave the reader [`overflowed`](Self::overflowed): callers check that at the end of a stream
/// (or of a loop that can only run a bounded number of times), so the hot loops carry no check per read.
#[derive(Clone, Copy)]
pub(crate) struct BackwardBits<'a> {
    src: &'a [u8],
    /// Start of the 8 bytes loaded in `container` (0 for streams shorter than 8 bytes). Only ever
    /// decreases, so that `pos + 8 <= src.len()` for streams of 8 bytes or more.
    pos: usize,
    /// The loaded bytes, little-endian: the next bit to read is bit `63 - consumed`.
    container: u64,
    /// Bits of the container already read, from the top; above 64 means reads went past the start.
    consumed: u32,
}

/// The 8 bytes at `pos`, little-endian; 0 when they are not all inside `src`.
#[inline(always)]
pub(crate) fn load_le(src: &[u8], pos: usize) -> u64 {
    match src.get(pos..pos.wrapping_add(8)) {
        Some(bytes) => {
            let mut word = [0u8; 8];
            word.copy_from_slice(bytes);
            u64::from_le_bytes(word)
        }
        // BackwardBits never gets here: pos + 8 <= len whenever it loads 8 bytes.
        None => 0,
    }
}

/// The 8 bytes at `pos`, little-endian, without a bounds check.
///
/// # Safety
/// `pos + 8 <= src.len()`.
#[inline(always)]
unsafe fn load_le_unchecked(src: &[u8], pos: usize) -> u64 {
    // SAFETY: the caller guarantees that the 8 bytes lie inside `src`; unaligned read of bytes.
    u64::from_le_bytes(unsafe {
        core::ptr::read_unaligned(src.as_ptr().add(pos).cast::<[u8; 8]>())
    })
}

impl<'a> BackwardBits<'a> {
    /// Starts reading `src` from its end mark, the highest set bit of its last byte.
    #[inline(always)]
    pub(crate) fn new(src: &'a [u8], what: &'static str) -> Result<Self> {
        let Some(&last) = src.last() else {
            return Err(ZstdError::BadBitstream {
                what,
                why: "the stream is empty",
            });
        };
        if last == 0 {
            return Err(ZstdError::BadBitstream {
                what,
                why: "its last byte is 0, so it has no end mark",
            });
        }
        let padding = last.leading_zeros() + 1;
        if src.len() >= 8 {
            let pos = src.len() - 8;
            Ok(Self {
                src,
                pos,
                container: load_le(src, pos),
                consumed: padding,
            })
        } else {
            let mut container = 0u64;
            for (i, &b) in src.iter().enumerate() {
                container |= u64::from(b) << (8 * i);
            }
            // The missing high bytes count as read: the stream ends after len * 8 bits.
            let missing = 8 * (8 - u32::try_from(src.len()).unwrap_or(8));
            Ok(Self {
                src,
                pos: 0,
                container,
                consumed: padding + missing,
            })
        }
    }

    /// The next `n` bits (`n <= 56` after a reload) without consuming them.
    #[inline(always)]
    pub(crate) fn peek(&self, n: u32) -> u64 {
        // Two shifts so that n == 0 yields 0 without a branch.
        ((self.container << (self.consumed & 63)) >> 1) >> ((63 - n) & 63)
    }

    /// The unread bits, left-aligned (the next one is the top bit), zeros after the stream's
    /// start. Shifting this window by each code's length decodes a few symbols without touching
    /// `consumed` (then [`skip`](Self::skip) their total).
    #[inline(always)]
    pub(crate) fn window(&self) -> u64 {
        self.container.checked_shl(self.consumed).unwrap_or(0)
    }

    /// Consumes `n` bits.
    #[inline(always)]
    pub(crate) fn skip(&mut self, n: u32) {
        self.consumed = self.consumed.wrapping_add(n);
    }

    /// Reads `n` bits (`n <= 56` after a reload), most significant first.
    #[inline(always)]
    pub(crate) fn read(&mut self, n: u32) -> u64 {
        let value = self.peek(n);
        self.skip(n);
        value
    }

    /// Reads `n <= 32` bits as a `u32`.
    #[inline(always)]
    pub(crate) fn read_u32(&mut self, n: u32) -> u32 {
        #[allow(clippy::cast_possible_truncation)] // at most 32 bits were read
        let value = self.read(n & 31) as u32;
        value
    }

    /// The next `n < 32` bits as a table index, without consuming them.
    #[inline(always)]
    pub(crate) fn peek_index(&self, n: u32) -> usize {
        #[allow(clippy::cast_possible_truncation)] // at most 31 bits
        let value = self.peek(n & 31) as usize;
        value
    }

    /// Reads `n < 32` bits as a table index.
    #[inline(always)]
    pub(crate) fn read_index(&mut self, n: u32) -> usize {
        let value = self.peek_index(n);
        self.skip(n & 31);
        value
    }

    /// Refills the container so that at least 56 bits can be read, unless the stream start is near.
    #[inline(always)]
    pub(crate) fn reload(&mut self) {
        if self.pos >= 8 {
            // The hot case, far from the stream start. Every reader reads at most 57 bits between
            // reloads, so `consumed <= 64` and the `min` changes nothing; it makes the bounds below
            // certain all the same.
            let back = ((self.consumed >> 3) as usize).min(8);
            self.pos -= back;
            #[allow(clippy::cast_possible_truncation)] // back <= 8
            {
                self.consumed -= (back as u32) << 3;
            }
            // SAFETY: `pos + 8 <= src.len()` holds from `new` on (`pos` starts at `len - 8`, or at
            // 0 for streams shorter than 8 bytes, which never reach this branch, and only
            // decreases), and `pos >= 0` since it was at least 8 and went back at most 8.
            self.container = unsafe { load_le_unchecked(self.src, self.pos) };
        } else {
            self.reload_near_start();
        }
    }

    /// `reload` within 8 bytes of the stream start, or after reading past it. Inlined, not cold:
    /// the last bytes of every stream (Huffman weights, literals, sequences: several per page)
    /// take this path once or more per symbol.
    #[inline(always)]
    fn reload_near_start(&mut self) {
        if self.consumed > 64 || self.pos == 0 {
            return;
        }
        let bytes = ((self.consumed >> 3) as usize).min(self.pos);
        self.pos -= bytes;
        // bytes <= consumed / 8, so this cannot underflow.
        self.consumed -= u32::try_from(bytes * 8).unwrap_or(0);
        self.container = load_le(self.src, self.pos);
    }

    /// Whether 8 or more bytes precede the loaded ones: then the container was full after the last
    /// reload, and at least 57 bits could be read from it.
    #[inline(always)]
    pub(crate) fn far_from_start(&self) -> bool {
        self.pos >= 8
    }

    /// Where the loaded bytes start in the stream, and how many of their bits were read.
    #[inline(always)]
    pub(crate) fn position(&self) -> (usize, u32) {
        (self.pos, self.consumed)
    }

    /// Continues from `pos` with `consumed` bits of the 8 bytes there read, as another reader
    /// left the stream (`pos` no later than where this reader's loaded bytes start, so that
    /// they stay inside the stream).
    #[inline(always)]
    pub(crate) fn resume(&mut self, pos: usize, consumed: u32) {
        if pos <= self.pos {
            self.pos = pos;
            self.consumed = consumed;
            self.container = load_le(self.src, pos);
        }
    }

    /// Whether reads went past the start of the stream.
    #[inline(always)]
    pub(crate) fn overflowed(&self) -> bool {
        self.consumed > 64
    }

    /// Whether every bit of the stream was read, and no more.
    pub(crate) fn finished(&self) -> bool {
        self.pos == 0 && self.consumed == 64
    }
}

/// Reads a stream forward from its lowest bit, as FSE table descriptions are written. Bits past the
/// end read as zero; [`consumed_bytes`](Self::consumed_bytes) tells the caller how far it got.
pub(crate) struct ForwardBits<'a> {
    src: &'a [u8],
    bit_pos: usize,
}

impl<'a> ForwardBits<'a> {
    pub(crate) fn new(src: &'a [u8]) -> Self {
        Self { src, bit_pos: 0 }
    }

    /// The next up to 32 bits, without consuming them.
    #[inline(always)]
    pub(crate) fn peek32(&self) -> u32 {
        let byte = self.bit_pos / 8;
        let mut word = [0u8; 8];
        if let Some(bytes) = self.src.get(byte..byte + 8) {
            // The common case: a fixed-size load.
            word.copy_from_slice(bytes);
        } else if let Some(rest) = self.src.get(byte..) {
            for (w, &b) in word.iter_mut().zip(rest) {
                *w = b;
            }
        }
        #[allow(clippy::cast_possible_truncation)] // keeps the low 32 bits on purpose
        let value = (u64::from_le_bytes(word) >> (self.bit_pos % 8)) as u32;
        value
    }

    pub(crate) fn skip(&mut self, n: u32) {
        self.bit_pos += n as usize;
    }

    /// Bytes touched so far (a partly read byte counts).
    pub(crate) fn consumed_bytes(&self) -> usize {
        self.bit_pos.div_ceil(8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backward_reads_from_the_end_mark() {
        // Last byte 0b0000_0101: end mark at bit 2, then bits "01" of that byte, then byte 0xA5.
        let src = [0xA5u8, 0b0000_0101];
        let mut r = BackwardBits::new(&src, "test").unwrap();
        assert_eq!(r.read(2), 0b01);
        assert_eq!(r.read(4), 0xA);
        assert_eq!(r.read(4), 0x5);
        assert!(r.finished());
        r.read(1);
        assert!(r.overflowed());
    }

    #[test]
    fn backward_long_stream_reloads() {
        let mut src = [0u8; 20];
        for (i, b) in src.iter_mut().enumerate() {
            *b = i as u8;
        }
        src[19] = 1; // end mark alone in the last byte
        let mut r = BackwardBits::new(&src, "test").unwrap();
        for i in (0..19).rev() {
            r.reload();
            assert_eq!(r.read(8), i as u64);
        }
        assert!(r.finished());
    }

    #[test]
    fn backward_rejects_missing_end_mark() {
        assert!(BackwardBits::new(&[], "t").is_err());
        assert!(BackwardBits::new(&[1, 0], "t").is_err());
    }

    #[test]
    fn forward_reads_low_bits_first() {
        let src = [0b1010_0011u8, 0xFF];
        let mut r = ForwardBits::new(&src);
        assert_eq!(r.peek32() & 0xF, 0b0011);
        r.skip(4);
        assert_eq!(r.peek32() & 0xFFF, 0xFFA);
        r.skip(12);
        assert_eq!(r.consumed_bytes(), 2);
        assert_eq!(r.peek32(), 0);
    }
}
