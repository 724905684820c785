//! Hostile-input fuzzing of GVT Lens (issue 19): the GGUF reader with the model
//! configuration and full load, the image loader, and the tokenizer with the chat template.
//!
//! A seeded, structure-aware mutator on stable Rust (see `README.md` for why not cargo-afl
//! or libFuzzer, and for what "coverage" means here). Every input must give `Ok` or `Err`:
//! a panic, an allocation over 1 GiB or a peak of live memory over 1 GiB is a failure.

pub mod alloc;
pub mod engine;
pub mod gguf_mut;
pub mod hostile;
pub mod image_mut;
pub mod rng;
pub mod seeds;
pub mod targets;
pub mod text_mut;

pub use alloc::CountingAlloc;
pub use engine::{Input, Options, Outcome, Report, Setup, Target, execute, run};
