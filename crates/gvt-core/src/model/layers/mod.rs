//! Building blocks shared by the vision tower, the resampler and the LLM.

mod attention;
mod linear;
mod norm;
mod rope;

pub use attention::{attention, causal_mask};
pub use linear::{Embedding, Linear};
pub use norm::{LayerNorm, RmsNorm};
pub use rope::{RotaryTable, rotate_pairs};
