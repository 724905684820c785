//! A real LLM from the llama.cpp ecosystem: SmolLM2-135M-Instruct (Q4_1 GGUF, 98 MB, fetched
//! by `tools/fetch-weights.sh`). Its chat prompt must tokenize to the reference ids, its
//! first-step logits must match an independent float64 numpy forward
//! (`tools/reference/smollm2_reference.py`) to 1e-3, and greedy decoding must answer
//! "The capital of France is Paris." on burn flex, on the CPU engine and on a GPU (the engine).

use std::collections::HashMap;

use gvt_core::device::ComputeDevice;
use gvt_core::generate::{CancelFlag, GenerateOptions, StopReason, read_f32};
use gvt_core::gguf::GgufFile;
use gvt_core::model::{Keep, KvCache};
use gvt_core::pipeline::{LoadedModel, Pipeline};
use gvt_cpu::llm::Part as CpuPart;
use gvt_gpu::llm::Part;

const QUESTION: &str = "What is the capital of France?";

pub(crate) struct Reference {
    pub prompt_ids: Vec<u32>,
    pub greedy_ids: Vec<u32>,
    pub greedy_text: String,
    pub logits: Vec<f32>,
}

pub(crate) fn reference() -> Reference {
    let text = std::fs::read_to_string(gvt_testkit::fixture("smollm2/reference.txt")).unwrap();
    let lines: HashMap<&str, &str> = text.lines().filter_map(|l| l.split_once(": ")).collect();
    let ids = |key: &str| -> Vec<u32> {
        lines[key]
            .split_whitespace()
            .map(|v| v.parse().unwrap())
            .collect()
    };
    let hex = lines["greedy_text"];
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let raw = std::fs::read(gvt_testkit::fixture("smollm2/first_step_logits.f32")).unwrap();
    Reference {
        prompt_ids: ids("prompt_ids"),
        greedy_ids: ids("greedy_ids"),
        greedy_text: String::from_utf8(bytes).unwrap(),
        logits: raw
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
    }
}

fn check(device: ComputeDevice) {
    let backend = device.name.clone();
    let reference = reference();
    let file = GgufFile::open(&gvt_testkit::smollm2()).unwrap();
    let lens = Pipeline::load(&file, None, device, &mut |_, _| {}).unwrap();
    assert!(!lens.has_vision());

    let prompt = lens.prompt(QUESTION, None).unwrap();
    assert_eq!(
        prompt.prefix, reference.prompt_ids,
        "{backend}: chat prompt ids"
    );

    // First-step logits against the float64 reference, wherever the model runs. The
    // engine keeps keys and values in f16: its logits (up to ~25) hold 2e-2.
    let (logits, tolerance) = match &lens.model {
        LoadedModel::Burn(model) => {
            let embeds = model.prompt_embeds(&prompt.prefix, None, &[]);
            let mut cache = KvCache::new(lens.config.llm.depth);
            let step = model.llm.forward(embeds, &mut cache, Keep::default());
            let last = step.hidden.narrow(1, prompt.prefix.len() - 1, 1);
            (
                pollster::block_on(read_f32(model.llm.logits(last))).unwrap(),
                1e-3,
            )
        }
        // The CPU engine meets Q4_1 and Q8_0 weights with 16-bit activations (5e-3 here).
        // llama.cpp's CPU backend meets them with 8-bit ones and is off the f64 reference
        // by up to 1.05 (0.29 on average; build 0c1e570, 2 threads, AVX-512), which turns
        // this prompt's first token (a 0.08 margin) from "The" to "L".
        LoadedModel::Cpu(model) => pollster::block_on(async {
            let mut session = model.llm.session(false, 256).await?;
            let logits = session
                .prefill(&[CpuPart::Tokens(&prompt.prefix)])?
                .to_vec();
            model.llm.keep(session);
            Ok::<_, gvt_core::Error>((logits, 1e-2))
        })
        .unwrap(),
        LoadedModel::Engine(model) => pollster::block_on(async {
            let mut session = model.llm.session(false, 4096).await?;
            session.prefill(&[Part::Tokens(&prompt.prefix)]).await?;
            let logits = session.logits().await?;
            model.llm.keep(session);
            Ok::<_, gvt_core::Error>((logits, 2e-2))
        })
        .unwrap(),
    };
    gvt_testkit::assert_close(
        &format!("{backend} first-step logits"),
        &logits,
        &reference.logits,
        tolerance,
    );

    // The whole answer, greedy, streamed.
    let mut streamed = String::new();
    let answer = pollster::block_on(lens.ask(
        None,
        QUESTION,
        &GenerateOptions {
            max_new_tokens: 20,
            ..Default::default()
        },
        &CancelFlag::default(),
        &mut |event| streamed.push_str(event.text),
    ))
    .unwrap();
    assert_eq!(answer.text, "The capital of France is Paris.", "{backend}");
    assert_eq!(answer.text, reference.greedy_text);
    assert_eq!(streamed, answer.text);
    assert_eq!(answer.stop, StopReason::StopToken);
    assert_eq!(
        &answer.tokens[..],
        &reference.greedy_ids[..answer.tokens.len()]
    );
    eprintln!(
        "{backend}: prefill {:.0} ms, {:.1} tokens/s",
        answer.timings.prefill_ms,
        answer.timings.tokens_per_second()
    );
}

#[test]
fn smollm2_answers_on_the_cpu_engine() {
    check(ComputeDevice::cpu());
}

#[test]
fn smollm2_answers_on_flex() {
    check(ComputeDevice::flex());
}

#[test]
fn smollm2_answers_on_wgpu() {
    if let Some(device) = gvt_testkit::wgpu_compute() {
        check(device);
    }
}
