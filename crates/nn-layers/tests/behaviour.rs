//! What the layers do, beyond their gradients: initialiser statistics, Dropout's masks and
//! scaling, BatchNorm's statistics in both modes, Sequential's naming and mode switching.

use ndarray::Axis;
use nn_core::Tensor;
use nn_layers::{BatchNorm1d, Dropout, Init, Linear, Module, Relu, Sequential};
use rand::SeedableRng;
use rand::rngs::StdRng;

fn mean_std(t: &Tensor<f64>) -> (f64, f64) {
    let a = t.to_array();
    let n = a.len() as f64;
    let mean = a.sum() / n;
    let var = a.mapv(|v| (v - mean).powi(2)).sum() / n;
    (mean, var.sqrt())
}

#[test]
fn initialisers_have_their_statistics() {
    let (fan_in, fan_out) = (400usize, 200usize);
    let (fi, fo) = (fan_in as f64, fan_out as f64);
    let uniform_std = |bound: f64| bound / 3f64.sqrt();
    let cases = [
        (Init::Normal { std: 0.01 }, 0.0, 0.01),
        (
            Init::Uniform {
                low: -0.5,
                high: 1.5,
            },
            0.5,
            uniform_std(1.0),
        ),
        (Init::XavierNormal, 0.0, (2.0 / (fi + fo)).sqrt()),
        (
            Init::XavierUniform,
            0.0,
            uniform_std((6.0 / (fi + fo)).sqrt()),
        ),
        (Init::HeNormal, 0.0, (2.0 / fi).sqrt()),
        (Init::LeCunNormal, 0.0, (1.0 / fi).sqrt()),
        (Init::HeUniform, 0.0, uniform_std((6.0 / fi).sqrt())),
    ];
    for (init, want_mean, want_std) in cases {
        let mut rng = StdRng::seed_from_u64(1);
        let w = init.tensor::<f64, _>(&[fan_in, fan_out], fan_in, fan_out, &mut rng);
        let (mean, std) = mean_std(&w);
        // 80,000 draws: the sample mean is within 4 standard errors, the std within 2%.
        assert!(
            (mean - want_mean).abs() < 4.0 * want_std / 80_000f64.sqrt(),
            "{init:?}: mean {mean}"
        );
        assert!(
            (std / want_std - 1.0).abs() < 0.02,
            "{init:?}: std {std}, want {want_std}"
        );
        // Same seed, same values.
        let again = init.tensor::<f64, _>(
            &[fan_in, fan_out],
            fan_in,
            fan_out,
            &mut StdRng::seed_from_u64(1),
        );
        assert_eq!(w.to_array(), again.to_array(), "{init:?}");
    }
    let mut rng = StdRng::seed_from_u64(1);
    let z = Init::Zeros.tensor::<f32, _>(&[3, 2], 3, 2, &mut rng);
    assert!(z.to_array().iter().all(|&v| v == 0.0));
    let c = Init::Constant(0.5).tensor::<f32, _>(&[3, 2], 3, 2, &mut rng);
    assert!(c.to_array().iter().all(|&v| v == 0.5));
}

#[test]
fn uniform_initialisers_stay_in_their_bounds() {
    let mut rng = StdRng::seed_from_u64(2);
    let b = (6.0f64 / 30.0).sqrt() as f32;
    let w = Init::HeUniform.tensor::<f32, _>(&[30, 30], 30, 30, &mut rng);
    assert!(w.to_array().iter().all(|v| v.abs() <= b));
}

#[test]
fn dropout_drops_about_p_and_scales_the_rest() {
    let mut d = Dropout::new(0.3, 42);
    let x = Tensor::<f64>::ones(&[200, 100]);
    let y = d.forward(&x).to_array();
    let dropped = y.iter().filter(|&&v| v == 0.0).count() as f64 / y.len() as f64;
    // 20,000 Bernoulli(0.3) draws: σ ≈ 0.0032.
    assert!((dropped - 0.3).abs() < 0.015, "dropped {dropped}");
    assert!(y.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.7).abs() < 1e-12));
    // Inverted scaling keeps the expected activation: the mean stays near 1.
    assert!((y.mean().expect("mean") - 1.0).abs() < 0.03);
    // Seeded: the same seed gives the same masks; successive calls give new ones.
    let again = Dropout::new(0.3, 42).forward(&x).to_array();
    assert_eq!(y, again);
    assert_ne!(y, d.forward(&x).to_array());
}

#[test]
fn dropout_extremes() {
    let x = Tensor::<f32>::ones(&[4, 4]);
    assert_eq!(Dropout::new(0.0, 0).forward(&x).to_array(), x.to_array());
    assert!(
        Dropout::new(1.0, 0)
            .forward(&x)
            .to_array()
            .iter()
            .all(|&v| v == 0.0)
    );
}

#[test]
#[should_panic(expected = "Dropout: p must be in [0, 1], got 1.5")]
fn dropout_rejects_a_bad_rate() {
    Dropout::new(1.5, 0);
}

#[test]
fn batch_norm_training_normalises_and_tracks_running_statistics() {
    let mut bn = BatchNorm1d::<f64>::new(2);
    let x = Tensor::<f64>::from_vec(&[4, 2], vec![1.0, 10.0, 2.0, 20.0, 3.0, 30.0, 4.0, 40.0]);
    let y = bn.forward(&x).to_array();
    for col in y.axis_iter(Axis(1)) {
        let mean = col.mean().expect("mean");
        let var = col.mapv(|v| (v - mean).powi(2)).mean().expect("var");
        assert!(mean.abs() < 1e-12);
        assert!((var - 1.0).abs() < 1e-4, "var {var}"); // eps = 1e-5 shaves a little
    }
    // r ← 0.9 r + 0.1 batch, with the unbiased batch variance (PyTorch's convention).
    let rm = bn.running_mean();
    assert!((rm[0] - 0.25).abs() < 1e-12 && (rm[1] - 2.5).abs() < 1e-12);
    let rv = bn.running_var();
    let (v0, v1) = (5.0 / 3.0, 500.0 / 3.0);
    assert!((rv[0] - (0.9 + 0.1 * v0)).abs() < 1e-12);
    assert!((rv[1] - (0.9 + 0.1 * v1)).abs() < 1e-12);
}

#[test]
fn batch_norm_evaluation_uses_the_running_statistics() {
    let mut bn = BatchNorm1d::<f64>::with_options(1, 1.0, 0.0);
    // Momentum 1: the running statistics become the last batch's.
    bn.forward(&Tensor::from_vec(&[3, 1], vec![1.0, 2.0, 6.0]));
    bn.eval();
    let y = bn.forward(&Tensor::from_vec(&[1, 1], vec![5.0])).item();
    // mean 3, unbiased variance (4 + 1 + 9)/2 = 7.
    assert!((y - 2.0 / 7f64.sqrt()).abs() < 1e-12, "{y}");
    // Evaluation does not move the statistics, and works on a single example.
    assert_eq!(bn.running_mean()[0], 3.0);
}

#[test]
#[should_panic(expected = "BatchNorm1d: expects (N, 3), got [4, 2]")]
fn batch_norm_names_a_shape_mismatch() {
    BatchNorm1d::<f32>::new(3).forward(&Tensor::zeros(&[4, 2]));
}

#[test]
fn sequential_switches_every_layer_and_names_its_buffers() {
    let mut rng = StdRng::seed_from_u64(0);
    let mut net = Sequential::<f64>::new()
        .add(Linear::new(3, 4, &mut rng))
        .add(BatchNorm1d::new(4))
        .add(Relu)
        .add(Dropout::new(0.5, 0));
    let buffers: Vec<String> = net.buffers().into_iter().map(|(n, _)| n).collect();
    assert_eq!(buffers, ["1.running_mean", "1.running_var"]);
    let params: Vec<String> = net.parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(params, ["0.weight", "0.bias", "1.weight", "1.bias"]);
    // In evaluation mode the network is deterministic (no dropout, fixed statistics).
    net.eval();
    let x = Tensor::randn(&[5, 3], 1);
    assert_eq!(net.forward(&x).to_array(), net.forward(&x).to_array());
    net.train();
    assert_ne!(net.forward(&x).to_array(), net.forward(&x).to_array());
}
