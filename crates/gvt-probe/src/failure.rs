//! Pictures of wrong answers: what the model saw, where it looked, and the true targets.

use gvt_core::attention::Heatmap;
use gvt_core::overlay::{self, OverlayStyle};
use image::imageops::FilterType;
use image::{DynamicImage, Rgba, RgbaImage};

use crate::record::Answer;

/// Side of a failure picture, pixels.
pub const FAILURE_SIDE: u32 = 256;
/// Colour of the ground-truth boxes: a green no colormap or object colour uses.
const BOX_COLOR: Rgba<u8> = Rgba([0, 255, 140, 255]);

/// Where an answer's failure picture goes, relative to the probe's folder.
pub fn failure_path(answer: &Answer) -> String {
    format!(
        "failures/m{}-l{}-{:05}.png",
        answer.model, answer.level, answer.index
    )
}

/// The wrong answers that get a picture: the first `limit` by scene of each model and level.
pub fn shown_failures(answers: &[Answer], limit: usize) -> Vec<&Answer> {
    let mut wrong: Vec<&Answer> = answers.iter().filter(|a| !a.correct).collect();
    wrong.sort_by_key(|a| (a.model, a.level, a.index));
    let mut shown: Vec<&Answer> = Vec::new();
    for a in wrong {
        let same = shown
            .iter()
            .filter(|s| s.model == a.model && s.level == a.level)
            .count();
        if same < limit {
            shown.push(a);
        }
    }
    shown
}

/// The picture the model saw, enlarged to [`FAILURE_SIDE`] (pixels kept square), with the
/// answer's attention over it and a box around every target.
pub fn failure_picture(
    image: &DynamicImage,
    heatmap: Option<&Heatmap>,
    boxes: &[[f32; 4]],
) -> RgbaImage {
    let big = image.resize_exact(FAILURE_SIDE, FAILURE_SIDE, FilterType::Nearest);
    let mut out = match heatmap {
        Some(map) => overlay::render(&big, map, &OverlayStyle::default()),
        None => big.to_rgba8(),
    };
    let last = FAILURE_SIDE - 1;
    for b in boxes {
        let [x0, y0, x1, y1] = b.map(|t| ((t * FAILURE_SIDE as f32).round() as u32).min(last));
        for t in 0..2 {
            let (xa, xb) = (x0.saturating_add(t).min(last), x1.saturating_sub(t));
            let (ya, yb) = (y0.saturating_add(t).min(last), y1.saturating_sub(t));
            for x in xa..=xb.max(xa) {
                out.put_pixel(x, ya, BOX_COLOR);
                out.put_pixel(x, yb.max(ya), BOX_COLOR);
            }
            for y in ya..=yb.max(ya) {
                out.put_pixel(xa, y, BOX_COLOR);
                out.put_pixel(xb.max(xa), y, BOX_COLOR);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_failures_of_each_level_are_shown() {
        let answer = |model, level, index, correct| Answer {
            model,
            level,
            index,
            scene_seed: 0,
            kind: "count".into(),
            question: String::new(),
            truth: String::new(),
            answer: String::new(),
            correct,
            attention_on_target: None,
            target_area: None,
            latency_ms: 0.0,
        };
        let answers = [
            answer(0, 1, 3, false),
            answer(0, 1, 0, false),
            answer(0, 1, 1, true),
            answer(0, 1, 2, false),
            answer(1, 1, 5, false),
            answer(0, 2, 0, true),
        ];
        let shown: Vec<(usize, u32, usize)> = shown_failures(&answers, 2)
            .iter()
            .map(|a| (a.model, a.level, a.index))
            .collect();
        assert_eq!(shown, [(0, 1, 0), (0, 1, 2), (1, 1, 5)]);
        assert_eq!(failure_path(&answers[0]), "failures/m0-l1-00003.png");
    }

    #[test]
    fn the_picture_outlines_the_targets() {
        let image = DynamicImage::new_rgb8(32, 32);
        let out = failure_picture(&image, None, &[[0.25, 0.25, 0.5, 0.5]]);
        assert_eq!(out.dimensions(), (FAILURE_SIDE, FAILURE_SIDE));
        assert_eq!(*out.get_pixel(64, 64), BOX_COLOR);
        assert_eq!(*out.get_pixel(100, 64), BOX_COLOR);
        assert_eq!(*out.get_pixel(100, 100), Rgba([0, 0, 0, 255]));
        assert_eq!(*out.get_pixel(128, 100), BOX_COLOR);
    }
}
