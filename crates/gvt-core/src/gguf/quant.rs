//! Block (de)quantization of ggml tensor data, bit-exact with ggml's reference C code
//! (`ggml-quants.c`: `dequantize_row_*` and `quantize_row_*_ref`).
//!
//! A quantized row is a sequence of blocks; each block holds `block_size()` values as small
//! integers plus one or more f16 scales. The kernels here walk whole blocks into a
//! preallocated output, so dequantizing a model is one pass over its bytes.
//!
//! Dequantization: F32, F16, BF16, F64, I8, I16, I32, I64, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0,
//! Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K. Quantization: F32, F16, BF16, Q4_0, Q4_1, Q5_0,
//! Q5_1, Q8_0, and Q4_K, Q6_K (in `kquant.rs`). Operations are written in ggml's order with
//! no fused multiply-add, so the results equal ggml's scalar code and llama.cpp's gguf-py.

use half::f16;

use gvt_cpu::WeightFormat;
use gvt_cpu::blocks::{bf16_to_f32, f16_le};

use super::dtype::GgmlType;
use super::error::GgufError;
use super::kquant;

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
        GgmlType::F16 => WeightFormat::F16.decode(bytes, out),
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
        GgmlType::Q4_0 => WeightFormat::Q4_0.decode(bytes, out),
        GgmlType::Q4_1 => WeightFormat::Q4_1.decode(bytes, out),
        GgmlType::Q5_0 => WeightFormat::Q5_0.decode(bytes, out),
        GgmlType::Q5_1 => WeightFormat::Q5_1.decode(bytes, out),
        GgmlType::Q8_0 => WeightFormat::Q8_0.decode(bytes, out),
        GgmlType::Q2_K => dequant_q2_k(bytes, out),
        GgmlType::Q3_K => dequant_q3_k(bytes, out),
        GgmlType::Q4_K => WeightFormat::Q4_K.decode(bytes, out),
        GgmlType::Q5_K => WeightFormat::Q5_K.decode(bytes, out),
        GgmlType::Q6_K => WeightFormat::Q6_K.decode(bytes, out),
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
        GgmlType::Q4_K => kquant::quant_q4_k(values, &mut out),
        GgmlType::Q6_K => kquant::quant_q6_k(values, &mut out),
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

/// ggml's `ggml_compute_fp32_to_bf16`: round to nearest even, NaN forced quiet.
#[inline]
fn f32_to_bf16(x: f32) -> u16 {
    let bits = x.to_bits();
    if bits & 0x7fff_ffff > 0x7f80_0000 {
        return ((bits >> 16) | 64) as u16;
    }
    (bits.wrapping_add(0x7fff + ((bits >> 16) & 1)) >> 16) as u16
}

// ---------------------------------------------------------------------------------------
// 32-value blocks

// ---------------------------------------------------------------------------------------
// 256-value K-quant blocks

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
pub(super) fn signed_absmax(x: &[f32]) -> (f32, f32) {
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
