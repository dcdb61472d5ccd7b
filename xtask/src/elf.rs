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

const SHT_SYMTAB: u32 = 2;

/// A section header's fields that matter here.
struct Section {
    name: u32,
    kind: u32,
    offset: usize,
    size: usize,
    link: usize,
}

fn sections(bytes: &[u8]) -> Result<Vec<Section>, String> {
    let table = usize::try_from(u32_at(bytes, 0x20)?).map_err(|e| e.to_string())?;
    let entry_size = usize::from(u16_at(bytes, 0x2e)?);
    let count = usize::from(u16_at(bytes, 0x30)?);
    (0..count)
        .map(|i| {
            let at = table + i * entry_size;
            let field = |o: usize| -> Result<usize, String> {
                usize::try_from(u32_at(bytes, at + o)?).map_err(|e| e.to_string())
            };
            Ok(Section {
                name: u32_at(bytes, at)?,
                kind: u32_at(bytes, at + 4)?,
                offset: field(16)?,
                size: field(20)?,
                link: field(24)?,
            })
        })
        .collect()
}

fn c_string(bytes: &[u8], at: usize) -> Result<String, String> {
    let tail = bytes.get(at..).ok_or("string offset past the end")?;
    let end = tail
        .iter()
        .position(|&b| b == 0)
        .ok_or("unterminated string")?;
    Ok(String::from_utf8_lossy(&tail[..end]).into_owned())
}

/// The symbols of a little-endian ELF32 image that lie in the section called `section`, as
/// (address, name) pairs.
pub fn symbols_in(path: &Path, section: &str) -> Result<Vec<(u32, String)>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let sections = sections(&bytes)?;
    let names = sections
        .get(usize::from(u16_at(&bytes, 0x32)?))
        .ok_or("no section name table")?;
    let mut wanted = None;
    for (index, s) in sections.iter().enumerate() {
        if c_string(&bytes, names.offset + s.name as usize)? == section {
            wanted = Some(index);
        }
    }
    let wanted = wanted.ok_or_else(|| format!("{}: no section {section}", path.display()))?;
    let symtab = sections
        .iter()
        .find(|s| s.kind == SHT_SYMTAB)
        .ok_or_else(|| format!("{}: no symbol table", path.display()))?;
    let strings = sections
        .get(symtab.link)
        .ok_or("symbol table without strings")?;
    let mut found = Vec::new();
    for at in (symtab.offset..symtab.offset + symtab.size).step_by(16) {
        if usize::from(u16_at(&bytes, at + 14)?) == wanted {
            let name = c_string(&bytes, strings.offset + u32_at(&bytes, at)? as usize)?;
            found.push((u32_at(&bytes, at + 4)?, name));
        }
    }
    Ok(found)
}
