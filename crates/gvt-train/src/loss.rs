//! Losses shared by both stages.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor};

/// Cross-entropy of `logits` against `targets`, averaged over rows; with `weights`, a
/// weighted average (rows of weight 0 are ignored).
///
/// # Shapes
/// - logits: `[n, classes]`, targets: `[n]`, weights: `[n]` -> `[1]`
pub fn cross_entropy(
    logits: Tensor<2>,
    targets: Tensor<1, Int>,
    weights: Option<Tensor<1>>,
) -> Tensor<1> {
    let [n, _] = logits.dims();
    let picked = log_softmax(logits, 1)
        .gather(1, targets.reshape([n, 1]))
        .reshape([n]); // [n] log-probabilities of the targets
    match weights {
        None => picked.mean().neg(),
        Some(w) => {
            let total = w.clone().sum().clamp_min(1.0);
            (picked * w).sum().neg() / total
        }
    }
}

/// Share of rows whose arg-max equals the target, among rows whose target is not
/// `ignore` (e.g. the background class, which would otherwise dominate).
///
/// # Shapes
/// - logits: `[n, classes]`, targets: `[n]`
pub fn accuracy(logits: Tensor<2>, targets: Tensor<1, Int>, ignore: Option<i64>) -> Tensor<1> {
    let [n, _] = logits.dims();
    let correct = logits.argmax(1).reshape([n]).equal(targets.clone()).float();
    match ignore {
        None => correct.mean(),
        Some(class) => {
            let counted = targets.not_equal_elem(class).float();
            let total = counted.clone().sum().clamp_min(1.0);
            (correct * counted).sum() / total
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    #[test]
    fn matches_a_hand_computed_value() {
        let device = Device::flex();
        let logits = Tensor::<2>::from_data(
            TensorData::new(vec![0.0f32, 0.0, 1.0, 3.0, 0.0, 0.0], [2, 3]),
            &device,
        );
        let targets = Tensor::<1, Int>::from_data(TensorData::new(vec![2i64, 0], [2]), &device);
        // Row 0: -log(e / (2 + e)); row 1: -log(e^3 / (e^3 + 2)).
        let e = std::f32::consts::E;
        let row0 = -(e / (2.0 + e)).ln();
        let row1 = -(e.powi(3) / (e.powi(3) + 2.0)).ln();
        let mean: f32 = cross_entropy(logits.clone(), targets.clone(), None).into_scalar();
        assert!((mean - (row0 + row1) / 2.0).abs() < 1e-6);
        let weights = Tensor::<1>::from_data(TensorData::new(vec![0.0f32, 1.0], [2]), &device);
        let weighted: f32 =
            cross_entropy(logits.clone(), targets.clone(), Some(weights)).into_scalar();
        assert!((weighted - row1).abs() < 1e-6);
        let acc: f32 = accuracy(logits.clone(), targets.clone(), None).into_scalar();
        assert_eq!(acc, 1.0);
        let acc: f32 = accuracy(logits, targets, Some(2)).into_scalar();
        assert_eq!(acc, 1.0, "only the row with target 0 counts");
    }
}
