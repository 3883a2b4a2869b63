//! The co-occurrence and PPMI matrices of a large corpus, kept sparse: on the Penn Treebank
//! (10,000 words, window 2) fewer than 1 in 50 pairs of words ever stand side by side, so the
//! dense 10,000² matrices of the sequel's `ch02/count_method_big.py` (400 MB each in 32 bits)
//! shrink to a few tens of megabytes, and a product with them costs in proportion to the pairs
//! that do occur.
//!
//! ```
//! use nn_text::sparse::{co_matrix_sparse, ppmi_sparse};
//! use nn_text::count::{co_matrix, ppmi, preprocess};
//! let (corpus, vocabulary) = preprocess("You say goodbye and I say hello.");
//! let c = co_matrix_sparse(&corpus, vocabulary.len(), 1);
//! assert_eq!(c.to_dense(), co_matrix(&corpus, vocabulary.len(), 1));
//! assert_eq!(ppmi_sparse(&c).to_dense(), ppmi(&co_matrix(&corpus, vocabulary.len(), 1)));
//! ```

use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;

/// A matrix in compressed sparse row form: row `i` holds the columns
/// `indices[indptr[i]..indptr[i + 1]]` (ascending) with their `values`; every other entry is 0.
#[derive(Clone, Debug, PartialEq)]
pub struct CsrMatrix<T> {
    rows: usize,
    cols: usize,
    indptr: Vec<usize>,
    indices: Vec<u32>,
    values: Vec<T>,
}

impl<T: Copy + Default> CsrMatrix<T> {
    /// The shape, `(rows, columns)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// How many entries are stored.
    pub fn nnz(&self) -> usize {
        self.values.len()
    }

    /// Row `i`'s stored columns and values.
    ///
    /// # Panics
    /// If `i` is not below the number of rows (a programmer error).
    pub fn row(&self, i: usize) -> (&[u32], &[T]) {
        let (a, b) = (self.indptr[i], self.indptr[i + 1]);
        (&self.indices[a..b], &self.values[a..b])
    }

    /// The dense matrix (for small ones: tests and the book's walk-through).
    pub fn to_dense(&self) -> Array2<T> {
        let mut out = Array2::from_elem((self.rows, self.cols), T::default());
        for i in 0..self.rows {
            let (cols, vals) = self.row(i);
            for (&j, &v) in cols.iter().zip(vals) {
                out[[i, j as usize]] = v;
            }
        }
        out
    }

    /// The bytes its three arrays hold.
    pub fn heap_bytes(&self) -> usize {
        self.indptr.len() * size_of::<usize>()
            + self.indices.len() * size_of::<u32>()
            + self.values.len() * size_of::<T>()
    }

    /// The transpose, also in rows.
    pub fn transpose(&self) -> CsrMatrix<T> {
        let mut counts = vec![0usize; self.cols + 1];
        for &j in &self.indices {
            counts[j as usize + 1] += 1;
        }
        for j in 0..self.cols {
            counts[j + 1] += counts[j];
        }
        let indptr = counts.clone();
        let mut next = counts;
        let mut indices = vec![0u32; self.nnz()];
        let mut values = vec![T::default(); self.nnz()];
        // Rows visited in order: each transposed row's columns come out ascending.
        for i in 0..self.rows {
            let (cols, vals) = self.row(i);
            for (&j, &v) in cols.iter().zip(vals) {
                let at = &mut next[j as usize];
                indices[*at] = i as u32;
                values[*at] = v;
                *at += 1;
            }
        }
        CsrMatrix {
            rows: self.cols,
            cols: self.rows,
            indptr,
            indices,
            values,
        }
    }
}

impl CsrMatrix<f32> {
    /// `self · x` for a dense `x` of `(columns, k)`, rows of the result computed in parallel.
    ///
    /// # Panics
    /// If `x` does not have as many rows as `self` has columns (a programmer error).
    pub fn mul_dense(&self, x: ArrayView2<'_, f64>) -> Array2<f64> {
        assert_eq!(
            x.nrows(),
            self.cols,
            "CsrMatrix::mul_dense: a {:?} matrix times {:?}",
            self.shape(),
            x.dim()
        );
        let k = x.ncols();
        let x = x.as_standard_layout();
        let xs = x.as_slice().expect("standard layout");
        let mut out = Array2::<f64>::zeros((self.rows, k));
        if k == 0 {
            return out;
        }
        out.as_slice_mut()
            .expect("fresh array")
            .par_chunks_mut(k)
            .enumerate()
            .for_each(|(i, acc)| {
                let (cols, vals) = self.row(i);
                for (&j, &v) in cols.iter().zip(vals) {
                    let v = f64::from(v);
                    let src = &xs[j as usize * k..(j as usize + 1) * k];
                    for (a, &b) in acc.iter_mut().zip(src) {
                        *a += v * b;
                    }
                }
            });
        out
    }
}

/// The book's `create_co_matrix` for a corpus of any size: the same counts as
/// [`co_matrix`](crate::count::co_matrix), stored sparse.
///
/// # Panics
/// If an id of `corpus` is not below `vocab_size` (a programmer error).
pub fn co_matrix_sparse(corpus: &[usize], vocab_size: usize, window: usize) -> CsrMatrix<u32> {
    assert!(
        vocab_size <= u32::MAX as usize,
        "co_matrix_sparse: a vocabulary of {vocab_size} words"
    );
    // Every neighbour of every position, grouped by the word at the position…
    let mut lens = vec![0usize; vocab_size + 1];
    for (idx, &w) in corpus.iter().enumerate() {
        assert!(
            w < vocab_size,
            "co_matrix_sparse: word id {w} at {idx} for a vocabulary of {vocab_size}"
        );
        let left = idx.min(window);
        let right = (corpus.len() - 1 - idx).min(window);
        lens[w + 1] += left + right;
    }
    for w in 0..vocab_size {
        lens[w + 1] += lens[w];
    }
    let mut next = lens.clone();
    let mut neighbours = vec![0u32; lens[vocab_size]];
    for (idx, &w) in corpus.iter().enumerate() {
        let lo = idx.saturating_sub(window);
        let hi = (idx + window).min(corpus.len().saturating_sub(1));
        for (pos, &v) in corpus.iter().enumerate().take(hi + 1).skip(lo) {
            if pos != idx {
                neighbours[next[w]] = v as u32;
                next[w] += 1;
            }
        }
    }
    // …then each row sorted and its repeats counted.
    let mut row_slices = Vec::with_capacity(vocab_size);
    let mut rest = neighbours.as_mut_slice();
    for w in 0..vocab_size {
        let (head, tail) = rest.split_at_mut(lens[w + 1] - lens[w]);
        row_slices.push(head);
        rest = tail;
    }
    let rows: Vec<(Vec<u32>, Vec<u32>)> = row_slices
        .into_par_iter()
        .map(|row| {
            row.sort_unstable();
            let mut cols = Vec::new();
            let mut counts: Vec<u32> = Vec::new();
            for &v in row.iter() {
                if cols.last() == Some(&v) {
                    *counts.last_mut().expect("a count per column") += 1;
                } else {
                    cols.push(v);
                    counts.push(1);
                }
            }
            (cols, counts)
        })
        .collect();
    let mut indptr = Vec::with_capacity(vocab_size + 1);
    indptr.push(0);
    let nnz = rows.iter().map(|(c, _)| c.len()).sum();
    let (mut indices, mut values) = (Vec::with_capacity(nnz), Vec::with_capacity(nnz));
    for (cols, counts) in rows {
        indices.extend_from_slice(&cols);
        values.extend_from_slice(&counts);
        indptr.push(indices.len());
    }
    CsrMatrix {
        rows: vocab_size,
        cols: vocab_size,
        indptr,
        indices,
        values,
    }
}

/// The book's `ppmi` on sparse counts: the same values as [`ppmi`](crate::count::ppmi) (its
/// formula and eps, float64 stored as float32), the zeros left out — a pair never seen has
/// PPMI 0, and so has a pair seen less often than chance.
pub fn ppmi_sparse(c: &CsrMatrix<u32>) -> CsrMatrix<f32> {
    const EPS: f64 = 1e-8;
    let n: f64 = c.values.iter().map(|&v| f64::from(v)).sum();
    let mut s = vec![0f64; c.cols];
    for (&j, &v) in c.indices.iter().zip(&c.values) {
        s[j as usize] += f64::from(v);
    }
    let mut indptr = Vec::with_capacity(c.rows + 1);
    indptr.push(0);
    let (mut indices, mut values) = (Vec::new(), Vec::new());
    for i in 0..c.rows {
        let (cols, counts) = c.row(i);
        for (&j, &count) in cols.iter().zip(counts) {
            let pmi = (f64::from(count) * n / (s[j as usize] * s[i]) + EPS).log2();
            let v = pmi.max(0.0) as f32;
            if v > 0.0 {
                indices.push(j);
                values.push(v);
            }
        }
        indptr.push(indices.len());
    }
    CsrMatrix {
        rows: c.rows,
        cols: c.cols,
        indptr,
        indices,
        values,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::count::{co_matrix, ppmi};
    use rand::{Rng, SeedableRng};

    fn random_corpus(len: usize, vocab: usize, seed: u64) -> Vec<usize> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        // Skewed, as words are: low ids far more often.
        (0..len)
            .map(|_| {
                let u: f64 = rng.random();
                ((u * u * u) * vocab as f64) as usize
            })
            .collect()
    }

    #[test]
    fn sparse_counts_and_ppmi_equal_the_dense_ones() {
        for (len, vocab, window, seed) in [(500, 40, 2, 1), (60, 80, 5, 2), (3, 3, 4, 3)] {
            let corpus = random_corpus(len, vocab, seed);
            let dense = co_matrix(&corpus, vocab, window);
            let sparse = co_matrix_sparse(&corpus, vocab, window);
            assert_eq!(sparse.to_dense(), dense, "counts, window {window}");
            assert!(sparse.values.iter().all(|&v| v > 0));
            let p = ppmi_sparse(&sparse);
            assert_eq!(p.to_dense(), ppmi(&dense), "PPMI, window {window}");
            assert_eq!(p.transpose().transpose(), p);
            assert_eq!(p.transpose().to_dense(), p.to_dense().t());
        }
        let empty = co_matrix_sparse(&[], 4, 2);
        assert_eq!((empty.shape(), empty.nnz()), ((4, 4), 0));
        assert_eq!(ppmi_sparse(&empty).nnz(), 0);
    }

    #[test]
    fn the_sparse_product_is_the_dense_one() {
        let corpus = random_corpus(400, 30, 4);
        let p = ppmi_sparse(&co_matrix_sparse(&corpus, 30, 2));
        let x = Array2::from_shape_fn((30, 7), |(i, j)| ((i * 7 + j) as f64).sin());
        let want = p.to_dense().mapv(f64::from).dot(&x);
        let got = p.mul_dense(x.view());
        for (a, b) in got.iter().zip(&want) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
        assert_eq!(p.mul_dense(Array2::zeros((30, 0)).view()).dim(), (30, 0));
    }
}
