//! Every layer's gradients (input and parameters) against central differences in f64, in
//! training and evaluation mode where the two differ.

mod common;

use common::{check, input};

use nn_core::{GradcheckOptions, Tensor};
use nn_layers::{
    BatchNorm1d, Dropout, Elu, Gelu, GeluErf, Identity, Init, LeakyRelu, Linear, LogSoftmax,
    Maxout, Module, PReLU, Reduction, Relu, Sequential, Sigmoid, Softmax, Softplus, Step, Tanh,
    Target, cross_entropy, gradcheck_module,
};
use rand::SeedableRng;
use rand::rngs::StdRng;

fn rng() -> StdRng {
    StdRng::seed_from_u64(7)
}

#[test]
fn linear_with_and_without_bias() {
    check(
        "Linear",
        &mut Linear::new(4, 3, &mut rng()),
        &input(&[5, 4], 1),
    );
    check(
        "Linear without bias",
        &mut Linear::with_init(4, 3, Init::XavierNormal, false, &mut rng()),
        &input(&[5, 4], 2),
    );
}

#[test]
fn linear_flattens_image_batches() {
    // (N, C, H, W) → (N, C·H·W), as the book's Affine does after a convolution.
    let mut layer = Linear::new(2 * 2 * 3, 4, &mut rng());
    assert_eq!(
        layer
            .forward(&Tensor::from_array(input(&[3, 2, 2, 3], 3)))
            .shape(),
        [3, 4]
    );
    check("Linear on 4-D input", &mut layer, &input(&[3, 2, 2, 3], 3));
}

#[test]
fn activations() {
    let x = input(&[4, 5], 4);
    check("Sigmoid", &mut Sigmoid, &x);
    check("Tanh", &mut Tanh, &x);
    check("Relu", &mut Relu, &x);
    check("Gelu", &mut Gelu, &x);
    check("GeluErf", &mut GeluErf, &x);
    check("Softplus", &mut Softplus, &x);
    check("Identity", &mut Identity, &x);
    check("LeakyRelu", &mut LeakyRelu { slope: 0.1 }, &x);
    check("Elu", &mut Elu { alpha: 1.0 }, &x);
    check("Softmax", &mut Softmax { axis: 1 }, &x);
    check("Softmax axis 0", &mut Softmax { axis: 0 }, &x);
    check("LogSoftmax", &mut LogSoftmax { axis: 1 }, &x);
    check("PReLU", &mut PReLU::new(0.25), &x);
}

#[test]
fn step_passes_no_gradient() {
    // The step function is flat away from 0 and its output is a constant to the tape: in
    // `step(x) + x` only the second term carries a gradient, and the check agrees.
    let x = input(&[3, 3], 5);
    let report = gradcheck_module(
        &mut Step,
        &x,
        |m, x| Module::<f64>::forward(m, x) + x,
        GradcheckOptions::default(),
    )
    .unwrap_or_else(|e| panic!("Step: {e}"));
    assert!(report[0].max_abs_error <= 1e-6);
    let t = Tensor::from_array(x).requires_grad();
    assert!(!Module::<f64>::forward(&mut Step, &t).is_tracked());
}

#[test]
fn prelu_learns_its_slope() {
    // d/dα Σ PReLU(x) = Σ_{x<0} x.
    let mut layer = PReLU::<f64>::new(0.25);
    let x = input(&[10], 6);
    Module::forward(&mut layer, &Tensor::from_array(x.clone()))
        .sum()
        .backward()
        .expect("backward");
    let want: f64 = x.iter().filter(|&&v| v < 0.0).sum();
    let got = layer.parameters()[0].1.grad().expect("slope gradient")[0];
    assert!((got - want).abs() < 1e-12, "{got} vs {want}");
}

#[test]
fn maxout() {
    check(
        "Maxout",
        &mut Maxout::new(4, 3, 2, &mut rng()),
        &input(&[5, 4], 7),
    );
}

#[test]
fn batch_norm_in_training_and_evaluation() {
    let mut bn = BatchNorm1d::<f64>::new(3);
    // Non-trivial γ and β, and running statistics from a few batches.
    let params = bn.parameters();
    params[0].1.set_value(input(&[3], 8));
    params[1].1.set_value(input(&[3], 9));
    for seed in 10..13 {
        bn.forward(&Tensor::from_array(input(&[6, 3], seed)));
    }
    check("BatchNorm1d (train)", &mut bn, &input(&[6, 3], 13));
    bn.eval();
    check("BatchNorm1d (eval)", &mut bn, &input(&[6, 3], 14));
}

#[test]
fn dropout_in_evaluation_is_the_identity() {
    let mut d = Dropout::new(0.5, 0);
    Module::<f64>::eval(&mut d);
    check("Dropout (eval)", &mut d, &input(&[4, 4], 15));
}

#[test]
fn dropout_in_training_passes_gradient_through_kept_units_only() {
    // Random in training, so no central differences: the gradient of Σ w∘y must be w · 2 where
    // a unit was kept (y = 2x) and 0 where it was dropped.
    let mut d = Dropout::new(0.5, 1);
    let x = Tensor::from_array(input(&[8, 8], 16)).requires_grad();
    let y = Module::<f64>::forward(&mut d, &x);
    let w = input(&[8, 8], 17);
    y.backward_with(w.clone()).expect("backward");
    let (x, y, g) = (x.to_array(), y.to_array(), x.grad().expect("gradient"));
    for ((&x, &y), (&g, &w)) in x.iter().zip(&y).zip(g.iter().zip(&w)) {
        if y == 0.0 {
            assert_eq!(g, 0.0);
        } else {
            assert_eq!(y, 2.0 * x);
            assert_eq!(g, 2.0 * w);
        }
    }
}

#[test]
fn a_network_with_every_kind_of_layer_and_a_loss() {
    let mut r = rng();
    let mut net = Sequential::<f64>::new()
        .add(Linear::new(4, 6, &mut r))
        .add(BatchNorm1d::new(6))
        .add(Tanh)
        .add(Maxout::new(6, 5, 3, &mut r))
        .add(PReLU::new(0.2))
        .add(Linear::new(5, 3, &mut r));
    let labels = [0, 2, 1, 1, 0];
    for eval in [false, true] {
        if eval {
            net.eval();
        }
        let report = gradcheck_module(
            &mut net,
            &input(&[5, 4], 18),
            |m, x| cross_entropy(&m.forward(x), Target::Classes(&labels), Reduction::Mean),
            GradcheckOptions::default(),
        )
        .unwrap_or_else(|e| panic!("eval = {eval}: {e}"));
        // input + 2 + 2 (BatchNorm) + 2 (Maxout) + 1 + 2.
        assert_eq!(report.len(), 10);
    }
}

#[test]
fn a_wrong_gradient_is_reported_by_name() {
    // A module that hides its weight from the tape: the check must name that weight.
    struct Broken(Tensor<f64>);
    impl Module<f64> for Broken {
        fn forward(&mut self, x: &Tensor<f64>) -> Tensor<f64> {
            x * &self.0 + x * self.0.detach()
        }
        fn parameters(&self) -> Vec<nn_layers::Named<f64>> {
            vec![("w".into(), self.0.clone())]
        }
    }
    let mut m = Broken(Tensor::from_array(input(&[3], 19)).requires_grad());
    let err = gradcheck_module(
        &mut m,
        &input(&[2, 3], 20),
        |m, x| m.forward(x),
        GradcheckOptions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("gradcheck: w,"), "{err}");
}

#[test]
fn a_nan_gradient_never_passes() {
    // log of a negative weight: NaN forward, NaN by the tape and NaN numerically. Before
    // gradcheck judged NaN explicitly, NaN on both sides compared as "no mismatch".
    struct LogWeight(Tensor<f64>);
    impl Module<f64> for LogWeight {
        fn forward(&mut self, x: &Tensor<f64>) -> Tensor<f64> {
            x * &self.0.log()
        }
        fn parameters(&self) -> Vec<nn_layers::Named<f64>> {
            vec![("w".into(), self.0.clone())]
        }
    }
    let w = Tensor::<f64>::from_vec(&[2], vec![2.0, -1.0]).requires_grad();
    let mut m = LogWeight(w);
    let err = gradcheck_module(
        &mut m,
        &input(&[3, 2], 21),
        |m, x| m.forward(x),
        GradcheckOptions::default(),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("gradcheck: input, element [0, 0]"), "{text}");
    assert!(text.contains("NaN or infinite never passes"), "{text}");
}
