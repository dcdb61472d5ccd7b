//! A span: one contiguous run of up to `MAX_SPAN_PAGES` pages holding the slots of one size class back to
//! back (objects straddle page boundaries), with a bitmap of the slots in use.
//!
//! A span's memory grows a page at a time as its slots are handed out, so a class's last, partly filled
//! span holds less than one page it does not use; compaction shrinks spans back to the pages their
//! objects need.

use alloc::vec::Vec;

use super::account::{Accounting, heap_bytes, release_vec, reserve_exact};
use super::class::ClassSpec;
use super::pages::{self, SpanPages};
use crate::error::Result;
use trueno_zram_core::PAGE_SIZE;

/// "No span" in the links of the non-full list.
pub const NO_SPAN: u32 = u32::MAX;

/// One span of a size class.
#[derive(Debug)]
pub struct Span {
    /// The slots: a whole number of pages, all of them counted in the accounting.
    data: SpanPages,
    /// Bit `s` set: slot `s` holds an object. Bits past the last slot are set so they are never handed out.
    bitmap: Vec<u64>,
    /// Slots in use.
    used: usize,
    /// Links of the class's list of spans with free slots.
    pub prev: u32,
    /// See `prev`.
    pub next: u32,
    /// Whether the span is on that list.
    pub listed: bool,
    /// Compaction keeps this span (it is a destination), moving objects out of the others.
    pub keep: bool,
}

impl Span {
    /// An empty span for `spec`, with its bitmap but no pages yet.
    pub fn new(spec: &ClassSpec, acct: &Accounting) -> Result<Self> {
        let words = spec.slots.div_ceil(64);
        let mut bitmap = Vec::new();
        reserve_exact(&mut bitmap, words, acct)?;
        bitmap.resize(words, 0);
        let tail_bits = spec.slots % 64;
        if tail_bits != 0
            && let Some(last) = bitmap.last_mut()
        {
            *last = !0u64 << tail_bits;
        }
        let data = match SpanPages::new(spec.span_pages) {
            Ok(d) => d,
            Err(e) => {
                release_vec(bitmap, acct);
                return Err(e);
            }
        };
        Ok(Self {
            data,
            bitmap,
            used: 0,
            prev: NO_SPAN,
            next: NO_SPAN,
            listed: false,
            keep: false,
        })
    }

    /// Gives its memory back.
    pub fn release(self, acct: &Accounting) {
        self.data.release(acct);
        release_vec(self.bitmap, acct);
    }

    /// Bytes of heap it holds.
    pub fn heap_bytes(&self) -> usize {
        self.data.len() + heap_bytes(&self.bitmap)
    }

    /// Pages of data it holds now.
    pub fn pages(&self) -> usize {
        self.data.len() / PAGE_SIZE
    }

    /// Slots in use.
    pub fn used(&self) -> usize {
        self.used
    }

    /// Whether every slot is in use.
    pub fn is_full(&self, spec: &ClassSpec) -> bool {
        self.used >= spec.slots
    }

    /// Whether slot `slot` holds an object.
    pub fn is_used(&self, slot: usize) -> bool {
        self.bitmap
            .get(slot / 64)
            .is_some_and(|w| w & (1 << (slot % 64)) != 0)
    }

    /// The lowest free slot, if any.
    pub fn lowest_free(&self) -> Option<usize> {
        self.bitmap
            .iter()
            .position(|&w| w != u64::MAX)
            .and_then(|i| {
                let word = self.bitmap.get(i)?;
                Some(i * 64 + word.trailing_ones() as usize)
            })
    }

    /// Makes sure the data covers slot `slot`, growing by whole pages.
    pub fn cover_slot(&mut self, spec: &ClassSpec, slot: usize, acct: &Accounting) -> Result<()> {
        let pages = spec.pages_for_slots(slot + 1);
        let needed = pages * PAGE_SIZE;
        if needed <= self.data.len() {
            return Ok(());
        }
        self.data.grow(needed - self.data.len(), acct)
    }

    /// Marks slot `slot` used (it must be free and covered).
    pub fn occupy(&mut self, slot: usize) {
        if let Some(word) = self.bitmap.get_mut(slot / 64) {
            *word |= 1 << (slot % 64);
            self.used += 1;
        }
    }

    /// Marks slot `slot` free (it must be used).
    pub fn vacate(&mut self, slot: usize) {
        if let Some(word) = self.bitmap.get_mut(slot / 64) {
            *word &= !(1 << (slot % 64));
            self.used -= 1;
        }
    }

    /// The bytes of slot `slot`, `len` long, if the span covers them.
    pub fn bytes(&self, spec: &ClassSpec, slot: usize, len: usize) -> Option<&[u8]> {
        let start = slot.checked_mul(spec.slot_size)?;
        pages::slice(&self.data, start..start.checked_add(len)?)
    }

    /// The bytes of slot `slot`, mutable.
    pub fn bytes_mut(&mut self, spec: &ClassSpec, slot: usize, len: usize) -> Option<&mut [u8]> {
        let start = slot.checked_mul(spec.slot_size)?;
        pages::slice_mut(&mut self.data, start..start.checked_add(len)?)
    }

    /// Copies `len` bytes from slot `from` to slot `to` inside this span.
    pub fn move_within(&mut self, spec: &ClassSpec, from: usize, to: usize, len: usize) -> bool {
        let (Some(src), Some(dst)) = (
            from.checked_mul(spec.slot_size),
            to.checked_mul(spec.slot_size),
        ) else {
            return false;
        };
        let fits = |start: usize| {
            start
                .checked_add(len)
                .is_some_and(|end| end <= self.data.len())
        };
        if !fits(src) || !fits(dst) {
            return false;
        }
        self.data.as_mut_slice().copy_within(src..src + len, dst);
        true
    }

    /// The highest used slot plus one (0 when empty).
    pub fn slots_in_use_end(&self, spec: &ClassSpec) -> usize {
        let words = self.bitmap.len();
        self.bitmap
            .iter()
            .enumerate()
            .rev()
            .find_map(|(i, &w)| {
                // Bits past the last slot are set as padding: look only at real slots.
                let live = w & valid_mask(i, words, spec.slots % 64);
                (live != 0).then(|| i * 64 + 64 - live.leading_zeros() as usize)
            })
            .unwrap_or(0)
    }

    /// Gives back pages past those holding slots `0..slots_in_use_end()`.
    pub fn shrink_to_used(&mut self, spec: &ClassSpec, acct: &Accounting) -> usize {
        let keep = spec.pages_for_slots(self.slots_in_use_end(spec)) * PAGE_SIZE;
        if keep >= self.data.len() {
            return 0;
        }
        let freed = (self.data.len() - keep) / PAGE_SIZE;
        if self.data.shrink(keep, acct) {
            freed
        } else {
            0
        }
    }
}

/// Mask of the real slot bits of bitmap word `i` out of `words`, `tail_bits` real bits in the last one.
fn valid_mask(i: usize, words: usize, tail_bits: usize) -> u64 {
    if i + 1 == words && tail_bits != 0 {
        (1u64 << tail_bits) - 1
    } else {
        u64::MAX
    }
}
