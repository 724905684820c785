//! Starting a run from a trained model (`gvt train --init MODEL.gguf`): every weight the
//! file has is copied, so a new recipe builds on what an earlier model learnt instead of
//! starting from noise. The run keeps the file's vocabulary (its embeddings mean those
//! ids); only the stage 1 probe, which no exported model has, starts fresh from the seed.
//!
//! The run may see at another image size than the file: every weight of the ViT is
//! independent of the grid except the learnt position table, which is resampled to the new
//! grid (bilinear, patch centre to patch centre), the way ViTs are fine-tuned at a higher
//! resolution (DeiT, BLIP-2). The 2-D rotary embedding counts in patches and needs nothing.

use burn::module::Param;
use burn::tensor::{Device, Tensor, TensorData};

use gvt_core::gguf::{GgufFile, Metadata};
use gvt_core::model::vision::POSITION_TABLE;
use gvt_core::model::{GgufSource, GvtConfig, Init, InitSource, ParamSource};
use gvt_core::{Error, Result};

/// Parameters that exist only while training (the stage 1 probe): always fresh.
const TRAINING_ONLY: &str = "train.";

/// Parameters from a model file, except the training-only ones, which come from `init`.
pub struct WarmSource<'a> {
    init: InitSource,
    file: GgufSource<'a>,
    /// The file's patch grid side and the run's, when they differ.
    grids: Option<(usize, usize)>,
}

impl<'a> WarmSource<'a> {
    /// Refuses a `file` of another architecture than `config` (another width, depth or
    /// vocabulary), naming both. Another image side is taken (see the module's docs).
    pub fn new(file: &'a GgufFile, config: &GvtConfig, init: InitSource) -> Result<Self> {
        // Compared as the file stores them (epsilons are f32 there).
        let stored = |c: &GvtConfig| {
            let mut md = Metadata::new();
            c.write_metadata(&mut md);
            md
        };
        let theirs = GvtConfig::from_gguf(file, file)?;
        let mut resized = theirs.clone();
        let mut grids = None;
        if let (Some(v), Some(run)) = (resized.vision.as_mut(), config.vision.as_ref())
            && v.patch_size == run.patch_size
            && v.image_size != run.image_size
        {
            grids = Some((v.grid(), run.grid()));
            v.image_size = run.image_size;
        }
        if stored(&resized) != stored(config) {
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
            grids,
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
        if !self.comes_from_file(name)? {
            return Ok(fresh);
        }
        if let (Some((from, to)), POSITION_TABLE, [1, _, width]) =
            (self.grids, name, shape.as_slice())
        {
            let theirs = self.file.tensor(name, [1, 1 + from * from, *width], init)?;
            let values: Vec<f32> =
                theirs.val().into_data().try_to_vec::<f32>().map_err(|e| {
                    Error::Execution(format!("reading `{name}` from the model: {e:?}"))
                })?;
            let resampled = resample_positions(&values, from, to, *width);
            return Ok(Param::from_tensor(Tensor::from_data(
                TensorData::new(resampled, shape),
                self.device(),
            )));
        }
        self.file.tensor(name, shape, init)
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

/// A position table of `1 + from^2` rows of `width` resampled to `1 + to^2` rows: the class
/// token's row is kept, and the grid's rows are interpolated bilinearly between the
/// neighbouring patch centres (the edges hold their border values), so a patch at the same
/// place in the image gets the same position whatever the grid.
pub fn resample_positions(table: &[f32], from: usize, to: usize, width: usize) -> Vec<f32> {
    let row = |r: usize| &table[r * width..(r + 1) * width];
    let mut out = Vec::with_capacity((1 + to * to) * width);
    out.extend_from_slice(row(0));
    // Where the new grid's patch centre `i` lies on the old grid, as two neighbours and
    // the weight of the second.
    let source = |i: usize| {
        let at = ((i as f64 + 0.5) * from as f64 / to as f64 - 0.5).clamp(0.0, (from - 1) as f64);
        let low = at.floor() as usize;
        (low, (low + 1).min(from - 1), (at - low as f64) as f32)
    };
    for y in 0..to {
        let (y0, y1, wy) = source(y);
        for x in 0..to {
            let (x0, x1, wx) = source(x);
            let corners = [
                (y0, x0, (1.0 - wy) * (1.0 - wx)),
                (y0, x1, (1.0 - wy) * wx),
                (y1, x0, wy * (1.0 - wx)),
                (y1, x1, wy * wx),
            ];
            out.extend((0..width).map(|c| {
                corners
                    .iter()
                    .map(|&(cy, cx, w)| w * row(1 + cy * from + cx)[c])
                    .sum::<f32>()
            }));
        }
    }
    out
}
