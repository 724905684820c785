//! The official GVT checkpoint: a PyTorch file whose model state may be nested (Lightning's
//! `state_dict`, a `model.` attribute prefix). The configuration is read off the shapes;
//! only the head counts are not in them.

use std::path::Path;

use gvt_core::model::{ResamplerConfig, VisionConfig};

use crate::source::Tensors;
use crate::{ConvertError, Options, Result};

/// The tensor that anchors the layout: its name's prefix is the nesting to remove.
const ANCHOR: &str = "visual_encoder.patch_embed.proj.weight";

/// The vision half of a checkpoint.
pub struct Checkpoint {
    pub tensors: Tensors,
    /// The nesting removed from every name (`state_dict.model.`), for the plan.
    pub prefix: String,
    /// Tensors outside the model's state (optimizer moments of a training checkpoint).
    pub outside: Vec<String>,
    pub vision: VisionConfig,
    pub resampler: ResamplerConfig,
    /// Output width of `llm_proj`: the LLM width this vision half was trained for.
    pub llm_width: usize,
}

impl Checkpoint {
    pub fn open(path: &Path, opts: &Options) -> Result<Self> {
        let mut tensors = Tensors::default();
        tensors.add_pytorch(path)?;
        let anchors: Vec<&str> = tensors.names().filter(|n| n.ends_with(ANCHOR)).collect();
        let prefix = match anchors.as_slice() {
            [one] => one[..one.len() - ANCHOR.len()].to_string(),
            [] => {
                let some: Vec<&str> = tensors.names().take(5).collect();
                return Err(ConvertError::Read {
                    file: path.to_path_buf(),
                    reason: format!(
                        "no `{ANCHOR}`: not a GVT checkpoint ({} tensors, e.g. {some:?})",
                        tensors.by_name.len()
                    ),
                });
            }
            many => {
                return Err(ConvertError::Read {
                    file: path.to_path_buf(),
                    reason: format!("more than one vision tower: {many:?}"),
                });
            }
        };
        if !(prefix.is_empty() || prefix.ends_with('.')) {
            return Err(ConvertError::Read {
                file: path.to_path_buf(),
                reason: format!("`{prefix}{ANCHOR}` is not a GVT tensor name"),
            });
        }
        let outside: Vec<String> = tensors
            .names()
            .filter(|n| !n.starts_with(&prefix))
            .map(str::to_string)
            .collect();
        tensors.by_name.retain(|name, _| name.starts_with(&prefix));
        tensors.strip_prefix(&prefix);

        let shape = |name: &str| -> Result<&[usize]> {
            tensors
                .get(name)
                .map(|t| t.shape.as_slice())
                .ok_or_else(|| ConvertError::Read {
                    file: path.to_path_buf(),
                    reason: format!("missing tensor `{prefix}{name}`"),
                })
        };
        let dim = |name: &str, axis: usize, rank: usize| -> Result<usize> {
            let s = shape(name)?;
            if s.len() != rank {
                return Err(ConvertError::Read {
                    file: path.to_path_buf(),
                    reason: format!(
                        "tensor `{prefix}{name}` has shape {s:?}, expected rank {rank}"
                    ),
                });
            }
            Ok(s[axis])
        };
        let count = |pattern: &dyn Fn(usize) -> String| {
            (0..)
                .take_while(|&n| tensors.get(&pattern(n)).is_some())
                .count()
        };

        let patch = shape(ANCHOR)?;
        let [width, 3, p, p2] = *patch else {
            return Err(ConvertError::Read {
                file: path.to_path_buf(),
                reason: format!(
                    "`{prefix}{ANCHOR}` has shape {patch:?}, expected [width, 3, p, p]"
                ),
            });
        };
        if p != p2 || p == 0 {
            return Err(ConvertError::Invalid(format!(
                "`{prefix}{ANCHOR}`: patches must be square, got {p}x{p2}"
            )));
        }
        let tokens = dim("visual_encoder.pos_embed", 1, 3)?;
        let grid = (tokens.saturating_sub(1) as f64).sqrt().round() as usize;
        if grid * grid + 1 != tokens {
            return Err(ConvertError::Invalid(format!(
                "`{prefix}visual_encoder.pos_embed` has {tokens} positions: not 1 + a square grid"
            )));
        }
        let depth = count(&|n| format!("visual_encoder.blocks.{n}.norm1.weight"));
        let ffn = dim("visual_encoder.blocks.0.mlp.w1.weight", 0, 2)?;
        let heads = opts.vision_heads.unwrap_or(width / 64);
        if heads == 0 || !width.is_multiple_of(heads) {
            return Err(ConvertError::Invalid(format!(
                "the ViT is {width} wide, which {heads} heads do not divide; pass --vision-heads"
            )));
        }
        let vision = VisionConfig::new(grid * p, p, width, depth, heads, ffn);

        let inner = dim("perceiver.layers.0.0.to_q.weight", 0, 2)?;
        let r_heads = opts.resampler_heads.unwrap_or(inner / 96);
        if r_heads == 0 || !inner.is_multiple_of(r_heads) {
            return Err(ConvertError::Invalid(format!(
                "the resampler's attention is {inner} wide, which {r_heads} heads do not \
                 divide; pass --resampler-heads"
            )));
        }
        let resampler = ResamplerConfig::new(
            width,
            count(&|n| format!("perceiver.layers.{n}.0.to_q.weight")),
            r_heads,
            inner / r_heads,
            dim("perceiver.latents", 0, 2)?,
            dim("perceiver.layers.0.1.1.weight", 0, 2)?,
        );
        let llm_width = dim("llm_proj.weight", 0, 2)?;
        Ok(Self {
            tensors,
            prefix,
            outside,
            vision,
            resampler,
            llm_width,
        })
    }
}
