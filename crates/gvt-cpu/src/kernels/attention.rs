//! Attention, one (position, head) pair per task: causal over a KV cache (the LLM;
//! grouped-query heads share their key/value head, and the last position's probabilities
//! can be kept for attention maps), or unmasked over rows of keys and values (the vision
//! tower and the resampler, whose probabilities can be kept whole).

use std::sync::atomic::{AtomicUsize, Ordering};

use super::Out;
use super::dot::dot_f32;
use crate::Cpu;

/// Heads of queries and of keys/values, and their size.
#[derive(Debug, Clone, Copy)]
pub struct Heads {
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
}

/// A layer's cache: keys and values `[kv_heads, capacity, head_dim]`.
#[derive(Clone, Copy)]
pub struct Cache<'a> {
    pub k: &'a [f32],
    pub v: &'a [f32],
    pub capacity: usize,
}

/// Attention of `t` queries (`q`: `[t, heads * head_dim]`, at positions `start..start + t`)
/// over the cached positions up to each one, into `out` (same shape as `q`). With `probs`
/// (`[heads, start + t]`), the last query's probabilities are written there.
#[allow(clippy::too_many_arguments)]
pub fn attention(
    cpu: &Cpu,
    h: Heads,
    q: &[f32],
    cache: Cache<'_>,
    start: usize,
    out: &mut [f32],
    probs: Option<&mut [f32]>,
) {
    let width = h.heads * h.head_dim;
    let t = q.len() / width;
    assert_eq!(out.len(), q.len());
    assert!(start + t <= cache.capacity);
    let group = h.heads / h.kv_heads;
    let scale = 1.0 / (h.head_dim as f32).sqrt();
    let keys_all = start + t;
    let out = Out::new(out, 1, false);
    let probs = probs.map(|p| {
        assert_eq!(p.len(), h.heads * keys_all);
        Out::new(p, 1, false)
    });
    let next = AtomicUsize::new(0);
    cpu.pool.run(&|_| {
        let mut scores = Vec::with_capacity(keys_all);
        loop {
            let task = next.fetch_add(1, Ordering::Relaxed);
            if task >= t * h.heads {
                break;
            }
            let (ti, head) = (task / h.heads, task % h.heads);
            let keys = start + ti + 1;
            let kv = head / group;
            let base = kv * cache.capacity * h.head_dim;
            let query = &q[ti * width + head * h.head_dim..][..h.head_dim];
            scores.clear();
            scores.extend((0..keys).map(|j| {
                let key = &cache.k[base + j * h.head_dim..][..h.head_dim];
                dot_f32(cpu.isa, query, key) * scale
            }));
            softmax(&mut scores);
            let mut acc = [0f32; MAX_HEAD_DIM];
            let acc = &mut acc[..h.head_dim];
            for (j, p) in scores.iter().enumerate() {
                let value = &cache.v[base + j * h.head_dim..][..h.head_dim];
                for (a, v) in acc.iter_mut().zip(value) {
                    *a += p * v;
                }
            }
            let o = ti * width + head * h.head_dim;
            for (i, a) in acc.iter().enumerate() {
                out.put(o + i, 0, *a);
            }
            if let Some(probs) = &probs
                && ti + 1 == t
            {
                for (j, p) in scores.iter().enumerate() {
                    probs.put(head * keys_all + j, 0, *p);
                }
            }
        }
    });
}

/// The largest head the kernel holds on its stack.
pub const MAX_HEAD_DIM: usize = 256;

/// Keys and values as rows of activations: position `j`'s key at `k[j * stride + k_at..]`,
/// its value at `v[j * stride + v_at..]` (keys and values may share one buffer).
#[derive(Clone, Copy)]
pub struct KeysValues<'a> {
    pub k: &'a [f32],
    pub v: &'a [f32],
    pub stride: usize,
    pub k_at: usize,
    pub v_at: usize,
    pub len: usize,
}

/// Unmasked attention of the queries `q` (`[tq, heads * head_dim]`) over every key (the
/// vision tower's self-attention, the resampler's cross-attention), into `out` (as `q`).
/// With `probs` (`[heads, tq, len]`), the probabilities are written there.
#[allow(clippy::too_many_arguments)]
pub fn full_attention(
    cpu: &Cpu,
    heads: usize,
    head_dim: usize,
    q: &[f32],
    kv: KeysValues<'_>,
    out: &mut [f32],
    probs: Option<&mut [f32]>,
) {
    let width = heads * head_dim;
    let tq = q.len() / width;
    assert_eq!(out.len(), q.len());
    assert!(head_dim <= MAX_HEAD_DIM);
    let scale = 1.0 / (head_dim as f32).sqrt();
    let out = Out::new(out, 1, false);
    let probs = probs.map(|p| {
        assert_eq!(p.len(), heads * tq * kv.len);
        Out::new(p, 1, false)
    });
    let next = AtomicUsize::new(0);
    cpu.pool.run(&|_| {
        let mut scores = Vec::with_capacity(kv.len);
        loop {
            let task = next.fetch_add(1, Ordering::Relaxed);
            if task >= tq * heads {
                break;
            }
            let (ti, head) = (task / heads, task % heads);
            let query = &q[ti * width + head * head_dim..][..head_dim];
            let at = head * head_dim;
            scores.clear();
            scores.extend((0..kv.len).map(|j| {
                let key = &kv.k[j * kv.stride + kv.k_at + at..][..head_dim];
                dot_f32(cpu.isa, query, key) * scale
            }));
            softmax(&mut scores);
            let mut acc = [0f32; MAX_HEAD_DIM];
            let acc = &mut acc[..head_dim];
            for (j, p) in scores.iter().enumerate() {
                let value = &kv.v[j * kv.stride + kv.v_at + at..][..head_dim];
                for (a, v) in acc.iter_mut().zip(value) {
                    *a += p * v;
                }
            }
            let o = ti * width + at;
            for (i, a) in acc.iter().enumerate() {
                out.put(o + i, 0, *a);
            }
            if let Some(probs) = &probs {
                let row = (head * tq + ti) * kv.len;
                for (j, p) in scores.iter().enumerate() {
                    probs.put(row + j, 0, *p);
                }
            }
        }
    });
}

/// Softmax in place, from the largest score.
fn softmax(scores: &mut [f32]) {
    let max = scores.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(s));
    let mut sum = 0.0;
    for s in scores.iter_mut() {
        *s = (*s - max).exp();
        sum += *s;
    }
    let inv = 1.0 / sum;
    scores.iter_mut().for_each(|s| *s *= inv);
}
