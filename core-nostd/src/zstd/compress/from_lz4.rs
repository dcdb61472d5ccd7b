//! Zstandard frames from LZ4 blocks: LZ4's parse (literal runs and matches) entropy-coded as one
//! RFC 8878 frame, without a second match search.
//!
//! Why: on memory pages most of what Zstandard gains over LZ4 comes from its entropy stage (Huffman
//! literals, FSE-coded sequences with repeat offsets), not from finding other matches. An adaptive
//! compressor that has already run LZ4 on a page can give that parse to the entropy stage and get
//! most of the gain for the cost of the entropy stage alone. Every LZ4 match is a valid Zstandard
//! match (at least 4 bytes, offset within what was decoded), offsets equal to a recent one become
//! repeat codes, and the last literals become the block's trailing literals.
//!
//! The frame decodes to exactly the bytes the LZ4 block decodes to, so any LZ4 block is accepted,
//! not only ours: its structure is checked as the LZ4 decoder checks it (every length, offset and
//! position), and a malformed block is an [`Lz4Error`], never a panic.

use super::block;
use super::literals::LiteralsEncoder;
use super::sequences::{BLOCK_MAX, SeqStore, Sequence, SequenceTables};
use crate::error::{Error, Result};
use crate::lz4::{Field, Lz4Error};
use crate::simd::SimdBackend;
use crate::zstd::tables::{BLOCK_HEADER_SIZE, FRAME_MAGIC, INITIAL_REPEAT_OFFSETS};

/// Block_Type of a compressed block.
const COMPRESSED_BLOCK: u32 = 2;
/// A match in an LZ4 block is at least this long.
const LZ4_MIN_MATCH: usize = 4;

/// Re-encodes LZ4 blocks of up to [`BLOCK_MAX`] (4096) decoded bytes as Zstandard frames. Holds
/// the sequence store and the entropy tables (about 30 KiB: [`Lz4Recoder::FOOTPRINT`]) so that a
/// caller keeps one and sets up nothing per block. Nothing is allocated.
#[derive(Clone)]
pub struct Lz4Recoder {
    /// Whether the entropy stage runs the build for AVX2 and BMI2 (same output, faster).
    wide: bool,
    store: SeqStore,
    tables: SequenceTables,
    literals: LiteralsEncoder,
}

impl core::fmt::Debug for Lz4Recoder {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Lz4Recoder")
            .field("wide", &self.wide)
            .finish_non_exhaustive()
    }
}

impl Default for Lz4Recoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Lz4Recoder {
    /// Bytes a recoder occupies.
    pub const FOOTPRINT: usize = core::mem::size_of::<Self>();
    /// The most bytes a block may decode to.
    pub const MAX_CONTENT: usize = BLOCK_MAX;

    /// A recoder on the best backend of this CPU.
    pub fn new() -> Self {
        Self {
            wide: SimdBackend::Avx2.is_available(),
            store: SeqStore::new(),
            tables: SequenceTables::new(),
            literals: LiteralsEncoder::new(true),
        }
    }

    /// Runs on `backend` (resolved to one this CPU has): AVX2 or wider uses the build for AVX2 and
    /// BMI2. The frames are the same bytes on every backend.
    pub fn with_backend(mut self, backend: SimdBackend) -> Self {
        self.wide = matches!(backend.resolve(), SimdBackend::Avx2 | SimdBackend::Avx512);
        self
    }

    /// Writes one frame (content size given, no checksum, one compressed block) holding what the
    /// LZ4 block `lz4_block` decodes to (at most [`Self::MAX_CONTENT`] bytes) at the start of `dst`;
    /// returns its length. A malformed block is an [`Error::Lz4`]; a frame that does not fit `dst` is
    /// [`Error::OutputTooSmall`], which is also what a caller sees when the entropy stage does not
    /// shrink the content (the frame would not be smaller than a raw block): give `dst` only as
    /// much room as the frame may take to be worth it.
    pub fn recode_into(&mut self, lz4_block: &[u8], dst: &mut [u8]) -> Result<usize> {
        let content = parse(lz4_block, &mut self.store)?.decoded;
        self.literals.set_huffman(true);
        self.write_frame(content, dst)
    }

    /// [`Self::recode_into`] for the LZ4 block `buf[..block_len]`, writing the frame over it (the
    /// block is read whole before the frame is written): a frame is returned only when it is
    /// shorter than the block, so that a caller needs no second page-sized buffer. On an error,
    /// `buf` holds unspecified bytes.
    pub fn recode_in_place(&mut self, buf: &mut [u8], block_len: usize) -> Result<usize> {
        let content = self.parse_leading_block(buf, block_len)?.decoded;
        self.literals.set_huffman(true);
        let room = block_len.saturating_sub(1);
        self.write_frame(content, buf.get_mut(..room).unwrap_or_default())
    }

    /// [`Self::recode_in_place`], with `decide` choosing from the parsed block how the frame is
    /// written. The parse costs a fraction of the entropy stage, so a caller can choose after it.
    pub fn recode_in_place_with(
        &mut self,
        buf: &mut [u8],
        block_len: usize,
        decide: impl FnOnce(&ParsedBlock) -> Recode,
    ) -> Result<usize> {
        let parsed = self.parse_leading_block(buf, block_len)?;
        let huffman = match decide(&parsed) {
            Recode::RawLiterals => false,
            Recode::HuffmanLiterals => true,
        };
        self.literals.set_huffman(huffman);
        let room = block_len.saturating_sub(1);
        self.write_frame(parsed.decoded, buf.get_mut(..room).unwrap_or_default())
    }

    /// Parses the LZ4 block `buf[..block_len]` into the sequence store.
    fn parse_leading_block(&mut self, buf: &[u8], block_len: usize) -> Result<ParsedBlock> {
        let block = buf.get(..block_len).ok_or(Error::Truncated {
            offset: 0,
            needed: block_len,
            available: buf.len(),
        })?;
        Ok(parse(block, &mut self.store)?)
    }

    /// Writes the frame of the parsed block (`content` bytes) into `dst`.
    fn write_frame(&mut self, content: usize, dst: &mut [u8]) -> Result<usize> {
        let available = dst.len();
        let (header, header_len) = frame_header(content);
        dst.get_mut(..header_len)
            .ok_or(Error::OutputTooSmall {
                needed: header_len,
                available,
            })?
            .copy_from_slice(&header[..header_len]);
        let body_at = header_len + BLOCK_HEADER_SIZE;
        // The body goes after the block header's room.
        let body = self.write_body(dst.get_mut(header_len..).unwrap_or_default());
        let too_small = Error::OutputTooSmall {
            // A lower bound: the frame needs more than the room it was given.
            needed: available + 1,
            available,
        };
        let body = match body {
            // A compressed block as large as its content would be a raw block: not worth a frame.
            Some(len) if len < content => len,
            _ => return Err(too_small),
        };
        let last_block = 1u32;
        let block_header = last_block | (COMPRESSED_BLOCK << 1) | (u32_of(body) << 3);
        dst.get_mut(header_len..body_at)
            .ok_or(too_small)?
            .copy_from_slice(&block_header.to_le_bytes()[..BLOCK_HEADER_SIZE]);
        Ok(body_at + body)
    }

    /// Entropy-codes the parsed block into `out` after room for the block header; returns the
    /// body's length, or `None` when it does not fit.
    fn write_body(&mut self, out: &mut [u8]) -> Option<usize> {
        #[cfg(target_arch = "x86_64")]
        if self.wide {
            // SAFETY: `wide` is only set when `SimdBackend::Avx2` is available, which detection
            // grants only on CPUs (and OSes) with AVX2, BMI1 and BMI2.
            return unsafe { self.write_body_avx2(out) };
        }
        self.write_body_any(out)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,bmi1,bmi2")]
    unsafe fn write_body_avx2(&mut self, out: &mut [u8]) -> Option<usize> {
        self.write_body_any(out)
    }

    #[inline(always)]
    fn write_body_any(&mut self, out: &mut [u8]) -> Option<usize> {
        block::compressed_body(&self.store, &mut self.literals, &mut self.tables, out)
    }
}

/// What an LZ4 block holds, from the recoder's parse of it: what a caller needs to choose how the
/// frame is written ([`Lz4Recoder::recode_in_place_with`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ParsedBlock {
    /// Length of the LZ4 block in bytes.
    pub lz4_len: usize,
    /// Bytes it decodes to.
    pub decoded: usize,
    /// Literal bytes, the trailing ones included.
    pub literals: usize,
    /// Matches.
    pub sequences: usize,
}

/// How a parsed LZ4 block is written ([`Lz4Recoder::recode_in_place_with`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Recode {
    /// A frame with the literals sent raw: only the sequences are entropy-coded.
    RawLiterals,
    /// A frame with Huffman-coded literals when that is smaller than raw.
    HuffmanLiterals,
}

/// A length below [`BLOCK_MAX`] plus a header, as the `u32` the block header packs it in.
fn u32_of(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// Magic number, frame header descriptor (single segment, content size in 1 or 2 bytes, no
/// checksum, no dictionary) and content size, for `content` bytes (at most [`BLOCK_MAX`]): the
/// header and its length.
fn frame_header(content: usize) -> ([u8; 7], usize) {
    const SINGLE_SEGMENT: u8 = 1 << 5;
    let mut header = [0u8; 7];
    header[..4].copy_from_slice(&FRAME_MAGIC.to_le_bytes());
    if let Ok(size) = u8::try_from(content) {
        // Frame_Content_Size_Flag 0 with a single segment: one byte.
        header[4] = SINGLE_SEGMENT;
        header[5] = size;
        (header, 6)
    } else {
        // Flag 1: two bytes holding the size minus 256 (content <= BLOCK_MAX, so it fits).
        header[4] = (1 << 6) | SINGLE_SEGMENT;
        let size = u16::try_from(content - 256).unwrap_or(u16::MAX);
        header[5..7].copy_from_slice(&size.to_le_bytes());
        (header, 7)
    }
}

/// Reads an LZ4 length extension: bytes of 255 continue it, the first other byte ends it. Returns
/// the added length and the position after it.
#[inline(always)]
fn length_extension(block: &[u8], mut ip: usize) -> core::result::Result<(usize, usize), Lz4Error> {
    let mut extra = 0usize;
    loop {
        let byte = *block.get(ip).ok_or(Lz4Error::Truncated {
            offset: ip,
            needed: 1,
            field: Field::LengthByte,
        })?;
        ip += 1;
        extra += usize::from(byte);
        // A block long enough to overflow this would not fit in memory; the cap keeps the sum exact
        // for every block that can exist and turns anything longer into an overrun below.
        if byte != 255 || extra > BLOCK_MAX {
            return Ok((extra, ip));
        }
    }
}

/// The `Offset_Value` of a match `offset` bytes back, after literals or not, and the repeat
/// offsets after it, as RFC 8878 "Repeat Offsets" says. Without branches: which case applies is
/// data-dependent and unpredictable on memory pages, and a mispredicted branch costs more than
/// computing every case.
#[inline(always)]
fn offset_value(reps: [u32; 3], has_literals: bool, offset: u32) -> (u32, [u32; 3]) {
    let [r0, r1, r2] = reps;
    let is0 = has_literals & (offset == r0);
    let is1 = offset == r1;
    let is2 = offset == r2;
    // With literals, codes 1..=3 mean r0, r1, r2; without, r1, r2 and r0 - 1.
    let code = if has_literals {
        let c = if is2 { 3 } else { offset + 3 };
        let c = if is1 { 2 } else { c };
        if is0 { 1 } else { c }
    } else {
        let c = if offset == r0.wrapping_sub(1) {
            3
        } else {
            offset + 3
        };
        let c = if is2 { 2 } else { c };
        if is1 { 1 } else { c }
    };
    // The newest offset is always this one; the others shift down past the one it repeats.
    let new1 = if is0 { r1 } else { r0 };
    let new2 = if is0 | is1 { r2 } else { r1 };
    (code, [offset, new1, new2])
}

/// Fills `store` with the sequences of `block`, checking every field; returns what the block
/// holds. One pass that writes the store's arrays directly, with the repeat offsets in registers.
#[inline(always)]
fn parse(block: &[u8], store: &mut SeqStore) -> core::result::Result<ParsedBlock, Lz4Error> {
    let overrun = |position: usize, needed: usize| Lz4Error::OutputOverrun {
        position,
        needed,
        capacity: BLOCK_MAX,
    };
    let mut reps = INITIAL_REPEAT_OFFSETS;
    let mut ip = 0usize;
    // Bytes the sequences so far decode to; literal bytes and sequences stored.
    let mut decoded = 0usize;
    let mut lit_count = 0usize;
    let mut count = 0usize;
    loop {
        let Some(&token) = block.get(ip) else {
            return Err(Lz4Error::Truncated {
                offset: ip,
                needed: 1,
                field: Field::Token,
            });
        };
        ip += 1;
        let mut lit_len = usize::from(token >> 4);
        if lit_len == 15 {
            let (extra, next) = length_extension(block, ip)?;
            lit_len += extra;
            ip = next;
        }
        let lit_start = ip;
        let lit_end = lit_start + lit_len;
        if lit_end > block.len() {
            return Err(Lz4Error::Truncated {
                offset: lit_start,
                needed: lit_end - block.len(),
                field: Field::Literals,
            });
        }
        if decoded + lit_len > BLOCK_MAX {
            return Err(overrun(decoded, lit_len));
        }
        // lit_count <= decoded, so the store (16 bytes of room past BLOCK_MAX) takes the run, and a
        // short run as 16 bytes when the block has them (the bytes past the run are overwritten
        // by the next literals or ignored).
        match (
            block.get(lit_start..lit_start + 16),
            store.lits.get_mut(lit_count..lit_count + 16),
        ) {
            (Some(src), Some(dst)) if lit_len <= 16 => dst.copy_from_slice(src),
            _ => {
                if let (Some(src), Some(dst)) = (
                    block.get(lit_start..lit_end),
                    store.lits.get_mut(lit_count..lit_count + lit_len),
                ) {
                    dst.copy_from_slice(src);
                }
            }
        }
        lit_count += lit_len;
        decoded += lit_len;
        ip = lit_end;
        if ip == block.len() {
            // The last sequence: literals only, the block's trailing literals.
            store.count = count;
            store.lit_count = lit_count;
            store.reps = reps;
            return Ok(ParsedBlock {
                lz4_len: block.len(),
                decoded,
                literals: lit_count,
                sequences: count,
            });
        }
        let Some(offset_bytes) = block.get(ip..ip + 2) else {
            return Err(Lz4Error::Truncated {
                offset: ip,
                needed: ip + 2 - block.len(),
                field: Field::Offset,
            });
        };
        let offset = u32::from(u16::from_le_bytes([offset_bytes[0], offset_bytes[1]]));
        if offset == 0 {
            return Err(Lz4Error::ZeroOffset { offset: ip });
        }
        if offset as usize > decoded {
            return Err(Lz4Error::OffsetBeforeStart {
                offset: ip,
                distance: offset as usize,
                position: decoded,
            });
        }
        ip += 2;
        let mut match_len = usize::from(token & 15);
        if match_len == 15 {
            let (extra, next) = length_extension(block, ip)?;
            match_len += extra;
            ip = next;
        }
        match_len += LZ4_MIN_MATCH;
        if decoded + match_len > BLOCK_MAX {
            return Err(overrun(decoded, match_len));
        }
        decoded += match_len;
        let (off_base, next_reps) = offset_value(reps, lit_len > 0, offset);
        reps = next_reps;
        // Every match is at least 4 bytes, so a block holds fewer sequences than the store.
        if let Some(seq) = store.seqs.get_mut(count) {
            #[allow(clippy::cast_possible_truncation)] // both lengths are at most BLOCK_MAX
            {
                *seq = Sequence {
                    lit_len: lit_len as u16,
                    match_len: match_len as u16,
                    off_base,
                };
            }
            count += 1;
        }
    }
}

// A recoder is about 30 KiB: the sequence store, the entropy tables and the Huffman code.
const _: () = assert!(Lz4Recoder::FOOTPRINT <= 32 * 1024);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PAGE_SIZE;

    fn page_of_text() -> [u8; PAGE_SIZE] {
        let mut page = [0u8; PAGE_SIZE];
        let mut x = 0x9e37_79b9u32;
        for (i, b) in page.iter_mut().enumerate() {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            *b = if (x >> 28) < 5 {
                b"memory page "[i % 12]
            } else {
                b"etaoinshr"[(x >> 20) as usize % 9]
            };
        }
        page
    }

    fn recode(block: &[u8]) -> Result<([u8; PAGE_SIZE], usize)> {
        let mut frame = [0u8; PAGE_SIZE];
        let n = Lz4Recoder::new().recode_into(block, &mut frame)?;
        Ok((frame, n))
    }

    #[test]
    fn a_recoded_page_decodes_to_the_page() {
        let page = page_of_text();
        let mut block = [0u8; PAGE_SIZE + 64];
        let n = crate::lz4::compress_into(&page, &mut block).unwrap();
        let (frame, len) = recode(&block[..n]).unwrap();
        assert!(len < n, "the entropy stage shrinks it: {len} against {n}");
        let mut out = [0u8; PAGE_SIZE];
        assert_eq!(
            crate::zstd::decompress_into(&frame[..len], &mut out).unwrap(),
            PAGE_SIZE
        );
        assert_eq!(out, page);
    }

    #[test]
    fn short_contents_decode_too() {
        // Literals only, one match of the smallest length, and a content below 256 bytes.
        for src in [&b"abc"[..], b"abcdabcdabcdabcdabcd 0123456789 xyz"] {
            let mut block = [0u8; 128];
            let n = crate::lz4::compress_into(src, &mut block).unwrap();
            let mut frame = [0u8; 128];
            // Not smaller than a raw block: refused; with the content size's one byte, the header
            // takes 6 bytes.
            if let Ok(len) = Lz4Recoder::new().recode_into(&block[..n], &mut frame) {
                assert_eq!(frame[4], 1 << 5);
                let mut out = [0u8; 64];
                let d = crate::zstd::decompress_into(&frame[..len], &mut out).unwrap();
                assert_eq!(&out[..d], src);
            }
        }
    }

    #[test]
    fn offset_values_follow_the_sequence_store() {
        // Offsets drawn from a few values, so that every repeat case (and duplicates among the
        // repeat offsets) occurs, against SeqStore's own bookkeeping.
        let mut store = SeqStore::new();
        let mut reps = INITIAL_REPEAT_OFFSETS;
        let mut x = 0x1234_5678u32;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let offset = [1, 2, 3, 4, 7, 8, 9, 16, 300][(x % 9) as usize];
            let has_literals = (x >> 8) & 1 == 1;
            store.clear();
            store.push(if has_literals { b"x" } else { b"" }, offset, 4);
            let (code, next) = offset_value(reps, has_literals, offset);
            assert_eq!((code, next), (store.seqs[0].off_base, store.reps));
            reps = next;
        }
    }

    #[test]
    fn malformed_blocks_are_lz4_errors() {
        // A token announcing literals that are not there.
        assert!(matches!(
            recode(&[0x50, b'a']),
            Err(Error::Lz4(Lz4Error::Truncated {
                field: Field::Literals,
                ..
            }))
        ));
        // An offset reaching before the start.
        assert!(matches!(
            recode(&[0x10, b'a', 2, 0, 0x00]),
            Err(Error::Lz4(Lz4Error::OffsetBeforeStart { distance: 2, .. }))
        ));
        // Offset zero.
        assert!(matches!(
            recode(&[0x10, b'a', 0, 0, 0x00]),
            Err(Error::Lz4(Lz4Error::ZeroOffset { .. }))
        ));
        // Decoding to more than a block.
        let mut long = [255u8; 40];
        long[0] = 0x1f;
        long[1] = b'a';
        long[2] = 1;
        long[3] = 0;
        assert!(matches!(
            recode(&long),
            Err(Error::Lz4(Lz4Error::OutputOverrun { .. }))
        ));
        // Empty.
        assert!(matches!(
            recode(&[]),
            Err(Error::Lz4(Lz4Error::Truncated {
                field: Field::Token,
                ..
            }))
        ));
    }

    #[test]
    fn a_frame_that_does_not_fit_is_output_too_small() {
        let page = page_of_text();
        let mut block = [0u8; PAGE_SIZE + 64];
        let n = crate::lz4::compress_into(&page, &mut block).unwrap();
        let (_, len) = recode(&block[..n]).unwrap();
        let mut frame = [0u8; PAGE_SIZE];
        let mut recoder = Lz4Recoder::new();
        assert!(matches!(
            recoder.recode_into(&block[..n], &mut frame[..len - 1]),
            Err(Error::OutputTooSmall { .. })
        ));
        assert_eq!(
            recoder.recode_into(&block[..n], &mut frame[..len]).unwrap(),
            len
        );
    }

    #[test]
    fn in_place_recoding_writes_the_same_frame_over_the_block() {
        let page = page_of_text();
        let mut block = [0u8; PAGE_SIZE + 64];
        let n = crate::lz4::compress_into(&page, &mut block).unwrap();
        let (frame, len) = recode(&block[..n]).unwrap();
        let mut recoder = Lz4Recoder::new();
        assert_eq!(recoder.recode_in_place(&mut block, n).unwrap(), len);
        assert_eq!(block[..len], frame[..len]);
        // A block longer than the buffer is refused; so is one the frame cannot beat.
        assert!(matches!(
            recoder.recode_in_place(&mut block[..10], 11),
            Err(Error::Truncated { .. })
        ));
        let mut short = [0u8; 32];
        let m = crate::lz4::compress_into(b"abcdefgh", &mut short).unwrap();
        assert!(matches!(
            recoder.recode_in_place(&mut short, m),
            Err(Error::OutputTooSmall { .. })
        ));
    }

    #[test]
    fn a_caller_decides_from_the_parse() {
        let page = page_of_text();
        let mut block = [0u8; PAGE_SIZE + 64];
        let n = crate::lz4::compress_into(&page, &mut block).unwrap();
        let original = block;
        let mut recoder = Lz4Recoder::new();
        let mut seen = None;
        // Raw literals: a larger frame than with Huffman on this text, and it decodes.
        let (_, huffman_len) = recode(&block[..n]).unwrap();
        let raw_len = recoder
            .recode_in_place_with(&mut block, n, |p| {
                seen = Some(*p);
                Recode::RawLiterals
            })
            .unwrap();
        let parsed = seen.unwrap();
        assert_eq!((parsed.lz4_len, parsed.decoded), (n, PAGE_SIZE));
        assert!(parsed.literals > 0 && parsed.sequences > 0);
        assert!(
            huffman_len < raw_len && raw_len < n,
            "{huffman_len} {raw_len} {n}"
        );
        let mut out = [0u8; PAGE_SIZE];
        crate::zstd::decompress_into(&block[..raw_len], &mut out).unwrap();
        assert_eq!(out, page);
        let mut again = original;
        let len = recoder
            .recode_in_place_with(&mut again, n, |_| Recode::HuffmanLiterals)
            .unwrap();
        assert_eq!(len, huffman_len);
    }

    #[test]
    fn every_backend_writes_the_same_frames() {
        let page = page_of_text();
        let mut block = [0u8; PAGE_SIZE + 64];
        let n = crate::lz4::compress_into(&page, &mut block).unwrap();
        let (reference, len) = {
            let mut frame = [0u8; PAGE_SIZE];
            let mut r = Lz4Recoder::new().with_backend(SimdBackend::Scalar);
            let len = r.recode_into(&block[..n], &mut frame).unwrap();
            (frame, len)
        };
        for backend in SimdBackend::available() {
            let mut frame = [0u8; PAGE_SIZE];
            let mut r = Lz4Recoder::new().with_backend(backend);
            assert_eq!(r.recode_into(&block[..n], &mut frame).unwrap(), len);
            assert_eq!(frame[..len], reference[..len], "{backend}");
        }
    }
}
