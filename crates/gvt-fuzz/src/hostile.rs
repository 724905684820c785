//! The hostile files listed in issue 19, made from `assets/gvt-tiny.gguf` by editing its
//! metadata and tensors with the project's GGUF writer (no corpus files to keep).

use gvt_core::gguf::{GgmlType, GgufFile, GgufWriter, Metadata, Value};

use crate::gguf_mut::{Doc, GgufCase};

/// A named hostile input.
pub struct Case {
    pub name: &'static str,
    pub bytes: Vec<u8>,
}

struct Parts {
    md: Metadata,
    tensors: Vec<(String, Vec<u64>, GgmlType, Vec<u8>)>,
}

impl Parts {
    fn of(file: &GgufFile) -> Self {
        let tensors = file
            .tensors
            .iter()
            .map(|t| {
                let bytes = file.tensor(&t.name).expect("tiny tensor").bytes.to_vec();
                (t.name.clone(), t.dims.clone(), t.dtype, bytes)
            })
            .collect();
        Parts {
            md: file.metadata.clone(),
            tensors,
        }
    }

    fn tensor(&mut self, name: &str) -> &mut (String, Vec<u64>, GgmlType, Vec<u8>) {
        self.tensors
            .iter_mut()
            .find(|t| t.0 == name)
            .unwrap_or_else(|| panic!("the tiny model has no `{name}`"))
    }

    fn bytes(self) -> Vec<u8> {
        let mut w = GgufWriter::new();
        *w.metadata_mut() = self.md;
        for (name, dims, dtype, bytes) in self.tensors {
            w.add_raw_tensor(&name, &dims, dtype, bytes)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        w.try_to_bytes().expect("hostile case encodes")
    }
}

fn f32s(values: impl IntoIterator<Item = f32>) -> Vec<u8> {
    values.into_iter().flat_map(f32::to_le_bytes).collect()
}

/// Every case of the list, built from the tiny model's bytes.
pub fn cases(tiny_bytes: &[u8]) -> Vec<Case> {
    let tiny = GgufFile::from_bytes(tiny_bytes.to_vec()).expect("the tiny model parses");
    let edit = |f: &dyn Fn(&mut Parts)| {
        let mut p = Parts::of(&tiny);
        f(&mut p);
        p.bytes()
    };
    let set = |key: &'static str, v: Value| edit(&move |p: &mut Parts| p.md.insert(key, v.clone()));
    let more_tokens = |vocab_size: Option<u32>| {
        edit(&move |p: &mut Parts| {
            let mut tokens = p.md.get_str_array("tokenizer.ggml.tokens").unwrap().clone();
            (0..200).for_each(|i| tokens.push(&format!("extra{i}")));
            p.md.insert("tokenizer.ggml.tokens", Value::from(tokens));
            // User-defined (4): `encode` matches them in text, so they are reachable.
            let mut types = p.md.get_i32_array("tokenizer.ggml.token_type").unwrap();
            types.extend([4; 200]);
            p.md.insert("tokenizer.ggml.token_type", Value::from(types));
            match vocab_size {
                Some(n) => p.md.insert("llama.vocab_size", Value::U32(n)),
                None => {
                    p.md.remove("llama.vocab_size");
                }
            }
        })
    };
    let mut out = vec![
        Case {
            name: "tokenizer has 644 tokens, token_embd 444 rows, vocab_size 444",
            bytes: more_tokens(Some(444)),
        },
        Case {
            name: "tokenizer has 644 tokens, token_embd 444 rows, vocab_size 644",
            bytes: more_tokens(Some(644)),
        },
        Case {
            name: "tokenizer has 644 tokens, token_embd 444 rows, no vocab_size",
            bytes: more_tokens(None),
        },
        Case {
            name: "gvt.vision.image_size = 0",
            bytes: set("gvt.vision.image_size", Value::U32(0)),
        },
        Case {
            name: "llama.block_count = 0",
            bytes: set("llama.block_count", Value::U32(0)),
        },
        Case {
            name: "gvt.resampler.block_count = 0",
            bytes: set("gvt.resampler.block_count", Value::U32(0)),
        },
        Case {
            name: "gvt.resampler.latent_count = 1",
            bytes: set("gvt.resampler.latent_count", Value::U32(1)),
        },
        Case {
            name: "gvt.vision.image_size = 2048 with a matching position table",
            bytes: edit(&|p: &mut Parts| {
                p.md.insert("gvt.vision.image_size", Value::U32(2048));
                let tokens = 1 + (2048 / 16) * (2048 / 16);
                let t = p.tensor("v.pos_embd");
                t.1 = vec![128, tokens, 1];
                t.3 = f32s(std::iter::repeat_n(0.01, 128 * tokens as usize));
            }),
        },
        Case {
            name: "NaN and inf weights (f32 bias, position table, Q8_0 scales)",
            bytes: edit(&|p: &mut Parts| {
                let t = p.tensor("v.patch_embd.bias");
                let n = t.3.len() / 4;
                t.3 = f32s(std::iter::repeat_n(f32::NAN, n));
                let t = p.tensor("v.pos_embd");
                let n = t.3.len() / 4;
                t.3 = f32s((0..n).map(|i| if i % 2 == 0 { f32::INFINITY } else { 1.0 }));
                let t = p.tensor("token_embd.weight");
                assert_eq!(t.2, GgmlType::Q8_0);
                for block in t.3.chunks_mut(34) {
                    block[..2].copy_from_slice(&0x7E00u16.to_le_bytes());
                }
            }),
        },
        Case {
            name: "llama.attention.layer_norm_rms_epsilon = NaN",
            bytes: set(
                "llama.attention.layer_norm_rms_epsilon",
                Value::F32(f32::NAN),
            ),
        },
        Case {
            name: "llama.rope.freq_base = NaN",
            bytes: set("llama.rope.freq_base", Value::F32(f32::NAN)),
        },
        Case {
            name: "gvt.vision.layer_norm_epsilon = NaN",
            bytes: set("gvt.vision.layer_norm_epsilon", Value::F32(f32::NAN)),
        },
        Case {
            name: "gvt.vision.rope_theta = inf",
            bytes: set("gvt.vision.rope_theta", Value::F32(f32::INFINITY)),
        },
        Case {
            name: "gvt.vision.image_std = [0, 0, 0]",
            bytes: set("gvt.vision.image_std", Value::from(vec![0.0f32; 3])),
        },
    ];
    out.push(Case {
        name: "a 64 Mi-element u8 metadata array",
        bytes: huge_u8_array(tiny_bytes, 64 << 20),
    });
    out
}

/// The tiny model with metadata `key` set to `value`.
pub fn with_key(tiny_bytes: &[u8], key: &str, value: Value) -> Vec<u8> {
    let tiny = GgufFile::from_bytes(tiny_bytes.to_vec()).expect("the tiny model parses");
    let mut parts = Parts::of(&tiny);
    parts.md.insert(key, value);
    parts.bytes()
}

/// The tiny model with an extra `n`-element u8 array key (written raw: building it as
/// `Value`s would itself take 32 bytes per element).
pub fn huge_u8_array(tiny_bytes: &[u8], n: usize) -> Vec<u8> {
    let case = GgufCase::from_bytes(tiny_bytes);
    let mut doc: Doc = case.doc.clone().expect("the tiny model parses");
    let mut payload = 0u32.to_le_bytes().to_vec();
    payload.extend_from_slice(&(n as u64).to_le_bytes());
    payload.resize(12 + n, 1);
    doc.set("test.huge_u8_array", 9, payload);
    GgufCase {
        doc: Some(doc),
        ..case
    }
    .to_bytes()
}
