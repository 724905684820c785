//! Inference off the UI thread. The UI sends [`Request`]s and polls [`Reply`]s once per
//! frame; the [`Engine`] that owns the model answers them one at a time.
//!
//! The seam is the only platform-specific part: natively the engine lives on its own thread
//! and blocks on the async generation with `pollster`; in the browser it is a task on the
//! page's event loop (`spawn_local`), where every GPU read is awaited. Either way the UI
//! never waits for the model.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, channel};

use image::DynamicImage;
use web_time::Instant;

use crate::default_model;
use crate::device::{self, DeviceChoice};
use crate::generate::{CancelFlag, GenerateOptions, Generation, Sampling};
use crate::gguf::GgufFile;
use crate::pipeline::Pipeline;
use crate::{Error, Result};

/// A metadata key only GVT files with a vision tower have.
const VISION_KEY: &str = "gvt.vision.image_size";

/// Longest answer the app asks for.
const MAX_ANSWER_TOKENS: usize = 96;

/// One GGUF file to load: a path natively, a URL in the browser, bytes from a picker or a
/// drop anywhere.
#[derive(Debug, Clone)]
pub enum ModelFile {
    /// Natively only: browsers give no paths.
    #[cfg(not(target_arch = "wasm32"))]
    Path(std::path::PathBuf),
    /// In the browser: downloaded once, then read from the page's model store.
    #[cfg(target_arch = "wasm32")]
    Url {
        name: String,
        url: String,
    },
    Bytes {
        name: String,
        bytes: Arc<Vec<u8>>,
    },
}

impl ModelFile {
    pub fn name(&self) -> String {
        match self {
            #[cfg(not(target_arch = "wasm32"))]
            ModelFile::Path(path) => path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into(),
            ),
            #[cfg(target_arch = "wasm32")]
            ModelFile::Url { name, .. } => name.clone(),
            ModelFile::Bytes { name, .. } => name.clone(),
        }
    }

    /// Reads and parses the file; downloads report `(done, total)` bytes.
    async fn open(&self, _on_download: &mut dyn FnMut(u64, u64)) -> Result<GgufFile> {
        match self {
            #[cfg(not(target_arch = "wasm32"))]
            ModelFile::Path(path) => Ok(GgufFile::open(path)?),
            #[cfg(target_arch = "wasm32")]
            ModelFile::Url { url, .. } => {
                let bytes = super::web::store::fetch(url, _on_download)
                    .await
                    .map_err(Error::Download)?;
                let parsed = GgufFile::from_bytes(bytes);
                if parsed.is_err() {
                    // Not a usable GGUF: do not serve it from the store again.
                    super::web::store::forget(url).await;
                }
                Ok(parsed?)
            }
            ModelFile::Bytes { bytes, .. } => Ok(GgufFile::from_bytes(bytes.to_vec())?),
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
                    bytes: Arc::new(default_model::BYTES.to_vec()),
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
    /// Answer `question` about `image`, streaming tokens and recording attention.
    Ask {
        id: u64,
        image: Arc<DynamicImage>,
        question: String,
        cancel: CancelFlag,
    },
    /// Empty the browser's model store.
    #[cfg(target_arch = "wasm32")]
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
    /// The models kept in the browser's store (after a load, a listing or a clear).
    #[cfg(target_arch = "wasm32")]
    Stored(Vec<super::web::store::StoredModel>),
}

/// Owns the model and serves requests in order.
#[derive(Default)]
pub struct Engine {
    pipeline: Option<Pipeline>,
}

impl Engine {
    pub async fn handle(&mut self, request: Request, emit: &dyn Fn(Reply)) {
        match request {
            Request::Load { source, device } => {
                let outcome = self.load(&source, device, emit).await;
                #[cfg(target_arch = "wasm32")]
                let loaded = outcome.is_ok();
                emit(match outcome {
                    Ok(summary) => Reply::Loaded(Box::new(summary)),
                    Err(e) => Reply::LoadFailed(e.to_string()),
                });
                #[cfg(target_arch = "wasm32")]
                emit(Reply::Stored(
                    super::web::store::after_load(&source, loaded).await,
                ));
            }
            Request::Ask {
                id,
                image,
                question,
                cancel,
            } => match self.ask(id, &image, &question, &cancel, emit).await {
                Ok(generation) => emit(Reply::Answered {
                    id,
                    generation: Box::new(generation),
                }),
                Err(e) => emit(Reply::AskFailed {
                    id,
                    error: e.to_string(),
                }),
            },
            #[cfg(target_arch = "wasm32")]
            Request::ClearStored => {
                super::web::store::clear().await;
                emit(Reply::Stored(super::web::store::list().await));
            }
        }
    }

    async fn load(
        &mut self,
        source: &ModelSource,
        choice: DeviceChoice,
        emit: &dyn Fn(Reply),
    ) -> Result<ModelSummary> {
        let started = Instant::now();
        let mut downloaded = |done, total| {
            emit(Reply::Loading {
                stage: LoadStage::Download,
                done,
                total,
            })
        };
        let (model, llm) = source.files();
        let model = model.open(&mut downloaded).await?;
        let llm = match llm {
            Some(llm) => Some(llm.open(&mut downloaded).await?),
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
            is_gpu: pipeline.device.is_gpu,
            fallback_reason,
            has_vision: pipeline.has_vision(),
            image_size: pipeline.config.vision.as_ref().map(|v| v.image_size),
            load_ms: started.elapsed().as_secs_f64() * 1000.0,
        };
        self.pipeline = Some(pipeline);
        Ok(summary)
    }

    async fn ask(
        &mut self,
        id: u64,
        image: &DynamicImage,
        question: &str,
        cancel: &CancelFlag,
        emit: &dyn Fn(Reply),
    ) -> Result<Generation> {
        let pipeline = self
            .pipeline
            .as_ref()
            .ok_or_else(|| Error::InvalidInput("no model is loaded yet".into()))?;
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

#[cfg(not(target_arch = "wasm32"))]
async fn select_device(choice: DeviceChoice) -> Result<crate::device::ComputeDevice> {
    device::select(choice)
}

#[cfg(target_arch = "wasm32")]
async fn select_device(choice: DeviceChoice) -> Result<crate::device::ComputeDevice> {
    device::select_async(choice).await
}

/// The UI's handle on the engine.
pub struct Worker {
    requests: RequestSink,
    replies: Receiver<Reply>,
}

impl Worker {
    /// Starts the engine; `wake` is called after every reply (to repaint the UI).
    pub fn spawn(wake: impl Fn() + Send + 'static) -> Self {
        let (reply_tx, replies) = channel();
        let emit = move |reply: Reply| {
            // The UI may have gone away; then nobody needs the reply.
            let _ = reply_tx.send(reply);
            wake();
        };
        Self {
            requests: RequestSink::start(emit),
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

/// Natively: a thread that owns the engine.
#[cfg(not(target_arch = "wasm32"))]
struct RequestSink(std::sync::mpsc::Sender<Request>);

#[cfg(not(target_arch = "wasm32"))]
impl RequestSink {
    fn start(emit: impl Fn(Reply) + Send + 'static) -> Self {
        let (tx, rx) = channel::<Request>();
        std::thread::Builder::new()
            .name("gvt-engine".into())
            .spawn(move || {
                let mut engine = Engine::default();
                for request in rx {
                    let failure = failure_reply(&request);
                    // A driver panic (lost device, a buffer over the adapter's limit) must not
                    // take the engine down: report it and keep serving.
                    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        pollster::block_on(engine.handle(request, &emit))
                    }));
                    if let Err(panic) = outcome {
                        emit(failure(panic_message(&*panic)));
                    }
                }
            })
            .expect("the OS refused to start the inference thread");
        Self(tx)
    }

    fn send(&self, request: Request) {
        // The engine thread only ends when the UI drops its sender.
        let _ = self.0.send(request);
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn failure_reply(request: &Request) -> impl FnOnce(String) -> Reply + use<> {
    let id = match request {
        Request::Ask { id, .. } => Some(*id),
        _ => None,
    };
    move |why: String| {
        let error = format!(
            "the compute device failed ({why}); switch the device in the model panel and try again"
        );
        match id {
            Some(id) => Reply::AskFailed { id, error },
            None => Reply::LoadFailed(error),
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown error".into())
}

/// In the browser: a queue drained by one task on the page's event loop.
#[cfg(target_arch = "wasm32")]
struct RequestSink {
    queue: std::rc::Rc<std::cell::RefCell<std::collections::VecDeque<Request>>>,
    engine: std::rc::Rc<std::cell::RefCell<Option<Engine>>>,
    emit: std::rc::Rc<dyn Fn(Reply)>,
}

#[cfg(target_arch = "wasm32")]
impl RequestSink {
    fn start(emit: impl Fn(Reply) + 'static) -> Self {
        Self {
            queue: Default::default(),
            engine: std::rc::Rc::new(std::cell::RefCell::new(Some(Engine::default()))),
            emit: std::rc::Rc::new(emit),
        }
    }

    fn send(&self, request: Request) {
        self.queue.borrow_mut().push_back(request);
        // The engine is taken out while a task runs; that task drains the queue itself.
        let Some(mut engine) = self.engine.borrow_mut().take() else {
            return;
        };
        let (queue, slot, emit) = (self.queue.clone(), self.engine.clone(), self.emit.clone());
        wasm_bindgen_futures::spawn_local(async move {
            loop {
                let next = queue.borrow_mut().pop_front();
                let Some(request) = next else { break };
                engine.handle(request, &*emit).await;
            }
            *slot.borrow_mut() = Some(engine);
        });
    }
}
