//! Cross-check against llama.cpp's gguf-py: `tests/fixtures/gguf/reference.gguf` was
//! written by gguf-py's GGUFWriter and `reference.json` holds what gguf-py reads back
//! (see tools/reference/make_gguf_fixture.py). Also checks the real SmolLM2 GGUF when it
//! is in the weights cache.

use super::json::Fixture;
use super::*;
use crate::gguf::quant::quantize;
use serde_json::Value as Json;

const REFERENCE_GGUF: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/gguf/reference.gguf"
));
const REFERENCE_JSON: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/gguf/reference.json"
));

/// Allowed difference to gguf-py's dequantized values.
const TOLERANCE: f32 = 1e-6;

fn reference() -> (GgufFile, Json) {
    let file = GgufFile::from_bytes(REFERENCE_GGUF.to_vec()).expect("reference.gguf parses");
    let json = serde_json::from_str::<Json>(REFERENCE_JSON).expect("reference.json parses");
    (file, json)
}

/// The [`Value`] a JSON fixture entry describes.
fn expected_value(type_name: &str, json: &Json, elem_type: Option<&str>) -> Value {
    match type_name {
        "u8" => Value::U8(json.num()),
        "i8" => Value::I8(json.num()),
        "u16" => Value::U16(json.num()),
        "i16" => Value::I16(json.num()),
        "u32" => Value::U32(json.num()),
        "i32" => Value::I32(json.num()),
        "u64" => Value::U64(json.num()),
        "i64" => Value::I64(json.num()),
        "f32" => Value::F32(json.num()),
        "f64" => Value::F64(json.num()),
        "bool" => Value::Bool(json.flag()),
        "string" => Value::String(json.text().to_string()),
        "array" => {
            let elem_type = elem_type.expect("arrays have an element type");
            Value::Array(expected_array(elem_type, json.list()))
        }
        other => panic!("unknown type {other} in reference.json"),
    }
}

fn nums<T: std::str::FromStr>(items: &[Json]) -> Vec<T>
where
    T::Err: std::fmt::Debug,
{
    items.iter().map(Fixture::num).collect()
}

/// The [`Array`] of `items` with elements of `elem_type` (`array/i32` for nested arrays).
fn expected_array(elem_type: &str, items: &[Json]) -> Array {
    match elem_type.split_once('/') {
        Some(("array", inner)) => Array::Array(
            items
                .iter()
                .map(|item| expected_array(inner, item.list()))
                .collect(),
        ),
        Some((outer, _)) => panic!("only arrays nest, not {outer}"),
        None => match elem_type {
            "u8" => Array::U8(nums(items)),
            "i8" => Array::I8(nums(items)),
            "u16" => Array::U16(nums(items)),
            "i16" => Array::I16(nums(items)),
            "u32" => Array::U32(nums(items)),
            "i32" => Array::I32(nums(items)),
            "u64" => Array::U64(nums(items)),
            "i64" => Array::I64(nums(items)),
            "f32" => Array::F32(nums(items)),
            "f64" => Array::F64(nums(items)),
            "bool" => Array::Bool(items.iter().map(Fixture::flag).collect()),
            "string" => Array::String(items.iter().map(Fixture::text).collect()),
            other => panic!("unknown element type {other} in reference.json"),
        },
    }
}

fn assert_close(name: &str, got: &[f32], want: &[f32]) -> usize {
    assert_eq!(got.len(), want.len(), "{name}: value count");
    let mut inexact = 0;
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= TOLERANCE,
            "{name}[{i}]: got {g}, gguf-py gives {w}"
        );
        if g.to_bits() != w.to_bits() && !(*g == 0.0 && *w == 0.0) {
            inexact += 1;
        }
    }
    inexact
}

#[test]
#[allow(clippy::approx_constant)] // the fixture stores 3.14159, not pi
fn reference_metadata_matches_gguf_py() {
    let (file, json) = reference();
    assert_eq!(file.version, json.field("version").num::<u32>());
    assert_eq!(file.alignment(), json.field("alignment").num::<usize>());

    let entries = json.field("metadata").list();
    let keys: Vec<&str> = file.metadata.iter().map(|(k, _)| k).collect();
    let want_keys: Vec<&str> = entries.iter().map(|e| e.field("key").text()).collect();
    assert_eq!(keys, want_keys, "keys in file order");

    for entry in entries {
        let key = entry.field("key").text();
        let type_name = entry.field("type").text();
        let elem_type = match type_name {
            "array" => Some(match entry.get("inner_elem_type") {
                Some(inner) => format!("{}/{}", entry.field("elem_type").text(), inner.text()),
                None => entry.field("elem_type").text().to_string(),
            }),
            _ => None,
        };
        let want = expected_value(type_name, entry.field("value"), elem_type.as_deref());
        assert_eq!(file.metadata.get(key), Some(&want), "metadata key {key}");
    }

    // Typed getters on gguf-py's encodings.
    let m = &file.metadata;
    assert_eq!(m.get_str("general.architecture").unwrap(), "gvt-lens-test");
    assert_eq!(m.get_u32("test.u32").unwrap(), 4_000_000_000);
    assert_eq!(m.get_u64("test.u64").unwrap(), (1 << 63) + 5);
    assert_eq!(m.get_f32("test.f32").unwrap(), 3.14159);
    assert!(m.get_bool("test.bool_true").unwrap());
    assert_eq!(m.get_str("test.empty_string").unwrap(), "");
    assert!(
        m.get_str_array("test.arr_str")
            .unwrap()
            .iter()
            .eq(["alpha", "", "ü", "日本", "a b"])
    );
    assert_eq!(
        m.get_i32_array("test.arr_i32").unwrap(),
        [0, 1, -1, i32::MAX, i32::MIN]
    );
    assert_eq!(m.get_f32_array("test.arr_f32").unwrap()[2], 1e-6);
    assert!(m.get_u32("test.i8").is_err());
    assert_eq!(
        m.get("test.arr_long").unwrap().to_string(),
        "[0, 1, 2, 3, 4, 5, 6, 7, ... (100 items)]"
    );
}

#[test]
fn reference_tensors_match_gguf_py() {
    let (file, json) = reference();
    let tensors = json.field("tensors").list();
    assert_eq!(file.tensors.len(), tensors.len());
    for (info, entry) in file.tensors.iter().zip(tensors) {
        let name = entry.field("name").text();
        assert_eq!(info.name, name, "tensor order");
        let view = file.tensor(name).unwrap();
        assert_eq!(view.info.dtype.name(), entry.field("type").text(), "{name}");
        let shape: Vec<usize> = entry
            .field("shape")
            .list()
            .iter()
            .map(|d| d.num())
            .collect();
        assert_eq!(view.shape(), shape, "{name}");
        assert_eq!(view.info.offset % 64, 0, "{name}");

        let got = view.to_f32().unwrap();
        let inexact = assert_close(name, &got, &entry.field("values").f32s());
        // Same operations in the same order: the values are bit-identical.
        assert_eq!(
            inexact, 0,
            "{name}: {inexact} values differ in their last bits"
        );

        // Our quantizers reproduce gguf-py's (ggml's reference) bytes exactly.
        let source = entry.field("source");
        if !source.is_null() {
            let source_values = file.tensor(source.text()).unwrap().to_f32().unwrap();
            let bytes = quantize(view.info.dtype, &source_values).unwrap();
            assert!(bytes == view.bytes, "{name}: quantize differs from gguf-py");
        }
    }
}

/// The SmolLM2 GGUF from the weights cache (or `$GVT_LENS_WEIGHTS`), if it is there.
#[cfg(not(target_arch = "wasm32"))]
fn smollm2_path(file_name: &str) -> Option<std::path::PathBuf> {
    let dir = match std::env::var_os("GVT_LENS_WEIGHTS") {
        Some(dir) => std::path::PathBuf::from(dir),
        None => std::path::PathBuf::from(std::env::var_os("HOME")?).join(".cache/gvt-lens/weights"),
    };
    let path = dir.join(file_name);
    path.exists().then_some(path)
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn smollm2_matches_gguf_py() {
    let json = serde_json::from_str::<Json>(REFERENCE_JSON).unwrap();
    let smol = json.field("smollm2");
    if smol.is_null() {
        eprintln!("skipped: reference.json has no SmolLM2 samples");
        return;
    }
    let file_name = smol.field("file_name").text();
    let Some(path) = smollm2_path(file_name) else {
        eprintln!("skipped: {file_name} is not in the weights cache (~/.cache/gvt-lens/weights)");
        return;
    };
    let file = GgufFile::open(&path).unwrap();
    assert_eq!(
        file.file_size(),
        smol.field("file_size").num::<usize>(),
        "{} is not the file the samples came from",
        path.display()
    );
    assert_eq!(file.tensors.len(), smol.field("n_tensors").num::<usize>());
    assert_eq!(file.metadata.len(), smol.field("n_metadata").num::<usize>());

    let m = &file.metadata;
    let want = smol.field("metadata");
    assert_eq!(
        m.get_str("general.architecture").unwrap(),
        want.field("general.architecture").text()
    );
    assert_eq!(
        m.get_u32("llama.block_count").unwrap(),
        want.field("llama.block_count").num::<u32>()
    );
    assert_eq!(
        m.get_u32("llama.embedding_length").unwrap(),
        want.field("llama.embedding_length").num::<u32>()
    );
    assert_eq!(
        m.get_f32("llama.rope.freq_base").unwrap(),
        want.field("llama.rope.freq_base").num::<f32>()
    );
    assert_eq!(
        m.get_str("tokenizer.ggml.model").unwrap(),
        want.field("tokenizer.ggml.model").text()
    );
    let tokens = m.get_str_array("tokenizer.ggml.tokens").unwrap();
    assert_eq!(tokens.len(), smol.field("token_count").num::<usize>());
    let head: Vec<&str> = smol
        .field("tokens_head")
        .list()
        .iter()
        .map(|v| v.text())
        .collect();
    assert_eq!(tokens.iter().take(head.len()).collect::<Vec<_>>(), head);
    assert_eq!(
        m.get_i32_array("tokenizer.ggml.token_type").unwrap().len(),
        tokens.len()
    );

    for sample in smol.field("tensors").list() {
        let name = sample.field("name").text();
        let view = file.tensor(name).unwrap();
        assert_eq!(
            view.info.dtype.name(),
            sample.field("type").text(),
            "{name}"
        );
        let shape: Vec<usize> = sample
            .field("shape")
            .list()
            .iter()
            .map(|d| d.num())
            .collect();
        assert_eq!(view.shape(), shape, "{name}");
        let values = view.to_f32().unwrap();
        assert_eq!(values.len(), sample.field("n_elements").num::<usize>());
        for range in sample.field("ranges").list() {
            let start: usize = range.field("start").num();
            let want = range.field("values").f32s();
            let inexact = assert_close(name, &values[start..start + want.len()], &want);
            assert_eq!(inexact, 0, "{name} at {start}");
        }
    }
}

/// Times parsing and dequantizing every tensor of the SmolLM2 file. Run with
/// `cargo test --release smollm2_dequantize_timing -- --ignored --nocapture`.
#[cfg(not(target_arch = "wasm32"))]
#[test]
#[ignore = "timing; needs the SmolLM2 GGUF"]
fn smollm2_dequantize_timing() {
    use std::time::Instant;
    let Some(path) = smollm2_path("SmolLM2-135M-Instruct.Q4_1.gguf") else {
        eprintln!("skipped: SmolLM2 GGUF not in the weights cache");
        return;
    };
    let t0 = Instant::now();
    let bytes = std::fs::read(&path).unwrap();
    let t_read = t0.elapsed();
    let t1 = Instant::now();
    let file = GgufFile::from_bytes(bytes).unwrap();
    let t_parse = t1.elapsed();

    let mut per_type: std::collections::BTreeMap<&str, (usize, std::time::Duration)> =
        Default::default();
    let t2 = Instant::now();
    let mut total = 0usize;
    for info in &file.tensors {
        let t = Instant::now();
        let values = file.tensor(&info.name).unwrap().to_f32().unwrap();
        let entry = per_type.entry(info.dtype.name()).or_default();
        entry.0 += values.len();
        entry.1 += t.elapsed();
        total += values.len();
        std::hint::black_box(values);
    }
    let t_deq = t2.elapsed();
    eprintln!(
        "SmolLM2 ({} MB): read {:?}, parse {:?}, dequantize {} values in {:?} ({:.0} M values/s)",
        file.file_size() / 1_000_000,
        t_read,
        t_parse,
        total,
        t_deq,
        total as f64 / t_deq.as_secs_f64() / 1e6
    );
    for (dtype, (n, time)) in per_type {
        eprintln!(
            "  {dtype}: {n} values in {time:?} ({:.0} M values/s)",
            n as f64 / time.as_secs_f64() / 1e6
        );
    }
}
