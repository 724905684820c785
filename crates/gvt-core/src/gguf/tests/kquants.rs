//! Q4_K and Q6_K quantization against ggml's own reference quantizers. gguf-py cannot
//! quantize K-quants, so `tests/fixtures/gguf/kquants/` holds the bytes that ggml's
//! `quantize_row_q4_K_ref` / `quantize_row_q6_K_ref` (libggml-base, called through ctypes)
//! produced for the rows of `input.f32` (see tools/reference/make_kquant_fixture.py).

use super::*;
use crate::gguf::quant::{dequantize, quantize};

const INPUT: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/gguf/kquants/input.f32"
));
const Q4_K: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/gguf/kquants/q4_k.bin"
));
const Q6_K: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/gguf/kquants/q6_k.bin"
));

/// Values per fixture row (two super-blocks); each row was quantized on its own.
const ROW_LEN: usize = 512;

/// What each fixture row exercises, in the script's order.
const ROWS: [&str; 10] = [
    "normal",
    "outliers",
    "zeros",
    "constant blocks",
    "tiny (f16 scales underflow)",
    "small (f16 subnormal scales)",
    "negative only",
    "positive only",
    "large",
    "mixed group magnitudes",
];
/// The row whose values (~1e-8) are too small for an f16 scale: ggml stores d = 0.
const TINY_ROW: usize = 4;

fn input_rows() -> Vec<Vec<f32>> {
    let values: Vec<f32> = INPUT
        .as_chunks::<4>()
        .0
        .iter()
        .map(|b| f32::from_le_bytes(*b))
        .collect();
    assert_eq!(values.len(), ROWS.len() * ROW_LEN, "input.f32 size");
    values.chunks(ROW_LEN).map(<[f32]>::to_vec).collect()
}

fn expected(dtype: GgmlType) -> &'static [u8] {
    match dtype {
        GgmlType::Q4_K => Q4_K,
        GgmlType::Q6_K => Q6_K,
        _ => unreachable!(),
    }
}

/// Root-mean-square of `got - want`, relative to the RMS of `want` (0 for a zero row).
fn relative_rms_error(got: &[f32], want: &[f32]) -> f64 {
    let err: f64 = got
        .iter()
        .zip(want)
        .map(|(&g, &w)| (f64::from(g) - f64::from(w)).powi(2))
        .sum();
    let norm: f64 = want.iter().map(|&w| f64::from(w).powi(2)).sum();
    if norm == 0.0 {
        err
    } else {
        (err / norm).sqrt()
    }
}

#[test]
fn k_quants_match_ggml_byte_for_byte() {
    let rows = input_rows();
    for dtype in [GgmlType::Q4_K, GgmlType::Q6_K] {
        let want = expected(dtype);
        let row_bytes = dtype.row_bytes(ROW_LEN).unwrap();
        assert_eq!(want.len(), ROWS.len() * row_bytes, "{dtype} fixture size");
        for ((i, row), want) in rows.iter().enumerate().zip(want.chunks(row_bytes)) {
            let got = quantize(dtype, row).unwrap();
            if let Some(at) = got.iter().zip(want).position(|(g, w)| g != w) {
                let size = dtype.type_size();
                panic!(
                    "{dtype} row {i} ({}): first difference in block {} at byte {} \
                     (ours {:#04x}, ggml {:#04x}); blocks\n ours {:02x?}\n ggml {:02x?}",
                    ROWS[i],
                    at / size,
                    at % size,
                    got[at],
                    want[at],
                    &got[at / size * size..][..size],
                    &want[at / size * size..][..size],
                );
            }
        }
        // Rows are whole blocks, so quantizing them all at once gives the same bytes.
        assert!(quantize(dtype, &rows.concat()).unwrap() == want, "{dtype}");
    }
}

#[test]
fn k_quants_round_trip_through_dequantize() {
    // (type, largest relative RMS error allowed). Observed: Q4_K at most 0.115 and Q6_K
    // 0.034, both on the pseudo-random rows with a 25x outlier, whose sub-block sets the
    // super-block scale and leaves the others coarse 6-/8-bit scales; 0.07 / 0.018 on normal
    // values.
    let bounds = [(GgmlType::Q4_K, 0.13), (GgmlType::Q6_K, 0.04)];
    let rows = input_rows();
    let mut extra: Vec<(String, Vec<f32>)> = (0..8)
        .map(|seed| {
            let scale = [1e-3, 0.02, 1.0, 50.0][seed as usize % 4];
            let mut v = pseudo_random(1024, 100 + seed, scale);
            v[seed as usize * 97] *= 25.0; // one outlier per row
            (format!("pseudo-random seed {seed} scale {scale}"), v)
        })
        .collect();
    extra.extend(
        rows.iter()
            .zip(ROWS)
            .map(|(r, n)| (n.to_string(), r.clone())),
    );

    for (dtype, bound) in bounds {
        let mut errors = Vec::new();
        for (i, (name, x)) in extra.iter().enumerate() {
            let bytes = quantize(dtype, x).unwrap();
            let y = dequantize(dtype, &bytes, x.len()).unwrap();
            if name == ROWS[TINY_ROW] {
                assert!(y.iter().all(|&v| v == 0.0), "{dtype} {name}: f16 d is 0");
                continue;
            }
            let err = relative_rms_error(&y, x);
            assert!(err <= bound, "{dtype} {name}: relative RMS error {err}");
            if x.iter().all(|&v| v == 0.0) {
                assert!(y.iter().all(|&v| v == 0.0), "{dtype} {name}");
            }
            errors.push((i, err));
        }
        eprintln!("{dtype} relative RMS errors: {errors:.4?}");
    }

    // Six bits beat four on every row with something to fit.
    for (name, x) in &extra {
        if name == ROWS[TINY_ROW] || x.iter().all(|&v| v == 0.0) {
            continue;
        }
        let err = |dtype| {
            let y = dequantize(dtype, &quantize(dtype, x).unwrap(), x.len()).unwrap();
            relative_rms_error(&y, x)
        };
        let (e4, e6) = (err(GgmlType::Q4_K), err(GgmlType::Q6_K));
        assert!(e6 < e4, "{name}: Q6_K {e6} vs Q4_K {e4}");
    }
}

#[test]
fn k_quants_need_whole_super_blocks() {
    for dtype in [GgmlType::Q4_K, GgmlType::Q6_K] {
        assert!(dtype.can_quantize());
        assert!(matches!(
            quantize(dtype, &[0.5; 288]),
            Err(GgufError::NotBlockMultiple {
                n_elements: 288,
                block_size: 256,
                ..
            })
        ));
        assert!(quantize(dtype, &[]).unwrap().is_empty());
    }
}
