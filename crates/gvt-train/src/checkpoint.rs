//! Checkpoints of a training run, in one directory:
//! - `checkpoint.gguf`: every weight in f32 (the stage 1 probe included), the model config,
//!   the tokenizer, the run's position and the parameter ids the optimizer state is keyed by;
//!   it loads in `gvt ask` and `gvt eval` like any model file;
//! - `optimizer.bpk`: AdamW's moments (burn's format);
//! - `train.json`: the [`TrainConfig`].

use std::path::Path;

use burn::config::Config;
use burn::module::ParamId;
use burn::tensor::Device;

use super::{Position, Stage, TrainConfig, Trainer, build, train_vocabulary};
use gvt_core::gguf::{Array, GgufFile, GgufWriter, Value};
use gvt_core::model::export::ParamValues;
use gvt_core::model::{GgufSource, GvtConfig, Named, ParamName, WeightFormat};
use gvt_core::{Error, Result};

const MODEL_FILE: &str = "checkpoint.gguf";
const OPTIMIZER_FILE: &str = "optimizer.bpk";
const CONFIG_FILE: &str = "train.json";
const KEY_STAGE: &str = "train.stage";
const KEY_STEP: &str = "train.step";
const KEY_PARAM_IDS: &str = "train.param_ids";

fn io(path: &Path, reason: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        reason,
    }
}

impl Trainer {
    /// Writes the run's state to `dir` (created if needed). Files are replaced whole, so an
    /// interrupted save leaves the previous checkpoint readable.
    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let mut writer = GgufWriter::new();
        self.write_metadata(&mut writer);
        let md = writer.metadata_mut();
        md.insert(KEY_STAGE, self.position.stage.name().into());
        md.insert(KEY_STEP, Value::U64(self.position.step as u64));
        md.insert(
            KEY_PARAM_IDS,
            Value::from(self.names.iter().map(|n| n.id.val()).collect::<Vec<u64>>()),
        );
        ParamValues::of(self.model()).write(&mut writer, &self.names, WeightFormat::F32)?;
        let model_path = dir.join(MODEL_FILE);
        let partial = dir.join(format!("{MODEL_FILE}.partial"));
        writer.write_to_path(&partial)?;
        std::fs::rename(&partial, &model_path).map_err(|e| io(&model_path, e))?;

        let optimizer_path = dir.join(OPTIMIZER_FILE);
        match &self.optimizer {
            Some(optimizer) => optimizer
                .save(&optimizer_path)
                .map_err(|e| Error::Execution(format!("saving the optimizer state: {e:?}")))?,
            None if optimizer_path.exists() => {
                std::fs::remove_file(&optimizer_path).map_err(|e| io(&optimizer_path, e))?
            }
            None => {}
        }
        let config_path = dir.join(CONFIG_FILE);
        self.config
            .save(&config_path)
            .map_err(|e| io(&config_path, e))
    }

    /// Continues the run saved in `dir` on `device`.
    pub fn resume(dir: &Path, device: &Device) -> Result<Self> {
        let config_path = dir.join(CONFIG_FILE);
        let config = TrainConfig::load(&config_path).map_err(|e| {
            Error::InvalidInput(format!(
                "{} is not a training config: {e}",
                config_path.display()
            ))
        })?;
        let file = GgufFile::open(&dir.join(MODEL_FILE))?;
        let md = &file.metadata;
        let stage = match md.get_str(KEY_STAGE)? {
            "vision" => Stage::Vision,
            "qa" => Stage::Qa,
            other => {
                return Err(Error::InvalidInput(format!(
                    "unknown training stage `{other}` in the checkpoint"
                )));
            }
        };
        let step = match md.get(KEY_STEP) {
            Some(Value::U64(step)) => *step as usize,
            _ => return Err(Error::InvalidInput("the checkpoint has no step".into())),
        };
        let ids: Vec<ParamId> = match md.get(KEY_PARAM_IDS) {
            Some(Value::Array(Array::U64(ids))) => {
                ids.iter().map(|&id| ParamId::from(id)).collect()
            }
            Some(Value::Array(_)) => {
                return Err(Error::InvalidInput("parameter ids must be u64".into()));
            }
            _ => {
                return Err(Error::InvalidInput(
                    "the checkpoint has no parameter ids".into(),
                ));
            }
        };
        if ids.len() != file.tensors.len() {
            return Err(Error::InvalidInput(format!(
                "the checkpoint lists {} parameter ids for {} tensors",
                ids.len(),
                file.tensors.len()
            )));
        }
        let previous: Vec<ParamName> = file
            .tensors
            .iter()
            .zip(&ids)
            .map(|(t, &id)| ParamName {
                id,
                name: t.name.clone(),
                shape: Vec::new(),
                transposed: false,
            })
            .collect();

        let vocab = train_vocabulary(config.vocab_size, config.paraphrase_share)?;
        let model_config = GvtConfig::from_gguf(&file, &file)?;
        if model_config.llm.vocab_size != vocab.len() {
            return Err(Error::InvalidInput(
                "the checkpoint's vocabulary differs from the one this version trains".into(),
            ));
        }
        let device = device.clone().autodiff();
        let mut src = Named::new(GgufSource::new(&file, &device).dequantized()).with_ids(&previous);
        let model = build(&mut src, &model_config)?;
        let mut trainer =
            Self::assemble(config, model_config, vocab, device, model, src.into_names())?;
        trainer.position = Position { stage, step };
        let optimizer_path = dir.join(OPTIMIZER_FILE);
        if optimizer_path.exists() {
            let optimizer = trainer
                .new_optimizer()
                .load(&optimizer_path)
                .map_err(|e| Error::Execution(format!("loading the optimizer state: {e:?}")))?;
            trainer.optimizer = Some(optimizer);
        }
        Ok(trainer)
    }
}
