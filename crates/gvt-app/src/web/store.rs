//! The page's model store, on the browser's Cache API: a GGUF downloaded once (the default
//! model included) and the files a person picked are kept, so the next visit needs neither
//! the network nor the file dialog. The model panel lists what is kept, with sizes, and can
//! empty it.
//!
//! Browsers offer the Cache API only on secure origins (https, localhost). Elsewhere models
//! still download, they just are not kept.
//!
//! A URL's query string tells versions apart (the default model's URL carries a hash of its
//! bytes): downloading one version removes the others kept under the same path.

use js_sys::{Array, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Cache, Headers, ReadableStreamDefaultReader, Request, Response, ResponseInit};

use gvt_core::gguf::GgufBytes;

use super::js_message;
use crate::store::{ModelStore, StoredModel, Task, file_name};

const CACHE_NAME: &str = "gvt-lens-models";
/// Picked files are kept under this path, relative to the page.
const PICKED_PREFIX: &str = "picked-models/";
/// Headers the store writes on each kept response.
const SIZE_HEADER: &str = "x-gvt-bytes";
const NAME_HEADER: &str = "x-gvt-name";
/// wasm32 has 4 GiB of memory in all; the file and its tensors must both fit.
const MAX_BYTES: u64 = 1 << 31;

/// The page's store, for the engine.
#[derive(Debug, Clone, Copy, Default)]
pub struct CacheStore;

impl ModelStore for CacheStore {
    fn keeps_models(&self) -> bool {
        true
    }

    fn fetch<'a>(
        &'a self,
        url: &'a str,
        on_progress: &'a mut dyn FnMut(u64, u64),
    ) -> Task<'a, Result<GgufBytes, String>> {
        Box::pin(async move { fetch(url, on_progress).await.map(GgufBytes::from) })
    }

    fn forget<'a>(&'a self, url: &'a str) -> Task<'a, ()> {
        Box::pin(forget(url))
    }

    fn keep<'a>(&'a self, name: &'a str, bytes: &'a GgufBytes) -> Task<'a, ()> {
        Box::pin(keep(name, bytes))
    }

    fn list(&self) -> Task<'_, Vec<StoredModel>> {
        Box::pin(list())
    }

    fn clear(&self) -> Task<'_, ()> {
        Box::pin(clear())
    }
}

/// The bytes at `url`: from the store when kept there, else downloaded (and then kept).
/// `on_progress(done, total)` follows the bytes; `total` is 0 when the server does not say.
async fn fetch(url: &str, on_progress: &mut dyn FnMut(u64, u64)) -> Result<Vec<u8>, String> {
    let cache = open().await;
    if let Some(cache) = &cache
        && let Some(kept) = cached(cache, url).await
    {
        return read_body(&kept, url, on_progress).await;
    }
    let window = web_sys::window().ok_or("no browser window")?;
    let response: Response = JsFuture::from(window.fetch_with_str(url))
        .await
        .map_err(|e| {
            format!(
                "cannot download {url}: {} (is the address right, and does the server allow \
                 cross-origin requests?)",
                js_message(&e)
            )
        })?
        .unchecked_into();
    if !response.ok() {
        return Err(format!(
            "cannot download {url}: the server answered {} {}",
            response.status(),
            response.status_text()
        ));
    }
    let bytes = read_body(&response, url, on_progress).await?;
    if let Some(cache) = &cache {
        forget_other_versions(cache, url).await;
        // A full quota only means the model is not kept; the load goes on.
        let _ = put(cache, url, &file_name(url), &bytes).await;
    }
    Ok(bytes)
}

/// Removes what is kept under `url` (a file that turned out not to be a usable GGUF must not
/// be served again).
async fn forget(url: &str) {
    if let Some(cache) = open().await {
        let _ = JsFuture::from(cache.delete_with_str(url)).await;
    }
}

/// Deletes the kept responses whose URL has the same path as `url` but another query.
async fn forget_other_versions(cache: &Cache, url: &str) {
    let Some(current) = absolute(url) else {
        return;
    };
    let path = |u: &str| u.split(['?', '#']).next().unwrap_or(u).to_string();
    let Ok(keys) = JsFuture::from(cache.keys()).await else {
        return;
    };
    for request in Array::from(&keys).iter() {
        let kept = request.unchecked_into::<Request>().url();
        if kept != current && path(&kept) == path(&current) {
            let _ = JsFuture::from(cache.delete_with_str(&kept)).await;
        }
    }
}

/// `url` resolved against the page's address.
fn absolute(url: &str) -> Option<String> {
    let base = web_sys::window()?.location().href().ok()?;
    Some(web_sys::Url::new_with_base(url, &base).ok()?.href())
}

/// Keeps a picked file under its name (a full quota only means it is not kept).
async fn keep(name: &str, bytes: &[u8]) {
    if let Some(cache) = open().await {
        let key = format!("{PICKED_PREFIX}{}", js_sys::encode_uri_component(name));
        let _ = put(&cache, &key, name, bytes).await;
    }
}

/// What the store holds, oldest first.
async fn list() -> Vec<StoredModel> {
    let Some(cache) = open().await else {
        return Vec::new();
    };
    let Ok(keys) = JsFuture::from(cache.keys()).await else {
        return Vec::new();
    };
    let mut models = Vec::new();
    for request in Array::from(&keys).iter() {
        let request: Request = request.unchecked_into();
        let url = request.url();
        let Some(response) = cached(&cache, &url).await else {
            continue;
        };
        let headers = response.headers();
        let header = |name: &str| headers.get(name).ok().flatten();
        models.push(StoredModel {
            name: header(NAME_HEADER)
                .and_then(|n| js_sys::decode_uri_component(&n).ok().map(String::from))
                .unwrap_or_else(|| file_name(&url)),
            bytes: header(SIZE_HEADER)
                .and_then(|b| b.parse().ok())
                .unwrap_or(0),
            url,
        });
    }
    models
}

/// Deletes everything the store holds.
async fn clear() {
    if let Some(storage) = storage() {
        let _ = JsFuture::from(storage.delete(CACHE_NAME)).await;
    }
}

/// The Cache API, where the page may use it: `window.caches` is undefined on insecure
/// origins (web-sys then hands back `undefined`, and calling it would throw).
fn storage() -> Option<web_sys::CacheStorage> {
    let window = web_sys::window()?;
    if !window.is_secure_context() {
        return None;
    }
    let storage = window.caches().ok()?;
    (!storage.is_undefined() && !storage.is_null()).then_some(storage)
}

async fn open() -> Option<Cache> {
    let cache = JsFuture::from(storage()?.open(CACHE_NAME)).await.ok()?;
    Some(cache.unchecked_into())
}

async fn cached(cache: &Cache, url: &str) -> Option<Response> {
    let found = JsFuture::from(cache.match_with_str(url)).await.ok()?;
    found.dyn_into::<Response>().ok()
}

async fn put(cache: &Cache, key: &str, name: &str, bytes: &[u8]) -> Result<(), JsValue> {
    let headers = Headers::new()?;
    headers.set("content-type", "application/octet-stream")?;
    headers.set("content-length", &bytes.len().to_string())?;
    headers.set(SIZE_HEADER, &bytes.len().to_string())?;
    // Header values must be Latin-1: the name goes in encoded.
    headers.set(
        NAME_HEADER,
        &String::from(js_sys::encode_uri_component(name)),
    )?;
    let init = ResponseInit::new();
    init.set_headers(&headers);
    let body = Uint8Array::from(bytes);
    let response = Response::new_with_opt_buffer_source_and_init(Some(&body), &init)?;
    JsFuture::from(cache.put_with_str(key, &response)).await?;
    Ok(())
}

/// Reads a response's body chunk by chunk, reporting progress.
async fn read_body(
    response: &Response,
    url: &str,
    on_progress: &mut dyn FnMut(u64, u64),
) -> Result<Vec<u8>, String> {
    let headers = response.headers();
    let total = [SIZE_HEADER, "content-length"]
        .iter()
        .find_map(|h| headers.get(h).ok().flatten()?.parse::<u64>().ok())
        .unwrap_or(0);
    let too_big = |bytes: u64| {
        format!(
            "{url} is {:.1} GB; the browser build holds models up to {:.1} GB (use the desktop app)",
            bytes as f64 / 1e9,
            MAX_BYTES as f64 / 1e9
        )
    };
    if total > MAX_BYTES {
        return Err(too_big(total));
    }
    let body = response
        .body()
        .ok_or_else(|| format!("{url}: the response has no body"))?;
    let reader: ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let mut bytes = Vec::with_capacity(total as usize);
    on_progress(0, total);
    loop {
        let chunk = JsFuture::from(reader.read())
            .await
            .map_err(|e| format!("the download of {url} broke off: {}", js_message(&e)))?;
        let done = Reflect::get(&chunk, &"done".into()).is_ok_and(|d| d.is_truthy());
        if done {
            break;
        }
        let value = Reflect::get(&chunk, &"value".into()).map_err(|e| js_message(&e))?;
        bytes.extend(value.unchecked_into::<Uint8Array>().to_vec());
        if bytes.len() as u64 > MAX_BYTES {
            let _ = reader.cancel();
            return Err(too_big(bytes.len() as u64));
        }
        // A total of 0 says "unknown" (no Content-Length, or a compressed one that is less).
        let total = if total >= bytes.len() as u64 {
            total
        } else {
            0
        };
        on_progress(bytes.len() as u64, total);
    }
    Ok(bytes)
}
