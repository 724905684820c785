//! `gvt ask`: load a model, ask, stream the answer, optionally save the attention map.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use gvt_core::attention::MapView;
use gvt_core::device::DeviceChoice;
use gvt_core::generate::{CancelFlag, GenerateOptions, Sampling};
use gvt_core::overlay::{self, OverlayStyle};
use gvt_core::preprocess::open_image;
use gvt_core::printable::running_text;

#[derive(Args, Debug)]
pub struct AskArgs {
    /// A GVT GGUF: vision tower, resampler and projection (and the LLM unless --llm is given).
    #[arg(long, value_name = "M.gguf")]
    model: Option<PathBuf>,
    /// An LLM GGUF (any LLaMA-family llama.cpp file); alone, it answers text questions.
    #[arg(long, value_name = "L.gguf")]
    llm: Option<PathBuf>,
    /// Ask a text-only question (no image).
    #[arg(long, value_name = "QUESTION", conflicts_with = "inputs")]
    text: Option<String>,
    /// IMAGE then "QUESTION" (or "QUESTION" then IMAGE: the one that names a file is the
    /// image).
    #[arg(value_names = ["IMAGE", "QUESTION"], num_args = 0..=2)]
    inputs: Vec<String>,
    /// Where to run.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    device: DeviceChoice,
    /// Write the image with the attention heat map blended over it to this PNG.
    #[arg(long, value_name = "OUT.png")]
    attention: Option<PathBuf>,
    /// Answer token whose map to draw (0-based); default: the whole answer.
    #[arg(long, value_name = "N", requires = "attention")]
    attention_token: Option<usize>,
    /// Most tokens to generate.
    #[arg(long, default_value_t = 64)]
    max_tokens: usize,
    /// Sampling temperature (finite, 0 or more); 0 = greedy.
    #[arg(long, default_value_t = 0.0)]
    temperature: f32,
    /// Nucleus sampling threshold in (0, 1] (with --temperature > 0).
    #[arg(long, default_value_t = 0.9)]
    top_p: f32,
    /// Seed for sampling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

pub fn run(args: AskArgs) -> anyhow::Result<()> {
    let (image_path, question) = match (&args.text, args.inputs.as_slice()) {
        (Some(q), []) => (None, q.clone()),
        (None, [first, second]) => {
            let (image, question) = image_and_question(first, second);
            (Some(image), question)
        }
        (None, [_]) => bail!("give an IMAGE and a \"QUESTION\", or --text \"QUESTION\""),
        _ => bail!("nothing to ask: give an IMAGE and a \"QUESTION\", or --text \"QUESTION\""),
    };
    if args.attention.is_some() && image_path.is_none() {
        bail!("--attention needs an image");
    }
    // Options and the image are checked before the model is loaded.
    let options = GenerateOptions {
        max_new_tokens: args.max_tokens,
        sampling: Sampling::from_settings(args.temperature, args.top_p, args.seed)?,
        capture_attention: args.attention.is_some(),
    };
    options.validate()?;
    let image = image_path.as_deref().map(open_image).transpose()?;

    let pipeline = super::load::pipeline(args.model.as_ref(), args.llm.as_ref(), args.device)?;

    let mut stdout = std::io::stdout();
    let answer = pollster::block_on(pipeline.ask(
        image.as_ref(),
        &question,
        &options,
        &CancelFlag::default(),
        &mut |event| {
            // Token texts come from the model file.
            let _ = write!(stdout, "{}", running_text(event.text));
            let _ = stdout.flush();
        },
    ))?;
    println!();
    let t = answer.timings;
    // A one-token answer comes straight from the prefill: there is no decode rate.
    let decode = if t.generated_tokens > 1 {
        format!(", {:.1} tokens/s", t.tokens_per_second())
    } else {
        String::new()
    };
    eprintln!(
        "{} prompt + {} answer tokens; image {:.0} ms, prefill {:.0} ms{decode}",
        t.prompt_tokens, t.generated_tokens, t.image_ms, t.prefill_ms,
    );

    if let (Some(out), Some(image)) = (&args.attention, &image) {
        let record = answer
            .attention
            .as_ref()
            .context("the model recorded no attention")?;
        let map = match args.attention_token {
            Some(token) => record.heatmap(token, MapView::Combined)?,
            None => record.answer_heatmap(MapView::Combined)?,
        };
        overlay::render(image, &map, &OverlayStyle::default())
            .save(out)
            .with_context(|| format!("writing {}", out.display()))?;
        let (row, col) = map.argmax();
        eprintln!(
            "attention map written to {} (hottest patch: row {row}, column {col})",
            out.display()
        );
    }
    Ok(())
}

/// The image and the question of `gvt ask`, given in either order: the image is the
/// argument that names an existing file, or else the one with an image file's extension, so
/// that a mistyped path is the one the error names. Otherwise the first is the image.
fn image_and_question(first: &str, second: &str) -> (PathBuf, String) {
    let is_file = |arg: &str| Path::new(arg).is_file();
    let looks_like_image = |arg: &str| image::ImageFormat::from_path(arg).is_ok();
    let second_is_image = !is_file(first)
        && (is_file(second) || (looks_like_image(second) && !looks_like_image(first)));
    if second_is_image {
        (PathBuf::from(second), first.to_owned())
    } else {
        (PathBuf::from(first), second.to_owned())
    }
}
