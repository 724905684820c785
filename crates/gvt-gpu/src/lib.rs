//! The GPU inference engine: GGUF weights stay in their blocks on the GPU, and hand-written
//! WGSL kernels (in the repository's `shaders/`, one file per kernel family) run GVT's
//! forward passes, one command buffer per step.
//!
//! - [`Gpu`]: a wgpu device and queue (natively shared with burn's), what the adapter
//!   offers, and the compiled pipelines.
//! - [`Weight`]: one GGUF tensor uploaded byte for byte, split by rows where it is larger
//!   than the adapter binds at once.
//! - [`kernels`]: the kernel families and how each is launched, in variants by adapter.
//! - [`vision`]: GVT's visual path (EVA ViT, resampler, projection), one image per command
//!   buffer.
//! - [`llm`]: the LLaMA-family decoder, with an f16 or f32 KV cache, sampling on the GPU
//!   and attention capture.
//! - [`random`]: random weights of a layout, for benchmarks without files.
//!
//! burn (crate `gvt-core`) stays the reference these kernels are tested against.

mod error;
mod format;
mod gpu;
pub mod kernels;
pub mod llm;
mod load;
pub use gvt_cpu::random;
pub mod vision;
mod weight;

pub use error::{GpuError, Result};
pub use format::WeightFormat;
pub use gpu::{Caps, Gpu, GpuValues};
pub use weight::{TensorBytes, Weight};
