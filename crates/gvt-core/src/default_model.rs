//! The default model: `assets/gvt-tiny.gguf`, trained by `gvt train` on generated scenes
//! (see `assets/MODEL.md`). Natively it is compiled into the binary, so the tool works
//! offline with no download. In the browser it is served next to the page (Trunk copies it
//! into `dist/`) and kept in the page's model store, so the `.wasm` stays smaller and the
//! download shows progress.

#[cfg(not(target_arch = "wasm32"))]
use crate::gguf::{GgufError, GgufFile};

/// The GGUF bytes of the default model.
#[cfg(not(target_arch = "wasm32"))]
pub const BYTES: &[u8] = include_bytes!("../../../assets/gvt-tiny.gguf");

/// File name shown to people.
#[cfg(not(target_arch = "wasm32"))]
pub const NAME: &str = "gvt-tiny.gguf (embedded)";
#[cfg(target_arch = "wasm32")]
pub const NAME: &str = "gvt-tiny.gguf";

/// Where the page serves it, relative to the page. The query carries a hash of the file, so a
/// new model replaces the one a browser keeps instead of hiding behind it.
#[cfg(target_arch = "wasm32")]
pub fn url() -> String {
    format!("gvt-tiny.gguf?v={VERSION:016x}")
}

/// FNV-1a over the length and every 61st byte, at compile time. Retraining changes weights
/// throughout the file, so the sample tells versions apart; the bytes themselves stay out of
/// the `.wasm` (they are only read by the compiler).
#[cfg(target_arch = "wasm32")]
const VERSION: u64 = {
    let bytes: &[u8] = include_bytes!("../../../assets/gvt-tiny.gguf");
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325 ^ bytes.len() as u64;
    let mut i = 0;
    while i < bytes.len() {
        hash = (hash ^ bytes[i] as u64).wrapping_mul(0x0100_0000_01b3);
        i += 61;
    }
    hash
};

/// Parses the embedded model, reading the tensors in place.
#[cfg(not(target_arch = "wasm32"))]
pub fn open() -> Result<GgufFile, GgufError> {
    GgufFile::from_bytes(BYTES)
}
