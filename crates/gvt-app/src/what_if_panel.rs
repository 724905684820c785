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
        if button_and_choice(
            ui,
            "Move to",
            "Cell to move to",
            &mut self.cell,
            &Position::ALL,
            Position::word,
        ) {
            edit = Some(Edit::Move(i, self.cell));
        }
        if button_and_choice(
            ui,
            "Recolour to",
            "New colour",
            &mut self.color,
            &Color::ALL,
            Color::name,
        ) {
            edit = Some(Edit::Recolor(i, self.color));
        }
        if button_and_choice(
            ui,
            "Resize to",
            "New size",
            &mut self.size,
            &Size::ALL,
            Size::name,
        ) {
            edit = Some(Edit::Resize(i, self.size));
        }
        edit
    }
}

/// A button and, beside it, a choice among `options` (named by `name`, accessible as
/// `choice_label`); true when the button was clicked.
fn button_and_choice<T: Copy + PartialEq>(
    ui: &mut Ui,
    button: &str,
    choice_label: &str,
    value: &mut T,
    options: &[T],
    name: fn(T) -> &'static str,
) -> bool {
    ui.horizontal_wrapped(|ui| {
        let clicked = ui.button(button).clicked();
        let _ = egui::ComboBox::from_id_salt(choice_label)
            .selected_text(name(*value))
            .show_ui(ui, |ui| {
                for &option in options {
                    ui.selectable_value(value, option, name(option));
                }
            })
            .response
            .accessible_name(choice_label);
        clicked
    })
    .inner
}
