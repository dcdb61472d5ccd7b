//! Buffers of several pages: compress a byte buffer of any whole number of pages into owned compressed
//! pages, one per page, and back.

use alloc::vec::Vec;

use crate::error::{Error, Result};
use crate::owned::OwnedCompressedPage;
use trueno_zram_core::{PAGE_SIZE, Page, PageCompressor};

/// Compresses every page of `buffer` (whose length must be a multiple of `PAGE_SIZE`; zero pages is
/// fine) with `compressor`, each page on its own.
pub fn compress_buffer<C: PageCompressor + ?Sized>(
    compressor: &mut C,
    buffer: &[u8],
) -> Result<Vec<OwnedCompressedPage>> {
    let count = whole_pages(buffer.len())?;
    let mut pages = Vec::new();
    pages
        .try_reserve_exact(count)
        .map_err(|_| Error::OutOfMemory {
            bytes: count.saturating_mul(core::mem::size_of::<OwnedCompressedPage>()),
        })?;
    for chunk in buffer.chunks_exact(PAGE_SIZE) {
        let page: &Page = chunk.try_into().map_err(|_| Error::NotWholePages {
            len: buffer.len(),
            page_size: PAGE_SIZE,
        })?;
        pages.push(OwnedCompressedPage::from_page(&compressor.compress(page)?)?);
    }
    Ok(pages)
}

/// Decompresses `pages` into a new buffer of `pages.len() * PAGE_SIZE` bytes.
pub fn decompress_buffer<C: PageCompressor + ?Sized>(
    compressor: &mut C,
    pages: &[OwnedCompressedPage],
) -> Result<Vec<u8>> {
    let len = pages
        .len()
        .checked_mul(PAGE_SIZE)
        .ok_or(Error::OutOfMemory { bytes: usize::MAX })?;
    let mut buffer = Vec::new();
    buffer
        .try_reserve_exact(len)
        .map_err(|_| Error::OutOfMemory { bytes: len })?;
    buffer.resize(len, 0);
    decompress_buffer_into(compressor, pages, &mut buffer)?;
    Ok(buffer)
}

/// Decompresses `pages` into the start of `out` and returns the bytes written
/// (`pages.len() * PAGE_SIZE`); `out` must be at least that long.
pub fn decompress_buffer_into<C: PageCompressor + ?Sized>(
    compressor: &mut C,
    pages: &[OwnedCompressedPage],
    out: &mut [u8],
) -> Result<usize> {
    let needed = pages.len().saturating_mul(PAGE_SIZE);
    let available = out.len();
    let out = out
        .get_mut(..needed)
        .ok_or(trueno_zram_core::Error::OutputTooSmall { needed, available })?;
    for (packed, chunk) in pages.iter().zip(out.chunks_exact_mut(PAGE_SIZE)) {
        let page: &mut Page = chunk.try_into().map_err(|_| Error::NotWholePages {
            len: needed,
            page_size: PAGE_SIZE,
        })?;
        packed.decompress_into(compressor, page)?;
    }
    Ok(needed)
}

fn whole_pages(len: usize) -> Result<usize> {
    if len.is_multiple_of(PAGE_SIZE) {
        Ok(len / PAGE_SIZE)
    } else {
        Err(Error::NotWholePages {
            len,
            page_size: PAGE_SIZE,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trueno_zram_core::{Algorithm, CompressorBuilder, Encoding};

    fn sample(pages: usize) -> Vec<u8> {
        let mut buf = alloc::vec![0u8; pages * PAGE_SIZE];
        for (i, page) in buf.chunks_exact_mut(PAGE_SIZE).enumerate() {
            if i % 2 == 1 {
                for (j, b) in page.iter_mut().enumerate() {
                    *b = (j * 7 + i) as u8;
                }
            } else {
                page.fill(i as u8);
            }
        }
        buf
    }

    #[test]
    fn round_trips_any_whole_number_of_pages() {
        for (algorithm, patterned) in [
            (Algorithm::Lz4, Encoding::Lz4),
            (Algorithm::SameFillOnly, Encoding::Stored),
        ] {
            let mut c = CompressorBuilder::new()
                .algorithm(algorithm)
                .build()
                .unwrap();
            let counts: &[usize] = if cfg!(miri) { &[0, 2] } else { &[0, 1, 2, 5] };
            for &n in counts {
                let buf = sample(n);
                let packed = compress_buffer(&mut c, &buf).unwrap();
                assert_eq!(packed.len(), n);
                for (i, p) in packed.iter().enumerate() {
                    let expected = if i % 2 == 1 {
                        patterned
                    } else {
                        Encoding::SameFill
                    };
                    assert_eq!(p.encoding(), expected);
                }
                assert_eq!(decompress_buffer(&mut c, &packed).unwrap(), buf);
            }
        }
    }

    #[test]
    fn partial_pages_and_short_outputs_are_errors() {
        let mut c = CompressorBuilder::new().build().unwrap();
        assert_eq!(
            compress_buffer(&mut c, &[0u8; PAGE_SIZE + 1]).unwrap_err(),
            Error::NotWholePages {
                len: PAGE_SIZE + 1,
                page_size: PAGE_SIZE
            }
        );
        let packed = compress_buffer(&mut c, &sample(2)).unwrap();
        let mut out = alloc::vec![0u8; PAGE_SIZE];
        assert!(matches!(
            decompress_buffer_into(&mut c, &packed, &mut out),
            Err(Error::Core(trueno_zram_core::Error::OutputTooSmall {
                needed: 8192,
                available: 4096
            }))
        ));
        let mut big = alloc::vec![1u8; 3 * PAGE_SIZE];
        assert_eq!(
            decompress_buffer_into(&mut c, &packed, &mut big).unwrap(),
            2 * PAGE_SIZE
        );
        assert_eq!(&big[..2 * PAGE_SIZE], &sample(2)[..]);
    }
}
