//! Every kernel against a CPU reference written here, over random shapes that include odd
//! sizes and sizes that do not divide the tiles. Runs on whatever adapter wgpu finds
//! (lavapipe in CI).

use std::sync::OnceLock;

use gvt_core::gguf::{GgmlType, quant};
use gvt_gpu::kernels::linear::{Epilogue, Io, linear};
use gvt_gpu::kernels::{MATMUL_FROM, Step, argmax, attention, embed, norm, rope};
use gvt_gpu::{Caps, Gpu, TensorBytes, Weight, WeightFormat};

fn gpu() -> &'static Gpu {
    static GPU: OnceLock<Gpu> = OnceLock::new();
    GPU.get_or_init(|| {
        pollster::block_on(Gpu::headless()).unwrap_or_else(|e| {
            panic!("{e}\nInstall lavapipe (apt-get install mesa-vulkan-drivers libvulkan1)")
        })
    })
}

/// The same device under each kernel variant it can run (software, workgroup, and subgroup
/// where the device has subgroups), so that CI's software adapter checks them all.
fn variants() -> &'static [Gpu] {
    static VARIANTS: OnceLock<Vec<Gpu>> = OnceLock::new();
    VARIANTS.get_or_init(|| {
        let own = gpu();
        let caps = own.caps().clone();
        let mut all = vec![
            Caps {
                software: true,
                ..caps.clone()
            },
            Caps {
                software: false,
                subgroups: false,
                shader_f16: false,
                ..caps.clone()
            },
        ];
        // The variants for adapter features, where this one has them.
        if caps.subgroups || caps.shader_f16 {
            all.push(Caps {
                software: false,
                subgroup_max: caps.subgroup_max.clamp(1, 64),
                ..caps.clone()
            });
        }
        let all: Vec<Gpu> = all.into_iter().map(|c| own.with_caps(c)).collect();
        let kinds: Vec<_> = all
            .iter()
            .map(|g| (g.caps().matvec().0, g.caps().matmul().0))
            .collect();
        eprintln!("kernel variants under test: {kinds:?}");
        all
    })
}

/// xorshift64*: reproducible values without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [-1, 1).
    fn f(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
    fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.f()).collect()
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn ggml(format: WeightFormat) -> GgmlType {
    GgmlType::from_id(format.ggml_id()).unwrap()
}

/// Random blocks of `format` and what they hold, as the CPU dequantizes them.
fn random_weight(
    rng: &mut Rng,
    format: WeightFormat,
    rows: usize,
    cols: usize,
) -> (Vec<u8>, Vec<f32>) {
    let n = rows * cols;
    let bytes = match format {
        WeightFormat::Q4_K | WeightFormat::Q5_K | WeightFormat::Q6_K => {
            // Any bits are valid blocks once the f16 scales are finite and modest.
            let block = format.block_bytes();
            let mut bytes: Vec<u8> = (0..n / 256 * block).map(|_| rng.next() as u8).collect();
            for b in bytes.chunks_mut(block) {
                let scale = |rng: &mut Rng| half::f16::from_f32(rng.f() * 0.02).to_le_bytes();
                if format == WeightFormat::Q6_K {
                    b[208..210].copy_from_slice(&scale(rng));
                } else {
                    b[0..2].copy_from_slice(&scale(rng));
                    b[2..4].copy_from_slice(&scale(rng));
                }
            }
            bytes
        }
        _ => quant::quantize(ggml(format), &rng.vec(n)).unwrap(),
    };
    let values = quant::dequantize(ggml(format), &bytes, n).unwrap();
    (bytes, values)
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn step_buffer(t: usize, past: usize, index: usize) -> wgpu::Buffer {
    let step = Step {
        t: t as u32,
        past: past as u32,
        index: index as u32,
        _pad: 0,
    };
    gpu().uniform("step", bytemuck::bytes_of(&step))
}

fn read(buffer: &wgpu::Buffer, n: usize) -> Vec<f32> {
    pollster::block_on(gpu().read_f32(buffer, 0, n)).unwrap()
}

/// `|got - want| <= tol * scale` elementwise, where `scale` bounds the summed magnitudes.
fn assert_close(what: &str, got: &[f32], want: &[f32], scale: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, ((g, w), s)) in got.iter().zip(want).zip(scale).enumerate() {
        assert!(
            (g - w).abs() <= tol * (s + 1e-3),
            "{what}: [{i}] got {g}, want {w} (scale {s})"
        );
    }
}

fn gelu(v: f64) -> f64 {
    0.5 * v * (1.0 + erf(v / std::f64::consts::SQRT_2))
}

/// erf to ~1e-12: its Taylor series near 0, the asymptotic series of erfc beyond 3.
fn erf(z: f64) -> f64 {
    if z.abs() < 3.0 {
        let (mut term, mut sum) = (z, z);
        for n in 1..120 {
            term *= -z * z / n as f64;
            sum += term / (2 * n + 1) as f64;
        }
        return 2.0 / std::f64::consts::PI.sqrt() * sum;
    }
    let a = z.abs();
    let (mut term, mut series) = (1.0, 1.0);
    for n in 1..8 {
        term *= -((2 * n - 1) as f64) / (2.0 * a * a);
        series += term;
    }
    let erfc = (-a * a).exp() / (a * std::f64::consts::PI.sqrt()) * series;
    (1.0 - erfc).copysign(z)
}

#[derive(Clone, Copy)]
struct LinearCase {
    format: WeightFormat,
    rows: usize,
    cols: usize,
    t: usize,
    epilogue: Epilogue,
    bias: bool,
    /// Rows of x and y before the step's first.
    x_row: usize,
    y_row: usize,
    /// Bytes per chunk, to force a split.
    chunk_limit: Option<u64>,
}

fn check_linear(rng: &mut Rng, case: LinearCase) {
    for gpu in variants() {
        check_linear_on(gpu, rng, &case);
    }
}

fn check_linear_on(gpu: &Gpu, rng: &mut Rng, case: &LinearCase) {
    let LinearCase {
        format,
        rows,
        cols,
        t,
        epilogue,
        bias: with_bias,
        x_row,
        y_row,
        chunk_limit,
    } = *case;
    let (bytes, w) = random_weight(rng, format, rows, cols);
    let tensor = TensorBytes {
        name: "w",
        format,
        shape: [cols, rows],
        bytes: &bytes,
    };
    let weight = match chunk_limit {
        Some(limit) => Weight::upload_with_limit(gpu, tensor, limit).unwrap(),
        None => Weight::upload(gpu, tensor).unwrap(),
    };
    // The step's rows sit after x_row and y_row others, which must stay as they are.
    let x = rng.vec((x_row + t) * cols);
    let y0 = rng.vec((y_row + t) * rows);
    let gate = rng.vec((y_row + t) * rows);
    let bias = rng.vec(rows);
    let xb = gpu.storage_with("x", &f32_bytes(&x)).unwrap();
    let yb = gpu.storage_with("y", &f32_bytes(&y0)).unwrap();
    let gb = gpu.storage_with("gate", &f32_bytes(&gate)).unwrap();
    let bb = gpu.storage_with("bias", &f32_bytes(&bias)).unwrap();
    let step = step_buffer(t, 0, 0);
    let mut io = Io::new(&xb, &yb)
        .bias(with_bias.then_some(&bb))
        .rows(x_row, y_row);
    if epilogue.0 & Epilogue::SILU_MUL.0 != 0 {
        io = io.gate(&gb);
    }
    let ops = linear(gpu, &weight, io, epilogue, &step);
    gpu.run(&ops, t as u32);
    let got = read(&yb, (y_row + t) * rows);
    assert_eq!(got[..y_row * rows], y0[..y_row * rows], "rows before y_row");
    let got = &got[y_row * rows..];
    let (x, y0, gate) = (
        &x[x_row * cols..],
        &y0[y_row * rows..],
        &gate[y_row * rows..],
    );

    let mut want = vec![0f32; t * rows];
    let mut scale = vec![0f32; t * rows];
    for ti in 0..t {
        for n in 0..rows {
            let (mut acc, mut mag) = (0f64, 0f64);
            for k in 0..cols {
                let p = w[n * cols + k] as f64 * x[ti * cols + k] as f64;
                acc += p;
                mag += p.abs();
            }
            let i = ti * rows + n;
            let e = epilogue.0;
            if with_bias {
                acc += bias[n] as f64;
            }
            if e & Epilogue::GELU.0 != 0 {
                acc = gelu(acc);
            }
            if e & Epilogue::SILU_MUL.0 != 0 {
                let g = gate[i] as f64;
                acc *= g / (1.0 + (-g).exp());
            }
            if e & Epilogue::ADD.0 != 0 {
                acc += y0[i] as f64;
            }
            want[i] = acc as f32;
            scale[i] = (mag + acc.abs()) as f32;
        }
    }
    let what = format!(
        "{format} [{rows} x {cols}] t={t} epilogue {} bias {with_bias} rows at {x_row}/{y_row} \
         chunks {} on {}",
        epilogue.0,
        weight.chunks(),
        gpu.caps().variant()
    );
    // f16 tiles round x and W to 11 bits: about 1e-3 of the products' magnitudes.
    let f16_tiles = gpu.caps().matmul().0 == "matmul_f16" && t as u32 >= MATMUL_FROM;
    let tol = if f16_tiles { 3e-3 } else { 2e-5 };
    assert_close(&what, got, &want, &scale, tol);
}

#[test]
fn linear_layers_match_the_cpu_for_every_format_and_shape() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for format in WeightFormat::ALL {
        let block = format.block();
        let col_choices: Vec<usize> = match block {
            1 => vec![1, 7, 8, 33, 100, 264],
            32 => vec![32, 96, 288],
            _ => vec![256, 768],
        };
        for (i, &cols) in col_choices.iter().enumerate() {
            for (j, &t) in [1usize, 3, 6, 37].iter().enumerate() {
                let rows = [1usize, 5, 67, 130][(i + j) % 4];
                let (epilogue, bias) = [
                    (Epilogue::STORE, false),
                    (Epilogue::GELU, true),
                    (Epilogue::SILU_MUL, rng.below(2) == 1),
                    (Epilogue::ADD, true),
                ][(i + 2 * j + rng.below(2)) % 4];
                let (x_row, y_row) = ([0, 0, 3][rng.below(3)], [0, 1, 2][rng.below(3)]);
                check_linear(
                    &mut rng,
                    LinearCase {
                        format,
                        rows,
                        cols,
                        t,
                        epilogue,
                        bias,
                        x_row,
                        y_row,
                        chunk_limit: None,
                    },
                );
            }
        }
    }
}

#[test]
fn a_weight_split_by_rows_gives_the_same_products() {
    let mut rng = Rng(7);
    for (format, cols) in [
        (WeightFormat::Q4_0, 64),
        (WeightFormat::Q6_K, 256),
        (WeightFormat::F16, 10),
    ] {
        let row_bytes = format.row_bytes(cols).unwrap() as u64;
        for t in [1, 9] {
            check_linear(
                &mut rng,
                LinearCase {
                    format,
                    rows: 23,
                    cols,
                    t,
                    epilogue: Epilogue::ADD,
                    bias: true,
                    x_row: 0,
                    y_row: 1,
                    chunk_limit: Some(row_bytes * 5 + 64),
                },
            );
        }
    }
}

#[test]
fn a_row_larger_than_the_binding_limit_is_refused_by_name() {
    let bytes = vec![0u8; 4 * 1024];
    let t = TensorBytes {
        name: "blk.0.ffn_up.weight",
        format: WeightFormat::F32,
        shape: [1024, 1],
        bytes: &bytes,
    };
    let err = Weight::upload_with_limit(gpu(), t, 1000)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("blk.0.ffn_up.weight") && err.contains("1000"),
        "{err}"
    );
    let short = TensorBytes {
        shape: [1024, 2],
        ..t
    };
    let err = Weight::upload(gpu(), short).err().unwrap().to_string();
    assert!(err.contains("4096 bytes") && err.contains("8192"), "{err}");
}

#[test]
fn norms_match_the_cpu() {
    let mut rng = Rng(11);
    for gpu in variants() {
        for (width, t) in [(1usize, 1usize), (37, 3), (576, 5), (1000, 2)] {
            // One row more than the step, for the offset rows.
            let x = rng.vec((t + 1) * width);
            let weight = rng.vec(width);
            let bias = rng.vec(width);
            let xb = gpu.storage_with("x", &f32_bytes(&x)).unwrap();
            let wb = gpu.storage_with("w", &f32_bytes(&weight)).unwrap();
            let bb = gpu.storage_with("b", &f32_bytes(&bias)).unwrap();
            let step = step_buffer(t, 0, 0);
            let eps = 1e-5;
            for layer in [false, true] {
                for rows in [
                    norm::Rows::SAME,
                    norm::Rows::Last,
                    norm::Rows::At { x: 1, y: 2 },
                ] {
                    let yb = gpu.storage("y", ((t + 2) * width * 4) as u64).unwrap();
                    let kind = if layer {
                        norm::Norm::Layer {
                            weight: &wb,
                            bias: &bb,
                        }
                    } else {
                        norm::Norm::Rms { weight: &wb }
                    };
                    let op = norm::norm(gpu, kind, width, eps, &xb, &yb, rows, &step);
                    gpu.run([&op], t as u32);
                    let (from, to): (Vec<usize>, usize) = match rows {
                        norm::Rows::Last => (vec![t - 1], 0),
                        norm::Rows::At { x, y } => ((x..x + t).collect(), y),
                    };
                    let got = read(&yb, (to + from.len()) * width);
                    assert!(got[..to * width].iter().all(|&v| v == 0.0), "rows before y");
                    let mut want = Vec::new();
                    for &r in &from {
                        let row = &x[r * width..(r + 1) * width];
                        let mean = if layer {
                            row.iter().map(|&v| v as f64).sum::<f64>() / width as f64
                        } else {
                            0.0
                        };
                        let var = row.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>()
                            / width as f64;
                        let inv = 1.0 / (var + eps).sqrt();
                        for i in 0..width {
                            let b = if layer { bias[i] as f64 } else { 0.0 };
                            want.push(((row[i] as f64 - mean) * inv * weight[i] as f64 + b) as f32);
                        }
                    }
                    let scale = vec![1.0; want.len()];
                    assert_close(
                        &format!("norm layer={layer} {rows:?} [{t} x {width}]"),
                        &got[to * width..],
                        &want,
                        &scale,
                        1e-4,
                    );
                }
            }
        }
    }
}

/// Rotary embedding, cache write and causal attention over two steps (a prefill of
/// `t0` positions, then `t1` more), against a direct computation of the same thing.
#[test]
fn rope_and_attention_match_the_cpu_over_two_steps() {
    let mut rng = Rng(5);
    let caches = [rope::KvFormat::F16, rope::KvFormat::F32];
    for (gpu, cache) in variants().iter().flat_map(|g| caches.map(|c| (g, c))) {
        for (heads, kv_heads, head_dim, t0, t1) in [
            (4usize, 2usize, 16usize, 7usize, 1usize),
            (3, 3, 64, 2, 5),
            (9, 3, 64, 40, 1),
        ] {
            let context = 64;
            let hd = head_dim;
            let pairs = hd / 2;
            let table = rope::llm_table(context, hd, 10000.0);
            let tb = gpu.storage_with("rope", &f32_bytes(&table)).unwrap();
            let cache_bytes = (context * kv_heads * hd * cache.bytes()) as u64;
            let kc = gpu.storage("k cache", cache_bytes).unwrap();
            let vc = gpu.storage("v cache", cache_bytes).unwrap();
            let mut all_k: Vec<Vec<f32>> = Vec::new(); // per position: [kv_heads * hd], rotated
            let mut all_v: Vec<Vec<f32>> = Vec::new();
            let mut past = 0;
            for t in [t0, t1] {
                let q = rng.vec(t * heads * hd);
                let k = rng.vec(t * kv_heads * hd);
                let v = rng.vec(t * kv_heads * hd);
                let qb = gpu.storage_with("q", &f32_bytes(&q)).unwrap();
                let kb = gpu.storage_with("k", &f32_bytes(&k)).unwrap();
                let vb = gpu.storage_with("v", &f32_bytes(&v)).unwrap();
                let out = gpu.storage("out", (t * heads * hd * 4) as u64).unwrap();
                let probs = gpu
                    .storage("probs", (heads * t * context * 4) as u64)
                    .unwrap();
                let step = step_buffer(t, past, 0);
                let shape = rope::Heads {
                    heads,
                    kv_heads,
                    head_dim,
                    cache,
                };
                let ops = [
                    rope::rope_llm(gpu, shape, &qb, &kb, &vb, &kc, &vc, &tb, &step),
                    attention::attention(
                        gpu,
                        shape,
                        context,
                        attention::Io {
                            q: &qb,
                            k_cache: &kc,
                            v_cache: &vc,
                            out: &out,
                            probs: &probs,
                        },
                        &step,
                    ),
                ];
                gpu.run(&ops, t as u32);
                let got = read(&out, t * heads * hd);
                let got_probs = read(&probs, heads * t * context);

                let rotate = |x: &[f32], pos: usize| -> Vec<f32> {
                    let mut r = x.to_vec();
                    for i in 0..pairs {
                        let (c, s) = (
                            table[pos * pairs + i],
                            table[context * pairs + pos * pairs + i],
                        );
                        r[2 * i] = x[2 * i] * c - x[2 * i + 1] * s;
                        r[2 * i + 1] = x[2 * i] * s + x[2 * i + 1] * c;
                    }
                    r
                };
                // What the cache keeps of a value.
                let f16 = |x: f32| match cache {
                    rope::KvFormat::F16 => half::f16::from_f32(x).to_f32(),
                    rope::KvFormat::F32 => x,
                };
                for i in 0..t {
                    let pos = past + i;
                    let mut kr = Vec::new();
                    for h in 0..kv_heads {
                        let at = (i * kv_heads + h) * hd;
                        kr.extend(rotate(&k[at..at + hd], pos).into_iter().map(f16));
                    }
                    all_k.push(kr);
                    all_v.push(
                        v[i * kv_heads * hd..(i + 1) * kv_heads * hd]
                            .iter()
                            .map(|&x| f16(x))
                            .collect(),
                    );
                }
                let mut want = vec![0f32; t * heads * hd];
                for i in 0..t {
                    for h in 0..heads {
                        let kvh = h / (heads / kv_heads);
                        let qr =
                            rotate(&q[(i * heads + h) * hd..(i * heads + h + 1) * hd], past + i);
                        let n = past + i + 1;
                        let scores: Vec<f64> = (0..n)
                            .map(|j| {
                                (0..hd)
                                    .map(|d| qr[d] as f64 * all_k[j][kvh * hd + d] as f64)
                                    .sum::<f64>()
                                    / (hd as f64).sqrt()
                            })
                            .collect();
                        let m = scores.iter().cloned().fold(f64::MIN, f64::max);
                        let e: Vec<f64> = scores.iter().map(|s| (s - m).exp()).collect();
                        let sum: f64 = e.iter().sum();
                        for j in 0..n {
                            let p = e[j] / sum;
                            let gp = got_probs[(i * heads + h) * context + j];
                            assert!(
                                (gp as f64 - p).abs() < 1e-5,
                                "prob h{h} i{i} j{j}: {gp} vs {p}"
                            );
                            for d in 0..hd {
                                want[(i * heads + h) * hd + d] +=
                                    (p * all_v[j][kvh * hd + d] as f64) as f32;
                            }
                        }
                    }
                }
                let scale = vec![1.0; want.len()];
                assert_close(
                    &format!("attention h{heads}/{kv_heads} hd{hd} t{t} past{past} {cache:?}"),
                    &got,
                    &want,
                    &scale,
                    1e-5,
                );
                past += t;
            }
        }
    }
}

#[test]
fn embeddings_are_gathered_from_every_format_and_chunk() {
    let mut rng = Rng(3);
    let gpu = gpu();
    for (format, width) in [
        (WeightFormat::Q4_0, 64),
        (WeightFormat::Q8_0, 96),
        (WeightFormat::Q6_K, 256),
        (WeightFormat::F16, 13),
        (WeightFormat::F32, 40),
    ] {
        let vocab = 50;
        let (bytes, table) = random_weight(&mut rng, format, vocab, width);
        let tensor = TensorBytes {
            name: "token_embd.weight",
            format,
            shape: [width, vocab],
            bytes: &bytes,
        };
        let row_bytes = format.row_bytes(width).unwrap() as u64;
        let weight = Weight::upload_with_limit(gpu, tensor, row_bytes * 16 + 64).unwrap();
        assert!(weight.chunks() > 1);
        let ids = [7u32, embed::NO_TOKEN, 49, 0, 17, 33];
        let t = ids.len();
        let mut id_words = vec![0u32; 3];
        id_words.extend(ids);
        let ib = gpu
            .storage_with("ids", bytemuck::cast_slice(&id_words))
            .unwrap();
        let y0 = rng.vec(t * width);
        let yb = gpu.storage_with("y", &f32_bytes(&y0)).unwrap();
        let step = step_buffer(t, 0, 0);
        let ops = embed::embed(gpu, &weight, &ib, 3, &yb, &step);
        gpu.run(&ops, t as u32);
        let got = read(&yb, t * width);
        let mut want = Vec::new();
        for (i, &id) in ids.iter().enumerate() {
            if id == embed::NO_TOKEN {
                want.extend_from_slice(&y0[i * width..(i + 1) * width]);
            } else {
                want.extend_from_slice(&table[id as usize * width..(id as usize + 1) * width]);
            }
        }
        assert_eq!(got, want, "{format}");
    }
}

#[test]
fn argmax_picks_the_first_largest_logit() {
    let mut rng = Rng(9);
    let gpu = gpu();
    for n in [1usize, 255, 257, 49152] {
        let mut logits = rng.vec(n);
        let top = rng.below(n);
        logits[top] = 5.0;
        if top + 1 < n {
            logits[n - 1] = 5.0; // a tie later on: the first wins
        }
        let lb = gpu.storage_with("logits", &f32_bytes(&logits)).unwrap();
        let tokens = gpu.storage("tokens", 4 * 8).unwrap();
        let step = step_buffer(1, 0, 2);
        let op = argmax::argmax(gpu, &lb, n, &tokens, &step);
        gpu.run([&op], 1);
        let got: Vec<u32> =
            bytemuck::pod_collect_to_vec(&pollster::block_on(gpu.read(&tokens, 0, 32)).unwrap());
        assert_eq!((got[0], got[3]), (top as u32, top as u32), "n = {n}");

        // One NaN or infinite logit anywhere is reported instead of a token.
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let mut broken = logits.clone();
            broken[rng.below(n)] = bad;
            gpu.queue()
                .write_buffer(&lb, 0, bytemuck::cast_slice(&broken));
            gpu.run([&op], 1);
            let got: Vec<u32> = bytemuck::pod_collect_to_vec(
                &pollster::block_on(gpu.read(&tokens, 0, 32)).unwrap(),
            );
            assert_eq!(
                (got[0], got[3]),
                (argmax::NON_FINITE, argmax::NON_FINITE),
                "{bad}"
            );
        }
    }
}

/// EVA's 2-D RoPE on a CLS token and a patch grid, computed directly: pair `i` of a patch
/// at (row, col) turns by `row * f(i)` for the first quarter of the head, `col * f(i - q)`
/// for the second, where `f(i) = theta^(-4i / head_dim)`; CLS never turns.
fn rotate_vision(x: &[f32], heads: usize, head_dim: usize, grid: usize, theta: f64) -> Vec<f32> {
    let quarter = head_dim / 4;
    let mut out = x.to_vec();
    for token in 1..1 + grid * grid {
        let (row, col) = ((token - 1) / grid, (token - 1) % grid);
        for h in 0..heads {
            for pair in 0..head_dim / 2 {
                let (pos, i) = if pair < quarter {
                    (row, pair)
                } else if pair < 2 * quarter {
                    (col, pair - quarter)
                } else {
                    continue;
                };
                let angle = (pos as f64 * theta.powf(-4.0 * i as f64 / head_dim as f64)) as f32;
                let at = (token * heads + h) * head_dim + 2 * pair;
                let (x0, x1) = (x[at] as f64, x[at + 1] as f64);
                let (c, s) = (angle.cos() as f64, angle.sin() as f64);
                out[at] = (x0 * c - x1 * s) as f32;
                out[at + 1] = (x0 * s + x1 * c) as f32;
            }
        }
    }
    out
}

#[test]
fn vision_rope_turns_patches_and_leaves_cls() {
    let mut rng = Rng(21);
    let gpu = gpu();
    for (heads, head_dim, grid) in [(2usize, 16usize, 3usize), (3, 64, 4), (1, 12, 2)] {
        let t = 1 + grid * grid;
        let x = rng.vec(t * heads * head_dim);
        let xb = gpu.storage_with("x", &f32_bytes(&x)).unwrap();
        let table = rope::vision_table(grid, head_dim, 10_000.0);
        let tb = gpu.storage_with("table", &f32_bytes(&table)).unwrap();
        let step = step_buffer(t, 0, 0);
        let op = rope::rope_rows(gpu, heads, head_dim, &xb, &tb, &step);
        gpu.run([&op], t as u32);
        let got = read(&xb, x.len());
        let want = rotate_vision(&x, heads, head_dim, grid, 10_000.0);
        let scale = vec![1.0; want.len()];
        assert_close(
            &format!("vision rope {heads}x{head_dim} grid {grid}"),
            &got,
            &want,
            &scale,
            1e-5,
        );
        assert_eq!(got[..heads * head_dim], x[..heads * head_dim], "CLS");
    }
}

#[test]
fn full_attention_matches_the_cpu_with_keys_and_values_in_one_row() {
    use gvt_gpu::kernels::full_attention::{KeysValues, full_attention};
    let mut rng = Rng(33);
    for gpu in variants() {
        for (heads, head_dim, tq, tk) in [
            (2usize, 8usize, 3usize, 5usize),
            (4, 64, 32, 289),
            (1, 40, 70, 70),
        ] {
            let inner = heads * head_dim;
            let q = rng.vec(tq * inner);
            // Keys then values in each row, as the resampler's to_kv writes them.
            let kv: Vec<f32> = rng.vec(tk * 2 * inner).iter().map(|v| v * 2.0).collect();
            let probs_at = 7;
            let qb = gpu.storage_with("q", &f32_bytes(&q)).unwrap();
            let kvb = gpu.storage_with("kv", &f32_bytes(&kv)).unwrap();
            let out = gpu.storage("out", (tq * inner * 4) as u64).unwrap();
            let probs = gpu
                .storage("probs", ((probs_at + heads * tq * tk) * 4) as u64)
                .unwrap();
            let keys = KeysValues {
                k: &kvb,
                v: &kvb,
                stride: 2 * inner,
                k_at: 0,
                v_at: inner,
                len: tk,
            };
            let op = full_attention(gpu, heads, head_dim, tq, &qb, keys, &out, &probs, probs_at)
                .unwrap();
            gpu.run([&op], tq as u32);
            let got_out = read(&out, tq * inner);
            let got_probs = &read(&probs, probs_at + heads * tq * tk)[probs_at..];

            let scale = (head_dim as f64).powf(-0.5);
            let (mut want_out, mut want_probs) =
                (vec![0f32; tq * inner], vec![0f32; heads * tq * tk]);
            for h in 0..heads {
                for i in 0..tq {
                    let scores: Vec<f64> = (0..tk)
                        .map(|j| {
                            (0..head_dim)
                                .map(|d| {
                                    q[i * inner + h * head_dim + d] as f64
                                        * kv[j * 2 * inner + h * head_dim + d] as f64
                                })
                                .sum::<f64>()
                                * scale
                        })
                        .collect();
                    let m = scores.iter().cloned().fold(f64::MIN, f64::max);
                    let e: Vec<f64> = scores.iter().map(|s| (s - m).exp()).collect();
                    let sum: f64 = e.iter().sum();
                    for j in 0..tk {
                        want_probs[(h * tq + i) * tk + j] = (e[j] / sum) as f32;
                    }
                    for d in 0..head_dim {
                        let acc: f64 = (0..tk)
                            .map(|j| {
                                e[j] / sum * kv[j * 2 * inner + inner + h * head_dim + d] as f64
                            })
                            .sum();
                        want_out[(i * heads + h) * head_dim + d] = acc as f32;
                    }
                }
            }
            let what = format!("full attention {heads}x{head_dim} {tq} over {tk}");
            assert_close(
                &what,
                got_probs,
                &want_probs,
                &vec![1.0; want_probs.len()],
                1e-5,
            );
            assert_close(&what, &got_out, &want_out, &vec![2.0; want_out.len()], 1e-5);
        }
    }
}

/// The visual path's layout (`VisionDims::tensors`) is what its loader reads, tensor for
/// tensor, and a random model of it encodes an image to finite visual tokens.
#[test]
fn a_random_visual_path_of_the_listed_layout_loads_and_encodes() {
    use gvt_gpu::random::{self, random_tensors};
    use gvt_gpu::vision::{GpuVisual, ResamplerDims, VisionDims, VisualSession};
    let gpu = gpu();
    let dims = VisionDims {
        image_size: 36,
        patch_size: 6,
        width: 64,
        depth: 2,
        heads: 4,
        ffn_hidden: 96,
        norm_eps: 1e-6,
        ln_vision_eps: 1e-5,
        rope_theta: 10_000.0,
        resampler: ResamplerDims {
            width: 64,
            depth: 2,
            heads: 2,
            head_dim: 16,
            latents: 8,
            ffn_hidden: 128,
            norm_eps: 1e-5,
        },
        llm_width: 96,
    };
    let specs = dims.tensors();
    let tensors = random_tensors(&specs, WeightFormat::Q8_0, 3);
    let mut asked = Vec::new();
    let mut source = |name: &str| {
        asked.push(name.to_string());
        random::find(&tensors, name)
    };
    let visual = GpuVisual::load(gpu, dims.clone(), &mut source, &mut |_| {}).unwrap();
    let mut listed: Vec<_> = specs.iter().map(|s| s.name.clone()).collect();
    listed.sort();
    asked.sort();
    assert_eq!(asked, listed);
    let mut session =
        pollster::block_on(VisualSession::new(std::sync::Arc::new(visual), false)).unwrap();
    let pixels = Rng(4).vec(3 * 36 * 36);
    let tokens = pollster::block_on(session.encode(&pixels)).unwrap();
    let embeds = pollster::block_on(tokens.embeds.read()).unwrap();
    assert_eq!(embeds.len(), 8 * 96);
    assert!(embeds.iter().all(|v| v.is_finite()));
    assert!(tokens.attention.is_none());
}

/// The GPU sampler draws from the nucleus the CPU sampler keeps: for a given uniform draw
/// it picks the token where the draw falls in the nucleus walked in id order.
#[test]
fn top_p_sampling_on_the_gpu_picks_from_the_nucleus() {
    use gvt_gpu::kernels::sample::sample;
    let mut rng = Rng(17);
    let gpu = gpu();
    for n in [1usize, 7, 300, 5000, 49152] {
        let logits: Vec<f32> = rng.vec(n).iter().map(|v| v * 6.0).collect();
        let lb = gpu.storage_with("logits", &f32_bytes(&logits)).unwrap();
        let tokens = gpu.storage("tokens", 4 * 8).unwrap();
        let step = step_buffer(1, 0, 2);
        let sampler = sample(gpu, &lb, n, &tokens, &step).unwrap();
        for (temperature, top_p) in [(0.7f32, 0.5f32), (1.3, 0.9), (1.0, 1.0)] {
            // The nucleus as the CPU sampler builds it: most likely first, until top_p.
            let max = logits.iter().cloned().fold(f32::MIN, f32::max);
            let w: Vec<f64> = logits
                .iter()
                .map(|&l| ((l - max) / temperature).exp() as f64)
                .collect();
            let total: f64 = w.iter().sum();
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by(|&a, &b| w[b].total_cmp(&w[a]));
            let (mut kept, mut mass) = (Vec::new(), 0.0);
            for &i in &order {
                kept.push(i);
                mass += w[i];
                if mass >= top_p as f64 * total {
                    break;
                }
            }
            kept.sort();
            for _ in 0..4 {
                let u = (rng.next() >> 40) as f32 / (1u64 << 24) as f32;
                let goal = u as f64 * mass;
                let mut at = 0.0;
                let want = *kept
                    .iter()
                    .find(|&&i| {
                        at += w[i];
                        at > goal
                    })
                    .unwrap_or(kept.last().unwrap());
                sampler.write(gpu, temperature, top_p, u);
                gpu.run([&sampler.dispatch], 1);
                let got: Vec<u32> = bytemuck::pod_collect_to_vec(
                    &pollster::block_on(gpu.read(&tokens, 0, 32)).unwrap(),
                );
                assert_eq!(
                    (got[0], got[3]),
                    (want as u32, want as u32),
                    "n {n}, T {temperature}, top-p {top_p}, u {u}: nucleus of {}",
                    kept.len()
                );
            }
        }
        // NaN logits are flagged as argmax flags them.
        let mut broken = logits.clone();
        broken[n / 2] = f32::NAN;
        gpu.queue()
            .write_buffer(&lb, 0, bytemuck::cast_slice(&broken));
        sampler.write(gpu, 1.0, 0.9, 0.5);
        gpu.run([&sampler.dispatch], 1);
        let got: Vec<u32> =
            bytemuck::pod_collect_to_vec(&pollster::block_on(gpu.read(&tokens, 0, 32)).unwrap());
        assert_eq!(got[0], argmax::NON_FINITE);
    }
}

/// Decode's split attention over a long cache gives what the one-workgroup kernel gives:
/// the same output and the same probability row, for caches of 1 to 700 positions (slices
/// empty, partial and full).
#[test]
fn split_attention_equals_the_single_pass() {
    let mut rng = Rng(41);
    let gpu = &variants()[1];
    for (heads, kv_heads, head_dim, n) in [
        (4usize, 2usize, 16usize, 1usize),
        (3, 3, 64, 37),
        (8, 2, 64, 700),
    ] {
        let context = 704;
        let shape = rope::Heads {
            heads,
            kv_heads,
            head_dim,
            cache: rope::KvFormat::F16,
        };
        let pairs = head_dim / 2;
        let cache: Vec<u32> = (0..context * kv_heads * pairs)
            .map(|_| {
                let (a, b) = (rng.f(), rng.f());
                u32::from(half::f16::from_f32(a).to_bits())
                    | (u32::from(half::f16::from_f32(b).to_bits()) << 16)
            })
            .collect();
        let kc = gpu.storage_with("k", bytemuck::cast_slice(&cache)).unwrap();
        let vc = gpu
            .storage_with(
                "v",
                bytemuck::cast_slice(&cache.iter().rev().copied().collect::<Vec<_>>()),
            )
            .unwrap();
        let q = gpu
            .storage_with("q", &f32_bytes(&rng.vec(heads * head_dim)))
            .unwrap();
        let probs_len = heads * context + attention::split_scratch(shape);
        let step = step_buffer(1, n - 1, 0);
        let run = |split: bool| {
            let out = gpu.storage("out", (heads * head_dim * 4) as u64).unwrap();
            let probs = gpu.storage("probs", (probs_len * 4) as u64).unwrap();
            let io = attention::Io {
                q: &q,
                k_cache: &kc,
                v_cache: &vc,
                out: &out,
                probs: &probs,
            };
            if split {
                let ops = attention::attention_split(gpu, shape, context, io, &step);
                gpu.run(&ops, 1);
            } else {
                let op = attention::attention(gpu, shape, context, io, &step);
                gpu.run([&op], 1);
            }
            let probs = read(&probs, heads * context);
            let rows: Vec<f32> = probs
                .chunks(context)
                .flat_map(|r| r[..n].to_vec())
                .collect();
            (read(&out, heads * head_dim), rows)
        };
        let (want_out, want_probs) = run(false);
        let (got_out, got_probs) = run(true);
        let what = format!("split attention h{heads}/{kv_heads} hd{head_dim} n{n}");
        assert_close(
            &what,
            &got_probs,
            &want_probs,
            &vec![1.0; want_probs.len()],
            1e-6,
        );
        assert_close(&what, &got_out, &want_out, &vec![1.0; want_out.len()], 1e-5);
    }
}
