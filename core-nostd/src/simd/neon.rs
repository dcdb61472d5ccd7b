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
