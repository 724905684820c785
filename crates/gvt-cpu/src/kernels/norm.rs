//! Row norms: RMSNorm (the LLM) and LayerNorm (the vision tower), per row of `[t, width]`.

/// `out = x / rms(x) * w`, each row of `width`.
pub fn rms_norm(x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) {
    let width = w.len();
    for (x, out) in x.chunks_exact(width).zip(out.chunks_exact_mut(width)) {
        let mean = x.iter().map(|v| v * v).sum::<f32>() / width as f32;
        let scale = 1.0 / (mean + eps).sqrt();
        for ((o, x), w) in out.iter_mut().zip(x).zip(w) {
            *o = x * scale * w;
        }
    }
}

/// `out = (x - mean) / sqrt(var + eps) * w + b`, each row of `width`.
pub fn layer_norm(x: &[f32], w: &[f32], b: &[f32], eps: f32, out: &mut [f32]) {
    let width = w.len();
    for (x, out) in x.chunks_exact(width).zip(out.chunks_exact_mut(width)) {
        let mean = x.iter().sum::<f32>() / width as f32;
        let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / width as f32;
        let scale = 1.0 / (var + eps).sqrt();
        for (((o, x), w), b) in out.iter_mut().zip(x).zip(w).zip(b) {
            *o = (x - mean) * scale * w + b;
        }
    }
}

/// SwiGLU in place: `gate = silu(gate) * up`.
pub fn swiglu(gate: &mut [f32], up: &[f32]) {
    for (g, u) in gate.iter_mut().zip(up) {
        *g = *g / (1.0 + (-*g).exp()) * u;
    }
}
