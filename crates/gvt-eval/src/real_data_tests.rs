//! Tests on the released GVTBench annotation files.
//!
//! The files are looked up in `$GVTBENCH_DIR`, else in the repository's
//! `tests/fixtures/gvtbench`. A missing file fails the test with instructions; run with
//! `--nocapture` to see the data statistics.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::gvtbench::{self, Item, Task};
use super::metrics::{IDENTIFICATION_BIN_LABELS, postprocess_generation};
use super::report::Report;

const FILES: [(&str, Task); 4] = [
    ("coco_oc.json", Task::Oc),
    ("coco_mci.json", Task::Mci),
    ("vcr_oc.json", Task::Oc),
    ("vcr_mci.json", Task::Mci),
];

fn data_dir() -> PathBuf {
    std::env::var_os("GVTBENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/gvtbench")
        })
}

/// The items of `file`; fails the test with instructions when the file is absent.
fn load(file: &str) -> Vec<Item> {
    let path = data_dir().join(file);
    assert!(
        path.exists(),
        "{} is absent: set GVTBENCH_DIR to the folder of the GVTBench files",
        path.display()
    );
    gvtbench::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn bin_of(n_obj_exist: u32) -> usize {
    match n_obj_exist {
        0..=9 => 0,
        10..=19 => 1,
        _ => 2,
    }
}

#[test]
fn real_files_have_the_documented_structure() {
    for (file, task) in FILES {
        let items = load(file);
        assert_eq!(items.len(), 10_000, "{file}");
        assert_eq!(Task::detect(&items).unwrap(), task, "{file}");
        let mut answers: BTreeMap<&str, usize> = BTreeMap::new();
        let mut objects: BTreeMap<&str, usize> = BTreeMap::new();
        let mut mci_bins = [0usize; 3];
        let mut oc_bins: BTreeMap<u32, usize> = BTreeMap::new();
        for (i, item) in items.iter().enumerate() {
            let (found, object) = Task::parse_question(&item.text_in)
                .unwrap_or_else(|| panic!("{file} item {i}: {:?}", item.text_in));
            assert_eq!(found, task, "{file} item {i}");
            *objects.entry(object).or_default() += 1;
            *answers.entry(&item.text_out).or_default() += 1;
            mci_bins[bin_of(item.n_obj_exist)] += 1;
            match task {
                Task::Oc => {
                    assert!(
                        !item.text_out.is_empty()
                            && item.text_out.bytes().all(|b| b.is_ascii_digit()),
                        "{file} item {i}: {:?}",
                        item.text_out
                    );
                    let gt: u32 = item.text_out.parse().unwrap();
                    // Sanity: the count of one class never exceeds the objects in the image.
                    assert!(gt <= item.n_obj_exist, "{file} item {i}");
                    *oc_bins.entry(gt / 3).or_default() += 1;
                }
                Task::Mci => {
                    assert!(
                        item.text_out == "Yes." || item.text_out == "No.",
                        "{file} item {i}"
                    );
                }
            }
            if file.starts_with("coco") {
                assert!(
                    item.image_id.bytes().all(|b| b.is_ascii_digit()),
                    "{file} item {i}"
                );
            } else {
                assert!(
                    item.image_id.contains('/') && item.image_id.ends_with(".jpg"),
                    "{file} item {i}"
                );
            }
        }
        let min = items.iter().map(|i| i.n_obj_exist).min().unwrap();
        let max = items.iter().map(|i| i.n_obj_exist).max().unwrap();
        println!(
            "{file}: {} items, task {}, {} object classes",
            items.len(),
            task.name(),
            objects.len()
        );
        println!("  answers: {answers:?}");
        println!(
            "  n_obj_exist: min {min}, max {max}, zero {}; MCI bins {}: {}, {}: {}, {}: {}",
            items.iter().filter(|i| i.n_obj_exist == 0).count(),
            IDENTIFICATION_BIN_LABELS[0],
            mci_bins[0],
            IDENTIFICATION_BIN_LABELS[1],
            mci_bins[1],
            IDENTIFICATION_BIN_LABELS[2],
            mci_bins[2],
        );
        if task == Task::Oc {
            let labels: Vec<String> = oc_bins
                .iter()
                .map(|(k, n)| format!("{}-{}: {n}", k * 3, k * 3 + 2))
                .collect();
            println!("  OC bins of gt/3: {}", labels.join(", "));
        }
        assert_eq!(mci_bins.iter().sum::<usize>(), 10_000);
    }
}

#[test]
fn perfect_predictions_score_100_percent() {
    let mut report = Report::new("GVTBench, predictions = ground truth");
    for (file, task) in FILES {
        let items = load(file);
        let truths: Vec<&str> = items.iter().map(|i| i.text_out.as_str()).collect();
        // Also through the reference post-processing: "3" -> "3.", "Yes." -> "Yes.".
        let processed: Vec<String> = truths.iter().map(|t| postprocess_generation(t)).collect();
        for predictions in [
            truths.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            processed,
        ] {
            let metrics = gvtbench::score(task, &items, &predictions).unwrap();
            assert_eq!(metrics.n(), 10_000);
            assert_eq!(metrics.accuracy(), 1.0, "{file}");
            match &metrics {
                super::TaskMetrics::Counting(m) => {
                    assert_eq!((m.mae, m.rmse), (0.0, 0.0));
                    assert!(m.bins.iter().all(|b| b.accuracy == 1.0 && b.mae == 0.0));
                }
                super::TaskMetrics::Identification(m) => {
                    assert!(m.bins.iter().all(|b| b.accuracy == 1.0));
                }
                super::TaskMetrics::Accuracy(_) => unreachable!(),
            }
        }
        report.push(
            file.trim_end_matches(".json"),
            gvtbench::score(task, &items, &truths).unwrap(),
        );
    }
    print!("{report}");
}

#[test]
fn constant_answers_score_the_share_of_that_answer() {
    let mut report = Report::new("GVTBench MCI, constant answers");
    for (file, task) in FILES {
        if task != Task::Mci {
            continue;
        }
        let items = load(file);
        // Independent counts: items whose truth is exactly "Yes." / "No.", overall and per bin.
        let yes = items.iter().filter(|i| i.text_out == "Yes.").count();
        let no = items.iter().filter(|i| i.text_out == "No.").count();
        assert_eq!(yes + no, items.len());
        let mut yes_by_bin = [0usize; 3];
        let mut all_by_bin = [0usize; 3];
        for item in &items {
            all_by_bin[bin_of(item.n_obj_exist)] += 1;
            yes_by_bin[bin_of(item.n_obj_exist)] += usize::from(item.text_out == "Yes.");
        }
        let always = |answer: &str| {
            gvtbench::score_identification(&items, &vec![answer; items.len()]).unwrap()
        };
        let m = always("Yes.");
        assert_eq!(m.correct, yes, "{file}");
        assert_eq!(m.accuracy, yes as f64 / items.len() as f64, "{file}");
        for (b, bin) in m.bins.iter().enumerate() {
            assert_eq!(
                (bin.n, bin.correct),
                (all_by_bin[b], yes_by_bin[b]),
                "{file} bin {b}"
            );
        }
        assert_eq!(always("No.").correct, no, "{file}");
        // The substring rule: "I don't know" is a "no" (k-no-w), so it scores like "No.".
        assert_eq!(always("I don't know").correct, no, "{file}");
        // An answer containing both words is right everywhere.
        assert_eq!(always("Yes and no.").correct, items.len(), "{file}");
        println!(
            "{file}: Yes. {yes}, No. {no} -> always-Yes accuracy {:.4}",
            m.accuracy
        );
        report.push(format!("{file} always Yes."), m);
    }
    print!("{report}");
}

#[test]
fn vcr_mci_typo_gives_the_answer_away() {
    let items = load("vcr_mci.json");
    // Every "exis" question is a "No." and every "exist" question a "Yes.": a reader of the
    // question text alone scores 100%.
    let from_text: Vec<&str> = items
        .iter()
        .map(|i| {
            if i.text_in.ends_with(" exis in the image?") {
                "No."
            } else {
                "Yes."
            }
        })
        .collect();
    let m = gvtbench::score_identification(&items, &from_text).unwrap();
    println!(
        "vcr_mci.json: {} questions spelled \"exis\"; guessing from the spelling scores {:.4}",
        from_text.iter().filter(|a| **a == "No.").count(),
        m.accuracy
    );
    assert_eq!(m.accuracy, 1.0);
    // COCO-MCI has no such tell.
    let coco = load("coco_mci.json");
    assert!(
        coco.iter()
            .all(|i| i.text_in.ends_with(" exist in the image?"))
    );
}

#[test]
fn truncated_real_file_is_an_error() {
    let path = data_dir().join("coco_oc.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (set GVTBENCH_DIR)", path.display()));
    let mut cut = 1;
    while cut < text.len() {
        assert!(gvtbench::parse(&text[..cut]).is_err(), "cut at {cut}");
        cut = cut * 3 + 7;
    }
    assert!(gvtbench::parse(&text[..text.len() - 1]).is_err());
    let missing = gvtbench::load(data_dir().join("no_such_file.json"));
    assert!(matches!(missing, Err(super::EvalError::Io { .. })));
}
