//! Where a model's parameters come from. Every module is built by one constructor that asks a
//! [`ParamSource`] for its tensors by GGUF name, so loading a file and initialising fresh
//! weights for training go through the same code (no second copy of the model).

use burn::module::Param;
use burn::tensor::{Device, Distribution, Tensor, TensorData};

use crate::gguf::GgufFile;
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

/// Loads parameters from a GGUF file, dequantized to f32 (see ARCHITECTURE.md).
pub struct GgufSource<'a> {
    file: &'a GgufFile,
    device: Device,
    on_progress: Option<&'a mut dyn FnMut(u64)>,
}

impl<'a> GgufSource<'a> {
    pub fn new(file: &'a GgufFile, device: &Device) -> Self {
        Self {
            file,
            device: device.clone(),
            on_progress: None,
        }
    }

    /// Calls `f` with the byte size of every tensor as it is loaded.
    pub fn with_progress(mut self, f: &'a mut dyn FnMut(u64)) -> Self {
        self.on_progress = Some(f);
        self
    }

    /// Reads a tensor as f32, checking its shape (leading 1-sized axes are ignored: writers
    /// differ on whether they keep them).
    fn read(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
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
        let values = view.to_f32()?;
        if let Some(progress) = self.on_progress.as_mut() {
            progress(view.bytes.len() as u64);
        }
        Ok(values)
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

/// Transposes a row-major `[rows, cols]` matrix.
fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
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

/// Fresh parameters for training, drawn from burn's random generator (seed it with
/// `device.seed(..)` for reproducible runs).
pub struct InitSource {
    device: Device,
}

impl InitSource {
    pub fn new(device: &Device) -> Self {
        Self {
            device: device.clone(),
        }
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
            Init::Normal(std) => {
                Tensor::random(shape, Distribution::Normal(0.0, std), &self.device)
            }
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
