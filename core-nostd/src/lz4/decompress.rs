//! The LZ4 block decoder: any standard block (liblz4 at any level, lz4hc, the Linux kernel) into a
//! caller's buffer, checking every length and offset against both buffers.
//!
//! One loop serves every size. Each sequence takes a fast path when the buffers have room for wide
//! copies (a 16-byte literal copy for short literals, [`Kernels::copy_match_wild`] for matches) and an
//! exact, checked path near their ends. For a 4096-byte page only the last few sequences take the
//! exact path: the slack of the fixed-size output is what lets the others store whole vectors.

use super::error::{Field, Lz4Error};
use super::kernels::{Kernels, MATCH_SLACK, SHORT_MATCH_REACH, WILD_STEP, copy16};

/// Reads the bytes that extend a length nibble of 15, stopping at the first byte below 255.
/// Stops early with an error once the length exceeds `capacity`, so it never overflows.
#[inline(always)]
fn read_extended_length(
    src: &[u8],
    ip: &mut usize,
    mut len: usize,
    position: usize,
    capacity: usize,
) -> Result<usize, Lz4Error> {
    loop {
        let Some(&byte) = src.get(*ip) else {
            return Err(Lz4Error::Truncated {
                offset: *ip,
                needed: 1,
                field: Field::LengthByte,
            });
        };
        *ip += 1;
        len += usize::from(byte);
        if byte != 255 {
            return Ok(len);
        }
        if len > capacity {
            return Err(Lz4Error::OutputOverrun {
                position,
                needed: len,
                capacity,
            });
        }
    }
}

/// Copies a match exactly, without touching bytes past its end: the path near the end of the output.
/// `offset <= op` and `op + len <= dst.len()` are checked by the caller. The bytes before `op` are
/// final, so the source of an overlapping copy is read as the loop writes it.
#[inline(never)]
fn copy_match_exact(dst: &mut [u8], op: usize, offset: usize, len: usize) {
    let start = op - offset;
    if offset >= len {
        dst.copy_within(start..start + len, op);
    } else {
        for i in op..op + len {
            dst[i] = dst[i - offset];
        }
    }
}

/// Room the fast path needs in the input at the top of a sequence: the token and a 16-byte literal
/// copy, which also covers the 2-byte offset after at most 14 literals. (The last sequence, literals
/// only, has fewer bytes left, so it always takes the checked path, which ends the block.)
const FAST_INPUT: usize = 1 + 16;
/// Room the fast path needs in the output: at most 14 literals (copied as 16 bytes) and a short match
/// with its reach. A longer match checks its own room. Small, so that only the last few sequences of
/// a page leave the fast path.
const FAST_OUTPUT: usize = 14 + SHORT_MATCH_REACH;

/// The error for a match offset that is 0 or reaches before the output start.
#[cold]
fn bad_offset(offset: usize, at: usize, position: usize) -> Lz4Error {
    if offset == 0 {
        Lz4Error::ZeroOffset { offset: at }
    } else {
        Lz4Error::OffsetBeforeStart {
            offset: at,
            distance: offset,
            position,
        }
    }
}

/// Copies a match whose offset has been checked: wide when the output has the slack, and near its
/// end wide for all but the last bytes, which are copied exactly (a page often ends in a long run, and
/// a byte loop over all of it would cost more than the rest of the page). An error when it does not fit.
#[inline(always)]
fn copy_match<K: Kernels>(
    dst: &mut [u8],
    op: usize,
    offset: usize,
    match_len: usize,
) -> Result<(), Lz4Error> {
    let room = dst.len() - op;
    if room >= match_len + MATCH_SLACK {
        // SAFETY: 1 <= offset <= op (checked by the caller), and op + match_len + MATCH_SLACK <=
        // dst.len(), so the whole range the kernel may touch lies inside dst.
        unsafe { K::copy_match_wild(dst.as_mut_ptr().add(op), offset, match_len) };
        Ok(())
    } else if match_len <= room {
        // Fewer than MATCH_SLACK bytes are left for the exact copy.
        let wide = room.saturating_sub(MATCH_SLACK).min(match_len);
        if wide > 0 {
            // SAFETY: as above, with op + wide + MATCH_SLACK <= op + room = dst.len().
            unsafe { K::copy_match_wild(dst.as_mut_ptr().add(op), offset, wide) };
        }
        copy_match_exact(dst, op + wide, offset, match_len - wide);
        Ok(())
    } else {
        Err(Lz4Error::OutputOverrun {
            position: op,
            needed: match_len,
            capacity: dst.len(),
        })
    }
}

/// Decodes one sequence with every access checked. Returns `true` when it was the last one (its
/// literals end the block).
#[inline(always)]
fn checked_sequence<K: Kernels>(
    src: &[u8],
    dst: &mut [u8],
    ip: &mut usize,
    op: &mut usize,
) -> Result<bool, Lz4Error> {
    let iend = src.len();
    let oend = dst.len();
    let Some(&token) = src.get(*ip) else {
        return Err(Lz4Error::Truncated {
            offset: *ip,
            needed: 1,
            field: Field::Token,
        });
    };
    *ip += 1;
    let mut literals = usize::from(token >> 4);
    if literals == 15 {
        literals = read_extended_length(src, ip, 15, *op, oend)?;
    }
    if literals > iend - *ip {
        return Err(Lz4Error::Truncated {
            offset: *ip,
            needed: literals - (iend - *ip),
            field: Field::Literals,
        });
    }
    if literals > oend - *op {
        return Err(Lz4Error::OutputOverrun {
            position: *op,
            needed: literals,
            capacity: oend,
        });
    }
    if iend - *ip >= literals + WILD_STEP && oend - *op >= literals + WILD_STEP {
        // SAFETY: both buffers hold literals + 32 bytes from ip and op, covering the rounded-up
        // copy; src and dst are distinct borrows.
        unsafe { K::copy_wild32(dst.as_mut_ptr().add(*op), src.as_ptr().add(*ip), literals) };
    } else {
        dst[*op..*op + literals].copy_from_slice(&src[*ip..*ip + literals]);
    }
    *ip += literals;
    *op += literals;
    if *ip == iend {
        // A block ends with a sequence of literals only.
        return Ok(true);
    }

    let Some(offset_bytes) = src.get(*ip..*ip + 2) else {
        return Err(Lz4Error::Truncated {
            offset: *ip,
            needed: 2 - (iend - *ip),
            field: Field::Offset,
        });
    };
    let offset = usize::from(u16::from_le_bytes([offset_bytes[0], offset_bytes[1]]));
    // One compare for both bad cases: offset 0 wraps to usize::MAX.
    if offset.wrapping_sub(1) >= *op {
        return Err(bad_offset(offset, *ip, *op));
    }
    *ip += 2;
    let mut match_len = usize::from(token & 15);
    if match_len == 15 {
        match_len = read_extended_length(src, ip, 15, *op, oend)?;
    }
    match_len += 4;
    copy_match::<K>(dst, *op, offset, match_len)?;
    *op += match_len;
    Ok(false)
}

/// Decodes the block `src` into `dst` and returns the number of bytes written.
///
/// Sequences with fewer than 15 literals take the fast path while both buffers have room for its wide
/// copies; it needs no bounds check but those at its top. Every other sequence is fully checked.
#[inline(always)]
pub(crate) fn decompress_block<K: Kernels>(src: &[u8], dst: &mut [u8]) -> Result<usize, Lz4Error> {
    let iend = src.len();
    let oend = dst.len();
    let sp = src.as_ptr();
    // The destination pointer is taken afresh at each raw access (`dst.as_mut_ptr()`), never kept
    // across the safe accesses to `dst`, so that the borrow rules (and Miri) stay satisfied.
    let mut ip = 0usize;
    let mut op = 0usize;
    // Invariants: ip <= iend and op <= oend between sequences.
    loop {
        while iend - ip >= FAST_INPUT && oend - op >= FAST_OUTPUT {
            // SAFETY: ip < iend (FAST_INPUT bytes are left).
            let token = unsafe { *sp.add(ip) };
            if token >= 0xf0 {
                break;
            }
            let literals = usize::from(token >> 4);
            // SAFETY: 16 bytes are readable at ip + 1 (iend - ip >= 17) and writable at op
            // (oend - op >= 48); src and dst are distinct borrows. Only `literals` <= 14 count.
            unsafe { copy16(dst.as_mut_ptr().add(op), sp.add(ip + 1)) };
            ip += 1 + literals;
            op += literals;
            // SAFETY: ip advanced by at most 15 from a point 17 bytes before the end.
            let offset = usize::from(u16::from_le(unsafe {
                sp.add(ip).cast::<u16>().read_unaligned()
            }));
            if offset.wrapping_sub(1) >= op {
                return Err(bad_offset(offset, ip, op));
            }
            ip += 2;
            let nibble = usize::from(token & 15);
            if nibble < 15 {
                // SAFETY: 1 <= offset <= op, and op + SHORT_MATCH_REACH <= oend: op advanced by at
                // most 14 from a point FAST_OUTPUT = 14 + SHORT_MATCH_REACH bytes before the end.
                unsafe { K::copy_match_short(dst.as_mut_ptr().add(op), offset) };
                op += nibble + 4;
            } else {
                let match_len = read_extended_length(src, &mut ip, 15, op, oend)? + 4;
                copy_match::<K>(dst, op, offset, match_len)?;
                op += match_len;
            }
        }
        if checked_sequence::<K>(src, dst, &mut ip, &mut op)? {
            return Ok(op);
        }
    }
}
