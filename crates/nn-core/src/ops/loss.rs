//! Softmax and cross-entropy fused into one op (book 1 ch.5.6.3 「Softmax-with-Lossレイヤ」):
//! stable in the forward pass (log-sum-exp) and with the book's clean gradient `y - t` per row.

use ndarray::{ArcArray, ArrayD, IxDyn, Zip};

use crate::float::Float;
use crate::kernels::{self, team};
use crate::op::{Grads, Op};
use crate::tensor::Tensor;

/// Rows of logits are shared among threads from this many values per thread on (a 10,000-word
/// softmax over a few hundred rows, say); below it one thread does all.
const PAR_MIN_VALUES: usize = 1 << 16;

/// Runs of rows for `n` rows holding `values` values in all: as many as threads allowed with at
/// least [`PAR_MIN_VALUES`] each (1 for small inputs), and rows per run.
pub(super) fn row_runs(values: usize, n: usize) -> (usize, usize) {
    let parts = kernels::num_threads()
        .min(values / PAR_MIN_VALUES)
        .clamp(1, n.max(1));
    (parts, n.div_ceil(parts).max(1))
}

/// Panics naming `op` at the first label that is not below `classes`.
pub(super) fn check_labels(op: &str, labels: &[usize], classes: usize) {
    if let Some(&bad) = labels.iter().find(|&&k| k >= classes) {
        panic!("{op}: label {bad} for {classes} classes");
    }
}

/// One row's `logsumexp`, from its maximum and `Σ e^(z − max)`; the softmax written into
/// `probs` when given. Both losses below go through it, so that they agree to the bit.
fn row_lse<T: Float>(row: &[T], probs: Option<&mut [T]>) -> T {
    let m = kernels::max(row);
    match probs {
        Some(p) => {
            let total = kernels::exp_sum(row, m, Some(&mut *p));
            let inv = T::one() / total;
            p.iter_mut().for_each(|v| *v *= inv);
            m + total.ln()
        }
        None => m + kernels::exp_sum(row, m, None).ln(),
    }
}

/// Calls `f(row, logits, probs, loss)` for every row of `(n, c)` logits, the rows split in runs
/// over the threads when large; `probs` (the softmax's `(n, c)` buffer) only where kept.
fn each_row<T: Float>(
    z: &[T],
    c: usize,
    probs: Option<&mut [T]>,
    losses: &mut [T],
    f: impl Fn(usize, &[T], Option<&mut [T]>, &mut T) + Sync,
) {
    let n = losses.len();
    let (parts, per) = row_runs(z.len(), n);
    let run = |first: usize, probs: Option<&mut [T]>, losses: &mut [T]| {
        let mut probs = probs.map(|p| p.chunks_mut(c.max(1)));
        for (k, loss) in losses.iter_mut().enumerate() {
            let i = first + k;
            f(
                i,
                &z[i * c..(i + 1) * c],
                probs.as_mut().and_then(Iterator::next),
                loss,
            );
        }
    };
    if parts == 1 {
        return run(0, probs, losses);
    }
    match probs {
        Some(p) => team::for_each(
            p.chunks_mut(per * c.max(1))
                .zip(losses.chunks_mut(per))
                .collect(),
            &|k, (p, l)| run(k * per, Some(p), l),
        ),
        None => team::for_each(losses.chunks_mut(per).collect(), &|k, l| {
            run(k * per, None, l)
        }),
    }
}

/// Per-row `Σ_c t_c (logsumexp(z) - z_c)` of logits `z` against targets `t`; keeps the softmax
/// and the targets: `dz = g · (y Σ t - t)` per row (`y - t` for distributions).
pub(crate) struct SoftmaxCrossEntropyOp<T: Float> {
    saved: Option<(ArrayD<T>, ArcArray<T, IxDyn>)>,
}

impl<T: Float> Op<T> for SoftmaxCrossEntropyOp<T> {
    fn name(&self) -> &'static str {
        "softmax_cross_entropy"
    }
    fn forward(&mut self, inputs: &[&ArcArray<T, IxDyn>], needs: &[bool]) -> ArcArray<T, IxDyn> {
        let (z, t) = (inputs[0], inputs[1]);
        assert!(
            z.ndim() == 2 && z.shape() == t.shape(),
            "softmax_cross_entropy: logits {:?} and target {:?} must both be (N, C)",
            z.shape(),
            t.shape()
        );
        let (n, c) = (z.shape()[0], z.shape()[1]);
        let (z, ts) = (z.as_standard_layout(), t.as_standard_layout());
        let (zs, ts) = (
            z.as_slice().expect("standard"),
            ts.as_slice().expect("standard"),
        );
        let mut probs = needs[0].then(|| vec![T::zero(); n * c]);
        let mut losses = vec![T::zero(); n];
        each_row(
            zs,
            c,
            probs.as_deref_mut(),
            &mut losses,
            |i, row, p, loss| {
                let lse = row_lse(row, p);
                let t = &ts[i * c..(i + 1) * c];
                *loss = row.iter().zip(t).fold(T::zero(), |acc, (&z, &t)| {
                    // A zero target contributes nothing, even where lse - z is infinite.
                    if t == T::zero() {
                        acc
                    } else {
                        acc + t * (lse - z)
                    }
                });
            },
        );
        if let Some(p) = probs {
            let p = ArrayD::from_shape_vec(IxDyn(&[n, c]), p).expect("(n, c)");
            self.saved = Some((p, t.clone()));
        }
        ArrayD::from_shape_vec(IxDyn(&[n]), losses)
            .expect("(n)")
            .into_shared()
    }
    fn backward(self: Box<Self>, g: ArrayD<T>, grads: &mut Grads<'_, T>) {
        let Some((mut probs, target)) = self.saved else {
            return;
        };
        // ∂/∂z_c of Σ_k t_k (lse - z_k) = y_c Σ_k t_k - t_c, times the row's incoming gradient.
        Zip::from(probs.rows_mut())
            .and(target.rows())
            .and(&g)
            .for_each(|mut y, t, &g| {
                let total = t.sum();
                Zip::from(&mut y)
                    .and(&t)
                    .for_each(|y, &t| *y = g * (*y * total - t));
            });
        grads.add(0, probs);
    }
}

/// The same loss against class labels: per row `logsumexp(z) - z_label`, the arithmetic of
/// [`SoftmaxCrossEntropyOp`] with a one-hot target (so the same bits) without building the
/// one-hot matrix; `dz = g · (y - onehot)`.
pub(crate) struct SoftmaxCrossEntropyClassesOp<T: Float> {
    labels: Vec<usize>,
    probs: Option<Vec<T>>,
    classes: usize,
}

impl<T: Float> Op<T> for SoftmaxCrossEntropyClassesOp<T> {
    fn name(&self) -> &'static str {
        "softmax_cross_entropy_classes"
    }
    fn forward(&mut self, inputs: &[&ArcArray<T, IxDyn>], needs: &[bool]) -> ArcArray<T, IxDyn> {
        let z = inputs[0];
        assert!(
            z.ndim() == 2 && z.shape()[0] == self.labels.len(),
            "softmax_cross_entropy_classes: logits {:?} for {} labels must be (N, C)",
            z.shape(),
            self.labels.len()
        );
        let (n, c) = (z.shape()[0], z.shape()[1]);
        check_labels("softmax_cross_entropy_classes", &self.labels, c);
        let z = z.as_standard_layout();
        let zs = z.as_slice().expect("standard");
        let mut probs = needs[0].then(|| vec![T::zero(); n * c]);
        let mut losses = vec![T::zero(); n];
        let labels = &self.labels;
        each_row(
            zs,
            c,
            probs.as_deref_mut(),
            &mut losses,
            |i, row, p, loss| {
                *loss = T::zero() + (row_lse(row, p) - row[labels[i]]);
            },
        );
        self.probs = probs;
        self.classes = c;
        ArrayD::from_shape_vec(IxDyn(&[n]), losses)
            .expect("(n)")
            .into_shared()
    }
    fn backward(self: Box<Self>, g: ArrayD<T>, grads: &mut Grads<'_, T>) {
        let Some(mut probs) = self.probs else {
            return;
        };
        let (n, c) = (self.labels.len(), self.classes);
        let g = g.as_standard_layout();
        let g = g.as_slice().expect("standard");
        let labels = &self.labels;
        // `g (y - t)` as the one-hot loss computes it: `g y` off the label, `g (y - 1)` on it.
        let scale = |first: usize, run: &mut [T]| {
            for (j, y) in run.chunks_mut(c.max(1)).enumerate() {
                let (i, g) = (first + j, g[first + j]);
                let yl = y[labels[i]];
                y.iter_mut().for_each(|v| *v *= g);
                y[labels[i]] = g * (yl - T::one());
            }
        };
        let (parts, per) = row_runs(probs.len(), n);
        if parts == 1 {
            scale(0, &mut probs);
        } else {
            team::for_each(probs.chunks_mut(per * c.max(1)).collect(), &|k, run| {
                scale(k * per, run)
            });
        }
        grads.add(
            0,
            ArrayD::from_shape_vec(IxDyn(&[n, c]), probs).expect("(n, c)"),
        );
    }
}

impl<T: Float> Tensor<T> {
    /// Per-row cross-entropy of `softmax(self)` against class `labels`: for logits `(N, C)`,
    /// `(N,)` with `loss_i = logsumexp(z_i) - z_i[labels_i]` — exactly what
    /// [`softmax_cross_entropy`](Self::softmax_cross_entropy) gives against one-hot rows,
    /// without building them. Its gradient is `softmax(z_i) - onehot_i` per row.
    ///
    /// ```
    /// use nn_core::Tensor;
    /// let z = Tensor::<f64>::from_vec(&[1, 3], vec![1.0, 2.0, 3.0]);
    /// let t = Tensor::<f64>::from_vec(&[1, 3], vec![0.0, 0.0, 1.0]);
    /// assert_eq!(z.softmax_cross_entropy_classes(&[2]).to_array(), z.softmax_cross_entropy(&t).to_array());
    /// ```
    ///
    /// # Panics
    /// If the logits are not `(labels.len(), C)` or a label is not below `C`.
    pub fn softmax_cross_entropy_classes(&self, labels: &[usize]) -> Tensor<T> {
        let op = SoftmaxCrossEntropyClassesOp {
            labels: labels.to_vec(),
            probs: None,
            classes: 0,
        };
        Tensor::apply(op, &[self])
    }

    /// Per-row cross-entropy of `softmax(self)` against `target`: for logits `(N, C)` and target
    /// distributions (e.g. one-hot rows) `(N, C)`, returns `(N,)` with
    /// `loss_i = -Σ_c t_ic log softmax(z_i)_c`, computed as `Σ_c t_ic (logsumexp(z_i) - z_ic)`.
    /// Its gradient is `(softmax(z_i) - t_i)` per row (for rows of `t` summing to 1); take
    /// `.mean()` for the book's `(y - t) / N`. The target receives no gradient.
    ///
    /// ```
    /// use nn_core::Tensor;
    /// let z = Tensor::<f64>::from_vec(&[1, 3], vec![1.0, 2.0, 3.0]).requires_grad();
    /// let t = Tensor::<f64>::from_vec(&[1, 3], vec![0.0, 0.0, 1.0]);
    /// let loss = z.softmax_cross_entropy(&t).mean();
    /// loss.backward().unwrap();
    /// let y = z.softmax(1).to_array();
    /// assert!((z.grad().unwrap()[[0, 2]] - (y[[0, 2]] - 1.0)).abs() < 1e-12);
    /// ```
    ///
    /// # Panics
    /// If the logits are not 2-D or the target's shape differs.
    pub fn softmax_cross_entropy(&self, target: &Tensor<T>) -> Tensor<T> {
        // The target never receives a gradient.
        let target = target.detach();
        Tensor::apply(SoftmaxCrossEntropyOp { saved: None }, &[self, &target])
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;
    use crate::test_util::{check, rand, uniform};

    fn one_hot(classes: &[usize], c: usize) -> ndarray::ArrayD<f64> {
        let mut t = ndarray::ArrayD::zeros(ndarray::IxDyn(&[classes.len(), c]));
        for (i, &k) in classes.iter().enumerate() {
            t[[i, k]] = 1.0;
        }
        t
    }

    #[test]
    fn gradcheck_with_one_hot_and_soft_targets() {
        let t = Tensor::from_array(one_hot(&[2, 0, 1, 2], 3));
        check(|x| x[0].softmax_cross_entropy(&t), &[rand(&[4, 3], 1)]);
        check(
            |x| x[0].softmax_cross_entropy(&t).mean(),
            &[rand(&[4, 3], 2)],
        );
        let soft = uniform(&[4, 3], 0.0, 1.0, 3);
        let soft = Tensor::from_array(
            &soft
                / &soft
                    .sum_axis(ndarray::Axis(1))
                    .insert_axis(ndarray::Axis(1)),
        );
        check(|x| x[0].softmax_cross_entropy(&soft), &[rand(&[4, 3], 4)]);
    }

    #[test]
    fn matches_the_unfused_formula_and_is_stable() {
        let z = Tensor::<f64>::from_vec(&[2, 3], vec![1000.0, 0.0, -1000.0, 0.1, 0.2, 0.3]);
        let t = Tensor::from_array(one_hot(&[0, 2], 3));
        let fused = z.softmax_cross_entropy(&t).to_array();
        assert!(fused.iter().all(|v| v.is_finite()));
        let plain = (z.log_softmax(1) * &t)
            .sum_axes(&[1], false)
            .neg()
            .to_array();
        assert!(
            fused
                .iter()
                .zip(plain.iter())
                .all(|(a, b)| (a - b).abs() < 1e-12)
        );
        assert!(fused[0].abs() < 1e-12); // a confident right answer costs nothing
    }

    #[test]
    fn mean_gradient_is_y_minus_t_over_n() {
        let z = Tensor::<f64>::from_array(rand(&[5, 4], 5)).requires_grad();
        let t = Tensor::from_array(one_hot(&[0, 1, 2, 3, 0], 4));
        z.softmax_cross_entropy(&t).mean().backward().unwrap();
        let expected = (z.softmax(1).to_array() - t.to_array()) / 5.0;
        let grad = z.grad().unwrap();
        assert!(
            grad.iter()
                .zip(expected.iter())
                .all(|(a, b)| (a - b).abs() < 1e-15)
        );
    }

    /// Labels give the one-hot loss and gradient to the bit, and pass the gradient check.
    #[test]
    fn class_labels_are_the_one_hot_rows_exactly() {
        let labels = [2, 0, 1, 2, 1];
        let t = Tensor::from_array(one_hot(&labels, 3));
        let a = Tensor::<f64>::from_array(rand(&[5, 3], 6)).requires_grad();
        let b = Tensor::<f64>::from_array(a.to_array()).requires_grad();
        // One graph at a time: a backward pass frees the tape it walked.
        let la = a.softmax_cross_entropy(&t);
        let va = la.to_array();
        la.mean().backward().unwrap();
        let lb = b.softmax_cross_entropy_classes(&labels);
        assert_eq!(va, lb.to_array());
        lb.mean().backward().unwrap();
        assert_eq!(a.grad().unwrap(), b.grad().unwrap());
        check(
            |x| x[0].softmax_cross_entropy_classes(&labels),
            &[rand(&[5, 3], 7)],
        );
    }

    #[test]
    #[should_panic(expected = "softmax_cross_entropy_classes: label 3 for 3 classes")]
    fn labels_are_checked() {
        let _ = Tensor::<f32>::zeros(&[1, 3]).softmax_cross_entropy_classes(&[3]);
    }

    #[test]
    #[should_panic(
        expected = "softmax_cross_entropy: logits [2, 3] and target [2, 4] must both be (N, C)"
    )]
    fn shapes_are_checked() {
        let _ = Tensor::<f32>::zeros(&[2, 3]).softmax_cross_entropy(&Tensor::zeros(&[2, 4]));
    }
}
