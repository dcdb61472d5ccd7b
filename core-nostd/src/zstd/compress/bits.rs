//! The bit writer for Zstandard's backward bitstreams (RFC 8878, "Bitstream"): bits are appended
//! from the least significant end of a little-endian stream, and the decoder reads them back from the
//! last byte, so the last value written is the first one read. The stream ends with a single 1 bit
//! that marks where the data stops.

use core::marker::PhantomData;

/// Writes a backward bitstream into a slice. Running out of room sets a flag instead of failing each
/// call: the caller checks [`BitWriter::finish`] once, and a block that does not fit is sent raw.
///
/// The writer keeps a pointer to the next byte rather than the slice and an index, so that an
/// encoding loop holds one register for where it writes. A `ROOMY` writer, made by
/// [`BitWriter::roomy`] for a stream known to fit with room to spare, also skips the room check of
/// each flush.
pub struct BitWriter<'a, const ROOMY: bool = false> {
    /// Where the next whole byte goes: inside the output, at most 8 bytes before its end while the
    /// fast path of `flush` runs.
    ptr: *mut u8,
    /// The highest address of `ptr` at which an 8-byte store stays inside the output (0 when the
    /// output is shorter than 8 bytes: no address is that low).
    limit: usize,
    start: *mut u8,
    len: usize,
    acc: u64,
    bits: u32,
    overflow: bool,
    _out: PhantomData<&'a mut [u8]>,
}

impl<'a> BitWriter<'a> {
    /// A writer that fills `out` from its start.
    pub fn new(out: &'a mut [u8]) -> Self {
        Self::over(out)
    }
}

impl<'a> BitWriter<'a, true> {
    /// A writer for a stream of at most `max_bits` bits, or `None` when `out` has less room than
    /// those bits and a spare 8-byte store need.
    ///
    /// # Safety
    /// The caller adds at most `max_bits` bits in all (the end mark of [`BitWriter::finish`]
    /// included): the writer's flushes do not check the room.
    pub unsafe fn roomy(out: &'a mut [u8], max_bits: usize) -> Option<Self> {
        // `ptr` never passes the bytes completed so far, and each flush stores 8 bytes at it.
        let needed = max_bits.div_ceil(8).checked_add(8)?;
        (out.len() >= needed).then(|| Self::over(out))
    }
}

impl<'a, const ROOMY: bool> BitWriter<'a, ROOMY> {
    fn over(out: &'a mut [u8]) -> Self {
        let len = out.len();
        let start = out.as_mut_ptr();
        Self {
            ptr: start,
            limit: if len >= 8 { start.addr() + len - 8 } else { 0 },
            start,
            len,
            acc: 0,
            bits: 0,
            overflow: false,
            _out: PhantomData,
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
        debug_assert!(!ROOMY || self.ptr.addr() <= self.limit);
        if ROOMY || self.ptr.addr() <= self.limit {
            // SAFETY: the 8 bytes at `ptr` lie inside the output: as just checked, or for a
            // roomy writer because `ptr` is at most the bytes of the `max_bits` bits its caller
            // may add past the start, and the output holds 8 bytes more (`roomy`). The write is
            // unaligned. `ptr + bytes` (bytes < 8) stays inside the output too.
            unsafe {
                self.ptr.cast::<u64>().write_unaligned(self.acc.to_le());
                self.ptr = self.ptr.add(bytes);
            }
        } else {
            // SAFETY: `start` and `len` are the output this writer borrows, and `ptr` lies in it.
            let (ptr, overflow) =
                unsafe { flush_slow(self.start, self.len, self.ptr, self.acc, bytes) };
            self.ptr = ptr;
            self.overflow |= overflow;
        }
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
            // SAFETY: as in `flush`.
            let (ptr, overflow) =
                unsafe { flush_slow(self.start, self.len, self.ptr, self.acc, 1) };
            self.ptr = ptr;
            self.overflow |= overflow;
        }
        if self.overflow {
            None
        } else {
            Some(self.ptr.addr() - self.start.addr())
        }
    }
}

/// Writes the low `bytes` bytes of `acc` at `ptr`, as many as fit in the `len` bytes at `start`;
/// returns the pointer past them (never past the end) and whether some did not fit. Out of line,
/// on plain values: the writer's fields never have their address taken, so they stay in
/// registers in the loops that call `flush`.
///
/// # Safety
/// `start..start + len` is writable, and `ptr` lies in it or at its end.
#[cold]
#[inline(never)]
unsafe fn flush_slow(
    start: *mut u8,
    len: usize,
    ptr: *mut u8,
    acc: u64,
    bytes: usize,
) -> (*mut u8, bool) {
    let pos = ptr.addr() - start.addr();
    let fit = bytes.min(len - pos);
    for (i, &b) in acc.to_le_bytes().iter().enumerate().take(fit) {
        // SAFETY: pos + i < pos + fit <= len.
        unsafe { start.add(pos + i).write(b) };
    }
    // SAFETY: pos + fit <= len.
    (unsafe { start.add(pos + fit) }, fit < bytes)
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

    #[test]
    fn a_roomy_writer_writes_what_a_checked_one_does() {
        let mut short = [0u8; 9];
        // SAFETY: refused, so nothing is written.
        assert!(unsafe { BitWriter::roomy(&mut short, 9) }.is_none());
        let (mut a, mut b) = ([0u8; 40], [0u8; 40]);
        let mut checked = BitWriter::new(&mut a);
        // SAFETY: the values below and the end mark total 14 * 17 + 1 = 239 bits, and 40 bytes
        // hold their 30 bytes and an 8-byte store more.
        let mut roomy = unsafe { BitWriter::roomy(&mut b, 239) }.unwrap();
        for k in 0..14u64 {
            let v = k.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            let n = 5 + (k as u32 % 13);
            checked.add(v, n);
            roomy.add(v, n);
            checked.flush();
            roomy.flush();
        }
        let (la, lb) = (checked.finish().unwrap(), roomy.finish().unwrap());
        assert_eq!(a[..la], b[..lb]);
    }

    #[test]
    fn an_empty_output_takes_nothing() {
        let mut w = BitWriter::new(&mut []);
        w.add(1, 1);
        w.flush();
        assert_eq!(w.finish(), None);
    }
}
