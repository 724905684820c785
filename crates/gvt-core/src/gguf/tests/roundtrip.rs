//! Writer -> reader round trips, typed metadata access, and quantization error bounds.

use super::*;
use crate::gguf::quant::{dequantize, quantize};
use crate::gguf::value::{MAX_ARRAY_NESTING, Metadata};

fn strings(items: &[&str]) -> Value {
    Value::from(items.iter().collect::<StringArray>())
}

fn every_value() -> Vec<(&'static str, Value)> {
    vec![
        ("v.u8", Value::U8(250)),
        ("v.i8", Value::I8(-128)),
        ("v.u16", Value::U16(65535)),
        ("v.i16", Value::I16(-32768)),
        ("v.u32", Value::U32(u32::MAX)),
        ("v.i32", Value::I32(i32::MIN)),
        ("v.f32", Value::F32(-1.5e-7)),
        ("v.bool", Value::Bool(true)),
        ("v.string", Value::from("grüße, 世界 🦀")),
        ("v.empty_string", Value::from("")),
        ("v.u64", Value::U64(u64::MAX)),
        ("v.i64", Value::I64(i64::MIN)),
        ("v.f64", Value::F64(std::f64::consts::PI)),
        ("v.arr_str", strings(&["a", "", "ü"])),
        ("v.arr_i32", Value::from(vec![-1i32, 7])),
        ("v.arr_f32", Value::from(vec![0.25f32, -3.0])),
        ("v.arr_u8", Value::from(vec![0u8, 255])),
        ("v.arr_bool", Value::from(vec![false, true])),
        ("v.arr_u64", Value::from(vec![1u64 << 40])),
        ("v.arr_i64", Value::from(vec![-(1i64 << 40)])),
        ("v.arr_f64", Value::from(vec![1e-300f64])),
        ("v.arr_u16", Value::from(vec![9u16])),
        ("v.arr_i16", Value::from(vec![-9i16])),
        ("v.arr_u32", Value::from(vec![9u32])),
        ("v.arr_i8", Value::from(vec![-9i8])),
        // Empty arrays keep their element type.
        ("v.arr_empty", Value::from(Vec::<u32>::new())),
        ("v.arr_empty_str", strings(&[])),
        (
            "v.arr_nested",
            Value::from(vec![
                Array::I32(vec![1, 2]),
                Array::String(["mixed inner types are fine"].into_iter().collect()),
                Array::U8(vec![]),
            ]),
        ),
    ]
}

#[test]
fn every_value_type_round_trips() {
    let mut w = GgufWriter::new();
    for (k, v) in every_value() {
        w.set(k, v);
    }
    let file = GgufFile::from_bytes(w.to_bytes()).unwrap();
    assert_eq!(file.version, 3);
    assert_eq!(&file.metadata, w.metadata());
    let keys: Vec<&str> = file.metadata.iter().map(|(k, _)| k).collect();
    let expected: Vec<&str> = every_value().iter().map(|(k, _)| *k).collect();
    assert_eq!(keys, expected, "file order is kept");
    assert!(file.tensors.is_empty());
}

#[test]
fn deepest_allowed_nesting_round_trips() {
    let mut v = Array::U8(vec![1]);
    for _ in 1..MAX_ARRAY_NESTING {
        v = Array::Array(vec![v]);
    }
    let mut w = GgufWriter::new();
    w.set("deep", Value::Array(v.clone()));
    let file = GgufFile::from_bytes(w.to_bytes()).unwrap();
    assert_eq!(file.metadata.get("deep"), Some(&Value::Array(v.clone())));

    w.set("deep", Value::from(vec![v]));
    assert!(matches!(w.validate(), Err(GgufError::ArrayTooDeep { .. })));
}

/// Largest error quantize -> dequantize may make for one block, per type.
fn error_bound(dtype: GgmlType, block: &[f32]) -> f32 {
    let amax = block.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let min = block.iter().copied().fold(f32::MAX, f32::min);
    let max = block.iter().copied().fold(f32::MIN, f32::max);
    let f16_eps = 1.0 / 1024.0; // relative rounding of an f16 scale, with margin
    match dtype {
        GgmlType::F32 => 0.0,
        GgmlType::F16 => amax * f16_eps,
        GgmlType::BF16 => amax / 128.0,
        // Half a step of d = amax / 127, plus the f16 rounding of d times up to 127 steps.
        GgmlType::Q8_0 => amax / 127.0 * 0.5 + amax * f16_eps,
        // d = max / -8; values on the other side of zero can clamp at +7d: one full step.
        GgmlType::Q4_0 => amax / 8.0 + amax * f16_eps,
        GgmlType::Q5_0 => amax / 16.0 + amax * f16_eps,
        // Half a step of d = (max - min) / 15, plus the f16 rounding of d and of min.
        GgmlType::Q4_1 => (max - min) / 30.0 + (max - min + min.abs()) * f16_eps,
        GgmlType::Q5_1 => (max - min) / 62.0 + (max - min + min.abs()) * f16_eps,
        other => panic!("no bound for {other}"),
    }
}

#[test]
fn every_quantizable_type_round_trips_within_bounds() {
    let types = [
        GgmlType::F32,
        GgmlType::F16,
        GgmlType::BF16,
        GgmlType::Q8_0,
        GgmlType::Q4_0,
        GgmlType::Q4_1,
        GgmlType::Q5_0,
        GgmlType::Q5_1,
    ];
    let shape = [3, 2, 128];
    let mut values = pseudo_random(3 * 2 * 128, 7, 0.2);
    values[5] = 4.0; // an outlier
    values[200] = -3.0;
    for v in &mut values[256..288] {
        *v = 0.0; // an all-zero block
    }
    for v in &mut values[288..320] {
        *v = -0.9921875; // a constant block, -127/128: exact in every type
    }

    let mut w = GgufWriter::new();
    for dtype in types {
        w.add_tensor(&format!("t.{dtype}"), &shape, dtype, &values)
            .unwrap();
    }
    let file = GgufFile::from_bytes(w.to_bytes()).unwrap();
    for dtype in types {
        let view = file.tensor(&format!("t.{dtype}")).unwrap();
        assert_eq!(view.info.dtype, dtype);
        assert_eq!(view.info.dims, vec![128, 2, 3]);
        assert_eq!(view.shape(), shape.to_vec());
        assert_eq!(view.info.offset % 32, 0);
        let got = view.to_f32().unwrap();
        let expected = dequantize(dtype, &quantize(dtype, &values).unwrap(), values.len()).unwrap();
        assert_eq!(got, expected, "{dtype}: file data equals quantize output");
        for (b, (got, want)) in got.chunks(32).zip(values.chunks(32)).enumerate() {
            let bound = error_bound(dtype, want);
            for (g, w) in got.iter().zip(want) {
                assert!(
                    (g - w).abs() <= bound,
                    "{dtype} block {b}: got {g}, want {w}, bound {bound}"
                );
            }
        }
        // Zero and constant blocks come back exactly.
        assert!(got[256..288].iter().all(|&v| v == 0.0), "{dtype}");
        assert!(got[288..320].iter().all(|&v| v == -0.9921875), "{dtype}");
    }
}

#[test]
fn raw_tensors_round_trip_byte_for_byte() {
    let mut w = GgufWriter::new();
    let kinds = [
        GgmlType::Q2_K,
        GgmlType::Q3_K,
        GgmlType::Q4_K,
        GgmlType::Q5_K,
        GgmlType::Q6_K,
        GgmlType::IQ2_XXS,
        GgmlType::I32,
    ];
    let mut raw = Vec::new();
    for (i, dtype) in kinds.into_iter().enumerate() {
        let dims = [dtype.block_size() as u64 * 2, 3];
        let n_bytes = dtype.row_bytes(dims[0] as usize).unwrap() * 3;
        let bytes: Vec<u8> = (0..n_bytes).map(|j| (j * 31 + i * 7) as u8).collect();
        w.add_raw_tensor(&format!("r.{i}"), &dims, dtype, bytes.clone())
            .unwrap();
        raw.push((dtype, dims, bytes));
    }
    let file = GgufFile::from_bytes(w.to_bytes()).unwrap();
    for (i, (dtype, dims, bytes)) in raw.iter().enumerate() {
        let view = file.tensor(&format!("r.{i}")).unwrap();
        assert_eq!(view.info.dtype, *dtype);
        assert_eq!(view.info.dims, dims.to_vec());
        assert_eq!(view.bytes, &bytes[..]);
        assert_eq!(view.info.n_bytes(), bytes.len());
        assert_eq!(view.to_f32().is_ok(), dtype.can_dequantize(), "{dtype}");
    }
}

#[test]
fn shapes_and_scalars() {
    let mut w = GgufWriter::new();
    w.add_tensor("scalar", &[], GgmlType::F32, &[42.0]).unwrap();
    w.add_tensor("vec", &[5], GgmlType::F16, &[1.0, 2.0, 3.0, 4.0, 5.0])
        .unwrap();
    let four: Vec<f32> = (0..2 * 3 * 4 * 32).map(|i| i as f32).collect();
    w.add_tensor("four", &[2, 3, 4, 32], GgmlType::F32, &four)
        .unwrap();
    let file = GgufFile::from_bytes(w.to_bytes()).unwrap();

    let scalar = file.tensor("scalar").unwrap();
    assert!(scalar.info.dims.is_empty());
    assert_eq!(scalar.shape(), Vec::<usize>::new());
    assert_eq!(scalar.info.n_elements(), 1);
    assert_eq!(scalar.to_f32().unwrap(), vec![42.0]);

    assert_eq!(file.tensor("vec").unwrap().shape(), vec![5]);
    let t = file.tensor("four").unwrap();
    assert_eq!(t.info.dims, vec![32, 4, 3, 2]);
    assert_eq!(t.shape(), vec![2, 3, 4, 32]);
    assert_eq!(t.to_f32().unwrap(), four);
}

#[test]
fn custom_alignment_is_honoured() {
    for alignment in [1u32, 8, 64, 256] {
        let mut w = sample_writer();
        w.set("general.alignment", Value::U32(alignment));
        let bytes = w.to_bytes();
        let file = GgufFile::from_bytes(bytes.clone()).unwrap();
        assert_eq!(file.alignment(), alignment as usize);
        assert_eq!(file.file_size(), bytes.len());
        assert_eq!(file.data_offset() % alignment as usize, 0);
        for info in &file.tensors {
            assert_eq!(info.offset % u64::from(alignment), 0);
        }
        assert_eq!(
            file.tensor("w.a").unwrap().to_f32().unwrap()[15],
            7.5,
            "alignment {alignment}"
        );
    }
    let file = GgufFile::from_bytes(sample_bytes()).unwrap();
    assert_eq!(file.alignment(), 32);
    assert_eq!(file.file_size() % 32, 0);
}

#[test]
fn writer_rejects_bad_tensors() {
    let mut w = GgufWriter::new();
    let err = w
        .add_tensor("t", &[2, 32], GgmlType::Q8_0, &[0.0; 63])
        .unwrap_err();
    assert!(matches!(err, GgufError::InvalidTensor { .. }), "{err:?}");
    assert!(
        err.to_string().contains("64 elements but 63 values"),
        "{err}"
    );

    let err = w
        .add_tensor("t", &[2, 48], GgmlType::Q4_0, &[0.0; 96])
        .unwrap_err();
    assert!(
        matches!(err, GgufError::RowNotBlockMultiple { row_len: 48, .. }),
        "{err:?}"
    );

    let err = w
        .add_tensor("t", &[1, 256], GgmlType::Q5_K, &[0.0; 256])
        .unwrap_err();
    assert!(
        matches!(
            err,
            GgufError::UnsupportedType {
                dtype: GgmlType::Q5_K,
                ..
            }
        ),
        "{err:?}"
    );

    let err = w
        .add_tensor("t", &[1, 1, 1, 1, 1], GgmlType::F32, &[0.0])
        .unwrap_err();
    assert!(matches!(err, GgufError::TooManyDims { n_dims: 5, .. }));

    let err = w.add_tensor("t", &[0, 4], GgmlType::F32, &[]).unwrap_err();
    assert!(matches!(err, GgufError::ZeroDim { .. }));

    let err = w
        .add_raw_tensor("t", &[32], GgmlType::Q8_0, vec![0; 33])
        .unwrap_err();
    assert!(
        err.to_string().contains("must be 34 bytes, got 33"),
        "{err}"
    );

    w.add_tensor("t", &[4], GgmlType::F32, &[0.0; 4]).unwrap();
    let err = w
        .add_tensor("t", &[4], GgmlType::F32, &[0.0; 4])
        .unwrap_err();
    assert!(matches!(err, GgufError::DuplicateTensor { ref name } if name == "t"));
    assert_eq!(w.tensor_count(), 1);
}

#[test]
fn writer_rejects_unencodable_metadata() {
    let mut w = GgufWriter::new();
    w.set("general.alignment", Value::U32(24));
    assert!(matches!(
        w.try_to_bytes(),
        Err(GgufError::BadAlignment { .. })
    ));
    w.set("general.alignment", Value::U64(64));
    let err = w.try_to_bytes().unwrap_err();
    assert!(err.to_string().contains("must have type u32"), "{err}");
}

#[test]
#[should_panic(expected = "GgufWriter::to_bytes")]
fn to_bytes_panics_on_unencodable_metadata() {
    let mut w = GgufWriter::new();
    let mut deep = Array::U8(vec![]);
    for _ in 0..MAX_ARRAY_NESTING {
        deep = Array::Array(vec![deep]);
    }
    w.metadata_mut().insert("deep", Value::Array(deep));
    let _ = w.to_bytes();
}

#[test]
fn write_to_matches_to_bytes() {
    let w = sample_writer();
    let mut streamed = Vec::new();
    w.write_to(&mut streamed).unwrap();
    assert_eq!(streamed, w.to_bytes());
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn files_on_disk() {
    let dir = std::env::temp_dir().join(format!("gvt-lens-gguf-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("sample.gguf");
    let w = sample_writer();
    w.write_to_path(&path).unwrap();
    let file = GgufFile::open(&path).unwrap();
    assert_eq!(file.file_size(), w.to_bytes().len());
    assert_eq!(file.metadata.get_str("k.b").unwrap(), "hello");

    let missing = dir.join("missing.gguf");
    let err = GgufFile::open(&missing).unwrap_err();
    assert!(matches!(err, GgufError::Io { .. }));
    assert!(err.to_string().contains("missing.gguf"), "{err}");

    let err = w
        .write_to_path(&dir.join("no/such/dir/x.gguf"))
        .unwrap_err();
    assert!(err.to_string().contains("no/such/dir"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn typed_getters() {
    let mut m = Metadata::new();
    m.insert("u8", Value::U8(7));
    m.insert("i32", Value::I32(-1));
    m.insert("i64", Value::I64(1 << 40));
    m.insert("f64", Value::F64(0.5));
    m.insert("s", Value::from("x"));
    m.insert("b", Value::Bool(true));
    m.insert("strs", strings(&["a", "b"]));
    m.insert("ints", Value::from(vec![-3i32, 4]));
    m.insert("u8s", Value::from(vec![3u8, 4]));
    m.insert("big", Value::from(vec![1u32, u32::MAX]));
    m.insert("floats", Value::from(vec![0.5f32, 2.0]));
    m.insert("doubles", Value::from(vec![0.25f64]));
    m.insert("empty_u8s", Value::from(Vec::<u8>::new()));

    assert_eq!(m.get_u32("u8").unwrap(), 7);
    assert_eq!(m.get_u64("i64").unwrap(), 1 << 40);
    assert_eq!(m.get_f32("f64").unwrap(), 0.5);
    assert_eq!(m.get_f32("u8").unwrap(), 7.0);
    assert!(m.get_bool("b").unwrap());
    assert_eq!(m.get_str("s").unwrap(), "x");
    assert!(m.get_str_array("strs").unwrap().iter().eq(["a", "b"]));
    assert_eq!(m.get_i32_array("ints").unwrap(), vec![-3, 4]);
    assert_eq!(m.get_i32_array("u8s").unwrap(), vec![3, 4]);
    assert_eq!(m.get_f32_array("floats").unwrap(), vec![0.5, 2.0]);
    assert_eq!(m.get_f32_array("ints").unwrap(), vec![-3.0, 4.0]);
    assert_eq!(m.get_f32_array("doubles").unwrap(), vec![0.25]);
    assert_eq!(m.get_f32_array("empty_u8s").unwrap(), Vec::<f32>::new());

    // Wrong types, with what was found in the message.
    let wrong = |r: Result<_, GgufError>| match r {
        Err(GgufError::WrongType {
            key,
            expected,
            found,
        }) => format!("{key}/{expected}/{found}"),
        other => panic!("expected WrongType, got {other:?}"),
    };
    assert_eq!(wrong(m.get_u32("i32").map(|_| ())), "i32/u32/i32 -1");
    assert_eq!(
        wrong(m.get_u32("i64").map(|_| ())),
        "i64/u32/i64 1099511627776"
    );
    assert_eq!(wrong(m.get_u32("s").map(|_| ())), "s/u32/string");
    assert_eq!(wrong(m.get_u64("i32").map(|_| ())), "i32/u64/i32 -1");
    assert_eq!(wrong(m.get_f32("s").map(|_| ())), "s/f32/string");
    assert_eq!(wrong(m.get_bool("u8").map(|_| ())), "u8/bool/u8 7");
    assert_eq!(wrong(m.get_str("b").map(|_| ())), "b/string/bool true");
    assert_eq!(
        wrong(m.get_str_array("ints").map(|_| ())),
        "ints/array of string/array of i32"
    );
    assert_eq!(
        wrong(m.get_str_array("s").map(|_| ())),
        "s/array of string/string"
    );
    assert_eq!(
        wrong(m.get_i32_array("big").map(|_| ())),
        "big/array of i32/an array whose element 1 is u32 4294967295"
    );
    assert_eq!(
        wrong(m.get_f32_array("strs").map(|_| ())),
        "strs/array of f32/an array whose element 0 is string"
    );
    let err = m.get_u32("i32").unwrap_err();
    assert_eq!(
        err.to_string(),
        "metadata key 'i32' holds i32 -1, expected u32"
    );

    // Missing keys.
    assert!(matches!(m.get_u32("nope"), Err(GgufError::MissingKey(ref k)) if k == "nope"));
    assert!(matches!(
        m.get_str_array("nope"),
        Err(GgufError::MissingKey(_))
    ));
    assert_eq!(
        m.get_f32("nope").unwrap_err().to_string(),
        "metadata key 'nope' not found"
    );

    // opt_ variants: None when absent, error when the type is wrong.
    assert_eq!(m.opt_u32("nope").unwrap(), None);
    assert_eq!(m.opt_u32("u8").unwrap(), Some(7));
    assert!(m.opt_u32("s").is_err());
    assert_eq!(m.opt_u64("nope").unwrap(), None);
    assert_eq!(m.opt_f32("f64").unwrap(), Some(0.5));
    assert_eq!(m.opt_f32("nope").unwrap(), None);
    assert!(m.opt_f32("b").is_err());
    assert_eq!(m.opt_bool("b").unwrap(), Some(true));
    assert_eq!(m.opt_bool("nope").unwrap(), None);
    assert!(m.opt_bool("u8").is_err());
    assert_eq!(m.opt_str("s").unwrap(), Some("x"));
    assert_eq!(m.opt_str("nope").unwrap(), None);
    assert!(m.opt_str("u8").is_err());
}

#[test]
fn metadata_insert_replace_remove() {
    let mut m: Metadata = [
        ("a", Value::U8(1)),
        ("b", Value::U8(2)),
        ("c", Value::U8(3)),
    ]
    .into_iter()
    .collect();
    m.insert("a", Value::from("replaced"));
    assert_eq!(m.len(), 3);
    assert_eq!(m.iter().next().unwrap(), ("a", &Value::from("replaced")));
    assert_eq!(m.remove("b"), Some(Value::U8(2)));
    assert_eq!(m.remove("b"), None);
    assert_eq!(m.get("c"), Some(&Value::U8(3)));
    let keys: Vec<&str> = m.iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["a", "c"]);
    assert!(!m.is_empty());
    assert!(Metadata::new().is_empty());
}

#[test]
fn value_display_is_short() {
    assert_eq!(Value::U32(5).to_string(), "5");
    assert_eq!(Value::F32(0.5).to_string(), "0.5");
    assert_eq!(Value::F32(1.0).to_string(), "1.0");
    assert_eq!(Value::F32(1e-6).to_string(), "1e-6");
    assert_eq!(Value::F64(3.4e38).to_string(), "3.4e38");
    assert_eq!(Value::Bool(false).to_string(), "false");
    assert_eq!(Value::from("a\"b").to_string(), "\"a\\\"b\"");
    let short = Value::from((0..8).collect::<Vec<i32>>());
    assert_eq!(short.to_string(), "[0, 1, 2, 3, 4, 5, 6, 7]");
    let long = Value::from((0..100).collect::<Vec<i32>>());
    assert_eq!(
        long.to_string(),
        "[0, 1, 2, 3, 4, 5, 6, 7, ... (100 items)]"
    );
    let text = Value::from("x".repeat(500));
    let shown = text.to_string();
    assert!(
        shown.len() < 100 && shown.ends_with("... (500 chars)"),
        "{shown}"
    );
    let nested = Value::from(vec![Array::String(["t"].into_iter().collect())]);
    assert_eq!(nested.to_string(), "[[\"t\"]]");
    let floats = Value::from(vec![1.0f32; 20]);
    assert_eq!(
        floats.to_string(),
        "[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, ... (20 items)]"
    );
}

#[test]
fn ggml_type_table() {
    for t in GgmlType::ALL {
        assert_eq!(GgmlType::from_id(t.id()), Some(t));
        assert_eq!(GgmlType::from_name(&t.name().to_lowercase()), Some(t));
        assert!(t.block_size() >= 1 && t.type_size() >= 1);
        assert_eq!(t.row_bytes(t.block_size() * 3), Some(t.type_size() * 3));
    }
    for unknown in [4, 5, 31, 32, 33, 36, 37, 38, 42, 1000] {
        assert_eq!(GgmlType::from_id(unknown), None, "{unknown}");
    }
    assert_eq!(GgmlType::Q4_K.id(), 12);
    assert_eq!(GgmlType::BF16.id(), 30);
    assert_eq!(GgmlType::Q8_0.type_size(), 34);
    assert_eq!(GgmlType::Q4_K.type_size(), 144);
    assert_eq!(GgmlType::Q6_K.type_size(), 210);
    assert_eq!(GgmlType::Q8_0.row_bytes(48), None);
    assert_eq!(GgmlType::F32.row_bytes(usize::MAX), None);
    assert_eq!(GgmlType::Q4_1.to_string(), "Q4_1");
}

#[test]
fn symmetric_blocks_reproduce_dequantization() {
    use crate::gguf::quant::{dequantize, quantize, symmetric_blocks};
    let values: Vec<f32> = (0..128)
        .map(|i| ((i * 37 % 101) as f32 - 50.0) / 17.0)
        .collect();
    for dtype in [GgmlType::Q8_0, GgmlType::Q4_0] {
        let bytes = quantize(dtype, &values).unwrap();
        let blocks = symmetric_blocks(dtype, &bytes, values.len())
            .unwrap()
            .unwrap();
        let (q, scales) = (blocks.values, blocks.scales);
        let want = dequantize(dtype, &bytes, values.len()).unwrap();
        assert_eq!(scales.len(), 4);
        for (i, w) in want.iter().enumerate() {
            assert_eq!(q[i] as f32 * scales[i / 32], *w, "{dtype:?} element {i}");
        }
    }
    let q41 = quantize(GgmlType::Q4_1, &values).unwrap();
    assert!(
        symmetric_blocks(GgmlType::Q4_1, &q41, 128)
            .unwrap()
            .is_none()
    );
    assert!(symmetric_blocks(GgmlType::Q8_0, &[0; 10], 32).is_err());
}

/// Streaming the same tensors, in pieces of any size, gives the same bytes as building the
/// file in memory; a short or long stream is refused, naming the tensor.
#[test]
fn stream_writer_equals_the_in_memory_writer() {
    use crate::gguf::writer::{StreamWriter, TensorHeader};
    let mut writer = GgufWriter::new();
    writer.set("general.name", Value::from("stream"));
    writer.set("general.alignment", Value::U32(64));
    let a: Vec<f32> = (0..96).map(|i| i as f32 * 0.25 - 7.0).collect();
    let b: Vec<f32> = (0..5).map(|i| i as f32).collect();
    writer
        .add_tensor("a", &[3, 32], GgmlType::Q8_0, &a)
        .unwrap();
    writer.add_tensor("b", &[5], GgmlType::F32, &b).unwrap();
    let want = writer.try_to_bytes().unwrap();

    let headers = [
        TensorHeader::new("a", &[3, 32], GgmlType::Q8_0),
        TensorHeader::new("b", &[5], GgmlType::F32),
    ];
    let data = [
        quantize(GgmlType::Q8_0, &a).unwrap(),
        quantize(GgmlType::F32, &b).unwrap(),
    ]
    .concat();
    for piece in [1, 7, 34, data.len()] {
        let mut stream = StreamWriter::new(writer.metadata(), &headers, Vec::new()).unwrap();
        for chunk in data.chunks(piece) {
            stream.write(chunk).unwrap();
        }
        assert_eq!(stream.finish().unwrap(), want, "pieces of {piece} bytes");
    }

    let mut short = StreamWriter::new(writer.metadata(), &headers, Vec::new()).unwrap();
    short.write(&data[..102 + 4]).unwrap();
    let err = short.finish().unwrap_err().to_string();
    assert!(
        err.contains("'b'") && err.contains("4 of its 20 bytes"),
        "{err}"
    );
    let mut long = StreamWriter::new(writer.metadata(), &headers, Vec::new()).unwrap();
    let err = long.write(&[data.clone(), vec![0]].concat()).unwrap_err();
    assert!(err.to_string().contains("1 bytes more"), "{err}");
    let duplicate = [headers[0].clone(), headers[0].clone()];
    assert!(StreamWriter::new(writer.metadata(), &duplicate, Vec::new()).is_err());
}
