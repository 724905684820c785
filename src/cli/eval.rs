//! `gvt eval synthetic`: score a model on held-out generated scenes with GVTBench's rules.
//! `gvt eval gvtbench`: the paper's benchmark on real COCO or VCR images.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use gvt_core::device::DeviceChoice;
use gvt_core::generate::CancelFlag;
use gvt_eval::{gvtbench, real, synthetic};
use gvt_scene::qa::Split;
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Args, Debug)]
pub struct EvalArgs {
    #[command(subcommand)]
    target: Target,
}

#[derive(Subcommand, Debug)]
enum Target {
    /// Held-out generated scenes: counting (OC), identification (MCI), colour, position.
    Synthetic(SyntheticArgs),
    /// GVTBench, the paper's benchmark: an annotation file's questions (counting or
    /// identification) about real COCO or VCR images, answered greedily.
    Gvtbench(GvtbenchArgs),
}

#[derive(Args, Debug)]
struct GvtbenchArgs {
    /// The folder of images: COCO's val2014 or val2017 images (`COCO_val2014_<id>.jpg` or
    /// `<id>.jpg`, 12-digit ids, here or in a `val2014/` or `val2017/` folder), or VCR's
    /// `vcr1images` folder.
    #[arg(long, value_name = "DIR")]
    images: PathBuf,
    /// A GVTBench annotation file (`coco_oc.json`, `vcr_mci.json`, ...; the four are in
    /// `tests/fixtures/gvtbench/`).
    #[arg(long, value_name = "FILE.json")]
    data: PathBuf,
    /// A GVT GGUF (vision half, and the LLM unless --llm is given).
    #[arg(long, value_name = "M.gguf")]
    model: Option<PathBuf>,
    /// An LLM GGUF.
    #[arg(long, value_name = "L.gguf")]
    llm: Option<PathBuf>,
    /// Where every answer goes, one JSON object per line [default: the annotation file's
    /// name with `.answers.jsonl`, in the current folder].
    #[arg(long, value_name = "FILE.jsonl")]
    out: Option<PathBuf>,
    /// Continue the run whose answers are in --out: ask only what it has not answered.
    #[arg(long)]
    resume: bool,
    /// Ask only the file's first N questions (a quick look).
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    device: DeviceChoice,
}

#[derive(Args, Debug)]
struct SyntheticArgs {
    /// A GVT GGUF (vision half, and the LLM unless --llm is given).
    #[arg(long, value_name = "M.gguf")]
    model: Option<PathBuf>,
    /// An LLM GGUF.
    #[arg(long, value_name = "L.gguf")]
    llm: Option<PathBuf>,
    /// Number of scenes (each gets up to six questions: four in the templates, counting
    /// and existence again in held-out phrasings), plus one scene per seed with exactly
    /// 0-9 of a shape for the per-count table.
    #[arg(long, default_value_t = 2000)]
    n: usize,
    /// First seed; scenes are the split's seeds from here on.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Held-out scenes to score: `test` for reported figures, `validation` for choosing
    /// among checkpoints (so that the test scenes stay unseen by every decision).
    #[arg(long, value_enum, default_value = "test")]
    split: Split,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Also write every question asked, its ground truth and the model's answer to this
    /// file, one JSON object per line (for error analysis).
    #[arg(long, value_name = "FILE.jsonl")]
    samples: Option<PathBuf>,
    /// Draw the scenes in varied styles (other proportions, tilted shapes, hard edges,
    /// outlines, white backgrounds, squashed canvases): the same objects and questions as without it.
    #[arg(long)]
    varied: bool,
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    device: DeviceChoice,
}

pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    match args.target {
        Target::Synthetic(args) => run_synthetic(args),
        Target::Gvtbench(args) => run_gvtbench(args),
    }
}

fn progress(len: usize, what: &str) -> ProgressBar {
    ProgressBar::new(len as u64).with_style(
        ProgressStyle::with_template(&format!(
            "{what} {{bar:30}} {{pos}}/{{len}} ({{elapsed}}, eta {{eta}})"
        ))
        .expect("static template"),
    )
}

fn run_gvtbench(args: GvtbenchArgs) -> anyhow::Result<()> {
    if args.limit == Some(0) {
        anyhow::bail!("--limit must be at least 1");
    }
    if !args.images.is_dir() {
        anyhow::bail!("--images {}: not a folder", args.images.display());
    }
    let items = gvtbench::load(&args.data)
        .with_context(|| format!("cannot read the annotation file {}", args.data.display()))?;
    let task = gvtbench::Task::detect(&items)
        .with_context(|| format!("{}: not a GVTBench file", args.data.display()))?;
    let name = args
        .data
        .file_stem()
        .map_or("gvtbench".into(), |s| s.to_string_lossy().into_owned());
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{name}.answers.jsonl")));
    let done = if args.resume {
        real::resume(&out, &items)?
    } else if out.exists() {
        anyhow::bail!(
            "{} exists: pass --resume to continue that run, or another --out",
            out.display()
        );
    } else {
        Default::default()
    };
    let pipeline = super::load::pipeline(args.model.as_ref(), args.llm.as_ref(), args.device)?;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&out)
        .with_context(|| format!("cannot write the answers to {}", out.display()))?;
    let resumed = done.len();
    let bar = progress(0, "questions");
    let outcome = pollster::block_on(real::run(
        &pipeline,
        &items,
        &args.images,
        args.limit,
        done,
        &mut file,
        &CancelFlag::default(),
        &mut |asked, to_ask| {
            bar.set_length(to_ask as u64);
            bar.set_position(asked as u64);
        },
    ))?;
    bar.finish_and_clear();
    if resumed > 0 {
        eprintln!("resumed: {resumed} answers were in {}", out.display());
    }
    if !outcome.missing.is_empty() {
        let shown: Vec<&str> = outcome
            .missing
            .iter()
            .take(10)
            .map(String::as_str)
            .collect();
        eprintln!(
            "skipped the questions about {} {} missing under {}: {}{}",
            outcome.missing.len(),
            if outcome.missing.len() == 1 {
                "image"
            } else {
                "images"
            },
            args.images.display(),
            shown.join(", "),
            if outcome.missing.len() > shown.len() {
                ", ..."
            } else {
                ""
            }
        );
    }
    if outcome.answers.is_empty() {
        anyhow::bail!(
            "no question was answered: no image of {} is under {}",
            args.data.display(),
            args.images.display()
        );
    }
    let title = format!(
        "GVTBench {name} ({} of {} questions answered; answers in {})",
        outcome.answers.len(),
        items.len(),
        out.display()
    );
    let report = real::report(task, &items, &outcome.answers, &title)?;
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_table());
    }
    Ok(())
}

fn run_synthetic(args: SyntheticArgs) -> anyhow::Result<()> {
    if args.n == 0 {
        anyhow::bail!("--n must be at least 1");
    }
    let pipeline = super::load::pipeline(args.model.as_ref(), args.llm.as_ref(), args.device)?;
    let bar = progress(args.n, "scenes");
    let request = gvt_scene::SceneRequest {
        varied_style: args.varied,
        ..Default::default()
    };
    let (report, samples) = pollster::block_on(synthetic::evaluate_scenes(
        &pipeline,
        args.split,
        args.n,
        args.seed,
        &request,
        &CancelFlag::default(),
        &mut |done, _| bar.set_position(done as u64),
    ))?;
    bar.finish_and_clear();
    if let Some(path) = &args.samples {
        let lines: String = samples.iter().map(|s| s.to_json_line() + "\n").collect();
        std::fs::write(path, lines)
            .with_context(|| format!("cannot write the samples to {}", path.display()))?;
    }
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_table());
    }
    Ok(())
}
