//! Which model runs where: name, sizes, quantization, file size, device, memory; loading a
//! different GGUF and switching between GPU and CPU.

use egui::{Color32, RichText, Ui};

use super::worker::{LoadStage, ModelSource, ModelSummary};
use crate::store::{StoredModel, file_name};
use gvt_core::device::DeviceChoice;

/// A model being loaded: which, where, and how far (bytes downloaded, then bytes of tensors
/// on the device).
pub struct Loading {
    pub source: ModelSource,
    pub device: DeviceChoice,
    pub stage: LoadStage,
    pub done: u64,
    pub total: u64,
}

impl Loading {
    pub fn new(source: ModelSource, device: DeviceChoice) -> Self {
        Self {
            source,
            device,
            stage: LoadStage::Upload,
            done: 0,
            total: 0,
        }
    }

    /// "Downloading x.gguf… 40%", for the status bar and the progress bar.
    pub fn describe(&self) -> String {
        let verb = match self.stage {
            LoadStage::Download => "Downloading",
            LoadStage::Upload => "Loading",
        };
        format!("{verb} {}…", self.source.describe())
    }

    /// "40%", or the bytes so far when the total is unknown.
    pub fn progress(&self) -> String {
        match (self.done, self.total) {
            (_, 0) if self.done > 0 => megabytes(self.done),
            (_, 0) => String::new(),
            (done, total) => format!("{:.0}%", 100.0 * done as f64 / total as f64),
        }
    }

    pub fn fraction(&self) -> f32 {
        if self.total > 0 {
            self.done as f32 / self.total as f32
        } else {
            0.0
        }
    }
}

/// What the panel asks the app to do.
pub enum ModelAction {
    PickFiles,
    SwitchDevice(DeviceChoice),
    LoadDefault,
    /// Download a GGUF (or read it from the model store).
    LoadUrl {
        name: String,
        url: String,
    },
    ClearStored,
    /// Load a second model to compare with: the embedded one, or picked files.
    SecondDefault,
    PickSecondFiles,
    UnloadSecond,
}

pub struct ModelPanel {
    pub device: DeviceChoice,
    /// The "Load from URL" box.
    url: String,
}

impl ModelPanel {
    pub fn new(device: DeviceChoice) -> Self {
        Self {
            device,
            url: String::new(),
        }
    }

    pub fn ui(
        &mut self,
        ui: &mut Ui,
        loading: Option<&Loading>,
        last_ready: Option<&ModelSummary>,
        load_error: Option<&str>,
    ) -> Option<ModelAction> {
        let mut action = None;
        if let Some(loading) = loading {
            let name = loading.describe();
            ui.label(&name);
            ui.add(egui::ProgressBar::new(loading.fraction()).show_percentage())
                .widget_info(|| {
                    egui::WidgetInfo::labeled(egui::Role::ProgressIndicator, true, &name)
                });
        }
        if let Some(error) = load_error {
            ui.colored_label(Color32::from_rgb(220, 80, 60), format!("Error: {error}"));
            // A GPU that is out of memory, lost, or limits buffers below the model's needs:
            // the CPU may still run it.
            if self.device != DeviceChoice::Cpu
                && loading.is_none()
                && ui
                    .button("Run on CPU instead")
                    .on_hover_text("Load the model again on the CPU (burn's flex backend)")
                    .clicked()
            {
                self.device = DeviceChoice::Cpu;
                action = Some(ModelAction::SwitchDevice(DeviceChoice::Cpu));
            }
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
                    row("Kernels", m.kernels.clone());
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
                    (
                        DeviceChoice::Cpu,
                        "CPU",
                        "The CPU engine: weights as stored, every core",
                    ),
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

    /// A second model that answers every question and probe beside the first: what it is,
    /// and loading or dropping it.
    pub fn second_ui(
        &mut self,
        ui: &mut Ui,
        second: Option<&ModelSummary>,
        loading: bool,
    ) -> Option<ModelAction> {
        let mut action = None;
        ui.add_space(8.0);
        ui.heading("Compare with");
        match (second, loading) {
            (_, true) => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Loading the second model…");
                });
            }
            (Some(m), false) => {
                ui.label(format!("{} ({}), on {}", m.name, m.source, m.device));
            }
            (None, false) => {
                ui.label(
                    RichText::new(
                        "A second model answers each question and probe beside the first.",
                    )
                    .weak(),
                );
            }
        }
        ui.add_enabled_ui(!loading, |ui| {
            ui.horizontal_wrapped(|ui| {
                if ui
                    .button("Second GGUF…")
                    .on_hover_text("Load another GVT GGUF to compare with, e.g. another checkpoint")
                    .clicked()
                {
                    action = Some(ModelAction::PickSecondFiles);
                }
                if ui
                    .button("Compare with the default model")
                    .on_hover_text("Load the embedded tiny model as the second model")
                    .clicked()
                {
                    action = Some(ModelAction::SecondDefault);
                }
                if second.is_some() && ui.button("Unload second").clicked() {
                    action = Some(ModelAction::UnloadSecond);
                }
            });
        });
        action
    }

    /// The model store (the browser's): what is kept and how big, load one again, download
    /// one by URL, or empty the store.
    pub fn stored_ui(
        &mut self,
        ui: &mut Ui,
        stored: &[StoredModel],
        busy: bool,
    ) -> Option<ModelAction> {
        let mut action = None;
        ui.add_space(8.0);
        ui.separator();
        ui.strong("Stored in this browser");
        ui.add_enabled_ui(!busy, |ui| {
            if stored.is_empty() {
                ui.label(RichText::new("Nothing yet: models load from the network once, then from here.").weak());
            }
            egui::Grid::new("stored models")
                .num_columns(3)
                .striped(true)
                .show(ui, |ui| {
                    for model in stored {
                        ui.label(&model.name);
                        ui.label(megabytes(model.bytes));
                        if ui
                            .button("Load")
                            .on_hover_text(format!("Load {} from this browser's store", model.name))
                            .clicked()
                        {
                            action = Some(ModelAction::LoadUrl {
                                name: model.name.clone(),
                                url: model.url.clone(),
                            });
                        }
                        ui.end_row();
                    }
                });
            let total: u64 = stored.iter().map(|m| m.bytes).sum();
            ui.horizontal(|ui| {
                ui.label(format!("{} in all", megabytes(total)));
                let clear = ui
                    .add_enabled(!stored.is_empty(), egui::Button::new("Clear stored models"))
                    .on_hover_text(
                        "Delete every model this page keeps (the default downloads again)",
                    );
                super::mark(&clear, "Clear stored models");
                if clear.clicked() {
                    action = Some(ModelAction::ClearStored);
                }
            });
            ui.add_space(4.0);
            let label = ui.label("Model URL");
            let edit = ui
                .add(
                    egui::TextEdit::singleline(&mut self.url)
                        .hint_text("https://…/model.gguf")
                        .desired_width(f32::INFINITY),
                )
                .labelled_by(label.id);
            let entered = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            let url = self.url.trim();
            let download = ui
                .add_enabled(!url.is_empty(), egui::Button::new("Download"))
                .on_hover_text(
                    "Download a GGUF (the server must allow cross-origin requests) and keep it here",
                );
            if download.clicked() || (entered && !url.is_empty()) {
                action = Some(ModelAction::LoadUrl {
                    name: file_name(url),
                    url: url.to_string(),
                });
            }
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
    // In the browser: the wasm module's linear memory (what the page holds for the app).
    #[cfg(target_arch = "wasm32")]
    {
        use wasm_bindgen::JsCast;
        let memory = wasm_bindgen::memory()
            .dyn_into::<js_sys::WebAssembly::Memory>()
            .ok()?;
        let buffer = memory.buffer().dyn_into::<js_sys::ArrayBuffer>().ok()?;
        Some(buffer.byte_length() as u64)
    }
    #[cfg(not(any(target_os = "linux", target_arch = "wasm32")))]
    {
        None
    }
}
