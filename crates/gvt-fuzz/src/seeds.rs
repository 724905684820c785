//! Seeds: the repository's GGUF files, a miniature GVT model written with the project's own
//! writer, images in every supported format, chat templates and texts.

use std::path::PathBuf;

use gvt_core::device::ComputeDevice;
use gvt_core::gguf::{GgufFile, GgufWriter, Metadata, StringArray, Value};
use gvt_core::model::export::ParamValues;
use gvt_core::model::{
    Gvt, GvtConfig, InitSource, LlmConfig, Named, ResamplerConfig, VisionConfig, WeightFormat,
};

use crate::text_mut::TextCase;

/// The repository root (this crate lives in `crates/gvt-fuzz`).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(rel: &str) -> Vec<u8> {
    let path = repo_root().join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `assets/gvt-tiny.gguf`, the shipped default model.
pub fn tiny_bytes() -> Vec<u8> {
    read("assets/gvt-tiny.gguf")
}

/// The `tokenizer.*` keys of `md`.
pub fn tokenizer_metadata(md: &Metadata) -> Metadata {
    let mut out = Metadata::new();
    for (k, v) in md.iter() {
        if k.starts_with("tokenizer.") {
            out.insert(k, v.clone());
        }
    }
    out
}

/// A small SentencePiece (`llama`) vocabulary: specials, the 256 byte tokens, a few pieces.
pub fn spm_metadata() -> Metadata {
    let mut tokens: Vec<(String, i32, f32)> = vec![
        ("<unk>".into(), 2, 0.0),
        ("<s>".into(), 3, 0.0),
        ("</s>".into(), 3, 0.0),
    ];
    tokens.extend((0..=255u8).map(|b| (format!("<0x{b:02X}>"), 6, 0.0)));
    for (i, p) in [
        "▁",
        "▁a",
        "a",
        "b",
        "e",
        "h",
        "l",
        "o",
        "▁the",
        "he",
        "ll",
        "llo",
        "▁hello",
        "▁wor",
        "ld",
        "<|im_start|>",
        "<|im_end|>",
        "▁▁",
        "日本",
    ]
    .iter()
    .enumerate()
    {
        let ty = if p.starts_with("<|") { 3 } else { 1 };
        tokens.push((p.to_string(), ty, -(i as f32)));
    }
    let mut md = Metadata::new();
    md.insert("tokenizer.ggml.model", "llama".into());
    md.insert(
        "tokenizer.ggml.tokens",
        Value::from(tokens.iter().map(|t| &t.0).collect::<StringArray>()),
    );
    md.insert(
        "tokenizer.ggml.token_type",
        Value::from(tokens.iter().map(|t| t.1).collect::<Vec<i32>>()),
    );
    md.insert(
        "tokenizer.ggml.scores",
        Value::from(tokens.iter().map(|t| t.2).collect::<Vec<f32>>()),
    );
    md
}

/// A miniature GVT model (32-pixel images, one block per part) with the tiny model's
/// tokenizer, written with the project's writer: small enough to load fully at every
/// execution.
pub fn mini_model(tiny: &GgufFile) -> Vec<u8> {
    let device = ComputeDevice::cpu();
    let tokens = tiny
        .metadata
        .get_str_array("tokenizer.ggml.tokens")
        .map_or(444, |t| t.len());
    let cfg = GvtConfig {
        vision: Some(VisionConfig::new(32, 16, 32, 1, 2, 64)),
        resampler: Some(ResamplerConfig::new(32, 1, 2, 16, 4, 64)),
        llm: LlmConfig::new(tokens, 32, 1, 2, 1, 64, 16)
            .with_context_length(64)
            .with_tied_output(true),
    };
    let mut src = Named::new(InitSource::new(&device.device, 7));
    let gvt = Gvt::load(&mut src, &cfg).expect("the miniature model builds");
    let mut writer = GgufWriter::new();
    cfg.write_metadata(writer.metadata_mut());
    writer.set("general.name", "gvt-fuzz miniature".into());
    for (k, v) in tokenizer_metadata(&tiny.metadata).iter() {
        writer.set(k, v.clone());
    }
    ParamValues::of(&gvt)
        .write(&mut writer, &src.into_names(), WeightFormat::F32)
        .expect("the miniature model writes");
    writer.try_to_bytes().expect("the miniature model encodes")
}

/// GGUF seeds: the tiny model, the miniature, and the repository's GGUF fixtures.
pub fn gguf_seeds(tiny: &[u8], mini: &[u8]) -> Vec<Vec<u8>> {
    vec![
        mini.to_vec(),
        tiny.to_vec(),
        read("tests/fixtures/gguf/reference.gguf"),
        read("tests/fixtures/parity/gvt-parity.gguf"),
        b"GGUF\x03\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0".to_vec(),
    ]
}

/// The chat templates of `tests/fixtures/tokenizer/chat_templates.json` (real models'
/// templates) and the tiny model's.
pub fn templates(tiny: &GgufFile) -> Vec<String> {
    let json: serde_json::Value =
        serde_json::from_slice(&read("tests/fixtures/tokenizer/chat_templates.json"))
            .expect("chat_templates.json is JSON");
    let mut out: Vec<String> = json["templates"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["template"].as_str().map(str::to_string))
        .collect();
    if let Ok(Some(t)) = tiny.metadata.opt_str("tokenizer.chat_template") {
        out.push(t.to_string());
    }
    out
}

pub fn text_seeds(templates: &[String]) -> Vec<TextCase> {
    let texts: &[&[u8]] = &[
        b"What is the capital of France?",
        b"<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n",
        "héllo wörld ✓ 日本語 🦀 <Img>\u{E000}</Img>".as_bytes(),
        b"",
        b"caf\xC3 \xFF\xFE <s></s>",
        b"   \t\n\n   trailing   ",
    ];
    let mut out = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        out.push(TextCase {
            vocab: (i % 2) as u8,
            template: (i % 3 == 1).then(|| templates[i % templates.len()].as_bytes().to_vec()),
            text: text.to_vec(),
            messages: vec![
                (b"system".to_vec(), b"You are terse.".to_vec()),
                (b"user".to_vec(), text.to_vec()),
            ],
            add_generation_prompt: true,
            ids: vec![0, 1, 2, 3, 40, 120, 443],
            ..TextCase::default()
        });
    }
    for t in templates {
        out.push(TextCase {
            template: Some(t.as_bytes().to_vec()),
            text: texts[0].to_vec(),
            messages: vec![(b"user".to_vec(), texts[0].to_vec())],
            ..TextCase::default()
        });
    }
    out
}
