//! The LZ4 block decoder: any standard block (liblz4 at any level, lz4hc, the Linux kernel) into a
//! caller's buffer, checking every length and offset against both buffers.
//!
//! One loop serves every size. Each sequence takes a fast path when the buffers have room for wide
//! copies (a 16-byte literal copy for short literals, 32-byte blocks for long ones,
//! [`Kernels::copy_match_short`] or [`Kernels::copy_match_wild`] for matches) and an exact, checked
//! path near their ends. For a 4096-byte page only the last few sequences take the
//! exact path: the slack of the fixed-size output is what lets the others store whole vectors.
//!
//! Why one block at a time: the chain from a token to the next token's address is not what bounds a
//! page. Adding 8 cycles of latency to that chain in every sequence (260 a page on memdump) slowed
//! decoding by only 2-3%, 16 cycles by 8%. Accordingly, decoding two pages interleaved (one
//! sequence of each in turn, for multi-page reads) measured 0.91-0.92x (AVX2) and 0.96-0.98x
//! (AVX-512) of decoding them one after the other, on memdump and files.

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

/// Copies `src` into `dst`, of the same length: a short one (the last literals of a block, copies
/// near the end of the output) with two overlapping word copies instead of a call to `memcpy`, which
/// costs more than the copy at these sizes.
#[inline(always)]
fn copy_exact(dst: &mut [u8], src: &[u8]) {
    let len = src.len();
    if (8..=16).contains(&len) {
        dst[..8].copy_from_slice(&src[..8]);
        dst[len - 8..].copy_from_slice(&src[len - 8..]);
    } else if (4..8).contains(&len) {
        dst[..4].copy_from_slice(&src[..4]);
        dst[len - 4..].copy_from_slice(&src[len - 4..]);
    } else if len < 4 {
        for (d, &s) in dst.iter_mut().zip(src) {
            *d = s;
        }
    } else {
        dst.copy_from_slice(src);
    }
}

/// Copies a match exactly, without touching bytes past its end: the path near the end of the output.
/// `offset <= op` and `op + len <= dst.len()` are checked by the caller. The bytes before `op` are
/// final, so the source of an overlapping copy is read as the copy writes it.
#[inline(never)]
fn copy_match_exact(dst: &mut [u8], op: usize, offset: usize, len: usize) {
    let start = op - offset;
    let end = op + len;
    if offset >= len {
        let (before, from_op) = dst.split_at_mut(op);
        copy_exact(&mut from_op[..len], &before[start..start + len]);
        return;
    }
    // Overlapping: every byte repeats the one `offset` before it, so also the one `period` before
    // it, the first multiple of offset that is 8 or more, once `period` bytes from `start` are
    // written. Then whole words can be copied: each word's source is final before it is read.
    let period = offset * 8usize.div_ceil(offset);
    let seeded = (start + period).min(end);
    let mut i = op;
    while i < seeded {
        dst[i] = dst[i - offset];
        i += 1;
    }
    while end - i >= 8 {
        dst.copy_within(i - period..i - period + 8, i);
        i += 8;
    }
    while i < end {
        dst[i] = dst[i - period];
        i += 1;
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
        copy_exact(&mut dst[*op..*op + literals], &src[*ip..*ip + literals]);
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
/// Sequences take the fast loop while both buffers have room for its wide copies; the sequences it
/// leaves (near the ends of the buffers, or with rare long lengths) are fully checked, one at a time.
#[inline(always)]
pub(crate) fn decompress_block<K: Kernels>(src: &[u8], dst: &mut [u8]) -> Result<usize, Lz4Error> {
    let mut ip = 0usize;
    let mut op = 0usize;
    // Invariants: ip <= iend and op <= oend between sequences.
    loop {
        (ip, op) = fast_loop::<K>(src, dst, ip, op)?;
        if checked_sequence::<K>(src, dst, &mut ip, &mut op)? {
            return Ok(op);
        }
    }
}

/// Decodes sequences from `ip`/`op` while both buffers have room for wide copies, and returns the
/// positions where it stopped: at the end of the room, or before a sequence whose lengths need the
/// checked path (15 or more literals, a match length that does not fit in one extra byte).
///
/// Room is checked once per sequence, against limits computed once: at the top, 17 input bytes (the
/// token and a 16-byte literal copy, which also covers the offset after at most 14 literals) and 48
/// output bytes (14 literals and a short match with its reach).
#[inline(always)]
fn fast_loop<K: Kernels>(
    src: &[u8],
    dst: &mut [u8],
    mut ip: usize,
    mut op: usize,
) -> Result<(usize, usize), Lz4Error> {
    let iend = src.len();
    let oend = dst.len();
    let (Some(ip_limit), Some(op_limit)) =
        (iend.checked_sub(FAST_INPUT), oend.checked_sub(FAST_OUTPUT))
    else {
        return Ok((ip, op));
    };
    let s = src.as_ptr();
    // Every access to dst below goes through `d`; the slice is not touched until this returns.
    let d = dst.as_mut_ptr();
    while ip <= ip_limit && op <= op_limit {
        // SAFETY: ip <= iend - 17.
        let token = unsafe { *s.add(ip) };
        let mut literals = usize::from(token >> 4);
        let offset_at;
        if literals < 15 {
            // SAFETY: 16 bytes are readable at ip + 1 (ip + 17 <= iend) and writable at op (op + 48
            // <= oend); src and dst are distinct borrows. Only `literals` <= 14 of them count.
            unsafe { copy16(d.add(op), s.add(ip + 1)) };
            offset_at = ip + 1 + literals;
        } else {
            // Long literals, with room for their rounded-up copy and after it for the offset
            // (input) and a short match (output), as after short literals. Otherwise (the last
            // literals of the block among them) the checked path decodes this sequence.
            let mut at = ip + 1;
            literals = read_extended_length(src, &mut at, 15, op, oend)?;
            if iend - at < literals + WILD_STEP || oend - op < literals + FAST_OUTPUT {
                break;
            }
            // SAFETY: literals + 32 bytes are readable at `at` and writable at op (FAST_OUTPUT >=
            // 32); src and dst are distinct borrows.
            unsafe { K::copy_wild32(d.add(op), s.add(at), literals) };
            offset_at = at + literals;
        }
        // Here offset_at + 2 <= iend and match_at + 48 <= oend: short literals advanced ip by at most
        // 15 and op by at most 14 from the limits; long ones were checked for the same margins.
        // SAFETY: offset_at + 2 <= iend (above).
        let offset = usize::from(u16::from_le(unsafe {
            s.add(offset_at).cast::<u16>().read_unaligned()
        }));
        let match_at = op + literals;
        // One compare for both bad cases: offset 0 wraps to usize::MAX.
        if offset.wrapping_sub(1) >= match_at {
            return Err(bad_offset(offset, offset_at, match_at));
        }
        let nibble = usize::from(token & 15);
        if nibble < 15 {
            // SAFETY: 1 <= offset <= match_at, and match_at + SHORT_MATCH_REACH (34) <= oend (above).
            unsafe { K::copy_match_short(d.add(match_at), offset, nibble + 4) };
            ip = offset_at + 2;
            op = match_at + nibble + 4;
        } else {
            // One length byte below 255 (a match of at most 273 bytes), with room for the wide
            // copy: the common long match. Anything else is left to the checked path, which
            // decodes this sequence again from its token (the literals written are rewritten).
            let Some(&extra) = src.get(offset_at + 2) else {
                break;
            };
            let match_len = 15 + 4 + usize::from(extra);
            if extra == 255 || oend - match_at < match_len + MATCH_SLACK {
                break;
            }
            // SAFETY: 1 <= offset <= match_at, and match_at + match_len + MATCH_SLACK <= oend.
            unsafe { K::copy_match_wild(d.add(match_at), offset, match_len) };
            ip = offset_at + 3;
            op = match_at + match_len;
        }
    }
    Ok((ip, op))
}
