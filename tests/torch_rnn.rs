//! The recurrent layers against PyTorch's `torch.nn.LSTM`, `torch.nn.GRU` and `torch.nn.RNN`
//! (batch first, float64): every step's output, the last layer's final `h` (and `c`), and the
//! gradients of the input, the initial states and every weight and bias agree to 1e-10 — one and
//! two layers, several lengths, batches above 1, a carried (non-zero) initial state. The LSTM's
//! and the RNN's two biases are one here; both receive its gradient. Gradient clipping by global
//! norm agrees with `torch.nn.utils.clip_grad_norm_`.
//!
//! Runs `benches/compare/torch_rnn.py` with a Python that has torch: `$ZERO_NN_TORCH_PYTHON`,
//! else `python3`; without it the test says plainly that it was skipped.

mod common;

use common::{Case, case, random};
use rand::SeedableRng;
use rand::rngs::StdRng;
use zero_nn::Tensor;
use zero_nn::layers::rnn::{Gru, Lstm, LstmState, Recurrent, RecurrentState, Rnn};
use zero_nn::optim::clip_grad_norm;

/// The kinds of layer compared, as the case names spell them.
#[derive(Clone, Copy)]
enum Kind {
    Lstm,
    Gru,
    Rnn,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Lstm => "lstm",
            Kind::Gru => "gru",
            Kind::Rnn => "rnn",
        }
    }

    fn gates(self) -> usize {
        match self {
            Kind::Lstm => 4,
            Kind::Gru => 3,
            Kind::Rnn => 1,
        }
    }
}

/// `y = [outputs (batch, time·H) | h_n | c_n (the LSTM's)]` of a stack of `layers` layers built
/// from leaves in PyTorch's layout: x, h0, (c0,) then per layer weight_ih, weight_hh, bias_ih,
/// bias_hh.
fn stacked(kind: Kind, t: &[Tensor<f64>], layers: usize) -> Tensor<f64> {
    let (b, time) = (t[0].shape()[0], t[0].shape()[1]);
    let h = t[1].shape()[2];
    let first = if matches!(kind, Kind::Lstm) { 3 } else { 2 };
    let mut xs = t[0].clone();
    let mut last = None;
    for l in 0..layers {
        let p = &t[first + 4 * l..first + 4 * (l + 1)];
        let h0 = t[1].narrow(0, l, 1).reshape(&[b, h]);
        let (layer, state) = match kind {
            Kind::Lstm => (
                Recurrent::Lstm(Lstm::from_parameters(p[0].t(), p[1].t(), p[2].add(&p[3]))),
                RecurrentState::Lstm(LstmState {
                    h: h0,
                    c: t[2].narrow(0, l, 1).reshape(&[b, h]),
                }),
            ),
            Kind::Gru => (
                Recurrent::Gru(Gru::from_parameters(
                    p[0].t(),
                    p[1].t(),
                    p[2].clone(),
                    p[3].clone(),
                )),
                RecurrentState::H(h0),
            ),
            Kind::Rnn => (
                Recurrent::Rnn(Rnn::from_parameters(p[0].t(), p[1].t(), p[2].add(&p[3]))),
                RecurrentState::H(h0),
            ),
        };
        let (hs, s) = layer.forward_seq(&xs, Some(state));
        xs = hs;
        last = Some(s);
    }
    let mut parts = vec![xs.reshape(&[b, time * h])];
    match last.expect("a layer") {
        RecurrentState::Lstm(s) => parts.extend([s.h, s.c]),
        RecurrentState::H(h) => parts.push(h),
    }
    let refs: Vec<&Tensor<f64>> = parts.iter().collect();
    Tensor::concatenate(&refs, 1)
}

fn cases(kind: Kind) -> Vec<Case> {
    let mut rng = StdRng::seed_from_u64(7);
    let mut out = Vec::new();
    let k = kind.gates();
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
        ];
        if matches!(kind, Kind::Lstm) {
            inputs.push(("c0", random(&[layers, b, h], &mut rng)));
        }
        const NAMES: [[&str; 4]; 2] = [
            ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"],
            ["weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1"],
        ];
        for (l, names) in NAMES.iter().enumerate().take(layers) {
            let input = if l == 0 { d } else { h };
            inputs.push((
                names[0],
                random(&[k * h, input], &mut rng).mapv(|v| v * 0.5),
            ));
            inputs.push((names[1], random(&[k * h, h], &mut rng).mapv(|v| v * 0.5)));
            inputs.push((names[2], random(&[k * h], &mut rng)));
            inputs.push((names[3], random(&[k * h], &mut rng)));
        }
        let name = format!("{}_l{layers}_{i}", kind.name());
        out.push(case(name, inputs, &mut rng, |t| stacked(kind, t, layers)));
    }
    out
}

/// Gradients of several shapes clipped to a norm below, near and above theirs: the clipped
/// gradients and the norm returned.
fn clipping_cases() -> Vec<Case> {
    let mut rng = StdRng::seed_from_u64(8);
    [0.5, 4.0, 100.0]
        .iter()
        .enumerate()
        .map(|(i, &max_norm)| {
            let grads = [random(&[3, 4], &mut rng), random(&[5], &mut rng)];
            let params: Vec<Tensor<f64>> = grads
                .iter()
                .map(|g| {
                    let p = Tensor::zeros(g.shape()).requires_grad();
                    p.add_grad(g.view());
                    p
                })
                .collect();
            let norm = clip_grad_norm(&params, max_norm);
            let flat: Vec<f64> = params
                .iter()
                .flat_map(|p| p.grad().expect("set").into_iter())
                .collect();
            let scalar = |v: f64| ndarray::arr0(v).into_dyn();
            Case {
                name: format!("clip_{i}"),
                inputs: vec![
                    ("a", grads[0].clone()),
                    ("b", grads[1].clone()),
                    ("max_norm", scalar(max_norm)),
                ],
                g: scalar(0.0),
                ours: vec![
                    ("y".into(), ndarray::Array1::from(flat).into_dyn()),
                    ("norm".into(), scalar(norm)),
                ],
            }
        })
        .collect()
}

#[test]
fn recurrent_layers_and_clipping_agree_with_pytorch() {
    let Some(python) = common::python_with("torch, numpy") else {
        return common::skip_without_torch("recurrent_layers_and_clipping_agree_with_pytorch");
    };
    let mut all = cases(Kind::Lstm);
    all.extend(cases(Kind::Gru));
    all.extend(cases(Kind::Rnn));
    all.extend(clipping_cases());
    // Per case: y and the gradients of x, h0, (c0,) and four arrays per layer; per clipping
    // case the gradients and the norm.
    let expected: usize = all.iter().map(|c| c.ours.len()).sum();
    assert_eq!(expected, (3 * 8 + 2 * 12) + 2 * (3 * 7 + 2 * 11) + 3 * 2);
    common::agree_with_torch(&python, "benches/compare/torch_rnn.py", &all, expected);
}
