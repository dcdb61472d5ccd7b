//! Splitting a byte range of the device into the pages it touches.

use trueno_zram::PAGE_SIZE;

/// The part of one page that a byte range covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSpan {
    /// Index of the page on the device.
    pub page: u64,
    /// First byte of the span inside the page.
    pub start: usize,
    /// Bytes the span covers (1..=PAGE_SIZE).
    pub len: usize,
    /// Where the span starts in the caller's buffer.
    pub buf_offset: usize,
}

impl PageSpan {
    /// Whether the span is the whole page.
    pub fn is_whole_page(&self) -> bool {
        self.len == PAGE_SIZE
    }

    /// The span's bytes inside a page buffer.
    pub fn in_page(&self) -> core::ops::Range<usize> {
        self.start..self.start + self.len
    }

    /// The span's bytes inside the caller's buffer.
    pub fn in_buf(&self) -> core::ops::Range<usize> {
        self.buf_offset..self.buf_offset + self.len
    }
}

/// Iterates over the pages of `[offset, offset + len)`. The caller has checked the range against
/// the device size, so `offset + len` does not overflow.
pub fn spans(offset: u64, len: usize) -> impl Iterator<Item = PageSpan> {
    const PAGE: u64 = PAGE_SIZE as u64;
    let mut pos = offset;
    let mut done = 0usize;
    core::iter::from_fn(move || {
        if done >= len {
            return None;
        }
        let page = pos / PAGE;
        // The remainder of a division by PAGE_SIZE fits in usize.
        #[allow(clippy::cast_possible_truncation)]
        let start = (pos % PAGE) as usize;
        let seg = (PAGE_SIZE - start).min(len - done);
        let span = PageSpan {
            page,
            start,
            len: seg,
            buf_offset: done,
        };
        done += seg;
        pos += seg as u64;
        Some(span)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unaligned_range_splits_at_page_edges() {
        let v: Vec<_> = spans(4000, 5000).collect();
        assert_eq!(v.len(), 3);
        assert_eq!(
            (v[0].page, v[0].start, v[0].len, v[0].buf_offset),
            (0, 4000, 96, 0)
        );
        assert_eq!(
            (v[1].page, v[1].start, v[1].len, v[1].buf_offset),
            (1, 0, 4096, 96)
        );
        assert_eq!(
            (v[2].page, v[2].start, v[2].len, v[2].buf_offset),
            (2, 0, 808, 4192)
        );
        assert!(v[1].is_whole_page());
        assert_eq!(spans(8192, 0).count(), 0);
    }
}
