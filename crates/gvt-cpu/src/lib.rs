//! The CPU inference engine, for machines and browsers without a usable GPU.
//!
//! - [`WeightFormat`], [`model`] and [`blocks`]: what both engines share, the GGUF formats,
//!   the tensors a model part reads, and decoding blocks to f32.
//! - [`Weight`]: a GGUF matrix read where it lies, in its blocks (a memory map natively).
//! - [`Isa`]: the instruction set the kernels use, detected at start-up (the portable path
//!   in wasm).
//! - [`Pool`]: worker threads, one per core, that split each kernel's rows.
//! - [`kernels`]: the same kernel families as the GPU engine's `shaders/`, on the CPU.
//! - [`llm`]: the LLaMA-family decoder with an f32 KV cache and attention capture.

pub mod blocks;
mod error;
mod format;
mod isa;
pub mod kernels;
pub mod llm;
pub mod model;
mod pool;
pub mod random;
pub mod vision;
mod weight;

use std::sync::Arc;

pub use error::{CpuError, Result};
pub use format::WeightFormat;
pub use isa::Isa;
pub use pool::Pool;
pub use weight::{Shared, TensorBytes, Weight};

/// What the kernels run on: the instruction set and the worker threads.
#[derive(Clone)]
pub struct Cpu {
    pub isa: Isa,
    pub pool: Arc<Pool>,
}

impl Cpu {
    /// The best instruction set this CPU has, and `threads` threads (one per core when
    /// `None`; always one in the browser).
    pub fn new(threads: Option<usize>) -> Self {
        Self::with_isa(Isa::detect(), threads)
    }

    /// `isa` (one [`Isa::available`] lists) and `threads` threads.
    pub fn with_isa(isa: Isa, threads: Option<usize>) -> Self {
        Self {
            isa,
            pool: Arc::new(Pool::new(threads.unwrap_or_else(Pool::cores))),
        }
    }

    /// "AVX-512 VNNI, 2 threads".
    pub fn describe(&self) -> String {
        let n = self.pool.threads();
        format!(
            "{}, {n} thread{}",
            self.isa.name(),
            if n == 1 { "" } else { "s" }
        )
    }
}

impl std::fmt::Debug for Cpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}
