//! The algorithm lists zram prints: `comp_algorithm` (`lzo-rle lzo [lz4]`, the selected one in
//! brackets) and `recomp_algorithm` (one such list per priority, `#1: lzo [zstd]`).

use std::path::Path;

use serde::Serialize;

use super::error::{KernelError, Result};

/// The algorithms a device can use and the one it has selected.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct AlgorithmList {
    /// The selected algorithm (the bracketed one), if any is marked.
    pub selected: Option<String>,
    /// Every algorithm the kernel offers, in the kernel's order.
    pub available: Vec<String>,
}

impl AlgorithmList {
    /// Whether the kernel offers `name`.
    pub fn offers(&self, name: &str) -> bool {
        self.available.iter().any(|a| a == name)
    }

    /// The available algorithms, space-separated, for messages.
    pub fn joined(&self) -> String {
        self.available.join(" ")
    }
}

/// A recompression algorithm and its priority (`recomp_algorithm`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecompAlgorithm {
    /// Priority, 1 and up (0 is the primary `comp_algorithm`).
    pub priority: u32,
    /// The algorithm list for this priority.
    pub algorithms: AlgorithmList,
}

/// Parses a `comp_algorithm` list read from `path`.
pub fn parse_algorithm_list(path: &Path, content: &str) -> Result<AlgorithmList> {
    let parse_error = |reason: &str| KernelError::Parse {
        path: path.to_path_buf(),
        content: content.trim().to_owned(),
        reason: reason.to_owned(),
    };
    let mut list = AlgorithmList::default();
    for word in content.split_whitespace() {
        let name = match word.strip_prefix('[') {
            Some(inner) => {
                let name = inner
                    .strip_suffix(']')
                    .ok_or_else(|| parse_error("a `[` without its `]`"))?;
                if list.selected.replace(name.to_owned()).is_some() {
                    return Err(parse_error("more than one algorithm is marked selected"));
                }
                name
            }
            None => word,
        };
        if name.is_empty() || name.contains(['[', ']']) {
            return Err(parse_error(
                "an algorithm name is empty or has stray brackets",
            ));
        }
        list.available.push(name.to_owned());
    }
    if list.available.is_empty() {
        return Err(parse_error("no algorithm is listed"));
    }
    Ok(list)
}

/// Parses `recomp_algorithm`: one `#PRIORITY: list` line per configured priority (empty: none).
pub fn parse_recomp_algorithms(path: &Path, content: &str) -> Result<Vec<RecompAlgorithm>> {
    content
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let parse_error = |reason: &str| KernelError::Parse {
                path: path.to_path_buf(),
                content: line.trim().to_owned(),
                reason: reason.to_owned(),
            };
            let (head, list) = line
                .trim()
                .strip_prefix('#')
                .and_then(|l| l.split_once(':'))
                .ok_or_else(|| parse_error("a line is not `#PRIORITY: algorithms`"))?;
            let priority = head
                .trim()
                .parse::<u32>()
                .map_err(|_| parse_error("the priority is not a number"))?;
            Ok(RecompAlgorithm {
                priority,
                algorithms: parse_algorithm_list(path, list)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "/sys/block/zram0/comp_algorithm";

    #[test]
    fn selected_and_available() {
        let l = parse_algorithm_list(Path::new(P), "lzo-rle lzo [lz4] \n").unwrap();
        assert_eq!(l.selected.as_deref(), Some("lz4"));
        assert_eq!(l.available, ["lzo-rle", "lzo", "lz4"]);
        assert!(l.offers("lzo") && !l.offers("zstd"));
        assert_eq!(l.joined(), "lzo-rle lzo lz4");
        let none = parse_algorithm_list(Path::new(P), "lzo zstd").unwrap();
        assert_eq!(none.selected, None);
    }

    #[test]
    fn malformed_lists_are_errors() {
        for bad in ["", "  \n", "[lz4 lzo", "[lz4] [lzo]", "[] lzo", "lz]4"] {
            assert!(parse_algorithm_list(Path::new(P), bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn recompression_priorities() {
        let r =
            parse_recomp_algorithms(Path::new(P), "#1: lzo [zstd]\n#2: [lz4hc] zstd\n").unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].priority, 1);
        assert_eq!(r[0].algorithms.selected.as_deref(), Some("zstd"));
        assert_eq!(r[1].algorithms.selected.as_deref(), Some("lz4hc"));
        assert!(
            parse_recomp_algorithms(Path::new(P), "")
                .unwrap()
                .is_empty()
        );
        assert!(parse_recomp_algorithms(Path::new(P), "1: lzo").is_err());
        assert!(parse_recomp_algorithms(Path::new(P), "#x: lzo").is_err());
    }
}
