//! The core's integration tests, in one binary: parity with the independent reference per
//! stage (CPU and wgpu), quantized weights kept as stored, SmolLM2 end to end, and models
//! that cannot run refused with exact errors.

mod cpu_engine;
mod engine;
mod hostile;
mod parity;
mod quantized;
mod smollm2;
