//! x86-64 dot products of GGUF blocks with 16-bit activations: AVX2 on 256-bit vectors
//! (`vpmaddwd`), or AVX-512 VNNI on 512-bit ones (`vpdpwssd`). One macro writes both; they
//! differ in how a block's 32 weights are widened to i16 and met by its 32 activations.
//!
//! Each weight block is widened once and met by up to four activation rows (prefill); a
//! decode step has one.

use std::arch::x86_64::*;

/// The f16 scales at the start of a block, as f32: `(first, second)`.
///
/// # Safety
/// `blk` must point at 4 readable bytes.
#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn scales(blk: *const u8) -> (f32, f32) {
    // SAFETY: the caller's.
    let bits = unsafe { blk.cast::<i32>().read_unaligned() };
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
///
/// # Safety
/// `qs` must point at 16 readable bytes.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn nibbles(qs: *const u8) -> (__m128i, __m128i) {
    // SAFETY: the caller's.
    let q = unsafe { _mm_loadu_si128(qs.cast()) };
    let mask = _mm_set1_epi8(0x0f);
    (
        _mm_and_si128(q, mask),
        _mm_and_si128(_mm_srli_epi16::<4>(q), mask),
    )
}

/// A block's 32 signed bytes: `(values 0..16, values 16..32)`.
///
/// # Safety
/// `qs` must point at 32 readable bytes.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn bytes(qs: *const u8) -> (__m128i, __m128i) {
    // SAFETY: the caller's.
    unsafe {
        (
            _mm_loadu_si128(qs.cast()),
            _mm_loadu_si128(qs.add(16).cast()),
        )
    }
}

/// The 32 bits at `qh` (little-endian) as 32 bytes, 16 where a bit is set and 0 where it
/// is not: Q5_0's and Q5_1's fifth bits, `(values 0..16, values 16..32)`.
///
/// # Safety
/// `qh` must point at 4 readable bytes.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn fifth_bits(qh: *const u8) -> (__m128i, __m128i) {
    // SAFETY: the caller's.
    let bits = _mm_cvtsi32_si128(unsafe { qh.cast::<i32>().read_unaligned() });
    // Byte i of a half takes the source byte holding its bit, then that bit alone.
    let spread = |first: i8| {
        let (a, b) = (first, first + 1);
        _mm_shuffle_epi8(
            bits,
            _mm_setr_epi8(a, a, a, a, a, a, a, a, b, b, b, b, b, b, b, b),
        )
    };
    let select = _mm_set1_epi64x(0x8040_2010_0804_0201_u64 as i64);
    let sixteen = |v: __m128i| {
        _mm_and_si128(
            _mm_cmpeq_epi8(_mm_and_si128(v, select), select),
            _mm_set1_epi8(16),
        )
    };
    (sixteen(spread(0)), sixteen(spread(2)))
}

/// The low nibbles of 32 bytes of Q4_K nibbles (one sub-block), or with `high` the high
/// ones (the next sub-block), as bytes: `(values 0..16, values 16..32)`.
///
/// # Safety
/// `qs` must point at 32 readable bytes.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn nibbles_k(qs: *const u8, high: bool) -> (__m128i, __m128i) {
    // SAFETY: the caller's.
    let (a, b) = unsafe { bytes(qs) };
    let mask = _mm_set1_epi8(0x0f);
    if high {
        (
            _mm_and_si128(_mm_srli_epi16::<4>(a), mask),
            _mm_and_si128(_mm_srli_epi16::<4>(b), mask),
        )
    } else {
        (_mm_and_si128(a, mask), _mm_and_si128(b, mask))
    }
}

/// Sub-block `j` (0..8) of a Q5_K block as unsigned bytes: the nibbles of [`nibbles_k`]
/// with bit `j` of each of the 32 `qh` bytes as their fifth bit.
///
/// # Safety
/// `qs` and `qh` must point at 32 readable bytes each.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn q5k_bytes(qs: *const u8, qh: *const u8, j: usize) -> (__m128i, __m128i) {
    // SAFETY: the caller's.
    let ((l0, l1), (h0, h1)) = unsafe { (nibbles_k(qs, j % 2 == 1), bytes(qh)) };
    let shift = _mm_cvtsi32_si128(j as i32);
    let fifth =
        |h: __m128i| _mm_slli_epi16::<4>(_mm_and_si128(_mm_srl_epi16(h, shift), _mm_set1_epi8(1)));
    (_mm_or_si128(l0, fifth(h0)), _mm_or_si128(l1, fifth(h1)))
}

/// Group `g` (0..4) of 32 values of a Q6_K half-block, `q - 32` as signed bytes: the low
/// four bits are nibble `g / 2` of `ql` (already offset by 32 for odd `g`), the high two
/// bits are bits `2g..2g + 2` of `qh`.
///
/// # Safety
/// `ql` and `qh` must point at 32 readable bytes each.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn q6_bytes(ql: *const u8, qh: *const u8, g: usize) -> (__m128i, __m128i) {
    // SAFETY: the caller's.
    let ((l0, l1), (h0, h1)) = unsafe { (bytes(ql), bytes(qh)) };
    let (low_shift, high_shift) = (
        _mm_cvtsi32_si128(4 * (g / 2) as i32),
        _mm_cvtsi32_si128(2 * g as i32),
    );
    let q = |l: __m128i, h: __m128i| {
        let low = _mm_and_si128(_mm_srl_epi16(l, low_shift), _mm_set1_epi8(0x0f));
        let high = _mm_and_si128(_mm_srl_epi16(h, high_shift), _mm_set1_epi8(3));
        _mm_sub_epi8(
            _mm_or_si128(low, _mm_slli_epi16::<4>(high)),
            _mm_set1_epi8(32),
        )
    };
    (q(l0, h0), q(l1, h1))
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

    /// A block's 32 activations.
    pub type Act = (__m256i, __m256i);

    /// # Safety
    /// `x` must point at 32 readable values.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub unsafe fn load(x: *const i16) -> Act {
        // SAFETY: the caller's.
        unsafe {
            (
                _mm256_loadu_si256(x.cast()),
                _mm256_loadu_si256(x.add(16).cast()),
            )
        }
    }

    /// A row's running sums.
    pub type Acc = __m256;

    #[target_feature(enable = "avx2")]
    #[inline]
    pub fn zero() -> Acc {
        _mm256_setzero_ps()
    }

    /// `acc + scale * (w · x)`, the block's 32 products summed in eight lanes.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub fn accumulate(acc: Acc, (lo, hi): Wide, (xl, xh): Act, scale: f32) -> Acc {
        let sums = _mm256_add_epi32(_mm256_madd_epi16(lo, xl), _mm256_madd_epi16(hi, xh));
        _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), _mm256_set1_ps(scale), acc)
    }

    /// [`accumulate`] with one scale for values 0..16 and another for 16..32.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub fn accumulate2(acc: Acc, (lo, hi): Wide, (xl, xh): Act, s0: f32, s1: f32) -> Acc {
        let lo = _mm256_cvtepi32_ps(_mm256_madd_epi16(lo, xl));
        let hi = _mm256_cvtepi32_ps(_mm256_madd_epi16(hi, xh));
        let acc = _mm256_fmadd_ps(lo, _mm256_set1_ps(s0), acc);
        _mm256_fmadd_ps(hi, _mm256_set1_ps(s1), acc)
    }

    #[target_feature(enable = "avx2")]
    #[inline]
    pub fn total(acc: Acc) -> f32 {
        super::hsum(acc)
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

    /// A block's 32 activations.
    pub type Act = __m512i;

    /// # Safety
    /// `x` must point at 32 readable values.
    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512vnni")]
    #[inline]
    pub unsafe fn load(x: *const i16) -> Act {
        // SAFETY: the caller's.
        unsafe { _mm512_loadu_si512(x.cast()) }
    }

    /// A row's running sums.
    pub type Acc = __m512;

    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512vnni")]
    #[inline]
    pub fn zero() -> Acc {
        _mm512_setzero_ps()
    }

    /// `acc + scale * (w · x)`, the block's 32 products summed in sixteen lanes.
    #[target_feature(enable = "avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni")]
    #[inline]
    pub fn accumulate(acc: Acc, w: Wide, x: Act, scale: f32) -> Acc {
        let sums = _mm512_dpwssd_epi32(_mm512_setzero_si512(), w, x);
        _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums), _mm512_set1_ps(scale), acc)
    }

    /// [`accumulate`] with one scale for values 0..16 and another for 16..32: the pair sums
    /// of values 0..16 are lanes 0..8.
    #[target_feature(enable = "avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni")]
    #[inline]
    pub fn accumulate2(acc: Acc, w: Wide, x: Act, s0: f32, s1: f32) -> Acc {
        let sums = _mm512_dpwssd_epi32(_mm512_setzero_si512(), w, x);
        let scale = _mm512_castpd_ps(_mm512_insertf64x4::<1>(
            _mm512_castps_pd(_mm512_set1_ps(s0)),
            _mm256_castps_pd(_mm256_set1_ps(s1)),
        ));
        _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums), scale, acc)
    }

    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512vnni")]
    #[inline]
    pub fn total(acc: Acc) -> f32 {
        _mm512_reduce_add_ps(acc)
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

/// The formats the integer kernels are compiled for, as const parameters.
const Q4_0: u8 = 0;
const Q4_1: u8 = 1;
const Q8_0: u8 = 2;
const Q4_K: u8 = 3;
const Q5_K: u8 = 4;
const Q6_K: u8 = 5;
const Q5_0: u8 = 6;
const Q5_1: u8 = 7;

/// Rows ahead of the ones being summed whose bytes are prefetched (4 to 16 measured the
/// same on SmolLM2).
const AHEAD: usize = 8;

macro_rules! kernels {
    ($name:ident, $features:literal, $wide:ident) => {
        pub mod $name {
            use std::arch::x86_64::*;
            use std::ops::Range;

            use super::$wide::{accumulate, accumulate2, load, signed, total, unsigned, zero};
            use super::{
                AHEAD, Q4_0, Q4_1, Q4_K, Q5_0, Q5_1, Q5_K, Q6_K, Q8_0, bytes as bytes_of,
                fifth_bits, nibbles, nibbles_k, q5k_bytes, q6_bytes, scales,
            };
            use crate::blocks::{f16_le, scale_min_k4};
            use crate::kernels::Out;
            use crate::kernels::quantize::{Q16, Q16Row};
            use crate::{Weight, WeightFormat};

            /// `R` rows of the format `FMT` ([`Q4_0`], [`Q4_1`] or [`Q8_0`]) against one
            /// activation row: each block's activations are loaded once for all `R` rows,
            /// whose sums are independent chains.
            #[target_feature(enable = $features)]
            fn rows_dot<const R: usize, const FMT: u8>(
                rows: [&[u8]; R],
                x: Q16Row<'_>,
            ) -> [f32; R] {
                let bytes = match FMT {
                    Q4_0 => 18,
                    Q4_1 => 20,
                    Q5_0 => 22,
                    Q5_1 => 24,
                    _ => 34,
                };
                let blocks = rows[0].len() / bytes;
                assert!(rows.iter().all(|r| r.len() >= blocks * bytes));
                assert!(x.qs.len() >= 32 * blocks && x.d.len() >= blocks && x.s.len() >= blocks);
                let starts = rows.map(|r| r.as_ptr());
                let mut acc = [zero(); R];
                // Per row, Σ over blocks of the part that does not multiply q: Q4_0's and
                // Q5_0's offsets of 8 and 16, Q4_1's and Q5_1's minimum, each times the
                // block's Σx.
                let mut extra = [0f32; R];
                for b in 0..blocks {
                    // SAFETY: the asserts above keep every read in bounds.
                    unsafe {
                        let xb = load(x.qs.as_ptr().add(32 * b));
                        let (dx, sx) = (*x.d.get_unchecked(b), *x.s.get_unchecked(b));
                        for r in 0..R {
                            let blk = starts[r].add(b * bytes);
                            let (d, m) = scales(blk);
                            let w = match FMT {
                                Q4_0 => {
                                    extra[r] -= 8.0 * d * sx;
                                    unsigned(nibbles(blk.add(2)))
                                }
                                Q4_1 => {
                                    extra[r] += m * sx;
                                    unsigned(nibbles(blk.add(4)))
                                }
                                Q5_0 | Q5_1 => {
                                    // Q5_0: d, qh, qs; Q5_1: d, m, qh, qs.
                                    let qh = if FMT == Q5_0 { 2 } else { 4 };
                                    if FMT == Q5_0 {
                                        extra[r] -= 16.0 * d * sx;
                                    } else {
                                        extra[r] += m * sx;
                                    }
                                    let (lo, hi) = nibbles(blk.add(qh + 4));
                                    let (f0, f1) = fifth_bits(blk.add(qh));
                                    unsigned((_mm_or_si128(lo, f0), _mm_or_si128(hi, f1)))
                                }
                                _ => signed(bytes_of(blk.add(2))),
                            };
                            acc[r] = accumulate(acc[r], w, xb, d * dx);
                        }
                    }
                }
                std::array::from_fn(|r| total(acc[r]) + extra[r])
            }

            /// `R` rows of Q4_K, Q5_K or Q6_K (`FMT`) against one activation row, 32 values at a
            /// time: each 256-value block's scales are decoded once per row, then each group
            /// of 32 activations is loaded once for all `R` rows.
            #[target_feature(enable = $features)]
            fn rows_dot_k<const R: usize, const FMT: u8>(
                rows: [&[u8]; R],
                x: Q16Row<'_>,
            ) -> [f32; R] {
                let bytes = match FMT {
                    Q4_K => 144,
                    Q5_K => 176,
                    _ => 210,
                };
                let blocks = rows[0].len() / bytes;
                assert!(rows.iter().all(|r| r.len() >= blocks * bytes));
                assert!(
                    x.qs.len() >= 256 * blocks
                        && x.d.len() >= 8 * blocks
                        && x.s.len() >= 8 * blocks
                );
                let mut acc = [zero(); R];
                let mut extra = [0f32; R];
                // Per row: Q4_K's and Q5_K's 8 scales and 8 minimums (times d and dmin), or
                // Q6_K's 16 scales (times d).
                let mut scale = [[0f32; 16]; R];
                for b in 0..blocks {
                    for (r, row) in rows.iter().enumerate() {
                        let blk = &row[b * bytes..(b + 1) * bytes];
                        if FMT != Q6_K {
                            let (d, dmin) = (f16_le(blk[0], blk[1]), f16_le(blk[2], blk[3]));
                            for j in 0..8 {
                                let (sc, m) = scale_min_k4(j, &blk[4..16]);
                                scale[r][j] = d * f32::from(sc);
                                scale[r][8 + j] = dmin * f32::from(m);
                            }
                        } else {
                            let d = f16_le(blk[208], blk[209]);
                            for (s, &c) in scale[r].iter_mut().zip(&blk[192..208]) {
                                *s = d * f32::from(c as i8);
                            }
                        }
                    }
                    for j in 0..8 {
                        let xb = 8 * b + j;
                        // SAFETY: the asserts above keep every read in bounds.
                        unsafe {
                            let xv = load(x.qs.as_ptr().add(32 * xb));
                            let (dx, sx) = (*x.d.get_unchecked(xb), *x.s.get_unchecked(xb));
                            for r in 0..R {
                                let blk = rows[r].as_ptr().add(b * bytes);
                                if FMT != Q6_K {
                                    let w = if FMT == Q4_K {
                                        nibbles_k(blk.add(16 + 32 * (j / 2)), j % 2 == 1)
                                    } else {
                                        q5k_bytes(blk.add(48 + 32 * (j / 2)), blk.add(16), j)
                                    };
                                    acc[r] = accumulate(acc[r], unsigned(w), xv, scale[r][j] * dx);
                                    extra[r] -= scale[r][8 + j] * sx;
                                } else {
                                    // Half n = j / 4 of the block, group g = j % 4 of it.
                                    let (n, g) = (j / 4, j % 4);
                                    let ql = blk.add(64 * n + 32 * (g % 2));
                                    let w = signed(q6_bytes(ql, blk.add(128 + 32 * n), g));
                                    let s = &scale[r][8 * n + 2 * g..];
                                    acc[r] = accumulate2(acc[r], w, xv, s[0] * dx, s[1] * dx);
                                }
                            }
                        }
                    }
                }
                std::array::from_fn(|r| total(acc[r]) + extra[r])
            }

            /// `y[t, r]` for `r` in `rows`, every `t`; four weight rows at a time, each
            /// format's kernel compiled for it.
            #[target_feature(enable = $features)]
            pub fn q16_rows(w: &Weight, rows: Range<usize>, x: &Q16, out: &Out) {
                let (all, rb) = (w.bytes(), w.row_bytes);
                let (four, one): (
                    fn([&[u8]; 4], Q16Row<'_>) -> [f32; 4],
                    fn([&[u8]; 1], Q16Row<'_>) -> [f32; 1],
                ) = match w.format {
                    WeightFormat::Q4_0 => (rows_dot::<4, Q4_0>, rows_dot::<1, Q4_0>),
                    WeightFormat::Q4_1 => (rows_dot::<4, Q4_1>, rows_dot::<1, Q4_1>),
                    WeightFormat::Q5_0 => (rows_dot::<4, Q5_0>, rows_dot::<1, Q5_0>),
                    WeightFormat::Q5_1 => (rows_dot::<4, Q5_1>, rows_dot::<1, Q5_1>),
                    WeightFormat::Q4_K => (rows_dot_k::<4, Q4_K>, rows_dot_k::<1, Q4_K>),
                    WeightFormat::Q5_K => (rows_dot_k::<4, Q5_K>, rows_dot_k::<1, Q5_K>),
                    WeightFormat::Q6_K => (rows_dot_k::<4, Q6_K>, rows_dot_k::<1, Q6_K>),
                    _ => (rows_dot::<4, Q8_0>, rows_dot::<1, Q8_0>),
                };
                let row = |r: usize| &all[r * rb..(r + 1) * rb];
                let mut r = rows.start;
                while r < rows.end {
                    let n = if rows.end - r >= 4 { 4 } else { 1 };
                    // Rows further on, into L2: more misses in flight than the L1's fill
                    // buffers hold, so that memory keeps streaming while these are summed
                    // (one core streams 5.6 GB/s so, 3.1 without).
                    if (r + AHEAD + n) * rb <= all.len() {
                        let ahead = all[(r + AHEAD) * rb..].as_ptr();
                        for line in (0..n * rb).step_by(64) {
                            // A hint only: the address is inside the weight.
                            _mm_prefetch::<_MM_HINT_T1>(ahead.wrapping_add(line).cast());
                        }
                    }
                    for t in 0..x.rows {
                        if n == 4 {
                            let v = four(std::array::from_fn(|i| row(r + i)), x.row(t));
                            for (i, v) in v.into_iter().enumerate() {
                                out.put(r + i, t, v);
                            }
                        } else {
                            out.put(r, t, one([row(r)], x.row(t))[0]);
                        }
                    }
                    r += n;
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

/// `panel/tile`'s kernel on one vector type: 4 weight rows x `G` groups of positions in
/// `4 * G` accumulators; each column broadcasts one weight per row and loads one vector per
/// group.
macro_rules! tile {
    ($name:ident, $features:literal, $lanes:literal, $zero:ident, $load:ident, $set1:ident,
     $fmadd:ident, $store:ident) => {
        #[target_feature(enable = $features)]
        pub fn $name<const G: usize>(panel: &[f32], cols: usize, x: &[f32], sums: &mut [f32]) {
            const L: usize = $lanes;
            assert!(panel.len() >= 4 * cols && x.len() >= G * cols * L && sums.len() >= 4 * G * L);
            let mut acc = [[$zero(); G]; 4];
            for k in 0..cols {
                // SAFETY: the assert above keeps every read in bounds.
                unsafe {
                    let mut xs = [$zero(); G];
                    for (v, xs) in xs.iter_mut().enumerate() {
                        *xs = $load(x.as_ptr().add((v * cols + k) * L));
                    }
                    for (i, acc) in acc.iter_mut().enumerate() {
                        let w = $set1(*panel.get_unchecked(i * cols + k));
                        for (acc, xs) in acc.iter_mut().zip(xs) {
                            *acc = $fmadd(w, xs, *acc);
                        }
                    }
                }
            }
            for (i, acc) in acc.iter().enumerate() {
                for (v, acc) in acc.iter().enumerate() {
                    // SAFETY: inside `sums`, by the assert above.
                    unsafe { $store(sums.as_mut_ptr().add((i * G + v) * L), *acc) };
                }
            }
        }
    };
}

tile!(
    tile_512,
    "avx512f",
    16,
    _mm512_setzero_ps,
    _mm512_loadu_ps,
    _mm512_set1_ps,
    _mm512_fmadd_ps,
    _mm512_storeu_ps
);
tile!(
    tile_256,
    "avx2,fma",
    8,
    _mm256_setzero_ps,
    _mm256_loadu_ps,
    _mm256_set1_ps,
    _mm256_fmadd_ps,
    _mm256_storeu_ps
);
