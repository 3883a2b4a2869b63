//! The GRU (the sequel's appendix C 「GRU」), in PyTorch's formulation, gates `[r, z, n]`:
//!
//! `r = σ(x Wxr + bxr + h Whr + bhr)`, `z = σ(x Wxz + bxz + h Whz + bhz)`,
//! `n = tanh(x Wxn + bxn + r ⊙ (h Whn + bhn))`, `h' = (1 − z) ⊙ n + z ⊙ h`.
//!
//! The book's appendix writes the candidate as `tanh(x Wxh + (r ⊙ h) Whh + bh)` (the reset gate
//! applied before the product, one bias) and swaps the roles of `z` and `1 − z`; the two are the
//! same family of models but not the same function of the same weights. PyTorch's form is the one
//! followed here, so that weights and checkpoints travel to `torch.nn.GRU`: its hidden bias
//! `bhn` sits inside the reset gate, so the input and hidden biases are kept apart.
//!
//! ```
//! use nn_core::Tensor;
//! use nn_layers::rnn::Gru;
//! use rand::SeedableRng;
//! let mut rng = rand::rngs::StdRng::seed_from_u64(0);
//! let gru = Gru::<f32>::new(3, 5, &mut rng);
//! let (hs, h) = gru.forward_seq(&Tensor::zeros(&[2, 4, 3]), None);
//! assert_eq!(hs.shape(), vec![2, 4, 5]);
//! ```

use ndarray::{ArcArray, Array2, ArrayD, Ix2, IxDyn};
use nn_core::{Float, Grads, Op, Tensor};
use rand::Rng;

use super::{
    check_state, check_weights, from_torch_layout, input_products, param, sigmoid, uniform_init,
    unroll,
};
use crate::module::Named;

/// The GRU's step, fused: from the input's share `xw = x Wx + bx` and the hidden state's share
/// `hw = h Wh + bh` of the pre-activations (each `(batch, 3·hidden)`, gates `[r, z, n]`) and the
/// previous `h` `(batch, hidden)`, the next `h`.
///
/// # Panics
/// If the shapes do not fit (a programmer error).
pub fn gru_cell<T: Float>(xw: &Tensor<T>, hw: &Tensor<T>, h: &Tensor<T>) -> Tensor<T> {
    Tensor::apply(GruCellOp::default(), &[xw, hw, h])
}

/// Keeps the gates, the hidden share and the previous state for the backward pass.
struct GruCellOp<T: Float> {
    gates: Option<Array2<T>>,
    hw: Option<ArcArray<T, IxDyn>>,
    h: Option<ArcArray<T, IxDyn>>,
}

impl<T: Float> Default for GruCellOp<T> {
    fn default() -> Self {
        GruCellOp {
            gates: None,
            hw: None,
            h: None,
        }
    }
}

impl<T: Float> Op<T> for GruCellOp<T> {
    fn name(&self) -> &'static str {
        "gru_cell"
    }

    fn forward(&mut self, x: &[&ArcArray<T, IxDyn>], needs_grad: &[bool]) -> ArcArray<T, IxDyn> {
        let (b, h3) = match x[0].shape() {
            &[b, h3] if h3 % 3 == 0 => (b, h3),
            s => panic!("gru_cell: pre-activations must be (batch, 3·hidden), got {s:?}"),
        };
        let hid = h3 / 3;
        assert!(
            x[1].shape() == [b, h3] && x[2].shape() == [b, hid],
            "gru_cell: input share {:?} needs a hidden share of ({b}, {h3}) and a state of \
             ({b}, {hid}), got {:?} and {:?}",
            x[0].shape(),
            x[1].shape(),
            x[2].shape()
        );
        let xw = x[0].view().into_dimensionality::<Ix2>().expect("2-D");
        let hw = x[1].view().into_dimensionality::<Ix2>().expect("2-D");
        let hp = x[2].view().into_dimensionality::<Ix2>().expect("2-D");
        let mut gates = Array2::<T>::zeros((b, h3));
        let mut out = Array2::<T>::zeros((b, hid));
        for r in 0..b {
            for k in 0..hid {
                let rg = sigmoid(xw[[r, k]] + hw[[r, k]]);
                let z = sigmoid(xw[[r, hid + k]] + hw[[r, hid + k]]);
                let n = (xw[[r, 2 * hid + k]] + rg * hw[[r, 2 * hid + k]]).tanh();
                gates[[r, k]] = rg;
                gates[[r, hid + k]] = z;
                gates[[r, 2 * hid + k]] = n;
                out[[r, k]] = (T::one() - z) * n + z * hp[[r, k]];
            }
        }
        if needs_grad.iter().any(|&n| n) {
            self.gates = Some(gates);
            self.hw = Some(x[1].clone());
            self.h = Some(x[2].clone());
        }
        out.into_dyn().into_shared()
    }

    fn backward(self: Box<Self>, grad: ArrayD<T>, grads: &mut Grads<'_, T>) {
        let gates = self.gates.expect("kept by forward");
        let (hw, hp) = (self.hw.expect("kept"), self.h.expect("kept"));
        let hw = hw.view().into_dimensionality::<Ix2>().expect("2-D");
        let hp = hp.view().into_dimensionality::<Ix2>().expect("2-D");
        let grad = grad.into_dimensionality::<Ix2>().expect("(batch, hidden)");
        let (b, h3) = gates.dim();
        let hid = h3 / 3;
        let one = T::one();
        let mut dxw = Array2::<T>::zeros((b, h3));
        let mut dhw = Array2::<T>::zeros((b, h3));
        let mut dh = Array2::<T>::zeros((b, hid));
        for r in 0..b {
            for k in 0..hid {
                let (rg, z, n) = (gates[[r, k]], gates[[r, hid + k]], gates[[r, 2 * hid + k]]);
                let g = grad[[r, k]];
                let da_n = g * (one - z) * (one - n * n);
                let da_z = g * (hp[[r, k]] - n) * z * (one - z);
                let da_r = da_n * hw[[r, 2 * hid + k]] * rg * (one - rg);
                dxw[[r, k]] = da_r;
                dxw[[r, hid + k]] = da_z;
                dxw[[r, 2 * hid + k]] = da_n;
                dhw[[r, k]] = da_r;
                dhw[[r, hid + k]] = da_z;
                dhw[[r, 2 * hid + k]] = da_n * rg;
                dh[[r, k]] = g * z;
            }
        }
        if grads.needs(0) {
            grads.add(0, dxw.into_dyn());
        }
        if grads.needs(1) {
            grads.add(1, dhw.into_dyn());
        }
        if grads.needs(2) {
            grads.add(2, dh.into_dyn());
        }
    }
}

/// The GRU layer, one step and over a sequence (`torch.nn.GRU`).
pub struct Gru<T: Float = f32> {
    w_x: Tensor<T>,
    w_h: Tensor<T>,
    b_x: Tensor<T>,
    b_h: Tensor<T>,
}

impl<T: Float> Gru<T> {
    /// PyTorch's initialisation: every weight and bias from U(±1/√hidden).
    pub fn new<R: Rng + ?Sized>(input: usize, hidden: usize, rng: &mut R) -> Self {
        Gru {
            w_x: uniform_init(&[input, 3 * hidden], hidden, rng),
            w_h: uniform_init(&[hidden, 3 * hidden], hidden, rng),
            b_x: uniform_init(&[3 * hidden], hidden, rng),
            b_h: uniform_init(&[3 * hidden], hidden, rng),
        }
    }

    /// From `Wx (D, 3H)`, `Wh (H, 3H)`, `bx (3H)` and `bh (3H)`, gates `[r, z, n]` (constants
    /// become trainable leaves; recorded results are kept as they are).
    ///
    /// # Panics
    /// If the shapes do not fit together (a programmer error).
    pub fn from_parameters(w_x: Tensor<T>, w_h: Tensor<T>, b_x: Tensor<T>, b_h: Tensor<T>) -> Self {
        check_weights("Gru", 3, &w_x, &w_h, &[&b_x, &b_h]);
        Gru {
            w_x: param(w_x),
            w_h: param(w_h),
            b_x: param(b_x),
            b_h: param(b_h),
        }
    }

    /// From PyTorch's `nn.GRU` parameters of one layer: `weight_ih (3H, D)`, `weight_hh (3H, H)`,
    /// `bias_ih` and `bias_hh (3H)`.
    ///
    /// # Panics
    /// As [`Gru::from_parameters`].
    pub fn from_torch(
        weight_ih: &ArrayD<T>,
        weight_hh: &ArrayD<T>,
        bias_ih: &ArrayD<T>,
        bias_hh: &ArrayD<T>,
    ) -> Self {
        Self::from_parameters(
            from_torch_layout(weight_ih),
            from_torch_layout(weight_hh),
            Tensor::from_array(bias_ih.clone()),
            Tensor::from_array(bias_hh.clone()),
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

    /// `Wx`, `Wh`, `bx` and `bh`, named.
    pub fn parameters(&self) -> Vec<Named<T>> {
        vec![
            ("weight_ih".into(), self.w_x.clone()),
            ("weight_hh".into(), self.w_h.clone()),
            ("bias_ih".into(), self.b_x.clone()),
            ("bias_hh".into(), self.b_h.clone()),
        ]
    }

    /// One step from the input's share of the pre-activations, `x Wx + bx` `(batch, 3H)`.
    pub fn step(&self, xw: &Tensor<T>, h: &Tensor<T>) -> Tensor<T> {
        gru_cell(xw, &h.affine(&self.w_h, &self.b_h), h)
    }

    /// Over a sequence: `xs` `(batch, time, D)` → every step's `h` `(batch, time, H)` and the
    /// last one, starting from `h0` (zeros if `None`).
    ///
    /// # Panics
    /// If `xs` is not `(batch, time, D)` or `h0` does not match the batch (a programmer error).
    pub fn forward_seq(&self, xs: &Tensor<T>, h0: Option<Tensor<T>>) -> (Tensor<T>, Tensor<T>) {
        let (b, xw) = input_products("Gru", xs, &self.w_x, &self.b_x);
        let h = self.hidden_size();
        let mut state = h0.unwrap_or_else(|| Tensor::zeros(&[b, h]));
        check_state("Gru", &state.shape(), b, h);
        let hs = unroll(&xw, h, |xw_t| {
            state = self.step(xw_t, &state);
            state.clone()
        });
        (hs, state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nn_core::gradcheck::gradcheck;
    use rand::SeedableRng;

    #[test]
    fn the_cell_is_pytorchs_formula() {
        let xw = Tensor::<f64>::randn(&[2, 6], 1);
        let hw = Tensor::<f64>::randn(&[2, 6], 2);
        let h = Tensor::<f64>::randn(&[2, 2], 3);
        let out = gru_cell(&xw, &hw, &h).to_array();
        let (x, w, hv) = (xw.to_array(), hw.to_array(), h.to_array());
        let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
        for r in 0..2 {
            for k in 0..2 {
                let rg = sig(x[[r, k]] + w[[r, k]]);
                let z = sig(x[[r, 2 + k]] + w[[r, 2 + k]]);
                let n = (x[[r, 4 + k]] + rg * w[[r, 4 + k]]).tanh();
                assert!((out[[r, k]] - ((1.0 - z) * n + z * hv[[r, k]])).abs() < 1e-15);
            }
        }
    }

    #[test]
    fn gradcheck_the_cell_and_a_long_sequence() {
        gradcheck(
            |t| gru_cell(&t[0], &t[1], &t[2]).mul(&t[3]).sum(),
            &[
                Tensor::<f64>::randn(&[3, 9], 1).to_array(),
                Tensor::<f64>::randn(&[3, 9], 2).to_array(),
                Tensor::<f64>::randn(&[3, 3], 3).to_array(),
                Tensor::<f64>::randn(&[3, 3], 4).to_array(),
            ],
        )
        .unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(4);
        let gru = Gru::<f64>::new(3, 4, &mut rng);
        let mut inputs: Vec<_> = gru
            .parameters()
            .into_iter()
            .map(|(_, t)| t.to_array())
            .collect();
        inputs.push(Tensor::<f64>::randn(&[2, 35, 3], 5).to_array());
        inputs.push(Tensor::<f64>::randn(&[2, 4], 6).to_array());
        gradcheck(
            |t| {
                let l =
                    Gru::from_parameters(t[0].clone(), t[1].clone(), t[2].clone(), t[3].clone());
                let (hs, last) = l.forward_seq(&t[4], Some(t[5].clone()));
                hs.mul(&hs).sum().add(&last.sum())
            },
            &inputs,
        )
        .unwrap();
    }
}
