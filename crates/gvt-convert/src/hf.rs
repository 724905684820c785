//! A Hugging Face LLaMA folder: `config.json`, the weights (one or sharded safetensors, or
//! `pytorch_model*.bin`), and the SentencePiece tokenizer.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use gvt_core::model::LlmConfig;

use crate::sentencepiece::{SpecialIds, TokenizerConfig, Vocab};
use crate::source::Tensors;
use crate::{ConvertError, Result, read_json};

/// The `config.json` fields a LLaMA needs (`LlamaConfig` and Mistral's, which is the same).
#[derive(Debug, serde::Deserialize)]
struct HfConfig {
    model_type: Option<String>,
    hidden_size: usize,
    intermediate_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    num_key_value_heads: Option<usize>,
    head_dim: Option<usize>,
    vocab_size: usize,
    rms_norm_eps: Option<f64>,
    rope_theta: Option<f64>,
    max_position_embeddings: Option<usize>,
    #[serde(default)]
    tie_word_embeddings: bool,
    rope_scaling: Option<serde_json::Value>,
    // Vicuna's config names its special ids here; some configs give lists.
    bos_token_id: Option<serde_json::Value>,
    eos_token_id: Option<serde_json::Value>,
    pad_token_id: Option<serde_json::Value>,
}

/// An opened LLaMA folder: its configuration, tokenizer and tensors (headers only).
pub struct HfLlama {
    pub config: LlmConfig,
    pub vocab: Vocab,
    pub tensors: Tensors,
    pub files: Vec<PathBuf>,
    /// `tokenizer_config.json`'s chat template, if it has one.
    pub chat_template: Option<String>,
}

impl HfLlama {
    /// Opens `dir`; what is left out on the way goes to `notes`.
    pub fn open(dir: &Path, notes: &mut Vec<String>) -> Result<Self> {
        let config_path = dir.join("config.json");
        let hf: HfConfig = read_json(&config_path)?;
        let model_type = hf.model_type.as_deref().unwrap_or("llama");
        if !matches!(model_type, "llama" | "mistral") {
            return Err(ConvertError::Read {
                file: config_path,
                reason: format!("model_type `{model_type}` is not LLaMA-family (llama, mistral)"),
            });
        }
        if let Some(scaling) = hf.rope_scaling.as_ref().filter(|v| !v.is_null()) {
            return Err(ConvertError::Read {
                file: config_path,
                reason: format!("rope_scaling {scaling} is not supported (plain RoPE only)"),
            });
        }
        let heads = hf.num_attention_heads;
        let head_dim = hf
            .head_dim
            .unwrap_or(hf.hidden_size.checked_div(heads).unwrap_or(0));
        let mut config = LlmConfig::new(
            hf.vocab_size,
            hf.hidden_size,
            hf.num_hidden_layers,
            heads,
            hf.num_key_value_heads.unwrap_or(heads),
            hf.intermediate_size,
            head_dim,
        )
        .with_tied_output(hf.tie_word_embeddings);
        if let Some(eps) = hf.rms_norm_eps {
            config.rms_eps = eps;
        }
        if let Some(theta) = hf.rope_theta {
            config.rope_base = theta;
        }
        if let Some(ctx) = hf.max_position_embeddings {
            config.context_length = ctx;
        }

        let files = weight_files(dir)?;
        let mut tensors = Tensors::default();
        for file in &files {
            if file.extension().is_some_and(|e| e == "safetensors") {
                tensors.add_safetensors(file)?;
            } else {
                tensors.add_pytorch(file)?;
            }
        }
        // Some checkpoints save the whole `LlamaForCausalLM` without the `model.` level.
        if tensors.get("model.embed_tokens.weight").is_none()
            && tensors.get("embed_tokens.weight").is_some()
        {
            let by_name = std::mem::take(&mut tensors.by_name);
            tensors.by_name = by_name
                .into_values()
                .map(|mut t| {
                    if t.name != "lm_head.weight" {
                        t.name = format!("model.{}", t.name);
                    }
                    (t.name.clone(), t)
                })
                .collect();
        }
        let tokenizer_path = dir.join("tokenizer_config.json");
        let tokenizer_config: TokenizerConfig = if tokenizer_path.exists() {
            read_json(&tokenizer_path)?
        } else {
            TokenizerConfig::default()
        };
        let id = |v: &Option<serde_json::Value>| {
            v.as_ref()
                .and_then(|v| v.as_u64().or_else(|| v.get(0)?.as_u64()))
                .and_then(|v| u32::try_from(v).ok())
        };
        let ids = SpecialIds {
            bos: id(&hf.bos_token_id),
            eos: id(&hf.eos_token_id),
            pad: id(&hf.pad_token_id),
        };
        let mut vocab = Vocab::from_hf_dir(dir, &tokenizer_config, ids, config.vocab_size, notes)?;
        if vocab.tokens.len() > config.vocab_size {
            return Err(ConvertError::Read {
                file: dir.join("tokenizer.model"),
                reason: format!(
                    "{} tokens, but config.json's vocab_size is {}",
                    vocab.tokens.len(),
                    config.vocab_size
                ),
            });
        }
        vocab.fit_to(config.vocab_size);
        let chat_template = tokenizer_config
            .chat_template
            .and_then(|v| v.as_str().map(str::to_string));
        Ok(Self {
            config,
            vocab,
            tensors,
            files,
            chat_template,
        })
    }
}

/// The weight files of a folder, in the order Hugging Face looks for them: a safetensors
/// index, one safetensors file, a PyTorch index, one PyTorch file.
fn weight_files(dir: &Path) -> Result<Vec<PathBuf>> {
    #[derive(serde::Deserialize)]
    struct Index {
        weight_map: std::collections::BTreeMap<String, String>,
    }
    for (index, single) in [
        ("model.safetensors.index.json", "model.safetensors"),
        ("pytorch_model.bin.index.json", "pytorch_model.bin"),
    ] {
        let index_path = dir.join(index);
        if index_path.exists() {
            let index: Index = read_json(&index_path)?;
            let shards: BTreeSet<String> = index.weight_map.into_values().collect();
            let mut files = Vec::new();
            for shard in shards {
                // Shards are file names beside the index, never paths elsewhere.
                let mut parts = Path::new(&shard).components();
                let one_name = matches!(
                    (parts.next(), parts.next()),
                    (Some(std::path::Component::Normal(_)), None)
                );
                if !one_name || shard.contains('\\') {
                    return Err(ConvertError::Read {
                        file: index_path,
                        reason: format!("shard `{shard}` is not a file name in the folder"),
                    });
                }
                files.push(dir.join(shard));
            }
            return Ok(files);
        }
        if dir.join(single).exists() {
            return Ok(vec![dir.join(single)]);
        }
    }
    Err(ConvertError::Read {
        file: dir.to_path_buf(),
        reason: "no weights: expected model.safetensors(.index.json) or \
                 pytorch_model.bin(.index.json)"
            .into(),
    })
}
