//! Block (de)quantization of ggml tensor data, bit-exact with ggml's reference C code
//! (`ggml-quants.c`: `dequantize_row_*` and `quantize_row_*_ref`).
//!
//! A quantized row is a sequence of blocks; each block holds `block_size()` values as small
//! integers plus one or more f16 scales. The kernels here walk whole blocks into a
//! preallocated output, so dequantizing a model is one pass over its bytes.
//!
//! Dequantization: F32, F16, BF16, F64, I8, I16, I32, I64, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0,
//! Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K. Quantization: F32, F16, BF16, Q4_0, Q4_1, Q5_0,
//! Q5_1, Q8_0. Operations are written in ggml's order with no fused multiply-add, so the
//! results equal ggml's scalar code and llama.cpp's gguf-py.

use half::f16;

use super::dtype::GgmlType;
use super::error::GgufError;

/// Dequantizes `n_elements` values of type `dtype` from `bytes` into a new vector.
///
/// `bytes` must hold exactly the blocks for `n_elements` values (a whole number of blocks).
pub fn dequantize(dtype: GgmlType, bytes: &[u8], n_elements: usize) -> Result<Vec<f32>, GgufError> {
    check_lengths(dtype, bytes.len(), n_elements)?;
    if !dtype.can_dequantize() {
        return Err(GgufError::UnsupportedType {
            dtype,
            operation: "dequantize",
        });
    }
    let mut out = vec![0.0f32; n_elements];
    dequantize_into(dtype, bytes, &mut out)?;
    Ok(out)
}

/// Dequantizes `bytes` of type `dtype` into `out`, whose length is the element count.
///
/// Useful to fill a buffer that already exists (one row, or a slice of a larger tensor).
pub fn dequantize_into(dtype: GgmlType, bytes: &[u8], out: &mut [f32]) -> Result<(), GgufError> {
    check_lengths(dtype, bytes.len(), out.len())?;
    match dtype {
        GgmlType::F32 => {
            for (x, y) in bytes.as_chunks::<4>().0.iter().zip(out.iter_mut()) {
                *y = f32::from_le_bytes(*x);
            }
        }
        GgmlType::F16 => dequant_f16(bytes, out),
        GgmlType::BF16 => {
            for (x, y) in bytes.as_chunks::<2>().0.iter().zip(out.iter_mut()) {
                *y = bf16_to_f32(u16::from_le_bytes(*x));
            }
        }
        GgmlType::F64 => {
            for (x, y) in bytes.as_chunks::<8>().0.iter().zip(out.iter_mut()) {
                *y = f64::from_le_bytes(*x) as f32;
            }
        }
        GgmlType::I8 => {
            for (x, y) in bytes.iter().zip(out.iter_mut()) {
                *y = f32::from(*x as i8);
            }
        }
        GgmlType::I16 => {
            for (x, y) in bytes.as_chunks::<2>().0.iter().zip(out.iter_mut()) {
                *y = f32::from(i16::from_le_bytes(*x));
            }
        }
        GgmlType::I32 => {
            for (x, y) in bytes.as_chunks::<4>().0.iter().zip(out.iter_mut()) {
                *y = i32::from_le_bytes(*x) as f32;
            }
        }
        GgmlType::I64 => {
            for (x, y) in bytes.as_chunks::<8>().0.iter().zip(out.iter_mut()) {
                *y = i64::from_le_bytes(*x) as f32;
            }
        }
        GgmlType::Q4_0 => dequant_q4_0(bytes, out),
        GgmlType::Q4_1 => dequant_q4_1(bytes, out),
        GgmlType::Q5_0 => dequant_q5_0(bytes, out),
        GgmlType::Q5_1 => dequant_q5_1(bytes, out),
        GgmlType::Q8_0 => dequant_q8_0(bytes, out),
        GgmlType::Q2_K => dequant_q2_k(bytes, out),
        GgmlType::Q3_K => dequant_q3_k(bytes, out),
        GgmlType::Q4_K => dequant_q4_k(bytes, out),
        GgmlType::Q5_K => dequant_q5_k(bytes, out),
        GgmlType::Q6_K => dequant_q6_k(bytes, out),
        GgmlType::Q8_K => dequant_q8_k(bytes, out),
        other => {
            return Err(GgufError::UnsupportedType {
                dtype: other,
                operation: "dequantize",
            });
        }
    }
    Ok(())
}

/// Quantizes `values` to `dtype`, bit-exactly as ggml's `quantize_row_*_ref` (F16 and
/// BF16 round to nearest even, like ggml's `GGML_FP32_TO_FP16` / `GGML_FP32_TO_BF16`).
///
/// `values.len()` must be a whole number of blocks. Quantize each row separately or
/// make sure rows are a whole number of blocks (ggml blocks never span rows). Non-finite
/// inputs give the same garbage ggml gives.
pub fn quantize(dtype: GgmlType, values: &[f32]) -> Result<Vec<u8>, GgufError> {
    let unsupported = GgufError::UnsupportedType {
        dtype,
        operation: "quantize",
    };
    if !dtype.can_quantize() {
        return Err(unsupported);
    }
    let n_bytes = block_bytes(dtype, values.len())?;
    let mut out = vec![0u8; n_bytes];
    match dtype {
        GgmlType::F32 => {
            for (x, y) in values.iter().zip(out.as_chunks_mut::<4>().0) {
                *y = x.to_le_bytes();
            }
        }
        GgmlType::F16 => {
            for (x, y) in values.iter().zip(out.as_chunks_mut::<2>().0) {
                *y = f16::from_f32(*x).to_bits().to_le_bytes();
            }
        }
        GgmlType::BF16 => {
            for (x, y) in values.iter().zip(out.as_chunks_mut::<2>().0) {
                *y = f32_to_bf16(*x).to_le_bytes();
            }
        }
        GgmlType::Q4_0 => quant_q4_0(values, &mut out),
        GgmlType::Q4_1 => quant_q4_1(values, &mut out),
        GgmlType::Q5_0 => quant_q5_0(values, &mut out),
        GgmlType::Q5_1 => quant_q5_1(values, &mut out),
        GgmlType::Q8_0 => quant_q8_0(values, &mut out),
        _ => return Err(unsupported),
    }
    Ok(out)
}

/// Signed integer values and one scale per 32 of them: `value[i] = q[i] * scales[i / 32]`.
pub struct SymmetricBlocks {
    pub values: Vec<i8>,
    pub scales: Vec<f32>,
}

/// The integer values and per-block scales of a symmetric 32-value block format (Q8_0,
/// Q4_0), so the blocks can be handed to a backend that computes on them directly:
/// `value[i] = q[i] * scales[i / 32]`. Q4_0's unsigned nibbles are re-centred to -8..=7.
/// `Ok(None)` for formats that are not symmetric 32-blocks (Q4_1 has a per-block minimum).
pub fn symmetric_blocks(
    dtype: GgmlType,
    bytes: &[u8],
    n_elements: usize,
) -> Result<Option<SymmetricBlocks>, GgufError> {
    if !matches!(dtype, GgmlType::Q8_0 | GgmlType::Q4_0) {
        return Ok(None);
    }
    check_lengths(dtype, bytes.len(), n_elements)?;
    let mut values = Vec::with_capacity(n_elements);
    let mut scales = Vec::with_capacity(n_elements / 32);
    for b in bytes.chunks_exact(dtype.type_size()) {
        scales.push(f16_le(b[0], b[1]));
        if dtype == GgmlType::Q8_0 {
            values.extend(b[2..34].iter().map(|&q| q as i8));
        } else {
            let qs = &b[2..18];
            values.extend(qs.iter().map(|&q| (q & 0x0F) as i8 - 8));
            values.extend(qs.iter().map(|&q| (q >> 4) as i8 - 8));
        }
    }
    Ok(Some(SymmetricBlocks { values, scales }))
}

/// Byte length of `n_elements` values of `dtype`, or an error if that is not a whole
/// number of blocks.
fn block_bytes(dtype: GgmlType, n_elements: usize) -> Result<usize, GgufError> {
    let block_size = dtype.block_size();
    if !n_elements.is_multiple_of(block_size) {
        return Err(GgufError::NotBlockMultiple {
            dtype,
            n_elements,
            block_size,
        });
    }
    // n_elements / block_size * type_size <= n_elements * 34 / 32 for every real type,
    // but stay checked for odd ones.
    (n_elements / block_size)
        .checked_mul(dtype.type_size())
        .ok_or(GgufError::DataLength {
            dtype,
            n_elements,
            expected: usize::MAX,
            actual: 0,
        })
}

fn check_lengths(dtype: GgmlType, n_bytes: usize, n_elements: usize) -> Result<(), GgufError> {
    let expected = block_bytes(dtype, n_elements)?;
    if n_bytes != expected {
        return Err(GgufError::DataLength {
            dtype,
            n_elements,
            expected,
            actual: n_bytes,
        });
    }
    Ok(())
}

/// ggml's `GGML_BF16_TO_FP32`: the bf16 bits are the top half of an f32.
#[inline]
fn bf16_to_f32(bits: u16) -> f32 {
    f32::from_bits(u32::from(bits) << 16)
}

/// ggml's `ggml_compute_fp32_to_bf16`: round to nearest even, NaN forced quiet.
#[inline]
fn f32_to_bf16(x: f32) -> u16 {
    let bits = x.to_bits();
    if bits & 0x7fff_ffff > 0x7f80_0000 {
        return ((bits >> 16) | 64) as u16;
    }
    (bits.wrapping_add(0x7fff + ((bits >> 16) & 1)) >> 16) as u16
}

/// f16 stored little-endian in two bytes, as f32.
#[inline]
fn f16_le(lo: u8, hi: u8) -> f32 {
    f16::from_bits(u16::from_le_bytes([lo, hi])).to_f32()
}

fn dequant_f16(bytes: &[u8], out: &mut [f32]) {
    use half::slice::HalfFloatSliceExt;
    // Convert through a small stack buffer so half can use its vectorized slice path.
    const CHUNK: usize = 256;
    let mut buf = [f16::ZERO; CHUNK];
    for (x, y) in bytes.chunks(2 * CHUNK).zip(out.chunks_mut(CHUNK)) {
        let n = y.len();
        for (h, b) in buf.iter_mut().zip(x.as_chunks::<2>().0) {
            *h = f16::from_bits(u16::from_le_bytes(*b));
        }
        buf[..n].convert_to_f32_slice(y);
    }
}

// ---------------------------------------------------------------------------------------
// 32-value blocks

fn dequant_q4_0(bytes: &[u8], out: &mut [f32]) {
    for (b, y) in bytes
        .as_chunks::<18>()
        .0
        .iter()
        .zip(out.as_chunks_mut::<32>().0)
    {
        let d = f16_le(b[0], b[1]);
        let qs = &b[2..18];
        for j in 0..16 {
            let x0 = i32::from(qs[j] & 0x0F) - 8;
            let x1 = i32::from(qs[j] >> 4) - 8;
            y[j] = x0 as f32 * d;
            y[j + 16] = x1 as f32 * d;
        }
    }
}

fn dequant_q4_1(bytes: &[u8], out: &mut [f32]) {
    for (b, y) in bytes
        .as_chunks::<20>()
        .0
        .iter()
        .zip(out.as_chunks_mut::<32>().0)
    {
        let d = f16_le(b[0], b[1]);
        let m = f16_le(b[2], b[3]);
        let qs = &b[4..20];
        for j in 0..16 {
            let x0 = qs[j] & 0x0F;
            let x1 = qs[j] >> 4;
            y[j] = f32::from(x0) * d + m;
            y[j + 16] = f32::from(x1) * d + m;
        }
    }
}

fn dequant_q5_0(bytes: &[u8], out: &mut [f32]) {
    for (b, y) in bytes
        .as_chunks::<22>()
        .0
        .iter()
        .zip(out.as_chunks_mut::<32>().0)
    {
        let d = f16_le(b[0], b[1]);
        let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
        let qs = &b[6..22];
        for j in 0..16 {
            let xh_0 = ((qh >> j) << 4) & 0x10;
            let xh_1 = (qh >> (j + 12)) & 0x10;
            let x0 = (u32::from(qs[j] & 0x0F) | xh_0) as i32 - 16;
            let x1 = (u32::from(qs[j] >> 4) | xh_1) as i32 - 16;
            y[j] = x0 as f32 * d;
            y[j + 16] = x1 as f32 * d;
        }
    }
}

fn dequant_q5_1(bytes: &[u8], out: &mut [f32]) {
    for (b, y) in bytes
        .as_chunks::<24>()
        .0
        .iter()
        .zip(out.as_chunks_mut::<32>().0)
    {
        let d = f16_le(b[0], b[1]);
        let m = f16_le(b[2], b[3]);
        let qh = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
        let qs = &b[8..24];
        for j in 0..16 {
            let xh_0 = ((qh >> j) << 4) & 0x10;
            let xh_1 = (qh >> (j + 12)) & 0x10;
            let x0 = u32::from(qs[j] & 0x0F) | xh_0;
            let x1 = u32::from(qs[j] >> 4) | xh_1;
            y[j] = x0 as f32 * d + m;
            y[j + 16] = x1 as f32 * d + m;
        }
    }
}

fn dequant_q8_0(bytes: &[u8], out: &mut [f32]) {
    for (b, y) in bytes
        .as_chunks::<34>()
        .0
        .iter()
        .zip(out.as_chunks_mut::<32>().0)
    {
        let d = f16_le(b[0], b[1]);
        for (y, &q) in y.iter_mut().zip(&b[2..34]) {
            *y = f32::from(q as i8) * d;
        }
    }
}

// ---------------------------------------------------------------------------------------
// 256-value K-quant blocks

/// ggml's `get_scale_min_k4`: the 6-bit scale and min of sub-block `j` (0..8) of a
/// Q4_K / Q5_K block, packed into 12 bytes.
#[inline]
fn scale_min_k4(j: usize, q: &[u8]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        (
            (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4),
            (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
        )
    }
}

fn dequant_q2_k(bytes: &[u8], out: &mut [f32]) {
    // block_q2_K: scales[16] (low nibble scale, high nibble min), qs[64], d, dmin.
    for (b, y) in bytes
        .as_chunks::<84>()
        .0
        .iter()
        .zip(out.as_chunks_mut::<256>().0)
    {
        let scales = &b[0..16];
        let d = f16_le(b[80], b[81]);
        let dmin = f16_le(b[82], b[83]);
        let mut pos = 0;
        let mut is = 0;
        for n in 0..2 {
            let q = &b[16 + 32 * n..16 + 32 * n + 32];
            for shift in [0, 2, 4, 6] {
                for half in 0..2 {
                    let sc = scales[is];
                    is += 1;
                    let dl = d * f32::from(sc & 0x0F);
                    let ml = dmin * f32::from(sc >> 4);
                    for &ql in &q[16 * half..16 * half + 16] {
                        y[pos] = dl * f32::from((ql >> shift) & 3) - ml;
                        pos += 1;
                    }
                }
            }
        }
    }
}

fn dequant_q3_k(bytes: &[u8], out: &mut [f32]) {
    // block_q3_K: hmask[32], qs[64], scales[12] (16 packed 6-bit scales), d.
    const KMASK1: u32 = 0x0303_0303;
    const KMASK2: u32 = 0x0f0f_0f0f;
    for (b, y) in bytes
        .as_chunks::<110>()
        .0
        .iter()
        .zip(out.as_chunks_mut::<256>().0)
    {
        let hm = &b[0..32];
        let d_all = f16_le(b[108], b[109]);
        let a0 = u32::from_le_bytes([b[96], b[97], b[98], b[99]]);
        let a1 = u32::from_le_bytes([b[100], b[101], b[102], b[103]]);
        let tmp = u32::from_le_bytes([b[104], b[105], b[106], b[107]]);
        let aux = [
            (a0 & KMASK2) | ((tmp & KMASK1) << 4),
            (a1 & KMASK2) | (((tmp >> 2) & KMASK1) << 4),
            ((a0 >> 4) & KMASK2) | (((tmp >> 4) & KMASK1) << 4),
            ((a1 >> 4) & KMASK2) | (((tmp >> 6) & KMASK1) << 4),
        ];
        let mut scales = [0i8; 16];
        for (dst, word) in scales.as_chunks_mut::<4>().0.iter_mut().zip(aux) {
            *dst = word.to_le_bytes().map(|x| x as i8);
        }
        let mut m: u8 = 1;
        let mut pos = 0;
        let mut is = 0;
        for n in 0..2 {
            let q = &b[32 + 32 * n..32 + 32 * n + 32];
            for shift in [0, 2, 4, 6] {
                for half in 0..2 {
                    let dl = d_all * f32::from(i16::from(scales[is]) - 32);
                    is += 1;
                    let range = 16 * half..16 * half + 16;
                    for (&ql, &h) in q[range.clone()].iter().zip(&hm[range]) {
                        let low = i16::from((ql >> shift) & 3);
                        let high = if h & m != 0 { 0 } else { 4 };
                        y[pos] = dl * f32::from(low - high);
                        pos += 1;
                    }
                }
                m <<= 1;
            }
        }
    }
}

fn dequant_q4_k(bytes: &[u8], out: &mut [f32]) {
    // block_q4_K: d, dmin, scales[12], qs[128].
    for (b, y) in bytes
        .as_chunks::<144>()
        .0
        .iter()
        .zip(out.as_chunks_mut::<256>().0)
    {
        let d = f16_le(b[0], b[1]);
        let dmin = f16_le(b[2], b[3]);
        let scales = &b[4..16];
        for k in 0..4 {
            let (sc1, m1) = scale_min_k4(2 * k, scales);
            let (sc2, m2) = scale_min_k4(2 * k + 1, scales);
            let d1 = d * f32::from(sc1);
            let m1 = dmin * f32::from(m1);
            let d2 = d * f32::from(sc2);
            let m2 = dmin * f32::from(m2);
            let q = &b[16 + 32 * k..16 + 32 * k + 32];
            let y = &mut y[64 * k..64 * k + 64];
            for l in 0..32 {
                y[l] = d1 * f32::from(q[l] & 0x0F) - m1;
                y[l + 32] = d2 * f32::from(q[l] >> 4) - m2;
            }
        }
    }
}

fn dequant_q5_k(bytes: &[u8], out: &mut [f32]) {
    // block_q5_K: d, dmin, scales[12], qh[32], qs[128].
    for (b, y) in bytes
        .as_chunks::<176>()
        .0
        .iter()
        .zip(out.as_chunks_mut::<256>().0)
    {
        let d = f16_le(b[0], b[1]);
        let dmin = f16_le(b[2], b[3]);
        let scales = &b[4..16];
        let qh = &b[16..48];
        let mut u1: u8 = 1;
        let mut u2: u8 = 2;
        for k in 0..4 {
            let (sc1, m1) = scale_min_k4(2 * k, scales);
            let (sc2, m2) = scale_min_k4(2 * k + 1, scales);
            let d1 = d * f32::from(sc1);
            let m1 = dmin * f32::from(m1);
            let d2 = d * f32::from(sc2);
            let m2 = dmin * f32::from(m2);
            let ql = &b[48 + 32 * k..48 + 32 * k + 32];
            let y = &mut y[64 * k..64 * k + 64];
            for l in 0..32 {
                let h1 = if qh[l] & u1 != 0 { 16 } else { 0 };
                let h2 = if qh[l] & u2 != 0 { 16 } else { 0 };
                y[l] = d1 * f32::from((ql[l] & 0x0F) + h1) - m1;
                y[l + 32] = d2 * f32::from((ql[l] >> 4) + h2) - m2;
            }
            u1 <<= 2;
            u2 <<= 2;
        }
    }
}

fn dequant_q6_k(bytes: &[u8], out: &mut [f32]) {
    // block_q6_K: ql[128], qh[64], scales[16] (i8), d.
    for (b, y) in bytes
        .as_chunks::<210>()
        .0
        .iter()
        .zip(out.as_chunks_mut::<256>().0)
    {
        let d = f16_le(b[208], b[209]);
        for n in 0..2 {
            let ql = &b[64 * n..64 * n + 64];
            let qh = &b[128 + 32 * n..128 + 32 * n + 32];
            let sc = &b[192 + 8 * n..192 + 8 * n + 8];
            let y = &mut y[128 * n..128 * n + 128];
            for l in 0..32 {
                let is = l / 16;
                let q1 = i16::from((ql[l] & 0x0F) | ((qh[l] & 3) << 4)) - 32;
                let q2 = i16::from((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
                let q3 = i16::from((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                let q4 = i16::from((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * f32::from(sc[is] as i8) * f32::from(q1);
                y[l + 32] = d * f32::from(sc[is + 2] as i8) * f32::from(q2);
                y[l + 64] = d * f32::from(sc[is + 4] as i8) * f32::from(q3);
                y[l + 96] = d * f32::from(sc[is + 6] as i8) * f32::from(q4);
            }
        }
    }
}

fn dequant_q8_k(bytes: &[u8], out: &mut [f32]) {
    // block_q8_K: d (f32), qs[256] (i8), bsums[16] (i16, unused here).
    for (b, y) in bytes
        .as_chunks::<292>()
        .0
        .iter()
        .zip(out.as_chunks_mut::<256>().0)
    {
        let d = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        for (y, &q) in y.iter_mut().zip(&b[4..260]) {
            *y = d * f32::from(q as i8);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Quantizers (ggml's *_ref functions)

/// The value with the largest magnitude (the first one on ties) and that magnitude.
#[inline]
fn signed_absmax(x: &[f32]) -> (f32, f32) {
    let mut amax = 0.0f32;
    let mut max = 0.0f32;
    for &v in x {
        if amax < v.abs() {
            amax = v.abs();
            max = v;
        }
    }
    (amax, max)
}

/// Minimum and maximum as ggml computes them (starting from +-FLT_MAX).
#[inline]
fn min_max(x: &[f32]) -> (f32, f32) {
    let mut min = f32::MAX;
    let mut max = -f32::MAX;
    for &v in x {
        if v < min {
            min = v;
        }
        if v > max {
            max = v;
        }
    }
    (min, max)
}

#[inline]
fn inverse_or_zero(d: f32) -> f32 {
    if d != 0.0 { 1.0 / d } else { 0.0 }
}

#[inline]
fn f16_bytes(x: f32) -> [u8; 2] {
    f16::from_f32(x).to_bits().to_le_bytes()
}

fn quant_q8_0(values: &[f32], out: &mut [u8]) {
    for (x, b) in values
        .as_chunks::<32>()
        .0
        .iter()
        .zip(out.as_chunks_mut::<34>().0)
    {
        let mut amax = 0.0f32;
        for &v in x {
            // ggml's MAX(a, b) is `a > b ? a : b`.
            let a = v.abs();
            amax = if amax > a { amax } else { a };
        }
        let d = amax / 127.0;
        let id = inverse_or_zero(d);
        [b[0], b[1]] = f16_bytes(d);
        for (q, &v) in b[2..34].iter_mut().zip(x) {
            *q = (v * id).round() as i8 as u8;
        }
    }
}

fn quant_q4_0(values: &[f32], out: &mut [u8]) {
    for (x, b) in values
        .as_chunks::<32>()
        .0
        .iter()
        .zip(out.as_chunks_mut::<18>().0)
    {
        let (_, max) = signed_absmax(x);
        let d = max / -8.0;
        let id = inverse_or_zero(d);
        [b[0], b[1]] = f16_bytes(d);
        for j in 0..16 {
            let xi0 = 15.min(i32::from((x[j] * id + 8.5) as i8)) as u8;
            let xi1 = 15.min(i32::from((x[j + 16] * id + 8.5) as i8)) as u8;
            b[2 + j] = xi0 | (xi1 << 4);
        }
    }
}

fn quant_q4_1(values: &[f32], out: &mut [u8]) {
    for (x, b) in values
        .as_chunks::<32>()
        .0
        .iter()
        .zip(out.as_chunks_mut::<20>().0)
    {
        let (min, max) = min_max(x);
        let d = (max - min) / 15.0;
        let id = inverse_or_zero(d);
        [b[0], b[1]] = f16_bytes(d);
        [b[2], b[3]] = f16_bytes(min);
        for j in 0..16 {
            let xi0 = 15.min(i32::from(((x[j] - min) * id + 0.5) as i8)) as u8;
            let xi1 = 15.min(i32::from(((x[j + 16] - min) * id + 0.5) as i8)) as u8;
            b[4 + j] = xi0 | (xi1 << 4);
        }
    }
}

fn quant_q5_0(values: &[f32], out: &mut [u8]) {
    for (x, b) in values
        .as_chunks::<32>()
        .0
        .iter()
        .zip(out.as_chunks_mut::<22>().0)
    {
        let (_, max) = signed_absmax(x);
        let d = max / -16.0;
        let id = inverse_or_zero(d);
        [b[0], b[1]] = f16_bytes(d);
        let mut qh: u32 = 0;
        for j in 0..16 {
            let xi0 = 31.min(i32::from((x[j] * id + 16.5) as i8)) as u8;
            let xi1 = 31.min(i32::from((x[j + 16] * id + 16.5) as i8)) as u8;
            b[6 + j] = (xi0 & 0x0F) | ((xi1 & 0x0F) << 4);
            qh |= (u32::from(xi0 & 0x10) >> 4) << j;
            qh |= (u32::from(xi1 & 0x10) >> 4) << (j + 16);
        }
        [b[2], b[3], b[4], b[5]] = qh.to_le_bytes();
    }
}

fn quant_q5_1(values: &[f32], out: &mut [u8]) {
    for (x, b) in values
        .as_chunks::<32>()
        .0
        .iter()
        .zip(out.as_chunks_mut::<24>().0)
    {
        let (min, max) = min_max(x);
        let d = (max - min) / 31.0;
        let id = inverse_or_zero(d);
        [b[0], b[1]] = f16_bytes(d);
        [b[2], b[3]] = f16_bytes(min);
        let mut qh: u32 = 0;
        for j in 0..16 {
            let xi0 = ((x[j] - min) * id + 0.5) as u8;
            let xi1 = ((x[j + 16] - min) * id + 0.5) as u8;
            b[8 + j] = (xi0 & 0x0F) | ((xi1 & 0x0F) << 4);
            qh |= (u32::from(xi0 & 0x10) >> 4) << j;
            qh |= (u32::from(xi1 & 0x10) >> 4) << (j + 16);
        }
        [b[4], b[5], b[6], b[7]] = qh.to_le_bytes();
    }
}
