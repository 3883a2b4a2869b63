//! The tape-free Predictor against the model's own forward pass in evaluation mode.

use ndarray::{Array1, Array2, Axis};
use nn_core::{Float, Tensor};
use nn_layers::{
    BatchNorm1d, Dropout, InferenceStep, LeakyRelu, Linear, LogSoftmax, Maxout, Module, Predictor,
    PredictorError, Relu, Sequential, Sigmoid, Softmax, Tanh,
};
use rand::SeedableRng;
use rand::rngs::StdRng;

fn input<T: Float>(rows: usize, cols: usize, seed: u64) -> Array2<T> {
    Tensor::<T>::randn(&[rows, cols], seed)
        .to_array()
        .into_dimensionality()
        .expect("2-D")
}

/// Every supported layer, at widths that are not multiples of the padding.
fn model<T: Float>() -> Sequential<T> {
    let mut rng = StdRng::seed_from_u64(7);
    let mut net = Sequential::<T>::new()
        .add(Linear::new(37, 50, &mut rng))
        .add(Sigmoid)
        .add(Linear::new(50, 19, &mut rng))
        .add(BatchNorm1d::new(19))
        .add(Relu)
        .add(Dropout::new(0.3, 1))
        .add(Linear::new(19, 23, &mut rng))
        .add(Tanh)
        .add(Linear::new(23, 9, &mut rng))
        .add(LeakyRelu { slope: 0.1 })
        .add(Linear::new(9, 10, &mut rng))
        .add(Softmax { axis: 1 });
    // Moves BatchNorm's running statistics away from (0, 1).
    for seed in 0..3 {
        let x = Tensor::from_array(input::<T>(16, 37, 100 + seed) * T::lit(3.0));
        net.forward(&x);
    }
    net.eval();
    net
}

fn max_diff<T: Float>(a: &Array2<T>, b: &Array2<T>) -> f64 {
    assert_eq!(a.shape(), b.shape());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x.as_f64() - y.as_f64()).abs())
        .fold(0.0, f64::max)
}

fn agrees_with_forward<T: Float>(tol: f64) {
    let mut net = model::<T>();
    let mut p = Predictor::new(&net).expect("supported layers");
    assert_eq!((p.inputs(), p.outputs()), (37, 10));
    for rows in [1, 3, 100, 2] {
        let x = input::<T>(rows, 37, rows as u64);
        let expect: Array2<T> = net
            .forward(&Tensor::from_array(x.clone()))
            .to_array()
            .into_dimensionality()
            .expect("2-D");
        let batch = p.predict_batch(x.view()).to_owned();
        let d = max_diff(&batch, &expect);
        assert!(d < tol, "{}: batch of {rows} differs by {d}", T::NAME);
        for (i, row) in x.axis_iter(Axis(0)).enumerate() {
            let one = p.predict_one(row.as_slice().expect("standard layout"));
            let one = Array2::from_shape_vec((1, 10), one.to_vec()).expect("10 outputs");
            let d = max_diff(&one, &expect.select(Axis(0), &[i]));
            assert!(d < tol, "{}: example {i} of {rows} differs by {d}", T::NAME);
        }
    }
}

#[test]
fn predictor_agrees_with_the_model_in_f32() {
    agrees_with_forward::<f32>(1e-5);
}

#[test]
fn predictor_agrees_with_the_model_in_f64() {
    agrees_with_forward::<f64>(1e-12);
}

#[test]
fn log_softmax_output_and_no_bias() {
    let mut rng = StdRng::seed_from_u64(3);
    let w = Tensor::<f64>::randn(&[5, 3], 1);
    let mut net = Sequential::<f64>::new()
        .add(Linear::from_parameters(w, None))
        .add(Relu)
        .add(Linear::new(3, 4, &mut rng))
        .add(LogSoftmax { axis: 1 });
    let x = input::<f64>(6, 5, 9);
    let expect: Array2<f64> = net
        .forward(&Tensor::from_array(x.clone()))
        .to_array()
        .into_dimensionality()
        .expect("2-D");
    let mut p = Predictor::new(&net).expect("supported");
    assert!(max_diff(&p.predict_batch(x.view()).to_owned(), &expect) < 1e-12);
}

#[test]
fn an_unsupported_layer_is_named_with_its_position() {
    let mut rng = StdRng::seed_from_u64(0);
    let net = Sequential::<f32>::new()
        .add(Linear::new(4, 6, &mut rng))
        .add(Maxout::new(6, 2, 3, &mut rng));
    let err = Predictor::new(&net).expect_err("Maxout has no inference form");
    assert!(
        matches!(&err, PredictorError::Unsupported { layer } if layer.starts_with("layer 1 (Maxout")),
        "{err}"
    );
    assert!(err.to_string().contains("supported: Linear"), "{err}");
}

/// Convolutional networks run under `no_grad` (docs/performance.md measures why); the error says so.
#[test]
fn a_conv_net_is_refused_with_the_way_to_run_it() {
    let mut rng = StdRng::seed_from_u64(0);
    let net = Sequential::<f32>::new()
        .add(nn_layers::Conv2d::new(1, 4, 3, &mut rng))
        .add(Relu);
    let err = Predictor::new(&net).expect_err("conv layers have no inference form");
    assert!(
        matches!(&err, PredictorError::Unsupported { layer } if layer.starts_with("layer 0 (Conv2d")),
        "{err}"
    );
    assert!(err.to_string().contains("no_grad"), "{err}");
}

#[test]
fn layers_that_do_not_chain_are_an_error() {
    let steps = vec![
        InferenceStep::Affine {
            weight: Array2::<f32>::zeros((4, 6)),
            bias: None,
        },
        InferenceStep::Relu,
        InferenceStep::Affine {
            weight: Array2::zeros((5, 2)),
            bias: Some(Array1::zeros(2)),
        },
    ];
    assert_eq!(
        Predictor::from_steps(steps).expect_err("6 ≠ 5"),
        PredictorError::Width {
            index: 2,
            expected: 5,
            got: 6
        }
    );
    assert_eq!(
        Predictor::<f32>::from_steps(vec![InferenceStep::Relu]).expect_err("no weights"),
        PredictorError::NoWeights
    );
}

#[test]
#[should_panic(expected = "Predictor::predict_one: expects 37 inputs, got 36")]
fn a_wrong_input_width_panics_with_both_sizes() {
    let mut p = Predictor::new(&model::<f32>()).expect("supported");
    p.predict_one(&[0.0; 36]);
}

#[test]
fn a_batch_split_over_two_threads_gives_the_same_outputs() {
    let mut rng = StdRng::seed_from_u64(11);
    let mut net = Sequential::<f32>::new()
        .add(Linear::new(784, 64, &mut rng))
        .add(Sigmoid)
        .add(Linear::new(64, 10, &mut rng))
        .add(Softmax { axis: 1 });
    net.eval();
    let mut p = Predictor::new(&net).expect("supported");
    for rows in [100, 37, 24] {
        let x = input::<f32>(rows, 784, 5);
        nn_core::kernels::set_num_threads(1);
        let serial = p.predict_batch(x.view()).to_owned();
        nn_core::kernels::set_num_threads(2);
        let split = p.predict_batch(x.view()).to_owned();
        assert_eq!(serial, split, "batch of {rows}");
        let expect: Array2<f32> = net
            .forward(&Tensor::from_array(x.clone()))
            .to_array()
            .into_dimensionality()
            .expect("2-D");
        assert!(max_diff(&split, &expect) < 1e-5, "batch of {rows}");
    }
}
