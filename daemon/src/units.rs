//! Sizes on the command lines of `trueno-ublk` and `trueno-zram`, read one way by both: plain bytes
//! (`1073741824`), a number with a unit (`512M`, `4G`, `1.5GiB`), or arithmetic on `ram`, the
//! machine's memory (`ram/2`, `ram*0.25`, `min(ram/2, 4G)`, `ram - 1G`). Units are binary (K =
//! 1024), as block-device tools count. And the two ways sizes are printed: [`human_size`] for
//! `trueno-ublk`'s own reports, [`human`] where `trueno-zram` prints zramctl's columns.

use std::fs;
use std::path::Path;

use trueno_zram::PAGE_SIZE;

const PAGE: u64 = PAGE_SIZE as u64;

/// A size that could not be read: one line for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizeError {
    /// What is wrong with it and what to write instead.
    pub message: String,
    /// Whether it was well formed but beyond what 64 bits hold (the rest are usage errors).
    pub too_large: bool,
}

impl SizeError {
    fn usage(message: String) -> Self {
        Self {
            message,
            too_large: false,
        }
    }
}

impl From<SizeError> for String {
    fn from(e: SizeError) -> Self {
        e.message
    }
}

/// Evaluates `expr` to whole bytes with `ram` bytes of memory (rounded down; 0 is allowed).
pub fn evaluate(expr: &str, ram: u64) -> Result<u64, SizeError> {
    let mut parser = Parser {
        text: expr,
        bytes: expr.as_bytes(),
        at: 0,
        ram: ram as f64,
        depth: 0,
    };
    let value = parser.expression()?;
    parser.skip_spaces();
    if parser.at != parser.bytes.len() {
        return Err(parser.error("unexpected text"));
    }
    if !value.is_finite() || value < 0.0 {
        return Err(SizeError::usage(format!(
            "size `{expr}` is not a positive number of bytes"
        )));
    }
    if value >= u64::MAX as f64 {
        return Err(SizeError {
            message: format!("size `{expr}` is too large: it exceeds 16 EiB"),
            too_large: true,
        });
    }
    // In range 0..u64::MAX per the checks above; truncation toward zero is the intent.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let bytes = value as u64;
    Ok(bytes)
}

/// A device size: `expr` evaluated and rounded down to whole 4 KiB pages, at least one.
pub fn parse_size(expr: &str, ram: u64) -> Result<u64, SizeError> {
    let bytes = evaluate(expr, ram)?;
    let bytes = bytes - bytes % PAGE;
    if bytes == 0 {
        return Err(SizeError::usage(format!(
            "size `{expr}` is less than one 4 KiB page"
        )));
    }
    Ok(bytes)
}

/// The machine's memory in bytes, what `ram` stands for.
pub fn total_ram() -> Result<u64, String> {
    memtotal_kib(Path::new("/"))?
        .checked_mul(1024)
        .ok_or_else(|| "MemTotal in /proc/meminfo is beyond 16 EiB".to_string())
}

/// MemTotal from `root/proc/meminfo`, in KiB (the generator reads it under another root in tests).
pub fn memtotal_kib(root: &Path) -> Result<u64, String> {
    let path = root.join("proc/meminfo");
    let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .find_map(|line| {
            let mut fields = line.split_whitespace();
            (fields.next() == Some("MemTotal:")).then(|| fields.next())?
        })
        .ok_or_else(|| format!("{}: no MemTotal line", path.display()))?
        .parse()
        .map_err(|e| format!("{}: MemTotal: {e}", path.display()))
}

/// A size for `trueno-ublk`'s reports: `1.5 GiB`.
pub fn human_size(bytes: u64) -> String {
    let (value, unit) = scaled(bytes);
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}iB", UNITS[unit])
    }
}

/// A size as zramctl prints it (`1.5G`), for `trueno-zram`'s columns.
pub fn human(bytes: u64) -> String {
    let (value, unit) = scaled(bytes);
    if unit == 0 {
        format!("{bytes}B")
    } else if value >= 100.0 || value.fract() < 0.05 {
        format!("{value:.0}{}", UNITS[unit])
    } else {
        format!("{value:.1}{}", UNITS[unit])
    }
}

const UNITS: [&str; 6] = ["B", "K", "M", "G", "T", "P"];

/// `bytes` in the largest binary unit that leaves at least 1, and that unit's index in `UNITS`.
fn scaled(bytes: u64) -> (f64, usize) {
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    (value, unit)
}

/// Deepest nesting of parentheses and `min`/`max` an expression may have.
const MAX_DEPTH: usize = 64;

/// A recursive-descent parser over `+ - * /`, parentheses, `min`/`max`, numbers with units and `ram`.
struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
    ram: f64,
    /// Expressions being parsed, one inside the other.
    depth: usize,
}

impl Parser<'_> {
    fn error(&self, what: &str) -> SizeError {
        SizeError::usage(format!(
            "bad size `{}`: {what} at character {}; use bytes, a unit (512M, 4G) or ram (ram/2, min(ram/2, 4G))",
            self.text,
            self.at + 1
        ))
    }

    /// The letters from here on (a name or a unit), lowercased; the position moves past them.
    fn word(&mut self) -> String {
        let start = self.at;
        while self.bytes.get(self.at).is_some_and(u8::is_ascii_alphabetic) {
            self.at += 1;
        }
        self.text
            .get(start..self.at)
            .unwrap_or("")
            .to_ascii_lowercase()
    }

    fn skip_spaces(&mut self) {
        while self.bytes.get(self.at).is_some_and(u8::is_ascii_whitespace) {
            self.at += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.skip_spaces();
        if self.bytes.get(self.at) == Some(&c) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    /// Parentheses and `min`/`max` recurse through here: the depth is bounded so that an argument
    /// of many thousand `(` is refused instead of overflowing the stack.
    fn expression(&mut self) -> Result<f64, SizeError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error(&format!("expression nested deeper than {MAX_DEPTH} levels")));
        }
        self.depth += 1;
        let value = self.sum();
        self.depth -= 1;
        value
    }

    fn sum(&mut self) -> Result<f64, SizeError> {
        let mut value = self.term()?;
        loop {
            if self.eat(b'+') {
                value += self.term()?;
            } else if self.eat(b'-') {
                value -= self.term()?;
            } else {
                return Ok(value);
            }
        }
    }

    fn term(&mut self) -> Result<f64, SizeError> {
        let mut value = self.factor()?;
        loop {
            if self.eat(b'*') {
                value *= self.factor()?;
            } else if self.eat(b'/') {
                let divisor = self.factor()?;
                if divisor == 0.0 {
                    return Err(self.error("division by zero"));
                }
                value /= divisor;
            } else {
                return Ok(value);
            }
        }
    }

    fn factor(&mut self) -> Result<f64, SizeError> {
        self.skip_spaces();
        if self.eat(b'(') {
            let value = self.expression()?;
            return if self.eat(b')') {
                Ok(value)
            } else {
                Err(self.error("missing `)`"))
            };
        }
        let start = self.at;
        let word = self.word();
        match word.as_str() {
            "" => self.number(),
            "ram" => Ok(self.ram),
            "min" | "max" => {
                if !self.eat(b'(') {
                    return Err(self.error("expected `(` after min/max"));
                }
                let a = self.expression()?;
                if !self.eat(b',') {
                    return Err(self.error("expected `,` between two sizes"));
                }
                let b = self.expression()?;
                if !self.eat(b')') {
                    return Err(self.error("missing `)`"));
                }
                Ok(if word == "min" { a.min(b) } else { a.max(b) })
            }
            _ => {
                self.at = start;
                Err(self.error(&format!("unknown word `{word}`")))
            }
        }
    }

    fn number(&mut self) -> Result<f64, SizeError> {
        let start = self.at;
        while self
            .bytes
            .get(self.at)
            .is_some_and(|b| b.is_ascii_digit() || *b == b'.')
        {
            self.at += 1;
        }
        let digits = self.text.get(start..self.at).unwrap_or("");
        if digits.is_empty() {
            return Err(self.error("expected a number"));
        }
        let value: f64 = digits.parse().map_err(|_| self.error("malformed number"))?;
        let unit_start = self.at;
        let unit = self.word();
        let shift = match unit.as_str() {
            "" | "b" => 0,
            "k" | "kb" | "kib" => 10,
            "m" | "mb" | "mib" => 20,
            "g" | "gb" | "gib" => 30,
            "t" | "tb" | "tib" => 40,
            "p" | "pb" | "pib" => 50,
            "e" | "eb" | "eib" => 60,
            _ => {
                self.at = unit_start;
                return Err(self.error(&format!("unknown unit `{unit}`")));
            }
        };
        Ok(value * (1u64 << shift) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAM: u64 = 8 << 30;

    #[test]
    fn sizes_and_expressions() {
        assert_eq!(parse_size("1073741824", RAM).unwrap(), 1 << 30);
        assert_eq!(parse_size("4G", RAM).unwrap(), 4 << 30);
        assert_eq!(parse_size("512m", RAM).unwrap(), 512 << 20);
        assert_eq!(parse_size("512K", RAM).unwrap(), 512 << 10);
        assert_eq!(parse_size("1TB", RAM).unwrap(), 1 << 40);
        assert_eq!(parse_size("1.5GiB", RAM).unwrap(), 3 << 29);
        assert_eq!(parse_size("ram/2", RAM).unwrap(), 4 << 30);
        assert_eq!(parse_size("ram * 0.25", RAM).unwrap(), 2 << 30);
        assert_eq!(parse_size("min(ram/2, 4G)", 16 << 30).unwrap(), 4 << 30);
        assert_eq!(parse_size("max(ram/4, 1G)", RAM).unwrap(), 2 << 30);
        assert_eq!(parse_size("(ram - 1G) / 7", RAM).unwrap(), 1 << 30);
        assert_eq!(
            parse_size("5000", RAM).unwrap(),
            4096,
            "rounded down to whole pages"
        );
    }

    #[test]
    fn evaluate_keeps_bytes_and_zero() {
        assert_eq!(evaluate("0", RAM).unwrap(), 0);
        assert_eq!(evaluate("5000", RAM).unwrap(), 5000);
        assert_eq!(evaluate("1.5K", RAM).unwrap(), 1536);
        assert!(parse_size("0", RAM).is_err());
    }

    #[test]
    fn bad_sizes_say_where() {
        for (bad, too_large) in [
            ("", false),
            ("G", false),
            ("4Q", false),
            ("ram/", false),
            ("ram/0", false),
            ("(ram", false),
            ("ramm", false),
            ("1G-2G", false),
            ("100", false),
            ("1.2.3G", false),
            ("min(1G)", false),
            ("17E", true),
            ("99999999999T", true),
            ("ram*1e30", false),
        ] {
            let err = parse_size(bad, RAM).unwrap_err();
            assert_eq!(err.too_large, too_large, "{bad}: {}", err.message);
            assert!(!err.message.contains('\n'));
        }
        assert!(
            parse_size("4Q", RAM)
                .unwrap_err()
                .message
                .contains("unknown unit `q`")
        );
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let nested = |depth: usize| format!("{}1G{}", "(".repeat(depth), ")".repeat(depth));
        assert_eq!(parse_size(&nested(MAX_DEPTH - 1), RAM).unwrap(), 1 << 30);
        // As long as one command-line argument may be.
        let err = parse_size(&nested(60_000), RAM).unwrap_err();
        assert!(
            err.message.contains("nested deeper than 64"),
            "{}",
            err.message
        );
        let err = parse_size(&format!("{}1G", "min(".repeat(60_000)), RAM).unwrap_err();
        assert!(
            err.message.contains("nested deeper than 64"),
            "{}",
            err.message
        );
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(512), "512B");
        assert_eq!(human(4 << 30), "4G");
        assert_eq!(human(3 << 29), "1.5G");
        assert_eq!(human(0), "0B");
        assert_eq!(human_size(1536 << 20), "1.5 GiB");
        assert_eq!(human_size(100), "100 B");
        assert_eq!(human_size(3 << 50), "3.0 PiB");
    }

    #[test]
    fn total_ram_reads_meminfo() {
        assert!(total_ram().unwrap() >= 1 << 20);
    }
}
