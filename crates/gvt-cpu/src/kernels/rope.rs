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

/// cos then sin for the vision tower's tokens: the CLS token (row 0, unrotated), then a
/// `grid x grid` patch grid in row-major order, `head_dim / 2` pairs each. Each axis gets
/// `head_dim / 4` pairs with frequencies `theta^(-2i / (head_dim / 2))`: the first turn with
/// the patch's row, the next with its column (EVA-02's 2-D RoPE, as the reference builds it).
pub fn vision_table(grid: usize, head_dim: usize, theta: f64) -> Vec<f32> {
    let pairs = head_dim / 2;
    let (axis_dim, axis_pairs) = (head_dim / 2, head_dim / 4);
    let mut angles = vec![0f32; pairs]; // CLS
    for row in 0..grid {
        for col in 0..grid {
            let start = angles.len();
            for pos in [row, col] {
                for i in 0..axis_pairs {
                    let freq = theta.powf(-2.0 * i as f64 / axis_dim as f64);
                    angles.push((pos as f64 * freq) as f32);
                }
            }
            angles.resize(start + pairs, 0.0);
        }
    }
    let mut table: Vec<f32> = angles.iter().map(|a| a.cos()).collect();
    table.extend(angles.iter().map(|a| a.sin()));
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
