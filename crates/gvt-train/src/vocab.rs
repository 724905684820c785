//! Training a small GPT-2 style byte-level BPE vocabulary, for models this crate trains
//! itself (the tiny GVT model learns its own few-hundred-token vocabulary from the scene
//! questions and answers instead of carrying a 49k-entry one it would barely use).
//!
//! The result is written with llama.cpp's `tokenizer.ggml.*` keys, so
//! [`Tokenizer::from_metadata`] loads it like any converted GGUF. Training and encoding
//! must cut text the same way, so the trainer splits its corpus with the very
//! pre-tokenizer the runtime picks for the chosen `tokenizer.ggml.pre`, and cuts out
//! special tokens first as [`Tokenizer::encode`] does.
//!
//! The algorithm is the classic one (Sennrich et al.; Hugging Face `tokenizers`'
//! `BpeTrainer`): count the pre-tokenized words, then repeatedly merge the most frequent
//! adjacent pair of symbols over all words, ties going to the pair with the smallest
//! (left id, right id). Pair counts are updated incrementally from the words that contain
//! the merged pair, and a max-heap with lazy re-checking finds the next best pair, so a
//! merge costs time in proportion to the words it touches, not to the corpus.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use gvt_core::gguf::{Metadata, StringArray, Value};

use gvt_core::tokenizer::{
    KEY_ADD_BOS, KEY_BOS, KEY_CHAT_TEMPLATE, KEY_EOS, KEY_MERGES, KEY_MODEL, KEY_PRE, KEY_TOKENS,
    KEY_TYPES, PreTokenizer, Tokenizer, TokenizerError, byte_to_char,
};

/// llama.cpp's key for the padding token id.
const KEY_PADDING: &str = "tokenizer.ggml.padding_token_id";

/// `tokenizer.ggml.token_type` of ordinary text tokens (llama.cpp's `NORMAL`).
const TYPE_NORMAL: i32 = 1;
/// `tokenizer.ggml.token_type` of special tokens (llama.cpp's `CONTROL`).
const TYPE_CONTROL: i32 = 3;

/// ChatML's turn opener.
pub const IM_START: &str = "<|im_start|>";
/// ChatML's turn closer; the default end-of-sequence token.
pub const IM_END: &str = "<|im_end|>";
/// GPT-2's document separator; the default padding token.
pub const END_OF_TEXT: &str = "<|endoftext|>";

/// The default special tokens, in SmolLM2's order (ids 0, 1, 2).
pub const DEFAULT_SPECIAL_TOKENS: [&str; 3] = [END_OF_TEXT, IM_START, IM_END];

/// The chat template written when the vocabulary has [`IM_START`] and [`IM_END`]: plain
/// ChatML with no default system message. [`Tokenizer::chat_prompt`] renders it as
/// `<|im_start|>user\n{q}<|im_end|>\n<|im_start|>assistant\n`; a tiny model trained on
/// bare questions must not get a system turn it never saw.
pub const CHATML_TEMPLATE: &str = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

/// Why a vocabulary cannot be trained with the settings given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrainError {
    /// The vocabulary cannot even hold the byte tokens and the special tokens.
    #[error(
        "vocabulary size {vocab_size} is too small: the 256 byte tokens and {specials} \
         special tokens need at least {minimum}"
    )]
    VocabTooSmall {
        /// The size asked for.
        vocab_size: usize,
        /// Number of special tokens.
        specials: usize,
        /// 256 + the number of special tokens.
        minimum: usize,
    },
    /// The `tokenizer.ggml.pre` name is not one the runtime tokenizer implements.
    #[error(
        "unsupported BPE pre-tokenizer `{0}`; supported are: {supported}",
        supported = PreTokenizer::SUPPORTED
    )]
    UnsupportedPreTokenizer(String),
    /// A special token is empty, repeated, or spelled like a byte token.
    #[error("special token {token:?} {reason}")]
    BadSpecialToken {
        /// The token as given.
        token: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The BOS, EOS or padding token is not among the special tokens.
    #[error("the {role} token {token:?} is not one of the special tokens {specials:?}")]
    RoleNotSpecial {
        /// "BOS", "EOS" or "padding".
        role: &'static str,
        /// The token named for that role.
        token: String,
        /// The special tokens configured.
        specials: Vec<String>,
    },
}

/// Settings for training a byte-level BPE vocabulary; build with [`BpeTrainer::new`] and
/// the setters, then call [`train`](Self::train).
///
/// The vocabulary is laid out as: the special tokens (ids `0..k`, control tokens, like
/// SmolLM2's), the 256 byte tokens in byte order (id `k + byte`, spelled through GPT-2's
/// `bytes_to_unicode`, so any text can be encoded), then one token per merge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BpeTrainer {
    vocab_size: usize,
    special_tokens: Vec<String>,
    pre: String,
    min_frequency: u32,
    bos: Option<String>,
    eos: String,
    padding: String,
}

impl BpeTrainer {
    /// A trainer for at most `vocab_size` tokens (special and byte tokens included), with
    /// the defaults: special tokens [`DEFAULT_SPECIAL_TOKENS`], pre-tokenizer `"smollm"`
    /// (GPT-2's expression with every digit on its own, so counts are single tokens),
    /// minimum pair frequency 2, BOS `<|im_start|>` and EOS `<|im_end|>` as in
    /// SmolLM2-Instruct, padding `<|endoftext|>` (distinct from EOS, so padding and a real
    /// end of turn can be told apart when masking a loss).
    pub fn new(vocab_size: usize) -> Self {
        Self {
            vocab_size,
            special_tokens: DEFAULT_SPECIAL_TOKENS.map(str::to_string).to_vec(),
            pre: "smollm".to_string(),
            min_frequency: 2,
            bos: Some(IM_START.to_string()),
            eos: IM_END.to_string(),
            padding: END_OF_TEXT.to_string(),
        }
    }

    /// The maximal vocabulary size, special and byte tokens included.
    pub fn vocab_size(mut self, vocab_size: usize) -> Self {
        self.vocab_size = vocab_size;
        self
    }

    /// The special tokens, in id order (they get ids `0..k`). Text that spells one is cut
    /// out of the corpus before counting, as encoding does.
    pub fn special_tokens<I, S>(mut self, tokens: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.special_tokens = tokens.into_iter().map(Into::into).collect();
        self
    }

    /// The `tokenizer.ggml.pre` name whose pre-tokenizer splits the corpus: `"smollm"`
    /// (the default), `"default"` (GPT-2), or any other name the runtime supports.
    pub fn pre_tokenizer(mut self, name: &str) -> Self {
        self.pre = name.to_string();
        self
    }

    /// Merging stops once no pair occurs at least this often (counted over the corpus,
    /// repeats included); 0 and 1 both mean "any pair that occurs".
    pub fn min_frequency(mut self, min_frequency: u32) -> Self {
        self.min_frequency = min_frequency;
        self
    }

    /// The special token written as `tokenizer.ggml.bos_token_id`, or none.
    pub fn bos_token(mut self, token: Option<&str>) -> Self {
        self.bos = token.map(str::to_string);
        self
    }

    /// The special token written as `tokenizer.ggml.eos_token_id`.
    pub fn eos_token(mut self, token: &str) -> Self {
        self.eos = token.to_string();
        self
    }

    /// The special token written as `tokenizer.ggml.padding_token_id`.
    pub fn padding_token(mut self, token: &str) -> Self {
        self.padding = token.to_string();
        self
    }

    /// Trains on `corpus` (each item one text, e.g. a question or an answer).
    ///
    /// The result has exactly `vocab_size` tokens unless the corpus runs out of pairs that
    /// occur at least `min_frequency` times first; an empty corpus gives just the special
    /// and byte tokens. The same settings and corpus (in any order) always give the same
    /// vocabulary.
    pub fn train<'a>(
        &self,
        corpus: impl IntoIterator<Item = &'a str>,
    ) -> Result<TrainedVocab, TrainError> {
        self.train_words(corpus).map(|(vocab, _)| vocab)
    }

    /// [`train`](Self::train), also returning every distinct pre-tokenized word of the
    /// corpus with the ids training split it into.
    fn train_words<'a>(
        &self,
        corpus: impl IntoIterator<Item = &'a str>,
    ) -> Result<(TrainedVocab, Vec<Segmented<'a>>), TrainError> {
        let pre = PreTokenizer::from_gguf_name(Some(&self.pre))
            .ok_or_else(|| TrainError::UnsupportedPreTokenizer(self.pre.clone()))?;
        self.check_special_tokens()?;
        let n_special = self.special_tokens.len();
        let minimum = 256 + n_special;
        if self.vocab_size < minimum {
            return Err(TrainError::VocabTooSmall {
                vocab_size: self.vocab_size,
                specials: n_special,
                minimum,
            });
        }
        let bos = self
            .bos
            .as_deref()
            .map(|t| self.special_id("BOS", t))
            .transpose()?;
        let eos = self.special_id("EOS", &self.eos)?;
        let padding = self.special_id("padding", &self.padding)?;

        let mut tokens: Vec<String> = self.special_tokens.clone();
        tokens.extend((0..=255u8).map(|b| byte_to_char(b).to_string()));
        let mut ids: HashMap<String, u32> = tokens
            .iter()
            .enumerate()
            .map(|(id, t)| (t.clone(), id as u32))
            .collect();

        let counts = count_words(corpus, pre, &self.special_tokens);
        let mut words: Vec<(&'a str, u64)> = counts.into_iter().collect();
        words.sort_unstable();
        let first_byte = n_special as u32;
        let mut syms: Vec<Vec<u32>> = words
            .iter()
            .map(|(w, _)| w.bytes().map(|b| first_byte + u32::from(b)).collect())
            .collect();
        let freq: Vec<u64> = words.iter().map(|&(_, n)| n).collect();

        let mut pairs = PairStats::new(&syms, &freq);
        let mut merges = Vec::new();
        let min_count = u64::from(self.min_frequency.max(1));
        // Merge index that last touched each word, so a word listed twice under a pair is
        // processed once.
        let mut touched = vec![usize::MAX; syms.len()];
        while tokens.len() < self.vocab_size {
            let Some((count, pair)) = pairs.pop_best() else {
                break;
            };
            if count < min_count {
                break;
            }
            let (left, right) = pair;
            let merged = format!("{}{}", tokens[left as usize], tokens[right as usize]);
            // A text token spelled like a special token would be shadowed by it (text
            // that spells a special token always becomes the special token).
            if self.special_tokens.contains(&merged) {
                pairs.ban(pair);
                continue;
            }
            // Should two different pairs spell the same string ("ab c", "a bc"), the
            // second merge reuses the token, as the runtime's merge table does.
            let id = *ids.entry(merged.clone()).or_insert_with(|| {
                tokens.push(merged);
                (tokens.len() - 1) as u32
            });
            merges.push(format!(
                "{} {}",
                tokens[left as usize], tokens[right as usize]
            ));
            let step = merges.len();
            for w in pairs.take_words(pair) {
                let w = w as usize;
                if std::mem::replace(&mut touched[w], step) == step {
                    continue;
                }
                pairs.merge_word(w as u32, &mut syms[w], freq[w], pair, id);
            }
            pairs.flush();
        }

        let token_types = (0..tokens.len())
            .map(|id| {
                if id < n_special {
                    TYPE_CONTROL
                } else {
                    TYPE_NORMAL
                }
            })
            .collect();
        let has = |t: &str| self.special_tokens.iter().any(|s| s == t);
        let chat_template = (has(IM_START) && has(IM_END)).then(|| CHATML_TEMPLATE.to_string());
        let vocab = TrainedVocab {
            tokens,
            token_types,
            merges,
            pre: self.pre.clone(),
            bos,
            eos,
            padding,
            chat_template,
        };
        let segmented = words.into_iter().map(|(w, _)| w).zip(syms).collect();
        Ok((vocab, segmented))
    }

    fn check_special_tokens(&self) -> Result<(), TrainError> {
        for (i, token) in self.special_tokens.iter().enumerate() {
            let bad = |reason| {
                Err(TrainError::BadSpecialToken {
                    token: token.clone(),
                    reason,
                })
            };
            let mut chars = token.chars();
            match (chars.next(), chars.next()) {
                (None, _) => return bad("is empty"),
                (Some(c), None) if (0..=255u8).any(|b| byte_to_char(b) == c) => {
                    return bad("is spelled like a byte token");
                }
                _ => {}
            }
            if self.special_tokens[..i].contains(token) {
                return bad("is given twice");
            }
        }
        Ok(())
    }

    fn special_id(&self, role: &'static str, token: &str) -> Result<u32, TrainError> {
        self.special_tokens
            .iter()
            .position(|s| s == token)
            .map(|id| id as u32)
            .ok_or_else(|| TrainError::RoleNotSpecial {
                role,
                token: token.to_string(),
                specials: self.special_tokens.clone(),
            })
    }
}

/// Distinct pre-tokenized words of `corpus` with their counts. Special tokens are cut out
/// first, leftmost and longest first, exactly where [`Tokenizer::encode`] would find them.
fn count_words<'a>(
    corpus: impl IntoIterator<Item = &'a str>,
    pre: PreTokenizer,
    specials: &[String],
) -> HashMap<&'a str, u64> {
    let mut by_len: Vec<&str> = specials.iter().map(String::as_str).collect();
    by_len.sort_by_key(|s| (Reverse(s.len()), *s));
    let mut starts = [false; 256];
    for s in &by_len {
        starts[usize::from(s.as_bytes()[0])] = true;
    }
    let mut counts: HashMap<&'a str, u64> = HashMap::new();
    let mut pieces = Vec::new();
    let mut add_run = |run: &'a str, pieces: &mut Vec<&'a str>| {
        pieces.clear();
        pre.split(run, pieces);
        for &piece in pieces.iter() {
            *counts.entry(piece).or_insert(0) += 1;
        }
    };
    for text in corpus {
        let bytes = text.as_bytes();
        let mut run_start = 0;
        let mut i = 0;
        while i < bytes.len() {
            // Special tokens are valid UTF-8, so a match starts at a char boundary.
            let found = starts[usize::from(bytes[i])]
                .then(|| by_len.iter().find(|s| bytes[i..].starts_with(s.as_bytes())))
                .flatten();
            let Some(special) = found else {
                i += 1;
                continue;
            };
            if run_start < i {
                add_run(&text[run_start..i], &mut pieces);
            }
            i += special.len();
            run_start = i;
        }
        if run_start < bytes.len() {
            add_run(&text[run_start..], &mut pieces);
        }
    }
    counts
}

/// A distinct word of the corpus and the ids training split it into.
type Segmented<'a> = (&'a str, Vec<u32>);

/// Two adjacent symbols (token ids).
type Pair = (u32, u32);

/// Counts of adjacent symbol pairs over all words (weighted by word frequency), which
/// words contain each pair, and a heap to find the most frequent one.
struct PairStats {
    counts: HashMap<Pair, u64>,
    /// Words that contain (or once contained) each pair; may list a word twice.
    words: HashMap<Pair, Vec<u32>>,
    /// `(count, pair)` entries, most frequent first and then smallest pair. Entries go
    /// stale when a count drops; [`pop_best`](Self::pop_best) re-checks them. Every pair
    /// with a non-zero count has an entry whose count is at least the current one.
    heap: BinaryHeap<(u64, Reverse<Pair>)>,
    /// Count changes of the merge in progress, applied by [`flush`](Self::flush).
    delta: HashMap<Pair, i64>,
    /// Pairs never to merge.
    banned: Vec<Pair>,
}

impl PairStats {
    fn new(syms: &[Vec<u32>], freq: &[u64]) -> Self {
        let mut counts: HashMap<Pair, u64> = HashMap::new();
        let mut words: HashMap<Pair, Vec<u32>> = HashMap::new();
        for (w, (s, &n)) in syms.iter().zip(freq).enumerate() {
            for p in s.windows(2) {
                *counts.entry((p[0], p[1])).or_insert(0) += n;
                words.entry((p[0], p[1])).or_default().push(w as u32);
            }
        }
        let heap = counts.iter().map(|(&p, &c)| (c, Reverse(p))).collect();
        Self {
            counts,
            words,
            heap,
            delta: HashMap::new(),
            banned: Vec::new(),
        }
    }

    /// The most frequent pair and its count (ties: smallest left id, then right id).
    fn pop_best(&mut self) -> Option<(u64, Pair)> {
        while let Some((count, Reverse(pair))) = self.heap.pop() {
            let current = self.counts.get(&pair).copied().unwrap_or(0);
            if current == count {
                return Some((count, pair));
            }
            // Stale: the pair lost occurrences since this entry was pushed.
            if current > 0 {
                self.heap.push((current, Reverse(pair)));
            }
        }
        None
    }

    /// Keeps `pair` from ever being chosen again.
    fn ban(&mut self, pair: Pair) {
        self.counts.remove(&pair);
        self.banned.push(pair);
    }

    /// The words that may contain `pair` (the list is handed over: after the merge none
    /// contains it any more).
    fn take_words(&mut self, pair: Pair) -> Vec<u32> {
        self.words.remove(&pair).unwrap_or_default()
    }

    /// Replaces every non-overlapping occurrence of `pair`, left to right, in word `w`
    /// (symbols `syms`, frequency `n`) by `id`, recording the count changes.
    fn merge_word(&mut self, w: u32, syms: &mut Vec<u32>, n: u64, pair: Pair, id: u32) {
        if !syms.windows(2).any(|p| (p[0], p[1]) == pair) {
            return;
        }
        let mut merged = Vec::with_capacity(syms.len());
        let mut i = 0;
        while i < syms.len() {
            if i + 1 < syms.len() && (syms[i], syms[i + 1]) == pair {
                merged.push(id);
                i += 2;
            } else {
                merged.push(syms[i]);
                i += 1;
            }
        }
        let n = n as i64;
        for p in syms.windows(2) {
            *self.delta.entry((p[0], p[1])).or_insert(0) -= n;
        }
        for p in merged.windows(2) {
            *self.delta.entry((p[0], p[1])).or_insert(0) += n;
            if p[0] == id || p[1] == id {
                self.words.entry((p[0], p[1])).or_default().push(w);
            }
        }
        *syms = merged;
    }

    /// Applies the recorded count changes; pairs that gained occurrences get a fresh heap
    /// entry.
    fn flush(&mut self) {
        for (pair, d) in self.delta.drain() {
            if d == 0 {
                continue;
            }
            let count = self.counts.entry(pair).or_insert(0);
            *count = count.saturating_add_signed(d);
            let count = *count;
            if count == 0 {
                self.counts.remove(&pair);
            } else if d > 0 && !self.banned.contains(&pair) {
                self.heap.push((count, Reverse(pair)));
            }
        }
    }
}

/// A trained vocabulary, ready to be stored in GGUF metadata with
/// [`write_metadata`](Self::write_metadata).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainedVocab {
    /// Token texts by id: special tokens as written, the others byte-level spelled
    /// (space is "Ġ", as in GPT-2).
    pub tokens: Vec<String>,
    /// llama.cpp token types by id: 3 (control) for special tokens, 1 (normal) otherwise.
    pub token_types: Vec<i32>,
    /// Merges in rank order, each "left right".
    pub merges: Vec<String>,
    /// The `tokenizer.ggml.pre` name the corpus was split with.
    pub pre: String,
    /// Beginning-of-sequence id, if any.
    pub bos: Option<u32>,
    /// End-of-sequence id.
    pub eos: u32,
    /// Padding id.
    pub padding: u32,
    /// `tokenizer.chat_template`: [`CHATML_TEMPLATE`] when the special tokens include
    /// ChatML's, else none.
    pub chat_template: Option<String>,
}

impl TrainedVocab {
    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether there are no tokens (never true for a trained vocabulary).
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Stores the vocabulary in `md` under llama.cpp's keys (`tokenizer.ggml.model` =
    /// "gpt2", `.pre`, `.tokens`, `.token_type`, `.merges`, `.bos_token_id` if there is
    /// one, `.eos_token_id`, `.padding_token_id`, `.add_bos_token` = false, and
    /// `tokenizer.chat_template` if there is one). Every `tokenizer.*` key already in
    /// `md` is removed first, so no stale key of another tokenizer (scores, unknown or EOT
    /// ids) is left to contradict this one.
    pub fn write_metadata(&self, md: &mut Metadata) {
        let stale: Vec<String> = md
            .iter()
            .map(|(k, _)| k)
            .filter(|k| k.starts_with("tokenizer."))
            .map(str::to_string)
            .collect();
        for key in stale {
            md.remove(&key);
        }
        let strings = |items: &[String]| Value::from(items.iter().collect::<StringArray>());
        md.insert(KEY_MODEL, "gpt2".into());
        md.insert(KEY_PRE, self.pre.as_str().into());
        md.insert(KEY_TOKENS, strings(&self.tokens));
        md.insert(KEY_TYPES, Value::from(self.token_types.clone()));
        md.insert(KEY_MERGES, strings(&self.merges));
        if let Some(bos) = self.bos {
            md.insert(KEY_BOS, Value::U32(bos));
        }
        md.insert(KEY_EOS, Value::U32(self.eos));
        md.insert(KEY_PADDING, Value::U32(self.padding));
        md.insert(KEY_ADD_BOS, Value::Bool(false));
        if let Some(template) = &self.chat_template {
            md.insert(KEY_CHAT_TEMPLATE, template.as_str().into());
        }
    }

    /// The vocabulary stored in `md` by [`write_metadata`](Self::write_metadata), e.g. a
    /// trained model's, which a run started from it keeps (its embeddings mean these ids).
    pub fn from_metadata(md: &Metadata) -> Result<Self, gvt_core::gguf::GgufError> {
        let strings = |key| -> Result<Vec<String>, _> {
            Ok(md.get_str_array(key)?.iter().map(str::to_string).collect())
        };
        Ok(Self {
            tokens: strings(KEY_TOKENS)?,
            token_types: md.get_i32_array(KEY_TYPES)?,
            merges: strings(KEY_MERGES)?,
            pre: md.get_str(KEY_PRE)?.to_string(),
            bos: md.get(KEY_BOS).map(|_| md.get_u32(KEY_BOS)).transpose()?,
            eos: md.get_u32(KEY_EOS)?,
            padding: md.get_u32(KEY_PADDING)?,
            chat_template: md.get_str(KEY_CHAT_TEMPLATE).ok().map(str::to_string),
        })
    }

    /// The runtime tokenizer for this vocabulary (what loading it from a GGUF gives).
    pub fn tokenizer(&self) -> Result<Tokenizer, TokenizerError> {
        let mut md = Metadata::new();
        self.write_metadata(&mut md);
        Tokenizer::from_metadata(&md)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gvt_scene::Scene;
    use gvt_scene::qa::{Mix, QaGenerator};

    /// About `n` question and answer texts about random scenes (questions and answers
    /// alternate).
    fn qa_corpus(n: usize, seed: u64) -> Vec<String> {
        let mut generator = QaGenerator::new(seed, Mix::default());
        let mut out = Vec::with_capacity(n + 8);
        let mut scene_seed = seed;
        while out.len() < n {
            let scene = Scene::random(scene_seed);
            scene_seed += 1;
            for qa in generator.draw(&scene, 4) {
                out.push(qa.question);
                out.push(qa.answer);
            }
        }
        out.truncate(n);
        out
    }

    fn train(trainer: &BpeTrainer, corpus: &[String]) -> TrainedVocab {
        trainer.train(corpus.iter().map(String::as_str)).unwrap()
    }

    #[test]
    fn round_trip_through_gguf_metadata() {
        let corpus = qa_corpus(2000, 1);
        let vocab = train(&BpeTrainer::new(512), &corpus);
        let mut md = Metadata::new();
        md.insert("general.architecture", "llama".into());
        md.insert("tokenizer.ggml.scores", Value::from(vec![0.0f32]));
        vocab.write_metadata(&mut md);
        assert!(!md.contains_key("tokenizer.ggml.scores"), "stale key kept");
        assert!(md.contains_key("general.architecture"));
        assert_eq!(md.get_str(KEY_MODEL).unwrap(), "gpt2");
        assert_eq!(md.get_str(KEY_PRE).unwrap(), "smollm");
        assert_eq!(md.opt_bool(KEY_ADD_BOS).unwrap(), Some(false));
        assert_eq!(md.get_u32(KEY_PADDING).unwrap(), 0);
        let tok = Tokenizer::from_metadata(&md).unwrap();
        assert_eq!(tok.vocab_size(), vocab.len());
        assert_eq!(tok.bos(), Some(1));
        assert_eq!(tok.eos(), Some(2));
        assert!(!tok.add_bos());
        for s in &corpus {
            assert_eq!(tok.decode(&tok.encode(s, false)), *s);
        }
        // Characters the corpus never had fall back to byte tokens.
        for s in [
            "Wie viele Sterne gibt es? Ünïcödé, 日本語, emoji 🦀🎨!",
            "tabs\tand\r\nnewlines\n\n  and   spaces  ",
            "\u{0}\u{7f}\u{ad} control bytes ~`^{}",
            "How many <|im_end|> tokens? 1234567890",
            "",
        ] {
            let ids = tok.encode(s, false);
            assert_eq!(tok.decode(&ids), s);
        }
        let ids = tok.encode("🦀", false);
        assert_eq!(ids.len(), 4, "four UTF-8 bytes, no merges: {ids:?}");
        assert_eq!(
            vocab.tokenizer().unwrap().encode(&corpus[0], false),
            tok.encode(&corpus[0], false)
        );
    }

    #[test]
    fn compresses_the_corpus_and_learns_whole_words() {
        let corpus = qa_corpus(2000, 2);
        let tok = train(&BpeTrainer::new(512), &corpus).tokenizer().unwrap();
        let bytes: usize = corpus.iter().map(String::len).sum();
        let ids: usize = corpus.iter().map(|s| tok.encode(s, false).len()).sum();
        let ratio = ids as f64 / bytes as f64;
        assert!(
            ratio < 0.35,
            "{ids} tokens for {bytes} bytes ({ratio:.3}/byte)"
        );
        for word in [
            " circles", " image", "How", " many", " there", " exist", "Yes", " color",
        ] {
            assert_eq!(
                tok.encode(word, false).len(),
                1,
                "{word:?} is not one token"
            );
        }
        assert_eq!(
            tok.encode("How many stars are there in the image?", false)
                .len(),
            9
        );
    }

    #[test]
    fn exact_size_and_deterministic() {
        let corpus = qa_corpus(2000, 3);
        let trainer = BpeTrainer::new(400);
        let a = train(&trainer, &corpus);
        assert_eq!(a.len(), 400);
        assert_eq!(a.token_types.len(), 400);
        // Every merge made a new token (no two pairs spelled the same string here).
        assert_eq!(a.merges.len(), 400 - 259);
        let mut reversed = corpus.clone();
        reversed.reverse();
        assert_eq!(train(&trainer, &corpus), a);
        assert_eq!(
            train(&trainer, &reversed),
            a,
            "the corpus order changed the vocabulary"
        );
        // Token strings are unique, and each merge's parts exist before its result.
        let mut sorted = a.tokens.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), a.len());
        let ids: HashMap<&str, usize> = a
            .tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.as_str(), i))
            .collect();
        for m in &a.merges {
            let (l, r) = m.split_once(' ').unwrap();
            let lr = ids[format!("{l}{r}").as_str()];
            assert!(ids[l] < lr && ids[r] < lr, "{m}");
        }
    }

    #[test]
    fn special_tokens_and_chat() {
        let corpus = qa_corpus(500, 4);
        let vocab = train(&BpeTrainer::new(320), &corpus);
        assert_eq!(&vocab.tokens[..3], DEFAULT_SPECIAL_TOKENS);
        assert_eq!(&vocab.token_types[..4], [3, 3, 3, 1]);
        assert!(vocab.token_types[3..].iter().all(|&t| t == 1));
        let tok = vocab.tokenizer().unwrap();
        for (id, s) in DEFAULT_SPECIAL_TOKENS.iter().enumerate() {
            assert_eq!(tok.encode(s, false), [id as u32]);
        }
        let q = "How many stars are there in the image?";
        let prompt = tok.chat_prompt(q);
        assert_eq!(
            prompt,
            "<|im_start|>user\nHow many stars are there in the image?<|im_end|>\n\
             <|im_start|>assistant\n"
        );
        let ids = tok.encode(&prompt, tok.add_bos());
        assert_eq!(ids[0], 1);
        assert_eq!(ids.iter().filter(|&&id| id == 1).count(), 2);
        assert_eq!(ids.iter().filter(|&&id| id == 2).count(), 1);
        assert_eq!(tok.decode(&ids), prompt);
        let stops = tok.stop_tokens();
        assert!(stops.contains(&2), "{stops:?}");
        assert_eq!(tok.token_id(IM_END), Some(2));

        // Special tokens inside corpus texts are cut out, never learned as text.
        let framed: Vec<String> = corpus
            .iter()
            .map(|s| format!("{IM_START}user\n{s}{IM_END}\n"))
            .collect();
        let v = train(&BpeTrainer::new(320), &framed);
        assert!(
            v.tokens[3..].iter().all(|t| !t.contains("im_")),
            "{:?}",
            v.tokens
        );
        assert!(v.tokens.iter().any(|t| t == "user"));

        // A special token spelled like a text token ("Ġimage" is " image" byte-level
        // spelled) keeps merges from building that text token.
        let with_image =
            BpeTrainer::new(512).special_tokens([END_OF_TEXT, IM_START, IM_END, "Ġimage"]);
        let v = train(&with_image, &corpus);
        assert_eq!(v.tokens.iter().filter(|t| *t == "Ġimage").count(), 1);
        assert!(v.merges.iter().all(|m| m.replace(' ', "") != "Ġimage"));
        let tok = v.tokenizer().unwrap();
        assert_eq!(tok.encode("Ġimage", false), [3]);
        let ids = tok.encode(" image", false);
        assert!(ids.len() > 1 && !ids.contains(&3), "{ids:?}");
        assert_eq!(tok.decode(&ids), " image");

        // Without ChatML tokens there is no chat template.
        let plain = BpeTrainer::new(300)
            .special_tokens(["<|endoftext|>"])
            .bos_token(None)
            .eos_token("<|endoftext|>")
            .padding_token("<|endoftext|>")
            .pre_tokenizer("default");
        let v = train(&plain, &corpus);
        assert_eq!(v.chat_template, None);
        assert_eq!((v.bos, v.eos, v.padding), (None, 0, 0));
        let tok = v.tokenizer().unwrap();
        assert_eq!(tok.chat_prompt("Hi"), "Hi");
        assert_eq!(tok.bos(), None);
    }

    #[test]
    fn merges_agree_with_the_runtime_encoder() {
        for pre in ["smollm", "default"] {
            let corpus = qa_corpus(2000, 5);
            let trainer = BpeTrainer::new(512).pre_tokenizer(pre);
            let (vocab, words) = trainer
                .train_words(corpus.iter().map(String::as_str))
                .unwrap();
            let tok = vocab.tokenizer().unwrap();
            assert!(words.len() > 50, "{} words", words.len());
            for (word, ids) in &words {
                assert_eq!(tok.encode(word, false), *ids, "{pre}: {word:?}");
            }
            // Digits are single pieces with "smollm" only.
            let has_multi_digit = words
                .iter()
                .any(|(w, _)| w.chars().filter(char::is_ascii_digit).count() > 1);
            assert!(!has_multi_digit || pre == "default");
        }
    }

    #[test]
    fn ties_and_repeats_are_handled() {
        // "aaaa" x3: (a,a) -> "aa" twice per word, then (aa,aa) -> "aaaa".
        let v = BpeTrainer::new(1000)
            .min_frequency(1)
            .train(["aaaa", "aaaa", "aaaa"])
            .unwrap();
        assert_eq!(v.merges, ["a a", "aa aa"]);
        // Equal counts: the pair with the smaller ids wins ("a b" before "c d").
        let v = BpeTrainer::new(1000).train(["cd ab", "ab cd"]).unwrap();
        assert_eq!(v.merges[..2], ["a b", "c d"]);
        // min_frequency 1 merges pairs seen once, until every word is one token.
        let v = BpeTrainer::new(1000)
            .min_frequency(1)
            .train(["abc", "xbc", "bcx", "abcabc"])
            .unwrap();
        let tok = v.tokenizer().unwrap();
        for s in ["abc", "xbc", "bcx", "abcabc"] {
            assert_eq!(tok.encode(s, false).len(), 1, "{s}");
        }
        assert_eq!(tok.decode(&tok.encode("cabbage", false)), "cabbage");
        // min_frequency stops merging: every pair here occurs once.
        let v = BpeTrainer::new(1000).train(["abcdef"]).unwrap();
        assert!(v.merges.is_empty());
    }

    #[test]
    fn errors_and_empty_corpus() {
        let err = BpeTrainer::new(258).train(["a"]).unwrap_err();
        assert_eq!(
            err,
            TrainError::VocabTooSmall {
                vocab_size: 258,
                specials: 3,
                minimum: 259
            }
        );
        assert!(err.to_string().contains("at least 259"), "{err}");
        let err = BpeTrainer::new(512)
            .pre_tokenizer("qwen2")
            .train(["a"])
            .unwrap_err();
        assert!(matches!(err, TrainError::UnsupportedPreTokenizer(_)));
        assert!(err.to_string().contains("smollm"), "{err}");
        let err = BpeTrainer::new(512)
            .eos_token("</s>")
            .train(["a"])
            .unwrap_err();
        assert!(
            matches!(err, TrainError::RoleNotSpecial { role: "EOS", .. }),
            "{err}"
        );
        for specials in [vec!["<a>", "<a>"], vec![""], vec!["A"]] {
            let err = BpeTrainer::new(512)
                .special_tokens(specials.clone())
                .bos_token(None)
                .eos_token(specials[0])
                .padding_token(specials[0])
                .train(["a"])
                .unwrap_err();
            assert!(
                matches!(err, TrainError::BadSpecialToken { .. }),
                "{specials:?}: {err}"
            );
        }

        let v = BpeTrainer::new(512).train([]).unwrap();
        assert_eq!(v.len(), 259);
        assert!(v.merges.is_empty());
        assert_eq!(v.tokens[3], "\u{100}", "byte 0");
        assert_eq!(v.tokens[3 + 32], "Ġ");
        assert_eq!(v.tokens[3 + usize::from(b'A')], "A");
        let tok = v.tokenizer().unwrap();
        assert_eq!(tok.encode("Hi!", false), [3 + 72, 3 + 105, 3 + 33]);
        assert_eq!(tok.decode(&tok.encode("Grüße", false)), "Grüße");
    }

    /// Timing: `cargo test --lib tokenizer::train -- --ignored --nocapture`. The scene
    /// texts have only about a hundred distinct words, so with `min_frequency` 2 merging
    /// stops near 440 tokens, when every word that occurs twice is one token.
    #[test]
    #[ignore = "timing run on 200,000 texts"]
    fn train_512_on_200k_qa_texts() {
        let t = std::time::Instant::now();
        let corpus = qa_corpus(200_000, 6);
        let generated = t.elapsed();
        let t = std::time::Instant::now();
        let vocab = train(&BpeTrainer::new(512), &corpus);
        let trained = t.elapsed();
        let tok = vocab.tokenizer().unwrap();
        let bytes: usize = corpus.iter().map(String::len).sum();
        let ids: usize = corpus.iter().map(|s| tok.encode(s, false).len()).sum();
        println!(
            "{} texts ({bytes} bytes) generated in {generated:.2?}; {} tokens ({} merges) \
             trained in {trained:.2?}; {:.3} tokens/byte",
            corpus.len(),
            vocab.len(),
            vocab.merges.len(),
            ids as f64 / bytes as f64
        );
        assert!(vocab.len() > 400 && vocab.len() <= 512, "{}", vocab.len());
        assert!(ids * 4 < bytes);
    }
}
