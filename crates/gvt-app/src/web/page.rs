//! The page around the canvas (`index.html`): its start-up and error messages, and a mirror
//! of the app's state. eframe's web runner does not pass egui's accessibility tree to the
//! page, so the mirror is how screen readers and automation see the app:
//! - `#gvt-live`, an ARIA live region, announces the model's status and each finished answer;
//! - `window.gvtLens` holds the state as data: the model and device, the open image with its
//!   ground truth when it is a generated scene, the conversation, whether an overlay is on
//!   screen, the Probe panel's run, and the main controls with their accessible labels and rectangles in CSS pixels
//!   relative to the canvas.

use serde::Serialize;

use super::super::documents::TurnState;
use super::super::{GvtApp, landmarks};

/// Hides the "loading" message once the app draws.
pub fn started() {
    if let Some(loading) = element("gvt-loading") {
        let _ = loading.set_attribute("hidden", "");
    }
}

/// Shows `message` over the canvas (a failed start, a crash).
pub fn show_error(message: &str) {
    web_sys::console::error_1(&message.into());
    if let Some(loading) = element("gvt-loading") {
        let _ = loading.set_attribute("hidden", "");
    }
    if let Some(error) = element("gvt-error") {
        if let Some(text) = element("gvt-error-text") {
            text.set_text_content(Some(message));
        }
        let _ = error.remove_attribute("hidden");
    }
}

fn element(id: &str) -> Option<web_sys::Element> {
    web_sys::window()?.document()?.get_element_by_id(id)
}

/// Writes the app's state into the page when it changes.
#[derive(Default)]
pub struct Mirror {
    announced: String,
    published: String,
}

impl Mirror {
    pub fn update(&mut self, app: &GvtApp, ctx: &egui::Context) {
        let announcement = announcement(app);
        if announcement != self.announced {
            if let Some(live) = element("gvt-live") {
                live.set_text_content(Some(&announcement));
            }
            self.announced = announcement;
        }
        // Cannot fail: every map key is a string and every `Serialize` impl is derived.
        let state = serde_json::to_string(&state(app, ctx)).expect("the page state is JSON");
        if state != self.published {
            if let (Some(window), Ok(value)) = (web_sys::window(), js_sys::JSON::parse(&state)) {
                let _ = js_sys::Reflect::set(&window, &"gvtLens".into(), &value);
            }
            self.published = state;
        }
    }
}

/// What a screen reader should hear: the status, the notice, and the latest finished answer
/// (not every streamed token).
fn announcement(app: &GvtApp) -> String {
    // The status without its progress figures, which change many times a second.
    let mut text = if app.is_loading() {
        "Loading the model".to_string()
    } else {
        app.model_status()
    };
    if let Some(notice) = app.notice() {
        text += &format!(". {notice}");
    }
    if let Some(turn) = app.current_document().and_then(|d| d.turns.last()) {
        match &turn.state {
            TurnState::Done(_) => {
                text += &format!(". {}: {}", turn.question, turn.answer.trim());
            }
            TurnState::Failed(error) => text += &format!(". {}: failed: {error}", turn.question),
            TurnState::Streaming => {}
        }
    }
    text
}

/// `window.gvtLens`. Member names are what the page's scripts and its end-to-end test
/// read; an absent value (`None`) is `null`, never a missing member.
#[derive(Serialize)]
struct State<'a> {
    model: Option<Model<'a>>,
    stored: Vec<Stored<'a>>,
    loading: bool,
    status: String,
    notice: Option<&'a str>,
    error: Option<&'a str>,
    document: Option<Document<'a>>,
    overlay: bool,
    /// The Probe panel's run, if any.
    probe: Option<Probe>,
    controls: Vec<Control>,
}

#[derive(Serialize)]
struct Probe {
    sweep: &'static str,
    running: bool,
    answered: usize,
    total: usize,
    error: Option<String>,
    levels: Vec<ProbeLevel>,
}

#[derive(Serialize)]
struct ProbeLevel {
    level: u32,
    n: usize,
    correct: usize,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Model<'a> {
    name: &'a str,
    device: &'a str,
    gpu: bool,
    fallback_reason: Option<&'a str>,
    load_ms: f64,
}

#[derive(Serialize)]
struct Stored<'a> {
    name: &'a str,
    bytes: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Document<'a> {
    name: &'a str,
    /// The objects of a generated scene; `null` for other images.
    ground_truth: Option<Vec<SceneObject>>,
    turns: Vec<Turn<'a>>,
}

#[derive(Serialize)]
struct SceneObject {
    shape: &'static str,
    plural: &'static str,
    color: &'static str,
    size: &'static str,
}

#[derive(Serialize)]
struct Turn<'a> {
    question: &'a str,
    answer: &'a str,
    /// "streaming", "done" or "failed".
    state: &'static str,
    error: Option<&'a str>,
    timings: Option<Timings>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Timings {
    image_ms: f64,
    prefill_ms: f64,
    decode_ms: f64,
    tokens: usize,
}

/// A main control: its accessible label and rectangle in CSS pixels.
#[derive(Serialize)]
struct Control {
    label: String,
    x: f32,
    y: f32,
    width: f32,
    height: f32,
    focused: bool,
}

fn state<'a>(app: &'a GvtApp, ctx: &egui::Context) -> State<'a> {
    let model = app.model().map(|m| Model {
        name: &m.name,
        device: &m.device,
        gpu: m.is_gpu,
        fallback_reason: m.fallback_reason.as_deref(),
        load_ms: m.load_ms,
    });
    let document = app.current_document().map(|doc| Document {
        name: &doc.name,
        ground_truth: doc.scene.as_ref().map(|scene| {
            scene
                .objects
                .iter()
                .map(|o| SceneObject {
                    shape: o.shape.name(),
                    plural: o.shape.plural(),
                    color: o.color.name(),
                    size: o.size.name(),
                })
                .collect()
        }),
        turns: doc
            .turns
            .iter()
            .map(|t| {
                let (state, error) = match &t.state {
                    TurnState::Streaming => ("streaming", None),
                    TurnState::Done(_) => ("done", None),
                    TurnState::Failed(e) => ("failed", Some(e.as_str())),
                };
                Turn {
                    question: &t.question,
                    answer: &t.answer,
                    state,
                    error,
                    timings: t.timings.map(|t| Timings {
                        image_ms: t.image_ms,
                        prefill_ms: t.prefill_ms,
                        decode_ms: t.decode_ms,
                        tokens: t.generated_tokens,
                    }),
                }
            })
            .collect(),
    });
    // egui points to CSS pixels.
    let zoom = ctx.zoom_factor();
    let css = |x: f32| (x * zoom).round();
    let controls = landmarks(ctx)
        .into_iter()
        .map(|l| Control {
            x: css(l.rect.min.x),
            y: css(l.rect.min.y),
            width: css(l.rect.width()),
            height: css(l.rect.height()),
            focused: l.focused,
            label: l.label,
        })
        .collect();
    State {
        model,
        stored: app
            .stored_models()
            .iter()
            .map(|m| Stored {
                name: &m.name,
                bytes: m.bytes,
            })
            .collect(),
        loading: app.is_loading(),
        status: app.model_status(),
        notice: app.notice(),
        error: app.error(),
        document,
        overlay: app.overlay_map().is_some(),
        probe: app.probe_run().map(|run| Probe {
            sweep: run.spec.sweep.name(),
            running: run.running,
            answered: run.answers.len(),
            total: run.spec.levels.len() * run.spec.per_level * run.models.len(),
            error: run.error.clone(),
            levels: run.report().models[0]
                .levels
                .iter()
                .map(|s| ProbeLevel {
                    level: s.level,
                    n: s.n,
                    correct: s.correct,
                })
                .collect(),
        }),
        controls,
    }
}
