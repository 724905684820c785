//! `gvt convert --checkpoint GVT.pth --llm LLAMA_DIR --out gvt.gguf [--type q4_k]`

use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, ValueEnum};
use gvt_convert::{Options, OutType};
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Args, Debug)]
pub struct ConvertArgs {
    /// The official GVT checkpoint (PyTorch .pth/.ckpt; a Lightning `state_dict` nesting is
    /// found by itself). Without --llm the output is a vision-only GGUF, used with
    /// `gvt ask --model V.gguf --llm L.gguf`.
    #[arg(long, value_name = "GVT.pth")]
    checkpoint: Option<PathBuf>,
    /// The LLM: a Hugging Face LLaMA/Vicuna folder (config.json, safetensors or
    /// pytorch_model*.bin, tokenizer.model), or a LLaMA-family GGUF to merge with the
    /// checkpoint. Alone, a folder converts to a plain LLaMA GGUF.
    #[arg(long, value_name = "DIR|L.gguf")]
    llm: Option<PathBuf>,
    /// The GGUF to write.
    #[arg(long, value_name = "OUT.gguf", required_unless_present = "dry_run")]
    out: Option<PathBuf>,
    /// Storage type of the weight matrices; norms, biases and tables stay f32.
    #[arg(long = "type", value_name = "TYPE", value_enum, default_value_t = TypeArg::F16)]
    out_type: TypeArg,
    /// Heads of the ViT (default: width / 64, as every EVA-02 size).
    #[arg(long, value_name = "N")]
    vision_heads: Option<usize>,
    /// Heads of the resampler (default: attention width / 96, as GVT's perceiver).
    #[arg(long, value_name = "N")]
    resampler_heads: Option<usize>,
    /// `general.name` (default: the input's file name).
    #[arg(long)]
    name: Option<String>,
    /// Skip tensors the model does not use (listed) instead of refusing the input.
    #[arg(long)]
    allow_unused: bool,
    /// Print the plan (every tensor, its source and type, the sizes) and write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Overwrite --out if it exists.
    #[arg(long)]
    force: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum TypeArg {
    F32,
    F16,
    #[value(name = "q8_0")]
    Q8_0,
    #[value(name = "q4_0")]
    Q4_0,
    #[value(name = "q4_1")]
    Q4_1,
    #[value(name = "q4_k")]
    Q4K,
    #[value(name = "q6_k")]
    Q6K,
}

impl From<TypeArg> for OutType {
    fn from(t: TypeArg) -> Self {
        match t {
            TypeArg::F32 => OutType::F32,
            TypeArg::F16 => OutType::F16,
            TypeArg::Q8_0 => OutType::Q8_0,
            TypeArg::Q4_0 => OutType::Q4_0,
            TypeArg::Q4_1 => OutType::Q4_1,
            TypeArg::Q4K => OutType::Q4_K,
            TypeArg::Q6K => OutType::Q6_K,
        }
    }
}

pub fn run(args: ConvertArgs) -> anyhow::Result<()> {
    let opts = Options {
        checkpoint: args.checkpoint,
        llm: args.llm,
        out_type: args.out_type.into(),
        vision_heads: args.vision_heads,
        resampler_heads: args.resampler_heads,
        name: args.name,
        allow_unused: args.allow_unused,
    };
    let plan = gvt_convert::plan(&opts)?;
    if args.dry_run {
        print!("{}", plan.describe());
        return Ok(());
    }
    let out = args.out.expect("clap requires --out without --dry-run");
    if out.is_dir() {
        anyhow::bail!("--out {} is a folder; give a file name", out.display());
    }
    if out.exists() && !args.force {
        anyhow::bail!("{} exists (--force overwrites it)", out.display());
    }
    eprintln!("{}", plan.summary);
    for note in &plan.notes {
        eprintln!("note: {note}");
    }
    let bar = ProgressBar::new(plan.output_bytes()).with_style(
        ProgressStyle::with_template(
            "{bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {wide_msg}",
        )
        .expect("static template"),
    );
    let started = Instant::now();
    plan.write(&out, &mut |done, _, tensor| {
        bar.set_position(done);
        bar.set_message(tensor.to_string());
    })?;
    bar.finish_and_clear();
    println!(
        "wrote {} ({} tensors, {}) in {:.1} s",
        out.display(),
        plan.tensors.len(),
        gvt_core::model::Bytes(plan.output_bytes()),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
