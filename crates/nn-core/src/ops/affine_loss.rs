//! A wide output layer and its loss in one op: `x @ w + b`, softmax and cross-entropy against
//! class labels, averaged over the rows — a language model's 100 → 10,000 scores for 700 words
//! never held whole. The scores are made a block of rows at a time; each block becomes its
//! gradient in place (`(softmax − onehot) / N`) and is folded into the gradients of `x`, `w`
//! and `b` at once, while it is still in cache. Unfused, the same step writes and reads two
//! `(N, C)` arrays in fresh memory (the scores and their gradient) and makes one more pass for
//! the bias's column sums.

use ndarray::{ArcArray, Array2, ArrayD, ArrayView2, ArrayViewMut2, Ix2, IxDyn, Zip, s};
use rayon::prelude::*;

use crate::float::Float;
use crate::kernels::{self, gemm};
use crate::op::{Grads, Op};
use crate::tensor::Tensor;

use super::loss::{check_labels, row_runs};
use super::matmul::check_affine;

/// Scores per block: about 4 MB of `f32` (104 rows of 10,000 words), whatever the width.
const BLOCK_VALUES: usize = 1 << 20;

/// The mean of `logsumexp(x_i w + b) − (x_i w + b)[label_i]` over the rows; the three gradients
/// are made in the forward pass (where the needs say) and scaled by the incoming one after.
pub(crate) struct AffineCrossEntropyOp<T: Float> {
    labels: Vec<usize>,
    /// Rows per block of scores.
    block_rows: usize,
    /// `dx`, `dw`, `db` for an incoming gradient of 1.
    grads: [Option<ArrayD<T>>; 3],
}

impl<T: Float> AffineCrossEntropyOp<T> {
    fn new(labels: &[usize], classes: usize) -> Self {
        Self {
            labels: labels.to_vec(),
            block_rows: (BLOCK_VALUES / classes.max(1)).max(1),
            grads: [None, None, None],
        }
    }
}

fn matrix<T: Float>(a: &ArcArray<T, IxDyn>) -> ArrayView2<'_, T> {
    a.view()
        .into_dimensionality::<Ix2>()
        .unwrap_or_else(|_| unreachable!("2-D, checked"))
}

impl<T: Float> Op<T> for AffineCrossEntropyOp<T> {
    fn name(&self) -> &'static str {
        "affine_cross_entropy"
    }

    fn forward(&mut self, v: &[&ArcArray<T, IxDyn>], needs: &[bool]) -> ArcArray<T, IxDyn> {
        let (x, w, b) = (v[0], v[1], v[2]);
        let (sx, sw) = (x.shape(), w.shape());
        check_affine("affine_cross_entropy", sx, sw, b.shape());
        let (n, d, c) = (sx[0], sx[1], sw[1]);
        assert!(
            self.labels.len() == n,
            "affine_cross_entropy: {} labels for {n} rows",
            self.labels.len()
        );
        check_labels("affine_cross_entropy", &self.labels, c);
        let (x, w) = (matrix(x), matrix(w));
        // `w` as rows for the scores and `wᵀ` as rows for `dx`: the short-side kernel reads
        // both in place (one is a copy, made once, where `w` is a transposed embedding).
        let w_rows = w.as_standard_layout();
        let wt_rows = needs[0].then(|| kernels::transposed(w));
        let bias = b.as_standard_layout();
        let bias = bias
            .as_slice()
            .unwrap_or_else(|| unreachable!("standard layout"));
        let mut dx = needs[0].then(|| Array2::<T>::zeros((n, d)));
        let mut dw = needs[1].then(|| Array2::<T>::zeros((d, c)));
        let mut db = needs[2].then(|| vec![T::zero(); c]);
        // The mean's `1 / N`, folded into every row of the gradient (an empty batch's mean is
        // NaN, as `mean` of no values gives).
        let inv_n = T::lit(1.0 / n as f64);
        let scale = needs.iter().any(|&n| n).then_some(inv_n);
        let rows = self.block_rows.min(n);
        let mut block = vec![T::zero(); rows * c];
        let mut total = T::zero();
        for r0 in (0..n).step_by(rows.max(1)) {
            let r1 = (r0 + rows).min(n);
            let z = &mut block[..(r1 - r0) * c];
            let xb = x.slice(s![r0..r1, ..]);
            let mut zv = ArrayViewMut2::from_shape((r1 - r0, c), &mut *z)
                .unwrap_or_else(|_| unreachable!("rows × classes"));
            gemm(T::one(), &xb, &w_rows.view(), T::zero(), &mut zv);
            let labels = &self.labels[r0..r1];
            total += rows_to_gradient(z, bias, labels, scale, db.as_deref_mut());
            let g = ArrayView2::from_shape((r1 - r0, c), &*z)
                .unwrap_or_else(|_| unreachable!("rows × classes"));
            if let (Some(dx), Some(wt)) = (&mut dx, &wt_rows) {
                let mut part = dx.slice_mut(s![r0..r1, ..]);
                gemm(T::one(), &g, &wt.view(), T::zero(), &mut part);
            }
            if let Some(dw) = &mut dw {
                // The first block overwrites: reading the fresh zeros would fault every page
                // twice (once for the zero page, once more to write).
                let beta = if r0 == 0 { T::zero() } else { T::one() };
                gemm(T::one(), &xb.t(), &g, beta, &mut dw.view_mut());
            }
        }
        self.grads = [
            dx.map(Array2::into_dyn),
            dw.map(Array2::into_dyn),
            db.map(|db| ArrayD::from_shape_vec(IxDyn(&[c]), db).expect("(c)")),
        ];
        let mean = if n == 0 { T::nan() } else { total * inv_n };
        ArrayD::from_elem(IxDyn(&[]), mean).into_shared()
    }

    fn backward(self: Box<Self>, g: ArrayD<T>, grads: &mut Grads<'_, T>) {
        let g = g.first().copied().unwrap_or_else(T::one);
        for (input, grad) in self.grads.into_iter().enumerate() {
            if let Some(mut grad) = grad {
                if g != T::one() {
                    grad.mapv_inplace(|v| v * g);
                }
                grads.add(input, grad);
            }
        }
    }
}

/// Adds `bias` to each row of products `z` (`labels.len()` rows) and turns the row into its
/// gradient `scale · (softmax − onehot)` where `scale` is given (adding the rows into `db` where
/// given); returns the rows' summed losses `logsumexp(z_i) − z_i[label_i]`. The rows are split
/// in runs over the threads when large, each run with its own share of `db`.
fn rows_to_gradient<T: Float>(
    z: &mut [T],
    bias: &[T],
    labels: &[usize],
    scale: Option<T>,
    db: Option<&mut [T]>,
) -> T {
    let c = bias.len();
    let run = |first: usize, z: &mut [T], mut db: Option<&mut [T]>| {
        let mut loss = T::zero();
        for (k, row) in z.chunks_mut(c.max(1)).enumerate() {
            let m = kernels::add_max(row, bias);
            let label = labels[first + k];
            let picked = row[label];
            let Some(scale) = scale else {
                loss += m + kernels::exp_sum(row, m, None).ln() - picked;
                continue;
            };
            let sum = kernels::exp_sum_inplace(row, m);
            loss += m + sum.ln() - picked;
            let k = scale / sum;
            match db.as_deref_mut() {
                Some(db) => Zip::from(&mut *row).and(&mut *db).for_each(|v, d| {
                    *v *= k;
                    *d += *v;
                }),
                None => row.iter_mut().for_each(|v| *v *= k),
            }
            row[label] -= scale;
            if let Some(db) = db.as_deref_mut() {
                db[label] -= scale;
            }
        }
        loss
    };
    let (parts, per) = row_runs(z.len(), labels.len());
    if parts == 1 {
        return run(0, z, db);
    }
    let want_db = db.is_some();
    let results: Vec<(T, Option<Vec<T>>)> = z
        .par_chunks_mut(per * c.max(1))
        .enumerate()
        .map(|(k, z)| {
            let mut part = want_db.then(|| vec![T::zero(); c]);
            let loss = run(k * per, z, part.as_deref_mut());
            (loss, part)
        })
        .collect();
    let mut total = T::zero();
    let mut db = db;
    for (loss, part) in results {
        total += loss;
        if let (Some(db), Some(part)) = (db.as_deref_mut(), part) {
            db.iter_mut().zip(&part).for_each(|(d, &p)| *d += p);
        }
    }
    total
}

impl<T: Float> Tensor<T> {
    /// The mean cross-entropy of `softmax(self @ w + b)` against class `labels`, for `self (N,
    /// in)`, `w (in, C)`, `b (C)`: what `self.affine(w, b).softmax_cross_entropy_classes(labels)
    /// .mean()` gives, in one op that never holds the `(N, C)` scores — a block of rows at a
    /// time becomes its gradient while it is in cache (for a language model's output layer,
    /// where `C` is the vocabulary). The gradients are made in the forward pass for the inputs
    /// that need them, so evaluate under [`no_grad`](crate::no_grad) when none will be taken.
    ///
    /// ```
    /// use nn_core::Tensor;
    /// let x = Tensor::<f64>::from_vec(&[2, 2], vec![0.5, -1.0, 2.0, 0.1]).requires_grad();
    /// let w = Tensor::<f64>::from_vec(&[2, 3], vec![1.0, 0.0, -1.0, 0.3, 0.2, 0.1]);
    /// let b = Tensor::<f64>::from_vec(&[3], vec![0.0, 0.1, 0.2]);
    /// let fused = x.affine_cross_entropy(&w, &b, &[2, 0]);
    /// let plain = x.affine(&w, &b).softmax_cross_entropy_classes(&[2, 0]).mean();
    /// assert!((fused.item() - plain.item()).abs() < 1e-15);
    /// fused.backward().unwrap();
    /// assert_eq!(x.grad().unwrap().shape(), &[2, 2]);
    /// ```
    ///
    /// # Panics
    /// If `self` or `w` is not 2-D, the inner dimensions differ, `b` is not `(C,)`, or the
    /// labels are not one per row, each below `C`.
    pub fn affine_cross_entropy(
        &self,
        w: &Tensor<T>,
        b: &Tensor<T>,
        labels: &[usize],
    ) -> Tensor<T> {
        let classes = w.shape().get(1).copied().unwrap_or(0);
        Tensor::apply(AffineCrossEntropyOp::new(labels, classes), &[self, w, b])
    }
}

#[cfg(test)]
mod tests {
    use super::AffineCrossEntropyOp;
    use crate::Tensor;
    use crate::test_util::{check, rand};

    fn unfused(t: &[Tensor<f64>], labels: &[usize]) -> Tensor<f64> {
        t[0].affine(&t[1], &t[2])
            .softmax_cross_entropy_classes(labels)
            .mean()
    }

    /// The loss and every gradient against the unfused ops, in blocks of 1, 2 and 3 rows and
    /// whole; `w` as given and as a transposed (tied) weight.
    #[test]
    fn equals_affine_then_softmax_cross_entropy() {
        let labels = [3, 0, 4, 4, 1, 2, 0];
        for (tied, seed) in [(false, 1), (true, 5)] {
            let w_shape: &[usize] = if tied { &[5, 3] } else { &[3, 5] };
            let inputs = [
                rand(&[7, 3], seed),
                rand(w_shape, seed + 1),
                rand(&[5], seed + 2),
            ];
            let leaves = || -> Vec<Tensor<f64>> {
                inputs
                    .iter()
                    .map(|a| Tensor::from_array(a.clone()).requires_grad())
                    .collect()
            };
            let operands = |t: &[Tensor<f64>]| {
                let w = if tied { t[1].t() } else { t[1].clone() };
                [t[0].clone(), w, t[2].clone()]
            };
            let plain = leaves();
            let expected = unfused(&operands(&plain), &labels);
            let value = expected.item();
            (expected * Tensor::scalar(0.7)).backward().unwrap();
            for block_rows in [1, 2, 3, 7] {
                let fused = leaves();
                let o = operands(&fused);
                let mut op = AffineCrossEntropyOp::new(&labels, 5);
                op.block_rows = block_rows;
                let loss = Tensor::apply(op, &[&o[0], &o[1], &o[2]]);
                assert!((loss.item() - value).abs() < 1e-14, "{block_rows} rows");
                (loss * Tensor::scalar(0.7)).backward().unwrap();
                for (f, p) in fused.iter().zip(&plain) {
                    let (f, p) = (f.grad().unwrap(), p.grad().unwrap());
                    assert!(
                        f.iter().zip(p.iter()).all(|(a, b)| (a - b).abs() < 1e-14),
                        "{block_rows} rows: {f} against {p}"
                    );
                }
            }
        }
    }

    #[test]
    fn gradcheck() {
        let labels = [1, 0, 2, 2];
        check(
            |t| t[0].affine_cross_entropy(&t[1], &t[2], &labels),
            &[rand(&[4, 3], 11), rand(&[3, 3], 12), rand(&[3], 13)],
        );
    }

    /// Under `no_grad` only the loss is made, and it is the same.
    #[test]
    fn without_gradients_the_loss_alone() {
        let t: Vec<Tensor<f32>> = [rand(&[6, 4], 21), rand(&[4, 9], 22), rand(&[9], 23)]
            .iter()
            .map(|a| Tensor::from_array(a.mapv(|v| v as f32)).requires_grad())
            .collect();
        let labels = [8, 0, 3, 3, 5, 1];
        let with = t[0].affine_cross_entropy(&t[1], &t[2], &labels).item();
        let without = crate::no_grad(|| t[0].affine_cross_entropy(&t[1], &t[2], &labels)).item();
        assert_eq!(with, without);
        let plain = t[0]
            .affine(&t[1], &t[2])
            .softmax_cross_entropy_classes(&labels)
            .mean()
            .item();
        assert!((with - plain).abs() < 1e-6, "{with} against {plain}");
    }

    #[test]
    #[should_panic(expected = "affine_cross_entropy: label 3 for 3 classes")]
    fn labels_are_checked() {
        let x = Tensor::<f32>::zeros(&[1, 2]);
        let _ = x.affine_cross_entropy(&Tensor::zeros(&[2, 3]), &Tensor::zeros(&[3]), &[3]);
    }

    #[test]
    #[should_panic(expected = "affine_cross_entropy: 1 labels for 2 rows")]
    fn one_label_per_row() {
        let x = Tensor::<f32>::zeros(&[2, 2]);
        let _ = x.affine_cross_entropy(&Tensor::zeros(&[2, 3]), &Tensor::zeros(&[3]), &[0]);
    }

    #[test]
    #[should_panic(expected = "affine_cross_entropy: x [2, 2] @ w [3, 3] + b [3] needs")]
    fn shapes_are_checked() {
        let x = Tensor::<f32>::zeros(&[2, 2]);
        let _ = x.affine_cross_entropy(&Tensor::zeros(&[3, 3]), &Tensor::zeros(&[3]), &[0, 0]);
    }
}
