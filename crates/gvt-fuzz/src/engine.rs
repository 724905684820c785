//! The fuzzing loop: seeds, mutation, execution under `catch_unwind` with allocation
//! accounting, a corpus grown on new signatures, crash files, a hang watchdog.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use gvt_core::device::ComputeDevice;
use gvt_core::gguf::GgufFile;

use crate::alloc::{self, AllocStats, LIMIT, Section};
use crate::gguf_mut::{self, GgufCase};
use crate::rng::Rng;
use crate::targets::{self, Context, bucket};
use crate::text_mut::{self, TextCase};
use crate::{image_mut, seeds};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    Gguf,
    Image,
    Text,
}

impl Target {
    pub const ALL: [Target; 3] = [Target::Gguf, Target::Image, Target::Text];

    pub fn name(self) -> &'static str {
        match self {
            Target::Gguf => "gguf",
            Target::Image => "image",
            Target::Text => "text",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Target::ALL.into_iter().find(|t| t.name() == s)
    }

    fn ext(self) -> &'static str {
        match self {
            Target::Gguf => "gguf",
            Target::Image => "img",
            Target::Text => "text",
        }
    }
}

/// One input of any target.
#[derive(Debug, Clone)]
pub enum Input {
    Gguf(GgufCase),
    Image(Vec<u8>),
    Text(TextCase),
}

impl Input {
    pub fn target(&self) -> Target {
        match self {
            Input::Gguf(_) => Target::Gguf,
            Input::Image(_) => Target::Image,
            Input::Text(_) => Target::Text,
        }
    }

    /// The bytes a crash file holds (replayable with `--replay`).
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Input::Gguf(c) => c.to_bytes(),
            Input::Image(b) => b.clone(),
            Input::Text(c) => c.to_bytes(),
        }
    }

    /// Reads a crash file back.
    pub fn from_bytes(target: Target, bytes: &[u8]) -> Option<Self> {
        Some(match target {
            Target::Gguf => Input::Gguf(GgufCase::from_bytes(bytes)),
            Target::Image => Input::Image(bytes.to_vec()),
            Target::Text => Input::Text(TextCase::from_bytes(bytes)?),
        })
    }

    /// What keeping it in the corpus costs.
    fn own_bytes(&self) -> usize {
        match self {
            Input::Gguf(c) => c.own_bytes(),
            Input::Image(b) => b.len(),
            Input::Text(c) => c.to_bytes().len(),
        }
    }
}

/// What one execution did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Stage signatures (see [`targets`]).
    pub sigs: Vec<String>,
    /// The panic message and location, when it panicked.
    pub panic: Option<String>,
    pub alloc: AllocStats,
    pub time: Duration,
}

impl Outcome {
    /// Why this execution is a failure: a panic, or memory over [`LIMIT`].
    pub fn failure(&self) -> Option<String> {
        if let Some(p) = &self.panic {
            return Some(format!("panic: {p}"));
        }
        if let Some(s) = self.sigs.iter().find_map(|s| s.strip_prefix(targets::FAIL)) {
            return Some(s.to_string());
        }
        if self.alloc.largest > LIMIT {
            return Some(format!(
                "allocation of {} bytes (limit {LIMIT}); last stage reached: {}",
                self.alloc.largest,
                self.sigs.last().map_or("start", String::as_str)
            ));
        }
        if self.alloc.peak > LIMIT {
            return Some(format!(
                "peak of {} live bytes (limit {LIMIT}); last stage reached: {}",
                self.alloc.peak,
                self.sigs.last().map_or("start", String::as_str)
            ));
        }
        None
    }

    /// Failures with the same key are counted as one: a panic by its message and location,
    /// memory over the limit by the stage reached (a stage name, without its details).
    fn failure_key(&self) -> String {
        if let Some(p) = &self.panic {
            return format!("panic {}", targets::class(p));
        }
        if let Some(s) = self.sigs.iter().find(|s| s.starts_with(targets::FAIL)) {
            return targets::class(s);
        }
        let stage = self
            .sigs
            .last()
            .map_or("start", |s| s.split(':').next().unwrap_or(s));
        let kind = if self.alloc.largest > LIMIT {
            "allocation"
        } else {
            "peak"
        };
        format!("{kind} over the limit, stage {stage}")
    }
}

thread_local! {
    static CAPTURING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static LAST_PANIC: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Panics inside [`execute`] are recorded (message and location) instead of printed; other
/// panics go to the previous hook.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if CAPTURING.with(|c| c.get()) {
                let msg = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "(non-string payload)".into());
                let at = info
                    .location()
                    .map(|l| format!("{}:{}", l.file(), l.line()))
                    .unwrap_or_default();
                let mut text = format!("{msg} at {at}");
                if std::env::var_os("GVT_FUZZ_BACKTRACE").is_some() {
                    text += &format!("\n{}", std::backtrace::Backtrace::force_capture());
                }
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(text));
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs one input through its target, catching panics and measuring allocations. Measured
/// sections must not overlap: run one execution at a time.
pub fn execute(ctx: &Context, input: &Input) -> Outcome {
    install_panic_hook();
    let start = Instant::now();
    CAPTURING.with(|c| c.set(true));
    LAST_PANIC.with(|p| p.borrow_mut().take());
    let section = Section::start();
    let result = catch_unwind(AssertUnwindSafe(|| match input {
        Input::Gguf(c) => targets::run_gguf(ctx, c.to_bytes()),
        Input::Image(b) => targets::run_image(ctx, b),
        Input::Text(c) => targets::run_text(ctx, c),
    }));
    let alloc = section.stats();
    CAPTURING.with(|c| c.set(false));
    let (sigs, panic) = match result {
        Ok(sigs) => (sigs, None),
        Err(_) => {
            let msg = LAST_PANIC
                .with(|p| p.borrow_mut().take())
                .unwrap_or_else(|| "panic without a message".into());
            (vec!["panic".into()], Some(msg))
        }
    };
    Outcome {
        sigs,
        panic,
        alloc,
        time: start.elapsed(),
    }
}

/// What the targets share, built once (the miniature model is written here).
pub struct Setup {
    pub ctx: Context,
    pub tiny: Vec<u8>,
    pub mini: Vec<u8>,
    pub templates: Vec<String>,
}

impl Setup {
    pub fn new(deep_bytes: usize) -> Self {
        let tiny = seeds::tiny_bytes();
        let tiny_file = GgufFile::from_bytes(tiny.clone()).expect("the tiny model parses");
        let mini = seeds::mini_model(&tiny_file);
        let templates = seeds::templates(&tiny_file);
        let ctx = Context {
            device: ComputeDevice::cpu(),
            vocabs: [
                seeds::tokenizer_metadata(&tiny_file.metadata),
                seeds::spm_metadata(),
            ],
            deep_bytes,
            run_bombs: std::cell::Cell::new(true),
        };
        Setup {
            ctx,
            tiny,
            mini,
            templates,
        }
    }

    fn seeds(&self, target: Target) -> Vec<Input> {
        match target {
            Target::Gguf => seeds::gguf_seeds(&self.tiny, &self.mini)
                .iter()
                .map(|b| Input::Gguf(GgufCase::from_bytes(b)))
                .collect(),
            Target::Image => image_mut::seeds().into_iter().map(Input::Image).collect(),
            Target::Text => seeds::text_seeds(&self.templates)
                .into_iter()
                .map(Input::Text)
                .collect(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    pub seed: u64,
    pub targets: Vec<Target>,
    /// Stop after this many executions...
    pub max_execs: Option<u64>,
    /// ...or after this long, whichever comes first.
    pub max_time: Option<Duration>,
    /// Where `crashes/` and `hangs/` go; nothing is written without it.
    pub out_dir: Option<PathBuf>,
    /// An execution running this long is a hang: its input is saved and the process exits.
    pub hang: Duration,
    /// Progress lines on stderr every this often.
    pub progress: Option<Duration>,
    /// Full model loads for GGUF files with at most this many tensor bytes.
    pub deep_bytes: usize,
    /// Bomb candidates (images declaring more than [`targets::LARGE_PIXELS`], chat
    /// templates with a number of 1,000,000 or more) run one time in this many; the others
    /// stop early with a `bomb:skipped` signature. One such run can take a minute.
    pub bomb_every: usize,
    /// An execution slower than this is reported (and its input saved under `slow/`).
    pub slow: Duration,
    /// Whether GGUF mutation may add 64 Mi-element metadata arrays (a known bug: see
    /// `tests/fuzz.rs`, `huge_u8_metadata_array_stays_under_1_gib`).
    pub huge_arrays: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            seed: 1,
            targets: Target::ALL.to_vec(),
            max_execs: Some(1000),
            max_time: None,
            out_dir: None,
            hang: Duration::from_secs(180),
            progress: None,
            deep_bytes: 1 << 20,
            huge_arrays: true,
            bomb_every: 16,
            slow: Duration::from_secs(5),
        }
    }
}

/// A distinct failure (same target and message class), with how often it was seen.
#[derive(Debug, Clone)]
pub struct Failure {
    pub target: Target,
    pub what: String,
    pub count: u64,
    pub input: Vec<u8>,
    pub path: Option<PathBuf>,
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    pub execs: u64,
    pub execs_by_target: HashMap<&'static str, u64>,
    /// Distinct signature features seen: this harness's "coverage".
    pub coverage: usize,
    pub corpus: HashMap<&'static str, usize>,
    /// Largest single allocation in any execution.
    pub largest_alloc: usize,
    /// Largest peak of live bytes in any execution (above the level before it).
    pub peak_bytes: usize,
    pub slowest: Duration,
    /// Executions slower than [`Options::slow`] (the first 20): target, time, saved input.
    pub slow: Vec<(Target, Duration, Option<PathBuf>)>,
    pub elapsed: Duration,
    pub failures: Vec<Failure>,
    pub allocator_installed: bool,
    /// Executions by target and the deepest stage they reached (`gguf/load`...).
    pub stages: HashMap<String, u64>,
}

impl Report {
    pub fn execs_per_sec(&self) -> f64 {
        self.execs as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn summary(&self) -> String {
        let mut s = format!(
            "executions: {} ({:.1}/s over {:.1} s)\n",
            self.execs,
            self.execs_per_sec(),
            self.elapsed.as_secs_f64()
        );
        let mut by: Vec<_> = self.execs_by_target.iter().collect();
        by.sort();
        for (t, n) in by {
            s += &format!(
                "  {t}: {n} executions, corpus {}\n",
                self.corpus.get(t).copied().unwrap_or(0)
            );
        }
        s += &format!(
            "coverage (distinct signature features): {}\n\
             largest single allocation: {} bytes ({:.1} MiB)\n\
             peak live bytes in one execution: {} ({:.1} MiB){}\n\
             slowest execution: {:.2} s ({} over the slow threshold)\n\
             failures: {} distinct\n",
            self.coverage,
            self.largest_alloc,
            self.largest_alloc as f64 / 1048576.0,
            self.peak_bytes,
            self.peak_bytes as f64 / 1048576.0,
            if self.allocator_installed {
                ""
            } else {
                " (counting allocator NOT installed: memory not measured)"
            },
            self.slowest.as_secs_f64(),
            self.slow.len(),
            self.failures.len(),
        );
        let mut stages: Vec<_> = self.stages.iter().collect();
        stages.sort();
        s += "deepest stage reached:";
        let sep = if std::env::var_os("GVT_FUZZ_HIST").is_some() {
            "\n "
        } else {
            " "
        };
        for (stage, n) in stages {
            s += &format!("{sep}{stage} {n},");
        }
        s.pop();
        s += "\n";
        for (t, time, path) in &self.slow {
            s += &format!("  slow [{}] {:.1} s", t.name(), time.as_secs_f64());
            if let Some(p) = path {
                s += &format!(": {}", p.display());
            }
            s += "\n";
        }
        for f in &self.failures {
            s += &format!("  [{}] x{} {}\n", f.target.name(), f.count, f.what);
            if let Some(p) = &f.path {
                s += &format!("    input: {}\n", p.display());
            }
        }
        s
    }
}

fn hash_of(parts: &impl Hash) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    parts.hash(&mut h);
    h.finish()
}

/// Feature hashes of one execution: each stage signature, and the allocation count and
/// peak (log2 buckets) at the stage reached.
fn features(target: Target, out: &Outcome) -> Vec<u64> {
    let last = out.sigs.last().map_or("", String::as_str);
    let mut f: Vec<u64> = out.sigs.iter().map(|s| hash_of(&(target, s))).collect();
    f.push(hash_of(&(target, "count", bucket(out.alloc.count), last)));
    f.push(hash_of(&(target, "peak", bucket(out.alloc.peak), last)));
    f
}

/// The input running now, for the watchdog and the oversize hook.
static CURRENT: Mutex<Option<(Input, Instant, Option<PathBuf>)>> = Mutex::new(None);

fn save(dir: &Path, sub: &str, input: &Input) -> Option<PathBuf> {
    let bytes = input.to_bytes();
    let dir = dir.join(sub);
    std::fs::create_dir_all(&dir).ok()?;
    let path = dir.join(format!(
        "{}-{:016x}.{}",
        input.target().name(),
        hash_of(&bytes),
        input.target().ext()
    ));
    std::fs::write(&path, bytes).ok()?;
    Some(path)
}

fn on_oversize(size: usize) {
    eprintln!("gvt-fuzz: an allocation of {size} bytes is refused; the process aborts");
    if let Ok(guard) = CURRENT.try_lock()
        && let Some((input, _, Some(dir))) = guard.as_ref()
        && let Some(path) = save(dir, "crashes", input)
    {
        eprintln!("gvt-fuzz: input saved to {}", path.display());
    }
}

fn watchdog(hang: Duration, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(250));
        let guard = CURRENT.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((input, since, dir)) = guard.as_ref()
            && since.elapsed() > hang
        {
            eprintln!(
                "gvt-fuzz: HANG: a {} input has run for {:.0} s",
                input.target().name(),
                since.elapsed().as_secs_f64()
            );
            if let Some(path) = dir.as_ref().and_then(|d| save(d, "hangs", input)) {
                eprintln!("gvt-fuzz: input saved to {}", path.display());
            }
            std::process::exit(3);
        }
    }
}

fn mutate(rng: &mut Rng, input: &mut Input, templates: &[String], opts: &Options) {
    match input {
        Input::Gguf(c) => gguf_mut::mutate(rng, c, opts.huge_arrays),
        Input::Image(b) => image_mut::mutate(rng, b),
        Input::Text(c) => text_mut::mutate(rng, c, templates),
    }
}

/// Inputs, each with whether it got past its target's first stage.
type Corpus = Vec<(Input, bool)>;

const CORPUS_CAP: usize = 2000;
const CORPUS_ENTRY_BYTES: usize = 1 << 20;

/// Runs the fuzzer.
pub fn run(setup: &Setup, opts: &Options) -> Report {
    alloc::set_oversize_hook(on_oversize);
    let stop = Arc::new(AtomicBool::new(false));
    let dog = {
        let stop = stop.clone();
        let hang = opts.hang;
        std::thread::spawn(move || watchdog(hang, stop))
    };
    let start = Instant::now();
    let mut rng = Rng::new(opts.seed);
    let mut report = Report::default();
    let mut seen: HashSet<u64> = HashSet::new();
    let mut failures: HashMap<(Target, String), Failure> = HashMap::new();
    let mut order: Vec<(Target, String)> = Vec::new();
    // Per target: entries (input, whether it got past the first stage), and how many of
    // them are seeds (never replaced).
    let mut corpora: Vec<(Target, Corpus, usize)> = opts
        .targets
        .iter()
        .map(|&t| {
            let s: Vec<(Input, bool)> = setup.seeds(t).into_iter().map(|i| (i, true)).collect();
            let n = s.len();
            (t, s, n)
        })
        .collect();
    // Seeds run first, unmutated.
    let mut pending: Vec<Input> = corpora
        .iter()
        .flat_map(|(_, c, _)| c.iter().map(|(i, _)| i.clone()))
        .collect();
    pending.reverse();
    let mut last_progress = Instant::now();
    let mut turn = 0usize;
    loop {
        if opts.max_execs.is_some_and(|n| report.execs >= n)
            || opts.max_time.is_some_and(|t| start.elapsed() >= t)
        {
            break;
        }
        let input = match pending.pop() {
            Some(i) => i,
            None => {
                turn += 1;
                let (_, corpus, _) = &corpora[turn % corpora.len()];
                // Three times in four, prefer inputs that got past the first stage (the
                // parser, the tokenizer's construction, the decoder): mutating those
                // reaches deeper code.
                let mut pick = rng.below(corpus.len());
                if !rng.one_in(4) {
                    for _ in 0..8 {
                        if corpus[pick].1 {
                            break;
                        }
                        pick = rng.below(corpus.len());
                    }
                }
                let mut input = corpus[pick].0.clone();
                mutate(&mut rng, &mut input, &setup.templates, opts);
                input
            }
        };
        let target = input.target();
        *CURRENT.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((input.clone(), Instant::now(), opts.out_dir.clone()));
        setup
            .ctx
            .run_bombs
            .set(opts.bomb_every <= 1 || rng.one_in(opts.bomb_every));
        let out = execute(&setup.ctx, &input);
        *CURRENT.lock().unwrap_or_else(|e| e.into_inner()) = None;
        report.execs += 1;
        *report.execs_by_target.entry(target.name()).or_default() += 1;
        let stage = out
            .sigs
            .last()
            .map_or("start", |s| s.split(':').next().unwrap_or(s));
        if std::env::var_os("GVT_FUZZ_HIST").is_some() {
            *report
                .stages
                .entry(out.sigs.last().cloned().unwrap_or_default())
                .or_default() += 1;
        }
        *report
            .stages
            .entry(format!("{}/{stage}", target.name()))
            .or_default() += 1;
        report.largest_alloc = report.largest_alloc.max(out.alloc.largest);
        report.peak_bytes = report.peak_bytes.max(out.alloc.peak);
        report.slowest = report.slowest.max(out.time);
        if out.time > opts.slow && report.slow.len() < 20 {
            let path = opts.out_dir.as_ref().and_then(|d| save(d, "slow", &input));
            if let Some(p) = &path {
                eprintln!(
                    "gvt-fuzz: slow {} input ({:.1} s) saved to {}",
                    target.name(),
                    out.time.as_secs_f64(),
                    p.display()
                );
            }
            report.slow.push((target, out.time, path));
        }
        if let Some(what) = out.failure() {
            let key = (target, out.failure_key());
            let f = failures.entry(key.clone()).or_insert_with(|| {
                order.push(key);
                let path = opts
                    .out_dir
                    .as_ref()
                    .and_then(|d| save(d, "crashes", &input));
                if let Some(p) = &path {
                    eprintln!("gvt-fuzz: {what}\n  input saved to {}", p.display());
                }
                Failure {
                    target,
                    what,
                    count: 0,
                    input: input.to_bytes(),
                    path,
                }
            });
            f.count += 1;
        }
        let mut new = false;
        for f in features(target, &out) {
            new |= seen.insert(f);
        }
        // Slow inputs are reported, not kept: mutating them would keep the fuzzer slow.
        if new && input.own_bytes() <= CORPUS_ENTRY_BYTES && out.time <= opts.slow / 4 {
            let (_, corpus, n_seeds) = corpora.iter_mut().find(|(t, _, _)| *t == target).unwrap();
            let deep = out
                .sigs
                .first()
                .is_some_and(|s| s.starts_with("parse:ok") || s.contains(":ok"));
            if corpus.len() < CORPUS_CAP {
                corpus.push((input, deep));
            } else {
                let i = *n_seeds + rng.below(corpus.len() - *n_seeds);
                corpus[i] = (input, deep);
            }
        }
        if let Some(every) = opts.progress
            && last_progress.elapsed() >= every
        {
            last_progress = Instant::now();
            eprintln!(
                "gvt-fuzz: {:.0} s, {} executions ({:.1}/s), coverage {}, failures {}",
                start.elapsed().as_secs_f64(),
                report.execs,
                report.execs as f64 / start.elapsed().as_secs_f64(),
                seen.len(),
                failures.len()
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = dog.join();
    report.elapsed = start.elapsed();
    report.coverage = seen.len();
    report.corpus = corpora
        .iter()
        .map(|(t, c, _)| (t.name(), c.len()))
        .collect();
    report.failures = order
        .into_iter()
        .filter_map(|k| failures.remove(&k))
        .collect();
    report.allocator_installed = alloc::installed();
    report
}
