//! Row norms (RMSNorm for the LLM, LayerNorm for the visual path), per row of `[t, width]`,
//! and the element-wise activations that follow products: SwiGLU, GELU, a bias.

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

/// Exact (erf) GELU in place, as `shaders/linear.wgsl` computes it.
pub fn gelu(x: &mut [f32]) {
    for v in x.iter_mut() {
        *v = 0.5 * *v * (1.0 + erf(*v * std::f32::consts::FRAC_1_SQRT_2));
    }
}

/// erf to 1.2e-7: Numerical Recipes' rational approximation of erfc.
fn erf(v: f32) -> f32 {
    let z = v.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -1.265_512_2
        + t * (1.000_023_7
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_204
                                + t * (1.488_515_9 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * (-z * z + poly).exp();
    if v >= 0.0 { 1.0 - r } else { r - 1.0 }
}

/// Adds `bias` to every row of `y` (`[t, bias.len()]`).
pub fn add_bias(y: &mut [f32], bias: &[f32]) {
    for row in y.chunks_exact_mut(bias.len()) {
        row.iter_mut().zip(bias).for_each(|(y, b)| *y += b);
    }
}
