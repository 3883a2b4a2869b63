//! A language model's checkpoint in safetensors, in the names and layouts of the PyTorch model
//! of its shape — `nn.Embedding` → `nn.LSTM` / `nn.GRU` / `nn.RNN` (batch first) → `nn.Linear`,
//! as PyTorch's own word-language-model example names them:
//!
//! | here | PyTorch |
//! |---|---|
//! | embedding `(V, D)` | `encoder.weight` `(V, D)` |
//! | layer `l`'s `Wx (D, k·H)`, `Wh (H, k·H)` | `rnn.weight_ih_l{l}` `(k·H, D)`, `rnn.weight_hh_l{l}` `(k·H, H)` |
//! | its bias (one for the LSTM and the RNN) | `rnn.bias_ih_l{l}` (the bias), `rnn.bias_hh_l{l}` (zeros) |
//! | the GRU's two biases | `rnn.bias_ih_l{l}`, `rnn.bias_hh_l{l}` |
//! | Affine `(H, V)`, bias `(V)` | `decoder.weight` `(V, H)`, `decoder.bias` |
//!
//! Gates are in PyTorch's order already. With tied weights both `encoder.weight` and
//! `decoder.weight` are written (PyTorch's state dict holds both), so that
//! `load_state_dict(..., strict=True)` accepts the file; on loading they must be equal. The
//! model's shape travels in the metadata (`zero_nn.rnnlm.*`), and a file PyTorch saved loads
//! here when it carries the same keys (see `tests/torch_rnnlm.py`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ndarray::ArrayD;
use nn_core::{Float, Tensor};
use nn_layers::checkpoint::{CheckpointError, read_metadata, read_tensors, save_tensors};
use nn_layers::rnn::Recurrent;

use super::{CellKind, Rnnlm, RnnlmConfig};

/// Why a language model could not be saved or loaded.
#[derive(Debug, thiserror::Error)]
pub enum LmCheckpointError {
    /// The file itself: unreadable, corrupt, an entry missing or of another shape.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The metadata does not describe a language model this build can make.
    #[error("{path}: {reason}")]
    Shape {
        /// The file.
        path: PathBuf,
        /// What is missing or wrong.
        reason: String,
    },
}

const PREFIX: &str = "zero_nn.rnnlm.";

/// How a tensor of the model is stored.
enum Layout {
    AsIs,
    Transposed,
    /// A bias PyTorch splits in two: written as `bias_ih`, with `bias_hh` zeros beside it.
    SummedBias,
}

/// The model's tensors under PyTorch's names (a tied weight under its embedding name only).
fn named<T: Float>(model: &Rnnlm<T>) -> Vec<(String, Tensor<T>, Layout)> {
    let mut out = vec![(
        "encoder.weight".to_string(),
        model.embedding().weight().clone(),
        Layout::AsIs,
    )];
    for (l, layer) in model.layers().iter().enumerate() {
        let params = layer.parameters();
        let name = |n: &str| format!("rnn.{n}_l{l}");
        out.push((name("weight_ih"), params[0].1.clone(), Layout::Transposed));
        out.push((name("weight_hh"), params[1].1.clone(), Layout::Transposed));
        match layer {
            Recurrent::Gru(_) => {
                out.push((name("bias_ih"), params[2].1.clone(), Layout::AsIs));
                out.push((name("bias_hh"), params[3].1.clone(), Layout::AsIs));
            }
            _ => out.push((name("bias_ih"), params[2].1.clone(), Layout::SummedBias)),
        }
    }
    if !model.config().tie_weights {
        let (w, _) = model.output();
        out.push(("decoder.weight".into(), w, Layout::Transposed));
    }
    let (_, b) = model.output();
    out.push(("decoder.bias".into(), b.clone(), Layout::AsIs));
    out
}

fn cell_name(cell: CellKind) -> &'static str {
    match cell {
        CellKind::Rnn => "rnn",
        CellKind::Lstm => "lstm",
        CellKind::Gru => "gru",
    }
}

/// Saves `model` to `path` atomically (temporary file + rename).
///
/// # Errors
/// [`LmCheckpointError::Checkpoint`] if the file cannot be written (an older file is kept).
pub fn save<T: Float>(path: &Path, model: &Rnnlm<T>) -> Result<(), LmCheckpointError> {
    let mut arrays: Vec<(String, ArrayD<T>)> = Vec::new();
    for (name, tensor, layout) in named(model) {
        let value = tensor.to_array();
        match layout {
            Layout::AsIs => arrays.push((name, value)),
            Layout::Transposed => arrays.push((name, value.reversed_axes())),
            Layout::SummedBias => {
                let zeros = ArrayD::zeros(value.raw_dim());
                arrays.push((name.replace("bias_ih", "bias_hh"), zeros));
                arrays.push((name, value));
            }
        }
    }
    if model.config().tie_weights {
        let w = model.embedding().weight().to_array();
        arrays.push(("decoder.weight".into(), w));
    }
    let c = model.config();
    let meta = [
        ("cell", cell_name(c.cell).to_string()),
        ("vocabulary", c.vocabulary.to_string()),
        ("wordvec", c.wordvec.to_string()),
        ("hidden", c.hidden.to_string()),
        ("layers", c.layers.to_string()),
        ("dropout", c.dropout.to_string()),
        ("tie_weights", c.tie_weights.to_string()),
    ];
    let keys: Vec<(String, &str)> = meta
        .iter()
        .map(|(k, v)| (format!("{PREFIX}{k}"), v.as_str()))
        .collect();
    let metadata: Vec<(&str, &str)> = keys.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let views: Vec<(String, ndarray::ArrayViewD<'_, T>)> =
        arrays.iter().map(|(n, a)| (n.clone(), a.view())).collect();
    save_tensors(path, &views, &metadata)?;
    Ok(())
}

/// The shape saved with a checkpoint.
///
/// # Errors
/// [`LmCheckpointError`] if the file cannot be read or does not describe a language model.
pub fn read_config(path: &Path) -> Result<RnnlmConfig, LmCheckpointError> {
    let meta: HashMap<String, String> = read_metadata(path)?.into_iter().collect();
    let bad = |reason: String| LmCheckpointError::Shape {
        path: path.to_path_buf(),
        reason,
    };
    let get = |k: &str| {
        meta.get(&format!("{PREFIX}{k}")).ok_or_else(|| {
            bad(format!(
                "no {PREFIX}{k} in the metadata: not a language model"
            ))
        })
    };
    let number = |k: &str| -> Result<usize, LmCheckpointError> {
        let v = get(k)?;
        v.parse().ok().filter(|&n: &usize| n > 0).ok_or_else(|| {
            bad(format!(
                "{PREFIX}{k} = {v:?} is not a positive whole number"
            ))
        })
    };
    let cell = match get("cell")?.as_str() {
        "rnn" => CellKind::Rnn,
        "lstm" => CellKind::Lstm,
        "gru" => CellKind::Gru,
        other => return Err(bad(format!("unknown cell {other:?}"))),
    };
    let dropout: f64 = get("dropout")?
        .parse()
        .ok()
        .filter(|p| (0.0..1.0).contains(p))
        .ok_or_else(|| bad(format!("{PREFIX}dropout is not a probability below 1")))?;
    let tie_weights = match get("tie_weights")?.as_str() {
        "true" => true,
        "false" => false,
        other => return Err(bad(format!("{PREFIX}tie_weights = {other:?}"))),
    };
    let config = RnnlmConfig {
        vocabulary: number("vocabulary")?,
        wordvec: number("wordvec")?,
        hidden: number("hidden")?,
        cell,
        layers: number("layers")?,
        dropout,
        tie_weights,
    };
    if tie_weights && config.wordvec != config.hidden {
        return Err(bad("tied weights with wordvec ≠ hidden".into()));
    }
    Ok(config)
}

/// Loads a model saved by [`save`] (or by PyTorch with the same names and metadata). Every
/// entry must be there with its shape, and nothing else.
///
/// # Errors
/// [`LmCheckpointError`]: an unreadable or corrupt file, metadata that is not a language
/// model's, an entry missing, unexpected or of another shape, tied weights that differ.
pub fn load<T: Float>(path: &Path) -> Result<Rnnlm<T>, LmCheckpointError> {
    let config = read_config(path)?;
    let tied = config.tie_weights;
    let model = Rnnlm::with_config(config, 0);
    let mut file: HashMap<String, ArrayD<T>> = read_tensors(path)?.into_iter().collect();
    let mut take = |name: &str, expected: Vec<usize>| -> Result<ArrayD<T>, LmCheckpointError> {
        let a = file.remove(name).ok_or_else(|| CheckpointError::Missing {
            path: path.to_path_buf(),
            name: name.to_string(),
        })?;
        if a.shape() != expected.as_slice() {
            return Err(CheckpointError::Shape {
                path: path.to_path_buf(),
                name: name.to_string(),
                expected,
                found: a.shape().to_vec(),
            }
            .into());
        }
        Ok(a)
    };
    let mut values = Vec::new();
    for (name, tensor, layout) in named(&model) {
        let shape = tensor.shape();
        let value = match layout {
            Layout::AsIs => take(&name, shape)?,
            Layout::Transposed => {
                let reversed: Vec<usize> = shape.iter().rev().copied().collect();
                take(&name, reversed)?.reversed_axes()
            }
            Layout::SummedBias => {
                let hh = take(&name.replace("bias_ih", "bias_hh"), shape.clone())?;
                take(&name, shape)? + hh
            }
        };
        values.push((tensor, value));
    }
    if tied {
        let (v, d) = (model.config().vocabulary, model.config().wordvec);
        let decoder = take("decoder.weight", vec![v, d])?;
        if decoder != values[0].1 {
            return Err(LmCheckpointError::Shape {
                path: path.to_path_buf(),
                reason: "decoder.weight differs from encoder.weight in a model with tied \
                         weights"
                    .into(),
            });
        }
    }
    if let Some(name) = file.keys().min() {
        return Err(CheckpointError::Unexpected {
            path: path.to_path_buf(),
            name: name.clone(),
        }
        .into());
    }
    for (tensor, value) in values {
        tensor.set_value(value.as_standard_layout().into_owned());
    }
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> Rnnlm<f64> {
        let config = RnnlmConfig {
            cell: CellKind::Gru,
            ..RnnlmConfig::better(12, 4, 0.25)
        };
        Rnnlm::with_config(config, 1)
    }

    #[test]
    fn a_saved_model_loads_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lm.safetensors");
        let m = model();
        save(&path, &m).unwrap();
        let back = load::<f64>(&path).unwrap();
        assert_eq!(back.config(), m.config());
        for (a, b) in m.parameters().iter().zip(back.parameters()) {
            assert_eq!(a.to_array(), b.to_array());
        }
    }

    #[test]
    fn other_files_are_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lm.safetensors");
        save(&path, &model()).unwrap();
        let mut entries = read_tensors::<f64>(&path).unwrap();
        let metadata = read_metadata(&path).unwrap();
        let meta: Vec<(&str, &str)> = metadata
            .iter()
            .filter(|(k, _)| k.starts_with(PREFIX))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let write = |entries: &[(String, ArrayD<f64>)], meta: &[(&str, &str)]| {
            let views: Vec<_> = entries.iter().map(|(n, a)| (n.clone(), a.view())).collect();
            save_tensors(&path, &views, meta).unwrap();
            load::<f64>(&path).err().expect("refused").to_string()
        };
        assert!(write(&entries, &[]).contains("not a language model"));
        entries.push(("extra".into(), ArrayD::zeros(ndarray::IxDyn(&[1]))));
        assert!(write(&entries, &meta).contains("\"extra\" is not part of the model"));
        entries.pop();
        let i = entries
            .iter()
            .position(|(n, _)| n == "rnn.bias_hh_l1")
            .unwrap();
        entries[i].1 = ArrayD::zeros(ndarray::IxDyn(&[5]));
        assert!(write(&entries, &meta).contains("\"rnn.bias_hh_l1\" has shape [5]"));
        entries.remove(i);
        assert!(write(&entries, &meta).contains("no entry for the model's \"rnn.bias_hh_l1\""));
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        assert!(load::<f64>(&path).is_err());
    }
}
