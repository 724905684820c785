//! SentencePiece-style BPE (`tokenizer.ggml.model = "llama"`), as llama.cpp's
//! `llm_tokenizer_spm` runs it; used by LLaMA-1/2 and Vicuna, hence GVT-7B.
//!
//! Spaces become "▁" (U+2581) and the text gets one leading "▁" (the dummy prefix).
//! Symbols start as single characters; repeatedly, the adjacent pair whose concatenation
//! is the vocabulary piece with the highest score merges (leftmost on ties). Characters
//! that end up with no piece of their own are written as byte tokens `<0xXX>`.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::Vocab;

/// The SentencePiece space marker.
pub(crate) const SPACE: char = '\u{2581}';

/// Byte-fallback table of a SentencePiece vocabulary.
#[derive(Debug, Clone)]
pub(crate) struct Spm {
    /// The token for each byte: `<0xXX>`, else the single-byte piece (llama.cpp's
    /// fallback for vocabularies without byte tokens).
    byte_ids: [Option<u32>; 256],
    /// Emitted for a byte that has neither (llama.cpp would abort there).
    unk: Option<u32>,
}

impl Spm {
    pub(crate) fn new(vocab: &Vocab, unk: Option<u32>) -> Self {
        let mut byte_ids = [None; 256];
        for (b, slot) in byte_ids.iter_mut().enumerate() {
            *slot = vocab.id(&format!("<0x{b:02X}>")).or_else(|| {
                // Only ASCII bytes are strings on their own.
                let b = u8::try_from(b).ok().filter(u8::is_ascii)?;
                vocab.id(char::from(b).encode_utf8(&mut [0; 4]))
            });
        }
        Self { byte_ids, unk }
    }

    /// Appends the ids of `text` (no special tokens inside) to `out`. With `space_prefix`
    /// the text is encoded as if it started with a space (the dummy prefix).
    pub(crate) fn encode(&self, vocab: &Vocab, text: &str, space_prefix: bool, out: &mut Vec<u32>) {
        let mut escaped = String::with_capacity(text.len() + 3);
        if space_prefix {
            escaped.push(SPACE);
        }
        for c in text.chars() {
            escaped.push(if c == ' ' { SPACE } else { c });
        }
        let text = escaped.as_str();
        if text.is_empty() {
            return;
        }

        // One symbol per character; `len == 0` marks a symbol merged into its left
        // neighbour. Symbols always cover contiguous text, so a pair's text is the slice
        // from the left symbol's start over both lengths.
        let mut syms: Vec<Sym> = Vec::new();
        for (start, c) in text.char_indices() {
            let i = syms.len();
            syms.push(Sym {
                start,
                len: c.len_utf8(),
                prev: i.checked_sub(1),
                next: Some(i + 1),
            });
        }
        if let Some(last) = syms.last_mut() {
            last.next = None;
        }

        let mut heap = BinaryHeap::new();
        for i in 1..syms.len() {
            try_add_pair(vocab, text, &syms, &mut heap, i - 1, i);
        }
        while let Some(pair) = heap.pop() {
            let (l, r) = (pair.left, pair.right);
            // Stale entry: one side was merged away, or the left side already grew.
            if syms[l].len == 0 || syms[r].len == 0 || syms[l].len + syms[r].len != pair.len {
                continue;
            }
            syms[l].len += syms[r].len;
            syms[r].len = 0;
            syms[l].next = syms[r].next;
            if let Some(after) = syms[r].next {
                syms[after].prev = Some(l);
            }
            if let Some(before) = syms[l].prev {
                try_add_pair(vocab, text, &syms, &mut heap, before, l);
            }
            if let Some(after) = syms[l].next {
                try_add_pair(vocab, text, &syms, &mut heap, l, after);
            }
        }

        let mut cur = Some(0);
        while let Some(i) = cur {
            let piece = &text[syms[i].start..syms[i].start + syms[i].len];
            // Merged symbols are pieces by construction (a pair is only queued when its
            // text is in the vocabulary), so only single characters can miss; llama.cpp's
            // `rev_merge` re-segmentation never triggers and is not needed here.
            match vocab.id(piece) {
                Some(id) => out.push(id),
                None => {
                    for b in piece.bytes() {
                        out.extend(self.byte_ids[usize::from(b)].or(self.unk));
                    }
                }
            }
            cur = syms[i].next;
        }
    }
}

fn try_add_pair(
    vocab: &Vocab,
    text: &str,
    syms: &[Sym],
    heap: &mut BinaryHeap<Pair>,
    left: usize,
    right: usize,
) {
    let len = syms[left].len + syms[right].len;
    let start = syms[left].start;
    if let Some(id) = vocab.id(&text[start..start + len]) {
        heap.push(Pair {
            score: vocab.score(id),
            left,
            right,
            len,
        });
    }
}

#[derive(Debug, Clone, Copy)]
struct Sym {
    /// Byte offset of the symbol in the escaped text.
    start: usize,
    /// Byte length; 0 once merged into the left neighbour.
    len: usize,
    prev: Option<usize>,
    next: Option<usize>,
}

/// A candidate merge. Max-heap order: higher score first, then the leftmost pair.
#[derive(Debug, Clone, Copy)]
struct Pair {
    score: f32,
    left: usize,
    right: usize,
    len: usize,
}

impl Ord for Pair {
    fn cmp(&self, other: &Self) -> Ordering {
        self.score
            .total_cmp(&other.score)
            .then_with(|| other.left.cmp(&self.left))
    }
}

impl PartialOrd for Pair {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Pair {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Pair {}
