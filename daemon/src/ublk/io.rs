//! One ublk request, served from the [`BlockStore`]: the descriptor the kernel hands us (as in
//! `struct ublksrv_io_desc`) mapped to a store operation, and the store's answer mapped back to
//! the result the kernel expects (bytes done, or a negative errno).
//!
//! This is a plain function of its inputs so that every operation can be tested here, where the
//! kernel has no ublk driver.

use crate::store::{BlockStore, StoreError};

/// `UBLK_IO_OP_READ` from the kernel's `ublk_cmd.h`.
pub const UBLK_IO_OP_READ: u32 = 0;
/// `UBLK_IO_OP_WRITE`.
pub const UBLK_IO_OP_WRITE: u32 = 1;
/// `UBLK_IO_OP_FLUSH`.
pub const UBLK_IO_OP_FLUSH: u32 = 2;
/// `UBLK_IO_OP_DISCARD`.
pub const UBLK_IO_OP_DISCARD: u32 = 3;
/// `UBLK_IO_OP_WRITE_SAME` (never announced by our parameters, so answered as unsupported).
pub const UBLK_IO_OP_WRITE_SAME: u32 = 4;
/// `UBLK_IO_OP_WRITE_ZEROES`.
pub const UBLK_IO_OP_WRITE_ZEROES: u32 = 5;
/// `UBLK_IO_F_FUA`: the write must be durable when answered.
pub const UBLK_IO_F_FUA: u32 = 1 << 13;
/// `UBLK_IO_F_NOUNMAP`: write-zeroes that must keep the blocks allocated.
pub const UBLK_IO_F_NOUNMAP: u32 = 1 << 15;

/// Bytes per sector in ublk descriptors (always 512, whatever the logical block size).
pub const SECTOR: u64 = 512;

/// The fields of `struct ublksrv_io_desc` that say what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IoDesc {
    /// Operation in the low 8 bits, `UBLK_IO_F_*` flags above.
    pub op_flags: u32,
    /// Sectors (512 bytes) the request covers.
    pub nr_sectors: u32,
    /// First sector.
    pub start_sector: u64,
}

impl IoDesc {
    /// The operation (`UBLK_IO_OP_*`).
    pub fn op(&self) -> u32 {
        self.op_flags & 0xff
    }

    /// The flags (`UBLK_IO_F_*`).
    pub fn flags(&self) -> u32 {
        self.op_flags & !0xff
    }
}

/// What a request did, as the kernel reads it from the commit: bytes (>= 0) or `-errno`.
pub type IoResult = i32;

/// Serves one request from `store`. `buf` is the request's I/O buffer: read data lands in it,
/// written data comes from it. Returns the bytes transferred (0 for flush) or a negative errno:
///
/// * unknown operations (and WRITE_SAME, never announced): `-EOPNOTSUPP`;
/// * a range past the end of the device, or one whose byte offset overflows: `-EIO`, what the
///   block layer reports for I/O beyond the end of a device (the kernel never sends one; a bug
///   in between must fail the request, not panic the daemon);
/// * a data request larger than its buffer: `-EINVAL` (the parameters cap requests at the
///   buffer size, so only a broken kernel/daemon pairing gets here);
/// * store errors: their errno (`-ENOSPC` past the memory limit, `-EIO` for codec failures).
///
/// A zero-length request is answered with 0 without touching the store.
pub fn serve(store: &BlockStore, desc: &IoDesc, buf: &mut [u8]) -> IoResult {
    match desc.op() {
        UBLK_IO_OP_READ | UBLK_IO_OP_WRITE | UBLK_IO_OP_DISCARD | UBLK_IO_OP_WRITE_ZEROES => {}
        UBLK_IO_OP_FLUSH => return answer(store.flush(), 0),
        _ => return -libc::EOPNOTSUPP,
    }
    let Some((offset, len)) = byte_range(desc) else {
        return -libc::EIO;
    };
    if len == 0 {
        return 0;
    }
    if offset.checked_add(len).is_none_or(|end| end > store.size()) {
        return -libc::EIO;
    }
    // nr_sectors <= u32::MAX, so len <= 2^41 fits an i64; the kernel caps a request at
    // max_sectors, far below i32::MAX bytes, and anything larger is refused here.
    let Ok(done) = i32::try_from(len) else {
        return -libc::EINVAL;
    };
    let data_len = usize::try_from(len).ok().filter(|&n| n <= buf.len());
    let result = match desc.op() {
        UBLK_IO_OP_READ => match data_len.and_then(|n| buf.get_mut(..n)) {
            Some(data) => store.read(offset, data),
            None => return -libc::EINVAL,
        },
        UBLK_IO_OP_WRITE => match data_len.and_then(|n| buf.get(..n)) {
            // The store is RAM: a write is as durable as it gets when it returns, so FUA asks
            // for nothing more than a flush after it (counted, like a separate flush).
            Some(data) => store.write(offset, data).and_then(|()| {
                if desc.flags() & UBLK_IO_F_FUA != 0 {
                    store.flush()
                } else {
                    Ok(())
                }
            }),
            None => return -libc::EINVAL,
        },
        UBLK_IO_OP_DISCARD => store.discard(offset, len),
        _ => store.write_zeroes(offset, len),
    };
    answer(result, done)
}

fn byte_range(desc: &IoDesc) -> Option<(u64, u64)> {
    let offset = desc.start_sector.checked_mul(SECTOR)?;
    let len = u64::from(desc.nr_sectors) * SECTOR;
    Some((offset, len))
}

fn answer(result: Result<(), StoreError>, done: IoResult) -> IoResult {
    match result {
        Ok(()) => done,
        Err(StoreError::OutOfRange { .. }) => -libc::EIO,
        Err(e) => -e.errno(),
    }
}

#[cfg(test)]
// Test patterns keep the low byte on purpose; counters are tiny.
#[allow(clippy::cast_possible_truncation)]
mod tests {
    use super::*;
    use crate::store::{StoreConfig, parse_algorithm};

    const SIZE: u64 = 1 << 20;

    fn store_with(mem_limit: Option<u64>) -> BlockStore {
        let algorithm = parse_algorithm("lz4").unwrap_or_else(|e| unreachable!("{e}"));
        BlockStore::new(StoreConfig {
            size: SIZE,
            algorithm,
            mem_limit,
        })
        .unwrap_or_else(|e| unreachable!("{e}"))
    }

    fn desc(op_flags: u32, start_sector: u64, nr_sectors: u32) -> IoDesc {
        IoDesc {
            op_flags,
            nr_sectors,
            start_sector,
        }
    }

    fn pattern(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i / 7) as u8 ^ seed.wrapping_mul((i % 251) as u8))
            .collect()
    }

    #[test]
    fn write_then_read_returns_bytes_and_data() {
        let store = store_with(None);
        let mut data = pattern(8192, 3);
        assert_eq!(
            serve(&store, &desc(UBLK_IO_OP_WRITE, 8, 16), &mut data),
            8192
        );
        let mut back = vec![0u8; 8192];
        assert_eq!(
            serve(&store, &desc(UBLK_IO_OP_READ, 8, 16), &mut back),
            8192
        );
        assert_eq!(back, data);
        let stats = store.stats();
        assert_eq!((stats.reads, stats.writes, stats.flushes), (1, 1, 0));
    }

    #[test]
    fn read_uses_only_the_requested_part_of_a_larger_buffer() {
        let store = store_with(None);
        let mut data = pattern(4096, 9);
        assert_eq!(
            serve(&store, &desc(UBLK_IO_OP_WRITE, 0, 8), &mut data),
            4096
        );
        let mut big = vec![0xAAu8; 16384];
        assert_eq!(serve(&store, &desc(UBLK_IO_OP_READ, 0, 8), &mut big), 4096);
        assert_eq!(big.get(..4096), Some(&data[..]));
        assert!(
            big.get(4096..)
                .is_some_and(|rest| rest.iter().all(|&b| b == 0xAA))
        );
    }

    #[test]
    fn fua_write_is_followed_by_a_flush() {
        let store = store_with(None);
        let mut data = pattern(4096, 5);
        let fua = UBLK_IO_OP_WRITE | UBLK_IO_F_FUA;
        assert_eq!(serve(&store, &desc(fua, 0, 8), &mut data), 4096);
        assert_eq!(store.stats().flushes, 1);
        let mut back = vec![0u8; 4096];
        assert_eq!(serve(&store, &desc(UBLK_IO_OP_READ, 0, 8), &mut back), 4096);
        assert_eq!(back, data);
    }

    #[test]
    fn flush_answers_zero_and_reaches_the_store() {
        let store = store_with(None);
        assert_eq!(serve(&store, &desc(UBLK_IO_OP_FLUSH, 0, 0), &mut []), 0);
        assert_eq!(store.stats().flushes, 1);
    }

    #[test]
    fn discard_and_write_zeroes_read_back_as_zeroes() {
        for (op, counted) in [
            (UBLK_IO_OP_DISCARD, 0usize),
            (UBLK_IO_OP_WRITE_ZEROES, 1),
            (UBLK_IO_OP_WRITE_ZEROES | UBLK_IO_F_NOUNMAP, 1),
        ] {
            let store = store_with(None);
            let mut data = pattern(16384, 7);
            assert_eq!(
                serve(&store, &desc(UBLK_IO_OP_WRITE, 0, 32), &mut data),
                16384
            );
            // The middle two pages, without a data buffer: these ops carry none.
            assert_eq!(serve(&store, &desc(op, 8, 16), &mut []), 8192, "op {op:#x}");
            let mut back = vec![0xFFu8; 16384];
            assert_eq!(
                serve(&store, &desc(UBLK_IO_OP_READ, 0, 32), &mut back),
                16384
            );
            assert_eq!(back.get(..4096), data.get(..4096));
            assert!(
                back.get(4096..12288)
                    .is_some_and(|z| z.iter().all(|&b| b == 0))
            );
            assert_eq!(back.get(12288..), data.get(12288..));
            let stats = store.stats();
            assert_eq!(stats.discards as usize, 1 - counted, "op {op:#x}");
            assert_eq!(stats.write_zeroes as usize, counted, "op {op:#x}");
        }
    }

    #[test]
    fn unknown_operations_are_not_supported() {
        let store = store_with(None);
        let mut buf = vec![0u8; 4096];
        for op in [UBLK_IO_OP_WRITE_SAME, 6, 0x22, 0x23, 0xff] {
            assert_eq!(
                serve(&store, &desc(op, 0, 8), &mut buf),
                -libc::EOPNOTSUPP,
                "op {op:#x}"
            );
        }
        let stats = store.stats();
        assert_eq!((stats.reads, stats.writes), (0, 0));
    }

    #[test]
    fn out_of_range_is_an_io_error() {
        let store = store_with(None);
        let last = SIZE / SECTOR;
        let mut buf = vec![0u8; 8192];
        for op in [
            UBLK_IO_OP_READ,
            UBLK_IO_OP_WRITE,
            UBLK_IO_OP_DISCARD,
            UBLK_IO_OP_WRITE_ZEROES,
        ] {
            // Straddling the end, wholly past it, and a sector whose byte offset overflows.
            for (start, count) in [(last - 8, 16), (last, 8), (u64::MAX / 256, 8)] {
                assert_eq!(
                    serve(&store, &desc(op, start, count), &mut buf),
                    -libc::EIO,
                    "op {op} start {start}"
                );
            }
        }
        // The last page itself is fine.
        assert_eq!(
            serve(&store, &desc(UBLK_IO_OP_WRITE, last - 8, 8), &mut buf),
            4096
        );
    }

    #[test]
    fn zero_length_requests_do_nothing() {
        let store = store_with(None);
        for op in [
            UBLK_IO_OP_READ,
            UBLK_IO_OP_WRITE,
            UBLK_IO_OP_DISCARD,
            UBLK_IO_OP_WRITE_ZEROES,
        ] {
            // Even at the end of the device and with no buffer.
            assert_eq!(serve(&store, &desc(op, SIZE / SECTOR, 0), &mut []), 0);
        }
        let stats = store.stats();
        assert_eq!(
            (
                stats.reads,
                stats.writes,
                stats.discards,
                stats.write_zeroes
            ),
            (0, 0, 0, 0)
        );
    }

    #[test]
    fn data_request_larger_than_its_buffer_is_invalid() {
        let store = store_with(None);
        let mut small = vec![0u8; 4096];
        assert_eq!(
            serve(&store, &desc(UBLK_IO_OP_READ, 0, 16), &mut small),
            -libc::EINVAL
        );
        assert_eq!(
            serve(&store, &desc(UBLK_IO_OP_WRITE, 0, 16), &mut small),
            -libc::EINVAL
        );
    }

    #[test]
    fn memory_limit_reached_is_no_space() {
        // A limit below one compressed page: the first incompressible write must fail.
        let store = store_with(Some(1));
        let mut data: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        assert_eq!(
            serve(&store, &desc(UBLK_IO_OP_WRITE, 0, 8), &mut data),
            -libc::ENOSPC
        );
    }

    #[test]
    fn op_and_flags_split_the_word() {
        let d = desc(UBLK_IO_OP_WRITE | UBLK_IO_F_FUA, 0, 0);
        assert_eq!(d.op(), UBLK_IO_OP_WRITE);
        assert_eq!(d.flags(), UBLK_IO_F_FUA);
    }
}
