//! `gvt bench` on the CPU engine: the image encoder, prefill and decode with the weights as
//! stored, beside burn flex's figures from the same run and, with `--compare`, llama.cpp's
//! `llama-bench` on the same LLM file.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use gvt_core::engine;
use gvt_core::generate::argmax;
use gvt_core::model::GvtConfig;
use gvt_cpu::Cpu;
use gvt_cpu::llm::{CpuLlm, LlmSession, Part};
use gvt_cpu::random::{self, random_tensors};
use gvt_cpu::vision::{CpuVisual, VisualSession};

use super::{BenchArgs, Run, image_pixels, median, ms, prompt_ids};

pub fn run(
    cpu: &Cpu,
    config: &GvtConfig,
    paths: Option<&(Option<PathBuf>, PathBuf)>,
    args: &BenchArgs,
    burn: Option<Run>,
) -> anyhow::Result<()> {
    let rss_before = rss_bytes();
    let started = Instant::now();
    let mut skip = |_| {};
    let (visual, llm, file_bytes) = match paths {
        Some((vision, path)) => {
            let visual = match vision {
                Some(v) => {
                    let file = super::super::load::open_gguf(v)?;
                    engine::load_cpu_visual(cpu, &file, config, &mut skip)?
                }
                None => None,
            };
            let file = super::super::load::open_gguf(path)?;
            let llm = engine::load_cpu_llm(cpu, &file, &config.llm, &mut skip)?;
            (visual, llm, Some(file.file_size() as u64))
        }
        None => {
            let visual = match engine::vision_dims(config) {
                Some(dims) => {
                    let tensors = random_tensors(&dims.tensors(), args.engine_format, 2);
                    let mut source = |name: &str| random::find(&tensors, name);
                    Some(CpuVisual::load(cpu, dims, &mut source, None, &mut skip)?)
                }
                None => None,
            };
            let dims = engine::llm_dims(&config.llm);
            let tensors = random_tensors(&dims.tensors(), args.engine_format, 1);
            let mut source = |name: &str| random::find(&tensors, name);
            let llm = CpuLlm::load(cpu, dims, &mut source, None, &mut skip)?;
            (visual, llm, None)
        }
    };
    let mut image = visual.map(|v| VisualSession::new(Arc::new(v), false));
    let load_ms = ms(started);
    let llm = Arc::new(llm);
    let latents = config.resampler.as_ref().map_or(0, |r| r.latents);
    let positions = args.prompt_tokens + latents + args.tokens;
    let mut session = LlmSession::new(llm.clone(), false, positions)?;
    println!(
        "cpu engine: {} ({} cores here)",
        cpu.describe(),
        num_cores()
    );
    let visual_bytes = image.as_ref().map_or(0, |i| i.model().weight_bytes());
    println!(
        "cpu engine: weights {:.1} MB read in place (LLM {}{}), loaded in {load_ms:.0} ms",
        (llm.weight_bytes() + visual_bytes) as f64 / 1e6,
        llm.formats(),
        if image.is_some() {
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
        let visual = match image.as_mut() {
            Some(image) => image.encode(&pixels)?.embeds,
            None => Vec::new(),
        };
        let image_ms = ms(start);
        let start = Instant::now();
        let parts = [
            Part::Tokens(&ids[..1]),
            Part::Embeds(&visual),
            Part::Tokens(&ids[1..]),
        ];
        let mut next = argmax(session.prefill(&parts)?);
        let prefill_ms = ms(start);
        let start = Instant::now();
        for _ in 1..args.tokens {
            next = argmax(session.decode(next)?);
        }
        runs.push(Run {
            image_ms,
            prefill_ms,
            decode_ms: ms(start),
        });
    }
    let warm = &runs[1..];
    let prompt = (args.prompt_tokens + latents) as f64;
    let steps = args.tokens.saturating_sub(1).max(1) as f64;
    let prefill: Vec<f64> = warm.iter().map(|r| r.prefill_ms).collect();
    let decode: Vec<f64> = warm.iter().map(|r| r.decode_ms / steps).collect();
    let best = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    // (median, best) of a series of timings.
    let spread = |v: &[f64]| (median(v.to_vec()), best(v));
    let images: Vec<f64> = warm.iter().map(|r| r.image_ms).collect();
    let (i_med, i_best) = spread(&images);
    let beside = |of: &dyn Fn(&Run) -> f64, ours: f64| match &burn {
        Some(burn) => format!(" (burn flex: {:.1} ms, {:.2}x)", of(burn), of(burn) / ours),
        None => String::new(),
    };
    if image.is_some() {
        println!(
            "cpu image:   {i_med:.2} ms median, {i_best:.2} ms best{}",
            beside(&|r| r.image_ms, i_med)
        );
    }
    let (p_med, p_best) = spread(&prefill);
    println!(
        "cpu prefill: {p_med:.1} ms median, {p_best:.1} ms best for {prompt} positions: \
         {:.0} positions/s median, {:.0} best{}",
        1000.0 * prompt / p_med,
        1000.0 * prompt / p_best,
        beside(&|r| r.prefill_ms, p_med)
    );
    let (d_med, d_best) = spread(&decode);
    let per_token = llm.bytes_per_token() as f64;
    println!(
        "cpu decode:  {:.1} tokens/s median, {:.1} best ({d_med:.2} ms/token); {:.1} MB of \
         weights read per token, {:.1} GB/s{}",
        1000.0 / d_med,
        1000.0 / d_best,
        per_token / 1e6,
        per_token / d_med / 1e6,
        beside(&|r| r.decode_ms / steps, d_med)
    );
    if let (Some(before), Some(after)) = (rss_before, rss_bytes()) {
        let file = file_bytes.map_or(String::new(), |f| {
            format!(
                ", {:.2}x the file's {:.1} MB",
                after as f64 / f as f64,
                f as f64 / 1e6
            )
        });
        println!(
            "cpu memory:  resident {:.1} MB ({:.1} MB more than before loading{file})",
            after as f64 / 1e6,
            after.saturating_sub(before) as f64 / 1e6
        );
    }
    if args.compare {
        let Some((vision, path)) = paths else {
            bail!("--compare needs a file (its peers cannot run a --preset)");
        };
        match vision {
            Some(model) => {
                let peer = torch_bench(args, model)?;
                let (image, prefill, decode) = (
                    spread(&peer.image_ms),
                    spread(&peer.prefill_ms),
                    spread(&peer.decode_ms),
                );
                println!(
                    "pytorch:     image {:.2} ms median ({:.2} best), prefill {:.1} ms ({:.1}), \
                     decode {:.1} tokens/s ({:.1}) (torch {}, f32, eager, intra-op threads: {})",
                    image.0,
                    image.1,
                    prefill.0,
                    prefill.1,
                    1000.0 / decode.0,
                    1000.0 / decode.1,
                    peer.version,
                    peer.threads
                );
                println!(
                    "ratio:       image {:.2}x (best {:.2}x), prefill {:.2}x ({:.2}x), decode \
                     {:.2}x ({:.2}x) PyTorch's speed (median against median, best against best)",
                    image.0 / i_med,
                    image.1 / i_best,
                    prefill.0 / p_med,
                    prefill.1 / p_best,
                    decode.0 / d_med,
                    decode.1 / d_best,
                );
            }
            None => {
                let peer = llama_bench(&args.llama_bench, path, cpu.pool.threads(), args)?;
                println!(
                    "llama.cpp:   pp{} {:.0} tokens/s, tg{} {:.1} tokens/s ({}, {} threads)",
                    args.prompt_tokens, peer.pp, args.tokens, peer.tg, peer.build, peer.threads
                );
                println!(
                    "ratio:       prefill {:.2}x (best {:.2}x), decode {:.2}x ({:.2}x) \
                     llama.cpp's (median and best against its mean)",
                    1000.0 * prompt / p_med / peer.pp,
                    1000.0 * prompt / p_best / peer.pp,
                    1000.0 / d_med / peer.tg,
                    1000.0 / d_best / peer.tg,
                );
            }
        }
    }
    Ok(())
}

/// PyTorch eager's timings of the same GVT file, from `tools/reference/gvt_torch_bench.py`.
struct TorchPeer {
    version: String,
    threads: u64,
    image_ms: Vec<f64>,
    prefill_ms: Vec<f64>,
    /// Per decoded token.
    decode_ms: Vec<f64>,
}

/// Runs the PyTorch script with torch's own thread setting: on 2 cores its intra-op
/// threads default to 1 while OpenBLAS runs its own pool, which measured faster than
/// asking torch for 2.
fn torch_bench(args: &BenchArgs, model: &PathBuf) -> anyhow::Result<TorchPeer> {
    let out = Command::new(&args.python)
        .arg(&args.torch_bench)
        .arg(model)
        .args(["--prompt-tokens", &args.prompt_tokens.to_string()])
        .args(["--tokens", &args.tokens.to_string()])
        .args(["--runs", &args.runs.to_string()])
        .output()
        .with_context(|| format!("cannot run {} (--python PATH)", args.python.display()))?;
    let script = args.torch_bench.display();
    if !out.status.success() {
        bail!(
            "{script} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .with_context(|| format!("{script} did not print one JSON line"))?;
    let list = |key: &str| -> anyhow::Result<Vec<f64>> {
        let values: Vec<f64> = v[key]
            .as_array()
            .map(|a| a.iter().filter_map(|x| x.as_f64()).collect())
            .unwrap_or_default();
        if values.is_empty() {
            bail!("{script} printed no `{key}`");
        }
        Ok(values)
    };
    Ok(TorchPeer {
        version: v["torch"].as_str().unwrap_or("unknown").to_string(),
        threads: v["threads"].as_u64().unwrap_or(0),
        image_ms: list("image_ms")?,
        prefill_ms: list("prefill_ms")?,
        decode_ms: list("decode_ms_per_token")?,
    })
}

/// llama-bench's means on one file.
struct Peer {
    pp: f64,
    tg: f64,
    build: String,
    threads: u64,
}

fn llama_bench(
    binary: &PathBuf,
    model: &PathBuf,
    threads: usize,
    args: &BenchArgs,
) -> anyhow::Result<Peer> {
    let out = Command::new(binary)
        .arg("-m")
        .arg(model)
        .args(["-t", &threads.to_string()])
        .args(["-p", &args.prompt_tokens.to_string()])
        .args(["-n", &args.tokens.to_string()])
        .args(["-r", &args.runs.to_string(), "-o", "json"])
        .output()
        .with_context(|| format!("cannot run {} (--llama-bench PATH)", binary.display()))?;
    if !out.status.success() {
        bail!(
            "{} failed ({}): {}",
            binary.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
    }
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout)
        .with_context(|| format!("{} did not print JSON", binary.display()))?;
    let mean = |prompt: bool| {
        rows.iter()
            .find(|r| (r["n_prompt"].as_u64().unwrap_or(0) > 0) == prompt)
            .and_then(|r| r["avg_ts"].as_f64())
            .with_context(|| {
                format!(
                    "no {} row in llama-bench's output",
                    if prompt { "pp" } else { "tg" }
                )
            })
    };
    let first = rows.first().context("llama-bench printed no rows")?;
    Ok(Peer {
        pp: mean(true)?,
        tg: mean(false)?,
        build: format!(
            "build {}",
            first["build_commit"].as_str().unwrap_or("unknown")
        ),
        threads: first["n_threads"].as_u64().unwrap_or(0),
    })
}

fn num_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Resident memory of this process (Linux).
fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}
