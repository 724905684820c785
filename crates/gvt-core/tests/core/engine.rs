//! The GPU engine's decoder (crate gvt-gpu, WGSL in shaders/) against the references:
//! burn's model on the CPU for the parity fixture (logits, attention, a decode step), and
//! SmolLM2-135M Q4_1 against the float64 reference and its greedy answer.

use std::sync::Arc;

use burn::tensor::{Int, Tensor, TensorData};
use gvt_core::device::ComputeDevice;
use gvt_core::engine;
use gvt_core::generate::read_f32;
use gvt_core::generate::{CancelFlag, GenerateOptions, Sampling};
use gvt_core::gguf::GgufFile;
use gvt_core::model::{Gvt, GvtConfig, Keep, KvCache};
use gvt_core::pipeline::Pipeline;
use gvt_gpu::Caps;
use gvt_gpu::llm::{KvFormat, LlmSession, Part};
use gvt_gpu::vision::VisualSession;

use super::smollm2::reference;

/// Largest |got - want| relative to the largest |want|.
pub(super) fn relative_error(got: &[f32], want: &[f32]) -> f32 {
    assert_eq!(got.len(), want.len());
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
    got.iter()
        .zip(want)
        .map(|(g, w)| (g - w).abs())
        .fold(0f32, f32::max)
        / scale
}

fn engine_device() -> Option<gvt_gpu::Gpu> {
    gvt_testkit::wgpu_compute().map(|d| d.engine().expect("a GPU device has the engine").clone())
}

/// The device under each kernel variant it can run: its own, the portable f32 one, and
/// the one for its features (subgroups, f16 tiles) where it has them.
fn engine_variants(gpu: &gvt_gpu::Gpu) -> Vec<gvt_gpu::Gpu> {
    let caps = gpu.caps().clone();
    let mut all = vec![
        gpu.clone(),
        gpu.with_caps(Caps {
            software: false,
            subgroups: false,
            shader_f16: false,
            ..caps.clone()
        }),
    ];
    if caps.subgroups || caps.shader_f16 {
        all.push(gpu.with_caps(Caps {
            software: false,
            subgroup_max: caps.subgroup_max.clamp(1, 64),
            ..caps.clone()
        }));
    }
    // Decode's attention split over workgroups from the parity prompt's length on.
    all.push(gpu.with_caps(Caps {
        software: false,
        subgroups: false,
        shader_f16: false,
        split_from: 8,
        ..caps
    }));
    all
}

#[test]
fn the_engine_matches_burn_on_the_parity_model_with_attention_and_a_decode_step() {
    let Some(gpu) = engine_device() else { return };
    for gpu in engine_variants(&gpu) {
        for cache in [KvFormat::F32, KvFormat::F16] {
            // The f32 path: f32 tiles and cache. Rounding to f16 anywhere: 1e-2.
            let f32_path = cache == KvFormat::F32 && gpu.caps().matmul().0 != "matmul_f16";
            let tolerance = if f32_path { 1e-4 } else { 1e-2 };
            parity_on(&gpu, cache, tolerance);
        }
    }
}

/// The parity fixture's prompt, and burn's answers to it: the prefill's logits and its last
/// position's attention per layer (`[heads, 12]`), then one decode step of a token the CPU
/// chose (as a sampler would, not the argmax) and its logits and attention (`[heads, 13]`).
pub(super) struct ParityReference {
    pub prefix: Vec<u32>,
    pub visual: Vec<f32>,
    pub suffix: Vec<u32>,
    pub prefill_logits: Vec<f32>,
    pub prefill_attention: Vec<Vec<f32>>,
    pub chosen: u32,
    pub decode_logits: Vec<f32>,
    pub decode_attention: Vec<Vec<f32>>,
}

pub(super) fn parity_reference(file: &GgufFile, cfg: &GvtConfig) -> ParityReference {
    let flex = ComputeDevice::flex();
    let gvt = Gvt::load_files(file, None, cfg, &flex.device, &mut |_| {}).unwrap();
    let vocab = cfg.llm.vocab_size as u32;
    let prefix: Vec<u32> = (0..5).map(|i| (i * 7 + 1) % vocab).collect();
    let suffix: Vec<u32> = (0..4).map(|i| (i * 13 + 3) % vocab).collect();
    let e = cfg.llm.width;
    let visual: Vec<f32> = (0..3 * e)
        .map(|i| ((i * 37 % 101) as f32 / 101.0 - 0.5) * 0.2)
        .collect();
    let visual_t = Tensor::<3>::from_data(TensorData::new(visual.clone(), [1, 3, e]), &flex.device);
    let embeds = gvt.prompt_embeds(&prefix, Some(visual_t), &suffix);
    let mut cache = KvCache::new(cfg.llm.depth);
    let keep = Keep {
        attention: true,
        layer_outputs: false,
    };
    fn read<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        pollster::block_on(read_f32(t)).unwrap()
    }
    let step = gvt.llm.forward(embeds, &mut cache, keep);
    let prefill_logits = read(gvt.llm.logits(step.hidden.clone().narrow(1, 11, 1)));
    // The last position's row of every head: [1, heads, 12, 12] -> [heads, 12].
    let prefill_attention = (step.attention.unwrap().into_iter())
        .map(|p| read(p.narrow(2, 11, 1)))
        .collect();
    let chosen = (argmax(&prefill_logits) as u32 + 1) % vocab;
    let ids = Tensor::<1, Int>::from_data(TensorData::new(vec![chosen as i64], [1]), &flex.device);
    let step = gvt
        .llm
        .forward(gvt.llm.embed(ids).reshape([1, 1, e]), &mut cache, keep);
    ParityReference {
        prefix,
        visual,
        suffix,
        prefill_logits,
        prefill_attention,
        chosen,
        decode_logits: read(gvt.llm.logits(step.hidden)),
        decode_attention: step.attention.unwrap().into_iter().map(read).collect(),
    }
}

pub(super) fn argmax(v: &[f32]) -> usize {
    v.iter()
        .enumerate()
        .fold(0, |b, (i, x)| if *x > v[b] { i } else { b })
}

/// An engine's logits and attention against the reference's, one step.
pub(super) fn check_step(
    what: &str,
    (logits, want): (&[f32], &[f32]),
    (attention, want_attention): (&[Vec<f32>], &[Vec<f32>]),
    tolerance: f32,
) {
    let err = relative_error(logits, want);
    eprintln!("{what}: parity model logits: max relative error {err:.2e}");
    assert!(err <= tolerance, "{what}: logits: {err}");
    assert_eq!(attention.len(), want_attention.len());
    for (layer, (got, want)) in attention.iter().zip(want_attention).enumerate() {
        gvt_testkit::assert_close(&format!("{what}: layer {layer} attention"), got, want, 2e-3);
    }
}

fn parity_on(gpu: &gvt_gpu::Gpu, kv: KvFormat, tolerance: f32) {
    let what = format!("{} with a {kv:?} cache", gpu.caps().variant());
    let file = gvt_testkit::open_fixture("parity/gvt-parity.gguf");
    let cfg = GvtConfig::from_gguf(&file, &file).unwrap();
    let want = parity_reference(&file, &cfg);
    let llm = Arc::new(engine::load_llm(gpu, &file, &cfg.llm, &mut |_| {}).unwrap());
    let mut session = pollster::block_on(LlmSession::new(llm.clone(), true, 64, kv)).unwrap();
    let first = pollster::block_on(session.prefill(&[
        Part::Tokens(&want.prefix),
        Part::Embeds(&want.visual),
        Part::Tokens(&want.suffix),
    ]))
    .unwrap();
    let got = pollster::block_on(session.logits()).unwrap();
    let attention = pollster::block_on(session.attention(0..session.len()))
        .unwrap()
        .unwrap();
    assert_eq!((attention.heads, attention.keys), (cfg.llm.heads, 12));
    check_step(
        &format!("{what}: prefill"),
        (&got, &want.prefill_logits),
        (&attention.layers, &want.prefill_attention),
        tolerance,
    );
    assert_eq!(first as usize, argmax(&want.prefill_logits));

    session.set_next(want.chosen);
    let next = pollster::block_on(session.decode()).unwrap();
    let got = pollster::block_on(session.logits()).unwrap();
    let attention = pollster::block_on(session.attention(0..session.len()))
        .unwrap()
        .unwrap();
    assert_eq!(attention.keys, 13);
    check_step(
        &format!("{what}: decode"),
        (&got, &want.decode_logits),
        (&attention.layers, &want.decode_attention),
        tolerance,
    );
    assert_eq!(next as usize, argmax(&want.decode_logits));
    assert_eq!(session.len(), 13);
}

#[test]
fn smollm2_on_the_engine_matches_the_float64_reference_and_answers() {
    let Some(gpu) = engine_device() else { return };
    let reference = reference();
    let file = GgufFile::open(&gvt_testkit::smollm2()).unwrap();
    let cfg = GvtConfig::from_gguf(&file, &file).unwrap();
    let llm = Arc::new(engine::load_llm(&gpu, &file, &cfg.llm, &mut |_| {}).unwrap());
    assert!(llm.formats().contains("Q4_1"), "{}", llm.formats());
    // With capture, which must fit the adapter's limits at SmolLM2's context of 8192.
    let mut session =
        pollster::block_on(LlmSession::new(llm.clone(), true, 4096, KvFormat::F16)).unwrap();
    let mut token =
        pollster::block_on(session.prefill(&[Part::Tokens(&reference.prompt_ids)])).unwrap();
    let logits = pollster::block_on(session.logits()).unwrap();
    let err = relative_error(&logits, &reference.logits);
    eprintln!("SmolLM2 first-step logits on the engine: max relative error {err:.2e}");
    assert!(err < 1e-2, "{err}");
    let mut answer = vec![token];
    while answer.len() < reference.greedy_ids.len() {
        token = pollster::block_on(session.decode()).unwrap();
        answer.push(token);
    }
    assert_eq!(answer, reference.greedy_ids);
    let attention = pollster::block_on(session.attention(0..session.len()))
        .unwrap()
        .unwrap();
    assert_eq!(attention.layers.len(), cfg.llm.depth);
    for row in attention
        .layers
        .iter()
        .flat_map(|l| l.chunks(attention.keys))
    {
        let sum: f32 = row.iter().sum();
        assert!((sum - 1.0).abs() < 1e-4, "a softmax row sums to {sum}");
    }

    // The session starts over without reallocating, and answers the same.
    session.reset();
    let again =
        pollster::block_on(session.prefill(&[Part::Tokens(&reference.prompt_ids)])).unwrap();
    assert_eq!(again, reference.greedy_ids[0]);
}

#[test]
fn a_lost_gpu_gives_the_engine_an_error_not_a_panic() {
    // A lost GPU stays lost for the whole process, and other tests use it.
    if !gvt_testkit::in_own_process("engine::a_lost_gpu_gives_the_engine_an_error_not_a_panic") {
        return;
    }
    let Some(device) = gvt_testkit::wgpu_compute() else {
        return;
    };
    let gpu = device.engine().unwrap().clone();
    let file = gvt_testkit::open_fixture("parity/gvt-parity.gguf");
    let cfg = GvtConfig::from_gguf(&file, &file).unwrap();
    let llm = Arc::new(engine::load_llm(&gpu, &file, &cfg.llm, &mut |_| {}).unwrap());
    let mut session =
        pollster::block_on(LlmSession::new(llm.clone(), false, 4096, KvFormat::F16)).unwrap();
    gvt_testkit::lose_gpu(&device);
    let err = pollster::block_on(LlmSession::new(llm.clone(), false, 4096, KvFormat::F16))
        .err()
        .unwrap();
    assert!(
        err.to_string().starts_with("the GPU device was lost"),
        "{err}"
    );
    let err = pollster::block_on(session.prefill(&[Part::Tokens(&[1, 2, 3])])).unwrap_err();
    assert!(
        err.to_string().starts_with("the GPU device was lost"),
        "{err}"
    );
    eprintln!("{err}");
}

#[test]
fn tensors_the_engine_cannot_take_are_refused_by_name() {
    use gvt_core::gguf::{GgmlType, GgufWriter};
    let mut w = GgufWriter::new();
    w.add_tensor("cube", &[2, 2, 2], GgmlType::F32, &[0.5; 8])
        .unwrap();
    w.add_raw_tensor("old.quant", &[256, 1], GgmlType::Q2_K, vec![0; 84])
        .unwrap();
    w.add_tensor("fine", &[3, 4], GgmlType::F32, &[1.0; 12])
        .unwrap();
    let file = GgufFile::from_bytes(w.to_bytes()).unwrap();
    let err = |name: &str| engine::tensor_bytes(&file, name).err().unwrap().to_string();
    assert_eq!(
        err("old.quant"),
        "tensor `old.quant` is stored as Q2_K, which the engines do not run"
    );
    assert!(
        err("missing").starts_with("tensor `missing`: "),
        "{}",
        err("missing")
    );
    let fine = engine::tensor_bytes(&file, "fine").unwrap();
    assert_eq!((fine.shape, fine.bytes.len()), ([4, 3], 48));
    // More dimensions read as the matrix of the rows.
    let cube = engine::tensor_bytes(&file, "cube").unwrap();
    assert_eq!((cube.shape, cube.bytes.len()), ([2, 4], 32));
}

#[test]
fn the_image_encoder_on_the_engine_matches_the_reference() {
    let Some(gpu) = engine_device() else { return };
    let file = gvt_testkit::open_fixture("parity/gvt-parity.gguf");
    let expected = gvt_testkit::open_fixture("parity/gvt-parity-expected.gguf");
    let cfg = GvtConfig::from_gguf(&file, &file).unwrap();
    let visual = engine::load_visual(&gpu, &file, &cfg, &mut |_| {})
        .unwrap()
        .unwrap();
    let mut session = pollster::block_on(VisualSession::new(Arc::new(visual), true)).unwrap();
    let pixels = super::parity::pixels(&expected);
    // Twice: a session serves any number of images.
    for _ in 0..2 {
        let tokens = pollster::block_on(session.encode(&pixels.values)).unwrap();
        let want = gvt_testkit::values(&expected, "out.proj");
        let embeds = pollster::block_on(tokens.embeds.read()).unwrap();
        gvt_testkit::assert_close("engine visual tokens", &embeds, &want, 1e-4);
        let mut want = gvt_testkit::values(&expected, "attn.resampler.0");
        want.extend(gvt_testkit::values(&expected, "attn.resampler.1"));
        let got = pollster::block_on(tokens.attention.unwrap().read()).unwrap();
        gvt_testkit::assert_close("engine resampler attention", &got, &want, 1e-5);
    }
    let err = pollster::block_on(session.encode(&pixels.values[1..]))
        .err()
        .unwrap();
    assert!(err.to_string().contains("pixel values"), "{err}");
}

/// Two circles and a square on white, for the embedded model.
pub(super) fn shapes_image() -> image::DynamicImage {
    image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(128, 96, |x, y| {
        let (x, y) = (x as i32, y as i32);
        let circle = |cx: i32, cy: i32| (x - cx).pow(2) + (y - cy).pow(2) < 15 * 15;
        if circle(30, 30) || circle(90, 60) {
            image::Rgb([220, 40, 40])
        } else if (70..95).contains(&x) && (10..35).contains(&y) {
            image::Rgb([40, 90, 220])
        } else {
            image::Rgb([255, 255, 255])
        }
    }))
}

#[test]
fn answers_and_attention_on_the_engine_equal_the_cpu_path() {
    use gvt_core::default_model;
    use gvt_core::pipeline::LoadedModel;

    let Some(gpu) = gvt_testkit::wgpu_compute() else {
        return;
    };
    let file = default_model::open().unwrap();
    let cpu = Pipeline::load(&file, None, ComputeDevice::flex(), &mut |_, _| {}).unwrap();
    let engine = Pipeline::load(&file, None, gpu, &mut |_, _| {}).unwrap();
    assert!(matches!(engine.model, LoadedModel::Engine(_)));
    assert!(
        engine.info.kernels.contains("GPU engine"),
        "{}",
        engine.info.kernels
    );
    assert_same_answers(&cpu, &engine);
}

/// `got` answers three questions about [`shapes_image`] (greedy, and top-p sampled from one
/// generator) with the tokens `want` gives, and attends alike.
pub(super) fn assert_same_answers(want: &Pipeline, got: &Pipeline) {
    let image = shapes_image();
    for (question, sampling) in [
        ("How many circles are there in the image?", Sampling::Greedy),
        ("What color is the square?", Sampling::Greedy),
        // Drawn on the GPU there, on the CPU here, from one generator: the nucleus at
        // top-p 0.9 holds one token at each step of this answer, so both agree.
        (
            "Is there a triangle in the image?",
            Sampling::from_settings(0.8, 0.9, 7).unwrap(),
        ),
    ] {
        let options = GenerateOptions {
            max_new_tokens: 6,
            sampling,
            capture_attention: true,
        };
        let ask = |p: &Pipeline| {
            pollster::block_on(p.ask(
                Some(&image),
                question,
                &options,
                &CancelFlag::default(),
                &mut |_| {},
            ))
            .unwrap()
        };
        let (want, got) = (ask(want), ask(got));
        eprintln!("{question} -> {:?} ({:?})", got.text, got.stop);
        assert_eq!(got.tokens, want.tokens, "{question}");
        assert_eq!(got.stop, want.stop, "{question}");
        let (want, got) = (want.attention.unwrap(), got.attention.unwrap());
        assert_eq!(got.grid, want.grid);
        assert_eq!(got.resampler.dims, want.resampler.dims);
        gvt_testkit::assert_close(
            &format!("{question}: resampler attention"),
            &got.resampler.values,
            &want.resampler.values,
            1e-4,
        );
        assert_eq!(got.llm.len(), want.llm.len(), "one map per answer token");
        for (i, (g, w)) in got.llm.iter().zip(&want.llm).enumerate() {
            assert_eq!(g.dims, w.dims, "token {i}: [layers, heads, latents]");
            gvt_testkit::assert_close(
                &format!("{question}: LLM attention of answer token {i}"),
                &g.values,
                &w.values,
                2e-3,
            );
        }
    }
}
