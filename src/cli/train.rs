//! `gvt train`: train the tiny default model with GVT's two-stage recipe on generated scenes.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use gvt_core::device::{self, DeviceChoice};
use gvt_core::generate::CancelFlag;
use gvt_core::model::WeightFormat;
use gvt_scene::Shape;
use gvt_scene::qa::Split;
use gvt_train::{Event, TrainConfig, Trainer};
use indicatif::{ProgressBar, ProgressStyle};

/// Steps between log lines when stderr is not a terminal.
const LOG_EVERY: usize = 50;

/// The documented recipe: the flags' defaults are [`TrainConfig`]'s, so they cannot drift
/// apart.
static DEFAULT: std::sync::LazyLock<TrainConfig> = std::sync::LazyLock::new(TrainConfig::new);
/// `--crowd`'s default, from the config's.
static DEFAULT_CROWD: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("{}-{}", DEFAULT.crowd_min, DEFAULT.crowd_max));

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Directory for checkpoints (written every --checkpoint-every steps and at the end).
    #[arg(long, value_name = "DIR", default_value = "runs/tiny")]
    out: PathBuf,
    /// Continue the run saved in --out instead of starting a new one. The run keeps the
    /// settings in its train.json, so the flags that make a new run are refused with it
    /// (only --qa-steps, --export, --test-scenes and --device apply).
    #[arg(long)]
    resume: bool,
    /// Where to write the final quantized model (default: DIR/gvt-tiny.gguf).
    #[arg(long, value_name = "OUT.gguf")]
    export: Option<PathBuf>,
    /// Seed of weights, scenes and questions.
    #[arg(long, default_value_t = DEFAULT.seed, conflicts_with = "resume")]
    seed: u64,
    /// Stage 1 steps (visual tokenizer, patch-level supervision).
    #[arg(long, default_value_t = DEFAULT.vision_steps, conflicts_with = "resume")]
    vision_steps: usize,
    /// Stage 2 steps (perceiver, projection and LLM on questions and answers) [default:
    /// 5000]. With --resume, sets a new length for stage 2: its learning-rate schedule is
    /// recomputed for it, so lengthening a finished run restarts it warm.
    #[arg(long, value_name = "N")]
    qa_steps: Option<usize>,
    /// Share of scenes that are crowded: one shape repeated as often as --crowd says (in
    /// stage 2, one of the conversation's questions counts it).
    #[arg(long, default_value_t = DEFAULT.crowded_share, conflicts_with = "resume")]
    crowded_share: f64,
    /// How many objects of the repeated shape a crowded scene holds, drawn uniformly; `0-9`
    /// asks every count equally often.
    #[arg(long, value_name = "MIN-MAX", default_value = DEFAULT_CROWD.as_str(), value_parser = crowd_range, conflicts_with = "resume")]
    crowd: (usize, usize),
    /// How often each shape is the crowd's, as `SHAPE=WEIGHT` pairs against the others'
    /// weight of 1 (e.g. `triangle=3,diamond=2`); by default every shape equally often.
    #[arg(long, value_name = "SHAPE=W,...", value_parser = crowd_weights, conflicts_with = "resume")]
    crowd_weights: Option<CrowdWeights>,
    /// Share of scenes drawn in a varied style (other shape proportions, tilted shapes,
    /// turned triangles, hard edges, outlines, white backgrounds), in both stages.
    #[arg(long, default_value_t = DEFAULT.varied_style_share, conflicts_with = "resume")]
    varied_style_share: f64,
    /// Weight of stage 1's two count losses against the other probe heads' 1.
    #[arg(long, default_value_t = DEFAULT.count_loss_weight, conflicts_with = "resume")]
    count_loss_weight: f64,
    /// Share of stage 2 questions asked in another training phrasing than the evaluation's
    /// template ("Count the stars in the image.", "Is there a ring in the image?"); the
    /// held-out phrasings of `gvt eval synthetic` are never asked.
    #[arg(long, default_value_t = DEFAULT.paraphrase_share, conflicts_with = "resume")]
    paraphrase_share: f64,
    /// Scenes per step.
    #[arg(long, default_value_t = DEFAULT.vision_batch, conflicts_with = "resume")]
    batch: usize,
    /// Side of the model's input image in pixels, a multiple of its 16-pixel patches from
    /// 64 to 256: larger sides give small objects more patches, at a cost in speed.
    #[arg(long, value_name = "PX", default_value_t = DEFAULT.image_size, conflicts_with = "resume")]
    image_size: usize,
    /// Peak learning rate of stage 1.
    #[arg(long, default_value_t = DEFAULT.vision_lr, conflicts_with = "resume")]
    vision_lr: f64,
    /// Peak learning rate of stage 2.
    #[arg(long, default_value_t = DEFAULT.qa_lr, conflicts_with = "resume")]
    qa_lr: f64,
    /// Validation scenes per periodic evaluation.
    #[arg(long, default_value_t = DEFAULT.eval_scenes, conflicts_with = "resume")]
    eval_scenes: usize,
    /// Stage 2 steps between evaluations (0: none until the end).
    #[arg(long, default_value_t = DEFAULT.eval_every, conflicts_with = "resume")]
    eval_every: usize,
    /// Steps between checkpoints.
    #[arg(long, default_value_t = DEFAULT.checkpoint_every, conflicts_with = "resume")]
    checkpoint_every: usize,
    /// Held-out test scenes scored with the exported model at the end (0: skip).
    #[arg(long, default_value_t = 200)]
    test_scenes: usize,
    /// Fit the run into this many minutes: after a few timed steps, both stages' step
    /// counts are scaled (keeping their ratio). The counts used are printed, so the run
    /// can be repeated with fixed --vision-steps/--qa-steps.
    #[arg(long, value_name = "MINUTES", conflicts_with = "resume")]
    minutes: Option<f64>,
    /// Start from this trained model's weights and vocabulary instead of fresh ones (a
    /// model of the same architecture, e.g. assets/gvt-tiny.gguf); only the stage 1 probe
    /// starts fresh. With another --image-size, the ViT's position table is resampled to
    /// the new patch grid.
    #[arg(long, value_name = "MODEL.gguf", conflicts_with = "resume")]
    init: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = DeviceChoice::Cpu)]
    device: DeviceChoice,
}

pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    if args.batch == 0 {
        bail!("--batch must be at least 1");
    }
    for (flag, share) in [
        ("--paraphrase-share", args.paraphrase_share),
        ("--varied-style-share", args.varied_style_share),
    ] {
        if !(0.0..=1.0).contains(&share) {
            bail!("{flag} must lie between 0 and 1");
        }
    }
    if !(args.count_loss_weight.is_finite() && args.count_loss_weight > 0.0) {
        bail!("--count-loss-weight must be a positive number");
    }
    if !(0.0..=1.0).contains(&args.crowded_share) {
        bail!("--crowded-share must lie between 0 and 1");
    }
    let device = device::select(args.device)?;
    eprintln!("training on {}", device.name);
    let mut trainer = if args.resume {
        let mut trainer = Trainer::resume(&args.out, &device.device)
            .with_context(|| format!("resuming from {}", args.out.display()))?;
        if let Some(steps) = args.qa_steps {
            trainer.set_qa_steps(steps)?;
        }
        eprintln!(
            "resuming the {} stage at step {}",
            trainer.position.stage.name(),
            trainer.position.step
        );
        trainer
    } else {
        let config = TrainConfig::new()
            .with_seed(args.seed)
            .with_vision_steps(args.vision_steps)
            .with_qa_steps(args.qa_steps.unwrap_or(DEFAULT.qa_steps))
            .with_crowded_share(args.crowded_share)
            .with_paraphrase_share(args.paraphrase_share)
            .with_varied_style_share(args.varied_style_share)
            .with_count_loss_weight(args.count_loss_weight)
            .with_crowd_min(args.crowd.0)
            .with_crowd_max(args.crowd.1)
            .with_crowd_weights(args.crowd_weights.map(|w| w.0).unwrap_or_default())
            .with_image_size(args.image_size)
            .with_vision_lr(args.vision_lr)
            .with_qa_lr(args.qa_lr)
            .with_vision_batch(args.batch)
            .with_qa_batch(args.batch)
            .with_eval_scenes(args.eval_scenes)
            .with_eval_every(args.eval_every)
            .with_checkpoint_every(args.checkpoint_every)
            .with_time_budget_s(args.minutes.map(|m| m * 60.0))
            .with_init(args.init.map(|p| p.display().to_string()));
        Trainer::new(config, &device.device)?
    };
    eprintln!(
        "vocabulary: {} tokens; model: {}",
        trainer.vocab.len(),
        trainer.model_config.summary()
    );

    let started = Instant::now();
    let bar = ProgressBar::new(0);
    trainer.run(
        Some(&args.out),
        &CancelFlag::default(),
        &mut |event| match event {
            Event::StageStarted { stage, step, steps } => {
                bar.reset();
                bar.set_length(steps as u64);
                bar.set_position(step as u64);
                bar.set_style(
                    ProgressStyle::with_template(&format!(
                        "{:<6} {{bar:30}} {{pos}}/{{len}} {{msg}} ({{elapsed}}, eta {{eta}})",
                        stage.name()
                    ))
                    .expect("static template"),
                );
            }
            Event::Step(step) => {
                let accuracy = step
                    .patch_accuracy
                    .map(|a| {
                        format!(
                            " object patches: shape {:.1}% colour {:.1}% count {:.1}%; \
                             patch position {:.1}%",
                            100.0 * a.shape,
                            100.0 * a.color,
                            100.0 * a.count,
                            100.0 * a.position
                        )
                    })
                    .unwrap_or_default();
                let message = format!(
                    "loss {:.4}{accuracy} lr {:.1e} {:.1} scenes/s",
                    step.loss, step.lr, step.samples_per_second
                );
                if bar.is_hidden()
                    && (step.step.is_multiple_of(LOG_EVERY) || step.step == step.steps)
                {
                    // No terminal (a log file, CI): plain lines instead of a bar.
                    eprintln!(
                        "{} {}/{} {message}",
                        step.stage.name(),
                        step.step,
                        step.steps
                    );
                }
                bar.set_position(step.step as u64);
                bar.set_message(message);
            }
            Event::Rescaled {
                vision_steps,
                qa_steps,
            } => {
                bar.set_length(vision_steps as u64);
                bar.suspend(|| {
                    eprintln!("time budget: --vision-steps {vision_steps} --qa-steps {qa_steps}")
                });
            }
            Event::Evaluated { step, report } => {
                bar.suspend(|| eprint!("validation after step {step}:\n{}", report.to_table()));
            }
            Event::Checkpoint { .. } => {}
            Event::StageFinished {
                stage,
                seconds,
                scenes_per_second,
            } => bar.suspend(|| {
                eprintln!(
                    "{} stage done in {seconds:.0} s ({scenes_per_second:.1} scenes/s); \
                     checkpoint in {}",
                    stage.name(),
                    args.out.display()
                )
            }),
        },
    )?;
    bar.finish_and_clear();
    eprintln!("training took {:.0} s", started.elapsed().as_secs_f64());

    let export = args
        .export
        .unwrap_or_else(|| args.out.join("gvt-tiny.gguf"));
    // A run without steps wrote no checkpoint, so --out may not exist yet.
    if let Some(dir) = export.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    trainer
        .export(WeightFormat::Q8_0)?
        .write_to_path(&export)
        .with_context(|| format!("writing {}", export.display()))?;
    eprintln!("wrote {}", export.display());
    if args.test_scenes > 0 {
        // The same test scenes as `gvt eval synthetic --seed 0`, whatever the training seed.
        let report = trainer.evaluate(Split::Test, args.test_scenes, 0, WeightFormat::Q8_0)?;
        print!("{}", report.to_table());
    }
    Ok(())
}

/// Per-shape crowd weights in [`Shape::ALL`]'s order (a newtype, so clap takes the list
/// as one value).
#[derive(Debug, Clone)]
struct CrowdWeights(Vec<f64>);

/// `--crowd-weights SHAPE=W,...`: the named shapes' weights, 1 for the others.
fn crowd_weights(text: &str) -> Result<CrowdWeights, String> {
    let mut weights = vec![1.0; Shape::ALL.len()];
    for pair in text.split(',') {
        let (name, weight) = pair
            .split_once('=')
            .ok_or_else(|| format!("`{pair}` is not SHAPE=WEIGHT"))?;
        let shape = Shape::from_name(name.trim())
            .ok_or_else(|| format!("`{}` is not a shape", name.trim()))?;
        weights[shape.index()] = weight
            .trim()
            .parse()
            .map_err(|_| format!("`{}` is not a number", weight.trim()))?;
    }
    gvt_train::batch::validate_crowd_weights(&weights).map_err(|e| e.to_string())?;
    Ok(CrowdWeights(weights))
}

/// `--crowd MIN-MAX`: 0 <= MIN <= MAX <= 9.
fn crowd_range(text: &str) -> Result<(usize, usize), String> {
    let parsed = text
        .split_once('-')
        .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)));
    match parsed {
        Some((min, max)) if min <= max && max <= 9 => Ok((min, max)),
        _ => Err(format!("`{text}` is not MIN-MAX with 0 <= MIN <= MAX <= 9")),
    }
}
