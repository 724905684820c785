//! LayerNorm (vision tower, resampler) and RMSNorm (LLM).

use burn::module::{Module, Param};
use burn::tensor::Tensor;

use crate::Result;
use crate::model::params::{Init, ParamSource};

/// LayerNorm with weight and bias over the last axis.
#[derive(Module, Debug)]
pub struct LayerNorm {
    pub weight: Param<Tensor<1>>,
    pub bias: Param<Tensor<1>>,
    pub eps: f64,
}

impl LayerNorm {
    /// Loads `{name}.weight` and `{name}.bias`.
    pub fn load(src: &mut impl ParamSource, name: &str, width: usize, eps: f64) -> Result<Self> {
        Ok(Self {
            weight: src.tensor(&format!("{name}.weight"), [width], Init::Ones)?,
            bias: src.tensor(&format!("{name}.bias"), [width], Init::Zeros)?,
            eps,
        })
    }

    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        burn::tensor::module::layer_norm(x, self.weight.val(), Some(self.bias.val()), self.eps)
    }
}

/// RMSNorm: `x / sqrt(mean(x^2) + eps) * weight`.
#[derive(Module, Debug)]
pub struct RmsNorm {
    pub weight: Param<Tensor<1>>,
    pub eps: f64,
}

impl RmsNorm {
    pub fn load(src: &mut impl ParamSource, name: &str, width: usize, eps: f64) -> Result<Self> {
        Ok(Self {
            weight: src.tensor(name, [width], Init::Ones)?,
            eps,
        })
    }

    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let rms = (x.clone().powi_scalar(2).mean_dim(D - 1) + self.eps).sqrt();
        x / rms * self.weight.val().unsqueeze()
    }
}
