//! Training batches drawn from generated scenes: pixels with per-patch labels (stage 1), and
//! pixels with question/answer conversations (stage 2).
//!
//! Every batch is a pure function of `(seed, stage, step)`, so a resumed run sees exactly the
//! data an uninterrupted one would have, and only training-split scenes are ever drawn.

use burn::tensor::{Device, Int, Tensor, TensorData};
use image::RgbImage;

use crate::vocab::IM_END;
use gvt_core::pipeline::PromptText;
use gvt_core::preprocess::Preprocessor;
use gvt_core::rng::{Rng, mix64};
use gvt_core::tokenizer::Tokenizer;
use gvt_core::{Error, Result};
use gvt_scene::qa::{Mix, Qa, QaGenerator, Split};
use gvt_scene::{PatchLabels, Scene, SceneRequest, Shape};

/// Which part of the recipe a batch feeds (keeps the two stages' scene streams apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Stage 1: the visual tokenizer with patch-level supervision.
    Vision,
    /// Stage 2: perceiver, projection and LLM on questions and answers.
    Qa,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Vision => "vision",
            Stage::Qa => "qa",
        }
    }

    fn salt(self) -> u64 {
        match self {
            Stage::Vision => 0x5747_0001,
            Stage::Qa => 0x5747_0002,
        }
    }
}

/// The training-split scene for sample `index` of `step`.
pub fn scene_seed(seed: u64, stage: Stage, step: usize, index: usize) -> u64 {
    let mut candidate = mix64(seed ^ stage.salt() ^ mix64((step as u64) << 20 | index as u64));
    while Split::of(candidate) != Split::Train {
        candidate = mix64(candidate);
    }
    candidate
}

/// Fewest and most objects of the one repeated shape in a crowded training scene, by
/// default (`TrainConfig::crowd_min`/`crowd_max`).
pub const CROWD: std::ops::RangeInclusive<usize> = 2..=5;

/// A training scene, and the shape a stage 2 conversation about it must count, if any.
#[derive(Debug, Clone)]
pub struct TrainingScene {
    pub scene: Scene,
    /// The crowd's shape: one question of the conversation counts it.
    pub counted: Option<Shape>,
}

impl TrainingScene {
    /// The training scene of `scene_seed`. With probability `crowded_share` it is crowded:
    /// one shape appears `crowd` times (uniformly, [`CROWD`] by default) among other random
    /// objects, and the conversation counts it. Random scenes rarely hold more than two
    /// objects of a shape, so without these a model learns that "one" or "two" is nearly
    /// always the answer; a crowd of 0-9 balances every count a question can have.
    pub fn draw(
        scene_seed: u64,
        crowded_share: f64,
        crowd: std::ops::RangeInclusive<usize>,
    ) -> Result<TrainingScene> {
        Self::draw_styled(scene_seed, crowded_share, crowd, &[], 0.0)
    }

    /// [`TrainingScene::draw`], with the crowd's shape drawn by `crowd_weights` (one per
    /// shape of [`Shape::ALL`]; empty: uniformly, as `draw` does) and `varied_share` of the
    /// scenes drawn in a varied style (other proportions, tilts, hard edges, outlines,
    /// white backgrounds: [`gvt_scene::Style`]), decided on a stream of its own so that a
    /// share of 0 draws the classic scenes.
    pub fn draw_styled(
        scene_seed: u64,
        crowded_share: f64,
        crowd: std::ops::RangeInclusive<usize>,
        crowd_weights: &[f64],
        varied_share: f64,
    ) -> Result<TrainingScene> {
        let varied =
            varied_share > 0.0 && Rng::stream(scene_seed, 0x57E1).chance(varied_share as f32);
        let mut request = SceneRequest::new();
        request.varied_style = varied;
        let mut rng = Rng::stream(scene_seed, 0xC40D);
        if !rng.chance(crowded_share as f32) {
            let scene = Scene::generate(scene_seed, &request)
                .map_err(|e| Error::Execution(format!("drawing a scene: {e}")))?;
            return Ok(TrainingScene {
                scene,
                counted: None,
            });
        }
        let shape = crowd_shape(&mut rng, crowd_weights);
        let (low, high) = (*crowd.start(), (*crowd.end()).max(*crowd.start()));
        let n = low + rng.below(high - low + 1);
        let scene = Scene::generate(scene_seed, &request.exactly(shape, n))
            .map_err(|e| Error::Execution(format!("drawing a crowded scene: {e}")))?;
        Ok(TrainingScene {
            scene,
            counted: Some(shape),
        })
    }
}

/// A crowd's shape: uniform without weights, else shape `i` with probability
/// `weights[i] / sum` ([`validate_crowd_weights`] has checked them).
fn crowd_shape(rng: &mut Rng, weights: &[f64]) -> Shape {
    if weights.is_empty() {
        return Shape::ALL[rng.below(Shape::ALL.len())];
    }
    let total: f64 = weights.iter().sum();
    let mut left = f64::from(rng.next_f32()) * total;
    for (&shape, &weight) in Shape::ALL.iter().zip(weights) {
        if left < weight {
            return shape;
        }
        left -= weight;
    }
    // Rounding can leave a sliver past the last weight: the last shape that has one.
    let last = weights.iter().rposition(|&w| w > 0.0).unwrap_or(0);
    Shape::ALL[last]
}

/// Checks crowd weights: none, or one finite non-negative weight per shape of
/// [`Shape::ALL`], not all zero.
pub fn validate_crowd_weights(weights: &[f64]) -> Result<()> {
    let valid = weights.is_empty()
        || (weights.len() == Shape::ALL.len()
            && weights.iter().all(|w| w.is_finite() && *w >= 0.0)
            && weights.iter().any(|&w| w > 0.0));
    if valid {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!(
            "crowd weights {weights:?} are not one finite weight >= 0 per shape ({}), some above 0",
            Shape::ALL.len()
        )))
    }
}

/// Renders scenes and normalises them for the vision tower.
pub struct Renderer {
    preprocessor: Preprocessor,
    canvas: RgbImage,
}

impl Renderer {
    pub fn new(preprocessor: Preprocessor) -> Self {
        let side = preprocessor.size as u32;
        Self {
            preprocessor,
            canvas: RgbImage::new(side, side),
        }
    }

    /// `[b, 3, s, s]` pixels of `scenes`.
    pub fn pixels(&mut self, scenes: &[Scene], device: &Device) -> Tensor<4> {
        let s = self.preprocessor.size;
        let mut values = Vec::with_capacity(scenes.len() * 3 * s * s);
        for scene in scenes {
            scene
                .render_into(&mut self.canvas)
                .expect("the canvas is a non-empty square");
            values.extend(self.preprocessor.normalize(&self.canvas));
        }
        Tensor::from_data(TensorData::new(values, [scenes.len(), 3, s, s]), device)
    }
}

/// Stage 1 targets, flattened over `[b, grid^2]` patches.
pub struct PatchTargets {
    pub grid: usize,
    pub shape: Tensor<1, Int>,
    pub color: Tensor<1, Int>,
    pub center: Tensor<1, Int>,
    pub shape_count: Tensor<1, Int>,
    pub kind_count: Tensor<1, Int>,
    pub object_position: Tensor<1, Int>,
    /// Each patch's own row and column: the tokens must keep where they are, or the
    /// frozen tokenizer hands stage 2 a bag of patches in which nothing can be located
    /// and two objects of one shape look like one bigger one.
    pub row: Tensor<1, Int>,
    pub col: Tensor<1, Int>,
}

impl PatchTargets {
    pub fn new(scenes: &[Scene], grid: usize, device: &Device) -> Self {
        let labels: Vec<PatchLabels> = scenes.iter().map(|s| s.patch_labels(grid)).collect();
        let n = scenes.len() * grid * grid;
        let ints = |pick: fn(&PatchLabels) -> &Vec<u8>| {
            let values: Vec<i64> = labels
                .iter()
                .flat_map(|l| pick(l).iter().map(|&v| v as i64))
                .collect();
            Tensor::<1, Int>::from_data(TensorData::new(values, [n]), device)
        };
        let cells = |cell: &dyn Fn(usize) -> usize| {
            let values: Vec<i64> = (0..n).map(|i| cell(i % (grid * grid)) as i64).collect();
            Tensor::<1, Int>::from_data(TensorData::new(values, [n]), device)
        };
        Self {
            grid,
            shape: ints(|l| &l.shape),
            color: ints(|l| &l.color),
            center: ints(|l| &l.center),
            shape_count: ints(|l| &l.shape_count),
            kind_count: ints(|l| &l.kind_count),
            object_position: ints(|l| &l.object_position),
            row: cells(&|patch| patch / grid),
            col: cells(&|patch| patch % grid),
        }
    }
}

/// Stage 2 token sequences: per scene, a multi-turn conversation
/// `prefix [visual] suffix`, where the suffix holds every question and answer.
pub struct Conversations {
    /// Tokens before the image, the same for every scene (`<|im_start|>user\n<Img>`).
    pub prefix: Vec<u32>,
    /// `[b, t]` tokens after the image, padded.
    pub suffix: Tensor<2, Int>,
    /// `[b (t - 1)]`: `suffix[:, 1..]` flattened, the next-token targets of suffix positions
    /// `0..t - 1`.
    pub targets: Tensor<1, Int>,
    /// `[b (t - 1)]`: 1 where the target is part of an answer (its end-of-turn token
    /// included), else 0.
    pub weights: Tensor<1>,
    /// Suffix length `t`.
    pub suffix_len: usize,
    /// Answer tokens in the batch (the loss's denominator).
    pub answer_tokens: usize,
}

/// Builds conversations in the model's own chat format.
pub struct ConversationBuilder<'a> {
    tokenizer: &'a Tokenizer,
    prefix: Vec<u32>,
    /// First turn's text after the image, with `{q}` for the question.
    first_turn: (String, String),
    /// Later turns' text around the question.
    next_turn: (String, String),
    end_of_answer: Vec<u32>,
    pad: u32,
    /// See [`TrainConfig::paraphrase_share`](crate::TrainConfig::paraphrase_share).
    paraphrase_share: f64,
}

impl<'a> ConversationBuilder<'a> {
    /// Fails only when the tokenizer's chat template drops the image or the question.
    pub fn new(tokenizer: &'a Tokenizer) -> Result<Self> {
        // The prompts inference builds, with an empty question: the text around it.
        let around = |text: &str, question: std::ops::Range<usize>| {
            (
                text[..question.start].to_string(),
                text[question.end..].to_string(),
            )
        };
        let image_turn = PromptText::new(tokenizer, "", true)?;
        let first_turn = around(&image_turn.after, image_turn.question);
        let text_turn = PromptText::new(tokenizer, "", false)?;
        let next_turn = around(&text_turn.before, text_turn.question);
        let before_image = image_turn.before;
        let end = tokenizer.token_id(IM_END).or(tokenizer.eos()).unwrap_or(0);
        Ok(Self {
            prefix: tokenizer.encode(&before_image, tokenizer.add_bos()),
            first_turn,
            // A finished turn is followed by a newline before the next `<|im_start|>`.
            next_turn: (format!("\n{}", next_turn.0), next_turn.1),
            end_of_answer: vec![end],
            pad: end,
            tokenizer,
            paraphrase_share: 0.0,
        })
    }

    /// Asks `share` of the questions in other training phrasings than the templates.
    pub fn with_paraphrase_share(mut self, share: f64) -> Self {
        self.paraphrase_share = share;
        self
    }

    /// One conversation per scene with `questions` questions each (fewer when the scene
    /// offers fewer), drawn by a generator seeded with `qa_seed`. When `counted[i]` names a
    /// shape, one of scene `i`'s questions counts it, at a random turn.
    pub fn build(
        &self,
        scenes: &[Scene],
        counted: &[Option<Shape>],
        questions: usize,
        qa_seed: u64,
        device: &Device,
    ) -> Conversations {
        let mut generator = QaGenerator::new(qa_seed, Mix::default())
            .with_paraphrase_share(self.paraphrase_share as f32);
        let mut rows: Vec<(Vec<u32>, Vec<bool>)> = Vec::with_capacity(scenes.len());
        for (i, scene) in scenes.iter().enumerate() {
            let qas: Vec<Qa> = match counted.get(i).copied().flatten() {
                None => generator.draw(scene, questions),
                Some(shape) => {
                    let mut qas = generator.draw_counting(scene, shape, questions);
                    // At a random turn: always first, it would teach that a first question
                    // about counting comes from a crowded scene.
                    let lead = qas.remove(0);
                    let turn = mix64(qa_seed ^ mix64(i as u64)) % (qas.len() as u64 + 1);
                    qas.insert(turn as usize, lead);
                    qas
                }
            };
            let mut ids = Vec::new();
            let mut answer = Vec::new();
            for (turn, qa) in qas.iter().enumerate() {
                let (before, after) = if turn == 0 {
                    &self.first_turn
                } else {
                    &self.next_turn
                };
                let prompt = self
                    .tokenizer
                    .encode(&format!("{before}{}{after}", qa.question), false);
                answer.extend(std::iter::repeat_n(false, prompt.len()));
                ids.extend(prompt);
                let reply: Vec<u32> = self
                    .tokenizer
                    .encode(&qa.answer, false)
                    .into_iter()
                    .chain(self.end_of_answer.iter().copied())
                    .collect();
                answer.extend(std::iter::repeat_n(true, reply.len()));
                ids.extend(reply);
            }
            rows.push((ids, answer));
        }
        let t = rows
            .iter()
            .map(|(ids, _)| ids.len())
            .max()
            .unwrap_or(1)
            .max(2);
        let b = rows.len();
        let mut suffix = Vec::with_capacity(b * t);
        let mut targets = Vec::with_capacity(b * (t - 1));
        let mut weights = Vec::with_capacity(b * (t - 1));
        for (ids, answer) in &rows {
            let padded: Vec<i64> = ids
                .iter()
                .map(|&i| i as i64)
                .chain(std::iter::repeat(self.pad as i64))
                .take(t)
                .collect();
            targets.extend_from_slice(&padded[1..]);
            suffix.extend(padded);
            weights.extend((1..t).map(|i| f32::from(u8::from(answer.get(i) == Some(&true)))));
        }
        let answer_tokens = weights.iter().filter(|&&w| w > 0.0).count();
        Conversations {
            prefix: self.prefix.clone(),
            suffix: Tensor::from_data(TensorData::new(suffix, [b, t]), device),
            targets: Tensor::from_data(TensorData::new(targets, [b * (t - 1)]), device),
            weights: Tensor::from_data(TensorData::new(weights, [b * (t - 1)]), device),
            suffix_len: t,
            answer_tokens,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gvt_core::pipeline::IMAGE_SLOT;
    use gvt_scene::qa::QuestionKind;

    fn ints(t: Tensor<2, Int>) -> Vec<u32> {
        t.into_data()
            .convert::<i64>()
            .try_into_vec::<i64>()
            .unwrap()
            .into_iter()
            .map(|v| v as u32)
            .collect()
    }

    #[test]
    fn patch_targets_give_each_patch_its_own_row_and_column() {
        let scenes = [Scene::random(1), Scene::random(2)];
        let targets = PatchTargets::new(&scenes, 3, &Device::flex());
        let flat = |t: Tensor<1, Int>| t.reshape([1, 18]);
        let rows = [0, 0, 0, 1, 1, 1, 2, 2, 2];
        let cols = [0, 1, 2, 0, 1, 2, 0, 1, 2];
        let twice = |v: [u32; 9]| [v, v].concat();
        assert_eq!(ints(flat(targets.row)), twice(rows));
        assert_eq!(ints(flat(targets.col)), twice(cols));
        let labels = scenes[1].patch_labels(3);
        let shapes: Vec<u32> = labels.shape.iter().map(|&v| v as u32).collect();
        assert_eq!(ints(flat(targets.shape))[9..], shapes[..]);
    }

    #[test]
    fn crowded_scenes_repeat_one_shape_and_ask_to_count_it() {
        let mut crowded = 0;
        for seed in Split::Train.seeds(0).take(200) {
            let plain = TrainingScene::draw(seed, 0.0, CROWD).unwrap();
            assert!(plain.counted.is_none());
            let drawn = TrainingScene::draw(seed, 0.25, CROWD).unwrap();
            let Some(shape) = drawn.counted else {
                assert_eq!(drawn.scene, Scene::random(seed));
                continue;
            };
            crowded += 1;
            let n = drawn.scene.count(shape);
            assert!(CROWD.contains(&n), "{n} {}", shape.plural());
        }
        assert!((30..=70).contains(&crowded), "{crowded} of 200 crowded");
    }

    /// A varied share draws the same objects in other styles; 0 draws the classic scenes.
    #[test]
    fn varied_scenes_are_the_classic_ones_in_another_style() {
        let mut varied = 0;
        for seed in Split::Train.seeds(0).take(200) {
            let classic = TrainingScene::draw(seed, 0.25, CROWD).unwrap();
            let same = TrainingScene::draw_styled(seed, 0.25, CROWD, &[], 0.0).unwrap();
            assert_eq!(same.scene, classic.scene);
            let styled = TrainingScene::draw_styled(seed, 0.25, CROWD, &[], 0.5).unwrap();
            assert_eq!(styled.scene.objects, classic.scene.objects);
            assert_eq!(styled.counted, classic.counted);
            varied += usize::from(styled.scene.style != gvt_scene::Style::default());
        }
        assert!((70..=130).contains(&varied), "{varied} of 200 varied");
    }

    /// A crowd of 0-9 asks every count about equally often, with exact answers, up to
    /// scenes of nine objects of one shape.
    #[test]
    fn crowds_of_zero_to_nine_balance_the_counts() {
        let mut per_count = [0usize; 10];
        for seed in Split::Train.seeds(0).take(600) {
            let drawn = TrainingScene::draw(seed, 1.0, 0..=9).unwrap();
            let n = drawn.scene.count(drawn.counted.unwrap());
            per_count[n] += 1;
        }
        assert!(
            per_count.iter().all(|&c| (35..=90).contains(&c)),
            "{per_count:?}"
        );
    }

    /// Crowd weights draw each shape as often as its weight says (triangles four times as
    /// often as circles; never a zero-weighted square), keep the scenes' exact counts, and
    /// refuse weights that are not one per shape, negative, or all zero.
    #[test]
    fn crowd_weights_pick_the_crowds_shape_by_weight() {
        let mut weights = [1.0; Shape::ALL.len()];
        weights[Shape::Triangle.index()] = 4.0;
        weights[Shape::Square.index()] = 0.0;
        let mut per_shape = [0usize; Shape::ALL.len()];
        for seed in Split::Train.seeds(0).take(1100) {
            let drawn = TrainingScene::draw_styled(seed, 1.0, 3..=3, &weights, 0.0).unwrap();
            let shape = drawn.counted.unwrap();
            assert_eq!(drawn.scene.count(shape), 3);
            per_shape[shape.index()] += 1;
        }
        // Expected: 400 triangles, 100 of each other weighted shape, no squares.
        assert_eq!(per_shape[Shape::Square.index()], 0, "{per_shape:?}");
        assert!(
            (340..=460).contains(&per_shape[Shape::Triangle.index()]),
            "{per_shape:?}"
        );
        for shape in [Shape::Circle, Shape::Star, Shape::Ring] {
            assert!(
                (65..=140).contains(&per_shape[shape.index()]),
                "{per_shape:?}"
            );
        }
        assert!(validate_crowd_weights(&[]).is_ok());
        assert!(validate_crowd_weights(&weights).is_ok());
        for bad in [
            vec![1.0; 7],
            vec![0.0; 8],
            vec![-1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
        ] {
            assert!(validate_crowd_weights(&bad).is_err(), "{bad:?}");
        }
        assert!(validate_crowd_weights(&[f64::NAN; 8]).is_err());
    }

    #[test]
    fn a_counted_shape_is_asked_once_at_a_random_turn_in_any_phrasing() {
        use gvt_scene::qa::phrasings;
        let vocab = super::super::train_vocabulary(512, 1.0).unwrap();
        let tokenizer = vocab.tokenizer().unwrap();
        let device = Device::flex();
        let crowded = (0..).map(|seed| TrainingScene::draw(seed, 1.0, CROWD).unwrap());
        let crowded: Vec<TrainingScene> = crowded
            .filter(|d| d.scene.objects.len() > 4)
            .take(40)
            .collect();
        for share in [0.0, 0.5] {
            let builder = ConversationBuilder::new(&tokenizer)
                .unwrap()
                .with_paraphrase_share(share);
            let mut turns = std::collections::BTreeSet::new();
            let mut reworded = 0;
            for (qa_seed, drawn) in (0..).zip(&crowded) {
                let shape = drawn.counted.unwrap();
                let scenes = std::slice::from_ref(&drawn.scene);
                let text = tokenizer.decode(&ints(
                    builder
                        .build(scenes, &[Some(shape)], 4, qa_seed, &device)
                        .suffix,
                ));
                assert_eq!(text.matches("assistant\n").count(), 4, "four turns: {text}");
                // Every wording of the count of this shape, in all: exactly one is asked.
                let wordings: Vec<String> = phrasings(QuestionKind::Count)
                    .iter()
                    .map(|t| gvt_scene::qa::fill(t, Some(shape), None))
                    .collect();
                let asked: Vec<&String> = wordings.iter().filter(|w| text.contains(*w)).collect();
                assert_eq!(asked.len(), 1, "share {share}: {asked:?} in {text}");
                assert_eq!(text.matches(asked[0].as_str()).count(), 1, "{text}");
                reworded += usize::from(*asked[0] != wordings[0]);
                let at = text.find(asked[0].as_str()).unwrap();
                turns.insert(text[..at].matches("assistant\n").count());
            }
            assert!(
                turns.len() >= 3,
                "share {share}: the count's turns: {turns:?}"
            );
            // Rephrased at the share, like any other question.
            if share == 0.0 {
                assert_eq!(reworded, 0);
            } else {
                assert!((8..=32).contains(&reworded), "{reworded} of 40 reworded");
            }
        }
    }

    #[test]
    fn conversations_use_the_inference_prompt_and_mask_all_but_answers() {
        let vocab = super::super::train_vocabulary(512, 0.0).unwrap();
        let tokenizer = vocab.tokenizer().unwrap();
        let device = Device::flex();
        let scene = Scene::random(4);
        let conversations = ConversationBuilder::new(&tokenizer).unwrap().build(
            std::slice::from_ref(&scene),
            &[],
            2,
            9,
            &device,
        );

        // The same questions, drawn again by the same generator.
        let qas: Vec<Qa> = QaGenerator::new(9, Mix::default()).draw(&scene, 2);
        // Inference builds the first turn exactly like this (see `Pipeline::prompt`).
        let text = tokenizer.chat_prompt(&format!("<Img>{IMAGE_SLOT}</Img>{}", qas[0].question));
        let (before, after) = text.split_once(IMAGE_SLOT).unwrap();
        assert_eq!(
            conversations.prefix,
            tokenizer.encode(before, tokenizer.add_bos())
        );
        let suffix = ints(conversations.suffix.clone());
        let first_prompt = tokenizer.encode(after, false);
        assert_eq!(&suffix[..first_prompt.len()], &first_prompt[..]);

        // The weighted targets spell the answers, each closed by <|im_end|>.
        let targets = ints(conversations.targets.clone().reshape([1, suffix.len() - 1]));
        let weights: Vec<f32> = conversations
            .weights
            .clone()
            .into_data()
            .try_into_vec()
            .unwrap();
        let answered: Vec<u32> = targets
            .iter()
            .zip(&weights)
            .filter(|(_, w)| **w > 0.0)
            .map(|(t, _)| *t)
            .collect();
        let expected = format!("{}{IM_END}{}{IM_END}", qas[0].answer, qas[1].answer);
        assert_eq!(tokenizer.decode(&answered), expected);
        assert_eq!(conversations.answer_tokens, answered.len());
    }

    /// With a paraphrase share the conversations ask the same questions in other
    /// phrasings, and the vocabulary learnt for such a run covers them.
    #[test]
    fn paraphrased_conversations_rephrase_the_questions() {
        let vocab = super::super::train_vocabulary(512, 1.0).unwrap();
        let tokenizer = vocab.tokenizer().unwrap();
        let device = Device::flex();
        let builder = ConversationBuilder::new(&tokenizer)
            .unwrap()
            .with_paraphrase_share(1.0);
        let (mut templates, mut total) = (0, 0);
        for seed in 0..20 {
            let scene = Scene::random(seed);
            let text = tokenizer.decode(&ints(
                builder
                    .build(std::slice::from_ref(&scene), &[], 4, seed, &device)
                    .suffix,
            ));
            let plain = QaGenerator::new(seed, Mix::default()).draw(&scene, 4);
            total += plain.len();
            templates += plain
                .iter()
                .filter(|qa| text.contains(&qa.question))
                .count();
            for qa in &plain {
                assert!(
                    text.contains(&qa.answer),
                    "{:?} missing from {text}",
                    qa.answer
                );
            }
        }
        assert!(total > 40, "{total} questions");
        assert_eq!(templates, 0, "every question rephrased");
    }
}
