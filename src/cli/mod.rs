//! Command-line interface: `gvt` (the app), `gvt app`, `gvt ask`, `gvt eval`, `gvt probe`,
//! `gvt train`, `gvt scene`, `gvt bench`, `gvt inspect`, `gvt convert`.

mod app;
mod ask;
mod bench;
mod convert;
mod eval;
mod inspect;
mod load;
mod probe;
mod scene;
mod train;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use gvt_core::printable::running_text;

/// GVT Lens: ask a multimodal model about an image and see where it looked.
#[derive(Parser, Debug)]
#[command(name = "gvt", version, about)]
struct Cli {
    /// With no command, opens the desktop app.
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Open the desktop app (the same as no command).
    App(app::AppArgs),
    /// Ask a question about an image (or a text-only question) and stream the answer.
    Ask(ask::AskArgs),
    /// Score a model with GVTBench's rules (on held-out generated scenes).
    Eval(eval::EvalArgs),
    /// Sweep one property of generated scenes (count, size, occlusion, ...) and plot how
    /// accuracy, count error and attention on the target change.
    Probe(probe::ProbeArgs),
    /// Render a generated scene to a PNG and print its ground truth.
    Scene(scene::SceneArgs),
    /// Train the tiny default model on generated scenes (GVT's two-stage recipe).
    Train(train::TrainArgs),
    /// Measure load time, image encoding, prefill and decode speed.
    Bench(bench::BenchArgs),
    /// List a GGUF file's metadata and tensors.
    Inspect(inspect::InspectArgs),
    /// Convert the official GVT checkpoint and a Hugging Face LLaMA (or a LLaMA GGUF) to
    /// GGUF, optionally quantized.
    Convert(convert::ConvertArgs),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, None | Some(Command::App(_))) {
        end_quietly_on_a_closed_pipe();
    }
    let result = match cli.command {
        None => app::run(app::AppArgs::default()),
        Some(Command::App(args)) => app::run(args),
        Some(Command::Ask(args)) => ask::run(args),
        Some(Command::Eval(args)) => eval::run(args),
        Some(Command::Probe(args)) => probe::run(args),
        Some(Command::Scene(args)) => scene::run(args),
        Some(Command::Train(args)) => train::run(args),
        Some(Command::Bench(args)) => bench::run(args),
        Some(Command::Inspect(args)) => inspect::run(args),
        Some(Command::Convert(args)) => convert::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Errors quote file names, keys and text from model files.
            eprintln!("error: {}", running_text(&format!("{e:#}")));
            ExitCode::FAILURE
        }
    }
}

/// Rust ignores SIGPIPE, so `println!` into a pipe whose reader has gone (`gvt scene ...
/// | head -1`) panics. Terminal commands restore the default, and end quietly there like
/// other command-line tools; the app keeps Rust's setting, as a GUI should.
fn end_quietly_on_a_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: called before any thread is started; SIG_DFL is a valid disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
