//! A wide output layer and its loss in one op: `x @ w + b`, softmax and cross-entropy against
//! class labels, averaged over the rows — a language model's 100 → 10,000 scores for 700 words
//! never held whole. The scores are made a block of rows at a time; each block becomes its
//! gradient in place (`(softmax − onehot) / N`, each row short of its factor `1 / (N Σ)`, which
//! the products take from their short operands) and is folded into the gradients of `x`, `w`
//! and `b` at once, while it is still in cache (`b`'s as one more row of `w`'s product).
//! Unfused, the same step writes and reads two `(N, C)` arrays in fresh memory (the scores and
//! their gradient) and makes one more pass for the bias's column sums.

use ndarray::{ArcArray, Array2, ArrayD, ArrayView2, ArrayViewMut2, Ix2, IxDyn, Zip, s};

use crate::float::Float;
use crate::kernels::{self, gemm, team};
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
        // `dw` and `db` come from one product: `db` is the row below `dw`'s (`[x; 1]ᵀ g`).
        let (want_dw, want_db) = (needs[1], needs[2]);
        let wide = if want_dw { d } else { 0 } + usize::from(want_db);
        let mut dwb = (wide > 0).then(|| Array2::<T>::zeros((wide, c)));
        // The mean's `1 / N`, folded into every row of the gradient (an empty batch's mean is
        // NaN, as `mean` of no values gives).
        let inv_n = T::lit(1.0 / n as f64);
        let scale = needs.iter().any(|&n| n).then_some(inv_n);
        let rows = self.block_rows.min(n);
        let mut block = vec![T::zero(); rows * c];
        let mut factors = vec![T::zero(); rows];
        let mut scaled = Array2::<T>::zeros((if wide > 0 { rows } else { 0 }, wide));
        let mut total = T::zero();
        for r0 in (0..n).step_by(rows.max(1)) {
            let r1 = (r0 + rows).min(n);
            let z = &mut block[..(r1 - r0) * c];
            let xb = x.slice(s![r0..r1, ..]);
            let mut zv = ArrayViewMut2::from_shape((r1 - r0, c), &mut *z)
                .unwrap_or_else(|_| unreachable!("rows × classes"));
            gemm(T::one(), &xb, &w_rows.view(), T::zero(), &mut zv);
            let labels = &self.labels[r0..r1];
            let k = &mut factors[..r1 - r0];
            total += rows_to_gradient(z, bias, labels, scale.map(|s| (s, &mut *k)));
            // Row `i` of the gradient is `kᵢ eᵢ`; the factors go into the short operands
            // (`dx`'s rows after, `x`'s rows before) rather than over the block once more.
            let e = ArrayView2::from_shape((r1 - r0, c), &*z)
                .unwrap_or_else(|_| unreachable!("rows × classes"));
            if let (Some(dx), Some(wt)) = (&mut dx, &wt_rows) {
                let mut part = dx.slice_mut(s![r0..r1, ..]);
                gemm(T::one(), &e, &wt.view(), T::zero(), &mut part);
                for (mut row, &k) in part.rows_mut().into_iter().zip(&*k) {
                    row.mapv_inplace(|v| v * k);
                }
            }
            if let Some(dwb) = &mut dwb {
                let mut xs = scaled.slice_mut(s![..r1 - r0, ..]);
                for ((mut to, from), &k) in xs.rows_mut().into_iter().zip(xb.rows()).zip(&*k) {
                    if want_dw {
                        Zip::from(to.slice_mut(s![..d]))
                            .and(&from)
                            .for_each(|t, &f| *t = f * k);
                    }
                    if want_db {
                        to[wide - 1] = k;
                    }
                }
                // The first block overwrites: reading the fresh zeros would fault every page
                // twice (once for the zero page, once more to write).
                let beta = if r0 == 0 { T::zero() } else { T::one() };
                gemm(T::one(), &xs.t(), &e, beta, &mut dwb.view_mut());
            }
        }
        let db = want_db.then(|| {
            let dwb = dwb
                .as_ref()
                .unwrap_or_else(|| unreachable!("made where wanted"));
            ArrayD::from_shape_vec(IxDyn(&[c]), dwb.row(wide - 1).to_vec()).expect("(c)")
        });
        let dw = dwb
            .filter(|_| want_dw)
            .map(|dwb| dwb.slice_move(s![..d, ..]).into_dyn());
        self.grads = [dx.map(Array2::into_dyn), dw, db];
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

/// Adds `bias` to each row of products `z` (`labels.len()` rows) and returns the rows'
/// summed losses `logsumexp(z_i) − z_i[label_i]`. Given `(scale, factors)`, also turns row `i`
/// into `e_i = exp(z_i − max z_i)` less the row's sum at its label, with `factors[i] = scale /
/// Σ exp(z_i − max z_i)`: the gradient `scale · (softmax − onehot)` is `factors[i] · e_i`. The
/// rows are split in runs over the threads when large.
fn rows_to_gradient<T: Float>(
    z: &mut [T],
    bias: &[T],
    labels: &[usize],
    grad: Option<(T, &mut [T])>,
) -> T {
    let c = bias.len();
    let (scale, factors) = match grad {
        Some((s, f)) => (s, Some(f)),
        None => (T::zero(), None),
    };
    let run = |first: usize, z: &mut [T], factors: Option<&mut [T]>| {
        let mut loss = T::zero();
        let mut factors = factors.map(|f| f.iter_mut());
        for (k, row) in z.chunks_mut(c.max(1)).enumerate() {
            let m = kernels::add_max(row, bias);
            let label = labels[first + k];
            let picked = row[label];
            let Some(factor) = factors.as_mut().and_then(Iterator::next) else {
                loss += m + kernels::exp_sum(row, m, None).ln() - picked;
                continue;
            };
            let sum = kernels::exp_sum_inplace(row, m);
            loss += m + sum.ln() - picked;
            row[label] -= sum;
            *factor = scale / sum;
        }
        loss
    };
    let (parts, per) = row_runs(z.len(), labels.len());
    if parts == 1 {
        return run(0, z, factors);
    }
    let chunks = z.chunks_mut(per * c.max(1));
    let losses: Vec<T> = match factors {
        Some(f) => team::map(chunks.zip(f.chunks_mut(per)).collect(), &|k, (z, f)| {
            run(k * per, z, Some(f))
        }),
        None => team::map(chunks.collect(), &|k, z| run(k * per, z, None)),
    };
    losses.into_iter().fold(T::zero(), |a, l| a + l)
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
