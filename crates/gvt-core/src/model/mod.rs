//! The GVT model on burn: one implementation for every size, configured from GGUF metadata.
//!
//! Pipeline order: [`vision`] (ViT visual tokenizer) -> [`resampler`] (Perceiver) ->
//! projection ([`gvt`]) -> [`llm`] (LLaMA decoder with [`cache`]).

pub mod cache;
pub mod config;
pub mod export;
pub mod gvt;
pub mod layers;
pub mod llm;
pub mod memory;
pub mod params;
pub mod resampler;
pub mod vision;

pub use cache::KvCache;
pub use config::{GvtConfig, LlmConfig, Preset, ResamplerConfig, VisionConfig};
pub use export::WeightFormat;
pub use gvt::{Gvt, VisualPath, VisualTokens, VisualTrace};
pub use llm::{Keep, Llm, LlmStep};
pub use memory::{Bytes, DeviceMemory, MemoryEstimate};
pub use params::{GgufSource, Init, InitSource, Named, ParamName, ParamSource};
