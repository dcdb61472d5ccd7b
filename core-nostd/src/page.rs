//! A compressed page: its encoding and its payload, and the versioned wire form that carries it out of
//! memory (one tag byte, then the payload).

use crate::error::{Error, Result};
use crate::{PAGE_SIZE, Page};

/// How a page is stored. The discriminants are the wire-form tags and never change meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum Encoding {
    /// The 4096 raw bytes: compressing did not pay.
    Stored = 0,
    /// The page is one 8-byte word repeated; the payload is that word, little-endian.
    SameFill = 1,
    /// One LZ4 block.
    Lz4 = 2,
    /// One Zstandard frame (RFC 8878).
    Zstd = 3,
}

impl Encoding {
    /// The encoding named by a wire-form tag.
    pub fn from_tag(tag: u8) -> Result<Self> {
        match tag {
            0 => Ok(Self::Stored),
            1 => Ok(Self::SameFill),
            2 => Ok(Self::Lz4),
            3 => Ok(Self::Zstd),
            _ => Err(Error::UnknownEncoding { tag }),
        }
    }

    /// The wire-form tag of this encoding.
    pub const fn tag(self) -> u8 {
        self as u8
    }

    /// The payload lengths this encoding allows, inclusive.
    pub const fn payload_len_range(self) -> (usize, usize) {
        match self {
            Self::Stored => (PAGE_SIZE, PAGE_SIZE),
            Self::SameFill => (8, 8),
            // A codec payload of PAGE_SIZE bytes or more is never written: the page is stored instead.
            Self::Lz4 | Self::Zstd => (1, PAGE_SIZE - 1),
        }
    }

    /// `Ok` when a payload of `len` bytes is one this encoding allows
    /// ([`Self::payload_len_range`]), otherwise the error that says so.
    pub const fn check_payload_len(self, len: usize) -> Result<()> {
        let (min, max) = self.payload_len_range();
        if len < min || len > max {
            return Err(Error::BadPayloadLength {
                encoding: self,
                len,
                min,
                max,
            });
        }
        Ok(())
    }
}

/// A compressed 4 KiB page: an [`Encoding`] and its payload, held inline without allocation.
#[derive(Clone, PartialEq, Eq)]
pub struct CompressedPage {
    encoding: Encoding,
    payload: heapless::Vec<u8, PAGE_SIZE>,
}

impl core::fmt::Debug for CompressedPage {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CompressedPage")
            .field("encoding", &self.encoding)
            .field("payload_len", &self.payload.len())
            .finish()
    }
}

impl CompressedPage {
    /// A page kept as its raw bytes.
    pub fn stored(page: &Page) -> Self {
        let mut payload = heapless::Vec::new();
        // The capacity is exactly PAGE_SIZE, so this cannot fail; the result is ignored knowingly.
        let _ = payload.extend_from_slice(page);
        Self {
            encoding: Encoding::Stored,
            payload,
        }
    }

    /// A page that is `word` repeated.
    pub fn same_fill(word: u64) -> Self {
        let mut payload = heapless::Vec::new();
        let _ = payload.extend_from_slice(&word.to_le_bytes());
        Self {
            encoding: Encoding::SameFill,
            payload,
        }
    }

    /// A page from an encoding and a payload, checking the payload length that the encoding allows.
    pub fn from_parts(encoding: Encoding, payload: &[u8]) -> Result<Self> {
        encoding.check_payload_len(payload.len())?;
        let mut vec = heapless::Vec::new();
        // Checked above: every allowed length fits the page-sized capacity.
        vec.extend_from_slice(payload)
            .map_err(|_| Error::OutputTooSmall {
                needed: payload.len(),
                available: PAGE_SIZE,
            })?;
        Ok(Self {
            encoding,
            payload: vec,
        })
    }

    /// How the page is stored.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// The payload: the codec bytes, the 8-byte word, or the 4096 raw bytes.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// For a same-fill page, its word.
    pub fn fill_word(&self) -> Option<u64> {
        match (self.encoding, <[u8; 8]>::try_from(self.payload.as_slice())) {
            (Encoding::SameFill, Ok(bytes)) => Some(u64::from_le_bytes(bytes)),
            _ => None,
        }
    }

    /// Bytes that [`CompressedPage::to_bytes`] writes: the tag and the payload.
    pub fn wire_len(&self) -> usize {
        1 + self.payload.len()
    }

    /// Writes the wire form (tag byte, payload) into `dst` and returns its length.
    pub fn to_bytes(&self, dst: &mut [u8]) -> Result<usize> {
        let needed = self.wire_len();
        let available = dst.len();
        let out = dst
            .get_mut(..needed)
            .ok_or(Error::OutputTooSmall { needed, available })?;
        let (tag, body) = out.split_at_mut(1);
        tag[0] = self.encoding.tag();
        body.copy_from_slice(&self.payload);
        Ok(needed)
    }

    /// Reads a wire-form page, validating the tag and the payload length of its encoding.
    pub fn from_bytes(src: &[u8]) -> Result<Self> {
        let (&tag, payload) = src.split_first().ok_or(Error::Truncated {
            offset: 0,
            needed: 1,
            available: 0,
        })?;
        let encoding = Encoding::from_tag(tag)?;
        Self::from_parts(encoding, payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_round_trip_for_every_encoding() {
        let page = [7u8; PAGE_SIZE];
        for cp in [
            CompressedPage::stored(&page),
            CompressedPage::same_fill(0x0123_4567_89ab_cdef),
            CompressedPage::from_parts(Encoding::Lz4, &[1, 2, 3]).unwrap(),
            CompressedPage::from_parts(Encoding::Zstd, &[0x28, 0xb5, 0x2f, 0xfd]).unwrap(),
        ] {
            let mut buf = [0u8; PAGE_SIZE + 1];
            let n = cp.to_bytes(&mut buf).unwrap();
            assert_eq!(n, cp.wire_len());
            assert_eq!(CompressedPage::from_bytes(&buf[..n]).unwrap(), cp);
        }
    }

    #[test]
    fn same_fill_wire_is_little_endian() {
        let cp = CompressedPage::same_fill(0x0102_0304_0506_0708);
        let mut buf = [0u8; 9];
        cp.to_bytes(&mut buf).unwrap();
        assert_eq!(buf, [1, 8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(cp.fill_word(), Some(0x0102_0304_0506_0708));
    }

    #[test]
    fn from_bytes_rejects_each_malformation() {
        assert_eq!(
            CompressedPage::from_bytes(&[]),
            Err(Error::Truncated {
                offset: 0,
                needed: 1,
                available: 0
            })
        );
        assert_eq!(
            CompressedPage::from_bytes(&[4, 0]),
            Err(Error::UnknownEncoding { tag: 4 })
        );
        assert_eq!(
            CompressedPage::from_bytes(&[0xff]),
            Err(Error::UnknownEncoding { tag: 0xff })
        );
        // Same-fill needs exactly 8 bytes.
        assert!(matches!(
            CompressedPage::from_bytes(&[1, 0, 0, 0]),
            Err(Error::BadPayloadLength {
                encoding: Encoding::SameFill,
                len: 3,
                min: 8,
                max: 8
            })
        ));
        // Stored needs exactly a page.
        let short = [0u8; PAGE_SIZE];
        assert!(matches!(
            CompressedPage::from_bytes(&short),
            Err(Error::BadPayloadLength {
                encoding: Encoding::Stored,
                len: 4095,
                ..
            })
        ));
        // A codec payload is never empty and never a whole page.
        assert!(matches!(
            CompressedPage::from_bytes(&[2]),
            Err(Error::BadPayloadLength {
                encoding: Encoding::Lz4,
                len: 0,
                ..
            })
        ));
        let mut big = [0u8; PAGE_SIZE + 1];
        big[0] = 3;
        assert!(matches!(
            CompressedPage::from_bytes(&big),
            Err(Error::BadPayloadLength {
                encoding: Encoding::Zstd,
                len: 4096,
                ..
            })
        ));
    }

    #[test]
    fn to_bytes_reports_short_destination() {
        let cp = CompressedPage::same_fill(1);
        let mut buf = [0u8; 8];
        assert_eq!(
            cp.to_bytes(&mut buf),
            Err(Error::OutputTooSmall {
                needed: 9,
                available: 8
            })
        );
    }
}
