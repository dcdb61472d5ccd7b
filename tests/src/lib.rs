//! Helpers shared by the integration tests: where the shared corpus and vectors live, and pages to
//! test with when they are absent.

use std::path::PathBuf;

/// The `shared/` folder beside the repository (`TRUENO_SHARED` overrides), if it exists.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("TRUENO_SHARED") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
    };
    dir.is_dir().then_some(dir)
}

/// A file under `shared/`, or `None` with one line on stderr saying what is skipped and why.
pub fn shared_file(relative: &str, what: &str) -> Option<PathBuf> {
    let path = shared_dir()
        .map(|d| d.join(relative))
        .filter(|p| p.exists());
    if path.is_none() {
        eprintln!(
            "skipped {what}: ../shared/{relative} is absent (it exists only beside the repository)"
        );
    }
    path
}

/// Pages of a corpus file, each exactly `PAGE_SIZE` bytes.
pub fn corpus_pages(relative: &str, what: &str) -> Vec<trueno_zram::Page> {
    let Some(path) = shared_file(relative, what) else {
        return Vec::new();
    };
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    pages_of(&bytes)
}

/// Splits bytes into whole pages (a short tail is dropped).
pub fn pages_of(bytes: &[u8]) -> Vec<trueno_zram::Page> {
    bytes
        .chunks_exact(trueno_zram::PAGE_SIZE)
        .map(|c| c.try_into().unwrap_or([0; trueno_zram::PAGE_SIZE]))
        .collect()
}

/// Pages built from files on this machine (executables, libraries, text), so that tests have real data
/// when the shared corpus is absent.
pub fn local_pages(max_pages: usize) -> Vec<trueno_zram::Page> {
    let mut pages = Vec::new();
    for dir in [
        "/usr/bin",
        "/usr/lib/x86_64-linux-gnu",
        "/usr/share/doc",
        "/etc",
    ] {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten().take(64) {
            let Ok(bytes) = std::fs::read(entry.path()) else {
                continue;
            };
            pages.extend(pages_of(&bytes).into_iter().take(8));
            if pages.len() >= max_pages {
                pages.truncate(max_pages);
                return pages;
            }
        }
    }
    pages
}
