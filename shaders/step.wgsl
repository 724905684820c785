// Prepended to every kernel family: the per-step uniform (kernels::Step on the Rust side),
// written before each submission, so that dispatches built once serve every step.
struct Step {
    t: u32,     // positions in this step
    past: u32,  // positions already in the KV cache
    index: u32, // tokens generated so far
    _pad: u32,
}
