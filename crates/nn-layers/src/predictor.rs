//! Inference without the tape: a [`Predictor`] is a snapshot of a trained model's weights laid
//! out for the forward pass alone, with its work buffers allocated once. The book's chapter 3
//! loop, `for x in x_test { y = predict(network, x) }`, then costs one vector–matrix product per
//! layer and no allocation per image.
//!
//! ```
//! use nn_layers::{Linear, Predictor, Relu, Sequential, Softmax};
//! use rand::SeedableRng;
//! let mut rng = rand::rngs::StdRng::seed_from_u64(0);
//! let net = Sequential::<f32>::new()
//!     .add(Linear::new(784, 100, &mut rng))
//!     .add(Relu)
//!     .add(Linear::new(100, 10, &mut rng))
//!     .add(Softmax { axis: 1 });
//! let mut predictor = Predictor::new(&net).expect("every layer has an inference form");
//! let image = vec![0.5f32; 784];
//! let probabilities = predictor.predict_one(&image);
//! assert_eq!(probabilities.len(), 10);
//! assert!((probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-5);
//! ```

use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2, Axis, s};
use nn_core::Float;
use nn_core::kernels::{self, PackedMatrix};

use crate::module::Module;

/// One step of a model's forward pass in evaluation mode, as a layer reports it through
/// [`Module::inference_steps`].
#[derive(Debug, Clone)]
pub enum InferenceStep<T: Float> {
    /// `x W + b` with `W (in, out)`.
    Affine {
        /// `(in, out)`.
        weight: Array2<T>,
        /// `(out,)`, if any.
        bias: Option<Array1<T>>,
    },
    /// `x · scale + shift` per feature (BatchNorm with its running statistics).
    ScaleShift {
        /// `(features,)`.
        scale: Array1<T>,
        /// `(features,)`.
        shift: Array1<T>,
    },
    /// The logistic sigmoid.
    Sigmoid,
    /// `max(x, 0)`.
    Relu,
    /// `x` for `x > 0`, `slope · x` otherwise.
    LeakyRelu(T),
    /// Hyperbolic tangent.
    Tanh,
    /// Softmax over the features.
    Softmax,
    /// Log-softmax over the features.
    LogSoftmax,
    /// Nothing (Dropout in evaluation, Identity).
    Identity,
}

/// Why a model cannot become a [`Predictor`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PredictorError {
    /// A layer has no inference-only form.
    #[error(
        "{layer} has no inference-only form (supported: Linear, Sigmoid, Relu, LeakyRelu, Tanh, \
         Softmax and LogSoftmax over the features, BatchNorm1d, Dropout, Identity); run \
         convolutional networks with `forward` under `nn_core::no_grad`, which records nothing"
    )]
    Unsupported {
        /// The layer, with its position in the model.
        layer: String,
    },
    /// The model has no layer with weights, so its input width is unknown.
    #[error("the model has no Linear layer: a Predictor needs one to know its input width")]
    NoWeights,
    /// Consecutive layers disagree on the width between them.
    #[error("layer {index} expects {expected} features but receives {got}")]
    Width {
        /// The step's position.
        index: usize,
        /// What it expects.
        expected: usize,
        /// What the previous layer gives.
        got: usize,
    },
}

/// A compiled step; widths padded to a multiple of [`LANES`] (zero weights in the padding, so
/// the padding never reaches a real output).
#[derive(Debug, Clone)]
enum Compiled<T: Float> {
    Affine {
        /// `(k_padded, n_padded)`, row-major, for one example at a time.
        w: Array2<T>,
        /// The weights for batches, packed for the product's kernel: `(k, n)` at the batch's
        /// widths ([`batch_width`]).
        packed: PackedMatrix<T>,
        /// The padded bias; its first `batch_n` values for batches.
        bias: Vec<T>,
        batch_n: usize,
    },
    ScaleShift {
        scale: Vec<T>,
        shift: Vec<T>,
    },
    Sigmoid,
    Relu,
    LeakyRelu(T),
    Tanh,
    Softmax {
        n: usize,
    },
    LogSoftmax {
        n: usize,
    },
}

impl<T: Float> Compiled<T> {
    /// Whether the step treats every value alike, whatever its row or column.
    fn elementwise(&self) -> bool {
        matches!(
            self,
            Compiled::Sigmoid | Compiled::Relu | Compiled::LeakyRelu(_) | Compiled::Tanh
        )
    }
}

/// Output widths are rounded up to this many lanes (one AVX register of `f32`).
const LANES: usize = 8;

fn padded(n: usize) -> usize {
    n.div_ceil(LANES) * LANES
}

/// A layer's width in a batch: as it is from 16 on (a product's kernel masks its last vector or
/// takes its last few columns as dot products, and padding would only lengthen the next layer's
/// rows: 784 × 50 ran 69.5 µs for 100 rows, 784 × 56 86 µs), padded below.
fn batch_width(n: usize) -> usize {
    if n < 16 { padded(n) } else { n }
}

/// A model's forward pass in evaluation mode with no tape and no allocation per call.
///
/// It copies the weights when built: train, then build a `Predictor` (rebuild it after more
/// training). Outputs agree with `model.forward` in evaluation mode up to rounding
/// (`f32`: the vectorised sigmoid is within 2 ulp).
#[derive(Debug, Clone)]
pub struct Predictor<T: Float = f32> {
    steps: Vec<Compiled<T>>,
    inputs: usize,
    outputs: usize,
    /// The widest padded layer.
    width: usize,
    one: [Vec<T>; 2],
    batch: [Vec<T>; 2],
    /// A batch's outputs gathered from the halves that two threads computed.
    out: Vec<T>,
}

impl<T: Float> Predictor<T> {
    /// Compiles `model` (its evaluation-mode behaviour, whatever mode it is in).
    ///
    /// # Errors
    /// [`PredictorError`] if a layer has no inference form, there is no Linear layer, or the
    /// layers' widths do not chain.
    pub fn new(model: &dyn Module<T>) -> Result<Self, PredictorError> {
        let steps = model
            .inference_steps()
            .map_err(|layer| PredictorError::Unsupported { layer })?;
        Self::from_steps(steps)
    }

    /// Compiles a list of steps.
    ///
    /// # Errors
    /// As [`Predictor::new`].
    pub fn from_steps(steps: Vec<InferenceStep<T>>) -> Result<Self, PredictorError> {
        let mut inputs = None;
        // (real width, padded width) of the current activations, and their width in a batch.
        let mut cur: Option<(usize, usize)> = None;
        let mut cur_batch: Option<usize> = None;
        let mut compiled = Vec::with_capacity(steps.len());
        let mut width = 0;
        for (index, step) in steps.into_iter().enumerate() {
            let check = |expected: usize, cur: Option<(usize, usize)>| match cur {
                Some((got, _)) if got != expected => Err(PredictorError::Width {
                    index,
                    expected,
                    got,
                }),
                _ => Ok(()),
            };
            match step {
                InferenceStep::Affine { weight, bias } => {
                    let (k, n) = weight.dim();
                    check(k, cur)?;
                    if let Some(b) = &bias {
                        check(n, Some((b.len(), 0)))?;
                    }
                    let k_pad = match cur {
                        Some((_, p)) => p,
                        None => {
                            inputs = Some(k);
                            k
                        }
                    };
                    let n_pad = padded(n);
                    let mut w = Array2::zeros((k_pad, n_pad));
                    w.slice_mut(s![..k, ..n]).assign(&weight);
                    let mut b = vec![T::zero(); n_pad];
                    if let Some(bias) = bias {
                        b[..n].copy_from_slice(&bias.to_vec());
                    }
                    let (k_batch, batch_n) = (cur_batch.unwrap_or(k), batch_width(n));
                    let mut wb = Array2::zeros((k_batch, batch_n));
                    wb.slice_mut(s![..k, ..n]).assign(&weight);
                    let packed = PackedMatrix::pack(&wb.view());
                    compiled.push(Compiled::Affine {
                        w,
                        packed,
                        bias: b,
                        batch_n,
                    });
                    cur = Some((n, n_pad));
                    cur_batch = Some(batch_n);
                    width = width.max(n_pad);
                }
                InferenceStep::ScaleShift { scale, shift } => {
                    let n = scale.len();
                    check(n, cur)?;
                    check(n, Some((shift.len(), 0)))?;
                    let p = cur.map_or(n, |(_, p)| p);
                    let mut sc = vec![T::zero(); p];
                    let mut sh = vec![T::zero(); p];
                    sc[..n].copy_from_slice(&scale.to_vec());
                    sh[..n].copy_from_slice(&shift.to_vec());
                    compiled.push(Compiled::ScaleShift {
                        scale: sc,
                        shift: sh,
                    });
                    if cur.is_none() {
                        // Before the first Linear: the model's input width is known here.
                        inputs = Some(n);
                        cur = Some((n, n));
                        cur_batch = Some(n);
                        width = width.max(n);
                    }
                }
                InferenceStep::Sigmoid => compiled.push(Compiled::Sigmoid),
                InferenceStep::Relu => compiled.push(Compiled::Relu),
                InferenceStep::LeakyRelu(a) => compiled.push(Compiled::LeakyRelu(a)),
                InferenceStep::Tanh => compiled.push(Compiled::Tanh),
                InferenceStep::Softmax | InferenceStep::LogSoftmax => {
                    let n = cur.map(|(n, _)| n).ok_or(PredictorError::NoWeights)?;
                    compiled.push(if matches!(step, InferenceStep::Softmax) {
                        Compiled::Softmax { n }
                    } else {
                        Compiled::LogSoftmax { n }
                    });
                }
                InferenceStep::Identity => {}
            }
        }
        let (Some(inputs), Some((outputs, _))) = (inputs, cur) else {
            return Err(PredictorError::NoWeights);
        };
        if !compiled
            .iter()
            .any(|c| matches!(c, Compiled::Affine { .. }))
        {
            return Err(PredictorError::NoWeights);
        }
        let width = width.max(inputs);
        Ok(Predictor {
            steps: compiled,
            inputs,
            outputs,
            width,
            one: [vec![T::zero(); width], vec![T::zero(); width]],
            batch: [Vec::new(), Vec::new()],
            out: Vec::new(),
        })
    }

    /// The input width.
    pub fn inputs(&self) -> usize {
        self.inputs
    }

    /// The output width.
    pub fn outputs(&self) -> usize {
        self.outputs
    }

    /// The output for one example `x (inputs,)`; the slice lives until the next call.
    ///
    /// # Panics
    /// If `x.len() != self.inputs()`.
    pub fn predict_one(&mut self, x: &[T]) -> &[T] {
        assert!(
            x.len() == self.inputs,
            "Predictor::predict_one: expects {} inputs, got {}",
            self.inputs,
            x.len()
        );
        let [a, b] = &mut self.one;
        a[..x.len()].copy_from_slice(x);
        let (mut src, mut dst) = (a, b);
        let mut len = x.len();
        for step in &self.steps {
            if let Compiled::Affine { w, bias, .. } = step {
                let out = &mut dst[..bias.len()];
                out.copy_from_slice(bias);
                kernels::vecmat_add(&src[..len], standard(w), out);
                len = bias.len();
                std::mem::swap(&mut src, &mut dst);
            } else {
                apply_rowwise(step, &mut src[..len]);
            }
        }
        &src[..self.outputs]
    }

    /// The outputs for a batch `x (n, inputs)`, as a view `(n, outputs)` that lives until the
    /// next call. Buffers grow to the largest batch seen and are reused.
    ///
    /// # Panics
    /// If `x` does not have `inputs()` columns.
    pub fn predict_batch(&mut self, x: ArrayView2<'_, T>) -> ArrayView2<'_, T> {
        let (rows, cols) = x.dim();
        assert!(
            cols == self.inputs,
            "Predictor::predict_batch: expects (n, {}), got {:?}",
            self.inputs,
            x.shape()
        );
        if rows == 1 {
            // One row: the vector–matrix kernel beats a matrix product, which packs W first.
            let row = x.row(0);
            let y = match row.as_slice() {
                Some(v) => self.predict_one(v),
                None => self.predict_one(&row.to_vec()),
            };
            return view(y, 1, y.len());
        }
        let need = rows * self.width;
        for buf in &mut self.batch {
            if buf.len() < need {
                buf.resize(need, T::zero());
            }
        }
        let [a, b] = &mut self.batch;
        let first_n = self.steps.iter().find_map(|s| match s {
            Compiled::Affine { bias, .. } => Some(bias.len()),
            _ => None,
        });
        let macs = rows * cols * first_n.unwrap_or(0);
        if kernels::num_threads() < 2 || rows < 24 || macs < kernels::PAR_MIN_MACS {
            let (in_a, len) = run_rows(&self.steps, x, a, b);
            let src: &[T] = if in_a { a } else { b };
            return view(&src[..rows * len], rows, len).slice_move(s![.., ..self.outputs]);
        }
        // Two halves of the batch through every layer, one per thread: one hand-off per
        // batch instead of one per layer. Equal halves: 100 rows as 50 + 50 (a short last tile
        // each) beat 54 + 46 (whole tiles on one side) by 1–4% at two threads.
        let mid = rows / 2;
        let (x0, x1) = x.split_at(Axis(0), mid);
        let (a0, a1) = a.split_at_mut(mid * self.width);
        let (b0, b1) = b.split_at_mut(mid * self.width);
        let steps = &self.steps;
        let (r0, r1) = kernels::join(
            || run_rows(steps, x0, a0, b0),
            || run_rows(steps, x1, a1, b1),
        );
        let outputs = self.outputs;
        self.out.resize(rows * outputs, T::zero());
        let halves = [
            (r0, &a0[..], &b0[..], mid),
            (r1, &a1[..], &b1[..], rows - mid),
        ];
        let mut at = 0;
        for ((in_a, len), a, b, n) in halves {
            let src = if in_a { a } else { b };
            for row in src[..n * len].chunks_exact(len) {
                self.out[at..at + outputs].copy_from_slice(&row[..outputs]);
                at += outputs;
            }
        }
        view(&self.out[..rows * outputs], rows, outputs)
    }
}

/// Runs every step on the rows of `x` with `a` and `b` as work buffers (each at least
/// `rows × widest layer`); returns whether the result is in `a`, and its width there.
fn run_rows<T: Float>(
    steps: &[Compiled<T>],
    x: ArrayView2<'_, T>,
    a: &mut [T],
    b: &mut [T],
) -> (bool, usize) {
    let rows = x.nrows();
    let (mut src, mut dst) = (a, b);
    let mut in_a = true;
    let mut len = x.ncols();
    let mut first = true;
    for step in steps {
        if let Compiled::Affine {
            packed,
            bias,
            batch_n,
            ..
        } = step
        {
            let n = *batch_n;
            let mut out = view_mut(&mut dst[..rows * n], rows, n);
            for mut row in out.rows_mut() {
                row.as_slice_mut()
                    .unwrap_or_else(|| unreachable!("rows of a standard array are contiguous"))
                    .copy_from_slice(&bias[..n]);
            }
            if first {
                kernels::gemm_packed_serial(&x, packed, &mut out);
            } else {
                kernels::gemm_packed_serial(&view(&src[..rows * len], rows, len), packed, &mut out);
            }
            first = false;
            len = n;
            std::mem::swap(&mut src, &mut dst);
            in_a = !in_a;
        } else {
            if first {
                // An elementwise step before the first product works on a copy of `x`.
                view_mut(&mut src[..rows * len], rows, len).assign(&x);
                first = false;
            }
            let all = &mut src[..rows * len];
            if step.elementwise() {
                // One call over the whole batch: rows of 50 would leave a scalar tail each.
                apply_rowwise(step, all);
            } else {
                for row in all.chunks_exact_mut(len) {
                    apply_rowwise(step, row);
                }
            }
        }
    }
    (in_a, len)
}

/// The weights as one row-major slice (they were built in standard layout).
fn standard<T: Float>(w: &Array2<T>) -> &[T] {
    w.as_slice()
        .unwrap_or_else(|| unreachable!("compiled weights are in standard layout"))
}

fn view<T: Float>(v: &[T], rows: usize, cols: usize) -> ArrayView2<'_, T> {
    ArrayView2::from_shape((rows, cols), v)
        .unwrap_or_else(|_| unreachable!("buffers are sized rows × cols"))
}

fn view_mut<T: Float>(v: &mut [T], rows: usize, cols: usize) -> ArrayViewMut2<'_, T> {
    ArrayViewMut2::from_shape((rows, cols), v)
        .unwrap_or_else(|_| unreachable!("buffers are sized rows × cols"))
}

/// An elementwise or per-example step on one example's (padded) activations.
fn apply_rowwise<T: Float>(step: &Compiled<T>, v: &mut [T]) {
    match step {
        Compiled::Affine { .. } => unreachable!("products are handled by the caller"),
        Compiled::ScaleShift { scale, shift } => {
            for ((x, &a), &b) in v.iter_mut().zip(scale).zip(shift) {
                *x = *x * a + b;
            }
        }
        Compiled::Sigmoid => kernels::sigmoid_inplace(v),
        Compiled::Relu => {
            for x in v.iter_mut() {
                // NaN stays NaN, as in the tape's relu.
                if *x <= T::zero() {
                    *x = T::zero();
                }
            }
        }
        Compiled::LeakyRelu(a) => {
            for x in v.iter_mut() {
                *x = if *x > T::zero() { *x } else { *a * *x };
            }
        }
        Compiled::Tanh => {
            for x in v.iter_mut() {
                *x = x.tanh();
            }
        }
        Compiled::Softmax { n } => {
            let v = &mut v[..*n];
            let max = v.iter().fold(T::neg_infinity(), |m, &x| m.max(x));
            let mut sum = T::zero();
            for x in v.iter_mut() {
                *x = (*x - max).exp();
                sum += *x;
            }
            for x in v.iter_mut() {
                *x /= sum;
            }
        }
        Compiled::LogSoftmax { n } => {
            let v = &mut v[..*n];
            let max = v.iter().fold(T::neg_infinity(), |m, &x| m.max(x));
            let sum = v.iter().fold(T::zero(), |s, &x| s + (x - max).exp());
            let log_sum = sum.ln() + max;
            for x in v.iter_mut() {
                *x -= log_sum;
            }
        }
    }
}
