//! The core's integration tests, in one binary: parity with the independent reference per
//! stage (CPU and wgpu), quantized weights kept as stored, and SmolLM2 end to end.

mod parity;
mod quantized;
mod smollm2;
