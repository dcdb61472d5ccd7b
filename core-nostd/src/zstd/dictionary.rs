//! Dictionaries (RFC 8878, 5): the zstd format (magic, ID, entropy tables, repeat offsets, content)
//! and raw-content dictionaries (any other bytes, all content).
//!
//! A [`Dictionary`] only borrows its bytes: its entropy tables are validated once and re-read into the
//! decoder's own tables at the start of each frame that uses it, so holding one costs no table space.

use super::error::ZstdError;
use super::huffman::HuffmanTable;
use super::sequences::SequenceTables;
use super::tables::DICTIONARY_MAGIC;

type Result<T> = core::result::Result<T, ZstdError>;

/// A dictionary borrowed from its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dictionary<'d> {
    /// `Dictionary_ID` (0 for raw content).
    pub(crate) id: u32,
    /// The entropy tables section (empty for raw content).
    entropy: &'d [u8],
    /// Repeat offsets that frames using it start with.
    pub(crate) repeat_offsets: [u32; 3],
    /// The content that frames may reference as if it preceded them.
    pub(crate) content: &'d [u8],
}

fn bad(what: &'static str) -> ZstdError {
    ZstdError::BadDictionary { what }
}

impl<'d> Dictionary<'d> {
    /// Parses `bytes` as a zstd-format dictionary when it starts with the dictionary magic number,
    /// as raw content otherwise. `scratch` tables receive the entropy tables (to validate them).
    pub(crate) fn parse(
        bytes: &'d [u8],
        huffman: &mut HuffmanTable,
        sequences: &mut SequenceTables,
    ) -> Result<Self> {
        let is_formatted = bytes.len() >= 8
            && u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) == DICTIONARY_MAGIC;
        if !is_formatted {
            return Ok(Self {
                id: 0,
                entropy: &[],
                repeat_offsets: super::tables::INITIAL_REPEAT_OFFSETS,
                content: bytes,
            });
        }
        let id = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
        let rest = &bytes[8..];
        let entropy_len = read_entropy(rest, huffman, sequences)?;
        let reps_bytes = rest
            .get(entropy_len..entropy_len + 12)
            .ok_or(bad("truncated before its repeat offsets"))?;
        let content = &rest[entropy_len + 12..];
        let mut repeat_offsets = [0u32; 3];
        for (rep, b) in repeat_offsets.iter_mut().zip(reps_bytes.chunks_exact(4)) {
            *rep = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            if *rep == 0 || *rep as usize > content.len() {
                return Err(bad("a repeat offset is 0 or exceeds the content size"));
            }
        }
        Ok(Self {
            id,
            entropy: &rest[..entropy_len],
            repeat_offsets,
            content,
        })
    }

    /// Loads the dictionary's entropy tables into a decoder's tables; false for raw content, which
    /// has none.
    pub(crate) fn load_tables(
        &self,
        huffman: &mut HuffmanTable,
        sequences: &mut SequenceTables,
    ) -> Result<bool> {
        if self.entropy.is_empty() {
            return Ok(false);
        }
        read_entropy(self.entropy, huffman, sequences)?;
        Ok(true)
    }
}

/// Reads the Huffman table and the three FSE tables; returns the bytes they took.
fn read_entropy(
    src: &[u8],
    huffman: &mut HuffmanTable,
    sequences: &mut SequenceTables,
) -> Result<usize> {
    let used = huffman.read(src)?;
    let tables = sequences.read_dictionary_tables(src.get(used..).unwrap_or(&[]))?;
    Ok(used + tables)
}
