//! Checkpoints travel to PyTorch and back: a model trained here, saved with
//! `nn_layers::save`, loads into the equivalent `nn.Sequential` with
//! `load_state_dict(safetensors.torch.load_file(path), strict=True)` and computes the same
//! logits (to 1e-6 in f32); a state dict PyTorch saved with `safetensors.torch.save_file`
//! loads here and predicts what PyTorch predicted. For an MLP with BatchNorm and a small CNN.
//!
//! Runs `tests/torch_checkpoint.py` with a Python that has torch and safetensors:
//! `$ZERO_NN_TORCH_PYTHON`, else `python3`. PyTorch is too large for CI, so without it the test
//! says plainly that it was skipped (`pip install torch safetensors numpy`).

mod common;

use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand::rngs::StdRng;
use zero_nn::Tensor;
use zero_nn::layers::checkpoint::{read_tensors, save_tensors};
use zero_nn::layers::{
    BatchNorm1d, Conv2d, Flatten, Linear, MaxPool2d, Module, Reduction, Relu, Sequential, Target,
    cross_entropy, load, save,
};
use zero_nn::optim::{Optimizer, Sgd};

fn torch_python() -> Option<PathBuf> {
    common::python_with("torch, safetensors")
}

fn build(arch: &str, seed: u64) -> Sequential<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    match arch {
        "mlp" => Sequential::new()
            .add(Linear::new(784, 50, &mut rng))
            .add(Relu)
            .add(BatchNorm1d::new(50))
            .add(Linear::new(50, 10, &mut rng)),
        _ => Sequential::new()
            .add(Conv2d::new(1, 4, 3, &mut rng))
            .add(Relu)
            .add(MaxPool2d::new(2))
            .add(Flatten)
            .add(Linear::new(4 * 13 * 13, 10, &mut rng)),
    }
}

fn input_shape(arch: &str, n: usize) -> Vec<usize> {
    if arch == "mlp" {
        vec![n, 784]
    } else {
        vec![n, 1, 28, 28]
    }
}

fn round_trip(python: &Path, arch: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    // Train a few steps, so that weights and BatchNorm's statistics are no longer initial.
    let mut net = build(arch, 1);
    let mut sgd = Sgd::new(net.parameter_tensors(), 0.1);
    for step in 0..5 {
        let x = Tensor::<f32>::randn(&input_shape(arch, 32), 100 + step);
        let labels: Vec<usize> = (0..32).map(|i| (i * 7 + step as usize) % 10).collect();
        net.zero_grad();
        let loss = cross_entropy(&net.forward(&x), Target::Classes(&labels), Reduction::Mean);
        loss.backward().expect("backward");
        sgd.step();
    }
    net.eval();
    let x = Tensor::<f32>::randn(&input_shape(arch, 16), 7).to_array();
    let logits = net.forward(&Tensor::from_array(x.clone())).to_array();
    save(&dir.path().join("ours.safetensors"), &net).expect("save");
    let inputs = [
        ("x".to_string(), x.view()),
        ("logits".to_string(), logits.view()),
    ];
    save_tensors(&dir.path().join("inputs.safetensors"), &inputs, &[]).expect("save inputs");

    let diff = common::ours_in_torch(
        python,
        "tests/torch_checkpoint.py",
        &[arch.as_ref(), dir.path().as_os_str()],
        arch,
    );
    assert!(diff <= 1e-6, "{arch}: PyTorch's logits differ by {diff}");

    // PyTorch's state dict, loaded here.
    let mut theirs = build(arch, 99);
    load(&dir.path().join("torch.safetensors"), &mut theirs).expect("load PyTorch's state dict");
    theirs.eval();
    let ours = theirs.forward(&Tensor::from_array(x)).to_array();
    let expected = read_tensors::<f32>(&dir.path().join("torch_logits.safetensors"))
        .expect("PyTorch's logits")
        .remove(0)
        .1;
    let d = common::max_diff(&ours, &expected);
    assert!(
        d <= 1e-5,
        "{arch}: logits from PyTorch's weights differ by {d}"
    );
    println!("{arch}: PyTorch agrees to {diff:.2e}; PyTorch's weights here agree to {d:.2e}");
}

#[test]
fn checkpoints_load_in_pytorch_and_pytorch_state_dicts_load_here() {
    let Some(python) = torch_python() else {
        eprintln!(
            "skipped: no Python with torch and safetensors \
             (set ZERO_NN_TORCH_PYTHON, or `pip install torch safetensors numpy`)"
        );
        return;
    };
    for arch in ["mlp", "cnn"] {
        round_trip(&python, arch);
    }
}
