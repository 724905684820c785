//! Scaled dot-product attention that also hands back its probabilities, which the
//! attention maps are made of.

use burn::tensor::activation::softmax;
use burn::tensor::{Bool, Device, Tensor};

/// `softmax(q k^T * scale + mask) v`.
///
/// Returns the output and the attention probabilities.
///
/// # Shapes
/// - q: `[b, h, tq, d]`, k and v: `[b, h, tk, d]`, mask: `[tq, tk]` (true = hidden)
/// - -> out `[b, h, tq, d]`, probs `[b, h, tq, tk]`
pub fn attention(
    q: Tensor<4>,
    k: Tensor<4>,
    v: Tensor<4>,
    scale: f64,
    mask: Option<Tensor<2, Bool>>,
) -> (Tensor<4>, Tensor<4>) {
    let scores = q.matmul(k.swap_dims(2, 3)) * scale; // [b, h, tq, tk]
    let scores = match mask {
        Some(mask) => scores.mask_fill(mask.unsqueeze::<4>(), f32::NEG_INFINITY),
        None => scores,
    };
    let probs = softmax(scores, 3);
    (probs.clone().matmul(v), probs)
}

/// Causal mask for `t` new queries after `past` cached positions: query `i` sees keys
/// `0..=past + i`.
///
/// # Shapes
/// -> `[t, past + t]`, true where attention is not allowed
pub fn causal_mask(t: usize, past: usize, device: &Device) -> Tensor<2, Bool> {
    // tril_mask is false on and below the `past`-shifted diagonal, true above it.
    Tensor::<2, Bool>::tril_mask([t, past + t], past as i64, device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causal_mask_hides_only_the_future() {
        let device = Device::flex();
        let mask = causal_mask(2, 3, &device)
            .into_data()
            .try_to_vec::<bool>()
            .unwrap();
        // Query 0 is position 3: sees keys 0..=3. Query 1 is position 4: sees all 5.
        assert_eq!(
            mask,
            vec![
                false, false, false, false, true, false, false, false, false, false
            ]
        );
    }
}
