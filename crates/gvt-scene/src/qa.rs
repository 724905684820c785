//! Questions and answers about generated scenes, and the held-out splits.
//!
//! The two GVTBench templates are copied verbatim from its files (`coco_oc.json`,
//! `coco_mci.json`; the tests compare them against every record when the files are around):
//!
//! | kind         | question                                     | answer                |
//! |--------------|----------------------------------------------|-----------------------|
//! | `Count`      | `How many stars are there in the image?`     | `3` (digits, `0` if none) |
//! | `Exist`      | `Does star exist in the image?`              | `Yes.` or `No.`       |
//! | `ColorCount` | `How many red stars are there in the image?` | `2`                   |
//! | `Color`      | `What color is the star?`                    | `red`                 |
//! | `Position`   | `Where is the blue square?`                  | `top left`            |
//! | `Describe`   | `Describe the image in one sentence.`        | `There are two red circles and a blue star on a gradient background.` |
//!
//! The MCI template uses the singular class name ("Does cell phone exist in the image?"), the
//! OC one the plural. GVTBench only counts classes that are present (answers 1 to 9); here a
//! quarter of the count questions ask about an absent class so that the model also learns
//! "0". Colour questions are asked only when exactly one object has the shape, position
//! questions only when exactly one object has the colour and shape and its centre is clearly
//! inside one cell of the 3x3 grid ([`Object::position_is_clear`]).
//!
//! [`Qa`]'s constructors give the exact question and answer for a chosen subject (for
//! evaluation sets); [`QaGenerator`] draws a seeded mix of kinds and subjects (for training).
//! It keeps the existence answers balanced over its whole stream: a scene with both present
//! and absent classes gets the answer given less often so far once the tally is off by two,
//! which makes up for empty scenes (only "No.") and full ones (only "Yes.").

use std::sync::LazyLock;

use super::{Color, Object, Rng, Scene, Shape, mix64};

/// The MCI answer when the class is present, as in GVTBench.
pub const YES: &str = "Yes.";
/// The MCI answer when the class is absent, as in GVTBench.
pub const NO: &str = "No.";
/// The description question.
pub const DESCRIBE_QUESTION: &str = "Describe the image in one sentence.";
/// Share of (colour-)count questions about something present in the scene.
const PRESENT_SHARE: f32 = 0.75;

/// Kinds of question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QuestionKind {
    /// GVTBench OC: "How many {plural} are there in the image?"
    Count,
    /// GVTBench MCI: "Does {class} exist in the image?"
    Exist,
    /// "How many {colour} {plural} are there in the image?"
    ColorCount,
    /// "What color is the {class}?"
    Color,
    /// "Where is the {colour} {class}?"
    Position,
    /// "Describe the image in one sentence."
    Describe,
}

impl QuestionKind {
    pub const ALL: [QuestionKind; 6] = [
        QuestionKind::Count,
        QuestionKind::Exist,
        QuestionKind::ColorCount,
        QuestionKind::Color,
        QuestionKind::Position,
        QuestionKind::Describe,
    ];

    /// Short lowercase name for reports: "count", "exist", "color_count", "color",
    /// "position", "describe".
    pub fn name(self) -> &'static str {
        match self {
            QuestionKind::Count => "count",
            QuestionKind::Exist => "exist",
            QuestionKind::ColorCount => "color_count",
            QuestionKind::Color => "color",
            QuestionKind::Position => "position",
            QuestionKind::Describe => "describe",
        }
    }
}

/// Phrasings of the counting question that no training question uses ("{}" is the plural):
/// the paraphrase split, which asks whether a model understands the question or only its
/// template.
pub const HELD_OUT_COUNT: [&str; 2] = [
    "Tell me how many {} the picture shows.",
    "What is the total number of {} in this image?",
];

/// Phrasings of the existence question that no training question uses ("{}" is the
/// plural), answered "Yes." or "No." like [`Qa::exist`].
pub const HELD_OUT_EXIST: [&str; 2] = [
    "Can you see any {} in this picture?",
    "Are any {} shown in this picture?",
];

/// The phrasings of each kind of question that training may use (`gvt train
/// --paraphrase-share`). The first of each is the template evaluation asks (GVTBench's, for
/// counting and existence); the others share no three-word sequence with a held-out
/// phrasing, so the paraphrase split asks in words training never used.
///
/// Counting and existence questions are composed: an opener that decides the kind ("Count
/// the {plural}", "Is there {a} {name}") joined to a place phrase that both kinds share
/// ("in the picture", "you can see", "shown here"). So the words around the subject ("see",
/// "any", "picture", "shown", "this") are asked equally in both kinds, and only the opener
/// tells a number from "Yes."/"No.". Between them the openers start with every word a
/// held-out phrasing starts with ("Tell", "What", "Can", "Are"). Placeholders: `{plural}`,
/// `{name}` (the shape's singular), `{color}`, `{a}` (the article "a"/"an" for what follows
/// it).
pub fn phrasings(kind: QuestionKind) -> &'static [String] {
    // `QuestionKind::ALL` lists the kinds in declaration order, so a kind indexes it.
    static ALL: LazyLock<[Vec<String>; 6]> = LazyLock::new(|| QuestionKind::ALL.map(compose));
    &ALL[kind as usize]
}

/// An opener of a composed question: its text, whether it already says how the object is
/// perceived ("Do you see", "appear"), so that it takes no place phrase that does too, and
/// the closing mark.
type Opener = (&'static str, bool, &'static str);

const COUNT_OPENERS: [Opener; 9] = [
    ("Count the {plural}", false, "."),
    ("Count all the {plural}", false, "."),
    ("Count any {plural}", false, "."),
    ("Count every {name}", false, "."),
    ("Give the count of {plural}", false, "."),
    ("Give the total of {plural}", false, "."),
    ("Give the number for {plural}", false, "."),
    ("Tell me the count of {plural}", false, "."),
    ("What count of {plural} is there", true, "?"),
];

const EXIST_OPENERS: [Opener; 17] = [
    ("Is there {a} {name}", false, "?"),
    ("Is there any {name}", false, "?"),
    ("Are there {plural}", false, "?"),
    ("Are there any {plural}", false, "?"),
    ("Tell me if there is {a} {name}", false, "."),
    ("Is {a} {name} present", true, "?"),
    ("Do you see {a} {name}", true, "?"),
    ("Can you spot any {plural}", true, "?"),
    ("Can you find {a} {name}", true, "?"),
    ("Can we see {a} {name}", true, "?"),
    ("Do you see {plural}", true, "?"),
    ("Can we see {plural}", true, "?"),
    ("Do any {plural} appear", true, "?"),
    // "Can you" before several verbs, so that the opener, not the verb after it, tells a
    // presence question (as in the held-out "Can you see any").
    ("Can you spot {a} {name}", true, "?"),
    ("Can you notice any {plural}", true, "?"),
    ("Can you make out any {plural}", true, "?"),
    ("Can you detect any {plural}", true, "?"),
];

/// Where the object is looked for, shared by counting and existence questions, and whether
/// the phrase says how it is perceived. The last four say "in this" after a word other than
/// the subject ("stars anywhere in this drawing"), so that "in this" is heard in training
/// without the held-out "stars in this".
const PLACES: [(&str, bool); 13] = [
    ("", false),
    (" here", false),
    (" in the image", false),
    (" in the picture", false),
    (" within this picture", false),
    (" anywhere in the picture", false),
    (" shown here", true),
    (" shown within this image", true),
    (" you can see", true),
    (" visible in this scene", true),
    (" anywhere in this drawing", false),
    (" anywhere in this scene", false),
    (" drawn in this scene", true),
];

/// Every phrasing of `kind`: the template, then the training paraphrases.
fn compose(kind: QuestionKind) -> Vec<String> {
    let (template, openers): (&str, &[Opener]) = match kind {
        QuestionKind::Count => ("How many {plural} are there in the image?", &COUNT_OPENERS),
        QuestionKind::Exist => ("Does {name} exist in the image?", &EXIST_OPENERS),
        QuestionKind::ColorCount => {
            return strings(&[
                "How many {color} {plural} are there in the image?",
                "Count the {color} {plural}.",
                "Give the count of {color} {plural}.",
            ]);
        }
        QuestionKind::Color => {
            return strings(&[
                "What color is the {name}?",
                "Which color is the {name}?",
                "Which color does the {name} have?",
            ]);
        }
        QuestionKind::Position => {
            return strings(&[
                "Where is the {color} {name}?",
                "In which part of the image is the {color} {name}?",
                "Where can you find the {color} {name}?",
            ]);
        }
        QuestionKind::Describe => {
            return strings(&[
                DESCRIBE_QUESTION,
                "Describe the image.",
                "What does the image show?",
            ]);
        }
    };
    // Held-out wordings stay unseen: a composition that shares three consecutive words with
    // one of them ("any {plural} in", "of {plural} in") is left out.
    let held_out: Vec<String> = HELD_OUT_COUNT
        .iter()
        .chain(&HELD_OUT_EXIST)
        .flat_map(|t| word_triples(&t.replace("{}", "{plural}")))
        .collect();
    let mut all = vec![template.to_owned()];
    for &(opener, perceives, mark) in openers {
        for &(place, place_perceives) in &PLACES {
            let text = format!("{opener}{place}{mark}");
            if !(perceives && place_perceives)
                && word_triples(&text).iter().all(|t| !held_out.contains(t))
            {
                all.push(text);
            }
        }
    }
    all
}

fn strings(texts: &[&str]) -> Vec<String> {
    texts.iter().map(|&t| t.to_owned()).collect()
}

/// Every three consecutive words of a template, lowercased, with `{name}` and `{plural}`
/// as one word (a held-out phrasing may use either number).
fn word_triples(template: &str) -> Vec<String> {
    let words: Vec<String> = template
        .split_whitespace()
        .map(|w| w.trim_end_matches(['.', '?']).to_lowercase())
        .map(|w| {
            if w == "{name}" {
                "{plural}".to_owned()
            } else {
                w
            }
        })
        .collect();
    words.windows(3).map(|w| w.join(" ")).collect()
}

/// `template` with its placeholders filled (see [`phrasings`]).
pub fn fill(template: &str, shape: Option<Shape>, color: Option<Color>) -> String {
    let mut out = template.to_string();
    if let Some(shape) = shape {
        out = out
            .replace("{plural}", shape.plural())
            .replace("{name}", shape.name());
    }
    if let Some(color) = color {
        out = out.replace("{color}", color.name());
    }
    // The article agrees with the word after it.
    while let Some(at) = out.find("{a} ") {
        let next = out[at + 4..].chars().next().unwrap_or(' ');
        let article = if "aeiou".contains(next.to_ascii_lowercase()) {
            "an"
        } else {
            "a"
        };
        out.replace_range(at..at + 3, article);
    }
    out
}

/// One question about a scene and its exact answer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Qa {
    pub kind: QuestionKind,
    pub question: String,
    pub answer: String,
}

impl Qa {
    /// "How many {plural} are there in the image?" -> the count in digits.
    pub fn count(scene: &Scene, shape: Shape) -> Qa {
        Qa {
            kind: QuestionKind::Count,
            question: fill(&phrasings(QuestionKind::Count)[0], Some(shape), None),
            answer: scene.count(shape).to_string(),
        }
    }

    /// "Does {class} exist in the image?" -> "Yes." or "No.".
    pub fn exist(scene: &Scene, shape: Shape) -> Qa {
        Qa {
            kind: QuestionKind::Exist,
            question: fill(&phrasings(QuestionKind::Exist)[0], Some(shape), None),
            answer: if scene.count(shape) > 0 { YES } else { NO }.to_string(),
        }
    }

    /// "How many {colour} {plural} are there in the image?" -> the count in digits.
    pub fn color_count(scene: &Scene, color: Color, shape: Shape) -> Qa {
        Qa {
            kind: QuestionKind::ColorCount,
            question: fill(
                &phrasings(QuestionKind::ColorCount)[0],
                Some(shape),
                Some(color),
            ),
            answer: scene.count((color, shape)).to_string(),
        }
    }

    /// "What color is the {class}?" -> "red"; `None` unless exactly one object has the shape.
    pub fn color_of(scene: &Scene, shape: Shape) -> Option<Qa> {
        let object = scene.unique(shape)?;
        Some(Qa {
            kind: QuestionKind::Color,
            question: fill(&phrasings(QuestionKind::Color)[0], Some(shape), None),
            answer: object.color.name().to_string(),
        })
    }

    /// "Where is the {colour} {class}?" -> "top left", ... (see [`super::Position::word`]);
    /// `None` unless exactly one object has the colour and shape and its position is clear.
    pub fn position_of(scene: &Scene, color: Color, shape: Shape) -> Option<Qa> {
        let object = scene
            .unique((color, shape))
            .filter(|o| o.position_is_clear())?;
        Some(Qa {
            kind: QuestionKind::Position,
            question: fill(
                &phrasings(QuestionKind::Position)[0],
                Some(shape),
                Some(color),
            ),
            answer: object.position().word().to_string(),
        })
    }

    /// The counting question in held-out phrasing `variant` (of [`HELD_OUT_COUNT`]): the
    /// same answer as [`Qa::count`], in words no training question uses.
    pub fn count_paraphrased(scene: &Scene, shape: Shape, variant: usize) -> Qa {
        let template = HELD_OUT_COUNT[variant % HELD_OUT_COUNT.len()];
        Qa {
            question: template.replace("{}", shape.plural()),
            ..Qa::count(scene, shape)
        }
    }

    /// The existence question in held-out phrasing `variant` (of [`HELD_OUT_EXIST`]): the
    /// same answer as [`Qa::exist`], in words no training question uses.
    pub fn exist_paraphrased(scene: &Scene, shape: Shape, variant: usize) -> Qa {
        let template = HELD_OUT_EXIST[variant % HELD_OUT_EXIST.len()];
        Qa {
            question: template.replace("{}", shape.plural()),
            ..Qa::exist(scene, shape)
        }
    }

    /// "Describe the image in one sentence." -> [`describe`]'s sentence.
    pub fn describe(scene: &Scene) -> Qa {
        Qa {
            kind: QuestionKind::Describe,
            question: DESCRIBE_QUESTION.to_string(),
            answer: describe(scene),
        }
    }
}

/// The one-sentence description: the objects grouped by colour and shape, shapes in
/// [`Shape::ALL`] order and colours in [`Color::ALL`] order within a shape, counts as words
/// ("a"/"an", "two" ... "nine"), then the background kind. For example "There are two red
/// circles and a blue star on a gradient background.", "There is an orange heart on a plain
/// background.", "There are no objects on a speckled background.". The verb agrees with the
/// first group.
pub fn describe(scene: &Scene) -> String {
    let mut groups: Vec<(Shape, Color, usize)> = Vec::new();
    for shape in Shape::ALL {
        for color in Color::ALL {
            let n = scene.count((color, shape));
            if n > 0 {
                groups.push((shape, color, n));
            }
        }
    }
    let background = scene.background.kind().name();
    let Some(&(_, _, first)) = groups.first() else {
        return format!("There are no objects on a {background} background.");
    };
    let phrases: Vec<String> = groups
        .iter()
        .map(|&(shape, color, n)| {
            if n == 1 {
                format!(
                    "{} {} {}",
                    article(color.name()),
                    color.name(),
                    shape.name()
                )
            } else {
                format!("{} {} {}", number_word(n), color.name(), shape.plural())
            }
        })
        .collect();
    let list = match phrases.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => phrases.concat(),
    };
    let verb = if first == 1 { "is" } else { "are" };
    format!("There {verb} {list} on a {background} background.")
}

/// "a" or "an" before `word`.
fn article(word: &str) -> &'static str {
    match word.as_bytes().first() {
        Some(b'a' | b'e' | b'i' | b'o' | b'u') => "an",
        _ => "a",
    }
}

/// "zero" to "nine", digits beyond.
fn number_word(n: usize) -> String {
    const WORDS: [&str; 10] = [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    ];
    WORDS
        .get(n)
        .map_or_else(|| n.to_string(), |w| (*w).to_string())
}

/// Relative weights of the question kinds a [`QaGenerator`] draws (0 disables a kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mix {
    pub count: u32,
    pub exist: u32,
    pub color_count: u32,
    pub color: u32,
    pub position: u32,
    pub describe: u32,
}

impl Default for Mix {
    /// The GVTBench kinds first: count 3, exist 3, colour count 2, colour 2, position 2,
    /// describe 1.
    fn default() -> Self {
        Mix {
            count: 3,
            exist: 3,
            color_count: 2,
            color: 2,
            position: 2,
            describe: 1,
        }
    }
}

impl Mix {
    /// Only questions of `kind`.
    pub fn only(kind: QuestionKind) -> Mix {
        let mut mix = Mix {
            count: 0,
            exist: 0,
            color_count: 0,
            color: 0,
            position: 0,
            describe: 0,
        };
        *mix.weight_mut(kind) = 1;
        mix
    }

    /// The weight of `kind`.
    pub fn weight(&self, kind: QuestionKind) -> u32 {
        match kind {
            QuestionKind::Count => self.count,
            QuestionKind::Exist => self.exist,
            QuestionKind::ColorCount => self.color_count,
            QuestionKind::Color => self.color,
            QuestionKind::Position => self.position,
            QuestionKind::Describe => self.describe,
        }
    }

    fn weight_mut(&mut self, kind: QuestionKind) -> &mut u32 {
        match kind {
            QuestionKind::Count => &mut self.count,
            QuestionKind::Exist => &mut self.exist,
            QuestionKind::ColorCount => &mut self.color_count,
            QuestionKind::Color => &mut self.color,
            QuestionKind::Position => &mut self.position,
            QuestionKind::Describe => &mut self.describe,
        }
    }
}

/// Draws questions about a stream of scenes: seeded, so the same seed, mix and sequence of
/// scenes give the same questions; it keeps the "Yes."/"No." tally of existence questions
/// balanced over the whole stream.
#[derive(Debug, Clone)]
pub struct QaGenerator {
    rng: Rng,
    mix: Mix,
    yes: u64,
    no: u64,
    /// Share of questions asked in another of [`phrasings`] than the template.
    paraphrase_share: f32,
    /// Its own stream, so that share 0 draws exactly what a generator without it draws.
    phrasing_rng: Rng,
}

impl QaGenerator {
    /// A generator drawing kinds by `mix`, with its own random stream from `seed`.
    pub fn new(seed: u64, mix: Mix) -> Self {
        QaGenerator {
            rng: Rng::stream(seed, 0x51A),
            mix,
            yes: 0,
            no: 0,
            paraphrase_share: 0.0,
            phrasing_rng: Rng::stream(seed, 0x9A7A),
        }
    }

    /// Asks `share` of the questions in one of the other [`phrasings`] of their kind (chosen
    /// uniformly), with the same answer; the rest in the template. Training uses it to teach
    /// the language rather than the template; evaluation keeps the templates.
    pub fn with_paraphrase_share(mut self, share: f32) -> Self {
        self.paraphrase_share = share.clamp(0.0, 1.0);
        self
    }

    /// The existence answers given so far: (`Yes.`, `No.`).
    pub fn exist_tally(&self) -> (u64, u64) {
        (self.yes, self.no)
    }

    /// Up to `n` distinct questions about `scene`, kinds drawn by the mix; kinds that cannot
    /// be asked about this scene (a colour question with no unique shape...) are redrawn, so
    /// fewer than `n` come back only when the scene offers fewer.
    pub fn draw(&mut self, scene: &Scene, n: usize) -> Vec<Qa> {
        let proposals = self.propose_distinct(scene, n);
        proposals.into_iter().map(|p| self.rephrase(p)).collect()
    }

    /// Up to `n` distinct questions about `scene` of which the first counts `shape`; the
    /// others never ask that again, in any phrasing. Every question, the first included, is
    /// phrased as the paraphrase share draws.
    pub fn draw_counting(&mut self, scene: &Scene, shape: Shape, n: usize) -> Vec<Qa> {
        let lead = Proposal::of(Qa::count(scene, shape), shape, None);
        // Drawn as `draw` draws, and then the repeat dropped, so that with no paraphrase
        // share the questions are those a generator drew before this method existed.
        let others: Vec<Proposal> = self
            .propose_distinct(scene, n)
            .into_iter()
            .filter(|p| p.qa.question != lead.qa.question)
            .take(n.saturating_sub(1))
            .collect();
        let mut out = vec![self.rephrase(lead)];
        out.extend(others.into_iter().map(|p| self.rephrase(p)));
        out
    }

    /// Up to `n` proposals with distinct template questions (one question is not asked twice
    /// in two phrasings), recorded in the existence tally.
    fn propose_distinct(&mut self, scene: &Scene, n: usize) -> Vec<Proposal> {
        let mut out: Vec<Proposal> = Vec::with_capacity(n);
        let attempts = 8 * n + 8;
        for _ in 0..attempts {
            if out.len() >= n {
                break;
            }
            let Some(kind) = self.pick_kind() else { break };
            if let Some(proposal) = self.propose(scene, kind)
                && !out.iter().any(|p| p.qa.question == proposal.qa.question)
            {
                self.record(&proposal.qa);
                out.push(proposal);
            }
        }
        out
    }

    /// One question of `kind` about `scene`, or `None` if none can be asked.
    pub fn ask(&mut self, scene: &Scene, kind: QuestionKind) -> Option<Qa> {
        let qa = self.propose(scene, kind).map(|q| self.rephrase(q))?;
        self.record(&qa);
        Some(qa)
    }

    fn pick_kind(&mut self) -> Option<QuestionKind> {
        let total: u64 = QuestionKind::ALL
            .iter()
            .map(|&k| u64::from(self.mix.weight(k)))
            .sum();
        if total == 0 {
            return None;
        }
        let mut r = ((u128::from(self.rng.next_u64()) * u128::from(total)) >> 64) as u64;
        for kind in QuestionKind::ALL {
            let w = u64::from(self.mix.weight(kind));
            if r < w {
                return Some(kind);
            }
            r -= w;
        }
        None
    }

    /// `proposal` in the phrasing the paraphrase share draws.
    fn rephrase(&mut self, proposal: Proposal) -> Qa {
        let Proposal { qa, shape, color } = proposal;
        if self.paraphrase_share <= 0.0 || !self.phrasing_rng.chance(self.paraphrase_share) {
            return qa;
        }
        let others = &phrasings(qa.kind)[1..];
        let template = &others[self.phrasing_rng.below(others.len())];
        Qa {
            question: fill(template, shape, color),
            ..qa
        }
    }

    fn record(&mut self, qa: &Qa) {
        if qa.kind == QuestionKind::Exist {
            if qa.answer == YES {
                self.yes += 1;
            } else {
                self.no += 1;
            }
        }
    }

    fn propose(&mut self, scene: &Scene, kind: QuestionKind) -> Option<Proposal> {
        let rng = &mut self.rng;
        match kind {
            QuestionKind::Count => {
                let present = scene.shapes_present();
                let shape = match rng.chance(PRESENT_SHARE) {
                    true => rng.pick(&present),
                    false => None,
                }
                .or_else(|| rng.pick(&Shape::ALL))?;
                Some(Proposal::of(Qa::count(scene, shape), shape, None))
            }
            QuestionKind::Exist => {
                let present = scene.shapes_present();
                let absent: Vec<Shape> = Shape::ALL
                    .into_iter()
                    .filter(|s| !present.contains(s))
                    .collect();
                let want_yes = if self.yes > self.no + 1 {
                    false
                } else if self.no > self.yes + 1 {
                    true
                } else {
                    rng.chance(0.5)
                };
                let (first, second) = if want_yes {
                    (&present, &absent)
                } else {
                    (&absent, &present)
                };
                let shape = rng.pick(first).or_else(|| rng.pick(second))?;
                Some(Proposal::of(Qa::exist(scene, shape), shape, None))
            }
            QuestionKind::ColorCount => {
                let present = pairs(scene, |_| true);
                let (color, shape) = match rng.chance(PRESENT_SHARE) {
                    true => rng.pick(&present),
                    false => None,
                }
                .or_else(|| {
                    let color = rng.pick(&Color::ALL)?;
                    Some((color, rng.pick(&Shape::ALL)?))
                })?;
                let qa = Qa::color_count(scene, color, shape);
                Some(Proposal::of(qa, shape, Some(color)))
            }
            QuestionKind::Color => {
                let unique: Vec<Shape> = Shape::ALL
                    .into_iter()
                    .filter(|&s| scene.count(s) == 1)
                    .collect();
                let shape = rng.pick(&unique)?;
                Some(Proposal::of(Qa::color_of(scene, shape)?, shape, None))
            }
            QuestionKind::Position => {
                let clear = pairs(scene, |o| {
                    scene.count((o.color, o.shape)) == 1 && o.position_is_clear()
                });
                let (color, shape) = rng.pick(&clear)?;
                let qa = Qa::position_of(scene, color, shape)?;
                Some(Proposal::of(qa, shape, Some(color)))
            }
            QuestionKind::Describe => Some(Proposal {
                qa: Qa::describe(scene),
                shape: None,
                color: None,
            }),
        }
    }
}

/// A question in its template, with what its other phrasings are filled with.
struct Proposal {
    qa: Qa,
    shape: Option<Shape>,
    color: Option<Color>,
}

impl Proposal {
    fn of(qa: Qa, shape: Shape, color: Option<Color>) -> Self {
        Proposal {
            qa,
            shape: Some(shape),
            color,
        }
    }
}

/// Distinct (colour, shape) pairs of the objects that pass `keep`, in a fixed order.
fn pairs(scene: &Scene, keep: impl Fn(&Object) -> bool) -> Vec<(Color, Shape)> {
    let mut out: Vec<(Color, Shape)> = scene
        .objects
        .iter()
        .filter(|o| keep(o))
        .map(|o| (o.color, o.shape))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Held-out splits of the scene seeds.
///
/// A seed's split is a fixed function of the seed alone (a SplitMix64 hash, 90% train, 5%
/// validation, 5% test), so training never sees an evaluation scene whatever range of seeds
/// either one walks through, and every platform agrees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Split {
    /// Never scored: `gvt eval --split` offers only the held-out splits.
    #[cfg_attr(feature = "clap", value(skip))]
    Train,
    Validation,
    Test,
}

impl Split {
    pub const ALL: [Split; 3] = [Split::Train, Split::Validation, Split::Test];

    /// The split of the scene with seed `seed`.
    pub fn of(seed: u64) -> Split {
        match mix64(seed ^ 0x5EED_5B11_7C0D_E000) % 1000 {
            0..900 => Split::Train,
            900..950 => Split::Validation,
            _ => Split::Test,
        }
    }

    /// "train", "validation", "test".
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Validation => "validation",
            Split::Test => "test",
        }
    }

    /// The seeds of this split from `start` upwards, in order
    /// (`Split::Test.seeds(s).take(2000)` is an evaluation set).
    pub fn seeds(self, start: u64) -> impl Iterator<Item = u64> {
        (start..=u64::MAX).filter(move |&s| Split::of(s) == self)
    }
}
