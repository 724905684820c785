//! Pasting images in the browser. eframe's web runner passes only text pastes to egui, so the
//! page listens for pastes itself (Ctrl+V with an image on the clipboard), and the Paste
//! button reads the async Clipboard API (the browser may ask the person first).

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::{js_call, js_message, js_method};

/// Images pasted into the page, waiting for the next frame.
pub type Pasted = Rc<RefCell<Vec<Vec<u8>>>>;

/// Listens for pastes on the page; image files land in the returned queue (and `wake` asks
/// for a frame).
pub fn listen(wake: impl Fn() + 'static) -> Pasted {
    let pasted = Pasted::default();
    let queue = pasted.clone();
    let wake = Rc::new(wake);
    let on_paste = Closure::<dyn FnMut(web_sys::ClipboardEvent)>::new(
        move |event: web_sys::ClipboardEvent| {
            let Some(files) = event.clipboard_data().and_then(|d| d.files()) else {
                return;
            };
            let images: Vec<web_sys::File> = (0..files.length())
                .filter_map(|i| files.get(i))
                .filter(|f| f.type_().starts_with("image/"))
                .collect();
            for file in images {
                let (queue, wake) = (queue.clone(), wake.clone());
                wasm_bindgen_futures::spawn_local(async move {
                    if let Ok(buffer) = JsFuture::from(file.array_buffer()).await {
                        queue.borrow_mut().push(Uint8Array::new(&buffer).to_vec());
                        wake();
                    }
                });
            }
        },
    );
    if let Some(document) = web_sys::window().and_then(|w| w.document()) {
        let _ =
            document.add_event_listener_with_callback("paste", on_paste.as_ref().unchecked_ref());
    }
    // The listener lives as long as the page.
    on_paste.forget();
    pasted
}

/// The first image on the clipboard, through `navigator.clipboard.read()`.
pub async fn read_image() -> Result<Vec<u8>, String> {
    let navigator = web_sys::window().ok_or("no browser window")?.navigator();
    let clipboard = Reflect::get(&navigator, &"clipboard".into()).map_err(|e| js_message(&e))?;
    if js_method(&clipboard, "read").is_none() {
        return Err("this browser cannot read images from the clipboard here (try Ctrl+V)".into());
    }
    let items = call_async(&clipboard, "read", &[]).await.map_err(|e| {
        format!(
            "the browser did not allow reading the clipboard ({})",
            js_message(&e)
        )
    })?;
    let unreadable =
        |e: JsValue| format!("the clipboard image cannot be read ({})", js_message(&e));
    for item in Array::from(&items).iter() {
        let types = Reflect::get(&item, &"types".into()).map_err(unreadable)?;
        let Some(kind) = Array::from(&types)
            .iter()
            .filter_map(|t| t.as_string())
            .find(|t| t.starts_with("image/"))
        else {
            continue;
        };
        let blob = call_async(&item, "getType", &[kind.into()])
            .await
            .map_err(unreadable)?;
        let buffer = call_async(&blob, "arrayBuffer", &[])
            .await
            .map_err(unreadable)?;
        return Ok(Uint8Array::new(&buffer).to_vec());
    }
    Err("the clipboard holds no image".into())
}

/// Calls `target.name(...args)` and awaits the promise it returns.
async fn call_async(target: &JsValue, name: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let promise: Promise = js_call(target, name, args)?.dyn_into()?;
    JsFuture::from(promise).await
}
