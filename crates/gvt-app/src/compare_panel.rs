//! Two answers to the same question side by side: an edited scene beside its original, or
//! the second model beside the first. Each with its attention overlay, and a third picture
//! of where the attention moved (red: more, blue: less).

use std::sync::Arc;

use egui::{TextureHandle, TextureOptions, Ui};
use image::DynamicImage;

use gvt_core::attention::{Heatmap, MapView};
use gvt_core::overlay::{self, OverlayStyle};

use super::attention_panel::color_image;
use super::documents::{Document, Turn};

/// Side of each of the three pictures, points.
const PICTURE_SIDE: f32 = 240.0;

/// One of the two answers: the picture it is about, the answer, and how to name it.
pub struct Side<'a> {
    pub display: &'a Arc<DynamicImage>,
    pub turn: &'a Turn,
    /// The picture's accessible name ("Overlay before the edit").
    pub name: &'static str,
    /// The caption's first words ("Before", "First model").
    pub who: &'static str,
}

impl<'a> Side<'a> {
    /// The last answer of `doc` that has a map.
    pub fn last_of(doc: &'a Document, name: &'static str, who: &'static str) -> Option<Self> {
        let turn = doc.turns.iter().rev().find(|t| t.attention.is_some())?;
        Some(Side {
            display: &doc.display,
            turn,
            name,
            who,
        })
    }

    fn map(&self) -> Option<Heatmap> {
        self.turn
            .attention
            .as_ref()?
            .answer_heatmap(MapView::Combined)
            .ok()
    }
}

/// First answer's request id, second answer's, and the overlay style.
type PairKey = (u64, u64, OverlayStyle);

#[derive(Default)]
pub struct ComparePanel {
    /// The pictures drawn for a pair of answers and a style; `None` inside when the two
    /// answers have no maps on one grid.
    textures: Option<(PairKey, Option<[TextureHandle; 3]>)>,
}

impl ComparePanel {
    /// Draws the comparison when both answers have a map on the same grid; returns whether
    /// it drew. Both turns must have finished: what is drawn for a pair is kept.
    pub fn ui(&mut self, ui: &mut Ui, a: Side<'_>, b: Side<'_>, style: &OverlayStyle) -> bool {
        // The maps are composed and drawn once per pair of answers and style, not per frame.
        let key = (a.turn.id, b.turn.id, *style);
        if self.textures.as_ref().is_none_or(|(k, _)| *k != key) {
            let textures = match (a.map(), b.map()) {
                (Some(map_a), Some(map_b)) if map_a.grid == map_b.grid => {
                    let load = |name: &str, rgba: image::RgbaImage| {
                        ui.ctx()
                            .load_texture(name, color_image(&rgba), TextureOptions::LINEAR)
                    };
                    Some([
                        load("compare a", overlay::render(a.display, &map_a, style)),
                        load("compare b", overlay::render(b.display, &map_b, style)),
                        load(
                            "compare difference",
                            overlay::render_difference(b.display, &map_a, &map_b),
                        ),
                    ])
                }
                _ => None,
            };
            self.textures = Some((key, textures));
        }
        let Some((_, Some(textures))) = &self.textures else {
            return false;
        };
        ui.label(format!("\"{}\"", b.turn.question));
        ui.horizontal_top(|ui| {
            let captions = [
                (a.name, format!("{}: {}", a.who, a.turn.answer.trim())),
                (b.name, format!("{}: {}", b.who, b.turn.answer.trim())),
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
