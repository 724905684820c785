//! Asking one trial of a probe on a loaded model.

use gvt_core::attention::{Heatmap, MapView};
use gvt_core::generate::{CancelFlag, GenerateOptions};
use gvt_core::pipeline::Pipeline;
use gvt_eval::postprocess_generation;
use gvt_eval::synthetic::is_correct;
use image::DynamicImage;

use crate::ProbeError;
use crate::record::Answer;
use crate::sweep::Trial;

/// Longest answer generated (as `gvt eval synthetic`: a number, "Yes."/"No.", a colour or a
/// position).
pub const MAX_ANSWER_TOKENS: usize = 12;
/// Sub-samples per patch side when measuring how much of a patch a box covers.
const COVERAGE_SAMPLES: usize = 4;

/// A trial asked of one model: the answer record, the picture the model saw, and where it
/// looked.
#[derive(Debug, Clone)]
pub struct Asked {
    pub answer: Answer,
    pub image: DynamicImage,
    pub heatmap: Option<Heatmap>,
}

/// The side of the square picture `pipeline` takes, or an error for a text-only model.
pub fn input_side(pipeline: &Pipeline) -> Result<u32, ProbeError> {
    pipeline
        .config
        .vision
        .as_ref()
        .map(|v| v.image_size as u32)
        .ok_or_else(|| {
            ProbeError::Spec(format!(
                "{} is a text-only model; a probe asks about pictures",
                pipeline.info.name
            ))
        })
}

/// Asks `trial` of `pipeline` (model number `model` of the probe), greedily, with the
/// attention recorded.
pub async fn ask(
    pipeline: &Pipeline,
    trial: &Trial,
    model: usize,
    cancel: &CancelFlag,
) -> Result<Asked, ProbeError> {
    let image = DynamicImage::ImageRgb8(trial.look.render(&trial.scene, input_side(pipeline)?)?);
    let options = GenerateOptions {
        max_new_tokens: MAX_ANSWER_TOKENS,
        capture_attention: true,
        ..Default::default()
    };
    let started = web_time::Instant::now();
    let generation = pipeline
        .ask(
            Some(&image),
            &trial.qa.question,
            &options,
            cancel,
            &mut |_| {},
        )
        .await?;
    let latency_ms = started.elapsed().as_secs_f64() * 1e3;
    let text = postprocess_generation(&generation.text);
    let heatmap = generation
        .attention
        .as_ref()
        .and_then(|a| a.answer_heatmap(MapView::Combined).ok());
    let boxes = trial.target_boxes();
    let attention_on_target = heatmap
        .as_ref()
        .filter(|_| !boxes.is_empty())
        .map(|map| share_on(map, &boxes));
    let target_area = heatmap.as_ref().filter(|_| !boxes.is_empty()).map(|map| {
        let uniform = Heatmap {
            grid: map.grid,
            values: vec![1.0 / (map.grid * map.grid) as f32; map.grid * map.grid],
        };
        share_on(&uniform, &boxes)
    });
    Ok(Asked {
        answer: Answer {
            model,
            level: trial.level,
            index: trial.index,
            scene_seed: trial.scene.seed,
            kind: trial.qa.kind.name().to_string(),
            question: trial.qa.question.clone(),
            truth: trial.qa.answer.clone(),
            correct: is_correct(&trial.qa, &text),
            answer: text,
            attention_on_target,
            target_area,
            latency_ms,
        },
        image,
        heatmap,
    })
}

/// The share of `map` that falls on the union of `boxes` (normalised `[x0, y0, x1, y1]`),
/// each patch weighted by how much of it the boxes cover.
pub fn share_on(map: &Heatmap, boxes: &[[f32; 4]]) -> f64 {
    let g = map.grid;
    let inside = |x: f32, y: f32| {
        boxes
            .iter()
            .any(|b| x >= b[0] && x < b[2] && y >= b[1] && y < b[3])
    };
    let per_patch = (COVERAGE_SAMPLES * COVERAGE_SAMPLES) as f64;
    let mut share = 0.0;
    for (i, &value) in map.values.iter().enumerate() {
        let (row, col) = (i / g, i % g);
        let covered = (0..COVERAGE_SAMPLES * COVERAGE_SAMPLES)
            .filter(|k| {
                let fx = (k % COVERAGE_SAMPLES) as f32 + 0.5;
                let fy = (k / COVERAGE_SAMPLES) as f32 + 0.5;
                inside(
                    (col as f32 + fx / COVERAGE_SAMPLES as f32) / g as f32,
                    (row as f32 + fy / COVERAGE_SAMPLES as f32) / g as f32,
                )
            })
            .count();
        share += f64::from(value) * covered as f64 / per_patch;
    }
    share
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_counts_the_covered_part_of_each_patch() {
        // A 2x2 map: 0.1 top left, 0.2 top right, 0.3 bottom left, 0.4 bottom right.
        let map = Heatmap {
            grid: 2,
            values: vec![0.1, 0.2, 0.3, 0.4],
        };
        assert!((share_on(&map, &[[0.0, 0.0, 1.0, 1.0]]) - 1.0).abs() < 1e-6);
        assert!((share_on(&map, &[[0.5, 0.5, 1.0, 1.0]]) - 0.4).abs() < 1e-6);
        // Half of the top right patch, and the same half given twice counts once.
        let half = [0.75, 0.0, 1.0, 0.5];
        assert!((share_on(&map, &[half, half]) - 0.1).abs() < 1e-6);
        assert_eq!(share_on(&map, &[]), 0.0);
    }
}
