//! Where the engine gets models that are not files on disk, and where it keeps the ones a
//! person picked. The engine is handed a [`ModelStore`]: natively [`NoStore`] (models are
//! files, read in place), in the browser the Cache API store in `web::store`. So the engine
//! and the messages it exchanges with the UI are the same on every platform.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use gvt_core::gguf::GgufBytes;

/// A future the engine awaits on its own thread (natively) or task (in the browser).
pub type Task<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// A model kept in a store.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredModel {
    pub name: String,
    /// The key it is kept under (what [`ModelStore::fetch`] reads it back from).
    pub url: String,
    pub bytes: u64,
}

/// Downloads models and keeps them between visits.
pub trait ModelStore: fmt::Debug + Send + Sync {
    /// Whether models are kept between visits (the model panel then lists them).
    fn keeps_models(&self) -> bool;

    /// The bytes at `url`: kept ones, else downloaded (and kept). `on_progress(done, total)`
    /// follows the bytes; `total` is 0 when unknown.
    fn fetch<'a>(
        &'a self,
        url: &'a str,
        on_progress: &'a mut dyn FnMut(u64, u64),
    ) -> Task<'a, Result<GgufBytes, String>>;

    /// Drops what is kept for `url` (it did not parse, so it must not be served again).
    fn forget<'a>(&'a self, url: &'a str) -> Task<'a, ()>;

    /// Keeps a file a person picked, under its name, once a model loaded from it.
    fn keep<'a>(&'a self, name: &'a str, bytes: &'a GgufBytes) -> Task<'a, ()>;

    /// What is kept, oldest first.
    fn list(&self) -> Task<'_, Vec<StoredModel>>;

    /// Forgets everything.
    fn clear(&self) -> Task<'_, ()>;
}

/// No store: the desktop reads models from files and keeps nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoStore;

impl ModelStore for NoStore {
    fn keeps_models(&self) -> bool {
        false
    }

    fn fetch<'a>(
        &'a self,
        url: &'a str,
        _on_progress: &'a mut dyn FnMut(u64, u64),
    ) -> Task<'a, Result<GgufBytes, String>> {
        Box::pin(async move {
            Err(format!(
                "cannot download {url}: the desktop app opens model files; download it and open \
                 the file"
            ))
        })
    }

    fn forget<'a>(&'a self, _url: &'a str) -> Task<'a, ()> {
        Box::pin(async {})
    }

    fn keep<'a>(&'a self, _name: &'a str, _bytes: &'a GgufBytes) -> Task<'a, ()> {
        Box::pin(async {})
    }

    fn list(&self) -> Task<'_, Vec<StoredModel>> {
        Box::pin(async { Vec::new() })
    }

    fn clear(&self) -> Task<'_, ()> {
        Box::pin(async {})
    }
}

/// The file name in a URL: its last path segment, without query or fragment, decoded.
pub fn file_name(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let name = path
        .rsplit('/')
        .next()
        .filter(|n| !n.is_empty())
        .unwrap_or(path);
    percent_encoding::percent_decode_str(name)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_come_from_the_last_path_segment() {
        assert_eq!(
            file_name("https://x.org/m/gvt-tiny.gguf?v=12#a"),
            "gvt-tiny.gguf"
        );
        assert_eq!(file_name("picked-models/my%20model.gguf"), "my model.gguf");
        assert_eq!(file_name("model.gguf"), "model.gguf");
        assert_eq!(file_name("https://x.org/dir/"), "https://x.org/dir/");
    }
}
