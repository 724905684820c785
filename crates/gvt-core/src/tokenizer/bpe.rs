//! GPT-2 style byte-level BPE (`tokenizer.ggml.model = "gpt2"`).
//!
//! Text is pre-tokenized into pieces (see [`super::pretokenize`]); each piece's UTF-8 bytes
//! start as one symbol per byte, spelled in the vocabulary through GPT-2's
//! `bytes_to_unicode` table (so byte 0x20 is the token "Ġ"). Merges then apply in rank
//! order: the lowest-ranked adjacent pair first, leftmost first among equal ranks, which is
//! what Hugging Face `tokenizers` and llama.cpp do.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use super::pretokenize::PreTokenizer;
use super::{TokenizerError, Vocab};

/// GPT-2's `bytes_to_unicode`: printable Latin-1 bytes map to themselves, the other 68
/// bytes (controls, space, 0x7F-0xA0, 0xAD) to U+0100.. in byte order. This keeps every
/// vocabulary entry printable and free of spaces.
const BYTE_TO_CHAR: [char; 256] = {
    let mut table = ['\0'; 256];
    let mut next = 256u32;
    let mut b = 0;
    while b < 256 {
        let printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
        let cp = if printable {
            b as u32
        } else {
            next += 1;
            next - 1
        };
        table[b] = match char::from_u32(cp) {
            Some(c) => c,
            None => panic!("bytes_to_unicode maps into U+0000..U+0143"),
        };
        b += 1;
    }
    table
};

/// The bytes that [`BYTE_TO_CHAR`] remaps, in order: the n-th is spelled U+0100 + n.
const REMAPPED_BYTES: [u8; 68] = {
    let mut table = [0u8; 68];
    let mut b = 0;
    while b < 256 {
        let cp = BYTE_TO_CHAR[b] as u32;
        if cp >= 256 {
            table[(cp - 256) as usize] = b as u8;
        }
        b += 1;
    }
    table
};

/// The character that spells byte `b` in a byte-level vocabulary.
pub fn byte_to_char(b: u8) -> char {
    BYTE_TO_CHAR[usize::from(b)]
}

/// Inverse of [`byte_to_char`]; `None` for characters outside the mapping.
pub(crate) fn char_to_byte(c: char) -> Option<u8> {
    let cp = u32::from(c);
    if cp < 256 {
        let b = cp as u8;
        (BYTE_TO_CHAR[usize::from(b)] == c).then_some(b)
    } else {
        REMAPPED_BYTES.get((cp - 256) as usize).copied()
    }
}

/// Merge-table hasher: the keys are two token ids packed in a u64, so a multiply-shift
/// hash is enough and much faster than SipHash on this hot path. Keys come from the
/// model file, not from user text, so hash flooding is not a concern.
#[derive(Default)]
pub(crate) struct PairHasher(u64);

impl Hasher for PairHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100_0000_01B3);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (v ^ (v >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type PairMap<V> = HashMap<u64, V, BuildHasherDefault<PairHasher>>;

#[inline]
fn pair_key(left: u32, right: u32) -> u64 {
    (u64::from(left) << 32) | u64::from(right)
}

/// A byte-level BPE model: merge ranks plus the pre-tokenizer that cuts text into words.
#[derive(Debug, Clone)]
pub(crate) struct Bpe {
    /// `(left id, right id)` -> `(rank, merged id)`.
    merges: PairMap<(u32, u32)>,
    /// The token id spelling each single byte, if the vocabulary has it.
    byte_ids: [Option<u32>; 256],
    pre: PreTokenizer,
    /// Emitted for bytes the vocabulary cannot spell at all (only incomplete vocabularies).
    unk: Option<u32>,
}

impl Bpe {
    /// Builds the merge table from GGUF merge strings ("left right", rank = position).
    ///
    /// Merges whose parts or result are not in the vocabulary are skipped: they can never
    /// produce a token (llama.cpp tolerates them the same way).
    pub(crate) fn new(
        vocab: &Vocab,
        merges: &[&str],
        pre: PreTokenizer,
        unk: Option<u32>,
    ) -> Result<Self, TokenizerError> {
        let mut table = PairMap::default();
        table.reserve(merges.len());
        let mut merged = String::new();
        for (rank, line) in merges.iter().enumerate() {
            // Split at the first space after the first byte, as llama.cpp does, so that a
            // left part that is itself " " (non-byte-level vocabularies) still works.
            let split = line
                .bytes()
                .skip(1)
                .position(|b| b == b' ')
                .map(|p| p + 1)
                .filter(|&p| p + 1 < line.len())
                .ok_or_else(|| TokenizerError::BadMerge {
                    index: rank,
                    merge: (*line).to_string(),
                })?;
            let (left, right) = (&line[..split], &line[split + 1..]);
            let (Some(l), Some(r)) = (vocab.id(left), vocab.id(right)) else {
                continue;
            };
            merged.clear();
            merged.push_str(left);
            merged.push_str(right);
            let Some(m) = vocab.id(&merged) else {
                continue;
            };
            let rank = u32::try_from(rank).unwrap_or(u32::MAX);
            // A repeated pair keeps its first (best) rank.
            table.entry(pair_key(l, r)).or_insert((rank, m));
        }
        let mut byte_ids = [None; 256];
        let mut buf = [0u8; 4];
        for (b, slot) in byte_ids.iter_mut().enumerate() {
            *slot = vocab.id(byte_to_char(b as u8).encode_utf8(&mut buf));
        }
        Ok(Self {
            merges: table,
            byte_ids,
            pre,
            unk,
        })
    }

    /// Appends the ids of `text` (which contains no special tokens) to `out`.
    pub(crate) fn encode(&self, vocab: &Vocab, text: &str, out: &mut Vec<u32>) {
        let mut pieces = Vec::new();
        self.pre.split(text, &mut pieces);
        let mut work = Work::default();
        // Llama 3 vocabularies are used with `ignore_merges` (Hugging Face and llama.cpp
        // agree): a piece that is a vocabulary entry as a whole is taken as is, even
        // where the merges would not build it.
        let whole_pieces = self.pre == PreTokenizer::Llama3;
        let mut spelled = String::new();
        for piece in pieces {
            if whole_pieces {
                spelled.clear();
                spelled.extend(piece.bytes().map(byte_to_char));
                if let Some(id) = vocab.id(&spelled) {
                    out.push(id);
                    continue;
                }
            }
            self.encode_piece(piece.as_bytes(), &mut work, out);
        }
    }

    fn encode_piece(&self, bytes: &[u8], work: &mut Work, out: &mut Vec<u32>) {
        let syms = &mut work.syms;
        let heap = &mut work.heap;
        syms.clear();
        heap.clear();
        let n = bytes.len();
        for (i, &b) in bytes.iter().enumerate() {
            syms.push(Sym {
                id: self.byte_ids[usize::from(b)],
                prev: i.checked_sub(1),
                next: (i + 1 < n).then_some(i + 1),
            });
        }
        for i in 0..n.saturating_sub(1) {
            self.push_pair(syms, heap, i);
        }
        while let Some(Reverse((rank, pos, merged))) = heap.pop() {
            // Entries go stale when a neighbour merges first; re-check against the
            // current symbols before applying.
            let (Some(left), Some(next)) = (syms[pos].id, syms[pos].next) else {
                continue;
            };
            let Some(right) = syms[next].id else {
                continue;
            };
            if self.merges.get(&pair_key(left, right)) != Some(&(rank, merged)) {
                continue;
            }
            syms[pos].id = Some(merged);
            syms[pos].next = syms[next].next;
            syms[next].id = None;
            syms[next].prev = None;
            syms[next].next = None;
            if let Some(after) = syms[pos].next {
                syms[after].prev = Some(pos);
                self.push_pair(syms, heap, pos);
            }
            if let Some(before) = syms[pos].prev {
                self.push_pair(syms, heap, before);
            }
        }
        let mut cur = (n > 0).then_some(0);
        while let Some(i) = cur {
            match syms[i].id {
                Some(id) => out.push(id),
                // Only a byte without a vocabulary entry can be left without an id.
                None => out.extend(self.unk),
            }
            cur = syms[i].next;
        }
    }

    fn push_pair(&self, syms: &[Sym], heap: &mut BinaryHeap<Reverse<(u32, usize, u32)>>, i: usize) {
        let (Some(left), Some(next)) = (syms[i].id, syms[i].next) else {
            return;
        };
        let Some(right) = syms[next].id else {
            return;
        };
        if let Some(&(rank, merged)) = self.merges.get(&pair_key(left, right)) {
            heap.push(Reverse((rank, i, merged)));
        }
    }
}

/// One symbol of the word being merged: a doubly linked list over the initial bytes.
/// Merging keeps the left symbol and unlinks the right one.
#[derive(Debug, Clone, Copy)]
struct Sym {
    id: Option<u32>,
    prev: Option<usize>,
    next: Option<usize>,
}

/// Buffers reused across the pieces of one `encode` call.
#[derive(Default)]
struct Work {
    syms: Vec<Sym>,
    /// `(rank, left position, merged id)`, smallest first.
    heap: BinaryHeap<Reverse<(u32, usize, u32)>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_mapping_round_trips() {
        assert_eq!(byte_to_char(b' '), 'Ġ');
        assert_eq!(byte_to_char(b'\n'), 'Ċ');
        assert_eq!(byte_to_char(b'A'), 'A');
        assert_eq!(byte_to_char(0xAD), 'Ń');
        for b in 0..=255u8 {
            assert_eq!(char_to_byte(byte_to_char(b)), Some(b), "byte {b}");
        }
        assert_eq!(char_to_byte('€'), None);
        assert_eq!(char_to_byte(char::from_u32(256 + 68).unwrap()), None);
    }
}
