//! Decoding GGUF blocks to f32, as ggml's `dequantize_row_*`: the reference the kernels
//! are tested against, and the path for formats without a dot product of their own.

use half::f16;

use crate::WeightFormat;

/// Decodes whole blocks of `format` from `bytes` into `out`.
///
/// # Panics
/// When `bytes` holds fewer blocks than `out` has values for.
pub fn decode(format: WeightFormat, bytes: &[u8], out: &mut [f32]) {
    let blocks = out.len() / format.block();
    assert!(
        bytes.len() >= blocks * format.block_bytes(),
        "{} bytes of {format} hold fewer than {} values",
        bytes.len(),
        out.len()
    );
    match format {
        WeightFormat::F32 => {
            for (x, y) in bytes.as_chunks::<4>().0.iter().zip(out.iter_mut()) {
                *y = f32::from_le_bytes(*x);
            }
        }
        WeightFormat::F16 => dequant_f16(bytes, out),
        WeightFormat::BF16 => {
            for (x, y) in bytes.as_chunks::<2>().0.iter().zip(out.iter_mut()) {
                *y = bf16_to_f32(u16::from_le_bytes(*x));
            }
        }
        WeightFormat::Q4_0 => dequant_q4_0(bytes, out),
        WeightFormat::Q4_1 => dequant_q4_1(bytes, out),
        WeightFormat::Q5_0 => dequant_q5_0(bytes, out),
        WeightFormat::Q5_1 => dequant_q5_1(bytes, out),
        WeightFormat::Q8_0 => dequant_q8_0(bytes, out),
        WeightFormat::Q4_K => dequant_q4_k(bytes, out),
        WeightFormat::Q5_K => dequant_q5_k(bytes, out),
        WeightFormat::Q6_K => dequant_q6_k(bytes, out),
    }
}

/// ggml's `GGML_BF16_TO_FP32`: the bf16 bits are the top half of an f32.
#[inline]
pub fn bf16_to_f32(bits: u16) -> f32 {
    f32::from_bits(u32::from(bits) << 16)
}

/// f16 stored little-endian in two bytes, as f32.
#[inline]
pub fn f16_le(lo: u8, hi: u8) -> f32 {
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

/// ggml's `get_scale_min_k4`: the 6-bit scale and min of sub-block `j` (0..8) of a
/// Q4_K / Q5_K block, packed into 12 bytes.
#[inline]
pub(crate) fn scale_min_k4(j: usize, q: &[u8]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        (
            (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4),
            (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
        )
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
