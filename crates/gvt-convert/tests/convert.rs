//! `gvt convert` end to end on `tests/fixtures/convert`, written by
//! `tools/reference/make_convert_fixture.py`: a random GVT checkpoint in the official layout
//! (Lightning nesting, bf16 storages), the same model's LLM as a Hugging Face folder
//! (sharded f32 safetensors, a SentencePiece tokenizer trained by the `sentencepiece`
//! package) and as a `pytorch_model.bin` in f16, and PyTorch's logits for one prompt.
//! The converted files must give those logits, and the tokenizer sentencepiece's ids.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::tensor::{Device, Tensor};
use gvt_convert::{Options, OutType};
use gvt_core::gguf::{GgmlType, GgufFile};
use gvt_core::model::{Gvt, GvtConfig, Keep, KvCache};
use gvt_core::tokenizer::Tokenizer;
use gvt_cpu::llm::{LlmSession, Part};
use gvt_testkit::{fixture, load, open_fixture, to_vec, values};

fn options(checkpoint: bool, llm: Option<&str>, out_type: OutType) -> Options {
    Options {
        checkpoint: checkpoint.then(|| fixture("convert/gvt-checkpoint.ckpt")),
        llm: llm.map(|l| fixture(&format!("convert/{l}"))),
        out_type,
        vision_heads: Some(2),
        resampler_heads: Some(2),
        name: None,
        allow_unused: false,
    }
}

fn name_path(name: &str) -> PathBuf {
    temp(name)
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gvt-convert-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A copy of the fixture's LLaMA folder to edit.
fn llama_copy(name: &str) -> PathBuf {
    let dir = temp(name);
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(fixture("convert/llama")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    dir
}

fn convert(opts: &Options, name: &str) -> PathBuf {
    let out = temp(name);
    let plan = gvt_convert::plan(opts).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut last = (0, 0);
    plan.write(&out, &mut |done, total, _| last = (done, total))
        .unwrap();
    assert_eq!(last.0, last.1, "progress ends at the total");
    assert_eq!(last.1, plan.output_bytes());
    out
}

/// The fixture's prompt ids around the image.
fn prompt_ids() -> (Vec<u32>, Vec<u32>) {
    let expected = open_fixture("convert/expected.gguf");
    let ids =
        |name: &str| -> Vec<u32> { values(&expected, name).iter().map(|&v| v as u32).collect() };
    (ids("input.prefix_ids"), ids("input.suffix_ids"))
}

/// All-position logits of the fixture's prompt through burn's model on the CPU, and the
/// visual tokens.
fn run(model: &Path, llm: Option<&Path>) -> (Vec<f32>, Vec<f32>) {
    let device = Device::flex();
    let model = GgufFile::open(model).unwrap();
    let llm = llm.map(|l| GgufFile::open(l).unwrap());
    let (gvt, cfg) = Gvt::from_gguf(&model, llm.as_ref(), &device, &mut |_| {}).unwrap();
    let expected = open_fixture("convert/expected.gguf");
    let pixels: Tensor<4> = load(&expected, "input.pixels", &device);
    let visual = gvt.visual.as_ref().expect("a vision half");
    let tokens = visual.forward(pixels, None);
    let (prefix, suffix) = prompt_ids();
    let embeds = gvt.prompt_embeds(&prefix, Some(tokens.embeds.clone()), &suffix);
    let mut cache = KvCache::new(cfg.llm.depth);
    let step = gvt.llm.forward(embeds, &mut cache, Keep::default());
    (to_vec(gvt.llm.logits(step.hidden)), to_vec(tokens.embeds))
}

fn logits(model: &Path, llm: Option<&Path>) -> Vec<f32> {
    run(model, llm).0
}

/// Max |got - want| over max |want|.
fn relative_error(got: &[f32], want: &[f32]) -> f32 {
    assert_eq!(got.len(), want.len());
    let scale = want.iter().fold(0f32, |m, w| m.max(w.abs()));
    let worst = got
        .iter()
        .zip(want)
        .fold(0f32, |m, (g, w)| m.max((g - w).abs()));
    worst / scale
}

fn reference_logits() -> Vec<f32> {
    values(&open_fixture("convert/expected.gguf"), "out.logits")
}

#[test]
fn f32_conversion_gives_pytorchs_logits() {
    let out = convert(&options(true, Some("llama"), OutType::F32), "gvt-f32.gguf");
    let file = GgufFile::open(&out).unwrap();
    assert!(file.tensors.iter().all(|t| t.dtype == GgmlType::F32));
    assert_eq!(
        file.metadata.get_str("general.architecture").unwrap(),
        "gvt"
    );
    let want = reference_logits();
    let (got, visual) = run(&out, None);
    gvt_testkit::assert_close("f32 logits", &got, &want, 1e-4);

    // The CPU engine, which `gvt ask` answers with, on the same file: the last position.
    let cfg = GvtConfig::from_gguf(&file, &file).unwrap();
    let cpu = gvt_cpu::Cpu::new(Some(2));
    let llm = Arc::new(gvt_core::engine::load_cpu_llm(&cpu, &file, &cfg.llm, &mut |_| {}).unwrap());
    let mut session = LlmSession::new(llm, false, 64).unwrap();
    let (prefix, suffix) = prompt_ids();
    let parts = [
        Part::Tokens(&prefix),
        Part::Embeds(&visual),
        Part::Tokens(&suffix),
    ];
    let last = session.prefill(&parts).unwrap().to_vec();
    let vocab = cfg.llm.vocab_size;
    gvt_testkit::assert_close(
        "CPU engine logits",
        &last,
        &want[want.len() - vocab..],
        1e-4,
    );
}

#[test]
fn f16_conversion_of_the_pytorch_bin_is_within_a_percent() {
    let out = convert(
        &options(true, Some("llama-bin"), OutType::F16),
        "gvt-f16.gguf",
    );
    let file = GgufFile::open(&out).unwrap();
    let info = file.tensor_info("blk.0.attn_q.weight").unwrap();
    assert_eq!(info.dtype, GgmlType::F16);
    assert_eq!(
        file.tensor_info("v.blk.0.norm1.weight").unwrap().dtype,
        GgmlType::F32,
        "norms stay f32"
    );
    let err = relative_error(&logits(&out, None), &reference_logits());
    eprintln!("f16 relative error {err:.2e}");
    assert!(err <= 1e-2, "f16 logits relative error {err}");
}

/// Quantized files hold the f32 conversion's values to within each format's error and
/// run; a vision-only file plus an LLM GGUF, and the two merged, give the reference logits.
#[test]
fn quantized_split_and_merged_files_agree() {
    let want = reference_logits();
    let exact = GgufFile::open(&convert(
        &options(true, Some("llama"), OutType::F32),
        "exact.gguf",
    ))
    .unwrap();
    // Max error over max |value| per tensor. Symmetric formats step by max/8 (Q4_0), max/16
    // (Q5_0) or max/127 (Q8_0) and clip the largest positive value by up to one step; Q4_1
    // steps by range/15. This model's 64-wide rows are not whole 256-blocks, so Q4_K falls
    // back to Q5_0 and Q6_K to Q8_0.
    for (out_type, bound) in [
        (OutType::Q8_0, 0.008),
        (OutType::Q4_0, 0.13),
        (OutType::Q4_1, 0.07),
        (OutType::Q4_K, 0.07),
        (OutType::Q6_K, 0.008),
    ] {
        let name = format!("gvt-{out_type:?}.gguf");
        let out = GgufFile::open(&convert(&options(true, Some("llama"), out_type), &name)).unwrap();
        let mut quantized = 0;
        for info in &out.tensors {
            let got = out.tensor(&info.name).unwrap().to_f32().unwrap();
            let want = exact.tensor(&info.name).unwrap().to_f32().unwrap();
            let err = relative_error(&got, &want);
            quantized += usize::from(info.dtype.is_quantized());
            assert!(
                err <= bound,
                "{out_type:?} {} ({}): error {err}",
                info.name,
                info.dtype
            );
        }
        assert!(
            quantized >= 30,
            "{out_type:?}: {quantized} tensors quantized"
        );
        let logits = logits(&name_path(&name), None);
        assert!(logits.iter().all(|x| x.is_finite()), "{out_type:?} logits");
    }

    let vision = convert(&options(true, None, OutType::F32), "vision.gguf");
    let llm = convert(&options(false, Some("llama"), OutType::F32), "llama.gguf");
    let llm_file = GgufFile::open(&llm).unwrap();
    assert_eq!(
        llm_file.metadata.get_str("general.architecture").unwrap(),
        "llama"
    );
    let vision_file = GgufFile::open(&vision).unwrap();
    assert!(!vision_file.contains("token_embd.weight"));
    let split = logits(&vision, Some(&llm));
    gvt_testkit::assert_close("vision + llm files", &split, &want, 1e-4);

    let mut merge = options(true, None, OutType::F32);
    merge.llm = Some(llm.clone());
    let merged = convert(&merge, "merged.gguf");
    gvt_testkit::assert_close("merged file", &logits(&merged, None), &want, 1e-4);
}

#[test]
fn the_tokenizer_gives_sentencepieces_ids() {
    let out = convert(&options(false, Some("llama"), OutType::F16), "tok.gguf");
    let file = GgufFile::open(&out).unwrap();
    let tokenizer = Tokenizer::from_metadata(&file.metadata).unwrap();
    #[derive(serde::Deserialize)]
    struct Case {
        text: String,
        ids: Vec<u32>,
    }
    let text = std::fs::read_to_string(fixture("convert/spm_ids.json")).unwrap();
    let cases: Vec<Case> = serde_json::from_str(&text).unwrap();
    assert_eq!(cases.len(), 50);
    for case in &cases {
        assert_eq!(
            tokenizer.encode_with_literal(&case.text, false, 0..case.text.len()),
            case.ids,
            "{:?}",
            case.text
        );
    }
    assert_eq!(
        tokenizer.encode("a", true)[0],
        1,
        "BOS from tokenizer_config.json"
    );
}

#[test]
fn dry_run_plan_names_every_tensor_and_the_permutation() {
    let plan = gvt_convert::plan(&options(true, Some("llama"), OutType::Q4_K)).unwrap();
    let text = plan.describe();
    assert!(text.contains("blk.0.attn_q.weight"), "{text}");
    assert!(text.contains("rows permuted for RoPE, 4 heads"), "{text}");
    assert!(text.contains("rows permuted for RoPE, 2 heads"), "{text}");
    assert!(text.contains("`state_dict.model.`"), "{text}");
    // 64-wide rows are not whole 256-blocks: Q4_K falls back to Q5_0, the head to Q8_0.
    let dtype = |name: &str| {
        plan.tensors
            .iter()
            .find(|t| t.header.name == name)
            .unwrap()
            .header
            .dtype
    };
    assert_eq!(dtype("blk.0.ffn_up.weight"), GgmlType::Q5_0);
    assert_eq!(dtype("output.weight"), GgmlType::Q8_0);
    assert_eq!(dtype("v.patch_embd.weight"), GgmlType::F16);
    assert_eq!(dtype("r.latents"), GgmlType::F32);
}

/// A safetensors tensor: name, shape, f32 bytes.
type RawTensor = (String, Vec<usize>, Vec<u8>);

#[test]
fn wrong_inputs_are_refused_with_names() {
    let err = |opts: &Options| gvt_convert::plan(opts).unwrap_err().to_string();

    // Heads that do not divide the width.
    let mut opts = options(true, None, OutType::F32);
    opts.vision_heads = Some(3);
    assert!(err(&opts).contains("--vision-heads"), "{}", err(&opts));

    // An LLM folder given as the checkpoint.
    let mut opts = options(false, None, OutType::F32);
    opts.checkpoint = Some(fixture("convert/llama-bin/pytorch_model.bin"));
    let e = err(&opts);
    assert!(
        e.contains("visual_encoder.patch_embed.proj.weight") && e.contains("pytorch_model.bin"),
        "{e}"
    );

    // A folder with a tensor missing, an extra one, and one of the wrong shape.
    let src = fixture("convert/llama");
    let edit = |name: &str, change: &dyn Fn(&mut Vec<RawTensor>)| {
        let dir = temp(name);
        std::fs::create_dir_all(&dir).unwrap();
        for f in ["config.json", "tokenizer.model", "tokenizer_config.json"] {
            std::fs::copy(src.join(f), dir.join(f)).unwrap();
        }
        let mut tensors = Vec::new();
        for shard in [
            "model-00001-of-00002.safetensors",
            "model-00002-of-00002.safetensors",
        ] {
            let bytes = std::fs::read(src.join(shard)).unwrap();
            let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
            for (name, view) in st.tensors() {
                tensors.push((name, view.shape().to_vec(), view.data().to_vec()));
            }
        }
        change(&mut tensors);
        let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = tensors
            .iter()
            .map(|(n, s, d)| {
                let view =
                    safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), d)
                        .unwrap();
                (n.clone(), view)
            })
            .collect();
        safetensors::serialize_to_file(views, None, &dir.join("model.safetensors")).unwrap();
        let mut opts = options(false, None, OutType::F32);
        opts.llm = Some(dir);
        opts
    };
    let missing = edit("missing", &|t| {
        t.retain(|(n, _, _)| n != "model.layers.1.mlp.up_proj.weight")
    });
    let e = err(&missing);
    assert!(
        e.contains("missing") && e.contains("model.layers.1.mlp.up_proj.weight"),
        "{e}"
    );

    let extra = edit("extra", &|t| {
        t.push((
            "model.layers.7.self_attn.q_proj.weight".into(),
            vec![4],
            vec![0; 16],
        ));
        t.push((
            "model.layers.0.self_attn.rotary_emb.inv_freq".into(),
            vec![4],
            vec![0; 16],
        ));
    });
    let e = err(&extra);
    assert!(
        e.contains("model.layers.7.self_attn.q_proj.weight") && e.contains("--allow-unused"),
        "{e}"
    );
    assert!(
        !e.contains("inv_freq"),
        "derived buffers are skipped quietly: {e}"
    );
    let mut allowed = extra;
    allowed.allow_unused = true;
    let plan = gvt_convert::plan(&allowed).unwrap();
    assert!(
        plan.notes.iter().any(|n| n.contains("inv_freq")),
        "{:?}",
        plan.notes
    );

    let reshaped = edit("reshaped", &|t| {
        let norm = t
            .iter_mut()
            .find(|(n, _, _)| n == "model.norm.weight")
            .unwrap();
        norm.1 = vec![32];
        norm.2.truncate(32 * 4);
    });
    let e = err(&reshaped);
    assert!(
        e.contains("model.norm.weight") && e.contains("[32]") && e.contains("[64]"),
        "{e}"
    );
}

/// Rows of q/k go from Hugging Face's rotate-half order to ggml's adjacent pairs:
/// `W.reshape(n, 2, d/2, in).swapaxes(1, 2)` (docs/gguf-layout.md).
#[test]
fn permutation_matches_the_reshape() {
    let (heads, head_dim) = (2, 6);
    let rows = heads * head_dim;
    let got: Vec<usize> = (0..rows)
        .map(|r| gvt_convert::layout::permuted_row(r, rows, heads))
        .collect();
    // By hand: per head, [0, 3, 1, 4, 2, 5] (halves interleaved).
    assert_eq!(got, [0, 3, 1, 4, 2, 5, 6, 9, 7, 10, 8, 11]);
}

/// Hugging Face's added tokens and special ids reach the GGUF as llama.cpp's converter
/// writes them: an added special token replaces the piece at its id as a control token,
/// one past the embedding is left out (and said), config.json's ids win.
#[test]
fn added_tokens_and_special_ids_follow_the_hugging_face_files() {
    let src = fixture("convert/llama");
    let dir = llama_copy("added-tokens");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(src.join("config.json")).unwrap()).unwrap();
    config["eos_token_id"] = 13.into();
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    let tokenizer = serde_json::json!({
        "add_bos_token": false,
        "added_tokens_decoder": {
            "511": {"content": "<image>", "special": true},
            "600": {"content": "<video>", "special": true}
        }
    });
    std::fs::write(dir.join("tokenizer_config.json"), tokenizer.to_string()).unwrap();
    let mut opts = options(false, None, OutType::F32);
    opts.llm = Some(dir);
    let plan = gvt_convert::plan(&opts).unwrap();
    let md = &plan.metadata;
    let tokens = md.get_str_array("tokenizer.ggml.tokens").unwrap();
    assert_eq!(tokens.len(), 512);
    assert_eq!(tokens.get(511), Some("<image>"));
    assert_eq!(
        md.get_i32_array("tokenizer.ggml.token_type").unwrap()[511],
        3
    );
    assert_eq!(md.get_u32("tokenizer.ggml.eos_token_id").unwrap(), 13);
    assert!(!md.get_bool("tokenizer.ggml.add_bos_token").unwrap());
    assert!(
        plan.notes
            .iter()
            .any(|n| n.contains("<video>") && n.contains("512 rows")),
        "{:?}",
        plan.notes
    );
}

/// A LLaMA GGUF merged with the checkpoint must hold the LLaMA layout: a stray tensor is
/// refused by name (or skipped with --allow-unused), and its `general.*` keys that describe
/// the model are kept.
#[test]
fn a_merged_gguf_must_hold_the_llama_layout() {
    let llm = GgufFile::open(&convert(
        &options(false, Some("llama"), OutType::F32),
        "base.gguf",
    ))
    .unwrap();
    let mut writer = gvt_core::gguf::GgufWriter::new();
    for (key, value) in llm.metadata.iter() {
        writer.set(key, value.clone());
    }
    writer.set("general.license", "apache-2.0".into());
    for info in &llm.tensors {
        let values = llm.tensor(&info.name).unwrap().to_f32().unwrap();
        writer
            .add_tensor(&info.name, &info.shape(), info.dtype, &values)
            .unwrap();
    }
    writer
        .add_tensor("mystery.weight", &[4], GgmlType::F32, &[0.0; 4])
        .unwrap();
    let path = temp("stray.gguf");
    writer.write_to_path(&path).unwrap();

    let mut opts = options(true, None, OutType::F32);
    opts.llm = Some(path);
    let e = gvt_convert::plan(&opts).unwrap_err().to_string();
    assert!(
        e.contains("mystery.weight") && e.contains("--allow-unused"),
        "{e}"
    );
    opts.allow_unused = true;
    let plan = gvt_convert::plan(&opts).unwrap();
    assert!(
        plan.tensors
            .iter()
            .all(|t| t.header.name != "mystery.weight")
    );
    assert_eq!(
        plan.metadata.get_str("general.license").unwrap(),
        "apache-2.0"
    );
    assert_eq!(
        plan.metadata.get_str("general.architecture").unwrap(),
        "gvt"
    );
}

/// Cut-off or corrupted inputs give errors naming the file, never a panic: every prefix
/// length class of the checkpoint and of a safetensors shard, and a tokenizer.model of
/// garbage.
#[test]
fn truncated_and_corrupt_inputs_are_errors() {
    let ckpt = std::fs::read(fixture("convert/gvt-checkpoint.ckpt")).unwrap();
    for len in [
        0,
        10,
        100,
        1000,
        ckpt.len() / 2,
        ckpt.len() - 100,
        ckpt.len() - 1,
    ] {
        let path = temp(&format!("cut-{len}.ckpt"));
        std::fs::write(&path, &ckpt[..len]).unwrap();
        let mut opts = options(true, None, OutType::F32);
        opts.checkpoint = Some(path.clone());
        // Opening may succeed when only tensor data is cut: then writing must fail.
        let result = gvt_convert::plan(&opts)
            .and_then(|plan| plan.write(&temp(&format!("cut-{len}.gguf")), &mut |_, _, _| {}));
        let e = result.expect_err("a cut checkpoint converts").to_string();
        assert!(e.contains(&format!("cut-{len}.ckpt")), "{len}: {e}");
    }

    let src = fixture("convert/llama");
    let shard = std::fs::read(src.join("model-00001-of-00002.safetensors")).unwrap();
    for (name, bytes) in [
        ("short", shard[..shard.len() - 4].to_vec()),
        ("header", {
            let mut b = shard.clone();
            b[..8].copy_from_slice(&u64::MAX.to_le_bytes());
            b
        }),
        ("json", {
            let mut b = shard.clone();
            b[8] = b'!';
            b
        }),
    ] {
        let dir = llama_copy(&format!("bad-shard-{name}"));
        std::fs::write(dir.join("model-00001-of-00002.safetensors"), bytes).unwrap();
        let mut opts = options(false, None, OutType::F32);
        opts.llm = Some(dir);
        let e = gvt_convert::plan(&opts).unwrap_err().to_string();
        assert!(
            e.contains("model-00001-of-00002.safetensors"),
            "{name}: {e}"
        );
    }

    let dir = llama_copy("bad-tokenizer");
    std::fs::write(dir.join("tokenizer.model"), b"\xff\xff\xff not a protobuf").unwrap();
    let mut opts = options(false, None, OutType::F32);
    opts.llm = Some(dir);
    let e = gvt_convert::plan(&opts).unwrap_err().to_string();
    assert!(e.contains("tokenizer.model"), "{e}");
}
