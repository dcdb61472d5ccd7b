//! The state of one size class: its spans, its object table (handle index -> location), the list of
//! spans with free slots, and its statistics. Everything here runs under the class's lock.
//!
//! The object table is what keeps handles valid while compaction moves objects: a handle names a table
//! entry, and the entry says where the object lies now. An entry is one `u64`:
//!
//! ```text
//!  bits 0..3   kind: 0..=3 a page encoding (its wire tag), 4 a raw object, 7 a free entry
//!  bits 3..16  object length (1..=4096)
//!  bits 16..32 slot in the span
//!  bits 32..64 span index (for a free entry: the next free entry, u32::MAX for none)
//! ```

use alloc::vec::Vec;

use super::account::{Accounting, heap_bytes, release_vec, reserve_one, shrink_exact};
use super::class::ClassSpec;
use super::span::{NO_SPAN, Span};
use crate::error::{Error, Result};
use trueno_zram_core::Encoding;

/// Kind code of an object stored raw with `insert`.
pub const KIND_RAW: u8 = 4;
const KIND_FREE: u64 = 7;
/// "No entry" at the end of the free list.
const NO_ENTRY: u32 = u32::MAX;
/// Most objects one class holds: table indexes stay below `NO_ENTRY`.
pub const MAX_OBJECTS: usize = NO_ENTRY as usize;
/// Smallest growth of a class's table and span list, in elements.
const TABLE_STEP: usize = 32;
const SPANS_STEP: usize = 4;

/// Where a live object is and what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// Kind code: an `Encoding` tag, or `KIND_RAW`.
    pub kind: u8,
    /// Object length in bytes.
    pub len: usize,
    /// Index of its span.
    pub span: usize,
    /// Its slot in the span.
    pub slot: usize,
}

impl Location {
    fn encode(self) -> u64 {
        u64::from(self.kind)
            | (self.len as u64) << 3
            | (self.slot as u64) << 16
            | (self.span as u64) << 32
    }

    fn decode(entry: u64) -> Option<Self> {
        let kind = (entry & 7) as u8;
        (u64::from(kind) != KIND_FREE).then_some(Self {
            kind,
            len: ((entry >> 3) & 0x1fff) as usize,
            slot: ((entry >> 16) & 0xffff) as usize,
            span: (entry >> 32) as usize,
        })
    }
}

fn free_entry(next: u32) -> u64 {
    KIND_FREE | u64::from(next) << 32
}

fn next_free(entry: u64) -> u32 {
    // The upper 32 bits of a u64 fit a u32.
    #[allow(clippy::cast_possible_truncation)]
    let next = (entry >> 32) as u32;
    next
}

/// Statistics of one class, in `mm_stat` terms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClassStats {
    /// Live objects.
    pub objects: u64,
    /// Pages stored with `insert_page` (any encoding).
    pub pages: u64,
    /// Bytes of objects, same-fill pages excluded (they stand for no compressed data).
    pub compr_bytes: u64,
    /// Same-fill pages.
    pub same_pages: u64,
    /// Pages stored raw (`Encoding::Stored`).
    pub huge_pages: u64,
}

impl ClassStats {
    fn count(&mut self, kind: u8, len: usize, sign: i64) {
        let add = |field: &mut u64, by: u64| {
            *field = if sign > 0 {
                field.wrapping_add(by)
            } else {
                field.wrapping_sub(by)
            };
        };
        add(&mut self.objects, 1);
        if kind != KIND_RAW {
            add(&mut self.pages, 1);
        }
        if kind == Encoding::SameFill.tag() {
            add(&mut self.same_pages, 1);
        } else {
            add(&mut self.compr_bytes, len as u64);
        }
        if kind == Encoding::Stored.tag() {
            add(&mut self.huge_pages, 1);
        }
    }
}

/// One size class's spans and objects.
#[derive(Debug)]
pub struct ClassStore {
    table: Vec<u64>,
    free_head: u32,
    spans: Vec<Option<Span>>,
    /// Empty places in `spans`, reused before it grows.
    holes: usize,
    live_spans: usize,
    /// Head of the doubly linked list of spans with free slots.
    nonfull_head: u32,
    /// This class's statistics.
    pub stats: ClassStats,
}

impl ClassStore {
    /// An empty class; allocates nothing.
    pub const fn new() -> Self {
        Self {
            table: Vec::new(),
            free_head: NO_ENTRY,
            spans: Vec::new(),
            holes: 0,
            live_spans: 0,
            nonfull_head: NO_SPAN,
            stats: ClassStats {
                objects: 0,
                pages: 0,
                compr_bytes: 0,
                same_pages: 0,
                huge_pages: 0,
            },
        }
    }

    /// Bytes of heap this class holds (for checks: the accounting tracks the same sum incrementally).
    pub fn heap_bytes(&self) -> usize {
        heap_bytes(&self.table)
            + heap_bytes(&self.spans)
            + self
                .spans
                .iter()
                .flatten()
                .map(Span::heap_bytes)
                .sum::<usize>()
    }

    /// Whether the class holds any memory (objects, or a table or span list kept for reuse).
    pub fn holds_memory(&self) -> bool {
        self.table.capacity() > 0 || self.spans.capacity() > 0
    }

    /// Spans alive now.
    #[cfg(test)]
    pub fn live_spans(&self) -> usize {
        self.live_spans
    }

    /// Stores `bytes` (length checked by the caller to fit `spec`) and returns its table index.
    pub fn insert(
        &mut self,
        class: usize,
        spec: &ClassSpec,
        kind: u8,
        bytes: &[u8],
        acct: &Accounting,
    ) -> Result<u32> {
        // Make room in the table first: that changes nothing visible, so a later failure leaves no trace.
        if self.free_head == NO_ENTRY {
            // On 32-bit targets MAX_OBJECTS is usize::MAX and this can never hold; the check is for
            // 64-bit ones.
            #[allow(clippy::absurd_extreme_comparisons)]
            if self.table.len() >= MAX_OBJECTS {
                return Err(Error::ClassFull {
                    class,
                    max: MAX_OBJECTS,
                });
            }
            reserve_one(&mut self.table, TABLE_STEP, acct)?;
        }
        let (span, slot) = self.place(spec, bytes, acct)?;
        let entry = Location {
            kind,
            len: bytes.len(),
            span,
            slot,
        }
        .encode();
        let index = if self.free_head == NO_ENTRY {
            let index = u32::try_from(self.table.len()).map_err(|_| Error::ClassFull {
                class,
                max: MAX_OBJECTS,
            })?;
            self.table.push(entry);
            index
        } else {
            let index = self.free_head;
            let slot = self
                .table
                .get_mut(index as usize)
                .ok_or(Error::Inconsistent("free list points past the table"))?;
            self.free_head = next_free(*slot);
            *slot = entry;
            index
        };
        self.stats.count(kind, bytes.len(), 1);
        Ok(index)
    }

    /// Copies `bytes` into a free slot, creating or growing a span as needed.
    fn place(
        &mut self,
        spec: &ClassSpec,
        bytes: &[u8],
        acct: &Accounting,
    ) -> Result<(usize, usize)> {
        let id = match self.nonfull_head {
            NO_SPAN => self.new_span(spec, acct)?,
            id => id as usize,
        };
        let span = self.span_mut(id)?;
        let slot = span
            .lowest_free()
            .ok_or(Error::Inconsistent("a listed span has no free slot"))?;
        if let Err(e) = span.cover_slot(spec, slot, acct) {
            if span.used() == 0 {
                // The span was made for this object: do not keep it empty.
                self.free_span(id, acct);
            }
            return Err(e);
        }
        let dst = span
            .bytes_mut(spec, slot, bytes.len())
            .ok_or(Error::Inconsistent("a covered slot lies outside its span"))?;
        dst.copy_from_slice(bytes);
        span.occupy(slot);
        self.relist(id, spec);
        Ok((id, slot))
    }

    fn span_mut(&mut self, id: usize) -> Result<&mut Span> {
        self.spans
            .get_mut(id)
            .and_then(Option::as_mut)
            .ok_or(Error::Inconsistent("a location names a freed span"))
    }

    fn span(&self, id: usize) -> Option<&Span> {
        self.spans.get(id).and_then(Option::as_ref)
    }

    /// Creates an empty span, puts it on the non-full list and returns its index.
    fn new_span(&mut self, spec: &ClassSpec, acct: &Accounting) -> Result<usize> {
        let hole = if self.holes > 0 {
            self.spans.iter().position(Option::is_none)
        } else {
            None
        };
        // Span indexes must fit the 32 bits of a location and stay below NO_SPAN.
        if hole.is_none() && self.spans.len() >= NO_SPAN as usize {
            return Err(Error::Inconsistent("a class ran out of span indexes"));
        }
        if hole.is_none() {
            reserve_one(&mut self.spans, SPANS_STEP, acct)?;
        }
        let span = Span::new(spec, acct)?;
        let id = match hole {
            Some(id) => {
                if let Some(place) = self.spans.get_mut(id) {
                    *place = Some(span);
                }
                self.holes -= 1;
                id
            }
            None => {
                self.spans.push(Some(span));
                self.spans.len() - 1
            }
        };
        self.live_spans += 1;
        self.link(id);
        Ok(id)
    }

    /// Frees span `id` (it must be empty) and takes it off the list.
    fn free_span(&mut self, id: usize, acct: &Accounting) -> usize {
        self.unlink(id);
        match self.spans.get_mut(id).and_then(Option::take) {
            Some(span) => {
                let pages = span.pages();
                span.release(acct);
                self.holes += 1;
                self.live_spans -= 1;
                pages
            }
            None => 0,
        }
    }

    /// Brings span `id` into line after its occupancy changed: freed when empty, on the non-full list
    /// exactly when it has a free slot. Returns the pages freed.
    fn relist_or_free(&mut self, id: usize, spec: &ClassSpec, acct: &Accounting) -> usize {
        if self.span(id).is_some_and(|s| s.used() == 0) {
            self.free_span(id, acct)
        } else {
            self.relist(id, spec);
            0
        }
    }

    fn relist(&mut self, id: usize, spec: &ClassSpec) {
        let Some(span) = self.span(id) else { return };
        match (span.listed, span.is_full(spec)) {
            (true, true) => self.unlink(id),
            (false, false) => self.link(id),
            _ => {}
        }
    }

    fn link(&mut self, id: usize) {
        let head = self.nonfull_head;
        // Span indexes are below NO_SPAN (checked in new_span), so they fit a u32.
        #[allow(clippy::cast_possible_truncation)]
        let id32 = id as u32;
        if let Some(span) = self.spans.get_mut(id).and_then(Option::as_mut) {
            if span.listed {
                return;
            }
            span.listed = true;
            span.prev = NO_SPAN;
            span.next = head;
        } else {
            return;
        }
        if let Some(old) = self.spans.get_mut(head as usize).and_then(Option::as_mut) {
            old.prev = id32;
        }
        self.nonfull_head = id32;
    }

    fn unlink(&mut self, id: usize) {
        let (prev, next) = match self.spans.get_mut(id).and_then(Option::as_mut) {
            Some(span) if span.listed => {
                span.listed = false;
                (
                    core::mem::replace(&mut span.prev, NO_SPAN),
                    core::mem::replace(&mut span.next, NO_SPAN),
                )
            }
            _ => return,
        };
        match self.spans.get_mut(prev as usize).and_then(Option::as_mut) {
            Some(p) => p.next = next,
            None => self.nonfull_head = next,
        }
        if let Some(n) = self.spans.get_mut(next as usize).and_then(Option::as_mut) {
            n.prev = prev;
        }
    }

    /// Where the object at table index `index` lies, if it is live.
    pub fn locate(&self, index: usize) -> Option<Location> {
        self.table.get(index).copied().and_then(Location::decode)
    }

    /// The bytes of a live object.
    pub fn bytes(&self, spec: &ClassSpec, loc: &Location) -> Option<&[u8]> {
        self.span(loc.span)?.bytes(spec, loc.slot, loc.len)
    }

    /// Removes the object at `index`; returns its location, or `None` if no live object is there.
    pub fn remove(
        &mut self,
        spec: &ClassSpec,
        index: usize,
        acct: &Accounting,
    ) -> Option<Location> {
        let loc = self.locate(index)?;
        let span = self.spans.get_mut(loc.span).and_then(Option::as_mut)?;
        if !span.is_used(loc.slot) {
            return None;
        }
        span.vacate(loc.slot);
        self.relist_or_free(loc.span, spec, acct);
        if let Some(entry) = self.table.get_mut(index) {
            *entry = free_entry(self.free_head);
            // Table indexes are below NO_ENTRY (checked in insert), so they fit a u32.
            #[allow(clippy::cast_possible_truncation)]
            let index32 = index as u32;
            self.free_head = index32;
        }
        self.stats.count(loc.kind, loc.len, -1);
        Some(loc)
    }

    /// Replaces the live object at `index` with `bytes` (length checked by the caller to fit `spec`)
    /// in its own slot; returns false when no live object is there.
    pub fn overwrite(&mut self, spec: &ClassSpec, index: usize, kind: u8, bytes: &[u8]) -> bool {
        let Some(old) = self.locate(index) else {
            return false;
        };
        let Some(span) = self.spans.get_mut(old.span).and_then(Option::as_mut) else {
            return false;
        };
        let Some(dst) = span.bytes_mut(spec, old.slot, bytes.len()) else {
            return false;
        };
        dst.copy_from_slice(bytes);
        let new = Location {
            kind,
            len: bytes.len(),
            ..old
        };
        if let Some(entry) = self.table.get_mut(index) {
            *entry = new.encode();
        }
        self.stats.count(old.kind, old.len, -1);
        self.stats.count(kind, bytes.len(), 1);
        true
    }

    /// Moves objects so that the class uses as few spans and pages as its objects need, gives the rest
    /// back, and trims the object table's free tail. Handles stay valid. Returns the pages given back.
    ///
    /// Under a memory limit too tight for a step (a page a destination span must grow by, a copy that
    /// shrinking needs) it stops that step early; the class stays consistent.
    pub fn compact(&mut self, spec: &ClassSpec, acct: &Accounting) -> usize {
        let needed = usize::try_from(self.stats.objects)
            .unwrap_or(usize::MAX)
            .div_ceil(spec.slots);
        let mut freed = 0;
        if self.live_spans > needed {
            freed += self.merge_spans(spec, needed, acct);
        }
        freed += self.pack_spans(spec, acct);
        self.trim_table(acct);
        freed
    }

    /// Marks the `needed` fullest spans as destinations and moves every object of the others into them.
    fn merge_spans(&mut self, spec: &ClassSpec, needed: usize, acct: &Accounting) -> usize {
        // The largest occupancy `t` such that at least `needed` spans hold `t` objects or more.
        let count_at_least = |t: usize| {
            self.spans
                .iter()
                .flatten()
                .filter(|s| s.used() >= t)
                .count()
        };
        let (mut low, mut high) = (1, spec.slots);
        while low < high {
            let mid = (low + high).div_ceil(2);
            if count_at_least(mid) >= needed {
                low = mid;
            } else {
                high = mid - 1;
            }
        }
        let threshold = low;
        let mut kept = 0;
        for span in self.spans.iter_mut().flatten() {
            span.keep = span.used() > threshold;
            kept += usize::from(span.keep);
        }
        for span in self.spans.iter_mut().flatten() {
            if kept < needed && span.used() == threshold {
                span.keep = true;
                kept += 1;
            }
        }

        let mut freed = 0;
        let mut dest = 0;
        for index in 0..self.table.len() {
            let Some(loc) = self.locate(index) else {
                continue;
            };
            if self.span(loc.span).is_none_or(|s| s.keep) {
                continue;
            }
            // The next destination with a free slot (destinations only fill up, so the cursor only advances).
            while self.span(dest).is_none_or(|s| !s.keep || s.is_full(spec)) {
                dest += 1;
                if dest >= self.spans.len() {
                    break;
                }
            }
            match self.move_object(spec, index, loc, dest, acct) {
                Ok(pages) => freed += pages,
                Err(_) => break,
            }
        }
        for span in self.spans.iter_mut().flatten() {
            span.keep = false;
        }
        freed
    }

    /// Moves the object at table index `index` from `loc` to the lowest free slot of span `dest`.
    fn move_object(
        &mut self,
        spec: &ClassSpec,
        index: usize,
        loc: Location,
        dest: usize,
        acct: &Accounting,
    ) -> Result<usize> {
        if dest == loc.span {
            return Err(Error::Inconsistent("moving an object into its own span"));
        }
        let (src_span, dst_span) = two_spans(&mut self.spans, loc.span, dest)
            .ok_or(Error::Inconsistent("no destination span to compact into"))?;
        let slot = dst_span
            .lowest_free()
            .ok_or(Error::Inconsistent("a destination span is full"))?;
        dst_span.cover_slot(spec, slot, acct)?;
        let src = src_span
            .bytes(spec, loc.slot, loc.len)
            .ok_or(Error::Inconsistent("an object lies outside its span"))?;
        let dst = dst_span
            .bytes_mut(spec, slot, loc.len)
            .ok_or(Error::Inconsistent("a covered slot lies outside its span"))?;
        dst.copy_from_slice(src);
        dst_span.occupy(slot);
        src_span.vacate(loc.slot);
        if let Some(entry) = self.table.get_mut(index) {
            *entry = Location {
                span: dest,
                slot,
                ..loc
            }
            .encode();
        }
        self.relist(dest, spec);
        Ok(self.relist_or_free(loc.span, spec, acct))
    }

    /// In every span holding more pages than its objects need, moves objects down into the lowest free
    /// slots and gives the pages above them back.
    fn pack_spans(&mut self, spec: &ClassSpec, acct: &Accounting) -> usize {
        for span in self.spans.iter_mut().flatten() {
            span.keep = span.pages() > spec.pages_for_slots(span.used());
        }
        for index in 0..self.table.len() {
            let Some(loc) = self.locate(index) else {
                continue;
            };
            let Some(span) = self.spans.get_mut(loc.span).and_then(Option::as_mut) else {
                continue;
            };
            // An object at or above slot `used` has a free slot below `used` to go to.
            if !span.keep || loc.slot < span.used() {
                continue;
            }
            let Some(to) = span.lowest_free().filter(|&to| to < loc.slot) else {
                continue;
            };
            if !span.move_within(spec, loc.slot, to, loc.len) {
                continue;
            }
            span.occupy(to);
            span.vacate(loc.slot);
            if let Some(entry) = self.table.get_mut(index) {
                *entry = Location { slot: to, ..loc }.encode();
            }
        }
        let mut freed = 0;
        for span in self.spans.iter_mut().flatten() {
            if span.keep {
                freed += span.shrink_to_used(spec, acct);
                span.keep = false;
            }
        }
        freed
    }

    /// Drops free entries at the table's end and the spare capacity beyond an eighth.
    fn trim_table(&mut self, acct: &Accounting) {
        let live_end = self
            .table
            .iter()
            .rposition(|&e| Location::decode(e).is_some())
            .map_or(0, |i| i + 1);
        if live_end < self.table.len() {
            self.table.truncate(live_end);
            // Rebuild the free list over what is left, lowest index first.
            self.free_head = NO_ENTRY;
            for index in (0..self.table.len()).rev() {
                if let Some(entry) = self.table.get_mut(index)
                    && Location::decode(*entry).is_none()
                {
                    *entry = free_entry(self.free_head);
                    // Below NO_ENTRY, as every table index.
                    #[allow(clippy::cast_possible_truncation)]
                    let index32 = index as u32;
                    self.free_head = index32;
                }
            }
        }
        let len = self.table.len();
        if len == 0 {
            release_vec(core::mem::take(&mut self.table), acct);
        } else if self.table.capacity() > len + len / 8 + TABLE_STEP {
            shrink_exact(&mut self.table, len, acct);
        }
        let spans_len = self
            .spans
            .iter()
            .rposition(Option::is_some)
            .map_or(0, |i| i + 1);
        if spans_len < self.spans.len() {
            self.holes -= self.spans.len() - spans_len;
            self.spans.truncate(spans_len);
        }
        if spans_len == 0 {
            release_vec(core::mem::take(&mut self.spans), acct);
        }
    }

    /// Gives back all memory (the class becomes empty).
    pub fn clear(&mut self, acct: &Accounting) {
        let spans = core::mem::take(&mut self.spans);
        acct.release(heap_bytes(&spans));
        for span in spans.into_iter().flatten() {
            span.release(acct);
        }
        release_vec(core::mem::take(&mut self.table), acct);
        *self = Self::new();
    }
}

/// Two distinct spans, mutably.
fn two_spans(spans: &mut [Option<Span>], a: usize, b: usize) -> Option<(&mut Span, &mut Span)> {
    if a == b {
        return None;
    }
    let (low, high) = (a.min(b), a.max(b));
    let (left, right) = spans.split_at_mut(high);
    let low_span = left.get_mut(low)?.as_mut()?;
    let high_span = right.first_mut()?.as_mut()?;
    Some(if a < b {
        (low_span, high_span)
    } else {
        (high_span, low_span)
    })
}
