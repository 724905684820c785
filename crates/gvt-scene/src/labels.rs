//! Per-patch ground truth: what a visual tokenizer should see in each patch of a scene.
//!
//! GVT pre-trains its tokenizer with patch-level supervision (distillation from a teacher,
//! without masking). Here the generator knows the exact answer for every patch, so stage 1 of
//! `gvt train` supervises each patch directly with these labels.

use super::{Object, Scene};

/// Sample points per patch side used to measure coverage.
const SAMPLES: usize = 4;
/// A patch shows an object when at least this many of its `SAMPLES^2` points are inside it.
const MIN_COVERED: usize = 2;

/// Labels for a `grid` x `grid` patch layout, row-major (row = y).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchLabels {
    pub grid: usize,
    /// 0 for background, else 1 + [`super::Shape::index`] of the object seen in the patch.
    pub shape: Vec<u8>,
    /// 0 for background, else 1 + [`super::Color::index`].
    pub color: Vec<u8>,
    /// How many objects have their centre in the patch, capped at
    /// [`PatchLabels::CENTER_CLASSES`]` - 1`: one mark per object, which is what counting
    /// needs (touching objects of one class still give separate centres).
    pub center: Vec<u8>,
    /// 0 for background, else how many objects of the patch's shape the scene holds.
    /// Every patch of an object then carries its shape's count, so a resampler latent that
    /// averages over the stars still reads how many there are: an attention average keeps
    /// a value all its inputs share, where a sum over the objects would be lost.
    pub shape_count: Vec<u8>,
    /// The same for objects of the patch's shape *and* colour ("How many red stars").
    pub kind_count: Vec<u8>,
    /// 0 for background, else 1 + [`super::Position::index`] of the object's centre: what
    /// "Where is the blue square?" asks, shared by all the object's patches for the same
    /// reason as the counts.
    pub object_position: Vec<u8>,
}

impl PatchLabels {
    /// Classes of [`PatchLabels::shape`] (background + 8 shapes).
    pub const SHAPE_CLASSES: usize = 1 + super::Shape::ALL.len();
    /// Classes of [`PatchLabels::color`] (background + 6 colours).
    pub const COLOR_CLASSES: usize = 1 + super::Color::ALL.len();
    /// Classes of [`PatchLabels::center`]: no centre, or at least one (at 8-pixel patches
    /// two centres practically never share a patch).
    pub const CENTER_CLASSES: usize = 2;
    /// Classes of [`PatchLabels::shape_count`] and [`PatchLabels::kind_count`]: background,
    /// then 1 to [`super::MAX_OBJECTS`] objects.
    pub const COUNT_CLASSES: usize = 1 + super::MAX_OBJECTS;
    /// Classes of [`PatchLabels::object_position`] (background + 9 cells of a 3x3 grid).
    pub const POSITION_CLASSES: usize = 1 + super::Position::ALL.len();
}

impl Scene {
    /// The object that covers most of each patch (the topmost where objects overlap), and
    /// each object's centre patch.
    pub fn patch_labels(&self, grid: usize) -> PatchLabels {
        let n = grid * grid;
        let mut labels = PatchLabels {
            grid,
            shape: vec![0; n],
            color: vec![0; n],
            center: vec![0; n],
            shape_count: vec![0; n],
            kind_count: vec![0; n],
            object_position: vec![0; n],
        };
        let step = 1.0 / (grid * SAMPLES) as f32;
        // Each object's own forms, resolved once rather than at every sample point.
        let forms: Vec<crate::Forms> = (self.objects.iter())
            .map(|o| self.style.forms.for_object(o))
            .collect();
        let mut covered = vec![0usize; self.objects.len()];
        for py in 0..grid {
            for px in 0..grid {
                covered.iter_mut().for_each(|c| *c = 0);
                for sy in 0..SAMPLES {
                    let y = ((py * SAMPLES + sy) as f32 + 0.5) * step;
                    for sx in 0..SAMPLES {
                        let x = ((px * SAMPLES + sx) as f32 + 0.5) * step;
                        if let Some(top) = (self.objects.iter().zip(&forms))
                            .rposition(|(o, own)| o.covers_drawn([x, y], own))
                        {
                            covered[top] += 1;
                        }
                    }
                }
                let best = (0..self.objects.len())
                    .filter(|&i| covered[i] >= MIN_COVERED)
                    .max_by_key(|&i| (covered[i], i));
                if let Some(i) = best {
                    labels.set(py * grid + px, self, &self.objects[i]);
                }
            }
        }
        for object in &self.objects {
            let cell = |t: f32| ((t * grid as f32) as usize).min(grid - 1);
            let at = cell(object.center[1]) * grid + cell(object.center[0]);
            let most = (PatchLabels::CENTER_CLASSES - 1) as u8;
            labels.center[at] = (labels.center[at] + 1).min(most);
        }
        labels
    }
}

impl PatchLabels {
    fn set(&mut self, at: usize, scene: &Scene, object: &Object) {
        let most = PatchLabels::COUNT_CLASSES - 1;
        let count = |n: usize| n.min(most) as u8;
        self.shape[at] = 1 + object.shape.index() as u8;
        self.color[at] = 1 + object.color.index() as u8;
        self.shape_count[at] = count(scene.count(object.shape));
        self.kind_count[at] = count(scene.count((object.color, object.shape)));
        self.object_position[at] = 1 + object.position().index() as u8;
    }
}

impl Object {
    /// Whether the normalised point lies inside the shape (classic proportions).
    pub fn covers(&self, point: [f32; 2]) -> bool {
        self.covers_in(point, &crate::Forms::default())
    }

    /// Whether the normalised point lies inside the shape drawn with `forms` (as this object
    /// takes them: [`crate::Forms::for_object`]).
    pub fn covers_in(&self, point: [f32; 2], forms: &crate::Forms) -> bool {
        self.covers_drawn(point, &forms.for_object(self))
    }

    /// [`Object::covers_in`] with the forms this object is drawn with, already resolved.
    pub(crate) fn covers_drawn(&self, [x, y]: [f32; 2], own: &crate::Forms) -> bool {
        let half = 0.5 * self.side();
        if half <= 0.0 {
            return false;
        }
        let u = (x - self.center[0]) / half;
        let v = (y - self.center[1]) / half;
        u.abs() <= 1.0 && v.abs() <= 1.0 && self.shape.contains_in(u, v, own)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Color, SceneRequest, Shape};

    #[test]
    fn one_large_object_labels_its_patches_and_its_centre() {
        let request = SceneRequest::new()
            .objects(1, 1)
            .exactly((Color::Red, Shape::Square), 1);
        let scene = Scene::generate(7, &request).unwrap();
        let labels = scene.patch_labels(16);
        let object = scene.objects[0];
        assert_eq!(labels.center.iter().map(|&c| c as usize).sum::<usize>(), 1);
        let [x0, y0, x1, y1] = object.bbox;
        for py in 0..16 {
            for px in 0..16 {
                let centre = [(px as f32 + 0.5) / 16.0, (py as f32 + 0.5) / 16.0];
                let inside = centre[0] > x0 && centre[0] < x1 && centre[1] > y0 && centre[1] < y1;
                let at = py * 16 + px;
                if inside {
                    assert_eq!(labels.shape[at], 1 + Shape::Square.index() as u8);
                    assert_eq!(labels.color[at], 1 + Color::Red.index() as u8);
                    let cell = 1 + object.position().index() as u8;
                    assert_eq!(labels.object_position[at], cell);
                }
                let outside = centre[0] < x0 - 0.07
                    || centre[0] > x1 + 0.07
                    || centre[1] < y0 - 0.07
                    || centre[1] > y1 + 0.07;
                if outside {
                    assert_eq!(labels.shape[at], 0, "patch {px},{py} is background");
                }
            }
        }
    }

    #[test]
    fn object_patches_carry_their_shapes_count_and_their_kinds_count() {
        let request = SceneRequest::new()
            .objects(5, 5)
            .exactly((Color::Red, Shape::Star), 3)
            .exactly((Color::Blue, Shape::Star), 2);
        for seed in 0..10 {
            let scene = Scene::generate(seed, &request).unwrap();
            let labels = scene.patch_labels(8);
            let star = 1 + Shape::Star.index() as u8;
            let red = 1 + Color::Red.index() as u8;
            let mut star_patches = 0;
            for at in 0..64 {
                if labels.shape[at] == 0 {
                    let counts = (labels.shape_count[at], labels.kind_count[at]);
                    assert_eq!(counts, (0, 0));
                    assert_eq!(labels.object_position[at], 0);
                    continue;
                }
                assert_eq!(
                    labels.shape[at], star,
                    "seed {seed}: only stars were asked for"
                );
                star_patches += 1;
                assert_eq!(labels.shape_count[at], 5, "seed {seed}");
                let reds = if labels.color[at] == red { 3 } else { 2 };
                assert_eq!(labels.kind_count[at], reds, "seed {seed}");
            }
            assert!(
                star_patches >= 5,
                "seed {seed}: {star_patches} star patches"
            );
        }
    }

    #[test]
    fn every_object_has_one_centre_patch() {
        for seed in 0..50 {
            let scene = Scene::random(seed);
            let labels = scene.patch_labels(16);
            let centres: usize = labels.center.iter().map(|&c| c as usize).sum();
            // Two centres could share a patch only if objects overlapped far more than the
            // generator allows.
            assert_eq!(centres, scene.objects.len(), "seed {seed}");
        }
    }
}
