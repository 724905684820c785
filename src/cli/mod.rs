//! Command-line interface: `gvt ask`, `gvt eval`, `gvt train`, `gvt scene`, `gvt bench`,
//! `gvt inspect`.

mod ask;
mod bench;
mod eval;
mod inspect;
mod load;
mod scene;
mod train;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// GVT Lens: ask a multimodal model about an image and see where it looked.
#[derive(Parser, Debug)]
#[command(name = "gvt", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Ask a question about an image (or a text-only question) and stream the answer.
    Ask(ask::AskArgs),
    /// Score a model with GVTBench's rules (on held-out generated scenes).
    Eval(eval::EvalArgs),
    /// Render a generated scene to a PNG and print its ground truth.
    Scene(scene::SceneArgs),
    /// Train the tiny default model on generated scenes (GVT's two-stage recipe).
    Train(train::TrainArgs),
    /// Measure load time, image encoding, prefill and decode speed.
    Bench(bench::BenchArgs),
    /// List a GGUF file's metadata and tensors.
    Inspect(inspect::InspectArgs),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Ask(args) => ask::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Scene(args) => scene::run(args),
        Command::Train(args) => train::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Inspect(args) => inspect::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
