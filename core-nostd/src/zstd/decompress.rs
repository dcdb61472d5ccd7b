//! The [`Decompressor`]: decodes every frame of an input into a destination, keeping its tables.

use super::block::{self, BlockState, BlockType};
use super::dictionary::Dictionary;
use super::error::ZstdError;
use super::frame::{self, FrameKind};
use super::huffman::HuffmanTable;
use super::sequences::{Output, SequenceTables, SpreadScratch};
use super::tables::{BLOCK_HEADER_SIZE, BLOCK_SIZE_MAX, INITIAL_REPEAT_OFFSETS};
use crate::simd::SimdBackend;

type Result<T> = core::result::Result<T, ZstdError>;

/// A Zstandard decoder that keeps its decoding tables (Huffman, literals length, match length,
/// offset) between frames, and optionally a dictionary it borrows.
///
/// It never allocates: [`Decompressor::SIZE`] bytes in all (about 20 KiB, 1 KiB of which is the
/// FSE tables' scratch space, kept here rather than on the stack), so it can live on the
/// stack, in a static or on the heap. Keep one per thread to decode many pages.
///
/// ```
/// use trueno_zram_core::zstd::Decompressor;
/// // A frame with one raw block holding "hi".
/// let frame = [0x28, 0xB5, 0x2F, 0xFD, 0x20, 2, 0x11, 0, 0, b'h', b'i'];
/// let mut d = Decompressor::new();
/// let mut out = [0u8; 8];
/// assert_eq!(d.decompress_into(&frame, &mut out).unwrap(), 2);
/// assert_eq!(&out[..2], b"hi");
/// ```
pub struct Decompressor<'d> {
    state: BlockState,
    dictionary: Option<Dictionary<'d>>,
    /// `Some(SimdBackend::Scalar)` forces the portable code; otherwise BMI2/AVX2 code runs where
    /// present.
    backend: Option<SimdBackend>,
}

impl Default for Decompressor<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Debug for Decompressor<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Decompressor")
            .field("dictionary_id", &self.dictionary.map(|d| d.id))
            .field(
                "dictionary_content_len",
                &self.dictionary.map(|d| d.content.len()),
            )
            .finish_non_exhaustive()
    }
}

impl<'d> Decompressor<'d> {
    /// Bytes a `Decompressor` takes, wherever it lives.
    pub const SIZE: usize = core::mem::size_of::<Self>();

    /// A decompressor without a dictionary.
    pub const fn new() -> Self {
        Self {
            state: BlockState {
                huffman: HuffmanTable::EMPTY,
                has_huffman: false,
                sequences: SequenceTables::EMPTY,
                repeat_offsets: INITIAL_REPEAT_OFFSETS,
                spread: SpreadScratch::EMPTY,
            },
            dictionary: None,
            backend: None,
        }
    }

    /// Chooses the code path: [`SimdBackend::Scalar`] runs the portable code only; any other
    /// backend lets x86-64 CPUs with AVX2 and BMI2 run the same decoder compiled for them. The
    /// output is the same either way.
    pub fn prefer_backend(mut self, backend: SimdBackend) -> Self {
        self.backend = Some(backend);
        self
    }

    /// Whether this decoder runs its BMI2/AVX2 code path.
    fn use_bmi2(&self) -> bool {
        self.backend != Some(SimdBackend::Scalar) && SimdBackend::Avx2.is_available()
    }

    /// A decompressor that holds `dictionary`: in the zstd format (RFC 8878, 5: magic number, ID,
    /// entropy tables, repeat offsets, content) when it starts with the dictionary magic number,
    /// otherwise raw content. It borrows the bytes; nothing is copied.
    pub fn with_dictionary(dictionary: &'d [u8]) -> crate::Result<Self> {
        let mut d = Self::new();
        let parsed = Dictionary::parse(dictionary, &mut d.state.huffman, &mut d.state.sequences)?;
        d.dictionary = Some(parsed);
        Ok(d)
    }

    /// The ID of the dictionary held: 0 for none or raw content.
    pub fn dictionary_id(&self) -> u32 {
        self.dictionary.map_or(0, |d| d.id)
    }

    /// Decodes every frame of `src` (skippable frames skipped, checksums verified) into `dst` one
    /// after the other; returns the bytes written. Bytes of `dst` past that length may have been
    /// used as scratch space. A frame whose content does not fit `dst` is an error, whatever its
    /// window size.
    pub fn decompress_into(&mut self, src: &[u8], dst: &mut [u8]) -> crate::Result<usize> {
        Ok(self.decode_all(src, dst)?)
    }

    fn decode_all(&mut self, src: &[u8], dst: &mut [u8]) -> Result<usize> {
        if src.is_empty() {
            return Err(ZstdError::Truncated {
                what: "frame",
                needed: 4,
                available: 0,
            });
        }
        let mut in_pos = 0;
        let mut out_pos = 0;
        while in_pos < src.len() {
            let rest = &src[in_pos..];
            match frame::kind(rest, in_pos)? {
                FrameKind::Skippable(size) => in_pos += size,
                FrameKind::Zstd => {
                    let (used, written) = self.decode_frame(rest, in_pos, dst, out_pos)?;
                    in_pos += used;
                    out_pos += written;
                }
            }
        }
        Ok(out_pos)
    }

    /// Decodes the frame at the start of `src` (at `offset` in the input) into `dst` from
    /// `frame_start`; returns the bytes of input it took and the bytes it wrote.
    fn decode_frame(
        &mut self,
        src: &[u8],
        offset: usize,
        dst: &mut [u8],
        frame_start: usize,
    ) -> Result<(usize, usize)> {
        let header = frame::read_header(src)?;
        let room = dst.len() - frame_start;
        if let Some(size) = header.content_size
            && size > room as u64
        {
            return Err(ZstdError::OutputTooSmall {
                needed: size.saturating_add(frame_start as u64),
                available: dst.len(),
            });
        }
        let dict_content = self.start_frame(header.dictionary_id)?;
        let block_max = usize::try_from(header.window_size)
            .unwrap_or(usize::MAX)
            .min(BLOCK_SIZE_MAX);

        let bmi2 = self.use_bmi2();
        let mut in_pos = header.size;
        let mut o = Output {
            dst,
            out: frame_start,
            lit: 0,
            frame_start,
            window: header.window_size,
            dict: dict_content,
        };
        loop {
            let rest = src.get(in_pos..).unwrap_or(&[]);
            let b = block::read_header(rest, offset + in_pos)?;
            in_pos += BLOCK_HEADER_SIZE;
            let rest = &rest[BLOCK_HEADER_SIZE..];
            if b.size > block_max {
                return Err(ZstdError::BlockTooLarge {
                    size: b.size,
                    limit: block_max,
                });
            }
            let content_len = if b.kind == BlockType::Rle { 1 } else { b.size };
            let content = rest.get(..content_len).ok_or(ZstdError::Truncated {
                what: "block",
                needed: content_len,
                available: rest.len(),
            })?;
            match b.kind {
                BlockType::Raw | BlockType::Rle => {
                    let end = o.out + b.size;
                    let out = o.dst.get_mut(o.out..end).ok_or(ZstdError::OutputTooSmall {
                        needed: end as u64,
                        available: room + frame_start,
                    })?;
                    if b.kind == BlockType::Raw {
                        out.copy_from_slice(content);
                    } else {
                        out.fill(content[0]);
                    }
                    o.out = end;
                }
                BlockType::Compressed => {
                    block::decode_compressed(content, &mut self.state, &mut o, block_max, bmi2)?;
                }
            }
            in_pos += content_len;
            if b.last {
                break;
            }
        }
        let written = o.out - frame_start;
        if let Some(declared) = header.content_size
            && declared != written as u64
        {
            return Err(ZstdError::ContentSizeMismatch {
                declared,
                decoded: written as u64,
            });
        }
        if header.has_checksum {
            in_pos += frame::verify_checksum(
                src.get(in_pos..).unwrap_or(&[]),
                &o.dst[frame_start..o.out],
            )?;
        }
        Ok((in_pos, written))
    }

    /// Resets the per-frame state (tables to repeat, repeat offsets), loading the dictionary's when
    /// the frame uses it; returns the dictionary content that matches may reach.
    fn start_frame(&mut self, frame_dictionary_id: u32) -> Result<&'d [u8]> {
        let state = &mut self.state;
        state.has_huffman = false;
        state.sequences.reset();
        state.repeat_offsets = INITIAL_REPEAT_OFFSETS;
        let Some(dict) = self.dictionary else {
            if frame_dictionary_id != 0 {
                return Err(ZstdError::WrongDictionary {
                    frame_id: frame_dictionary_id,
                    held_id: 0,
                });
            }
            return Ok(&[]);
        };
        if frame_dictionary_id != 0 && frame_dictionary_id != dict.id {
            return Err(ZstdError::WrongDictionary {
                frame_id: frame_dictionary_id,
                held_id: dict.id,
            });
        }
        if dict.load_tables(&mut state.huffman, &mut state.sequences)? {
            state.has_huffman = true;
            state.repeat_offsets = dict.repeat_offsets;
        }
        Ok(dict.content)
    }
}

/// Decodes every frame of `src` into `dst` with a [`Decompressor`] on the stack
/// ([`Decompressor::SIZE`] bytes); returns the bytes written.
pub fn decompress_into(src: &[u8], dst: &mut [u8]) -> crate::Result<usize> {
    Decompressor::new().decompress_into(src, dst)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    /// The sample the frames below were made from by the zstd command line tool (levels 1 and 19,
    /// no checksum): words chosen by a small LCG, then short-period runs, zeros and a long match.
    fn sample() -> Vec<u8> {
        const WORDS: [&str; 13] = [
            "page",
            "zram",
            "frame",
            "block",
            "literal",
            "match",
            "offset",
            "huffman",
            "table",
            "state",
            "window",
            "dictionary",
            "checksum",
        ];
        let mut x: u64 = 1;
        let mut words = Vec::new();
        for _ in 0..160 {
            x = (x * 1_103_515_245 + 12_345) % (1 << 31);
            words.push(WORDS[((x >> 16) % 13) as usize]);
        }
        let mut text = words.join(" ").into_bytes();
        let head = text[..200].to_vec();
        text.extend(b"ab".repeat(40));
        text.extend(b"xyz".repeat(30));
        text.extend([0u8; 100]);
        text.extend(head);
        text
    }

    fn unhex(lines: &[&str]) -> Vec<u8> {
        let hex: std::string::String = lines.concat();
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect()
    }

    const LEVEL_1: &[&str] = &[
        "28b52ffd602205a50a0092051215a02579b6bd15929f95ad90fea695a9aaeafc9fea0780c3189097ea2b999ecf92bc8b",
        "150c166de76ecf0759bf0f59e00232f866b10b0532d73ba2509ead3195384359291a6a9304809da8914b0a5263d93710",
        "12a41cb43a1208a2ba1c366c6861fdff231dea2ae4ac47aae8519faa82d6b3dfa8339c03cadccde822fbd846321d5b95",
        "a36d100068a124d0fa1b479b4d28be3a629a51677fbb4fe35ea2605e0b6a09c60b8edfa2a8452f932b48e40e854dda8d",
        "6e1371f4705227c8d6177924940381c8541c255e8b4049280d183a8bf04cacc95921ea87f05a9ef91e0829cb6952e665",
        "3200b294090780e6cf453be67e80e8409181128cc6e3ceeb95083b06e810e10eba71cece1dcdce9031d2ac69b3f5faae",
        "385ab02d827ef220ca859c7bdc2d7c996c2ca362059fc926bcbbe1e948033a0538a09f73be5c1236c007919416775c15",
        "3ae62756f2d4b55171972a4aae1a",
    ];
    const LEVEL_19: &[&str] = &[
        "28b52ffd602205b5080092051111a0eddc590d7ee1672d2be9ff7ff77faa0560ca185eb69f94d3db6014de70096560b3",
        "1b63bd4de57e3b6572a6b25d2dd36b84aaa7315e51f4c66d507aee2c97d5b30b856da8914b0a5263d9371012831cb47a",
        "122881880901d688c130b1b4fe7fa403c5ae520b00002d4a8283bf41c826867a8e5b0b949dbd3442e6c9a15621982e96",
        "ca6543d620cffadd50c0a5d22abbc1cc19df3c04004a7d55dc25d47ed03024c37a1c90bec58402f74df7bc20e5810440",
        "164c32f448efce75fbe7dfa33e7b3d88f7d486de19bb090f7c8ef7d93a826d667c395acfa4653ee39905a4211d8448f1",
        "fa388528439b22b34ff3b9de0ec6e9720471aab8ebeb7946b4206ea0a725418b0d51d5311fac644edda4e22215494e0d",
    ];

    /// Real frames with Huffman literals, FSE sequences, repeat offsets and overlapping matches,
    /// decoded into exact and roomy buffers so that both the careful path and the wide-copy fast
    /// path run (this is the test Miri runs over the decoder's unsafe copies).
    #[test]
    fn libzstd_frames_decode_on_both_paths() {
        let expected = sample();
        assert_eq!(expected.len(), 1570);
        for frame in [unhex(LEVEL_1), unhex(LEVEL_19)] {
            for extra in [0, 4096] {
                let mut out = std::vec![0u8; expected.len() + extra];
                for backend in [SimdBackend::Scalar, SimdBackend::detect()] {
                    let mut d = Decompressor::new().prefer_backend(backend);
                    let n = d.decompress_into(&frame, &mut out).unwrap();
                    assert_eq!(&out[..n], &expected[..]);
                }
            }
            let mut short = std::vec![0u8; expected.len() - 1];
            assert!(decompress_into(&frame, &mut short).is_err());
        }
    }

    /// Every byte of the level-1 frame flipped in turn: the decoder returns `Ok` or `Err`, never
    /// panics, and (under Miri) never reads or writes out of bounds, above all in the 4-stream
    /// Huffman loop, whose loads reach into the bytes before each stream.
    #[test]
    fn flipped_bytes_never_panic() {
        let frame = unhex(LEVEL_1);
        let mut out = std::vec![0u8; sample().len() + 64];
        let mut errors = 0;
        // Miri takes minutes over every flip: there, every other byte, one flip each.
        let (step, flips): (usize, &[u8]) = if cfg!(miri) {
            (2, &[0x80])
        } else {
            (1, &[0x01, 0x80])
        };
        for i in (0..frame.len()).step_by(step) {
            for &flip in flips {
                let mut bad = frame.clone();
                bad[i] ^= flip;
                errors += usize::from(decompress_into(&bad, &mut out).is_err());
            }
        }
        // Most flips are caught: the header, tables and streams check themselves.
        let tried = frame.len().div_ceil(step) * flips.len();
        assert!(2 * errors > tried, "{errors} errors in {tried} flips");
    }

    // The doc comment promises about 20 KiB.
    const _: () = assert!(Decompressor::SIZE > 19 * 1024 && Decompressor::SIZE < 22 * 1024);
}
