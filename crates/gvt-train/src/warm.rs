//! Starting a run from a trained model (`gvt train --init MODEL.gguf`): every weight the
//! file has is copied, so a new recipe builds on what an earlier model learnt instead of
//! starting from noise. The run keeps the file's vocabulary (its embeddings mean those
//! ids); only the stage 1 probe, which no exported model has, starts fresh from the seed.

use burn::module::Param;
use burn::tensor::{Device, Tensor};

use gvt_core::gguf::{GgufFile, Metadata};
use gvt_core::model::{GgufSource, GvtConfig, Init, InitSource, ParamSource};
use gvt_core::{Error, Result};

/// Parameters that exist only while training (the stage 1 probe): always fresh.
const TRAINING_ONLY: &str = "train.";

/// Parameters from a model file, except the training-only ones, which come from `init`.
pub struct WarmSource<'a> {
    init: InitSource,
    file: GgufSource<'a>,
}

impl<'a> WarmSource<'a> {
    /// Refuses a `file` of another architecture than `config` (another size, image side or
    /// vocabulary), naming both.
    pub fn new(file: &'a GgufFile, config: &GvtConfig, init: InitSource) -> Result<Self> {
        // Compared as the file stores them (epsilons are f32 there).
        let stored = |c: &GvtConfig| {
            let mut md = Metadata::new();
            c.write_metadata(&mut md);
            md
        };
        let theirs = GvtConfig::from_gguf(file, file)?;
        if stored(&theirs) != stored(config) {
            return Err(Error::InvalidInput(format!(
                "the model to start from is not the architecture this run trains: it has \
                 {}, the run {}",
                theirs.summary(),
                config.summary()
            )));
        }
        let device = init.device().clone();
        Ok(Self {
            init,
            file: GgufSource::new(file, &device).dequantized(),
        })
    }

    /// Whether `name` comes from the file: a tensor the run trains that the file lacks is
    /// an error, so no part of the model silently starts from noise.
    fn comes_from_file(&self, name: &str) -> Result<bool> {
        if name.starts_with(TRAINING_ONLY) {
            return Ok(false);
        }
        if !self.file.contains(name) {
            return Err(Error::InvalidInput(format!(
                "the model to start from has no tensor `{name}`"
            )));
        }
        Ok(true)
    }
}

impl ParamSource for WarmSource<'_> {
    fn device(&self) -> &Device {
        self.init.device()
    }

    fn tensor<const D: usize>(
        &mut self,
        name: &str,
        shape: [usize; D],
        init: Init,
    ) -> Result<Param<Tensor<D>>> {
        // Drawn whether used or not, so the probe starts as in a fresh run of the seed.
        let fresh = self.init.tensor(name, shape, init)?;
        if self.comes_from_file(name)? {
            return self.file.tensor(name, shape, init);
        }
        Ok(fresh)
    }

    fn linear_weight(&mut self, name: &str, d_in: usize, d_out: usize) -> Result<Param<Tensor<2>>> {
        let fresh = self.init.linear_weight(name, d_in, d_out)?;
        if self.comes_from_file(name)? {
            return self.file.linear_weight(name, d_in, d_out);
        }
        Ok(fresh)
    }

    fn contains(&self, name: &str) -> bool {
        self.file.contains(name)
    }
}
