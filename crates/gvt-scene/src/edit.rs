//! Counterfactual edits: one object of a scene removed, moved, recoloured, resized or
//! duplicated, under the generator's own rules (margins, and the spacing of [`compatible`]),
//! so the edited scene's ground truth is as exact as a generated one's.

use std::fmt;

use super::{
    Color, EDGE_MARGIN, MAX_OBJECTS, Object, Position, Scene, SceneError, Size, compatible,
};

/// Candidate centres per axis when looking for a free spot.
const SEARCH_STEPS: usize = 48;

/// One change to one object (by its index in [`Scene::objects`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Edit {
    Remove(usize),
    /// Into the given cell of the 3x3 grid, clearly inside it.
    Move(usize, Position),
    Recolor(usize, Color),
    /// To the size's nominal side, around the same centre where it fits.
    Resize(usize, Size),
    /// A copy on the nearest free spot.
    Duplicate(usize),
}

impl Edit {
    /// The object the edit is about.
    pub fn object(&self) -> usize {
        match *self {
            Edit::Remove(i)
            | Edit::Move(i, _)
            | Edit::Recolor(i, _)
            | Edit::Resize(i, _)
            | Edit::Duplicate(i) => i,
        }
    }
}

/// "red star" for an object.
pub fn object_name(object: &Object) -> String {
    format!("{} {}", object.color.name(), object.shape.name())
}

/// What an edit does to `scene`, for people: "remove the red star", "move the red star to
/// the top left", ...
pub struct Described<'a>(pub &'a Edit, pub &'a Scene);

impl fmt::Display for Described<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Described(edit, scene) = *self;
        let name = scene.objects.get(edit.object()).map_or_else(
            || "an object".to_string(),
            |o| format!("the {}", object_name(o)),
        );
        match *edit {
            Edit::Remove(_) => write!(f, "remove {name}"),
            Edit::Move(_, cell) => write!(f, "move {name} to the {}", cell.word()),
            Edit::Recolor(_, color) => write!(f, "make {name} {}", color.name()),
            Edit::Resize(_, size) => write!(f, "make {name} {}", size.name()),
            Edit::Duplicate(_) => write!(f, "duplicate {name}"),
        }
    }
}

impl Scene {
    /// The scene with `edit` applied; an error says why it cannot be (no such object, no
    /// room, a ninth object already there).
    pub fn edited(&self, edit: &Edit) -> Result<Scene, SceneError> {
        let i = edit.object();
        let refuse =
            |why: &str| SceneError::Edit(format!("cannot {}: {why}", Described(edit, self)));
        let object = *self
            .objects
            .get(i)
            .ok_or_else(|| refuse(&format!("the scene has {} objects", self.objects.len())))?;
        let mut scene = self.clone();
        let others: Vec<Object> = self
            .objects
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != i)
            .map(|(_, o)| *o)
            .collect();
        let fits = |candidate: &Object, among: &[Object]| {
            candidate.within_margins() && among.iter().all(|o| compatible(candidate, o))
        };
        match *edit {
            Edit::Remove(_) => {
                scene.objects.remove(i);
            }
            Edit::Recolor(_, color) => {
                let recoloured = Object { color, ..object };
                if !fits(&recoloured, &others) {
                    return Err(refuse(&format!(
                        "it would touch another {} object",
                        color.name()
                    )));
                }
                scene.objects[i] = recoloured;
            }
            Edit::Resize(_, size) => {
                let half = 0.5 * size.fraction();
                let resized = Object {
                    size,
                    bbox: [
                        object.center[0] - half,
                        object.center[1] - half,
                        object.center[0] + half,
                        object.center[1] + half,
                    ],
                    ..object
                };
                let placed = nearest_spot(&resized, object.center, |c| fits(c, &others))
                    .ok_or_else(|| refuse("there is no room for it"))?;
                scene.objects[i] = placed;
            }
            Edit::Move(_, cell) => {
                let (col, row) = (cell.index() % 3, cell.index() / 3);
                let middle = [(col as f32 + 0.5) / 3.0, (row as f32 + 0.5) / 3.0];
                let placed = nearest_spot(&object, middle, |c| {
                    c.position() == cell && c.position_is_clear() && fits(c, &others)
                })
                .ok_or_else(|| refuse("there is no room in that cell"))?;
                scene.objects[i] = placed;
            }
            Edit::Duplicate(_) => {
                if self.objects.len() >= MAX_OBJECTS {
                    return Err(refuse(&format!(
                        "a scene holds at most {MAX_OBJECTS} objects"
                    )));
                }
                let copy = nearest_spot(&object, object.center, |c| fits(c, &self.objects))
                    .ok_or_else(|| refuse("there is no room for a copy"))?;
                scene.objects.push(copy);
            }
        }
        Ok(scene)
    }
}

/// `object` moved to the candidate centre nearest `target` that `accept`s it: centres on a
/// fine grid inside the margins, nearest first (ties broken by position, so the result is
/// the same everywhere).
fn nearest_spot(
    object: &Object,
    target: [f32; 2],
    accept: impl Fn(&Object) -> bool,
) -> Option<Object> {
    let half = 0.5 * object.side();
    let (lo, hi) = (EDGE_MARGIN + half, 1.0 - EDGE_MARGIN - half);
    if lo > hi {
        return None;
    }
    let step = (hi - lo) / SEARCH_STEPS as f32;
    let mut candidates: Vec<[f32; 2]> = (0..=SEARCH_STEPS)
        .flat_map(|y| (0..=SEARCH_STEPS).map(move |x| [lo + x as f32 * step, lo + y as f32 * step]))
        .collect();
    // The target itself first, when it is inside the margins.
    candidates.push([target[0].clamp(lo, hi), target[1].clamp(lo, hi)]);
    let distance = |c: &[f32; 2]| (c[0] - target[0]).powi(2) + (c[1] - target[1]).powi(2);
    candidates.sort_by(|a, b| distance(a).total_cmp(&distance(b)));
    candidates
        .into_iter()
        .map(|c| object.moved_to(c))
        .find(|moved| accept(moved))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SceneRequest, Shape};

    fn scene() -> Scene {
        Scene::generate(
            11,
            &SceneRequest::new()
                .objects(5, 5)
                .exactly((Color::Red, Shape::Star), 2),
        )
        .unwrap()
    }

    /// The generator's rules hold for every pair of objects.
    fn assert_valid(scene: &Scene) {
        for (i, a) in scene.objects.iter().enumerate() {
            assert!(a.within_margins(), "{a:?}");
            for b in &scene.objects[i + 1..] {
                assert!(compatible(a, b), "{a:?} and {b:?}");
            }
        }
    }

    #[test]
    fn each_edit_changes_the_ground_truth_as_it_says() {
        let scene = scene();
        let star = scene
            .objects
            .iter()
            .position(|o| o.color == Color::Red && o.shape == Shape::Star)
            .unwrap();

        let removed = scene.edited(&Edit::Remove(star)).unwrap();
        assert_eq!(removed.count((Color::Red, Shape::Star)), 1);
        assert_eq!(removed.objects.len(), 4);

        let copied = scene.edited(&Edit::Duplicate(star)).unwrap();
        assert_eq!(copied.count((Color::Red, Shape::Star)), 3);
        assert_valid(&copied);

        for cell in Position::ALL {
            if let Ok(moved) = scene.edited(&Edit::Move(star, cell)) {
                assert_eq!(moved.objects[star].position(), cell);
                assert!(moved.objects[star].position_is_clear());
                assert_valid(&moved);
            }
        }
        let moved_anywhere = Position::ALL
            .iter()
            .filter(|&&c| scene.edited(&Edit::Move(star, c)).is_ok())
            .count();
        assert!(moved_anywhere >= 5, "only {moved_anywhere} cells had room");

        for size in Size::ALL {
            if let Ok(resized) = scene.edited(&Edit::Resize(star, size)) {
                assert_eq!(resized.objects[star].size, size);
                assert!((resized.objects[star].side() - size.fraction()).abs() < 1e-6);
                assert_valid(&resized);
            }
        }
    }

    #[test]
    fn a_recolour_keeps_same_coloured_objects_apart() {
        let scene = scene();
        let star = scene
            .objects
            .iter()
            .position(|o| o.color == Color::Red)
            .unwrap();
        for color in Color::ALL {
            match scene.edited(&Edit::Recolor(star, color)) {
                Ok(recoloured) => {
                    assert_eq!(recoloured.objects[star].color, color);
                    assert_valid(&recoloured);
                }
                Err(e) => assert!(e.to_string().contains("would touch"), "{e}"),
            }
        }
    }

    #[test]
    fn impossible_edits_say_why() {
        let scene = scene();
        let err = scene.edited(&Edit::Remove(9)).unwrap_err().to_string();
        assert!(err.contains("the scene has 5 objects"), "{err}");
        let full = Scene::generate(2, &SceneRequest::new().objects(9, 9)).unwrap();
        let err = full.edited(&Edit::Duplicate(0)).unwrap_err().to_string();
        assert!(
            err.starts_with("cannot duplicate the ") && err.contains("at most 9"),
            "{err}"
        );
        assert_eq!(
            Described(&Edit::Move(0, Position::TopLeft), &full).to_string(),
            format!("move the {} to the top left", object_name(&full.objects[0]))
        );
    }
}
