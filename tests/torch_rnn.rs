//! The LSTM against PyTorch's `torch.nn.LSTM` (batch first, float64): every step's output, the
//! last layer's final `h` and `c`, and the gradients of the input, the initial states and every
//! weight and bias agree to 1e-10 — one and two layers, several lengths, batches above 1, a
//! carried (non-zero) initial state. PyTorch's two biases are one here; both receive its
//! gradient.
//!
//! Runs `benches/compare/torch_rnn.py` with a Python that has torch: `$ZERO_NN_TORCH_PYTHON`,
//! else `python3`; without it the test says plainly that it was skipped.

mod common;

use common::{Case, case, random};
use rand::SeedableRng;
use rand::rngs::StdRng;
use zero_nn::Tensor;
use zero_nn::layers::rnn::{Lstm, LstmState};

/// `y = [outputs (batch, time·H) | h_n | c_n]` of a stack of `layers` LSTMs built from leaves in
/// PyTorch's layout: x, h0, c0, then per layer weight_ih, weight_hh, bias_ih, bias_hh.
fn stacked(t: &[Tensor<f64>], layers: usize) -> Tensor<f64> {
    let (b, time) = (t[0].shape()[0], t[0].shape()[1]);
    let h = t[1].shape()[2];
    let mut xs = t[0].clone();
    let mut last = None;
    for l in 0..layers {
        let p = &t[3 + 4 * l..3 + 4 * (l + 1)];
        let lstm = Lstm::from_parameters(p[0].t(), p[1].t(), p[2].add(&p[3]));
        let state = LstmState {
            h: t[1].narrow(0, l, 1).reshape(&[b, h]),
            c: t[2].narrow(0, l, 1).reshape(&[b, h]),
        };
        let (hs, s) = lstm.forward_seq(&xs, Some(state));
        xs = hs;
        last = Some(s);
    }
    let last = last.expect("a layer");
    Tensor::concatenate(&[&xs.reshape(&[b, time * h]), &last.h, &last.c], 1)
}

fn cases() -> Vec<Case> {
    let mut rng = StdRng::seed_from_u64(7);
    let mut out = Vec::new();
    // (layers, batch, time, input, hidden)
    let shapes = [
        (1, 1, 1, 3, 2),
        (1, 3, 5, 4, 3),
        (2, 2, 7, 3, 4),
        (1, 2, 35, 2, 3),
        (2, 4, 3, 5, 2),
    ];
    for (i, (layers, b, time, d, h)) in shapes.into_iter().enumerate() {
        let mut inputs = vec![
            ("x", random(&[b, time, d], &mut rng)),
            ("h0", random(&[layers, b, h], &mut rng)),
            ("c0", random(&[layers, b, h], &mut rng)),
        ];
        const NAMES: [[&str; 4]; 2] = [
            ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"],
            ["weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1"],
        ];
        for (l, names) in NAMES.iter().enumerate().take(layers) {
            let input = if l == 0 { d } else { h };
            inputs.push((
                names[0],
                random(&[4 * h, input], &mut rng).mapv(|v| v * 0.5),
            ));
            inputs.push((names[1], random(&[4 * h, h], &mut rng).mapv(|v| v * 0.5)));
            inputs.push((names[2], random(&[4 * h], &mut rng)));
            inputs.push((names[3], random(&[4 * h], &mut rng)));
        }
        out.push(case(format!("lstm_l{layers}_{i}"), inputs, &mut rng, |t| {
            stacked(t, layers)
        }));
    }
    out
}

#[test]
fn lstm_agrees_with_pytorch() {
    let Some(python) = common::python_with("torch, numpy") else {
        return common::skip_without_torch("lstm_agrees_with_pytorch");
    };
    let cases = cases();
    // Per case: y and the gradients of x, h0, c0 and four arrays per layer.
    let expected: usize = cases.iter().map(|c| c.ours.len()).sum();
    assert_eq!(expected, 3 * 8 + 2 * 12);
    common::agree_with_torch(&python, "benches/compare/torch_rnn.py", &cases, expected);
}
