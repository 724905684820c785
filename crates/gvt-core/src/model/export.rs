//! Writes a model back to GGUF: training checkpoints (f32) and the shipped default model
//! (Q8_0). Tensor names come from the [`Named`](super::params::Named) source the model was
//! built through, so the file layout is defined in one place, the modules' constructors.

use std::collections::HashMap;

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::tensor::Tensor;

use super::params::{ParamName, transpose};
use crate::gguf::{GgmlType, GgufWriter};
use crate::{Error, Result};

/// How tensors are stored when written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightFormat {
    /// Everything f32: checkpoints, bit-exact round trips.
    F32,
    /// Matrices whose rows are whole 32-value blocks in Q8_0, the rest f32.
    Q8_0,
}

impl WeightFormat {
    /// The GGUF type of a tensor with this row-major `shape`. Only matrices are quantized:
    /// norms, biases, latents and position tables are small and sensitive.
    pub fn dtype_for(self, shape: &[usize]) -> GgmlType {
        match self {
            WeightFormat::Q8_0
                if shape.len() == 2 && shape[0] > 1 && shape[1].is_multiple_of(32) =>
            {
                GgmlType::Q8_0
            }
            _ => GgmlType::F32,
        }
    }
}

/// Every float parameter's values, by id, read back from the device.
#[derive(Default)]
pub struct ParamValues {
    values: HashMap<ParamId, Result<Vec<f32>>>,
}

impl ModuleVisitor for ParamValues {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let values = param
            .val()
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .map_err(|e| Error::Execution(format!("reading a parameter back: {e:?}")));
        self.values.insert(param.id, values);
    }
}

impl ParamValues {
    /// The parameters of `module`.
    pub fn of(module: &impl Module) -> Self {
        let mut values = Self::default();
        module.visit(&mut values);
        values
    }

    /// Adds the tensors listed in `names` to `writer`, in that order.
    pub fn write(
        mut self,
        writer: &mut GgufWriter,
        names: &[ParamName],
        format: WeightFormat,
    ) -> Result<()> {
        for entry in names {
            let values = self.values.remove(&entry.id).ok_or_else(|| {
                Error::Execution(format!("parameter `{}` is not in the model", entry.name))
            })??;
            let values = if entry.transposed {
                // The module holds `[d_in, d_out]`; the file wants `[d_out, d_in]`.
                transpose(&values, entry.shape[1], entry.shape[0])
            } else {
                values
            };
            writer.add_tensor(
                &entry.name,
                &entry.shape,
                format.dtype_for(&entry.shape),
                &values,
            )?;
        }
        Ok(())
    }
}
