//! The embedded default model: `assets/gvt-tiny.gguf`, trained by `gvt train` on generated
//! scenes (see `assets/MODEL.md`). Compiled into the binary so the tool works offline with
//! no download.

use crate::gguf::{GgufError, GgufFile};

/// The GGUF bytes of the default model.
pub const BYTES: &[u8] = include_bytes!("../assets/gvt-tiny.gguf");

/// File name shown to people.
pub const NAME: &str = "gvt-tiny.gguf (embedded)";

/// Parses the embedded model.
pub fn open() -> Result<GgufFile, GgufError> {
    GgufFile::from_bytes(BYTES.to_vec())
}
