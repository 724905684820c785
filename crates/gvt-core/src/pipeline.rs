//! The whole path from files to answers, as one object the CLI and the app hold: load a model
//! (one GGUF, or a vision GGUF plus an LLM GGUF), then ask questions about images.

use image::DynamicImage;

use crate::device::ComputeDevice;
use crate::engine::{
    self, CpuEngineLlm, CpuEngineVisual, CpuModel, EngineLlm, EngineModel, EngineVisual,
};
use crate::generate::{
    self, CancelFlag, GenerateOptions, Generation, ModelRef, Prompt, TokenEvent,
};
use crate::gguf::GgufFile;
use crate::model::{Gvt, GvtConfig, MemoryEstimate};
use crate::preprocess::Preprocessor;
use crate::printable::one_line;
use crate::tokenizer::Tokenizer;
use crate::{Error, Result};

/// Marks where the visual tokens go in the templated prompt text (a private-use character;
/// the question is put in after rendering, so what a user types never collides with it).
pub const IMAGE_SLOT: &str = "\u{E000}";
/// Longest question accepted: more than any context holds, little for the tokenizer.
pub const MAX_QUESTION_BYTES: usize = 32 << 10;

/// Marks where the question goes in the templated prompt text.
const QUESTION_SLOT: &str = "\u{E001}";

/// A chat-templated prompt, with the question's bytes in `after` marked so that they are
/// encoded as plain text ([`Tokenizer::encode_with_literal`]).
#[derive(Debug, Clone, PartialEq)]
pub struct PromptText {
    /// Text before the visual tokens (all of it for a text-only prompt).
    pub before: String,
    /// Text after the visual tokens (empty for a text-only prompt).
    pub after: String,
    /// Where the question is in `after`, or in `before` for a text-only prompt.
    pub question: std::ops::Range<usize>,
}

impl PromptText {
    /// `question` in the chat template, split where the visual tokens go when `image`:
    /// `<Img>` + visual tokens + `</Img>` + question, as GVT builds it. Training builds its
    /// conversations with this too, so the model learns exactly the prompt it is asked with.
    pub fn new(tokenizer: &Tokenizer, question: &str, image: bool) -> Result<Self> {
        let content = if image {
            format!("<Img>{IMAGE_SLOT}</Img>{QUESTION_SLOT}")
        } else {
            QUESTION_SLOT.to_string()
        };
        let text = tokenizer.chat_prompt(&content);
        let (before, after) = if image {
            let (before, after) = text.split_once(IMAGE_SLOT).ok_or_else(|| {
                Error::UnsupportedModel("the chat template dropped the image".into())
            })?;
            (before.to_string(), after)
        } else {
            (String::new(), text.as_str())
        };
        let (head, tail) = after.split_once(QUESTION_SLOT).ok_or_else(|| {
            Error::UnsupportedModel("the chat template dropped the question".into())
        })?;
        let question_range = head.len()..head.len() + question.len();
        let with_question = format!("{head}{question}{tail}");
        Ok(if image {
            Self {
                before,
                after: with_question,
                question: question_range,
            }
        } else {
            Self {
                before: with_question,
                after: String::new(),
                question: question_range,
            }
        })
    }
}

/// What is loaded, for people.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    pub name: String,
    /// Bytes of the GGUF file(s).
    pub file_bytes: u64,
    /// Tensor formats in the file(s), e.g. "F32 x 40, Q8_0 x 100".
    pub formats: String,
    /// What computes: burn on the CPU, or the GPU engine and its kernel variant.
    pub kernels: String,
}

/// The weights, where they run.
#[expect(clippy::large_enum_variant, reason = "one per loaded model")]
pub enum LoadedModel {
    /// Everything on burn (the CPU path).
    Burn(Gvt),
    /// On a GPU: the whole model on the engine, the blocks as stored.
    Engine(EngineModel),
    /// On the CPU: the whole model on the CPU engine, the blocks as stored.
    Cpu(CpuModel),
}

impl LoadedModel {
    pub fn as_ref(&self) -> ModelRef<'_> {
        match self {
            Self::Burn(m) => ModelRef::Burn(m),
            Self::Engine(m) => ModelRef::Engine(m),
            Self::Cpu(m) => ModelRef::Cpu(m),
        }
    }

    /// The burn model, when everything runs on burn.
    pub fn burn(&self) -> Option<&Gvt> {
        match self {
            Self::Burn(m) => Some(m),
            Self::Engine(_) | Self::Cpu(_) => None,
        }
    }
}

/// A loaded model, ready to answer.
pub struct Pipeline {
    pub model: LoadedModel,
    pub config: GvtConfig,
    pub tokenizer: Tokenizer,
    pub device: ComputeDevice,
    pub info: ModelInfo,
    preprocessor: Option<Preprocessor>,
}

impl Pipeline {
    /// Loads from parsed GGUF files. `on_progress(done, total)` reports bytes of tensors.
    pub fn load(
        model: &GgufFile,
        llm: Option<&GgufFile>,
        device: ComputeDevice,
        on_progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Self> {
        let files: Vec<&GgufFile> = std::iter::once(model).chain(llm).collect();
        let total: u64 = files
            .iter()
            .flat_map(|f| f.tensors.iter())
            .map(|t| t.n_bytes() as u64)
            .sum();
        let mut done = 0u64;
        let mut progress = |bytes: u64| {
            done += bytes;
            on_progress(done, total);
        };
        let tokenizer = Tokenizer::from_metadata(&llm.unwrap_or(model).metadata)?;
        // Everything that can be checked before the weights are read is.
        let config = GvtConfig::from_gguf(model, llm.unwrap_or(model))?;
        config.check_tokenizer(tokenizer.vocab_size())?;
        let llm_file = llm.unwrap_or(model);
        let (gvt, kernels) = match (device.engine(), device.cpu_engine()) {
            (Some(gpu), _) => {
                MemoryEstimate::with_engine(&config, &files, &device.device, engine::MAX_CONTEXT)
                    .check(&device.memory, &device.name)?;
                // An allocation the driver refuses reaches wgpu's error handler, which panics.
                let (visual, llm) = device.guard_sync(|| {
                    let visual = engine::load_visual(gpu, model, &config, &mut progress)?;
                    let llm = engine::load_llm(gpu, llm_file, &config.llm, &mut progress)?;
                    Ok((visual.map(EngineVisual::new), EngineLlm::new(llm)))
                })?;
                let kernels = format!("GVT Lens GPU engine, {}", gpu.caps().variant());
                (LoadedModel::Engine(EngineModel { visual, llm }), kernels)
            }
            (None, Some(cpu)) => {
                MemoryEstimate::with_cpu_engine(&config, &files, &device.device)
                    .check(&device.memory, &device.name)?;
                let visual = engine::load_cpu_visual(cpu, model, &config, &mut progress)?;
                let llm = engine::load_cpu_llm(cpu, llm_file, &config.llm, &mut progress)?;
                let kernels = format!(
                    "GVT Lens CPU engine ({}), weights as stored",
                    cpu.describe()
                );
                let visual = visual.map(CpuEngineVisual::new);
                let llm = CpuEngineLlm::new(llm);
                (LoadedModel::Cpu(CpuModel { visual, llm }), kernels)
            }
            (None, None) => {
                MemoryEstimate::new(&config, &files, &device.device)
                    .check(&device.memory, &device.name)?;
                let gvt = device.guard_sync(|| {
                    Gvt::load_files(model, llm, &config, &device.device, &mut progress)
                })?;
                let kernels = if device.is_gpu {
                    "burn's wgpu kernels"
                } else {
                    "burn flex, weights dequantized to f32"
                };
                (LoadedModel::Burn(gvt), kernels.to_string())
            }
        };
        let preprocessor = config.vision.as_ref().map(Preprocessor::new);
        let info = ModelInfo {
            // Shown in terminals and the UI: the file's text is made inert.
            name: one_line(
                model
                    .metadata
                    .opt_str("general.name")?
                    .unwrap_or("unnamed model"),
            )
            .into_owned(),
            file_bytes: files.iter().map(|f| f.file_size() as u64).sum(),
            formats: formats(&files),
            kernels,
        };
        Ok(Self {
            model: gvt,
            config,
            tokenizer,
            device,
            info,
            preprocessor,
        })
    }

    /// Whether the model can look at images.
    pub fn has_vision(&self) -> bool {
        self.preprocessor.is_some()
    }

    /// Token ids around the image for `question`, following the LLM's chat template:
    /// `<Img>` + visual tokens + `</Img>` + question, as GVT builds it.
    pub fn prompt(&self, question: &str, image: Option<&DynamicImage>) -> Result<Prompt> {
        let question = question.trim();
        if question.is_empty() {
            return Err(Error::InvalidInput("the question is empty".into()));
        }
        if question.len() > MAX_QUESTION_BYTES {
            return Err(Error::InvalidInput(format!(
                "the question is {} KB; the limit is {} KB",
                question.len() >> 10,
                MAX_QUESTION_BYTES >> 10
            )));
        }
        let vision = match image {
            Some(image) => Some((
                image,
                self.preprocessor.as_ref().ok_or_else(|| {
                    Error::InvalidInput(
                        "this model is a text-only LLM; load a GVT model to ask about images"
                            .into(),
                    )
                })?,
            )),
            None => None,
        };
        let tok = &self.tokenizer;
        let add_bos = tok.add_bos();
        let text = PromptText::new(tok, question, image.is_some())?;
        // Encoding costs memory in proportion to the text (a chat template may render
        // megabytes): text the context cannot hold is refused before it is encoded.
        let context = self.model.as_ref().context();
        let fits = context.saturating_mul(tok.max_token_bytes());
        let len = text.before.len() + text.after.len();
        if len > fits {
            return Err(Error::InvalidInput(format!(
                "the prompt is {len} bytes after the chat template; the model's context of \
                 {context} tokens holds at most {fits} bytes (its longest token is {} bytes)",
                tok.max_token_bytes()
            )));
        }
        Ok(match vision {
            None => Prompt {
                prefix: tok.encode_with_literal(&text.before, add_bos, text.question),
                pixels: None,
                suffix: Vec::new(),
            },
            Some((image, preprocessor)) => Prompt {
                prefix: tok.encode(&text.before, add_bos),
                pixels: Some(preprocessor.image(image)),
                suffix: tok.encode_with_literal(&text.after, false, text.question),
            },
        })
    }

    /// Answers `question` about `image` (or a text-only question), streaming tokens.
    pub async fn ask(
        &self,
        image: Option<&DynamicImage>,
        question: &str,
        options: &GenerateOptions,
        cancel: &CancelFlag,
        on_token: &mut dyn FnMut(TokenEvent<'_>),
    ) -> Result<Generation> {
        self.device
            .guard(async {
                let prompt = self.prompt(question, image)?;
                generate::generate(
                    self.model.as_ref(),
                    &self.tokenizer,
                    prompt,
                    options,
                    cancel,
                    on_token,
                )
                .await
            })
            .await
    }
}

/// "F32 x 40, Q8_0 x 100" over all files.
fn formats(files: &[&GgufFile]) -> String {
    let mut counts: Vec<(&'static str, usize)> = Vec::new();
    for t in files.iter().flat_map(|f| f.tensors.iter()) {
        let name = t.dtype.name();
        match counts.iter_mut().find(|(n, _)| *n == name) {
            Some((_, c)) => *c += 1,
            None => counts.push((name, 1)),
        }
    }
    counts
        .iter()
        .map(|(n, c)| format!("{n} x {c}"))
        .collect::<Vec<_>>()
        .join(", ")
}
