//! What a scene must contain: an object count range and counting constraints, and the exact
//! solver that draws object kinds satisfying them.
//!
//! An object kind is a cell `(shape, colour, size)`: 8 x 6 x 3 = 144 cells. Every constraint
//! says "between `min` and `max` objects match this filter", a linear condition on how many
//! objects each cell gets. Cells that match the same constraints form an atom; a solution is
//! a count per atom. Drawing goes in three steps:
//! 1. the feasible totals `n` in the requested range are found by a depth-first search over
//!    the atom counts (pruned by every constraint's bounds, failures memoised), and `n` is
//!    drawn uniformly among them (an empty set is [`SceneError::Unsatisfiable`]);
//! 2. up to [`NATURAL_TRIES`] times, `n` cells are drawn uniformly and kept if they satisfy
//!    the constraints: loose constraints ("at least one star", "no hearts") then keep the
//!    natural distribution of unconstrained scenes;
//! 3. otherwise the search runs again with randomised choices (each atom's count is tried
//!    from a binomial draw outwards), which always succeeds because `n` is feasible; the cells
//!    of each atom are then drawn uniformly.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use super::{BackgroundKind, Cell, Color, MAX_OBJECTS, Object, Rng, SceneError, Shape, Size};

/// Most constraints in one request (the solver's memo packs 4 bits per constraint).
pub const MAX_CONSTRAINTS: usize = 12;
/// Plain random draws tried before the randomised search.
const NATURAL_TRIES: usize = 16;
/// Search nodes after which a request is refused as [`SceneError::TooComplex`].
const MAX_SEARCH_NODES: usize = 2_000_000;

/// A set of objects: those with the given shape, colour and size (`None` matches any).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Filter {
    pub shape: Option<Shape>,
    pub color: Option<Color>,
    pub size: Option<Size>,
}

impl Filter {
    /// Every object.
    pub const ANY: Filter = Filter {
        shape: None,
        color: None,
        size: None,
    };

    /// Whether `object` belongs to the set.
    pub fn matches(&self, object: &Object) -> bool {
        self.matches_kind(object.shape, object.color, object.size)
    }

    fn matches_kind(&self, shape: Shape, color: Color, size: Size) -> bool {
        self.shape.is_none_or(|s| s == shape)
            && self.color.is_none_or(|c| c == color)
            && self.size.is_none_or(|z| z == size)
    }
}

impl fmt::Display for Filter {
    /// English plural phrase: "large red stars", "blue objects", "objects".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut words: Vec<&str> = Vec::with_capacity(3);
        words.extend(self.size.map(Size::name));
        words.extend(self.color.map(Color::name));
        words.push(self.shape.map_or("objects", Shape::plural));
        f.write_str(&words.join(" "))
    }
}

impl From<Shape> for Filter {
    fn from(shape: Shape) -> Filter {
        Filter {
            shape: Some(shape),
            ..Filter::ANY
        }
    }
}

impl From<Color> for Filter {
    fn from(color: Color) -> Filter {
        Filter {
            color: Some(color),
            ..Filter::ANY
        }
    }
}

impl From<Size> for Filter {
    fn from(size: Size) -> Filter {
        Filter {
            size: Some(size),
            ..Filter::ANY
        }
    }
}

impl From<(Color, Shape)> for Filter {
    fn from((color, shape): (Color, Shape)) -> Filter {
        Filter {
            shape: Some(shape),
            color: Some(color),
            size: None,
        }
    }
}

/// "Between `min` and `max` objects (inclusive) match `filter`".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Constraint {
    pub filter: Filter,
    pub min: usize,
    pub max: usize,
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.min, self.max) {
            (lo, hi) if lo == hi => write!(f, "exactly {lo} {}", self.filter),
            (0, hi) => write!(f, "at most {hi} {}", self.filter),
            (lo, hi) if hi >= MAX_OBJECTS => write!(f, "at least {lo} {}", self.filter),
            (lo, hi) => write!(f, "{lo} to {hi} {}", self.filter),
        }
    }
}

impl FromStr for Filter {
    type Err = SceneError;

    /// Reads a [`Filter`]'s phrase back: a size, a colour and a shape (singular or plural),
    /// each optional and in any order, or "objects" for any shape: "large red stars",
    /// "star", "blue objects", "small".
    fn from_str(phrase: &str) -> Result<Filter, SceneError> {
        filter_from_words(phrase.split_whitespace()).map_err(|reason| SceneError::Phrase {
            phrase: phrase.to_string(),
            reason,
        })
    }
}

/// The filter that `words` name, or why they name none.
fn filter_from_words<'a>(words: impl Iterator<Item = &'a str>) -> Result<Filter, String> {
    let mut filter = Filter::ANY;
    let mut any_word = false;
    for word in words {
        any_word = true;
        let taken = if let Some(shape) = Shape::from_name(word) {
            filter.shape.replace(shape).is_some()
        } else if let Some(color) = Color::from_name(word) {
            filter.color.replace(color).is_some()
        } else if let Some(size) = Size::from_name(word) {
            filter.size.replace(size).is_some()
        } else if word.eq_ignore_ascii_case("objects") || word.eq_ignore_ascii_case("object") {
            false
        } else {
            return Err(format!(
                "\"{word}\" is not a shape ({}), a colour ({}) or a size ({})",
                names(Shape::ALL.map(Shape::name)),
                names(Color::ALL.map(Color::name)),
                names(Size::ALL.map(Size::name)),
            ));
        };
        if taken {
            return Err(format!("\"{word}\" names a second shape, colour or size"));
        }
    }
    if !any_word {
        return Err("name a shape, a colour or a size".into());
    }
    Ok(filter)
}

impl FromStr for Constraint {
    type Err = SceneError;

    /// Reads a [`Constraint`]'s phrase back: "exactly 5 red stars" (or just "5 red stars"),
    /// "at least 2 circles", "at most 1 heart", "2 to 4 squares", "no large objects".
    fn from_str(phrase: &str) -> Result<Constraint, SceneError> {
        let bad = |reason: String| SceneError::Phrase {
            phrase: phrase.to_string(),
            reason,
        };
        let lower = phrase.to_ascii_lowercase();
        let words: Vec<&str> = lower.split_whitespace().collect();
        let count = |i: usize| -> Result<usize, SceneError> {
            words
                .get(i)
                .and_then(|w| w.parse().ok())
                .ok_or_else(|| bad("expected a whole number of objects".into()))
        };
        let (min, max, rest) = match words[..] {
            ["no", ..] => (0, 0, 1),
            ["exactly", ..] => (count(1)?, count(1)?, 2),
            ["at", "least", ..] => (count(2)?, MAX_OBJECTS, 3),
            ["at", "most", ..] => (0, count(2)?, 3),
            [_, "to", ..] => (count(0)?, count(2)?, 3),
            [_, ..] => (count(0)?, count(0)?, 1),
            [] => {
                return Err(bad(
                    "say how many: \"exactly 5 red stars\", \"no hearts\"".into()
                ));
            }
        };
        let filter =
            filter_from_words(words[rest.min(words.len())..].iter().copied()).map_err(bad)?;
        Ok(Constraint { filter, min, max })
    }
}

impl FromStr for SceneRequest {
    type Err = SceneError;

    /// Constraint phrases separated by commas or semicolons, as a person would list them:
    /// "5 red stars, no hearts, 6 to 9 objects" (a range of "objects" bounds the total). An
    /// empty text is the default request.
    fn from_str(text: &str) -> Result<SceneRequest, SceneError> {
        let mut request = SceneRequest::new();
        for phrase in text.split([',', ';']).filter(|p| !p.trim().is_empty()) {
            request.constraints.push(phrase.trim().parse()?);
        }
        request.validate()?;
        Ok(request)
    }
}

/// "a, b or c", for error messages.
fn names<const N: usize>(names: [&str; N]) -> String {
    match names.split_last() {
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// What a scene must contain. The default is 0 to 9 objects of random kinds (uniform count)
/// on a random background.
///
/// ```
/// use gvt_scene::{BackgroundKind, Color, SceneRequest, Shape};
///
/// // Exactly 6 objects, at least one star, no red objects, on a gradient.
/// let request = SceneRequest::new()
///     .objects(6, 6)
///     .at_least(Shape::Star, 1)
///     .without(Color::Red)
///     .background(BackgroundKind::Gradient);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SceneRequest {
    /// Fewest objects in the scene.
    pub min_objects: usize,
    /// Most objects in the scene, at most [`MAX_OBJECTS`].
    pub max_objects: usize,
    /// Conditions that must all hold; at most [`MAX_CONSTRAINTS`].
    pub constraints: Vec<Constraint>,
    /// The background kind, or `None` for a random one.
    pub background: Option<BackgroundKind>,
    /// Draw the scene in a varied [`crate::Style`] (its own random stream: the objects and
    /// layout are those of the classic scene of the same seed), and on white for some seeds.
    pub varied_style: bool,
}

impl Default for SceneRequest {
    fn default() -> Self {
        SceneRequest {
            min_objects: 0,
            max_objects: MAX_OBJECTS,
            constraints: Vec::new(),
            background: None,
            varied_style: false,
        }
    }
}

impl SceneRequest {
    /// The default request.
    pub fn new() -> Self {
        SceneRequest::default()
    }

    /// Asks for a varied drawing style (see [`SceneRequest::varied_style`]).
    pub fn varied(mut self) -> Self {
        self.varied_style = true;
        self
    }

    /// Between `min` and `max` objects in all (`objects(n, n)` for exactly `n`).
    pub fn objects(mut self, min: usize, max: usize) -> Self {
        self.min_objects = min;
        self.max_objects = max;
        self
    }

    /// Adds "between `min` and `max` objects match `filter`".
    pub fn between(mut self, filter: impl Into<Filter>, min: usize, max: usize) -> Self {
        self.constraints.push(Constraint {
            filter: filter.into(),
            min,
            max,
        });
        self
    }

    /// Adds "exactly `n` objects match `filter`".
    pub fn exactly(self, filter: impl Into<Filter>, n: usize) -> Self {
        self.between(filter, n, n)
    }

    /// Adds "at least `n` objects match `filter`".
    pub fn at_least(self, filter: impl Into<Filter>, n: usize) -> Self {
        self.between(filter, n, MAX_OBJECTS)
    }

    /// Adds "at most `n` objects match `filter`".
    pub fn at_most(self, filter: impl Into<Filter>, n: usize) -> Self {
        self.between(filter, 0, n)
    }

    /// Adds "no object matches `filter`".
    pub fn without(self, filter: impl Into<Filter>) -> Self {
        self.between(filter, 0, 0)
    }

    /// Uses the background kind `kind`.
    pub fn background(mut self, kind: BackgroundKind) -> Self {
        self.background = Some(kind);
        self
    }

    /// Checks the ranges and the number of constraints (not their joint satisfiability).
    pub fn validate(&self) -> Result<(), SceneError> {
        if self.min_objects > self.max_objects || self.max_objects > MAX_OBJECTS {
            return Err(SceneError::ObjectCount {
                min: self.min_objects,
                max: self.max_objects,
            });
        }
        if self.constraints.len() > MAX_CONSTRAINTS {
            return Err(SceneError::TooManyConstraints(self.constraints.len()));
        }
        for c in &self.constraints {
            // A maximum above MAX_OBJECTS is harmless ("at least 2" may be written 2..=usize::MAX).
            if c.min > c.max || c.min > MAX_OBJECTS {
                return Err(SceneError::ConstraintRange {
                    filter: c.filter.to_string(),
                    min: c.min,
                    max: c.max,
                });
            }
        }
        Ok(())
    }

    /// Draws the kinds of the scene's objects (see the module documentation).
    pub(crate) fn draw_objects(&self, rng: &mut Rng) -> Result<Vec<Cell>, SceneError> {
        self.validate()?;
        if self.constraints.is_empty() {
            return Ok(self.draw_unconstrained(rng));
        }
        let bounds: Vec<(u8, u8)> = self
            .constraints
            .iter()
            .map(|c| (c.min as u8, c.max.min(MAX_OBJECTS) as u8))
            .collect();
        let atoms = atoms(&self.constraints);
        let mut solver = Solver::new(&atoms, &bounds);
        let mut feasible = Vec::new();
        for n in self.min_objects..=self.max_objects {
            if solver.solve(n, None)?.is_some() {
                feasible.push(n);
            }
        }
        let Some(n) = rng.pick(&feasible) else {
            let constraints: Vec<String> = self.constraints.iter().map(|c| c.to_string()).collect();
            return Err(SceneError::Unsatisfiable {
                min: self.min_objects,
                max: self.max_objects,
                constraints: constraints.join(", "),
            });
        };
        for _ in 0..NATURAL_TRIES {
            let cells: Vec<Cell> = (0..n).map(|_| random_cell(rng)).collect();
            if self.constraints.iter().all(|c| {
                let k = cells
                    .iter()
                    .filter(|x| c.filter.matches_kind(x.shape, x.color, x.size))
                    .count();
                (c.min..=c.max).contains(&k)
            }) {
                return Ok(cells);
            }
        }
        // `n` is feasible, so the randomised search finds a solution.
        let counts = solver.solve(n, Some(rng))?.ok_or(SceneError::TooComplex)?;
        let mut cells = Vec::with_capacity(n);
        for (atom, count) in atoms.iter().zip(counts) {
            for _ in 0..count {
                if let Some(cell) = rng.pick(&atom.cells) {
                    cells.push(cell);
                }
            }
        }
        Ok(cells)
    }

    /// A uniform count in the range and uniform kinds; ignores the constraints.
    pub(crate) fn draw_unconstrained(&self, rng: &mut Rng) -> Vec<Cell> {
        let span = self.max_objects.saturating_sub(self.min_objects) + 1;
        let n = self.min_objects + rng.below(span);
        (0..n).map(|_| random_cell(rng)).collect()
    }
}

fn random_cell(rng: &mut Rng) -> Cell {
    let i = rng.below(Shape::ALL.len() * Color::ALL.len() * Size::ALL.len());
    cell(i)
}

/// Cell number `i` of the 144, shape-major.
fn cell(i: usize) -> Cell {
    let (nc, nz) = (Color::ALL.len(), Size::ALL.len());
    Cell {
        shape: Shape::ALL[i / (nc * nz)],
        color: Color::ALL[(i / nz) % nc],
        size: Size::ALL[i % nz],
    }
}

/// Cells that match exactly the constraints in `mask` (bit `j` for constraint `j`).
struct Atom {
    mask: u16,
    cells: Vec<Cell>,
}

/// Groups the 144 cells by the set of constraints they match, in first-seen order.
fn atoms(constraints: &[Constraint]) -> Vec<Atom> {
    let mut atoms: Vec<Atom> = Vec::new();
    for i in 0..Shape::ALL.len() * Color::ALL.len() * Size::ALL.len() {
        let c = cell(i);
        let mask = constraints
            .iter()
            .enumerate()
            .filter(|(_, k)| k.filter.matches_kind(c.shape, c.color, c.size))
            .fold(0u16, |m, (j, _)| m | (1 << j));
        match atoms.iter_mut().find(|a| a.mask == mask) {
            Some(atom) => atom.cells.push(c),
            None => atoms.push(Atom {
                mask,
                cells: vec![c],
            }),
        }
    }
    atoms
}

/// Depth-first search for a count per atom, summing to `n`, within every constraint's bounds.
struct Solver<'a> {
    atoms: &'a [Atom],
    bounds: &'a [(u8, u8)],
    /// `suffix[i]`: the constraints that atoms `i..` can still add to.
    suffix: Vec<u16>,
    /// `suffix_cells[i]`: how many cells atoms `i..` hold.
    suffix_cells: Vec<usize>,
    /// States `(atom, remaining, packed partial sums)` known to have no solution.
    failed: HashSet<(usize, usize, u64)>,
    nodes: usize,
}

impl<'a> Solver<'a> {
    fn new(atoms: &'a [Atom], bounds: &'a [(u8, u8)]) -> Self {
        let mut suffix = vec![0u16; atoms.len() + 1];
        let mut suffix_cells = vec![0usize; atoms.len() + 1];
        for i in (0..atoms.len()).rev() {
            suffix[i] = suffix[i + 1] | atoms[i].mask;
            suffix_cells[i] = suffix_cells[i + 1] + atoms[i].cells.len();
        }
        Solver {
            atoms,
            bounds,
            suffix,
            suffix_cells,
            failed: HashSet::new(),
            nodes: 0,
        }
    }

    /// A count per atom for `n` objects, or `None` if there is none. With `rng`, the choices
    /// are randomised; without, the search is plain (used to test feasibility).
    fn solve(
        &mut self,
        n: usize,
        mut rng: Option<&mut Rng>,
    ) -> Result<Option<Vec<usize>>, SceneError> {
        let mut partial = vec![0u8; self.bounds.len()];
        let mut counts = Vec::with_capacity(self.atoms.len());
        let found = self.search(0, n, &mut partial, &mut counts, &mut rng)?;
        Ok(found.then_some(counts))
    }

    fn search(
        &mut self,
        i: usize,
        remaining: usize,
        partial: &mut [u8],
        counts: &mut Vec<usize>,
        rng: &mut Option<&mut Rng>,
    ) -> Result<bool, SceneError> {
        self.nodes += 1;
        if self.nodes > MAX_SEARCH_NODES {
            return Err(SceneError::TooComplex);
        }
        // Every constraint must still be reachable: below its maximum (kept on the way down)
        // and able to reach its minimum with what is left.
        for (j, &(lo, _)) in self.bounds.iter().enumerate() {
            let open = self.suffix[i] & (1 << j) != 0;
            let reach = usize::from(partial[j]) + if open { remaining } else { 0 };
            if reach < usize::from(lo) {
                return Ok(false);
            }
        }
        if i == self.atoms.len() {
            return Ok(remaining == 0);
        }
        let key = (i, remaining, pack(partial));
        if self.failed.contains(&key) {
            return Ok(false);
        }
        let last = i + 1 == self.atoms.len();
        let order: Vec<usize> = if last {
            vec![remaining]
        } else if let Some(r) = rng.as_deref_mut() {
            let share = self.atoms[i].cells.len() as f32 / self.suffix_cells[i] as f32;
            let start = (0..remaining).filter(|_| r.chance(share)).count();
            outward(start, remaining, r.chance(0.5))
        } else {
            (0..=remaining).collect()
        };
        let mask = self.atoms[i].mask;
        for c in order {
            if self.add(partial, mask, c) {
                counts.push(c);
                if self.search(i + 1, remaining - c, partial, counts, rng)? {
                    return Ok(true);
                }
                counts.pop();
            }
            self.remove(partial, mask, c);
        }
        self.failed.insert(key);
        Ok(false)
    }

    /// Adds `c` to the constraints in `mask`; `false` if one goes over its maximum (the
    /// additions are made regardless, for [`Solver::remove`] to undo).
    fn add(&self, partial: &mut [u8], mask: u16, c: usize) -> bool {
        let mut ok = true;
        for (j, &(_, hi)) in self.bounds.iter().enumerate() {
            if mask & (1 << j) != 0 {
                partial[j] = partial[j].saturating_add(c as u8);
                ok &= partial[j] <= hi;
            }
        }
        ok
    }

    fn remove(&self, partial: &mut [u8], mask: u16, c: usize) {
        for (j, p) in partial.iter_mut().enumerate() {
            if mask & (1 << j) != 0 {
                *p = p.saturating_sub(c as u8);
            }
        }
    }
}

/// 4 bits per constraint (partial sums never exceed [`MAX_OBJECTS`]).
fn pack(partial: &[u8]) -> u64 {
    partial
        .iter()
        .fold(0u64, |acc, &p| (acc << 4) | u64::from(p.min(15)))
}

/// `0..=max` ordered by distance from `start`, alternating sides (`up` first or not).
fn outward(start: usize, max: usize, up: bool) -> Vec<usize> {
    let mut order = Vec::with_capacity(max + 1);
    order.push(start.min(max));
    for d in 1..=max {
        let hi = start.checked_add(d).filter(|&v| v <= max);
        let lo = start.checked_sub(d);
        let (first, second) = if up { (hi, lo) } else { (lo, hi) };
        order.extend(first);
        order.extend(second);
    }
    order
}
