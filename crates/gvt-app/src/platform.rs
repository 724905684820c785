//! The platform seams: file dialogs and saving, and running a task off the UI thread.
//! Natively a dialog runs on a short-lived thread; in the browser it is a task on the page's
//! event loop (a file input, a download). Results come back as [`Outcome`]s polled per frame.

use std::future::Future;
use std::sync::mpsc::{Receiver, Sender, channel};

use super::documents::Document;
use super::image_panel::OverlayExport;
use super::worker::ModelFile;

/// What a dialog produced.
pub enum Outcome {
    /// An image file, decoded (off the UI thread: a large JPEG takes a while).
    Image(Box<Document>),
    /// One GGUF (a whole GVT model) or two (vision + LLM).
    ModelFiles(Vec<ModelFile>),
    /// Where a file was written.
    Saved(String),
    Failed(String),
}

pub struct Platform {
    tx: Sender<Outcome>,
    rx: Receiver<Outcome>,
    ctx: egui::Context,
}

const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "webp", "gif"];

impl Platform {
    pub fn new(ctx: egui::Context) -> Self {
        let (tx, rx) = channel();
        Self { tx, rx, ctx }
    }

    /// Outcomes that arrived since the last call.
    pub fn poll(&self) -> Vec<Outcome> {
        self.rx.try_iter().collect()
    }

    fn run(&self, task: impl Future<Output = Option<Outcome>> + MaybeSend + 'static) {
        let (tx, ctx) = (self.tx.clone(), self.ctx.clone());
        spawn(async move {
            if let Some(outcome) = task.await {
                let _ = tx.send(outcome);
                ctx.request_repaint();
            }
        });
    }

    /// Reads files dropped on the window: images open, GGUF files load as the model.
    pub fn open_dropped(&self, files: Vec<egui::DroppedFileHandle>) {
        let (images, models): (Vec<_>, Vec<_>) = files.into_iter().partition(|f| {
            !f.path()
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
        });
        for file in images {
            self.run(async move {
                let name = file_name(&*file);
                Some(match read_dropped(&*file).await {
                    Ok(bytes) => decoded(&name, &bytes),
                    Err(e) => Outcome::Failed(format!("cannot read {name}: {e}")),
                })
            });
        }
        if !models.is_empty() {
            self.run(async move {
                let mut picked = Vec::with_capacity(models.len());
                for file in models {
                    match dropped_model(&*file).await {
                        Ok(model) => picked.push(model),
                        Err(e) => {
                            let name = file_name(&*file);
                            return Some(Outcome::Failed(format!("cannot read {name}: {e}")));
                        }
                    }
                }
                Some(Outcome::ModelFiles(picked))
            });
        }
    }

    /// Pastes an image from the clipboard. Natively egui-winit reads it and the app gets a
    /// paste event; browsers offer clipboard images only through the async Clipboard API.
    pub fn paste(&self) {
        #[cfg(not(target_arch = "wasm32"))]
        self.ctx
            .send_viewport_cmd(egui::ViewportCommand::RequestPaste);
        #[cfg(target_arch = "wasm32")]
        self.run(async {
            Some(match super::web::clipboard::read_image().await {
                Ok(bytes) => decoded("Pasted image", &bytes),
                Err(e) => Outcome::Failed(format!("cannot paste: {e}")),
            })
        });
    }

    /// Opens a file dialog for one image.
    pub fn pick_image(&self) {
        let dialog = rfd::AsyncFileDialog::new()
            .set_title("Open an image")
            .add_filter("Images", IMAGE_EXTENSIONS)
            .pick_file();
        self.run(async move {
            let file = dialog.await?;
            Some(decoded(&file.file_name(), &file.read().await))
        });
    }

    /// Opens a file dialog for one GVT GGUF, or a vision GGUF and an LLM GGUF.
    pub fn pick_model_files(&self) {
        let dialog = rfd::AsyncFileDialog::new()
            .set_title("Load a GVT model (one GGUF, or vision + LLM)")
            .add_filter("GGUF", &["gguf"])
            .pick_files();
        self.run(async move {
            let files = dialog.await?;
            let mut picked = Vec::with_capacity(files.len());
            for file in files {
                picked.push(model_file(file).await);
            }
            Some(Outcome::ModelFiles(picked))
        });
    }

    /// Asks where to save the overlay (a download in the browser), then renders and writes
    /// it; the full-resolution render happens here, not on the UI thread.
    pub fn save_overlay(&self, suggested_name: String, render: OverlayExport) {
        self.save(
            "Export the overlay",
            ("PNG image", "png"),
            suggested_name,
            move || render.png(),
        );
    }

    /// Asks where to save a file of kind `(filter name, extension)` (a download in the
    /// browser), then writes what `produce` makes.
    pub fn save(
        &self,
        title: &str,
        kind: (&str, &str),
        suggested_name: String,
        produce: impl FnOnce() -> Result<Vec<u8>, String> + MaybeSend + 'static,
    ) {
        save_with(&self.tx, &self.ctx, title, kind, suggested_name, produce);
    }

    /// Takes a screenshot of the window and saves the part of it in `rect` (points) as a
    /// PNG, asking where (a download in the browser).
    pub fn save_region(&self, title: &'static str, rect: egui::Rect, suggested_name: String) {
        let (tx, ctx) = (self.tx.clone(), self.ctx.clone());
        let pixels_per_point = self.ctx.pixels_per_point();
        let callback = egui::ScreenshotCallback::new(move |image| {
            let png = region_png(&image, rect, pixels_per_point);
            save_with(
                &tx,
                &ctx,
                title,
                ("PNG image", "png"),
                suggested_name,
                move || png,
            );
        });
        self.ctx
            .send_viewport_cmd(egui::ViewportCommand::Screenshot(callback));
    }
}

/// The part of a screenshot in `rect` (points), PNG-encoded.
fn region_png(
    image: &egui::ColorImage,
    rect: egui::Rect,
    pixels_per_point: f32,
) -> Result<Vec<u8>, String> {
    let region = image.region(&rect, Some(pixels_per_point));
    let [w, h] = region.size;
    let rgba = image::RgbaImage::from_raw(w as u32, h as u32, region.as_raw().to_vec())
        .ok_or("the screenshot has no pixels there")?;
    let mut png = Vec::new();
    image::DynamicImage::ImageRgba8(rgba)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| format!("cannot encode the PNG: {e}"))?;
    Ok(png)
}

/// [`Platform::save`], for callers that hold only the outcome channel (a screenshot
/// callback).
fn save_with(
    tx: &Sender<Outcome>,
    ctx: &egui::Context,
    title: &str,
    (filter, extension): (&str, &str),
    suggested_name: String,
    produce: impl FnOnce() -> Result<Vec<u8>, String> + MaybeSend + 'static,
) {
    let dialog = rfd::AsyncFileDialog::new()
        .set_title(title)
        .add_filter(filter, &[extension])
        .set_file_name(&suggested_name)
        .save_file();
    let (tx, ctx) = (tx.clone(), ctx.clone());
    spawn(async move {
        let Some(file) = dialog.await else {
            return;
        };
        let name = file.file_name();
        let outcome = match produce() {
            Ok(bytes) => match file.write(&bytes).await {
                Ok(()) => Outcome::Saved(name),
                Err(e) => Outcome::Failed(format!("cannot save {name}: {e}")),
            },
            Err(e) => Outcome::Failed(e),
        };
        let _ = tx.send(outcome);
        ctx.request_repaint();
    });
}

fn decoded(name: &str, bytes: &[u8]) -> Outcome {
    match Document::from_bytes(name, bytes) {
        Ok(doc) => Outcome::Image(Box::new(doc)),
        Err(e) => Outcome::Failed(e.to_string()),
    }
}

fn file_name(file: &(dyn egui::DroppedFile + Send + Sync)) -> String {
    let path = file.path();
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into(),
    )
}

#[cfg(not(target_arch = "wasm32"))]
async fn read_dropped(file: &(dyn egui::DroppedFile + Send + Sync)) -> Result<Vec<u8>, String> {
    // A dropped `/dev/zero` or FIFO must not be read until memory runs out.
    if let Ok(meta) = std::fs::metadata(file.path()) {
        gvt_core::preprocess::check_image_file(file.path(), &meta).map_err(|e| e.to_string())?;
    }
    file.bytes()
}

#[cfg(target_arch = "wasm32")]
async fn read_dropped(file: &(dyn egui::DroppedFile + Send + Sync)) -> Result<Vec<u8>, String> {
    file.bytes_async().await
}

#[cfg(not(target_arch = "wasm32"))]
async fn dropped_model(file: &(dyn egui::DroppedFile + Send + Sync)) -> Result<ModelFile, String> {
    Ok(ModelFile::Path(file.path().to_path_buf()))
}

#[cfg(target_arch = "wasm32")]
async fn dropped_model(file: &(dyn egui::DroppedFile + Send + Sync)) -> Result<ModelFile, String> {
    Ok(ModelFile::Bytes {
        name: file_name(file),
        bytes: file.bytes_async().await?.into(),
    })
}

#[cfg(not(target_arch = "wasm32"))]
async fn model_file(file: rfd::FileHandle) -> ModelFile {
    // Natively the engine reads the file itself, off the UI thread.
    ModelFile::Path(file.path().to_path_buf())
}

#[cfg(target_arch = "wasm32")]
async fn model_file(file: rfd::FileHandle) -> ModelFile {
    ModelFile::Bytes {
        name: file.file_name(),
        bytes: file.read().await.into(),
    }
}

/// `Send` natively, where tasks run on threads; nothing in the single-threaded browser.
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSend: Send {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Send> MaybeSend for T {}
#[cfg(target_arch = "wasm32")]
pub trait MaybeSend {}
#[cfg(target_arch = "wasm32")]
impl<T> MaybeSend for T {}

#[cfg(not(target_arch = "wasm32"))]
fn spawn(task: impl Future<Output = ()> + Send + 'static) {
    std::thread::spawn(move || pollster::block_on(task));
}

#[cfg(target_arch = "wasm32")]
fn spawn(task: impl Future<Output = ()> + 'static) {
    wasm_bindgen_futures::spawn_local(task);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_region_of_a_screenshot_is_cut_at_the_pixel_scale() {
        // 40x20 pixels at 2 pixels per point: red left half, blue right half.
        let mut image = egui::ColorImage::filled([40, 20], egui::Color32::RED);
        for y in 0..20 {
            for x in 20..40 {
                image[(x, y)] = egui::Color32::BLUE;
            }
        }
        let rect = egui::Rect::from_min_size(egui::pos2(10.0, 0.0), egui::vec2(10.0, 5.0));
        let png = region_png(&image, rect, 2.0).unwrap();
        let cut = image::load_from_memory(&png).unwrap().to_rgba8();
        assert_eq!(cut.dimensions(), (20, 10));
        assert_eq!(cut.get_pixel(0, 0).0, [0, 0, 255, 255]);
    }
}
