//! The GVTBench annotation files and the scoring of predictions against them.
//!
//! A file is a JSON array of flat objects `{"image_id", "text_in", "text_out",
//! "n_obj_exist"}`: `image_id` is an integer for COCO (a val2014/val2017 image id) and a
//! relative image path for VCR (kept as a string either way), `text_in` the question,
//! `text_out` the ground truth ("1" ... "9" for OC, "Yes." / "No." for MCI) and
//! `n_obj_exist` the number of annotated objects in the image. Other members are ignored.
//!
//! Scoring takes one prediction per item, in file order, as the reference metric receives
//! it: already cleaned by [`postprocess_generation`](super::postprocess_generation) when the
//! published pipeline is to be reproduced.

#[cfg(not(target_arch = "wasm32"))]
use std::path::Path;

use serde_json::Value;

use super::EvalError;
use super::metrics::{
    CountingMetrics, IdentificationMetrics, TaskMetrics, mci_correct, parse_count,
    parse_truth_count,
};

/// One GVTBench question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The image: a COCO image id written in decimal ("58350"), or a VCR path
    /// ("movieclips_The_Long_Riders/zSCukxfXdAQ@23.jpg").
    pub image_id: String,
    /// The question.
    pub text_in: String,
    /// The ground-truth answer.
    pub text_out: String,
    /// Number of annotated objects in the image (the MCI bins use it).
    pub n_obj_exist: u32,
}

/// The two GVTBench tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Task {
    /// Object counting: "How many {objects} are there in the image?" -> "3".
    Oc,
    /// Multi-class identification: "Does {object} exist in the image?" -> "Yes." / "No.".
    Mci,
}

const OC_PREFIX: &str = "How many ";
const OC_SUFFIX: &str = " are there in the image?";
const MCI_PREFIX: &str = "Does ";
const MCI_SUFFIX: &str = " exist in the image?";
/// The spelling of every "No." question in `vcr_mci.json`.
const MCI_SUFFIX_VCR_TYPO: &str = " exis in the image?";

impl Task {
    /// "OC" or "MCI".
    pub const fn name(self) -> &'static str {
        match self {
            Task::Oc => "OC",
            Task::Mci => "MCI",
        }
    }

    /// The task's question about `object`, in the benchmark's wording: `Oc` takes a plural
    /// ("How many cups are there in the image?"), `Mci` a class name as the files write it
    /// ("Does cup exist in the image?").
    pub fn question(self, object: &str) -> String {
        match self {
            Task::Oc => format!("{OC_PREFIX}{object}{OC_SUFFIX}"),
            Task::Mci => format!("{MCI_PREFIX}{object}{MCI_SUFFIX}"),
        }
    }

    /// The task of a question and the object it asks about, if the question follows one of
    /// the templates exactly. The MCI template also accepts "exis" for "exist", the
    /// spelling of half the questions in `vcr_mci.json`.
    pub fn parse_question(question: &str) -> Option<(Task, &str)> {
        if let Some(object) = question
            .strip_prefix(OC_PREFIX)
            .and_then(|rest| rest.strip_suffix(OC_SUFFIX))
            .filter(|object| !object.is_empty())
        {
            return Some((Task::Oc, object));
        }
        let rest = question.strip_prefix(MCI_PREFIX)?;
        rest.strip_suffix(MCI_SUFFIX)
            .or_else(|| rest.strip_suffix(MCI_SUFFIX_VCR_TYPO))
            .filter(|object| !object.is_empty())
            .map(|object| (Task::Mci, object))
    }

    /// The task of every item's question; an error when there are no items, when a question
    /// follows neither template, or when the items mix the two tasks.
    pub fn detect(items: &[Item]) -> Result<Task, EvalError> {
        let mut expected = None;
        for (index, item) in items.iter().enumerate() {
            let Some((task, _)) = Task::parse_question(&item.text_in) else {
                return Err(EvalError::UnknownQuestion {
                    index,
                    question: item.text_in.clone(),
                });
            };
            match expected {
                None => expected = Some(task),
                Some(first) if first != task => {
                    return Err(EvalError::MixedTasks {
                        index,
                        expected: first.name(),
                        found: task.name(),
                    });
                }
                Some(_) => {}
            }
        }
        expected.ok_or(EvalError::Empty)
    }
}

/// Reads a GVTBench annotation file's text. Errors say where: invalid JSON with its line
/// and column, a top level that is not an array, or the index of an item with a missing
/// member, a member of the wrong type, or an `n_obj_exist` that is not an integer in
/// `0..=u32::MAX`. A leading UTF-8 byte order mark (files saved on Windows) is skipped.
///
/// Numbers are read as serde_json reads them: one beyond `f64`'s range, such as `1e400`,
/// makes the file invalid, and a fraction or an exponent makes a number a float.
pub fn parse(json: &str) -> Result<Vec<Item>, EvalError> {
    let json = json.strip_prefix('\u{feff}').unwrap_or(json);
    let document: Value = serde_json::from_str(json).map_err(EvalError::Json)?;
    let Value::Array(values) = document else {
        return Err(EvalError::Format(format!(
            "expected a JSON array of objects, found {}",
            describe(&document)
        )));
    };
    values
        .iter()
        .enumerate()
        .map(|(index, value)| item(index, value))
        .collect()
}

/// Reads a GVTBench annotation file (see [`parse`]).
#[cfg(not(target_arch = "wasm32"))]
pub fn load(path: impl AsRef<Path>) -> Result<Vec<Item>, EvalError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|reason| EvalError::Io {
        path: path.display().to_string(),
        reason,
    })?;
    parse(&text)
}

/// One item, checked member by member (rather than derived) so that an error names the
/// item's index, the member and what it holds.
fn item(index: usize, value: &Value) -> Result<Item, EvalError> {
    let fail = |message: String| EvalError::Item { index, message };
    if !value.is_object() {
        return Err(fail(format!(
            "expected an object, found {}",
            describe(value)
        )));
    }
    let member = |key: &str| {
        value
            .get(key)
            .ok_or_else(|| fail(format!("missing member \"{key}\"")))
    };
    let string = |key: &str| -> Result<String, EvalError> {
        match member(key)? {
            Value::String(s) => Ok(s.clone()),
            other => Err(fail(format!(
                "\"{key}\" must be a string, found {}",
                describe(other)
            ))),
        }
    };
    let image_id = match member("image_id")? {
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_u64() || n.is_i64() => n.to_string(),
        other => {
            return Err(fail(format!(
                "\"image_id\" must be an integer or a string, found {}",
                describe(other)
            )));
        }
    };
    let n_obj_exist = member("n_obj_exist")?;
    let n_obj_exist = n_obj_exist
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| {
            fail(format!(
                "\"n_obj_exist\" must be an integer from 0 to {}, found {}",
                u32::MAX,
                describe(n_obj_exist)
            ))
        })?;
    Ok(Item {
        image_id,
        text_in: string("text_in")?,
        text_out: string("text_out")?,
        n_obj_exist,
    })
}

/// A short description of a value for error messages: its type, and the value for scalars
/// (strings shortened to 40 characters).
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) if s.chars().count() > 40 => {
            format!("string {:?}...", s.chars().take(40).collect::<String>())
        }
        Value::String(s) => format!("string {s:?}"),
        Value::Array(items) => format!("array of {} elements", items.len()),
        Value::Object(members) => format!("object with {} members", members.len()),
    }
}

fn check_lengths<S>(items: &[Item], predictions: &[S]) -> Result<(), EvalError> {
    if items.len() != predictions.len() {
        return Err(EvalError::LengthMismatch {
            items: items.len(),
            predictions: predictions.len(),
        });
    }
    if items.is_empty() {
        return Err(EvalError::Empty);
    }
    Ok(())
}

/// OC metrics of `predictions` (one per item, in order): [`parse_count`] of each
/// prediction against the item's integer ground truth. Errors when the lengths differ,
/// when there are no items, or when a ground truth is not a non-negative integer.
pub fn score_counting<S: AsRef<str>>(
    items: &[Item],
    predictions: &[S],
) -> Result<CountingMetrics, EvalError> {
    check_lengths(items, predictions)?;
    let pairs = items
        .iter()
        .zip(predictions)
        .enumerate()
        .map(|(index, (item, prediction))| {
            let truth = parse_truth_count(&item.text_out).ok_or_else(|| EvalError::BadTruth {
                index,
                text: item.text_out.clone(),
            })?;
            Ok((truth, parse_count(prediction.as_ref())))
        })
        .collect::<Result<Vec<_>, EvalError>>()?;
    Ok(CountingMetrics::from_pairs(pairs))
}

/// MCI metrics of `predictions` (one per item, in order): [`mci_correct`] of each
/// prediction against the item's truth, binned by `n_obj_exist`. Errors when the lengths
/// differ or when there are no items.
pub fn score_identification<S: AsRef<str>>(
    items: &[Item],
    predictions: &[S],
) -> Result<IdentificationMetrics, EvalError> {
    check_lengths(items, predictions)?;
    Ok(IdentificationMetrics::from_outcomes(
        items.iter().zip(predictions).map(|(item, prediction)| {
            (
                item.n_obj_exist,
                mci_correct(&item.text_out, prediction.as_ref()),
            )
        }),
    ))
}

/// [`score_counting`] or [`score_identification`], by task.
pub fn score<S: AsRef<str>>(
    task: Task,
    items: &[Item],
    predictions: &[S],
) -> Result<TaskMetrics, EvalError> {
    Ok(match task {
        Task::Oc => score_counting(items, predictions)?.into(),
        Task::Mci => score_identification(items, predictions)?.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_ITEMS: &str = r#"[
        {"image_id": 58350, "text_in": "How many cups are there in the image?", "text_out": "2", "n_obj_exist": 6},
        {"image_id": "a/b@1.jpg", "text_in": "How many people are there in the image?", "text_out": "1", "n_obj_exist": 12, "extra": [1, {"x": null}]}
    ]"#;

    fn item_error(json: &str) -> (usize, String) {
        match parse(json) {
            Err(EvalError::Item { index, message }) => (index, message),
            other => panic!("{json} should fail on an item, got {other:?}"),
        }
    }

    #[test]
    fn parses_items() {
        let items = parse(TWO_ITEMS).unwrap();
        assert_eq!(
            items[0],
            Item {
                image_id: "58350".into(),
                text_in: "How many cups are there in the image?".into(),
                text_out: "2".into(),
                n_obj_exist: 6,
            }
        );
        assert_eq!(items[1].image_id, "a/b@1.jpg");
        assert_eq!(items[1].n_obj_exist, 12);
        assert_eq!(Task::detect(&items).unwrap(), Task::Oc);
        assert_eq!(parse("[]").unwrap(), vec![]);
    }

    #[test]
    fn wrong_shapes_are_clear_errors() {
        assert!(
            matches!(parse("{}"), Err(EvalError::Format(m)) if m.contains("object with 0 members"))
        );
        assert!(matches!(parse("\"x\""), Err(EvalError::Format(_))));
        assert!(matches!(parse("[1"), Err(EvalError::Json(_))));
        let ok = r#""image_id": 1, "text_in": "q", "text_out": "a""#;
        let cases = [
            ("[1]".to_owned(), "expected an object, found number 1"),
            (format!("[{{{ok}}}]"), "missing member \"n_obj_exist\""),
            (
                r#"[{"text_in": "q", "text_out": "a", "n_obj_exist": 1}]"#.to_owned(),
                "missing member \"image_id\"",
            ),
            (
                format!("[{{{ok}, \"n_obj_exist\": \"3\"}}]"),
                "\"n_obj_exist\" must be an integer from 0 to 4294967295, found string \"3\"",
            ),
            (
                format!("[{{{ok}, \"n_obj_exist\": -1}}]"),
                "found number -1",
            ),
            (
                format!("[{{{ok}, \"n_obj_exist\": 1.5}}]"),
                "found number 1.5",
            ),
            // An exponent makes a float, as does an integer too long for 64 bits.
            (
                format!("[{{{ok}, \"n_obj_exist\": 3e0}}]"),
                "found number 3.0",
            ),
            (
                format!("[{{{ok}, \"n_obj_exist\": 4294967296}}]"),
                "found number 4294967296",
            ),
            (
                format!("[{{{ok}, \"n_obj_exist\": {}}}]", "9".repeat(60)),
                "found number 1e+60",
            ),
            (format!("[{{{ok}, \"n_obj_exist\": null}}]"), "found null"),
            (
                r#"[{"image_id": 1.5, "text_in": "q", "text_out": "a", "n_obj_exist": 1}]"#
                    .to_owned(),
                "\"image_id\" must be an integer or a string, found number 1.5",
            ),
            (
                r#"[{"image_id": [1], "text_in": "q", "text_out": "a", "n_obj_exist": 1}]"#
                    .to_owned(),
                "found array of 1 elements",
            ),
            (
                r#"[{"image_id": 1, "text_in": 3, "text_out": "a", "n_obj_exist": 1}]"#.to_owned(),
                "\"text_in\" must be a string, found number 3",
            ),
            (
                r#"[{"image_id": 1, "text_in": "q", "text_out": true, "n_obj_exist": 1}]"#
                    .to_owned(),
                "\"text_out\" must be a string, found boolean true",
            ),
        ];
        for (json, expected) in cases {
            let (index, message) = item_error(&json);
            assert_eq!(index, 0, "{json}");
            assert!(message.contains(expected), "{json}: {message}");
        }
        // The index points at the bad item.
        let json = format!("[{{{ok}, \"n_obj_exist\": 1}}, {{{ok}}}]");
        assert_eq!(item_error(&json).0, 1);
    }

    #[test]
    fn invalid_json_says_where() {
        let message = |json: &str| match parse(json) {
            Err(e @ EvalError::Json(_)) => e.to_string(),
            other => panic!("{json} should be invalid JSON, got {other:?}"),
        };
        let m = message("[\n  {\"image_id\": 1,\n  x}]");
        assert!(m.contains("line 3 column 3"), "{m}");
        // Beyond f64's range: no number, so no item to blame.
        let m =
            message(r#"[{"image_id": 1, "text_in": "q", "text_out": "a", "n_obj_exist": 1e400}]"#);
        assert!(m.contains("number out of range at line 1 column"), "{m}");
        for json in ["", "[1,]", "[1] []", "// c\n[]", "[NaN]", "[\"\\ud800\"]"] {
            message(json);
        }
        // Nesting is limited rather than a stack overflow.
        message(&("[".repeat(100_000) + &"]".repeat(100_000)));
    }

    #[test]
    fn byte_order_mark_repeated_keys_and_extra_members() {
        let json = "\u{feff}[{\"image_id\": 1, \"image_id\": \"2\", \"text_in\": \"q\", \"text_out\": \"a\", \"n_obj_exist\": 3, \"extra\": {\"deep\": [[1e300]]}}]";
        let items = parse(json).unwrap();
        // As Python's `json` module reads them: the last of repeated keys wins.
        assert_eq!(items[0].image_id, "2");
        assert_eq!(items[0].n_obj_exist, 3);
    }

    #[test]
    fn truncated_files_are_errors() {
        for cut in 0..TWO_ITEMS.len() - 1 {
            let text = &TWO_ITEMS[..cut];
            assert!(parse(text).is_err(), "cut at {cut}: {text:?}");
        }
    }

    #[test]
    fn question_templates() {
        assert_eq!(
            Task::parse_question("How many sports balls are there in the image?"),
            Some((Task::Oc, "sports balls"))
        );
        assert_eq!(
            Task::parse_question("Does dining table exist in the image?"),
            Some((Task::Mci, "dining table"))
        );
        assert_eq!(
            Task::parse_question("Does zebras exis in the image?"),
            Some((Task::Mci, "zebras"))
        );
        for bad in [
            "How many  are there in the image?",
            "how many cups are there in the image?",
            "How many cups are in the image?",
            "Does exist in the image?",
            "Is there a cup in the image?",
            "",
        ] {
            assert_eq!(Task::parse_question(bad), None, "{bad:?}");
        }
        assert_eq!(
            Task::Oc.question("cups"),
            "How many cups are there in the image?"
        );
        assert_eq!(Task::Mci.question("cup"), "Does cup exist in the image?");
        for task in [Task::Oc, Task::Mci] {
            assert_eq!(
                Task::parse_question(&task.question("red stars")),
                Some((task, "red stars"))
            );
        }
    }

    #[test]
    fn detect_errors() {
        let item = |q: &str| Item {
            image_id: "1".into(),
            text_in: q.into(),
            text_out: "Yes.".into(),
            n_obj_exist: 1,
        };
        assert!(matches!(Task::detect(&[]), Err(EvalError::Empty)));
        let mixed = [
            item("Does cup exist in the image?"),
            item("How many cups are there in the image?"),
        ];
        assert!(matches!(
            Task::detect(&mixed),
            Err(EvalError::MixedTasks {
                index: 1,
                expected: "MCI",
                found: "OC"
            })
        ));
        let unknown = [
            item("Does cup exist in the image?"),
            item("What colour is the cup?"),
        ];
        let message = Task::detect(&unknown).unwrap_err().to_string();
        assert!(message.contains("\"What colour is the cup?\""), "{message}");
        assert!(
            message.contains("\"How many {objects} are there in the image?\""),
            "{message}"
        );
        assert!(matches!(
            Task::detect(&unknown),
            Err(EvalError::UnknownQuestion { index: 1, .. })
        ));
    }

    #[test]
    fn scoring_small_sets() {
        let items = parse(TWO_ITEMS).unwrap();
        // gt 2, 1; predictions "two." -> 2, "3 people." -> 3: |d| 0, 2; accuracy 1/2,
        // MAE (0 + 2) / 2 = 1, RMSE sqrt((0 + 4) / 2) = sqrt(2).
        let m = score_counting(&items, &["two.", "3 people."]).unwrap();
        assert_eq!((m.n, m.correct), (2, 1));
        assert_eq!(m.mae, 1.0);
        assert_eq!(m.rmse, 2f64.sqrt());
        assert!(matches!(
            score_counting(&items, &["1"]),
            Err(EvalError::LengthMismatch {
                items: 2,
                predictions: 1
            })
        ));
        assert!(matches!(
            score_counting::<&str>(&[], &[]),
            Err(EvalError::Empty)
        ));
        let mut bad = items.clone();
        bad[1].text_out = "one".into();
        assert!(matches!(
            score_counting(&bad, &["1", "1"]),
            Err(EvalError::BadTruth { index: 1, .. })
        ));

        let mci = [
            Item {
                image_id: "1".into(),
                text_in: String::new(),
                text_out: "Yes.".into(),
                n_obj_exist: 3,
            },
            Item {
                image_id: "2".into(),
                text_in: String::new(),
                text_out: "No.".into(),
                n_obj_exist: 25,
            },
        ];
        // "Yes, it does." right for "Yes." (bin 1-9); "I don't know." right for "No." (bin >=20).
        let m = score_identification(&mci, &["Yes, it does.", "I don't know."]).unwrap();
        assert_eq!((m.n, m.correct), (2, 2));
        assert_eq!([m.bins[0].n, m.bins[1].n, m.bins[2].n], [1, 0, 1]);
        let m = score(Task::Mci, &mci, &["No.".to_owned(), "No.".to_owned()]).unwrap();
        assert_eq!(m.accuracy(), 0.5);
    }
}
