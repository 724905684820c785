//! `gvt probe`: sweep one property of generated scenes over levels, ask one or more models,
//! and write the curves, the figures, the failures and a page that shows them.
//!
//! The folder holds `spec.json` (what is being probed, so a rerun resumes only the same
//! probe) and `answers.jsonl` (one line per answer, flushed as it is written). Everything
//! else is recounted from the answers at the end, so an interrupted probe resumes where it
//! stopped and reports exactly as an uninterrupted one.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use gvt_core::device::DeviceChoice;
use gvt_core::generate::CancelFlag;
use gvt_core::pipeline::Pipeline;
use gvt_probe::failure::{failure_path, failure_picture, shown_failures};
use gvt_probe::plot;
use gvt_probe::run::{self, Asked};
use gvt_probe::sweep::{by_name, parse_levels};
use gvt_probe::{Answer, Ask, Metric, ProbeReport, ProbeSpec, Sweep, Trial};
use gvt_scene::{Color, Shape};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

/// The name `--model` takes for the embedded model.
const DEFAULT_MODEL: &str = "default";

#[derive(Args, Debug)]
pub struct ProbeArgs {
    /// What to sweep: count, distractors, size, overlap, clutter, resolution, blur, noise,
    /// color-distance, position.
    sweep: Sweep,
    /// A GVT GGUF to probe; give it twice to compare two models. `default` (or no --model)
    /// is the embedded model.
    #[arg(long, value_name = "M.gguf")]
    model: Vec<String>,
    /// Levels: a range such as 0..9 (inclusive) or a list such as 16,32,64. Default: the
    /// sweep's own (count 0..9, resolution 16..192 px, ...).
    #[arg(long, value_parser = parse_level_list)]
    levels: Option<LevelList>,
    /// Scenes per level.
    #[arg(long, default_value_t = 50)]
    per_level: usize,
    /// Seed of every scene and question.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The question each scene gets: count, exist, color, position. Default: position for
    /// the position sweep, count otherwise.
    #[arg(long)]
    ask: Option<Ask>,
    /// Ask about this shape only (default: a random shape per scene).
    #[arg(long, value_parser = parse_shape)]
    shape: Option<Shape>,
    /// Ask about this colour only; counting questions then name it ("How many red stars
    /// ...?").
    #[arg(long, value_parser = parse_color)]
    color: Option<Color>,
    /// Folder for the results (created; a probe already there resumes).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Pictures of wrong answers kept per model and level.
    #[arg(long, default_value_t = 8)]
    failures: usize,
    /// Start over, discarding the answers already in the folder.
    #[arg(long)]
    fresh: bool,
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    device: DeviceChoice,
}

/// `--levels`, read whole (clap would take a `Vec` as a repeated option).
#[derive(Debug, Clone)]
struct LevelList(Vec<u32>);

fn parse_level_list(text: &str) -> Result<LevelList, String> {
    parse_levels(text).map(LevelList).map_err(|e| e.to_string())
}

fn parse_shape(name: &str) -> Result<Shape, String> {
    by_name(&Shape::ALL, Shape::name, "a shape", name).map_err(|e| e.to_string())
}

fn parse_color(name: &str) -> Result<Color, String> {
    by_name(&Color::ALL, Color::name, "a colour", name).map_err(|e| e.to_string())
}

/// `spec.json`: the probe and the models it asks, by name, path and size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Saved {
    spec: ProbeSpec,
    models: Vec<ModelId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ModelId {
    name: String,
    /// The file, or `default` for the embedded model.
    path: String,
    bytes: u64,
}

impl ModelId {
    fn of(arg: &str) -> anyhow::Result<ModelId> {
        if arg == DEFAULT_MODEL {
            return Ok(ModelId {
                name: DEFAULT_MODEL.into(),
                path: DEFAULT_MODEL.into(),
                bytes: gvt_core::default_model::BYTES.len() as u64,
            });
        }
        let path = Path::new(arg);
        let bytes = fs::metadata(path)
            .with_context(|| format!("cannot read the model {}", path.display()))?
            .len();
        let name = path
            .file_stem()
            .map_or_else(|| arg.to_string(), |s| s.to_string_lossy().into_owned());
        Ok(ModelId {
            name,
            path: arg.to_string(),
            bytes,
        })
    }

    fn load(&self, device: DeviceChoice) -> anyhow::Result<Pipeline> {
        let path = (self.path != DEFAULT_MODEL).then(|| PathBuf::from(&self.path));
        super::load::pipeline(path.as_ref(), None, device)
    }
}

pub fn run(args: ProbeArgs) -> anyhow::Result<()> {
    let mut spec = ProbeSpec::new(args.sweep, args.per_level, args.seed);
    if let Some(LevelList(levels)) = &args.levels {
        spec.levels = levels.clone();
    }
    spec.ask = args.ask.unwrap_or(spec.ask);
    spec.shape = args.shape;
    spec.color = args.color;
    spec.validate()?;
    let model_args = if args.model.is_empty() {
        vec![DEFAULT_MODEL.to_string()]
    } else {
        args.model.clone()
    };
    let mut models: Vec<ModelId> = model_args
        .iter()
        .map(|m| ModelId::of(m))
        .collect::<anyhow::Result<_>>()?;
    disambiguate(&mut models);
    let saved = Saved { spec, models };

    let out = &args.out;
    let answers_path = out.join("answers.jsonl");
    let mut answers = prepare_folder(out, &saved, args.fresh)?;
    let pipelines: Vec<Pipeline> = saved
        .models
        .iter()
        .map(|m| m.load(args.device))
        .collect::<anyhow::Result<_>>()?;
    let spec = &saved.spec;

    let total = spec.levels.len() * spec.per_level * pipelines.len();
    let done: HashSet<(usize, u32, usize)> = answers
        .iter()
        .map(|a| (a.model, a.level, a.index))
        .collect();
    let bar = ProgressBar::new(total as u64).with_style(
        ProgressStyle::with_template(
            "{msg:24} {bar:30} {pos}/{len} questions ({elapsed}, eta {eta})",
        )
        .expect("static template"),
    );
    bar.set_position(done.len().min(total) as u64);
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&answers_path)
        .with_context(|| format!("cannot write {}", answers_path.display()))?;
    let mut pictured: HashMap<(usize, u32), usize> = HashMap::new();
    for a in shown_failures(&answers, args.failures) {
        *pictured.entry((a.model, a.level)).or_default() += 1;
    }
    let cancel = CancelFlag::default();
    for &level in &spec.levels {
        bar.set_message(format!("level {}", spec.sweep.level_label(level)));
        for index in 0..spec.per_level {
            if (0..pipelines.len()).all(|m| done.contains(&(m, level, index))) {
                continue;
            }
            let trial = spec.trial(level, index)?;
            for (m, pipeline) in pipelines.iter().enumerate() {
                if done.contains(&(m, level, index)) {
                    continue;
                }
                let asked = pollster::block_on(run::ask(pipeline, &trial, m, &cancel))?;
                writeln!(file, "{}", asked.answer.to_json_line())
                    .and_then(|()| file.flush())
                    .with_context(|| format!("cannot write {}", answers_path.display()))?;
                let shown = pictured.entry((m, level)).or_default();
                if !asked.answer.correct && *shown < args.failures {
                    *shown += 1;
                    save_failure(out, &asked, &trial)?;
                }
                answers.push(asked.answer);
                bar.inc(1);
            }
        }
    }
    bar.finish_and_clear();

    // Pictures a resumed probe's earlier runs did not keep: asked again (greedy, so the
    // same answer and map).
    let names: Vec<String> = saved.models.iter().map(|m| m.name.clone()).collect();
    for a in shown_failures(&answers, args.failures) {
        if !out.join(failure_path(a)).exists() {
            let trial = spec.trial(a.level, a.index)?;
            let asked =
                pollster::block_on(run::ask(&pipelines[a.model], &trial, a.model, &cancel))?;
            save_failure(out, &asked, &trial)?;
        }
    }
    let report = ProbeReport::from_answers(spec, &names, &answers);
    write_report(out, &report, &answers, args.failures)?;
    print!("{}", summary(&report));
    eprintln!("wrote {}", out.join("index.html").display());
    Ok(())
}

/// Makes two models of the same file name distinguishable: "a", "a (2)".
fn disambiguate(models: &mut [ModelId]) {
    for i in 1..models.len() {
        if models[..i].iter().any(|m| m.name == models[i].name) {
            models[i].name = format!("{} ({})", models[i].name, i + 1);
        }
    }
}

/// Creates the folder, or checks that the probe in it is this one, and returns the answers
/// it already holds.
fn prepare_folder(out: &Path, saved: &Saved, fresh: bool) -> anyhow::Result<Vec<Answer>> {
    let spec_path = out.join("spec.json");
    let answers_path = out.join("answers.jsonl");
    if fresh {
        for stale in [&spec_path, &answers_path] {
            if stale.exists() {
                fs::remove_file(stale)
                    .with_context(|| format!("cannot remove {}", stale.display()))?;
            }
        }
        let failures = out.join("failures");
        if failures.exists() {
            fs::remove_dir_all(&failures)
                .with_context(|| format!("cannot remove {}", failures.display()))?;
        }
    }
    fs::create_dir_all(out.join("failures"))
        .with_context(|| format!("cannot create {}", out.display()))?;
    if spec_path.exists() {
        let text = fs::read_to_string(&spec_path)
            .with_context(|| format!("cannot read {}", spec_path.display()))?;
        let before: Saved = serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not a probe's spec.json; pass --fresh to start over",
                spec_path.display()
            )
        })?;
        if before != *saved {
            bail!(
                "{} holds a different probe ({} of {} at levels {:?}, {} per level, seed {}); \
                 choose another --out, or pass --fresh to start over",
                out.display(),
                before.spec.sweep,
                before
                    .models
                    .iter()
                    .map(|m| m.name.as_str())
                    .collect::<Vec<_>>()
                    .join(" and "),
                before.spec.levels,
                before.spec.per_level,
                before.spec.seed
            );
        }
    } else {
        fs::write(&spec_path, serde_json::to_string_pretty(saved)? + "\n")
            .with_context(|| format!("cannot write {}", spec_path.display()))?;
    }
    if !answers_path.exists() {
        File::create(&answers_path)
            .with_context(|| format!("cannot write {}", answers_path.display()))?;
        return Ok(Vec::new());
    }
    let text = fs::read_to_string(&answers_path)
        .with_context(|| format!("cannot read {}", answers_path.display()))?;
    let mut answers = Answer::parse_lines(&text)
        .with_context(|| format!("reading {}", answers_path.display()))?;
    // Only answers this probe could have asked; a torn last line is rewritten whole.
    answers.retain(|a| {
        a.model < saved.models.len()
            && saved.spec.levels.contains(&a.level)
            && a.index < saved.spec.per_level
    });
    let lines: String = answers.iter().map(|a| a.to_json_line() + "\n").collect();
    fs::write(&answers_path, lines)
        .with_context(|| format!("cannot write {}", answers_path.display()))?;
    Ok(answers)
}

fn save_failure(out: &Path, asked: &Asked, trial: &Trial) -> anyhow::Result<()> {
    let path = out.join(failure_path(&asked.answer));
    failure_picture(&asked.image, asked.heatmap.as_ref(), &trial.target_boxes())
        .save(&path)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// probe.json, probe.csv, a plot per metric (SVG and PNG) and index.html.
fn write_report(
    out: &Path,
    report: &ProbeReport,
    answers: &[Answer],
    failures: usize,
) -> anyhow::Result<()> {
    let write = |name: &str, bytes: &[u8]| {
        let path = out.join(name);
        fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))
    };
    write("probe.json", (report.to_json() + "\n").as_bytes())?;
    write("probe.csv", report.to_csv()?.as_bytes())?;
    for metric in Metric::present_in(report) {
        write(
            &format!("{}.svg", metric.name()),
            plot::svg(report, metric)?.as_bytes(),
        )?;
        write(
            &format!("{}.png", metric.name()),
            &plot::png(report, metric)?,
        )?;
    }
    let page = gvt_probe::page::html(report, &shown_failures(answers, failures))?;
    write("index.html", page.as_bytes())
}

/// The table printed at the end: one row per level, accuracy [interval] per model.
fn summary(report: &ProbeReport) -> String {
    let mut text = format!(
        "{} sweep, {} per level ({})\n{:<14}",
        report.spec.sweep, report.spec.per_level, report.parameter, "level"
    );
    for curve in &report.models {
        text += &format!(" {:>32}", curve.name);
    }
    text.push('\n');
    for (i, &level) in report.spec.levels.iter().enumerate() {
        text += &format!("{:<14}", report.spec.sweep.level_label(level));
        for curve in &report.models {
            text += &format!(" {:>32}", curve.levels[i].to_string());
        }
        text.push('\n');
    }
    text
}
