//! "What if…": pick an object of a generated scene and remove, move, recolour, resize or
//! duplicate it. The app opens the edited scene beside the original and asks it the same
//! question.

use egui::Ui;

use gvt_scene::edit::object_name;
use gvt_scene::{Color, Edit, Position, Scene, Size};

/// The controls' choices; the scene itself stays in the document.
pub struct WhatIfPanel {
    object: usize,
    cell: Position,
    color: Color,
    size: Size,
}

impl Default for WhatIfPanel {
    fn default() -> Self {
        Self {
            object: 0,
            cell: Position::Center,
            color: Color::Red,
            size: Size::Medium,
        }
    }
}

impl WhatIfPanel {
    /// Draws the controls for `scene`; returns the edit asked for.
    pub fn ui(&mut self, ui: &mut Ui, scene: &Scene) -> Option<Edit> {
        if scene.objects.is_empty() {
            ui.label("This scene has no objects to change.");
            return None;
        }
        self.object = self.object.min(scene.objects.len() - 1);
        let mut edit = None;
        ui.label("Object");
        ui.horizontal_wrapped(|ui| {
            for (i, object) in scene.objects.iter().enumerate() {
                let name = format!(
                    "{}: {}, {}",
                    i + 1,
                    object_name(object),
                    object.position().word()
                );
                let _ = ui
                    .selectable_label(self.object == i, &name)
                    .accessible_name(format!("Object {name}"))
                    .clicked()
                    .then(|| self.object = i);
            }
        });
        let i = self.object;
        ui.horizontal_wrapped(|ui| {
            if ui.button("Remove").clicked() {
                edit = Some(Edit::Remove(i));
            }
            if ui.button("Duplicate").clicked() {
                edit = Some(Edit::Duplicate(i));
            }
        });
        ui.horizontal_wrapped(|ui| {
            if ui.button("Move to").clicked() {
                edit = Some(Edit::Move(i, self.cell));
            }
            let _ = egui::ComboBox::from_id_salt("what if cell")
                .selected_text(self.cell.word())
                .show_ui(ui, |ui| {
                    for cell in Position::ALL {
                        ui.selectable_value(&mut self.cell, cell, cell.word());
                    }
                })
                .response
                .accessible_name("Cell to move to");
        });
        ui.horizontal_wrapped(|ui| {
            if ui.button("Recolour to").clicked() {
                edit = Some(Edit::Recolor(i, self.color));
            }
            let _ = egui::ComboBox::from_id_salt("what if colour")
                .selected_text(self.color.name())
                .show_ui(ui, |ui| {
                    for color in Color::ALL {
                        ui.selectable_value(&mut self.color, color, color.name());
                    }
                })
                .response
                .accessible_name("New colour");
        });
        ui.horizontal_wrapped(|ui| {
            if ui.button("Resize to").clicked() {
                edit = Some(Edit::Resize(i, self.size));
            }
            let _ = egui::ComboBox::from_id_salt("what if size")
                .selected_text(self.size.name())
                .show_ui(ui, |ui| {
                    for size in Size::ALL {
                        ui.selectable_value(&mut self.size, size, size.name());
                    }
                })
                .response
                .accessible_name("New size");
        });
        edit
    }
}
