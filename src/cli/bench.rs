//! `gvt bench`: where the time goes, measured on real files or on random weights of a named
//! size. Prints figures; asserts nothing.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::bail;
use burn::tensor::{Device, Distribution, Tensor};
use clap::Args;
use gvt_core::device::{self, DeviceChoice};
use gvt_core::engine;
use gvt_core::generate::{argmax, read_f32};
use gvt_core::model::{Gvt, GvtConfig, InitSource, Keep, KvCache, Preset};
use gvt_gpu::WeightFormat;
use gvt_gpu::llm::{GpuLlm, KvFormat, LlmSession, Part};
use gvt_gpu::random::{self, random_tensors};
use gvt_gpu::vision::{GpuVisual, VisualSession};

mod cpu;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// A GVT GGUF (vision half, and the LLM unless --llm is given).
    #[arg(long, value_name = "M.gguf", conflicts_with = "preset")]
    model: Option<PathBuf>,
    /// An LLM GGUF.
    #[arg(long, value_name = "L.gguf", conflicts_with = "preset")]
    llm: Option<PathBuf>,
    /// Random weights of a named size instead of files.
    #[arg(long, value_enum)]
    preset: Option<Preset>,
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    device: DeviceChoice,
    /// Text tokens in the prompt (the 32 visual tokens come on top for a vision model).
    #[arg(long, default_value_t = 32)]
    prompt_tokens: usize,
    /// Tokens to decode per run.
    #[arg(long, default_value_t = 32)]
    tokens: usize,
    /// Timed runs after one warm-up run (which pays kernel compilation).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// With --preset on a GPU: the block format of the random weights the GPU engine runs
    /// (f16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k; rows that are not whole blocks
    /// of it take Q8_0, as llama.cpp does).
    #[arg(long, alias = "quant", value_name = "FORMAT", default_value = "q4_0", value_parser = parse_format)]
    engine_format: WeightFormat,
    /// Only the engine (the GPU's, or the CPU's): skip burn's run (a 7B preset in f32
    /// takes 28 GB and minutes).
    #[arg(long)]
    engine_only: bool,
    /// On the CPU: also run a peer on the same file, with the same prompt and answer
    /// lengths, and print the ratios: llama.cpp's `llama-bench` (same threads) for an LLM,
    /// PyTorch eager (`tools/reference/gvt_torch_bench.py`) for a GVT model with its image
    /// encoder.
    #[arg(long)]
    compare: bool,
    /// The `llama-bench` binary for --compare (default: `llama-bench` on the PATH).
    #[arg(long, value_name = "PATH", default_value = "llama-bench")]
    llama_bench: PathBuf,
    /// The Python with torch, numpy and gguf for --compare on a GVT model.
    #[arg(long, value_name = "PATH", default_value = "python3")]
    python: PathBuf,
    /// The PyTorch script for --compare on a GVT model.
    #[arg(
        long,
        value_name = "PATH",
        default_value = "tools/reference/gvt_torch_bench.py"
    )]
    torch_bench: PathBuf,
}

fn parse_format(s: &str) -> Result<WeightFormat, String> {
    WeightFormat::ALL
        .into_iter()
        .find(|f| f.name().eq_ignore_ascii_case(s))
        .ok_or_else(|| {
            let names: Vec<_> = WeightFormat::ALL.iter().map(|f| f.name()).collect();
            format!("unknown format `{s}`; one of {}", names.join(", "))
        })
}

/// One run's timings in milliseconds.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Run {
    pub image_ms: f64,
    pub prefill_ms: f64,
    pub decode_ms: f64,
}

pub(super) fn ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}

pub(super) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Medians of the runs after the first (which pays kernel compilation).
fn warm_medians(runs: &[Run]) -> Run {
    let warm = &runs[1..];
    let of = |f: fn(&Run) -> f64| median(warm.iter().map(f).collect());
    Run {
        image_ms: of(|r| r.image_ms),
        prefill_ms: of(|r| r.prefill_ms),
        decode_ms: of(|r| r.decode_ms),
    }
}

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.runs == 0 || args.tokens == 0 || args.prompt_tokens == 0 {
        bail!("--runs, --tokens and --prompt-tokens must be at least 1");
    }
    let compute = device::select(args.device)?;
    if args.engine_only && compute.engine().is_none() && compute.cpu_engine().is_none() {
        bail!("--engine-only needs an engine: the GPU's or the CPU's");
    }
    // The files (vision file if any, LLM file), or a preset's random weights.
    let (config, source, paths) = match (&args.preset, &args.model, &args.llm) {
        (Some(preset), _, _) => (
            GvtConfig::preset(*preset),
            format!("random weights, preset {preset:?}"),
            None,
        ),
        (None, Some(path), llm) | (None, None, llm @ Some(path)) => {
            let file = super::load::open_gguf(path)?;
            let llm_path = llm.as_ref().unwrap_or(path).clone();
            let llm_file = match llm {
                Some(l) if l != path => Some(super::load::open_gguf(l)?),
                _ => None,
            };
            let cfg = GvtConfig::from_gguf(&file, llm_file.as_ref().unwrap_or(&file))?;
            let vision = cfg.vision.is_some().then(|| path.clone());
            (cfg, path.display().to_string(), Some((vision, llm_path)))
        }
        (None, None, None) => bail!("give --model/--llm files or a --preset"),
    };
    println!("model:   {source}");
    println!("device:  {}", compute.name);
    println!("sizes:   {}", config.summary());
    let burn = if args.engine_only {
        None
    } else {
        Some(bench_burn(&compute.device, &config, paths.as_ref(), &args)?)
    };
    if let Some(cpu) = compute.cpu_engine() {
        return cpu::run(cpu, &config, paths.as_ref(), &args, burn);
    }
    let Some(gpu) = compute.engine() else {
        return Ok(());
    };
    let before = gpu.allocated();
    let started = Instant::now();
    let engine = load_engine(gpu, &config, paths.as_ref(), args.engine_format)?;
    bench_engine(gpu, &engine, ms(started), &config, &args, burn, before)
}

/// burn on `device` (flex on the CPU, its wgpu kernels on a GPU): its warm medians.
fn bench_burn(
    device: &Device,
    config: &GvtConfig,
    paths: Option<&(Option<PathBuf>, PathBuf)>,
    args: &BenchArgs,
) -> anyhow::Result<Run> {
    let started = Instant::now();
    let model = match paths {
        None => Gvt::load(&mut InitSource::on_device(device), config)?,
        Some((vision, llm)) => {
            let llm_file = super::load::open_gguf(llm)?;
            let vision_file = vision
                .as_ref()
                .map(|p| super::load::open_gguf(p))
                .transpose()?;
            let (model_file, llm_file) = match vision_file {
                Some(v) => (v, Some(llm_file)),
                None => (llm_file, None),
            };
            Gvt::load_files(&model_file, llm_file.as_ref(), config, device, &mut |_| {})?
        }
    };
    // Make sure the weights are really on the device before stopping the clock.
    let _ = pollster::block_on(read_f32(model.prompt_embeds(&[0], None, &[])))?;
    println!("load:    {:.0} ms", ms(started));

    let mut runs = Vec::with_capacity(args.runs + 1);
    for _ in 0..=args.runs {
        runs.push(pollster::block_on(one_run(&model, config, device, args))?);
    }
    let first = runs[0];
    let warm = warm_medians(&runs);
    let steps = args.tokens.saturating_sub(1).max(1) as f64;
    if config.vision.is_some() {
        println!(
            "image:   {:.1} ms (ViT + resampler + projection; first run {:.0} ms)",
            warm.image_ms, first.image_ms
        );
    }
    println!(
        "prefill: {:.1} ms for {} positions (first run {:.0} ms)",
        warm.prefill_ms,
        args.prompt_tokens + config.resampler.as_ref().map_or(0, |r| r.latents),
        first.prefill_ms
    );
    println!(
        "decode:  {:.1} tokens/s ({:.1} ms/token, median of {} runs of {} tokens)",
        1000.0 * steps / warm.decode_ms,
        warm.decode_ms / steps,
        args.runs,
        args.tokens
    );
    Ok(warm)
}

/// The model on the GPU engine.
struct EngineParts {
    visual: Option<Arc<GpuVisual>>,
    llm: Arc<GpuLlm>,
}

/// The engine's model from the files (`(vision file, LLM file)`), or random blocks of
/// `format` in the preset's layout.
fn load_engine(
    gpu: &gvt_gpu::Gpu,
    config: &GvtConfig,
    paths: Option<&(Option<PathBuf>, PathBuf)>,
    format: WeightFormat,
) -> anyhow::Result<EngineParts> {
    let mut skip = |_| {};
    Ok(match paths {
        Some((model, llm)) => {
            let visual = match model {
                Some(path) => {
                    let file = super::load::open_gguf(path)?;
                    engine::load_visual(gpu, &file, config, &mut skip)?
                }
                None => None,
            };
            let file = super::load::open_gguf(llm)?;
            EngineParts {
                visual: visual.map(Arc::new),
                llm: Arc::new(engine::load_llm(gpu, &file, &config.llm, &mut skip)?),
            }
        }
        None => {
            let visual = match engine::vision_dims(config) {
                Some(dims) => {
                    let tensors = random_tensors(&dims.tensors(), format, 2);
                    let mut source = |name: &str| random::find(&tensors, name);
                    Some(Arc::new(GpuVisual::load(
                        gpu,
                        dims,
                        &mut source,
                        &mut skip,
                    )?))
                }
                None => None,
            };
            let dims = engine::llm_dims(&config.llm);
            let tensors = random_tensors(&dims.tensors(), format, 1);
            let mut source = |name: &str| random::find(&tensors, name);
            let llm = GpuLlm::load(gpu, dims, &mut source, &mut skip)?;
            EngineParts {
                visual,
                llm: Arc::new(llm),
            }
        }
    })
}

/// The same image, prompt and answer length on the GPU engine (gvt-gpu), next to burn's
/// figures on the same device.
fn bench_engine(
    gpu: &gvt_gpu::Gpu,
    engine: &EngineParts,
    load_ms: f64,
    config: &GvtConfig,
    args: &BenchArgs,
    burn: Option<Run>,
    allocated_before: u64,
) -> anyhow::Result<()> {
    let EngineParts { visual, llm } = engine;
    let latents = config.resampler.as_ref().map_or(0, |r| r.latents);
    let positions = args.prompt_tokens + latents + args.tokens;
    let mut session = pollster::block_on(LlmSession::new(
        llm.clone(),
        false,
        positions,
        KvFormat::F16,
    ))?;
    let mut image = visual
        .as_ref()
        .map(|v| pollster::block_on(VisualSession::new(v.clone(), false)))
        .transpose()?;
    println!("engine:  {}", gpu.caps().variant());
    let visual_bytes = visual.as_ref().map_or(0, |v| v.weight_bytes());
    println!(
        "engine:  weights {:.1} MB on the GPU as stored (LLM {}{}), loaded in {load_ms:.0} ms",
        (llm.weight_bytes() + visual_bytes) as f64 / 1e6,
        llm.formats(),
        if visual.is_some() {
            format!("; image encoder {:.1} MB", visual_bytes as f64 / 1e6)
        } else {
            String::new()
        }
    );
    let ids = prompt_ids(config, args.prompt_tokens);
    let pixels = image_pixels(config);
    let mut runs = Vec::with_capacity(args.runs + 1);
    for _ in 0..=args.runs {
        session.reset();
        let start = Instant::now();
        // The visual tokens stay on the GPU for the prompt, as in an answer; reading them
        // here only marks when the image is done.
        let visual = match image.as_mut() {
            Some(image) => {
                let tokens = pollster::block_on(image.encode(&pixels))?.embeds;
                pollster::block_on(tokens.read())?;
                Some(tokens)
            }
            None => None,
        };
        let image_ms = ms(start);
        let start = Instant::now();
        let parts = [
            Part::Tokens(&ids[..1]),
            visual.as_ref().map_or(Part::Embeds(&[]), Part::OnGpu),
            Part::Tokens(&ids[1..]),
        ];
        pollster::block_on(session.prefill(&parts))?;
        let prefill_ms = ms(start);
        let start = Instant::now();
        for _ in 1..args.tokens {
            pollster::block_on(session.decode())?;
        }
        runs.push(Run {
            image_ms,
            prefill_ms,
            decode_ms: ms(start),
        });
    }
    let warm = warm_medians(&runs);
    // Next to burn's figure for the same stage, when burn ran.
    let beside = |of: &dyn Fn(&Run) -> f64| match &burn {
        Some(burn) => format!(
            " (burn on the same device: {:.1} ms, {:.2}x)",
            of(burn),
            of(burn) / of(&warm)
        ),
        None => String::new(),
    };
    if visual.is_some() {
        println!(
            "engine image:   {:.1} ms{}",
            warm.image_ms,
            beside(&|r| r.image_ms)
        );
    }
    let prompt = (args.prompt_tokens + latents) as f64;
    println!(
        "engine prefill: {:.1} ms, {:.0} positions/s{}",
        warm.prefill_ms,
        1000.0 * prompt / warm.prefill_ms,
        beside(&|r| r.prefill_ms)
    );
    let steps = args.tokens.saturating_sub(1).max(1) as f64;
    let per_token = warm.decode_ms / steps;
    println!(
        "engine decode:  {:.1} tokens/s, {per_token:.2} ms/token, {:.1} GB/s of weights{}",
        1000.0 / per_token,
        llm.bytes_per_token() as f64 / per_token / 1e6,
        beside(&|r| r.decode_ms / steps)
    );
    println!(
        "engine memory:  {:.1} MB of GPU buffers (weights, KV cache for {} positions, \
         activations)",
        (gpu.allocated() - allocated_before) as f64 / 1e6,
        session.capacity()
    );
    Ok(())
}

/// The prompt every run asks: `n` token ids spread over the vocabulary.
pub(super) fn prompt_ids(config: &GvtConfig, n: usize) -> Vec<u32> {
    let vocab = config.llm.vocab_size as u32;
    (0..n as u32).map(|i| (i * 7919 + 13) % vocab).collect()
}

/// A fixed image in the model's input range, `[3, size, size]` (empty without a vision
/// tower).
pub(super) fn image_pixels(config: &GvtConfig) -> Vec<f32> {
    config.vision.as_ref().map_or(Vec::new(), |v| {
        (0..3 * v.image_size * v.image_size)
            .map(|i| ((i * 37 % 101) as f32 / 101.0 - 0.5) * 2.0)
            .collect()
    })
}

async fn one_run(
    model: &Gvt,
    config: &GvtConfig,
    device: &Device,
    args: &BenchArgs,
) -> anyhow::Result<Run> {
    let mut run = Run::default();
    let ids = prompt_ids(config, args.prompt_tokens);

    let visual = match (&model.visual, &config.vision) {
        (Some(path), Some(v)) => {
            let s = v.image_size;
            let pixels = Tensor::<4>::random([1, 3, s, s], Distribution::Normal(0.0, 1.0), device);
            let start = Instant::now();
            let tokens = path.forward(pixels, None);
            // Reading one value waits for the whole image computation.
            let _ = read_f32(tokens.embeds.clone().narrow(1, 0, 1).narrow(2, 0, 1)).await?;
            run.image_ms = ms(start);
            Some(tokens.embeds)
        }
        _ => None,
    };

    let start = Instant::now();
    let embeds = model.prompt_embeds(&ids[..1], visual, &ids[1..]);
    let [_, t, _] = embeds.dims();
    let mut cache = KvCache::new(config.llm.depth);
    let step = model.llm.forward(embeds, &mut cache, Keep::default());
    let mut next = argmax(&read_f32(model.llm.logits(step.hidden.narrow(1, t - 1, 1))).await?);
    run.prefill_ms = ms(start);

    let start = Instant::now();
    for _ in 1..args.tokens {
        let step = model.llm.forward(
            model.prompt_embeds(&[next], None, &[]),
            &mut cache,
            Keep::default(),
        );
        next = argmax(&read_f32(model.llm.logits(step.hidden)).await?);
    }
    run.decode_ms = ms(start);
    Ok(run)
}
