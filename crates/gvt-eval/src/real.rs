//! GVTBench on real images: an annotation file's questions asked of a loaded model over a
//! folder of COCO or VCR images, greedily and in the model's chat template (GVT's is Vicuna
//! v1.1), scored with the released rules ([`super::gvtbench::score`]).
//!
//! Every answer is written to a JSONL file as soon as it is known, one [`Answer`] per line,
//! so that a run that stops (Ctrl-C, a crash, a lost machine) continues from the file where
//! it left off ([`resume`]) and ends with the same answers as one that never stopped.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::gvtbench::{Item, Task, score};
use super::metrics::postprocess_generation;
use super::report::Report;
use gvt_core::generate::{CancelFlag, GenerateOptions};
use gvt_core::pipeline::Pipeline;
use gvt_core::preprocess::open_image;
use gvt_core::{Error, Result};

/// Longest answer generated: a count or "Yes."/"No." (GVT allows 32 tokens and cuts the
/// answer at its first period, as [`postprocess_generation`] does).
const MAX_ANSWER_TOKENS: usize = 12;

/// One question answered, as a line of the answers file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// The item's position in the annotation file.
    pub index: usize,
    pub image_id: String,
    pub question: String,
    pub truth: String,
    /// What the model generated.
    pub generated: String,
    /// `generated` cut at its first period: what the metrics read.
    pub answer: String,
}

/// The image of `image_id` under `dir`. A VCR id is a relative path. A COCO id is a number,
/// and its file is looked for under the names COCO uses: `000000042102.jpg` (val2017),
/// `COCO_val2014_000000042102.jpg` (val2014), in `dir` or in its `val2014/` or `val2017/`
/// folder, as `.jpg`, `.jpeg` or `.png`.
pub fn find_image(dir: &Path, image_id: &str) -> Option<PathBuf> {
    let Ok(id) = image_id.parse::<u64>() else {
        // A VCR path stays inside `dir`: no absolute paths, no `..`.
        let relative = Path::new(image_id);
        let inside = relative
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
        return inside
            .then(|| dir.join(relative))
            .filter(|path| path.is_file());
    };
    let stems = [format!("{id:012}"), format!("COCO_val2014_{id:012}")];
    ["", "val2017", "val2014"]
        .iter()
        .flat_map(|folder| {
            stems.iter().flat_map(move |stem| {
                ["jpg", "jpeg", "png"].map(|ext| dir.join(folder).join(format!("{stem}.{ext}")))
            })
        })
        .find(|path| path.is_file())
}

/// The answers already in `path` (a file an earlier run wrote), keyed by item index, with
/// the file made ready for more. A last line without its newline was cut short by a stopped
/// run (an answer is written with its newline at once): it is cut off the file, to be asked
/// again. Any other line that is not an answer to this file's item at its index is an error
/// that names the line.
pub fn resume(path: &Path, items: &[Item]) -> Result<HashMap<usize, Answer>> {
    let cannot = |what: &str, e: &dyn std::fmt::Display| {
        Error::InvalidInput(format!("cannot {what} {}: {e}", path.display()))
    };
    // Bytes first: the cut line may end inside a character.
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(e) => return Err(cannot("read the answers in", &e)),
    };
    let whole = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let text = std::str::from_utf8(&bytes[..whole])
        .map_err(|e| cannot("read the answers (not UTF-8) in", &e))?;
    let mut answers = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let bad = |why: String| {
            Error::InvalidInput(format!(
                "{} line {}: {why}; it holds answers to another file or was edited (start \
                 a new file, or run without --resume)",
                path.display(),
                n + 1
            ))
        };
        let answer: Answer =
            serde_json::from_str(line).map_err(|e| bad(format!("not an answer ({e})")))?;
        match items.get(answer.index) {
            Some(item) if item.text_in == answer.question && item.image_id == answer.image_id => {
                answers.insert(answer.index, answer);
            }
            Some(_) => return Err(bad(format!("item {} asks something else", answer.index))),
            None => return Err(bad(format!("item {} is not in the file", answer.index))),
        }
    }
    // Only once every answer is known to be this file's.
    if whole < bytes.len() {
        std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|file| file.set_len(whole as u64))
            .map_err(|e| cannot("cut the unfinished last line off", &e))?;
    }
    Ok(answers)
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Every answer, earlier runs' included, in item order.
    pub answers: Vec<Answer>,
    /// Image ids whose file is missing: their items were skipped.
    pub missing: Vec<String>,
}

/// Asks the first `limit` items (all without one) of `items` about their images under
/// `images`, skipping those in `done`. Each new answer is written to `out` as a JSON line
/// and flushed. `on_progress(asked, to_ask)` is called after each question.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    pipeline: &Pipeline,
    items: &[Item],
    images: &Path,
    limit: Option<usize>,
    mut done: HashMap<usize, Answer>,
    out: &mut dyn Write,
    cancel: &CancelFlag,
    on_progress: &mut dyn FnMut(usize, usize),
) -> Result<Outcome> {
    let options = GenerateOptions {
        max_new_tokens: MAX_ANSWER_TOKENS,
        ..Default::default()
    };
    let items = &items[..limit.unwrap_or(items.len()).min(items.len())];
    let to_ask = items
        .iter()
        .enumerate()
        .filter(|(i, _)| !done.contains_key(i))
        .count();
    let mut outcome = Outcome::default();
    // Consecutive items often share an image (GVTBench asks several questions of each).
    let mut image: Option<(String, image::DynamicImage)> = None;
    let mut asked = 0;
    for (index, item) in items.iter().enumerate() {
        if let Some(answer) = done.remove(&index) {
            outcome.answers.push(answer);
            continue;
        }
        if cancel.is_cancelled() {
            break;
        }
        let Some(path) = find_image(images, &item.image_id) else {
            if !outcome.missing.contains(&item.image_id) {
                outcome.missing.push(item.image_id.clone());
            }
            asked += 1;
            on_progress(asked, to_ask);
            continue;
        };
        if image.as_ref().is_none_or(|(id, _)| *id != item.image_id) {
            image = Some((item.image_id.clone(), open_image(&path)?));
        }
        let pixels = image.as_ref().map(|(_, image)| image);
        let generated = pipeline
            .ask(pixels, &item.text_in, &options, cancel, &mut |_| {})
            .await?;
        if cancel.is_cancelled() {
            break;
        }
        let answer = Answer {
            index,
            image_id: item.image_id.clone(),
            question: item.text_in.clone(),
            truth: item.text_out.clone(),
            answer: postprocess_generation(&generated.text),
            generated: generated.text,
        };
        let line =
            serde_json::to_string(&answer).map_err(|e| Error::InvalidInput(e.to_string()))?;
        writeln!(out, "{line}")
            .and_then(|()| out.flush())
            .map_err(|e| Error::InvalidInput(format!("cannot write an answer: {e}")))?;
        outcome.answers.push(answer);
        asked += 1;
        on_progress(asked, to_ask);
    }
    Ok(outcome)
}

/// The report of `answers` (each to the item at its index), laid out as the paper's tables:
/// accuracy per bin, and for counting the MAE and RMSE.
pub fn report(task: Task, items: &[Item], answers: &[Answer], title: &str) -> Result<Report> {
    let (asked, predictions): (Vec<Item>, Vec<&str>) = answers
        .iter()
        .filter_map(|a| Some((items.get(a.index)?.clone(), a.answer.as_str())))
        .unzip();
    let metrics =
        score(task, &asked, &predictions).map_err(|e| Error::InvalidInput(e.to_string()))?;
    let mut report = Report::new(title);
    report.push(task.name(), metrics);
    Ok(report)
}
