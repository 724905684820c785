//! GVT Lens: the GVT multimodal LLM ("What Makes for Good Visual Tokenizers for Large
//! Language Models?", arXiv 2305.12223) on burn, with attention maps of where it looked.
//!
//! The modules follow the pipeline:
//! image ([`preprocess`]) -> visual tokenizer ([`model::vision`]) -> perceiver resampler
//! ([`model::resampler`]) -> projection -> LLM ([`model::llm`]) -> generation
//! ([`generate`]) -> attention maps ([`attention`]) -> overlay ([`overlay`]).
//! Weights and tokenizers come from GGUF files ([`gguf`], [`tokenizer`]). Procedural scenes
//! with exact ground truth ([`scene`]) and the GVTBench metrics ([`eval`]) measure what a
//! model perceives.

pub mod app;
pub mod attention;
pub mod default_model;
pub mod device;
pub mod error;
pub mod eval;
pub mod generate;
pub mod gguf;
pub mod model;
pub mod overlay;
pub mod pipeline;
pub mod preprocess;
pub mod rng;
pub mod scene;
pub mod tokenizer;
#[cfg(not(target_arch = "wasm32"))]
pub mod train;

pub use error::{Error, Result};
