//! A short fixed-seed fuzzing run and the hostile files as regression cases.
//!
//! Allocation counters are process-wide, so the measured sections below hold `SERIAL`.

use std::sync::Mutex;
use std::time::Duration;

use gvt_core::gguf::GgufFile;
use gvt_core::model::{Gvt, GvtConfig};
use gvt_core::preprocess::Preprocessor;
use gvt_core::tokenizer::Tokenizer;
use gvt_fuzz::alloc::{LIMIT, Section};
use gvt_fuzz::{CountingAlloc, Options, Setup, Target, hostile, run, seeds};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

static SERIAL: Mutex<()> = Mutex::new(());

/// Failures the short run may meet that are known gvt-core bugs with an ignored test of
/// their own: (target, text in the failure, that test).
const KNOWN: &[(&str, &str, &str)] = &[
    (
        "image",
        "(limit 1073741824)",
        "tiny_gif_with_a_16384_square_canvas_stays_under_1_gib",
    ),
    (
        "text",
        "(limit 1073741824)",
        "chat_template_stays_under_1_gib",
    ),
    (
        "text",
        "the chat template rendered a",
        "chat_template_stays_under_1_gib",
    ),
    (
        "gguf",
        "out of bounds for dimension",
        "tokens_past_the_embedding_rows_are_rejected",
    ),
];

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
        // 32 Mi+ element arrays are a known bug with a test of its own (below).
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

/// Loading and validation the way `Pipeline::load` does it, then the preprocessor.
fn load_everything(bytes: Vec<u8>) -> String {
    let file = match GgufFile::from_bytes(bytes) {
        Ok(f) => f,
        Err(e) => return format!("parse: {e}"),
    };
    let config = match GvtConfig::from_gguf(&file, &file) {
        Ok(c) => c,
        Err(e) => return format!("config: {e}"),
    };
    if let Err(e) = Tokenizer::from_metadata(&file.metadata) {
        return format!("tokenizer: {e}");
    }
    let device = gvt_core::device::ComputeDevice::cpu();
    if let Err(e) = Gvt::from_gguf(&file, None, &device.device, &mut |_| {}) {
        return format!("load: {e}");
    }
    if let Some(v) = &config.vision {
        let img = image::DynamicImage::new_rgb8(8, 8);
        let px = Preprocessor::new(v).pixels(&img);
        if !px.iter().all(|x| x.is_finite()) {
            return "loaded; preprocessed pixels are not finite".into();
        }
    }
    "loaded".into()
}

/// The hostile files: loading and validation return (Ok or Err) without panicking.
/// (gvt-core is making them errors; the assertions tighten once that lands.)
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
        if result.is_err() {
            panics.push(case.name);
        }
    }
    assert!(panics.is_empty(), "panicked: {panics:?}");
}

/// BUG (gvt-core, found by this fuzzer; the issue lists it): `GgufFile::from_bytes` turns a
/// u8 metadata array of 64 Mi elements (64 MiB in the file) into 64 Mi `Value`s, one
/// allocation of 2 GiB (32 bytes per element). The reader checks counts against the bytes
/// left, but not the in-memory size. Ignored until gvt-core bounds it.
#[test]
#[ignore = "gvt-core bug: a 64 Mi-element u8 metadata array allocates 2 GiB"]
fn huge_u8_metadata_array_stays_under_1_gib() {
    let bytes = hostile::huge_u8_array(&seeds::tiny_bytes(), 64 << 20);
    let _guard = lock();
    let section = Section::start();
    let parsed = GgufFile::from_bytes(bytes).map(|_| ());
    let stats = section.stats();
    eprintln!(
        "{parsed:?}: largest {} bytes, peak {}",
        stats.largest, stats.peak
    );
    assert!(
        stats.largest <= LIMIT,
        "largest allocation {}",
        stats.largest
    );
    assert!(stats.peak <= LIMIT, "peak {}", stats.peak);
}

/// BUG (gvt-core, found by this fuzzer): `decode_image` accepts a 51-byte GIF whose logical
/// screen is 16384 x 16384; the decoder allocates the whole 1 GiB RGBA canvas (exactly
/// `MAX_DECODE_BYTES`) before finding that the file has no image data, and its own working
/// memory comes on top, so the peak passes 1 GiB. The limits leave no headroom under the
/// 1 GiB bound. Ignored until gvt-core tightens them.
#[test]
#[ignore = "gvt-core bug: a 51-byte GIF makes decode_image allocate 1 GiB"]
fn tiny_gif_with_a_16384_square_canvas_stays_under_1_gib() {
    let bytes = std::fs::read(
        seeds::repo_root().join("crates/gvt-fuzz/corpus/gif-16384x16384-canvas-51-bytes.gif"),
    )
    .unwrap();
    let _guard = lock();
    let section = Section::start();
    let decoded = gvt_core::preprocess::decode_image(&bytes).map(|_| ());
    let stats = section.stats();
    eprintln!(
        "{decoded:?}: largest {} bytes, peak {}",
        stats.largest, stats.peak
    );
    assert!(stats.peak <= LIMIT, "peak {}", stats.peak);
    assert!(
        stats.largest < LIMIT,
        "largest allocation {}",
        stats.largest
    );
}

/// BUG (gvt-core, found by this fuzzer): a GGUF file's chat template is rendered when the
/// tokenizer is built (`Tokenizer::from_metadata` checks that it renders one turn), with no
/// bound on memory or time. minijinja caps one string repetition at 100 MB, but not
/// concatenation: this 80-byte template makes one 1.1 GB string (peak above 3 GB) and takes
/// about 10 s per render in the dev profile. Ignored until gvt-core bounds template output.
#[test]
#[ignore = "gvt-core bug: an 80-byte chat template allocates 1.1 GB at load"]
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
    let _guard = lock();
    let section = Section::start();
    let built = Tokenizer::from_metadata(&md).map(|_| ());
    let stats = section.stats();
    eprintln!(
        "{built:?}: largest {} bytes, peak {}",
        stats.largest, stats.peak
    );
    assert!(
        stats.largest <= LIMIT,
        "largest allocation {}",
        stats.largest
    );
    assert!(stats.peak <= LIMIT, "peak {}", stats.peak);
}

/// BUG (gvt-core, the first case; a PANIC): a tokenizer with more tokens than
/// `token_embd` has rows loads without complaint (`llama.vocab_size` says 444, the tokenizer
/// has 644), and a question containing one of the extra (user-defined) tokens reaches
/// `Gvt::prompt_embeds` with id 594, where burn-flex's gather panics: "index 594 out of
/// bounds for dimension of size 444" (`Pipeline::ask` -> `generate` -> `prompt_embeds`).
/// Ignored until loading rejects the mismatch.
#[test]
#[ignore = "gvt-core bug: token ids past token_embd's rows reach the embedding lookup"]
fn tokens_past_the_embedding_rows_are_rejected() {
    let tiny = seeds::tiny_bytes();
    let case = hostile::cases(&tiny)
        .into_iter()
        .find(|c| c.name.contains("vocab_size 444"))
        .unwrap();
    let file = GgufFile::from_bytes(case.bytes).unwrap();
    let loaded = (|| {
        let tok = Tokenizer::from_metadata(&file.metadata).map_err(|e| e.to_string())?;
        let device = gvt_core::device::ComputeDevice::cpu();
        let (gvt, _) =
            Gvt::from_gguf(&file, None, &device.device, &mut |_| {}).map_err(|e| e.to_string())?;
        Ok::<_, String>((tok, gvt))
    })();
    let Ok((tok, gvt)) = loaded else {
        return; // rejected at load: fixed
    };
    let ids = tok.encode("extra150", false);
    assert!(
        ids.iter().all(|&id| (id as usize) < 444),
        "the tokenizer gives id(s) {ids:?} for a model with 444 embedding rows"
    );
    let _ = gvt.prompt_embeds(&ids, None, &[]).into_data();
}

/// Memory of `encode` against the length of the text, for both tokenizer kinds: a chat
/// template can render hundreds of MB (see above), and the fuzzer met a 300 MB prompt that
/// the SentencePiece encoder turned into a 12 GiB request (one 48-byte symbol per
/// character, in a doubling Vec). BUG (gvt-core): no bound on the text `encode` takes;
/// measured on 16 MiB of "a b ": SentencePiece peaks at 1.78 GiB (about 110 bytes per
/// character, one 1.5 GiB allocation), byte-level BPE at 469 MiB.
#[test]
#[ignore = "gvt-core bug: SentencePiece encode of 16 MiB of text peaks at 1.78 GiB"]
fn encoding_16_mib_of_text_stays_under_1_gib() {
    let tiny = GgufFile::from_bytes(seeds::tiny_bytes()).unwrap();
    let text = "a b ".repeat(4 << 20);
    let mut over = Vec::new();
    for (name, md) in [
        ("bpe", seeds::tokenizer_metadata(&tiny.metadata)),
        ("spm", seeds::spm_metadata()),
    ] {
        let tok = Tokenizer::from_metadata(&md).unwrap();
        let _guard = lock();
        let section = Section::start();
        let n = tok.encode(&text, false).len();
        let stats = section.stats();
        eprintln!(
            "{name}: {n} ids; largest allocation {} MiB, peak {} MiB",
            stats.largest >> 20,
            stats.peak >> 20
        );
        if stats.peak > LIMIT {
            over.push(name);
        }
    }
    assert!(over.is_empty(), "over 1 GiB: {over:?}");
}
