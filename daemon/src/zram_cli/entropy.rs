//! `entropy`: the order-0 (byte-frequency) Shannon entropy of each page of a file, its distribution,
//! and the compression ratio it predicts.
//!
//! Two predictions are printed. The core's estimate (`entropy::estimate`, what the adaptive policy
//! looks at: sampled entropy, zero bytes, repeated words) per page, with same-fill pages at their
//! 8 bytes and pages it predicts no gain for stored raw. And the order-0 bound: the whole page's
//! entropy times its length, which LZ codecs beat on repetitive pages and miss on pages with skewed
//! but unrepeated bytes. Both are predictions; `bench` measures.

use std::path::PathBuf;

use trueno_zram::{PAGE_SIZE, Page, entropy, samefill};

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

/// Shannon entropy of a page's bytes, in bits per byte (0 to 8), from the core.
pub fn shannon_bits_per_byte(page: &Page) -> f64 {
    f64::from(entropy::page_entropy(page))
}

/// The stored size a page is predicted to take: 8 bytes when same-fill, else `codec_estimate`
/// bytes, or the raw page when that would save less than 1/32 of it (such pages are stored raw).
fn as_stored(page: &Page, codec_estimate: f64) -> f64 {
    if samefill::detect(page).is_some() {
        return 8.0;
    }
    if codec_estimate > PAGE_SIZE as f64 * 31.0 / 32.0 {
        PAGE_SIZE as f64
    } else {
        codec_estimate.max(1.0)
    }
}

/// The predicted stored size by the order-0 entropy bound.
pub fn order0_size(page: &Page, bits_per_byte: f64) -> f64 {
    as_stored(page, bits_per_byte * PAGE_SIZE as f64 / 8.0)
}

/// The predicted stored size by the core's estimate.
pub fn estimated_size(page: &Page) -> f64 {
    let ratio = f64::from(entropy::estimate(page).predicted_ratio()).max(1e-3);
    as_stored(page, PAGE_SIZE as f64 / ratio)
}

/// Runs `entropy`.
pub fn run(args: &EntropyArgs) -> CliResult {
    let pages = super::load_pages(&args.file, args.pages)?;
    let mut buckets = [0usize; 8];
    let mut same = 0usize;
    let mut order0 = 0.0;
    let mut estimated = 0.0;
    let mut sum_h = 0.0;
    for page in &pages {
        let h = shannon_bits_per_byte(page);
        sum_h += h;
        order0 += order0_size(page, h);
        estimated += estimated_size(page);
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
    let bytes = (total * PAGE_SIZE) as f64;
    println!(
        "predicted ratio {:.3} (core estimate: sampled entropy, zero bytes and repeated words per page)",
        bytes / estimated.max(1.0)
    );
    println!(
        "order-0 bound   {:.3} (whole-page entropy; LZ codecs beat it on repetitive data)",
        bytes / order0.max(1.0)
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
        assert!((shannon_bits_per_byte(&two) - 1.0).abs() < 1e-3);
        let mut all: Page = [0; PAGE_SIZE];
        for (i, b) in all.iter_mut().enumerate() {
            *b = i.to_le_bytes()[0];
        }
        assert!((shannon_bits_per_byte(&all) - 8.0).abs() < 1e-3);
        assert_eq!(order0_size(&all, 8.0), PAGE_SIZE as f64);
        assert_eq!(order0_size(&[0u8; PAGE_SIZE], 0.0), 8.0);
        assert_eq!(
            order0_size(&two, 1.0),
            8.0,
            "a repeated 8-byte word is same-fill"
        );
        let mut half = [0u8; PAGE_SIZE];
        half[..2048].copy_from_slice(&all[..2048]);
        // 2048 zeros and 8 copies of each byte value: 1 + 0.5 * 8 = 5 bits/byte... of 4096 bytes.
        let h = shannon_bits_per_byte(&half);
        assert!((order0_size(&half, h) - h * 512.0).abs() < 1e-9);
        let est = estimated_size(&half);
        assert!(est > 8.0 && est < PAGE_SIZE as f64, "{est}");
    }
}
