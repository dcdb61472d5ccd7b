//! The size classes: which slot size an object of a given length gets, and how many pages a span of
//! that class spans.
//!
//! Slot sizes are 8 and 16 bytes (same-fill words and tiny objects), then every multiple of 32 up to a
//! page. A 32-byte step wastes 16 bytes per object on average, about 1% of a typical 1.3 KiB LZ4 page,
//! while keeping the number of classes (each with at most one partly filled span) small.
//!
//! Objects of a class lie back to back in its spans, straddling page boundaries, so a span of `k` pages
//! wastes only `k * PAGE_SIZE mod slot_size` bytes at its end. Each class takes the `k` in
//! `1..=MAX_SPAN_PAGES` with the smallest waste per byte, counting the span's own bookkeeping.

use trueno_zram_core::PAGE_SIZE;

/// Largest span, in pages.
pub const MAX_SPAN_PAGES: usize = 16;

/// Number of size classes.
pub const CLASS_COUNT: usize = 2 + PAGE_SIZE / 32;

/// Bytes of bookkeeping a span costs besides its data (its record and its slot bitmap's header),
/// used to weigh small spans against large ones.
const SPAN_OVERHEAD: usize = 96;

/// The shape of one size class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassSpec {
    /// Bytes per slot: the largest object the class holds.
    pub slot_size: usize,
    /// Pages per full span.
    pub span_pages: usize,
    /// Slots per span.
    pub slots: usize,
}

impl ClassSpec {
    /// Bytes of a full span.
    #[cfg(test)]
    pub const fn span_bytes(&self) -> usize {
        self.span_pages * PAGE_SIZE
    }

    /// Whole pages that hold slots `0..n`.
    pub const fn pages_for_slots(&self, n: usize) -> usize {
        (n * self.slot_size).div_ceil(PAGE_SIZE)
    }
}

/// Slot size of class `index`.
const fn slot_size_of(index: usize) -> usize {
    match index {
        0 => 8,
        1 => 16,
        i => (i - 1) * 32,
    }
}

/// The class shape with the least waste per byte of span.
const fn spec_of(index: usize) -> ClassSpec {
    let slot_size = slot_size_of(index);
    let mut best_pages = 1;
    let mut k = 1;
    // Compare waste(k)/bytes(k) by cross-multiplying, to stay in integers.
    while k <= MAX_SPAN_PAGES {
        let bytes = k * PAGE_SIZE;
        let waste = bytes % slot_size + SPAN_OVERHEAD;
        let best_bytes = best_pages * PAGE_SIZE;
        let best_waste = best_bytes % slot_size + SPAN_OVERHEAD;
        if waste * best_bytes < best_waste * bytes {
            best_pages = k;
        }
        k += 1;
    }
    ClassSpec {
        slot_size,
        span_pages: best_pages,
        slots: best_pages * PAGE_SIZE / slot_size,
    }
}

const fn build_classes() -> [ClassSpec; CLASS_COUNT] {
    let mut classes = [ClassSpec {
        slot_size: 0,
        span_pages: 0,
        slots: 0,
    }; CLASS_COUNT];
    let mut i = 0;
    while i < CLASS_COUNT {
        classes[i] = spec_of(i);
        i += 1;
    }
    classes
}

/// Every class, smallest slot first.
pub static CLASSES: [ClassSpec; CLASS_COUNT] = build_classes();

/// The class of an object of `len` bytes (`1..=PAGE_SIZE`; other lengths give `None`).
pub const fn class_of(len: usize) -> Option<usize> {
    match len {
        0 => None,
        1..=8 => Some(0),
        9..=16 => Some(1),
        17..=PAGE_SIZE => Some(1 + len.div_ceil(32)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_length_gets_the_smallest_class_that_holds_it() {
        for len in 1..=PAGE_SIZE {
            let class = class_of(len).unwrap();
            assert!(CLASSES[class].slot_size >= len, "len {len}");
            if class > 0 {
                assert!(CLASSES[class - 1].slot_size < len, "len {len}");
            }
        }
        assert_eq!(class_of(0), None);
        assert_eq!(class_of(PAGE_SIZE + 1), None);
        assert_eq!(CLASSES[CLASS_COUNT - 1].slot_size, PAGE_SIZE);
    }

    #[test]
    fn spans_fit_their_slots_and_handles() {
        for spec in &CLASSES {
            assert!((1..=MAX_SPAN_PAGES).contains(&spec.span_pages));
            assert!(spec.slots >= 1);
            assert!(spec.slots * spec.slot_size <= spec.span_bytes());
            // The tail left over is smaller than one slot.
            assert!(spec.span_bytes() - spec.slots * spec.slot_size < spec.slot_size);
            // Slot numbers fit the 16 bits a location keeps for them.
            assert!(spec.slots <= usize::from(u16::MAX));
        }
    }

    #[test]
    fn tails_waste_little() {
        // Under 2% of a span is lost at its end, except for slots so close to a page that no span of at
        // most MAX_SPAN_PAGES packs them well (3872..=4064 bytes: at most 5.5%).
        for spec in &CLASSES {
            let waste = spec.span_bytes() - spec.slots * spec.slot_size;
            let percent = if spec.slot_size < 3872 { 2 } else { 6 };
            assert!(waste * 100 < percent * spec.span_bytes(), "{spec:?}");
        }
    }
}
