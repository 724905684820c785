//! Corrupt files: each case builds a valid file with the writer, breaks one thing, and
//! checks the specific error and that its message says where.

use super::*;
use crate::gguf::reader::alignment_of;
use crate::gguf::value::{MAX_ARRAY_NESTING, Metadata};

#[test]
fn sample_file_is_valid() {
    let file = GgufFile::from_bytes(sample_bytes()).unwrap();
    assert_eq!(file.version, 3);
    assert_eq!(file.metadata.len(), 5);
    assert_eq!(file.tensors.len(), 2);
    assert_eq!(file.tensors[1].offset, 64);
}

#[test]
fn bad_magic() {
    let mut bytes = sample_bytes();
    bytes[..4].copy_from_slice(b"GGML");
    let err = parse_err(bytes);
    assert!(matches!(err, GgufError::BadMagic { .. }), "{err:?}");
    assert!(err.to_string().contains("\"GGML\""), "{err}");

    let mut bytes = sample_bytes();
    bytes[..4].copy_from_slice(&[0x89, b'P', b'N', b'G']);
    assert!(parse_err(bytes).to_string().contains("\\x89PNG"));
}

#[test]
fn version_1_rejected() {
    let mut bytes = sample_bytes();
    put_u32(&mut bytes, 4, 1);
    let err = parse_err(bytes);
    assert!(
        matches!(err, GgufError::UnsupportedVersion { version: 1, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("v1"), "{err}");
}

#[test]
fn future_and_big_endian_versions_rejected() {
    let mut bytes = sample_bytes();
    put_u32(&mut bytes, 4, 4);
    let err = parse_err(bytes);
    assert!(matches!(
        err,
        GgufError::UnsupportedVersion { version: 4, .. }
    ));
    assert!(err.to_string().contains("versions 2 and 3"), "{err}");

    let mut bytes = sample_bytes();
    bytes[4..8].copy_from_slice(&3u32.to_be_bytes());
    let err = parse_err(bytes);
    assert!(err.to_string().contains("big-endian"), "{err}");
}

#[test]
fn version_2_accepted() {
    let mut bytes = sample_bytes();
    put_u32(&mut bytes, 4, 2);
    let file = GgufFile::from_bytes(bytes).unwrap();
    assert_eq!(file.version, 2);
    assert_eq!(file.tensor("w.a").unwrap().to_f32().unwrap()[3], 1.5);
}

#[test]
fn truncated_header() {
    let err = parse_err(Vec::new());
    assert!(matches!(err, GgufError::Truncated { .. }), "{err:?}");
    assert!(err.to_string().contains("GGUF header (magic)"), "{err}");

    let err = parse_err(sample_bytes()[..12].to_vec());
    assert!(
        err.to_string().contains("GGUF header (tensor count)")
            && err.to_string().contains("offset 8"),
        "{err}"
    );
}

#[test]
fn truncated_metadata() {
    let bytes = sample_bytes();
    // Cut inside the u32 value of k.a.
    let pos = kv_pos(&bytes, "k.a");
    let err = parse_err(bytes[..pos.value + 2].to_vec());
    assert!(
        matches!(err, GgufError::Truncated { ref section, needed: 4, available: 2, .. }
            if section == "value of metadata key 'k.a'"),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&format!("offset {}", pos.value)),
        "{err}"
    );

    // Cut inside an array: its element count no longer fits.
    let pos = kv_pos(&bytes, "k.arr");
    let err = parse_err(bytes[..pos.value + 4 + 8 + 8 + 2].to_vec());
    assert!(
        matches!(err, GgufError::CountTooLarge { ref what, count: 3, .. } if what.contains("'k.arr'")),
        "{err:?}"
    );
    assert!(err.to_string().contains("truncated"), "{err}");

    // Cut inside a key.
    let pos = kv_pos(&bytes, "k.flag");
    let err = parse_err(bytes[..pos.key + 2].to_vec());
    assert!(
        matches!(err, GgufError::StringTooLong { ref context, .. } if context.contains("metadata entry #3")),
        "{err:?}"
    );
}

#[test]
fn truncated_tensor_info() {
    let bytes = sample_bytes();
    let pos = info_pos(&bytes, "w.b");
    let err = parse_err(bytes[..pos.dims + 3].to_vec());
    assert!(matches!(err, GgufError::Truncated { .. }), "{err:?}");
    assert!(
        err.to_string().contains("dimensions of tensor 'w.b'"),
        "{err}"
    );

    let err = parse_err(bytes[..pos.offset + 1].to_vec());
    assert!(
        err.to_string().contains("data offset of tensor 'w.b'"),
        "{err}"
    );
}

#[test]
fn truncated_data() {
    let bytes = sample_bytes();
    let file = GgufFile::from_bytes(bytes.clone()).unwrap();
    let start = file.data_offset() + 64;
    let err = parse_err(bytes[..start + 10].to_vec());
    assert!(
        matches!(err, GgufError::Truncated { ref section, needed: 136, available: 10, .. }
            if section == "data of tensor 'w.b'"),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&format!("offset {start}")),
        "{err}"
    );

    // Cut before the data section: the first tensor is entirely outside the file.
    let err = parse_err(bytes[..file.data_offset()].to_vec());
    assert!(
        matches!(err, GgufError::TensorOutOfBounds { ref tensor, .. } if tensor == "w.a"),
        "{err:?}"
    );
}

#[test]
fn absurd_tensor_count() {
    let mut bytes = sample_bytes();
    put_u64(&mut bytes, 8, u64::MAX);
    let err = parse_err(bytes);
    assert!(
        matches!(err, GgufError::CountTooLarge { ref what, count: u64::MAX, offset: 8, .. } if what == "tensors"),
        "{err:?}"
    );
}

#[test]
fn absurd_kv_count() {
    let mut bytes = sample_bytes();
    put_u64(&mut bytes, 16, 1 << 60);
    let err = parse_err(bytes);
    assert!(
        matches!(err, GgufError::CountTooLarge { ref what, offset: 16, .. } if what == "metadata entries"),
        "{err:?}"
    );
}

#[test]
fn absurd_array_count() {
    let mut bytes = sample_bytes();
    let pos = kv_pos(&bytes, "k.arr");
    put_u64(&mut bytes, pos.value + 4, u64::MAX / 2);
    let err = parse_err(bytes);
    assert!(
        matches!(err, GgufError::CountTooLarge { ref what, .. } if what.contains("'k.arr'")),
        "{err:?}"
    );
}

#[test]
fn string_too_long() {
    // Key length.
    let mut bytes = sample_bytes();
    let pos = kv_pos(&bytes, "general.name");
    put_u64(&mut bytes, pos.key - 8, u64::MAX);
    let err = parse_err(bytes);
    assert!(
        matches!(err, GgufError::StringTooLong { ref context, len: u64::MAX, .. }
            if context == "key of metadata entry #0"),
        "{err:?}"
    );

    // String value length.
    let mut bytes = sample_bytes();
    let pos = kv_pos(&bytes, "k.b");
    let remaining = bytes.len() - (pos.value + 8);
    put_u64(&mut bytes, pos.value, remaining as u64 + 1);
    let err = parse_err(bytes);
    assert!(
        matches!(err, GgufError::StringTooLong { ref context, .. }
            if context == "value of metadata key 'k.b'"),
        "{err:?}"
    );

    // Tensor name length.
    let mut bytes = sample_bytes();
    let pos = info_pos(&bytes, "w.b");
    put_u64(&mut bytes, pos.name - 8, 1 << 40);
    let err = parse_err(bytes);
    assert!(err.to_string().contains("name of tensor #1"), "{err}");
}

#[test]
fn invalid_utf8_key() {
    let mut bytes = sample_bytes();
    let pos = kv_pos(&bytes, "k.b");
    bytes[pos.key] = 0xFF;
    let err = parse_err(bytes);
    assert!(
        matches!(err, GgufError::InvalidUtf8 { ref context, offset }
            if context == "key of metadata entry #2" && offset == pos.key as u64),
        "{err:?}"
    );
}

#[test]
fn invalid_utf8_string_value() {
    let mut bytes = sample_bytes();
    let pos = kv_pos(&bytes, "k.b");
    bytes[pos.value + 8 + 1] = 0xC3; // a lead byte followed by 'l'
    let err = parse_err(bytes);
    assert!(
        matches!(err, GgufError::InvalidUtf8 { ref context, .. } if context == "value of metadata key 'k.b'"),
        "{err:?}"
    );

    let mut bytes = sample_bytes();
    let pos = info_pos(&bytes, "w.a");
    bytes[pos.name] = 0x80;
    assert!(parse_err(bytes).to_string().contains("name of tensor #0"));
}

#[test]
fn unknown_value_type() {
    let mut bytes = sample_bytes();
    let pos = kv_pos(&bytes, "k.a");
    put_u32(&mut bytes, pos.value_type, 13);
    let err = parse_err(bytes);
    assert!(
        matches!(err, GgufError::UnknownValueType { ref key, type_id: 13, offset }
            if key == "k.a" && offset == pos.value_type as u64),
        "{err:?}"
    );

    // Unknown array element type.
    let mut bytes = sample_bytes();
    let pos = kv_pos(&bytes, "k.arr");
    put_u32(&mut bytes, pos.value, 99);
    let err = parse_err(bytes);
    assert!(
        matches!(err, GgufError::UnknownValueType { ref key, type_id: 99, .. } if key == "k.arr"),
        "{err:?}"
    );
}

#[test]
fn invalid_bool() {
    let mut bytes = sample_bytes();
    let pos = kv_pos(&bytes, "k.flag");
    bytes[pos.value] = 2;
    let err = parse_err(bytes);
    assert!(
        matches!(err, GgufError::InvalidBool { ref key, value: 2, .. } if key == "k.flag"),
        "{err:?}"
    );
}

/// A file with no tensors and one key `deep` holding `levels` nested arrays around an
/// empty u32 array, written by hand (the writer refuses too-deep nesting).
fn nested_array_file(levels: usize) -> Vec<u8> {
    let mut b = b"GGUF".to_vec();
    b.extend_from_slice(&3u32.to_le_bytes());
    b.extend_from_slice(&0u64.to_le_bytes());
    b.extend_from_slice(&1u64.to_le_bytes());
    b.extend_from_slice(&4u64.to_le_bytes());
    b.extend_from_slice(b"deep");
    b.extend_from_slice(&9u32.to_le_bytes());
    for _ in 1..levels {
        b.extend_from_slice(&9u32.to_le_bytes()); // element type: array
        b.extend_from_slice(&1u64.to_le_bytes()); // one element
    }
    b.extend_from_slice(&4u32.to_le_bytes()); // innermost: u32 elements
    b.extend_from_slice(&0u64.to_le_bytes()); // none
    b
}

#[test]
fn nested_array_depth_limit() {
    let ok = GgufFile::from_bytes(nested_array_file(MAX_ARRAY_NESTING)).unwrap();
    let mut v = ok.metadata.get("deep").unwrap().as_array().unwrap();
    for _ in 1..MAX_ARRAY_NESTING {
        let Array::Array(inner) = v else {
            panic!("expected an array of arrays, found {v:?}")
        };
        v = &inner[0];
    }
    assert_eq!(v, &Array::U32(vec![]));

    let err = parse_err(nested_array_file(MAX_ARRAY_NESTING + 1));
    assert!(
        matches!(err, GgufError::ArrayTooDeep { ref key, .. } if key == "deep"),
        "{err:?}"
    );
    // Very deep nesting must not overflow the stack either.
    let err = parse_err(nested_array_file(100_000));
    assert!(matches!(err, GgufError::ArrayTooDeep { .. }), "{err:?}");
}

#[test]
fn too_many_dims() {
    let mut bytes = sample_bytes();
    let pos = info_pos(&bytes, "w.a");
    put_u32(&mut bytes, pos.n_dims, 5);
    let err = parse_err(bytes);
    assert!(
        matches!(err, GgufError::TooManyDims { ref tensor, n_dims: 5 } if tensor == "w.a"),
        "{err:?}"
    );

    let mut bytes = sample_bytes();
    let pos = info_pos(&bytes, "w.a");
    put_u32(&mut bytes, pos.n_dims, u32::MAX);
    assert!(matches!(parse_err(bytes), GgufError::TooManyDims { .. }));
}

#[test]
fn zero_sized_dim() {
    let mut bytes = sample_bytes();
    let pos = info_pos(&bytes, "w.a");
    put_u64(&mut bytes, pos.dims + 8, 0);
    let err = parse_err(bytes);
    assert!(
        matches!(err, GgufError::ZeroDim { ref tensor, ref dims } if tensor == "w.a" && dims == &[8, 0]),
        "{err:?}"
    );
}

#[test]
fn element_count_overflow() {
    let mut bytes = sample_bytes();
    let pos = info_pos(&bytes, "w.a");
    put_u64(&mut bytes, pos.dims + 8, 1 << 62); // 8 x 2^62 elements
    let err = parse_err(bytes);
    assert!(
        matches!(err, GgufError::ElementCountOverflow { ref tensor, .. } if tensor == "w.a"),
        "{err:?}"
    );

    // Fits u64 but not ggml's i64 element count.
    let mut bytes = sample_bytes();
    let pos = info_pos(&bytes, "w.a");
    put_u64(&mut bytes, pos.dims, 1 << 32);
    put_u64(&mut bytes, pos.dims + 8, 1 << 31);
    assert!(matches!(
        parse_err(bytes),
        GgufError::ElementCountOverflow { .. }
    ));

    // Element count fits, the byte count overflows.
    let mut bytes = sample_bytes();
    let pos = info_pos(&bytes, "w.a");
    put_u64(&mut bytes, pos.dims, 1 << 31);
    put_u64(&mut bytes, pos.dims + 8, (1 << 31) - 1);
    put_u32(&mut bytes, pos.dtype, GgmlType::F64.id());
    let err = parse_err(bytes);
    assert!(
        matches!(
            err,
            GgufError::ElementCountOverflow { .. } | GgufError::TensorOutOfBounds { .. }
        ),
        "{err:?}"
    );
}

#[test]
fn unknown_ggml_type() {
    for bad in [4, 5, 31, 36, 1000, u32::MAX] {
        let mut bytes = sample_bytes();
        let pos = info_pos(&bytes, "w.b");
        put_u32(&mut bytes, pos.dtype, bad);
        let err = parse_err(bytes);
        assert!(
            matches!(err, GgufError::UnknownTensorType { ref tensor, type_id } if tensor == "w.b" && type_id == bad),
            "{err:?}"
        );
        assert!(err.to_string().contains("wrong dtype"), "{err}");
    }
}

#[test]
fn row_not_block_multiple() {
    let mut bytes = sample_bytes();
    let pos = info_pos(&bytes, "w.b");
    put_u64(&mut bytes, pos.dims, 48);
    let err = parse_err(bytes);
    assert!(
        matches!(err, GgufError::RowNotBlockMultiple { ref tensor, row_len: 48, dtype: GgmlType::Q8_0, block_size: 32 }
            if tensor == "w.b"),
        "{err:?}"
    );
}

#[test]
fn alignment_not_power_of_two() {
    let mut w = sample_writer();
    w.set("general.alignment", Value::U32(32));
    let bytes = w.to_bytes();
    let pos = kv_pos(&bytes, "general.alignment");
    for bad in [48u32, 0, 3] {
        let mut bytes = bytes.clone();
        put_u32(&mut bytes, pos.value, bad);
        let err = parse_err(bytes);
        assert!(matches!(err, GgufError::BadAlignment { .. }), "{err:?}");
        assert!(err.to_string().contains(&format!("u32 {bad}")), "{err}");
    }

    let mut metadata = Metadata::new();
    metadata.insert("general.alignment", Value::from("32"));
    assert!(matches!(
        alignment_of(&metadata),
        Err(GgufError::BadAlignment { .. })
    ));
    metadata.insert("general.alignment", Value::U64(1 << 33));
    assert!(alignment_of(&metadata).is_err());
    metadata.insert("general.alignment", Value::I32(64));
    assert_eq!(alignment_of(&metadata).unwrap(), 64);
}

#[test]
fn misaligned_tensor_offset() {
    let mut bytes = sample_bytes();
    let pos = info_pos(&bytes, "w.b");
    put_u64(&mut bytes, pos.offset, 65);
    let err = parse_err(bytes);
    assert!(
        matches!(err, GgufError::MisalignedTensor { ref tensor, offset: 65, alignment: 32 } if tensor == "w.b"),
        "{err:?}"
    );
}

#[test]
fn tensor_data_outside_file() {
    let mut bytes = sample_bytes();
    let pos = info_pos(&bytes, "w.b");
    put_u64(&mut bytes, pos.offset, 1 << 40);
    let err = parse_err(bytes);
    assert!(
        matches!(err, GgufError::TensorOutOfBounds { ref tensor, .. } if tensor == "w.b"),
        "{err:?}"
    );

    // Offset + size overflows u64.
    let mut bytes = sample_bytes();
    let pos = info_pos(&bytes, "w.b");
    put_u64(&mut bytes, pos.offset, u64::MAX - 31);
    let err = parse_err(bytes);
    assert!(
        matches!(err, GgufError::TensorOutOfBounds { .. }),
        "{err:?}"
    );
}

#[test]
fn duplicate_tensor_names() {
    let mut bytes = sample_bytes();
    let pos = info_pos(&bytes, "w.b");
    bytes[pos.name + 2] = b'a';
    let err = parse_err(bytes);
    assert!(
        matches!(err, GgufError::DuplicateTensor { ref name } if name == "w.a"),
        "{err:?}"
    );
}

#[test]
fn duplicate_metadata_keys() {
    let mut bytes = sample_bytes();
    let pos = kv_pos(&bytes, "k.b");
    bytes[pos.key + 2] = b'a';
    let err = parse_err(bytes);
    assert!(
        matches!(err, GgufError::DuplicateKey { ref key } if key == "k.a"),
        "{err:?}"
    );
}

#[test]
fn missing_tensor_lookup() {
    let file = GgufFile::from_bytes(sample_bytes()).unwrap();
    let err = file.tensor("nope").unwrap_err();
    assert!(matches!(err, GgufError::MissingTensor(ref n) if n == "nope"));
    assert_eq!(err.to_string(), "tensor 'nope' not found in the GGUF file");
    assert!(!file.contains("nope"));
    assert!(file.tensor_info("nope").is_none());
    assert!(file.contains("w.b"));
}

#[test]
fn lookups_survive_edited_tensor_list() {
    let mut file = GgufFile::from_bytes(sample_bytes()).unwrap();
    file.tensors.remove(0);
    assert!(file.tensor_info("w.a").is_none());
    assert_eq!(file.tensor("w.b").unwrap().bytes.len(), 136);
    file.tensors[0].offset = 1 << 50;
    assert!(matches!(
        file.tensor("w.b"),
        Err(GgufError::TensorOutOfBounds { .. })
    ));
}

/// Every prefix of a valid file, and many random single-byte corruptions, must give an
/// error or a valid file, never a panic.
#[test]
fn never_panics_on_truncation_or_corruption() {
    let bytes = sample_bytes();
    let file = GgufFile::from_bytes(bytes.clone()).unwrap();
    let data_end = file.data_offset() + 64 + 136;
    for len in 0..bytes.len() {
        let result = GgufFile::from_bytes(bytes[..len].to_vec());
        if len < data_end {
            assert!(result.is_err(), "prefix of {len} bytes parsed");
        }
    }

    let mut rng = crate::rng::Rng::new(0x1234_5678_9abc_def0);
    let mut next = || rng.next_u64();
    for _ in 0..20_000 {
        let mut corrupt = bytes.clone();
        for _ in 0..1 + next() % 3 {
            let at = (next() % corrupt.len() as u64) as usize;
            corrupt[at] = next() as u8;
        }
        if let Ok(file) = GgufFile::from_bytes(corrupt) {
            // Whatever parsed must be usable without panics too.
            for info in &file.tensors {
                let view = file.tensor(&info.name).unwrap();
                let _ = view.to_f32();
            }
            for (_, v) in file.metadata.iter() {
                let _ = v.to_string();
            }
        }
    }
}
