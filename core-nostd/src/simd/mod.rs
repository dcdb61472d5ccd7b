//! SIMD backends and their run-time selection. Kernels live beside their scalar twins in the modules
//! that use them (`samefill`, the codecs); this module only decides which one may run.

mod detect;

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2;
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512;
#[cfg(target_arch = "aarch64")]
pub(crate) mod neon;

/// An instruction-set family that kernels are written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SimdBackend {
    /// Portable Rust: the oracle every other backend is tested against.
    Scalar,
    /// x86-64 AVX2 (with BMI1/BMI2 and POPCNT, which every AVX2 CPU has).
    Avx2,
    /// x86-64 AVX-512 F, BW, VL (and AVX2 underneath).
    Avx512,
    /// AArch64 Advanced SIMD, baseline on every AArch64 CPU.
    Neon,
}

impl SimdBackend {
    /// Every backend, from the most portable to the widest.
    pub const ALL: [SimdBackend; 4] = [Self::Scalar, Self::Avx2, Self::Avx512, Self::Neon];

    /// The best backend this CPU and OS support. Detected once, then cached.
    pub fn detect() -> Self {
        detect::best()
    }

    /// Whether this backend can run here.
    pub fn is_available(self) -> bool {
        match self {
            Self::Scalar => true,
            Self::Avx2 => detect::has_avx2(),
            Self::Avx512 => detect::has_avx512(),
            Self::Neon => detect::has_neon(),
        }
    }

    /// `self` when it can run here, otherwise the best available backend that is not wider than it
    /// (AVX-512 falls back to AVX2, then scalar; a backend of another architecture falls back to the best
    /// one detected).
    pub fn resolve(self) -> Self {
        if self.is_available() {
            return self;
        }
        match self {
            Self::Avx512 if Self::Avx2.is_available() => Self::Avx2,
            Self::Avx512 | Self::Avx2 if cfg!(target_arch = "x86_64") => Self::Scalar,
            _ => Self::detect(),
        }
    }

    /// Every backend that can run here, for tests that compare each against the scalar oracle.
    pub fn available() -> impl Iterator<Item = SimdBackend> {
        Self::ALL.into_iter().filter(|b| b.is_available())
    }

    /// A short lowercase name (`scalar`, `avx2`, `avx512`, `neon`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Scalar => "scalar",
            Self::Avx2 => "avx2",
            Self::Avx512 => "avx512",
            Self::Neon => "neon",
        }
    }
}

impl core::fmt::Display for SimdBackend {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalar_is_always_available_and_detect_is_available() {
        assert!(SimdBackend::Scalar.is_available());
        assert!(SimdBackend::detect().is_available());
        assert_eq!(SimdBackend::detect(), SimdBackend::detect());
    }

    #[test]
    fn resolve_always_gives_a_runnable_backend() {
        for b in SimdBackend::ALL {
            let r = b.resolve();
            assert!(r.is_available(), "{b} resolved to {r}");
            if b.is_available() {
                assert_eq!(r, b);
            }
        }
    }

    #[test]
    #[cfg(all(target_arch = "aarch64", not(miri)))]
    fn neon_is_detected_on_aarch64() {
        assert!(SimdBackend::Neon.is_available());
        assert_eq!(SimdBackend::detect(), SimdBackend::Neon);
    }

    #[test]
    fn neon_and_x86_are_exclusive() {
        assert!(!(SimdBackend::Neon.is_available() && SimdBackend::Avx2.is_available()));
    }
}
