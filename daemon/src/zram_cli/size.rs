//! Size expressions for `--size` and `--mem-limit`: plain bytes (`1073741824`), a number with a unit
//! (`512M`, `4G`, `1.5GiB`), or arithmetic on `ram`, the machine's memory (`ram/2`, `ram*0.25`,
//! `min(ram/2, 4G)`, `ram - 1G`). Units are binary (K = 1024).

use super::error::{CliError, CliResult};

/// Evaluates `expr` with `ram` bytes of memory; the result is rounded down to whole 4 KiB pages.
pub fn parse_size(expr: &str, ram: u64) -> CliResult<u64> {
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
        return Err(CliError::usage(format!(
            "size `{expr}` is not a positive number of bytes"
        )));
    }
    if value >= u64::MAX as f64 {
        return Err(CliError::too_large(format!(
            "size `{expr}` is too large: it exceeds 16 EiB"
        )));
    }
    // In range 0..u64::MAX per the checks above; truncation toward zero is the intent.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let bytes = value as u64;
    let bytes = bytes - bytes % 4096;
    if bytes == 0 {
        return Err(CliError::usage(format!(
            "size `{expr}` is less than one 4 KiB page"
        )));
    }
    Ok(bytes)
}

/// The machine's memory in bytes (`MemTotal` in /proc/meminfo).
pub fn total_ram() -> CliResult<u64> {
    let text = std::fs::read_to_string("/proc/meminfo")
        .map_err(|e| CliError::failure(format!("cannot read /proc/meminfo for `ram`: {e}")))?;
    text.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .and_then(|kb| kb.trim().parse::<u64>().ok())
        .and_then(|kb| kb.checked_mul(1024))
        .ok_or_else(|| CliError::failure("cannot find MemTotal in /proc/meminfo for `ram`"))
}

/// A human-readable size (`1.5G`), as zramctl prints them.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "K", "M", "G", "T", "P"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes}B")
    } else if value >= 100.0 || value.fract() < 0.05 {
        format!("{value:.0}{}", UNITS[unit])
    } else {
        format!("{value:.1}{}", UNITS[unit])
    }
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
    fn error(&self, what: &str) -> CliError {
        CliError::usage(format!(
            "bad size `{}`: {what} at character {}; use bytes, a unit (512M, 4G) or ram (ram/2, min(ram/2, 4G))",
            self.text,
            self.at + 1
        ))
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
    fn expression(&mut self) -> CliResult<f64> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error(&format!("expression nested deeper than {MAX_DEPTH} levels")));
        }
        self.depth += 1;
        let value = self.sum();
        self.depth -= 1;
        value
    }

    fn sum(&mut self) -> CliResult<f64> {
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

    fn term(&mut self) -> CliResult<f64> {
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

    fn factor(&mut self) -> CliResult<f64> {
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
        while self.bytes.get(self.at).is_some_and(u8::is_ascii_alphabetic) {
            self.at += 1;
        }
        let word = self
            .text
            .get(start..self.at)
            .unwrap_or("")
            .to_ascii_lowercase();
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

    fn number(&mut self) -> CliResult<f64> {
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
        while self.bytes.get(self.at).is_some_and(u8::is_ascii_alphabetic) {
            self.at += 1;
        }
        let unit = self
            .text
            .get(unit_start..self.at)
            .unwrap_or("")
            .to_ascii_lowercase();
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
    fn bad_sizes_say_where() {
        for (bad, code) in [
            ("", 2),
            ("4Q", 2),
            ("ram/", 2),
            ("ram/0", 2),
            ("(ram", 2),
            ("ramm", 2),
            ("1G-2G", 2),
            ("100", 2),
            ("1.2.3G", 2),
            ("min(1G)", 2),
            ("17E", 7),
            ("ram*1e30", 2),
        ] {
            let err = parse_size(bad, RAM).unwrap_err();
            assert_eq!(err.code, code, "{bad}: {}", err.message);
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
        assert_eq!(err.code, 2);
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
    }
}
