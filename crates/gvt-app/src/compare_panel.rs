//! An edited scene beside its original: the two answers to the same question, their
//! attention overlays, and where the attention moved (red: more, blue: less).

use egui::{TextureHandle, TextureOptions, Ui};

use gvt_core::attention::{Heatmap, MapView};
use gvt_core::overlay::{self, OverlayStyle};

use super::attention_panel::color_image;
use super::documents::{Document, Turn};

/// Side of each of the three pictures, points.
const PICTURE_SIDE: f32 = 240.0;

#[derive(Default)]
pub struct ComparePanel {
    /// The pictures drawn for (original answer id, edited answer id, style).
    textures: Option<((u64, u64, OverlayStyle), [TextureHandle; 3])>,
}

/// The last finished answer of a document and its whole-answer map.
fn answered(doc: &Document) -> Option<(&Turn, Heatmap)> {
    let turn = doc.turns.iter().rev().find(|t| t.attention.is_some())?;
    let map = turn
        .attention
        .as_ref()?
        .answer_heatmap(MapView::Combined)
        .ok()?;
    Some((turn, map))
}

impl ComparePanel {
    /// Draws the comparison once both documents have an answer with a map; returns whether
    /// it drew.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        original: &Document,
        edited: &Document,
        style: &OverlayStyle,
    ) -> bool {
        let (Some((before, before_map)), Some((after, after_map))) =
            (answered(original), answered(edited))
        else {
            return false;
        };
        if before_map.grid != after_map.grid {
            return false;
        }
        let key = (before.id, after.id, *style);
        if self.textures.as_ref().is_none_or(|(k, _)| *k != key) {
            let load = |name: &str, rgba: image::RgbaImage| {
                ui.ctx()
                    .load_texture(name, color_image(&rgba), TextureOptions::LINEAR)
            };
            let textures = [
                load(
                    "what-if before",
                    overlay::render(&original.display, &before_map, style),
                ),
                load(
                    "what-if after",
                    overlay::render(&edited.display, &after_map, style),
                ),
                load(
                    "what-if difference",
                    overlay::render_difference(&edited.display, &before_map, &after_map),
                ),
            ];
            self.textures = Some((key, textures));
        }
        let Some((_, textures)) = &self.textures else {
            return false;
        };
        ui.label(format!("\"{}\"", after.question));
        ui.horizontal_top(|ui| {
            let captions = [
                (
                    "Overlay before the edit",
                    format!("Before: {}", before.answer.trim()),
                ),
                (
                    "Overlay after the edit",
                    format!("After: {}", after.answer.trim()),
                ),
                (
                    "Difference map",
                    "Where attention moved: red more, blue less".to_string(),
                ),
            ];
            for (texture, (name, caption)) in textures.iter().zip(captions) {
                ui.vertical(|ui| {
                    let size = egui::vec2(PICTURE_SIDE, PICTURE_SIDE);
                    let _ = ui
                        .add(egui::Image::new((texture.id(), size)))
                        .accessible_name(name);
                    ui.label(caption);
                });
            }
        });
        true
    }
}
