//! Backgrounds and the anti-aliased rasteriser.
//!
//! A render of side `S` samples the scene at pixel centres `((px + 0.5) / S, (py + 0.5) / S)`
//! of the normalised scene, so every side shows the same scene. The background is evaluated
//! per pixel; each object is then blended over it in painting order with its coverage of the
//! pixel, measured by 4x4 supersampling. Pixels whose centre is more than 0.6 px from the
//! shape's outline (by the shape's signed distance, see `shapes`) are entirely in or out and
//! skip the supersampling, which keeps a 128 px scene well under a millisecond. Nothing
//! outside an object's [`Object::bbox_px`] is touched.
//!
//! Backgrounds are low-saturation tones (grey plus at most +-10 per channel) from one of two
//! families, dark (25-85) or light (170-230), with at most +-20 of texture, so every
//! background pixel stays far from every (saturated) object colour.

use image::RgbImage;

use super::{Object, Rng, Scene, SceneError, Style, mix64};

/// Largest render side accepted by [`Scene::render`].
pub const MAX_RENDER_SIDE: u32 = 4096;

/// Supersampling grid per axis for edge pixels.
const SUPERSAMPLE: usize = 4;
/// Pixels whose centre is farther than this (in pixels) from the outline are not
/// supersampled: the farthest sample is `0.375 * sqrt(2) = 0.53` px from the centre.
const EDGE_BAND_PX: f32 = 0.6;
/// The outline's colour: the fill's, this much darker.
const OUTLINE_SHADE: f32 = 0.55;
/// Outlines thinner than this (in pixels of the render) are not drawn: they would only tint
/// the edge.
const MIN_OUTLINE_PX: f32 = 0.75;

/// The outline's width in pixels of a render `side` px wide, for a style's `outline` (in
/// pixels at 128 px) around a shape whose core (the largest disc inside it, the ring's
/// band, the cross's bar) is `core` px wide: at most a third of the core and leaving at
/// least two pixels of it, so that its fill colour always shows there, smooth edges
/// included; none when that leaves under [`MIN_OUTLINE_PX`].
pub(crate) fn outline_px(outline: f32, core: f32, side: f32) -> f32 {
    let outline = (outline * side / 128.0)
        .min(core / 3.0)
        .min(0.5 * (core - 2.0));
    if outline < MIN_OUTLINE_PX {
        0.0
    } else {
        outline
    }
}

/// Kinds of background, named as in the descriptions ("on a gradient background").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BackgroundKind {
    /// One flat tone.
    Plain,
    /// A linear blend between two tones of the same family.
    Gradient,
    /// Smooth value noise (blotches a few cells across the image).
    Texture,
    /// Fine random speckle (blocky noise of 48 to 96 cells per side).
    Speckle,
}

impl BackgroundKind {
    pub const ALL: [BackgroundKind; 4] = [
        BackgroundKind::Plain,
        BackgroundKind::Gradient,
        BackgroundKind::Texture,
        BackgroundKind::Speckle,
    ];

    /// The adjective used in descriptions: "plain", "gradient", "textured", "speckled".
    pub fn name(self) -> &'static str {
        match self {
            BackgroundKind::Plain => "plain",
            BackgroundKind::Gradient => "gradient",
            BackgroundKind::Texture => "textured",
            BackgroundKind::Speckle => "speckled",
        }
    }

    /// The kind named `name`: its adjective ("textured") or its noun ("texture"), ASCII
    /// case-insensitive.
    pub fn from_name(name: &str) -> Option<BackgroundKind> {
        BackgroundKind::ALL.into_iter().find(|k| {
            name.eq_ignore_ascii_case(k.name()) || name.eq_ignore_ascii_case(&format!("{k:?}"))
        })
    }
}

/// Direction in which a gradient runs from its first to its second tone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GradientDirection {
    /// Left to right.
    Horizontal,
    /// Top to bottom.
    Vertical,
    /// Top left to bottom right.
    DiagonalDown,
    /// Bottom left to top right.
    DiagonalUp,
}

/// A scene's background; colours are sRGB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Background {
    Plain {
        color: [u8; 3],
    },
    Gradient {
        from: [u8; 3],
        to: [u8; 3],
        direction: GradientDirection,
    },
    /// `base` plus `amplitude` times smooth value noise in [-1, 1] on a `cells` x `cells`
    /// lattice, the same offset on all channels.
    Texture {
        base: [u8; 3],
        amplitude: u8,
        cells: u32,
        seed: u64,
    },
    /// `base` plus `amplitude` times a random value in [-1, 1] per cell of a `cells` x `cells`
    /// grid (no interpolation).
    Speckle {
        base: [u8; 3],
        amplitude: u8,
        cells: u32,
        seed: u64,
    },
}

impl Background {
    /// Which kind this is.
    pub fn kind(&self) -> BackgroundKind {
        match self {
            Background::Plain { .. } => BackgroundKind::Plain,
            Background::Gradient { .. } => BackgroundKind::Gradient,
            Background::Texture { .. } => BackgroundKind::Texture,
            Background::Speckle { .. } => BackgroundKind::Speckle,
        }
    }

    /// Whether this is a light background (the light family or white), where a darker
    /// outline stands out; dark ones are at most 85 + 20 per channel.
    pub fn is_light(&self) -> bool {
        let tone = match self {
            Background::Plain { color } => color,
            Background::Gradient { from, .. } => from,
            Background::Texture { base, .. } | Background::Speckle { base, .. } => base,
        };
        tone.iter().map(|&c| u32::from(c)).sum::<u32>() >= 3 * 128
    }

    /// A random background of `kind` (or of a uniformly drawn kind).
    pub fn random(rng: &mut Rng, kind: Option<BackgroundKind>) -> Background {
        let kind =
            kind.unwrap_or_else(|| BackgroundKind::ALL[rng.below(BackgroundKind::ALL.len())]);
        // Dark or light family: grey levels [lo, lo + 60].
        let lo = if rng.chance(0.5) { 25.0 } else { 170.0 };
        match kind {
            BackgroundKind::Plain => Background::Plain {
                color: tone(rng, lo, lo + 60.0),
            },
            BackgroundKind::Gradient => {
                // Ends at least 35 levels apart, so the gradient shows.
                let mut a = tone(rng, lo, lo + 25.0);
                let mut b = tone(rng, lo + 35.0, lo + 60.0);
                if rng.chance(0.5) {
                    std::mem::swap(&mut a, &mut b);
                }
                let direction = [
                    GradientDirection::Horizontal,
                    GradientDirection::Vertical,
                    GradientDirection::DiagonalDown,
                    GradientDirection::DiagonalUp,
                ][rng.below(4)];
                Background::Gradient {
                    from: a,
                    to: b,
                    direction,
                }
            }
            BackgroundKind::Texture => Background::Texture {
                base: tone(rng, lo, lo + 60.0),
                amplitude: 10 + rng.below(11) as u8,
                cells: 3 + rng.below(6) as u32,
                seed: rng.next_u64(),
            },
            BackgroundKind::Speckle => Background::Speckle {
                base: tone(rng, lo, lo + 60.0),
                amplitude: 10 + rng.below(11) as u8,
                cells: 48 + rng.below(49) as u32,
                seed: rng.next_u64(),
            },
        }
    }

    /// The unrounded colour at the normalised point `(x, y)`; pixels hold it rounded.
    pub fn color_at(&self, x: f32, y: f32) -> [f32; 3] {
        match *self {
            Background::Plain { color } => color.map(f32::from),
            Background::Gradient {
                from,
                to,
                direction,
            } => {
                let t = match direction {
                    GradientDirection::Horizontal => x,
                    GradientDirection::Vertical => y,
                    GradientDirection::DiagonalDown => 0.5 * (x + y),
                    GradientDirection::DiagonalUp => 0.5 * (x + 1.0 - y),
                }
                .clamp(0.0, 1.0);
                let mut out = [0.0; 3];
                for c in 0..3 {
                    let (a, b) = (f32::from(from[c]), f32::from(to[c]));
                    out[c] = a + (b - a) * t;
                }
                out
            }
            Background::Texture {
                base,
                amplitude,
                cells,
                seed,
            } => {
                let n = value_noise(x * cells as f32, y * cells as f32, seed);
                base.map(|b| f32::from(b) + f32::from(amplitude) * n)
            }
            Background::Speckle {
                base,
                amplitude,
                cells,
                seed,
            } => {
                let n = lattice(
                    (x * cells as f32).floor() as i64,
                    (y * cells as f32).floor() as i64,
                    seed,
                );
                base.map(|b| f32::from(b) + f32::from(amplitude) * n)
            }
        }
    }
}

/// A grey level drawn in `[lo, hi)`, tinted by at most 10 per channel.
fn tone(rng: &mut Rng, lo: f32, hi: f32) -> [u8; 3] {
    let level = rng.range_f32(lo, hi);
    [0u8; 3].map(|_| to_u8(level + rng.range_f32(-10.0, 10.0)))
}

fn to_u8(v: f32) -> u8 {
    v.round().clamp(0.0, 255.0) as u8
}

/// Random value in [-1, 1] at the lattice point `(ix, iy)`.
fn lattice(ix: i64, iy: i64, seed: u64) -> f32 {
    let h = mix64(seed ^ mix64((ix as u64) << 32 ^ (iy as u64 & 0xFFFF_FFFF)));
    (h >> 40) as f32 * (2.0 / 16_777_216.0) - 1.0
}

/// Bilinear interpolation of the lattice values with smoothstep weights.
fn value_noise(x: f32, y: f32, seed: u64) -> f32 {
    let (fx, fy) = (x.floor(), y.floor());
    let (ix, iy) = (fx as i64, fy as i64);
    let smooth = |t: f32| t * t * (3.0 - 2.0 * t);
    let (tx, ty) = (smooth(x - fx), smooth(y - fy));
    let a = lattice(ix, iy, seed);
    let b = lattice(ix + 1, iy, seed);
    let c = lattice(ix, iy + 1, seed);
    let d = lattice(ix + 1, iy + 1, seed);
    let top = a + (b - a) * tx;
    let bottom = c + (d - c) * tx;
    top + (bottom - top) * ty
}

impl Scene {
    /// Renders the scene as a `side` x `side` image (1 to [`MAX_RENDER_SIDE`] pixels).
    pub fn render(&self, side: u32) -> Result<RgbImage, SceneError> {
        if side == 0 || side > MAX_RENDER_SIDE {
            return Err(SceneError::RenderSide(side));
        }
        let mut image = RgbImage::new(side, side);
        self.render_into(&mut image)?;
        Ok(image)
    }

    /// Renders the scene into `image`, which must be a non-empty square (reuse one buffer
    /// across many scenes when training).
    pub fn render_into(&self, image: &mut RgbImage) -> Result<(), SceneError> {
        self.render_into_with(image, |object| object.color.rgb())
    }

    /// Renders the scene into `image` with each object painted in `paint(object)` instead of
    /// its colour's sRGB value: probes draw look-alike colours this way, while the ground
    /// truth keeps the objects' real colours.
    pub fn render_into_with(
        &self,
        image: &mut RgbImage,
        paint: impl Fn(&Object) -> [u8; 3],
    ) -> Result<(), SceneError> {
        let (width, height) = image.dimensions();
        if width == 0 || width != height {
            return Err(SceneError::RenderTarget { width, height });
        }
        let side = width;
        let inv = 1.0 / side as f32;
        for (px, py, pixel) in image.enumerate_pixels_mut() {
            let c = self
                .background
                .color_at((px as f32 + 0.5) * inv, (py as f32 + 0.5) * inv);
            pixel.0 = c.map(to_u8);
        }
        for object in &self.objects {
            paint_object(image, object, paint(object), side, &self.style);
        }
        Ok(())
    }
}

/// Blends `object`, in `rgb`, over the pixels of its box, drawn in `style`.
fn paint_object(image: &mut RgbImage, object: &Object, rgb: [u8; 3], side: u32, style: &Style) {
    let [x0, y0, x1, y1] = object.bbox_px(side);
    let s = side as f32;
    let half = 0.5 * object.side();
    if half <= 0.0 {
        return;
    }
    let [cx, cy] = [
        0.5 * (object.bbox[0] + object.bbox[2]),
        0.5 * (object.bbox[1] + object.bbox[3]),
    ];
    // Local units (box = [-1, 1]^2) per pixel, and pixels per local unit.
    let step = 1.0 / (half * s);
    let px_per_unit = half * s;
    let color = rgb.map(f32::from);
    let shade = color.map(|c| c * OUTLINE_SHADE);
    let forms = &style.forms.for_object(object);
    let outline = outline_px(
        style.outline,
        object.shape.core_width_in(forms) * px_per_unit,
        s,
    );
    let sub = 1.0 / SUPERSAMPLE as f32;
    for py in y0..y1 {
        let v = ((py as f32 + 0.5) / s - cy) / half;
        for px in x0..x1 {
            let u = ((px as f32 + 0.5) / s - cx) / half;
            let d = object.shape.sdf_in(u, v, forms) * px_per_unit;
            let coverage = if !style.antialias {
                // Hard edges: the pixel is in when its centre is.
                if d > 0.0 {
                    continue;
                }
                1.0
            } else if d >= EDGE_BAND_PX {
                continue;
            } else if d <= -EDGE_BAND_PX {
                1.0
            } else {
                let mut inside = 0usize;
                for sy in 0..SUPERSAMPLE {
                    let sv = v + ((sy as f32 + 0.5) * sub - 0.5) * step;
                    for sx in 0..SUPERSAMPLE {
                        let su = u + ((sx as f32 + 0.5) * sub - 0.5) * step;
                        inside += usize::from(object.shape.contains_in(su, sv, forms));
                    }
                }
                if inside == 0 {
                    continue;
                }
                inside as f32 / (SUPERSAMPLE * SUPERSAMPLE) as f32
            };
            // The outline band lies inside the shape, within `outline` of its edge.
            let fill = if outline > 0.0 && d > -outline {
                &shade
            } else {
                &color
            };
            let pixel = image.get_pixel_mut(px, py);
            for (channel, &target) in pixel.0.iter_mut().zip(fill) {
                let old = f32::from(*channel);
                *channel = to_u8(old + (target - old) * coverage);
            }
        }
    }
}
