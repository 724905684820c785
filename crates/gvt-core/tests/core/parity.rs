//! Parity with the published architecture: a small GVT with random weights and the official
//! parameter names, built by `tools/reference/gvt_reference.py` (an independent numpy/PyTorch
//! implementation written from the spec), stored as GGUF with every stage's output. Each stage
//! here must match to 1e-4 on the CPU and on wgpu.

use burn::tensor::{Device, Tensor};
use gvt_core::generate::{CancelFlag, GenerateOptions, Prompt, generate};
use gvt_core::model::{Gvt, Keep, KvCache, VisualTrace};
use gvt_core::preprocess::Pixels;
use gvt_core::tokenizer::Tokenizer;
use gvt_testkit::{assert_close, load, open_fixture, to_vec, values};

const TOL: f32 = 1e-4;

fn ids(file: &gvt_core::gguf::GgufFile, name: &str) -> Vec<u32> {
    values(file, name).iter().map(|&v| v as u32).collect()
}

fn check_parity(device: Device, backend: &str) {
    let model_file = open_fixture("parity/gvt-parity.gguf");
    let expected = open_fixture("parity/gvt-parity-expected.gguf");
    let (gvt, cfg) = Gvt::from_gguf(&model_file, None, &device, &mut |_| {}).unwrap();
    let check = |what: &str, got: Vec<f32>| {
        assert_close(
            &format!("{backend} {what}"),
            &got,
            &values(&expected, what),
            TOL,
        )
    };

    // Vision tower, resampler, projection.
    let visual = gvt
        .visual
        .as_ref()
        .expect("the parity model has a vision tower");
    let pixels: Tensor<4> = load(&expected, "input.pixels", &device);
    let mut trace = VisualTrace::default();
    let tokens = visual.forward(pixels, Some(&mut trace));
    check("out.patch_embed", to_vec(trace.vision.patch_embed.unwrap()));
    check(
        "out.vision.q_rot.block0",
        to_vec(trace.vision.first_q_rotated.unwrap()),
    );
    check("out.vision.block0", to_vec(trace.vision.blocks[0].clone()));
    check("out.vision", to_vec(trace.vit_out.unwrap()));
    check("out.ln_vision", to_vec(trace.ln_vision.unwrap()));
    check(
        "out.resampler.layer0",
        to_vec(trace.resampler_layers[0].clone()),
    );
    check("out.resampler", to_vec(trace.resampler_out.unwrap()));
    for (i, probs) in tokens.resampler_attention.iter().enumerate() {
        check(&format!("attn.resampler.{i}"), to_vec(probs.clone()));
    }
    check("out.proj", to_vec(tokens.embeds.clone()));

    // LLM over [prefix ; visual ; suffix].
    let prefix = ids(&expected, "input.prefix_ids");
    let suffix = ids(&expected, "input.suffix_ids");
    let embeds = gvt.prompt_embeds(&prefix, Some(tokens.embeds), &suffix);
    check("out.llm.embeds", to_vec(embeds.clone()));
    let mut cache = KvCache::new(cfg.llm.depth);
    let keep = Keep {
        attention: true,
        layer_outputs: true,
    };
    let step = gvt.llm.forward(embeds, &mut cache, keep);
    check(
        "out.llm.layer0",
        to_vec(step.layer_outputs.unwrap()[0].clone()),
    );
    for (i, probs) in step.attention.unwrap().into_iter().enumerate() {
        check(&format!("attn.llm.{i}"), to_vec(probs));
    }
    let logits = gvt.llm.logits(step.hidden.clone());
    check("out.logits", to_vec(logits.clone()));

    // Greedy decoding through the KV cache equals the reference's full recomputation.
    let want = ids(&expected, "out.greedy_ids");
    let [_, t, vocab] = logits.dims();
    let mut next = gvt_core::generate::argmax(&to_vec(logits.narrow(1, t - 1, 1)));
    let mut got = vec![next];
    while got.len() < want.len() {
        let embeds = gvt.prompt_embeds(&[next], None, &[]);
        let step = gvt.llm.forward(embeds, &mut cache, Keep::default());
        let logits = to_vec(gvt.llm.logits(step.hidden));
        assert_eq!(logits.len(), vocab);
        next = gvt_core::generate::argmax(&logits);
        got.push(next);
    }
    assert_eq!(got, want, "{backend}: greedy ids");
}

#[test]
fn every_stage_matches_the_reference_on_cpu() {
    check_parity(Device::flex(), "flex");
}

#[test]
fn every_stage_matches_the_reference_on_wgpu() {
    if let Some(device) = gvt_testkit::wgpu() {
        check_parity(device, "wgpu");
    }
}

/// The fixture's image, `[3, s, s]`.
pub(crate) fn pixels(expected: &gvt_core::gguf::GgufFile) -> Pixels {
    let values = values(expected, "input.pixels");
    let size = ((values.len() / 3) as f64).sqrt() as usize;
    Pixels { size, values }
}

/// The full `generate` path (prompt assembly, streaming, attention capture) on the parity
/// model: same tokens as the reference until a stop token, and a normalised heat map.
#[test]
fn generate_streams_the_reference_tokens_and_records_attention() {
    let device = Device::flex();
    let model_file = open_fixture("parity/gvt-parity.gguf");
    let expected = open_fixture("parity/gvt-parity-expected.gguf");
    let (gvt, _) = Gvt::from_gguf(&model_file, None, &device, &mut |_| {}).unwrap();
    let tokenizer = Tokenizer::from_metadata(&model_file.metadata).unwrap();
    let prompt = Prompt {
        prefix: ids(&expected, "input.prefix_ids"),
        pixels: Some(pixels(&expected)),
        suffix: ids(&expected, "input.suffix_ids"),
    };
    let want = ids(&expected, "out.greedy_ids");
    let options = GenerateOptions {
        max_new_tokens: want.len(),
        capture_attention: true,
        ..Default::default()
    };
    let mut streamed = Vec::new();
    let answer = pollster::block_on(generate(
        &gvt,
        &tokenizer,
        prompt,
        &options,
        &CancelFlag::default(),
        &mut |event| streamed.push(event.id),
    ))
    .unwrap();
    let stops = tokenizer.stop_tokens();
    let until_stop: Vec<u32> = want
        .iter()
        .copied()
        .take_while(|t| !stops.contains(t))
        .collect();
    assert_eq!(answer.tokens, until_stop);
    assert_eq!(streamed, answer.tokens);

    let record = answer.attention.expect("attention was asked for");
    assert_eq!(record.grid, 4);
    assert_eq!(record.tokens(), answer.tokens.len());
    assert_eq!(record.resampler.dims, vec![2, 2, 32, 17 + 32]);
    // The recorded resampler attention is the reference's.
    let mut want_resampler = values(&expected, "attn.resampler.0");
    want_resampler.extend(values(&expected, "attn.resampler.1"));
    assert_close(
        "recorded resampler attention",
        &record.resampler.values,
        &want_resampler,
        TOL,
    );
    // The first token's LLM attention is the last row of the reference's prefill attention,
    // restricted to the 32 visual positions (after the 3 prefix tokens).
    let first = &record.llm[0];
    assert_eq!(first.dims, vec![2, 4, 32]);
    for layer in 0..2 {
        let full = values(&expected, &format!("attn.llm.{layer}")); // [4, 40, 40]
        for head in 0..4 {
            let row = &full[(head * 40 + 39) * 40..(head * 40 + 40) * 40];
            let got = &first.values[(layer * 4 + head) * 32..(layer * 4 + head + 1) * 32];
            assert_close("recorded LLM attention", got, &row[3..35], TOL);
        }
    }
    if !answer.tokens.is_empty() {
        let map = record
            .heatmap(0, gvt_core::attention::MapView::Combined)
            .unwrap();
        assert_eq!(map.values.len(), 16);
        assert!((map.values.iter().sum::<f32>() - 1.0).abs() < 1e-4);
    }
}

#[test]
fn cancel_stops_before_the_first_token() {
    let device = Device::flex();
    let model_file = open_fixture("parity/gvt-parity.gguf");
    let (gvt, _) = Gvt::from_gguf(&model_file, None, &device, &mut |_| {}).unwrap();
    let tokenizer = Tokenizer::from_metadata(&model_file.metadata).unwrap();
    let cancel = CancelFlag::default();
    cancel.cancel();
    let prompt = Prompt {
        prefix: vec![1, 5],
        pixels: None,
        suffix: vec![],
    };
    let answer = pollster::block_on(generate(
        &gvt,
        &tokenizer,
        prompt,
        &GenerateOptions::default(),
        &cancel,
        &mut |_| panic!("no token after cancel"),
    ))
    .unwrap();
    assert_eq!(answer.stop, gvt_core::generate::StopReason::Cancelled);
    assert!(answer.tokens.is_empty());
}

#[test]
fn zero_new_tokens_is_a_clear_error() {
    let device = Device::flex();
    let model_file = open_fixture("parity/gvt-parity.gguf");
    let (gvt, _) = Gvt::from_gguf(&model_file, None, &device, &mut |_| {}).unwrap();
    let tokenizer = Tokenizer::from_metadata(&model_file.metadata).unwrap();
    let prompt = Prompt {
        prefix: vec![1, 5],
        pixels: None,
        suffix: vec![],
    };
    let options = GenerateOptions {
        max_new_tokens: 0,
        ..Default::default()
    };
    let result = pollster::block_on(generate(
        &gvt,
        &tokenizer,
        prompt,
        &options,
        &CancelFlag::default(),
        &mut |_| {},
    ));
    let err = result.expect_err("0 tokens is refused");
    assert!(err.to_string().contains("0 new tokens"), "{err}");
}
