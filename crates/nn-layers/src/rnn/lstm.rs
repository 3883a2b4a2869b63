//! The LSTM (the sequel's ch.6 「ゲート付きRNN」): the cell and, over a sequence, the book's
//! `TimeLSTM`.
//!
//! The weights are stored as the book stores them, `Wx (input, 4·hidden)`,
//! `Wh (hidden, 4·hidden)`, one bias `(4·hidden)`, with the four gates in PyTorch's order
//! `[i, f, g, o]` along the columns; [`Lstm::from_book`] takes the book's `[f, g, i, o]` arrays,
//! [`Lstm::from_torch`] PyTorch's transposed ones and their two biases. The gates of a step are one
//! fused op ([`lstm_cell`]) rather than a dozen small ones, and a whole sequence
//! ([`Lstm::forward_seq`]) is one op over all its steps.
//!
//! ```
//! use nn_core::Tensor;
//! use nn_layers::rnn::Lstm;
//! use rand::SeedableRng;
//! let mut rng = rand::rngs::StdRng::seed_from_u64(0);
//! let lstm = Lstm::<f32>::new(3, 5, &mut rng);
//! let xs = Tensor::zeros(&[2, 4, 3]); // batch 2, 4 steps
//! let (hs, state) = lstm.forward_seq(&xs, None);
//! assert_eq!(hs.shape(), vec![2, 4, 5]);
//! assert_eq!(state.h.shape(), vec![2, 5]);
//! ```

use ndarray::{
    ArcArray, Array2, Array3, ArrayD, ArrayView2, ArrayView3, ArrayViewMut2, ArrayViewMut3, Axis,
    Ix2, Ix3, IxDyn, s,
};
use nn_core::kernels::{
    PAR_MIN_MACS, gemm, gemm_serial, lstm_row_grad, num_threads, sigmoid_inplace, tanh_inplace,
};
use nn_core::{Float, Grads, Op, Tensor};
use rand::Rng;

use super::{
    check_state, check_weights, from_torch_layout, input_products, param, reorder_gates,
    uniform_init, unroll,
};
use crate::module::Named;

/// An LSTM's state: the hidden vector `h` and the memory cell `c`, each `(batch, hidden)`.
#[derive(Clone)]
pub struct LstmState<T: Float = f32> {
    /// The hidden state (the layer's output at the last step).
    pub h: Tensor<T>,
    /// The memory cell.
    pub c: Tensor<T>,
}

impl<T: Float> LstmState<T> {
    /// Zeros for a batch.
    pub fn zeros(batch: usize, hidden: usize) -> Self {
        LstmState {
            h: Tensor::zeros(&[batch, hidden]),
            c: Tensor::zeros(&[batch, hidden]),
        }
    }

    /// The same values, their history cut (truncated backpropagation through time: the next
    /// window starts from this state but sends no gradient back into the last one).
    pub fn detach(&self) -> Self {
        LstmState {
            h: self.h.detach(),
            c: self.c.detach(),
        }
    }
}

/// The LSTM's gates for one step, fused: from the pre-activations `a = x Wx + h Wh + b`
/// `(batch, 4·hidden)`, gates `[i, f, g, o]`, and the previous cell `c` `(batch, hidden)`,
/// `(batch, 2·hidden)` holding the new `h` then the new `c`:
/// `c' = σ(f) c + σ(i) tanh(g)`, `h' = σ(o) tanh(c')` (the book's `LSTM.forward`).
///
/// # Panics
/// If the shapes do not fit (a programmer error).
pub fn lstm_cell<T: Float>(a: &Tensor<T>, c: &Tensor<T>) -> Tensor<T> {
    Tensor::apply(LstmCellOp::default(), &[a, c])
}

/// [`lstm_cell`] for one row without the tape, the same arithmetic: from the pre-activations
/// `a` (`4·hidden`, gates `[i, f, g, o]`) and the previous cell `c`, the new cell into `c` and
/// the new hidden state into `h` (`hidden` each). For inference loops that run one step at a
/// time (answering a question one character at a time), where a tape node per step costs more
/// than the step.
///
/// ```
/// use nn_layers::rnn::lstm_cell_row;
/// let (mut c, mut h) = ([0.5f32], [0.0f32]);
/// lstm_cell_row(&[0.0, 0.0, 1.0, 0.0], &mut c, &mut h);
/// // c' = σ(0)·0.5 + σ(0)·tanh(1), h' = σ(0)·tanh(c')
/// let c1 = 0.5 * 0.5 + 0.5 * 1f32.tanh();
/// assert!((c[0] - c1).abs() < 1e-6 && (h[0] - 0.5 * c1.tanh()).abs() < 1e-6);
/// ```
///
/// # Panics
/// If `a` is not four times as long as `c` and `h` (a programmer error).
pub fn lstm_cell_row<T: Float>(a: &[T], c: &mut [T], h: &mut [T]) {
    let n = c.len();
    assert!(
        a.len() == 4 * n && h.len() == n,
        "lstm_cell_row: pre-activations of {} for a cell of {n} and a state of {}",
        a.len(),
        h.len()
    );
    let c_prev = c.to_vec();
    let (mut gates, mut tanh_c) = (a.to_vec(), vec![T::zero(); n]);
    cell_row(&mut gates, &c_prev, c, &mut tanh_c, h);
}

/// The cell's forward for one row, vectorised: the pre-activations in `gates` become the
/// activated gates `[i, f, g, o]`, `c' = f c + i g` goes into `c_new`, `tanh c'` into `tanh_c`,
/// `h' = o tanh c'` into `h`.
fn cell_row<T: Float>(
    gates: &mut [T],
    c_prev: &[T],
    c_new: &mut [T],
    tanh_c: &mut [T],
    h: &mut [T],
) {
    let n = c_prev.len();
    sigmoid_inplace(&mut gates[..2 * n]);
    tanh_inplace(&mut gates[2 * n..3 * n]);
    sigmoid_inplace(&mut gates[3 * n..]);
    let (i, rest) = gates.split_at(n);
    let (f, rest) = rest.split_at(n);
    let (g, o) = rest.split_at(n);
    for k in 0..n {
        c_new[k] = f[k] * c_prev[k] + i[k] * g[k];
    }
    tanh_c.copy_from_slice(c_new);
    tanh_inplace(tanh_c);
    for k in 0..n {
        h[k] = o[k] * tanh_c[k];
    }
}

/// Keeps the gates' activations and the cell for the backward pass.
struct LstmCellOp<T: Float> {
    gates: Option<Array2<T>>,
    c_prev: Option<ArcArray<T, IxDyn>>,
    tanh_c: Option<Array2<T>>,
}

impl<T: Float> Default for LstmCellOp<T> {
    fn default() -> Self {
        LstmCellOp {
            gates: None,
            c_prev: None,
            tanh_c: None,
        }
    }
}

impl<T: Float> Op<T> for LstmCellOp<T> {
    fn name(&self) -> &'static str {
        "lstm_cell"
    }

    fn forward(&mut self, x: &[&ArcArray<T, IxDyn>], needs_grad: &[bool]) -> ArcArray<T, IxDyn> {
        let (a, c) = (x[0], x[1]);
        let (b, h4) = match a.shape() {
            &[b, h4] if h4 % 4 == 0 => (b, h4),
            s => panic!("lstm_cell: pre-activations must be (batch, 4·hidden), got {s:?}"),
        };
        let h = h4 / 4;
        assert_eq!(
            c.shape(),
            [b, h],
            "lstm_cell: pre-activations {:?} need a cell of ({b}, {h}), got {:?}",
            a.shape(),
            c.shape()
        );
        let c = c.as_standard_layout();
        let c = c.as_slice().expect("standard layout");
        let mut gates = a
            .as_standard_layout()
            .into_owned()
            .into_dimensionality::<Ix2>()
            .expect("2-D");
        let mut out = Array2::<T>::zeros((b, 2 * h));
        let mut tanh_c = Array2::<T>::zeros((b, h));
        let rows = gates
            .as_slice_mut()
            .expect("fresh")
            .chunks_mut(h4)
            .zip(out.as_slice_mut().expect("fresh").chunks_mut(2 * h))
            .zip(tanh_c.as_slice_mut().expect("fresh").chunks_mut(h.max(1)));
        for (r, ((gr, or), tr)) in rows.enumerate() {
            let (hr, cr) = or.split_at_mut(h);
            cell_row(gr, &c[r * h..(r + 1) * h], cr, tr, hr);
        }
        if needs_grad.iter().any(|&n| n) {
            self.gates = Some(gates);
            self.c_prev = Some(x[1].clone());
            self.tanh_c = Some(tanh_c);
        }
        out.into_dyn().into_shared()
    }

    fn backward(self: Box<Self>, grad: ArrayD<T>, grads: &mut Grads<'_, T>) {
        let gates = self.gates.expect("kept by forward");
        let c_prev = self.c_prev.expect("kept by forward");
        let tanh_c = self.tanh_c.expect("kept by forward");
        let h4 = gates.ncols();
        let h = h4 / 4;
        let grad = grad
            .into_dimensionality::<Ix2>()
            .expect("(batch, 2·hidden)");
        let c_prev = c_prev.as_standard_layout();
        let c_prev = c_prev.as_slice().expect("standard layout");
        // The gates become their gradient in place; `dc` starts as the gradient reaching `c'`.
        let mut da = gates;
        let mut dc_prev = grad.slice(s![.., h..]).as_standard_layout().into_owned();
        let dh = grad.slice(s![.., ..h]).as_standard_layout().into_owned();
        let none = vec![T::zero(); h];
        let (tanh_c, dh) = (
            tanh_c.as_slice().expect("fresh"),
            dh.as_slice().expect("fresh"),
        );
        let rows = da
            .as_slice_mut()
            .expect("standard layout")
            .chunks_mut(h4.max(1))
            .zip(dc_prev.as_slice_mut().expect("fresh").chunks_mut(h.max(1)));
        for (r, (gates, dc)) in rows.enumerate() {
            let at = r * h..(r + 1) * h;
            lstm_row_grad(
                gates,
                (&tanh_c[at.clone()], &c_prev[at.clone()]),
                (&dh[at], &none),
                dc,
            );
        }
        if grads.needs(0) {
            grads.add(0, da.into_dyn());
        }
        if grads.needs(1) {
            grads.add(1, dc_prev.into_dyn());
        }
    }
}

/// The book's `TimeLSTM` as one op: from the inputs' shares of the pre-activations `xw`
/// `(batch, time, 4H)`, `Wh (H, 4H)` and the starting `h0`, `c0` `(batch, H)`, every step's `h`
/// and then the last `c`, `(batch, time + 1, H)`. One node instead of eight per step; the
/// backward pass runs the steps in reverse with only `dh Whᵀ` per step, and makes `Wh`'s
/// gradient as one product over all steps (`Σ_t h_{t−1}ᵀ da_t`).
struct LstmSeqOp<T: Float> {
    saved: Option<SeqSaved<T>>,
}

/// What the backward pass reads: the activated gates `(batch, time, 4H)` (overwritten there by
/// their gradient), `tanh c_t` `(batch, time, H)`, `c` from the starting state on `(batch, time
/// + 1, H)`, the starting `h` and the op's output (the steps' `h`), and `Wh`.
struct SeqSaved<T: Float> {
    gates: Array3<T>,
    tanh_c: Array3<T>,
    cs: Array3<T>,
    h0: ArcArray<T, IxDyn>,
    out: ArcArray<T, IxDyn>,
    w_h: ArcArray<T, IxDyn>,
}

impl<T: Float> Op<T> for LstmSeqOp<T> {
    fn name(&self) -> &'static str {
        "lstm_seq"
    }

    fn forward(&mut self, x: &[&ArcArray<T, IxDyn>], needs_grad: &[bool]) -> ArcArray<T, IxDyn> {
        let (xw, w_h, h0, c0) = (x[0], x[1], x[2], x[3]);
        let (b, t, h4) = match xw.shape() {
            &[b, t, h4] if h4 % 4 == 0 && t > 0 => (b, t, h4),
            s => panic!("lstm_seq: pre-activations must be (batch, time ≥ 1, 4·hidden), got {s:?}"),
        };
        let h = h4 / 4;
        let fits = w_h.shape() == [h, h4] && h0.shape() == [b, h] && c0.shape() == [b, h];
        assert!(
            fits,
            "lstm_seq: pre-activations {:?} need Wh ({h}, {h4}) and states ({b}, {h}), got {:?}, {:?}, {:?}",
            xw.shape(),
            w_h.shape(),
            h0.shape(),
            c0.shape()
        );
        let xw = xw.view().into_dimensionality::<Ix3>().expect("3-D");
        let w = w_h.view().into_dimensionality::<Ix2>().expect("2-D");
        // The gates start as the inputs' shares; each step adds `h Wh` to its own in place.
        let mut gates = xw.as_standard_layout().into_owned();
        let mut tanh_c = Array3::<T>::zeros((b, t, h));
        // The steps' `h` go straight into the output, `(batch, time + 1, H)`, the last `c` after.
        let mut out = Array3::<T>::zeros((b, t + 1, h));
        let mut cs = Array3::<T>::zeros((b, t + 1, h));
        let h0v = h0.view().into_dimensionality::<Ix2>().expect("2-D");
        cs.index_axis_mut(Axis(1), 0)
            .assign(&c0.view().into_dimensionality::<Ix2>().expect("2-D"));
        // The rows of the batch are independent sequences: runs of them go to the threads, each
        // through every step on its own.
        let per = rows_per_thread(b, t * h4 * h);
        let runs = gates
            .axis_chunks_iter_mut(Axis(0), per)
            .zip(tanh_c.axis_chunks_iter_mut(Axis(0), per))
            .zip(h0v.axis_chunks_iter(Axis(0), per))
            .zip(out.axis_chunks_iter_mut(Axis(0), per))
            .zip(cs.axis_chunks_iter_mut(Axis(0), per));
        each_run(runs, per < b, |((((g, tc), h0), hs), cs)| {
            forward_rows(&w, g, tc, h0, hs, cs)
        });
        out.index_axis_mut(Axis(1), t)
            .assign(&cs.index_axis(Axis(1), t));
        let out = out.into_dyn().into_shared();
        if needs_grad.iter().any(|&n| n) {
            self.saved = Some(SeqSaved {
                gates,
                tanh_c,
                cs,
                h0: h0.clone(),
                out: out.clone(),
                w_h: w_h.clone(),
            });
        }
        out
    }

    fn backward(self: Box<Self>, grad: ArrayD<T>, grads: &mut Grads<'_, T>) {
        let SeqSaved {
            gates,
            tanh_c,
            cs,
            h0,
            out,
            w_h,
        } = self.saved.expect("kept by forward");
        let (b, t, h4) = gates.dim();
        let h = h4 / 4;
        let grad = grad
            .into_dimensionality::<Ix3>()
            .expect("(batch, time + 1, hidden)");
        // `Whᵀ` as rows once for the steps' `dh Whᵀ` (both kernels read rows fastest).
        let w = w_h.view().into_dimensionality::<Ix2>().expect("2-D");
        let wt = nn_core::kernels::transposed(w);
        // The gates become their gradient in place.
        let mut da = gates;
        let mut dh0 = Array2::<T>::zeros((b, h));
        let mut dc0 = Array2::<T>::zeros((b, h));
        let per = rows_per_thread(b, t * h4 * h);
        let runs = grad
            .axis_chunks_iter(Axis(0), per)
            .zip(tanh_c.axis_chunks_iter(Axis(0), per))
            .zip(cs.axis_chunks_iter(Axis(0), per))
            .zip(da.axis_chunks_iter_mut(Axis(0), per))
            .zip(dh0.axis_chunks_iter_mut(Axis(0), per))
            .zip(dc0.axis_chunks_iter_mut(Axis(0), per));
        each_run(runs, per < b, |(((((g, tc), cs), da), dh), dc)| {
            backward_rows(g, tc, cs, &wt.view(), da, dh, dc)
        });
        if grads.needs(1) {
            // Σ_t h_{t−1}ᵀ da_t as one product: the previous states laid out as rows.
            let out = out.view().into_dimensionality::<Ix3>().expect("3-D");
            let mut prev = Array3::<T>::zeros((b, t, h));
            prev.index_axis_mut(Axis(1), 0)
                .assign(&h0.view().into_dimensionality::<Ix2>().expect("2-D"));
            prev.slice_mut(s![.., 1.., ..])
                .assign(&out.slice(s![.., ..t - 1, ..]));
            let prev = prev
                .into_shape_with_order((b * t, h))
                .expect("(batch · time, hidden)");
            let da2 = da
                .view()
                .into_shape_with_order((b * t, h4))
                .expect("standard layout");
            let mut dw = Array2::<T>::zeros((h, h4));
            gemm(T::one(), &prev.t(), &da2, T::zero(), &mut dw.view_mut());
            grads.add(1, dw.into_dyn());
        }
        grads.add(2, dh0.into_dyn());
        grads.add(3, dc0.into_dyn());
        grads.add(0, da.into_dyn());
    }
}

/// `run` on each of `runs`, on the threads when `parallel`.
fn each_run<I>(runs: I, parallel: bool, run: impl Fn(I::Item) + Sync + Send)
where
    I: Iterator,
    I::Item: Send,
{
    if parallel {
        nn_core::kernels::for_each(runs.collect(), run);
    } else {
        runs.for_each(run);
    }
}

/// Rows of the batch per thread for a sequence op of `macs` multiply-adds a row: all rows on
/// one thread below [`PAR_MIN_MACS`] in all.
fn rows_per_thread(batch: usize, macs: usize) -> usize {
    let threads = num_threads().min(batch * macs / PAR_MIN_MACS).max(1);
    batch.div_ceil(threads).max(1)
}

/// The forward steps for a run of rows: the inputs' shares of the pre-activations in `gates
/// (rows, time, 4H)` become the activated gates (each step's `h Wh` added there), `tanh c` out,
/// each step's `h` into `hs (rows, time + 1, H)` from the starting `h0` on, and `cs` `(rows,
/// time + 1, H)` from its starting state on.
fn forward_rows<T: Float>(
    w: &ArrayView2<'_, T>,
    mut gates: ArrayViewMut3<'_, T>,
    mut tanh_c: ArrayViewMut3<'_, T>,
    h0: ArrayView2<'_, T>,
    mut hs: ArrayViewMut3<'_, T>,
    mut cs: ArrayViewMut3<'_, T>,
) {
    let (b, t, _) = gates.dim();
    for step in 0..t {
        let h_prev = if step == 0 {
            h0.view()
        } else {
            hs.index_axis(Axis(1), step - 1)
        };
        gemm_serial(
            T::one(),
            &h_prev,
            w,
            T::one(),
            &mut gates.index_axis_mut(Axis(1), step),
        );
        for r in 0..b {
            let (c_prev, mut c_new) = cs.index_axis_mut(Axis(0), r).split_at(Axis(0), step + 1);
            let c_prev = c_prev.index_axis(Axis(0), step);
            cell_row(
                gates
                    .slice_mut(s![r, step, ..])
                    .into_slice()
                    .expect("a contiguous row"),
                c_prev.as_slice().expect("a contiguous row"),
                c_new
                    .index_axis_mut(Axis(0), 0)
                    .into_slice()
                    .expect("a contiguous row"),
                tanh_c
                    .slice_mut(s![r, step, ..])
                    .into_slice()
                    .expect("a contiguous row"),
                hs.slice_mut(s![r, step, ..])
                    .into_slice()
                    .expect("a contiguous row"),
            );
        }
    }
}

/// Row `r`'s values at `step` of a `(rows, time, ·)` array, as a slice.
fn row<'a, T: Float>(a: ArrayView3<'a, T>, r: usize, step: usize) -> &'a [T] {
    a.slice_move(s![r, step, ..])
        .to_slice()
        .expect("a contiguous row")
}

/// The backward steps for a run of rows, last step first: the activated gates in `da` become
/// their gradient, and the gradients of the starting `h` and `c` go into `dh` and `dc`.
fn backward_rows<T: Float>(
    grad: ArrayView3<'_, T>,
    tanh_c: ArrayView3<'_, T>,
    cs: ArrayView3<'_, T>,
    wt: &ArrayView2<'_, T>,
    mut da: ArrayViewMut3<'_, T>,
    mut dh_next: ArrayViewMut2<'_, T>,
    mut dc_next: ArrayViewMut2<'_, T>,
) {
    let (b, t, _) = da.dim();
    dc_next.assign(&grad.index_axis(Axis(1), t));
    for step in (0..t).rev() {
        for r in 0..b {
            lstm_row_grad(
                da.slice_mut(s![r, step, ..])
                    .into_slice()
                    .expect("a contiguous row"),
                (row(tanh_c, r, step), row(cs, r, step)),
                (
                    row(grad, r, step),
                    dh_next.row(r).to_slice().expect("a contiguous row"),
                ),
                dc_next.row_mut(r).into_slice().expect("a contiguous row"),
            );
        }
        gemm_serial(
            T::one(),
            &da.index_axis(Axis(1), step),
            wt,
            T::zero(),
            &mut dh_next,
        );
    }
}

/// The LSTM layer: the book's `LSTM` cell and, over a sequence, its `TimeLSTM`.
pub struct Lstm<T: Float = f32> {
    w_x: Tensor<T>,
    w_h: Tensor<T>,
    b: Tensor<T>,
}

impl<T: Float> Lstm<T> {
    /// PyTorch's initialisation: every weight and the bias from U(±1/√hidden).
    pub fn new<R: Rng + ?Sized>(input: usize, hidden: usize, rng: &mut R) -> Self {
        Lstm {
            w_x: uniform_init(&[input, 4 * hidden], hidden, rng),
            w_h: uniform_init(&[hidden, 4 * hidden], hidden, rng),
            b: uniform_init(&[4 * hidden], hidden, rng),
        }
    }

    /// From weights in this layer's layout (`Wx (input, 4H)`, `Wh (H, 4H)`, `b (4H)`, gates
    /// `[i, f, g, o]`), made trainable leaves if they are constants (results of recorded
    /// operations stay as they are, so that gradients flow back through them).
    ///
    /// # Panics
    /// If the shapes do not fit together (a programmer error).
    pub fn from_parameters(w_x: Tensor<T>, w_h: Tensor<T>, b: Tensor<T>) -> Self {
        check_weights("Lstm", 4, &w_x, &w_h, &[&b]);
        Lstm {
            w_x: param(w_x),
            w_h: param(w_h),
            b: param(b),
        }
    }

    /// From the book's arrays (`ch06`'s `TimeLSTM` params): the same layout with the gates in
    /// its order `[f, g, i, o]`.
    ///
    /// # Panics
    /// As [`Lstm::from_parameters`].
    pub fn from_book(w_x: &ArrayD<T>, w_h: &ArrayD<T>, b: &ArrayD<T>) -> Self {
        let order = |w| {
            Tensor::from_array(reorder_gates(
                w,
                &['f', 'g', 'i', 'o'],
                &['i', 'f', 'g', 'o'],
            ))
        };
        Self::from_parameters(order(w_x), order(w_h), order(b))
    }

    /// From PyTorch's `nn.LSTM` parameters of one layer: `weight_ih (4H, D)`, `weight_hh
    /// (4H, H)`, `bias_ih` and `bias_hh (4H)` (summed: they only ever appear added).
    ///
    /// # Panics
    /// As [`Lstm::from_parameters`].
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

    /// One step from the input's share of the pre-activations, `x Wx + b` `(batch, 4H)`.
    pub fn step(&self, xw: &Tensor<T>, state: &LstmState<T>) -> LstmState<T> {
        let a = xw.add(&state.h.matmul(&self.w_h));
        let hc = lstm_cell(&a, &state.c);
        let h = self.hidden_size();
        LstmState {
            h: hc.narrow(1, 0, h),
            c: hc.narrow(1, h, h),
        }
    }

    /// The book's `TimeLSTM.forward`: `xs` `(batch, time, D)` → every step's `h`
    /// `(batch, time, H)` and the last state, starting from `state` (zeros if `None`). The
    /// inputs' products with `Wx` are one matrix product for all steps.
    ///
    /// # Panics
    /// If `xs` is not `(batch, time, D)` or the state does not match the batch (a programmer
    /// error).
    pub fn forward_seq(
        &self,
        xs: &Tensor<T>,
        state: Option<LstmState<T>>,
    ) -> (Tensor<T>, LstmState<T>) {
        let (b, xw) = input_products("Lstm", xs, &self.w_x, &self.b);
        let h = self.hidden_size();
        let mut state = state.unwrap_or_else(|| LstmState::zeros(b, h));
        check_state("Lstm", &state.h.shape(), b, h);
        check_state("Lstm", &state.c.shape(), b, h);
        let t = xw.shape()[1];
        if t == 0 {
            let hs = unroll(&xw, h, |xw_t| {
                state = self.step(xw_t, &state);
                state.h.clone()
            });
            return (hs, state);
        }
        let out = Tensor::apply(
            LstmSeqOp { saved: None },
            &[&xw, &self.w_h, &state.h, &state.c],
        );
        let last = LstmState {
            h: out.narrow(1, t - 1, 1).reshape(&[b, h]),
            c: out.narrow(1, t, 1).reshape(&[b, h]),
        };
        (out.narrow(1, 0, t), last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nn_core::gradcheck::gradcheck;
    use rand::SeedableRng;

    #[test]
    fn the_cell_is_the_books_formula() {
        let a = Tensor::<f64>::randn(&[2, 8], 1);
        let c = Tensor::<f64>::randn(&[2, 2], 2);
        let out = lstm_cell(&a, &c).to_array();
        let (av, cv) = (a.to_array(), c.to_array());
        let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
        for r in 0..2 {
            for k in 0..2 {
                let (i, f) = (sig(av[[r, k]]), sig(av[[r, 2 + k]]));
                let (g, o) = (av[[r, 4 + k]].tanh(), sig(av[[r, 6 + k]]));
                let cn = f * cv[[r, k]] + i * g;
                assert!((out[[r, 2 + k]] - cn).abs() < 1e-15);
                assert!((out[[r, k]] - o * cn.tanh()).abs() < 1e-15);
            }
        }
    }

    #[test]
    fn the_row_function_is_the_op_to_the_bit() {
        let a = Tensor::<f32>::randn(&[3, 20], 4);
        let c = Tensor::<f32>::randn(&[3, 5], 5);
        let out = lstm_cell(&a, &c).to_array();
        let (av, cv) = (a.to_array(), c.to_array());
        for r in 0..3 {
            let row: Vec<f32> = av.slice(s![r, ..]).to_vec();
            let mut cr: Vec<f32> = cv.slice(s![r, ..]).to_vec();
            let mut hr = vec![0.0; 5];
            lstm_cell_row(&row, &mut cr, &mut hr);
            assert_eq!(hr, out.slice(s![r, ..5]).to_vec());
            assert_eq!(cr, out.slice(s![r, 5..]).to_vec());
        }
    }

    #[test]
    fn gradcheck_the_cell_and_a_long_sequence() {
        gradcheck(
            |t| lstm_cell(&t[0], &t[1]).mul(&t[2]).sum(),
            &[
                Tensor::<f64>::randn(&[3, 12], 1).to_array(),
                Tensor::<f64>::randn(&[3, 3], 2).to_array(),
                Tensor::<f64>::randn(&[3, 6], 3).to_array(),
            ],
        )
        .unwrap();
        // 35 steps, as the book's windows, from a carried state: the gradient reaches the
        // weights, the inputs and the initial state through every step.
        let mut rng = rand::rngs::StdRng::seed_from_u64(4);
        let lstm = Lstm::<f64>::new(3, 4, &mut rng);
        let ps: Vec<_> = lstm
            .parameters()
            .into_iter()
            .map(|(_, t)| t.to_array())
            .collect();
        gradcheck(
            |t| {
                let l = Lstm::from_parameters(t[0].clone(), t[1].clone(), t[2].clone());
                let state = LstmState {
                    h: t[4].clone(),
                    c: t[5].clone(),
                };
                let (hs, last) = l.forward_seq(&t[3], Some(state));
                hs.mul(&hs).sum().add(&last.c.sum())
            },
            &[
                ps[0].clone(),
                ps[1].clone(),
                ps[2].clone(),
                Tensor::<f64>::randn(&[2, 35, 3], 5).to_array(),
                Tensor::<f64>::randn(&[2, 4], 6).to_array(),
                Tensor::<f64>::randn(&[2, 4], 7).to_array(),
            ],
        )
        .unwrap();
    }

    /// Runs of rows on several threads give what one thread gives: outputs, the last state and
    /// every gradient.
    #[test]
    fn the_sequence_split_over_threads_is_the_same() {
        let run = |threads: usize| {
            nn_core::kernels::with_num_threads(threads, || {
                let mut rng = rand::rngs::StdRng::seed_from_u64(8);
                let lstm = Lstm::<f64>::new(5, 64, &mut rng);
                // 9 rows × 20 steps: enough work for three runs of three rows.
                let xs = Tensor::<f64>::randn(&[9, 20, 5], 9).requires_grad();
                let state = LstmState {
                    h: Tensor::randn(&[9, 64], 10).requires_grad(),
                    c: Tensor::randn(&[9, 64], 11).requires_grad(),
                };
                let (hs, last) = lstm.forward_seq(&xs, Some(state.clone()));
                let out = (hs.to_array(), last.h.to_array(), last.c.to_array());
                hs.mul(&hs).sum().add(&last.c.sum()).backward().unwrap();
                let mut grads: Vec<_> = lstm
                    .parameters()
                    .into_iter()
                    .map(|(_, p)| p.grad().unwrap())
                    .collect();
                grads.extend([xs, state.h, state.c].map(|t| t.grad().unwrap()));
                (out, grads)
            })
        };
        let (one, three) = (run(1), run(3));
        let close = |a: &ArrayD<f64>, b: &ArrayD<f64>| {
            a.shape() == b.shape() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12)
        };
        assert!(close(&one.0.0, &three.0.0) && close(&one.0.1, &three.0.1));
        assert!(close(&one.0.2, &three.0.2));
        for (a, b) in one.1.iter().zip(&three.1) {
            assert!(close(a, b), "{a} against {b}");
        }
    }

    #[test]
    fn the_books_and_pytorchs_layouts_become_one() {
        // Gate blocks of width 1 named by their value: book [f, g, i, o] = [1, 2, 3, 4].
        let book = ArrayD::from_shape_vec(IxDyn(&[4]), vec![1.0f64, 2.0, 3.0, 4.0]).unwrap();
        let wx = ArrayD::from_shape_vec(IxDyn(&[1, 4]), vec![1.0f64, 2.0, 3.0, 4.0]).unwrap();
        let l = Lstm::from_book(&wx, &wx, &book);
        // [i, f, g, o] = [3, 1, 2, 4].
        assert_eq!(
            l.b.to_array().into_raw_vec_and_offset().0,
            [3.0, 1.0, 2.0, 4.0]
        );
        let w_ih = ArrayD::from_shape_vec(IxDyn(&[4, 1]), vec![1.0f64, 2.0, 3.0, 4.0]).unwrap();
        let l = Lstm::from_torch(&w_ih, &w_ih, &book, &book);
        assert_eq!(l.w_x.shape(), vec![1, 4]);
        assert_eq!(
            l.b.to_array().into_raw_vec_and_offset().0,
            [2.0, 4.0, 6.0, 8.0]
        );
    }
}
