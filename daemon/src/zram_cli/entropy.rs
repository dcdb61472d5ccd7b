//! `entropy`: the order-0 (byte-frequency) Shannon entropy of each page of a file, its distribution,
//! and the compression ratio it predicts.
//!
//! The core has no entropy module on this branch yet, so the estimate lives here: a page's predicted
//! size is 8 bytes when it is one repeated word (same-fill), its 4096 raw bytes when its entropy bound
//! would save less than 1/32 of the page (zram stores such pages raw), and otherwise the entropy
//! bound `H * 4096 / 8` bytes. LZ-family codecs can beat that bound on repetitive pages, and miss it
//! on pages with skewed but unrepeated bytes: it is a prediction, not a measurement (`bench` measures).

use std::path::PathBuf;

use trueno_zram::{PAGE_SIZE, Page, samefill};

use super::error::CliResult;

/// Arguments of `entropy`.
#[derive(Debug, clap::Args)]
pub struct EntropyArgs {
    /// The file whose 4 KiB pages are examined.
    file: PathBuf,
    /// Examine at most this many pages.
    #[arg(long)]
    pages: Option<usize>,
}

/// Shannon entropy of a page's bytes, in bits per byte (0 to 8).
pub fn shannon_bits_per_byte(page: &Page) -> f64 {
    let mut counts = [0u32; 256];
    for &b in page {
        counts[usize::from(b)] += 1;
    }
    let n = PAGE_SIZE as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// The predicted stored size of a page, per the rules in the module documentation.
pub fn predicted_size(page: &Page, bits_per_byte: f64) -> f64 {
    if samefill::detect(page).is_some() {
        return 8.0;
    }
    let bound = bits_per_byte * PAGE_SIZE as f64 / 8.0;
    if bound > PAGE_SIZE as f64 * 31.0 / 32.0 {
        PAGE_SIZE as f64
    } else {
        bound.max(1.0)
    }
}

/// Runs `entropy`.
pub fn run(args: &EntropyArgs) -> CliResult {
    let pages = super::load_pages(&args.file, args.pages)?;
    let mut buckets = [0usize; 8];
    let mut same = 0usize;
    let mut predicted = 0.0;
    let mut sum_h = 0.0;
    for page in &pages {
        let h = shannon_bits_per_byte(page);
        sum_h += h;
        predicted += predicted_size(page, h);
        if samefill::detect(page).is_some() {
            same += 1;
        }
        // h is within 0..=8, so the bucket index is within 0..8.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let bucket = (h.floor() as usize).min(7);
        buckets[bucket] += 1;
    }
    let total = pages.len();
    println!(
        "{}: {total} pages, mean entropy {:.3} bits/byte, {same} same-fill pages",
        args.file.display(),
        sum_h / total as f64
    );
    println!("{:<12} {:>8} {:>7}", "BITS/BYTE", "PAGES", "SHARE");
    for (i, &count) in buckets.iter().enumerate() {
        let share = count as f64 / total as f64;
        // share is within 0..=1, so the bar is 0..=50 characters.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let bar = "#".repeat((share * 50.0).round() as usize);
        println!(
            "{:<12} {count:>8} {:>6.1}%  {bar}",
            format!("{i}-{}", i + 1),
            share * 100.0
        );
    }
    let ratio = (total * PAGE_SIZE) as f64 / predicted.max(1.0);
    println!(
        "predicted ratio {ratio:.3} (order-0 entropy bound, same-fill and incompressible pages as zram stores them)"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_of_known_pages() {
        assert_eq!(shannon_bits_per_byte(&[0u8; PAGE_SIZE]), 0.0);
        let mut two = [0u8; PAGE_SIZE];
        two.iter_mut().step_by(2).for_each(|b| *b = 1);
        assert!((shannon_bits_per_byte(&two) - 1.0).abs() < 1e-12);
        let mut all: Page = [0; PAGE_SIZE];
        for (i, b) in all.iter_mut().enumerate() {
            *b = i.to_le_bytes()[0];
        }
        assert!((shannon_bits_per_byte(&all) - 8.0).abs() < 1e-12);
        assert_eq!(predicted_size(&all, 8.0), PAGE_SIZE as f64);
        assert_eq!(predicted_size(&[0u8; PAGE_SIZE], 0.0), 8.0);
        assert_eq!(
            predicted_size(&two, 1.0),
            8.0,
            "a repeated 8-byte word is same-fill"
        );
    }
}
