//! Blocks (RFC 8878, "Blocks"): a compressed block (literals section, sequences section) when it is
//! smaller than its content, an RLE block for a run of one byte, else a raw block.

use super::literals::LiteralsEncoder;
use super::sequences::{SeqStore, SequenceTables, count_all};
use crate::zstd::tables::BLOCK_HEADER_SIZE;

/// Block_Type values.
const RAW: u32 = 0;
const RLE: u32 = 1;
const COMPRESSED: u32 = 2;

/// Writes one block for `content`, whose sequences and literals are in `store`, at the start of
/// `out`; returns the bytes written and whether the block is compressed (only compressed blocks
/// update the decoder's repeat offsets), or `None` when even a raw block does not fit.
#[inline(always)]
pub fn write_block(
    content: &[u8],
    store: &mut SeqStore,
    last: bool,
    literals: &mut LiteralsEncoder,
    tables: &mut SequenceTables,
    out: &mut [u8],
) -> Option<(usize, bool)> {
    let n = content.len();
    if let Some(body) = compressed_body(store, literals, tables, out)
        && body < n
    {
        // A run of one byte fits in one. The check stops at the first byte that differs, and must
        // not depend on what the finder made of the run (the fastest levels may cut it into several
        // sequences): the choice of block type never depends on `out`'s room.
        if body > 1 && is_run(content) {
            return Some((write_rle(content, last, out)?, false));
        }
        write_header(COMPRESSED, body, last, out)?;
        return Some((BLOCK_HEADER_SIZE + body, true));
    }
    if n > 1 && is_run(content) {
        return Some((write_rle(content, last, out)?, false));
    }
    write_header(RAW, n, last, out)?;
    out.get_mut(BLOCK_HEADER_SIZE..BLOCK_HEADER_SIZE + n)?
        .copy_from_slice(content);
    Some((BLOCK_HEADER_SIZE + n, false))
}

/// [`write_block`] compiled for AVX2 and BMI1/2, out of the finder's loop.
///
/// # Safety
/// The CPU must have AVX2, BMI1 and BMI2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,bmi1,bmi2")]
#[inline(never)]
pub unsafe fn write_block_avx2(
    content: &[u8],
    store: &mut SeqStore,
    last: bool,
    literals: &mut LiteralsEncoder,
    tables: &mut SequenceTables,
    out: &mut [u8],
) -> Option<(usize, bool)> {
    write_block(content, store, last, literals, tables, out)
}

/// Writes literals and sequences after the header's room; returns the body length.
#[inline(always)]
pub(super) fn compressed_body(
    store: &mut SeqStore,
    literals: &mut LiteralsEncoder,
    tables: &mut SequenceTables,
    out: &mut [u8],
) -> Option<usize> {
    let body = out.get_mut(BLOCK_HEADER_SIZE..)?;
    let lit_len = literals.write(&store.lits[..store.lit_count], body)?;
    let seqs = store.seqs.get_mut(..store.count)?;
    if !store.counted {
        count_all(seqs, &mut store.hists);
    }
    let seq_len = tables.write(seqs, &store.hists, body.get_mut(lit_len..)?)?;
    Some(lit_len + seq_len)
}

#[inline(always)]
fn is_run(content: &[u8]) -> bool {
    content
        .split_first()
        .is_some_and(|(&b, rest)| rest.iter().all(|&x| x == b))
}

fn write_rle(content: &[u8], last: bool, out: &mut [u8]) -> Option<usize> {
    write_header(RLE, content.len(), last, out)?;
    *out.get_mut(BLOCK_HEADER_SIZE)? = *content.first()?;
    Some(BLOCK_HEADER_SIZE + 1)
}

fn write_header(kind: u32, size: usize, last: bool, out: &mut [u8]) -> Option<()> {
    let size = u32::try_from(size).ok()?;
    let header = u32::from(last) | (kind << 1) | (size << 3);
    out.get_mut(..BLOCK_HEADER_SIZE)?
        .copy_from_slice(&header.to_le_bytes()[..BLOCK_HEADER_SIZE]);
    Some(())
}
