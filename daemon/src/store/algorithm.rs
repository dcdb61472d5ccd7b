//! Naming a device's compression algorithm on the command line: `lz4`, `zstd:LEVEL`, `adaptive`,
//! `samefill`. A name whose codec is not in this build is refused with a message saying so.

use trueno_zram::Algorithm;

/// The algorithm a device gets when none is named.
pub const DEFAULT_ALGORITHM: &str = "lz4";

/// The level of a plain `zstd`.
pub const DEFAULT_ZSTD_LEVEL: i8 = 3;

/// Every name [`parse_algorithm`] knows, for help texts.
pub const ALGORITHM_NAMES: &str = "samefill, lz4, zstd[:LEVEL], adaptive";

/// Parses an algorithm name.
pub fn parse_algorithm(name: &str) -> Result<Algorithm, String> {
    let (base, level) = match name.split_once(':') {
        Some((base, level)) => (base, Some(level)),
        None => (name, None),
    };
    match (base, level) {
        ("samefill" | "same-fill", None) => Ok(Algorithm::SameFillOnly),
        ("lz4", None) => Ok(Algorithm::Lz4),
        ("adaptive", None) => Ok(Algorithm::Adaptive),
        ("zstd", None) => Ok(Algorithm::Zstd {
            level: DEFAULT_ZSTD_LEVEL,
        }),
        ("zstd", Some(level)) => {
            let level = level
                .parse::<i8>()
                .map_err(|e| format!("zstd level `{level}`: {e}"))?;
            Ok(Algorithm::Zstd { level })
        }
        _ => Err(format!(
            "unknown algorithm `{name}`; known: {ALGORITHM_NAMES}"
        )),
    }
}

/// The name [`parse_algorithm`] reads back as `algorithm`.
pub fn algorithm_name(algorithm: Algorithm) -> String {
    match algorithm {
        Algorithm::SameFillOnly => "samefill".into(),
        Algorithm::Lz4 => "lz4".into(),
        Algorithm::Zstd { level } => format!("zstd:{level}"),
        Algorithm::Adaptive => "adaptive".into(),
        #[allow(unreachable_patterns)]
        other => format!("{other:?}").to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_bad_names_explain() {
        let a = parse_algorithm(DEFAULT_ALGORITHM).unwrap();
        assert_eq!(parse_algorithm(&algorithm_name(a)).unwrap(), a);
        let e = parse_algorithm("gzip").unwrap_err();
        assert!(e.contains("unknown algorithm `gzip`"), "{e}");
        let e = parse_algorithm("zstd:x").unwrap_err();
        assert!(e.contains("zstd level `x`"), "{e}");
        assert_eq!(
            parse_algorithm("zstd").unwrap(),
            Algorithm::Zstd {
                level: DEFAULT_ZSTD_LEVEL
            }
        );
        for name in ["lz4", "samefill", "zstd:1", "zstd:-5", "zstd:9", "adaptive"] {
            let a = parse_algorithm(name).unwrap();
            assert_eq!(algorithm_name(a), name);
        }
    }
}
