//! The image with its overlay: the heat map of the chosen answer token blended over it, the
//! ground-truth boxes of a generated scene, the overlay controls, the colour legend and the
//! PNG export.

use egui::{Color32, Rect, Sense, Stroke, TextureHandle, TextureOptions, Ui, pos2, vec2};
use image::DynamicImage;

use super::attention_panel::color_image;
use super::documents::Document;
use gvt_core::attention::Heatmap;
use gvt_core::overlay::{self, Colormap, OverlayStyle};
use gvt_scene::Scene;

/// A heat map to draw, and what it shows (for the label and the export name).
pub struct Overlay<'a> {
    pub map: &'a Heatmap,
    /// e.g. "token 1 \"3\", combined over all layers and heads".
    pub caption: String,
    /// Changes whenever the map does, so the texture is only rebuilt then.
    pub key: u64,
}

/// Drawing state: the style, the ground-truth toggle and the cached textures.
#[derive(Default)]
pub struct ImagePanel {
    pub style: OverlayStyle,
    pub show_truth: bool,
    /// The plain image's texture, for the document it was made from.
    image_texture: Option<(usize, TextureHandle)>,
    /// The blended overlay, keyed by document, map and style.
    overlay_texture: Option<(OverlayKey, TextureHandle)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct OverlayKey {
    doc: usize,
    map: u64,
    style: (u32, Colormap, bool),
}

/// What the panel asks the app to do.
pub enum ImageAction {
    /// Save the overlay at the image's full resolution as `name`.
    Export { name: String, render: OverlayExport },
}

/// Everything needed to draw the overlay at full resolution, off the UI thread.
pub struct OverlayExport {
    image: std::sync::Arc<DynamicImage>,
    map: Heatmap,
    style: OverlayStyle,
}

impl OverlayExport {
    /// The blended image, PNG-encoded.
    pub fn png(&self) -> Result<Vec<u8>, String> {
        let rgba = overlay::render(&self.image, &self.map, &self.style);
        let mut png = Vec::new();
        DynamicImage::ImageRgba8(rgba)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .map_err(|e| format!("cannot encode the PNG: {e}"))?;
        Ok(png)
    }
}

impl ImagePanel {
    /// The overlay controls (shown above the image).
    pub fn controls(
        &mut self,
        ui: &mut Ui,
        doc: &Document,
        overlay: Option<&Overlay<'_>>,
    ) -> Option<ImageAction> {
        let mut action = None;
        ui.horizontal_wrapped(|ui| {
            let name = ui.label("Opacity");
            ui.add(egui::Slider::new(&mut self.style.opacity, 0.0..=1.0).fixed_decimals(2))
                .labelled_by(name.id)
                .on_hover_text("How strongly the heat map covers the image");
            egui::ComboBox::from_label("Colour map")
                .selected_text(self.style.colormap.name())
                .show_ui(ui, |ui| {
                    for map in Colormap::ALL {
                        ui.selectable_value(&mut self.style.colormap, map, map.name());
                    }
                })
                .response
                .on_hover_text("Colours of the heat map, from little to much attention");
            ui.checkbox(&mut self.style.show_grid, "Patch grid")
                .on_hover_text("Draw the patches the vision tower cut the image into");
            ui.add_enabled(
                doc.scene.is_some(),
                egui::Checkbox::new(&mut self.show_truth, "Ground truth"),
            )
            .on_hover_text("Boxes, shapes and colours of the generated scene's objects")
            .on_disabled_hover_text("Only generated scenes have a ground truth");
            let export = ui
                .add_enabled(overlay.is_some(), egui::Button::new("Export PNG"))
                .on_hover_text("Save the image with the current overlay at full resolution")
                .on_disabled_hover_text("Click an answer token to get an overlay first");
            super::mark(&export, "Export PNG");
            if export.clicked()
                && let Some(overlay) = overlay
            {
                action = Some(self.export(doc, overlay));
            }
        });
        if overlay.is_some() {
            legend(ui, self.style.colormap);
        }
        action
    }

    fn export(&self, doc: &Document, overlay: &Overlay<'_>) -> ImageAction {
        let stem = doc
            .name
            .rsplit_once('.')
            .map_or(doc.name.as_str(), |(s, _)| s);
        ImageAction::Export {
            name: format!("{stem}-attention.png"),
            render: OverlayExport {
                image: doc.image.clone(),
                map: overlay.map.clone(),
                style: self.style,
            },
        }
    }

    /// The image (and overlay) scaled to fit the space left.
    pub fn image(
        &mut self,
        ui: &mut Ui,
        doc_index: usize,
        doc: &Document,
        overlay: Option<&Overlay<'_>>,
    ) {
        let texture = match overlay {
            Some(overlay) => self.overlay_texture(ui.ctx(), doc_index, doc, overlay),
            None => self.image_texture(ui.ctx(), doc_index, doc),
        };
        let size = texture.size_vec2();
        let available = ui.available_size();
        let scale = (available.x / size.x).min(available.y / size.y).max(0.05);
        let (rect, response) = ui.allocate_exact_size(size * scale, Sense::hover());
        let label = match overlay {
            Some(o) => format!("Image {} with attention overlay: {}", doc.name, o.caption),
            None => format!("Image {}", doc.name),
        };
        response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Image, true, &label));
        super::mark(&response, "Image");
        let uv = Rect::from_min_max(pos2(0.0, 0.0), pos2(1.0, 1.0));
        ui.painter().image(texture.id(), rect, uv, Color32::WHITE);
        if self.show_truth
            && let Some(scene) = &doc.scene
        {
            draw_truth(ui, rect, scene);
        }
    }

    fn image_texture(
        &mut self,
        ctx: &egui::Context,
        doc_index: usize,
        doc: &Document,
    ) -> TextureHandle {
        if let Some((i, texture)) = &self.image_texture
            && *i == doc_index
        {
            return texture.clone();
        }
        let texture = ctx.load_texture(
            format!("image {doc_index}"),
            color_image(&doc.display.to_rgba8()),
            TextureOptions::LINEAR,
        );
        self.image_texture = Some((doc_index, texture.clone()));
        texture
    }

    fn overlay_texture(
        &mut self,
        ctx: &egui::Context,
        doc_index: usize,
        doc: &Document,
        overlay: &Overlay<'_>,
    ) -> TextureHandle {
        let key = OverlayKey {
            doc: doc_index,
            map: overlay.key,
            style: (
                self.style.opacity.to_bits(),
                self.style.colormap,
                self.style.show_grid,
            ),
        };
        if let Some((k, texture)) = &self.overlay_texture
            && *k == key
        {
            return texture.clone();
        }
        let rgba = overlay::render(&doc.display, overlay.map, &self.style);
        let texture = ctx.load_texture("overlay", color_image(&rgba), TextureOptions::LINEAR);
        self.overlay_texture = Some((key, texture.clone()));
        texture
    }
}

/// Boxes and names of a scene's objects over the image drawn in `rect`.
fn draw_truth(ui: &Ui, rect: Rect, scene: &Scene) {
    let painter = ui.painter_at(rect);
    let at = |x: f32, y: f32| {
        pos2(
            rect.left() + x * rect.width(),
            rect.top() + y * rect.height(),
        )
    };
    for object in &scene.objects {
        let [x0, y0, x1, y1] = object.bbox;
        let [r, g, b] = object.color.rgb();
        let color = Color32::from_rgb(r, g, b);
        let bbox = Rect::from_min_max(at(x0, y0), at(x1, y1));
        painter.rect_stroke(
            bbox,
            0.0,
            Stroke::new(3.0, Color32::BLACK),
            egui::StrokeKind::Outside,
        );
        painter.rect_stroke(
            bbox,
            0.0,
            Stroke::new(1.5, color),
            egui::StrokeKind::Outside,
        );
        let text = format!("{} {}", object.color.name(), object.shape.name());
        let galley = painter.layout_no_wrap(text, egui::FontId::proportional(11.0), Color32::WHITE);
        let label_rect =
            Rect::from_min_size(bbox.left_top() - vec2(0.0, galley.size().y), galley.size());
        painter.rect_filled(label_rect, 2.0, Color32::from_black_alpha(180));
        painter.galley(label_rect.min, galley, Color32::WHITE);
    }
}

/// The colour scale, from little to much attention.
fn legend(ui: &mut Ui, colormap: Colormap) {
    ui.horizontal(|ui| {
        ui.label("less");
        let (rect, response) = ui.allocate_exact_size(vec2(160.0, 12.0), Sense::hover());
        response.widget_info(|| {
            egui::WidgetInfo::labeled(
                egui::Role::Image,
                true,
                format!("{} colour scale", colormap.name()),
            )
        });
        const STEPS: usize = 48;
        let w = rect.width() / STEPS as f32;
        for i in 0..STEPS {
            let [r, g, b] = colormap.color(i as f32 / (STEPS - 1) as f32);
            let cell = Rect::from_min_size(
                pos2(rect.left() + i as f32 * w, rect.top()),
                vec2(w + 0.5, rect.height()),
            );
            ui.painter()
                .rect_filled(cell, 0.0, Color32::from_rgb(r, g, b));
        }
        ui.label("more attention");
    });
}
