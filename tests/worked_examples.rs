//! The worked examples of the book and the course notes, through layers, tape and optimizers.

use zero_nn::core::Tensor;
use zero_nn::core::ndarray::Array2;
use zero_nn::data::toy::sin_noise;
use zero_nn::layers::{
    Identity, Init, Linear, Module, Reduction, Sequential, Sigmoid, mse, sum_squared_error,
};
use zero_nn::optim::{Adam, Optimizer, Sgd};

use rand::SeedableRng;
use rand::rngs::StdRng;

fn close(name: &str, got: f64, want: f64) {
    assert!(
        (got - want).abs() <= 1e-12,
        "{name}: got {got}, derived by hand {want}"
    );
}

fn check_matrix(name: &str, got: &ndarray::ArrayD<f64>, want: [[f64; 2]; 2]) {
    for i in 0..2 {
        for j in 0..2 {
            close(&format!("{name}[{i}][{j}]"), got[[i, j]], want[i][j]);
        }
    }
}

/// The classic 2-2-2 network. The notes write weights with one row per receiving node; this
/// project stores `(in, out)` as the book does, so each matrix is transposed on the way in.
///
/// Forward, by hand:
///   net_h1 = 0.15·0.05 + 0.2·0.1 + 0.35 = 0.3775      h1 = σ(0.3775) = 0.5932699921071872
///   net_h2 = 0.25·0.05 + 0.3·0.1 + 0.35 = 0.3925      h2 = σ(0.3925) = 0.5968843782597670
///   y1 = 0.4·h1 + 0.45·h2 + 0.6 = 1.10590596705977  (identity output)
///   y2 = 0.5·h1 + 0.55·h2 + 0.6 = 1.2249214040964653
///   L = ½((y1 − 0.01)² + (y2 − 0.99)²) = 0.6280989773699321
/// Backward:
///   δo = y − t = (1.09590596705977, 0.23492140409646534)      = ∂L/∂b2
///   ∂L/∂w2[k][j] = δo_k · h_j
///   ∂L/∂h_j = Σ_k δo_k · w2[k][j] = (0.5558230888721407, 0.6223644574299525)
///   δh_j = ∂L/∂h_j · h_j (1 − h_j) = (0.13412050518570606, 0.14974923887667657) = ∂L/∂b1
///   ∂L/∂w1[j][i] = δh_j · x_i
#[test]
fn the_2_2_2_network_gradients_and_one_sgd_step() {
    let x = Tensor::<f64>::from_vec(&[1, 2], vec![0.05, 0.1]);
    let t = Tensor::<f64>::from_vec(&[1, 2], vec![0.01, 0.99]);
    let rows = |w: [[f64; 2]; 2]| Tensor::from_array(Array2::from(w.to_vec()).reversed_axes());
    let w1 = rows([[0.15, 0.2], [0.25, 0.3]]);
    let w2 = rows([[0.4, 0.45], [0.5, 0.55]]);
    let b = |v: f64| Tensor::from_vec(&[2], vec![v, v]);
    let mut net = Sequential::<f64>::new()
        .add(Linear::from_parameters(w1, Some(b(0.35))))
        .add(Sigmoid)
        .add(Linear::from_parameters(w2, Some(b(0.6))))
        .add(Identity);

    let y = net.forward(&x);
    close("y1", y.to_array()[[0, 0]], 1.10590596705977);
    close("y2", y.to_array()[[0, 1]], 1.2249214040964653);
    let loss = sum_squared_error(&y, &t);
    close("L", loss.item(), 0.6280989773699321);
    loss.backward().expect("backward");

    let params = net.parameters();
    let grad = |i: usize| params[i].1.grad().expect("gradient");
    let (h1, h2) = (0.5932699921071872, 0.596884378259767);
    let d_o = [1.09590596705977, 0.23492140409646534];
    let d_h = [0.13412050518570606, 0.14974923887667657];
    // Gradients in the (in, out) layout: g[i][j] = input_i · δ_j.
    check_matrix(
        "∂L/∂W1",
        &grad(0),
        [[0.05 * d_h[0], 0.05 * d_h[1]], [0.1 * d_h[0], 0.1 * d_h[1]]],
    );
    // = [[0.006706025259285303, 0.007487461943833829], [0.013412050518570607, 0.014974923887667657]]
    close("∂L/∂W1[0][0]", grad(0)[[0, 0]], 0.006706025259285303);
    close("∂L/∂b1[0]", grad(1)[0], d_h[0]);
    close("∂L/∂b1[1]", grad(1)[1], d_h[1]);
    check_matrix(
        "∂L/∂W2",
        &grad(2),
        [[h1 * d_o[0], h1 * d_o[1]], [h2 * d_o[0], h2 * d_o[1]]],
    );
    // = [[0.6501681244277691, 0.13937181955411934], [0.6541291517796395, 0.1402209162240302]]
    close("∂L/∂W2[0][0]", grad(2)[[0, 0]], 0.6501681244277691);
    close("∂L/∂b2[0]", grad(3)[0], d_o[0]);
    close("∂L/∂b2[1]", grad(3)[1], d_o[1]);

    // One SGD step, lr 0.1: w ← w − 0.1 ∂L/∂w.
    let mut opt = Sgd::new(net.parameter_tensors(), 0.1);
    opt.step();
    let value = |i: usize| params[i].1.to_array();
    check_matrix(
        "W1 after the step (transposed)",
        &value(0),
        [
            [0.14932939747407145, 0.2492512538056166],
            [0.19865879494814295, 0.2985025076112332],
        ],
    );
    close("b1[0] after", value(1)[0], 0.3365879494814294);
    close("b1[1] after", value(1)[1], 0.33502507611233234);
    check_matrix(
        "W2 after the step (transposed)",
        &value(2),
        [
            [0.3349831875572231, 0.48606281804458806],
            [0.3845870848220361, 0.5359779083775971],
        ],
    );
    close("b2[0] after", value(3)[0], 0.490409403294023);
    close("b2[1] after", value(3)[1], 0.5765078595903534);
    // And the loss went down.
    let after = sum_squared_error(&net.forward(&x), &t).item();
    assert!(after < 0.6280989773699321, "loss after the step: {after}");
}

/// Trains the notes' 1-8-1 sigmoid network (N(0, 1) weights) on `sin_noise(40, 0.05)` with
/// standardized targets, full batch, MSE; returns the final loss.
fn fit_sin(seed: u64, make: impl FnOnce(Vec<Tensor<f64>>) -> Box<dyn Optimizer>) -> (f64, f64) {
    let (x, t) = sin_noise(40, 0.05, 0);
    let (mean, std) = {
        let m = t.mean().expect("mean");
        (m, (t.mapv(|v| (v - m).powi(2)).mean().expect("var")).sqrt())
    };
    let x = Tensor::from_array(x.insert_axis(ndarray::Axis(1)));
    let t = Tensor::from_array(t.mapv(|v| (v - mean) / std).insert_axis(ndarray::Axis(1)));
    let mut rng = StdRng::seed_from_u64(seed);
    let init = Init::Normal { std: 1.0 };
    let mut net = Sequential::<f64>::new()
        .add(Linear::with_init(1, 8, init, true, &mut rng))
        .add(Sigmoid)
        .add(Linear::with_init(8, 1, init, true, &mut rng));
    let mut opt = make(net.parameter_tensors());
    let first = mse(&net.forward(&x), &t, Reduction::Mean).item();
    let mut last = first;
    for _ in 0..2000 {
        opt.zero_grad();
        let loss = mse(&net.forward(&x), &t, Reduction::Mean);
        last = loss.item();
        assert!(last.is_finite(), "loss became {last}");
        loss.backward().expect("backward");
        opt.step();
    }
    (first, last)
}

#[test]
fn sin_regression_adam_escapes_the_plateau_where_gd_stalls() {
    // Three initialisations, so that the lesson is not one lucky draw.
    for seed in 1..=3 {
        let (gd_first, gd) = fit_sin(seed, |p| Box::new(Sgd::new(p, 0.01)));
        let (adam_first, adam) = fit_sin(seed, |p| Box::new(Adam::new(p, 0.05)));
        eprintln!(
            "sin_noise(40, 0.05), 1-8-1 sigmoid, init seed {seed}, 2000 full-batch epochs: \
             GD lr 0.01 {gd_first:.4} → {gd:.6}, Adam lr 0.05 {adam_first:.4} → {adam:.6}"
        );
        assert_eq!(gd_first, adam_first, "both start from the same network");
        // Standardized targets: a flat line scores 1.0, and the noise alone costs about
        // (0.05 / 0.32)² ≈ 0.024 (0.32 is the standard deviation of sin(2πx) on [0, 0.5]).
        assert!(
            adam < 0.05,
            "seed {seed}: Adam's final loss {adam}, not near the noise floor"
        );
        assert!(
            gd > 0.5,
            "seed {seed}: GD's final loss {gd}, expected it to stall"
        );
        assert!(adam * 10.0 < gd, "seed {seed}: Adam {adam} vs GD {gd}");
    }
}
