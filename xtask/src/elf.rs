//! Just enough of ELF32 to measure a firmware image: the bytes of every section that is loaded into
//! memory with contents (code, read-only data, the initial values of `.data`), which is what a
//! board's flash holds. Sections without contents in the file (`.bss`, the stack) take RAM, not flash.

use std::path::Path;

const SHT_NOBITS: u32 = 8;
const SHF_ALLOC: u32 = 2;

fn u16_at(bytes: &[u8], at: usize) -> Result<u16, String> {
    bytes
        .get(at..at + 2)
        .and_then(|b| b.try_into().ok())
        .map(u16::from_le_bytes)
        .ok_or_else(|| format!("ELF truncated at byte {at}"))
}

fn u32_at(bytes: &[u8], at: usize) -> Result<u32, String> {
    bytes
        .get(at..at + 4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_le_bytes)
        .ok_or_else(|| format!("ELF truncated at byte {at}"))
}

/// Flash bytes of a little-endian ELF32 image: the sum of its allocated sections that have contents.
pub fn flash_size(path: &Path) -> Result<u64, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let what = |m: &str| format!("{}: {m}", path.display());
    if bytes.get(..4) != Some(b"\x7fELF") {
        return Err(what("not an ELF file"));
    }
    // EI_CLASS 1 = 32-bit, EI_DATA 1 = little-endian: both boards' images are.
    if bytes.get(4..6) != Some(&[1, 1]) {
        return Err(what("not a little-endian ELF32 image"));
    }
    let section_headers = usize::try_from(u32_at(&bytes, 0x20)?).map_err(|e| e.to_string())?;
    let entry_size = usize::from(u16_at(&bytes, 0x2e)?);
    let count = usize::from(u16_at(&bytes, 0x30)?);
    if entry_size < 40 {
        return Err(what("section header entries shorter than ELF32's"));
    }
    let mut total = 0u64;
    for index in 0..count {
        let header = section_headers + index * entry_size;
        let kind = u32_at(&bytes, header + 4)?;
        let flags = u32_at(&bytes, header + 8)?;
        let size = u32_at(&bytes, header + 20)?;
        if flags & SHF_ALLOC != 0 && kind != SHT_NOBITS {
            total += u64::from(size);
        }
    }
    Ok(total)
}
