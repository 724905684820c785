//! Sweeps: one property of a generated scene varied over levels, the rest random but seeded.
//!
//! A [`ProbeSpec`] names the sweep, its levels, how many scenes each level gets and the seed.
//! [`ProbeSpec::trial`] makes scene `index` of a level: a target (a shape, and a colour where
//! the question names one) is drawn from the trial's seed, the scene generator builds a scene
//! under a request that fixes the swept property, and a GVTBench-style question is asked
//! about the target. Properties the generator does not vary itself (occlusion, position,
//! look-alike colours) are set by moving or repainting objects after generation; properties
//! of the picture rather than the scene (resolution, blur, noise, clutter) are in the trial's
//! [`Look`]. The ground truth is always read off the final scene.

use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;

use gvt_scene::qa::{Qa, QuestionKind};
use gvt_scene::{
    Color, EDGE_MARGIN, Filter, MAX_OBJECTS, POSITION_MARGIN, Position, Rng, Scene, SceneRequest,
    Shape, Size, compatible, mix64, overlap_area,
};
use serde::{Deserialize, Serialize};

use crate::ProbeError;
use crate::look::Look;

/// Scenes a trial may draw before it gives up (a position or occlusion that does not fit,
/// a question the scene cannot ask).
const MAX_ATTEMPTS: u64 = 64;
/// Clutter marks per level of the clutter sweep.
pub const CLUTTER_PER_LEVEL: usize = 12;
/// Blur sigma per level, in pixels of the model's input.
pub const BLUR_PER_LEVEL: f32 = 0.5;
/// Noise sigma per level, in 8-bit units.
pub const NOISE_PER_LEVEL: f32 = 8.0;

/// The property a sweep varies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sweep {
    /// How many objects of the asked shape (and colour, with `--color`) there are.
    Count,
    /// How many other objects there are beside one to three targets.
    Distractors,
    /// The size of every object.
    Size,
    /// How much of a target a larger object of another colour covers.
    Overlap,
    /// Marks scattered over the background.
    Clutter,
    /// The side, in pixels, the scene is drawn at before the model's preprocessing.
    Resolution,
    /// Gaussian blur of the picture.
    Blur,
    /// Gaussian noise on the picture.
    Noise,
    /// How far the look-alikes' paint is from the target's colour: objects of the target's
    /// shape in another colour, painted part of the way towards the target's colour.
    ColorDistance,
    /// The 3x3 grid cell of the only target.
    Position,
}

impl Sweep {
    pub const ALL: [Sweep; 10] = [
        Sweep::Count,
        Sweep::Distractors,
        Sweep::Size,
        Sweep::Overlap,
        Sweep::Clutter,
        Sweep::Resolution,
        Sweep::Blur,
        Sweep::Noise,
        Sweep::ColorDistance,
        Sweep::Position,
    ];

    /// The name on the command line and in files: "count", "color-distance", ...
    pub fn name(self) -> &'static str {
        match self {
            Sweep::Count => "count",
            Sweep::Distractors => "distractors",
            Sweep::Size => "size",
            Sweep::Overlap => "overlap",
            Sweep::Clutter => "clutter",
            Sweep::Resolution => "resolution",
            Sweep::Blur => "blur",
            Sweep::Noise => "noise",
            Sweep::ColorDistance => "color-distance",
            Sweep::Position => "position",
        }
    }

    /// What the level means, for axis titles.
    pub fn parameter(self) -> &'static str {
        match self {
            Sweep::Count => "true count of the asked objects",
            Sweep::Distractors => "other objects in the scene",
            Sweep::Size => "object size",
            Sweep::Overlap => "share of the target covered by another object",
            Sweep::Clutter => "background clutter marks",
            Sweep::Resolution => "image side before preprocessing (px)",
            Sweep::Blur => "blur sigma (px of the model's input)",
            Sweep::Noise => "noise sigma (of 255)",
            Sweep::ColorDistance => "look-alikes' paint, share of the way from the target colour",
            Sweep::Position => "the target's cell",
        }
    }

    /// Levels this sweep accepts.
    pub fn valid_levels(self) -> RangeInclusive<u32> {
        match self {
            Sweep::Count => 0..=MAX_OBJECTS as u32,
            Sweep::Distractors => 0..=MAX_OBJECTS as u32 - 1,
            Sweep::Size => 0..=Size::ALL.len() as u32 - 1,
            Sweep::Overlap => 0..=9,
            Sweep::Clutter => 0..=20,
            Sweep::Resolution => 8..=1024,
            Sweep::Blur | Sweep::Noise => 0..=16,
            Sweep::ColorDistance => 1..=10,
            Sweep::Position => 0..=Position::ALL.len() as u32 - 1,
        }
    }

    /// The levels a probe uses when none are given.
    pub fn default_levels(self) -> Vec<u32> {
        match self {
            Sweep::Resolution => vec![16, 24, 32, 48, 64, 96, 128, 192],
            Sweep::Clutter => (0..=10).collect(),
            Sweep::Blur | Sweep::Noise => (0..=8).collect(),
            other => other.valid_levels().collect(),
        }
    }

    /// A level for people: "3", "small", "40%", "32 px", "top left".
    pub fn level_label(self, level: u32) -> String {
        match self {
            Sweep::Size => Size::ALL
                .get(level as usize)
                .map_or_else(|| level.to_string(), |s| s.name().to_string()),
            Sweep::Overlap | Sweep::ColorDistance => format!("{}%", level * 10),
            Sweep::Clutter => format!("{} marks", level as usize * CLUTTER_PER_LEVEL),
            Sweep::Resolution => format!("{level} px"),
            Sweep::Blur => format!("{:.1} px", level as f32 * BLUR_PER_LEVEL),
            Sweep::Noise => format!("{:.0}", level as f32 * NOISE_PER_LEVEL),
            Sweep::Position => Position::ALL
                .get(level as usize)
                .map_or_else(|| level.to_string(), |p| p.word().to_string()),
            Sweep::Count | Sweep::Distractors => level.to_string(),
        }
    }

    /// The question a sweep asks unless told otherwise.
    pub fn default_ask(self) -> Ask {
        match self {
            Sweep::Position => Ask::Position,
            _ => Ask::Count,
        }
    }
}

impl fmt::Display for Sweep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Sweep {
    type Err = ProbeError;

    fn from_str(name: &str) -> Result<Sweep, ProbeError> {
        by_name(&Sweep::ALL, Sweep::name, "a sweep", name)
    }
}

/// The one of `all` that `name` names (ASCII case-insensitive), or an error listing them.
pub fn by_name<T: Copy>(
    all: &[T],
    name_of: fn(T) -> &'static str,
    what: &str,
    name: &str,
) -> Result<T, ProbeError> {
    all.iter()
        .copied()
        .find(|&t| name_of(t).eq_ignore_ascii_case(name.trim()))
        .ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|&t| name_of(t)).collect();
            ProbeError::Spec(format!(
                "\"{name}\" is not {what}; choose one of {}",
                names.join(", ")
            ))
        })
}

/// Which GVTBench-style question each scene gets about its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ask {
    /// "How many stars are there in the image?" (or "How many red stars ...?" when the
    /// target has a colour).
    Count,
    /// "Does star exist in the image?"
    Exist,
    /// "What color is the star?" (scenes with exactly one object of the shape).
    Color,
    /// "Where is the red star?" (scenes with exactly one red star, clearly in one cell).
    Position,
}

impl Ask {
    pub const ALL: [Ask; 4] = [Ask::Count, Ask::Exist, Ask::Color, Ask::Position];

    pub fn name(self) -> &'static str {
        match self {
            Ask::Count => "count",
            Ask::Exist => "exist",
            Ask::Color => "color",
            Ask::Position => "position",
        }
    }
}

impl FromStr for Ask {
    type Err = ProbeError;

    fn from_str(name: &str) -> Result<Ask, ProbeError> {
        by_name(&Ask::ALL, Ask::name, "a question kind", name)
    }
}

/// Reads levels: "0..9" (inclusive), "16,32,64", or one number.
pub fn parse_levels(text: &str) -> Result<Vec<u32>, ProbeError> {
    let bad = |why: &str| ProbeError::Spec(format!("levels \"{text}\": {why}"));
    let number = |t: &str| {
        t.trim()
            .parse::<u32>()
            .map_err(|_| bad("write a range such as 0..9, or numbers separated by commas"))
    };
    let levels: Vec<u32> = if let Some((lo, hi)) = text.split_once("..") {
        let (lo, hi) = (number(lo)?, number(hi.trim_start_matches('='))?);
        if lo > hi {
            return Err(bad("the range runs backwards"));
        }
        (lo..=hi).collect()
    } else {
        text.split(',').map(number).collect::<Result<_, _>>()?
    };
    Ok(levels)
}

/// Everything that decides a probe's scenes and questions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeSpec {
    pub sweep: Sweep,
    pub levels: Vec<u32>,
    /// Scenes per level.
    pub per_level: usize,
    pub seed: u64,
    pub ask: Ask,
    /// The asked shape, or `None` for a random one per scene.
    #[serde(with = "names::shape")]
    pub shape: Option<Shape>,
    /// The asked colour, or `None` for a random one per scene. With a colour, counting
    /// questions name it ("How many red stars ...?") and the count sweep fixes red stars.
    #[serde(with = "names::color")]
    pub color: Option<Color>,
}

/// Most levels in one probe.
pub const MAX_LEVELS: usize = 64;
/// Most scenes per level.
pub const MAX_PER_LEVEL: usize = 10_000;
/// Most questions in one probe (per model): its answers stay in memory, about 200 bytes each.
pub const MAX_QUESTIONS: usize = 100_000;

impl ProbeSpec {
    /// A probe of `sweep` at its default levels and question, random targets.
    pub fn new(sweep: Sweep, per_level: usize, seed: u64) -> ProbeSpec {
        ProbeSpec {
            sweep,
            levels: sweep.default_levels(),
            per_level,
            seed,
            ask: sweep.default_ask(),
            shape: None,
            color: None,
        }
    }

    /// Refuses levels the sweep cannot make, repeated levels, and empty or huge probes.
    pub fn validate(&self) -> Result<(), ProbeError> {
        let bad = |why: String| Err(ProbeError::Spec(why));
        let valid = self.sweep.valid_levels();
        if self.levels.is_empty() || self.levels.len() > MAX_LEVELS {
            return bad(format!("give 1 to {MAX_LEVELS} levels"));
        }
        if let Some(level) = self.levels.iter().find(|l| !valid.contains(l)) {
            return bad(format!(
                "level {level} is outside the {} sweep's levels {}..{}",
                self.sweep,
                valid.start(),
                valid.end()
            ));
        }
        let mut sorted = self.levels.clone();
        sorted.sort_unstable();
        if sorted.windows(2).any(|w| w[0] == w[1]) {
            return bad("a level is given twice".into());
        }
        if self.per_level == 0 || self.per_level > MAX_PER_LEVEL {
            return bad(format!("scenes per level must be 1 to {MAX_PER_LEVEL}"));
        }
        let questions = self.levels.len() * self.per_level;
        if questions > MAX_QUESTIONS {
            return bad(format!(
                "{} levels x {} scenes is {questions} questions; a probe asks at most \
                 {MAX_QUESTIONS}",
                self.levels.len(),
                self.per_level
            ));
        }
        if self.sweep == Sweep::ColorDistance && self.ask != Ask::Count {
            return bad("the color-distance sweep asks counting questions only".into());
        }
        Ok(())
    }

    /// Whether counting questions name the target's colour.
    fn counts_by_color(&self) -> bool {
        self.color.is_some() || self.sweep == Sweep::ColorDistance
    }

    /// Scene `index` of `level`, with its question: the same for the same spec everywhere.
    pub fn trial(&self, level: u32, index: usize) -> Result<Trial, ProbeError> {
        let trial_seed = mix64(
            mix64(mix64(self.seed ^ mix64(self.sweep as u64 + 1)) ^ u64::from(level))
                ^ index as u64,
        );
        for attempt in 0..MAX_ATTEMPTS {
            let seed = mix64(trial_seed ^ attempt);
            let mut rng = Rng::new(seed);
            let shape = self
                .shape
                .unwrap_or_else(|| Shape::ALL[rng.below(Shape::ALL.len())]);
            let color = self
                .color
                .unwrap_or_else(|| Color::ALL[rng.below(Color::ALL.len())]);
            let Some((scene, look)) = self.build(level, shape, color, seed, &mut rng)? else {
                continue;
            };
            let Some((qa, target)) = self.question(&scene, shape, color) else {
                continue;
            };
            return Ok(Trial {
                level,
                index,
                scene,
                qa,
                target,
                look,
            });
        }
        Err(ProbeError::Spec(format!(
            "the {} sweep at level {} found no scene for a {} question in {MAX_ATTEMPTS} tries",
            self.sweep,
            self.sweep.level_label(level),
            self.ask.name()
        )))
    }

    /// The scene of one attempt, or `None` when this seed cannot make the level.
    fn build(
        &self,
        level: u32,
        shape: Shape,
        color: Color,
        seed: u64,
        rng: &mut Rng,
    ) -> Result<Option<(Scene, Look)>, ProbeError> {
        let asked: Filter = if self.counts_by_color() {
            (color, shape).into()
        } else {
            shape.into()
        };
        // One to four targets among up to six objects: the base of the sweeps that vary
        // something other than the scene's objects.
        let plain = || SceneRequest::new().objects(1, 6).between(asked, 1, 4);
        let mut look = Look {
            seed,
            ..Look::default()
        };
        let request = match self.sweep {
            Sweep::Count => {
                let n = level as usize;
                SceneRequest::new()
                    .objects(n, (n + 3).min(MAX_OBJECTS))
                    .exactly(asked, n)
            }
            Sweep::Distractors => {
                let others = level as usize;
                let targets = 1 + rng.below(3.min(MAX_OBJECTS - others));
                SceneRequest::new()
                    .objects(targets + others, targets + others)
                    .exactly(asked, targets)
            }
            Sweep::Size => {
                let size = Size::ALL[level as usize];
                Size::ALL
                    .into_iter()
                    .filter(|&s| s != size)
                    .fold(plain(), |r, other| r.without(other))
            }
            Sweep::Overlap => SceneRequest::new()
                .objects(2, 6)
                .between(asked, 1, 3)
                .without(Filter {
                    size: Some(Size::Large),
                    ..asked
                })
                .at_least(Size::Large, 1),
            Sweep::ColorDistance => {
                let targets = 1 + rng.below(3);
                look.lookalikes = Some((color, shape, level as f32 / 10.0));
                SceneRequest::new()
                    .objects(targets + 1, 7)
                    .exactly((color, shape), targets)
                    .between(shape, targets + 1, targets + 3)
            }
            Sweep::Position => SceneRequest::new().objects(1, 6).exactly((color, shape), 1),
            Sweep::Clutter => {
                look.clutter = level as usize * CLUTTER_PER_LEVEL;
                plain()
            }
            Sweep::Resolution => {
                look.side = Some(level);
                plain()
            }
            Sweep::Blur => {
                look.blur = level as f32 * BLUR_PER_LEVEL;
                plain()
            }
            Sweep::Noise => {
                look.noise = level as f32 * NOISE_PER_LEVEL;
                plain()
            }
        };
        let scene = Scene::generate(seed, &request)?;
        let scene = match self.sweep {
            Sweep::Overlap => occlude(scene, asked, level as f32 / 10.0, rng),
            Sweep::Position => place_in_cell(scene, (color, shape).into(), level as usize, rng),
            _ => Some(scene),
        };
        Ok(scene.map(|scene| (scene, look)))
    }

    /// The question about the target, and the objects it is about; `None` when the scene
    /// cannot ask it (no single object of the shape for a colour question, say).
    fn question(&self, scene: &Scene, shape: Shape, color: Color) -> Option<(Qa, Filter)> {
        match self.ask {
            Ask::Count if self.counts_by_color() => {
                Some((Qa::color_count(scene, color, shape), (color, shape).into()))
            }
            Ask::Count => Some((Qa::count(scene, shape), shape.into())),
            Ask::Exist => Some((Qa::exist(scene, shape), shape.into())),
            Ask::Color => Qa::color_of(scene, shape).map(|qa| (qa, shape.into())),
            Ask::Position => {
                Qa::position_of(scene, color, shape).map(|qa| (qa, (color, shape).into()))
            }
        }
    }
}

/// One scene of a probe and its question.
#[derive(Debug, Clone, PartialEq)]
pub struct Trial {
    pub level: u32,
    /// Which scene of the level.
    pub index: usize,
    pub scene: Scene,
    pub qa: Qa,
    /// The objects the question is about (for the attention-on-target share and the boxes
    /// drawn on failures).
    pub target: Filter,
    /// How the picture is drawn.
    pub look: Look,
}

impl Trial {
    /// Whether the answer is a count.
    pub fn counts(&self) -> bool {
        matches!(self.qa.kind, QuestionKind::Count | QuestionKind::ColorCount)
    }

    /// The boxes of the objects the question is about, normalised.
    pub fn target_boxes(&self) -> Vec<[f32; 4]> {
        self.scene
            .objects
            .iter()
            .filter(|o| self.target.matches(o))
            .map(|o| o.bbox)
            .collect()
    }
}

/// Moves a large object of another colour over the smallest target so that it covers
/// `share` of the target's box (side by side with the target's centre line, from a random
/// side), and paints it last. Non-targets in its way are removed; `None` when no side works.
fn occlude(mut scene: Scene, asked: Filter, share: f32, rng: &mut Rng) -> Option<Scene> {
    let target = scene
        .objects
        .iter()
        .filter(|o| asked.matches(o))
        .min_by(|a, b| a.side().total_cmp(&b.side()))
        .copied()?;
    let cover_at = scene
        .objects
        .iter()
        .position(|o| o.size == Size::Large && !asked.matches(o) && o.color != target.color)?;
    let cover = scene.objects.remove(cover_at);
    let (a, b) = (target.side(), cover.side());
    let offset = 0.5 * (a + b) - share * a;
    let mut directions = [[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]];
    rng.shuffle(&mut directions);
    for [dx, dy] in directions {
        let moved = cover.moved_to([
            target.center[0] + dx * offset,
            target.center[1] + dy * offset,
        ]);
        if !moved.within_margins() {
            continue;
        }
        let blocked = |o: &gvt_scene::Object| *o != target && !compatible(&moved, o);
        if scene.objects.iter().any(|o| blocked(o) && asked.matches(o)) {
            continue;
        }
        scene.objects.retain(|o| !blocked(o));
        scene.objects.push(moved);
        debug_assert!((overlap_area(&moved.bbox, &target.bbox) / (a * a) - share).abs() < 1e-3);
        return Some(scene);
    }
    None
}

/// Moves the only object matching `filter` to a random spot clearly inside grid cell `cell`,
/// where it keeps the generator's spacing from every other object.
fn place_in_cell(mut scene: Scene, filter: Filter, cell: usize, rng: &mut Rng) -> Option<Scene> {
    let at = scene.objects.iter().position(|o| filter.matches(o))?;
    let object = scene.objects[at];
    let half = 0.5 * object.side();
    let span = |k: usize| {
        let lo = (k as f32 / 3.0 + POSITION_MARGIN).max(EDGE_MARGIN + half);
        let hi = ((k + 1) as f32 / 3.0 - POSITION_MARGIN).min(1.0 - EDGE_MARGIN - half);
        (lo < hi).then_some((lo, hi))
    };
    let ((x0, x1), (y0, y1)) = (span(cell % 3)?, span(cell / 3)?);
    for _ in 0..50 {
        let moved = object.moved_to([rng.range_f32(x0, x1), rng.range_f32(y0, y1)]);
        let fits = scene
            .objects
            .iter()
            .enumerate()
            .all(|(i, o)| i == at || compatible(&moved, o));
        if fits {
            scene.objects[at] = moved;
            return Some(scene);
        }
    }
    None
}

/// Serde by name for the optional shape and colour of a spec.
mod names {
    macro_rules! by_name {
        ($module:ident, $type:ty) => {
            pub mod $module {
                use serde::{Deserialize, Deserializer, Serializer, de::Error};

                pub fn serialize<S: Serializer>(
                    value: &Option<$type>,
                    s: S,
                ) -> Result<S::Ok, S::Error> {
                    match value {
                        Some(v) => s.serialize_some(v.name()),
                        None => s.serialize_none(),
                    }
                }

                pub fn deserialize<'de, D: Deserializer<'de>>(
                    d: D,
                ) -> Result<Option<$type>, D::Error> {
                    Option::<String>::deserialize(d)?
                        .map(|name| {
                            <$type>::from_name(&name).ok_or_else(|| {
                                D::Error::custom(format!("unknown {}: {name}", stringify!($module)))
                            })
                        })
                        .transpose()
                }
            }
        };
    }
    by_name!(shape, gvt_scene::Shape);
    by_name!(color, gvt_scene::Color);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trials(spec: &ProbeSpec) -> impl Iterator<Item = Trial> + '_ {
        spec.levels.iter().flat_map(move |&level| {
            (0..spec.per_level).map(move |i| spec.trial(level, i).expect("a trial"))
        })
    }

    #[test]
    fn count_levels_are_the_true_counts() {
        let spec = ProbeSpec::new(Sweep::Count, 20, 1);
        for trial in trials(&spec) {
            assert_eq!(trial.qa.answer, trial.level.to_string());
            assert_eq!(trial.qa.kind, QuestionKind::Count);
        }
        let red = ProbeSpec {
            color: Some(Color::Red),
            ..ProbeSpec::new(Sweep::Count, 5, 1)
        };
        for trial in trials(&red) {
            assert!(trial.qa.question.contains(" red "), "{}", trial.qa.question);
            assert_eq!(trial.qa.answer, trial.level.to_string());
        }
    }

    #[test]
    fn distractors_and_sizes_are_what_the_level_says() {
        for trial in trials(&ProbeSpec::new(Sweep::Distractors, 10, 2)) {
            let targets = trial.scene.count(trial.target);
            assert_eq!(trial.scene.objects.len() - targets, trial.level as usize);
            assert!((1..=3).contains(&targets));
        }
        for trial in trials(&ProbeSpec::new(Sweep::Size, 10, 3)) {
            let size = Size::ALL[trial.level as usize];
            assert!(trial.scene.objects.iter().all(|o| o.size == size));
        }
    }

    #[test]
    fn overlap_covers_the_stated_share_of_a_target() {
        for trial in trials(&ProbeSpec::new(Sweep::Overlap, 10, 4)) {
            let share = trial.level as f32 / 10.0;
            let last = *trial.scene.objects.last().unwrap();
            assert!(!trial.target.matches(&last), "the cover is painted last");
            let covered = trial
                .scene
                .objects
                .iter()
                .filter(|o| trial.target.matches(o))
                .map(|t| overlap_area(&t.bbox, &last.bbox) / (t.side() * t.side()))
                .fold(0.0f32, f32::max);
            assert!((covered - share).abs() < 1e-3, "{covered} vs {share}");
            assert!(trial.scene.objects.iter().all(|o| o.within_margins()));
            assert_eq!(trial.qa.answer, trial.scene.count(trial.target).to_string());
        }
    }

    #[test]
    fn position_puts_the_only_target_in_the_level_cell() {
        for trial in trials(&ProbeSpec::new(Sweep::Position, 10, 5)) {
            let word = Position::ALL[trial.level as usize].word();
            assert_eq!(trial.qa.answer, word);
            assert_eq!(trial.qa.kind, QuestionKind::Position);
            let objects = &trial.scene.objects;
            for (i, a) in objects.iter().enumerate() {
                assert!(objects[i + 1..].iter().all(|b| compatible(a, b)));
            }
        }
    }

    #[test]
    fn picture_sweeps_set_the_look_and_keep_the_scene_plain() {
        for sweep in [Sweep::Clutter, Sweep::Resolution, Sweep::Blur, Sweep::Noise] {
            let spec = ProbeSpec::new(sweep, 3, 6);
            for trial in trials(&spec) {
                let count = trial.scene.count(trial.target);
                assert!((1..=4).contains(&count), "{sweep}: {count}");
                let look = trial.look;
                let level = trial.level;
                match sweep {
                    Sweep::Clutter => assert_eq!(look.clutter, level as usize * CLUTTER_PER_LEVEL),
                    Sweep::Resolution => assert_eq!(look.side, Some(level)),
                    Sweep::Blur => assert_eq!(look.blur, level as f32 * BLUR_PER_LEVEL),
                    _ => assert_eq!(look.noise, level as f32 * NOISE_PER_LEVEL),
                }
            }
        }
    }

    #[test]
    fn color_distance_counts_the_target_colour_among_lookalikes() {
        for trial in trials(&ProbeSpec::new(Sweep::ColorDistance, 10, 7)) {
            assert_eq!(trial.qa.kind, QuestionKind::ColorCount);
            let (color, shape, t) = trial.look.lookalikes.unwrap();
            assert_eq!(t, trial.level as f32 / 10.0);
            assert!(trial.scene.count(shape) > trial.scene.count((color, shape)));
        }
    }

    #[test]
    fn other_questions_ask_about_the_target() {
        for ask in [Ask::Exist, Ask::Color, Ask::Position] {
            let spec = ProbeSpec {
                ask,
                ..ProbeSpec::new(Sweep::Distractors, 5, 8)
            };
            for trial in trials(&spec) {
                let want = match ask {
                    Ask::Exist => QuestionKind::Exist,
                    Ask::Color => QuestionKind::Color,
                    _ => QuestionKind::Position,
                };
                assert_eq!(trial.qa.kind, want);
            }
        }
    }

    #[test]
    fn trials_are_reproducible_and_differ_by_seed() {
        let spec = ProbeSpec::new(Sweep::Count, 4, 9);
        assert_eq!(spec.trial(3, 2).unwrap(), spec.trial(3, 2).unwrap());
        let other = ProbeSpec {
            seed: 10,
            ..spec.clone()
        };
        assert_ne!(
            spec.trial(3, 2).unwrap().scene,
            other.trial(3, 2).unwrap().scene
        );
    }

    #[test]
    fn specs_are_checked_and_levels_parsed() {
        assert_eq!(parse_levels("0..3").unwrap(), vec![0, 1, 2, 3]);
        assert_eq!(parse_levels("0..=2").unwrap(), vec![0, 1, 2]);
        assert_eq!(parse_levels("16, 32,64").unwrap(), vec![16, 32, 64]);
        for bad in ["", "3..1", "a..b", "1,,2", "-1"] {
            assert!(parse_levels(bad).is_err(), "{bad}");
        }
        let mut spec = ProbeSpec::new(Sweep::Size, 1, 0);
        spec.validate().unwrap();
        spec.levels = vec![0, 3];
        let err = spec.validate().unwrap_err().to_string();
        assert!(err.contains("level 3") && err.contains("0..2"), "{err}");
        spec.levels = vec![1, 1];
        assert!(spec.validate().is_err());
        spec.levels = vec![1];
        spec.per_level = 0;
        assert!(spec.validate().is_err());
        let mut big = ProbeSpec::new(Sweep::Resolution, MAX_PER_LEVEL, 0);
        big.levels = (8..40).collect();
        let err = big.validate().unwrap_err().to_string();
        assert!(err.contains("320000 questions"), "{err}");
        assert!("colour".parse::<Sweep>().is_err());
        assert_eq!(
            "Color-Distance".parse::<Sweep>().unwrap(),
            Sweep::ColorDistance
        );
        let json = serde_json::to_string(&ProbeSpec {
            shape: Some(Shape::Star),
            ..ProbeSpec::new(Sweep::ColorDistance, 2, 3)
        })
        .unwrap();
        assert!(json.contains(r#""sweep":"color-distance""#) && json.contains(r#""shape":"star""#));
        let back: ProbeSpec = serde_json::from_str(&json).unwrap();
        assert_eq!(back.shape, Some(Shape::Star));
    }
}
