//! The CPU engine (crate gvt-cpu) against the references, under every instruction set this
//! CPU runs, on one thread and on two: burn's model on the parity fixture (logits,
//! attention, a decode step), the recorded visual tokens and resampler attention, and the
//! embedded model's answers and attention against burn flex.

use std::sync::Arc;

use gvt_core::device::ComputeDevice;
use gvt_core::engine;
use gvt_core::model::GvtConfig;
use gvt_core::pipeline::{LoadedModel, Pipeline};
use gvt_cpu::llm::{LlmSession, Part};
use gvt_cpu::vision::VisualSession;
use gvt_cpu::{Cpu, Isa};

use super::engine::{argmax, check_step, parity_reference};

fn cpus() -> Vec<Cpu> {
    Isa::available()
        .into_iter()
        .flat_map(|isa| [Cpu::with_isa(isa, Some(1)), Cpu::with_isa(isa, Some(2))])
        .collect()
}

#[test]
fn the_cpu_engine_matches_burn_on_the_parity_model() {
    let file = gvt_testkit::open_fixture("parity/gvt-parity.gguf");
    let cfg = GvtConfig::from_gguf(&file, &file).unwrap();
    let want = parity_reference(&file, &cfg);
    for cpu in cpus() {
        let what = cpu.describe();
        let llm = Arc::new(engine::load_cpu_llm(&cpu, &file, &cfg.llm, &mut |_| {}).unwrap());
        let mut session = LlmSession::new(llm, true, 64).unwrap();
        let parts = [
            Part::Tokens(&want.prefix),
            Part::Embeds(&want.visual),
            Part::Tokens(&want.suffix),
        ];
        // A prompt of several positions meets f32 weights; one position, 16-bit activations.
        let got = session.prefill(&parts).unwrap().to_vec();
        let attention = session.attention(0..session.len()).unwrap();
        assert_eq!((attention.heads, attention.keys), (cfg.llm.heads, 12));
        check_step(
            &format!("{what}: prefill"),
            (&got, &want.prefill_logits),
            (&attention.layers, &want.prefill_attention),
            1e-4,
        );
        assert_eq!(argmax(&got), argmax(&want.prefill_logits));
        let got = session.decode(want.chosen).unwrap().to_vec();
        let attention = session.attention(0..session.len()).unwrap();
        assert_eq!(attention.keys, 13);
        check_step(
            &format!("{what}: decode"),
            (&got, &want.decode_logits),
            (&attention.layers, &want.decode_attention),
            1e-3,
        );
        assert_eq!(argmax(&got), argmax(&want.decode_logits));
        assert_eq!(session.len(), 13);
        // The session holds 64 positions: more is an error, not a panic.
        let long = vec![1u32; 60];
        let err = session.prefill(&[Part::Tokens(&long)]).err().unwrap();
        assert!(err.to_string().contains("do not fit"), "{err}");
    }
}

#[test]
fn the_image_encoder_on_the_cpu_engine_matches_the_reference() {
    let file = gvt_testkit::open_fixture("parity/gvt-parity.gguf");
    let expected = gvt_testkit::open_fixture("parity/gvt-parity-expected.gguf");
    let cfg = GvtConfig::from_gguf(&file, &file).unwrap();
    let pixels = super::parity::pixels(&expected);
    let want = gvt_testkit::values(&expected, "out.proj");
    let mut want_attention = gvt_testkit::values(&expected, "attn.resampler.0");
    want_attention.extend(gvt_testkit::values(&expected, "attn.resampler.1"));
    for cpu in cpus() {
        let what = cpu.describe();
        let visual = engine::load_cpu_visual(&cpu, &file, &cfg, &mut |_| {})
            .unwrap()
            .unwrap();
        let mut session = VisualSession::new(Arc::new(visual), true);
        let tokens = session.encode(&pixels.values).unwrap();
        gvt_testkit::assert_close(
            &format!("{what}: visual tokens"),
            &tokens.embeds,
            &want,
            1e-4,
        );
        gvt_testkit::assert_close(
            &format!("{what}: resampler attention"),
            &tokens.attention.unwrap(),
            &want_attention,
            1e-5,
        );
        let err = session.encode(&pixels.values[1..]).err().unwrap();
        assert!(err.to_string().contains("pixel values"), "{err}");
    }
}

#[test]
fn answers_and_attention_on_the_cpu_engine_equal_burn_flex() {
    let file = gvt_core::default_model::open().unwrap();
    let flex = Pipeline::load(&file, None, ComputeDevice::flex(), &mut |_, _| {}).unwrap();
    let cpu = Pipeline::load(&file, None, ComputeDevice::cpu(), &mut |_, _| {}).unwrap();
    assert!(matches!(cpu.model, LoadedModel::Cpu(_)));
    assert!(
        cpu.info.kernels.contains("CPU engine"),
        "{}",
        cpu.info.kernels
    );
    super::engine::assert_same_answers(&flex, &cpu);
}
