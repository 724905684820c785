//! Pre-tokenizers of byte-level BPE models: split text into the pieces that BPE merges
//! within.
//!
//! The reference implementations (Hugging Face `tokenizers`, llama.cpp) use regular
//! expressions. This crate has no regex engine, so each expression is a hand-written
//! scanner that tries the alternatives in the expression's order at each position, the
//! way a backtracking regex engine does, and returns where the match ends. Consecutive
//! matches tile the whole text, so pieces are just the spans between match ends.

use super::unicode::{is_letter, is_number, is_space};

/// Which pre-tokenizer a BPE model uses (`tokenizer.ggml.pre`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreTokenizer {
    /// GPT-2:
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
    Gpt2,
    /// Every `\p{N}` character on its own, then [`PreTokenizer::Gpt2`] on the rest
    /// (llama.cpp's SMOLLM/STARCODER/REFACT group; `Digits(individual_digits=True)` +
    /// `ByteLevel` in Hugging Face terms).
    DigitsGpt2,
    /// Llama 3:
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
    /// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`.
    Llama3,
}

impl PreTokenizer {
    /// The pre-tokenizer for a `tokenizer.ggml.pre` value; `None` if unsupported.
    ///
    /// A missing key means the GPT-2 expression, which is what the original byte-level
    /// BPE tokenizers (and our own small vocabularies) use.
    pub fn from_gguf_name(name: Option<&str>) -> Option<Self> {
        Some(match name {
            None | Some("default" | "gpt2" | "gpt-2" | "phi-2" | "roberta-bpe") => Self::Gpt2,
            Some("smollm" | "starcoder" | "refact" | "codeshell") => Self::DigitsGpt2,
            Some("llama3" | "llama-v3" | "llama-bpe" | "falcon3") => Self::Llama3,
            Some(_) => return None,
        })
    }

    /// The names [`from_gguf_name`](Self::from_gguf_name) accepts, for error messages.
    pub const SUPPORTED: &'static str = "default, gpt2, gpt-2, phi-2, roberta-bpe, \
        smollm, starcoder, refact, codeshell, llama3, llama-v3, llama-bpe, falcon3";

    /// Splits `text` into pieces; concatenated, they give back `text`.
    pub fn split<'t>(self, text: &'t str, pieces: &mut Vec<&'t str>) {
        let cs: Vec<char> = text.chars().collect();
        let mut ends = Vec::new();
        match self {
            Self::Gpt2 => scan(&cs, 0, cs.len(), gpt2_match, &mut ends),
            Self::DigitsGpt2 => {
                let mut start = 0;
                for (i, &c) in cs.iter().enumerate() {
                    if is_number(c) {
                        scan(&cs, start, i, gpt2_match, &mut ends);
                        ends.push(i + 1);
                        start = i + 1;
                    }
                }
                scan(&cs, start, cs.len(), gpt2_match, &mut ends);
            }
            Self::Llama3 => scan(&cs, 0, cs.len(), llama3_match, &mut ends),
        }
        // Character index -> byte offset, walking the text once.
        let mut byte = 0;
        let mut char_idx = 0;
        let mut chars = text.chars();
        for end in ends {
            let start = byte;
            while char_idx < end {
                byte += chars.next().map_or(0, char::len_utf8);
                char_idx += 1;
            }
            pieces.push(&text[start..byte]);
        }
    }
}

/// Matches pieces in `cs[start..end]` one after another, recording where each ends.
fn scan(
    cs: &[char],
    start: usize,
    end: usize,
    matcher: fn(&[char], usize, usize) -> usize,
    ends: &mut Vec<usize>,
) {
    let mut i = start;
    while i < end {
        let j = matcher(cs, i, end);
        debug_assert!(j > i && j <= end);
        ends.push(j);
        i = j;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Letter,
    Number,
    Space,
    /// `[^\s\p{L}\p{N}]`: punctuation, symbols, marks, emoji, controls that are not space.
    Other,
}

#[inline]
fn class(c: char) -> Class {
    if is_letter(c) {
        Class::Letter
    } else if is_number(c) {
        Class::Number
    } else if is_space(c) {
        Class::Space
    } else {
        Class::Other
    }
}

#[inline]
fn is_other(c: char) -> bool {
    class(c) == Class::Other
}

#[inline]
fn is_newline(c: char) -> bool {
    c == '\r' || c == '\n'
}

/// End of the run of characters satisfying `pred` that starts at `i` (within `end`).
#[inline]
fn run(cs: &[char], mut i: usize, end: usize, pred: impl Fn(char) -> bool) -> usize {
    while i < end && pred(cs[i]) {
        i += 1;
    }
    i
}

/// Length of the English contraction (`'s 't 're 've 'm 'll 'd`) at `i`, if any.
/// `cs[i]` is an apostrophe.
fn contraction(cs: &[char], i: usize, end: usize, ignore_case: bool) -> Option<usize> {
    let at = |k: usize| {
        (i + k < end).then(|| match cs[i + k] {
            // Unicode case folding: 'ſ' (long s) is the one non-ASCII character that
            // matches one of these letters case-insensitively.
            'ſ' if ignore_case => 's',
            c if ignore_case => c.to_ascii_lowercase(),
            c => c,
        })
    };
    match at(1)? {
        's' | 't' | 'm' | 'd' => Some(2),
        'r' | 'v' if at(2) == Some('e') => Some(3),
        'l' if at(2) == Some('l') => Some(3),
        _ => None,
    }
}

/// `\s+(?!\S)|\s+` for a whitespace run `cs[i..j]`: when more text follows, the last
/// whitespace character is left for the next piece (so " word" keeps its space), unless
/// the run is a single character.
#[inline]
fn trailing_space_match(i: usize, j: usize, end: usize) -> usize {
    if j == end || j - i == 1 { j } else { j - 1 }
}

/// One match of the GPT-2 expression at `i`; returns its end.
fn gpt2_match(cs: &[char], i: usize, end: usize) -> usize {
    let c = cs[i];
    if c == '\''
        && let Some(n) = contraction(cs, i, end, false)
    {
        return i + n;
    }
    // ` ?X+`: an optional single ASCII space in front of a letter/number/other run.
    let (lead, cls) = if c == ' ' && i + 1 < end && !is_space(cs[i + 1]) {
        (1, class(cs[i + 1]))
    } else {
        (0, class(c))
    };
    match cls {
        Class::Letter => run(cs, i + lead, end, is_letter),
        Class::Number => run(cs, i + lead, end, is_number),
        Class::Other => run(cs, i + lead, end, is_other),
        Class::Space => trailing_space_match(i, run(cs, i, end, is_space), end),
    }
}

/// One match of the Llama 3 expression at `i`; returns its end.
fn llama3_match(cs: &[char], i: usize, end: usize) -> usize {
    let c = cs[i];
    if c == '\''
        && let Some(n) = contraction(cs, i, end, true)
    {
        return i + n;
    }
    let cls = class(c);
    // `[^\r\n\p{L}\p{N}]?\p{L}+`
    if cls == Class::Letter {
        return run(cs, i, end, is_letter);
    }
    if cls != Class::Number && !is_newline(c) && i + 1 < end && is_letter(cs[i + 1]) {
        return run(cs, i + 1, end, is_letter);
    }
    // `\p{N}{1,3}`
    if cls == Class::Number {
        return run(cs, i, end.min(i + 3), is_number);
    }
    // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
    let lead = usize::from(c == ' ' && i + 1 < end && is_other(cs[i + 1]));
    if cls == Class::Other || lead == 1 {
        let j = run(cs, i + lead, end, is_other);
        return run(cs, j, end, is_newline);
    }
    // `c` is whitespace from here on.
    let j = run(cs, i, end, is_space);
    // `\s*[\r\n]+`: greedy, so it ends right after the run's last newline.
    if let Some(last) = (i..j).rev().find(|&k| is_newline(cs[k])) {
        return last + 1;
    }
    trailing_space_match(i, j, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(pre: PreTokenizer, text: &str) -> Vec<&str> {
        let mut v = Vec::new();
        pre.split(text, &mut v);
        v
    }

    #[test]
    fn gpt2_basics() {
        let p = PreTokenizer::Gpt2;
        assert_eq!(split(p, "Hello world"), ["Hello", " world"]);
        assert_eq!(split(p, "I'm here"), ["I", "'m", " here"]);
        assert_eq!(split(p, "a  b"), ["a", " ", " b"]);
        assert_eq!(split(p, "a \n\nb"), ["a", " \n", "\n", "b"]);
        assert_eq!(split(p, "end   "), ["end", "   "]);
        assert_eq!(split(p, " 123 ?!"), [" 123", " ?!"]);
        assert_eq!(split(p, "x²"), ["x", "²"]);
        assert_eq!(split(p, ""), Vec::<&str>::new());
    }

    #[test]
    fn digits_are_isolated() {
        let p = PreTokenizer::DigitsGpt2;
        assert_eq!(split(p, "a 123"), ["a", " ", "1", "2", "3"]);
        assert_eq!(split(p, "3.14"), ["3", ".", "1", "4"]);
    }

    #[test]
    fn llama3_basics() {
        let p = PreTokenizer::Llama3;
        assert_eq!(split(p, "I'M 12345"), ["I", "'M", " ", "123", "45"]);
        assert_eq!(split(p, "a \n\n b"), ["a", " \n\n", " b"]);
        assert_eq!(split(p, "(x) ...\n"), ["(x", ")", " ...\n"]);
        assert_eq!(split(p, "it'ſ"), ["it", "'ſ"]);
        assert_eq!(split(PreTokenizer::Gpt2, "it'ſ"), ["it", "'", "ſ"]);
    }

    #[test]
    fn names() {
        assert_eq!(PreTokenizer::from_gguf_name(None), Some(PreTokenizer::Gpt2));
        assert_eq!(
            PreTokenizer::from_gguf_name(Some("smollm")),
            Some(PreTokenizer::DigitsGpt2)
        );
        assert_eq!(PreTokenizer::from_gguf_name(Some("qwen2")), None);
    }
}
