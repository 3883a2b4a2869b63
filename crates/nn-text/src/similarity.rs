//! Cosine similarity, `most_similar` and `analogy` (the sequel's ch.2.3.5 「ベクトル間の類似度」,
//! ch.2.3.6 「類似単語のランキング表示」 and ch.4.3.3's analogies), step for step as its
//! `common/util.py` computes them. The sequel's trained vectors are float16 and NumPy computes
//! on them in float16; [`Precision::F16`] rounds where NumPy stores a float16, so that the
//! scores come out as the book prints them.

use half::f16;
use ndarray::ArrayView2;
use nn_data::text::Vocabulary;

/// Where the arithmetic rounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// float32 throughout (vectors trained here).
    F32,
    /// As NumPy computes on float16 arrays (the sequel's `cbow_params.pkl`): every elementwise
    /// result, every sum and every dot product rounded to float16, sums and dot products
    /// accumulated in float32 as NumPy's float16 loops do.
    F16,
}

impl Precision {
    fn round(self, v: f32) -> f32 {
        match self {
            Precision::F32 => v,
            Precision::F16 => f16::from_f32(v).to_f32(),
        }
    }
}

/// The book's `eps` against a zero norm; in float16 it is 0, as NumPy casts it.
const EPS: f32 = 1e-8;

/// NumPy's pairwise summation (`pairwise_sum`: blocks of at most 128 in eight running sums),
/// accumulated in float32.
fn pairwise_sum(x: &[f32]) -> f32 {
    const BLOCK: usize = 128;
    let n = x.len();
    if n < 8 {
        return x.iter().fold(0.0f32, |s, &v| s + v);
    }
    if n <= BLOCK {
        let mut r = [0.0f32; 8];
        r.copy_from_slice(&x[..8]);
        let whole = n - n % 8;
        for chunk in x[8..whole].chunks_exact(8) {
            for (acc, &v) in r.iter_mut().zip(chunk) {
                *acc += v;
            }
        }
        let mut sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &v in &x[whole..] {
            sum += v;
        }
        return sum;
    }
    let mut half = n / 2;
    half -= half % 8;
    pairwise_sum(&x[..half]) + pairwise_sum(&x[half..])
}

/// `sum(x)` as NumPy's reduction gives it at `p`.
fn sum(x: &[f32], p: Precision) -> f32 {
    p.round(pairwise_sum(x))
}

/// `np.dot` of two vectors: products accumulated in order in float32, then rounded.
fn dot(x: &[f32], y: &[f32], p: Precision) -> f32 {
    p.round(x.iter().zip(y).fold(0.0f32, |s, (&a, &b)| s + a * b))
}

/// `x / (sqrt(sum(x ** 2)) + eps)`.
fn scaled(x: &[f32], p: Precision) -> Vec<f32> {
    let squares: Vec<f32> = x.iter().map(|&v| p.round(v * v)).collect();
    let norm = p.round(p.round(sum(&squares, p).sqrt()) + p.round(EPS));
    x.iter().map(|&v| p.round(v / norm)).collect()
}

/// The book's `cos_similarity(x, y, eps=1e-8)`: each vector divided by its norm plus `eps`,
/// then their dot product.
///
/// # Panics
/// If the lengths differ (a programmer error).
pub fn cos_similarity(x: &[f32], y: &[f32], p: Precision) -> f32 {
    assert_eq!(
        x.len(),
        y.len(),
        "cos_similarity: vectors of {} and {} values",
        x.len(),
        y.len()
    );
    dot(&scaled(x, p), &scaled(y, p), p)
}

/// The `top` words with the largest scores, best first, skipping NaN and the words `skip`
/// names; ties go to the smaller id.
fn ranked(
    scores: &[f32],
    vocabulary: &Vocabulary,
    skip: &[&str],
    top: usize,
) -> Vec<(String, f32)> {
    let mut order: Vec<usize> = (0..scores.len()).filter(|&i| !scores[i].is_nan()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    order
        .into_iter()
        .filter_map(|i| vocabulary.word(i).map(|w| (w, scores[i])))
        .filter(|(w, _)| !skip.contains(w))
        .take(top)
        .map(|(w, s)| (w.to_string(), s))
        .collect()
}

/// A vector for every word, or a panic naming `op` (a programmer error).
fn check_rows(op: &str, vectors: &ArrayView2<'_, f32>, vocabulary: &Vocabulary) {
    assert!(
        vectors.nrows() >= vocabulary.len(),
        "{op}: {} vectors for {} words",
        vectors.nrows(),
        vocabulary.len()
    );
}

fn row<'a>(vectors: &'a ArrayView2<'_, f32>, id: usize) -> std::borrow::Cow<'a, [f32]> {
    let r = vectors.row(id);
    match r.to_slice() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(r.to_vec()),
    }
}

/// The book's `most_similar`: the `top` words nearest to `query` by cosine similarity, best
/// first, with their scores; `None` if `query` is not in the vocabulary (the book prints that
/// it was not found). Row `i` of `vectors` is the word with id `i`.
///
/// # Panics
/// If `vectors` has fewer rows than the vocabulary has words.
pub fn most_similar(
    query: &str,
    vocabulary: &Vocabulary,
    vectors: ArrayView2<'_, f32>,
    top: usize,
    p: Precision,
) -> Option<Vec<(String, f32)>> {
    check_rows("most_similar", &vectors, vocabulary);
    let q = scaled(&row(&vectors, vocabulary.id(query)?), p);
    let scores: Vec<f32> = (0..vocabulary.len())
        .map(|i| dot(&scaled(&row(&vectors, i), p), &q, p))
        .collect();
    Some(ranked(&scores, vocabulary, &[query], top))
}

/// The book's `analogy`: a is to b as c is to ?, the `top` words whose vectors have the largest
/// dot product with `b − a + c` scaled to unit length (the rows are not normalised: the scores
/// are not cosines), skipping a, b and c; `None` if one of them is not in the vocabulary.
///
/// # Panics
/// If `vectors` has fewer rows than the vocabulary has words.
pub fn analogy(
    [a, b, c]: [&str; 3],
    vocabulary: &Vocabulary,
    vectors: ArrayView2<'_, f32>,
    top: usize,
    p: Precision,
) -> Option<Vec<(String, f32)>> {
    check_rows("analogy", &vectors, vocabulary);
    let (va, vb, vc) = (
        row(&vectors, vocabulary.id(a)?),
        row(&vectors, vocabulary.id(b)?),
        row(&vectors, vocabulary.id(c)?),
    );
    let q: Vec<f32> = (0..va.len())
        .map(|k| p.round(p.round(vb[k] - va[k]) + vc[k]))
        .collect();
    // The book's `normalize`: x / sqrt(sum(x * x)), no eps.
    let squares: Vec<f32> = q.iter().map(|&v| p.round(v * v)).collect();
    let norm = p.round(sum(&squares, p).sqrt());
    let q: Vec<f32> = q.iter().map(|&v| p.round(v / norm)).collect();
    let scores: Vec<f32> = (0..vocabulary.len())
        .map(|i| dot(&row(&vectors, i), &q, p))
        .collect();
    Some(ranked(&scores, vocabulary, &[a, b, c], top))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn pairwise_sum_is_numpys_order() {
        // Fewer than 8: in order; up to 128: eight running sums; more: halves.
        let x: Vec<f32> = (0..300).map(|i| 1.0 + i as f32 * 1e-3).collect();
        let want: f32 = {
            let block = |s: &[f32]| {
                let mut r = [0.0f32; 8];
                r.copy_from_slice(&s[..8]);
                let whole = s.len() - s.len() % 8;
                for c in s[8..whole].chunks_exact(8) {
                    for k in 0..8 {
                        r[k] += c[k];
                    }
                }
                let tree = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
                s[whole..].iter().fold(tree, |t, &v| t + v)
            };
            // 300 → 144 + 156 → (72 + 72) + (72 + 84).
            (block(&x[..72]) + block(&x[72..144])) + (block(&x[144..216]) + block(&x[216..]))
        };
        assert_eq!(pairwise_sum(&x), want);
        assert_eq!(pairwise_sum(&[1.0, 2.0, 3.0]), 6.0);
        assert_eq!(pairwise_sum(&[]), 0.0);
    }

    #[test]
    fn cosine_of_the_books_small_example() {
        // you and i in "You say goodbye and I say hello.": their co-occurrence rows.
        let you = [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        let i = [0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0];
        let c = cos_similarity(&you, &i, Precision::F32);
        assert!((c - 0.707_106_77).abs() < 1e-6, "{c}");
        assert_eq!(cos_similarity(&you, &you, Precision::F32), 1.0);
    }

    #[test]
    fn float16_rounds_every_step() {
        let x = [0.1f32, 0.2, 0.3];
        let c16 = cos_similarity(&x, &x, Precision::F16);
        assert_eq!(c16, f16::from_f32(c16).to_f32(), "a float16 value");
        assert!((c16 - 1.0).abs() < 2e-3);
    }

    #[test]
    fn most_similar_and_analogy_rank_and_skip() {
        let v = Vocabulary::from_words(["king", "man", "queen", "woman", "car"]);
        let m = array![
            [1.0f32, 1.0, 0.0],
            [1.0, 0.0, 0.0],
            [0.0, 1.0, 1.0],
            [0.0, 0.0, 1.0],
            [-1.0, 0.0, 0.0],
        ];
        let near = most_similar("king", &v, m.view(), 2, Precision::F32).unwrap();
        assert_eq!(near.len(), 2);
        assert!(near.iter().all(|(w, _)| w != "king"));
        let got = analogy(["king", "man", "queen"], &v, m.view(), 1, Precision::F32).unwrap();
        assert_eq!(got[0].0, "woman");
        assert!(most_similar("zebra", &v, m.view(), 5, Precision::F32).is_none());
        assert!(analogy(["king", "zebra", "queen"], &v, m.view(), 5, Precision::F32).is_none());
    }
}
