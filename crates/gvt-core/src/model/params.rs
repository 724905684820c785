//! Where a model's parameters come from. Every module is built by one constructor that asks a
//! [`ParamSource`] for its tensors by GGUF name, so loading a file and initialising fresh
//! weights for training go through the same code (no second copy of the model).

use burn::backend::DispatchDevice;
use burn::module::{Param, ParamId};
use burn::tensor::quantization::{QuantValue, ScaleDtype};
use burn::tensor::{DType, Device, Distribution, Tensor, TensorData};

use crate::gguf::{GgmlType, GgufFile, quant};
use crate::{Error, Result};

/// How a parameter is initialised when it does not come from a file.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    Zeros,
    Ones,
    /// Normal with mean 0 and this standard deviation.
    Normal(f64),
}

/// Supplies parameters by name. Shapes are row-major.
pub trait ParamSource {
    fn device(&self) -> &Device;

    /// A tensor of exactly this shape.
    fn tensor<const D: usize>(
        &mut self,
        name: &str,
        shape: [usize; D],
        init: Init,
    ) -> Result<Param<Tensor<D>>>;

    /// A linear layer's weight as `[d_in, d_out]`, the layout burn's `linear` takes. Files
    /// store it `[d_out, d_in]` (PyTorch's layout), so sources transpose.
    fn linear_weight(&mut self, name: &str, d_in: usize, d_out: usize) -> Result<Param<Tensor<2>>>;

    /// Whether an optional tensor (e.g. an untied `output.weight`) exists.
    fn contains(&self, name: &str) -> bool;
}

/// Loads parameters from a GGUF file.
///
/// Linear weights in Q8_0 or Q4_0 stay quantized on the device where burn computes with
/// those blocks exactly (see [`kept_format`]); everything else is dequantized to f32.
pub struct GgufSource<'a> {
    file: &'a GgufFile,
    device: Device,
    keep_quantized: bool,
    on_progress: Option<&'a mut dyn FnMut(u64)>,
}

/// The burn block format a GGUF linear weight stays in on `device`, or `None` to dequantize.
///
/// GGUF Q8_0 and Q4_0 are 32-value blocks of signed integers times an f16 scale, exactly
/// burn's symmetric block-32 Q8S format (Q4_0's values -8..=7 fit it without loss). They are
/// kept only where burn's float x quantized matmul gave the same logits as the dequantized
/// weights when measured, which `tests/quantized.rs` pins: on wgpu, as Q8S. On flex (burn
/// 0.22.1) the Q8S matmul was off by up to 4% and Q4S decoded some values one step off, so
/// the CPU path dequantizes.
pub fn kept_format(dtype: GgmlType, device: &Device) -> Option<QuantValue> {
    let cpu = matches!(device.as_dispatch(), DispatchDevice::Flex(_));
    match dtype {
        GgmlType::Q8_0 | GgmlType::Q4_0 if !cpu => Some(QuantValue::Q8S),
        _ => None,
    }
}

impl<'a> GgufSource<'a> {
    pub fn new(file: &'a GgufFile, device: &Device) -> Self {
        Self {
            file,
            device: device.clone(),
            keep_quantized: true,
            on_progress: None,
        }
    }

    /// Dequantizes every tensor to f32 (the reference path; uses more memory).
    pub fn dequantized(mut self) -> Self {
        self.keep_quantized = false;
        self
    }

    /// Calls `f` with the byte size of every tensor as it is loaded.
    pub fn with_progress(mut self, f: &'a mut dyn FnMut(u64)) -> Self {
        self.on_progress = Some(f);
        self
    }

    /// The tensor's view after checking its shape (leading 1-sized axes are ignored: writers
    /// differ on whether they keep them).
    fn view(&self, name: &str, shape: &[usize]) -> Result<crate::gguf::TensorView<'a>> {
        let view = self.file.tensor(name)?;
        let found = view.shape();
        let strip = |s: &[usize]| -> Vec<usize> {
            s.iter()
                .copied()
                .skip_while(|&d| d == 1)
                .collect::<Vec<_>>()
        };
        if strip(&found) != strip(shape) {
            return Err(Error::ShapeMismatch {
                name: name.to_string(),
                expected: shape.to_vec(),
                found,
            });
        }
        Ok(view)
    }

    fn report(&mut self, bytes: usize) {
        if let Some(progress) = self.on_progress.as_mut() {
            progress(bytes as u64);
        }
    }

    /// Reads a tensor as f32.
    fn read(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let view = self.view(name, shape)?;
        let values = view.to_f32()?;
        check_finite(name, &values)?;
        self.report(view.bytes.len());
        Ok(values)
    }

    /// The weight `[d_out, d_in]` as a burn quantized tensor, when kept quantized. Blocks
    /// run along `d_in` as in the file; the caller takes the transpose.
    fn quantized(&mut self, name: &str, d_in: usize, d_out: usize) -> Result<Option<Tensor<2>>> {
        let view = self.view(name, &[d_out, d_in])?;
        let Some(value) =
            kept_format(view.info.dtype, &self.device).filter(|_| self.keep_quantized)
        else {
            return Ok(None);
        };
        let Some(blocks) = quant::symmetric_blocks(view.info.dtype, view.bytes, d_out * d_in)?
        else {
            return Ok(None);
        };
        // The integer values are finite by construction; the block scales may not be.
        check_finite(name, &blocks.scales)?;
        // GGUF's scales are f16, but f16 in shaders needs the `shader-f16` feature, which
        // many GPUs and browsers' WebGPU lack; f32 holds every f16 value exactly.
        let scale = if self.device.supports_dtype(DType::F16) {
            ScaleDtype::F16
        } else {
            ScaleDtype::F32
        };
        let scheme = self
            .device
            .settings()
            .quantization
            .scheme
            .with_value(value)
            .per_block([32], scale);
        let data =
            TensorData::quantized(blocks.values, [d_out, d_in], scheme, &blocks.scales, None);
        self.report(view.bytes.len());
        Ok(Some(Tensor::from_data(data, &self.device)))
    }
}

impl ParamSource for GgufSource<'_> {
    fn device(&self) -> &Device {
        &self.device
    }

    fn tensor<const D: usize>(
        &mut self,
        name: &str,
        shape: [usize; D],
        _init: Init,
    ) -> Result<Param<Tensor<D>>> {
        let values = self.read(name, &shape)?;
        Ok(Param::from_tensor(Tensor::from_data(
            TensorData::new(values, shape),
            &self.device,
        )))
    }

    fn linear_weight(&mut self, name: &str, d_in: usize, d_out: usize) -> Result<Param<Tensor<2>>> {
        if let Some(weight) = self.quantized(name, d_in, d_out)? {
            // A transposed view: burn's quantized matmul reads the blocks along d_in.
            return Ok(Param::from_tensor(weight.transpose()));
        }
        let values = self.read(name, &[d_out, d_in])?;
        let transposed = transpose(&values, d_out, d_in);
        Ok(Param::from_tensor(Tensor::from_data(
            TensorData::new(transposed, [d_in, d_out]),
            &self.device,
        )))
    }

    fn contains(&self, name: &str) -> bool {
        self.file.contains(name)
    }
}

/// Refuses a tensor with a NaN or an infinity: the model would answer garbage. One pass over
/// values that loading touches anyway.
fn check_finite(name: &str, values: &[f32]) -> Result<()> {
    match values.iter().position(|x| !x.is_finite()) {
        None => Ok(()),
        Some(i) => Err(Error::NonFinite(format!(
            "tensor `{name}` holds {} at element {i}: the file's weights are broken",
            values[i]
        ))),
    }
}

/// Transposes a row-major `[rows, cols]` matrix.
pub(crate) fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; values.len()];
    // Tiled so both sides stay in cache for the large embedding and FFN matrices.
    const TILE: usize = 32;
    for r0 in (0..rows).step_by(TILE) {
        for c0 in (0..cols).step_by(TILE) {
            for r in r0..(r0 + TILE).min(rows) {
                for c in c0..(c0 + TILE).min(cols) {
                    out[c * rows + r] = values[r * cols + c];
                }
            }
        }
    }
    out
}

/// Fresh parameters: for training, drawn on the host from a seeded generator, so the same
/// seed gives the same weights on every device whatever else draws random numbers meanwhile
/// (burn's device generator is shared by the whole process); for benchmarks, drawn on the
/// device, where billions of values would be slow to make on the host.
pub struct InitSource {
    device: Device,
    rng: Option<crate::rng::Rng>,
}

impl InitSource {
    /// Reproducible weights from `seed`.
    pub fn new(device: &Device, seed: u64) -> Self {
        Self {
            device: device.clone(),
            rng: Some(crate::rng::Rng::stream(seed, 0x1417)),
        }
    }

    /// Weights from burn's device generator (fast, not reproducible).
    pub fn on_device(device: &Device) -> Self {
        Self {
            device: device.clone(),
            rng: None,
        }
    }

    /// `n` draws from a normal distribution (Box-Muller).
    fn normal(rng: &mut crate::rng::Rng, n: usize, std: f64) -> Vec<f32> {
        (0..n)
            .map(|_| {
                let u1 = (1.0 - rng.next_f32() as f64).max(f64::MIN_POSITIVE);
                let u2 = rng.next_f32() as f64;
                let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                (z * std) as f32
            })
            .collect()
    }
}

impl ParamSource for InitSource {
    fn device(&self) -> &Device {
        &self.device
    }

    fn tensor<const D: usize>(
        &mut self,
        _name: &str,
        shape: [usize; D],
        init: Init,
    ) -> Result<Param<Tensor<D>>> {
        let tensor = match init {
            Init::Zeros => Tensor::zeros(shape, &self.device),
            Init::Ones => Tensor::ones(shape, &self.device),
            Init::Normal(std) => match self.rng.as_mut() {
                Some(rng) => {
                    let values = Self::normal(rng, shape.iter().product(), std);
                    Tensor::from_data(TensorData::new(values, shape), &self.device)
                }
                None => Tensor::random(shape, Distribution::Normal(0.0, std), &self.device),
            },
        };
        Ok(Param::from_tensor(tensor))
    }

    fn linear_weight(&mut self, name: &str, d_in: usize, d_out: usize) -> Result<Param<Tensor<2>>> {
        // Fan-in scaled normal: keeps activations at unit scale through the stack.
        let std = 1.0 / (d_in as f64).sqrt();
        self.tensor(name, [d_in, d_out], Init::Normal(std))
    }

    fn contains(&self, _name: &str) -> bool {
        false
    }
}

/// Where one parameter lives in a GGUF file: its name, its row-major shape there, and
/// whether the module holds it transposed (linear weights: `[d_in, d_out]` in the module,
/// `[d_out, d_in]` in the file).
#[derive(Debug, Clone, PartialEq)]
pub struct ParamName {
    pub id: ParamId,
    pub name: String,
    pub shape: Vec<usize>,
    pub transposed: bool,
}

/// Wraps a source and records the GGUF name of every parameter it hands out, so a trained
/// model can be written back to GGUF ([`crate::model::export`]) without a second table of
/// names. With [`Named::with_ids`], parameters get the ids of an earlier run (resuming a
/// training run whose optimizer state is keyed by id).
pub struct Named<S> {
    inner: S,
    names: Vec<ParamName>,
    ids: std::collections::HashMap<String, ParamId>,
}

impl<S: ParamSource> Named<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            names: Vec::new(),
            ids: Default::default(),
        }
    }

    /// Gives each named parameter the id it had when `names` was recorded.
    pub fn with_ids(mut self, names: &[ParamName]) -> Self {
        self.ids = names.iter().map(|n| (n.name.clone(), n.id)).collect();
        self
    }

    /// The names recorded so far, in load order.
    pub fn into_names(self) -> Vec<ParamName> {
        self.names
    }

    fn record<const D: usize>(
        &mut self,
        name: &str,
        param: Param<Tensor<D>>,
        shape: Vec<usize>,
        transposed: bool,
    ) -> Param<Tensor<D>> {
        let mut param = param;
        if let Some(&id) = self.ids.get(name) {
            param.id = id;
        }
        self.names.push(ParamName {
            id: param.id,
            name: name.to_string(),
            shape,
            transposed,
        });
        param
    }
}

impl<S: ParamSource> ParamSource for Named<S> {
    fn device(&self) -> &Device {
        self.inner.device()
    }

    fn tensor<const D: usize>(
        &mut self,
        name: &str,
        shape: [usize; D],
        init: Init,
    ) -> Result<Param<Tensor<D>>> {
        let param = self.inner.tensor(name, shape, init)?;
        Ok(self.record(name, param, shape.to_vec(), false))
    }

    fn linear_weight(&mut self, name: &str, d_in: usize, d_out: usize) -> Result<Param<Tensor<2>>> {
        let param = self.inner.linear_weight(name, d_in, d_out)?;
        Ok(self.record(name, param, vec![d_out, d_in], true))
    }

    fn contains(&self, name: &str) -> bool {
        self.inner.contains(name)
    }
}

#[cfg(test)]
mod tests {
    use super::transpose;

    #[test]
    fn transpose_moves_every_element() {
        let rows = 37;
        let cols = 70;
        let m: Vec<f32> = (0..rows * cols).map(|i| i as f32).collect();
        let t = transpose(&m, rows, cols);
        for r in 0..rows {
            for c in 0..cols {
                assert_eq!(t[c * rows + r], m[r * cols + c]);
            }
        }
    }
}
