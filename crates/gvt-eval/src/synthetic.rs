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
    /// Asked in a held-out phrasing ([`gvt_scene::qa::HELD_OUT_COUNT`], `HELD_OUT_EXIST`)
    /// rather than the benchmark's template.
    pub paraphrased: bool,
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

/// A JSON object: scene seed, object count, question kind, question, ground truth, the
/// model's answer and whether it is right. By hand rather than derived: the members flatten
/// the question and add its correctness.
impl Serialize for Sample {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut sample = serializer.serialize_struct("Sample", 8)?;
        sample.serialize_field("scene_seed", &self.scene_seed)?;
        sample.serialize_field("objects", &self.objects)?;
        sample.serialize_field("kind", self.qa.kind.name())?;
        sample.serialize_field("question", &self.qa.question)?;
        sample.serialize_field("paraphrased", &self.paraphrased)?;
        sample.serialize_field("truth", &self.qa.answer)?;
        sample.serialize_field("answer", &self.answer)?;
        sample.serialize_field("correct", &self.is_correct())?;
        sample.end()
    }
}

/// Evaluates `pipeline` on `n` scenes of `split` (the test split for reported scores, the
/// validation split while training) starting from `seed`. `on_progress(done, n)` is called
/// after each scene. Returns the report and every sample.
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
    let options = GenerateOptions {
        max_new_tokens: MAX_ANSWER_TOKENS,
        ..Default::default()
    };
    let mut questions = QaGenerator::new(seed, Mix::default());
    let mut samples = Vec::new();
    for (done, scene_seed) in split.seeds(seed).take(n).enumerate() {
        if cancel.is_cancelled() {
            break;
        }
        let scene =
            Scene::generate(scene_seed, request).map_err(|e| Error::InvalidInput(e.to_string()))?;
        let image = DynamicImage::ImageRgb8(
            scene
                .render(side)
                .map_err(|e| Error::InvalidInput(e.to_string()))?,
        );
        let asked = questions_for(&scene, scene_seed, &mut questions)
            .into_iter()
            .map(|qa| (qa, false))
            .chain(
                paraphrases_for(&scene, scene_seed)
                    .into_iter()
                    .map(|qa| (qa, true)),
            );
        for (qa, paraphrased) in asked {
            let answer = pipeline
                .ask(Some(&image), &qa.question, &options, cancel, &mut |_| {})
                .await?;
            samples.push(Sample {
                scene_seed,
                objects: scene.objects.len(),
                answer: postprocess_generation(&answer.text),
                qa,
                paraphrased,
            });
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
    let of = |kind: QuestionKind, paraphrased: bool| {
        samples
            .iter()
            .filter(move |s| s.qa.kind == kind && s.paraphrased == paraphrased)
    };
    let counting = |paraphrased| {
        CountingMetrics::from_pairs(
            of(QuestionKind::Count, paraphrased)
                .map(|s| (parse_count(&s.qa.answer), parse_count(&s.answer))),
        )
    };
    let identification = |paraphrased| {
        IdentificationMetrics::from_outcomes(
            of(QuestionKind::Exist, paraphrased).map(|s| (s.objects as u32, s.is_correct())),
        )
    };
    let mut report = Report::new(title);
    report.push("OC", counting(false));
    report.push("MCI", identification(false));
    report.push(
        "color",
        AccuracyMetrics::from_outcomes(of(QuestionKind::Color, false).map(Sample::is_correct)),
    );
    report.push(
        "position",
        AccuracyMetrics::from_outcomes(of(QuestionKind::Position, false).map(Sample::is_correct)),
    );
    // The same tasks in held-out phrasings: close to the template scores when the model
    // understands the question rather than its wording.
    if samples.iter().any(|s| s.paraphrased) {
        report.push("OC, paraphrased", counting(true));
        report.push("MCI, paraphrased", identification(true));
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
            paraphrased: false,
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
                r#""question":"How many stars are there in the image?","paraphrased":false,"#,
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
    fn paraphrased_samples_are_scored_apart() {
        let mut paraphrased = sample(QuestionKind::Count, "2", "5", 3);
        paraphrased.paraphrased = true;
        let samples = vec![sample(QuestionKind::Count, "2", "2", 3), paraphrased];
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
                "MCI, paraphrased"
            ]
        );
        assert_eq!(report.entries[0].metrics.accuracy(), 1.0);
        assert_eq!(report.entries[4].metrics.accuracy(), 0.0);
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
