//! Tests of the GGUF module: corrupt-file handling, writer/reader round trips, block
//! (de)quantization with hand-made blocks, and a cross-check against llama.cpp's gguf-py.

mod blocks;
mod json;
mod kquants;
mod memory;
mod reference;
mod robustness;
mod roundtrip;

use super::{Array, GgmlType, GgufError, GgufFile, GgufWriter, StringArray, Value};

/// A small valid file: five metadata entries and two tensors (`w.a` F32 [2, 8] at data
/// offset 0, `w.b` Q8_0 [2, 64] at data offset 64).
fn sample_writer() -> GgufWriter {
    let mut w = GgufWriter::new();
    w.set(
        "general.name",
        Value::from("a sample file for the corruption tests, with a long name"),
    );
    w.set("k.a", Value::U32(7));
    w.set("k.b", Value::from("hello"));
    w.set("k.flag", Value::Bool(true));
    w.set("k.arr", Value::from(vec![1i32, -2, 3]));
    let a: Vec<f32> = (0..16).map(|i| i as f32 * 0.5).collect();
    w.add_tensor("w.a", &[2, 8], GgmlType::F32, &a).unwrap();
    let b: Vec<f32> = (0..128).map(|i| ((i * 37) % 29) as f32 - 14.0).collect();
    w.add_tensor("w.b", &[2, 64], GgmlType::Q8_0, &b).unwrap();
    w
}

fn sample_bytes() -> Vec<u8> {
    sample_writer().to_bytes()
}

/// Offset of the only occurrence of `needle` in `haystack`.
fn find_unique(haystack: &[u8], needle: &[u8]) -> usize {
    let hits: Vec<usize> = haystack
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(hits.len(), 1, "expected one occurrence of {needle:?}");
    hits[0]
}

/// Offset of the length prefix of GGUF string `s` (a key or a tensor name).
fn string_pos(bytes: &[u8], s: &str) -> usize {
    let mut needle = (s.len() as u64).to_le_bytes().to_vec();
    needle.extend_from_slice(s.as_bytes());
    find_unique(bytes, &needle)
}

/// Offsets inside one metadata entry.
struct KvPos {
    key: usize,
    value_type: usize,
    value: usize,
}

fn kv_pos(bytes: &[u8], key: &str) -> KvPos {
    let at = string_pos(bytes, key);
    let value_type = at + 8 + key.len();
    KvPos {
        key: at + 8,
        value_type,
        value: value_type + 4,
    }
}

/// Offsets inside one tensor info.
struct InfoPos {
    name: usize,
    n_dims: usize,
    dims: usize,
    dtype: usize,
    offset: usize,
}

fn info_pos(bytes: &[u8], name: &str) -> InfoPos {
    let at = string_pos(bytes, name);
    let n_dims_at = at + 8 + name.len();
    let n_dims = u32::from_le_bytes(bytes[n_dims_at..n_dims_at + 4].try_into().unwrap()) as usize;
    let dims = n_dims_at + 4;
    let dtype = dims + 8 * n_dims;
    InfoPos {
        name: at + 8,
        n_dims: n_dims_at,
        dims,
        dtype,
        offset: dtype + 4,
    }
}

fn put_u32(bytes: &mut [u8], at: usize, v: u32) {
    bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_u64(bytes: &mut [u8], at: usize, v: u64) {
    bytes[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// Parses bytes that must be rejected.
fn parse_err(bytes: Vec<u8>) -> GgufError {
    match GgufFile::from_bytes(bytes) {
        Ok(file) => panic!(
            "corrupt file parsed: {} tensors, {} keys",
            file.tensors.len(),
            file.metadata.len()
        ),
        Err(e) => e,
    }
}

/// Deterministic pseudo-random f32 values, roughly normal-ish in [-scale, scale].
fn pseudo_random(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut rng = crate::rng::Rng::new(seed);
    (0..n)
        .map(|_| (0..3).map(|_| rng.next_f32() - 0.5).sum::<f32>() * scale / 1.5)
        .collect()
}
