//! Frames (RFC 8878, 3.1): the frame header with its window, dictionary ID and content size, the
//! skippable frames (3.1.2), and the content checksum.

use super::error::ZstdError;
use super::tables::{
    CHECKSUM_SIZE, FRAME_MAGIC, SKIPPABLE_MAGIC_BASE, SKIPPABLE_MAGIC_MASK, WINDOW_LOG_MIN,
};

type Result<T> = core::result::Result<T, ZstdError>;

/// What a frame header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FrameHeader {
    /// Bytes of the magic number and the header.
    pub(crate) size: usize,
    /// `Window_Size`: how far back matches may reach.
    pub(crate) window_size: u64,
    /// `Frame_Content_Size`, when present.
    pub(crate) content_size: Option<u64>,
    /// `Dictionary_ID`, 0 when absent.
    pub(crate) dictionary_id: u32,
    /// Whether a 4-byte content checksum follows the last block.
    pub(crate) has_checksum: bool,
}

/// What starts at an offset of the input.
pub(crate) enum FrameKind {
    /// A Zstandard frame.
    Zstd,
    /// A skippable frame of this many bytes in all.
    Skippable(usize),
}

fn le(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .rev()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
}

fn field<'a>(src: &'a [u8], at: usize, len: usize, what: &'static str) -> Result<&'a [u8]> {
    src.get(at..at + len).ok_or(ZstdError::Truncated {
        what,
        needed: at + len,
        available: src.len(),
    })
}

/// Tells a Zstandard frame from a skippable one by the magic number at the start of `src`
/// (`offset` is where `src` starts in the whole input, for the error).
pub(crate) fn kind(src: &[u8], offset: usize) -> Result<FrameKind> {
    #[allow(clippy::cast_possible_truncation)] // four bytes
    let magic = le(field(src, 0, 4, "frame magic number")?) as u32;
    if magic == FRAME_MAGIC {
        return Ok(FrameKind::Zstd);
    }
    if magic & SKIPPABLE_MAGIC_MASK == SKIPPABLE_MAGIC_BASE {
        let size = le(field(src, 4, 4, "skippable frame size")?);
        let total = usize::try_from(size)
            .ok()
            .and_then(|s| s.checked_add(8))
            .unwrap_or(usize::MAX);
        if total > src.len() {
            return Err(ZstdError::Truncated {
                what: "skippable frame",
                needed: total,
                available: src.len(),
            });
        }
        return Ok(FrameKind::Skippable(total));
    }
    Err(ZstdError::BadMagic { offset, magic })
}

/// Reads the header of the Zstandard frame at the start of `src` (after its magic number was
/// checked by [`kind`]).
pub(crate) fn read_header(src: &[u8]) -> Result<FrameHeader> {
    const WHAT: &str = "frame header";
    let descriptor = field(src, 4, 1, WHAT)?[0];
    let content_size_flag = descriptor >> 6;
    let single_segment = descriptor & 0x20 != 0;
    if descriptor & 0x08 != 0 {
        return Err(ZstdError::ReservedBit {
            what: "frame header descriptor",
        });
    }
    let has_checksum = descriptor & 0x04 != 0;
    let dictionary_id_size = [0, 1, 2, 4][usize::from(descriptor & 3)];
    let content_size_size = match content_size_flag {
        0 if single_segment => 1,
        0 => 0,
        1 => 2,
        2 => 4,
        _ => 8,
    };
    let mut pos = 5;
    let mut window_size = 0;
    if !single_segment {
        let w = field(src, pos, 1, WHAT)?[0];
        let log = WINDOW_LOG_MIN + u32::from(w >> 3);
        let base = 1u64 << log;
        window_size = base + (base / 8) * u64::from(w & 7);
        pos += 1;
    }
    #[allow(clippy::cast_possible_truncation)] // at most four bytes
    let dictionary_id = le(field(src, pos, dictionary_id_size, WHAT)?) as u32;
    pos += dictionary_id_size;
    let content_size = if content_size_size == 0 {
        None
    } else {
        let raw = le(field(src, pos, content_size_size, WHAT)?);
        pos += content_size_size;
        Some(if content_size_size == 2 {
            raw + 256
        } else {
            raw
        })
    };
    if single_segment {
        window_size = content_size.unwrap_or(0);
    }
    Ok(FrameHeader {
        size: pos,
        window_size,
        content_size,
        dictionary_id,
        has_checksum,
    })
}

/// Checks the content checksum at the start of `src` against `content`; returns its size.
pub(crate) fn verify_checksum(src: &[u8], content: &[u8]) -> Result<usize> {
    #[allow(clippy::cast_possible_truncation)] // four bytes
    let stored = le(field(src, 0, CHECKSUM_SIZE, "content checksum")?) as u32;
    #[allow(clippy::cast_possible_truncation)] // the checksum is the low 32 bits by definition
    let computed = xxhash_rust::xxh64::xxh64(content, 0) as u32;
    if stored != computed {
        return Err(ZstdError::ChecksumMismatch { stored, computed });
    }
    Ok(CHECKSUM_SIZE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields() {
        // Single segment, 2-byte content size (value + 256), checksum, 1-byte dictionary ID.
        let src = [
            0x28,
            0xB5,
            0x2F,
            0xFD,
            0x40 | 0x20 | 0x04 | 0x01,
            7,
            0x10,
            0x00,
        ];
        let h = read_header(&src).unwrap();
        assert_eq!(h.size, 8);
        assert_eq!(h.content_size, Some(0x10 + 256));
        assert_eq!(h.window_size, 0x110);
        assert_eq!(h.dictionary_id, 7);
        assert!(h.has_checksum);
        // Window descriptor: exponent 2, mantissa 3 -> 4 KiB + 3 * 512.
        let src = [0x28, 0xB5, 0x2F, 0xFD, 0x00, (2 << 3) | 3];
        let h = read_header(&src).unwrap();
        assert_eq!(h.window_size, 4096 + 3 * 512);
        assert_eq!(h.content_size, None);
        // Reserved bit.
        assert!(matches!(
            read_header(&[0x28, 0xB5, 0x2F, 0xFD, 0x08, 0]),
            Err(ZstdError::ReservedBit { .. })
        ));
        // 8-byte content size, truncated.
        assert!(matches!(
            read_header(&[0x28, 0xB5, 0x2F, 0xFD, 0xE0, 1, 2]),
            Err(ZstdError::Truncated { .. })
        ));
    }

    #[test]
    fn skippable_frames_and_bad_magic() {
        let src = [0x5A, 0x2A, 0x4D, 0x18, 2, 0, 0, 0, 9, 9];
        assert!(matches!(kind(&src, 0), Ok(FrameKind::Skippable(10))));
        assert!(matches!(
            kind(&src[..9], 0),
            Err(ZstdError::Truncated { .. })
        ));
        assert_eq!(
            kind(&[1, 2, 3, 4], 5).err(),
            Some(ZstdError::BadMagic {
                offset: 5,
                magic: 0x0403_0201
            })
        );
    }
}
