//! The page around the canvas (`index.html`): its start-up and error messages, and a mirror
//! of the app's state. eframe's web runner does not pass egui's accessibility tree to the
//! page, so the mirror is how screen readers and automation see the app:
//! - `#gvt-live`, an ARIA live region, announces the model's status and each finished answer;
//! - `window.gvtLens` holds the state as data: the model and device, the open image with its
//!   ground truth when it is a generated scene, the conversation, whether an overlay is on
//!   screen, and the main controls with their accessible labels and rectangles in CSS pixels
//!   relative to the canvas.

use super::super::documents::TurnState;
use super::super::{GvtApp, landmarks};
use crate::eval::json::Value;

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
        let state = state(app, ctx).to_string();
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

fn state(app: &GvtApp, ctx: &egui::Context) -> Value {
    let string = |s: &str| Value::String(s.to_string());
    let model = app.model().map_or(Value::Null, |m| {
        Value::Object(vec![
            ("name".into(), string(&m.name)),
            ("device".into(), string(&m.device)),
            ("gpu".into(), Value::Bool(m.is_gpu)),
            (
                "fallbackReason".into(),
                m.fallback_reason.as_deref().map_or(Value::Null, string),
            ),
            ("loadMs".into(), Value::from_f64(m.load_ms)),
        ])
    });
    let document = app.current_document().map_or(Value::Null, |doc| {
        let truth = doc.scene.as_ref().map_or(Value::Null, |scene| {
            Value::Array(
                scene
                    .objects
                    .iter()
                    .map(|o| {
                        Value::Object(vec![
                            ("shape".into(), string(o.shape.name())),
                            ("plural".into(), string(o.shape.plural())),
                            ("color".into(), string(o.color.name())),
                            ("size".into(), string(o.size.name())),
                        ])
                    })
                    .collect(),
            )
        });
        let turns = doc
            .turns
            .iter()
            .map(|t| {
                let (state, error) = match &t.state {
                    TurnState::Streaming => ("streaming", Value::Null),
                    TurnState::Done(_) => ("done", Value::Null),
                    TurnState::Failed(e) => ("failed", string(e)),
                };
                let timings = t.timings.map_or(Value::Null, |t| {
                    Value::Object(vec![
                        ("imageMs".into(), Value::from_f64(t.image_ms)),
                        ("prefillMs".into(), Value::from_f64(t.prefill_ms)),
                        ("decodeMs".into(), Value::from_f64(t.decode_ms)),
                        ("tokens".into(), Value::from_u64(t.generated_tokens as u64)),
                    ])
                });
                Value::Object(vec![
                    ("question".into(), string(&t.question)),
                    ("answer".into(), string(&t.answer)),
                    ("state".into(), string(state)),
                    ("error".into(), error),
                    ("timings".into(), timings),
                ])
            })
            .collect();
        Value::Object(vec![
            ("name".into(), string(&doc.name)),
            ("groundTruth".into(), truth),
            ("turns".into(), Value::Array(turns)),
        ])
    });
    // egui points to CSS pixels.
    let zoom = ctx.zoom_factor();
    let controls = landmarks(ctx)
        .into_iter()
        .map(|l| {
            let number = |x: f32| Value::from_f64(f64::from((x * zoom).round()));
            Value::Object(vec![
                ("label".into(), string(&l.label)),
                ("x".into(), number(l.rect.min.x)),
                ("y".into(), number(l.rect.min.y)),
                ("width".into(), number(l.rect.width())),
                ("height".into(), number(l.rect.height())),
                ("focused".into(), Value::Bool(l.focused)),
            ])
        })
        .collect();
    let stored = app
        .stored_models()
        .iter()
        .map(|m| {
            Value::Object(vec![
                ("name".into(), string(&m.name)),
                ("bytes".into(), Value::from_u64(m.bytes)),
            ])
        })
        .collect();
    Value::Object(vec![
        ("model".into(), model),
        ("stored".into(), Value::Array(stored)),
        ("loading".into(), Value::Bool(app.is_loading())),
        ("status".into(), string(&app.model_status())),
        ("notice".into(), app.notice().map_or(Value::Null, string)),
        ("error".into(), app.error().map_or(Value::Null, string)),
        ("document".into(), document),
        ("overlay".into(), Value::Bool(app.overlay_map().is_some())),
        ("controls".into(), Value::Array(controls)),
    ])
}
