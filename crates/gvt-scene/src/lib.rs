//! Procedural scenes with exact ground truth, and questions about them.
//!
//! GVT Lens trains its embedded default model on generated images, because the skills that
//! GVTBench measures (object counting "OC", multi-class identification "MCI") need labels that
//! are exactly right, and because the generator runs everywhere the model does (CLI, desktop,
//! browser). This module is that generator:
//!
//! - a [`Scene`] is a seed, a [`Background`] and 0 to [`MAX_OBJECTS`] [`Object`]s (a
//!   [`Shape`] of 8 classes, a [`Color`] of 6, a [`Size`] of 3), with every position and size
//!   in normalised `[0, 1]` coordinates (x right, y down), so one scene renders at any square
//!   side ([`Scene::render`]) with the same ground truth: a large picture for the UI and a
//!   small one for the model;
//! - [`Scene::generate`] makes the scene of a seed under a [`SceneRequest`]: by default 0 to 9
//!   random objects, or constraints for probing ("exactly 5 red stars", "no hearts",
//!   "exactly 7 objects"); a request that no scene can satisfy is a [`SceneError`];
//! - [`qa`] turns a scene into questions and answers: the GVTBench templates verbatim plus
//!   colour-qualified counting, colour, position and a one-sentence description, and assigns
//!   each seed to a held-out split ([`qa::Split`]).
//!
//! Design choices that keep the labels exact:
//! - every shape is centred in its square box and, in the classic style, touches its four
//!   sides, so the box is tight (a varied style may draw it narrower along one axis, or
//!   tilted and scaled down to stay inside it);
//! - objects stay [`EDGE_MARGIN`] inside the image; objects of different colours may overlap,
//!   but by at most [`MAX_OVERLAP`] of the smaller box, and objects of the same colour never
//!   touch (two same-coloured squares side by side would read as one rectangle), so a person
//!   can count every object;
//! - if random placement fails a few times, the objects go to a jittered 3x3 grid where they
//!   always fit, so the requested count is always the true count;
//! - backgrounds are low-saturation dark or light tones, far in RGB from every object colour
//!   (the tests check at least [`MIN_BACKGROUND_DISTANCE`]);
//! - all randomness comes from [`Rng`] (SplitMix64) and rendering uses only exactly rounded
//!   float operations, so a seed gives the same pixels on every platform, wasm included.
//!
//! ```
//! use gvt_scene::{Color, Scene, SceneRequest, Shape};
//!
//! let request = SceneRequest::new().exactly((Color::Red, Shape::Star), 5);
//! let scene = Scene::generate(7, &request)?;
//! assert_eq!(scene.count((Color::Red, Shape::Star)), 5);
//! let image = scene.render(224)?; // image::RgbImage
//! assert_eq!(image.dimensions(), (224, 224));
//! # Ok::<(), gvt_scene::SceneError>(())
//! ```

pub mod edit;
pub mod labels;
pub mod qa;
mod render;
mod request;
mod shapes;
mod style;

#[cfg(test)]
mod tests;

pub use edit::Edit;
pub use gvt_core::rng::{Rng, mix64};
pub use labels::PatchLabels;
pub use render::{Background, BackgroundKind, GradientDirection, MAX_RENDER_SIDE};
pub use request::{Constraint, Filter, MAX_CONSTRAINTS, SceneRequest};
pub use shapes::Shape;
pub use style::{Forms, Style};

/// Most objects in one scene (GVTBench's OC answers run from 1 to 9).
pub const MAX_OBJECTS: usize = 9;
/// Smallest gap between an object's box and the image border, as a fraction of the side.
pub const EDGE_MARGIN: f32 = 0.01;
/// Largest part of the smaller of two boxes that another box of a different colour may cover.
pub const MAX_OVERLAP: f32 = 0.10;
/// Smallest gap between the boxes of two objects of the same colour.
pub const SAME_COLOR_GAP: f32 = 0.01;
/// Relative jitter of an object's side around its size's nominal value: sizes never mix up.
pub const SIZE_JITTER: f32 = 0.06;
/// Distance of an object's centre from the 3x3 grid lines below which its position word is
/// considered ambiguous (and position questions about it are not asked).
pub const POSITION_MARGIN: f32 = 0.04;
/// Least RGB (Euclidean, 0-255) distance between any background pixel and any object colour.
pub const MIN_BACKGROUND_DISTANCE: f32 = 80.0;

/// Object colours: saturated, far apart from each other and from every background.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Color {
    Red,
    Green,
    Blue,
    Yellow,
    Purple,
    Orange,
}

impl Color {
    /// Every colour, in the fixed order used for enumeration and descriptions.
    pub const ALL: [Color; 6] = [
        Color::Red,
        Color::Green,
        Color::Blue,
        Color::Yellow,
        Color::Purple,
        Color::Orange,
    ];

    /// English name, lowercase.
    pub fn name(self) -> &'static str {
        match self {
            Color::Red => "red",
            Color::Green => "green",
            Color::Blue => "blue",
            Color::Yellow => "yellow",
            Color::Purple => "purple",
            Color::Orange => "orange",
        }
    }

    /// The sRGB value objects of this colour are painted with.
    pub fn rgb(self) -> [u8; 3] {
        match self {
            Color::Red => [220, 40, 40],
            Color::Green => [40, 170, 60],
            Color::Blue => [40, 90, 230],
            Color::Yellow => [245, 215, 40],
            Color::Purple => [150, 60, 200],
            Color::Orange => [245, 135, 30],
        }
    }

    /// Position in [`Color::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The colour named `name` (ASCII case-insensitive).
    pub fn from_name(name: &str) -> Option<Color> {
        Color::ALL
            .into_iter()
            .find(|c| name.eq_ignore_ascii_case(c.name()))
    }
}

/// Object sizes, by the side of the object's square box relative to the image side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Size {
    Small,
    Medium,
    Large,
}

impl Size {
    /// Every size, smallest first.
    pub const ALL: [Size; 3] = [Size::Small, Size::Medium, Size::Large];

    /// English name, lowercase.
    pub fn name(self) -> &'static str {
        match self {
            Size::Small => "small",
            Size::Medium => "medium",
            Size::Large => "large",
        }
    }

    /// Nominal side of the box as a fraction of the image side; the actual side is within
    /// [`SIZE_JITTER`] of it (small 0.113-0.127, medium 0.169-0.191, large 0.244-0.276).
    pub fn fraction(self) -> f32 {
        match self {
            Size::Small => 0.12,
            Size::Medium => 0.18,
            Size::Large => 0.26,
        }
    }

    /// Position in [`Size::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The size named `name` (ASCII case-insensitive).
    pub fn from_name(name: &str) -> Option<Size> {
        Size::ALL
            .into_iter()
            .find(|z| name.eq_ignore_ascii_case(z.name()))
    }
}

/// Cell of the 3x3 grid an object's centre falls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Position {
    TopLeft,
    Top,
    TopRight,
    Left,
    Center,
    Right,
    BottomLeft,
    Bottom,
    BottomRight,
}

impl Position {
    /// Row-major, top left first.
    pub const ALL: [Position; 9] = [
        Position::TopLeft,
        Position::Top,
        Position::TopRight,
        Position::Left,
        Position::Center,
        Position::Right,
        Position::BottomLeft,
        Position::Bottom,
        Position::BottomRight,
    ];

    /// Index into [`Position::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The answer word(s): "top left", "top", ..., "center", ..., "bottom right".
    pub fn word(self) -> &'static str {
        match self {
            Position::TopLeft => "top left",
            Position::Top => "top",
            Position::TopRight => "top right",
            Position::Left => "left",
            Position::Center => "center",
            Position::Right => "right",
            Position::BottomLeft => "bottom left",
            Position::Bottom => "bottom",
            Position::BottomRight => "bottom right",
        }
    }

    /// The cell of the normalised point `[x, y]` (thirds of the image; out-of-range points
    /// count as the nearest border cell).
    pub fn of(point: [f32; 2]) -> Position {
        let third = |t: f32| {
            if t < 1.0 / 3.0 {
                0
            } else if t < 2.0 / 3.0 {
                1
            } else {
                2
            }
        };
        Position::ALL[3 * third(point[1]) + third(point[0])]
    }
}

/// One object of a scene and its ground truth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Object {
    pub shape: Shape,
    pub color: Color,
    pub size: Size,
    /// Centre `[x, y]`, normalised (x right, y down): the middle of `bbox`.
    pub center: [f32; 2],
    /// Tight bounding box `[x0, y0, x1, y1]`, normalised: a square whose four sides the shape
    /// touches. Rendering reads the geometry from here.
    pub bbox: [f32; 4],
}

impl Object {
    /// Side of the square box, normalised.
    pub fn side(&self) -> f32 {
        self.bbox[2] - self.bbox[0]
    }

    /// The pixels `[x0, y0, x1, y1]` (x1, y1 exclusive) that a render of side `side` may paint
    /// for this object: the box scaled to pixels and rounded outwards. Nothing outside is
    /// touched.
    pub fn bbox_px(&self, side: u32) -> [u32; 4] {
        let s = side as f32;
        let lo = |t: f32| ((t * s).floor().max(0.0) as u32).min(side);
        let hi = |t: f32| ((t * s).ceil().max(0.0) as u32).min(side);
        [
            lo(self.bbox[0]),
            lo(self.bbox[1]),
            hi(self.bbox[2]),
            hi(self.bbox[3]),
        ]
    }

    /// The same object with its centre at `center` (its box moves along).
    pub fn moved_to(&self, center: [f32; 2]) -> Object {
        let [dx, dy] = [center[0] - self.center[0], center[1] - self.center[1]];
        let [x0, y0, x1, y1] = self.bbox;
        Object {
            center,
            bbox: [x0 + dx, y0 + dy, x1 + dx, y1 + dy],
            ..*self
        }
    }

    /// Whether the box keeps [`EDGE_MARGIN`] from every border, as generated objects do.
    pub fn within_margins(&self) -> bool {
        let [x0, y0, x1, y1] = self.bbox;
        x0.min(y0) >= EDGE_MARGIN - 1e-6 && x1.max(y1) <= 1.0 - EDGE_MARGIN + 1e-6
    }

    /// The 3x3 grid cell of the centre.
    pub fn position(&self) -> Position {
        Position::of(self.center)
    }

    /// Whether the centre is at least [`POSITION_MARGIN`] away from the grid lines at 1/3 and
    /// 2/3, so its position word is beyond dispute.
    pub fn position_is_clear(&self) -> bool {
        self.center.iter().all(|&t| {
            (t - 1.0 / 3.0).abs() >= POSITION_MARGIN && (t - 2.0 / 3.0).abs() >= POSITION_MARGIN
        })
    }
}

/// A generated scene: everything needed to render it and to answer questions about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Scene {
    /// The seed it was generated from.
    pub seed: u64,
    pub background: Background,
    /// How the objects are drawn: the classic style unless the request asked for a varied
    /// one.
    pub style: Style,
    /// Objects in painting order (later ones are drawn over earlier ones).
    pub objects: Vec<Object>,
}

/// Why a scene cannot be generated or rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SceneError {
    /// The total object count range is empty or goes above [`MAX_OBJECTS`].
    #[error(
        "object count {min}..={max} is invalid: a scene holds 0 to {MAX_OBJECTS} objects and the \
         minimum cannot exceed the maximum"
    )]
    ObjectCount { min: usize, max: usize },
    /// A constraint's own range is empty or goes above [`MAX_OBJECTS`].
    #[error(
        "the constraint on {filter} asks for {min}..={max}: a scene holds at most {MAX_OBJECTS} \
         objects and the minimum cannot exceed the maximum"
    )]
    ConstraintRange {
        filter: String,
        min: usize,
        max: usize,
    },
    /// A phrase such as "exactly 5 red stars" that does not read as a constraint or filter.
    #[error("cannot read \"{phrase}\": {reason}")]
    Phrase { phrase: String, reason: String },
    /// More than [`MAX_CONSTRAINTS`] constraints.
    #[error("{0} constraints given: at most {MAX_CONSTRAINTS} per request")]
    TooManyConstraints(usize),
    /// The constraints contradict each other or the object count.
    #[error("no scene of {min}..={max} objects satisfies all of: {constraints}")]
    Unsatisfiable {
        min: usize,
        max: usize,
        constraints: String,
    },
    /// The constraints overlap in so many ways that the solver gave up (never seen with
    /// fewer than a handful of constraints).
    #[error("the constraints are too intricate to solve: use fewer or simpler ones")]
    TooComplex,
    /// A render side of 0 or above [`MAX_RENDER_SIDE`].
    #[error("render side {0} is invalid: use 1 to {MAX_RENDER_SIDE} pixels")]
    RenderSide(u32),
    /// A counterfactual edit that the scene cannot take (see [`edit`]).
    #[error("{0}")]
    Edit(String),
    /// A render target that is not a non-empty square.
    #[error("the render target is {width}x{height}: it must be a non-empty square")]
    RenderTarget { width: u32, height: u32 },
}

/// Independent random streams of one seed.
const STREAM_BACKGROUND: u64 = 1;
const STREAM_OBJECTS: u64 = 2;
const STREAM_LAYOUT: u64 = 3;
const STREAM_STYLE: u64 = 4;

/// Random placements tried per object before the layout starts over.
const PLACEMENT_TRIES: usize = 200;
/// Random layouts tried before falling back to the 3x3 grid.
const LAYOUT_RESTARTS: usize = 4;

impl Scene {
    /// The scene of `seed` under `request`: deterministic, and the same on every platform.
    ///
    /// The background depends on the seed only (and the requested kind), so the same seed
    /// with different object constraints keeps its background.
    pub fn generate(seed: u64, request: &SceneRequest) -> Result<Scene, SceneError> {
        let cells = request.draw_objects(&mut Rng::stream(seed, STREAM_OBJECTS))?;
        let mut scene = Scene::assemble(seed, request.background, &cells);
        if request.varied_style {
            let rng = &mut Rng::stream(seed, STREAM_STYLE);
            (scene.style, scene.background) =
                Style::random(rng, scene.background, request.background);
        }
        Ok(scene)
    }

    /// The scene of `seed` under the default request: 0 to 9 random objects (uniform count),
    /// any background. Equal to `Scene::generate(seed, &SceneRequest::default())`.
    pub fn random(seed: u64) -> Scene {
        let request = SceneRequest::default();
        let cells = request.draw_unconstrained(&mut Rng::stream(seed, STREAM_OBJECTS));
        Scene::assemble(seed, None, &cells)
    }

    fn assemble(seed: u64, kind: Option<BackgroundKind>, cells: &[Cell]) -> Scene {
        let background = Background::random(&mut Rng::stream(seed, STREAM_BACKGROUND), kind);
        let objects = layout(&mut Rng::stream(seed, STREAM_LAYOUT), cells);
        Scene {
            seed,
            background,
            style: Style::default(),
            objects,
        }
    }

    /// Number of objects matching `filter`: a [`Shape`], a [`Color`], a [`Size`], a
    /// `(Color, Shape)` pair or a full [`Filter`].
    pub fn count(&self, filter: impl Into<Filter>) -> usize {
        let filter = filter.into();
        self.objects.iter().filter(|o| filter.matches(o)).count()
    }

    /// The classes with at least one object, in [`Shape::ALL`] order.
    pub fn shapes_present(&self) -> Vec<Shape> {
        Shape::ALL
            .into_iter()
            .filter(|&s| self.count(s) > 0)
            .collect()
    }

    /// The only object matching `filter`, if exactly one does.
    pub fn unique(&self, filter: impl Into<Filter>) -> Option<&Object> {
        let filter = filter.into();
        let mut matching = self.objects.iter().filter(|o| filter.matches(o));
        let first = matching.next()?;
        matching.next().is_none().then_some(first)
    }
}

/// What an object is before it is placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cell {
    pub shape: Shape,
    pub color: Color,
    pub size: Size,
}

/// Places the objects: random positions with bounded retries, else a jittered 3x3 grid. The
/// result is in a random painting order.
fn layout(rng: &mut Rng, cells: &[Cell]) -> Vec<Object> {
    // Sides first, so that they do not depend on how many placement attempts were needed.
    let mut items: Vec<(Cell, f32)> = cells
        .iter()
        .map(|&c| {
            let side = c.size.fraction() * rng.range_f32(1.0 - SIZE_JITTER, 1.0 + SIZE_JITTER);
            (c, side)
        })
        .collect();
    // Largest first: they are the hardest to fit.
    items.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut objects = (0..LAYOUT_RESTARTS)
        .find_map(|_| place_randomly(rng, &items))
        .unwrap_or_else(|| place_on_grid(rng, &items));
    rng.shuffle(&mut objects);
    objects
}

fn object_at(cell: Cell, side: f32, cx: f32, cy: f32) -> Object {
    let h = 0.5 * side;
    Object {
        shape: cell.shape,
        color: cell.color,
        size: cell.size,
        center: [cx, cy],
        bbox: [cx - h, cy - h, cx + h, cy + h],
    }
}

fn place_randomly(rng: &mut Rng, items: &[(Cell, f32)]) -> Option<Vec<Object>> {
    let mut placed: Vec<Object> = Vec::with_capacity(items.len());
    for &(cell, side) in items {
        let lo = EDGE_MARGIN + 0.5 * side;
        let hi = 1.0 - lo;
        let found = (0..PLACEMENT_TRIES).find_map(|_| {
            let candidate = object_at(cell, side, rng.range_f32(lo, hi), rng.range_f32(lo, hi));
            placed
                .iter()
                .all(|other| compatible(&candidate, other))
                .then_some(candidate)
        })?;
        placed.push(found);
    }
    Some(placed)
}

/// One object per cell of a shuffled 3x3 grid, jittered inside its cell. Every side is below
/// a third of the image minus the margins, so nothing overlaps and all stays inside.
fn place_on_grid(rng: &mut Rng, items: &[(Cell, f32)]) -> Vec<Object> {
    let mut slots: Vec<usize> = (0..9).collect();
    rng.shuffle(&mut slots);
    items
        .iter()
        .zip(slots)
        .map(|(&(cell, side), slot)| {
            let third = 1.0 / 3.0;
            let slack = (third - side - 2.0 * EDGE_MARGIN).max(0.0);
            let x0 = (slot % 3) as f32 * third + EDGE_MARGIN + 0.5 * side;
            let y0 = (slot / 3) as f32 * third + EDGE_MARGIN + 0.5 * side;
            object_at(
                cell,
                side,
                x0 + slack * rng.next_f32(),
                y0 + slack * rng.next_f32(),
            )
        })
        .collect()
}

/// The overlap rule between two placed objects: same-coloured boxes keep
/// [`SAME_COLOR_GAP`] apart, others overlap by at most [`MAX_OVERLAP`] of the smaller box.
pub fn compatible(a: &Object, b: &Object) -> bool {
    if a.color == b.color {
        let [ax0, ay0, ax1, ay1] = a.bbox;
        let [bx0, by0, bx1, by1] = b.bbox;
        ax0 >= bx1 + SAME_COLOR_GAP
            || bx0 >= ax1 + SAME_COLOR_GAP
            || ay0 >= by1 + SAME_COLOR_GAP
            || by0 >= ay1 + SAME_COLOR_GAP
    } else {
        let smaller = (a.side() * a.side()).min(b.side() * b.side());
        overlap_area(&a.bbox, &b.bbox) <= MAX_OVERLAP * smaller
    }
}

/// Area of the intersection of two boxes `[x0, y0, x1, y1]`.
pub fn overlap_area(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    w * h
}
