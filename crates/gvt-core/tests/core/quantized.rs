//! GGUF Q8_0 / Q4_0 weights stay quantized on the device where burn computes with them
//! exactly, and a quantized model then gives the same answers as the same weights
//! dequantized to f32.

use burn::tensor::{Device, Tensor};
use gvt_core::gguf::{GgmlType, GgufFile, GgufWriter};
use gvt_core::model::params::kept_format;
use gvt_core::model::{GgufSource, Gvt, GvtConfig, Keep, KvCache};
use gvt_testkit::{assert_close, load, open_fixture, to_vec, values};

/// The parity model with every 2-D weight whose rows fit 32-blocks re-encoded as `dtype`.
fn quantized_parity_model(dtype: GgmlType) -> GgufFile {
    let src = open_fixture("parity/gvt-parity.gguf");
    let mut out = GgufWriter::new();
    for (key, value) in src.metadata.iter() {
        out.set(key, value.clone());
    }
    let mut quantized = 0;
    for info in &src.tensors {
        let shape = info.shape();
        let values = src.tensor(&info.name).unwrap().to_f32().unwrap();
        let linear = shape.len() == 2 && shape[1] % 32 == 0 && !info.name.contains("token_embd");
        let target = if linear { dtype } else { GgmlType::F32 };
        quantized += usize::from(linear);
        out.add_tensor(&info.name, &shape, target, &values).unwrap();
    }
    assert!(quantized > 10, "only {quantized} tensors quantized");
    GgufFile::from_bytes(out.to_bytes()).unwrap()
}

/// Logits of the parity prompt with weights loaded by `source`.
fn logits(file: &GgufFile, device: &Device, keep_quantized: bool) -> Vec<f32> {
    let cfg = GvtConfig::from_gguf(file, file).unwrap();
    let mut src = GgufSource::new(file, device);
    if !keep_quantized {
        src = src.dequantized();
    }
    let gvt = Gvt::load(&mut src, &cfg).unwrap();
    let expected = open_fixture("parity/gvt-parity-expected.gguf");
    let pixels: Tensor<4> = load(&expected, "input.pixels", device);
    let ids = |name: &str| {
        values(&expected, name)
            .iter()
            .map(|&v| v as u32)
            .collect::<Vec<_>>()
    };
    let visual = gvt.visual.as_ref().unwrap().forward(pixels, None);
    let embeds = gvt.prompt_embeds(
        &ids("input.prefix_ids"),
        Some(visual.embeds),
        &ids("input.suffix_ids"),
    );
    let step = gvt
        .llm
        .forward(embeds, &mut KvCache::new(cfg.llm.depth), Keep::default());
    to_vec(gvt.llm.logits(step.hidden))
}

fn check(device: Device, backend: &str) {
    for dtype in [GgmlType::Q8_0, GgmlType::Q4_0] {
        let file = quantized_parity_model(dtype);
        let kept = kept_format(dtype, &device);
        eprintln!("{backend}: {dtype:?} kept on the device as {kept:?}");
        let reference = logits(&file, &device, false);
        let quantized = logits(&file, &device, true);
        assert_close(
            &format!("{backend} {dtype:?} quantized vs dequantized logits"),
            &quantized,
            &reference,
            1e-4,
        );
        let cpu = logits(&file, &Device::flex(), true);
        assert_close(
            &format!("{backend} quantized vs CPU {dtype:?} logits"),
            &quantized,
            &cpu,
            1e-4,
        );
    }
}

/// burn 0.22.1's flex backend computes wrongly with these blocks (see `kept_format`): the
/// CPU must dequantize, and then match the reference logits.
#[test]
fn the_cpu_dequantizes_block_weights() {
    let device = Device::flex();
    assert!(kept_format(GgmlType::Q8_0, &device).is_none());
    assert!(kept_format(GgmlType::Q4_0, &device).is_none());
    for dtype in [GgmlType::Q8_0, GgmlType::Q4_0] {
        let file = quantized_parity_model(dtype);
        // The same values written as F32: what the blocks mean, independent of the loader.
        let mut f32_copy = GgufWriter::new();
        for (key, value) in file.metadata.iter() {
            f32_copy.set(key, value.clone());
        }
        for info in &file.tensors {
            let v = file.tensor(&info.name).unwrap().to_f32().unwrap();
            f32_copy
                .add_tensor(&info.name, &info.shape(), GgmlType::F32, &v)
                .unwrap();
        }
        let f32_copy = GgufFile::from_bytes(f32_copy.to_bytes()).unwrap();
        assert_close(
            &format!("flex {dtype:?} file vs its values as F32"),
            &logits(&file, &device, true),
            &logits(&f32_copy, &device, true),
            1e-5,
        );
    }
}

#[test]
fn quantized_weights_match_their_dequantized_values_on_wgpu() {
    if let Some(device) = gvt_testkit::wgpu() {
        assert!(kept_format(GgmlType::Q8_0, &device).is_some());
        assert!(kept_format(GgmlType::Q4_0, &device).is_some());
        check(device, "wgpu");
    }
}

/// A kept weight really is stored quantized (not silently dequantized), with the file's values.
#[test]
fn kept_weights_are_quantized_tensors() {
    let Some(device) = gvt_testkit::wgpu() else {
        return;
    };
    let file = quantized_parity_model(GgmlType::Q4_0);
    let mut src = GgufSource::new(&file, &device);
    use gvt_core::model::ParamSource;
    let w = src.linear_weight("blk.0.ffn_down.weight", 96, 48).unwrap();
    assert!(
        matches!(w.val().dtype(), burn::tensor::DType::QFloat(_)),
        "{:?}",
        w.val().dtype()
    );
    let f = GgufSource::new(&file, &device)
        .dequantized()
        .linear_weight("blk.0.ffn_down.weight", 96, 48)
        .unwrap();
    assert_close(
        "dequantize() of the kept weight",
        &to_vec(w.val().dequantize()),
        &to_vec(f.val()),
        0.0,
    );
}
