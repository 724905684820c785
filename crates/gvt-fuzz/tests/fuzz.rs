//! A short fixed-seed fuzzing run and the hostile files as regression cases.
//!
//! Allocation counters are process-wide, so the measured sections below hold `SERIAL`.

use std::sync::Mutex;
use std::time::Duration;

use gvt_core::device::ComputeDevice;
use gvt_core::gguf::{GgufFile, Value};
use gvt_core::pipeline::Pipeline;
use gvt_core::preprocess::Preprocessor;
use gvt_core::tokenizer::Tokenizer;
use gvt_fuzz::alloc::{LIMIT, Section};
use gvt_fuzz::{CountingAlloc, Options, Setup, Target, hostile, run, seeds};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

static SERIAL: Mutex<()> = Mutex::new(());

/// Failures the short run may meet that are known gvt-core bugs with an ignored test of
/// their own: (target, text in the failure, that test). None are known today.
const KNOWN: &[(&str, &str, &str)] = &[];

fn lock() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A fixed seed, a few thousand executions over the three targets: no panic, no
/// allocation over 1 GiB.
#[test]
fn fuzz_fixed_seed_short_run() {
    let _guard = lock();
    let setup = Setup::new(1 << 20);
    let opts = Options {
        seed: 1,
        max_execs: Some(2000),
        max_time: Some(Duration::from_secs(90)),
        // 32 Mi+ element arrays take seconds each: `huge_u8_metadata_array_stays_under_1_gib`
        // covers them.
        huge_arrays: false,
        // Decompression bombs (a 644-byte JPEG decoding to 16384 x 16383 takes ~20 s) are
        // reported but not kept: with a short threshold they are not mutated further.
        slow: Duration::from_secs(1),
        ..Options::default()
    };
    let report = run(&setup, &opts);
    eprintln!("{}", report.summary());
    assert!(report.allocator_installed);
    assert!(report.execs >= 300, "too few executions: {}", report.execs);
    for t in Target::ALL {
        assert!(report.execs_by_target.get(t.name()).copied().unwrap_or(0) > 0);
    }
    assert!(report.coverage > 50, "coverage {}", report.coverage);
    let failures: Vec<String> = report
        .failures
        .iter()
        .filter(|f| {
            let known = KNOWN
                .iter()
                .find(|(t, what, _)| f.target.name() == *t && f.what.contains(what));
            if let Some((_, _, test)) = known {
                eprintln!("known bug (see `{test}`): {}", f.what);
            }
            known.is_none()
        })
        .map(|f| format!("[{}] {}", f.target.name(), f.what))
        .collect();
    assert!(failures.is_empty(), "failures: {failures:#?}");
}

/// Loading as the CLI and the app do (`Pipeline::load`), then the preprocessor.
fn load_everything(bytes: Vec<u8>) -> String {
    let file = match GgufFile::from_bytes(bytes) {
        Ok(f) => f,
        Err(e) => return format!("parse: {e}"),
    };
    let cpu = gvt_core::device::ComputeDevice::cpu();
    let pipeline = match Pipeline::load(&file, None, cpu, &mut |_, _| {}) {
        Ok(p) => p,
        Err(e) => return format!("load: {e}"),
    };
    if let Some(v) = &pipeline.config.vision {
        let img = image::DynamicImage::new_rgb8(8, 8);
        let px = Preprocessor::new(v).pixels(&img);
        if !px.iter().all(|x| x.is_finite()) {
            return "loaded; preprocessed pixels are not finite".into();
        }
    }
    "loaded".into()
}

/// The hostile files: loading and validation return without panicking, within the
/// memory bound. (`gvt-core/tests/core/hostile.rs` asserts each one's exact error.)
#[test]
fn fuzz_regression_hostile_files_do_not_panic() {
    let tiny = seeds::tiny_bytes();
    let mut panics = Vec::new();
    for case in hostile::cases(&tiny) {
        let _guard = lock();
        let section = Section::start();
        let result = std::panic::catch_unwind(|| load_everything(case.bytes));
        let stats = section.stats();
        let over = if stats.largest > LIMIT || stats.peak > LIMIT {
            " OVER THE 1 GiB LIMIT"
        } else {
            ""
        };
        eprintln!(
            "{}: {} (largest allocation {} MiB, peak {} MiB{over})",
            case.name,
            match &result {
                Ok(s) => s.clone(),
                Err(_) => "PANIC".into(),
            },
            stats.largest >> 20,
            stats.peak >> 20,
        );
        if result.is_err() || !over.is_empty() {
            panics.push(case.name);
        }
    }
    assert!(panics.is_empty(), "panicked or over 1 GiB: {panics:?}");
}

/// Runs `f` alone (the counters are process-wide) and asserts that no allocation, and no
/// peak of live bytes, passed the 1 GiB limit.
fn within_limit<T: std::fmt::Debug>(f: impl FnOnce() -> T) {
    let _guard = lock();
    let section = Section::start();
    let result = f();
    let stats = section.stats();
    eprintln!(
        "{result:?}: largest {} bytes, peak {}",
        stats.largest, stats.peak
    );
    assert!(
        stats.largest <= LIMIT,
        "largest allocation {}",
        stats.largest
    );
    assert!(stats.peak <= LIMIT, "peak {}", stats.peak);
}

/// Found by this fuzzer (the issue lists it): a u8 metadata array of 64 Mi elements took 2 GiB
/// (32 bytes per element) before metadata arrays became typed vectors.
#[test]
fn huge_u8_metadata_array_stays_under_1_gib() {
    let bytes = hostile::huge_u8_array(&seeds::tiny_bytes(), 64 << 20);
    within_limit(|| GgufFile::from_bytes(bytes).map(|_| ()));
}

/// Found by this fuzzer: a 51-byte GIF whose logical screen is 16384 x 16384 made the decoder
/// allocate the whole 1 GiB RGBA canvas when `MAX_DECODE_BYTES` allowed 1 GiB.
#[test]
fn tiny_gif_with_a_16384_square_canvas_stays_under_1_gib() {
    let bytes = std::fs::read(
        seeds::repo_root().join("crates/gvt-fuzz/corpus/gif-16384x16384-canvas-51-bytes.gif"),
    )
    .unwrap();
    within_limit(|| gvt_core::preprocess::decode_image(&bytes).map(|_| ()));
}

/// Found by this fuzzer: a GGUF file's chat template is rendered when the tokenizer is built
/// (`Tokenizer::from_metadata` checks that it renders one turn); this 80-byte template made
/// one 1.1 GB string (peak above 3 GB) before templates were bounded.
#[test]
fn chat_template_stays_under_1_gib() {
    let tiny = GgufFile::from_bytes(seeds::tiny_bytes()).unwrap();
    let mut md = seeds::tokenizer_metadata(&tiny.metadata);
    md.insert(
        "tokenizer.chat_template",
        gvt_core::gguf::Value::String(
            "{% set s = 'x' * 100000000 %}{{ (s ~ s ~ s ~ s ~ s ~ s ~ s ~ s ~ s ~ s ~ s) | length }}"
                .into(),
        ),
    );
    within_limit(|| Tokenizer::from_metadata(&md).map(|_| ()));
}

/// Found by this fuzzer (the first case; a panic): a tokenizer with more tokens than
/// `token_embd` has rows loaded, and a question holding one of the extra tokens reached the
/// embedding lookup, where burn-flex's gather panicked.
#[test]
fn tokens_past_the_embedding_rows_are_rejected() {
    let tiny = seeds::tiny_bytes();
    let case = hostile::cases(&tiny)
        .into_iter()
        .find(|c| c.name.contains("vocab_size 444"))
        .unwrap();
    let file = GgufFile::from_bytes(case.bytes).unwrap();
    let cpu = gvt_core::device::ComputeDevice::cpu();
    let err = Pipeline::load(&file, None, cpu, &mut |_, _| {})
        .err()
        .expect("the mismatch is refused at load");
    assert_eq!(
        err.to_string(),
        "unsupported model: tokenizer: `tokenizer.ggml.tokens` has 644 tokens but the LLM's \
         embedding (`token_embd.weight`) has 444 rows: the ids past it cannot be looked up"
    );
}

/// A chat template may render up to 4 MiB of text, and encoding costs memory in proportion
/// to its text (SentencePiece about 110 bytes a character: 16 MiB of "a b " peaked at
/// 1.78 GiB). The pipeline refuses text that the model's context cannot hold before it
/// encodes it, so a prompt of 4 MiB costs a few copies of itself.
#[test]
fn a_prompt_of_4_mib_is_refused_before_it_is_encoded() {
    let template = "{% for m in messages %}{{ 'x' * 4000000 }}{{ m.content }}{% endfor %}";
    let bytes = hostile::with_key(
        &seeds::tiny_bytes(),
        "tokenizer.chat_template",
        Value::String(template.into()),
    );
    let file = GgufFile::from_bytes(bytes).unwrap();
    let pipeline = Pipeline::load(&file, None, ComputeDevice::cpu(), &mut |_, _| {}).unwrap();
    let image = image::DynamicImage::new_rgb8(32, 32);

    let _guard = lock();
    let section = Section::start();
    let err = pipeline
        .prompt("How many circles are there in the image?", Some(&image))
        .err()
        .expect("the prompt is refused");
    let stats = section.stats();
    assert!(err.to_string().starts_with("the prompt is 40000"), "{err}");
    assert!(stats.peak < 64 << 20, "peak {} MiB", stats.peak >> 20);
}
