//! The default model: `assets/gvt-tiny.gguf`, trained by `gvt train` on generated scenes
//! (see `assets/MODEL.md`). Natively it is compiled into the binary, so the tool works
//! offline with no download. In the browser it is served next to the page (Trunk copies it
//! into `dist/`) and kept in the page's model store, so the `.wasm` stays smaller and the
//! download shows progress.

#[cfg(not(target_arch = "wasm32"))]
use crate::gguf::{GgufError, GgufFile};

/// The GGUF bytes of the default model.
#[cfg(not(target_arch = "wasm32"))]
pub const BYTES: &[u8] = include_bytes!("../assets/gvt-tiny.gguf");

/// File name shown to people.
#[cfg(not(target_arch = "wasm32"))]
pub const NAME: &str = "gvt-tiny.gguf (embedded)";
#[cfg(target_arch = "wasm32")]
pub const NAME: &str = "gvt-tiny.gguf";

/// Where the page serves it, relative to the page.
#[cfg(target_arch = "wasm32")]
pub const URL: &str = "gvt-tiny.gguf";

/// Parses the embedded model.
#[cfg(not(target_arch = "wasm32"))]
pub fn open() -> Result<GgufFile, GgufError> {
    GgufFile::from_bytes(BYTES.to_vec())
}
