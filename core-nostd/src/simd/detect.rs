//! CPU feature detection without `std`: CPUID and XGETBV on x86-64 (the OS must save YMM/ZMM state for
//! AVX kernels to be safe), NEON as baseline on AArch64. Detected once and cached in an atomic.
//! Under Miri, which cannot run CPUID, only compile-time features count.

use core::sync::atomic::{AtomicU8, Ordering};

const UNKNOWN: u8 = 0;
const KNOWN: u8 = 1;
const AVX2: u8 = 1 << 1;
const AVX512: u8 = 1 << 2;

static FEATURES: AtomicU8 = AtomicU8::new(UNKNOWN);

fn features() -> u8 {
    let cached = FEATURES.load(Ordering::Relaxed);
    if cached & KNOWN != 0 {
        return cached;
    }
    let found = KNOWN | probe();
    // Racing threads compute the same value, so a plain store is enough.
    FEATURES.store(found, Ordering::Relaxed);
    found
}

#[cfg(all(target_arch = "x86_64", not(miri)))]
fn probe() -> u8 {
    use core::arch::x86_64::{__cpuid, __cpuid_count};

    let leaf0 = __cpuid(0);
    if leaf0.eax < 7 {
        return 0;
    }
    // Leaves 1 and 7 exist because leaf 0 reported a maximum leaf of at least 7.
    let leaf1 = __cpuid(1);
    let leaf7 = __cpuid_count(7, 0);
    let osxsave = leaf1.ecx & (1 << 27) != 0;
    let avx = leaf1.ecx & (1 << 28) != 0;
    if !(osxsave && avx) {
        return 0;
    }
    // SAFETY: OSXSAVE is set, so XGETBV is enabled by the OS.
    let xcr0 = unsafe { xgetbv0() };
    let ymm_state = xcr0 & 0b110 == 0b110;
    let zmm_state = xcr0 & 0b1110_0110 == 0b1110_0110;
    let avx2 = leaf7.ebx & (1 << 5) != 0;
    let bmi1 = leaf7.ebx & (1 << 3) != 0;
    let bmi2 = leaf7.ebx & (1 << 8) != 0;
    let avx512f = leaf7.ebx & (1 << 16) != 0;
    let avx512bw = leaf7.ebx & (1 << 30) != 0;
    let avx512vl = leaf7.ebx & (1 << 31) != 0;
    // LZCNT (CPUID 0x8000_0001:ECX bit 5) comes with BMI2 on every CPU that has it; the AVX2
    // kernels use it for leading zeros (BSR, its fallback, keeps a false dependency on its
    // destination that can chain a loop's iterations). The extended leaf exists when reported.
    let lzcnt = __cpuid(0x8000_0000).eax >= 0x8000_0001 && __cpuid(0x8000_0001).ecx & (1 << 5) != 0;
    let mut found = 0;
    if ymm_state && avx2 && bmi1 && bmi2 && lzcnt {
        found |= AVX2;
        if zmm_state && avx512f && avx512bw && avx512vl {
            found |= AVX512;
        }
    }
    found
}

/// Reads XCR0.
///
/// # Safety
/// The caller must have checked CPUID.1:ECX.OSXSAVE.
#[cfg(all(target_arch = "x86_64", not(miri)))]
#[target_feature(enable = "xsave")]
unsafe fn xgetbv0() -> u64 {
    // SAFETY: the caller guarantees XGETBV is enabled; register 0 (XCR0) always exists.
    unsafe { core::arch::x86_64::_xgetbv(0) }
}

#[cfg(any(not(target_arch = "x86_64"), miri))]
fn probe() -> u8 {
    let mut found = 0;
    if cfg!(all(
        target_arch = "x86_64",
        target_feature = "avx2",
        target_feature = "bmi2",
        target_feature = "lzcnt"
    )) {
        found |= AVX2;
    }
    if cfg!(all(
        target_arch = "x86_64",
        target_feature = "avx512f",
        target_feature = "avx512bw",
        target_feature = "avx512vl"
    )) {
        found |= AVX512;
    }
    found
}

pub(super) fn has_avx2() -> bool {
    features() & AVX2 != 0
}

pub(super) fn has_avx512() -> bool {
    features() & AVX512 != 0
}

pub(super) fn has_neon() -> bool {
    // Advanced SIMD is mandatory in the AArch64 procedure-call standard that Rust targets.
    cfg!(all(target_arch = "aarch64", target_feature = "neon"))
}

pub(super) fn best() -> super::SimdBackend {
    use super::SimdBackend;
    if has_avx512() {
        SimdBackend::Avx512
    } else if has_avx2() {
        SimdBackend::Avx2
    } else if has_neon() {
        SimdBackend::Neon
    } else {
        SimdBackend::Scalar
    }
}
