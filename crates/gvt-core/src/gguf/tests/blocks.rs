//! Dequantization of hand-made blocks: each test packs known integers and scales the way
//! ggml's block structs lay them out, and checks the values from the formula.

// Element-index loops mirror the layout formulas of ggml's C code.
#![allow(clippy::needless_range_loop)]

use half::f16;

use super::*;
use crate::gguf::quant::{dequantize, dequantize_into, quantize};

fn f16_bytes(x: f32) -> [u8; 2] {
    f16::from_f32(x).to_bits().to_le_bytes()
}

fn deq(dtype: GgmlType, bytes: &[u8]) -> Vec<f32> {
    let n = bytes.len() / dtype.type_size() * dtype.block_size();
    dequantize(dtype, bytes, n).unwrap()
}

#[test]
fn plain_types() {
    let f32s = [1.5f32, -0.0, f32::MAX];
    let bytes: Vec<u8> = f32s.iter().flat_map(|v| v.to_le_bytes()).collect();
    assert_eq!(deq(GgmlType::F32, &bytes), f32s);

    let bytes = [0x00, 0x3C, 0x00, 0xC0, 0x01, 0x00, 0xFF, 0x7B]; // 1, -2, 2^-24, 65504
    assert_eq!(
        deq(GgmlType::F16, &bytes),
        [1.0, -2.0, 2f32.powi(-24), 65504.0]
    );
    // Longer than the F16 conversion chunk, with a ragged end.
    let n = 1000;
    let halves: Vec<f32> = (0..n).map(|i| i as f32 * 0.25 - 100.0).collect();
    let bytes: Vec<u8> = halves.iter().flat_map(|&v| f16_bytes(v)).collect();
    assert_eq!(deq(GgmlType::F16, &bytes), halves);

    let bytes = [0x80, 0x3F, 0xC0, 0xC0]; // bf16 1.0, -6.0
    assert_eq!(deq(GgmlType::BF16, &bytes), [1.0, -6.0]);

    assert_eq!(deq(GgmlType::I8, &[0x80, 0xFF, 5]), [-128.0, -1.0, 5.0]);
    assert_eq!(deq(GgmlType::I16, &(-300i16).to_le_bytes()), [-300.0]);
    assert_eq!(deq(GgmlType::I32, &(-70000i32).to_le_bytes()), [-70000.0]);
    assert_eq!(
        deq(GgmlType::I64, &(1i64 << 40).to_le_bytes()),
        [2f32.powi(40)]
    );
    assert_eq!(deq(GgmlType::F64, &0.1f64.to_le_bytes()), [0.1f32]);
}

#[test]
fn q4_0_block() {
    let mut b = f16_bytes(0.5).to_vec();
    b.extend((0..16u8).map(|j| j | ((15 - j) << 4)));
    let y = deq(GgmlType::Q4_0, &b);
    for j in 0..16 {
        assert_eq!(y[j], (j as f32 - 8.0) * 0.5);
        assert_eq!(y[j + 16], ((15 - j) as f32 - 8.0) * 0.5);
    }
}

#[test]
fn q4_1_block() {
    let mut b = f16_bytes(0.25).to_vec();
    b.extend(f16_bytes(-1.0));
    b.extend((0..16u8).map(|j| j | ((15 - j) << 4)));
    let y = deq(GgmlType::Q4_1, &b);
    for j in 0..16 {
        assert_eq!(y[j], j as f32 * 0.25 - 1.0);
        assert_eq!(y[j + 16], (15 - j) as f32 * 0.25 - 1.0);
    }
}

#[test]
fn q5_0_block() {
    let qh: u32 = 0xA5C3_5A3C;
    let mut b = f16_bytes(1.0).to_vec();
    b.extend(qh.to_le_bytes());
    b.extend((0..16u8).map(|j| j | ((15 - j) << 4)));
    let y = deq(GgmlType::Q5_0, &b);
    for j in 0..16 {
        let lo = j as i32 | (((qh >> j) & 1) << 4) as i32;
        let hi = (15 - j) as i32 | (((qh >> (j + 16)) & 1) << 4) as i32;
        assert_eq!(y[j], (lo - 16) as f32, "element {j}");
        assert_eq!(y[j + 16], (hi - 16) as f32, "element {}", j + 16);
    }
}

#[test]
fn q5_1_block() {
    let qh: u32 = 0x0F0F_F0F0;
    let mut b = f16_bytes(0.5).to_vec();
    b.extend(f16_bytes(2.0));
    b.extend(qh.to_le_bytes());
    b.extend((0..16u8).map(|j| (15 - j) | (j << 4)));
    let y = deq(GgmlType::Q5_1, &b);
    for j in 0..16 {
        let lo = (15 - j) as u32 | (((qh >> j) & 1) << 4);
        let hi = j as u32 | (((qh >> (j + 16)) & 1) << 4);
        assert_eq!(y[j], lo as f32 * 0.5 + 2.0);
        assert_eq!(y[j + 16], hi as f32 * 0.5 + 2.0);
    }
}

#[test]
fn q8_0_blocks() {
    let mut b = Vec::new();
    for d in [0.25f32, -2.0] {
        b.extend(f16_bytes(d));
        b.extend((0..32).map(|j| (j * 8 - 128) as i8 as u8));
    }
    let y = deq(GgmlType::Q8_0, &b);
    for (i, d) in [0.25f32, -2.0].into_iter().enumerate() {
        for j in 0..32 {
            assert_eq!(y[32 * i + j], (j as f32 * 8.0 - 128.0) * d);
        }
    }
}

/// Packs 8 six-bit scales and mins the way `get_scale_min_k4` unpacks them.
fn pack_scale_min_k4(sc: [u8; 8], m: [u8; 8]) -> [u8; 12] {
    let mut q = [0u8; 12];
    for j in 0..4 {
        q[j] = sc[j] | ((sc[j + 4] >> 4) << 6);
        q[j + 4] = m[j] | ((m[j + 4] >> 4) << 6);
        q[j + 8] = (sc[j + 4] & 0x0F) | ((m[j + 4] & 0x0F) << 4);
    }
    q
}

const K_SCALES: [u8; 8] = [1, 2, 3, 4, 33, 47, 63, 17];
const K_MINS: [u8; 8] = [0, 5, 10, 15, 20, 40, 60, 7];

#[test]
fn q4_k_block() {
    let (d, dmin) = (0.5f32, 0.25f32);
    let nibble = |e: usize| ((e * 7) % 16) as u8;
    let mut b = f16_bytes(d).to_vec();
    b.extend(f16_bytes(dmin));
    b.extend(pack_scale_min_k4(K_SCALES, K_MINS));
    let mut qs = [0u8; 128];
    for e in 0..256 {
        let (k, g) = (e / 64, e % 64);
        if g < 32 {
            qs[32 * k + g] |= nibble(e);
        } else {
            qs[32 * k + g - 32] |= nibble(e) << 4;
        }
    }
    b.extend(qs);
    let y = deq(GgmlType::Q4_K, &b);
    for e in 0..256 {
        let sub = e / 32;
        let want =
            d * f32::from(K_SCALES[sub]) * f32::from(nibble(e)) - dmin * f32::from(K_MINS[sub]);
        assert_eq!(y[e], want, "element {e}");
    }
}

#[test]
fn q5_k_block() {
    let (d, dmin) = (0.125f32, 0.5f32);
    let value = |e: usize| ((e * 11 + 3) % 32) as u8; // 5 bits
    let mut b = f16_bytes(d).to_vec();
    b.extend(f16_bytes(dmin));
    b.extend(pack_scale_min_k4(K_SCALES, K_MINS));
    let mut qh = [0u8; 32];
    let mut qs = [0u8; 128];
    for e in 0..256 {
        let (k, g) = (e / 64, e % 64);
        let (l, bit) = if g < 32 {
            (g, 2 * k)
        } else {
            (g - 32, 2 * k + 1)
        };
        qh[l] |= (value(e) >> 4) << bit;
        if g < 32 {
            qs[32 * k + l] |= value(e) & 0x0F;
        } else {
            qs[32 * k + l] |= (value(e) & 0x0F) << 4;
        }
    }
    b.extend(qh);
    b.extend(qs);
    let y = deq(GgmlType::Q5_K, &b);
    for e in 0..256 {
        let sub = e / 32;
        let want =
            d * f32::from(K_SCALES[sub]) * f32::from(value(e)) - dmin * f32::from(K_MINS[sub]);
        assert_eq!(y[e], want, "element {e}");
    }
}

#[test]
fn q6_k_block() {
    let d = 0.125f32;
    let value = |e: usize| ((e * 5 + 1) % 64) as u8; // 6 bits, stored +32
    let scales: [i8; 16] = std::array::from_fn(|i| i as i8 * 3 - 20);
    let mut ql = [0u8; 128];
    let mut qh = [0u8; 64];
    for e in 0..256 {
        let (n, r) = (e / 128, e % 128);
        let (quarter, l) = (r / 32, r % 32);
        let v = value(e);
        let ql_index = 64 * n + l + if quarter % 2 == 1 { 32 } else { 0 };
        ql[ql_index] |= if quarter < 2 {
            v & 0x0F
        } else {
            (v & 0x0F) << 4
        };
        qh[32 * n + l] |= (v >> 4) << (2 * quarter);
    }
    let mut b = ql.to_vec();
    b.extend(qh);
    b.extend(scales.map(|s| s as u8));
    b.extend(f16_bytes(d));
    let y = deq(GgmlType::Q6_K, &b);
    for e in 0..256 {
        let (n, r) = (e / 128, e % 128);
        let (quarter, l) = (r / 32, r % 32);
        let scale = scales[8 * n + l / 16 + 2 * quarter];
        let want = d * f32::from(scale) * (f32::from(value(e)) - 32.0);
        assert_eq!(y[e], want, "element {e}");
    }
}

#[test]
fn q2_k_block() {
    let (d, dmin) = (0.5f32, 0.125f32);
    let value = |e: usize| ((e * 3 + e / 7) % 4) as u8;
    let scales: [u8; 16] =
        std::array::from_fn(|i| ((i * 5) % 16) as u8 | ((((i * 3) % 16) as u8) << 4));
    let mut qs = [0u8; 64];
    for e in 0..256 {
        let (n, r) = (e / 128, e % 128);
        let (j, h, l) = (r / 32, (r % 32) / 16, r % 16);
        qs[32 * n + 16 * h + l] |= value(e) << (2 * j);
    }
    let mut b = scales.to_vec();
    b.extend(qs);
    b.extend(f16_bytes(d));
    b.extend(f16_bytes(dmin));
    let y = deq(GgmlType::Q2_K, &b);
    for e in 0..256 {
        let (n, r) = (e / 128, e % 128);
        let (j, h) = (r / 32, (r % 32) / 16);
        let sc = scales[8 * n + 2 * j + h];
        let want = d * f32::from(sc & 0x0F) * f32::from(value(e)) - dmin * f32::from(sc >> 4);
        assert_eq!(y[e], want, "element {e}");
    }
}

#[test]
fn q3_k_block() {
    let d = 0.25f32;
    let value = |e: usize| ((e * 5 + e / 9) % 8) as i32 - 4; // -4..=3
    let scales6: [u8; 16] = std::array::from_fn(|i| ((i * 13 + 7) % 64) as u8);
    let mut packed = [0u8; 12];
    for (s, &sc) in scales6.iter().enumerate() {
        if s < 8 {
            packed[s] |= sc & 0x0F;
        } else {
            packed[s - 8] |= (sc & 0x0F) << 4;
        }
        packed[8 + s % 4] |= (sc >> 4) << (2 * (s / 4));
    }
    let mut hmask = [0u8; 32];
    let mut qs = [0u8; 64];
    for e in 0..256 {
        let (n, r) = (e / 128, e % 128);
        let (j, h, l) = (r / 32, (r % 32) / 16, r % 16);
        // q = low2 - (high bit set ? 0 : 4)
        let v = value(e);
        let (low2, high) = if v >= 0 { (v, 1) } else { (v + 4, 0) };
        qs[32 * n + 16 * h + l] |= (low2 as u8) << (2 * j);
        hmask[16 * h + l] |= high << (4 * n + j);
    }
    let mut b = hmask.to_vec();
    b.extend(qs);
    b.extend(packed);
    b.extend(f16_bytes(d));
    let y = deq(GgmlType::Q3_K, &b);
    for e in 0..256 {
        let (n, r) = (e / 128, e % 128);
        let (j, h) = (r / 32, (r % 32) / 16);
        let scale = i32::from(scales6[8 * n + 2 * j + h]) - 32;
        let want = d * scale as f32 * value(e) as f32;
        assert_eq!(y[e], want, "element {e}");
    }
}

#[test]
fn q8_k_block() {
    let d = 0.01f32;
    let mut b = d.to_le_bytes().to_vec();
    b.extend((0..256).map(|e: i32| (e - 128) as i8 as u8));
    b.extend([0u8; 32]); // bsums
    let y = deq(GgmlType::Q8_K, &b);
    for e in 0..256 {
        assert_eq!(y[e], d * (e as f32 - 128.0));
    }
}

#[test]
fn dequantize_checks_lengths_and_types() {
    let err = dequantize(GgmlType::Q8_0, &[0; 33], 32).unwrap_err();
    assert!(
        matches!(
            err,
            GgufError::DataLength {
                expected: 34,
                actual: 33,
                ..
            }
        ),
        "{err:?}"
    );
    let err = dequantize(GgmlType::Q8_0, &[0; 34], 31).unwrap_err();
    assert!(matches!(err, GgufError::NotBlockMultiple { .. }), "{err:?}");
    let err = dequantize(GgmlType::IQ2_XXS, &[0; 66], 256).unwrap_err();
    assert!(
        matches!(
            err,
            GgufError::UnsupportedType {
                dtype: GgmlType::IQ2_XXS,
                operation: "dequantize"
            }
        ),
        "{err:?}"
    );
    let mut out = [0.0; 16];
    assert!(dequantize_into(GgmlType::F32, &[0; 60], &mut out).is_err());
    assert!(dequantize(GgmlType::F32, &[], 0).unwrap().is_empty());
}

#[test]
fn quantize_checks_lengths_and_types() {
    assert!(matches!(
        quantize(GgmlType::Q4_0, &[0.0; 33]),
        Err(GgufError::NotBlockMultiple {
            n_elements: 33,
            block_size: 32,
            ..
        })
    ));
    assert!(matches!(
        quantize(GgmlType::Q5_K, &[0.0; 256]),
        Err(GgufError::UnsupportedType {
            operation: "quantize",
            ..
        })
    ));
    for t in GgmlType::ALL {
        assert_eq!(
            t.can_quantize(),
            quantize(t, &vec![0.5; t.block_size()]).is_ok(),
            "{t}"
        );
        let zeros = vec![0u8; t.type_size()];
        assert_eq!(
            t.can_dequantize(),
            dequantize(t, &zeros, t.block_size()).is_ok(),
            "{t}"
        );
    }
}

#[test]
fn quantize_known_blocks() {
    // Q8_0 of 0..32: d = 31/127, q = round(x * 127/31).
    let x: Vec<f32> = (0..32).map(|i| i as f32).collect();
    let q = quantize(GgmlType::Q8_0, &x).unwrap();
    assert_eq!(&q[..2], &f16_bytes(31.0 / 127.0));
    assert_eq!(q[2], 0);
    assert_eq!(q[33] as i8, 127);
    assert_eq!(q[2 + 16] as i8, (16.0f32 * (127.0 / 31.0)).round() as i8);

    // Q4_0 with max -8 at the front: d = 1, q = x + 8 (clamped at 15).
    let mut x = vec![0.0f32; 32];
    x[0] = -8.0;
    x[1] = 8.0; // clamps to 7
    x[17] = 3.0;
    let q = quantize(GgmlType::Q4_0, &x).unwrap();
    assert_eq!(&q[..2], &f16_bytes(1.0));
    assert_eq!(q[2], 0x80); // x[0] -> 0, x[16] -> 8
    assert_eq!(q[3], 0xBF); // x[1] -> 15, x[17] -> 11
    let y = dequantize(GgmlType::Q4_0, &q, 32).unwrap();
    assert_eq!((y[0], y[1], y[17]), (-8.0, 7.0, 3.0));

    // Q4_1 of a 0..=15 ramp is exact.
    let x: Vec<f32> = (0..32).map(|i| (i % 16) as f32).collect();
    let y = dequantize(GgmlType::Q4_1, &quantize(GgmlType::Q4_1, &x).unwrap(), 32).unwrap();
    assert_eq!(y, x);

    // BF16 rounds to nearest even and keeps NaN a (quiet) NaN.
    let q = quantize(GgmlType::BF16, &[1.0 + 2f32.powi(-8), f32::NAN]).unwrap();
    assert_eq!(u16::from_le_bytes([q[0], q[1]]), 0x3F80);
    let y = dequantize(GgmlType::BF16, &q, 2).unwrap();
    assert!(y[1].is_nan());
}
