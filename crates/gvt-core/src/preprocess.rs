//! Image in: decode any common format safely, resize to the model's square input (bicubic),
//! scale to [0, 1] and normalise per channel (CLIP mean/std for GVT).

use std::io::Cursor;

use burn::tensor::{Device, Tensor, TensorData};
use image::imageops::FilterType;
use image::{DynamicImage, ImageReader, Limits};

use crate::model::VisionConfig;
use crate::{Error, Result};

/// Largest accepted side in pixels; bigger files are refused before decoding.
pub const MAX_IMAGE_SIDE: u32 = 16_384;
/// Most memory a decoder may allocate: a 16-megapixel RGBA canvas with room to spare, and
/// with the decoder's own buffers still under 1 GiB.
pub const MAX_DECODE_BYTES: u64 = 512 << 20;

/// Decodes PNG, JPEG, WebP or GIF (first frame) bytes, refusing absurd sizes.
pub fn decode_image(bytes: &[u8]) -> Result<DynamicImage> {
    if bytes.is_empty() {
        return Err(Error::Image("the file is empty".into()));
    }
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Error::Image(e.to_string()))?;
    if reader.format().is_none() {
        return Err(Error::Image(
            "unknown format (supported: PNG, JPEG, WebP, GIF)".into(),
        ));
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    reader.decode().map_err(|e| Error::Image(e.to_string()))
}

/// Largest accepted image file: far above any photo, well below what would strain memory.
pub const MAX_IMAGE_FILE_BYTES: u64 = 256 << 20;

/// Refuses what is not a regular file of at most [`MAX_IMAGE_FILE_BYTES`]: `/dev/zero`, a
/// FIFO or a directory would be read until memory runs out, or forever.
#[cfg(not(target_arch = "wasm32"))]
pub fn check_image_file(path: &std::path::Path, meta: &std::fs::Metadata) -> Result<()> {
    let refuse = |why: String| Error::Io {
        path: path.display().to_string(),
        reason: std::io::Error::new(std::io::ErrorKind::InvalidInput, why),
    };
    if !meta.is_file() {
        return Err(refuse("not a regular file".into()));
    }
    if meta.len() > MAX_IMAGE_FILE_BYTES {
        return Err(refuse(format!(
            "{} MB is over the {} MB limit for an image file",
            meta.len() >> 20,
            MAX_IMAGE_FILE_BYTES >> 20
        )));
    }
    Ok(())
}

/// Reads an image file's bytes, after [`check_image_file`].
#[cfg(not(target_arch = "wasm32"))]
pub fn read_image_file(path: &std::path::Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let io = |reason| Error::Io {
        path: path.display().to_string(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    check_image_file(path, &meta)?;
    // Bounded even if the file grows while it is read.
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_IMAGE_FILE_BYTES)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    Ok(bytes)
}

/// Reads and decodes an image file (see [`read_image_file`]).
#[cfg(not(target_arch = "wasm32"))]
pub fn open_image(path: &std::path::Path) -> Result<DynamicImage> {
    let bytes = read_image_file(path)?;
    decode_image(&bytes).map_err(|e| match e {
        Error::Image(msg) => Error::Image(format!("{}: {msg}", path.display())),
        other => other,
    })
}

/// Turns images into the vision tower's input.
#[derive(Debug, Clone, PartialEq)]
pub struct Preprocessor {
    /// Square side the image is resized to.
    pub size: usize,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl Preprocessor {
    pub fn new(cfg: &VisionConfig) -> Self {
        let three = |v: &[f32]| [v[0], v[1], v[2]];
        Self {
            size: cfg.image_size,
            mean: three(&cfg.image_mean),
            std: three(&cfg.image_std),
        }
    }

    /// Normalised pixels in channel-major order, `3 * size * size` values.
    pub fn pixels(&self, image: &DynamicImage) -> Vec<f32> {
        let s = self.size as u32;
        match image {
            // Already the model's size (generated scenes): no resampling pass.
            DynamicImage::ImageRgb8(rgb) if rgb.dimensions() == (s, s) => self.normalize(rgb),
            _ => self.normalize(&image.resize_exact(s, s, FilterType::CatmullRom).to_rgb8()),
        }
    }

    /// Normalised channel-major pixels of an image that already has the model's size.
    pub fn normalize(&self, rgb: &image::RgbImage) -> Vec<f32> {
        let plane = self.size * self.size;
        let mut out = vec![0.0; 3 * plane];
        for (i, px) in rgb.pixels().enumerate() {
            for c in 0..3 {
                out[c * plane + i] = (px[c] as f32 / 255.0 - self.mean[c]) / self.std[c];
            }
        }
        out
    }

    /// # Shapes
    /// -> `[1, 3, size, size]`
    pub fn tensor(&self, image: &DynamicImage, device: &Device) -> Tensor<4> {
        self.image(image).tensor(device)
    }

    /// The image as the model takes it.
    pub fn image(&self, image: &DynamicImage) -> Pixels {
        Pixels {
            size: self.size,
            values: self.pixels(image),
        }
    }
}

/// One image's normalised pixels, channel-major `[3, size, size]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Pixels {
    pub size: usize,
    pub values: Vec<f32>,
}

impl Pixels {
    /// # Shapes
    /// -> `[1, 3, size, size]`
    pub fn tensor(self, device: &Device) -> Tensor<4> {
        let s = self.size;
        Tensor::from_data(TensorData::new(self.values, [1, 3, s, s]), device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageFormat, Rgb, RgbImage};

    fn png(w: u32, h: u32, f: impl Fn(u32, u32) -> Rgb<u8>) -> Vec<u8> {
        let img = RgbImage::from_fn(w, h, f);
        let mut bytes = Vec::new();
        DynamicImage::ImageRgb8(img)
            .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
            .unwrap();
        bytes
    }

    #[test]
    fn normalises_with_the_configured_statistics() {
        let bytes = png(40, 30, |_, _| Rgb([255, 0, 128]));
        let image = decode_image(&bytes).unwrap();
        let p = Preprocessor {
            size: 8,
            mean: [0.5, 0.5, 0.5],
            std: [0.5, 0.25, 1.0],
        };
        let px = p.pixels(&image);
        assert_eq!(px.len(), 3 * 64);
        assert!((px[0] - 1.0).abs() < 1e-6); // (1 - 0.5) / 0.5
        assert!((px[64] + 2.0).abs() < 1e-6); // (0 - 0.5) / 0.25
        assert!((px[128] - (128.0 / 255.0 - 0.5)).abs() < 1e-6);
    }

    #[test]
    fn channel_planes_keep_the_layout() {
        // Left half red, right half blue: red plane high on the left only.
        let bytes = png(16, 16, |x, _| {
            if x < 8 {
                Rgb([255, 0, 0])
            } else {
                Rgb([0, 0, 255])
            }
        });
        let image = decode_image(&bytes).unwrap();
        let p = Preprocessor {
            size: 16,
            mean: [0.0; 3],
            std: [1.0; 3],
        };
        let px = p.pixels(&image);
        assert!(px[16 * 5 + 1] > 0.9 && px[16 * 5 + 14] < 0.1);
        assert!(px[2 * 256 + 16 * 5 + 14] > 0.9);
    }

    #[test]
    fn broken_input_is_a_clear_error() {
        assert!(matches!(decode_image(&[]), Err(Error::Image(_))));
        assert!(matches!(
            decode_image(b"not an image at all"),
            Err(Error::Image(_))
        ));
        let bytes = png(32, 32, |_, _| Rgb([1, 2, 3]));
        let truncated = &bytes[..bytes.len() / 2];
        assert!(matches!(decode_image(truncated), Err(Error::Image(_))));
    }

    #[test]
    fn huge_images_are_refused_before_decoding() {
        // A valid PNG header claiming 100000 x 100000 pixels.
        let bytes = png(1, 1, |_, _| Rgb([0, 0, 0]));
        let mut huge = bytes.clone();
        // IHDR width/height live at bytes 16..24; the CRC check fails first in some
        // decoders, which is also an error: either way no 40 GB allocation happens.
        huge[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        huge[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        let err = decode_image(&huge).unwrap_err();
        assert!(matches!(err, Error::Image(_)), "{err}");
    }
}
