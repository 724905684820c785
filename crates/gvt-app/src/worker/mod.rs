//! Inference off the UI thread. The UI sends [`Request`]s and polls [`Reply`]s once per
//! frame; the [`Engine`] that owns the model answers them one at a time.
//!
//! The seam is the only platform-specific part: natively the engine lives on its own thread
//! and blocks on the async generation with `pollster`; in the browser it is a task on the
//! page's event loop (`spawn_local`), where every GPU read is awaited. Either way the UI
//! never waits for the model. Downloads and the kept models go through the [`ModelStore`]
//! the engine is given.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, channel};

use image::DynamicImage;
use web_time::Instant;

use gvt_core::default_model;
use gvt_core::device::DeviceChoice;
use gvt_core::generate::{CancelFlag, GenerateOptions, Generation, Sampling};
use gvt_core::gguf::{GgufBytes, GgufFile};
use gvt_core::pipeline::Pipeline;
use gvt_core::{Error, Result};

use gvt_probe::{Answer, ProbeError, ProbeSpec, run};

use crate::store::{ModelStore, StoredModel};

// The only platform-specific part: how the engine runs and how a device is picked.
#[cfg_attr(target_arch = "wasm32", path = "browser.rs")]
#[cfg_attr(not(target_arch = "wasm32"), path = "native.rs")]
mod seam;
use seam::{RequestSink, select_device, yield_to_page};

/// A metadata key only GVT files with a vision tower have.
const VISION_KEY: &str = "gvt.vision.image_size";

/// Longest answer the app asks for.
const MAX_ANSWER_TOKENS: usize = 96;

/// One GGUF file to load: a path (natively; browsers give none), a URL (downloaded by the
/// store, in the browser), bytes from a picker or a drop.
#[derive(Debug, Clone)]
pub enum ModelFile {
    Path(std::path::PathBuf),
    Url { name: String, url: String },
    Bytes { name: String, bytes: GgufBytes },
}

impl ModelFile {
    pub fn name(&self) -> String {
        match self {
            ModelFile::Path(path) => path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into(),
            ),
            ModelFile::Url { name, .. } | ModelFile::Bytes { name, .. } => name.clone(),
        }
    }

    /// Reads and parses the file; downloads report `(done, total)` bytes.
    async fn open(
        &self,
        store: &dyn ModelStore,
        on_download: &mut dyn FnMut(u64, u64),
    ) -> Result<GgufFile> {
        match self {
            ModelFile::Path(path) => Ok(GgufFile::open(path)?),
            ModelFile::Url { url, .. } => {
                let bytes = store
                    .fetch(url, on_download)
                    .await
                    .map_err(Error::Download)?;
                let parsed = GgufFile::from_bytes(bytes);
                if parsed.is_err() {
                    // Not a usable GGUF: do not serve it from the store again.
                    store.forget(url).await;
                }
                Ok(parsed?)
            }
            ModelFile::Bytes { bytes, .. } => Ok(GgufFile::from_bytes(bytes.clone())?),
        }
    }
}

/// Which weights to run.
#[derive(Debug, Clone)]
pub enum ModelSource {
    /// The embedded `assets/gvt-tiny.gguf`.
    Default,
    /// A GVT GGUF, or a vision GGUF plus a LLaMA-family LLM GGUF.
    Files {
        model: ModelFile,
        llm: Option<ModelFile>,
    },
}

impl ModelSource {
    /// The files to read: the embedded model natively; in the browser it is served next to
    /// the page, so it downloads with a progress bar and stays out of the `.wasm`.
    pub(crate) fn files(&self) -> (ModelFile, Option<ModelFile>) {
        match self {
            #[cfg(target_arch = "wasm32")]
            ModelSource::Default => (
                ModelFile::Url {
                    name: default_model::NAME.into(),
                    url: default_model::url(),
                },
                None,
            ),
            #[cfg(not(target_arch = "wasm32"))]
            ModelSource::Default => (
                ModelFile::Bytes {
                    name: default_model::NAME.into(),
                    bytes: default_model::BYTES.into(),
                },
                None,
            ),
            ModelSource::Files { model, llm } => (model.clone(), llm.clone()),
        }
    }

    /// File names for people.
    pub fn describe(&self) -> String {
        match self {
            ModelSource::Default => default_model::NAME.to_string(),
            ModelSource::Files { model, llm: None } => model.name(),
            ModelSource::Files {
                model,
                llm: Some(llm),
            } => format!("{} + {}", model.name(), llm.name()),
        }
    }
}

/// What the UI asks for.
pub enum Request {
    /// Replace the model (or move it to another device). The old one answers until the new
    /// one is ready; a failed load keeps the old one.
    Load {
        source: ModelSource,
        device: DeviceChoice,
    },
    /// Load a second model to compare with the first (replacing any second one).
    LoadSecond {
        source: ModelSource,
        device: DeviceChoice,
    },
    /// Drop the second model.
    UnloadSecond,
    /// Answer `question` about `image` with model `model` (0, or 1 for the second),
    /// streaming tokens and recording attention.
    Ask {
        id: u64,
        model: usize,
        image: Arc<DynamicImage>,
        question: String,
        cancel: CancelFlag,
    },
    /// Run a probe on the first `models` models (1, or 2 with a second one loaded): every
    /// scene of every level, in order, one [`Reply::ProbeAnswer`] per question and model,
    /// then [`Reply::ProbeFinished`].
    Probe {
        id: u64,
        spec: ProbeSpec,
        models: usize,
        cancel: CancelFlag,
    },
    /// Empty the model store.
    ClearStored,
}

/// A loaded model, for the model panel.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSummary {
    pub name: String,
    /// File name(s).
    pub source: String,
    pub architecture: String,
    pub parameters: u64,
    pub file_bytes: u64,
    /// Tensor formats, e.g. "Q8_0 x 65, F32 x 91".
    pub formats: String,
    /// Adapter name and API, or the CPU backend.
    pub device: String,
    /// What computes: burn, or the GPU engine and its kernel variant.
    pub kernels: String,
    pub is_gpu: bool,
    /// Why the GPU was not used, when the choice was "auto".
    pub fallback_reason: Option<String>,
    pub has_vision: bool,
    /// Side of the square images the vision tower takes.
    pub image_size: Option<usize>,
    pub load_ms: f64,
}

/// Where a load is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadStage {
    /// Bytes of the file downloaded (the browser).
    Download,
    /// Bytes of tensors on the device.
    Upload,
}

/// What the engine reports.
pub enum Reply {
    Loading {
        stage: LoadStage,
        done: u64,
        total: u64,
    },
    Loaded(Box<ModelSummary>),
    LoadFailed(String),
    SecondLoaded(Box<ModelSummary>),
    SecondFailed(String),
    /// A streamed piece of answer `id`.
    Token {
        id: u64,
        text: String,
    },
    Answered {
        id: u64,
        generation: Box<Generation>,
    },
    AskFailed {
        id: u64,
        error: String,
    },
    /// One answered question of probe `id`.
    ProbeAnswer {
        id: u64,
        answer: Box<Answer>,
    },
    /// Probe `id` ended: all asked, stopped, or failed with `error`.
    ProbeFinished {
        id: u64,
        error: Option<String>,
    },
    /// The models kept in the store (after a load or a clear).
    Stored(Vec<StoredModel>),
}

/// Owns the models and serves requests in order.
pub struct Engine {
    pipeline: Option<Pipeline>,
    /// A second model to compare with.
    second: Option<Pipeline>,
    store: Arc<dyn ModelStore>,
}

impl Engine {
    pub fn new(store: Arc<dyn ModelStore>) -> Self {
        Self {
            pipeline: None,
            second: None,
            store,
        }
    }

    /// Model `model`: 0 the first, 1 the second.
    fn pipeline(&self, model: usize) -> Result<&Pipeline> {
        let (slot, what) = match model {
            0 => (&self.pipeline, "no model is loaded yet"),
            _ => (&self.second, "no second model is loaded"),
        };
        slot.as_ref()
            .ok_or_else(|| Error::InvalidInput(what.into()))
    }

    pub async fn handle(&mut self, request: Request, emit: &dyn Fn(Reply)) {
        match request {
            Request::Load { source, device } => {
                let outcome = self.load(&source, device, emit).await;
                let loaded = outcome.is_ok();
                emit(match outcome {
                    Ok((summary, pipeline)) => {
                        self.pipeline = Some(pipeline);
                        Reply::Loaded(Box::new(summary))
                    }
                    Err(e) => Reply::LoadFailed(e.to_string()),
                });
                if loaded {
                    // Keep the picked files of a model that worked, so it loads again later.
                    let (model, llm) = source.files();
                    for file in std::iter::once(model).chain(llm) {
                        if let ModelFile::Bytes { name, bytes } = file {
                            self.store.keep(&name, &bytes).await;
                        }
                    }
                }
                emit(Reply::Stored(self.store.list().await));
            }
            Request::LoadSecond { source, device } => {
                emit(match self.load(&source, device, emit).await {
                    Ok((summary, pipeline)) => {
                        self.second = Some(pipeline);
                        Reply::SecondLoaded(Box::new(summary))
                    }
                    Err(e) => Reply::SecondFailed(e.to_string()),
                });
            }
            Request::UnloadSecond => self.second = None,
            Request::Ask {
                id,
                model,
                image,
                question,
                cancel,
            } => match self.ask(id, model, &image, &question, &cancel, emit).await {
                Ok(generation) => emit(Reply::Answered {
                    id,
                    generation: Box::new(generation),
                }),
                Err(e) => emit(Reply::AskFailed {
                    id,
                    error: e.to_string(),
                }),
            },
            Request::Probe {
                id,
                spec,
                models,
                cancel,
            } => {
                let outcome = self.probe(id, &spec, models, &cancel, emit).await;
                emit(Reply::ProbeFinished {
                    id,
                    error: outcome.err().map(|e| e.to_string()),
                });
            }
            Request::ClearStored => {
                self.store.clear().await;
                emit(Reply::Stored(self.store.list().await));
            }
        }
    }

    async fn load(
        &mut self,
        source: &ModelSource,
        choice: DeviceChoice,
        emit: &dyn Fn(Reply),
    ) -> Result<(ModelSummary, Pipeline)> {
        let started = Instant::now();
        let mut downloaded = |done, total| {
            emit(Reply::Loading {
                stage: LoadStage::Download,
                done,
                total,
            })
        };
        let (model, llm) = source.files();
        let store = &*self.store;
        let model = model.open(store, &mut downloaded).await?;
        let llm = match llm {
            Some(llm) => Some(llm.open(store, &mut downloaded).await?),
            None => None,
        };
        // Two files picked or dropped together come in no particular order: the one with
        // the vision tower is the model, the other the LLM.
        let has_vision = |f: &GgufFile| f.metadata.get(VISION_KEY).is_some();
        let (model, llm) = match llm {
            Some(llm) if !has_vision(&model) && has_vision(&llm) => (llm, Some(model)),
            llm => (model, llm),
        };
        let compute = select_device(choice).await?;
        let fallback_reason = compute.fallback_reason.clone();
        let pipeline = Pipeline::load(&model, llm.as_ref(), compute, &mut |done, total| {
            emit(Reply::Loading {
                stage: LoadStage::Upload,
                done,
                total,
            })
        })?;
        let parameters = std::iter::once(&model)
            .chain(llm.as_ref())
            .flat_map(|f| f.tensors.iter())
            .map(|t| t.n_elements() as u64)
            .sum();
        let summary = ModelSummary {
            name: pipeline.info.name.clone(),
            source: source.describe(),
            architecture: pipeline.config.summary(),
            parameters,
            file_bytes: pipeline.info.file_bytes,
            formats: pipeline.info.formats.clone(),
            device: pipeline.device.name.clone(),
            kernels: pipeline.info.kernels.clone(),
            is_gpu: pipeline.device.is_gpu,
            fallback_reason,
            has_vision: pipeline.has_vision(),
            image_size: pipeline.config.vision.as_ref().map(|v| v.image_size),
            load_ms: started.elapsed().as_secs_f64() * 1000.0,
        };
        Ok((summary, pipeline))
    }

    async fn ask(
        &mut self,
        id: u64,
        model: usize,
        image: &DynamicImage,
        question: &str,
        cancel: &CancelFlag,
        emit: &dyn Fn(Reply),
    ) -> Result<Generation> {
        let pipeline = self.pipeline(model)?;
        let options = GenerateOptions {
            max_new_tokens: MAX_ANSWER_TOKENS,
            sampling: Sampling::Greedy,
            capture_attention: true,
        };
        pipeline
            .ask(Some(image), question, &options, cancel, &mut |token| {
                if !token.text.is_empty() {
                    emit(Reply::Token {
                        id,
                        text: token.text.to_string(),
                    });
                }
            })
            .await
    }
}

impl Engine {
    /// Asks every trial of `spec` in order until done or cancelled.
    async fn probe(
        &self,
        id: u64,
        spec: &ProbeSpec,
        models: usize,
        cancel: &CancelFlag,
        emit: &dyn Fn(Reply),
    ) -> std::result::Result<(), ProbeError> {
        let pipelines = (0..models)
            .map(|m| self.pipeline(m))
            .collect::<Result<Vec<_>>>()?;
        spec.validate()?;
        for &level in &spec.levels {
            for index in 0..spec.per_level {
                let trial = spec.trial(level, index)?;
                for (m, pipeline) in pipelines.iter().enumerate() {
                    if cancel.is_cancelled() {
                        return Ok(());
                    }
                    let asked = run::ask(pipeline, &trial, m, cancel).await?;
                    if cancel.is_cancelled() {
                        // The answer was cut short: it is not a measurement.
                        return Ok(());
                    }
                    emit(Reply::ProbeAnswer {
                        id,
                        answer: Box::new(asked.answer),
                    });
                    yield_to_page().await;
                }
            }
        }
        Ok(())
    }
}

/// The UI's handle on the engine.
pub struct Worker {
    requests: RequestSink,
    replies: Receiver<Reply>,
}

impl Worker {
    /// Starts the engine with `store`; `wake` is called after every reply (to repaint the UI).
    pub fn spawn(store: Arc<dyn ModelStore>, wake: impl Fn() + Send + 'static) -> Self {
        let (reply_tx, replies) = channel();
        let emit = move |reply: Reply| {
            // The UI may have gone away; then nobody needs the reply.
            let _ = reply_tx.send(reply);
            wake();
        };
        Self {
            requests: RequestSink::start(Engine::new(store), emit),
            replies,
        }
    }

    pub fn send(&self, request: Request) {
        self.requests.send(request);
    }

    /// Replies that arrived since the last call.
    pub fn poll(&self) -> Vec<Reply> {
        self.replies.try_iter().collect()
    }
}
