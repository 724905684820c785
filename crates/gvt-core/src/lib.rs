//! The core of GVT Lens: the GVT multimodal LLM ("What Makes for Good Visual Tokenizers for
//! Large Language Models?", arXiv 2305.12223) on burn, with attention maps of where it looked.
//! It builds without egui, autodiff or optim, natively and for wasm32.
//!
//! The modules follow the pipeline:
//! image ([`preprocess`]) -> visual tokenizer ([`model::vision`]) -> perceiver resampler
//! ([`model::resampler`]) -> projection -> LLM ([`model::llm`]) -> generation
//! ([`generate`]) -> attention maps ([`attention`]) -> overlay ([`overlay`]).
//! Weights and tokenizers come from GGUF files ([`gguf`], [`tokenizer`]). Scenes, evaluation,
//! training and the app are crates of their own (`gvt-scene`, `gvt-eval`, `gvt-train`,
//! `gvt-app`).

pub mod attention;
pub mod default_model;
pub mod device;
pub mod engine;
pub mod error;
pub mod generate;
pub mod gguf;
pub mod model;
pub mod overlay;
pub mod pipeline;
pub mod preprocess;
pub mod printable;
pub mod rng;
pub mod tokenizer;

pub use error::{Error, Result};
