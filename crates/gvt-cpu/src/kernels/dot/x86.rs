//! x86-64 dot products of GGUF blocks with 16-bit activations: AVX2 on 256-bit vectors
//! (`vpmaddwd`), or AVX-512 VNNI on 512-bit ones (`vpdpwssd`). One macro writes both; they
//! differ in how a block's 32 weights are widened to i16 and met by its 32 activations.
//!
//! Each weight block is widened once and met by up to four activation rows (prefill); a
//! decode step has one.

use std::arch::x86_64::*;

/// The f16 scales at the start of a block, as f32: `(first, second)`.
#[target_feature(enable = "avx2,f16c")]
#[inline]
fn scales(blk: &[u8]) -> (f32, f32) {
    let bits = i32::from_le_bytes([blk[0], blk[1], blk[2], blk[3]]);
    let v = _mm_cvtph_ps(_mm_cvtsi32_si128(bits));
    (_mm_cvtss_f32(v), _mm_cvtss_f32(_mm_movehdup_ps(v)))
}

#[target_feature(enable = "avx2")]
#[inline]
fn hsum(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)))
}

/// A block's 32 4-bit values as bytes: `(values 0..16, values 16..32)`.
#[target_feature(enable = "avx2")]
#[inline]
fn nibbles(qs: &[u8]) -> (__m128i, __m128i) {
    assert!(qs.len() >= 16);
    // SAFETY: 16 bytes are in bounds.
    let q = unsafe { _mm_loadu_si128(qs.as_ptr().cast()) };
    let mask = _mm_set1_epi8(0x0f);
    (
        _mm_and_si128(q, mask),
        _mm_and_si128(_mm_srli_epi16::<4>(q), mask),
    )
}

/// A block's 32 signed bytes: `(values 0..16, values 16..32)`.
#[target_feature(enable = "avx2")]
#[inline]
fn bytes(qs: &[u8]) -> (__m128i, __m128i) {
    assert!(qs.len() >= 32);
    // SAFETY: 32 bytes are in bounds.
    unsafe {
        (
            _mm_loadu_si128(qs.as_ptr().cast()),
            _mm_loadu_si128(qs.as_ptr().add(16).cast()),
        )
    }
}

/// AVX2: a block's weights as two vectors of 16 i16.
mod wide256 {
    use std::arch::x86_64::*;

    pub type Wide = (__m256i, __m256i);

    #[target_feature(enable = "avx2")]
    #[inline]
    pub fn unsigned((lo, hi): (__m128i, __m128i)) -> Wide {
        (_mm256_cvtepu8_epi16(lo), _mm256_cvtepu8_epi16(hi))
    }

    #[target_feature(enable = "avx2")]
    #[inline]
    pub fn signed((lo, hi): (__m128i, __m128i)) -> Wide {
        (_mm256_cvtepi8_epi16(lo), _mm256_cvtepi8_epi16(hi))
    }

    /// The block's 32 products in eight i32 sums.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub fn dot((lo, hi): Wide, x: &[i16]) -> __m256i {
        assert!(x.len() >= 32);
        // SAFETY: 32 values are in bounds.
        let (xl, xh) = unsafe {
            (
                _mm256_loadu_si256(x.as_ptr().cast()),
                _mm256_loadu_si256(x.as_ptr().add(16).cast()),
            )
        };
        _mm256_add_epi32(_mm256_madd_epi16(lo, xl), _mm256_madd_epi16(hi, xh))
    }
}

/// AVX-512 VNNI: a block's weights as one vector of 32 i16.
mod wide512 {
    use std::arch::x86_64::*;

    pub type Wide = __m512i;

    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512vnni")]
    #[inline]
    pub fn unsigned((lo, hi): (__m128i, __m128i)) -> Wide {
        _mm512_cvtepu8_epi16(_mm256_set_m128i(hi, lo))
    }

    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512vnni")]
    #[inline]
    pub fn signed((lo, hi): (__m128i, __m128i)) -> Wide {
        _mm512_cvtepi8_epi16(_mm256_set_m128i(hi, lo))
    }

    /// The block's 32 products in eight i32 sums.
    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512vnni")]
    #[inline]
    pub fn dot(w: Wide, x: &[i16]) -> __m256i {
        assert!(x.len() >= 32);
        // SAFETY: 32 values are in bounds.
        let x = unsafe { _mm512_loadu_si512(x.as_ptr().cast()) };
        let sums = _mm512_dpwssd_epi32(_mm512_setzero_si512(), w, x);
        _mm256_add_epi32(
            _mm512_castsi512_si256(sums),
            _mm512_extracti64x4_epi64::<1>(sums),
        )
    }
}

/// `a · b` in four 8-wide sums.
#[target_feature(enable = "avx2,fma")]
pub fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    while i + 32 <= n {
        for (k, acc) in acc.iter_mut().enumerate() {
            // SAFETY: i + 32 <= n.
            let (va, vb) = unsafe {
                (
                    _mm256_loadu_ps(a.as_ptr().add(i + 8 * k)),
                    _mm256_loadu_ps(b.as_ptr().add(i + 8 * k)),
                )
            };
            *acc = _mm256_fmadd_ps(va, vb, *acc);
        }
        i += 32;
    }
    while i + 8 <= n {
        // SAFETY: i + 8 <= n.
        let (va, vb) = unsafe {
            (
                _mm256_loadu_ps(a.as_ptr().add(i)),
                _mm256_loadu_ps(b.as_ptr().add(i)),
            )
        };
        acc[0] = _mm256_fmadd_ps(va, vb, acc[0]);
        i += 8;
    }
    let sum = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    let tail: f32 = a[i..n].iter().zip(&b[i..n]).map(|(a, b)| a * b).sum();
    hsum(sum) + tail
}

/// Rows ahead of the one being summed whose bytes are prefetched.
const AHEAD: usize = 4;

macro_rules! kernels {
    ($name:ident, $features:literal, $wide:ident) => {
        pub mod $name {
            use std::arch::x86_64::*;
            use std::ops::Range;

            use super::$wide::{dot as wide_dot, signed, unsigned};
            use super::{AHEAD, bytes, hsum, nibbles, scales};
            use crate::kernels::Out;
            use crate::kernels::quantize::{Q16, Q16Row};
            use crate::{Weight, WeightFormat};

            #[target_feature(enable = $features)]
            #[inline]
            fn q4_0<const N: usize>(row: &[u8], x: [Q16Row<'_>; N]) -> [f32; N] {
                let mut acc = [_mm256_setzero_ps(); N];
                let mut offset = [0f32; N];
                for (b, blk) in row.chunks_exact(18).enumerate() {
                    let (d, _) = scales(blk);
                    let w = unsigned(nibbles(&blk[2..]));
                    for n in 0..N {
                        let dot = wide_dot(w, &x[n].qs[32 * b..]);
                        let scale = _mm256_set1_ps(d * x[n].d[b]);
                        acc[n] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), scale, acc[n]);
                        offset[n] += d * x[n].s[b];
                    }
                }
                // (q - 8) · x = q · x - 8 Σx
                std::array::from_fn(|n| hsum(acc[n]) - 8.0 * offset[n])
            }

            #[target_feature(enable = $features)]
            #[inline]
            fn q4_1<const N: usize>(row: &[u8], x: [Q16Row<'_>; N]) -> [f32; N] {
                let mut acc = [_mm256_setzero_ps(); N];
                let mut mins = [0f32; N];
                for (b, blk) in row.chunks_exact(20).enumerate() {
                    let (d, m) = scales(blk);
                    let w = unsigned(nibbles(&blk[4..]));
                    for n in 0..N {
                        let dot = wide_dot(w, &x[n].qs[32 * b..]);
                        let scale = _mm256_set1_ps(d * x[n].d[b]);
                        acc[n] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), scale, acc[n]);
                        mins[n] += m * x[n].s[b];
                    }
                }
                std::array::from_fn(|n| hsum(acc[n]) + mins[n])
            }

            #[target_feature(enable = $features)]
            #[inline]
            fn q8_0<const N: usize>(row: &[u8], x: [Q16Row<'_>; N]) -> [f32; N] {
                let mut acc = [_mm256_setzero_ps(); N];
                for (b, blk) in row.chunks_exact(34).enumerate() {
                    let (d, _) = scales(blk);
                    let w = signed(bytes(&blk[2..]));
                    for n in 0..N {
                        let dot = wide_dot(w, &x[n].qs[32 * b..]);
                        let scale = _mm256_set1_ps(d * x[n].d[b]);
                        acc[n] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), scale, acc[n]);
                    }
                }
                std::array::from_fn(|n| hsum(acc[n]))
            }

            #[target_feature(enable = $features)]
            fn dot<const N: usize>(
                format: WeightFormat,
                row: &[u8],
                x: [Q16Row<'_>; N],
            ) -> [f32; N] {
                match format {
                    WeightFormat::Q4_0 => q4_0(row, x),
                    WeightFormat::Q4_1 => q4_1(row, x),
                    _ => q8_0(row, x),
                }
            }

            /// `y[t, r]` for `r` in `rows`, every `t`; four activation rows at a time.
            #[target_feature(enable = $features)]
            pub fn q16_rows(w: &Weight, rows: Range<usize>, x: &Q16, out: &Out) {
                let (all, rb) = (w.bytes(), w.row_bytes);
                for r in rows {
                    let row = &all[r * rb..(r + 1) * rb];
                    // A row further on, so that memory keeps streaming while this one is
                    // summed.
                    if let Some(ahead) = all.get((r + AHEAD) * rb..(r + AHEAD + 1) * rb) {
                        for line in ahead.chunks(64) {
                            _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast());
                        }
                    }
                    let mut t = 0;
                    while t + 4 <= x.rows {
                        let v = dot::<4>(w.format, row, std::array::from_fn(|i| x.row(t + i)));
                        for (i, v) in v.into_iter().enumerate() {
                            out.put(r, t + i, v);
                        }
                        t += 4;
                    }
                    for t in t..x.rows {
                        out.put(r, t, dot::<1>(w.format, row, [x.row(t)])[0]);
                    }
                }
            }
        }
    };
}

kernels!(avx2, "avx2,fma,f16c", wide256);
kernels!(
    vnni,
    "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni",
    wide512
);
