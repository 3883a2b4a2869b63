//! Language-model checkpoints travel to and from PyTorch: a model trained a few windows here is
//! saved (`nn_text::lm::save`), loaded by `tests/torch_rnnlm.py` into the PyTorch model of the
//! same shape with `strict=True` and gives the same scores there; a PyTorch state dict saved with
//! the same metadata loads here (`nn_text::lm::load`) and gives PyTorch's scores. For the
//! book's Rnnlm (one LSTM), BetterRnnlm (two LSTMs, tied weights), a GRU and a plain RNN.
//!
//! Needs a Python with torch and safetensors: `$ZERO_NN_TORCH_PYTHON`, else `python3`; without
//! one the test says plainly that it was skipped.

mod common;

use std::path::Path;

use ndarray::{ArrayD, IxDyn};
use zero_nn::layers::checkpoint::{read_tensors, save_tensors};
use zero_nn::optim::Sgd;
use zero_nn::text::lm::{CellKind, Rnnlm, RnnlmConfig, load, save};
use zero_nn::text::tbptt::{Batches, train_windows};

fn round_trip(python: &Path, label: &str, config: RnnlmConfig) {
    let dir = tempfile::tempdir().expect("tempdir");
    let v = config.vocabulary;
    let model = Rnnlm::<f32>::with_config(config, 3);
    // A few windows of training, so that no bias is still zero.
    let corpus: Vec<usize> = (0..400).map(|i| (i * i + 3 * i) % v).collect();
    let mut sgd = Sgd::new(model.parameters(), 0.5);
    let mut batches = Batches::new(&corpus, 4, 5);
    train_windows(&model, &mut sgd, &mut batches, 5, Some(1.0), 0, |_| {}).expect("finite");
    model.set_training(false);
    model.reset_state();
    let (batch, time) = (3, 6);
    let xs: Vec<usize> = (0..batch * time).map(|i| (7 * i + 1) % v).collect();
    let scores = model.scores(&xs, batch, time).to_array();
    save(&dir.path().join("ours.safetensors"), &model).expect("save");
    let x = ArrayD::from_shape_vec(
        IxDyn(&[batch, time]),
        xs.iter().map(|&i| i as f32).collect(),
    )
    .expect("shape");
    let inputs = [
        ("x".to_string(), x.view()),
        ("scores".to_string(), scores.view()),
    ];
    save_tensors(&dir.path().join("inputs.safetensors"), &inputs, &[]).expect("save inputs");

    let diff = common::ours_in_torch(
        python,
        "tests/torch_rnnlm.py",
        &[dir.path().as_os_str()],
        label,
    );
    assert!(diff <= 1e-5, "{label}: PyTorch's scores differ by {diff}");

    let theirs = load::<f32>(&dir.path().join("torch.safetensors")).expect("PyTorch's file");
    theirs.set_training(false);
    let ours = theirs.scores(&xs, batch, time).to_array();
    let expected = read_tensors::<f32>(&dir.path().join("torch_scores.safetensors"))
        .expect("PyTorch's scores")
        .remove(0)
        .1;
    let d = common::max_diff(&ours, &expected);
    assert!(
        d <= 1e-5,
        "{label}: scores from PyTorch's weights differ by {d}"
    );
    println!("{label}: PyTorch agrees to {diff:.2e}; PyTorch's weights here agree to {d:.2e}");
}

#[test]
fn language_models_load_in_pytorch_and_back() {
    let Some(python) = common::python_with("torch, safetensors") else {
        return common::skip_without_torch("language_models_load_in_pytorch_and_back");
    };
    round_trip(&python, "Rnnlm", RnnlmConfig::lstm(30, 6, 5));
    round_trip(&python, "BetterRnnlm", RnnlmConfig::better(30, 6, 0.5));
    let gru = RnnlmConfig {
        cell: CellKind::Gru,
        layers: 2,
        ..RnnlmConfig::lstm(30, 6, 5)
    };
    round_trip(&python, "GRU x2", gru);
    round_trip(&python, "SimpleRnnlm", RnnlmConfig::simple(30, 6, 5));
}
