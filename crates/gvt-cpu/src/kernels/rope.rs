//! Rotary position embeddings on adjacent pairs `(x[2i], x[2i + 1])`, as llama.cpp's
//! `rope_norm` and `shaders/rope.wgsl`.

/// cos then sin for positions `0..positions`, `head_dim / 2` pairs each: pair `i` turns
/// by `p * base^(-2i / head_dim)` at position `p`, computed exactly as the reference
/// computes its table (angles in f64, rounded to f32, then cos and sin).
pub fn llm_table(positions: usize, head_dim: usize, base: f64) -> Vec<f32> {
    let pairs = head_dim / 2;
    let angle =
        |p: usize, i: usize| (p as f64 * base.powf(-2.0 * i as f64 / head_dim as f64)) as f32;
    let mut table = Vec::with_capacity(2 * positions * pairs);
    for f in [f32::cos, f32::sin] {
        for p in 0..positions {
            table.extend((0..pairs).map(|i| f(angle(p, i))));
        }
    }
    table
}

/// Rotates every head of `x` (`[heads * head_dim]`, one position) by `cos` and `sin` (that
/// position's rows of the table).
pub fn rope(x: &mut [f32], head_dim: usize, cos: &[f32], sin: &[f32]) {
    for head in x.chunks_exact_mut(head_dim) {
        for ((pair, c), s) in head.as_chunks_mut::<2>().0.iter_mut().zip(cos).zip(sin) {
            let [a, b] = *pair;
            *pair = [a * c - b * s, a * s + b * c];
        }
    }
}
