//! Models whose metadata and shapes agree with each other but which cannot run, each made
//! from the embedded default model by editing a key or a tensor: every one is refused with
//! the exact error (naming the key, tensor or limit), or runs; none panics.

use gvt_core::default_model;
use gvt_core::device::ComputeDevice;
use gvt_core::generate::{CancelFlag, GenerateOptions, Generation};
use gvt_core::gguf::{GgmlType, GgufFile, GgufWriter, Value};
use gvt_core::pipeline::Pipeline;
use gvt_core::{Error, Result};
use image::{DynamicImage, Rgb, RgbImage};

/// A tensor that replaces the original of the same name.
struct NewTensor {
    name: &'static str,
    dims: Vec<u64>,
    dtype: GgmlType,
    bytes: Vec<u8>,
}

/// The embedded default model with `keys` set and `tensors` replaced.
fn edited(keys: Vec<(&str, Value)>, tensors: Vec<NewTensor>) -> GgufFile {
    let original = default_model::open().unwrap();
    let mut writer = GgufWriter::new();
    for (key, value) in original.metadata.iter() {
        writer.set(key, value.clone());
    }
    for (key, value) in keys {
        writer.set(key, value);
    }
    for t in &original.tensors {
        let (dims, dtype, bytes) = match tensors.iter().find(|n| n.name == t.name) {
            Some(n) => (n.dims.clone(), n.dtype, n.bytes.clone()),
            None => (
                t.dims.clone(),
                t.dtype,
                original.tensor(&t.name).unwrap().bytes.to_vec(),
            ),
        };
        writer.add_raw_tensor(&t.name, &dims, dtype, bytes).unwrap();
    }
    GgufFile::from_bytes(writer.to_bytes()).unwrap()
}

/// The first `rows` rows of the default model's tensor `name` (rows of `dims[0]` values).
fn first_rows(name: &'static str, rows: u64) -> NewTensor {
    let file = default_model::open().unwrap();
    let info = file.tensor_info(name).unwrap();
    let row_bytes = info.n_bytes() as u64 / info.dims[1..].iter().product::<u64>();
    let mut dims = info.dims.clone();
    dims[1] = rows;
    NewTensor {
        name,
        dims,
        dtype: info.dtype,
        bytes: file.tensor(name).unwrap().bytes[..(row_bytes * rows) as usize].to_vec(),
    }
}

/// The default model's f32 tensor `name` with its values passed through `edit`.
fn f32_tensor(name: &'static str, edit: impl Fn(Vec<f32>) -> Vec<f32>) -> NewTensor {
    let file = default_model::open().unwrap();
    let info = file.tensor_info(name).unwrap();
    assert_eq!(info.dtype, GgmlType::F32, "{name}");
    let values = edit(file.tensor(name).unwrap().to_f32().unwrap());
    NewTensor {
        name,
        dims: info.dims.clone(),
        dtype: GgmlType::F32,
        bytes: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
    }
}

fn image() -> DynamicImage {
    DynamicImage::ImageRgb8(RgbImage::from_fn(64, 48, |x, _| {
        Rgb([(x * 4) as u8, 90, 200])
    }))
}

/// Loads `file` on the CPU and asks about an image, recording attention.
fn load_and_ask(file: &GgufFile, cpu: ComputeDevice) -> Result<Generation> {
    let pipeline = Pipeline::load(file, None, cpu, &mut |_, _| {})?;
    let options = GenerateOptions {
        max_new_tokens: 4,
        capture_attention: true,
        ..GenerateOptions::default()
    };
    pollster::block_on(pipeline.ask(
        Some(&image()),
        "How many circles are there in the image?",
        &options,
        &CancelFlag::default(),
        &mut |_| {},
    ))
}

fn error_of(file: &GgufFile) -> String {
    match load_and_ask(file, ComputeDevice::cpu()) {
        Ok(g) => panic!("expected an error, got the answer {:?}", g.text),
        Err(e) => e.to_string(),
    }
}

#[test]
fn zero_sizes_are_refused_by_key() {
    let cases = [
        (
            "gvt.vision.image_size",
            "unsupported model: vision tower: `gvt.vision.image_size` is 0; it must be at \
             least 1",
        ),
        (
            "llama.block_count",
            "unsupported model: LLM: `llama.block_count` is 0; it must be at least 1",
        ),
        (
            "gvt.resampler.block_count",
            "unsupported model: resampler: `gvt.resampler.block_count` is 0; it must be at \
             least 1",
        ),
    ];
    for (key, message) in cases {
        let file = edited(vec![(key, Value::U32(0))], vec![]);
        assert_eq!(error_of(&file), message, "{key}");
    }
}

#[test]
fn non_finite_hyper_parameters_are_refused_by_key() {
    let cases = [
        (
            "llama.attention.layer_norm_rms_epsilon",
            Value::F32(f32::NAN),
            "unsupported model: LLM: `llama.attention.layer_norm_rms_epsilon` is NaN; it must \
             be finite and above 0",
        ),
        (
            "llama.rope.freq_base",
            Value::F32(f32::INFINITY),
            "unsupported model: LLM: `llama.rope.freq_base` is inf; it must be finite and \
             above 0",
        ),
        (
            "gvt.vision.image_std",
            Value::from(vec![0.0f32, 0.26, 0.27]),
            "unsupported model: vision tower: image_mean [0.4814547, 0.4578275, 0.4082107] \
             and image_std [0.0, 0.26, 0.27] must be finite, and the standard deviations \
             above 0",
        ),
    ];
    for (key, value, message) in cases {
        let file = edited(vec![(key, value)], vec![]);
        assert_eq!(error_of(&file), message, "{key}");
    }
}

#[test]
fn a_tokenizer_larger_than_the_embedding_is_refused() {
    let file = edited(
        vec![("llama.vocab_size", Value::U32(120))],
        vec![first_rows("token_embd.weight", 120)],
    );
    assert_eq!(
        error_of(&file),
        "unsupported model: tokenizer: `tokenizer.ggml.tokens` has 444 tokens but the LLM's \
         embedding (`token_embd.weight`) has 120 rows: the ids past it cannot be looked up"
    );
}

#[test]
fn non_finite_weights_are_named_at_load() {
    let nan = f32_tensor("v.blk.0.norm1.weight", |mut v| {
        v[3] = f32::NAN;
        v
    });
    let file = edited(vec![], vec![nan]);
    assert_eq!(
        error_of(&file),
        "tensor `v.blk.0.norm1.weight` holds NaN at element 3: the file's weights are broken"
    );
}

#[test]
fn values_that_overflow_while_running_stop_the_answer_with_the_stage() {
    // Finite weights so large that the patch embedding overflows to infinity.
    let huge = f32_tensor("v.patch_embd.weight", |v| vec![3e38; v.len()]);
    let file = edited(vec![], vec![huge]);
    assert_eq!(
        error_of(&file),
        "the model's values became NaN or infinite in the image encoder (vision tower, \
         resampler or projection); the weights or the metadata (epsilons, RoPE base, image \
         normalisation) are broken"
    );
}

#[test]
fn one_latent_runs_and_records_its_attention() {
    let file = edited(
        vec![("gvt.resampler.latent_count", Value::U32(1))],
        vec![first_rows("r.latents", 1)],
    );
    let vision = gvt_core::model::GvtConfig::from_gguf(&file, &file)
        .unwrap()
        .vision
        .unwrap();
    let patches = vision.grid() * vision.grid();
    let answer = load_and_ask(&file, ComputeDevice::cpu()).unwrap();
    let record = answer.attention.expect("attention was asked for");
    assert_eq!(record.latents(), 1);
    // Keys: the class token, the patches and the latent itself.
    assert_eq!(record.resampler.dims, [2, 4, 1, 1 + patches + 1]);
    let map = record
        .answer_heatmap(gvt_core::attention::MapView::Combined)
        .unwrap();
    assert_eq!(map.values.len(), patches);
    assert!((map.values.iter().sum::<f32>() - 1.0).abs() < 1e-4);
}

#[test]
fn a_prompt_longer_than_the_context_holds_is_refused_before_it_is_encoded() {
    // A chat template may render up to 4 MiB; encoding costs memory in proportion.
    let template = "{% for m in messages %}{{ 'x' * 3000000 }}{{ m.content }}{% endfor %}";
    let file = edited(
        vec![("tokenizer.chat_template", Value::String(template.into()))],
        vec![],
    );
    assert_eq!(
        error_of(&file),
        "the prompt is 3000051 bytes after the chat template; the model's context of 256 \
         tokens holds at most 3328 bytes (its longest token is 13 bytes)"
    );
}

#[test]
fn a_model_too_big_for_the_memory_is_refused_before_loading() {
    // 2048-pixel input with a matching position table: 16,385 tokens, whose attention
    // scores alone take 4.3 GB per layer.
    let tokens = 1 + 128 * 128;
    let positions = NewTensor {
        name: "v.pos_embd",
        dims: vec![128, tokens, 1],
        dtype: GgmlType::F32,
        bytes: vec![0; 128 * tokens as usize * 4],
    };
    let file = edited(
        vec![("gvt.vision.image_size", Value::U32(2048))],
        vec![positions],
    );
    let mut cpu = ComputeDevice::cpu();
    cpu.memory.available = Some(4_000_000_000);
    let err = load_and_ask(&file, cpu).unwrap_err();
    assert!(matches!(err, Error::OutOfMemory(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "this model needs ~8.7 GB for one image (weights 12 MB, activations 8.7 GB, KV cache \
         328 KB); CPU (GVT Lens engine) has 4.0 GB available"
    );
    // A GPU's per-buffer limit is named as well.
    let mut gpu_like = ComputeDevice::cpu();
    gpu_like.memory = gvt_core::model::DeviceMemory {
        available: None,
        max_buffer: Some(2 << 30),
    };
    gpu_like.name = "Test GPU (wgpu)".into();
    assert_eq!(
        load_and_ask(&file, gpu_like).unwrap_err().to_string(),
        "one buffer of 4.3 GB is needed for the vision tower's attention scores; Test GPU \
         (wgpu) allows 2.1 GB per buffer (its storage buffer binding limit)"
    );
}

#[test]
fn a_lost_gpu_fails_the_answer_clearly_and_the_cpu_still_answers() {
    // A lost GPU stays lost for the whole process, and other tests use it.
    if !gvt_testkit::in_own_process(
        "hostile::a_lost_gpu_fails_the_answer_clearly_and_the_cpu_still_answers",
    ) {
        return;
    }
    let Some(gpu) = gvt_testkit::wgpu_compute() else {
        return;
    };
    let file = default_model::open().unwrap();
    let pipeline = Pipeline::load(&file, None, gpu.clone(), &mut |_, _| {}).unwrap();
    gvt_testkit::lose_gpu(&gpu);
    let options = GenerateOptions {
        max_new_tokens: 4,
        ..GenerateOptions::default()
    };
    let err = pollster::block_on(pipeline.ask(
        Some(&image()),
        "How many circles are there in the image?",
        &options,
        &CancelFlag::default(),
        &mut |_| {},
    ))
    .unwrap_err();
    assert!(matches!(err, Error::GpuFailed(_)), "{err:?}");
    // The engine meets the loss as a failed call: it says where.
    let text = err.to_string();
    assert!(
        text.starts_with("the GPU failed: the device was lost (a read-back failed, while ")
            && text.ends_with(
                "Run the model on the CPU instead (`--device cpu` on the command line, or Run \
                 on CPU in the app's model panel)"
            ),
        "{text}"
    );
    // The CPU still answers in this process.
    assert!(load_and_ask(&file, ComputeDevice::cpu()).is_ok());
}
