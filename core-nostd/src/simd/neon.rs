//! NEON kernels shared by the page code. Each has a scalar twin that it is tested against.

use core::arch::aarch64::*;

use crate::Page;

/// Whether every 8-byte word of `page` equals `word`: 64 bytes per step, one reduction per step.
pub(crate) fn is_repeated_word(page: &Page, word: u64) -> bool {
    // SAFETY: NEON is baseline on AArch64 (this module is compiled only there and only used when
    // `SimdBackend::Neon` is available).
    let pattern = unsafe { vdupq_n_u64(word) };
    page.chunks_exact(64).all(|chunk| {
        let p = chunk.as_ptr();
        // SAFETY: the chunk holds exactly 64 bytes, so the four 16-byte loads stay inside it; vld1q
        // needs no alignment.
        unsafe {
            let a = veorq_u64(vld1q_u64(p.cast()), pattern);
            let b = veorq_u64(vld1q_u64(p.add(16).cast()), pattern);
            let c = veorq_u64(vld1q_u64(p.add(32).cast()), pattern);
            let d = veorq_u64(vld1q_u64(p.add(48).cast()), pattern);
            let diff = vorrq_u64(vorrq_u64(a, b), vorrq_u64(c, d));
            vmaxvq_u32(vreinterpretq_u32_u64(diff)) == 0
        }
    })
}

/// Zero bytes, and 8-byte words equal to the word before them (see `entropy::redundancy_counts`).
pub(crate) fn redundancy_counts(page: &Page) -> (u32, u32) {
    let ptr = page.as_ptr();
    let mut zeros = 0u32;
    for i in (0..page.len()).step_by(16) {
        // SAFETY: NEON is baseline on AArch64; i + 16 <= 4096 keeps the load inside the page.
        zeros += u32::from(unsafe {
            let is_zero = vceqzq_u8(vld1q_u8(ptr.add(i)));
            vaddvq_u8(vandq_u8(is_zero, vdupq_n_u8(1)))
        });
    }
    // Words 1..=510 two at a time, each against the word before it; the rest in scalar.
    let mut repeated = 0u32;
    let mut offset = 8;
    while offset + 16 <= page.len() {
        // SAFETY: NEON is baseline; offset >= 8 and offset + 16 <= 4096 keep both loads in the page.
        let pair = unsafe {
            let eq = vceqq_u64(
                vld1q_u64(ptr.add(offset).cast()),
                vld1q_u64(ptr.add(offset - 8).cast()),
            );
            vaddvq_u64(vshrq_n_u64::<63>(eq))
        };
        // At most 2.
        repeated += u32::try_from(pair).unwrap_or(2);
        offset += 16;
    }
    (
        zeros,
        repeated + crate::entropy::repeated_words_from(page, offset / 8),
    )
}
