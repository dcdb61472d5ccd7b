//! The literals section of a compressed block (RFC 8878, 3.1.1.3.1): raw, RLE, Huffman-compressed
//! with a new tree, or treeless (the previous tree again), in one or four streams.
//!
//! Literals are decoded into the tail of the destination, past where this block's output can reach
//! until its sequences have consumed them: no literal buffer is needed, and a destination that cannot
//! hold the literals cannot hold the block's output either.

use super::error::ZstdError;
use super::huffman::HuffmanTable;

type Result<T> = core::result::Result<T, ZstdError>;

/// The literals section header (3.1.1.3.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Header {
    kind: Kind,
    header_size: usize,
    regenerated: usize,
    /// Bytes after the header: the raw literals, the RLE byte, or tree and streams.
    compressed: usize,
    four_streams: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Raw,
    Rle,
    Compressed,
    Treeless,
}

fn truncated(needed: usize, available: usize) -> ZstdError {
    ZstdError::Truncated {
        what: "literals section header",
        needed,
        available,
    }
}

#[inline(always)]
fn read_header(src: &[u8]) -> Result<Header> {
    let Some(&b0) = src.first() else {
        return Err(truncated(1, 0));
    };
    let kind = match b0 & 3 {
        0 => Kind::Raw,
        1 => Kind::Rle,
        2 => Kind::Compressed,
        _ => Kind::Treeless,
    };
    let size_format = (b0 >> 2) & 3;
    let byte = |i: usize| -> Result<usize> {
        src.get(i)
            .map(|&b| usize::from(b))
            .ok_or(truncated(i + 1, src.len()))
    };
    match kind {
        Kind::Raw | Kind::Rle => {
            let (header_size, regenerated) = match size_format {
                0 | 2 => (1, usize::from(b0 >> 3)),
                1 => (2, usize::from(b0 >> 4) + (byte(1)? << 4)),
                _ => (3, usize::from(b0 >> 4) + (byte(1)? << 4) + (byte(2)? << 12)),
            };
            let compressed = if kind == Kind::Raw { regenerated } else { 1 };
            Ok(Header {
                kind,
                header_size,
                regenerated,
                compressed,
                four_streams: false,
            })
        }
        Kind::Compressed | Kind::Treeless => {
            let (header_size, size_bits) = match size_format {
                0 | 1 => (3, 10),
                2 => (4, 14),
                _ => (5, 18),
            };
            let mut fields: u64 = 0;
            for i in 0..header_size {
                fields |= (byte(i)? as u64) << (8 * i);
            }
            let mask = (1u64 << size_bits) - 1;
            #[allow(clippy::cast_possible_truncation)] // masked to at most 18 bits
            let regenerated = ((fields >> 4) & mask) as usize;
            #[allow(clippy::cast_possible_truncation)]
            let compressed = ((fields >> (4 + size_bits)) & mask) as usize;
            Ok(Header {
                kind,
                header_size,
                regenerated,
                compressed,
                four_streams: size_format != 0,
            })
        }
    }
}

/// Decodes the literals section at the start of `block` into the tail of `dst` (whose first
/// `out_pos` bytes are output already). Returns the number of literals, now at
/// `dst[dst.len() - count..]`, and the bytes of `block` the section took.
#[inline(always)]
pub(crate) fn decode(
    block: &[u8],
    dst: &mut [u8],
    out_pos: usize,
    block_max: usize,
    huffman: &mut HuffmanTable,
    has_huffman: &mut bool,
) -> Result<(usize, usize)> {
    let header = read_header(block)?;
    let regenerated = header.regenerated;
    if regenerated > block_max {
        return Err(ZstdError::BlockTooLarge {
            size: regenerated,
            limit: block_max,
        });
    }
    let section_end = header.header_size + header.compressed;
    let body = block
        .get(header.header_size..section_end)
        .ok_or(ZstdError::Truncated {
            what: "literals section",
            needed: section_end,
            available: block.len(),
        })?;
    let room = dst.len().saturating_sub(out_pos);
    if regenerated > room {
        return Err(ZstdError::OutputTooSmall {
            needed: (out_pos + regenerated) as u64,
            available: dst.len(),
        });
    }
    let start = dst.len() - regenerated;
    let out = &mut dst[start..];
    match header.kind {
        Kind::Raw => out.copy_from_slice(body),
        Kind::Rle => out.fill(body[0]),
        Kind::Compressed | Kind::Treeless => {
            let streams_at = if header.kind == Kind::Compressed {
                let used = huffman.read(body)?;
                *has_huffman = true;
                header.header_size + used.min(body.len())
            } else if *has_huffman {
                header.header_size
            } else {
                return Err(ZstdError::NoPreviousTable {
                    what: "treeless literals section",
                });
            };
            // The section from the block's start: the 4-stream loop may load the bytes before
            // the streams.
            let section = block.get(..section_end).unwrap_or(&[]);
            if header.four_streams {
                huffman.decode_4_streams(section, streams_at, out)?;
            } else {
                huffman.decode_1_stream(section.get(streams_at..).unwrap_or(&[]), out)?;
            }
        }
    }
    Ok((regenerated, section_end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_sizes_of_every_format() {
        // Raw, 5-bit size 7.
        let h = read_header(&[7 << 3]).unwrap();
        assert_eq!((h.kind, h.header_size, h.regenerated), (Kind::Raw, 1, 7));
        // RLE, 12-bit size 0x123.
        let h = read_header(&[0x31 | 0x4, 0x12]).unwrap();
        assert_eq!(
            (h.kind, h.header_size, h.regenerated),
            (Kind::Rle, 2, 0x123)
        );
        // Raw, 20-bit size.
        let h = read_header(&[0xF0 | 0xC, 0xFF, 0xFF]).unwrap();
        assert_eq!(h.regenerated, 0xFFFFF);
        // Compressed, 4 streams, 14-bit sizes: regenerated 1000, compressed 500.
        let fields: u64 = 2 | (2 << 2) | (1000 << 4) | (500 << 18);
        let b = fields.to_le_bytes();
        let h = read_header(&b[..4]).unwrap();
        assert_eq!(
            (
                h.kind,
                h.header_size,
                h.regenerated,
                h.compressed,
                h.four_streams
            ),
            (Kind::Compressed, 4, 1000, 500, true)
        );
        assert!(matches!(
            read_header(&[0x0C, 1]),
            Err(ZstdError::Truncated { .. })
        ));
    }

    #[test]
    fn treeless_without_a_previous_tree_fails() {
        let mut dst = [0u8; 64];
        let mut huffman = HuffmanTable::EMPTY;
        let mut has = false;
        // Treeless, 1 stream, regenerated 4, compressed 1.
        let fields: u32 = 3 | (4 << 4) | (1 << 14);
        let b = fields.to_le_bytes();
        let block = [b[0], b[1], b[2], 0x80];
        assert_eq!(
            decode(&block, &mut dst, 0, 1 << 17, &mut huffman, &mut has),
            Err(ZstdError::NoPreviousTable {
                what: "treeless literals section"
            })
        );
    }
}
