//! Count-based word vectors (the sequel's ch.2 「自然言語と単語の分散表現」): its `preprocess`,
//! the co-occurrence matrix (`create_co_matrix`) and positive pointwise mutual information
//! (`ppmi`), as dense matrices for small corpora such as the book's "You say goodbye and I say
//! hello.".
//!
//! ```
//! use nn_text::count::{co_matrix, ppmi, preprocess};
//! let (corpus, vocabulary) = preprocess("You say goodbye and I say hello.");
//! assert_eq!(corpus, [0, 1, 2, 3, 4, 1, 5, 6]);
//! let c = co_matrix(&corpus, vocabulary.len(), 1);
//! assert_eq!(c.row(0).to_vec(), [0, 1, 0, 0, 0, 0, 0]);
//! let m = ppmi(&c);
//! assert!((m[[0, 1]] - 1.807).abs() < 1e-3);
//! ```

use ndarray::Array2;
use nn_data::text::Vocabulary;

/// The book's `preprocess`: lower case, a space before every `.`, words split at single spaces
/// (as Python's `split(' ')`: two spaces in a row make an empty word, as they do in the book),
/// ids in order of first appearance.
pub fn preprocess(text: &str) -> (Vec<usize>, Vocabulary) {
    let text = text.to_lowercase().replace('.', " .");
    let mut vocabulary = Vocabulary::new();
    let corpus = text.split(' ').map(|w| vocabulary.insert(w)).collect();
    (corpus, vocabulary)
}

/// The book's `create_co_matrix`: `C[w, v]` counts how often `v` stands within `window` words
/// of `w`, on either side.
///
/// # Panics
/// If an id of `corpus` is not below `vocab_size` (a programmer error).
pub fn co_matrix(corpus: &[usize], vocab_size: usize, window: usize) -> Array2<u32> {
    let mut c = Array2::<u32>::zeros((vocab_size, vocab_size));
    for (idx, &w) in corpus.iter().enumerate() {
        assert!(
            w < vocab_size,
            "co_matrix: word id {w} at {idx} for a vocabulary of {vocab_size}"
        );
        for i in 1..=window {
            if let Some(left) = idx.checked_sub(i) {
                c[[w, corpus[left]]] += 1;
            }
            if let Some(&right) = corpus.get(idx + i) {
                c[[w, right]] += 1;
            }
        }
    }
    c
}

/// The book's `ppmi`: `max(0, log2(C[i, j] · N / (S[i] · S[j]) + eps))` with `N` the sum of all
/// counts, `S` the column sums and `eps = 1e-8`, computed in float64 and stored in float32 as
/// the book's `M`. A word that never co-occurs (a zero column) gives 0, not NaN.
pub fn ppmi(c: &Array2<u32>) -> Array2<f32> {
    const EPS: f64 = 1e-8;
    let n: f64 = c.iter().map(|&v| f64::from(v)).sum();
    let s: Vec<f64> = c
        .columns()
        .into_iter()
        .map(|col| col.iter().map(|&v| f64::from(v)).sum())
        .collect();
    Array2::from_shape_fn(c.dim(), |(i, j)| {
        let count = f64::from(c[[i, j]]);
        if count == 0.0 {
            // log2(0 + eps) < 0: the book's max(0, ·) makes it 0.
            return 0.0;
        }
        let pmi = (count * n / (s[j] * s[i]) + EPS).log2();
        pmi.max(0.0) as f32
    })
}

/// The book's `cos_similarity` on count vectors, in float64 as NumPy computes it on integer
/// rows.
///
/// # Panics
/// If the lengths differ (a programmer error).
pub fn cos_similarity_counts(x: &[u32], y: &[u32]) -> f64 {
    assert_eq!(
        x.len(),
        y.len(),
        "cos_similarity_counts: vectors of {} and {} values",
        x.len(),
        y.len()
    );
    const EPS: f64 = 1e-8;
    let scaled = |v: &[u32]| {
        let norm = (v.iter().map(|&a| f64::from(a) * f64::from(a)).sum::<f64>()).sqrt() + EPS;
        v.iter().map(|&a| f64::from(a) / norm).collect::<Vec<f64>>()
    };
    scaled(x).iter().zip(scaled(y)).map(|(a, b)| a * b).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The book's small corpus and what its NumPy code gives for it (run here with NumPy 2.4.6).
    #[test]
    fn you_say_goodbye_as_the_book_counts_it() {
        let (corpus, v) = preprocess("You say goodbye and I say hello.");
        assert_eq!(
            v.words(),
            ["you", "say", "goodbye", "and", "i", "hello", "."]
        );
        let c = co_matrix(&corpus, v.len(), 1);
        let want: [[u32; 7]; 7] = [
            [0, 1, 0, 0, 0, 0, 0],
            [1, 0, 1, 0, 1, 1, 0],
            [0, 1, 0, 1, 0, 0, 0],
            [0, 0, 1, 0, 1, 0, 0],
            [0, 1, 0, 1, 0, 0, 0],
            [0, 1, 0, 0, 0, 0, 1],
            [0, 0, 0, 0, 0, 1, 0],
        ];
        for (i, row) in want.iter().enumerate() {
            assert_eq!(c.row(i).to_vec(), row, "row {i}");
        }
        let cos = cos_similarity_counts(
            c.row(v.id("you").unwrap()).as_slice().unwrap(),
            c.row(v.id("i").unwrap()).as_slice().unwrap(),
        );
        assert!((cos - 0.707_106_769_115_479_9).abs() < 1e-15, "{cos}");
        let m = ppmi(&c);
        let (a, b, d) = (
            1.807_354_927_062_988_3,
            0.807_354_927_062_988_3,
            2.807_354_927_062_988_3,
        );
        for (i, j, want) in [
            (0, 1, a),
            (1, 2, b),
            (2, 3, a),
            (5, 6, d),
            (6, 5, d),
            (0, 0, 0.0),
        ] {
            assert_eq!(f64::from(m[[i, j]]), want, "M[{i}, {j}]");
        }
    }

    #[test]
    fn edge_cases_of_text_and_windows() {
        // Python's split(' '): an empty text is one empty word; two spaces make one too.
        let (corpus, v) = preprocess("");
        assert_eq!((corpus, v.words().to_vec()), (vec![0], vec![String::new()]));
        let (corpus, _) = preprocess("a  b");
        assert_eq!(corpus, [0, 1, 2]);
        // A window wider than the corpus counts every pair once per side.
        let c = co_matrix(&[0, 1], 2, 5);
        assert_eq!(c.into_raw_vec_and_offset().0, [0, 1, 1, 0]);
        assert!(co_matrix(&[], 3, 1).iter().all(|&v| v == 0));
        // A word with no neighbours: a zero row and column, PPMI 0 there.
        let m = ppmi(&co_matrix(&[0, 1, 0], 3, 1));
        assert!(m.iter().all(|v| v.is_finite() && *v >= 0.0));
    }
}
