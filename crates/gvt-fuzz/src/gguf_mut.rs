//! Structure-aware GGUF mutation. Inputs are held as a [`GgufCase`]: the header, metadata
//! and tensor infos as an editable [`Doc`] (values kept as their raw encoding, so any type
//! id, count or payload can be written, including ones the reader must refuse), and the
//! data section shared between cases until a mutation writes into it.

use std::sync::Arc;

use crate::rng::{INTERESTING_F32, INTERESTING_U64, Rng, mutate_bytes};

/// Value type ids (GGUF): u8 i8 u16 i16 u32 i32 f32 bool string array u64 i64 f64.
const T_U32: u32 = 4;
const T_F32: u32 = 6;
const T_STRING: u32 = 8;
const T_ARRAY: u32 = 9;

/// Byte size of a scalar value type, `None` for string, array and unknown ids.
fn scalar_size(ty: u32) -> Option<usize> {
    match ty {
        0 | 1 | 7 => Some(1),
        2 | 3 => Some(2),
        4..=6 => Some(4),
        10..=12 => Some(8),
        _ => None,
    }
}

/// One metadata entry: key bytes, type id and the value's raw encoding.
#[derive(Debug, Clone, PartialEq)]
pub struct Kv {
    pub key: Vec<u8>,
    pub ty: u32,
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TensorEntry {
    pub name: Vec<u8>,
    pub dims: Vec<u64>,
    /// When set, written as `n_dims` instead of `dims.len()` (a lie).
    pub n_dims: Option<u32>,
    pub dtype: u32,
    pub offset: u64,
}

/// A GGUF header, editable field by field.
#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    pub magic: [u8; 4],
    pub version: u32,
    /// When set, written instead of the real counts.
    pub tensor_count: Option<u64>,
    pub kv_count: Option<u64>,
    pub kvs: Vec<Kv>,
    pub tensors: Vec<TensorEntry>,
}

/// A GGUF input: a structured header (or, after byte-level mutation, raw header bytes), the
/// shared data section, and an optional cut.
#[derive(Debug, Clone)]
pub struct GgufCase {
    pub doc: Option<Doc>,
    /// The header as bytes (padding included) when `doc` is `None`.
    pub raw_head: Vec<u8>,
    pub data: Arc<Vec<u8>>,
    /// Truncate the whole file to this many bytes.
    pub cut: Option<usize>,
}

struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.b.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn string(&mut self) -> Option<Vec<u8>> {
        let n = usize::try_from(self.u64()?).ok()?;
        Some(self.take(n)?.to_vec())
    }
    /// Skips one value of type `ty`, at most `depth` arrays deep.
    fn skip_value(&mut self, ty: u32, depth: usize) -> Option<()> {
        if let Some(n) = scalar_size(ty) {
            self.take(n)?;
            return Some(());
        }
        match ty {
            T_STRING => {
                self.string()?;
            }
            T_ARRAY if depth < 8 => {
                let et = self.u32()?;
                let n = self.u64()?;
                if let Some(size) = scalar_size(et) {
                    self.take(usize::try_from(n).ok()?.checked_mul(size)?)?;
                } else {
                    for _ in 0..n {
                        self.skip_value(et, depth + 1)?;
                    }
                }
            }
            _ => return None,
        }
        Some(())
    }
}

fn alignment_of(kvs: &[Kv]) -> usize {
    kvs.iter()
        .rev()
        .find(|kv| kv.key == b"general.alignment" && kv.ty == T_U32 && kv.payload.len() == 4)
        .map(|kv| u32::from_le_bytes(kv.payload[..4].try_into().unwrap()) as usize)
        .filter(|a| a.is_power_of_two() && *a <= 1 << 16)
        .unwrap_or(32)
}

impl Doc {
    /// Parses a well-formed GGUF header; `None` for anything else. Returns the document and
    /// where the data section starts.
    pub fn parse(bytes: &[u8]) -> Option<(Doc, usize)> {
        let mut c = Cursor { b: bytes, pos: 0 };
        let magic: [u8; 4] = c.take(4)?.try_into().ok()?;
        let version = c.u32()?;
        let n_tensors = c.u64()?;
        let n_kv = c.u64()?;
        let mut kvs = Vec::new();
        for _ in 0..n_kv {
            let key = c.string()?;
            let ty = c.u32()?;
            let start = c.pos;
            c.skip_value(ty, 0)?;
            kvs.push(Kv {
                key,
                ty,
                payload: bytes[start..c.pos].to_vec(),
            });
        }
        let mut tensors = Vec::new();
        for _ in 0..n_tensors {
            let name = c.string()?;
            let n_dims = c.u32()?;
            if n_dims > 8 {
                return None;
            }
            let dims = (0..n_dims).map(|_| c.u64()).collect::<Option<Vec<_>>>()?;
            let dtype = c.u32()?;
            let offset = c.u64()?;
            tensors.push(TensorEntry {
                name,
                dims,
                n_dims: None,
                dtype,
                offset,
            });
        }
        let align = alignment_of(&kvs);
        let data_start = c.pos.div_ceil(align) * align;
        (data_start <= bytes.len()).then_some((
            Doc {
                magic,
                version,
                tensor_count: None,
                kv_count: None,
                kvs,
                tensors,
            },
            data_start,
        ))
    }

    /// The header bytes, padded to the alignment.
    pub fn write(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4096);
        out.extend_from_slice(&self.magic);
        out.extend_from_slice(&self.version.to_le_bytes());
        let nt = self.tensor_count.unwrap_or(self.tensors.len() as u64);
        let nk = self.kv_count.unwrap_or(self.kvs.len() as u64);
        out.extend_from_slice(&nt.to_le_bytes());
        out.extend_from_slice(&nk.to_le_bytes());
        for kv in &self.kvs {
            out.extend_from_slice(&(kv.key.len() as u64).to_le_bytes());
            out.extend_from_slice(&kv.key);
            out.extend_from_slice(&kv.ty.to_le_bytes());
            out.extend_from_slice(&kv.payload);
        }
        for t in &self.tensors {
            out.extend_from_slice(&(t.name.len() as u64).to_le_bytes());
            out.extend_from_slice(&t.name);
            let n = t.n_dims.unwrap_or(t.dims.len() as u32);
            out.extend_from_slice(&n.to_le_bytes());
            for d in &t.dims {
                out.extend_from_slice(&d.to_le_bytes());
            }
            out.extend_from_slice(&t.dtype.to_le_bytes());
            out.extend_from_slice(&t.offset.to_le_bytes());
        }
        let align = alignment_of(&self.kvs);
        out.resize(out.len().div_ceil(align) * align, 0);
        out
    }

    fn kv_index(&self, key: &str) -> Option<usize> {
        self.kvs.iter().position(|kv| kv.key == key.as_bytes())
    }

    /// Sets `key` (replacing the first entry with that key, else appending).
    pub fn set(&mut self, key: &str, ty: u32, payload: Vec<u8>) {
        let kv = Kv {
            key: key.as_bytes().to_vec(),
            ty,
            payload,
        };
        match self.kv_index(key) {
            Some(i) => self.kvs[i] = kv,
            None => self.kvs.push(kv),
        }
    }
}

impl GgufCase {
    /// A case from GGUF bytes: structured when they parse, raw otherwise.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        match Doc::parse(bytes) {
            Some((doc, start)) => GgufCase {
                doc: Some(doc),
                raw_head: Vec::new(),
                data: Arc::new(bytes[start..].to_vec()),
                cut: None,
            },
            None => GgufCase {
                doc: None,
                raw_head: bytes.to_vec(),
                data: Arc::new(Vec::new()),
                cut: None,
            },
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let head = match &self.doc {
            Some(doc) => doc.write(),
            None => self.raw_head.clone(),
        };
        let mut out = Vec::with_capacity(head.len() + self.data.len());
        out.extend_from_slice(&head);
        out.extend_from_slice(&self.data);
        if let Some(cut) = self.cut {
            out.truncate(cut);
        }
        out
    }

    /// Bytes this case keeps for itself (what storing it in the corpus costs).
    pub fn own_bytes(&self) -> usize {
        let data = if Arc::strong_count(&self.data) > 1 {
            0
        } else {
            self.data.len()
        };
        self.raw_head.len() + data + self.doc.as_ref().map_or(0, |d| d.write().len())
    }
}

/// Metadata keys the loaders read, with the type they expect (the first two are the
/// file-level ones: architecture and alignment).
pub const KNOWN_KEYS: &[(&str, u32)] = &[
    ("general.architecture", T_STRING),
    ("general.alignment", T_U32),
    ("gvt.vision.image_size", T_U32),
    ("gvt.vision.patch_size", T_U32),
    ("gvt.vision.embedding_length", T_U32),
    ("gvt.vision.block_count", T_U32),
    ("gvt.vision.head_count", T_U32),
    ("gvt.vision.feed_forward_length", T_U32),
    ("gvt.vision.layer_norm_epsilon", T_F32),
    ("gvt.vision.ln_vision_epsilon", T_F32),
    ("gvt.vision.rope_theta", T_F32),
    ("gvt.vision.image_mean", T_ARRAY),
    ("gvt.vision.image_std", T_ARRAY),
    ("gvt.resampler.block_count", T_U32),
    ("gvt.resampler.head_count", T_U32),
    ("gvt.resampler.head_dim", T_U32),
    ("gvt.resampler.latent_count", T_U32),
    ("gvt.resampler.feed_forward_length", T_U32),
    ("gvt.resampler.layer_norm_epsilon", T_F32),
    ("llama.vocab_size", T_U32),
    ("llama.embedding_length", T_U32),
    ("llama.block_count", T_U32),
    ("llama.attention.head_count", T_U32),
    ("llama.attention.head_count_kv", T_U32),
    ("llama.attention.key_length", T_U32),
    ("llama.feed_forward_length", T_U32),
    ("llama.attention.layer_norm_rms_epsilon", T_F32),
    ("llama.rope.freq_base", T_F32),
    ("llama.context_length", T_U32),
    ("tokenizer.ggml.model", T_STRING),
    ("tokenizer.ggml.pre", T_STRING),
    ("tokenizer.ggml.tokens", T_ARRAY),
    ("tokenizer.ggml.token_type", T_ARRAY),
    ("tokenizer.ggml.scores", T_ARRAY),
    ("tokenizer.ggml.merges", T_ARRAY),
    ("tokenizer.ggml.bos_token_id", T_U32),
    ("tokenizer.ggml.eos_token_id", T_U32),
    ("tokenizer.ggml.unknown_token_id", T_U32),
    ("tokenizer.ggml.eot_token_id", T_U32),
    ("tokenizer.ggml.add_bos_token", 7),
    ("tokenizer.ggml.add_space_prefix", 7),
    ("tokenizer.chat_template", T_STRING),
];

const STRINGS: &[&str] = &[
    "",
    "gvt",
    "llama",
    "gpt2",
    "smollm",
    "llama3",
    "mistral",
    "bert",
    "<|im_start|>",
    "\u{0}",
    "{{ raise_exception('no') }}",
    "{% for m in messages %}{{ m.content }}{% endfor %}",
    "{{ messages[0]['content'] * 1000 }}",
    "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
    "token_embd.weight",
    "output.weight",
    "v.pos_embd",
];

/// The encoding of one random scalar of type `ty` (or of a random string).
fn random_scalar(rng: &mut Rng, ty: u32) -> Vec<u8> {
    match ty {
        T_F32 => rng.pick(INTERESTING_F32).to_le_bytes().to_vec(),
        12 => (*rng.pick(INTERESTING_F32) as f64).to_le_bytes().to_vec(),
        7 => vec![*rng.pick(&[0u8, 1, 2, 255])],
        T_STRING => {
            let s: Vec<u8> = if rng.one_in(4) {
                let mut s = rng.pick(STRINGS).as_bytes().to_vec();
                mutate_bytes(rng, &mut s, 0, 4096);
                s
            } else {
                rng.pick(STRINGS).as_bytes().to_vec()
            };
            let mut out = (s.len() as u64).to_le_bytes().to_vec();
            out.extend_from_slice(&s);
            out
        }
        _ => {
            let size = scalar_size(ty).unwrap_or(4);
            let v = if rng.one_in(3) {
                rng.next_u64()
            } else {
                *rng.pick(INTERESTING_U64)
            };
            v.to_le_bytes()[..size].to_vec()
        }
    }
}

/// A whole array value: `elem_type | count | elements`.
fn random_array(rng: &mut Rng) -> Vec<u8> {
    let et = rng.below(13) as u32;
    let et = if et == T_ARRAY { T_U32 } else { et };
    let n = rng.small(64);
    let mut out = et.to_le_bytes().to_vec();
    out.extend_from_slice(&(n as u64).to_le_bytes());
    for _ in 0..n {
        out.extend(random_scalar(rng, et));
    }
    out
}

/// Element byte ranges of an array payload (`None` when it does not decode).
fn array_elements(payload: &[u8]) -> Option<(u32, Vec<std::ops::Range<usize>>)> {
    let mut c = Cursor { b: payload, pos: 0 };
    let et = c.u32()?;
    let n = c.u64()?;
    if n > 1 << 20 {
        return None;
    }
    let mut ranges = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let start = c.pos;
        c.skip_value(et, 1)?;
        ranges.push(start..c.pos);
    }
    Some((et, ranges))
}

/// Mutates an array payload structurally; `valid` keeps the encoding well-formed (no count
/// lie, no element type change).
fn mutate_array(rng: &mut Rng, payload: &mut Vec<u8>, valid: bool) {
    if payload.len() < 12 {
        *payload = random_array(rng);
        return;
    }
    match if valid {
        2 + rng.below(5)
    } else {
        rng.below(7)
    } {
        // Lie about the count.
        0 => {
            let n = *rng.pick(INTERESTING_U64);
            payload[4..12].copy_from_slice(&n.to_le_bytes());
        }
        // Change the element type (the payload is reinterpreted).
        1 => {
            let et = rng.below(16) as u32;
            payload[0..4].copy_from_slice(&et.to_le_bytes());
        }
        // Overwrite one element with an interesting value of its type.
        2 | 3 => {
            if let Some((et, ranges)) = array_elements(payload)
                && !ranges.is_empty()
            {
                let r = ranges[rng.below(ranges.len())].clone();
                payload.splice(r, random_scalar(rng, et));
            }
        }
        // Drop elements from the end (fixing the count).
        4 => {
            if let Some((_, ranges)) = array_elements(payload) {
                let keep = rng.below(ranges.len() + 1);
                let end = ranges.get(keep).map_or(payload.len(), |r| r.start);
                payload.truncate(end);
                payload[4..12].copy_from_slice(&(keep as u64).to_le_bytes());
            }
        }
        // Repeat elements (fixing the count), up to about 1 MiB.
        5 => {
            if let Some((_, ranges)) = array_elements(payload)
                && let Some(r) = ranges.get(rng.below(ranges.len().max(1)))
            {
                let piece = payload[r.clone()].to_vec();
                let times = (1 + rng.small(4096)).min((1 << 20) / piece.len().max(1));
                for _ in 0..times {
                    payload.extend_from_slice(&piece);
                }
                let n = ranges.len() + times;
                payload[4..12].copy_from_slice(&(n as u64).to_le_bytes());
            }
        }
        _ => *payload = random_array(rng),
    }
}

/// Writes NaN/inf (or a random value) into the data section, as f32 or f16.
fn mutate_data(rng: &mut Rng, case: &mut GgufCase) {
    let data = Arc::make_mut(&mut case.data);
    if data.len() < 4 {
        return;
    }
    let n = 1 + rng.small(32);
    for _ in 0..n {
        let i = rng.below(data.len() / 2) * 2;
        if i + 4 <= data.len() && rng.one_in(2) {
            let v = *rng.pick(&[f32::NAN, f32::INFINITY, f32::NEG_INFINITY, f32::MAX]);
            data[i..i + 4].copy_from_slice(&v.to_le_bytes());
        } else if i + 2 <= data.len() {
            // f16 NaN, inf, -inf, max.
            let v: u16 = *rng.pick(&[0x7E00, 0x7C00, 0xFC00, 0x7BFF]);
            data[i..i + 2].copy_from_slice(&v.to_le_bytes());
        }
    }
}

/// One structural mutation of `doc`.
fn mutate_doc(rng: &mut Rng, doc: &mut Doc, data_len: usize, huge: bool) {
    match rng.below(16) {
        // A key the loaders read, set to an edge value of its type (or of another type).
        0..=3 => {
            let (key, ty) = *rng.pick(KNOWN_KEYS);
            let ty = if rng.one_in(5) {
                rng.below(13) as u32
            } else {
                ty
            };
            let payload = if ty == T_ARRAY {
                random_array(rng)
            } else {
                random_scalar(rng, ty)
            };
            doc.set(key, ty, payload);
        }
        // Mutate an existing value in place.
        4 | 5 if !doc.kvs.is_empty() => {
            let i = rng.below(doc.kvs.len());
            let kv = &mut doc.kvs[i];
            match kv.ty {
                T_ARRAY => mutate_array(rng, &mut kv.payload, false),
                T_STRING if rng.one_in(2) => {
                    // Mutate the string's bytes (length fixed up, or a lie).
                    let mut s = kv.payload.get(8..).unwrap_or_default().to_vec();
                    mutate_bytes(rng, &mut s, 0, 1 << 16);
                    let n = if rng.one_in(8) {
                        *rng.pick(INTERESTING_U64)
                    } else {
                        s.len() as u64
                    };
                    kv.payload = n.to_le_bytes().to_vec();
                    kv.payload.extend(s);
                }
                ty => kv.payload = random_scalar(rng, ty),
            }
        }
        // Change a type id alone (the payload is reinterpreted).
        6 if !doc.kvs.is_empty() => {
            let i = rng.below(doc.kvs.len());
            doc.kvs[i].ty = if rng.one_in(4) {
                rng.next_u64() as u32
            } else {
                rng.below(14) as u32
            };
        }
        // Remove, duplicate or rename entries.
        7 if !doc.kvs.is_empty() => {
            let i = rng.below(doc.kvs.len());
            match rng.below(4) {
                0 => {
                    doc.kvs.remove(i);
                }
                1 => {
                    let kv = doc.kvs[i].clone();
                    let at = rng.below(doc.kvs.len() + 1);
                    doc.kvs.insert(at, kv);
                }
                2 => doc.kvs[i].key = rng.pick(KNOWN_KEYS).0.as_bytes().to_vec(),
                _ => mutate_bytes(rng, &mut doc.kvs[i].key, 0, 256),
            }
        }
        // A 64 Mi-element (or smaller) u8 array: allocation amplification in the reader.
        8 if rng.one_in(64) => {
            let sizes: &[usize] = if huge {
                &[1 << 16, 1 << 20, 1 << 24, 1 << 26]
            } else {
                &[1 << 16, 1 << 20]
            };
            let n = *rng.pick(sizes);
            let mut payload = 0u32.to_le_bytes().to_vec();
            payload.extend_from_slice(&(n as u64).to_le_bytes());
            payload.resize(12 + n, 7);
            doc.set("test.huge_u8_array", T_ARRAY, payload);
        }
        // Tensor dims.
        9 | 10 if !doc.tensors.is_empty() => {
            let i = rng.below(doc.tensors.len());
            let t = &mut doc.tensors[i];
            match rng.below(5) {
                0 if !t.dims.is_empty() => {
                    let d = rng.below(t.dims.len());
                    t.dims[d] = *rng.pick(INTERESTING_U64);
                }
                1 => t.dims.push(*rng.pick(&[0u64, 1, 2, 1 << 32])),
                2 => {
                    t.dims.pop();
                }
                3 => t.n_dims = Some(*rng.pick(&[0u32, 1, 4, 5, 8, 64, u32::MAX])),
                _ => t.dims.reverse(),
            }
        }
        // Tensor type and offset.
        11 if !doc.tensors.is_empty() => {
            let i = rng.below(doc.tensors.len());
            let other = doc.tensors[rng.below(doc.tensors.len())].offset;
            let t = &mut doc.tensors[i];
            match rng.below(4) {
                0 => t.dtype = rng.below(42) as u32,
                1 => t.dtype = rng.next_u64() as u32,
                2 => {
                    let interesting = *rng.pick(INTERESTING_U64);
                    t.offset = *rng.pick(&[
                        other,
                        t.offset.wrapping_add(1),
                        t.offset.wrapping_add(32),
                        data_len as u64,
                        data_len as u64 + 32,
                        interesting,
                    ])
                }
                _ => t.offset = t.offset.wrapping_sub(32),
            }
        }
        // Remove, duplicate or rename tensors.
        12 if !doc.tensors.is_empty() => {
            let i = rng.below(doc.tensors.len());
            match rng.below(4) {
                0 => {
                    doc.tensors.remove(i);
                }
                1 => {
                    let t = doc.tensors[i].clone();
                    doc.tensors.push(t);
                }
                2 => {
                    let j = rng.below(doc.tensors.len());
                    doc.tensors[i].name = doc.tensors[j].name.clone();
                }
                _ => mutate_bytes(rng, &mut doc.tensors[i].name, 0, 256),
            }
        }
        // Header fields.
        13 => match rng.below(4) {
            0 => doc.version = *rng.pick(&[0u32, 1, 2, 3, 4, u32::MAX]),
            1 => doc.tensor_count = Some(*rng.pick(INTERESTING_U64)),
            2 => doc.kv_count = Some(*rng.pick(INTERESTING_U64)),
            _ => doc.magic[rng.below(4)] ^= 1 << rng.below(8),
        },
        // Alignment.
        14 => {
            let a = *rng.pick(&[0u32, 1, 3, 8, 16, 64, 1 << 20, u32::MAX]);
            doc.set("general.alignment", T_U32, a.to_le_bytes().to_vec());
        }
        _ => {
            let (key, _) = *rng.pick(KNOWN_KEYS);
            if let Some(i) = doc.kv_index(key) {
                doc.kvs.remove(i);
            }
        }
    }
}

/// Appends `n` new tokens to the vocabulary, keeping `tokens`, `token_type` and `scores`
/// the same length: user-defined or control tokens that `encode` can produce, with ids past
/// what the model's embedding may hold.
fn grow_vocab(rng: &mut Rng, doc: &mut Doc) {
    let n = 1 + rng.small(300);
    let ty: i32 = *rng.pick(&[1, 3, 4]);
    let tag = rng.next_u64() as u16;
    let mut append = |key: &str, elem: &dyn Fn(usize) -> Vec<u8>| {
        if let Some(i) = doc.kv_index(key)
            && doc.kvs[i].ty == T_ARRAY
            && doc.kvs[i].payload.len() >= 12
        {
            let p = &mut doc.kvs[i].payload;
            let count = u64::from_le_bytes(p[4..12].try_into().unwrap());
            for j in 0..n {
                p.extend(elem(j));
            }
            p[4..12].copy_from_slice(&count.wrapping_add(n as u64).to_le_bytes());
        }
    };
    append("tokenizer.ggml.tokens", &|j| {
        let t = format!("<fz{tag}_{j}>");
        let mut e = (t.len() as u64).to_le_bytes().to_vec();
        e.extend_from_slice(t.as_bytes());
        e
    });
    append("tokenizer.ggml.token_type", &|_| ty.to_le_bytes().to_vec());
    append("tokenizer.ggml.scores", &|_| {
        (-1.0f32).to_le_bytes().to_vec()
    });
}

/// Applies one to four mutations; `huge` allows metadata arrays of up to 64 Mi elements.
///
/// Three times in four the mutations are "semantic" only (metadata values of the keys the loaders
/// read, weights made NaN/inf): the file still parses, so configuration, tokenizer and the
/// full load see it. Otherwise anything goes, byte-level edits of the header included.
pub fn mutate(rng: &mut Rng, case: &mut GgufCase, huge: bool) {
    let semantic = case.doc.is_some() && !rng.one_in(4);
    for _ in 0..1 + rng.small(3) {
        if semantic {
            match (&mut case.doc, rng.below(10)) {
                (_, 0) => mutate_data(rng, case),
                (Some(doc), 1) => grow_vocab(rng, doc),
                (Some(doc), _) => {
                    let (key, ty) = *rng.pick(&KNOWN_KEYS[2..]);
                    let payload = match doc.kv_index(key) {
                        Some(i) if ty == T_ARRAY && doc.kvs[i].ty == T_ARRAY => {
                            let mut p = doc.kvs[i].payload.clone();
                            mutate_array(rng, &mut p, true);
                            p
                        }
                        _ if ty == T_ARRAY => random_array(rng),
                        _ => random_scalar(rng, ty),
                    };
                    doc.set(key, ty, payload);
                }
                (None, _) => {}
            }
            continue;
        }
        match (&mut case.doc, rng.below(20)) {
            (Some(doc), 0..=14) => mutate_doc(rng, doc, case.data.len(), huge),
            (_, 15) if rng.one_in(2) => mutate_data(rng, case),
            (_, 16) => {
                let len = case.to_bytes().len();
                case.cut = Some(rng.below(len + 1));
            }
            _ => {
                // Byte-level on the header (the data section stays shared).
                let mut head = match case.doc.take() {
                    Some(doc) => doc.write(),
                    None => std::mem::take(&mut case.raw_head),
                };
                mutate_bytes(rng, &mut head, 0, 1 << 22);
                case.raw_head = head;
            }
        }
    }
}
