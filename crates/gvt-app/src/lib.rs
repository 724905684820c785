//! The GVT Lens app (eframe/egui, native and in the browser): drop in an image, ask, watch
//! the answer stream, click any answer token to see where the model looked.
//!
//! The layout follows the pipeline from left to right: the image and its attention overlay
//! in the middle, the conversation on the right, the model panel on the left when open.
//! [`GvtApp`] holds the state (documents, the model, the selection) and routes the panels'
//! actions; each panel is a struct with a `ui` method that draws and returns what the user
//! asked for. Inference runs on the [`worker`]; dialogs on the [`platform`] seam.

mod attention_panel;
mod compare_panel;
mod conversation_panel;
pub mod documents;
mod image_panel;
mod model_panel;
mod platform;
mod probe_panel;
pub mod store;
#[cfg(target_arch = "wasm32")]
pub mod web;
mod what_if_panel;
pub mod worker;

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use egui::{Color32, Key, KeyboardShortcut, Modifiers, RichText, Ui};

use attention_panel::AttentionPanel;
pub use attention_panel::ViewKind;
use compare_panel::{ComparePanel, Side};
pub use conversation_panel::TokenSelection;
use conversation_panel::{ConversationAction, ConversationPanel};
use documents::{Document, SAMPLES, Turn, TurnState};
use image_panel::{ImageAction, ImagePanel, Overlay};
use model_panel::{Loading, ModelAction, ModelPanel};
use platform::{Outcome, Platform};
pub use probe_panel::ProbeRun;
use probe_panel::{ProbeAction, ProbePanel};
use store::{ModelStore, NoStore, StoredModel};
use what_if_panel::WhatIfPanel;
use worker::{ModelFile, ModelSource, ModelSummary, Reply, Request, Worker};

use gvt_core::attention::Heatmap;
use gvt_core::device::DeviceChoice;
use gvt_core::generate::CancelFlag;
use gvt_scene::edit::Described;
use gvt_scene::{Edit, Scene, SceneRequest};

const OPEN: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::O);
const NEW_SCENE: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::N);
/// Most scenes "Open" brings up from one probe level.
const OPEN_PER_LEVEL: usize = 6;
const TOGGLE_MODEL: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::M);
/// Handled by the platform (egui-winit turns it into a paste event); named for the tooltip.
const PASTE: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::V);

/// How the app starts.
#[derive(Debug, Clone)]
pub struct AppOptions {
    pub device: DeviceChoice,
    pub model: ModelSource,
    /// Seed of the first "New scene" (later ones count up from it).
    pub scene_seed: u64,
    /// An image to open at start: file name and bytes.
    pub image: Option<(String, Vec<u8>)>,
    /// A question to ask about that image once the model is ready; its answer's first token
    /// is then selected, so the window opens on an overlay.
    pub question: Option<String>,
    /// A message for the status bar at start (e.g. why the page restarted on the CPU).
    pub notice: Option<String>,
    /// Where downloads come from and picked models are kept (the browser's Cache API);
    /// [`NoStore`] on the desktop.
    pub store: Arc<dyn ModelStore>,
}

impl Default for AppOptions {
    fn default() -> Self {
        Self {
            device: DeviceChoice::Auto,
            model: ModelSource::Default,
            scene_seed: first_scene_seed(),
            image: None,
            question: None,
            notice: None,
            store: Arc::new(NoStore),
        }
    }
}

/// A message in the status bar.
enum Notice {
    Info(String),
    Error(String),
    /// A model load failed: an error, which the next model to load replaces.
    LoadFailed(String),
}

pub struct GvtApp {
    worker: Worker,
    platform: Platform,
    docs: Vec<Document>,
    current: Option<usize>,
    selection: Option<TokenSelection>,
    next_request: u64,
    next_scene_seed: u64,
    /// What "New scene" must contain ("3 red stars, no hearts"); empty for any scene.
    scene_request: String,
    /// Where the running model came from and the device it was asked for (a device switch
    /// reloads it).
    model_source: ModelSource,
    model_device: DeviceChoice,
    /// The model being loaded, if any. Questions wait until it is ready.
    loading: Option<Loading>,
    model: Option<ModelSummary>,
    load_error: Option<String>,
    notice: Option<Notice>,
    /// `AppOptions::notice`, shown again once the model is ready (loading replaces it).
    startup_notice: Option<String>,
    show_model_panel: bool,
    /// Models kept in the store, for the model panel (when the store keeps any).
    keeps_models: bool,
    stored: Vec<StoredModel>,
    /// The start-up question and the document it is about, until the model is ready.
    pending_question: Option<(usize, String)>,
    /// The request whose answer gets its first token selected when it arrives.
    select_when_answered: Option<u64>,
    image_panel: ImagePanel,
    attention_panel: AttentionPanel,
    conversation_panel: ConversationPanel,
    model_panel: ModelPanel,
    show_probe_panel: bool,
    probe_panel: ProbePanel,
    /// A second model that answers beside the first, once loaded.
    second: Option<ModelSummary>,
    second_loading: bool,
    /// The next picked model files are for the second model.
    files_for_second: bool,
    what_if_panel: WhatIfPanel,
    compare_panel: ComparePanel,
}

impl GvtApp {
    /// Starts the engine and loads the model; the window shows at once.
    pub fn new(ctx: &egui::Context, options: AppOptions) -> Self {
        let repaint = ctx.clone();
        let worker = Worker::spawn(options.store.clone(), move || repaint.request_repaint());
        let mut app = Self {
            worker,
            platform: Platform::new(ctx.clone()),
            docs: Vec::new(),
            current: None,
            selection: None,
            next_request: 1,
            next_scene_seed: options.scene_seed,
            scene_request: String::new(),
            model_source: options.model.clone(),
            model_device: options.device,
            loading: None,
            model: None,
            load_error: None,
            notice: options.notice.clone().map(Notice::Info),
            startup_notice: options.notice,
            show_model_panel: false,
            keeps_models: options.store.keeps_models(),
            stored: Vec::new(),
            pending_question: None,
            select_when_answered: None,
            image_panel: ImagePanel::default(),
            attention_panel: AttentionPanel::default(),
            conversation_panel: ConversationPanel::default(),
            model_panel: ModelPanel::new(options.device),
            show_probe_panel: false,
            probe_panel: ProbePanel::default(),
            second: None,
            second_loading: false,
            files_for_second: false,
            what_if_panel: WhatIfPanel::default(),
            compare_panel: ComparePanel::default(),
        };
        app.load_model(options.model, options.device);
        if let Some((name, bytes)) = &options.image {
            app.open_image(name, bytes);
            if let (Some(doc), Some(question)) = (app.current, options.question) {
                app.pending_question = Some((doc, question));
            }
        }
        app
    }

    /// The probe on the Probe panel, running or done.
    pub fn probe_run(&self) -> Option<&ProbeRun> {
        self.probe_panel.run.as_ref()
    }

    /// The second model, once loaded.
    pub fn second_model(&self) -> Option<&ModelSummary> {
        self.second.as_ref()
    }

    /// The loaded model, once ready.
    pub fn model(&self) -> Option<&ModelSummary> {
        self.model.as_ref()
    }

    /// Whether the GPU may be working: the model runs there, or one is loading with a choice
    /// that allows it.
    pub fn may_use_gpu(&self) -> bool {
        self.model.as_ref().is_some_and(|m| m.is_gpu)
            || self
                .loading
                .as_ref()
                .is_some_and(|l| l.device != DeviceChoice::Cpu)
    }

    /// Whether a model is loading.
    pub fn is_loading(&self) -> bool {
        self.loading.is_some()
    }

    /// The image on screen.
    pub fn current_document(&self) -> Option<&Document> {
        self.current.map(|i| &self.docs[i])
    }

    /// The status bar's message, if it is an error.
    pub fn error(&self) -> Option<&str> {
        match &self.notice {
            Some(Notice::Error(e) | Notice::LoadFailed(e)) => Some(e),
            _ => None,
        }
    }

    pub fn selection(&self) -> Option<TokenSelection> {
        self.selection
    }

    /// The heat map on screen, if any.
    pub fn overlay_map(&self) -> Option<Heatmap> {
        let (map, _, _) = self.overlay_parts(self.current?)?;
        Some(map)
    }

    pub fn view(&self) -> ViewKind {
        self.attention_panel.kind
    }

    fn load_model(&mut self, source: ModelSource, device: DeviceChoice) {
        self.loading = Some(Loading::new(source.clone(), device));
        self.load_error = None;
        self.worker.send(Request::Load { source, device });
    }

    fn open(&mut self, mut doc: Document) {
        // Names tell the image tabs apart: a second "Pasted image" becomes "Pasted image (2)".
        let base = doc.name.clone();
        let mut n = 1;
        while self.docs.iter().any(|d| d.name == doc.name) {
            n += 1;
            doc.name = format!("{base} ({n})");
        }
        self.docs.push(doc);
        self.current = Some(self.docs.len() - 1);
        self.notice = None;
    }

    /// Opens an image from its file bytes (a broken one leaves an error in the status bar).
    pub fn open_image(&mut self, name: &str, bytes: &[u8]) {
        match Document::from_bytes(name, bytes) {
            Ok(doc) => self.open(doc),
            Err(e) => self.notice = Some(Notice::Error(e.to_string())),
        }
    }

    /// Opens the next seed's scene, made to the scene field's order when it holds one.
    fn new_scene(&mut self) {
        let wanted = self.scene_request.trim();
        let request = match wanted.parse::<SceneRequest>() {
            Ok(request) => request,
            Err(e) => {
                self.notice = Some(Notice::Error(e.to_string()));
                return;
            }
        };
        let seed = self.next_scene_seed;
        self.next_scene_seed = self.next_scene_seed.wrapping_add(1);
        // An empty request draws `Scene::random(seed)`, the scenes the field's absence gave.
        let name = match wanted {
            "" => format!("Scene {seed}"),
            _ => format!("Scene {seed}: {wanted}"),
        };
        let doc = Scene::generate(seed, &request)
            .map_err(|e| gvt_core::Error::InvalidInput(e.to_string()))
            .and_then(|scene| Document::from_scene(name, scene));
        match doc {
            Ok(doc) => self.open(doc),
            Err(e) => self.notice = Some(Notice::Error(e.to_string())),
        }
    }

    fn ask(&mut self, question: String) {
        let Some(doc_index) = self.current else {
            return;
        };
        let image_size = self.model.as_ref().and_then(|m| m.image_size);
        let doc = &mut self.docs[doc_index];
        let id = self.next_request;
        self.next_request += 1;
        let cancel = CancelFlag::default();
        let image = doc.model_input(image_size);
        self.worker.send(Request::Ask {
            id,
            model: 0,
            image: image.clone(),
            question: question.clone(),
            cancel: cancel.clone(),
        });
        let mut turn = Turn::new(id, question.clone(), cancel.clone());
        if self.second.is_some() {
            // The same question to the second model; Stop stops both.
            let second = self.next_request;
            self.next_request += 1;
            self.worker.send(Request::Ask {
                id: second,
                model: 1,
                image,
                question: question.clone(),
                cancel: cancel.clone(),
            });
            turn.second = Some(Box::new(Turn::new(second, question, cancel)));
        }
        doc.turns.push(turn);
        // A map on screen for this image follows the new answer once it arrives.
        if self.selection.is_some_and(|s| s.doc == doc_index) {
            self.select_when_answered = Some(id);
        }
    }

    /// Document and turn index of request `id`.
    fn locate(&self, id: u64) -> Option<(usize, usize)> {
        self.docs
            .iter()
            .enumerate()
            .find_map(|(d, doc)| doc.turns.iter().position(|t| t.id == id).map(|t| (d, t)))
    }

    /// The turn of request `id`: a first model's, or a second model's inside one.
    fn turn_mut(&mut self, id: u64) -> Option<&mut Turn> {
        self.docs
            .iter_mut()
            .flat_map(|d| d.turns.iter_mut())
            .find_map(|t| {
                if t.id == id {
                    return Some(t);
                }
                t.second.as_deref_mut().filter(|second| second.id == id)
            })
    }

    fn handle_replies(&mut self) {
        for reply in self.worker.poll() {
            match reply {
                Reply::Loading { stage, done, total } => {
                    if let Some(loading) = &mut self.loading {
                        (loading.stage, loading.done, loading.total) = (stage, done, total);
                    }
                }
                Reply::Stored(models) => self.stored = models,
                Reply::Loaded(summary) => {
                    let fallback = summary
                        .fallback_reason
                        .as_ref()
                        .map(|why| format!("Running on the CPU: {why}"));
                    let info = fallback
                        .or_else(|| self.startup_notice.take())
                        .map(Notice::Info);
                    // An error about something else (an image that did not open while the
                    // model loaded) stays until the user has read it.
                    if !matches!(self.notice, Some(Notice::Error(_))) {
                        self.notice = info;
                    }
                    if let Some(loading) = self.loading.take() {
                        self.model_source = loading.source;
                        self.model_device = loading.device;
                    }
                    self.model = Some(*summary);
                    if let Some((doc, question)) = self.pending_question.take() {
                        self.current = Some(doc);
                        self.select_when_answered = Some(self.next_request);
                        self.ask(question);
                    }
                }
                Reply::LoadFailed(error) => {
                    self.loading = None;
                    // The running model stays, and so does its device.
                    self.model_panel.device = self.model_device;
                    self.notice = Some(Notice::LoadFailed(format!(
                        "cannot load the model: {error}"
                    )));
                    self.load_error = Some(error);
                    self.show_model_panel = true;
                }
                Reply::Token { id, text } => {
                    if let Some(turn) = self.turn_mut(id) {
                        turn.answer.push_str(&text);
                    }
                }
                Reply::Answered { id, generation } => {
                    if let Some(turn) = self.turn_mut(id) {
                        turn.finish(*generation);
                    }
                    if self.select_when_answered == Some(id) {
                        self.select_when_answered = None;
                        self.selection = self.locate(id).map(|(doc, turn)| TokenSelection {
                            doc,
                            turn,
                            token: 0,
                        });
                    }
                }
                Reply::AskFailed { id, error } => {
                    if let Some(turn) = self.turn_mut(id) {
                        turn.state = TurnState::Failed(error);
                    }
                }
                Reply::SecondLoaded(summary) => {
                    self.second_loading = false;
                    self.second = Some(*summary);
                }
                Reply::SecondFailed(error) => {
                    self.second_loading = false;
                    self.notice = Some(Notice::Error(format!(
                        "cannot load the second model: {error}"
                    )));
                }
                Reply::ProbeAnswer { id, answer } => self.probe_panel.record(id, *answer),
                Reply::ProbeFinished { id, error } => self.probe_panel.finish(id, error),
            }
        }
    }

    fn handle_platform(&mut self) {
        for outcome in self.platform.poll() {
            match outcome {
                Outcome::Image(doc) => self.open(*doc),
                Outcome::ModelFiles(files) if std::mem::take(&mut self.files_for_second) => {
                    match model_source(files) {
                        Ok(source) => self.load_second(source),
                        Err(why) => self.notice = Some(Notice::Error(why.into())),
                    }
                }
                Outcome::ModelFiles(files) => self.load_files(files),
                Outcome::Saved(name) => self.notice = Some(Notice::Info(format!("Saved {name}"))),
                Outcome::Failed(error) => self.notice = Some(Notice::Error(error)),
            }
        }
    }

    fn load_files(&mut self, files: Vec<ModelFile>) {
        if self.loading.is_some() {
            self.notice = Some(Notice::Error(
                "a model is already loading; try again when it is ready".into(),
            ));
            return;
        }
        match model_source(files) {
            Ok(source) => self.load_model(source, self.model_panel.device),
            Err(why) => self.notice = Some(Notice::Error(why.into())),
        }
    }

    /// Loads a second model to compare with, on the device the model panel has chosen.
    fn load_second(&mut self, source: ModelSource) {
        self.second_loading = true;
        self.second = None;
        self.worker.send(Request::LoadSecond {
            source,
            device: self.model_panel.device,
        });
    }

    /// Files dropped on the window, pasted images and keyboard shortcuts.
    fn handle_input(&mut self, ctx: &egui::Context) {
        let (dropped, pasted) = ctx.input(|i| {
            let pasted: Vec<_> = i
                .events
                .iter()
                .filter_map(|e| match e {
                    egui::Event::PasteImage(image) => Some(image.clone()),
                    _ => None,
                })
                .collect();
            (i.raw.dropped_files.clone(), pasted)
        });
        if !dropped.is_empty() {
            self.platform.open_dropped(dropped);
        }
        for image in pasted {
            let rgba = image::RgbaImage::from_raw(
                image.width() as u32,
                image.height() as u32,
                image
                    .pixels
                    .iter()
                    .flat_map(|c| c.to_srgba_unmultiplied())
                    .collect(),
            );
            let doc = rgba
                .ok_or_else(|| gvt_core::Error::Image("the pasted image is malformed".into()))
                .and_then(|rgba| {
                    Document::from_image("Pasted image", image::DynamicImage::ImageRgba8(rgba))
                });
            match doc {
                Ok(doc) => self.open(doc),
                Err(e) => self.notice = Some(Notice::Error(e.to_string())),
            }
        }
        if ctx.input_mut(|i| i.consume_shortcut(&OPEN)) {
            self.platform.pick_image();
        }
        if ctx.input_mut(|i| i.consume_shortcut(&NEW_SCENE)) {
            self.new_scene();
        }
        if ctx.input_mut(|i| i.consume_shortcut(&TOGGLE_MODEL)) {
            self.show_model_panel = !self.show_model_panel;
        }
    }

    /// The selected token's heat map, its caption and a key that changes with it.
    fn overlay_parts(&self, doc_index: usize) -> Option<(Heatmap, String, u64)> {
        let s = self.selection?;
        if s.doc != doc_index {
            return None;
        }
        let turn = self.docs.get(s.doc)?.turns.get(s.turn)?;
        let record = turn.attention.as_ref()?;
        let map = self.attention_panel.heatmap(record, s.token).ok()?;
        let view = self.attention_panel.view(record);
        let piece = turn.pieces.get(s.token).map_or("", |p| p.trim());
        let caption = format!(
            "answer {} token {} \"{piece}\", {}",
            s.turn + 1,
            s.token + 1,
            self.attention_panel.describe(record)
        );
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (s.doc, s.turn, s.token, format!("{view:?}")).hash(&mut hasher);
        Some((map, caption, hasher.finish()))
    }

    /// Draws the whole app into `ui` (the window's root, or a test harness).
    pub fn show(&mut self, ui: &mut Ui) {
        let ctx = ui.ctx().clone();
        ctx.data_mut(|d| d.remove::<Vec<Landmark>>(landmarks_id()));
        self.handle_replies();
        self.handle_platform();
        self.handle_input(&ctx);

        egui::Panel::top("toolbar").show(ui, |ui| self.toolbar(ui));
        egui::Panel::bottom("status").show(ui, |ui| self.status_bar(ui));
        if self.show_model_panel {
            egui::Panel::left("model panel")
                .resizable(true)
                .default_size(320.0)
                .size_range(300.0..=520.0)
                .show(ui, |ui| {
                    ui.heading("Model");
                    let action = self.model_panel.ui(
                        ui,
                        self.loading.as_ref(),
                        self.model.as_ref(),
                        self.load_error.as_deref(),
                    );
                    let second =
                        self.model_panel
                            .second_ui(ui, self.second.as_ref(), self.second_loading);
                    let stored = self.keeps_models.then(|| {
                        let busy = self.loading.is_some();
                        self.model_panel.stored_ui(ui, &self.stored, busy)
                    });
                    let action = action.or(second).or(stored.flatten());
                    if let Some(action) = action {
                        self.model_action(action);
                    }
                });
        }
        if let Some(doc_index) = self.current {
            egui::Panel::right("conversation")
                .resizable(true)
                .default_size(380.0)
                .min_size(260.0)
                .show(ui, |ui| {
                    ui.heading("Conversation");
                    let can_ask = self.can_ask_about_images();
                    let action = self.conversation_panel.ui(
                        ui,
                        doc_index,
                        &self.docs[doc_index],
                        self.selection,
                        can_ask,
                        self.model.as_ref().is_some_and(|m| m.is_gpu) && self.loading.is_none(),
                    );
                    match action {
                        Some(ConversationAction::Ask(q)) => self.ask(q),
                        Some(ConversationAction::RunOnCpu(q)) => {
                            self.pending_question = Some((doc_index, q));
                            self.model_panel.device = DeviceChoice::Cpu;
                            self.load_model(self.model_source.clone(), DeviceChoice::Cpu);
                        }
                        Some(ConversationAction::Stop) => self.docs[doc_index].stop(),
                        Some(ConversationAction::Select(s)) => self.selection = Some(s),
                        None => {}
                    }
                });
        }
        if self.show_probe_panel {
            egui::Panel::bottom("probe panel")
                .resizable(true)
                .default_size(380.0)
                .show(ui, |ui| {
                    ui.heading("Probe");
                    let can_run = self.can_ask_about_images();
                    if let Some(action) = self.probe_panel.ui(ui, can_run) {
                        self.probe_action(action);
                    }
                });
        }
        egui::CentralPanel::default().show(ui, |ui| self.image_area(ui));

        if ctx.input(|i| !i.raw.hovered_files.is_empty()) {
            let painter = ctx.layer_painter(egui::LayerId::new(
                egui::Order::Foreground,
                egui::Id::unique("drop hint"),
            ));
            let rect = ctx.content_rect();
            painter.rect_filled(rect, 0.0, Color32::from_black_alpha(160));
            painter.text(
                rect.center(),
                egui::Align2::CENTER_CENTER,
                "Drop an image (or a GGUF model) to open it",
                egui::FontId::proportional(22.0),
                Color32::WHITE,
            );
        }
    }

    /// Why questions about images cannot be asked now, if they cannot.
    fn can_ask_about_images(&self) -> Result<(), &'static str> {
        match (&self.model, &self.loading) {
            (_, Some(_)) => Err("A model is loading"),
            (None, None) => Err("No model is loaded"),
            (Some(m), None) if !m.has_vision => {
                Err("This model is a text-only LLM: load a GVT model to ask about images")
            }
            (Some(_), None) => Ok(()),
        }
    }

    /// What the Probe panel asked for.
    fn probe_action(&mut self, action: ProbeAction) {
        match action {
            ProbeAction::Run(spec) => {
                let (id, cancel) = (self.next_request, CancelFlag::default());
                self.next_request += 1;
                let models: Vec<String> = self
                    .model
                    .iter()
                    .chain(self.second.as_ref())
                    .map(|m| m.name.clone())
                    .collect();
                self.worker.send(Request::Probe {
                    id,
                    spec: spec.clone(),
                    models: models.len(),
                    cancel: cancel.clone(),
                });
                self.probe_panel.start(id, spec, models, cancel);
            }
            ProbeAction::Stop => {
                if let Some(run) = &self.probe_panel.run {
                    run.cancel.cancel();
                }
            }
            ProbeAction::OpenLevel(level) => self.open_probe_level(level),
            ProbeAction::ExportPlot(rect) => {
                if let Some(run) = &self.probe_panel.run {
                    let name = format!("{}-probe.png", run.spec.sweep);
                    self.platform.save_region("Export the plot", rect, name);
                }
            }
            ProbeAction::ExportCsv | ProbeAction::ExportJson => {
                let Some(run) = &self.probe_panel.run else {
                    return;
                };
                let report = run.report().clone();
                let csv = matches!(action, ProbeAction::ExportCsv);
                let (kind, name) = if csv {
                    (("CSV table", "csv"), "probe.csv")
                } else {
                    (("JSON", "json"), "probe.json")
                };
                let file = format!("{}-{name}", report.spec.sweep);
                self.platform.save("Export the probe", kind, file, move || {
                    if csv {
                        report
                            .to_csv()
                            .map(String::into_bytes)
                            .map_err(|e| e.to_string())
                    } else {
                        Ok(report.to_json().into_bytes())
                    }
                });
            }
        }
    }

    /// Opens up to [`OPEN_PER_LEVEL`] scenes of a probe level, wrong answers first, and asks
    /// each its question again so that its answer and map show; the first is shown.
    fn open_probe_level(&mut self, level: u32) {
        let Some(side) = self.model.as_ref().and_then(|m| m.image_size) else {
            return;
        };
        let Some(run) = &self.probe_panel.run else {
            return;
        };
        // The first model's answers: a second model's are about the same scenes.
        let mut answers: Vec<&gvt_probe::Answer> = run
            .answers
            .iter()
            .filter(|a| a.level == level && a.model == 0)
            .collect();
        answers.sort_by_key(|a| (a.correct, a.index));
        let trials: Vec<_> = answers
            .iter()
            .take(OPEN_PER_LEVEL)
            .map(|a| run.spec.trial(level, a.index))
            .collect();
        let sweep = run.spec.sweep;
        let mut first = None;
        for trial in trials {
            let opened = trial
                .map_err(|e| gvt_core::Error::InvalidInput(e.to_string()))
                .and_then(|trial| {
                    let name = format!(
                        "{sweep} {}, scene {}",
                        sweep.level_label(level),
                        trial.index
                    );
                    Document::from_trial(name, &trial, side as u32).map(|doc| (doc, trial))
                });
            match opened {
                Ok((doc, trial)) => {
                    self.open(doc);
                    first.get_or_insert((self.current, self.next_request));
                    self.ask(trial.qa.question);
                }
                Err(e) => {
                    self.notice = Some(Notice::Error(e.to_string()));
                    return;
                }
            }
        }
        if let Some((doc, request)) = first {
            self.current = doc;
            self.select_when_answered = Some(request);
        }
    }

    /// Opens the scene of document `doc_index` with `edit` applied next to it, and asks it
    /// the original's last question, so that the two answers and maps can be compared.
    fn what_if(&mut self, doc_index: usize, edit: Edit) {
        let source = &self.docs[doc_index];
        let Some(scene) = &source.scene else {
            return;
        };
        let opened = scene
            .edited(&edit)
            .map_err(|e| gvt_core::Error::InvalidInput(e.to_string()))
            .and_then(|edited| {
                let name = format!("{}: {}", source.name, Described(&edit, scene));
                source.edited(doc_index, name, edited)
            });
        let question = source.turns.last().map(|t| t.question.clone());
        match opened {
            Ok(doc) => {
                self.open(doc);
                if let Some(question) = question
                    && self.can_ask_about_images().is_ok()
                {
                    self.select_when_answered = Some(self.next_request);
                    self.ask(question);
                }
            }
            Err(e) => self.notice = Some(Notice::Error(e.to_string())),
        }
    }

    /// What the model panel asked for.
    fn model_action(&mut self, action: ModelAction) {
        match action {
            ModelAction::PickFiles => self.platform.pick_model_files(),
            ModelAction::SwitchDevice(device) => self.load_model(self.model_source.clone(), device),
            ModelAction::LoadDefault => {
                self.load_model(ModelSource::Default, self.model_panel.device)
            }
            ModelAction::LoadUrl { name, url } => {
                let model = ModelFile::Url { name, url };
                self.load_model(
                    ModelSource::Files { model, llm: None },
                    self.model_panel.device,
                );
            }
            ModelAction::ClearStored => self.worker.send(Request::ClearStored),
            ModelAction::SecondDefault => self.load_second(ModelSource::Default),
            ModelAction::PickSecondFiles => {
                self.files_for_second = true;
                self.platform.pick_model_files();
            }
            ModelAction::UnloadSecond => {
                self.second = None;
                self.worker.send(Request::UnloadSecond);
            }
        }
    }

    fn toolbar(&mut self, ui: &mut Ui) {
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new("GVT Lens").strong());
            ui.separator();
            if shortcut_button(ui, "Open image…", "Open a PNG, JPEG, WebP or GIF", &OPEN) {
                self.platform.pick_image();
            }
            if shortcut_button(ui, "Paste", "Paste an image from the clipboard", &PASTE) {
                self.platform.paste();
            }
            if shortcut_button(
                ui,
                "New scene",
                "Generate a scene of shapes with a known ground truth",
                &NEW_SCENE,
            ) {
                self.new_scene();
            }
            if self.scene_request_field(ui) {
                self.new_scene();
            }
            ui.menu_button("Samples", |ui| {
                for sample in SAMPLES {
                    if ui.button(sample.name).clicked() {
                        match sample.open() {
                            Ok(doc) => self.open(doc),
                            Err(e) => self.notice = Some(Notice::Error(e.to_string())),
                        }
                        ui.close();
                    }
                }
            });
            ui.separator();
            let model_button = ui
                .selectable_label(self.show_model_panel, "Model")
                .on_hover_text(format!(
                    "What runs where; load another GGUF; GPU or CPU ({})",
                    ui.ctx().format_shortcut(&TOGGLE_MODEL)
                ));
            mark(&model_button, "Model");
            if model_button.clicked() {
                self.show_model_panel = !self.show_model_panel;
            }
            let probe_button = ui
                .selectable_label(self.show_probe_panel, "Probe")
                .on_hover_text("Sweep a property of generated scenes and plot the accuracy");
            mark(&probe_button, "Probe");
            if probe_button.clicked() {
                self.show_probe_panel = !self.show_probe_panel;
            }
            ui.separator();
            theme_choice(ui);
        });
    }

    /// The field that says what a new scene must contain; true when Enter was pressed in it.
    fn scene_request_field(&mut self, ui: &mut Ui) -> bool {
        let field = ui
            .add(
                egui::TextEdit::singleline(&mut self.scene_request)
                    .id_salt("scene request")
                    .hint_text("with… e.g. 3 red stars, no hearts")
                    .desired_width(220.0),
            )
            .on_hover_text(
                "What New scene must contain, separated by commas: \"exactly 3 red stars\", \
                 \"at least 2 circles\", \"no hearts\", \"6 to 9 objects\". Empty: any scene.",
            )
            .accessible_name("Scene must contain");
        mark(&field, "Scene must contain");
        field.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter))
    }

    /// What the status bar says about the model: loading with progress, or what runs where.
    pub fn model_status(&self) -> String {
        match (&self.loading, &self.model) {
            (Some(loading), _) => format!("{} {}", loading.describe(), loading.progress()),
            (None, Some(m)) => format!("{} · {}", m.name, m.device),
            (None, None) => "No model loaded".into(),
        }
    }

    /// The models kept in the store, as last listed.
    pub fn stored_models(&self) -> &[StoredModel] {
        &self.stored
    }

    /// The status bar's message (information or error), if any.
    pub fn notice(&self) -> Option<&str> {
        match &self.notice {
            Some(Notice::Info(text) | Notice::Error(text) | Notice::LoadFailed(text)) => Some(text),
            None => None,
        }
    }

    fn status_bar(&mut self, ui: &mut Ui) {
        ui.horizontal(|ui| {
            if self.loading.is_some() {
                ui.spinner();
            }
            ui.label(self.model_status());
            match &self.notice {
                Some(Notice::Error(e) | Notice::LoadFailed(e)) => {
                    ui.separator();
                    ui.colored_label(Color32::from_rgb(220, 80, 60), format!("Error: {e}"));
                }
                Some(Notice::Info(text)) => {
                    ui.separator();
                    ui.label(text);
                }
                None => {}
            }
        });
    }

    fn image_area(&mut self, ui: &mut Ui) {
        let Some(doc_index) = self.current else {
            ui.vertical_centered(|ui| {
                ui.add_space(ui.available_height() / 3.0);
                ui.heading("Drop an image here, paste one, open one, or generate a scene");
                ui.label("Then ask about it, and click any word of the answer to see where the model looked.");
                ui.add_space(12.0);
                if ui.button("Generate a scene").clicked() {
                    self.new_scene();
                }
            });
            return;
        };
        if self.docs.len() > 1 {
            ui.horizontal_wrapped(|ui| {
                ui.label(RichText::new("Images:").weak());
                for (i, doc) in self.docs.iter().enumerate() {
                    if ui.selectable_label(i == doc_index, &doc.name).clicked() {
                        self.current = Some(i);
                    }
                }
            });
        }
        // The view choice comes first: the overlay below follows it in the same frame.
        let doc = &self.docs[doc_index];
        if let Some(s) = self.selection.filter(|s| s.doc == doc_index)
            && let Some(record) = doc.turns.get(s.turn).and_then(|t| t.attention.as_ref())
        {
            let record_id = doc.turns[s.turn].id;
            self.attention_panel
                .ui(ui, record, record_id, &doc.display, &self.image_panel.style);
        } else if doc.turns.iter().any(|t| t.attention.is_some()) {
            ui.label(
                RichText::new("Click a word of an answer to see where the model looked for it.")
                    .weak(),
            );
        }
        let parts = self.overlay_parts(doc_index);
        let overlay = parts.as_ref().map(|(map, caption, key)| Overlay {
            map,
            caption: caption.clone(),
            key: *key,
        });
        if let Some(ImageAction::Export { name, render }) =
            self.image_panel.controls(ui, doc, overlay.as_ref())
        {
            self.platform.save_overlay(name, render);
        }
        let edit = doc.scene.as_ref().and_then(|scene| {
            egui::CollapsingHeader::new("What if…")
                .show(ui, |ui| self.what_if_panel.ui(ui, scene))
                .body_returned
                .flatten()
        });
        if let Some(edit) = edit {
            self.what_if(doc_index, edit);
            return;
        }
        // Two answers to compare: the second model's beside the first's, or an edited
        // scene's beside its original's.
        let models = doc
            .turns
            .iter()
            .rev()
            .find(|t| t.both().all(|t| t.attention.is_some()) && t.second.is_some())
            .and_then(|t| {
                let b = t.second.as_deref()?;
                let side = |turn, name, who| Side {
                    display: &doc.display,
                    turn,
                    name,
                    who,
                };
                Some((
                    side(t, "First model's overlay", "First model"),
                    side(b, "Second model's overlay", "Second model"),
                ))
            });
        let edit = || {
            let original = self.docs.get(doc.edited_from?)?;
            Some((
                Side::last_of(original, "Overlay before the edit", "Before")?,
                Side::last_of(doc, "Overlay after the edit", "After")?,
            ))
        };
        if let Some((a, b)) = models.or_else(edit)
            && self.compare_panel.ui(ui, a, b, &self.image_panel.style)
        {
            ui.separator();
        }
        ui.add_space(4.0);
        self.image_panel.image(ui, doc_index, doc, overlay.as_ref());
    }
}

impl eframe::App for GvtApp {
    fn ui(&mut self, ui: &mut Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }
}

/// One GVT GGUF, or a vision GGUF and an LLM GGUF, as a model source.
fn model_source(mut files: Vec<ModelFile>) -> Result<ModelSource, &'static str> {
    if files.is_empty() || files.len() > 2 {
        return Err("choose one GVT GGUF, or a vision GGUF and an LLM GGUF");
    }
    let llm = (files.len() == 2).then(|| files.remove(1));
    let model = files.remove(0);
    Ok(ModelSource::Files { model, llm })
}

/// A button whose tooltip says what it does and its keyboard shortcut; true when clicked.
fn shortcut_button(ui: &mut Ui, label: &str, what: &str, shortcut: &KeyboardShortcut) -> bool {
    let tip = format!("{what} ({})", ui.ctx().format_shortcut(shortcut));
    let response = ui.button(label).on_hover_text(tip);
    mark(&response, label);
    response.clicked()
}

/// A control's accessible label and where it is on screen, in points.
#[derive(Debug, Clone, PartialEq)]
pub struct Landmark {
    pub label: String,
    pub rect: egui::Rect,
    /// Whether it has the keyboard focus.
    pub focused: bool,
}

fn landmarks_id() -> egui::Id {
    egui::Id::unique("gvt-lens landmarks")
}

/// Notes where a main control is this frame, under its accessible label. eframe's web runner
/// does not hand egui's accessibility tree to the page, so the browser build publishes these
/// for assistive tools and automation instead.
pub(crate) fn mark(response: &egui::Response, label: &str) {
    let landmark = Landmark {
        label: label.to_string(),
        rect: response.rect,
        focused: response.has_focus(),
    };
    response.ctx.data_mut(|d| {
        d.get_temp_mut_or_default::<Vec<Landmark>>(landmarks_id())
            .push(landmark)
    });
}

/// The main controls drawn in the latest frame, in drawing order.
pub fn landmarks(ctx: &egui::Context) -> Vec<Landmark> {
    ctx.data(|d| d.get_temp(landmarks_id()).unwrap_or_default())
}

/// Dark, light, or whatever the system uses.
fn theme_choice(ui: &mut Ui) {
    let mut preference = ui.ctx().options(|o| o.theme_preference);
    let before = preference;
    for (choice, label) in [
        (egui::ThemePreference::Dark, "Dark"),
        (egui::ThemePreference::Light, "Light"),
        (egui::ThemePreference::System, "System theme"),
    ] {
        ui.selectable_value(&mut preference, choice, label);
    }
    if preference != before {
        ui.ctx().set_theme(preference);
    }
}

/// New scenes differ between sessions but follow each other within one.
fn first_scene_seed() -> u64 {
    web_time::SystemTime::now()
        .duration_since(web_time::UNIX_EPOCH)
        .map_or(1, |d| d.as_millis() as u64)
}
