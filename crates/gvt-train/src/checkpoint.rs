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
use crate::vocab::TrainedVocab;
use gvt_core::gguf::{Array, GgufFile, GgufWriter, Metadata, Value};
use gvt_core::model::export::ParamValues;
use gvt_core::model::{GgufSource, GvtConfig, Named, ParamName, WeightFormat};
use gvt_core::tokenizer::{KEY_MERGES, KEY_TOKENS};
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

/// Replaces `dir/name` whole: `write` fills `dir/name.partial`, which is then renamed over it.
fn replace(dir: &Path, name: &str, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let path = dir.join(name);
    let partial = dir.join(format!("{name}.partial"));
    write(&partial)?;
    std::fs::rename(&partial, &path).map_err(|e| io(&path, e))
}

impl Trainer {
    /// Writes the run's state to `dir` (created if needed). Each file is written beside its
    /// place and renamed into it, so an interrupted save leaves every file readable: at
    /// worst the optimizer state is one save older than the model.
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
        replace(
            dir,
            MODEL_FILE,
            |partial| Ok(writer.write_to_path(partial)?),
        )?;
        let optimizer_path = dir.join(OPTIMIZER_FILE);
        match &self.optimizer {
            Some(optimizer) => replace(dir, OPTIMIZER_FILE, |partial| {
                optimizer
                    .save(partial)
                    .map_err(|e| Error::Execution(format!("saving the optimizer state: {e:?}")))
            })?,
            None if optimizer_path.exists() => {
                std::fs::remove_file(&optimizer_path).map_err(|e| io(&optimizer_path, e))?
            }
            None => {}
        }
        replace(dir, CONFIG_FILE, |partial| {
            self.config.save(partial).map_err(|e| io(partial, e))
        })
    }

    /// Continues the run saved in `dir` on `device`.
    pub fn resume(dir: &Path, device: &Device) -> Result<Self> {
        let config = load_config(&dir.join(CONFIG_FILE))?;
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

        // A run started from a model keeps that model's vocabulary, which the checkpoint
        // stores. Otherwise the vocabulary is learnt again from the run's settings; a
        // checkpoint whose tokens or merges differ (the training phrasings changed since)
        // would resume with its embeddings under the wrong ids.
        let vocab = match config.init {
            Some(_) => TrainedVocab::from_metadata(md)?,
            None => train_vocabulary(config.vocab_size, config.paraphrase_share)?,
        };
        let mut rebuilt = Metadata::new();
        vocab.write_metadata(&mut rebuilt);
        let model_config = GvtConfig::from_gguf(&file, &file)?;
        let same = [KEY_TOKENS, KEY_MERGES].map(|key| rebuilt.get(key) == md.get(key));
        if model_config.llm.vocab_size != vocab.len() || same != [true, true] {
            return Err(Error::InvalidInput(format!(
                "the vocabulary of {} differs from the one this version learns for its \
                 settings: resume it with the version that started it",
                dir.join(MODEL_FILE).display()
            )));
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

/// Settings added to [`TrainConfig`] after runs were first saved, with the value a run
/// saved before them trained with (not always today's default: runs before crowded scenes
/// had none).
const ADDED_SETTINGS: [(&str, f64); 7] = [
    ("crowded_share", 0.0),
    ("crowd_min", 2.0),
    ("crowd_max", 5.0),
    ("varied_style_share", 0.0),
    ("paraphrase_share", 0.0),
    ("image_size", 128.0),
    ("count_loss_weight", 1.0),
];

/// The training config saved at `path`. A setting the file lacks (it was written before
/// the setting existed) takes the value that run trained with ([`ADDED_SETTINGS`], else the
/// default); a setting this version does not know is refused by name.
pub(crate) fn load_config(path: &Path) -> Result<TrainConfig> {
    let invalid = |e: &dyn std::fmt::Display| {
        Error::InvalidInput(format!("{} is not a training config: {e}", path.display()))
    };
    let text = std::fs::read_to_string(path).map_err(|e| io(path, e))?;
    let saved: serde_json::Value = serde_json::from_str(&text).map_err(|e| invalid(&e))?;
    let serde_json::Value::Object(saved) = saved else {
        return Err(invalid(&"not a JSON object"));
    };
    let mut merged = serde_json::to_value(TrainConfig::new()).map_err(|e| invalid(&e))?;
    let fields = merged
        .as_object_mut()
        .expect("a config serialises to an object");
    for (key, value) in ADDED_SETTINGS {
        let value = match fields.get(key) {
            Some(serde_json::Value::Number(n)) if n.is_u64() => (value as u64).into(),
            _ => value.into(),
        };
        fields.insert(key.to_owned(), value);
    }
    for (key, value) in saved {
        if !fields.contains_key(&key) {
            return Err(invalid(&format!("unknown setting `{key}`")));
        }
        fields.insert(key, value);
    }
    let config: TrainConfig = serde_json::from_value(merged).map_err(|e| invalid(&e))?;
    crate::batch::validate_crowd_weights(&config.crowd_weights).map_err(|e| invalid(&e))?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run saved before the recipe settings of the second generation resumes with their
    /// defaults; unknown settings and broken files are refused with the file's name.
    #[test]
    fn configs_from_before_a_setting_existed_load_with_its_default() {
        let dir = std::env::temp_dir().join(format!("gvt-train-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(CONFIG_FILE);
        let config = TrainConfig::new().with_seed(7).with_qa_steps(40);
        let serde_json::Value::Object(mut fields) = serde_json::to_value(&config).unwrap() else {
            unreachable!("a config is an object")
        };
        for newer in [
            "crowd_min",
            "crowd_max",
            "varied_style_share",
            "paraphrase_share",
            "count_loss_weight",
        ] {
            assert!(fields.remove(newer).is_some(), "{newer}");
        }
        let write = |fields: &serde_json::Map<String, serde_json::Value>| {
            std::fs::write(&path, serde_json::Value::Object(fields.clone()).to_string()).unwrap()
        };
        write(&fields);
        assert_eq!(load_config(&path).unwrap(), config);
        // A run from before crowded scenes trained without them.
        fields.remove("crowded_share");
        write(&fields);
        let crowdless = TrainConfig {
            crowded_share: 0.0,
            ..config.clone()
        };
        assert_eq!(load_config(&path).unwrap(), crowdless);

        fields.insert("crowd_maximum".into(), 9.into());
        write(&fields);
        let err = load_config(&path).unwrap_err().to_string();
        assert!(
            err.contains("crowd_maximum") && err.contains("train.json"),
            "{err}"
        );
        for broken in ["[1, 2]", "{\"seed\": \"two\"}", "{"] {
            std::fs::write(&path, broken).unwrap();
            let err = load_config(&path).unwrap_err().to_string();
            assert!(err.contains("train.json"), "{broken}: {err}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
