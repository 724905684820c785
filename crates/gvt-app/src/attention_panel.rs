//! Which attention map to show: the view (combined, one LLM head, one perceiver head, one
//! latent, rollout), and a strip of the 32 latents' maps to pick one from.

use egui::{Color32, TextureHandle, TextureOptions, Ui};
use image::DynamicImage;

use gvt_core::attention::{AttentionRecord, Heatmap, MapView};
use gvt_core::overlay::{self, Colormap, OverlayStyle};
use gvt_core::{Error, Result};

/// Side of a latent thumbnail, in points.
const THUMB_SIDE: f32 = 52.0;

/// What the latent strip was drawn for: the answer's request id and the overlay style.
type StripKey = (u64, Colormap, u32);

/// The kinds of view, for the radio buttons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewKind {
    Combined,
    LlmHead,
    ResamplerHead,
    Latent,
    Rollout,
}

impl ViewKind {
    const ALL: [ViewKind; 5] = [
        ViewKind::Combined,
        ViewKind::LlmHead,
        ViewKind::ResamplerHead,
        ViewKind::Latent,
        ViewKind::Rollout,
    ];

    pub fn label(self) -> &'static str {
        match self {
            ViewKind::Combined => "Combined",
            ViewKind::LlmHead => "LLM head",
            ViewKind::ResamplerHead => "Perceiver head",
            ViewKind::Latent => "Latent",
            ViewKind::Rollout => "Rollout",
        }
    }

    fn tooltip(self) -> &'static str {
        match self {
            ViewKind::Combined => {
                "Answer token -> visual tokens averaged over all LLM layers and heads, then \
                 visual tokens -> patches averaged over all perceiver layers and heads"
            }
            ViewKind::LlmHead => {
                "One LLM layer and head decides which visual tokens the answer token read"
            }
            ViewKind::ResamplerHead => {
                "One perceiver layer and head decides what each visual token gathered"
            }
            ViewKind::Latent => "What one of the visual tokens (latents) gathered from the image",
            ViewKind::Rollout => {
                "Attention rollout through the perceiver layers: latents also reach the image \
                 through the previous layer's latents"
            }
        }
    }
}

/// The view choice and the latent strip's thumbnails.
pub struct AttentionPanel {
    pub kind: ViewKind,
    pub llm_layer: usize,
    pub llm_head: usize,
    pub resampler_layer: usize,
    pub resampler_head: usize,
    pub latent: usize,
    /// Thumbnails of the latents' maps, for the record and style they were made with.
    strip: Option<(StripKey, Vec<(usize, TextureHandle)>)>,
}

impl Default for AttentionPanel {
    fn default() -> Self {
        Self {
            kind: ViewKind::Combined,
            llm_layer: 0,
            llm_head: 0,
            resampler_layer: 0,
            resampler_head: 0,
            latent: 0,
            strip: None,
        }
    }
}

impl AttentionPanel {
    /// The chosen view, clamped to what `record` has.
    pub fn view(&self, record: &AttentionRecord) -> MapView {
        let clamp = |i: usize, n: usize| i.min(n.saturating_sub(1));
        match self.kind {
            ViewKind::Combined => MapView::Combined,
            ViewKind::LlmHead => MapView::LlmHead {
                layer: clamp(self.llm_layer, record.llm_layers()),
                head: clamp(self.llm_head, record.llm_heads()),
            },
            ViewKind::ResamplerHead => MapView::ResamplerHead {
                layer: clamp(self.resampler_layer, record.resampler_layers()),
                head: clamp(self.resampler_head, record.resampler_heads()),
            },
            ViewKind::Latent => MapView::Latent(clamp(self.latent, record.latents())),
            ViewKind::Rollout => MapView::Rollout,
        }
    }

    /// The heat map of answer token `token` in the chosen view.
    pub fn heatmap(&self, record: &AttentionRecord, token: usize) -> Result<Heatmap> {
        if token >= record.tokens() {
            return Err(Error::InvalidInput(format!(
                "answer token {} has no recorded attention",
                token + 1
            )));
        }
        record.heatmap(token, self.view(record))
    }

    /// A short description of the view, e.g. "LLM layer 2 head 1".
    pub fn describe(&self, record: &AttentionRecord) -> String {
        match self.view(record) {
            MapView::Combined => "combined over all layers and heads".into(),
            MapView::LlmHead { layer, head } => {
                format!("LLM layer {} head {}", layer + 1, head + 1)
            }
            MapView::ResamplerHead { layer, head } => {
                format!("perceiver layer {} head {}", layer + 1, head + 1)
            }
            MapView::Latent(i) => format!("latent {}", i + 1),
            MapView::Rollout => "attention rollout".into(),
        }
    }

    /// The view controls and the latent strip for `record` (made from `image`; `record_id`
    /// tells when the strip must be redrawn).
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        record: &AttentionRecord,
        record_id: u64,
        image: &DynamicImage,
        style: &OverlayStyle,
    ) {
        ui.horizontal_wrapped(|ui| {
            ui.label("View:");
            for kind in ViewKind::ALL {
                ui.radio_value(&mut self.kind, kind, kind.label())
                    .on_hover_text(kind.tooltip());
            }
        });
        ui.horizontal(|ui| match self.kind {
            ViewKind::LlmHead => {
                index_slider(ui, "LLM layer", &mut self.llm_layer, record.llm_layers());
                index_slider(ui, "LLM head", &mut self.llm_head, record.llm_heads());
            }
            ViewKind::ResamplerHead => {
                index_slider(
                    ui,
                    "Perceiver layer",
                    &mut self.resampler_layer,
                    record.resampler_layers(),
                );
                index_slider(
                    ui,
                    "Perceiver head",
                    &mut self.resampler_head,
                    record.resampler_heads(),
                );
            }
            ViewKind::Latent => {
                index_slider(ui, "Latent number", &mut self.latent, record.latents());
            }
            ViewKind::Combined | ViewKind::Rollout => {}
        });
        self.latent_strip(ui, record, record_id, image, style);
    }

    fn latent_strip(
        &mut self,
        ui: &mut Ui,
        record: &AttentionRecord,
        record_id: u64,
        image: &DynamicImage,
        style: &OverlayStyle,
    ) {
        let key = (record_id, style.colormap, style.opacity.to_bits());
        if self.strip.as_ref().map(|(k, _)| *k) != Some(key) {
            let thumbs = latent_thumbnails(ui.ctx(), record, image, style);
            self.strip = Some((key, thumbs));
        }
        let Some((_, thumbs)) = &self.strip else {
            return;
        };
        ui.label("What each of the visual tokens gathered (click one to show it large):");
        egui::ScrollArea::horizontal()
            .id_salt("latent strip")
            .show(ui, |ui| {
                ui.horizontal(|ui| {
                    for &(i, ref texture) in thumbs {
                        let selected = self.kind == ViewKind::Latent && self.latent == i;
                        let image =
                            egui::Image::new((texture.id(), egui::vec2(THUMB_SIDE, THUMB_SIDE)));
                        let button =
                            egui::Button::image(image)
                                .selected(selected)
                                .stroke(if selected {
                                    egui::Stroke::new(2.0, Color32::YELLOW)
                                } else {
                                    egui::Stroke::NONE
                                });
                        let response = ui.add(button).on_hover_text(format!("Latent {}", i + 1));
                        let label = format!("Latent {} map", i + 1);
                        response.widget_info(|| {
                            egui::WidgetInfo::selected(egui::Role::Button, true, selected, &label)
                        });
                        if response.clicked() {
                            self.kind = ViewKind::Latent;
                            self.latent = i;
                        }
                    }
                });
            });
    }
}

/// A slider over 1..=n for a 0-based index.
fn index_slider(ui: &mut Ui, label: &str, index: &mut usize, n: usize) {
    if n == 0 {
        return;
    }
    let mut shown = (*index).min(n - 1) + 1;
    let name = ui.label(label);
    ui.add(egui::Slider::new(&mut shown, 1..=n))
        .labelled_by(name.id);
    *index = shown - 1;
}

fn latent_thumbnails(
    ctx: &egui::Context,
    record: &AttentionRecord,
    image: &DynamicImage,
    style: &OverlayStyle,
) -> Vec<(usize, TextureHandle)> {
    let side = (THUMB_SIDE * ctx.pixels_per_point()).round() as u32;
    let small = image.resize_exact(side, side, image::imageops::FilterType::Triangle);
    (0..record.latents())
        .filter_map(|i| Some((i, record.heatmap(0, MapView::Latent(i)).ok()?)))
        .map(|(i, map)| {
            let rgba = overlay::render(
                &small,
                &map,
                &OverlayStyle {
                    show_grid: false,
                    ..*style
                },
            );
            let texture = ctx.load_texture(
                format!("latent {i}"),
                color_image(&rgba),
                TextureOptions::LINEAR,
            );
            (i, texture)
        })
        .collect()
}

/// An `image` RGBA buffer as egui's image type.
pub fn color_image(rgba: &image::RgbaImage) -> egui::ColorImage {
    egui::ColorImage::from_rgba_unmultiplied(
        [rgba.width() as usize, rgba.height() as usize],
        rgba.as_raw(),
    )
}
