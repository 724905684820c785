//! Rotary position embedding on adjacent pairs `(x[2i], x[2i+1])`.
//!
//! Both RoPEs in GVT reduce to this one rotation with different angle tables: the LLM's
//! (llama.cpp stores q/k permuted so the HF rotate-half layout becomes adjacent pairs) and
//! the ViT's 2-D RoPE (EVA-02 rotates interleaved pairs; first half of the pairs by the
//! patch row, second half by the column).

use burn::tensor::{Device, Tensor, TensorData};

/// Angles for `t` positions and `pairs` rotation pairs, as cos and sin tables `[t, pairs]`.
pub struct RotaryTable {
    pub cos: Tensor<2>,
    pub sin: Tensor<2>,
}

impl RotaryTable {
    fn from_angles(angles: Vec<f32>, t: usize, pairs: usize, device: &Device) -> Self {
        let cos = angles.iter().map(|a| a.cos()).collect::<Vec<_>>();
        let sin = angles.iter().map(|a| a.sin()).collect::<Vec<_>>();
        Self {
            cos: Tensor::from_data(TensorData::new(cos, [t, pairs]), device),
            sin: Tensor::from_data(TensorData::new(sin, [t, pairs]), device),
        }
    }

    /// 1-D RoPE (LLM): pair `i` at position `p` turns by `p * base^(-2i / head_dim)`.
    pub fn llm(
        positions: std::ops::Range<usize>,
        head_dim: usize,
        base: f64,
        device: &Device,
    ) -> Self {
        let pairs = head_dim / 2;
        let t = positions.len();
        let mut angles = Vec::with_capacity(t * pairs);
        for p in positions {
            for i in 0..pairs {
                let freq = base.powf(-2.0 * i as f64 / head_dim as f64);
                angles.push((p as f64 * freq) as f32);
            }
        }
        Self::from_angles(angles, t, pairs, device)
    }

    /// 2-D RoPE (ViT) for a `grid x grid` patch grid in row-major order. Each axis gets half
    /// the head (`axis_dim = head_dim / 2`, i.e. `head_dim / 4` pairs) with frequencies
    /// `theta^(-2i / axis_dim)`: the first pairs turn with the row, the rest with the column.
    pub fn vision(grid: usize, head_dim: usize, theta: f64, device: &Device) -> Self {
        let axis_dim = head_dim / 2;
        let axis_pairs = axis_dim / 2;
        let mut angles = Vec::with_capacity(grid * grid * 2 * axis_pairs);
        for row in 0..grid {
            for col in 0..grid {
                for pos in [row, col] {
                    for i in 0..axis_pairs {
                        let freq = theta.powf(-2.0 * i as f64 / axis_dim as f64);
                        angles.push((pos as f64 * freq) as f32);
                    }
                }
            }
        }
        Self::from_angles(angles, grid * grid, 2 * axis_pairs, device)
    }
}

/// Rotates adjacent pairs: `(x0, x1) -> (x0 cos - x1 sin, x0 sin + x1 cos)`.
///
/// # Shapes
/// - x: `[b, h, t, d]`, table: `[t, d / 2]` -> `[b, h, t, d]`
pub fn rotate_pairs(x: Tensor<4>, table: &RotaryTable) -> Tensor<4> {
    let [b, h, t, d] = x.dims();
    let x = x.reshape([b, h, t, d / 2, 2]);
    let x0 = x.clone().narrow(4, 0, 1).reshape([b, h, t, d / 2]);
    let x1 = x.narrow(4, 1, 1).reshape([b, h, t, d / 2]);
    let cos = table.cos.clone().reshape([1, 1, t, d / 2]);
    let sin = table.sin.clone().reshape([1, 1, t, d / 2]);
    let r0 = x0.clone() * cos.clone() - x1.clone() * sin.clone();
    let r1 = x0 * sin + x1 * cos;
    Tensor::stack::<5>(vec![r0, r1], 4).reshape([b, h, t, d])
}
