//! The eight shape classes and their exact geometry.
//!
//! Every shape lives in a local frame where its bounding box is the square `[-1, 1]^2`
//! (x right, y down). In the classic proportions it touches all four sides of it, so an
//! object's bounding box is exactly the square it was placed in; varied forms (see
//! [`Forms`]) may leave it narrower along one axis, centred in the same square. A shape is given by a signed distance `sdf(u, v)`: negative
//! inside, and its magnitude never exceeds the true distance to the outline. The rasteriser
//! uses that bound to fill pixels far from the outline in one step and to supersample only the
//! pixels an edge may cross.
//!
//! Only `+ - * /`, `sqrt`, `abs`, `min` and `max` are used (all exactly rounded in IEEE 754),
//! and the star's vertices are constants rather than `sin`/`cos` results, so renders are
//! bit-identical on every platform, wasm included.

use crate::style::{Forms, UPRIGHT};
/// Shape classes of the generated scenes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Shape {
    Circle,
    Square,
    Triangle,
    /// Five-pointed star, point up.
    Star,
    /// Plus sign.
    Cross,
    Heart,
    /// A square standing on a corner.
    Diamond,
    /// Annulus: a circle with a round hole of half its radius.
    Ring,
}

impl Shape {
    /// Every class, in the fixed order used for enumeration and descriptions.
    pub const ALL: [Shape; 8] = [
        Shape::Circle,
        Shape::Square,
        Shape::Triangle,
        Shape::Star,
        Shape::Cross,
        Shape::Heart,
        Shape::Diamond,
        Shape::Ring,
    ];

    /// Singular English name, as in "Does star exist in the image?".
    pub fn name(self) -> &'static str {
        match self {
            Shape::Circle => "circle",
            Shape::Square => "square",
            Shape::Triangle => "triangle",
            Shape::Star => "star",
            Shape::Cross => "cross",
            Shape::Heart => "heart",
            Shape::Diamond => "diamond",
            Shape::Ring => "ring",
        }
    }

    /// Plural English name, as in "How many crosses are there in the image?".
    pub fn plural(self) -> &'static str {
        match self {
            Shape::Circle => "circles",
            Shape::Square => "squares",
            Shape::Triangle => "triangles",
            Shape::Star => "stars",
            Shape::Cross => "crosses",
            Shape::Heart => "hearts",
            Shape::Diamond => "diamonds",
            Shape::Ring => "rings",
        }
    }

    /// Position in [`Shape::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The class named `name` (singular or plural, ASCII case-insensitive).
    pub fn from_name(name: &str) -> Option<Shape> {
        Shape::ALL
            .into_iter()
            .find(|s| name.eq_ignore_ascii_case(s.name()) || name.eq_ignore_ascii_case(s.plural()))
    }

    /// Signed distance from the local point `(u, v)` to the outline (box `[-1, 1]^2`) in the
    /// classic proportions: negative inside; `|sdf|` is at most the true distance, exact for
    /// most shapes.
    pub fn sdf(self, u: f32, v: f32) -> f32 {
        self.sdf_in(u, v, &Forms::default())
    }

    /// [`Shape::sdf`] with the proportions of `forms`, squashed as `forms.squash` says.
    pub fn sdf_in(self, u: f32, v: f32, forms: &Forms) -> f32 {
        let [sx, sy] = forms.squash;
        if sx == 1.0 && sy == 1.0 {
            return self.unsquashed_sdf(u, v, forms);
        }
        // A squashed shape is the shape in stretched coordinates; scaling the distance by the
        // smaller factor keeps it a lower bound of the true one.
        self.unsquashed_sdf(u / sx, v / sy, forms) * sx.min(sy)
    }

    /// How `forms` turns this shape in its box; `None` when it is upright.
    fn turn_in(self, forms: &Forms) -> Option<Turn> {
        let [c, s] = match self {
            Shape::Circle | Shape::Ring => return None,
            Shape::Triangle => {
                let ([c, s], [tc, ts]) = (forms.tilt, forms.triangle_turn);
                [c * tc - s * ts, s * tc + c * ts]
            }
            _ => forms.tilt,
        };
        if [c, s] == UPRIGHT {
            return None;
        }
        if self != Shape::Triangle {
            // The turned box fits: a tilt is small and these shapes fit inside their box.
            let scale = 1.0 / (c.abs() + s.abs());
            return Some(Turn {
                rotation: [c, s],
                scale,
                shift: [0.0; 2],
            });
        }
        // A turned triangle is fitted to its box by its own corners, centred and scaled, as
        // other programs draw one in its bounding box; fitting the turned box instead would
        // shrink it by up to 0.71 (at 45 degrees).
        let (mut low, mut high) = ([f32::MAX; 2], [f32::MIN; 2]);
        for [x, y] in forms.triangle() {
            let turned = [c * x - s * y, s * x + c * y];
            for axis in 0..2 {
                low[axis] = low[axis].min(turned[axis]);
                high[axis] = high[axis].max(turned[axis]);
            }
        }
        let scale = 2.0 / (high[0] - low[0]).max(high[1] - low[1]);
        let shift = [0, 1].map(|axis| -0.5 * scale * (low[axis] + high[axis]));
        Some(Turn {
            rotation: [c, s],
            scale,
            shift,
        })
    }

    fn unsquashed_sdf(self, u: f32, v: f32, forms: &Forms) -> f32 {
        let Some(Turn {
            rotation: [c, s],
            scale: k,
            shift: [du, dv],
        }) = self.turn_in(forms)
        else {
            return self.upright_sdf(u, v, forms);
        };
        // The upright shape scaled by `k`, rotated and shifted: undo the shift, rotate the
        // point back and undo the scale; the distance scales with it.
        let (u, v) = (u - du, v - dv);
        self.upright_sdf((c * u + s * v) / k, (c * v - s * u) / k, forms) * k
    }

    fn upright_sdf(self, u: f32, v: f32, forms: &Forms) -> f32 {
        match self {
            Shape::Circle => (u * u + v * v).sqrt() - 1.0,
            Shape::Square => rect_sdf(u, v, 1.0, 1.0),
            Shape::Triangle => polygon_sdf(u, v, &forms.triangle()),
            Shape::Star => polygon_sdf(u, v, &forms.star()),
            // Union of two bars: exact outside, an under-estimate of the depth inside.
            Shape::Cross => {
                let w = forms.cross_half_width;
                rect_sdf(u, v, 1.0, w).min(rect_sdf(u, v, w, 1.0))
            }
            // Two lobes and the point below them; same union rule as the cross.
            Shape::Heart => {
                let heart = forms.heart();
                // The nearer lobe is the one on the point's side of the axis.
                let [x, y] = heart.lobe;
                let du = u.abs() - x;
                let lobe = (du * du + (v - y) * (v - y)).sqrt() - heart.radius;
                lobe.min(polygon_sdf(u, v, &heart.point))
            }
            // Distance to the nearest edge line: exact inside and beside the edges, an
            // under-estimate beyond the corners.
            Shape::Diamond if forms.diamond_width == 1.0 => {
                (u.abs() + v.abs() - 1.0) * std::f32::consts::FRAC_1_SQRT_2
            }
            // Half width `a`, half height `b`: the distance to the edge lines scaled by the
            // edge's normal, `ab / sqrt(a^2 + b^2)`.
            Shape::Diamond => {
                let [a, b] = forms.diamond_half_extents();
                (u.abs() / a + v.abs() / b - 1.0) * (a * b / (a * a + b * b).sqrt())
            }
            Shape::Ring => {
                let inner = forms.ring_inner;
                let mid = 0.5 * (1.0 + inner);
                ((u * u + v * v).sqrt() - mid).abs() - 0.5 * (1.0 - inner)
            }
        }
    }

    /// Width of the shape's core in local units (the box is 2 wide): the diameter of the
    /// largest disc that fits inside it, which for the ring and the cross is the width of
    /// the band or bar. A cautious bound for the star (the disc reaches the inner vertices,
    /// radius `star_inner` before the stretch) and the heart (a lobe's disc); exact for the
    /// others.
    pub fn core_width_in(self, forms: &Forms) -> f32 {
        let width = match self {
            Shape::Circle | Shape::Square => 2.0,
            // Base 2a, height 2b: the incircle's radius is the area over the half perimeter.
            Shape::Triangle => {
                let [a, b] = forms.triangle_half_extents();
                4.0 * a * b / (a + (a * a + 4.0 * b * b).sqrt())
            }
            Shape::Star => 1.6 * forms.star_inner,
            Shape::Cross => 2.0 * forms.cross_half_width,
            // A lobe's disc.
            Shape::Heart => 2.0 * forms.heart().radius,
            Shape::Diamond => {
                let [a, b] = forms.diamond_half_extents();
                2.0 * a * b / (a * a + b * b).sqrt()
            }
            Shape::Ring => 1.0 - forms.ring_inner,
        };
        let fit = self.turn_in(forms).map_or(1.0, |turn| turn.scale);
        width * fit * forms.squash[0].min(forms.squash[1])
    }

    /// Whether the local point `(u, v)` is inside the shape.
    pub fn contains(self, u: f32, v: f32) -> bool {
        self.sdf(u, v) <= 0.0
    }

    /// [`Shape::contains`] with the proportions of `forms`.
    pub fn contains_in(self, u: f32, v: f32, forms: &Forms) -> bool {
        self.sdf_in(u, v, forms) <= 0.0
    }
}

/// A shape's turn in its box: the upright shape is scaled by `scale` about the box's
/// centre, rotated by `rotation` (`[cos, sin]`, clockwise on screen) and moved by `shift`
/// (box units, the box 2 wide).
struct Turn {
    rotation: [f32; 2],
    scale: f32,
    shift: [f32; 2],
}

/// Inner radius of the ring, relative to its outer radius (classic style).
pub(crate) const RING_INNER: f32 = 0.5;
/// Half the width of each bar of the cross, relative to the half side of its box.
pub(crate) const CROSS_HALF_WIDTH: f32 = 0.3;
/// Inner radius of the star, relative to its outer one.
pub(crate) const STAR_INNER: f32 = 0.45;

/// Regular five-pointed star (inner radius 0.45 of the outer one), point up, then stretched by
/// 5% horizontally and 10% vertically so that it touches all four sides of its box. Vertex
/// `k` is at angle `-90 + 36k` degrees (radius 1 for even `k`, 0.45 for odd `k`), mapped by
/// `x / cos 18°` and `(y + (1 - sin 54°) / 2) / ((1 + sin 54°) / 2)`; see the test that
/// recomputes them.
pub(super) const STAR: [[f32; 2]; 10] = [
    [0.0, -1.0],
    [0.278_115_3, -0.296_919_4],
    [1.0, -0.236_068],
    [0.45, 0.259_311_2],
    [0.618_034, 1.0],
    [0.0, 0.603_080_6],
    [-0.618_034, 1.0],
    [-0.45, 0.259_311_2],
    [-1.0, -0.236_068],
    [-0.278_115_3, -0.296_919_4],
];

/// The classic heart's lobe centres, this many lobe radii from its axis ([`crate::Forms`]).
pub(crate) const HEART_SPACING: f32 = 1.0;
/// The classic heart's tip, this many lobe radii below the lobes' centres.
pub(crate) const HEART_TIP: f32 = 3.0;

/// The lower part of the classic heart: the lobe centres, the points where the tangents
/// from the tip `(0, 1)` touch the lobes (radius 0.5 at `(+-0.5, -0.5)`), and the tip. With
/// these rational points the outline is smooth where the lobes meet the straight sides.
pub(super) const HEART_POINT: [[f32; 2]; 5] = [
    [-0.5, -0.5],
    [0.5, -0.5],
    [0.9, -0.2],
    [0.0, 1.0],
    [-0.9, -0.2],
];

/// Exact signed distance to the axis-aligned rectangle with half extents `(hx, hy)`.
fn rect_sdf(u: f32, v: f32, hx: f32, hy: f32) -> f32 {
    let qx = u.abs() - hx;
    let qy = v.abs() - hy;
    let ox = qx.max(0.0);
    let oy = qy.max(0.0);
    (ox * ox + oy * oy).sqrt() + qx.max(qy).min(0.0)
}

/// Exact signed distance to a simple polygon (any winding): the distance to the nearest edge,
/// negative when the point is inside by the crossing rule.
fn polygon_sdf(u: f32, v: f32, vertices: &[[f32; 2]]) -> f32 {
    let n = vertices.len();
    let mut best = f32::INFINITY;
    let mut inside = false;
    for i in 0..n {
        let [ax, ay] = vertices[i];
        let [bx, by] = vertices[(i + n - 1) % n];
        let (ex, ey) = (bx - ax, by - ay);
        let (wx, wy) = (u - ax, v - ay);
        let t = ((wx * ex + wy * ey) / (ex * ex + ey * ey)).clamp(0.0, 1.0);
        let (dx, dy) = (wx - ex * t, wy - ey * t);
        best = best.min(dx * dx + dy * dy);
        // The edge crosses the horizontal line through the point, to its right.
        let up = v >= ay;
        let down = v < by;
        let left = ex * wy > ey * wx;
        if (up && down && left) || (!up && !down && !left) {
            inside = !inside;
        }
    }
    let d = best.sqrt();
    if inside { -d } else { d }
}
