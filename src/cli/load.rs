//! Loading a model for a command: the files, the device, a progress bar, one summary line.

use std::path::{Path, PathBuf};
use std::time::Instant;

use gvt_core::default_model;
use gvt_core::device::{self, DeviceChoice};
use gvt_core::gguf::{GgufError, GgufFile};
use gvt_core::pipeline::Pipeline;
use indicatif::{ProgressBar, ProgressStyle};

/// Opens a GGUF file; errors name the file once (I/O errors already do).
pub fn open_gguf(path: &Path) -> anyhow::Result<GgufFile> {
    GgufFile::open(path).map_err(|e| match e {
        GgufError::Io { .. } => anyhow::Error::new(e),
        other => anyhow::Error::new(other).context(format!("reading {}", path.display())),
    })
}

/// Loads `--model` (and `--llm`) onto the chosen device, reporting progress on stderr.
/// With neither, the embedded default model.
pub fn pipeline(
    model: Option<&PathBuf>,
    llm: Option<&PathBuf>,
    choice: DeviceChoice,
) -> anyhow::Result<Pipeline> {
    let (model_file, llm_file) = match (model, llm) {
        (Some(m), llm) => (open_gguf(m)?, llm.map(|p| open_gguf(p)).transpose()?),
        (None, Some(l)) => (open_gguf(l)?, None),
        (None, None) => (default_model::open()?, None),
    };

    let device = device::select(choice)?;
    if let Some(reason) = &device.fallback_reason {
        eprintln!("note: running on the CPU ({reason})");
    }
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("loading {bar:30} {bytes}/{total_bytes} ({elapsed})")
            .expect("static template"),
    );
    let started = Instant::now();
    let pipeline = Pipeline::load(
        &model_file,
        llm_file.as_ref(),
        device,
        &mut |done, total| {
            bar.set_length(total);
            bar.set_position(done);
        },
    )?;
    bar.finish_and_clear();
    eprintln!(
        "{} on {} ({}, loaded in {:.2} s)\n  {}",
        pipeline.info.name,
        pipeline.device.name,
        pipeline.info.formats,
        started.elapsed().as_secs_f64(),
        pipeline.info.kernels
    );
    Ok(pipeline)
}
