//! The instruction sets the kernels have paths for.

/// Which kernels run: chosen once, by what the CPU (or the wasm build) offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Isa {
    /// Portable Rust; the compiler vectorizes what it can.
    Scalar,
    /// x86-64 with AVX2, FMA and F16C: 256-bit integer dot products by `vpmaddwd`.
    Avx2,
    /// AVX-512 VNNI: `vpdpwssd` multiplies and sums pairs of i16 at once.
    Avx512Vnni,
    /// wasm `simd128` (the browser build's target feature): `i32x4.dot_i16x8_s`.
    Simd128,
    /// aarch64 NEON (every aarch64 CPU has it): `smlal` widening multiply-adds of i16.
    Neon,
}

impl Isa {
    /// The best path this CPU runs.
    pub fn detect() -> Self {
        *Self::available().last().unwrap_or(&Self::Scalar)
    }

    /// Every path this CPU runs, from the portable one up.
    pub fn available() -> Vec<Self> {
        #[cfg_attr(
            not(any(
                target_arch = "x86_64",
                target_arch = "aarch64",
                target_feature = "simd128"
            )),
            expect(unused_mut)
        )]
        let mut all = vec![Self::Scalar];
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            if has!("avx2") && has!("fma") && has!("f16c") {
                all.push(Self::Avx2);
                if has!("avx512f") && has!("avx512bw") && has!("avx512vl") && has!("avx512vnni") {
                    all.push(Self::Avx512Vnni);
                }
            }
        }
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        all.push(Self::Simd128);
        #[cfg(target_arch = "aarch64")]
        all.push(Self::Neon);
        all
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Scalar => "scalar",
            Self::Avx2 => "AVX2",
            Self::Avx512Vnni => "AVX-512 VNNI",
            Self::Simd128 => "wasm SIMD128",
            Self::Neon => "NEON",
        }
    }
}
