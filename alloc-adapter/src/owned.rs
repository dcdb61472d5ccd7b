//! Owned pages: [`OwnedPage`], a page on the heap, and [`OwnedCompressedPage`], a compressed page held in
//! exactly the bytes of its wire form, for keeping many of them without `CompressedPage`'s fixed 4 KiB.
//!
//! Both allocate fallibly: constructors return [`Error::OutOfMemory`] instead of aborting, and neither
//! implements `Clone` (which could only abort); use `try_clone`.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ops::{Deref, DerefMut};

use crate::error::{Error, Result};
use trueno_zram_core::{CompressedPage, Encoding, PAGE_SIZE, Page, PageCompressor};

/// Allocates `len` bytes copied from `src` (or zeroed when `src` is `None`) without aborting.
fn boxed_bytes(len: usize, src: Option<&[u8]>) -> Result<Box<[u8]>> {
    let mut vec = Vec::new();
    vec.try_reserve_exact(len)
        .map_err(|_| Error::OutOfMemory { bytes: len })?;
    match src {
        Some(bytes) => vec.extend_from_slice(bytes),
        None => vec.resize(len, 0),
    }
    // Capacity equals length, so this does not reallocate.
    Ok(vec.into_boxed_slice())
}

/// One uncompressed page on the heap.
#[derive(PartialEq, Eq)]
pub struct OwnedPage(Box<Page>);

impl OwnedPage {
    /// A page of zeros.
    pub fn zeroed() -> Result<Self> {
        Self::from_boxed(boxed_bytes(PAGE_SIZE, None)?)
    }

    /// A copy of `page`.
    pub fn from_page(page: &Page) -> Result<Self> {
        Self::from_boxed(boxed_bytes(PAGE_SIZE, Some(page))?)
    }

    fn from_boxed(bytes: Box<[u8]>) -> Result<Self> {
        let len = bytes.len();
        let page: Box<Page> = bytes.try_into().map_err(|_| Error::NotWholePages {
            len,
            page_size: PAGE_SIZE,
        })?;
        Ok(Self(page))
    }

    /// A copy, allocated fallibly.
    pub fn try_clone(&self) -> Result<Self> {
        Self::from_page(&self.0)
    }

    /// Compresses the page.
    pub fn compress<C: PageCompressor + ?Sized>(
        &self,
        compressor: &mut C,
    ) -> Result<CompressedPage> {
        Ok(compressor.compress(&self.0)?)
    }

    /// The boxed page.
    pub fn into_box(self) -> Box<Page> {
        self.0
    }
}

impl From<Box<Page>> for OwnedPage {
    fn from(page: Box<Page>) -> Self {
        Self(page)
    }
}

impl Deref for OwnedPage {
    type Target = Page;

    fn deref(&self) -> &Page {
        &self.0
    }
}

impl DerefMut for OwnedPage {
    fn deref_mut(&mut self) -> &mut Page {
        &mut self.0
    }
}

impl AsRef<[u8]> for OwnedPage {
    fn as_ref(&self) -> &[u8] {
        &self.0[..]
    }
}

impl core::fmt::Debug for OwnedPage {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OwnedPage").finish_non_exhaustive()
    }
}

/// A compressed page in exactly the bytes of its wire form (one tag byte, then the payload): 16 bytes
/// inline plus `1 + payload` on the heap, where a [`CompressedPage`] always takes 4 KiB.
///
/// The wire form is validated when the value is made, so the accessors cannot fail.
#[derive(PartialEq, Eq, Hash)]
pub struct OwnedCompressedPage(Box<[u8]>);

impl OwnedCompressedPage {
    /// The owned form of a compressed page.
    pub fn from_page(page: &CompressedPage) -> Result<Self> {
        let payload = page.payload();
        let mut bytes = boxed_bytes(page.wire_len(), None)?;
        if let Some((tag, body)) = bytes.split_first_mut() {
            *tag = page.encoding().tag();
            body.copy_from_slice(payload);
        }
        Ok(Self(bytes))
    }

    /// Reads a wire-form page (as `CompressedPage::from_bytes` does), copying it.
    pub fn from_wire(wire: &[u8]) -> Result<Self> {
        Self::validate(wire)?;
        Ok(Self(boxed_bytes(wire.len(), Some(wire))?))
    }

    /// Takes a boxed wire-form page without copying, validating it.
    pub fn from_boxed_wire(wire: Box<[u8]>) -> Result<Self> {
        Self::validate(&wire)?;
        Ok(Self(wire))
    }

    fn validate(wire: &[u8]) -> Result<()> {
        let (&tag, payload) = wire
            .split_first()
            .ok_or(trueno_zram_core::Error::Truncated {
                offset: 0,
                needed: 1,
                available: 0,
            })?;
        let encoding = Encoding::from_tag(tag)?;
        encoding.check_payload_len(payload.len())?;
        Ok(())
    }

    /// How the page is stored.
    pub fn encoding(&self) -> Encoding {
        // Validated on construction: the first byte is a known tag. `Stored` is never taken.
        self.0
            .first()
            .and_then(|&tag| Encoding::from_tag(tag).ok())
            .unwrap_or(Encoding::Stored)
    }

    /// The payload: codec bytes, the 8-byte fill word, or the 4096 raw bytes.
    pub fn payload(&self) -> &[u8] {
        self.0.get(1..).unwrap_or(&[])
    }

    /// The wire form: tag byte and payload.
    pub fn as_wire(&self) -> &[u8] {
        &self.0
    }

    /// The boxed wire form.
    pub fn into_wire(self) -> Box<[u8]> {
        self.0
    }

    /// Bytes held on the heap (the wire length).
    pub fn heap_len(&self) -> usize {
        self.0.len()
    }

    /// The page as a [`CompressedPage`] (copied).
    pub fn to_page(&self) -> Result<CompressedPage> {
        Ok(CompressedPage::from_parts(self.encoding(), self.payload())?)
    }

    /// Decompresses the page into `out`.
    pub fn decompress_into<C: PageCompressor + ?Sized>(
        &self,
        compressor: &mut C,
        out: &mut Page,
    ) -> Result<()> {
        Ok(compressor.decompress_into(&self.to_page()?, out)?)
    }

    /// A copy, allocated fallibly.
    pub fn try_clone(&self) -> Result<Self> {
        Ok(Self(boxed_bytes(self.0.len(), Some(&self.0))?))
    }
}

impl TryFrom<&CompressedPage> for OwnedCompressedPage {
    type Error = Error;

    fn try_from(page: &CompressedPage) -> Result<Self> {
        Self::from_page(page)
    }
}

impl core::fmt::Debug for OwnedCompressedPage {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OwnedCompressedPage")
            .field("encoding", &self.encoding())
            .field("payload_len", &self.payload().len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trueno_zram_core::CompressorBuilder;

    #[test]
    fn owned_page_round_trips_and_is_boxed() {
        let mut page = OwnedPage::zeroed().unwrap();
        assert!(page.iter().all(|&b| b == 0));
        page[17] = 3;
        let copy = page.try_clone().unwrap();
        assert_eq!(copy[17], 3);
        assert_eq!(
            core::mem::size_of::<OwnedPage>(),
            core::mem::size_of::<usize>()
        );
        let boxed = copy.into_box();
        assert_eq!(OwnedPage::from(boxed), page);
    }

    #[test]
    fn owned_compressed_page_is_exact_and_matches_the_wire_form() {
        assert_eq!(
            core::mem::size_of::<OwnedCompressedPage>(),
            2 * core::mem::size_of::<usize>()
        );
        let mut raw = [0u8; PAGE_SIZE];
        raw[5] = 9;
        for page in [
            CompressedPage::same_fill(0x1122_3344_5566_7788),
            CompressedPage::stored(&raw),
            CompressedPage::from_parts(Encoding::Lz4, &[1, 2, 3]).unwrap(),
            CompressedPage::from_parts(Encoding::Zstd, &[4; 100]).unwrap(),
        ] {
            let owned = OwnedCompressedPage::from_page(&page).unwrap();
            assert_eq!(owned.heap_len(), page.wire_len());
            assert_eq!(owned.encoding(), page.encoding());
            assert_eq!(owned.payload(), page.payload());
            assert_eq!(owned.to_page().unwrap(), page);
            let mut wire = [0u8; PAGE_SIZE + 1];
            let n = page.to_bytes(&mut wire).unwrap();
            assert_eq!(owned.as_wire(), &wire[..n]);
            assert_eq!(OwnedCompressedPage::from_wire(&wire[..n]).unwrap(), owned);
            let back = OwnedCompressedPage::from_boxed_wire(owned.try_clone().unwrap().into_wire());
            assert_eq!(back.unwrap(), owned);
        }
    }

    #[test]
    fn bad_wire_forms_are_errors() {
        assert!(OwnedCompressedPage::from_wire(&[]).is_err());
        assert!(OwnedCompressedPage::from_wire(&[9, 1]).is_err());
        assert!(OwnedCompressedPage::from_wire(&[1, 0, 0]).is_err());
        assert!(OwnedCompressedPage::from_wire(&[2]).is_err());
        assert!(OwnedCompressedPage::from_boxed_wire(Box::new([0u8; 10])).is_err());
    }

    #[test]
    fn decompresses_through_a_compressor() {
        let mut c = CompressorBuilder::new().build().unwrap();
        let page = OwnedPage::from_page(&[0x5a; PAGE_SIZE]).unwrap();
        let packed = OwnedCompressedPage::from_page(&page.compress(&mut c).unwrap()).unwrap();
        assert_eq!(packed.encoding(), Encoding::SameFill);
        let mut out = [0u8; PAGE_SIZE];
        packed.decompress_into(&mut c, &mut out).unwrap();
        assert_eq!(&out, &*page);
    }
}
