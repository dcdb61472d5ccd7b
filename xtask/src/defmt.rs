//! Just enough of defmt's wire format to check a defmt firmware's log without defmt-print: split the
//! output into rzCOBS frames, decode them, and name each frame by its format string, which the ELF
//! keeps as the name of a symbol in its `.defmt` section whose address is the frame's first two bytes.

use std::path::Path;

/// Decodes one rzCOBS frame (without its 0x00 delimiter). rzCOBS writes each control byte after the
/// bytes it describes, so decoding runs from the end: a control byte `0xxxxxxx` stands for 7 output
/// bytes, bit i (from the least significant) saying whether byte i of the group is a 0x00 (1) or the
/// next stream byte (0); `1nnnnnnn` stands for n + 7 stream bytes followed by a 0x00, and 0xFF for
/// 134 stream bytes alone. The encoder ends every message with an implied 0x00, dropped here, and
/// pads a short last group with zeros, which stay (a message's parser never reads past its end).
pub fn rzcobs_decode(frame: &[u8]) -> Result<Vec<u8>, String> {
    // Moves `count` stream bytes ending at `*end`, last first, to `reversed`.
    fn take(
        frame: &[u8],
        end: &mut usize,
        count: usize,
        reversed: &mut Vec<u8>,
    ) -> Result<(), String> {
        let start = end
            .checked_sub(count)
            .ok_or_else(|| format!("rzCOBS group needs {count} bytes, {end} remain"))?;
        reversed.extend(frame[start..*end].iter().rev());
        *end = start;
        Ok(())
    }
    let mut reversed = Vec::new();
    let mut end = frame.len();
    while end > 0 {
        end -= 1;
        let control = frame[end];
        if control == 0xff {
            take(frame, &mut end, 134, &mut reversed)?;
        } else if control & 0x80 != 0 {
            reversed.push(0);
            take(
                frame,
                &mut end,
                usize::from(control & 0x7f) + 7,
                &mut reversed,
            )?;
        } else {
            for bit in (0..7).rev() {
                if control & (1 << bit) != 0 {
                    reversed.push(0);
                } else if end > 0 {
                    take(frame, &mut end, 1, &mut reversed)?;
                } else {
                    return Err(format!("rzCOBS control {control:#04x} needs more bytes"));
                }
            }
        }
    }
    reversed.reverse();
    // The implied terminating zero.
    if reversed.last() == Some(&0) {
        reversed.pop();
    }
    Ok(reversed)
}

/// Every frame in `output`, in order: its format string, looked up in `elf`'s `.defmt` symbols, and
/// its decoded bytes.
pub fn frames(elf: &Path, output: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let symbols = crate::elf::symbols_in(elf, ".defmt")?;
    let mut formats = Vec::new();
    for frame in output.split(|&b| b == 0).filter(|f| !f.is_empty()) {
        let message = rzcobs_decode(frame)?;
        let index = message
            .get(..2)
            .map(|b| u32::from(u16::from_le_bytes([b[0], b[1]])))
            .ok_or("defmt frame shorter than its index")?;
        let symbol = symbols
            .iter()
            .find(|(address, _)| *address == index)
            .ok_or_else(|| format!("defmt frame index {index} names no .defmt symbol"))?;
        let format = format_string(&symbol.1).unwrap_or_else(|| symbol.1.clone());
        formats.push((format, message));
    }
    Ok(formats)
}

/// The `"data"` field of a defmt symbol name (a JSON object); escapes are rare in our strings and
/// kept as they are.
fn format_string(symbol: &str) -> Option<String> {
    let start = symbol.find("\"data\":\"")? + "\"data\":\"".len();
    let rest = &symbol[start..];
    let mut end = 0;
    let bytes = rest.as_bytes();
    while end < bytes.len() {
        match bytes[end] {
            b'\\' => end += 2,
            b'"' => return Some(rest[..end].to_owned()),
            _ => end += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_frame_of_the_cortex_m_firmware() {
        // The first frame that the defmt build printed: index 5, then a 51-byte string (length as a
        // 32-bit usize) "Cortex-M4F (...)".
        let text = b"ortex-M4F (thumbv7em-none-eabihf, QEMU mps2-an386)";
        let mut frame = vec![0x05, 0x33, 0x43, 0x3a];
        frame.extend_from_slice(text);
        frame.push(0xab);
        let message = rzcobs_decode(&frame).unwrap();
        let mut expected = vec![0x05, 0x00, 0x33, 0x00, 0x00, 0x00, b'C'];
        expected.extend_from_slice(text);
        assert_eq!(message, expected);
    }

    #[test]
    fn a_short_first_group_and_a_long_run() {
        // The firmware's last frame, index 6 alone: its group padded with zeros.
        assert_eq!(rzcobs_decode(&[6, 0x7e]).unwrap(), vec![6, 0, 0, 0, 0, 0]);
        // 134 stream bytes without a zero.
        let run = vec![9u8; 134];
        let mut frame = run.clone();
        frame.push(0xff);
        assert_eq!(rzcobs_decode(&frame).unwrap(), run);
        // A control byte that needs more bytes than the frame has is an error, not a panic.
        assert!(rzcobs_decode(&[1, 2, 0x85]).is_err());
    }

    #[test]
    fn reads_format_strings_out_of_symbol_names() {
        let name = r#"{"package":"p","tag":"defmt_info","data":"suite: {=str} \"q\"","disambiguator":"1"}"#;
        assert_eq!(format_string(name).unwrap(), r#"suite: {=str} \"q\""#);
    }
}
