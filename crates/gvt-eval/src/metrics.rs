//! Answer normalisation and metrics, following the GVT reference evaluation code
//! (`count.py`, `multiclass.py`, `postprocess` in `modeling_gvt.py`; see the [module
//! header](super)) rule for rule.
//!
//! The metric structs are plain data: build them from (truth, prediction) outcomes with
//! their `from_*` constructors and read the public fields. An empty input gives NaN
//! accuracies and errors (the reference divides by zero there); reports show NaN as "-" on
//! the terminal and `null` in JSON.

use std::collections::BTreeMap;

use serde::Serialize;
use serde::ser::{SerializeStruct, Serializer};

/// The reference's number words and their digits, in the reference's replacement order
/// (`str2d` in `count.py`). "nive" is the reference's misspelling of "nine": "nine" is
/// therefore *not* mapped, and neither are "zero", "ten", or capitalised words.
const NUMBER_WORDS: [(&str, &str); 10] = [
    ("none", "0"),
    ("one", "1"),
    ("two", "2"),
    ("three", "3"),
    ("four", "4"),
    ("five", "5"),
    ("six", "6"),
    ("seven", "7"),
    ("eight", "8"),
    ("nive", "9"),
];

/// Code points of the digit zero of every run of ten Unicode decimal digits (general
/// category Nd, Unicode 14 as in Python 3.11): what Python's `\d` matches and `int()`
/// reads. Each run holds the digits 0 to 9 in order.
const DECIMAL_ZEROS: [u32; 66] = [
    0x30, 0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66, 0xBE6, 0xC66, 0xCE6, 0xD66,
    0xDE6, 0xE50, 0xED0, 0xF20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90,
    0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10,
    0x104A0, 0x10D30, 0x11066, 0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0, 0x11650,
    0x116C0, 0x11730, 0x118E0, 0x11950, 0x11C50, 0x11D50, 0x11DA0, 0x16A60, 0x16AC0, 0x16B50,
    0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E950, 0x1FBF0,
];

/// The value of `c` if it is a Unicode decimal digit (Python's `\d`), else `None`.
fn decimal_digit(c: char) -> Option<u32> {
    let code = c as u32;
    let run = DECIMAL_ZEROS.partition_point(|&zero| zero <= code);
    let zero = DECIMAL_ZEROS[run.checked_sub(1)?];
    (code - zero < 10).then_some(code - zero)
}

/// Python's `str.isspace` (what `str.strip()` removes): Rust's whitespace plus the
/// information separators U+001C to U+001F.
fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// The value of the first run of decimal digits in `text` (saturating at `u32::MAX`), or
/// `None` when there is no digit.
fn first_integer(text: &str) -> Option<u32> {
    let mut digits = text
        .chars()
        .skip_while(|&c| decimal_digit(c).is_none())
        .map_while(decimal_digit)
        .peekable();
    digits.peek()?;
    Some(digits.fold(0u32, |value, d| value.saturating_mul(10).saturating_add(d)))
}

/// The count an OC answer gives, by the reference rule (`extract_digit` in `count.py`).
///
/// 1. Replace, in this order and as plain case-sensitive substrings, "none" by "0", "one"
///    by "1", "two" ... "eight" by "2" ... "8", and "nive" (sic) by "9".
/// 2. Return the first run of decimal digits as an integer, or 0 when there is none.
///
/// There is no lower-casing (the reference has none), so the consequences are:
///
/// | answer | count | why |
/// |---|---|---|
/// | "3 dogs", "12", "007" | 3, 12, 7 | first integer |
/// | "There are three." | 3 | "three" -> "3" |
/// | "Three." | 0 | case-sensitive: not replaced, no digit |
/// | "nine" | 0 | the reference maps "nive", not "nine" |
/// | "none", "No dogs", "", "zero", "ten" | 0 | "none" -> "0"; otherwise no digit |
/// | "1,000", "3.5" | 1, 3 | first run of digits only |
/// | "-2" | 2 | `\d+` has no sign; counts are never negative |
/// | "someone", "weight" | 1, 8 | substring replacement inside words |
/// | "nonetheless, 5" | 0 | "none" -> "0" comes first |
/// | "٣", "３" | 3 | Python's `\d` matches every Unicode decimal digit |
///
/// Counts larger than `u32::MAX` saturate to `u32::MAX`. (The reference keeps Python's
/// unbounded integer, but its numpy squared error already overflows int64 for differences
/// above about 3.04e9, so no answer that large has a well-defined reference score.)
pub fn parse_count(answer: &str) -> u32 {
    let mut text = answer.to_owned();
    for (word, digit) in NUMBER_WORDS {
        if text.contains(word) {
            text = text.replace(word, digit);
        }
    }
    first_integer(&text).unwrap_or(0)
}

/// Parses an OC ground truth as Python's `int()` reads the released answers: surrounding
/// whitespace, an optional `+`, then decimal digits only. `None` for anything else,
/// including negative numbers and numbers above `u32::MAX`.
pub(crate) fn parse_truth_count(truth: &str) -> Option<u32> {
    let body = truth.trim_matches(is_python_space);
    let body = body.strip_prefix('+').unwrap_or(body);
    if body.is_empty() {
        return None;
    }
    body.chars().try_fold(0u32, |value, c| {
        value.checked_mul(10)?.checked_add(decimal_digit(c)?)
    })
}

/// Whether an MCI answer is correct, by the reference rule (`multiclass.py`): the truth
/// contains "Yes" and the lower-cased answer contains "yes", or the truth contains "No"
/// and the lower-cased answer contains "no". Both tests are substring tests, so:
///
/// - "Yes, there is." and "yes" are correct for "Yes.";
/// - "I don't know" and "Not sure" are correct for "No." (k**no**w, **No**t) — a quirk of
///   the reference that this function keeps so that scores match the published ones;
/// - "I see eyes" is correct for "Yes." (e**yes**);
/// - "Yes, no doubt." is correct for both truths;
/// - "" and "Maybe" are wrong for both.
///
/// The truth test is case-sensitive ("Yes"/"No", as in the released files).
pub fn mci_correct(truth: &str, answer: &str) -> bool {
    let answer = answer.to_lowercase();
    (truth.contains("Yes") && answer.contains("yes"))
        || (truth.contains("No") && answer.contains("no"))
}

/// The reference's clean-up of every generated answer before scoring (`postprocess` in
/// `modeling_gvt.py`): the text up to its first period, followed by one period.
///
/// Precisely: each "." becomes " . ", newlines are deleted (not replaced by spaces: "1\n2"
/// becomes "12."), surrounding whitespace is stripped, the text is split on single spaces
/// and empty pieces dropped; a leading "." piece is dropped, everything from the next "."
/// piece on is dropped, and the remaining pieces are joined with single spaces and
/// followed by ".". An answer with no pieces becomes "" (no period).
///
/// Examples: "Yes, there is. No." -> "Yes, there is."; "3.5" -> "3."; "  two  dogs " ->
/// "two dogs."; ". Yes" -> "Yes."; "..." -> "."; "" -> "".
///
/// To reproduce the published pipeline, apply this to the raw generation and give the
/// result to [`parse_count`] or [`mci_correct`].
pub fn postprocess_generation(text: &str) -> String {
    let text = text.replace('.', " . ").replace('\n', "");
    let mut pieces: Vec<&str> = text
        .trim_matches(is_python_space)
        .split(' ')
        .filter(|piece| !piece.is_empty())
        .collect();
    if pieces.is_empty() {
        return String::new();
    }
    if pieces[0] == "." {
        pieces.remove(0);
    }
    if let Some(end) = pieces.iter().position(|&piece| piece == ".") {
        pieces.truncate(end);
    }
    let mut out = pieces.join(" ");
    out.push('.');
    out
}

/// The normalisation of [`exact_match`] (this project's rule for colour, position and
/// other short answers; GVTBench has no such questions): lower-case, trim whitespace,
/// remove one trailing period, trim again. "Top left." -> "top left"; " Red " -> "red";
/// "red.." -> "red." (only one period is removed); inner whitespace is kept as is.
pub fn normalize_answer(answer: &str) -> String {
    let lower = answer.to_lowercase();
    let trimmed = lower.trim();
    trimmed
        .strip_suffix('.')
        .unwrap_or(trimmed)
        .trim()
        .to_owned()
}

/// Whether `answer` equals `truth` after [`normalize_answer`] on both.
pub fn exact_match(truth: &str, answer: &str) -> bool {
    normalize_answer(truth) == normalize_answer(answer)
}

/// Sums from which accuracy, MAE and RMSE follow.
#[derive(Debug, Clone, Copy, Default)]
struct CountSums {
    n: usize,
    correct: usize,
    abs_error: u128,
    squared_error: u128,
}

impl CountSums {
    fn add(&mut self, truth: u32, prediction: u32) {
        let diff = u128::from(truth.abs_diff(prediction));
        self.n += 1;
        self.correct += usize::from(truth == prediction);
        self.abs_error += diff;
        self.squared_error += diff * diff;
    }

    fn accuracy(&self) -> f64 {
        self.correct as f64 / self.n as f64
    }

    fn mae(&self) -> f64 {
        self.abs_error as f64 / self.n as f64
    }

    fn rmse(&self) -> f64 {
        (self.squared_error as f64 / self.n as f64).sqrt()
    }
}

/// OC metrics for one bin of ground truths: `gt / 3 == index` (integer division) in
/// [`CountingMetrics::bins`], `gt == index` in [`CountingMetrics::counts`].
#[derive(Debug, Clone, PartialEq)]
pub struct CountBin {
    /// The bin number: `gt / 3`, or the count itself.
    pub index: u32,
    /// Smallest ground truth of the bin, `3 * index`.
    pub min: u32,
    /// Largest ground truth of the bin, `3 * index + 2` (saturating at `u32::MAX`).
    pub max: u32,
    /// Questions in the bin.
    pub n: usize,
    /// Exactly counted questions in the bin.
    pub correct: usize,
    /// `correct / n`.
    pub accuracy: f64,
    /// Mean absolute error of the count.
    pub mae: f64,
    /// Root mean squared error of the count.
    pub rmse: f64,
}

impl CountBin {
    /// "0-2", "3-5", ...: the ground truths of the bin (the reference prints "0~3",
    /// "3~6", ... for the same bins), or "4" for one count.
    pub fn label(&self) -> String {
        if self.min == self.max {
            self.min.to_string()
        } else {
            format!("{}-{}", self.min, self.max)
        }
    }
}

/// By hand rather than derived: the report's JSON starts with the computed label and
/// leaves out `index`, which is `min / 3`.
impl Serialize for CountBin {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut bin = serializer.serialize_struct("CountBin", 8)?;
        bin.serialize_field("label", &self.label())?;
        bin.serialize_field("min", &self.min)?;
        bin.serialize_field("max", &self.max)?;
        bin.serialize_field("n", &self.n)?;
        bin.serialize_field("correct", &self.correct)?;
        bin.serialize_field("accuracy", &self.accuracy)?;
        bin.serialize_field("mae", &self.mae)?;
        bin.serialize_field("rmse", &self.rmse)?;
        bin.end()
    }
}

/// OC metrics (`_report_metrics` and `stat` in `count.py`): exact-count accuracy, mean
/// absolute error and root mean squared error, overall and per bin of `gt / 3`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CountingMetrics {
    /// Questions.
    pub n: usize,
    /// Questions whose predicted count equals the truth.
    pub correct: usize,
    /// `correct / n` (a fraction, not a percentage).
    pub accuracy: f64,
    /// Mean of `|gt - pred|`.
    pub mae: f64,
    /// Square root of the mean of `(gt - pred)^2`.
    pub rmse: f64,
    /// The non-empty bins of `gt / 3`, in increasing order (as the reference lists only the
    /// bins that occur).
    pub bins: Vec<CountBin>,
    /// The same per ground truth: one bin per count that occurs, in increasing order (what
    /// a model can count, beyond the reference's bins of three).
    pub counts: Vec<CountBin>,
}

impl CountingMetrics {
    /// Metrics of `(ground truth, predicted count)` pairs; predicted counts usually come
    /// from [`parse_count`].
    pub fn from_pairs(pairs: impl IntoIterator<Item = (u32, u32)>) -> CountingMetrics {
        let mut total = CountSums::default();
        let mut bins: BTreeMap<u32, CountSums> = BTreeMap::new();
        let mut counts: BTreeMap<u32, CountSums> = BTreeMap::new();
        for (truth, prediction) in pairs {
            total.add(truth, prediction);
            bins.entry(truth / 3).or_default().add(truth, prediction);
            counts.entry(truth).or_default().add(truth, prediction);
        }
        let bin = |index: u32, min: u32, max: u32, sums: CountSums| CountBin {
            index,
            min,
            max,
            n: sums.n,
            correct: sums.correct,
            accuracy: sums.accuracy(),
            mae: sums.mae(),
            rmse: sums.rmse(),
        };
        CountingMetrics {
            n: total.n,
            correct: total.correct,
            accuracy: total.accuracy(),
            mae: total.mae(),
            rmse: total.rmse(),
            bins: bins
                .into_iter()
                .map(|(index, sums)| bin(index, index * 3, (index * 3).saturating_add(2), sums))
                .collect(),
            counts: counts
                .into_iter()
                .map(|(count, sums)| bin(count, count, count, sums))
                .collect(),
        }
    }
}

/// Labels of the three MCI bins, by `n_obj_exist`.
pub const IDENTIFICATION_BIN_LABELS: [&str; 3] = ["1-9", "10-19", ">=20"];

/// MCI accuracy for one bin of `n_obj_exist`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IdentificationBin {
    /// One of [`IDENTIFICATION_BIN_LABELS`].
    pub label: &'static str,
    /// Questions in the bin.
    pub n: usize,
    /// Correctly answered questions in the bin.
    pub correct: usize,
    /// `correct / n`; NaN for an empty bin (as the reference's `np.sum([]) / 0`).
    pub accuracy: f64,
}

/// MCI metrics (`multiclass.py`): accuracy, overall and in three bins of `n_obj_exist`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IdentificationMetrics {
    /// Questions.
    pub n: usize,
    /// Correctly answered questions (see [`mci_correct`]).
    pub correct: usize,
    /// `correct / n` (a fraction, not a percentage).
    pub accuracy: f64,
    /// Always three bins: `n_obj_exist < 10` ("1-9"), `10..=19` ("10-19"), `>= 20`
    /// (">=20"). The reference tests `k < 10` for the first bin, so an image with 0 objects
    /// (none occur in the released files, whose minimum is 1 for COCO and 3 for VCR) falls
    /// in "1-9".
    pub bins: [IdentificationBin; 3],
}

impl IdentificationMetrics {
    /// Metrics of `(n_obj_exist, correct)` outcomes; correctness usually comes from
    /// [`mci_correct`].
    pub fn from_outcomes(outcomes: impl IntoIterator<Item = (u32, bool)>) -> IdentificationMetrics {
        let mut counts = [(0usize, 0usize); 3];
        for (objects, correct) in outcomes {
            let bin = match objects {
                0..=9 => 0,
                10..=19 => 1,
                _ => 2,
            };
            counts[bin].0 += 1;
            counts[bin].1 += usize::from(correct);
        }
        let n = counts.iter().map(|c| c.0).sum::<usize>();
        let correct = counts.iter().map(|c| c.1).sum::<usize>();
        IdentificationMetrics {
            n,
            correct,
            accuracy: correct as f64 / n as f64,
            bins: std::array::from_fn(|i| IdentificationBin {
                label: IDENTIFICATION_BIN_LABELS[i],
                n: counts[i].0,
                correct: counts[i].1,
                accuracy: counts[i].1 as f64 / counts[i].0 as f64,
            }),
        }
    }
}

/// Plain accuracy, for question kinds without bins (colour, position, ...).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccuracyMetrics {
    /// Questions.
    pub n: usize,
    /// Correctly answered questions.
    pub correct: usize,
    /// `correct / n` (a fraction, not a percentage).
    pub accuracy: f64,
}

impl AccuracyMetrics {
    /// Accuracy of a sequence of outcomes (`true` = correct).
    pub fn from_outcomes(outcomes: impl IntoIterator<Item = bool>) -> AccuracyMetrics {
        let (mut n, mut correct) = (0usize, 0usize);
        for outcome in outcomes {
            n += 1;
            correct += usize::from(outcome);
        }
        AccuracyMetrics {
            n,
            correct,
            accuracy: correct as f64 / n as f64,
        }
    }

    /// Exact-match accuracy ([`exact_match`]) of `(truth, answer)` pairs.
    pub fn exact_match<T: AsRef<str>, A: AsRef<str>>(
        pairs: impl IntoIterator<Item = (T, A)>,
    ) -> AccuracyMetrics {
        AccuracyMetrics::from_outcomes(
            pairs
                .into_iter()
                .map(|(truth, answer)| exact_match(truth.as_ref(), answer.as_ref())),
        )
    }
}

/// The metrics of one task, whatever its kind. In JSON, the metrics' members after a
/// `"kind"` member: "counting", "identification" or "exact_match".
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TaskMetrics {
    /// Object counting (OC).
    Counting(CountingMetrics),
    /// Multi-class identification (MCI).
    Identification(IdentificationMetrics),
    /// Exact-match accuracy (colour, position, ...).
    #[serde(rename = "exact_match")]
    Accuracy(AccuracyMetrics),
}

impl TaskMetrics {
    /// Number of questions.
    pub fn n(&self) -> usize {
        match self {
            TaskMetrics::Counting(m) => m.n,
            TaskMetrics::Identification(m) => m.n,
            TaskMetrics::Accuracy(m) => m.n,
        }
    }

    /// Overall accuracy (a fraction).
    pub fn accuracy(&self) -> f64 {
        match self {
            TaskMetrics::Counting(m) => m.accuracy,
            TaskMetrics::Identification(m) => m.accuracy,
            TaskMetrics::Accuracy(m) => m.accuracy,
        }
    }
}

impl From<CountingMetrics> for TaskMetrics {
    fn from(m: CountingMetrics) -> TaskMetrics {
        TaskMetrics::Counting(m)
    }
}

impl From<IdentificationMetrics> for TaskMetrics {
    fn from(m: IdentificationMetrics) -> TaskMetrics {
        TaskMetrics::Identification(m)
    }
}

impl From<AccuracyMetrics> for TaskMetrics {
    fn from(m: AccuracyMetrics) -> TaskMetrics {
        TaskMetrics::Accuracy(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn parse_count_cases_from_the_brief() {
        assert_eq!(parse_count("3 dogs"), 3);
        assert_eq!(parse_count("There are three."), 3);
        assert_eq!(parse_count("none"), 0);
        // "No" is not a number word in the reference (only "none" is), and there is no digit.
        assert_eq!(parse_count("No dogs"), 0);
        assert_eq!(parse_count("12"), 12);
        assert_eq!(parse_count("1,000"), 1);
        // `\d+` takes no sign.
        assert_eq!(parse_count("-2"), 2);
        assert_eq!(parse_count(""), 0);
    }

    #[test]
    fn parse_count_reference_quirks() {
        // Case-sensitive replacement: capitalised words are not numbers.
        assert_eq!(parse_count("Three."), 0);
        assert_eq!(parse_count("Two dogs and three cats."), 3);
        // The reference's word list says "nive", so "nine" is not mapped...
        assert_eq!(parse_count("nine"), 0);
        assert_eq!(parse_count("nive"), 9);
        // ...and there is no "zero" or "ten" (nor anything above nine).
        assert_eq!(parse_count("zero"), 0);
        assert_eq!(parse_count("ten"), 0);
        assert_eq!(parse_count("eleven"), 0);
        // Replacement inside words, in list order.
        assert_eq!(parse_count("someone"), 1);
        assert_eq!(parse_count("a weight of 5"), 8);
        assert_eq!(parse_count("fourteen"), 4);
        assert_eq!(parse_count("nonetheless 5"), 0);
        assert_eq!(parse_count("zero, one"), 1);
        // "none" goes before "one": "none" -> "0", not "n1".
        assert_eq!(parse_count("none or one"), 0);
        // First integer wins, digits or words.
        assert_eq!(parse_count("two dogs and 3 cats"), 2);
        assert_eq!(parse_count("3.5"), 3);
        assert_eq!(parse_count("007"), 7);
        // Unicode decimal digits, as Python's \d and int().
        assert_eq!(parse_count("٣"), 3);
        assert_eq!(parse_count("３ dogs"), 3);
        assert_eq!(parse_count("1٣"), 13);
        // Not decimal digits (Python's \d does not match them either).
        assert_eq!(parse_count("½ ² Ⅻ"), 0);
        // Saturation.
        assert_eq!(parse_count("4294967295"), u32::MAX);
        assert_eq!(parse_count("99999999999999999999999"), u32::MAX);
    }

    #[test]
    fn truth_counts() {
        assert_eq!(parse_truth_count("3"), Some(3));
        assert_eq!(parse_truth_count(" +12\n"), Some(12));
        assert_eq!(parse_truth_count("٣"), Some(3));
        assert_eq!(parse_truth_count("4294967296"), None);
        assert_eq!(parse_truth_count("-1"), None);
        assert_eq!(parse_truth_count("3."), None);
        assert_eq!(parse_truth_count(""), None);
        assert_eq!(parse_truth_count("+"), None);
    }

    #[test]
    fn mci_rule() {
        assert!(mci_correct("Yes.", "Yes."));
        assert!(mci_correct("Yes.", "Yes, there is."));
        assert!(mci_correct("Yes.", "yes"));
        assert!(mci_correct("Yes.", "YES!"));
        assert!(!mci_correct("Yes.", "No."));
        assert!(mci_correct("No.", "No."));
        assert!(mci_correct("No.", "no, there is none."));
        assert!(!mci_correct("No.", "Yes."));
        // The substring quirk of the reference, kept on purpose: "know" contains "no".
        assert!(mci_correct("No.", "I don't know"));
        assert!(mci_correct("No.", "Not sure."));
        assert!(mci_correct("Yes.", "I see its eyes."));
        assert!(!mci_correct("Yes.", "I don't know"));
        // An answer with both words is right for both truths.
        assert!(mci_correct("Yes.", "Yes, no doubt."));
        assert!(mci_correct("No.", "Yes, no doubt."));
        // Nothing to match.
        assert!(!mci_correct("Yes.", ""));
        assert!(!mci_correct("No.", ""));
        assert!(!mci_correct("No.", "Maybe."));
        // The truth test is case-sensitive, as in the reference.
        assert!(!mci_correct("yes.", "yes"));
    }

    #[test]
    fn postprocess_matches_the_reference() {
        // Expected values worked out by following `postprocess` in modeling_gvt.py step by
        // step (replace, strip, split on ' ', drop empties, drop a leading '.', cut at '.').
        assert_eq!(
            postprocess_generation("Yes, there is. No."),
            "Yes, there is."
        );
        assert_eq!(postprocess_generation("3"), "3.");
        assert_eq!(postprocess_generation("Yes."), "Yes.");
        assert_eq!(postprocess_generation("3.5"), "3.");
        assert_eq!(postprocess_generation("  two  dogs "), "two dogs.");
        assert_eq!(postprocess_generation(". Yes"), "Yes.");
        assert_eq!(postprocess_generation("..."), ".");
        assert_eq!(postprocess_generation("."), ".");
        assert_eq!(postprocess_generation(""), "");
        assert_eq!(postprocess_generation(" \n "), "");
        assert_eq!(postprocess_generation("1\n2"), "12.");
        assert_eq!(postprocess_generation("a\tb"), "a\tb.");
        assert_eq!(postprocess_generation("\u{1c}x\u{1f}"), "x.");
        assert_eq!(postprocess_generation("Mr. Smith has 2 dogs."), "Mr.");
        // The post-processed text then goes to the metric rules.
        assert_eq!(
            parse_count(&postprocess_generation("There are 1,000. Or 2.")),
            1
        );
        assert!(!mci_correct("No.", &postprocess_generation("Yes. No.")));
    }

    #[test]
    fn exact_match_normalisation() {
        assert_eq!(normalize_answer(" Top Left. "), "top left");
        assert_eq!(normalize_answer("red ."), "red");
        assert_eq!(normalize_answer("red.."), "red.");
        assert!(exact_match("red", "Red."));
        assert!(exact_match("top left", " Top left. "));
        assert!(!exact_match("red", "red.."));
        assert!(!exact_match("top left", "top  left"));
        assert!(!exact_match("blue", "red"));
        let m = AccuracyMetrics::exact_match([
            ("red", "Red."),
            ("blue", "green"),
            ("top left", "top left"),
        ]);
        assert_eq!((m.n, m.correct), (3, 2));
        assert!(close(m.accuracy, 2.0 / 3.0));
    }

    #[test]
    fn counting_metrics_by_hand() {
        // gt:   0  1  3  4  7  9
        // pred: 0  2  3  6  7  5
        // |d|:  0  1  0  2  0  4   -> sum 7, correct 3 (gt 0, 3, 7)
        // d^2:  0  1  0  4  0 16   -> sum 21
        // accuracy 3/6 = 0.5; MAE 7/6; RMSE sqrt(21/6) = sqrt(3.5)
        let m = CountingMetrics::from_pairs([(0, 0), (1, 2), (3, 3), (4, 6), (7, 7), (9, 5)]);
        assert_eq!((m.n, m.correct), (6, 3));
        assert!(close(m.accuracy, 0.5));
        assert!(close(m.mae, 7.0 / 6.0));
        assert!(close(m.rmse, 3.5f64.sqrt()));
        // Bins by gt / 3:
        // 0 (0-2):  (0,0) (1,2): n 2, correct 1, acc 0.5, MAE (0+1)/2 = 0.5, RMSE sqrt(1/2)
        // 1 (3-5):  (3,3) (4,6): n 2, correct 1, acc 0.5, MAE (0+2)/2 = 1,   RMSE sqrt(4/2)
        // 2 (6-8):  (7,7):       n 1, correct 1, acc 1,   MAE 0,             RMSE 0
        // 3 (9-11): (9,5):       n 1, correct 0, acc 0,   MAE 4,             RMSE 4
        let expected = [
            (0, "0-2", 2, 1, 0.5, 0.5, 0.5f64.sqrt()),
            (1, "3-5", 2, 1, 0.5, 1.0, 2.0f64.sqrt()),
            (2, "6-8", 1, 1, 1.0, 0.0, 0.0),
            (3, "9-11", 1, 0, 0.0, 4.0, 4.0),
        ];
        assert_eq!(m.bins.len(), expected.len());
        for (bin, (index, label, n, correct, acc, mae, rmse)) in m.bins.iter().zip(expected) {
            assert_eq!(
                (bin.index, bin.label().as_str(), bin.n, bin.correct),
                (index, label, n, correct)
            );
            assert!(
                close(bin.accuracy, acc) && close(bin.mae, mae) && close(bin.rmse, rmse),
                "{bin:?}"
            );
        }
    }

    #[test]
    fn counting_bins_skip_empty_ranges_and_handle_extremes() {
        // Only the bins that occur are listed (gt 1 -> bin 0, gt 10 -> bin 3).
        let m = CountingMetrics::from_pairs([(10, 10), (1, 0)]);
        assert_eq!(
            m.bins.iter().map(|b| b.index).collect::<Vec<_>>(),
            vec![0, 3]
        );
        // Overestimates and underestimates weigh the same.
        let m = CountingMetrics::from_pairs([(2, 5), (5, 2)]);
        assert!(close(m.mae, 3.0) && close(m.rmse, 3.0));
        // Huge values neither overflow nor panic: |d| = u32::MAX, d^2 ~ 1.8e19.
        let m = CountingMetrics::from_pairs([(0, u32::MAX), (u32::MAX, u32::MAX)]);
        assert!(close(m.mae, u32::MAX as f64 / 2.0));
        assert_eq!(m.bins.last().unwrap().max, u32::MAX);
        // No pairs: NaN, as the reference divides by zero.
        let m = CountingMetrics::from_pairs([]);
        assert_eq!(m.n, 0);
        assert!(m.accuracy.is_nan() && m.mae.is_nan() && m.rmse.is_nan() && m.bins.is_empty());
    }

    #[test]
    fn identification_bins_by_hand() {
        // n_obj_exist: 0 1 9 | 10 19 19 | 20 63
        // correct:     T T F | T  T  F  | F  T
        // bins: "1-9" (incl. 0) 2/3, "10-19" 2/3, ">=20" 1/2; overall 5/8
        let m = IdentificationMetrics::from_outcomes([
            (0, true),
            (1, true),
            (9, false),
            (10, true),
            (19, true),
            (19, false),
            (20, false),
            (63, true),
        ]);
        assert_eq!((m.n, m.correct), (8, 5));
        assert!(close(m.accuracy, 0.625));
        let got: Vec<_> = m.bins.iter().map(|b| (b.label, b.n, b.correct)).collect();
        assert_eq!(got, vec![("1-9", 3, 2), ("10-19", 3, 2), (">=20", 2, 1)]);
        assert!(close(m.bins[0].accuracy, 2.0 / 3.0));
        assert!(close(m.bins[1].accuracy, 2.0 / 3.0));
        assert!(close(m.bins[2].accuracy, 0.5));
        // Empty bins are NaN.
        let m = IdentificationMetrics::from_outcomes([(5, true), (5, false)]);
        assert!(close(m.accuracy, 0.5) && close(m.bins[0].accuracy, 0.5));
        assert!(m.bins[1].accuracy.is_nan() && m.bins[2].accuracy.is_nan());
    }

    #[test]
    fn task_metrics_accessors() {
        let t: TaskMetrics = AccuracyMetrics::from_outcomes([true, false, true, true]).into();
        assert_eq!(t.n(), 4);
        assert!(close(t.accuracy(), 0.75));
        let t: TaskMetrics = CountingMetrics::from_pairs([(1, 1)]).into();
        assert!(close(t.accuracy(), 1.0));
        let t: TaskMetrics = IdentificationMetrics::from_outcomes([(1, false)]).into();
        assert!(close(t.accuracy(), 0.0));
    }
}
