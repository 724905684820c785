//! The two stages' forward passes and losses, on the crate's one model implementation.
//!
//! - Stage 1 ([`probe_loss`]): GVT pre-trains its visual tokenizer by patch-level feature
//!   distillation, without masking. Here every patch has exact labels from the generator
//!   (shape, colour, whether an object's centre is in it, how many objects of its shape
//!   and of its shape and colour the scene holds, in which ninth of the image its object
//!   lies, and the patch's own row and column), so a linear probe on each `ln_vision`
//!   token is trained together with the tower. The probe is dropped afterwards.
//! - Stage 2 ([`qa_loss`]): the tokenizer is frozen; the perceiver, the projection and the
//!   LLM learn to answer questions, with the loss on answer tokens only.

use burn::tensor::{Int, Tensor, TensorData};

use super::batch::{Conversations, PatchTargets};
use super::loss::{accuracy, cross_entropy};
use gvt_core::Result;
use gvt_core::model::layers::Linear;
use gvt_core::model::{Gvt, Keep, KvCache, ParamSource, VisionConfig, VisualPath};
use gvt_scene::PatchLabels;

/// Probe outputs that do not depend on the grid: shape classes, colour classes, centre
/// counts, the counts of the patch's shape and of its shape and colour, and its object's
/// position.
const CONTENT_OUTPUTS: usize = PatchLabels::SHAPE_CLASSES
    + PatchLabels::COLOR_CLASSES
    + PatchLabels::CENTER_CLASSES
    + 2 * PatchLabels::COUNT_CLASSES
    + PatchLabels::POSITION_CLASSES;

/// All probe outputs: the content classes, then `grid` rows and `grid` columns.
fn probe_outputs(grid: usize) -> usize {
    CONTENT_OUTPUTS + 2 * grid
}

/// The centre target is rare (a few patches in 256), so its loss counts more.
const CENTER_LOSS_WEIGHT: f64 = 2.0;

/// Name of the stage 1 probe's tensors in checkpoints (never in a shipped model).
pub const PROBE: &str = "train.patch_probe";

/// The stage 1 probe: one linear map from an `ln_vision` token to its patch's labels.
pub fn load_probe(src: &mut impl ParamSource, cfg: &VisionConfig) -> Result<Linear> {
    Linear::load(src, PROBE, cfg.width, probe_outputs(cfg.grid()), true)
}

/// Stage 1 loss and batch accuracies.
pub struct ProbeStep {
    pub loss: Tensor<1>,
    /// Share of object patches (not background) whose shape class is right.
    pub shape_accuracy: Tensor<1>,
    /// The same for the colour class.
    pub color_accuracy: Tensor<1>,
    /// The same for the count of the patch's shape in the scene.
    pub count_accuracy: Tensor<1>,
    /// Share of all patches whose row and column are told right (the mean of the two).
    pub position_accuracy: Tensor<1>,
}

/// Stage 1: the probe's losses on every patch of the batch.
///
/// # Shapes
/// - pixels: `[b, 3, s, s]`; targets over `b * grid^2` patches
pub fn probe_loss(
    visual: &VisualPath,
    probe: &Linear,
    pixels: Tensor<4>,
    targets: &PatchTargets,
    count_loss_weight: f64,
) -> ProbeStep {
    let tokens = visual.ln_vision.forward(visual.vit.forward(pixels, None)); // [b, 1 + g^2, d]
    let [b, t, _] = tokens.dims();
    let logits = probe.forward(tokens.narrow(1, 1, t - 1)); // [b, g^2, outputs]
    let g = targets.grid;
    let logits = logits.reshape([b * (t - 1), probe_outputs(g)]);
    let mut start = 0;
    let mut next = |n: usize| {
        start += n;
        logits.clone().narrow(1, start - n, n)
    };
    let shape = next(PatchLabels::SHAPE_CLASSES);
    let color = next(PatchLabels::COLOR_CLASSES);
    let center = next(PatchLabels::CENTER_CLASSES);
    let shape_count = next(PatchLabels::COUNT_CLASSES);
    let kind_count = next(PatchLabels::COUNT_CLASSES);
    let object_position = next(PatchLabels::POSITION_CLASSES);
    let row = next(g);
    let col = next(g);
    let loss = cross_entropy(shape.clone(), targets.shape.clone(), None)
        + cross_entropy(color.clone(), targets.color.clone(), None)
        + cross_entropy(center, targets.center.clone(), None).mul_scalar(CENTER_LOSS_WEIGHT)
        + (cross_entropy(shape_count.clone(), targets.shape_count.clone(), None)
            + cross_entropy(kind_count, targets.kind_count.clone(), None))
        .mul_scalar(count_loss_weight)
        + cross_entropy(object_position, targets.object_position.clone(), None)
        + cross_entropy(row.clone(), targets.row.clone(), None)
        + cross_entropy(col.clone(), targets.col.clone(), None);
    let position_accuracy = (accuracy(row.detach(), targets.row.clone(), None)
        + accuracy(col.detach(), targets.col.clone(), None))
    .div_scalar(2.0);
    ProbeStep {
        loss,
        shape_accuracy: accuracy(shape.detach(), targets.shape.clone(), Some(0)),
        color_accuracy: accuracy(color.detach(), targets.color.clone(), Some(0)),
        count_accuracy: accuracy(shape_count.detach(), targets.shape_count.clone(), Some(0)),
        position_accuracy,
    }
}

/// Stage 2 loss: mean cross-entropy over the answer tokens.
///
/// # Shapes
/// - media: `[b, 1 + grid^2, d]` (frozen `ln_vision` tokens)
pub fn qa_loss(model: &Gvt, media: Tensor<3>, conversations: &Conversations) -> Tensor<1> {
    let visual = model
        .visual
        .as_ref()
        .expect("stage 2 trains a model with a vision tower");
    let visual_tokens = visual.proj.forward(visual.resampler.forward(media).latents); // [b, latents, e]
    let [b, latents, e] = visual_tokens.dims();
    let device = visual_tokens.device();
    let p = conversations.prefix.len();
    let prefix_ids: Vec<i64> = conversations.prefix.iter().map(|&i| i as i64).collect();
    let prefix = model
        .llm
        .embed(Tensor::<1, Int>::from_data(
            TensorData::new(prefix_ids, [p]),
            &device,
        ))
        .expand([b, p, e]);
    let suffix = model.llm.embed_batch(conversations.suffix.clone()); // [b, t, e]
    let t = conversations.suffix_len;
    let embeds = Tensor::cat(vec![prefix, visual_tokens, suffix], 1);
    let step = model.llm.forward(
        embeds,
        &mut KvCache::new(model.llm.depth()),
        Keep::default(),
    );
    // Position p + latents + i predicts suffix token i + 1.
    let hidden = step.hidden.narrow(1, p + latents, t - 1); // [b, t - 1, e]
    let logits = model.llm.logits(hidden);
    let vocab = model.llm.vocab_size();
    cross_entropy(
        logits.reshape([b * (t - 1), vocab]),
        conversations.targets.clone(),
        Some(conversations.weights.clone()),
    )
}
