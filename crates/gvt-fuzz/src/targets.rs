//! The project's real entry points, as the fuzzer calls them. Each returns a list of
//! signature strings (what stage was reached, with which error class or output size): the
//! engine's proxy for coverage.

use std::borrow::Cow;
use std::fmt::Display;
use std::io::Cursor;

use gvt_core::gguf::{GgufFile, Metadata, Value};
use gvt_core::model::GvtConfig;
use gvt_core::pipeline::{Pipeline, PromptText};
use gvt_core::preprocess::{Preprocessor, decode_image};
use gvt_core::tokenizer::{ChatMessage, StreamDecoder, Tokenizer};
use image::{DynamicImage, ImageBuffer, ImageReader, Rgb};

use crate::gguf_mut::KNOWN_KEYS;
use crate::text_mut::TextCase;

/// log2 bucket: 0 for 0, else the bit length.
pub fn bucket(n: usize) -> u32 {
    usize::BITS - n.leading_zeros()
}

/// An error message as a class: numbers folded, quoted text folded unless it is a metadata
/// key the loaders read, cut short.
pub fn class(e: &impl Display) -> String {
    let msg = e.to_string();
    let mut out = String::with_capacity(96);
    let mut chars = msg.chars().peekable();
    while let Some(c) = chars.next() {
        if out.len() >= 96 {
            break;
        }
        match c {
            '0'..='9' => {
                while chars
                    .peek()
                    .is_some_and(|c| c.is_ascii_digit() || *c == '.')
                {
                    chars.next();
                }
                out.push('#');
            }
            '`' | '"' | '\'' => {
                let mut inner = String::new();
                for d in chars.by_ref() {
                    if d == c {
                        break;
                    }
                    inner.push(d);
                }
                // Names the loaders know stay (which key broke is a different path);
                // anything else (mutated keys, tensor names, values) is folded.
                let plain = KNOWN_KEYS.iter().any(|(k, _)| *k == inner);
                out.push(c);
                out.push_str(if plain { &inner } else { "*" });
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

fn sig(stage: &str, r: &Result<impl Sized, impl Display>) -> String {
    match r {
        Ok(_) => format!("{stage}:ok"),
        Err(e) => format!("{stage}:{}", class(e)),
    }
}

/// What the targets share: the CPU device and the base vocabularies of the text target.
pub struct Context {
    pub device: gvt_core::device::ComputeDevice,
    /// Tokenizer metadata: [0] the tiny model's BPE, [1] a small SentencePiece vocab.
    pub vocabs: [Metadata; 2],
    /// Full model loads (weights on the CPU) run for files with at most this many tensor
    /// bytes.
    pub deep_bytes: usize,
    /// Whether bomb candidates run: images declaring more than [`LARGE_PIXELS`], chat
    /// templates with a number of 1,000,000 or more (the engine samples these; replays
    /// always run them).
    pub run_bombs: std::cell::Cell<bool>,
}

/// A signature starting with this marks a failure the target itself detected.
pub const FAIL: &str = "FAIL ";

/// Longest chat-template output the targets encode (16 MiB; see [`use_tokenizer`]).
pub const MAX_PROMPT: usize = 16 << 20;

/// Images declaring more pixels than this (8192 x 8192) are decompression-bomb candidates:
/// decoding one takes up to half a minute, so the engine decodes only a sample of them.
pub const LARGE_PIXELS: u64 = 64 << 20;

fn small_image() -> DynamicImage {
    DynamicImage::ImageRgb8(ImageBuffer::from_fn(8, 8, |x, y| {
        Rgb([x as u8 * 30, y as u8 * 30, 90])
    }))
}

/// Whether a template holds a number of 1,000,000 or more (repetition bombs need one).
fn has_large_number(t: &[u8]) -> bool {
    t.split(|b| !b.is_ascii_digit()).any(|run| run.len() >= 7)
}

/// Exercises a tokenizer the way the app does. Returns false when the chat template
/// rendered a prompt over [`MAX_PROMPT`] (a failure, recorded in `sigs`).
fn use_tokenizer(tok: &Tokenizer, text: &str, sigs: &mut Vec<String>) -> bool {
    let ids = tok.encode(text, true);
    sigs.push(format!("encode:{}", bucket(ids.len())));
    let back = tok.decode(&ids);
    sigs.push(format!("decode:{}", bucket(back.len())));
    let prompt = tok.chat_prompt(text);
    if prompt.len() > MAX_PROMPT {
        // A template bomb (see `chat_template_stays_under_1_gib`): encoding hundreds of MB
        // would take the fuzzer past its hard memory limit, so it is a failure here.
        // The other renders would take as long again: stop here.
        sigs.push(format!(
            "{FAIL}the chat template rendered a {} MiB prompt",
            prompt.len() >> 20
        ));
        return false;
    }
    let _ = tok.encode(&prompt, tok.add_bos());
    sigs.push(sig("image_prompt", &PromptText::new(tok, text, true)));
    let _ = tok.stop_tokens();
    true
}

/// GGUF reader, configuration validation, tokenizer, and (small files) the full model load
/// and the preprocessor it configures.
pub fn run_gguf(ctx: &Context, bytes: Vec<u8>) -> Vec<String> {
    let mut sigs = Vec::new();
    let file = match GgufFile::from_bytes(bytes) {
        Ok(f) => f,
        Err(e) => {
            sigs.push(format!("parse:{}", class(&e)));
            return sigs;
        }
    };
    sigs.push(format!(
        "parse:ok v{} t{} k{}",
        file.version,
        bucket(file.tensors.len()),
        bucket(file.metadata.len())
    ));
    for (key, _) in KNOWN_KEYS {
        let md = &file.metadata;
        let _ = (
            md.get_u32(key),
            md.get_u64(key),
            md.get_f32(key),
            md.get_bool(key),
        );
        let _ = (
            md.get_str(key),
            md.get_str_array(key),
            md.get_f32_array(key),
        );
        let _ = (md.get_i32_array(key), md.opt_u32(key), md.opt_str(key));
        if let Some(v) = md.get(key) {
            let _ = (v.describe_type(), v.as_u64(), v.as_i64(), v.as_f64());
        }
    }
    let mut dequantized = 0;
    for t in &file.tensors {
        if t.n_bytes() <= 64 << 10 && dequantized < 8 {
            dequantized += 1;
            let r = file.tensor(&t.name).and_then(|v| v.to_f32());
            sigs.push(sig(&format!("tensor {}", t.dtype), &r));
        }
    }
    let config = GvtConfig::from_gguf(&file, &file);
    sigs.push(sig("config", &config));
    let tokenizer = Tokenizer::from_metadata(&file.metadata);
    sigs.push(sig("tokenizer", &tokenizer));
    if let Ok(tok) = &tokenizer
        && !use_tokenizer(tok, "What is <|im_start|> in the image?", &mut sigs)
    {
        return sigs;
    }
    let tensor_bytes: usize = file.tensors.iter().map(|t| t.n_bytes()).sum();
    if let (Ok(cfg), Ok(_)) = (&config, &tokenizer)
        && tensor_bytes <= ctx.deep_bytes
    {
        // Loading as the CLI and the app do: every check before the weights, then them.
        let loaded = Pipeline::load(&file, None, ctx.device.clone(), &mut |_, _| {});
        sigs.push(sig("load", &loaded));
        if let Ok(pipeline) = &loaded {
            // The prompt's embeddings, as the first generation step makes them, for a
            // question ending with the vocabulary's last entry (the highest id).
            let tok = &pipeline.tokenizer;
            let last = (tok.vocab_size() as u32).saturating_sub(1);
            let question = format!("How many?{}", tok.token_str(last).unwrap_or_default());
            let prompt = pipeline.prompt(&question, None);
            sigs.push(sig("prompt", &prompt));
            if let (Ok(prompt), Some(model)) = (prompt, pipeline.model.burn()) {
                let embeds = model.prompt_embeds(&prompt.prefix, None, &[]);
                sigs.push(format!("embeds:{:?}", embeds.dims()));
            }
        }
        if loaded.is_ok()
            && let Some(v) = &cfg.vision
        {
            let px = Preprocessor::new(v).pixels(&small_image());
            sigs.push(format!("pixels:{}", bucket(px.len())));
        }
    }
    sigs
}

/// The image decoder and the preprocessor.
pub fn run_image(ctx: &Context, bytes: &[u8]) -> Vec<String> {
    let mut sigs = Vec::new();
    if !ctx.run_bombs.get()
        && let Ok(reader) = ImageReader::new(Cursor::new(bytes)).with_guessed_format()
        && let Ok((w, h)) = reader.into_dimensions()
        && u64::from(w) * u64::from(h) > LARGE_PIXELS
    {
        sigs.push(format!(
            "bomb:skipped image {}x{}",
            bucket(w as usize),
            bucket(h as usize)
        ));
        return sigs;
    }
    match decode_image(bytes) {
        Err(e) => sigs.push(format!("decode:{}", class(&e))),
        Ok(img) => {
            sigs.push(format!(
                "decode:ok {:?} {}x{}",
                img.color(),
                bucket(img.width() as usize),
                bucket(img.height() as usize)
            ));
            let p = Preprocessor {
                size: 24,
                mean: [0.48, 0.46, 0.41],
                std: [0.27, 0.26, 0.28],
            };
            let px = p.pixels(&img);
            sigs.push(format!(
                "pixels:{} finite:{}",
                px.len(),
                px.iter().all(|v| v.is_finite())
            ));
        }
    }
    sigs
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The vocabulary metadata of a text case.
fn text_metadata<'a>(ctx: &'a Context, case: &TextCase) -> Cow<'a, Metadata> {
    let base = &ctx.vocabs[case.vocab as usize % 2];
    let plain = case.template.is_none()
        && case.extra_tokens.is_empty()
        && case.bos.is_none()
        && case.eos.is_none();
    if plain {
        return Cow::Borrowed(base);
    }
    let mut md = base.clone();
    if let Some(t) = &case.template {
        md.insert("tokenizer.chat_template", Value::String(lossy(t)));
    }
    if !case.extra_tokens.is_empty() {
        let extra = &case.extra_tokens;
        if let Ok(tokens) = md.get_str_array("tokenizer.ggml.tokens") {
            let mut tokens = tokens.clone();
            extra.iter().for_each(|(t, _)| tokens.push(&lossy(t)));
            md.insert("tokenizer.ggml.tokens", Value::from(tokens));
        }
        if let Ok(mut types) = md.get_i32_array("tokenizer.ggml.token_type") {
            types.extend(extra.iter().map(|(_, ty)| *ty));
            md.insert("tokenizer.ggml.token_type", Value::from(types));
        }
        if let Ok(mut scores) = md.get_f32_array("tokenizer.ggml.scores") {
            scores.extend(extra.iter().map(|_| -1.0f32));
            md.insert("tokenizer.ggml.scores", Value::from(scores));
        }
    }
    if let Some(id) = case.bos {
        md.insert("tokenizer.ggml.bos_token_id", Value::U32(id));
    }
    if let Some(id) = case.eos {
        md.insert("tokenizer.ggml.eos_token_id", Value::U32(id));
    }
    Cow::Owned(md)
}

/// Tokenizer construction (with the case's template and vocabulary changes), encoding,
/// decoding (whole and streamed), and the chat template.
pub fn run_text(ctx: &Context, case: &TextCase) -> Vec<String> {
    let mut sigs = Vec::new();
    if !ctx.run_bombs.get()
        && let Some(t) = &case.template
        && has_large_number(t)
    {
        sigs.push("bomb:skipped template".into());
        return sigs;
    }
    let md = text_metadata(ctx, case);
    let tok = match Tokenizer::from_metadata(&md) {
        Ok(t) => t,
        Err(e) => {
            sigs.push(format!("tokenizer:{}", class(&e)));
            // Still exercise the text on the unmodified vocabulary.
            match Tokenizer::from_metadata(&ctx.vocabs[case.vocab as usize % 2]) {
                Ok(t) => t,
                Err(_) => return sigs,
            }
        }
    };
    sigs.push(format!("tokenizer:ok {}", case.vocab));
    let text = String::from_utf8_lossy(&case.text);
    if !use_tokenizer(&tok, &text, &mut sigs) {
        return sigs;
    }
    let valid = match std::str::from_utf8(&case.text) {
        Ok(s) => s,
        Err(e) => std::str::from_utf8(&case.text[..e.valid_up_to()]).unwrap_or_default(),
    };
    let _ = tok.encode(valid, false);
    let decoded = tok.decode(&case.ids);
    sigs.push(format!("decode_ids:{}", bucket(decoded.len())));
    let mut stream = StreamDecoder::new();
    let mut streamed = String::new();
    for &id in &case.ids {
        streamed.push_str(&stream.push(&tok, id));
    }
    streamed.push_str(&stream.finish());
    sigs.push(format!("stream:{}", streamed == decoded));
    for &id in case.ids.iter().take(16) {
        let _ = (tok.token_bytes(id), tok.token_str(id));
    }
    let messages: Vec<ChatMessage> = case
        .messages
        .iter()
        .map(|(r, c)| ChatMessage::new(lossy(r), lossy(c)))
        .collect();
    let chat = tok.apply_chat_template(&messages, case.add_generation_prompt);
    if let Ok(s) = &chat {
        sigs.push(format!("chat:ok {}", bucket(s.len())));
    } else {
        sigs.push(sig("chat", &chat));
    }
    sigs
}
