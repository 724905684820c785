//! How a trial's scene becomes a picture: the side it is drawn at, look-alike paint, clutter
//! on the background, blur and noise. None of these changes the ground truth: clutter stays
//! off the objects' boxes, and look-alikes keep their real colour in the scene.

use gvt_scene::{Color, MAX_RENDER_SIDE, Rng, Scene, Shape};
use image::RgbImage;

use crate::ProbeError;

/// Random stream of a trial's picture changes (the scene uses others).
const STREAM_LOOK: u64 = 0x100c;

/// Picture changes of one trial.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Look {
    /// Seeds the clutter and the noise.
    pub seed: u64,
    /// Side to draw at instead of the model's input side.
    pub side: Option<u32>,
    /// Gaussian blur sigma, in pixels of the model's input side.
    pub blur: f32,
    /// Gaussian noise sigma, in 8-bit units.
    pub noise: f32,
    /// Marks scattered over the background.
    pub clutter: usize,
    /// Objects of this shape in another colour than this one are painted the fraction `t`
    /// of the way from this colour to their own (`t = 1` is their real paint).
    pub lookalikes: Option<(Color, Shape, f32)>,
}

impl Look {
    /// The picture of `scene`, for a model whose input is `model_side` pixels square.
    pub fn render(&self, scene: &Scene, model_side: u32) -> Result<RgbImage, ProbeError> {
        let side = self.side.unwrap_or(model_side);
        if side == 0 || side > MAX_RENDER_SIDE {
            return Err(ProbeError::Spec(format!(
                "cannot draw a scene {side} pixels wide: use 1 to {MAX_RENDER_SIDE}"
            )));
        }
        let mut image = RgbImage::new(side, side);
        scene.render_into_with(&mut image, |object| match self.lookalikes {
            Some((color, shape, t)) if object.shape == shape && object.color != color => {
                let [from, to] = [color.rgb(), object.color.rgb()];
                std::array::from_fn(|c| {
                    (f32::from(from[c]) + (f32::from(to[c]) - f32::from(from[c])) * t).round() as u8
                })
            }
            _ => object.color.rgb(),
        })?;
        let mut rng = Rng::stream(self.seed, STREAM_LOOK);
        scatter_clutter(&mut image, scene, self.clutter, &mut rng);
        if self.blur > 0.0 {
            let sigma = self.blur * side as f32 / model_side.max(1) as f32;
            image = image::imageops::blur(&image, sigma);
        }
        if self.noise > 0.0 {
            add_noise(&mut image, self.noise, &mut rng);
        }
        Ok(image)
    }
}

/// Draws `marks` strokes and dots in greys that stand out from the background under them
/// (darker on light backgrounds, lighter on dark ones), never inside an object's box.
fn scatter_clutter(image: &mut RgbImage, scene: &Scene, marks: usize, rng: &mut Rng) {
    let side = image.width();
    let boxes: Vec<[u32; 4]> = scene.objects.iter().map(|o| o.bbox_px(side)).collect();
    let free = |x: u32, y: u32| {
        boxes
            .iter()
            .all(|&[x0, y0, x1, y1]| x < x0 || x >= x1 || y < y0 || y >= y1)
    };
    let s = side as f32;
    for _ in 0..marks {
        let start = [rng.next_f32() * s, rng.next_f32() * s];
        let (length, angle) = if rng.chance(0.5) {
            (
                rng.range_f32(0.04, 0.12) * s,
                rng.next_f32() * std::f32::consts::TAU,
            )
        } else {
            (0.0, 0.0)
        };
        let thickness = (0.012 * s).max(1.0);
        let shift = rng.range_f32(60.0, 100.0);
        let steps = (length * 2.0).ceil() as usize + 1;
        for k in 0..steps {
            let t = k as f32 / steps as f32 * length;
            let [cx, cy] = [start[0] + t * angle.cos(), start[1] + t * angle.sin()];
            let r = 0.5 * thickness;
            let (x0, x1) = ((cx - r).floor().max(0.0) as u32, (cx + r).ceil() as u32);
            let (y0, y1) = ((cy - r).floor().max(0.0) as u32, (cy + r).ceil() as u32);
            for y in y0..y1.min(side) {
                for x in x0..x1.min(side) {
                    if !free(x, y) {
                        continue;
                    }
                    let pixel = image.get_pixel_mut(x, y);
                    let grey = pixel.0.iter().map(|&c| f32::from(c)).sum::<f32>() / 3.0;
                    let tone = if grey > 127.0 {
                        grey - shift
                    } else {
                        grey + shift
                    };
                    pixel.0 = [tone.clamp(0.0, 255.0).round() as u8; 3];
                }
            }
        }
    }
}

/// Adds independent Gaussian noise of standard deviation `sigma` to every channel.
fn add_noise(image: &mut RgbImage, sigma: f32, rng: &mut Rng) {
    for channel in image.iter_mut() {
        // Box-Muller; 1 - u keeps the logarithm finite.
        let (u, v) = (1.0 - rng.next_f32(), rng.next_f32());
        let z = (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos();
        *channel = (f32::from(*channel) + sigma * z).round().clamp(0.0, 255.0) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gvt_scene::SceneRequest;

    fn scene() -> Scene {
        Scene::generate(3, &SceneRequest::new().objects(4, 4)).unwrap()
    }

    fn differing_pixels(a: &RgbImage, b: &RgbImage) -> Vec<(u32, u32)> {
        a.enumerate_pixels()
            .filter(|(x, y, p)| b.get_pixel(*x, *y) != *p)
            .map(|(x, y, _)| (x, y))
            .collect()
    }

    #[test]
    fn the_plain_look_is_the_scene_render() {
        let scene = scene();
        let plain = Look::default().render(&scene, 96).unwrap();
        assert_eq!(plain, scene.render(96).unwrap());
        let small = Look {
            side: Some(24),
            ..Look::default()
        };
        assert_eq!(small.render(&scene, 96).unwrap().dimensions(), (24, 24));
    }

    #[test]
    fn clutter_stays_off_the_objects() {
        let scene = scene();
        let plain = scene.render(128).unwrap();
        let cluttered = Look {
            clutter: 120,
            seed: 5,
            ..Look::default()
        }
        .render(&scene, 128)
        .unwrap();
        let changed = differing_pixels(&plain, &cluttered);
        assert!(changed.len() > 500, "{} pixels changed", changed.len());
        for (x, y) in changed {
            for o in &scene.objects {
                let [x0, y0, x1, y1] = o.bbox_px(128);
                assert!(!(x0..x1).contains(&x) || !(y0..y1).contains(&y));
            }
        }
    }

    #[test]
    fn lookalikes_take_the_target_paint_at_zero_and_their_own_at_one() {
        let request = SceneRequest::new()
            .objects(2, 2)
            .exactly((Color::Red, Shape::Star), 1)
            .exactly((Color::Blue, Shape::Star), 1);
        let scene = Scene::generate(1, &request).unwrap();
        let blue = scene
            .objects
            .iter()
            .find(|o| o.color == Color::Blue)
            .unwrap();
        let center = |img: &RgbImage| {
            let [x, y] = blue.center.map(|t| (t * 128.0) as u32);
            img.get_pixel(x, y).0
        };
        let at = |t: f32| {
            Look {
                lookalikes: Some((Color::Red, Shape::Star, t)),
                ..Look::default()
            }
            .render(&scene, 128)
            .unwrap()
        };
        assert_eq!(center(&at(0.0)), Color::Red.rgb());
        assert_eq!(center(&at(1.0)), Color::Blue.rgb());
        assert_eq!(center(&at(0.5)), [130, 65, 135]);
    }

    #[test]
    fn blur_and_noise_change_the_picture_reproducibly() {
        let scene = scene();
        let plain = scene.render(64).unwrap();
        for look in [
            Look {
                blur: 1.5,
                ..Look::default()
            },
            Look {
                noise: 16.0,
                seed: 2,
                ..Look::default()
            },
        ] {
            let a = look.render(&scene, 64).unwrap();
            assert!(!differing_pixels(&plain, &a).is_empty());
            assert_eq!(a, look.render(&scene, 64).unwrap());
        }
    }
}
