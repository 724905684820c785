//! The browser build: the same [`GvtApp`] on the page's canvas (`index.html`, built by
//! Trunk). What differs from the desktop:
//! - the URL sets the start: `?device=auto|gpu|cpu`, `?seed=N` (the first "New scene"),
//!   `?model=URL` (a GGUF to load instead of the default);
//! - Auto tries WebGPU and falls back to the CPU (burn flex in wasm), saying why;
//! - wasm cannot unwind, so a crash (a lost GPU device, a driver error) ends the app; the page
//!   then restarts on the CPU and says what happened, and only a crash on the CPU stays on
//!   screen as an error;
//! - models are downloaded and kept in the page's [`store`];
//! - [`page`] mirrors the app's state into the page for screen readers and automation.

pub mod clipboard;
pub mod page;
pub mod store;

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;

use super::worker::{ModelFile, ModelSource};
use super::{AppOptions, GvtApp};
use crate::device::DeviceChoice;

/// Where the page restarts after a crash, with the message it shows.
const CRASH_PARAM: &str = "crashed";

/// Starts the app on the canvas `#gvt_canvas`.
pub fn start() {
    wasm_bindgen_futures::spawn_local(async {
        if let Err(error) = run().await {
            page::show_error(&format!("GVT Lens could not start: {error}"));
        }
    });
}

async fn run() -> Result<(), String> {
    let window = web_sys::window().ok_or("no browser window")?;
    let query = window.location().search().unwrap_or_default();
    let params = web_sys::UrlSearchParams::new_with_str(&query).map_err(|e| format!("{e:?}"))?;
    let options = options_from(&params);
    let canvas = window
        .document()
        .and_then(|d| d.get_element_by_id("gvt_canvas"))
        .and_then(|e| e.dyn_into::<web_sys::HtmlCanvasElement>().ok())
        .ok_or("the page has no <canvas id=\"gvt_canvas\">")?;

    let runner = eframe::WebRunner::new();
    runner
        .start(
            canvas,
            eframe::WebOptions::default(),
            Box::new(move |cc| {
                let ctx = cc.egui_ctx.clone();
                Ok(Box::new(WebApp {
                    app: GvtApp::new(&cc.egui_ctx, options),
                    page: page::Mirror::default(),
                    pasted: clipboard::listen(move || ctx.request_repaint()),
                }))
            }),
        )
        .await
        .map_err(|e| page::js_message(&e))?;
    page::started();
    watch_for_crash(runner, params.get("device").as_deref() == Some("cpu"));
    Ok(())
}

/// The app options the URL asks for.
fn options_from(params: &web_sys::UrlSearchParams) -> AppOptions {
    let defaults = AppOptions::default();
    let device = match params.get("device").as_deref() {
        Some("gpu") => DeviceChoice::Gpu,
        Some("cpu") => DeviceChoice::Cpu,
        _ => DeviceChoice::Auto,
    };
    let model = match params.get("model").filter(|u| !u.trim().is_empty()) {
        Some(url) => {
            let name = url.rsplit('/').next().unwrap_or(&url).to_string();
            ModelSource::Files {
                model: ModelFile::Url { name, url },
                llm: None,
            }
        }
        None => defaults.model.clone(),
    };
    AppOptions {
        device,
        model,
        scene_seed: params
            .get("seed")
            .and_then(|s| s.parse().ok())
            .unwrap_or(defaults.scene_seed),
        notice: params
            .get(CRASH_PARAM)
            .map(|why| format!("The GPU failed ({why}); restarted on the CPU")),
        ..defaults
    }
}

/// Once a second: after a crash, restart the page on the CPU (unless it already ran there,
/// then show the error).
fn watch_for_crash(runner: eframe::WebRunner, on_cpu: bool) {
    let check = Closure::<dyn FnMut()>::new(move || {
        let Some(summary) = runner.panic_summary() else {
            return;
        };
        let message = summary.message();
        if on_cpu || !restart_on_cpu(&message) {
            page::show_error(&format!("GVT Lens stopped: {message}"));
        }
    });
    if let Some(window) = web_sys::window() {
        let _ = window.set_interval_with_callback_and_timeout_and_arguments_0(
            check.as_ref().unchecked_ref(),
            1000,
        );
    }
    // The check lives as long as the page.
    check.forget();
}

fn restart_on_cpu(message: &str) -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    let Ok(url) = web_sys::Url::new(&window.location().href().unwrap_or_default()) else {
        return false;
    };
    let params = url.search_params();
    params.set("device", "cpu");
    params.set(CRASH_PARAM, &headline(message));
    window.location().replace(&url.href()).is_ok()
}

/// The line of a panic message that says what went wrong (not "panicked at file:line"),
/// short enough for a URL.
fn headline(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with("panicked at"))
        .unwrap_or(message)
        .chars()
        .take(200)
        .collect()
}

/// The app plus the page's mirror of it.
struct WebApp {
    app: GvtApp,
    page: page::Mirror,
    pasted: clipboard::Pasted,
}

impl eframe::App for WebApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let pasted = std::mem::take(&mut *self.pasted.borrow_mut());
        for bytes in pasted {
            self.app.open_image("Pasted image", &bytes);
        }
        self.app.show(ui);
        self.page.update(&self.app, ui.ctx());
    }
}
