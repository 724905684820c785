//! Text <-> token ids for the LLM, from the tokenizer a GGUF file carries
//! (llama.cpp's `tokenizer.ggml.*` keys).
//!
//! Two models are supported:
//! - `gpt2`: byte-level BPE with a pre-tokenizer chosen by `tokenizer.ggml.pre`
//!   (SmolLM2, the embedded demo model, GPT-2/Llama-3 style vocabularies), in `bpe.rs`;
//! - `llama`: SentencePiece-style BPE with byte fallback (LLaMA-1/2, Vicuna, GVT-7B), in
//!   `spm.rs`.
//!
//! Special tokens (control and user-defined entries such as `<|im_start|>`) written in the
//! text become single ids, like llama.cpp with `parse_special = true`, so a chat prompt
//! built by [`Tokenizer::chat_prompt`] or [`Tokenizer::apply_chat_template`] (the file's
//! Jinja chat template, in `chat.rs`) can be encoded directly. What a user typed is encoded
//! as plain text inside it ([`Tokenizer::encode_with_literal`]).

mod bpe;
pub mod chat;
mod pretokenize;
mod spm;
mod unicode;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;

use crate::gguf::{GgufError, Metadata};

use bpe::Bpe;
pub use bpe::byte_to_char;
pub use chat::ChatMessage;
use chat::ChatTemplate;
pub use pretokenize::PreTokenizer;
use spm::Spm;

/// Why a tokenizer could not be built from GGUF metadata.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    /// A key the tokenizer cannot do without is absent.
    #[error(
        "GGUF metadata has no `{0}`: the file carries no (complete) tokenizer; \
         use a GGUF converted with its tokenizer, e.g. by llama.cpp's convert_hf_to_gguf.py"
    )]
    MissingKey(&'static str),
    /// `tokenizer.ggml.model` names a model this crate does not implement.
    #[error(
        "unsupported tokenizer model `{0}` (tokenizer.ggml.model): \
         supported are `gpt2` (byte-level BPE) and `llama` (SentencePiece BPE)"
    )]
    UnknownModel(String),
    /// `tokenizer.ggml.pre` names a pre-tokenizer this crate does not implement.
    #[error(
        "unsupported BPE pre-tokenizer `{0}` (tokenizer.ggml.pre); supported are: {supported}",
        supported = PreTokenizer::SUPPORTED
    )]
    UnsupportedPreTokenizer(String),
    /// An entry of `tokenizer.ggml.merges` is not two tokens separated by a space.
    #[error(
        "bad BPE merge #{index} in tokenizer.ggml.merges: {merge:?} is not two tokens \
         separated by a space"
    )]
    BadMerge {
        /// Position in the merges array (its rank).
        index: usize,
        /// The entry as stored.
        merge: String,
    },
    /// A special-token id key points outside the vocabulary.
    #[error("`{key}` = {id} is out of range: the vocabulary has {vocab_size} tokens")]
    TokenIdOutOfRange {
        /// The metadata key, e.g. `tokenizer.ggml.eos_token_id`.
        key: &'static str,
        /// The id as stored.
        id: u32,
        /// Number of entries in `tokenizer.ggml.tokens`.
        vocab_size: usize,
    },
    /// A per-token array does not have one entry per token.
    #[error("`{key}` has {len} entries but the vocabulary has {vocab_size} tokens")]
    LengthMismatch {
        /// The metadata key, e.g. `tokenizer.ggml.scores`.
        key: &'static str,
        /// Entries in that array.
        len: usize,
        /// Number of entries in `tokenizer.ggml.tokens`.
        vocab_size: usize,
    },
    /// `tokenizer.ggml.tokens` is empty.
    #[error("tokenizer.ggml.tokens is empty")]
    EmptyVocab,
    /// `tokenizer.chat_template` does not compile, or fails while rendering.
    #[error("`tokenizer.chat_template` is not a usable Jinja template: {0}")]
    ChatTemplate(String),
    /// The chat template called `raise_exception`: it does not accept the conversation.
    #[error("`tokenizer.chat_template` rejects the conversation: {0}")]
    ChatTemplateRejected(String),
    /// A conversation was to be formatted, but the file has no chat template.
    #[error(
        "the GGUF has no `tokenizer.chat_template`: it does not say how to format a conversation"
    )]
    NoChatTemplate,
    /// A key is present but has the wrong type.
    #[error(transparent)]
    Gguf(#[from] GgufError),
}

pub const KEY_MODEL: &str = "tokenizer.ggml.model";
pub const KEY_PRE: &str = "tokenizer.ggml.pre";
pub const KEY_TOKENS: &str = "tokenizer.ggml.tokens";
pub const KEY_TYPES: &str = "tokenizer.ggml.token_type";
const KEY_SCORES: &str = "tokenizer.ggml.scores";
pub const KEY_MERGES: &str = "tokenizer.ggml.merges";
pub const KEY_BOS: &str = "tokenizer.ggml.bos_token_id";
pub const KEY_EOS: &str = "tokenizer.ggml.eos_token_id";
const KEY_UNK: &str = "tokenizer.ggml.unknown_token_id";
const KEY_EOT: &str = "tokenizer.ggml.eot_token_id";
pub const KEY_ADD_BOS: &str = "tokenizer.ggml.add_bos_token";
const KEY_ADD_SPACE_PREFIX: &str = "tokenizer.ggml.add_space_prefix";
pub const KEY_CHAT_TEMPLATE: &str = "tokenizer.chat_template";

/// Texts of tokens that end an assistant turn in the common chat formats.
const END_OF_TURN_TEXTS: [&str; 5] = [
    "<|im_end|>",
    "<|endoftext|>",
    "<|eot_id|>",
    "</s>",
    "<end_of_turn>",
];

/// llama.cpp's `llama_token_type` (`tokenizer.ggml.token_type` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenType {
    Undefined,
    Normal,
    Unknown,
    Control,
    UserDefined,
    Unused,
    Byte,
}

impl TokenType {
    fn from_gguf(v: i32) -> Self {
        match v {
            1 => Self::Normal,
            2 => Self::Unknown,
            3 => Self::Control,
            4 => Self::UserDefined,
            5 => Self::Unused,
            6 => Self::Byte,
            _ => Self::Undefined,
        }
    }

    /// Whether text spelling this token is matched as the token itself before
    /// tokenization (llama.cpp's `cache_special_tokens`).
    fn is_special(self) -> bool {
        matches!(self, Self::Control | Self::UserDefined | Self::Unknown)
    }

    /// Whether the token's text is shown verbatim rather than decoded as model text.
    fn renders_verbatim(self) -> bool {
        matches!(self, Self::Control | Self::Unknown)
    }
}

/// The vocabulary shared by both models.
#[derive(Clone)]
pub(crate) struct Vocab {
    tokens: Vec<String>,
    types: Vec<TokenType>,
    scores: Vec<f32>,
    ids: HashMap<String, u32>,
    /// Bytes of the longest token's text.
    max_token_bytes: usize,
}

impl Vocab {
    /// The id of the entry spelled `text`.
    pub(crate) fn id(&self, text: &str) -> Option<u32> {
        self.ids.get(text).copied()
    }

    /// SentencePiece score of `id` (0 when the file has none).
    pub(crate) fn score(&self, id: u32) -> f32 {
        self.scores.get(id as usize).copied().unwrap_or(0.0)
    }
}

#[derive(Debug, Clone)]
enum Model {
    Bpe(Bpe),
    Spm(Spm),
}

/// Finds special tokens in text: leftmost match, longest at that position (what Hugging
/// Face's added-token matcher does; llama.cpp agrees on real vocabularies).
#[derive(Debug, Clone)]
struct SpecialMatcher {
    /// Candidate ids indexed by their text's first byte, longest text first. Most bytes
    /// of ordinary text start no special token, so the scan costs one index per byte.
    by_first_byte: Vec<Vec<u32>>,
}

impl SpecialMatcher {
    fn new(vocab: &Vocab) -> Self {
        let mut by_first_byte = vec![Vec::new(); 256];
        for (id, (text, ty)) in vocab.tokens.iter().zip(&vocab.types).enumerate() {
            if let (true, Some(&first)) = (ty.is_special(), text.as_bytes().first()) {
                by_first_byte[usize::from(first)].push(id as u32);
            }
        }
        for ids in &mut by_first_byte {
            ids.sort_by_key(|&id| (std::cmp::Reverse(vocab.tokens[id as usize].len()), id));
        }
        Self { by_first_byte }
    }

    /// The special token starting at byte `at` of `text`, if any.
    fn match_at(&self, vocab: &Vocab, text: &[u8], at: usize) -> Option<u32> {
        self.by_first_byte[usize::from(text[at])]
            .iter()
            .copied()
            .find(|&id| text[at..].starts_with(vocab.tokens[id as usize].as_bytes()))
    }
}

/// A tokenizer loaded from GGUF metadata. Cheap to share: all methods take `&self`.
#[derive(Clone)]
pub struct Tokenizer {
    vocab: Vocab,
    model: Model,
    specials: SpecialMatcher,
    bos: Option<u32>,
    eos: Option<u32>,
    eot: Option<u32>,
    add_bos: bool,
    /// SentencePiece dummy prefix: a space in front of the text and of every text run
    /// that follows a special token.
    add_space_prefix: bool,
    /// `None` when the file has no (or an empty) chat template.
    chat: Option<ChatTemplate>,
}

impl fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let model = match &self.model {
            Model::Bpe(_) => "gpt2",
            Model::Spm(_) => "llama",
        };
        f.debug_struct("Tokenizer")
            .field("model", &model)
            .field("vocab_size", &self.vocab.tokens.len())
            .field("bos", &self.bos)
            .field("eos", &self.eos)
            .field("add_bos", &self.add_bos)
            .field("chat", &self.chat)
            .finish_non_exhaustive()
    }
}

/// Reads an optional special-token id and checks it against the vocabulary.
fn opt_id(
    md: &Metadata,
    key: &'static str,
    vocab_size: usize,
) -> Result<Option<u32>, TokenizerError> {
    match md.opt_u32(key)? {
        Some(id) if id as usize >= vocab_size => Err(TokenizerError::TokenIdOutOfRange {
            key,
            id,
            vocab_size,
        }),
        other => Ok(other),
    }
}

/// Fails with [`TokenizerError::MissingKey`] (which says what the key is for) rather
/// than the generic GGUF error when a required key is absent.
fn require(md: &Metadata, key: &'static str) -> Result<(), TokenizerError> {
    if md.contains_key(key) {
        Ok(())
    } else {
        Err(TokenizerError::MissingKey(key))
    }
}

impl Tokenizer {
    /// Builds the tokenizer described by the `tokenizer.*` keys of `md`.
    ///
    /// Defaults follow llama.cpp: `llama` models add BOS and a dummy-prefix space and use
    /// ids 1/2/0 for BOS/EOS/UNK when the keys are absent; `gpt2` models add neither
    /// (unless the pre-tokenizer is Llama 3's, which adds BOS).
    pub fn from_metadata(md: &Metadata) -> Result<Self, TokenizerError> {
        require(md, KEY_MODEL)?;
        let model_name = md.get_str(KEY_MODEL)?;
        let is_spm = match model_name {
            "gpt2" => false,
            "llama" => true,
            other => return Err(TokenizerError::UnknownModel(other.to_string())),
        };

        require(md, KEY_TOKENS)?;
        let tokens: Vec<String> = md
            .get_str_array(KEY_TOKENS)?
            .into_iter()
            .map(str::to_string)
            .collect();
        let n = tokens.len();
        if n == 0 {
            return Err(TokenizerError::EmptyVocab);
        }
        // Without types every entry is ordinary text (BOS/EOS are fixed up below).
        let mut types: Vec<TokenType> = if md.contains_key(KEY_TYPES) {
            md.get_i32_array(KEY_TYPES)?
                .into_iter()
                .map(TokenType::from_gguf)
                .collect()
        } else {
            vec![TokenType::Normal; n]
        };
        if types.len() != n {
            return Err(TokenizerError::LengthMismatch {
                key: KEY_TYPES,
                len: types.len(),
                vocab_size: n,
            });
        }
        // Only SentencePiece uses scores; BPE ranks come from the merges' order.
        let scores = if md.contains_key(KEY_SCORES) {
            md.get_f32_array(KEY_SCORES)?
        } else {
            Vec::new()
        };
        if !scores.is_empty() && scores.len() != n {
            return Err(TokenizerError::LengthMismatch {
                key: KEY_SCORES,
                len: scores.len(),
                vocab_size: n,
            });
        }

        // llama.cpp's defaults for SentencePiece vocabularies (LLaMA's <s>, </s>, <unk>);
        // byte-level BPE vocabularies have no conventional ids.
        let (default_bos, default_eos, default_unk) = if is_spm {
            (Some(1), Some(2), Some(0))
        } else {
            (None, None, None)
        };
        let in_range = |id: Option<u32>| id.filter(|&id| (id as usize) < n);
        let bos = opt_id(md, KEY_BOS, n)?.or(in_range(default_bos));
        let eos = opt_id(md, KEY_EOS, n)?.or(in_range(default_eos));
        let unk = opt_id(md, KEY_UNK, n)?.or(in_range(default_unk));
        let mut eot = opt_id(md, KEY_EOT, n)?;

        // Token strings can repeat in broken vocabularies; the first id wins.
        let mut ids = HashMap::with_capacity(n);
        for (id, text) in tokens.iter().enumerate() {
            ids.entry(text.clone()).or_insert(id as u32);
        }

        // Like llama.cpp: end-of-turn tokens are control tokens even where the converter
        // forgot to mark them (so they are never split into text pieces), and the first
        // one found serves as EOT when the file names none.
        for text in END_OF_TURN_TEXTS {
            if let Some(&id) = ids.get(text) {
                let ty = &mut types[id as usize];
                // "</s>" is left alone: llama.cpp does not force it, and in byte-level
                // vocabularies it can be ordinary (HTML-like) text.
                if matches!(ty, TokenType::Normal | TokenType::Undefined) && text != "</s>" {
                    *ty = TokenType::Control;
                }
                eot = eot.or(Some(id));
            }
        }
        // BOS/EOS are control tokens whatever the type array says (or when it is absent).
        for id in [bos, eos].into_iter().flatten() {
            let ty = &mut types[id as usize];
            if matches!(ty, TokenType::Normal | TokenType::Undefined) {
                *ty = TokenType::Control;
            }
        }

        let vocab = Vocab {
            max_token_bytes: tokens.iter().map(String::len).max().unwrap_or(0),
            tokens,
            types,
            scores,
            ids,
        };

        let pre_name = md.opt_str(KEY_PRE)?;
        let (model, default_add_bos) = if is_spm {
            (Model::Spm(Spm::new(&vocab, unk)), true)
        } else {
            let pre = PreTokenizer::from_gguf_name(pre_name).ok_or_else(|| {
                TokenizerError::UnsupportedPreTokenizer(pre_name.unwrap_or_default().to_string())
            })?;
            require(md, KEY_MERGES)?;
            let merges: Vec<&str> = md.get_str_array(KEY_MERGES)?.iter().collect();
            let bpe = Bpe::new(&vocab, &merges, pre, unk)?;
            (Model::Bpe(bpe), pre == PreTokenizer::Llama3)
        };
        let add_bos = md.opt_bool(KEY_ADD_BOS)?.unwrap_or(default_add_bos);
        // Only SentencePiece tokenization has a dummy prefix (llama.cpp ignores the key
        // for BPE, whose pre-tokenizer keeps spaces itself).
        let add_space_prefix = is_spm && md.opt_bool(KEY_ADD_SPACE_PREFIX)?.unwrap_or(true);
        let token_text = |id: Option<u32>| id.map(|id| vocab.tokens[id as usize].as_str());
        let chat = match md.opt_str(KEY_CHAT_TEMPLATE)? {
            Some(source) if !source.trim().is_empty() => Some(ChatTemplate::new(
                source,
                token_text(bos),
                token_text(eos),
                add_bos,
            )?),
            _ => None,
        };
        let specials = SpecialMatcher::new(&vocab);

        Ok(Self {
            vocab,
            model,
            specials,
            bos,
            eos,
            eot,
            add_bos,
            add_space_prefix,
            chat,
        })
    }

    /// Token ids of `text`, with BOS in front when `add_bos` is set (and the model has
    /// one). Special tokens spelled out in `text` (e.g. `<|im_start|>`) become their ids:
    /// use it for text the program wrote (a rendered chat template), not for what a user
    /// typed (see [`encode_with_literal`](Self::encode_with_literal)).
    pub fn encode(&self, text: &str, add_bos: bool) -> Vec<u32> {
        self.encode_with_literal(text, add_bos, 0..0)
    }

    /// Like [`encode`](Self::encode), but the bytes of `text` in `literal` are plain text:
    /// a special token's spelling there (a user writing `<|im_start|>` to fake a turn) is
    /// tokenized as ordinary characters, and no special token may reach into it from
    /// outside, as llama.cpp treats user input. Only the chat template inserts control
    /// tokens. Text outside `literal` encodes exactly as [`encode`](Self::encode) does.
    pub fn encode_with_literal(
        &self,
        text: &str,
        add_bos: bool,
        literal: std::ops::Range<usize>,
    ) -> Vec<u32> {
        let mut out = Vec::with_capacity(text.len() / 3 + 2);
        if add_bos {
            out.extend(self.bos);
        }
        let bytes = text.as_bytes();
        // Text runs between special tokens are tokenized separately. A SentencePiece run
        // that starts the text or follows a special token gets the dummy-prefix space.
        let mut run_start = 0;
        let mut after_special = true;
        let mut i = 0;
        while i < bytes.len() {
            // A match can only start at a char boundary: token texts are valid UTF-8 and
            // so never start with a continuation byte.
            let special = self.specials.match_at(&self.vocab, bytes, i).filter(|&id| {
                let end = i + self.vocab.tokens[id as usize].len();
                end <= literal.start || i >= literal.end
            });
            let Some(id) = special else {
                i += 1;
                continue;
            };
            if run_start < i {
                self.encode_run(&text[run_start..i], after_special, &mut out);
            }
            out.push(id);
            i += self.vocab.tokens[id as usize].len();
            run_start = i;
            after_special = true;
        }
        if run_start < bytes.len() {
            self.encode_run(&text[run_start..], after_special, &mut out);
        }
        out
    }

    fn encode_run(&self, text: &str, after_special: bool, out: &mut Vec<u32>) {
        match &self.model {
            Model::Bpe(bpe) => bpe.encode(&self.vocab, text, out),
            Model::Spm(spm) => spm.encode(
                &self.vocab,
                text,
                self.add_space_prefix && after_special,
                out,
            ),
        }
    }

    /// The text of `ids`, with invalid UTF-8 replaced by U+FFFD. Special tokens appear as
    /// their text (`<|im_end|>`); unknown ids are skipped. For SentencePiece models the
    /// dummy-prefix space that encoding adds is removed again, so
    /// `decode(&encode(s, false)) == s`.
    pub fn decode(&self, ids: &[u32]) -> String {
        let mut bytes = Vec::new();
        let mut at_run_start = true;
        for &id in ids {
            self.append_decoded(id, &mut at_run_start, &mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Appends the decoded bytes of `id`, stripping the SentencePiece dummy-prefix space
    /// from the first text token of a run (mirror image of [`encode`](Self::encode)).
    fn append_decoded(&self, id: u32, at_run_start: &mut bool, out: &mut Vec<u8>) {
        let Some(&ty) = self.vocab.types.get(id as usize) else {
            return;
        };
        let start = out.len();
        self.append_token_bytes(id, out);
        if ty.is_special() {
            *at_run_start = true;
            return;
        }
        if std::mem::take(at_run_start) && self.add_space_prefix && out.get(start) == Some(&b' ') {
            out.remove(start);
        }
    }

    /// Raw bytes of one token, as they appear in decoded text (no dummy-prefix handling).
    /// A byte-level or byte-fallback token may be only part of a UTF-8 character; see
    /// [`StreamDecoder`] for incremental decoding. Empty for ids outside the vocabulary.
    pub fn token_bytes(&self, id: u32) -> Vec<u8> {
        let mut out = Vec::new();
        self.append_token_bytes(id, &mut out);
        out
    }

    fn append_token_bytes(&self, id: u32, out: &mut Vec<u8>) {
        let (Some(text), Some(&ty)) = (
            self.vocab.tokens.get(id as usize),
            self.vocab.types.get(id as usize),
        ) else {
            return;
        };
        if ty.renders_verbatim() {
            out.extend_from_slice(text.as_bytes());
            return;
        }
        match &self.model {
            Model::Bpe(_) => {
                // Added (user-defined) tokens are stored as plain text by the converters.
                if ty == TokenType::UserDefined {
                    out.extend_from_slice(text.as_bytes());
                    return;
                }
                for c in text.chars() {
                    match bpe::char_to_byte(c) {
                        Some(b) => out.push(b),
                        // Not byte-level spelled: keep the character itself.
                        None => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
                    }
                }
            }
            Model::Spm(_) => {
                if ty == TokenType::Byte
                    && let Some(b) = parse_byte_token(text)
                {
                    out.push(b);
                    return;
                }
                for c in text.chars() {
                    if c == spm::SPACE {
                        out.push(b' ');
                    } else {
                        out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                    }
                }
            }
        }
    }

    /// The vocabulary entry of `id` as stored in the file (e.g. "Ġthe", "▁the", "<0x0A>").
    pub fn token_str(&self, id: u32) -> Option<&str> {
        self.vocab.tokens.get(id as usize).map(String::as_str)
    }

    /// The id of the vocabulary entry spelled exactly `text`.
    pub fn token_id(&self, text: &str) -> Option<u32> {
        self.vocab.id(text)
    }

    /// Number of vocabulary entries.
    pub fn vocab_size(&self) -> usize {
        self.vocab.tokens.len()
    }

    /// Bytes of the longest token's text. No token stands for more bytes of input than its
    /// own text has (byte-level BPE spells each byte with one or two, SentencePiece a space
    /// with three), so text longer than `n * max_token_bytes()` encodes to more than `n`
    /// tokens.
    pub fn max_token_bytes(&self) -> usize {
        self.vocab.max_token_bytes
    }

    /// Beginning-of-sequence id.
    pub fn bos(&self) -> Option<u32> {
        self.bos
    }

    /// End-of-sequence id.
    pub fn eos(&self) -> Option<u32> {
        self.eos
    }

    /// Whether prompts should start with BOS (`tokenizer.ggml.add_bos_token`, else
    /// llama.cpp's default for the model type).
    pub fn add_bos(&self) -> bool {
        self.add_bos && self.bos.is_some()
    }

    /// Ids that end generation: EOS, the file's EOT, and the end-of-turn tokens
    /// (`<|im_end|>`, `<|endoftext|>`, `<|eot_id|>`, `</s>`, `<end_of_turn>`) present in
    /// the vocabulary. No duplicates.
    pub fn stop_tokens(&self) -> Vec<u32> {
        let mut stops = Vec::new();
        let candidates = [self.eos, self.eot]
            .into_iter()
            .flatten()
            .chain(END_OF_TURN_TEXTS.iter().filter_map(|t| self.vocab.id(t)));
        for id in candidates {
            if !stops.contains(&id) {
                stops.push(id);
            }
        }
        stops
    }

    /// `messages` formatted by the file's chat template (`tokenizer.chat_template`, rendered
    /// as Hugging Face transformers renders it), followed by the opening of the assistant's
    /// turn when `add_generation_prompt` is set.
    ///
    /// When the tokenizer adds BOS itself ([`add_bos`](Self::add_bos)), a BOS text that the
    /// template writes at the very start is left out, so `encode(&text, tok.add_bos())` has
    /// one BOS (as llama.cpp does); BOS texts further in (Llama 2 writes one per turn) stay.
    /// Fails when the file has no template, or the template refuses the conversation
    /// (`raise_exception`, e.g. for roles that do not alternate).
    pub fn apply_chat_template(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
    ) -> Result<String, TokenizerError> {
        self.chat
            .as_ref()
            .ok_or(TokenizerError::NoChatTemplate)?
            .render(messages, add_generation_prompt)
    }

    /// The prompt for one user turn, ready for the assistant's answer:
    /// [`apply_chat_template`](Self::apply_chat_template) of `user` alone (so a template's
    /// default system turn is included). Without a chat template it is `user` unchanged.
    /// BOS is not part of the text; encode with `encode(&prompt, tok.add_bos())`.
    ///
    /// Loading checked that the template renders a user turn, so this cannot fail unless the
    /// template refuses this particular text with `raise_exception`; the prompt is then
    /// `user` unchanged, as for a file without a template, so a question still gets an
    /// answer.
    pub fn chat_prompt(&self, user: &str) -> String {
        self.apply_chat_template(&[ChatMessage::user(user)], true)
            .unwrap_or_else(|_| user.to_string())
    }
}

/// Parses a SentencePiece byte token `<0xXX>`.
fn parse_byte_token(text: &str) -> Option<u8> {
    let hex = text.strip_prefix("<0x")?.strip_suffix('>')?;
    if hex.len() != 2 {
        return None;
    }
    u8::from_str_radix(hex, 16).ok()
}

/// Incremental decoding for streaming generated text: feed ids one at a time and get
/// back the text they complete. A multi-byte character split over several tokens is held
/// back until it is complete, so every returned piece is valid text and the pieces
/// concatenate to [`Tokenizer::decode`] of all ids.
#[derive(Debug, Clone)]
pub struct StreamDecoder {
    pending: Vec<u8>,
    at_run_start: bool,
}

impl Default for StreamDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl StreamDecoder {
    /// A decoder at the start of a text.
    pub fn new() -> Self {
        Self {
            pending: Vec::new(),
            at_run_start: true,
        }
    }

    /// Adds `id`; returns the newly completed text (possibly empty).
    pub fn push(&mut self, tok: &Tokenizer, id: u32) -> String {
        tok.append_decoded(id, &mut self.at_run_start, &mut self.pending);
        let mut text = String::new();
        loop {
            match std::str::from_utf8(&self.pending) {
                Ok(s) => {
                    text.push_str(s);
                    self.pending.clear();
                    return text;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    // Bytes up to `valid` are UTF-8 by the error's own account, so this
                    // borrows without replacing anything.
                    text.push_str(&String::from_utf8_lossy(&self.pending[..valid]));
                    match e.error_len() {
                        // Incomplete sequence at the end: wait for more bytes.
                        None => {
                            self.pending.drain(..valid);
                            return text;
                        }
                        // Invalid bytes: replaced, as `decode` does.
                        Some(bad) => {
                            text.push(char::REPLACEMENT_CHARACTER);
                            self.pending.drain(..valid + bad);
                        }
                    }
                }
            }
        }
    }

    /// Flushes whatever is held back (an incomplete character becomes U+FFFD) and resets
    /// the decoder for a new text.
    pub fn finish(&mut self) -> String {
        let text = String::from_utf8_lossy(&self.pending).into_owned();
        *self = Self::new();
        text
    }
}
