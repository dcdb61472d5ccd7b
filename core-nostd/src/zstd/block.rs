//! Blocks (RFC 8878, 3.1.1.2): the 3-byte header, raw and RLE blocks, and compressed blocks (a
//! literals section then a sequences section).

use super::error::ZstdError;
use super::huffman::HuffmanTable;
use super::literals;
use super::sequences::{self, Output, SequenceTables, SpreadScratch};
use super::tables::BLOCK_HEADER_SIZE;

type Result<T> = core::result::Result<T, ZstdError>;

/// The kind of a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BlockType {
    Raw,
    Rle,
    Compressed,
}

/// A block header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BlockHeader {
    pub(crate) last: bool,
    pub(crate) kind: BlockType,
    /// `Block_Size`: bytes of content, or the decoded size of an RLE block.
    pub(crate) size: usize,
}

/// Reads the block header at the start of `src` (`offset` locates it in the input).
pub(crate) fn read_header(src: &[u8], offset: usize) -> Result<BlockHeader> {
    let Some(b) = src.first_chunk::<BLOCK_HEADER_SIZE>() else {
        return Err(ZstdError::Truncated {
            what: "block header",
            needed: BLOCK_HEADER_SIZE,
            available: src.len(),
        });
    };
    let fields = u32::from(b[0]) | (u32::from(b[1]) << 8) | (u32::from(b[2]) << 16);
    let kind = match (fields >> 1) & 3 {
        0 => BlockType::Raw,
        1 => BlockType::Rle,
        2 => BlockType::Compressed,
        _ => return Err(ZstdError::ReservedBlockType { offset }),
    };
    Ok(BlockHeader {
        last: fields & 1 != 0,
        kind,
        size: (fields >> 3) as usize,
    })
}

/// The tables and repeat offsets that carry from block to block within a frame.
pub(crate) struct BlockState {
    pub(crate) huffman: HuffmanTable,
    pub(crate) has_huffman: bool,
    pub(crate) sequences: SequenceTables,
    pub(crate) repeat_offsets: [u32; 3],
    /// Scratch space for building FSE tables.
    pub(crate) spread: SpreadScratch,
}

/// Decodes a compressed block's content `src` into `o` (output from `o.out`). With `bmi2`, the same
/// code compiled for BMI1/BMI2 and AVX2 runs: shifts by any register and bit extraction (the bit
/// readers' variable shifts are most of the work), 32-byte moves for the wide copies and table
/// fills, and LZCNT for leading zeros. Without LZCNT they compile to BSR, which keeps a false
/// dependency on its destination register: where the register allocator gives it another
/// register than its source, that chains the iterations of the FSE table builds (their
/// transitions take the successor number's highest bit), and those builds ran 2.7 times slower in
/// such a build. Both paths give the same bytes (tested).
pub(crate) fn decode_compressed(
    src: &[u8],
    state: &mut BlockState,
    o: &mut Output<'_, '_>,
    block_max: usize,
    bmi2: bool,
) -> Result<()> {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    if bmi2 {
        // SAFETY: `bmi2` is true only when CPUID reported AVX2, BMI1, BMI2 and LZCNT on this CPU and
        // the OS saves the YMM state (`Decompressor` takes it from the AVX2 backend's detection,
        // which requires all of them).
        return unsafe { decode_compressed_bmi2(src, state, o, block_max) };
    }
    let _ = bmi2;
    decode_compressed_portable(src, state, o, block_max)
}

fn decode_compressed_portable(
    src: &[u8],
    state: &mut BlockState,
    o: &mut Output<'_, '_>,
    block_max: usize,
) -> Result<()> {
    decode_compressed_body(src, state, o, block_max)
}

/// # Safety
/// The CPU must support BMI1, BMI2, LZCNT and AVX2 (with the OS saving the YMM state).
#[cfg(all(target_arch = "x86_64", not(miri)))]
#[target_feature(enable = "bmi1,bmi2,avx2,lzcnt")]
unsafe fn decode_compressed_bmi2(
    src: &[u8],
    state: &mut BlockState,
    o: &mut Output<'_, '_>,
    block_max: usize,
) -> Result<()> {
    decode_compressed_body(src, state, o, block_max)
}

/// The block decoder itself; everything it calls on the hot path is `inline(always)`, so each
/// wrapper above compiles it whole for its instruction set. The literals are decoded whole before
/// the sequence tables are read: setting the tables up between the Huffman tree and its streams
/// (so that the streams' independent work would follow the tables' dependent reading) measured 3%
/// slower on memdump and files pages.
#[inline(always)]
fn decode_compressed_body(
    src: &[u8],
    state: &mut BlockState,
    o: &mut Output<'_, '_>,
    block_max: usize,
) -> Result<()> {
    let (lit_count, used) = literals::decode(
        src,
        o.dst,
        o.out,
        block_max,
        &mut state.huffman,
        &mut state.has_huffman,
    )?;
    o.lit = o.dst.len() - lit_count;
    sequences::decode_and_execute(
        src.get(used..).unwrap_or(&[]),
        &mut state.sequences,
        &mut state.repeat_offsets,
        &mut state.spread,
        o,
    )
}
