//! `gvt app` (and `gvt` with no command): the desktop window.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::anyhow;
use clap::Args;
use gvt_app::worker::{ModelFile, ModelSource};
use gvt_app::{AppOptions, GvtApp};
use gvt_core::device::DeviceChoice;

#[derive(Args, Debug, Default)]
pub struct AppArgs {
    /// An image to open at start.
    image: Option<PathBuf>,
    /// A question to ask about IMAGE once the model is ready (its answer's first token is
    /// selected, so the window opens on an overlay).
    #[arg(long, requires = "image")]
    ask: Option<String>,
    /// GVT GGUF to open with (default: the embedded tiny model).
    #[arg(long, value_name = "FILE.gguf")]
    model: Option<PathBuf>,
    /// A LLaMA-family LLM GGUF to pair with --model's vision tower.
    #[arg(long, value_name = "FILE.gguf", requires = "model")]
    llm: Option<PathBuf>,
    /// Where the model runs (switchable in the app's model panel).
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    device: DeviceChoice,
}

pub fn run(args: AppArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let model = match args.model {
        Some(model) => ModelSource::Files {
            model: ModelFile::Path(model),
            llm: args.llm.map(ModelFile::Path),
        },
        None => ModelSource::Default,
    };
    let image = match &args.image {
        Some(path) => {
            let bytes = gvt_core::preprocess::read_image_file(path)?;
            let name = path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into(),
            );
            Some((name, bytes))
        }
        None => None,
    };
    let options = AppOptions {
        device: args.device,
        model,
        image,
        question: args.ask,
        ..AppOptions::default()
    };
    let native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("GVT Lens")
            .with_inner_size([1280.0, 800.0])
            .with_min_inner_size([720.0, 480.0])
            .with_drag_and_drop(true),
        ..Default::default()
    };
    eframe::run_native(
        "GVT Lens",
        native,
        Box::new(move |cc| {
            Ok(Box::new(Window {
                app: GvtApp::new(&cc.egui_ctx, options),
                started,
                reported: false,
            }))
        }),
    )
    .map_err(|e| anyhow!("cannot open the window: {e}"))
}

/// The app in its window; says on stderr when the model is ready and how long after the
/// start that was (how the start-up time is measured).
struct Window {
    app: GvtApp,
    started: Instant,
    reported: bool,
}

impl eframe::App for Window {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.app.show(ui);
        if !self.reported
            && let Some(model) = self.app.model()
        {
            self.reported = true;
            eprintln!(
                "{} ready on {} {:.2} s after start",
                model.name,
                model.device,
                self.started.elapsed().as_secs_f64()
            );
        }
    }
}
