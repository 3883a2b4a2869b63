//! Word vectors from a PPMI matrix by truncated singular value decomposition (the sequel's
//! §2.4.4 「SVDによる次元削減」 and §2.4.5 「PTBデータセットでの評価」): `M ≈ U S Vᵀ`, the first
//! `k` columns of `U` taken as the words' vectors.
//!
//! Small matrices are decomposed exactly ([`truncated_svd`], as the book's `np.linalg.svd`);
//! large ones by the randomized method the book takes from scikit-learn ([`randomized_svd`]):
//! a random block multiplied through the matrix a few times to find the range its leading
//! singular vectors span, then an exact decomposition of the matrix projected on that range.
//! The decompositions are faer's.
//!
//! Singular vectors are defined up to sign, and where singular values tie (as on the book's
//! small corpus) up to a rotation within their space: the columns here are signed as
//! scikit-learn's `svd_flip` signs them (each column's entry of largest magnitude positive).
//!
//! ```
//! use ndarray::array;
//! use nn_text::svd::truncated_svd;
//! let m = array![[3.0f32, 0.0], [0.0, 1.0]];
//! let svd = truncated_svd(m.view(), 1);
//! assert_eq!(svd.s, [3.0]);
//! assert_eq!(svd.u.column(0).to_vec(), [1.0, 0.0]);
//! ```

use faer::Mat;
use ndarray::{Array2, ArrayView2, s};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

use crate::sparse::CsrMatrix;

/// The leading `k` singular values (descending) and left singular vectors of a matrix.
#[derive(Clone, Debug)]
pub struct TruncatedSvd {
    /// Left singular vectors, one per column: `(rows, k)`, the words' vectors.
    pub u: Array2<f32>,
    /// Singular values, largest first.
    pub s: Vec<f64>,
}

/// A matrix the randomized method multiplies blocks of vectors by: dense or sparse.
pub trait LinearOperator: Sync {
    /// `(rows, columns)`.
    fn shape(&self) -> (usize, usize);
    /// `A · x`, `x` of `(columns, k)`.
    fn apply(&self, x: ArrayView2<'_, f64>) -> Array2<f64>;
    /// `Aᵀ · x`, `x` of `(rows, k)`.
    fn apply_transpose(&self, x: ArrayView2<'_, f64>) -> Array2<f64>;
}

impl LinearOperator for ArrayView2<'_, f64> {
    fn shape(&self) -> (usize, usize) {
        self.dim()
    }
    fn apply(&self, x: ArrayView2<'_, f64>) -> Array2<f64> {
        self.dot(&x)
    }
    fn apply_transpose(&self, x: ArrayView2<'_, f64>) -> Array2<f64> {
        self.t().dot(&x)
    }
}

/// A sparse matrix with its transpose at hand, for [`randomized_svd`].
pub struct SparseOperator {
    a: CsrMatrix<f32>,
    at: CsrMatrix<f32>,
}

impl SparseOperator {
    /// Keeps `a` and builds its transpose.
    pub fn new(a: CsrMatrix<f32>) -> Self {
        let at = a.transpose();
        SparseOperator { a, at }
    }

    /// The matrix.
    pub fn matrix(&self) -> &CsrMatrix<f32> {
        &self.a
    }
}

impl LinearOperator for SparseOperator {
    fn shape(&self) -> (usize, usize) {
        self.a.shape()
    }
    fn apply(&self, x: ArrayView2<'_, f64>) -> Array2<f64> {
        self.a.mul_dense(x)
    }
    fn apply_transpose(&self, x: ArrayView2<'_, f64>) -> Array2<f64> {
        self.at.mul_dense(x)
    }
}

/// The exact decomposition of a dense matrix (in float64), its leading `k` components.
///
/// # Panics
/// If `k` exceeds the smaller side of `m` (a programmer error).
pub fn truncated_svd(m: ArrayView2<'_, f32>, k: usize) -> TruncatedSvd {
    let (rows, cols) = m.dim();
    assert!(
        k <= rows.min(cols),
        "truncated_svd: {k} components of a {rows}×{cols} matrix"
    );
    let a = Mat::<f64>::from_fn(rows, cols, |i, j| f64::from(m[[i, j]]));
    let (u, s) = thin_svd(&a);
    let mut u = to_ndarray(&u).slice(s![.., ..k]).to_owned();
    flip_signs(&mut u);
    TruncatedSvd {
        u: u.mapv(|v| v as f32),
        s: s[..k].to_vec(),
    }
}

/// How [`randomized_svd`] searches: scikit-learn's `randomized_svd` parameters.
#[derive(Clone, Copy, Debug)]
pub struct RandomizedSvd {
    /// Extra random directions beyond the `k` asked for (scikit-learn's 10).
    pub oversamples: usize,
    /// Power iterations: passes through `A Aᵀ` that sharpen the range found (the book's 5).
    pub iterations: usize,
    /// Seed of the random block.
    pub seed: u64,
}

impl Default for RandomizedSvd {
    fn default() -> Self {
        RandomizedSvd {
            oversamples: 10,
            iterations: 5,
            seed: 0,
        }
    }
}

/// The leading `k` components of `a` by the randomized range finder of Halko, Martinsson and
/// Tropp (scikit-learn's `randomized_svd`, which the book calls): `Q` an orthonormal basis of
/// `(A Aᵀ)^q A Ω` for a Gaussian `Ω` of `k + oversamples` columns (orthonormalised after every
/// product), then the exact decomposition of `Qᵀ A`.
///
/// # Panics
/// If `k + oversamples` exceeds the smaller side of `a` (a programmer error).
pub fn randomized_svd(a: &impl LinearOperator, k: usize, opts: RandomizedSvd) -> TruncatedSvd {
    let (rows, cols) = a.shape();
    let l = k + opts.oversamples;
    assert!(
        l <= rows.min(cols),
        "randomized_svd: {k} + {} components of a {rows}×{cols} matrix",
        opts.oversamples
    );
    let mut rng = rand::rngs::StdRng::seed_from_u64(opts.seed);
    let omega = Array2::from_shape_simple_fn((cols, l), || StandardNormal.sample(&mut rng));
    let mut q = orthonormal(&a.apply(omega.view()));
    for _ in 0..opts.iterations {
        let z = orthonormal(&a.apply_transpose(q.view()));
        q = orthonormal(&a.apply(z.view()));
    }
    // Qᵀ A = (Aᵀ Q)ᵀ: decompose Aᵀ Q = X Σ Wᵀ, so Qᵀ A = W Σ Xᵀ and A ≈ (Q W) Σ Xᵀ.
    let bt = a.apply_transpose(q.view());
    let svd = to_faer(&bt).thin_svd().expect("SVD of a finite matrix");
    let w = to_ndarray(&svd.V().to_owned());
    let s = svd
        .S()
        .column_vector()
        .iter()
        .copied()
        .collect::<Vec<f64>>();
    let mut u = q.dot(&w.slice(s![.., ..k]));
    flip_signs(&mut u);
    TruncatedSvd {
        u: u.mapv(|v| v as f32),
        s: s[..k].to_vec(),
    }
}

fn thin_svd(a: &Mat<f64>) -> (Mat<f64>, Vec<f64>) {
    let svd = a.thin_svd().expect("SVD of a finite matrix");
    let s = svd.S().column_vector().iter().copied().collect();
    (svd.U().to_owned(), s)
}

/// An orthonormal basis of the columns of `y` (the Q of its thin QR).
fn orthonormal(y: &Array2<f64>) -> Array2<f64> {
    to_ndarray(&to_faer(y).qr().compute_thin_Q())
}

fn to_faer(a: &Array2<f64>) -> Mat<f64> {
    Mat::from_fn(a.nrows(), a.ncols(), |i, j| a[[i, j]])
}

fn to_ndarray(a: &Mat<f64>) -> Array2<f64> {
    Array2::from_shape_fn((a.nrows(), a.ncols()), |(i, j)| a[(i, j)])
}

/// scikit-learn's `svd_flip` on `U`: each column's entry of largest magnitude made positive.
fn flip_signs(u: &mut Array2<f64>) {
    for mut col in u.columns_mut() {
        let big = col
            .iter()
            .copied()
            .fold(0.0f64, |m, v| if v.abs() > m.abs() { v } else { m });
        if big < 0.0 {
            col.mapv_inplace(|v| -v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::count::{co_matrix, ppmi, preprocess};

    /// The book's small corpus: NumPy's `np.linalg.svd` of its PPMI matrix (run here, NumPy
    /// 2.4.6) gives singular values in three tied pairs and these two leading columns, up to
    /// sign; the first column flipped here by the sign rule.
    #[test]
    fn the_small_corpus_as_numpy_decomposes_it() {
        let (corpus, v) = preprocess("You say goodbye and I say hello.");
        let m = ppmi(&co_matrix(&corpus, v.len(), 1));
        let svd = truncated_svd(m.view(), 7);
        let want_s = [
            3.1680453, 3.1680453, 2.7029872, 2.7029872, 1.5144811, 1.5144811, 0.0,
        ];
        for (a, b) in svd.s.iter().zip(want_s) {
            assert!((a - b).abs() < 1e-6, "{:?}", svd.s);
        }
        let numpy_u = [
            [0.0, 0.34094876],
            [-0.5976364, 0.0],
            [0.0, 0.4363122],
            [-0.49782813, 0.0],
            [0.0, 0.4363122],
            [0.0, 0.7092371],
            [-0.6284886, 0.0],
        ];
        for (i, [a, b]) in numpy_u.into_iter().enumerate() {
            assert!((svd.u[[i, 0]] + a).abs() < 1e-6, "{}", svd.u);
            assert!((svd.u[[i, 1]] - b).abs() < 1e-6, "{}", svd.u);
        }
    }

    /// With a gap in the spectrum the randomized method finds the exact leading values and
    /// vectors.
    #[test]
    fn randomized_agrees_with_exact() {
        // A = Σ σ_i x_i y_iᵀ with σ_i = 0.7^i, from orthonormal x and y.
        let x = orthonormal(&Array2::from_shape_fn((60, 40), |(i, j)| {
            ((i * 40 + j) as f64 * 0.37).sin()
        }));
        let y = orthonormal(&Array2::from_shape_fn((50, 40), |(i, j)| {
            ((i * 40 + j) as f64 * 0.91).cos()
        }));
        let sigma = Array2::from_diag(&ndarray::Array1::from_shape_fn(40, |i| {
            0.7f64.powi(i as i32)
        }));
        let a = x.dot(&sigma).dot(&y.t());
        let exact = truncated_svd(a.mapv(|v| v as f32).view(), 4);
        let got = randomized_svd(&a.view(), 4, RandomizedSvd::default());
        for (i, (g, e)) in got.s.iter().zip(&exact.s).enumerate() {
            assert!((g - 0.7f64.powi(i as i32)).abs() < 1e-9, "{:?}", got.s);
            assert!((g - e).abs() < 1e-6, "{:?} vs {:?}", got.s, exact.s);
        }
        for c in 0..4 {
            let dot: f32 = got.u.column(c).dot(&exact.u.column(c));
            assert!((dot - 1.0).abs() < 1e-5, "column {c}: {dot}");
        }
    }

    /// Sparse and dense, the same products: the same decomposition.
    #[test]
    fn sparse_and_dense_operators_agree() {
        use crate::sparse::{co_matrix_sparse, ppmi_sparse};
        use rand::Rng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        let corpus: Vec<usize> = (0..4000)
            .map(|_| (rng.random::<f64>().powi(3) * 120.0) as usize)
            .collect();
        let p = ppmi_sparse(&co_matrix_sparse(&corpus, 120, 2));
        let dense = p.to_dense().mapv(f64::from);
        let opts = RandomizedSvd::default();
        let sparse = randomized_svd(&SparseOperator::new(p), 8, opts);
        let dense = randomized_svd(&dense.view(), 8, opts);
        for (a, b) in sparse.s.iter().zip(&dense.s) {
            assert!((a - b).abs() < 1e-9 * b, "{:?} vs {:?}", sparse.s, dense.s);
        }
        for (a, b) in sparse.u.iter().zip(&dense.u) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
    }
}
