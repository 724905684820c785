//! Every kernel against a plain f64 reference, under every instruction set this CPU runs,
//! on one thread and on several, over shapes that do not divide the kernels' chunks.

use gvt_cpu::kernels::attention::{Cache, Heads, attention};
use gvt_cpu::kernels::linear::{Linear, Scratch, linear};
use gvt_cpu::kernels::quantize::Q16;
use gvt_cpu::model::TensorSpec;
use gvt_cpu::random::random_tensors;
use gvt_cpu::{Cpu, Isa, Weight, WeightFormat};

/// A reproducible value in [-1, 1).
fn noise(seed: u64, i: usize) -> f32 {
    let mut z = seed
        .wrapping_add(i as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z ^= z >> 29;
    z = z.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z ^= z >> 32;
    (z % 2_000_001) as f32 / 1_000_000.0 - 1.0
}

fn cpus() -> Vec<Cpu> {
    Isa::available()
        .into_iter()
        .flat_map(|isa| [Cpu::with_isa(isa, Some(1)), Cpu::with_isa(isa, Some(3))])
        .collect()
}

#[test]
fn linear_matches_the_f32_reference_in_every_format() {
    for format in WeightFormat::ALL {
        let block = format.block().max(32);
        // t from 4 on takes the f32 panels, in groups of 4, 8 or 16 positions, three at a time.
        for (blocks, rows, t) in [(1, 2, 1), (2, 7, 1), (3, 33, 5), (4, 130, 9), (1, 6, 57)] {
            let cols = blocks * block;
            let spec = TensorSpec::new("w".into(), cols, rows);
            let tensors = random_tensors(&[spec], format, 7 + rows as u64);
            let w = Weight::new(tensors[0].view(), None).unwrap();
            assert_eq!(w.format, format, "the random tensor keeps the format");
            let mut dense = vec![0f32; cols * rows];
            format.decode(w.bytes(), &mut dense);
            let x: Vec<f32> = (0..t * cols).map(|i| noise(rows as u64, i) * 3.0).collect();
            let base: Vec<f32> = (0..t * rows).map(|i| noise(99, i)).collect();
            let mut q16 = Q16::default();
            q16.quantize(&x, cols);
            let mut scalar = None;
            let mut magnitudes = vec![0f64; t * rows];
            for cpu in cpus() {
                let (mut y, mut sum) = (vec![0f32; t * rows], base.clone());
                linear(
                    &cpu,
                    &x,
                    &mut [Linear::store(&w, &mut y), Linear::add(&w, &mut sum)],
                    &mut Scratch::default(),
                );
                for ti in 0..t {
                    for r in 0..rows {
                        let wr = &dense[r * cols..(r + 1) * cols];
                        let xr = &x[ti * cols..(ti + 1) * cols];
                        let exact: f64 = wr.iter().zip(xr).map(|(a, b)| f64::from(a * b)).sum();
                        let magnitude: f64 = wr
                            .iter()
                            .zip(xr)
                            .map(|(a, b)| f64::from((a * b).abs()))
                            .sum();
                        // 16-bit activations (every block format's) are off by at most half a
                        // step per value.
                        let rounding: f64 = if !matches!(
                            format,
                            WeightFormat::F32 | WeightFormat::F16 | WeightFormat::BF16
                        ) {
                            wr.iter()
                                .enumerate()
                                .map(|(i, a)| f64::from(a.abs() * q16.row(ti).d[i / 32] / 2.0))
                                .sum()
                        } else {
                            0.0
                        };
                        magnitudes[ti * rows + r] = magnitude;
                        let bound = rounding + 1e-5 * magnitude + 1e-6;
                        let got = y[ti * rows + r];
                        assert!(
                            (f64::from(got) - exact).abs() <= bound,
                            "{format} {} [{cols}x{rows}] t{ti} r{r}: {got} vs {exact} (bound {bound})",
                            cpu.describe()
                        );
                        let added = sum[ti * rows + r] - base[ti * rows + r];
                        assert!((added - got).abs() <= 1e-5 * (1.0 + got.abs()));
                    }
                }
                // Every instruction set computes the same sums as the portable path.
                match &scalar {
                    None => scalar = Some(y),
                    Some(s) => {
                        for ((a, b), m) in s.iter().zip(&y).zip(&magnitudes) {
                            assert!(
                                f64::from((a - b).abs()) <= 1e-5 * m + 1e-6,
                                "{format} {}: {a} vs scalar {b}",
                                cpu.describe()
                            );
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn attention_matches_the_reference_and_keeps_the_last_probabilities() {
    let h = Heads {
        heads: 6,
        kv_heads: 2,
        head_dim: 16,
    };
    let (capacity, start, t) = (40, 11, 5);
    let cache_len = h.kv_heads * capacity * h.head_dim;
    let k: Vec<f32> = (0..cache_len).map(|i| noise(1, i)).collect();
    let v: Vec<f32> = (0..cache_len).map(|i| noise(2, i)).collect();
    let width = h.heads * h.head_dim;
    let q: Vec<f32> = (0..t * width).map(|i| noise(3, i) * 2.0).collect();
    let keys = start + t;
    for cpu in cpus() {
        let mut out = vec![0f32; t * width];
        let mut probs = vec![0f32; h.heads * keys];
        let cache = Cache {
            k: &k,
            v: &v,
            capacity,
        };
        attention(&cpu, h, &q, cache, start, &mut out, Some(&mut probs));
        for ti in 0..t {
            for head in 0..h.heads {
                let kv = head / (h.heads / h.kv_heads);
                let qv = &q[ti * width + head * h.head_dim..][..h.head_dim];
                let n = start + ti + 1;
                let scores: Vec<f64> = (0..n)
                    .map(|j| {
                        let kr = &k[(kv * capacity + j) * h.head_dim..][..h.head_dim];
                        qv.iter()
                            .zip(kr)
                            .map(|(a, b)| f64::from(a * b))
                            .sum::<f64>()
                            / (h.head_dim as f64).sqrt()
                    })
                    .collect();
                let max = scores.iter().cloned().fold(f64::MIN, f64::max);
                let total: f64 = scores.iter().map(|s| (s - max).exp()).sum();
                let p: Vec<f64> = scores.iter().map(|s| (s - max).exp() / total).collect();
                for d in 0..h.head_dim {
                    let exact: f64 = (0..n)
                        .map(|j| p[j] * f64::from(v[(kv * capacity + j) * h.head_dim + d]))
                        .sum();
                    let got = out[ti * width + head * h.head_dim + d];
                    assert!((f64::from(got) - exact).abs() < 1e-5, "{}", cpu.describe());
                }
                if ti + 1 == t {
                    for (j, p) in p.iter().enumerate() {
                        assert!((f64::from(probs[head * keys + j]) - p).abs() < 1e-6);
                    }
                }
            }
        }
    }
}
