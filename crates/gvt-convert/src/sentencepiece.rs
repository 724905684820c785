//! A LLaMA tokenizer from Hugging Face's files: SentencePiece's `tokenizer.model` (a
//! protobuf `ModelProto`) and `tokenizer_config.json`, laid out as llama.cpp's
//! `tokenizer.ggml.*` keys (`model = "llama"`), the way its converter does.

use std::path::Path;

use gvt_core::gguf::{Metadata, StringArray, Value};
use prost::Message;

use crate::{ConvertError, Result};

/// The fields of sentencepiece's `ModelProto` a converter needs (sentencepiece_model.proto;
/// tags as there). prost skips every other field.
#[derive(Clone, PartialEq, Message)]
struct ModelProto {
    #[prost(message, repeated, tag = "1")]
    pieces: Vec<Piece>,
    #[prost(message, optional, tag = "2")]
    trainer_spec: Option<TrainerSpec>,
    #[prost(message, optional, tag = "3")]
    normalizer_spec: Option<NormalizerSpec>,
}

#[derive(Clone, PartialEq, Message)]
struct Piece {
    #[prost(string, optional, tag = "1")]
    piece: Option<String>,
    #[prost(float, optional, tag = "2")]
    score: Option<f32>,
    /// NORMAL 1, UNKNOWN 2, CONTROL 3, USER_DEFINED 4, BYTE 6, UNUSED 5: the same numbers
    /// as llama.cpp's token types.
    #[prost(int32, optional, tag = "3")]
    kind: Option<i32>,
}

#[derive(Clone, PartialEq, Message)]
struct TrainerSpec {
    /// UNIGRAM 1, BPE 2, WORD 3, CHAR 4.
    #[prost(int32, optional, tag = "3")]
    model_type: Option<i32>,
    #[prost(int32, optional, tag = "40")]
    unk_id: Option<i32>,
    #[prost(int32, optional, tag = "41")]
    bos_id: Option<i32>,
    #[prost(int32, optional, tag = "42")]
    eos_id: Option<i32>,
    #[prost(int32, optional, tag = "43")]
    pad_id: Option<i32>,
}

#[derive(Clone, PartialEq, Message)]
struct NormalizerSpec {
    #[prost(string, optional, tag = "1")]
    name: Option<String>,
    #[prost(bool, optional, tag = "3")]
    add_dummy_prefix: Option<bool>,
}

const TYPE_NORMAL: i32 = 1;
const TYPE_CONTROL: i32 = 3;
const TYPE_USER_DEFINED: i32 = 4;
const TYPE_UNUSED: i32 = 5;
const BPE: i32 = 2;

/// A vocabulary ready for GGUF.
#[derive(Debug, Clone, PartialEq)]
pub struct Vocab {
    pub tokens: Vec<String>,
    pub scores: Vec<f32>,
    pub types: Vec<i32>,
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    pub unk: Option<u32>,
    pub pad: Option<u32>,
    pub add_bos: bool,
    pub add_eos: bool,
    pub add_space_prefix: bool,
}

/// `tokenizer_config.json`: special tokens, BOS/EOS policy, the chat template. Every field
/// is optional.
#[derive(Debug, Default, serde::Deserialize)]
pub struct TokenizerConfig {
    add_bos_token: Option<bool>,
    add_eos_token: Option<bool>,
    bos_token: Option<TokenText>,
    eos_token: Option<TokenText>,
    #[serde(default)]
    added_tokens_decoder: std::collections::BTreeMap<String, AddedToken>,
    pub chat_template: Option<serde_json::Value>,
}

/// A special token as Hugging Face writes it: its text, or an object holding it.
#[derive(Debug, serde::Deserialize)]
#[serde(untagged)]
enum TokenText {
    Text(String),
    Object { content: String },
}

impl TokenText {
    fn text(&self) -> &str {
        match self {
            TokenText::Text(t) | TokenText::Object { content: t } => t,
        }
    }
}

#[derive(Debug, serde::Deserialize)]
struct AddedToken {
    content: String,
    #[serde(default)]
    special: bool,
}

/// Special token ids `config.json` sets, which take precedence over the tokenizer's.
#[derive(Debug, Default, Clone, Copy)]
pub struct SpecialIds {
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    pub pad: Option<u32>,
}

impl Vocab {
    /// Reads `dir/tokenizer.model`, then adds the tokens of `dir/added_tokens.json` and of
    /// `tokenizer_config.json` (in that order, as llama.cpp's converter does), and applies
    /// the special ids. Tokens with ids past `vocab_size` (the embedding's rows) are left
    /// out, as llama.cpp's converter leaves them; they are reported in `notes`.
    pub fn from_hf_dir(
        dir: &Path,
        config: &TokenizerConfig,
        ids: SpecialIds,
        vocab_size: usize,
        notes: &mut Vec<String>,
    ) -> Result<Self> {
        let model_path = dir.join("tokenizer.model");
        let bytes = crate::read_small(&model_path).map_err(|e| match e {
            ConvertError::Read { file, reason } => ConvertError::Read {
                file,
                reason: format!("{reason} (a LLaMA folder needs SentencePiece's tokenizer.model)"),
            },
            other => other,
        })?;
        let mut vocab = Self::from_model_proto(&bytes).map_err(|reason| ConvertError::Read {
            file: model_path.clone(),
            reason,
        })?;
        let added_path = dir.join("added_tokens.json");
        let mut added: Vec<(u32, AddedToken)> = Vec::new();
        if added_path.exists() {
            let map: std::collections::BTreeMap<String, u32> = crate::read_json(&added_path)?;
            added.extend(map.into_iter().map(|(content, id)| {
                let token = AddedToken {
                    content,
                    special: false,
                };
                (id, token)
            }));
        }
        for (id, token) in &config.added_tokens_decoder {
            let id = id.parse().map_err(|_| ConvertError::Invalid(format!(
                "tokenizer_config.json in {}: added_tokens_decoder key `{id}` is not a token id",
                dir.display()
            )))?;
            let token = AddedToken {
                content: token.content.clone(),
                special: token.special,
            };
            added.push((id, token));
        }
        vocab.add_tokens(added, vocab_size, notes);
        vocab.add_bos = config.add_bos_token.unwrap_or(vocab.add_bos);
        vocab.add_eos = config.add_eos_token.unwrap_or(vocab.add_eos);
        let by_text = |t: &Option<TokenText>| {
            let text = t.as_ref()?.text();
            vocab
                .tokens
                .iter()
                .position(|p| p == text)
                .map(|i| i as u32)
        };
        let (bos, eos) = (by_text(&config.bos_token), by_text(&config.eos_token));
        let n = vocab.tokens.len() as u32;
        let valid = |id: Option<u32>| id.filter(|&i| i < n);
        vocab.bos = valid(ids.bos).or(bos).or(vocab.bos);
        vocab.eos = valid(ids.eos).or(eos).or(vocab.eos);
        vocab.pad = valid(ids.pad).or(vocab.pad);
        Ok(vocab)
    }

    /// Parses a `tokenizer.model`. Only BPE models (LLaMA's kind) are accepted: llama.cpp's
    /// `llama` tokenizer, and ours, merge by score as BPE does.
    pub fn from_model_proto(bytes: &[u8]) -> std::result::Result<Self, String> {
        let model = ModelProto::decode(bytes)
            .map_err(|e| format!("not a SentencePiece model (protobuf: {e})"))?;
        let trainer = model.trainer_spec.unwrap_or_default();
        let model_type = trainer.model_type.unwrap_or(1);
        if model_type != BPE {
            return Err(format!(
                "SentencePiece model type {model_type} is not BPE (2); LLaMA tokenizers are BPE"
            ));
        }
        if model.pieces.is_empty() {
            return Err("the model has no pieces".into());
        }
        let mut tokens = Vec::with_capacity(model.pieces.len());
        let mut scores = Vec::with_capacity(model.pieces.len());
        let mut types = Vec::with_capacity(model.pieces.len());
        for (i, p) in model.pieces.into_iter().enumerate() {
            let kind = p.kind.unwrap_or(TYPE_NORMAL);
            if !(1..=6).contains(&kind) {
                return Err(format!("piece {i} has unknown type {kind}"));
            }
            tokens.push(p.piece.unwrap_or_default());
            scores.push(p.score.unwrap_or(0.0));
            types.push(kind);
        }
        let n = tokens.len();
        let id = |v: Option<i32>| {
            v.and_then(|v| u32::try_from(v).ok())
                .filter(|&v| (v as usize) < n)
        };
        let normalizer = model.normalizer_spec.unwrap_or_default();
        Ok(Vocab {
            bos: id(trainer.bos_id.or(Some(1))),
            eos: id(trainer.eos_id.or(Some(2))),
            unk: id(trainer.unk_id.or(Some(0))),
            pad: id(trainer.pad_id),
            tokens,
            scores,
            types,
            add_bos: true,
            add_eos: false,
            add_space_prefix: normalizer.add_dummy_prefix.unwrap_or(true),
        })
    }

    /// Adds tokens a Hugging Face config declares: one inside the vocabulary replaces the
    /// piece there and takes the added token's type, one past it extends the vocabulary
    /// (with `[PAD{i}]` tokens in any gap), one past `vocab_size` is left out.
    fn add_tokens(
        &mut self,
        added: Vec<(u32, AddedToken)>,
        vocab_size: usize,
        notes: &mut Vec<String>,
    ) {
        for (id, token) in added {
            let id = id as usize;
            if id >= vocab_size {
                notes.push(format!(
                    "added token {:?} (id {id}) left out: the embedding has {vocab_size} rows",
                    token.content
                ));
                continue;
            }
            let kind = if token.special {
                TYPE_CONTROL
            } else {
                TYPE_USER_DEFINED
            };
            if id >= self.tokens.len() {
                self.fit_to(id + 1);
            }
            self.tokens[id] = token.content;
            self.scores[id] = -1000.0;
            self.types[id] = kind;
        }
    }

    /// Pads the vocabulary to `rows` tokens (an embedding table larger than the tokenizer,
    /// as llama.cpp's converter does with `[PAD{i}]` tokens).
    pub fn fit_to(&mut self, rows: usize) {
        for i in self.tokens.len()..rows {
            self.tokens.push(format!("[PAD{i}]"));
            self.scores.push(-1000.0);
            self.types.push(TYPE_UNUSED);
        }
    }

    /// Writes llama.cpp's tokenizer keys.
    pub fn write_metadata(&self, md: &mut Metadata) {
        use gvt_core::tokenizer::{
            KEY_ADD_BOS, KEY_BOS, KEY_EOS, KEY_MODEL, KEY_PRE, KEY_TOKENS, KEY_TYPES,
        };
        md.insert(KEY_MODEL, "llama".into());
        md.insert(KEY_PRE, "default".into());
        md.insert(
            KEY_TOKENS,
            Value::from(self.tokens.iter().collect::<StringArray>()),
        );
        md.insert("tokenizer.ggml.scores", Value::from(self.scores.clone()));
        md.insert(KEY_TYPES, Value::from(self.types.clone()));
        let ids = [
            (KEY_BOS, self.bos),
            (KEY_EOS, self.eos),
            ("tokenizer.ggml.unknown_token_id", self.unk),
            ("tokenizer.ggml.padding_token_id", self.pad),
        ];
        for (key, id) in ids {
            if let Some(id) = id {
                md.insert(key, Value::U32(id));
            }
        }
        md.insert(KEY_ADD_BOS, Value::Bool(self.add_bos));
        md.insert("tokenizer.ggml.add_eos_token", Value::Bool(self.add_eos));
        md.insert(
            "tokenizer.ggml.add_space_prefix",
            Value::Bool(self.add_space_prefix),
        );
    }
}
