//! The convolutional layers (book 1 ch.7): gradients against central differences in f64 (in
//! training and evaluation mode where they differ), BatchNorm2d's statistics, and checkpoints of
//! a small CNN.

mod common;

use common::{check, input};

use ndarray::Axis;
use nn_core::Tensor;
use nn_layers::{
    AvgPool2d, BatchNorm2d, Conv2d, Dropout, Flatten, Init, Linear, MaxPool2d, Module, Relu,
    Sequential, load, save,
};
use rand::SeedableRng;
use rand::rngs::StdRng;

fn rng() -> StdRng {
    StdRng::seed_from_u64(3)
}

#[test]
fn conv2d_layers() {
    let x = input(&[2, 3, 6, 5], 1);
    check("conv 3x3", &mut Conv2d::new(3, 4, 3, &mut rng()), &x);
    check(
        "conv stride 2 padding 1",
        &mut Conv2d::new(3, 2, 3, &mut rng())
            .with_stride(2)
            .with_padding(1),
        &x,
    );
    check(
        "conv 2x3 without bias, padding (2, 0)",
        &mut Conv2d::with_init(3, 2, (2, 3), Init::HeNormal, false, &mut rng())
            .with_padding((2, 0)),
        &x,
    );
}

#[test]
fn pooling_and_flatten_layers() {
    let x = input(&[2, 3, 6, 5], 2);
    check("max pool 2", &mut MaxPool2d::new(2), &x);
    check(
        "max pool 3 stride 2 padding 1",
        &mut MaxPool2d::new(3).with_stride(2).with_padding(1),
        &x,
    );
    check("avg pool 2", &mut AvgPool2d::new(2), &x);
    check(
        "avg pool (3, 2) stride 1 padding (1, 1)",
        &mut AvgPool2d::new((3, 2)).with_stride(1).with_padding(1),
        &x,
    );
    check("flatten", &mut Flatten, &x);
}

#[test]
fn batch_norm2d_in_both_modes() {
    let x = input(&[3, 2, 4, 3], 3);
    let mut bn = BatchNorm2d::new(2);
    // Non-trivial γ and β, so that their gradients are tested too.
    for (i, (_, p)) in bn.parameters().into_iter().enumerate() {
        p.set_value(input(&[2], 10 + i as u64));
    }
    check("BatchNorm2d training", &mut bn, &x);
    bn.eval();
    check("BatchNorm2d evaluation", &mut bn, &x);
}

#[test]
fn batch_norm2d_statistics_follow_pytorch() {
    let x = Tensor::from_array(input(&[4, 2, 3, 3], 4));
    let mut bn = BatchNorm2d::<f64>::new(2);
    let y = bn.forward(&x).to_array();
    let xa = x.to_array();
    for c in 0..2 {
        let channel = xa.index_axis(Axis(1), c);
        let n = channel.len() as f64;
        let mean = channel.mean().expect("not empty");
        let var = channel.mapv(|v| (v - mean).powi(2)).sum() / n;
        // Normalised with the biased variance of the batch...
        let out = y.index_axis(Axis(1), c);
        assert!(out.mean().expect("not empty").abs() < 1e-12);
        let expected = (xa[[0, c, 0, 0]] - mean) / (var + 1e-5).sqrt();
        assert!((out[[0, 0, 0]] - expected).abs() < 1e-12);
        // ...while the running variance takes the unbiased one, with momentum 0.1.
        assert!((bn.running_mean()[c] - 0.1 * mean).abs() < 1e-15);
        let unbiased = var * n / (n - 1.0);
        assert!((bn.running_var()[c] - (0.9 + 0.1 * unbiased)).abs() < 1e-15);
    }
    // Evaluation uses the running statistics.
    bn.eval();
    let y = bn.forward(&x).to_array();
    let (m, v) = (bn.running_mean()[0], bn.running_var()[0]);
    assert!((y[[1, 0, 2, 1]] - (xa[[1, 0, 2, 1]] - m) / (v + 1e-5).sqrt()).abs() < 1e-12);
}

#[test]
#[should_panic(expected = "BatchNorm2d: expects (N, 3, H, W), got [2, 4, 5, 5]")]
fn batch_norm2d_checks_channels() {
    let _ = BatchNorm2d::<f32>::new(3).forward(&Tensor::zeros(&[2, 4, 5, 5]));
}

/// conv → BN → ReLU → max pool → flatten → affine: the shape of the book's SimpleConvNet.
fn small_cnn(seed: u64) -> Sequential<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    Sequential::new()
        .add(Conv2d::new(1, 3, 3, &mut rng).with_padding(1))
        .add(BatchNorm2d::new(3))
        .add(Relu)
        .add(MaxPool2d::new(2))
        .add(Flatten)
        .add(Linear::new(3 * 3 * 2, 4, &mut rng))
}

#[test]
fn a_small_cnn_end_to_end() {
    let x = input(&[2, 1, 6, 4], 5);
    let mut net = small_cnn(6);
    net.eval();
    check("small CNN (evaluation)", &mut net, &x);
    let names: Vec<String> = net.parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "0.weight", "0.bias", "1.weight", "1.bias", "5.weight", "5.bias"
        ]
    );
}

#[test]
fn a_cnn_checkpoint_round_trips() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("cnn.safetensors");
    let mut net = small_cnn(7);
    // Move the running statistics away from their initial values before saving.
    let x = Tensor::from_array(input(&[4, 1, 6, 4], 8));
    let _ = net.forward(&x);
    net.eval();
    let before = net.forward(&x).to_array();
    save(&path, &net).expect("save");
    let mut other = small_cnn(9);
    other.eval();
    assert_ne!(other.forward(&x).to_array(), before);
    load(&path, &mut other).expect("load");
    assert_eq!(other.forward(&x).to_array(), before);
}

#[test]
fn dropout_works_on_feature_maps() {
    let x = Tensor::<f64>::ones(&[8, 4, 10, 10]);
    let mut d = Dropout::new(0.5, 1);
    let y = d.forward(&x).to_array();
    assert_eq!(y.shape(), &[8, 4, 10, 10]);
    let kept = y.iter().filter(|&&v| v != 0.0).count() as f64 / y.len() as f64;
    assert!((kept - 0.5).abs() < 0.05, "kept {kept}");
    assert!(y.iter().all(|&v| v == 0.0 || v == 2.0));
    Module::<f64>::eval(&mut d);
    assert_eq!(d.forward(&x).to_array(), x.to_array());
}
