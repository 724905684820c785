//! The browser build: the same [`GvtApp`] on the page's canvas (`index.html`, built by
//! Trunk). What differs from the desktop:
//! - the URL sets the start: `?device=auto|gpu|cpu`, `?seed=N` (the first "New scene"),
//!   `?model=URL` (a GGUF to load instead of the default);
//! - Auto tries WebGPU and falls back to the CPU (the CPU engine in wasm), saying why;
//! - wasm cannot unwind, so a crash (a lost GPU device, a driver error) ends the app; if the
//!   GPU was in use the page restarts on the CPU and says what happened (the reason travels
//!   in `sessionStorage`), otherwise the error stays on screen;
//! - models are downloaded and kept in the page's [`store`];
//! - [`page`] mirrors the app's state into the page for screen readers and automation.

pub mod clipboard;
pub mod page;
pub mod store;

use std::cell::Cell;
use std::rc::Rc;

use js_sys::{Function, Reflect};
use wasm_bindgen::prelude::Closure;
use wasm_bindgen::{JsCast, JsValue};

use super::worker::{ModelFile, ModelSource};
use super::{AppOptions, GvtApp};
use gvt_core::device::DeviceChoice;

/// The `sessionStorage` key that carries a crash's reason across the restart.
const CRASH_KEY: &str = "gvt-lens-crash";

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
    let on_gpu = Rc::new(Cell::new(false));
    let watched = on_gpu.clone();
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
                    on_gpu,
                }))
            }),
        )
        .await
        .map_err(|e| js_message(&e))?;
    page::started();
    watch_for_crash(runner, watched);
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
            let name = crate::store::file_name(&url);
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
        notice: take_crash_reason()
            .map(|why| format!("The GPU failed ({why}); restarted on the CPU")),
        store: std::sync::Arc::new(store::CacheStore),
        ..defaults
    }
}

/// Once a second: after a crash, restart the page on the CPU if the GPU was in use, else
/// show the error (once).
fn watch_for_crash(runner: eframe::WebRunner, on_gpu: Rc<Cell<bool>>) {
    let mut reported = false;
    let check = Closure::<dyn FnMut()>::new(move || {
        if reported {
            return;
        }
        let Some(summary) = runner.panic_summary() else {
            return;
        };
        reported = true;
        let message = summary.message();
        if !(on_gpu.get() && restart_on_cpu(&headline(&message))) {
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

fn restart_on_cpu(why: &str) -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    let Ok(url) = web_sys::Url::new(&window.location().href().unwrap_or_default()) else {
        return false;
    };
    if session_storage("setItem", &[CRASH_KEY.into(), why.into()]).is_none() {
        return false;
    }
    url.search_params().set("device", "cpu");
    window.location().replace(&url.href()).is_ok()
}

/// The reason of the crash that restarted this page, read once.
fn take_crash_reason() -> Option<String> {
    let why = session_storage("getItem", &[CRASH_KEY.into()])?.as_string()?;
    session_storage("removeItem", &[CRASH_KEY.into()]);
    Some(why)
}

/// Calls a `sessionStorage` method.
fn session_storage(method: &str, args: &[JsValue]) -> Option<JsValue> {
    let window: JsValue = web_sys::window()?.into();
    let storage = Reflect::get(&window, &"sessionStorage".into()).ok()?;
    js_call(&storage, method, args).ok()
}

/// `target[name]`, when it is a function.
fn js_method(target: &JsValue, name: &str) -> Option<Function> {
    Reflect::get(target, &name.into()).ok()?.dyn_into().ok()
}

/// Calls `target.name(...args)` through JS reflection, for APIs web-sys gates behind
/// features or unstable flags.
fn js_call(target: &JsValue, name: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let f = js_method(target, name)
        .ok_or_else(|| JsValue::from_str(&format!("{name} is not available here")))?;
    f.apply(target, &args.iter().collect())
}

/// A JS error value's message.
fn js_message(error: &JsValue) -> String {
    error
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| error.as_string())
        .unwrap_or_else(|| format!("{error:?}"))
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
    /// Read by the crash watcher.
    on_gpu: Rc<Cell<bool>>,
}

impl eframe::App for WebApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let pasted = std::mem::take(&mut *self.pasted.borrow_mut());
        for bytes in pasted {
            self.app.open_image("Pasted image", &bytes);
        }
        self.app.show(ui);
        self.on_gpu.set(self.app.may_use_gpu());
        self.page.update(&self.app, ui.ctx());
    }
}
