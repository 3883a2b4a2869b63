//! Matrix products (book 1 ch.3.3 「多次元配列の計算」 and ch.5.6 「Affine/Softmaxレイヤの実装」):
//! 2-D `(m, k) @ (k, n)` and batched 3-D `(b, m, k) @ (b, k, n)`, where a 2-D operand is shared
//! by every batch entry. Backward: `dA = G Bᵀ`, `dB = Aᵀ G` (summed over the batch for a
//! shared operand). Transposes are stride tricks: no copies.

use ndarray::{
    ArcArray, Array2, Array3, ArrayD, ArrayView2, ArrayView3, ArrayViewD, Axis, Dimension, Ix2,
    Ix3, IxDyn,
};

use crate::float::Float;
use crate::kernels::{PAR_MIN_MACS, dot, gemm, gemm_serial, num_threads};
use crate::op::{Grads, Op};
use crate::tensor::Tensor;

/// A 2-D or 3-D operand seen as 3-D (a 2-D one as a batch of one).
fn as_batch<'a, T: Float>(x: ArrayViewD<'a, T>) -> ArrayView3<'a, T> {
    let x = if x.ndim() == 2 {
        x.insert_axis(Axis(0))
    } else {
        x
    };
    match x.into_dimensionality::<Ix3>() {
        Ok(v) => v,
        Err(_) => unreachable!("matmul operands are checked to be 2-D or 3-D"),
    }
}

/// `out[i] = x[i] @ y[i]` over the batch, where a batch of one is shared; if `out` has a batch
/// of one while the operands have more, the products are summed into it. Large enough batches
/// go to the threads as runs of whole products (an attention's 128 products of 10 × 256 × 29
/// would not split well one by one).
fn batched_gemm<T: Float>(x: ArrayView3<'_, T>, y: ArrayView3<'_, T>, out: &mut Array3<T>) {
    let n = x.len_of(Axis(0)).max(y.len_of(Axis(0)));
    let pick = |v: &ArrayView3<'_, T>, i: usize| if v.len_of(Axis(0)) == 1 { 0 } else { i };
    // Product `i`'s operands (a batch of one shared).
    let operands = move |i: usize| {
        (
            x.index_axis_move(Axis(0), pick(&x, i)),
            y.index_axis_move(Axis(0), pick(&y, i)),
        )
    };
    let summing = out.len_of(Axis(0)) == 1;
    let macs = n * x.len_of(Axis(1)) * x.len_of(Axis(2)) * y.len_of(Axis(2));
    let threads = num_threads().min(n);
    if !summing && threads > 1 && macs >= PAR_MIN_MACS {
        let per = n.div_ceil(threads);
        let parts = out.axis_chunks_iter_mut(Axis(0), per).collect();
        crate::kernels::team::for_each(parts, &|run, mut part: ndarray::ArrayViewMut3<'_, T>| {
            for (j, mut o) in part.axis_iter_mut(Axis(0)).enumerate() {
                let (a, b) = operands(run * per + j);
                gemm_serial(T::one(), &a, &b, T::zero(), &mut o);
            }
        });
        return;
    }
    for i in 0..n {
        let beta = if summing && i > 0 {
            T::one()
        } else {
            T::zero()
        };
        let mut o = out.index_axis_mut(Axis(0), if summing { 0 } else { i });
        let (a, b) = operands(i);
        gemm(T::one(), &a, &b, beta, &mut o);
    }
}

fn transpose_last<T: Float>(x: ArrayView3<'_, T>) -> ArrayView3<'_, T> {
    x.permuted_axes([0, 2, 1])
}

/// The product, or a panic naming both shapes.
fn forward<T: Float>(a: &ArcArray<T, IxDyn>, b: &ArcArray<T, IxDyn>) -> ArrayD<T> {
    let (sa, sb) = (a.shape(), b.shape());
    let dims_ok = |s: &[usize]| s.len() == 2 || s.len() == 3;
    assert!(
        dims_ok(sa) && dims_ok(sb),
        "matmul: expects 2-D or 3-D operands, got shapes {sa:?} and {sb:?}"
    );
    let (k1, k2) = (sa[sa.len() - 1], sb[sb.len() - 2]);
    assert!(
        k1 == k2,
        "matmul: shapes {sa:?} and {sb:?} are not aligned (inner dimensions {k1} and {k2})"
    );
    if sa.len() == 2 && sb.len() == 2 {
        let (a2, b2) = (
            a.view().into_dimensionality::<Ix2>(),
            b.view().into_dimensionality::<Ix2>(),
        );
        return match (a2, b2) {
            (Ok(a2), Ok(b2)) => dot(&a2, &b2).into_dyn(),
            _ => unreachable!("checked to be 2-D"),
        };
    }
    let (a3, b3) = (as_batch(a.view()), as_batch(b.view()));
    let (na, nb) = (a3.len_of(Axis(0)), b3.len_of(Axis(0)));
    assert!(
        na == nb || na == 1 || nb == 1,
        "matmul: batch sizes of shapes {sa:?} and {sb:?} differ"
    );
    let mut out = Array3::zeros((na.max(nb), a3.len_of(Axis(1)), b3.len_of(Axis(2))));
    batched_gemm(a3, b3, &mut out);
    out.into_dyn()
}

/// The gradient for an operand of shape `shape`: `x @ y` per batch, summed to `shape`'s batch.
fn grad_for<T: Float>(shape: &[usize], x: ArrayView3<'_, T>, y: ArrayView3<'_, T>) -> ArrayD<T> {
    let batch = if shape.len() == 3 { shape[0] } else { 1 };
    let rows = shape[shape.len() - 2];
    let cols = shape[shape.len() - 1];
    let mut out = Array3::zeros((batch, rows, cols));
    batched_gemm(x, y, &mut out);
    if shape.len() == 2 {
        out.index_axis_move(Axis(0), 0).into_dyn()
    } else {
        out.into_dyn()
    }
}

/// `a @ b`: `da = g bᵀ`, `db = aᵀ g`, so each operand is kept only when the other one needs a
/// gradient.
pub(crate) struct MatmulOp<T: Float> {
    a_shape: IxDyn,
    b_shape: IxDyn,
    a: Option<ArcArray<T, IxDyn>>,
    b: Option<ArcArray<T, IxDyn>>,
}

impl<T: Float> Op<T> for MatmulOp<T> {
    fn name(&self) -> &'static str {
        "matmul"
    }
    fn forward(&mut self, x: &[&ArcArray<T, IxDyn>], needs: &[bool]) -> ArcArray<T, IxDyn> {
        let y = forward(x[0], x[1]).into_shared();
        self.a_shape = x[0].raw_dim();
        self.b_shape = x[1].raw_dim();
        self.b = needs[0].then(|| x[1].clone());
        self.a = needs[1].then(|| x[0].clone());
        y
    }
    fn backward(self: Box<Self>, g: ArrayD<T>, grads: &mut Grads<'_, T>) {
        let two_d = g.ndim() == 2;
        if let Some(b) = &self.b {
            let da = if two_d {
                dot2(g.view(), b.view().reversed_axes())
            } else {
                grad_for(
                    self.a_shape.slice(),
                    as_batch(g.view()),
                    transpose_last(as_batch(b.view())),
                )
            };
            grads.add(0, da);
        }
        if let Some(a) = &self.a {
            let db = if two_d {
                dot2(a.view().reversed_axes(), g.view())
            } else {
                grad_for(
                    self.b_shape.slice(),
                    transpose_last(as_batch(a.view())),
                    as_batch(g.view()),
                )
            };
            grads.add(1, db);
        }
    }
}

/// The book's Affine layer `x @ w + b` in one op (PyTorch's `addmm`): `db = Σ g` over the
/// batch, `dw = xᵀ g`, `dx = g wᵀ`; `x` is kept only for `dw` and `w` only for `dx`.
pub(crate) struct AffineOp<T: Float> {
    x: Option<ArcArray<T, IxDyn>>,
    w: Option<ArcArray<T, IxDyn>>,
}

impl<T: Float> Op<T> for AffineOp<T> {
    fn name(&self) -> &'static str {
        "affine"
    }
    fn forward(&mut self, v: &[&ArcArray<T, IxDyn>], needs: &[bool]) -> ArcArray<T, IxDyn> {
        let (x, w, b) = (v[0], v[1], v[2]);
        check_affine("affine", x.shape(), w.shape(), b.shape());
        // The bias is the product's starting value: one pass over `y` instead of three
        // (clear, multiply-add, add the bias).
        let (x2, w2) = (as_matrix(x), as_matrix(w));
        let (rows, bias) = (x2.nrows(), b.as_standard_layout());
        let bias = bias
            .as_slice()
            .unwrap_or_else(|| unreachable!("standard layout"));
        // Row by row as whole-slice copies: ndarray's broadcast copy goes value by value.
        let mut start = Vec::with_capacity(rows * bias.len());
        (0..rows).for_each(|_| start.extend_from_slice(bias));
        let mut y = Array2::from_shape_vec((rows, bias.len()), start)
            .unwrap_or_else(|_| unreachable!("rows × columns values"));
        gemm(T::one(), &x2, &w2, T::one(), &mut y.view_mut());
        let y = y.into_dyn();
        self.x = needs[1].then(|| x.clone());
        self.w = needs[0].then(|| w.clone());
        y.into_shared()
    }
    fn backward(self: Box<Self>, g: ArrayD<T>, grads: &mut Grads<'_, T>) {
        if grads.needs(2) {
            grads.add(2, g.sum_axis(Axis(0)));
        }
        if let Some(x) = &self.x {
            grads.add(1, dot2(x.view().reversed_axes(), g.view()));
        }
        if let Some(w) = &self.w {
            grads.add(0, dot2(g.view(), w.view().reversed_axes()));
        }
    }
}

/// Panics naming `op` unless `x (n, in)`, `w (in, out)` and `b (out)` fit together.
pub(super) fn check_affine(op: &str, sx: &[usize], sw: &[usize], sb: &[usize]) {
    let ok = sx.len() == 2 && sw.len() == 2 && sx[1] == sw[0] && sb == [sw[1]];
    assert!(
        ok,
        "{op}: x {sx:?} @ w {sw:?} + b {sb:?} needs x (n, in), w (in, out), b (out)"
    );
}

fn as_matrix<T: Float>(a: &ArcArray<T, IxDyn>) -> ArrayView2<'_, T> {
    match a.view().into_dimensionality::<Ix2>() {
        Ok(v) => v,
        Err(_) => unreachable!("2-D by construction"),
    }
}

fn dot2<T: Float>(x: ArrayViewD<'_, T>, y: ArrayViewD<'_, T>) -> ArrayD<T> {
    match (
        x.into_dimensionality::<Ix2>(),
        y.into_dimensionality::<Ix2>(),
    ) {
        (Ok(x), Ok(y)) => dot(&x, &y).into_dyn(),
        _ => unreachable!("2-D by construction"),
    }
}

impl<T: Float> Tensor<T> {
    /// Matrix product: `(m, k) @ (k, n) -> (m, n)`, or batched `(b, m, k) @ (b, k, n) ->
    /// (b, m, n)` where either operand may be 2-D and is then shared by the whole batch.
    ///
    /// ```
    /// use nn_core::Tensor;
    /// let x = Tensor::<f32>::ones(&[4, 3]);
    /// let w = Tensor::<f32>::ones(&[3, 2]);
    /// assert_eq!(x.matmul(&w).shape(), vec![4, 2]);
    /// ```
    ///
    /// # Panics
    /// If an operand is not 2-D or 3-D, the inner dimensions differ, or batch sizes differ.
    pub fn matmul(&self, other: &Tensor<T>) -> Tensor<T> {
        let op = MatmulOp {
            a_shape: IxDyn(&[]),
            b_shape: IxDyn(&[]),
            a: None,
            b: None,
        };
        Tensor::apply(op, &[self, other])
    }

    /// The book's Affine layer in one op: `x @ w + b` for `x (n, in)`, `w (in, out)`,
    /// `b (out)`. Same result as `x.matmul(w) + b`, with one output array instead of two and a
    /// backward that needs no copy of the gradient (PyTorch's `addmm`).
    ///
    /// ```
    /// use nn_core::Tensor;
    /// let x = Tensor::<f32>::ones(&[4, 3]);
    /// let (w, b) = (Tensor::<f32>::ones(&[3, 2]), Tensor::<f32>::ones(&[2]));
    /// assert_eq!(x.affine(&w, &b).to_array(), (x.matmul(&w) + &b).to_array());
    /// ```
    ///
    /// # Panics
    /// If `x` or `w` is not 2-D, the inner dimensions differ, or `b` is not `(out,)`.
    pub fn affine(&self, w: &Tensor<T>, b: &Tensor<T>) -> Tensor<T> {
        Tensor::apply(AffineOp { x: None, w: None }, &[self, w, b])
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;
    use crate::test_util::{check, rand};

    #[test]
    fn matmul_2d() {
        check(
            |t| t[0].matmul(&t[1]),
            &[rand(&[3, 4], 1), rand(&[4, 2], 2)],
        );
    }

    #[test]
    fn matmul_batched_and_shared_operands() {
        check(
            |t| t[0].matmul(&t[1]),
            &[rand(&[2, 3, 4], 3), rand(&[2, 4, 5], 4)],
        );
        check(
            |t| t[0].matmul(&t[1]),
            &[rand(&[2, 3, 4], 5), rand(&[4, 5], 6)],
        );
        check(
            |t| t[0].matmul(&t[1]),
            &[rand(&[3, 4], 7), rand(&[2, 4, 5], 8)],
        );
        check(
            |t| t[0].matmul(&t[1]),
            &[rand(&[1, 3, 4], 7), rand(&[2, 4, 5], 8)],
        );
    }

    /// A batch large enough for the threads (runs of whole products, in both directions,
    /// with a shared operand too) gives the same bits as one thread.
    #[test]
    fn batched_products_split_over_threads_are_the_same() {
        let run = |threads: usize, b_shape: &[usize]| {
            crate::kernels::with_num_threads(threads, || {
                let a = Tensor::from_array(rand(&[17, 32, 64], 21)).requires_grad();
                let b = Tensor::from_array(rand(b_shape, 22)).requires_grad();
                let y = a.matmul(&b);
                (y.clone() * y.clone()).sum().backward().unwrap();
                (y.to_array(), a.grad().unwrap(), b.grad().unwrap())
            })
        };
        for b_shape in [&[17, 64, 48][..], &[64, 48]] {
            assert_eq!(run(3, b_shape), run(1, b_shape), "{b_shape:?}");
        }
    }

    #[test]
    fn matmul_of_transposed_and_repeated_inputs() {
        check(|t| t[0].t().matmul(&t[0]), &[rand(&[3, 4], 9)]);
        check(
            |t| t[0].matmul(&t[0]).matmul(&t[1].t()),
            &[rand(&[3, 3], 10), rand(&[2, 3], 11)],
        );
    }

    #[test]
    fn affine_matches_matmul_plus_bias() {
        let inputs = [rand(&[5, 3], 12), rand(&[3, 4], 13), rand(&[4], 14)];
        check(|t| t[0].affine(&t[1], &t[2]), &inputs);
        check(
            |t| t[0].affine(&t[0].t(), &t[1]),
            &[rand(&[3, 3], 15), rand(&[3], 16)],
        );
        let t: Vec<Tensor<f64>> = inputs
            .iter()
            .map(|a| Tensor::from_array(a.clone()))
            .collect();
        let fused = t[0].affine(&t[1], &t[2]).to_array();
        let plain = (t[0].matmul(&t[1]) + &t[2]).to_array();
        assert!(
            fused
                .iter()
                .zip(plain.iter())
                .all(|(a, b)| (a - b).abs() < 1e-12)
        );
    }

    #[test]
    #[should_panic(expected = "affine: x [2, 3] @ w [3, 4] + b [3] needs")]
    fn affine_checks_the_bias() {
        let _ = Tensor::<f32>::ones(&[2, 3]).affine(&Tensor::ones(&[3, 4]), &Tensor::ones(&[3]));
    }

    #[test]
    fn matmul_values() {
        let a = Tensor::<f32>::from_vec(&[2, 2], vec![1.0, 2.0, 3.0, 4.0]);
        let b = Tensor::<f32>::from_vec(&[2, 1], vec![5.0, 6.0]);
        assert_eq!(a.matmul(&b).to_array().as_slice().unwrap(), &[17.0, 39.0]);
        let batch = Tensor::concatenate(&[&a.reshape(&[1, 2, 2]), &a.reshape(&[1, 2, 2])], 0);
        assert_eq!(batch.matmul(&b).shape(), vec![2, 2, 1]);
        assert_eq!(
            batch.matmul(&b).to_array().as_slice().unwrap(),
            &[17.0, 39.0, 17.0, 39.0]
        );
    }

    #[test]
    #[should_panic(expected = "matmul: shapes [2, 3] and [4, 5] are not aligned")]
    fn misaligned_shapes_panic() {
        let _ = Tensor::<f32>::ones(&[2, 3]).matmul(&Tensor::ones(&[4, 5]));
    }

    #[test]
    #[should_panic(expected = "matmul: expects 2-D or 3-D operands, got shapes [3] and [3, 2]")]
    fn vectors_are_rejected() {
        let _ = Tensor::<f32>::ones(&[3]).matmul(&Tensor::ones(&[3, 2]));
    }
}
