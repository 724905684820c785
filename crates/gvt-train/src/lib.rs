//! `gvt train`: GVT's two-stage recipe on generated scenes, with burn's autodiff on the CPU
//! (flex) or a GPU (wgpu), through the same model code that serves inference.
//!
//! 1. A byte-level BPE vocabulary is trained on the question/answer text.
//! 2. Stage 1 ([`Stage::Vision`]): the ViT and `ln_vision` learn per-patch labels (no
//!    masking), through a linear probe that is dropped afterwards.
//! 3. Stage 2 ([`Stage::Qa`]): the visual tokenizer is frozen; the perceiver, the projection
//!    and the LLM learn multi-turn conversations about fresh scenes.
//!
//! Everything random comes from one seed, and a batch depends only on `(seed, stage, step)`,
//! so a run resumed from a checkpoint continues exactly where it stopped.

pub mod batch;
pub mod checkpoint;
pub mod loss;
pub mod stages;
pub mod vocab;
pub mod warm;

use burn::config::Config;
use burn::module::Module;
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::Device;

pub use batch::Stage;
use batch::{ConversationBuilder, PatchTargets, Renderer, TrainingScene, scene_seed};
use stages::{load_probe, probe_loss, qa_loss};

use crate::vocab::{BpeTrainer, TrainedVocab};
use crate::warm::WarmSource;
use gvt_core::device::ComputeDevice;
use gvt_core::generate::CancelFlag;
use gvt_core::gguf::{GgufFile, GgufWriter};
use gvt_core::model::export::ParamValues;
use gvt_core::model::layers::Linear;
use gvt_core::model::{Gvt, GvtConfig, InitSource, Named, ParamName, Preset, WeightFormat};
use gvt_core::pipeline::Pipeline;
use gvt_core::preprocess::Preprocessor;
use gvt_core::tokenizer::Tokenizer;
use gvt_core::{Error, Result};
use gvt_eval::report::Report;
use gvt_eval::synthetic;
use gvt_scene::qa::{Mix, QaGenerator, Split};
use gvt_scene::{Scene, SceneRequest, Shape};

/// Hyper-parameters of a training run (saved next to its checkpoints).
#[derive(Config, Debug, PartialEq)]
pub struct TrainConfig {
    /// Seed of everything random: initial weights, scenes, questions.
    #[config(default = 0)]
    pub seed: u64,
    /// Stage 1 optimizer steps. Object-patch shape accuracy still climbs at 2,000 (88%) and
    /// reaches 97% by about 4,500 (assets/MODEL.md).
    #[config(default = 5000)]
    pub vision_steps: usize,
    /// Stage 2 optimizer steps.
    #[config(default = 5000)]
    pub qa_steps: usize,
    /// Scenes per stage 1 step.
    #[config(default = 32)]
    pub vision_batch: usize,
    /// Scenes per stage 2 step (each with several questions).
    #[config(default = 32)]
    pub qa_batch: usize,
    /// Questions per scene in a stage 2 conversation.
    #[config(default = 4)]
    pub questions_per_scene: usize,
    /// Share of scenes that are crowded, one shape `crowd_min` to `crowd_max` times
    /// ([`batch::TrainingScene::draw`]):
    /// in stage 1 they teach the tokens counts above two, in stage 2 one of the
    /// conversation's questions counts the crowd.
    #[config(default = 0.25)]
    pub crowded_share: f64,
    /// Fewest objects of the repeated shape in a crowded scene.
    #[config(default = 2)]
    pub crowd_min: usize,
    /// Most objects of the repeated shape in a crowded scene (at most 9, the most a scene
    /// holds).
    #[config(default = 5)]
    pub crowd_max: usize,
    /// How often each shape is the crowd's, in [`Shape::ALL`]'s order, relative to the
    /// others; empty draws every shape equally often. Weighting a shape up also asks more
    /// often about its absence (crowds of 0), where false positives show.
    #[config(default = "Vec::new()")]
    pub crowd_weights: Vec<f64>,
    /// Share of scenes (both stages) drawn in a varied style: other shape proportions,
    /// tilts, hard edges, outlines, white backgrounds ([`gvt_scene::Style`]).
    #[config(default = 0.0)]
    pub varied_style_share: f64,
    /// Share of stage 2 questions asked in another of their kind's training phrasings
    /// ([`gvt_scene::qa::phrasings`]) than the evaluation's template, to teach the language
    /// of the question rather than its template. The held-out phrasings are never asked.
    #[config(default = 0.0)]
    pub paraphrase_share: f64,
    /// Weight of the stage 1 probe's two count losses (the patch's shape and its shape and
    /// colour) against the other heads' weight of 1: counting is the perception the
    /// tokens learn last.
    #[config(default = 1.0)]
    pub count_loss_weight: f64,
    /// Peak learning rate of stage 1.
    #[config(default = 2e-3)]
    pub vision_lr: f64,
    /// Peak learning rate of stage 2.
    #[config(default = 1e-3)]
    pub qa_lr: f64,
    /// Share of each stage spent warming the learning rate up.
    #[config(default = 0.05)]
    pub warmup: f64,
    #[config(default = 0.01)]
    pub weight_decay: f32,
    /// Evaluate on validation scenes every this many stage 2 steps (0: only at the end).
    #[config(default = 500)]
    pub eval_every: usize,
    /// Validation scenes per evaluation.
    #[config(default = 100)]
    pub eval_scenes: usize,
    /// Write a checkpoint every this many steps (0: only at the end of each stage).
    #[config(default = 250)]
    pub checkpoint_every: usize,
    /// Largest vocabulary the tokenizer may learn.
    #[config(default = 512)]
    pub vocab_size: usize,
    /// Side of the square input image in pixels: the tiny preset's 128 (an 8 x 8 grid of
    /// 16-pixel patches), or another multiple of the patch side ([`IMAGE_SIZES`]) for more
    /// patches per object.
    #[config(default = 128)]
    pub image_size: usize,
    /// Seconds the whole run may take: after [`CALIBRATION_STEPS`] steps both stages'
    /// step counts are scaled (keeping their ratio) to fit, and written back here so the
    /// run can be reproduced with fixed counts.
    #[config(default = "None")]
    pub time_budget_s: Option<f64>,
    /// A trained model (GGUF) whose weights start the run instead of fresh ones
    /// ([`warm::WarmSource`]): every tensor is copied and its vocabulary kept; only the
    /// stage 1 probe starts fresh. At another image size the position table is resampled.
    #[config(default = "None")]
    pub init: Option<String>,
}

/// Image sides training accepts: multiples of the tiny preset's 16-pixel patch from 64 to
/// 256 (4 x 4 to 16 x 16 patches).
pub const IMAGE_SIZES: std::ops::RangeInclusive<usize> = 64..=256;

/// Steps timed before a time budget rescales the run (the first few, which compile
/// kernels, are left out).
pub const CALIBRATION_STEPS: usize = 30;
const CALIBRATION_SKIP: usize = 5;

/// What the trainer tells its caller as it goes.
#[derive(Debug, Clone)]
pub enum Event {
    /// A stage starts (or resumes at `step`).
    StageStarted {
        stage: Stage,
        step: usize,
        steps: usize,
    },
    /// One optimizer step finished.
    Step(StepReport),
    /// A validation evaluation finished.
    Evaluated { step: usize, report: Report },
    /// A checkpoint was written.
    Checkpoint { stage: Stage, step: usize },
    /// A stage ran to its end (from where this run started it; a stage that an earlier run
    /// finished is neither started nor finished again).
    StageFinished {
        stage: Stage,
        seconds: f64,
        scenes_per_second: f64,
    },
    /// A time budget set the step counts.
    Rescaled {
        vision_steps: usize,
        qa_steps: usize,
    },
}

/// Figures of one optimizer step.
#[derive(Debug, Clone)]
pub struct StepReport {
    pub stage: Stage,
    /// Steps done in this stage, this one included.
    pub step: usize,
    pub steps: usize,
    pub loss: f32,
    pub lr: f64,
    /// Scenes per second over this step.
    pub samples_per_second: f64,
    /// Stage 1 only.
    pub patch_accuracy: Option<PatchAccuracy>,
}

/// Stage 1's probe accuracies on one batch.
#[derive(Debug, Clone, Copy)]
pub struct PatchAccuracy {
    /// Share of object patches whose shape class is right.
    pub shape: f32,
    /// Share of object patches whose colour class is right.
    pub color: f32,
    /// Share of object patches that tell right how many objects of their shape there are.
    pub count: f32,
    /// Share of patches whose own row and column are right (mean of the two).
    pub position: f32,
}

/// The module the optimizer sees: the model and the stage 1 probe.
#[derive(Module, Debug)]
pub struct TrainingModel {
    pub gvt: Gvt,
    pub probe: Linear,
}

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub stage: Stage,
    /// Steps done in `stage`.
    pub step: usize,
}

/// A training run: model, vocabulary, optimizer state and position.
pub struct Trainer {
    pub config: TrainConfig,
    pub model_config: GvtConfig,
    pub vocab: TrainedVocab,
    tokenizer: Tokenizer,
    device: Device,
    model: Option<TrainingModel>,
    names: Vec<ParamName>,
    optimizer: Option<ModuleOptimizer>,
    pub position: Position,
}

impl Trainer {
    /// A fresh run of the tiny preset (at the config's image size) on `device` (made
    /// differentiable here).
    pub fn new(config: TrainConfig, device: &Device) -> Result<Self> {
        batch::validate_crowd_weights(&config.crowd_weights)?;
        let mut model_config = GvtConfig::preset(Preset::Tiny);
        let vision = model_config.vision.as_mut().expect("the tiny preset sees");
        if !IMAGE_SIZES.contains(&config.image_size)
            || !config.image_size.is_multiple_of(vision.patch_size)
        {
            return Err(Error::InvalidInput(format!(
                "an image size of {} px: training takes {IMAGE_SIZES:?} (multiples of the {}-px \
                 patch)",
                config.image_size, vision.patch_size
            )));
        }
        vision.image_size = config.image_size;
        let device = device.clone().autodiff();
        let fresh = InitSource::new(&device, config.seed);
        let Some(path) = config.init.clone() else {
            let vocab = train_vocabulary(config.vocab_size, config.paraphrase_share)?;
            model_config.llm.vocab_size = vocab.len();
            let mut src = Named::new(fresh);
            let model = build(&mut src, &model_config)?;
            return Self::assemble(config, model_config, vocab, device, model, src.into_names());
        };
        // A model to start from brings its vocabulary: its embeddings mean those ids.
        let in_file = |e: Error| Error::InvalidInput(format!("{path}: {e}"));
        let file = GgufFile::open(std::path::Path::new(&path)).map_err(|e| in_file(e.into()))?;
        let vocab = TrainedVocab::from_metadata(&file.metadata).map_err(|e| in_file(e.into()))?;
        model_config.llm.vocab_size = vocab.len();
        let mut src = Named::new(WarmSource::new(&file, &model_config, fresh).map_err(in_file)?);
        let model = build(&mut src, &model_config).map_err(in_file)?;
        Self::assemble(config, model_config, vocab, device, model, src.into_names())
    }

    fn assemble(
        config: TrainConfig,
        model_config: GvtConfig,
        vocab: TrainedVocab,
        device: Device,
        model: TrainingModel,
        names: Vec<ParamName>,
    ) -> Result<Self> {
        let tokenizer = vocab
            .tokenizer()
            .map_err(|e| Error::Execution(format!("the trained vocabulary does not load: {e}")))?;
        Ok(Self {
            config,
            model_config,
            vocab,
            tokenizer,
            device,
            model: Some(model),
            names,
            optimizer: None,
            position: Position {
                stage: Stage::Vision,
                step: 0,
            },
        })
    }

    fn vision(&self) -> &gvt_core::model::VisionConfig {
        self.model_config
            .vision
            .as_ref()
            .expect("the tiny preset has a vision tower")
    }

    fn steps(&self, stage: Stage) -> usize {
        match stage {
            Stage::Vision => self.config.vision_steps,
            Stage::Qa => self.config.qa_steps,
        }
    }

    fn new_optimizer(&self) -> ModuleOptimizer {
        AdamWConfig::new()
            .with_weight_decay(self.config.weight_decay)
            .with_grad_clipping(Some(GradientClippingConfig::Norm(1.0)))
            .init()
    }

    /// Scales the step counts so the rest of the run takes what is left of the budget,
    /// given the time of one step (stage 2 steps are assumed to cost as much; a tenth is
    /// kept in reserve for checkpoints and evaluation).
    fn fit_budget(&mut self, per_step: f64, spent: f64) {
        let Some(budget) = self.config.time_budget_s else {
            return;
        };
        let done = self.position.step;
        let affordable = ((0.9 * budget - spent).max(0.0) / per_step) as usize;
        let planned = (self.config.vision_steps - done) + self.config.qa_steps;
        let scale = affordable as f64 / planned.max(1) as f64;
        self.config.vision_steps =
            done + ((self.config.vision_steps - done) as f64 * scale).round() as usize;
        self.config.qa_steps = ((self.config.qa_steps as f64 * scale).round() as usize).max(1);
    }

    /// Sets the length of stage 2, e.g. to continue a finished run: the learning-rate
    /// schedule follows the new length. Fails when stage 2 is already past `steps`.
    pub fn set_qa_steps(&mut self, steps: usize) -> Result<()> {
        if steps == 0 || (self.position.stage == Stage::Qa && steps < self.position.step) {
            return Err(Error::InvalidInput(format!(
                "stage 2 cannot last {steps} steps: the run is at step {} of it",
                self.position.step
            )));
        }
        self.config.qa_steps = steps;
        Ok(())
    }

    /// Learning rate at `step` of `stage`: linear warm-up, then cosine decay to a tenth.
    pub fn learning_rate(&self, stage: Stage, step: usize) -> f64 {
        let (peak, steps) = match stage {
            Stage::Vision => (self.config.vision_lr, self.config.vision_steps),
            Stage::Qa => (self.config.qa_lr, self.config.qa_steps),
        };
        let warmup = ((steps as f64 * self.config.warmup) as usize).max(1);
        if step < warmup {
            return peak * (step + 1) as f64 / warmup as f64;
        }
        let progress = (step - warmup) as f64 / (steps - warmup).max(1) as f64;
        let cosine = 0.5 * (1.0 + (std::f64::consts::PI * progress.min(1.0)).cos());
        peak * (0.1 + 0.9 * cosine)
    }

    /// Runs both stages to the end, reporting to `on_event`. `cancel` stops after the
    /// current step (a checkpoint is written first when `checkpoints` is given).
    pub fn run(
        &mut self,
        checkpoints: Option<&std::path::Path>,
        cancel: &CancelFlag,
        on_event: &mut dyn FnMut(Event),
    ) -> Result<()> {
        let started = web_time::Instant::now();
        for stage in [Stage::Vision, Stage::Qa] {
            if stage == Stage::Qa && self.position.stage == Stage::Vision {
                self.position = Position { stage, step: 0 };
                self.optimizer = None;
            }
            if self.position.stage != stage {
                continue;
            }
            let steps = self.steps(stage);
            if self.position.step >= steps {
                continue; // finished by an earlier run: nothing to start or report
            }
            let (first_step, stage_started) = (self.position.step, web_time::Instant::now());
            on_event(Event::StageStarted {
                stage,
                step: first_step,
                steps,
            });
            let mut calibration_start = None;
            while self.position.step < self.steps(stage) {
                if cancel.is_cancelled() {
                    if let Some(dir) = checkpoints {
                        self.save(dir)?;
                    }
                    return Ok(());
                }
                let report = self.step()?;
                on_event(Event::Step(report));
                let step = self.position.step;
                if stage == Stage::Vision && self.config.time_budget_s.is_some() {
                    if step == CALIBRATION_SKIP {
                        calibration_start = Some(web_time::Instant::now());
                    }
                    if step == CALIBRATION_STEPS
                        && let Some(start) = calibration_start
                    {
                        let per_step = start.elapsed().as_secs_f64()
                            / (CALIBRATION_STEPS - CALIBRATION_SKIP) as f64;
                        self.fit_budget(per_step, started.elapsed().as_secs_f64());
                        on_event(Event::Rescaled {
                            vision_steps: self.config.vision_steps,
                            qa_steps: self.config.qa_steps,
                        });
                    }
                }
                let steps = self.steps(stage);
                if stage == Stage::Qa
                    && self.config.eval_every > 0
                    && step.is_multiple_of(self.config.eval_every)
                    && step < steps
                {
                    let report = self.evaluate(
                        Split::Validation,
                        self.config.eval_scenes,
                        0,
                        WeightFormat::F32,
                    )?;
                    on_event(Event::Evaluated { step, report });
                }
                let every = self.config.checkpoint_every;
                if let Some(dir) = checkpoints
                    && (step == steps || (every > 0 && step.is_multiple_of(every)))
                {
                    self.save(dir)?;
                    on_event(Event::Checkpoint { stage, step });
                }
            }
            let seconds = stage_started.elapsed().as_secs_f64();
            let scenes = (self.position.step - first_step) * self.batch_size(stage);
            on_event(Event::StageFinished {
                stage,
                seconds,
                scenes_per_second: scenes as f64 / seconds.max(1e-9),
            });
        }
        Ok(())
    }

    fn batch_size(&self, stage: Stage) -> usize {
        match stage {
            Stage::Vision => self.config.vision_batch,
            Stage::Qa => self.config.qa_batch,
        }
    }

    /// One optimizer step of the current stage.
    pub fn step(&mut self) -> Result<StepReport> {
        let Position { stage, step } = self.position;
        let seeds =
            (0..self.batch_size(stage)).map(|i| scene_seed(self.config.seed, stage, step, i));
        let drawn = seeds
            .map(|seed| {
                let c = &self.config;
                let crowd = c.crowd_min..=c.crowd_max;
                let (share, weights, varied) =
                    (c.crowded_share, &c.crowd_weights, c.varied_style_share);
                TrainingScene::draw_styled(seed, share, crowd, weights, varied)
            })
            .collect::<Result<Vec<_>>>()?;
        let (scenes, counted): (Vec<Scene>, Vec<Option<Shape>>) =
            drawn.into_iter().map(|d| (d.scene, d.counted)).unzip();
        match stage {
            // The probe's targets cover every object; no question leads.
            Stage::Vision => self.step_on(&scenes, &[]),
            Stage::Qa => self.step_on(&scenes, &counted),
        }
    }

    /// One optimizer step of the current stage on `scenes` (tests use a fixed batch);
    /// stage 2 conversations count `counted[i]` where given.
    pub fn step_on(&mut self, scenes: &[Scene], counted: &[Option<Shape>]) -> Result<StepReport> {
        let Position { stage, step } = self.position;
        let batch_size = scenes.len();
        let started = web_time::Instant::now();
        let mut renderer = Renderer::new(Preprocessor::new(self.vision()));
        let pixels = renderer.pixels(scenes, &self.device);
        let model = self
            .model
            .take()
            .expect("the model is only taken during a step");
        let mut patch_accuracy = None;
        let (loss, grads) = match stage {
            Stage::Vision => {
                let visual = model.gvt.visual.as_ref().expect("vision tower");
                let targets = PatchTargets::new(scenes, self.vision().grid(), &self.device);
                let out = probe_loss(
                    visual,
                    &model.probe,
                    pixels,
                    &targets,
                    self.config.count_loss_weight,
                );
                patch_accuracy = Some(PatchAccuracy {
                    shape: read_scalar(out.shape_accuracy)?,
                    color: read_scalar(out.color_accuracy)?,
                    count: read_scalar(out.count_accuracy)?,
                    position: read_scalar(out.position_accuracy)?,
                });
                let grads = out.loss.backward();
                (read_scalar(out.loss)?, grads)
            }
            Stage::Qa => {
                let visual = model.gvt.visual.as_ref().expect("vision tower");
                // The frozen tokenizer runs without autodiff: no graph, no gradients.
                let media = visual
                    .ln_vision
                    .valid()
                    .forward(visual.vit.valid().forward(pixels.inner(), None))
                    .autodiff();
                let qa_seed = scene_seed(self.config.seed, stage, step, usize::MAX >> 1);
                let conversations = ConversationBuilder::new(&self.tokenizer)?
                    .with_paraphrase_share(self.config.paraphrase_share)
                    .build(
                        scenes,
                        counted,
                        self.config.questions_per_scene,
                        qa_seed,
                        &self.device,
                    );
                let loss = qa_loss(&model.gvt, media, &conversations);
                let grads = loss.backward();
                (read_scalar(loss)?, grads)
            }
        };
        if !loss.is_finite() {
            self.model = Some(model);
            return Err(Error::Execution(format!(
                "the {} loss became {loss} at step {step}; lower the learning rate",
                stage.name()
            )));
        }
        let grads = GradientsParams::from_grads(grads, &model);
        let lr = self.learning_rate(stage, step);
        let optimizer = match self.optimizer.as_mut() {
            Some(optimizer) => optimizer,
            None => self.optimizer.insert(self.new_optimizer()),
        };
        self.model = Some(optimizer.step(lr, model, grads));
        self.position.step += 1;
        Ok(StepReport {
            stage,
            step: self.position.step,
            steps: self.steps(stage),
            loss,
            lr,
            samples_per_second: batch_size as f64 / started.elapsed().as_secs_f64(),
            patch_accuracy,
        })
    }

    /// The model being trained (with the stage 1 probe).
    pub fn model(&self) -> &TrainingModel {
        self.model
            .as_ref()
            .expect("the model is only taken during a step")
    }

    /// The model as a GGUF file: config, tokenizer and weights, without the stage 1 probe.
    pub fn export(&self, format: WeightFormat) -> Result<GgufWriter> {
        let mut writer = GgufWriter::new();
        self.write_metadata(&mut writer);
        let names: Vec<ParamName> = self
            .names
            .iter()
            .filter(|n| !n.name.starts_with("train."))
            .cloned()
            .collect();
        ParamValues::of(&self.model().gvt).write(&mut writer, &names, format)?;
        Ok(writer)
    }

    fn write_metadata(&self, writer: &mut GgufWriter) {
        let md = writer.metadata_mut();
        md.insert("general.name", "GVT Lens tiny (generated scenes)".into());
        md.insert("general.license", "Apache-2.0".into());
        md.insert(
            "general.description",
            "A tiny GVT-architecture model trained by `gvt train` on procedurally generated \
             scenes: counting, identifying, colours and positions of shapes."
                .into(),
        );
        self.model_config.write_metadata(md);
        self.vocab.write_metadata(md);
    }

    /// Scores the current model, exported in `format`, on `n` scenes of `split` from scene
    /// seed `first_seed` on (through a GGUF round trip, so exactly what that export
    /// answers), on the CPU.
    pub fn evaluate(
        &self,
        split: Split,
        n: usize,
        first_seed: u64,
        format: WeightFormat,
    ) -> Result<Report> {
        let file = GgufFile::from_bytes(self.export(format)?.try_to_bytes()?)?;
        let pipeline = Pipeline::load(&file, None, ComputeDevice::cpu(), &mut |_, _| {})?;
        let (report, _) = pollster::block_on(synthetic::evaluate(
            &pipeline,
            split,
            n,
            first_seed,
            &CancelFlag::default(),
            &mut |_, _| {},
        ))?;
        Ok(report)
    }
}

/// Builds the model and the probe through one source.
fn build(
    src: &mut Named<impl gvt_core::model::ParamSource>,
    cfg: &GvtConfig,
) -> Result<TrainingModel> {
    let gvt = Gvt::load(src, cfg)?;
    let vision = cfg
        .vision
        .as_ref()
        .ok_or_else(|| Error::InvalidInput("training needs a model with a vision tower".into()))?;
    let probe = load_probe(src, vision)?;
    Ok(TrainingModel { gvt, probe })
}

/// The vocabulary of every question and answer the generator can produce (in every training
/// phrasing when `paraphrase_share` is above 0), plus the chat template's own words.
pub fn train_vocabulary(vocab_size: usize, paraphrase_share: f64) -> Result<TrainedVocab> {
    let mut generator =
        QaGenerator::new(0x70C, Mix::default()).with_paraphrase_share(paraphrase_share as f32);
    let mut corpus: Vec<String> = vec!["user\n".into(), "assistant\n".into(), "<Img></Img>".into()];
    for seed in Split::Train.seeds(0).take(20_000) {
        let scene = Scene::generate(seed, &SceneRequest::default())
            .map_err(|e| Error::InvalidInput(e.to_string()))?;
        for qa in generator.draw(&scene, 4) {
            corpus.push(qa.question);
            corpus.push(qa.answer);
        }
    }
    BpeTrainer::new(vocab_size)
        .train(corpus.iter().map(String::as_str))
        .map_err(|e| Error::InvalidInput(e.to_string()))
}

fn read_scalar(t: burn::tensor::Tensor<1>) -> Result<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| Error::Execution(format!("reading the loss: {e:?}")))?
        .first()
        .copied()
        .ok_or_else(|| Error::Execution("empty loss".into()))
}
