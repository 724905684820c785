//! Tokenizer and chat-template inputs: which vocabulary, an optional replacement template,
//! extra vocabulary entries (hostile special tokens), BOS/EOS ids, the text to encode, a
//! conversation, and ids to decode.

use crate::rng::{INTERESTING_U64, Rng, mutate_bytes};

#[derive(Debug, Clone, PartialEq, Default)]
pub struct TextCase {
    /// 0: the tiny model's byte-level BPE (gpt2/smollm); 1: a small SentencePiece vocab.
    pub vocab: u8,
    /// Replaces `tokenizer.chat_template` when set.
    pub template: Option<Vec<u8>>,
    /// Appended to the vocabulary: (text, GGUF token type).
    pub extra_tokens: Vec<(Vec<u8>, i32)>,
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    pub text: Vec<u8>,
    /// (role, content).
    pub messages: Vec<(Vec<u8>, Vec<u8>)>,
    pub add_generation_prompt: bool,
    pub ids: Vec<u32>,
}

/// A length-prefixed byte encoding, so that crash files replay.
impl TextCase {
    pub fn to_bytes(&self) -> Vec<u8> {
        fn put(out: &mut Vec<u8>, b: &[u8]) {
            out.extend_from_slice(&(b.len() as u32).to_le_bytes());
            out.extend_from_slice(b);
        }
        let mut out = b"GVTTEXT1".to_vec();
        out.push(self.vocab);
        out.push(self.add_generation_prompt as u8);
        match &self.template {
            Some(t) => {
                out.push(1);
                put(&mut out, t);
            }
            None => out.push(0),
        }
        for id in [self.bos, self.eos] {
            out.extend_from_slice(&id.map_or(u64::MAX, u64::from).to_le_bytes());
        }
        put(&mut out, &self.text);
        out.extend_from_slice(&(self.extra_tokens.len() as u32).to_le_bytes());
        for (t, ty) in &self.extra_tokens {
            put(&mut out, t);
            out.extend_from_slice(&ty.to_le_bytes());
        }
        out.extend_from_slice(&(self.messages.len() as u32).to_le_bytes());
        for (r, c) in &self.messages {
            put(&mut out, r);
            put(&mut out, c);
        }
        out.extend_from_slice(&(self.ids.len() as u32).to_le_bytes());
        for id in &self.ids {
            out.extend_from_slice(&id.to_le_bytes());
        }
        out
    }

    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        struct R<'a>(&'a [u8]);
        impl R<'_> {
            fn take(&mut self, n: usize) -> Option<Vec<u8>> {
                if n > self.0.len() {
                    return None;
                }
                let (a, rest) = self.0.split_at(n);
                self.0 = rest;
                Some(a.to_vec())
            }
            fn u8(&mut self) -> Option<u8> {
                Some(self.take(1)?[0])
            }
            fn u32(&mut self) -> Option<u32> {
                Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
            }
            fn u64(&mut self) -> Option<u64> {
                Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
            }
            fn bytes(&mut self) -> Option<Vec<u8>> {
                let n = self.u32()? as usize;
                self.take(n)
            }
        }
        let mut r = R(b.strip_prefix(b"GVTTEXT1")?);
        let vocab = r.u8()?;
        let add_generation_prompt = r.u8()? != 0;
        let template = if r.u8()? != 0 { Some(r.bytes()?) } else { None };
        let id = |v: u64| u32::try_from(v).ok();
        let bos = id(r.u64()?);
        let eos = id(r.u64()?);
        let text = r.bytes()?;
        let n = r.u32()? as usize;
        let mut extra_tokens = Vec::new();
        for _ in 0..n {
            extra_tokens.push((r.bytes()?, r.u32()? as i32));
        }
        let n = r.u32()? as usize;
        let mut messages = Vec::new();
        for _ in 0..n {
            messages.push((r.bytes()?, r.bytes()?));
        }
        let n = r.u32()? as usize;
        let mut ids = Vec::new();
        for _ in 0..n {
            ids.push(r.u32()?);
        }
        Some(TextCase {
            vocab,
            template,
            extra_tokens,
            bos,
            eos,
            text,
            messages,
            add_generation_prompt,
            ids,
        })
    }
}

/// Special tokens, chat markup and characters tokenizers trip on.
const PIECES: &[&str] = &[
    "<|im_start|>",
    "<|im_end|>",
    "<|endoftext|>",
    "<|eot_id|>",
    "<s>",
    "</s>",
    "<unk>",
    "[INST]",
    "<Img>",
    "</Img>",
    "\u{E000}",
    "<0x0A>",
    "<0xFF>",
    "\u{0}",
    "\u{1b}[31m",
    "\r\n",
    "\t",
    "\u{2028}",
    "\u{FEFF}",
    "\u{202E}",
    "\u{200D}",
    "👩\u{200D}👩\u{200D}👧",
    "e\u{301}\u{301}\u{301}",
    "한국어",
    "日本語",
    "ﷺ",
    "\u{10FFFF}",
    "▁",
    "Ġ",
    "  ",
    "'s",
    "{{",
    "{%",
    "}}",
];

/// Byte sequences that are not UTF-8, or cut UTF-8.
const BAD_BYTES: &[&[u8]] = &[
    b"\xFF",
    b"\xC0\x80",
    b"\x80",
    b"\xE6\x97",
    b"\xF0\x9F\xA6",
    b"\xED\xA0\x80",
    b"\xF4\x90\x80\x80",
];

/// Jinja fragments: loops, recursion, big repetitions, errors, odd accessors.
const SNIPPETS: &[&str] = &[
    "{{ messages[0]['content'] }}",
    "{% for m in messages %}{{ m['role'] }}{% endfor %}",
    "{% for i in range(50) %}{{ i }}{% endfor %}",
    "{{ raise_exception('refused') }}",
    "{{ 'ab' * 1000 }}",
    "{{ [1, 2] * 1000 }}",
    "{{ [0] * 1000 }}",
    "{% set s = 'x' * 1000 %}{{ s ~ s ~ s ~ s ~ s ~ s ~ s ~ s ~ s ~ s ~ s ~ s }}",
    "{% set x = messages[0]['content'] %}{{ x ~ x ~ x }}",
    "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(20) }}",
    "{{ messages[99] }}",
    "{{ messages[0].content.split('a') }}",
    "{{ bos_token }}{{ eos_token }}",
    "{{ strftime_now('%Y') }}",
    "{{ tools | tojson }}",
    "{{ 1 / 0 }}",
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}",
    "{{ messages | length }}",
    "{{ loop.previtem }}",
    "{%- for message in messages[::-1] %}{{ message.content | trim }}{% endfor -%}",
    "{{ messages[0]['content'][::-1] | upper }}",
    "{% raw %}{{{% endraw %}",
    "{{",
    "{% for %}",
    "{% endif %}",
];

const ROLES: &[&str] = &["user", "assistant", "system", "tool", "", "USER", "\u{0}"];

fn insert(rng: &mut Rng, s: &mut Vec<u8>, piece: &[u8]) {
    let at = rng.below(s.len() + 1);
    s.splice(at..at, piece.iter().copied());
}

/// Mutates a text (content, template or token): special pieces, control characters,
/// long runs, unicode, invalid or cut UTF-8, and byte-level edits. At most `max` bytes.
pub fn mutate_text(rng: &mut Rng, s: &mut Vec<u8>, max: usize, template: bool) {
    match rng.below(if template { 9 } else { 7 }) {
        0 | 1 => {
            let p = *rng.pick(PIECES);
            insert(rng, s, p.as_bytes())
        }
        2 => {
            let b = *rng.pick(BAD_BYTES);
            insert(rng, s, b)
        }
        3 => {
            // A long run of one piece.
            let piece = if rng.one_in(2) || s.is_empty() {
                rng.pick(PIECES).as_bytes().to_vec()
            } else {
                let i = rng.below(s.len());
                s[i..(i + 1 + rng.small(8)).min(s.len())].to_vec()
            };
            let times = 1 + rng.small(20_000);
            let run: Vec<u8> = piece
                .iter()
                .copied()
                .cycle()
                .take((piece.len() * times).min(max.saturating_sub(s.len())))
                .collect();
            insert(rng, s, &run);
        }
        4 if !s.is_empty() => {
            // Cut at an arbitrary byte (possibly inside a character).
            let n = rng.below(s.len());
            s.truncate(n);
        }
        5 | 6 => mutate_bytes(rng, s, 0, max),
        7 => {
            let snip = *rng.pick(SNIPPETS);
            insert(rng, s, snip.as_bytes())
        }
        _ => {
            // Replace a number with an interesting one (minijinja's own limits included).
            let digits: Vec<usize> = (0..s.len())
                .filter(|&i| s[i].is_ascii_digit() && (i == 0 || !s[i - 1].is_ascii_digit()))
                .collect();
            if !digits.is_empty() {
                let i = digits[rng.below(digits.len())];
                let end = s[i..]
                    .iter()
                    .position(|b| !b.is_ascii_digit())
                    .map_or(s.len(), |e| i + e);
                let v = if rng.one_in(2) {
                    *rng.pick(&[100_000_000i64, 99_999_999, 100_000, 99_999, 10_000, -1])
                } else {
                    *rng.pick(INTERESTING_U64) as i64
                };
                s.splice(i..end, v.to_string().into_bytes());
            }
        }
    }
    s.truncate(max);
}

/// One to three mutations of a case; `templates` are the seed templates (for splicing).
pub fn mutate(rng: &mut Rng, case: &mut TextCase, templates: &[String]) {
    for _ in 0..1 + rng.small(2) {
        match rng.below(12) {
            0..=2 => mutate_text(rng, &mut case.text, 1 << 16, false),
            3 | 4 => {
                let t = case
                    .template
                    .get_or_insert_with(|| rng.pick(templates).as_bytes().to_vec());
                mutate_text(rng, t, 1 << 16, true);
            }
            5 => {
                case.template = if rng.one_in(4) {
                    None
                } else {
                    Some(rng.pick(templates).as_bytes().to_vec())
                }
            }
            6 => {
                if case.messages.is_empty() || rng.one_in(3) {
                    let role = rng.pick(ROLES).as_bytes().to_vec();
                    case.messages.push((role, case.text.clone()));
                } else {
                    let i = rng.below(case.messages.len());
                    match rng.below(4) {
                        0 => {
                            case.messages.remove(i);
                        }
                        1 => case.messages[i].0 = rng.pick(ROLES).as_bytes().to_vec(),
                        2 => mutate_text(rng, &mut case.messages[i].0, 256, false),
                        _ => mutate_text(rng, &mut case.messages[i].1, 1 << 14, false),
                    }
                }
                case.add_generation_prompt = rng.one_in(2);
            }
            7 => {
                // Hostile vocabulary entries: empty, special-looking, prefixes of others.
                let mut t = if rng.one_in(4) {
                    Vec::new()
                } else {
                    rng.pick(PIECES).as_bytes().to_vec()
                };
                if rng.one_in(3) {
                    mutate_text(rng, &mut t, 64, false);
                }
                let ty = *rng.pick(&[1, 2, 3, 4, 5, 6, 0, -1, 99]);
                if case.extra_tokens.len() < 64 {
                    case.extra_tokens.push((t, ty));
                }
            }
            8 => {
                let v = if rng.one_in(2) {
                    Some(*rng.pick(INTERESTING_U64) as u32)
                } else {
                    Some(rng.below(600) as u32)
                };
                if rng.one_in(2) {
                    case.bos = v
                } else {
                    case.eos = v
                }
            }
            9 => case.vocab = rng.below(2) as u8,
            _ => {
                let n = 1 + rng.small(64);
                for _ in 0..n {
                    let id = match rng.below(3) {
                        0 => rng.below(8) as u32,
                        1 => rng.below(700) as u32,
                        _ => *rng.pick(INTERESTING_U64) as u32,
                    };
                    let at = rng.below(case.ids.len() + 1);
                    case.ids.insert(at, id);
                }
                case.ids.truncate(4096);
            }
        }
    }
}
