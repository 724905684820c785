//! The `gvt` binary as a user runs it: answers, attention PNGs, and clear errors (never a
//! panic) on bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use gvt_scene::qa::Split;
use image::{DynamicImage, Rgb, RgbImage};
use serde_json::Value;

fn gvt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gvt"))
        .args(args)
        .output()
        .expect("the gvt binary runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gvt-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A 96x64 image: a bright square on a dark background.
fn write_image(path: &Path) -> DynamicImage {
    let image = DynamicImage::ImageRgb8(RgbImage::from_fn(96, 64, |x, y| {
        if (20..50).contains(&x) && (10..40).contains(&y) {
            Rgb([230, 40, 40])
        } else {
            Rgb([20, 20, 30])
        }
    }));
    image.save(path).unwrap();
    image
}

/// A failed run: non-zero exit, an `error:` line, and no panic.
fn assert_clean_error(out: &Output, mentions: &str) {
    let err = stderr(out);
    assert!(
        !out.status.success(),
        "expected failure, got success; stderr: {err}"
    );
    assert!(err.contains("error:"), "no error line: {err}");
    assert!(!err.contains("panicked"), "panicked: {err}");
    assert!(
        err.to_lowercase().contains(&mentions.to_lowercase()),
        "error does not mention `{mentions}`: {err}"
    );
}

fn parity_model() -> String {
    gvt_testkit::fixture("parity/gvt-parity.gguf")
        .display()
        .to_string()
}

#[test]
fn ask_writes_an_attention_map_over_the_image() {
    let dir = temp_dir("ask");
    let image_path = dir.join("square.png");
    let image = write_image(&image_path);
    let out_path = dir.join("where.png");
    let model = parity_model();
    let out = gvt(&[
        "ask",
        "--model",
        &model,
        "--device",
        "cpu",
        "--max-tokens",
        "4",
        image_path.to_str().unwrap(),
        "Howmany",
        "--attention",
        out_path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("attention map written"),
        "{}",
        stderr(&out)
    );
    let overlay = image::open(&out_path).unwrap().to_rgb8();
    assert_eq!(overlay.dimensions(), (96, 64));
    let plain = image.to_rgb8();
    let changed = overlay
        .pixels()
        .zip(plain.pixels())
        .filter(|(a, b)| a != b)
        .count();
    assert!(changed > 96 * 64 / 2, "only {changed} pixels changed");
}

#[test]
fn inspect_lists_metadata_and_tensors() {
    let out = gvt(&["inspect", &parity_model()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "GGUF v3",
        "gvt.vision.image_size",
        "v.patch_embd.weight",
        "token_embd.weight",
        "F32",
    ] {
        assert!(text.contains(needle), "`{needle}` missing from:\n{text}");
    }
}

#[test]
fn inspect_prints_a_files_text_inert() {
    // A name that would retitle the terminal and clear it, and a tensor name that would
    // reverse the text after it.
    let mut w = gvt_core::gguf::GgufWriter::new();
    w.set("general.name", "x\u{1b}]0;pwned\u{7}\u{1b}[2J".into());
    w.add_tensor(
        "w\u{202e}gpj.exe",
        &[2],
        gvt_core::gguf::GgmlType::F32,
        &[1.0, 2.0],
    )
    .unwrap();
    let path = temp_dir("inert").join("hostile.gguf");
    w.write_to_path(&path).unwrap();
    let out = gvt(&["inspect", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        !text.contains(['\u{1b}', '\u{7}', '\u{202e}']),
        "raw control characters in:\n{text}"
    );
    assert!(text.contains(r"x\u{1b}]0;pwned\u{7}\u{1b}[2J"), "{text}");
    assert!(text.contains(r"w\u{202e}gpj.exe"), "{text}");
}

#[test]
fn bad_input_gives_clear_errors() {
    let dir = temp_dir("errors");
    let model = parity_model();
    let image_path = dir.join("ok.png");
    write_image(&image_path);
    let image = image_path.to_str().unwrap();

    // A file that is not GGUF.
    let fake = dir.join("fake.gguf");
    std::fs::write(&fake, b"definitely not a gguf file, just text").unwrap();
    assert_clean_error(
        &gvt(&["ask", "--model", fake.to_str().unwrap(), image, "q"]),
        "not a GGUF file",
    );

    // A truncated GGUF.
    let bytes = std::fs::read(gvt_testkit::fixture("parity/gvt-parity.gguf")).unwrap();
    let cut = dir.join("cut.gguf");
    std::fs::write(&cut, &bytes[..bytes.len() / 3]).unwrap();
    assert_clean_error(
        &gvt(&["ask", "--model", cut.to_str().unwrap(), image, "q"]),
        "truncated",
    );

    // A missing model file.
    assert_clean_error(
        &gvt(&["ask", "--model", "/nonexistent/m.gguf", image, "q"]),
        "m.gguf",
    );

    // A broken image.
    let broken = dir.join("broken.png");
    std::fs::write(&broken, b"\x89PNG\r\n\x1a\nbroken").unwrap();
    assert_clean_error(
        &gvt(&["ask", "--model", &model, broken.to_str().unwrap(), "q"]),
        "image",
    );

    // Not a regular file: read until memory ran out before.
    assert_clean_error(
        &gvt(&["ask", "--model", &model, "/dev/zero", "q"]),
        "cannot read /dev/zero: not a regular file",
    );

    // Sampling options outside their range, refused before the model loads.
    for (flag, message) in [
        ("--temperature=NaN", "temperature NaN is unusable"),
        ("--temperature=-1", "temperature -1 is unusable"),
    ] {
        assert_clean_error(&gvt(&["ask", "--model", &model, flag, image, "q"]), message);
    }
    for top_p in ["NaN", "0", "2"] {
        assert_clean_error(
            &gvt(&[
                "ask",
                "--model",
                &model,
                "--temperature",
                "0.7",
                "--top-p",
                top_p,
                image,
                "q",
            ]),
            &format!("top-p {top_p} is unusable"),
        );
    }

    // An empty question.
    assert_clean_error(
        &gvt(&["ask", "--model", &model, "--device", "cpu", image, "   "]),
        "empty",
    );

    // Resuming keeps the run's own settings, so a flag that would change them is refused,
    // and a directory without a run says so.
    let run = dir.join("no-run");
    let run = run.to_str().unwrap();
    assert_clean_error(
        &gvt(&["train", "--out", run, "--resume", "--seed", "1"]),
        "cannot be used with",
    );
    assert_clean_error(
        &gvt(&["train", "--out", run, "--resume", "--device", "cpu"]),
        "resuming from",
    );

    // Crowd weights name a shape and a usable weight each, or are refused before training.
    for (weights, message) in [
        ("tri=3", "`tri` is not a shape"),
        ("triangle", "`triangle` is not SHAPE=WEIGHT"),
        ("triangle=many", "`many` is not a number"),
        ("triangle=-1", "crowd weights"),
    ] {
        assert_clean_error(
            &gvt(&["train", "--out", run, "--crowd-weights", weights]),
            message,
        );
    }

    // An image for a text-only model is refused, not ignored.
    let smollm2 = gvt_testkit::smollm2().display().to_string();
    assert_clean_error(
        &gvt(&[
            "ask",
            "--llm",
            &smollm2,
            "--device",
            "cpu",
            image,
            "What is this?",
        ]),
        "text-only",
    );
}

#[test]
fn ask_answers_a_text_question_with_smollm2() {
    let smollm2 = gvt_testkit::smollm2().display().to_string();
    let out = gvt(&[
        "ask",
        "--llm",
        &smollm2,
        "--device",
        "cpu",
        "--text",
        "What is the capital of France?",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "The capital of France is Paris."
    );
    assert!(stderr(&out).contains("tokens/s"), "{}", stderr(&out));
}

#[test]
fn bench_reports_timings_for_random_weights() {
    let out = gvt(&[
        "bench", "--preset", "tiny", "--device", "cpu", "--runs", "1", "--tokens", "3",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in ["random weights", "load:", "image:", "prefill:", "tokens/s"] {
        assert!(text.contains(needle), "`{needle}` missing from:\n{text}");
    }
    assert_clean_error(&gvt(&["bench", "--device", "cpu"]), "--preset");
}

#[test]
fn eval_synthetic_scores_held_out_scenes() {
    let model = parity_model();
    let out = gvt(&[
        "eval",
        "synthetic",
        "--model",
        &model,
        "--n",
        "8",
        "--seed",
        "5",
        "--device",
        "cpu",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = serde_json::to_string_pretty(&report).unwrap();
    for task in ["\"OC\"", "\"MCI\"", "\"color\"", "\"position\"", "\"mae\""] {
        assert!(text.contains(task), "{task} missing from {text}");
    }
    // Every scene gets an existence question: MCI counts all 8.
    assert!(text.contains("\"n\": 8"), "{text}");
    // A text-only model cannot be evaluated on images.
    let smollm2 = gvt_testkit::smollm2().display().to_string();
    assert_clean_error(
        &gvt(&[
            "eval",
            "synthetic",
            "--llm",
            &smollm2,
            "--n",
            "1",
            "--device",
            "cpu",
        ]),
        "vision tower",
    );
}

#[test]
fn eval_synthetic_writes_every_sample_of_the_chosen_split() {
    let dir = temp_dir("eval-samples");
    let samples = dir.join("samples.jsonl");
    let eval = |extra: &str, samples: &std::path::Path| {
        let args = ["eval", "synthetic", "--n", "6", "--split", "validation"];
        let rest = [
            "--device",
            "cpu",
            extra,
            "--samples",
            samples.to_str().unwrap(),
        ];
        gvt(&[&args[..], &rest[..]].concat())
    };
    let out = eval("--json", &samples);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let lines = std::fs::read_to_string(&samples).unwrap();
    let rows: Vec<_> = lines
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .collect();
    let field = |row: &Value, key: &str| row.get(key).unwrap().clone();
    for row in &rows {
        let seed = field(row, "scene_seed").as_u64().unwrap();
        assert_eq!(Split::of(seed), Split::Validation, "scene {seed}");
        assert!(!text_of(row, "question").is_empty() && !text_of(row, "truth").is_empty());
    }
    // The samples are the report's: as many existence questions as MCI's n, as many right,
    // in the template's wording and in the held-out one.
    let tasks = report.get("tasks").unwrap().as_array().unwrap();
    for (name, set) in [("MCI", "template"), ("MCI, paraphrased", "paraphrased")] {
        let mci = tasks
            .iter()
            .find(|t| t.get("name").unwrap().as_str() == Some(name))
            .unwrap();
        let exist: Vec<_> = rows
            .iter()
            .filter(|r| text_of(r, "kind") == "exist")
            .filter(|r| text_of(r, "set") == set)
            .collect();
        assert_eq!(exist.len() as u64, mci.get("n").unwrap().as_u64().unwrap());
        let right = exist
            .iter()
            .filter(|r| field(r, "correct") == Value::Bool(true))
            .count();
        assert_eq!(right as u64, mci.get("correct").unwrap().as_u64().unwrap());
    }
    // One balanced counting scene per seed, its count cycling from 0.
    let counts: Vec<String> = rows
        .iter()
        .filter(|r| text_of(r, "set") == "counts")
        .map(|r| text_of(r, "truth"))
        .collect();
    assert_eq!(counts, ["0", "1", "2", "3", "4", "5"]);
    assert_clean_error(
        &gvt(&["eval", "synthetic", "--n", "1", "--split", "train"]),
        "invalid value 'train'",
    );

    // --varied draws the same scenes otherwise: the same questions and truths, on other
    // pictures (`gvt scene --varied` draws the scene of the same seed differently).
    let varied = dir.join("varied.jsonl");
    let out = eval("--varied", &varied);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("varied style"), "{}", stdout(&out));
    let png = |varied: bool| {
        let path = dir.join(format!("scene-{varied}.png"));
        let mut args = vec![
            "scene",
            path.to_str().unwrap(),
            "--seed",
            "3",
            "--objects",
            "6",
        ];
        args.extend(varied.then_some("--varied"));
        let out = gvt(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        std::fs::read(&path).unwrap()
    };
    assert!(png(true) != png(false), "--varied drew the classic picture");
    let asked = |text: &str| -> Vec<(String, String)> {
        text.lines()
            .map(|line| serde_json::from_str::<Value>(line).unwrap())
            .map(|row| (text_of(&row, "question"), text_of(&row, "truth")))
            .collect()
    };
    let varied = std::fs::read_to_string(&varied).unwrap();
    assert_eq!(asked(&varied), asked(&lines));
}

fn text_of(row: &Value, key: &str) -> String {
    row.get(key).unwrap().as_str().unwrap().to_owned()
}

#[test]
fn output_into_a_closed_pipe_ends_without_a_panic() {
    let dir = temp_dir("closed-pipe");
    let png = dir.join("scene.png");
    let mut child = Command::new(env!("CARGO_BIN_EXE_gvt"))
        .args(["scene", png.to_str().unwrap(), "--seed", "4"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away before the scene is drawn, as `| head -0` would.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}

#[test]
fn scene_meets_the_required_counts() {
    let dir = temp_dir("scene-require");
    let png = dir.join("scene.png");
    let png = png.to_str().unwrap();
    for seed in ["1", "2", "3"] {
        let out = gvt(&[
            "scene",
            png,
            "--seed",
            seed,
            "--side",
            "128",
            "--objects",
            "6-9",
            "--require",
            "exactly 4 red stars",
            "--require",
            "no hearts",
            "--background",
            "gradient",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let truth = String::from_utf8_lossy(&out.stdout);
        let objects: Vec<&str> = truth.lines().skip(1).collect();
        assert!((6..=9).contains(&objects.len()), "{truth}");
        let red_stars = objects
            .iter()
            .filter(|l| l.contains(" red star at "))
            .count();
        assert_eq!(red_stars, 4, "{truth}");
        assert!(!truth.contains("heart"), "{truth}");
        assert!(
            truth
                .lines()
                .next()
                .unwrap()
                .ends_with("on a gradient background."),
            "{truth}"
        );
    }

    assert_clean_error(
        &gvt(&["scene", png, "--require", "3 red blobs"]),
        "\"blobs\" is not a shape",
    );
    assert_clean_error(
        &gvt(&[
            "scene",
            png,
            "--objects",
            "2",
            "--require",
            "exactly 3 stars",
        ]),
        "no scene of 2..=2 objects satisfies",
    );
    assert_clean_error(
        &gvt(&["scene", png, "--objects", "3-x"]),
        "range such as 3-9",
    );
    assert_clean_error(
        &gvt(&["scene", png, "--background", "stripes"]),
        "plain, gradient",
    );
}

#[test]
fn scene_then_ask_uses_the_embedded_model() {
    let dir = temp_dir("default-model");
    let png = dir.join("scene.png");
    let out = gvt(&[
        "scene",
        png.to_str().unwrap(),
        "--seed",
        "3",
        "--side",
        "256",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let truth = String::from_utf8_lossy(&out.stdout);
    assert!(truth.starts_with("There "), "{truth}");
    let scene = gvt_scene::Scene::generate(3, &Default::default()).unwrap();
    assert_eq!(truth.lines().count(), 1 + scene.objects.len(), "{truth}");

    // No --model: the embedded default answers, and the map is written.
    let question = "How many circles are there in the image?";
    let map = dir.join("map.png");
    let out = gvt(&[
        "ask",
        "--device",
        "cpu",
        png.to_str().unwrap(),
        question,
        "--attention",
        map.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("embedded") || stderr(&out).contains("GVT Lens tiny"));
    let answer = String::from_utf8_lossy(&out.stdout);
    assert!(
        answer.trim().chars().any(|c| c.is_ascii_digit()),
        "a count question gets a number: {answer:?}"
    );
    assert_eq!(image::open(&map).unwrap().width(), 256);

    // The question may come first, as in "gvt ask QUESTION IMAGE": the same answer.
    let swapped = gvt(&["ask", "--device", "cpu", question, png.to_str().unwrap()]);
    assert!(swapped.status.success(), "{}", stderr(&swapped));
    assert_eq!(String::from_utf8_lossy(&swapped.stdout), answer);
    // A mistyped image path is the one the error names, in either order.
    let missing = dir.join("scene-typo.png");
    assert_clean_error(
        &gvt(&["ask", "How many?", missing.to_str().unwrap()]),
        "scene-typo.png",
    );

    assert_clean_error(
        &gvt(&["scene", png.to_str().unwrap(), "--side", "0"]),
        "--side",
    );
}

/// The lines of a JSONL file.
fn jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `(n, correct)` per level of the first model in a probe.json.
fn probe_counts(dir: &Path) -> Vec<(u64, u64, u64)> {
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("probe.json")).unwrap()).unwrap();
    report["models"][0]["levels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["level"].as_u64().unwrap(),
                s["n"].as_u64().unwrap(),
                s["correct"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn probe_count_reports_what_its_answers_say_and_resumes() {
    let dir = temp_dir("probe").join("count");
    let dir_arg = dir.display().to_string();
    let args = [
        "probe",
        "count",
        "--levels",
        "0..6",
        "--per-level",
        "3",
        "--seed",
        "4",
        "--failures",
        "2",
        "--device",
        "cpu",
        "--out",
        &dir_arg,
    ];
    let out = gvt(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("count sweep"));

    // Every answer is a count question whose truth is its level, graded by its first number.
    let answers = jsonl(&dir.join("answers.jsonl"));
    assert_eq!(answers.len(), 7 * 3);
    let first_number = |text: &str| -> Option<u64> {
        let digits: String = text
            .chars()
            .skip_while(|c| !c.is_ascii_digit())
            .take_while(|c| c.is_ascii_digit())
            .collect();
        digits.parse().ok()
    };
    for a in &answers {
        assert_eq!(a["kind"], "count");
        let truth = a["truth"].as_str().unwrap();
        assert_eq!(truth, a["level"].as_u64().unwrap().to_string());
        let right = first_number(a["answer"].as_str().unwrap())
            .unwrap_or(0)
            .to_string()
            == truth;
        assert_eq!(a["correct"].as_bool(), Some(right), "{a}");
    }

    // probe.json's per-level figures are a recount of the answers.
    let counts = probe_counts(&dir);
    for &(level, n, correct) in &counts {
        let of_level: Vec<&Value> = answers.iter().filter(|a| a["level"] == level).collect();
        let right = of_level.iter().filter(|a| a["correct"] == true).count() as u64;
        assert_eq!(
            (n, correct),
            (of_level.len() as u64, right),
            "level {level}"
        );
    }
    assert_eq!(counts.len(), 7);
    let csv = std::fs::read_to_string(dir.join("probe.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 7);

    // A plot per metric, as valid PNG and SVG, and the page that shows them.
    for metric in ["accuracy", "mae", "attention", "latency"] {
        let png = image::open(dir.join(format!("{metric}.png"))).unwrap();
        assert_eq!((png.width(), png.height()), (720, 440), "{metric}");
        let svg = std::fs::read_to_string(dir.join(format!("{metric}.svg"))).unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    }
    let page = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(page.contains("accuracy.svg") && page.contains("Wrong answers"));
    // The first two wrong answers of each level have a picture.
    let wrong: Vec<&Value> = answers.iter().filter(|a| a["correct"] == false).collect();
    for a in &wrong {
        let (level, index) = (a["level"].as_u64().unwrap(), a["index"].as_u64().unwrap());
        let earlier = wrong
            .iter()
            .filter(|b| b["level"] == level && b["index"].as_u64().unwrap() < index)
            .count();
        let picture = dir.join(format!("failures/m0-l{level}-{index:05}.png"));
        assert_eq!(picture.exists(), earlier < 2, "{}", picture.display());
        if earlier < 2 {
            assert!(page.contains(&format!("failures/m0-l{level}-{index:05}.png")));
            assert_eq!(image::open(&picture).unwrap().width(), 256);
        }
    }

    // Stopped after 10 answers (the 11th torn): the rerun asks only the rest and reports
    // the same.
    let text = std::fs::read_to_string(dir.join("answers.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let torn = format!("{}\n{}", lines[..10].join("\n"), &lines[10][..15]);
    std::fs::write(dir.join("answers.jsonl"), torn).unwrap();
    let out = gvt(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let resumed = jsonl(&dir.join("answers.jsonl"));
    assert_eq!(resumed.len(), 21);
    assert_eq!(probe_counts(&dir), counts);
    for (a, b) in answers.iter().zip(&resumed) {
        for key in ["level", "index", "question", "truth", "answer", "correct"] {
            assert_eq!(a[key], b[key]);
        }
    }

    // Another probe in the same folder is refused; bad levels name the sweep's range.
    let mut other = args.to_vec();
    other[5] = "9";
    assert_clean_error(&gvt(&other), "different probe");
    let mut bad = args.to_vec();
    bad[3] = "0..12";
    assert_clean_error(&gvt(&bad), "level 10 is outside");
}

/// First run of decimal digits in `text` (how GVTBench reads a count).
fn first_number(text: &str) -> Option<&str> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let rest = &text[start..];
    Some(
        &rest[..rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len())],
    )
}

#[test]
fn eval_gvtbench_answers_a_folder_of_images_writes_every_answer_and_resumes() {
    use gvt_scene::qa::Qa;
    let dir = temp_dir("gvtbench");
    // COCO val2017's layout: 12-digit ids in a `val2017/` folder.
    let images = dir.join("images");
    std::fs::create_dir_all(images.join("val2017")).unwrap();
    let mut items = Vec::new();
    for (i, seed) in (200..205u64).enumerate() {
        let scene = gvt_scene::Scene::generate(seed, &Default::default()).unwrap();
        let id = 1000 + i as u64;
        let path = images.join("val2017").join(format!("{id:012}.png"));
        scene.render(128).unwrap().save(&path).unwrap();
        // Up to two questions per image, as GVTBench asks several of one image.
        for shape in scene.shapes_present().into_iter().take(2) {
            let qa = Qa::count(&scene, shape);
            items.push(serde_json::json!({
                "image_id": id, "text_in": qa.question, "text_out": qa.answer,
                "n_obj_exist": scene.objects.len(),
            }));
        }
    }
    let missing = serde_json::json!({
        "image_id": 4242, "text_in": "How many circles are there in the image?",
        "text_out": "1", "n_obj_exist": 1,
    });
    items.insert(1, missing);
    let data = dir.join("coco_oc_subset.json");
    std::fs::write(&data, serde_json::to_string(&items).unwrap()).unwrap();
    let eval = |out: &Path, extra: &[&str]| {
        let mut args = vec![
            "eval",
            "gvtbench",
            "--images",
            images.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--device",
            "cpu",
        ];
        args.extend_from_slice(extra);
        gvt(&args)
    };

    // One run: an answer per question whose image is there, and the missing one named.
    let whole = dir.join("whole.jsonl");
    let out = eval(&whole, &["--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("4242"), "{}", stderr(&out));
    let lines = std::fs::read_to_string(&whole).unwrap();
    let answers: Vec<Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(answers.len(), items.len() - 1);
    let mut correct = 0;
    for a in &answers {
        let index = a["index"].as_u64().unwrap() as usize;
        assert_ne!(index, 1, "the question without an image was skipped");
        assert_eq!(a["question"], items[index]["text_in"]);
        assert_eq!(a["truth"], items[index]["text_out"]);
        correct += usize::from(first_number(a["answer"].as_str().unwrap()) == a["truth"].as_str());
    }
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let task = &report["tasks"][0];
    assert_eq!(task["name"], "OC");
    assert_eq!(task["n"], answers.len());
    assert_eq!(task["correct"], correct);
    // The default model counts these scenes: most answers are right.
    assert!(
        2 * correct > answers.len(),
        "{correct} of {}",
        answers.len()
    );

    // A run stopped after 3 answers, in the middle of writing the 4th, then resumed: the
    // same answers in the same order, and the same scores.
    let resumed = dir.join("resumed.jsonl");
    let out = eval(&resumed, &["--limit", "4"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(&resumed).unwrap().lines().count(),
        3
    );
    let mut torn = std::fs::OpenOptions::new()
        .append(true)
        .open(&resumed)
        .unwrap();
    std::io::Write::write_all(&mut torn, b"{\"index\": 5, \"image_id\": \"10").unwrap();
    assert_clean_error(&eval(&resumed, &[]), "--resume");
    let out = eval(&resumed, &["--resume", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&resumed).unwrap(), lines);
    let again: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(again["tasks"], report["tasks"]);

    // The table, laid out like the paper's: the bins with accuracy, MAE and RMSE.
    let out = eval(&resumed, &["--resume"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    for header in ["OC", "MAE", "RMSE", "0-2"] {
        assert!(table.contains(header), "{table}");
    }

    // Answers to another file are refused, naming the line.
    let other = dir.join("other.json");
    std::fs::write(&other, serde_json::to_string(&items[2..]).unwrap()).unwrap();
    let out = gvt(&[
        "eval",
        "gvtbench",
        "--images",
        images.to_str().unwrap(),
        "--data",
        other.to_str().unwrap(),
        "--out",
        whole.to_str().unwrap(),
        "--resume",
    ]);
    assert_clean_error(&out, "line 1");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `gvt convert` on the official-layout fixture (tools/reference/make_convert_fixture.py):
/// the plan, the file, `gvt ask` on it with an attention map, and clean refusals.
#[test]
fn convert_then_ask_runs_the_converted_model() {
    let dir = temp_dir("convert");
    let fixture = |p: &str| {
        gvt_testkit::fixture(&format!("convert/{p}"))
            .display()
            .to_string()
    };
    let (checkpoint, llm) = (fixture("gvt-checkpoint.ckpt"), fixture("llama"));
    let out_path = dir.join("gvt-q8.gguf");
    let out = out_path.to_str().unwrap();
    let convert = |extra: &[&str]| {
        let mut args = vec![
            "convert",
            "--checkpoint",
            &checkpoint,
            "--llm",
            &llm,
            "--vision-heads",
            "2",
            "--resampler-heads",
            "2",
        ];
        args.extend_from_slice(extra);
        gvt(&args)
    };

    let plan = convert(&["--type", "q8_0", "--dry-run"]);
    assert!(plan.status.success(), "{}", stderr(&plan));
    let text = String::from_utf8_lossy(&plan.stdout);
    assert!(text.contains("blk.1.attn_k.weight"), "{text}");
    assert!(text.contains("97 tensors"), "{text}");
    assert!(!out_path.exists(), "a dry run writes nothing");

    let done = convert(&["--type", "q8_0", "--out", out]);
    assert!(done.status.success(), "{}", stderr(&done));
    assert!(String::from_utf8_lossy(&done.stdout).contains("wrote"));
    let again = convert(&["--type", "q8_0", "--out", out]);
    assert_clean_error(&again, "--force");

    let image_path = dir.join("square.png");
    write_image(&image_path);
    let map = dir.join("where.png");
    let asked = gvt(&[
        "ask",
        "--model",
        out,
        "--device",
        "cpu",
        "--max-tokens",
        "3",
        image_path.to_str().unwrap(),
        "How many circles?",
        "--attention",
        map.to_str().unwrap(),
    ]);
    assert!(asked.status.success(), "{}", stderr(&asked));
    assert!(map.exists());

    assert_clean_error(
        &gvt(&["convert", "--out", out, "--force"]),
        "nothing to convert",
    );
    let missing = dir.join("no-such-folder");
    assert_clean_error(
        &gvt(&["convert", "--llm", missing.to_str().unwrap(), "--dry-run"]),
        "no-such-folder",
    );
}
