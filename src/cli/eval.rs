//! `gvt eval synthetic`: score a model on held-out generated scenes with GVTBench's rules.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use gvt_core::device::DeviceChoice;
use gvt_core::generate::CancelFlag;
use gvt_eval::synthetic;
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
}

#[derive(Args, Debug)]
struct SyntheticArgs {
    /// A GVT GGUF (vision half, and the LLM unless --llm is given).
    #[arg(long, value_name = "M.gguf")]
    model: Option<PathBuf>,
    /// An LLM GGUF.
    #[arg(long, value_name = "L.gguf")]
    llm: Option<PathBuf>,
    /// Number of scenes (each gets up to four questions).
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
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    device: DeviceChoice,
}

pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    let Target::Synthetic(args) = args.target;
    if args.n == 0 {
        anyhow::bail!("--n must be at least 1");
    }
    let pipeline = super::load::pipeline(args.model.as_ref(), args.llm.as_ref(), args.device)?;
    let bar = ProgressBar::new(args.n as u64).with_style(
        ProgressStyle::with_template("scenes {bar:30} {pos}/{len} ({elapsed}, eta {eta})")
            .expect("static template"),
    );
    let (report, samples) = pollster::block_on(synthetic::evaluate(
        &pipeline,
        args.split,
        args.n,
        args.seed,
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
