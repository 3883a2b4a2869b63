//! Recurrent layers (the sequel's ch.5 「リカレントニューラルネットワーク」, ch.6 「ゲート付き
//! RNN」 and its GRU appendix): the plain RNN `h = tanh(x Wx + h Wh + b)`, the [`Lstm`] and the
//! [`Gru`], each as one step and unrolled over a batch-first `(batch, time, features)` sequence
//! from a carried state, as the book's `TimeRNN` / `TimeLSTM` do. [`Recurrent`] holds any of the
//! three, so that a model can stack them and carry their states alike.
//!
//! Weights are stored as the book stores them, `Wx (input, k·hidden)` and `Wh (hidden,
//! k·hidden)`, the gates side by side along the columns in PyTorch's order; `from_torch` takes
//! PyTorch's transposed `weight_ih` / `weight_hh`.
//!
//! ```
//! use nn_core::Tensor;
//! use nn_layers::rnn::Rnn;
//! use rand::SeedableRng;
//! let mut rng = rand::rngs::StdRng::seed_from_u64(0);
//! let rnn = Rnn::<f32>::new(3, 5, &mut rng);
//! let (hs, h) = rnn.forward_seq(&Tensor::zeros(&[2, 4, 3]), None);
//! assert_eq!(hs.shape(), vec![2, 4, 5]);
//! assert_eq!(h.shape(), vec![2, 5]);
//! ```

mod gru;
mod lstm;

use ndarray::{ArrayD, Axis};
use nn_core::{Float, Tensor};
use rand::Rng;

pub use gru::{Gru, gru_cell};
pub use lstm::{Lstm, LstmState, lstm_cell, lstm_cell_row};

use crate::init::Init;
use crate::module::Named;

pub(crate) fn sigmoid<T: Float>(v: T) -> T {
    T::one() / (T::one() + (-v).exp())
}

/// PyTorch's initialisation of its recurrent layers: every weight and bias from U(±1/√hidden).
pub(crate) fn uniform_init<T: Float, R: Rng + ?Sized>(
    shape: &[usize],
    hidden: usize,
    rng: &mut R,
) -> Tensor<T> {
    let bound = 1.0 / (hidden.max(1) as f64).sqrt();
    Init::Uniform {
        low: -bound,
        high: bound,
    }
    .tensor(shape, hidden, hidden, rng)
    .requires_grad()
}

/// Moves the equal column blocks of `w` (gates along the last axis) from the order `from` to
/// the order `to`, each block named by its letter.
pub(crate) fn reorder_gates<T: Float>(w: &ArrayD<T>, from: &[char], to: &[char]) -> ArrayD<T> {
    let ax = Axis(w.ndim() - 1);
    let h = w.len_of(ax) / from.len();
    let blocks: Vec<_> = to
        .iter()
        .map(|gate| {
            let k = from.iter().position(|x| x == gate).expect("the same gates");
            w.slice_axis(ax, ndarray::Slice::from(k * h..(k + 1) * h))
        })
        .collect();
    let joined = ndarray::concatenate(ax, &blocks).expect("blocks of one shape");
    // Joined along the last axis, ndarray lays the result out column-major; the kernels read
    // weights fastest in row-major order.
    if joined.is_standard_layout() {
        joined
    } else {
        joined.as_standard_layout().into_owned()
    }
}

/// Keeps a constant as a trainable leaf, and a recorded result (a weight computed inside a
/// larger graph) as it is, so that gradients flow back through it.
pub(crate) fn param<T: Float>(t: Tensor<T>) -> Tensor<T> {
    if t.is_tracked() && !t.is_leaf() {
        t
    } else {
        t.requires_grad()
    }
}

/// `x Wx + b` for every step at once, `(batch, time, k)` from `xs` `(batch, time, D)` and
/// `Wx (D, k)`, with the batch; a panic naming `layer` if `xs` is not of that shape.
pub(crate) fn input_products<T: Float>(
    layer: &str,
    xs: &Tensor<T>,
    w_x: &Tensor<T>,
    b: &Tensor<T>,
) -> (usize, Tensor<T>) {
    let (d, k) = (w_x.shape()[0], w_x.shape()[1]);
    let (batch, t) = match xs.shape()[..] {
        [batch, t, dx] if dx == d => (batch, t),
        _ => panic!("{layer}: input {:?} is not (batch, time, {d})", xs.shape()),
    };
    let xw = xs
        .reshape(&[batch * t, d])
        .affine(w_x, b)
        .reshape(&[batch, t, k]);
    (batch, xw)
}

/// Panics naming `layer` unless `Wx` is `(D, k·H)`, `Wh` `(H, k·H)` and each bias `(k·H)`, for
/// `k = gates`.
pub(crate) fn check_weights<T: Float>(
    layer: &str,
    gates: usize,
    w_x: &Tensor<T>,
    w_h: &Tensor<T>,
    biases: &[&Tensor<T>],
) {
    let (ws, hs) = (w_x.shape(), w_h.shape());
    let fits = ws.len() == 2
        && hs.len() == 2
        && hs[1] == gates * hs[0]
        && ws[1] == hs[1]
        && biases.iter().all(|b| b.shape() == [hs[1]]);
    let k = if gates == 1 {
        String::new()
    } else {
        gates.to_string()
    };
    assert!(
        fits,
        "{layer}: Wx {ws:?}, Wh {hs:?} and biases {:?} are not (D, {k}H), (H, {k}H), ({k}H)",
        biases.iter().map(|b| b.shape()).collect::<Vec<_>>()
    );
}

/// Panics naming `layer` unless a state of `shape` fits a batch of `batch` and `hidden` units.
pub(crate) fn check_state(layer: &str, shape: &[usize], batch: usize, hidden: usize) {
    assert!(
        shape == [batch, hidden],
        "{layer}: a state of {shape:?} for a batch of {batch} and {hidden} units"
    );
}

/// PyTorch's `(k·H, D)` weight in this layout, `(D, k·H)`.
pub(crate) fn from_torch_layout<T: Float>(w: &ArrayD<T>) -> Tensor<T> {
    Tensor::from_array(w.t().as_standard_layout().into_owned())
}

/// Runs `step` over the time axis of `xw` `(batch, time, k)` (each step's slice `(batch, k)`)
/// and stacks the `(batch, hidden)` results into `(batch, time, hidden)`.
pub(crate) fn unroll<T: Float>(
    xw: &Tensor<T>,
    hidden: usize,
    mut step: impl FnMut(&Tensor<T>) -> Tensor<T>,
) -> Tensor<T> {
    let s = xw.shape();
    let (b, t, k) = (s[0], s[1], s[2]);
    let hs: Vec<Tensor<T>> = (0..t)
        .map(|i| step(&xw.narrow(1, i, 1).reshape(&[b, k])).reshape(&[b, 1, hidden]))
        .collect();
    let refs: Vec<&Tensor<T>> = hs.iter().collect();
    Tensor::concatenate(&refs, 1)
}

/// The plain RNN layer: the book's `RNN` cell and, over a sequence, its `TimeRNN`
/// (`torch.nn.RNN` with `tanh`).
pub struct Rnn<T: Float = f32> {
    w_x: Tensor<T>,
    w_h: Tensor<T>,
    b: Tensor<T>,
}

impl<T: Float> Rnn<T> {
    /// PyTorch's initialisation: every weight and the bias from U(±1/√hidden).
    pub fn new<R: Rng + ?Sized>(input: usize, hidden: usize, rng: &mut R) -> Self {
        Rnn {
            w_x: uniform_init(&[input, hidden], hidden, rng),
            w_h: uniform_init(&[hidden, hidden], hidden, rng),
            b: uniform_init(&[hidden], hidden, rng),
        }
    }

    /// From `Wx (D, H)`, `Wh (H, H)` and `b (H)` (constants become trainable leaves; recorded
    /// results are kept as they are).
    ///
    /// # Panics
    /// If the shapes do not fit together (a programmer error).
    pub fn from_parameters(w_x: Tensor<T>, w_h: Tensor<T>, b: Tensor<T>) -> Self {
        check_weights("Rnn", 1, &w_x, &w_h, &[&b]);
        Rnn {
            w_x: param(w_x),
            w_h: param(w_h),
            b: param(b),
        }
    }

    /// From PyTorch's `nn.RNN` parameters of one layer: `weight_ih (H, D)`, `weight_hh (H, H)`,
    /// `bias_ih` and `bias_hh (H)` (summed: they only ever appear added).
    ///
    /// # Panics
    /// As [`Rnn::from_parameters`].
    pub fn from_torch(
        weight_ih: &ArrayD<T>,
        weight_hh: &ArrayD<T>,
        bias_ih: &ArrayD<T>,
        bias_hh: &ArrayD<T>,
    ) -> Self {
        Self::from_parameters(
            from_torch_layout(weight_ih),
            from_torch_layout(weight_hh),
            Tensor::from_array(bias_ih + bias_hh),
        )
    }

    /// The hidden size `H`.
    pub fn hidden_size(&self) -> usize {
        self.w_h.shape()[0]
    }

    /// The input size `D`.
    pub fn input_size(&self) -> usize {
        self.w_x.shape()[0]
    }

    /// `Wx`, `Wh` and `b`, named.
    pub fn parameters(&self) -> Vec<Named<T>> {
        vec![
            ("weight_ih".into(), self.w_x.clone()),
            ("weight_hh".into(), self.w_h.clone()),
            ("bias".into(), self.b.clone()),
        ]
    }

    /// One step from the input's share of the pre-activation, `x Wx + b` `(batch, H)`.
    pub fn step(&self, xw: &Tensor<T>, h: &Tensor<T>) -> Tensor<T> {
        xw.add(&h.matmul(&self.w_h)).tanh()
    }

    /// The book's `TimeRNN.forward`: `xs` `(batch, time, D)` → every step's `h`
    /// `(batch, time, H)` and the last one, starting from `h0` (zeros if `None`).
    ///
    /// # Panics
    /// If `xs` is not `(batch, time, D)` or `h0` does not match the batch (a programmer error).
    pub fn forward_seq(&self, xs: &Tensor<T>, h0: Option<Tensor<T>>) -> (Tensor<T>, Tensor<T>) {
        let (b, xw) = input_products("Rnn", xs, &self.w_x, &self.b);
        let h = self.hidden_size();
        let mut state = h0.unwrap_or_else(|| Tensor::zeros(&[b, h]));
        check_state("Rnn", &state.shape(), b, h);
        let hs = unroll(&xw, h, |xw_t| {
            state = self.step(xw_t, &state);
            state.clone()
        });
        (hs, state)
    }
}

/// Any of the three recurrent layers, so that a model can hold a stack of one kind chosen at
/// run time.
pub enum Recurrent<T: Float = f32> {
    /// The plain RNN.
    Rnn(Rnn<T>),
    /// The LSTM.
    Lstm(Lstm<T>),
    /// The GRU.
    Gru(Gru<T>),
}

/// The state a [`Recurrent`] layer carries: `h` alone, or the LSTM's `h` and `c`.
#[derive(Clone)]
pub enum RecurrentState<T: Float = f32> {
    /// The RNN's or the GRU's hidden state.
    H(Tensor<T>),
    /// The LSTM's hidden state and memory cell.
    Lstm(LstmState<T>),
}

impl<T: Float> RecurrentState<T> {
    /// The same values, their history cut (truncated backpropagation through time).
    pub fn detach(&self) -> Self {
        match self {
            RecurrentState::H(h) => RecurrentState::H(h.detach()),
            RecurrentState::Lstm(s) => RecurrentState::Lstm(s.detach()),
        }
    }

    /// The hidden state `h` `(batch, H)`.
    pub fn h(&self) -> &Tensor<T> {
        match self {
            RecurrentState::H(h) => h,
            RecurrentState::Lstm(s) => &s.h,
        }
    }
}

impl<T: Float> Recurrent<T> {
    /// The hidden size `H`.
    pub fn hidden_size(&self) -> usize {
        match self {
            Recurrent::Rnn(l) => l.hidden_size(),
            Recurrent::Lstm(l) => l.hidden_size(),
            Recurrent::Gru(l) => l.hidden_size(),
        }
    }

    /// The layer's parameters, named.
    pub fn parameters(&self) -> Vec<Named<T>> {
        match self {
            Recurrent::Rnn(l) => l.parameters(),
            Recurrent::Lstm(l) => l.parameters(),
            Recurrent::Gru(l) => l.parameters(),
        }
    }

    /// Runs the layer over `xs` `(batch, time, D)` from `state` (zeros if `None`).
    ///
    /// # Panics
    /// As the layer's `forward_seq`, and if `state` is of another layer's kind.
    pub fn forward_seq(
        &self,
        xs: &Tensor<T>,
        state: Option<RecurrentState<T>>,
    ) -> (Tensor<T>, RecurrentState<T>) {
        fn mismatch() -> ! {
            panic!("Recurrent: a state of another kind of layer")
        }
        match (self, state) {
            (Recurrent::Lstm(l), s) => {
                let s = match s {
                    None => None,
                    Some(RecurrentState::Lstm(s)) => Some(s),
                    Some(_) => mismatch(),
                };
                let (hs, s) = l.forward_seq(xs, s);
                (hs, RecurrentState::Lstm(s))
            }
            (l, s) => {
                let h = match s {
                    None => None,
                    Some(RecurrentState::H(h)) => Some(h),
                    Some(_) => mismatch(),
                };
                let (hs, h) = match l {
                    Recurrent::Rnn(l) => l.forward_seq(xs, h),
                    Recurrent::Gru(l) => l.forward_seq(xs, h),
                    Recurrent::Lstm(_) => unreachable!("matched above"),
                };
                (hs, RecurrentState::H(h))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nn_core::gradcheck::gradcheck;
    use rand::SeedableRng;

    #[test]
    fn reordered_gates_are_row_major() {
        let w = ndarray::Array2::from_shape_fn((3, 8), |(r, c)| (r * 8 + c) as f32).into_dyn();
        let out = reorder_gates(&w, &['f', 'g', 'i', 'o'], &['i', 'f', 'g', 'o']);
        assert!(out.is_standard_layout());
        let row: Vec<f32> = out
            .index_axis(ndarray::Axis(0), 1)
            .iter()
            .copied()
            .collect();
        assert_eq!(row, [12.0, 13.0, 8.0, 9.0, 10.0, 11.0, 14.0, 15.0]);
    }

    #[test]
    fn the_rnn_is_the_books_formula_and_its_gradient_checks_through_35_steps() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let rnn = Rnn::<f64>::new(2, 3, &mut rng);
        let xs = Tensor::<f64>::randn(&[2, 4, 2], 2);
        let (hs, last) = rnn.forward_seq(&xs, None);
        let ps: Vec<_> = rnn
            .parameters()
            .into_iter()
            .map(|(_, t)| t.to_array())
            .collect();
        let (wx, wh, b) = (&ps[0], &ps[1], &ps[2]);
        let x = xs.to_array();
        let mut h = ndarray::Array1::<f64>::zeros(3);
        for t in 0..4 {
            let mut next = ndarray::Array1::<f64>::zeros(3);
            for k in 0..3 {
                let mut a = b[[k]];
                for d in 0..2 {
                    a += x[[1, t, d]] * wx[[d, k]];
                }
                for j in 0..3 {
                    a += h[j] * wh[[j, k]];
                }
                next[k] = a.tanh();
            }
            h = next;
            for k in 0..3 {
                assert!((hs.to_array()[[1, t, k]] - h[k]).abs() < 1e-14);
            }
        }
        assert!((last.to_array()[[1, 2]] - h[2]).abs() < 1e-14);
        gradcheck(
            |t| {
                let l = Rnn::from_parameters(t[0].clone(), t[1].clone(), t[2].clone());
                let (hs, last) = l.forward_seq(&t[3], Some(t[4].clone()));
                hs.mul(&hs).sum().add(&last.sum())
            },
            &[
                ps[0].clone(),
                ps[1].clone(),
                ps[2].clone(),
                Tensor::<f64>::randn(&[2, 35, 2], 5).to_array(),
                Tensor::<f64>::randn(&[2, 3], 6).to_array(),
            ],
        )
        .unwrap();
    }

    #[test]
    #[should_panic(expected = "Gru: Wx [2, 9], Wh [3, 9] and biases [[9], [6]]")]
    fn weights_of_the_wrong_shape_are_refused() {
        Gru::<f64>::from_parameters(
            Tensor::zeros(&[2, 9]),
            Tensor::zeros(&[3, 9]),
            Tensor::zeros(&[9]),
            Tensor::zeros(&[6]),
        );
    }

    #[test]
    fn recurrent_carries_each_kind_of_state() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let xs = Tensor::<f64>::randn(&[2, 3, 2], 2);
        for layer in [
            Recurrent::Rnn(Rnn::new(2, 3, &mut rng)),
            Recurrent::Lstm(Lstm::new(2, 3, &mut rng)),
            Recurrent::Gru(Gru::new(2, 3, &mut rng)),
        ] {
            // Two halves from the carried state give what the whole sequence gives.
            let (whole, _) = layer.forward_seq(&xs, None);
            let (first, s) = layer.forward_seq(&xs.narrow(1, 0, 2), None);
            let (second, s) = layer.forward_seq(&xs.narrow(1, 2, 1), Some(s.detach()));
            assert_eq!(s.h().shape(), vec![2, 3]);
            let joined = Tensor::concatenate(&[&first, &second], 1).to_array();
            assert!((joined - whole.to_array()).iter().all(|d| d.abs() < 1e-15));
        }
    }
}
