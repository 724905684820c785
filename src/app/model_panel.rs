//! Which model runs where: name, sizes, quantization, file size, device, memory; loading a
//! different GGUF and switching between GPU and CPU.

use egui::{Color32, RichText, Ui};

use super::worker::{ModelSource, ModelSummary};
use crate::device::DeviceChoice;

/// A model being loaded: which, where, and how many tensor bytes are on the device so far.
pub struct Loading {
    pub source: ModelSource,
    pub device: DeviceChoice,
    pub done: u64,
    pub total: u64,
}

/// What the panel asks the app to do.
pub enum ModelAction {
    PickFiles,
    SwitchDevice(DeviceChoice),
    LoadDefault,
}

pub struct ModelPanel {
    pub device: DeviceChoice,
}

impl ModelPanel {
    pub fn new(device: DeviceChoice) -> Self {
        Self { device }
    }

    pub fn ui(
        &mut self,
        ui: &mut Ui,
        loading: Option<&Loading>,
        last_ready: Option<&ModelSummary>,
        load_error: Option<&str>,
    ) -> Option<ModelAction> {
        let mut action = None;
        if let Some(Loading {
            source,
            done,
            total,
            ..
        }) = loading
        {
            let name = format!("Loading {}…", source.describe());
            ui.label(&name);
            let fraction = if *total > 0 {
                *done as f32 / *total as f32
            } else {
                0.0
            };
            ui.add(egui::ProgressBar::new(fraction).show_percentage())
                .widget_info(|| {
                    egui::WidgetInfo::labeled(egui::Role::ProgressIndicator, true, &name)
                });
        }
        if let Some(error) = load_error {
            ui.colored_label(Color32::from_rgb(220, 80, 60), format!("Error: {error}"));
        }
        if let Some(m) = last_ready {
            egui::Grid::new("model facts")
                .num_columns(2)
                .striped(true)
                .show(ui, |ui| {
                    let mut row = |key: &str, value: String| {
                        ui.label(RichText::new(key).weak());
                        ui.add(egui::Label::new(value).wrap());
                        ui.end_row();
                    };
                    row("Model", m.name.clone());
                    row("File", m.source.clone());
                    row("Architecture", m.architecture.clone());
                    row("Parameters", format!("{:.2} M", m.parameters as f64 / 1e6));
                    row("Weights", m.formats.clone());
                    row("File size", megabytes(m.file_bytes));
                    row("Device", m.device.clone());
                    if let Some(why) = &m.fallback_reason {
                        row("GPU", format!("not used: {why}"));
                    }
                    if let Some(bytes) = resident_bytes() {
                        row("Memory in use", format!("{} (whole app)", megabytes(bytes)));
                    }
                    row("Load time", format!("{:.0} ms", m.load_ms));
                });
        }
        ui.add_space(6.0);
        // One load at a time: the controls wait for the current one.
        ui.add_enabled_ui(loading.is_none(), |ui| {
            ui.horizontal(|ui| {
                ui.label("Run on");
                for (choice, label, tip) in [
                    (
                        DeviceChoice::Auto,
                        "Auto",
                        "The GPU when one works, else the CPU",
                    ),
                    (
                        DeviceChoice::Gpu,
                        "GPU",
                        "wgpu: Vulkan, Metal, DX12 or WebGPU",
                    ),
                    (DeviceChoice::Cpu, "CPU", "burn's flex backend"),
                ] {
                    if ui
                        .radio(self.device == choice, label)
                        .on_hover_text(tip)
                        .clicked()
                        && self.device != choice
                    {
                        self.device = choice;
                        action = Some(ModelAction::SwitchDevice(choice));
                    }
                }
            });
            ui.horizontal(|ui| {
                if ui
                    .button("Load GGUF…")
                    .on_hover_text(
                        "One GVT GGUF, or a vision GGUF and a LLaMA-family LLM GGUF together",
                    )
                    .clicked()
                {
                    action = Some(ModelAction::PickFiles);
                }
                if ui
                    .button("Default model")
                    .on_hover_text("Go back to the embedded tiny model")
                    .clicked()
                {
                    action = Some(ModelAction::LoadDefault);
                }
            });
        });
        action
    }
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// The process's resident memory (Linux), else `None`.
fn resident_bytes() -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
        let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
        Some(pages * 4096)
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}
