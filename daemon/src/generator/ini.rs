//! The INI dialect of `zram-generator.conf`, read line by line so that every entry keeps the line
//! it came from (warnings name it).
//!
//! It follows what zram-generator accepts: `[section]` headers; `key = value` or `key: value`
//! pairs with white space trimmed; `#` and `;` comments on their own lines (not after a value); a
//! value that starts with `"` or `'` has its quotes removed; backslash escapes (`\t`, `\n`, `\x00e9`,
//! `\\`, any other `\c` as `c`); a trailing backslash continues the line.

/// One meaningful line of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Line number in the file, from 1 (the first line of a continued line).
    pub line: usize,
    /// What the line holds.
    pub kind: EntryKind,
}

/// What a line holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// `[name]`, trimmed.
    Section(String),
    /// `key = value`.
    Pair {
        /// The key, trimmed.
        key: String,
        /// The value, trimmed, quotes and escapes resolved.
        value: String,
    },
    /// A line that starts like a section header but is not one; the text says why.
    MalformedSection(String),
    /// A line that is none of the above; the text says why.
    Malformed(String),
}

/// Splits `text` into entries, skipping blank lines and comments.
pub fn parse(text: &str) -> Vec<Entry> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut entries = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((index, first)) = lines.next() {
        let line = index + 1;
        let trimmed = first.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        let mut logical = first.to_string();
        while ends_with_continuation(&logical) {
            logical.pop();
            match lines.next() {
                Some((_, next)) => logical.push_str(next),
                None => break,
            }
        }
        entries.push(Entry {
            line,
            kind: classify(logical.trim()),
        });
    }
    entries
}

/// A line continues when it ends in an odd number of backslashes (an even number are escapes).
fn ends_with_continuation(line: &str) -> bool {
    line.bytes().rev().take_while(|b| *b == b'\\').count() % 2 == 1
}

fn classify(line: &str) -> EntryKind {
    if let Some(header) = line.strip_prefix('[') {
        return match header.split_once(']') {
            Some((name, rest)) if rest.trim().is_empty() => match unescape(name) {
                Ok(name) => EntryKind::Section(name.trim().to_string()),
                Err(why) => EntryKind::MalformedSection(why),
            },
            Some((_, rest)) => EntryKind::MalformedSection(format!(
                "unexpected text {:?} after the section header",
                rest.trim()
            )),
            None => EntryKind::MalformedSection("section header without a closing ']'".to_string()),
        };
    }
    let Some(separator) = line.find(['=', ':']) else {
        return EntryKind::Malformed(format!("expected \"key = value\", found {line:?}"));
    };
    let (key, value) = (&line[..separator], &line[separator + 1..]);
    let key = match unescape(key.trim()) {
        Ok(key) if !key.is_empty() => key,
        Ok(_) => return EntryKind::Malformed("a value without a key".to_string()),
        Err(why) => return EntryKind::Malformed(why),
    };
    match parse_value(value.trim()) {
        Ok(value) => EntryKind::Pair { key, value },
        Err(why) => EntryKind::Malformed(why),
    }
}

/// Resolves quotes and escapes: quoted parts at the start are taken verbatim (escapes resolved),
/// the rest up to the end of the line is trimmed at its end.
fn parse_value(mut raw: &str) -> Result<String, String> {
    let mut value = String::new();
    while let Some(quote) = raw.chars().next().filter(|c| *c == '"' || *c == '\'') {
        let body = &raw[1..];
        let Some(end) = find_unescaped(body, quote) else {
            return Err(format!("value has no closing {quote}"));
        };
        value.push_str(&unescape(&body[..end])?);
        raw = &body[end + 1..];
    }
    value.push_str(unescape(raw)?.trim_end());
    Ok(value)
}

fn find_unescaped(text: &str, wanted: char) -> Option<usize> {
    let mut escaped = false;
    for (offset, c) in text.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == wanted {
            return Some(offset);
        }
    }
    None
}

fn unescape(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            None => out.push('\\'),
            Some('0') => out.push('\0'),
            Some('a') => out.push('\x07'),
            Some('b') => out.push('\x08'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some('x') => {
                let code: String = chars.by_ref().take(4).collect();
                // Four characters, as zram-generator's INI reader takes them: `from_str_radix`
                // alone would also read fewer, at the end of a value.
                let decoded = (code.chars().count() == 4)
                    .then(|| u32::from_str_radix(&code, 16).ok())
                    .flatten()
                    .and_then(char::from_u32)
                    .ok_or_else(|| {
                        format!("escape \\x{code} is not four hex digits of a character")
                    })?;
                out.push(decoded);
            }
            Some(other) => out.push(other),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(key: &str, value: &str) -> EntryKind {
        EntryKind::Pair {
            key: key.into(),
            value: value.into(),
        }
    }

    #[test]
    fn sections_pairs_comments_and_lines() {
        let text = "# comment\n; other\nset!x = echo 1\n\n[zram0]\n  zram-size = ram / 2  \nfs-type: ext4\n";
        let entries = parse(text);
        assert_eq!(
            entries,
            vec![
                Entry {
                    line: 3,
                    kind: pair("set!x", "echo 1")
                },
                Entry {
                    line: 5,
                    kind: EntryKind::Section("zram0".into())
                },
                Entry {
                    line: 6,
                    kind: pair("zram-size", "ram / 2")
                },
                Entry {
                    line: 7,
                    kind: pair("fs-type", "ext4")
                },
            ]
        );
    }

    #[test]
    fn values_keep_inline_hashes_and_equals() {
        assert_eq!(classify("options = a=b # c"), pair("options", "a=b # c"));
        assert_eq!(classify("options="), pair("options", ""));
        assert_eq!(classify("mount-point = /a:b"), pair("mount-point", "/a:b"));
    }

    #[test]
    fn quotes_escapes_and_continuations() {
        assert_eq!(classify("a = \" x \"y"), pair("a", " x y"));
        assert_eq!(classify("a = 'q'"), pair("a", "q"));
        assert_eq!(classify(r"a = x\ty\\z"), pair("a", "x\ty\\z"));
        assert_eq!(classify(r"a = \x00e9"), pair("a", "é"));
        let entries = parse("[zram1]\nzram-size = 1 + \\\n 2\nx = 3\n");
        assert_eq!(entries[1].kind, pair("zram-size", "1 +  2"));
        assert_eq!(entries[1].line, 2);
        assert_eq!(entries[2].line, 4);
    }

    #[test]
    fn malformed_lines_are_reported() {
        assert!(matches!(classify("[zram0"), EntryKind::MalformedSection(_)));
        assert!(matches!(
            classify("[zram0] x"),
            EntryKind::MalformedSection(_)
        ));
        assert!(matches!(classify("just words"), EntryKind::Malformed(_)));
        assert!(matches!(classify("= 3"), EntryKind::Malformed(_)));
        assert!(matches!(classify("a = \"open"), EntryKind::Malformed(_)));
        assert!(matches!(classify(r"a = \xzz"), EntryKind::Malformed(_)));
        for short in [r"a = \x41", r"a = \x004", r"a = \x"] {
            assert!(
                matches!(classify(short), EntryKind::Malformed(_)),
                "{short}"
            );
        }
    }

    /// Random text over the dialect's special characters never panics.
    #[test]
    fn random_input_never_panics() {
        let alphabet: Vec<char> = "[]=:;#\\\"' \n\tabzram0x1é".chars().collect();
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        for _ in 0..20_000 {
            let mut text = String::new();
            for _ in 0..(state % 60) {
                // xorshift: a fixed sequence, so a failure reproduces.
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                text.push(alphabet[usize::try_from(state % alphabet.len() as u64).unwrap()]);
            }
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let _ = parse(&text);
        }
    }
}
