//! `gvt-fuzz`: runs the fuzzer for a time or a number of executions, or replays one input.
//!
//! ```text
//! gvt-fuzz [--minutes M | --seconds S] [--execs N] [--seed N] [--out DIR]
//!          [--target gguf|image|text|all] [--deep-bytes N] [--hang-secs S] [--slow-secs S]
//!          [--no-huge-arrays] [--bomb-every N]
//! gvt-fuzz --replay gguf|image|text FILE
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use gvt_fuzz::{CountingAlloc, Input, Options, Setup, Target, execute, run};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

fn usage() -> ExitCode {
    eprintln!(
        "usage: gvt-fuzz [--minutes M | --seconds S] [--execs N] [--seed N] [--out DIR]\n\
         \x20               [--target gguf|image|text|all] [--deep-bytes N] [--hang-secs S] [--slow-secs S]\n\
         \x20               [--no-huge-arrays] [--bomb-every N]\n\
         \x20      gvt-fuzz --replay gguf|image|text FILE"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut opts = Options {
        max_execs: None,
        max_time: Some(Duration::from_secs(60)),
        out_dir: Some(std::env::temp_dir().join("gvt-fuzz")),
        progress: Some(Duration::from_secs(30)),
        ..Options::default()
    };
    let mut replay: Option<(Target, PathBuf)> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned();
        let num = |v: Option<String>| v.and_then(|v| v.parse::<f64>().ok());
        match a.as_str() {
            "--minutes" => match num(value()) {
                Some(m) => opts.max_time = Some(Duration::from_secs_f64(m * 60.0)),
                None => return usage(),
            },
            "--seconds" => match num(value()) {
                Some(s) => opts.max_time = Some(Duration::from_secs_f64(s)),
                None => return usage(),
            },
            "--execs" => match value().and_then(|v| v.parse().ok()) {
                Some(n) => {
                    opts.max_execs = Some(n);
                    if !args.iter().any(|a| a == "--minutes" || a == "--seconds") {
                        opts.max_time = None;
                    }
                }
                None => return usage(),
            },
            "--seed" => match value().and_then(|v| v.parse().ok()) {
                Some(s) => opts.seed = s,
                None => return usage(),
            },
            "--out" => match value() {
                Some(d) => opts.out_dir = Some(PathBuf::from(d)),
                None => return usage(),
            },
            "--deep-bytes" => match value().and_then(|v| v.parse().ok()) {
                Some(n) => opts.deep_bytes = n,
                None => return usage(),
            },
            "--hang-secs" => match num(value()) {
                Some(s) => opts.hang = Duration::from_secs_f64(s),
                None => return usage(),
            },
            "--no-huge-arrays" => opts.huge_arrays = false,
            "--bomb-every" => match value().and_then(|v| v.parse().ok()) {
                Some(n) => opts.bomb_every = n,
                None => return usage(),
            },
            "--slow-secs" => match num(value()) {
                Some(s) => opts.slow = Duration::from_secs_f64(s),
                None => return usage(),
            },
            "--target" => match value().as_deref() {
                Some("all") => opts.targets = Target::ALL.to_vec(),
                Some(t) => match Target::parse(t) {
                    Some(t) => opts.targets = vec![t],
                    None => return usage(),
                },
                None => return usage(),
            },
            "--replay" => match (value().as_deref().and_then(Target::parse), value()) {
                (Some(t), Some(f)) => replay = Some((t, PathBuf::from(f))),
                _ => return usage(),
            },
            _ => return usage(),
        }
    }
    let setup = Setup::new(opts.deep_bytes);
    if let Some((target, path)) = replay {
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("{}: {e}", path.display());
                return ExitCode::from(2);
            }
        };
        let Some(input) = Input::from_bytes(target, &bytes) else {
            eprintln!("{}: not a {} input", path.display(), target.name());
            return ExitCode::from(2);
        };
        let out = execute(&setup.ctx, &input);
        println!("signatures: {:?}", out.sigs);
        println!(
            "largest allocation {} bytes, peak {} bytes, {} allocations, {:.3} s",
            out.alloc.largest,
            out.alloc.peak,
            out.alloc.count,
            out.time.as_secs_f64()
        );
        return match out.failure() {
            Some(f) => {
                println!("FAILURE: {f}");
                ExitCode::from(1)
            }
            None => ExitCode::SUCCESS,
        };
    }
    if let Some(dir) = &opts.out_dir {
        eprintln!(
            "gvt-fuzz: seed {}, targets {:?}, crashes go to {}",
            opts.seed,
            opts.targets.iter().map(|t| t.name()).collect::<Vec<_>>(),
            dir.join("crashes").display()
        );
    }
    let report = run(&setup, &opts);
    println!("{}", report.summary());
    if report.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
