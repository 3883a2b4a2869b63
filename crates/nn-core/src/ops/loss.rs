//! Softmax and cross-entropy fused into one op (book 1 ch.5.6.3 「Softmax-with-Lossレイヤ」):
//! stable in the forward pass (log-sum-exp) and with the book's clean gradient `y - t` per row.

use ndarray::{ArcArray, ArrayD, IxDyn, Zip};

use crate::float::Float;
use crate::op::{Grads, Op};
use crate::tensor::Tensor;

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
        let mut probs = z.to_owned();
        let mut losses = ArrayD::zeros(IxDyn(&[z.shape()[0]]));
        Zip::from(probs.rows_mut())
            .and(t.rows())
            .and(&mut losses)
            .for_each(|mut row, t, loss| {
                let m = row.fold(T::neg_infinity(), |m, &v| m.max(v));
                let total = row.fold(T::zero(), |s, &v| s + (v - m).exp());
                let lse = m + total.ln();
                *loss = row.iter().zip(t.iter()).fold(T::zero(), |acc, (&z, &t)| {
                    // A zero target contributes nothing, even where lse - z is infinite.
                    if t == T::zero() {
                        acc
                    } else {
                        acc + t * (lse - z)
                    }
                });
                if needs[0] {
                    row.mapv_inplace(|v| (v - lse).exp());
                }
            });
        if needs[0] {
            self.saved = Some((probs, t.clone()));
        }
        losses.into_shared()
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
    probs: Option<ArrayD<T>>,
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
        let c = z.shape()[1];
        if let Some(&bad) = self.labels.iter().find(|&&k| k >= c) {
            panic!("softmax_cross_entropy_classes: label {bad} for {c} classes");
        }
        let mut probs = needs[0].then(|| ArrayD::<T>::zeros(z.raw_dim()));
        let mut losses = ArrayD::zeros(IxDyn(&[z.shape()[0]]));
        for (i, (row, loss)) in z.rows().into_iter().zip(losses.iter_mut()).enumerate() {
            let m = row.fold(T::neg_infinity(), |m, &v| m.max(v));
            let total = row.fold(T::zero(), |s, &v| s + (v - m).exp());
            let lse = m + total.ln();
            *loss = T::zero() + (lse - row[self.labels[i]]);
            if let Some(p) = probs.as_mut() {
                let out = p.index_axis_mut(ndarray::Axis(0), i);
                for (o, &v) in out.into_iter().zip(row.iter()) {
                    *o = (v - lse).exp();
                }
            }
        }
        self.probs = probs;
        losses.into_shared()
    }
    fn backward(self: Box<Self>, g: ArrayD<T>, grads: &mut Grads<'_, T>) {
        let Some(mut probs) = self.probs else {
            return;
        };
        for ((mut y, &label), &g) in probs.outer_iter_mut().zip(&self.labels).zip(g.iter()) {
            for (k, y) in y.iter_mut().enumerate() {
                let t = if k == label { T::one() } else { T::zero() };
                *y = g * (*y * T::one() - t);
            }
        }
        grads.add(0, probs);
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
