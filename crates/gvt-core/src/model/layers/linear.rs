//! Linear layers and the token embedding.

use burn::module::{Module, Param};
use burn::tensor::{Int, Tensor};

use crate::Result;
use crate::model::params::{Init, ParamSource};

/// `y = x W + b`, with `W` stored `[d_in, d_out]`.
///
/// One type for every weight format: the weight tensor's dtype (f32, or burn's block
/// quantized formats) decides which matmul burn runs, so the model code never forks on it.
#[derive(Module, Debug)]
pub struct Linear {
    pub weight: Param<Tensor<2>>,
    pub bias: Option<Param<Tensor<1>>>,
}

impl Linear {
    /// Loads `{name}.weight` (and `{name}.bias` when `bias`).
    pub fn load(
        src: &mut impl ParamSource,
        name: &str,
        d_in: usize,
        d_out: usize,
        bias: bool,
    ) -> Result<Self> {
        let weight = src.linear_weight(&format!("{name}.weight"), d_in, d_out)?;
        let bias = if bias {
            Some(src.tensor(&format!("{name}.bias"), [d_out], Init::Zeros)?)
        } else {
            None
        };
        Ok(Self { weight, bias })
    }

    /// # Shapes
    /// - x: `[..., d_in]` -> `[..., d_out]`
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        burn::tensor::module::linear(x, self.weight.val(), self.bias.as_ref().map(|b| b.val()))
    }
}

/// Token embedding table `[vocab, width]`.
#[derive(Module, Debug)]
pub struct Embedding {
    pub weight: Param<Tensor<2>>,
}

impl Embedding {
    pub fn load(
        src: &mut impl ParamSource,
        name: &str,
        vocab: usize,
        width: usize,
    ) -> Result<Self> {
        Ok(Self {
            weight: src.tensor(name, [vocab, width], Init::Normal(0.02))?,
        })
    }

    /// # Shapes
    /// - ids: `[t]` -> `[1, t, width]`
    pub fn forward(&self, ids: Tensor<1, Int>) -> Tensor<3> {
        let [t] = ids.dims();
        let [_, width] = self.weight.dims();
        self.weight.val().select(0, ids).reshape([1, t, width])
    }

    /// # Shapes
    /// - ids: `[b, t]` -> `[b, t, width]`
    pub fn forward_batch(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        let [b, t] = ids.dims();
        let [_, width] = self.weight.dims();
        self.weight
            .val()
            .select(0, ids.reshape([b * t]))
            .reshape([b, t, width])
    }

    /// Logits through the transposed table, for models with a tied output head.
    ///
    /// Computed as `(W x^T)^T` so the `[vocab, width]` table is read in its stored layout: a
    /// transposed view of it made the CPU backend copy the whole table on every token.
    ///
    /// # Shapes
    /// - x: `[b, t, width]` -> `[b, t, vocab]`
    pub fn project_out(&self, x: Tensor<3>) -> Tensor<3> {
        let [b, t, width] = x.dims();
        let [vocab, _] = self.weight.dims();
        let x = x.reshape([b * t, width]).transpose(); // [width, b t]
        self.weight
            .val()
            .matmul(x) // [vocab, b t]
            .transpose()
            .reshape([b, t, vocab])
    }
}
