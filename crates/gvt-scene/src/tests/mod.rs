//! Tests of the scene generator and of the questions.

mod generation;
mod questions;
mod style;

/// FNV-1a of the pixels.
fn fnv(image: &image::RgbImage) -> u64 {
    image
        .as_raw()
        .iter()
        .fold(0xCBF2_9CE4_8422_2325u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3)
        })
}
