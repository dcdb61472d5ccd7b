//! The bit writer for Zstandard's backward bitstreams (RFC 8878, "Bitstream"): bits are appended
//! from the least significant end of a little-endian stream, and the decoder reads them back from the
//! last byte, so the last value written is the first one read. The stream ends with a single 1 bit
//! that marks where the data stops.

/// Writes a backward bitstream into a slice. Running out of room sets a flag instead of failing each
/// call: the caller checks [`BitWriter::finish`] once, and a block that does not fit is sent raw.
pub struct BitWriter<'a> {
    out: &'a mut [u8],
    pos: usize,
    acc: u64,
    bits: u32,
    overflow: bool,
}

impl<'a> BitWriter<'a> {
    /// A writer that fills `out` from its start.
    pub fn new(out: &'a mut [u8]) -> Self {
        Self {
            out,
            pos: 0,
            acc: 0,
            bits: 0,
            overflow: false,
        }
    }

    /// Appends the low `n` bits of `value`; the pending bits plus `n` must stay within 64, which a
    /// [`BitWriter::flush`] after at most 56 bits guarantees. `value` may carry bits above `n`: they
    /// are masked off.
    #[inline(always)]
    pub fn add(&mut self, value: u64, n: u32) {
        debug_assert!(n <= 57 && self.bits + n <= 64);
        // SAFETY: every caller passes a bit count from the format's tables (at most 57, checked
        // above in debug builds). Knowing it is below 64, the compiler masks with one BMI2 `bzhi`
        // instead of first reducing `n` modulo 64 as a shift in Rust must: this is the innermost
        // step of every entropy coder here (six times per sequence).
        unsafe { core::hint::assert_unchecked(n < 64) };
        let masked = value & ((1u64 << n) - 1);
        self.acc |= masked << self.bits;
        self.bits += n;
    }

    /// Appends `n` bits of `value` whose bits above `n` are known to be zero.
    #[inline(always)]
    pub fn add_clean(&mut self, value: u64, n: u32) {
        debug_assert!(n <= 57 && self.bits + n <= 64 && (n == 64 || value >> n == 0));
        self.acc |= value << self.bits;
        self.bits += n;
    }

    /// Moves every whole pending byte to the output, leaving fewer than 8 bits pending. Callers
    /// flush before 64 bits are pending (at most 57 after any sequence of adds between flushes).
    #[inline(always)]
    pub fn flush(&mut self) {
        debug_assert!(self.bits < 64);
        let bytes = (self.bits >> 3) as usize;
        // `pos` only grows by the bytes written, far below `usize::MAX`, so the sum
        // cannot wrap: one comparison, where a checked slice would add an overflow test.
        if self.pos + 8 <= self.out.len() {
            // SAFETY: the 8 bytes at `pos` lie inside `out`, as just checked; the write is unaligned.
            unsafe {
                core::ptr::write_unaligned(
                    self.out.as_mut_ptr().add(self.pos).cast::<u64>(),
                    self.acc.to_le(),
                );
            }
        } else {
            // A separate function on plain values: the writer's fields never have their address
            // taken, so they stay in registers in the loops that call this.
            self.overflow |= flush_slow(self.out, self.pos, self.acc, bytes);
        }
        self.pos += bytes;
        // bits < 64, so the shift (whole bytes of it) is below 64.
        self.acc >>= self.bits & 56;
        self.bits &= 7;
    }

    /// Adds the end mark, writes the last partial byte and returns the stream's length in bytes, or
    /// `None` when it did not fit.
    pub fn finish(mut self) -> Option<usize> {
        self.add_clean(1, 1);
        self.flush();
        if self.bits > 0 {
            self.overflow |= flush_slow(self.out, self.pos, self.acc, 1);
            self.pos += 1;
        }
        if self.overflow || self.pos > self.out.len() {
            None
        } else {
            Some(self.pos)
        }
    }
}

/// Writes the low `bytes` bytes of `acc` at `out[pos..]`, as many as fit; returns true when some
/// did not fit.
#[cold]
fn flush_slow(out: &mut [u8], pos: usize, acc: u64, bytes: usize) -> bool {
    let le = acc.to_le_bytes();
    let mut overflow = false;
    for (i, &b) in le.iter().enumerate().take(bytes) {
        match out.get_mut(pos + i) {
            Some(slot) => *slot = b,
            None => overflow = true,
        }
    }
    overflow
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads a backward bitstream the way a decoder does, for the tests.
    struct Reader<'a> {
        data: &'a [u8],
        bit: usize,
    }

    impl<'a> Reader<'a> {
        fn new(data: &'a [u8]) -> Self {
            let last = *data.last().unwrap();
            assert_ne!(last, 0, "the end mark must be in the last byte");
            let top = 7 - last.leading_zeros() as usize;
            Self {
                data,
                bit: (data.len() - 1) * 8 + top,
            }
        }
        fn read(&mut self, n: usize) -> u64 {
            let mut v = 0;
            for _ in 0..n {
                self.bit -= 1;
                let b = (self.data[self.bit / 8] >> (self.bit % 8)) & 1;
                v = (v << 1) | u64::from(b);
            }
            v
        }
    }

    #[test]
    fn values_come_back_in_reverse_order() {
        let mut buf = [0u8; 64];
        let mut w = BitWriter::new(&mut buf);
        let values: [(u64, u32); 6] = [
            (5, 3),
            (0, 1),
            (0x1ffff, 17),
            (1, 1),
            (0xabcdef, 24),
            (3, 2),
        ];
        for (v, n) in values {
            w.add(v, n);
            w.flush();
        }
        w.add(0xff_ffff_ffff, 40);
        w.add(1, 7);
        w.flush();
        let len = w.finish().unwrap();
        let mut r = Reader::new(&buf[..len]);
        assert_eq!(r.read(7), 1);
        assert_eq!(r.read(40), 0xff_ffff_ffff);
        for (v, n) in values.iter().rev() {
            assert_eq!(r.read(*n as usize), *v);
        }
        assert_eq!(r.bit, 0);
    }

    #[test]
    fn overflow_is_reported_not_written_past_the_end() {
        let mut buf = [0u8; 3];
        let mut w = BitWriter::new(&mut buf);
        w.add(0xffff_ffff, 32);
        w.flush();
        assert_eq!(w.finish(), None);
        let mut buf = [0u8; 5];
        let mut w = BitWriter::new(&mut buf);
        w.add(0xffff_ffff, 32);
        w.flush();
        assert_eq!(w.finish(), Some(5));
        assert_eq!(buf, [0xff, 0xff, 0xff, 0xff, 1]);
    }
}
