//! How a scene is drawn beyond what it holds: the shapes' proportions and tilt, hard or
//! smooth edges, an outline. [`Style::default`] is the classic look every model so far was
//! trained and tested on; a varied style, drawn per scene when a request asks for one
//! ([`crate::SceneRequest::varied_style`]), shows a model other drawing styles with the same
//! exact ground truth (labels and answers follow the drawn outlines).

use gvt_core::rng::Rng;

use crate::render::{Background, BackgroundKind};
use crate::shapes::{
    CROSS_HALF_WIDTH, HEART_POINT, HEART_SPACING, HEART_TIP, RING_INNER, STAR, STAR_INNER,
};
use crate::{Object, Shape};

/// Proportions of the shapes whose form is not fixed by their box.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Forms {
    /// Inner radius of the star's five-point outline, relative to the outer one.
    pub star_inner: f32,
    /// Inner radius of the ring, relative to its outer radius.
    pub ring_inner: f32,
    /// Half the width of each bar of the cross, relative to the half side of its box.
    pub cross_half_width: f32,
    /// The diamond's width over its height; the longer of the two spans its box.
    pub diamond_width: f32,
    /// The triangle's base over its height; the longer of the two spans its box.
    pub triangle_width: f32,
    /// How far each of the heart's two lobes (discs) lies from its axis, relative to the
    /// lobe's radius: 1 when the lobes just touch, less when they overlap.
    pub heart_spacing: f32,
    /// How far the heart's tip lies below the lobes' centres, relative to the lobe's
    /// radius: short tips make a squat heart, long ones a slender one.
    pub heart_tip: f32,
    /// Every shape's extent along x and along y, relative to its box: below 1 on one axis
    /// when the picture was drawn on a non-square canvas and stretched to a square, as
    /// `gvt_core::preprocess` stretches a photo.
    pub squash: [f32; 2],
    /// A rotation of every shape but the circle and the ring (which it leaves unchanged),
    /// as `[cos, sin]` (clockwise on screen, y down); `[1, 0]` for none. A rotated shape is
    /// scaled down by `1 / (|cos| + |sin|)`, so that it stays inside its box.
    pub tilt: [f32; 2],
    /// A further rotation of the triangle alone, by any angle: other programs draw
    /// triangles pointing every way, while the tilt stays small (a square turned by 45
    /// degrees would be a diamond). In a scene, each triangle adds a turn of its own to this
    /// one ([`Forms::for_object`]), so that its triangles point different ways. A turned
    /// triangle is centred and scaled to fit its box by its own corners, not by the turned
    /// box, as other programs draw one in its bounding box.
    pub triangle_turn: [f32; 2],
}

/// No rotation: `[cos 0, sin 0]`.
pub(crate) const UPRIGHT: [f32; 2] = [1.0, 0.0];

/// The rotation `[cos, sin]` by `2 atan(t)`, from rational functions of `t` so that it is
/// bit-identical everywhere (no transcendental functions).
pub(crate) fn rotation_from_half_tangent(t: f32) -> [f32; 2] {
    let d = 1.0 + t * t;
    [(1.0 - t * t) / d, 2.0 * t / d]
}

/// A turn by any angle: -90 to 90 degrees, half of them then flipped by 180.
fn random_turn(rng: &mut Rng) -> [f32; 2] {
    let [c, s] = rotation_from_half_tangent(rng.range_f32(-1.0, 1.0));
    if rng.chance(0.5) { [-c, -s] } else { [c, s] }
}

/// Largest tilt of a varied style: `tan(10°)`, the half tangent of 20 degrees.
const MAX_TILT_HALF_TANGENT: f32 = 0.176_327;
/// Shares of varied scenes whose shapes are tilted, and whose triangles are turned.
const TILTED_SHARE: f32 = 0.6;
const TURNED_SHARE: f32 = 0.75;

impl Default for Forms {
    fn default() -> Self {
        Forms {
            star_inner: STAR_INNER,
            ring_inner: RING_INNER,
            cross_half_width: CROSS_HALF_WIDTH,
            diamond_width: 1.0,
            triangle_width: 1.0,
            heart_spacing: HEART_SPACING,
            heart_tip: HEART_TIP,
            squash: [1.0, 1.0],
            tilt: UPRIGHT,
            triangle_turn: UPRIGHT,
        }
    }
}

impl Forms {
    /// The diamond's half width and half height in its box's units (the box is 2 wide):
    /// the longer one is 1.
    pub(crate) fn diamond_half_extents(&self) -> [f32; 2] {
        half_extents(self.diamond_width)
    }

    /// The triangle's half base and half height in its box's units: the longer one is 1.
    pub(crate) fn triangle_half_extents(&self) -> [f32; 2] {
        half_extents(self.triangle_width)
    }

    /// The upright triangle's corners: apex up, half base `a`, half height `b` (classic:
    /// both 1).
    pub(crate) fn triangle(&self) -> [[f32; 2]; 3] {
        let [a, b] = self.triangle_half_extents();
        [[0.0, -b], [a, b], [-a, b]]
    }

    /// The forms `object` is drawn with: these, except that a turned triangle is turned
    /// further by an angle of its own, drawn from its centre's bits (so the same object is
    /// always turned the same way, bit-identically, and the scene's objects stay as they
    /// are in the classic style).
    pub fn for_object(&self, object: &Object) -> Forms {
        if object.shape != Shape::Triangle || self.triangle_turn == UPRIGHT {
            return *self;
        }
        let [x, y] = object.center.map(f32::to_bits);
        let mut rng = Rng::new(u64::from(x) << 32 | u64::from(y));
        let [oc, os] = random_turn(&mut rng);
        let [c, s] = self.triangle_turn;
        Forms {
            triangle_turn: [c * oc - s * os, s * oc + c * os],
            ..*self
        }
    }

    /// The star's vertices: the classic constants for the classic radius, so classic renders
    /// stay bit-identical.
    pub(crate) fn star(&self) -> [[f32; 2]; 10] {
        if self.star_inner == STAR_INNER {
            STAR
        } else {
            star_vertices(self.star_inner)
        }
    }

    /// The heart's outline: the classic constants for the classic proportions, so classic
    /// renders stay bit-identical.
    pub(crate) fn heart(&self) -> Heart {
        if self.heart_spacing == HEART_SPACING && self.heart_tip == HEART_TIP {
            CLASSIC_HEART
        } else {
            heart_outline(self.heart_spacing, self.heart_tip)
        }
    }
}

/// A heart in its box `[-1, 1]^2`: two discs of `radius`, centred at `lobe` and at its
/// mirror image across the vertical axis, and the point below them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Heart {
    /// Centre of the right lobe.
    pub lobe: [f32; 2],
    pub radius: f32,
    /// The point: both lobe centres, the right lobe's tangent point, the tip, the left
    /// lobe's tangent point. Its sides are tangent to the lobes, so the outline is smooth
    /// where the lobes meet the straight sides.
    pub point: [[f32; 2]; 5],
}

/// The classic heart: lobes of radius 0.5 centred at `(+-0.5, -0.5)`, the tip at `(0, 1)`.
const CLASSIC_HEART: Heart = Heart {
    lobe: HEART_POINT[1],
    radius: 0.5,
    point: HEART_POINT,
};

/// The heart with lobes `spacing` radii from its axis and the tip `tip` radii below their
/// centres, centred in its box with its longer axis spanning it: `2 (spacing + 1)` radii
/// wide and `1 + tip` radii tall. Needs `spacing >= 0` and `tip > 1`, so that the tip is
/// the lowest point and lies outside the lobes (the varied ranges are 0.6-1.0 and 1.9-3.2).
pub(crate) fn heart_outline(spacing: f32, tip: f32) -> Heart {
    debug_assert!(spacing >= 0.0 && tip > 1.0, "heart {spacing} {tip}");
    let r = 2.0 / (2.0 * (spacing + 1.0)).max(1.0 + tip);
    // The lobes' top at -(1 + tip) r / 2, the tip at +(1 + tip) r / 2.
    let y = 0.5 * r * (1.0 - tip);
    let lobe = [spacing * r, y];
    let apex = [0.0, y + tip * r];
    // From the lobe's centre toward the tip, and the outward normal of that direction.
    let to_tip = [apex[0] - lobe[0], apex[1] - lobe[1]];
    let outward = [to_tip[1], -to_tip[0]];
    let d2 = to_tip[0] * to_tip[0] + to_tip[1] * to_tip[1];
    // The tangent point: r cos(a) along `to_tip` and r sin(a) along `outward`, where
    // cos(a) = r / d and sin(a) = sqrt(d^2 - r^2) / d.
    let along = r * r / d2;
    let across = r * (d2 - r * r).sqrt() / d2;
    let touch = [
        lobe[0] + along * to_tip[0] + across * outward[0],
        lobe[1] + along * to_tip[1] + across * outward[1],
    ];
    Heart {
        lobe,
        radius: r,
        point: [[-lobe[0], y], lobe, touch, apex, [-touch[0], touch[1]]],
    }
}

/// Half width and half height of a shape whose width over height is `ratio` and whose
/// longer axis spans its box (2 wide).
fn half_extents(ratio: f32) -> [f32; 2] {
    if ratio <= 1.0 {
        [ratio, 1.0]
    } else {
        [1.0, 1.0 / ratio]
    }
}

/// Unit vectors at `-90 + 36k` degrees, `k = 0..10`: the star's vertex directions, as
/// constants so that varied stars, like the classic one, render bit-identically everywhere
/// (no `sin`/`cos` at run time).
const STAR_DIRECTIONS: [[f32; 2]; 10] = [
    [0.0, -1.0],
    [0.587_785_25, -0.809_017],
    [0.951_056_5, -0.309_017],
    [0.951_056_5, 0.309_017],
    [0.587_785_25, 0.809_017],
    [0.0, 1.0],
    [-0.587_785_25, 0.809_017],
    [-0.951_056_5, 0.309_017],
    [-0.951_056_5, -0.309_017],
    [-0.587_785_25, -0.809_017],
];
/// cos 18° and sin 54°: the outer points' extent, which the box is stretched to.
const COS_18: f32 = 0.951_056_5;
const SIN_54: f32 = 0.809_017;

/// The vertices of a regular five-pointed star with inner radius `inner` (point up), mapped
/// so that its outer points touch all four sides of the box `[-1, 1]^2`: radius 1 (even
/// `k`) or `inner` (odd `k`) along [`STAR_DIRECTIONS`], then `x / cos 18°` and
/// `(y + (1 - sin 54°) / 2) / ((1 + sin 54°) / 2)`.
pub(crate) fn star_vertices(inner: f32) -> [[f32; 2]; 10] {
    std::array::from_fn(|k| {
        let r = if k % 2 == 0 { 1.0 } else { inner };
        let [x, y] = STAR_DIRECTIONS[k].map(|c| r * c);
        [
            x / COS_18,
            (y + (1.0 - SIN_54) / 2.0) / ((1.0 + SIN_54) / 2.0),
        ]
    })
}

/// How a scene is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Style {
    pub forms: Forms,
    /// Smooth (anti-aliased) edges; hard ones otherwise, a pixel in when its centre is.
    pub antialias: bool,
    /// Width of an outline in a darker shade of each shape's colour, in pixels of a
    /// 128-pixel render (it scales with the render); 0 for none. The outline lies inside the
    /// shape, so the shape's extent and the ground truth are the same with or without it.
    pub outline: f32,
}

impl Default for Style {
    fn default() -> Self {
        Style {
            forms: Forms::default(),
            antialias: true,
            outline: 0.0,
        }
    }
}

/// Share of varied scenes drawn on white.
const WHITE_SHARE: f32 = 0.3;

impl Style {
    /// A varied style: proportions over the ranges other drawing programs use, half the
    /// scenes squashed along one axis (a canvas up to 2:1 stretched to a square), shapes
    /// tilted by up to 20 degrees in [`TILTED_SHARE`] of the scenes and triangles turned
    /// any way in [`TURNED_SHARE`], hard edges half the time, an outline a third of the
    /// time on light backgrounds (on dark ones the darker shade would fade into the
    /// background); and the background to draw on: white for [`WHITE_SHARE`] of the scenes
    /// unless the request named a kind other than plain (`kind`), `background` otherwise.
    pub fn random(
        rng: &mut Rng,
        background: Background,
        kind: Option<BackgroundKind>,
    ) -> (Style, Background) {
        let mut forms = Forms {
            star_inner: rng.range_f32(0.32, 0.58),
            ring_inner: rng.range_f32(0.3, 0.75),
            cross_half_width: rng.range_f32(0.18, 0.45),
            diamond_width: rng.range_f32(0.62, 1.35),
            triangle_width: rng.range_f32(0.7, 1.35),
            heart_spacing: rng.range_f32(0.6, 1.0),
            heart_tip: rng.range_f32(1.9, 3.2),
            squash: [1.0, 1.0],
            tilt: UPRIGHT,
            triangle_turn: UPRIGHT,
        };
        if rng.chance(0.5) {
            let factor = rng.range_f32(0.5, 0.95);
            forms.squash = if rng.chance(0.5) {
                [factor, 1.0]
            } else {
                [1.0, factor]
            };
        }
        let antialias = rng.chance(0.5);
        let outline = if rng.chance(1.0 / 3.0) {
            rng.range_f32(1.0, 2.0)
        } else {
            0.0
        };
        let white = rng.chance(WHITE_SHARE);
        let background = if white && matches!(kind, None | Some(BackgroundKind::Plain)) {
            Background::Plain {
                color: [255, 255, 255],
            }
        } else {
            background
        };
        let outline = if background.is_light() { outline } else { 0.0 };
        if rng.chance(TILTED_SHARE) {
            let t = rng.range_f32(-MAX_TILT_HALF_TANGENT, MAX_TILT_HALF_TANGENT);
            forms.tilt = rotation_from_half_tangent(t);
        }
        if rng.chance(TURNED_SHARE) {
            forms.triangle_turn = random_turn(rng);
        }
        let style = Style {
            forms,
            antialias,
            outline,
        };
        (style, background)
    }
}
