//! Evaluation on held-out generated scenes: GVTBench's questions (object counting and
//! multi-class identification) plus colour and position, asked of a loaded model and scored
//! with the same rules as the real benchmark ([`super::metrics`]).
//!
//! Scenes come from the test split ([`Split::Test`]), so a model trained on the train split
//! never saw them. Counting questions ask about a class that is present, as GVTBench's do;
//! existence questions are balanced between present and absent classes.

use image::DynamicImage;
use serde::ser::{Serialize, SerializeStruct, Serializer};

use super::metrics::{
    AccuracyMetrics, CountingMetrics, IdentificationMetrics, exact_match, mci_correct, parse_count,
    postprocess_generation,
};
use super::report::Report;
use gvt_core::generate::{CancelFlag, GenerateOptions};
use gvt_core::pipeline::Pipeline;
use gvt_core::{Error, Result};
use gvt_scene::qa::{Mix, Qa, QaGenerator, QuestionKind, Split};
use gvt_scene::{Scene, SceneRequest, Shape};

/// Longest answer generated per question: answers are a number, "Yes."/"No.", a colour or a
/// position (GVT itself allows 32 and cuts at the first period).
const MAX_ANSWER_TOKENS: usize = 12;

/// One question asked and what the model said.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub scene_seed: u64,
    pub objects: usize,
    pub qa: Qa,
    /// The set of questions it belongs to.
    pub set: QuestionSet,
    /// The model's answer after GVT's post-processing (cut at the first period).
    pub answer: String,
}

impl Sample {
    /// The sample as one line of JSON, without a newline: a line of
    /// `gvt eval synthetic --samples` (members as the `Serialize` impl writes them).
    pub fn to_json_line(&self) -> String {
        // Cannot fail: the members are strings, integers and a boolean.
        serde_json::to_string(self).expect("a sample serializes to JSON")
    }

    /// Whether the answer is right by its kind's rule: the first number for counts,
    /// GVTBench's yes/no rule for existence, a normalised exact match otherwise ([`score`]
    /// counts these).
    pub fn is_correct(&self) -> bool {
        is_correct(&self.qa, &self.answer)
    }
}

/// Whether `answer` (post-processed) answers `qa` by its kind's rule: the first number for
/// counts, GVTBench's yes/no rule for existence, a normalised exact match otherwise.
pub fn is_correct(qa: &Qa, answer: &str) -> bool {
    match qa.kind {
        QuestionKind::Count | QuestionKind::ColorCount => {
            parse_count(answer) == parse_count(&qa.answer)
        }
        QuestionKind::Exist => mci_correct(&qa.answer, answer),
        _ => exact_match(&qa.answer, answer),
    }
}

/// The three sets of questions an evaluation asks, scored apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuestionSet {
    /// GVTBench's questions in its templates (counting a present class, existence) and
    /// colour and position, about the split's random scenes.
    Template,
    /// Counting and existence about the same scenes in a held-out phrasing
    /// ([`gvt_scene::qa::HELD_OUT_COUNT`], `HELD_OUT_EXIST`) rather than the template.
    Paraphrased,
    /// Counting, in the template, about a second scene per seed drawn with exactly `k` of
    /// the asked class, `k` cycling through 0-9: every count equally often, which random
    /// scenes (mostly one or two of a class) do not give.
    Counts,
}

impl QuestionSet {
    /// "template", "paraphrased" or "counts", as in the samples' JSON.
    pub fn name(self) -> &'static str {
        match self {
            QuestionSet::Template => "template",
            QuestionSet::Paraphrased => "paraphrased",
            QuestionSet::Counts => "counts",
        }
    }
}

/// A JSON object: scene seed, object count, question kind, question, its set, ground truth,
/// the model's answer and whether it is right. By hand rather than derived: the members flatten
/// the question and add its correctness.
impl Serialize for Sample {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut sample = serializer.serialize_struct("Sample", 8)?;
        sample.serialize_field("scene_seed", &self.scene_seed)?;
        sample.serialize_field("objects", &self.objects)?;
        sample.serialize_field("kind", self.qa.kind.name())?;
        sample.serialize_field("question", &self.qa.question)?;
        sample.serialize_field("set", self.set.name())?;
        sample.serialize_field("truth", &self.qa.answer)?;
        sample.serialize_field("answer", &self.answer)?;
        sample.serialize_field("correct", &self.is_correct())?;
        sample.end()
    }
}

/// Evaluates `pipeline` on `n` scenes of `split` (the test split for reported scores, the
/// validation split while training) starting from `seed`, and on a second scene per seed
/// for the balanced counting table ([`QuestionSet::Counts`]). `on_progress(done, n)` is
/// called after each seed. Returns the report and every sample.
pub async fn evaluate(
    pipeline: &Pipeline,
    split: Split,
    n: usize,
    seed: u64,
    cancel: &CancelFlag,
    on_progress: &mut dyn FnMut(usize, usize),
) -> Result<(Report, Vec<Sample>)> {
    let request = SceneRequest::default();
    evaluate_scenes(pipeline, split, n, seed, &request, cancel, on_progress).await
}

/// [`evaluate`] on scenes generated under `request` (for instance in a varied drawing
/// style: the same objects, questions and answers, drawn otherwise).
pub async fn evaluate_scenes(
    pipeline: &Pipeline,
    split: Split,
    n: usize,
    seed: u64,
    request: &SceneRequest,
    cancel: &CancelFlag,
    on_progress: &mut dyn FnMut(usize, usize),
) -> Result<(Report, Vec<Sample>)> {
    let side = pipeline
        .config
        .vision
        .as_ref()
        .map(|v| v.image_size as u32)
        .ok_or_else(|| {
            Error::InvalidInput("synthetic evaluation needs a model with a vision tower".into())
        })?;
    let mut questions = QaGenerator::new(seed, Mix::default());
    let mut samples = Vec::new();
    for (done, scene_seed) in split.seeds(seed).take(n).enumerate() {
        if cancel.is_cancelled() {
            break;
        }
        let scene = draw(scene_seed, request)?;
        let asked: Vec<(Qa, QuestionSet)> = questions_for(&scene, scene_seed, &mut questions)
            .into_iter()
            .map(|qa| (qa, QuestionSet::Template))
            .chain(
                paraphrases_for(&scene, scene_seed)
                    .into_iter()
                    .map(|qa| (qa, QuestionSet::Paraphrased)),
            )
            .collect();
        let (shape, count) = balanced_count(done);
        let crowd = draw(scene_seed, &request.clone().exactly(shape, count))?;
        let counted = vec![(Qa::count(&crowd, shape), QuestionSet::Counts)];
        for (scene, asked) in [(scene, asked), (crowd, counted)] {
            ask(
                pipeline,
                &scene,
                scene_seed,
                side,
                asked,
                cancel,
                &mut samples,
            )
            .await?;
        }
        on_progress(done + 1, n);
    }
    let style = if request.varied_style {
        ", varied style"
    } else {
        ""
    };
    let title = format!(
        "synthetic {} scenes (n={n}, seed={seed}{style})",
        split.name()
    );
    let report = score(&samples, &title);
    Ok((report, samples))
}

/// The scene of `seed` under `request`.
fn draw(seed: u64, request: &SceneRequest) -> Result<Scene> {
    Scene::generate(seed, request).map_err(|e| Error::InvalidInput(e.to_string()))
}

/// Asks `pipeline` each question about `scene`, rendered at `side` pixels, into `samples`.
async fn ask(
    pipeline: &Pipeline,
    scene: &Scene,
    scene_seed: u64,
    side: u32,
    questions: impl IntoIterator<Item = (Qa, QuestionSet)>,
    cancel: &CancelFlag,
    samples: &mut Vec<Sample>,
) -> Result<()> {
    let options = GenerateOptions {
        max_new_tokens: MAX_ANSWER_TOKENS,
        ..Default::default()
    };
    let image = DynamicImage::ImageRgb8(
        scene
            .render(side)
            .map_err(|e| Error::InvalidInput(e.to_string()))?,
    );
    for (qa, set) in questions {
        let answer = pipeline
            .ask(Some(&image), &qa.question, &options, cancel, &mut |_| {})
            .await?;
        samples.push(Sample {
            scene_seed,
            objects: scene.objects.len(),
            answer: postprocess_generation(&answer.text),
            qa,
            set,
        });
    }
    Ok(())
}

/// The class and count of the [`QuestionSet::Counts`] scene for the `index`-th seed: the
/// count cycles through 0-9 and the class through [`Shape::ALL`] every ten seeds, so every
/// (class, count) pair comes once in 80 seeds.
fn balanced_count(index: usize) -> (Shape, usize) {
    (Shape::ALL[(index / 10) % Shape::ALL.len()], index % 10)
}

/// One question of each kind that can be asked about `scene`: counting a present class
/// (chosen by the scene's seed), existence (balanced across scenes), colour and position
/// (only when unambiguous).
fn questions_for(scene: &Scene, scene_seed: u64, generator: &mut QaGenerator) -> Vec<Qa> {
    let mut out = Vec::with_capacity(4);
    out.extend(counted(scene, scene_seed).map(|shape| Qa::count(scene, shape)));
    for kind in [
        QuestionKind::Exist,
        QuestionKind::Color,
        QuestionKind::Position,
    ] {
        out.extend(generator.ask(scene, kind));
    }
    out
}

/// The class a scene's counting question asks about: a present one, chosen by the seed.
fn counted(scene: &Scene, scene_seed: u64) -> Option<Shape> {
    let present = scene.shapes_present();
    (!present.is_empty()).then(|| present[(scene_seed % present.len() as u64) as usize])
}

/// The paraphrase split's questions about `scene`: counting a present class and the
/// existence of a class (present in even scenes, absent in odd ones when one is), each in
/// a held-out phrasing chosen by the seed.
fn paraphrases_for(scene: &Scene, scene_seed: u64) -> Vec<Qa> {
    let present = scene.shapes_present();
    let absent: Vec<Shape> = Shape::ALL
        .into_iter()
        .filter(|s| !present.contains(s))
        .collect();
    let variant = (scene_seed / 2) as usize;
    let mut out = Vec::with_capacity(2);
    out.extend(
        counted(scene, scene_seed).map(|shape| Qa::count_paraphrased(scene, shape, variant)),
    );
    let pick = |from: &[Shape]| from.get(variant % from.len().max(1)).copied();
    let asked = if scene_seed % 2 == 1 {
        pick(&absent).or_else(|| pick(&present))
    } else {
        pick(&present).or_else(|| pick(&absent))
    };
    if let Some(shape) = asked {
        out.push(Qa::exist_paraphrased(scene, shape, variant + 1));
    }
    out
}

/// Scores samples with GVTBench's rules: OC (accuracy, MAE, RMSE by `gt // 3`), MCI (the
/// yes/no rule, bins by number of objects), colour and position (exact match).
pub fn score(samples: &[Sample], title: &str) -> Report {
    let of = |kind: QuestionKind, set: QuestionSet| {
        samples
            .iter()
            .filter(move |s| s.qa.kind == kind && s.set == set)
    };
    let counting = |set| {
        CountingMetrics::from_pairs(
            of(QuestionKind::Count, set)
                .map(|s| (parse_count(&s.qa.answer), parse_count(&s.answer))),
        )
    };
    let identification = |set| {
        IdentificationMetrics::from_outcomes(
            of(QuestionKind::Exist, set).map(|s| (s.objects as u32, s.is_correct())),
        )
    };
    let accuracy = |kind| {
        AccuracyMetrics::from_outcomes(of(kind, QuestionSet::Template).map(Sample::is_correct))
    };
    let has = |set| samples.iter().any(|s| s.set == set);
    let mut report = Report::new(title);
    report.push("OC", counting(QuestionSet::Template));
    report.push("MCI", identification(QuestionSet::Template));
    report.push("color", accuracy(QuestionKind::Color));
    report.push("position", accuracy(QuestionKind::Position));
    // The same tasks in held-out phrasings: close to the template scores when the model
    // understands the question rather than its wording.
    if has(QuestionSet::Paraphrased) {
        report.push("OC, paraphrased", counting(QuestionSet::Paraphrased));
        report.push("MCI, paraphrased", identification(QuestionSet::Paraphrased));
    }
    if has(QuestionSet::Counts) {
        report.push("OC, counts 0-9", counting(QuestionSet::Counts));
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(kind: QuestionKind, truth: &str, answer: &str, objects: usize) -> Sample {
        Sample {
            scene_seed: 0,
            objects,
            qa: Qa {
                kind,
                question: String::new(),
                answer: truth.into(),
            },
            answer: answer.into(),
            set: QuestionSet::Template,
        }
    }

    #[test]
    fn scores_each_kind_with_its_rule() {
        let samples = vec![
            sample(QuestionKind::Count, "3", "3", 5),
            sample(QuestionKind::Count, "2", "There are four", 5),
            sample(QuestionKind::Exist, "Yes.", "Yes", 5),
            sample(QuestionKind::Exist, "No.", "yes", 5),
            sample(QuestionKind::Color, "red", "Red.", 1),
            sample(QuestionKind::Position, "top left", "top", 1),
        ];
        let text = score(&samples, "t").to_json();
        serde_json::from_str::<serde_json::Value>(&text).unwrap();
        // OC: 1 of 2 right, errors 0 and 2 -> MAE 1; MCI 1 of 2; colour 1 of 1; position 0 of 1.
        for needle in ["\"OC\"", "\"MCI\"", "\"color\"", "\"position\""] {
            assert!(text.contains(needle), "{needle} missing: {text}");
        }
        let report = score(&samples, "t").to_table();
        assert!(report.contains("50.0"), "{report}");
        assert!(report.contains("100.0"), "{report}");
    }

    #[test]
    fn sample_json_line() {
        let mut s = sample(QuestionKind::Count, "3", "There are 3 \"stars\"", 5);
        s.scene_seed = u64::MAX;
        s.qa.question = "How many stars are there in the image?".into();
        assert_eq!(
            s.to_json_line(),
            concat!(
                r#"{"scene_seed":18446744073709551615,"objects":5,"kind":"count","#,
                r#""question":"How many stars are there in the image?","set":"template","#,
                r#""truth":"3","#,
                r#""answer":"There are 3 \"stars\"","correct":true}"#
            )
        );
    }

    #[test]
    fn paraphrases_keep_the_answers_and_balance_existence() {
        let (mut yes, mut no, mut counts) = (0u32, 0u32, 0u32);
        for seed in Split::Test.seeds(0).take(200) {
            let scene = Scene::generate(seed, &SceneRequest::default()).unwrap();
            for qa in paraphrases_for(&scene, seed) {
                assert!(!qa.question.starts_with("How many"), "{}", qa.question);
                match qa.kind {
                    QuestionKind::Count => counts += 1,
                    QuestionKind::Exist if qa.answer == "Yes." => yes += 1,
                    QuestionKind::Exist => no += 1,
                    other => panic!("paraphrased {other:?}"),
                }
            }
        }
        assert!(counts > 150, "{counts}");
        assert!(yes + no == 200 && yes.min(no) >= 70, "{yes} yes, {no} no");
    }

    #[test]
    fn each_set_is_scored_apart() {
        let mut paraphrased = sample(QuestionKind::Count, "2", "5", 3);
        paraphrased.set = QuestionSet::Paraphrased;
        let mut counts: Vec<Sample> = (0..10)
            .map(|k| sample(QuestionKind::Count, &k.to_string(), "3", k))
            .collect();
        for s in &mut counts {
            s.set = QuestionSet::Counts;
        }
        let mut samples = vec![sample(QuestionKind::Count, "2", "2", 3), paraphrased];
        samples.extend(counts);
        let report = score(&samples, "t");
        let names: Vec<&str> = report.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "OC",
                "MCI",
                "color",
                "position",
                "OC, paraphrased",
                "MCI, paraphrased",
                "OC, counts 0-9"
            ]
        );
        assert_eq!(report.entries[0].metrics.accuracy(), 1.0);
        assert_eq!(report.entries[4].metrics.accuracy(), 0.0);
        // One of ten right, and a row per true count 0-9 in the table and the JSON.
        assert_eq!(report.entries[6].metrics.accuracy(), 0.1);
        let table = report.to_table();
        for k in 0..10 {
            assert!(table.contains(&format!("  count {k} ")), "{table}");
        }
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        let text = json.to_string();
        assert!(text.contains("OC, counts 0-9"), "{text}");
    }

    /// Every (class, count) pair comes once in 80 seeds; counts 0-9 equally often.
    #[test]
    fn balanced_counts_cover_every_class_and_count() {
        let pairs: std::collections::BTreeSet<(Shape, usize)> =
            (0..80).map(balanced_count).collect();
        assert_eq!(pairs.len(), 80);
        let mut per_count = [0; 10];
        (0..2000).for_each(|i| per_count[balanced_count(i).1] += 1);
        assert_eq!(per_count, [200; 10]);
    }

    #[test]
    fn every_scene_gets_balanced_answerable_questions() {
        let mut generator = QaGenerator::new(3, Mix::default());
        let mut kinds = std::collections::HashMap::new();
        for seed in Split::Test.seeds(0).take(200) {
            let scene = Scene::generate(seed, &SceneRequest::default()).unwrap();
            for qa in questions_for(&scene, seed, &mut generator) {
                if qa.kind == QuestionKind::Count {
                    assert_ne!(qa.answer, "0", "OC asks about present classes");
                }
                *kinds.entry(qa.kind).or_insert(0) += 1;
            }
        }
        assert_eq!(kinds[&QuestionKind::Exist], 200);
        assert!(kinds[&QuestionKind::Count] > 150);
        assert!(kinds[&QuestionKind::Color] > 20 && kinds[&QuestionKind::Position] > 20);
        let (yes, no) = generator.exist_tally();
        assert!(yes.abs_diff(no) <= 4, "{yes} yes vs {no} no");
    }
}
