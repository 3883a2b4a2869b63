//! word2vec with negative sampling (the sequel's ch.4 「word2vecの高速化」): the CBOW model of
//! its `ch04/cbow.py` — the context words' input vectors averaged, scored against the target's
//! output vector and against `sample_size` sampled words' — the skip-gram of its
//! `ch04/skip_gram.py` — the target's input vector scored against each context word's — and
//! the loss of `negative_sampling_layer.py`, each score through a sigmoid and binary
//! cross-entropy, the word to predict labelled 1 and the samples 0.

use nn_core::{Float, Tensor};
use nn_layers::{Embedding, Init, Reduction, binary_cross_entropy_with_logits};
use rand::Rng;

use crate::UnigramSampler;

/// The book's `create_contexts_target`: for every position with `window` words on each side,
/// those `2 · window` words (left to right, row-major, `targets.len() × 2·window`) and the word
/// itself.
pub fn contexts_target(corpus: &[usize], window: usize) -> (Vec<usize>, Vec<usize>) {
    let mut contexts = Vec::new();
    let mut targets = Vec::new();
    for idx in window..corpus.len().saturating_sub(window) {
        contexts.extend_from_slice(&corpus[idx - window..idx]);
        contexts.extend_from_slice(&corpus[idx + 1..=idx + window]);
        targets.push(corpus[idx]);
    }
    (contexts, targets)
}

/// The book's `EmbeddingDot`: the dot products of each example's hidden vector with the output
/// vectors of its words — `h` `(batch, hidden)`, `ids` `batch × m` row-major, scores
/// `(batch, m)` (the book's layer is `m = 1`; negative sampling scores the target and its
/// negatives at once).
///
/// ```
/// use nn_core::Tensor;
/// use nn_layers::Embedding;
/// use nn_text::word2vec::embedding_dot;
/// let out = Embedding::from_weight(Tensor::<f32>::from_vec(&[3, 2], vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0]));
/// let h = Tensor::from_vec(&[1, 2], vec![2.0, 3.0]);
/// assert_eq!(embedding_dot(&out, &h, &[0, 2]).to_array().into_raw_vec_and_offset().0, [2.0, 5.0]);
/// ```
///
/// # Panics
/// If `h` is not 2-D or `ids` does not hold the same number of words per row (a programmer
/// error).
pub fn embedding_dot<T: Float>(output: &Embedding<T>, h: &Tensor<T>, ids: &[usize]) -> Tensor<T> {
    let shape = h.shape();
    assert!(
        shape.len() == 2 && shape[0] > 0 && ids.len().is_multiple_of(shape[0]),
        "embedding_dot: h is {shape:?} for {} ids",
        ids.len()
    );
    let (b, hidden) = (shape[0], shape[1]);
    let m = ids.len() / b;
    let rows = output.lookup(ids).reshape(&[b, m, hidden]);
    rows.mul(&h.reshape(&[b, 1, hidden])).sum_axes(&[2], false)
}

/// The output side of negative sampling: the book's `NegativeSamplingLoss` (its
/// `EmbeddingDot` layers and `SigmoidWithLoss`).
pub struct NegativeSamplingLoss<T: Float = f32> {
    output: Embedding<T>,
    sampler: UnigramSampler,
}

impl<T: Float> NegativeSamplingLoss<T> {
    /// Scores against the rows of `output` (`(vocabulary, hidden)`), negatives from `sampler`.
    pub fn new(output: Embedding<T>, sampler: UnigramSampler) -> Self {
        NegativeSamplingLoss { output, sampler }
    }

    /// The output vectors.
    pub fn output(&self) -> &Embedding<T> {
        &self.output
    }

    /// The loss of hidden vectors `h` `(batch, hidden)` for `targets`, with freshly drawn
    /// negatives.
    pub fn forward<R: Rng + ?Sized>(
        &self,
        h: &Tensor<T>,
        targets: &[usize],
        rng: &mut R,
    ) -> Tensor<T> {
        let negatives = self.sampler.negatives(targets, rng);
        self.forward_with(h, targets, &negatives)
    }

    /// The loss with given negatives (`targets.len() × sample_size`, row-major): per example,
    /// the binary cross-entropy of the target's score against 1 plus each negative's against 0,
    /// averaged over the batch (the book's sum of its `1 + sample_size` batch means).
    ///
    /// # Panics
    /// If `h` is not `(targets.len(), hidden)` or the negatives do not fill the rows (a
    /// programmer error).
    pub fn forward_with(&self, h: &Tensor<T>, targets: &[usize], negatives: &[usize]) -> Tensor<T> {
        let b = targets.len();
        let k = self.sampler.sample_size();
        let hidden = self.output.weight().shape()[1];
        assert_eq!(
            h.shape(),
            vec![b, hidden],
            "NegativeSamplingLoss: h is {:?} for {b} targets of {hidden} dimensions",
            h.shape()
        );
        assert_eq!(
            negatives.len(),
            b * k,
            "NegativeSamplingLoss: {} negatives for {b} targets × {k}",
            negatives.len()
        );
        let mut ids = Vec::with_capacity(b * (k + 1));
        let mut labels = Vec::with_capacity(b * (k + 1));
        for (i, &t) in targets.iter().enumerate() {
            ids.push(t);
            labels.push(T::one());
            ids.extend_from_slice(&negatives[i * k..(i + 1) * k]);
            labels.extend(std::iter::repeat_n(T::zero(), k));
        }
        let scores = embedding_dot(&self.output, h, &ids);
        let labels = Tensor::from_vec(&[b, k + 1], labels);
        let total = binary_cross_entropy_with_logits(&scores, &labels, Reduction::Sum);
        total.mul_scalar(T::from(1.0 / b.max(1) as f64).unwrap_or_else(T::one))
    }
}

/// The book's CBOW with negative sampling (`ch04/cbow.py`).
///
/// ```
/// use nn_text::word2vec::{Cbow, contexts_target};
/// use rand::SeedableRng;
/// let corpus = [0, 1, 2, 3, 4, 1, 5, 6];
/// let (contexts, targets) = contexts_target(&corpus, 1);
/// let cbow = Cbow::<f32>::new(7, 5, 1, &corpus, 2, 0);
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let loss = cbow.loss(&contexts, &targets, &mut rng);
/// assert!(loss.item() > 0.0);
/// ```
pub struct Cbow<T: Float = f32> {
    input: Embedding<T>,
    loss: NegativeSamplingLoss<T>,
    window: usize,
}

impl<T: Float> Cbow<T> {
    /// Input and output vectors from N(0, 0.01²) as the book's, negatives drawn in proportion
    /// to `count^0.75` over `corpus`, `sample_size` per target (the book's 5).
    pub fn new(
        vocabulary: usize,
        hidden: usize,
        window: usize,
        corpus: &[usize],
        sample_size: usize,
        seed: u64,
    ) -> Self {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let init = Init::Normal { std: 0.01 };
        let input = Embedding::with_init(vocabulary, hidden, init, &mut rng);
        let output = Embedding::with_init(vocabulary, hidden, init, &mut rng);
        Cbow {
            input,
            loss: NegativeSamplingLoss::new(output, UnigramSampler::new(corpus, 0.75, sample_size)),
            window,
        }
    }

    /// The word vectors: the input embedding's weight, `(vocabulary, hidden)`.
    pub fn word_vectors(&self) -> &Tensor<T> {
        self.input.weight()
    }

    /// The trainable tensors: input then output vectors.
    pub fn parameters(&self) -> Vec<Tensor<T>> {
        vec![
            self.input.weight().clone(),
            self.loss.output().weight().clone(),
        ]
    }

    /// The mean of the context words' input vectors, `(batch, hidden)`.
    ///
    /// # Panics
    /// If `contexts` does not hold `2 · window` words per target (a programmer error).
    pub fn hidden(&self, contexts: &[usize], batch: usize) -> Tensor<T> {
        let c = 2 * self.window;
        assert_eq!(
            contexts.len(),
            batch * c,
            "Cbow: {} context words for {batch} targets × {c}",
            contexts.len()
        );
        let hidden = self.input.weight().shape()[1];
        self.input
            .lookup(contexts)
            .reshape(&[batch, c, hidden])
            .mean_axes(&[1], false)
    }

    /// The loss of a batch: `contexts` row-major (`targets.len() × 2·window`), as
    /// [`contexts_target`] gives them.
    pub fn loss<R: Rng + ?Sized>(
        &self,
        contexts: &[usize],
        targets: &[usize],
        rng: &mut R,
    ) -> Tensor<T> {
        let h = self.hidden(contexts, targets.len());
        self.loss.forward(&h, targets, rng)
    }
}

/// The book's skip-gram with negative sampling (`ch04/skip_gram.py`): the target's input
/// vector scored against each context word's output vector and against `sample_size` negatives
/// per context word, the losses of the `2 · window` context positions summed.
pub struct SkipGram<T: Float = f32> {
    input: Embedding<T>,
    loss: NegativeSamplingLoss<T>,
    window: usize,
}

impl<T: Float> SkipGram<T> {
    /// Input and output vectors from N(0, 0.01²), negatives in proportion to `count^0.75`.
    pub fn new(
        vocabulary: usize,
        hidden: usize,
        window: usize,
        corpus: &[usize],
        sample_size: usize,
        seed: u64,
    ) -> Self {
        let cbow = Cbow::new(vocabulary, hidden, window, corpus, sample_size, seed);
        SkipGram {
            input: cbow.input,
            loss: cbow.loss,
            window,
        }
    }

    /// The word vectors: the input embedding's weight, `(vocabulary, hidden)`.
    pub fn word_vectors(&self) -> &Tensor<T> {
        self.input.weight()
    }

    /// The trainable tensors: input then output vectors.
    pub fn parameters(&self) -> Vec<Tensor<T>> {
        vec![
            self.input.weight().clone(),
            self.loss.output().weight().clone(),
        ]
    }

    /// The loss of a batch: for each context position the batch mean of its negative-sampling
    /// loss, summed over the positions.
    ///
    /// # Panics
    /// If `contexts` does not hold `2 · window` words per target (a programmer error).
    pub fn loss<R: Rng + ?Sized>(
        &self,
        contexts: &[usize],
        targets: &[usize],
        rng: &mut R,
    ) -> Tensor<T> {
        let (b, c) = (targets.len(), 2 * self.window);
        assert_eq!(
            contexts.len(),
            b * c,
            "SkipGram: {} context words for {b} targets × {c}",
            contexts.len()
        );
        // Each target's vector once per context position, in the order of `contexts`; the
        // mean over those b·c rows times c is the book's sum of c batch means.
        let rows: Vec<usize> = targets
            .iter()
            .flat_map(|&t| std::iter::repeat_n(t, c))
            .collect();
        let h = self.input.lookup(&rows);
        let mean = self.loss.forward(&h, contexts, rng);
        mean.mul_scalar(T::from(c).unwrap_or_else(T::one))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nn_core::gradcheck::gradcheck;

    #[test]
    fn contexts_and_targets_as_the_book_makes_them() {
        let (c, t) = contexts_target(&[0, 1, 2, 3, 4, 1, 5, 6], 1);
        assert_eq!(t, [1, 2, 3, 4, 1, 5]);
        assert_eq!(&c[..6], [0, 2, 1, 3, 2, 4]);
        let (c, t) = contexts_target(&[0, 1], 1);
        assert!(c.is_empty() && t.is_empty());
    }

    #[test]
    fn the_loss_is_the_books_sum_of_batch_means() {
        // One example, hidden 2: target 0 scored 1·0.5 + 2·0.25 = 1, negative 1 scored −1.
        let out = Tensor::<f64>::from_vec(&[3, 2], vec![1.0, 2.0, -1.0, -2.0, 0.0, 0.0]);
        let sampler = UnigramSampler::new(&[0, 1, 2], 0.75, 1);
        let ns = NegativeSamplingLoss::new(Embedding::from_weight(out), sampler);
        let h = Tensor::<f64>::from_vec(&[1, 2], vec![0.5, 0.25]);
        let loss = ns.forward_with(&h, &[0], &[1]).item();
        // −log σ(1) − log(1 − σ(−1)) = 2 softplus(−1).
        let want = 2.0 * (1.0 + (-1.0f64).exp()).ln();
        assert!((loss - want).abs() < 1e-12, "{loss} vs {want}");
    }

    /// The sequel's ch.3/ch.4 small corpus: CBOW with negative sampling and Adam learns it —
    /// the loss starts at ln 2 per scored word and falls below half of that, and every
    /// context ends up scoring its target among its best two words.
    #[test]
    fn cbow_learns_the_small_corpus() {
        use nn_optim::{Adam, Optimizer};
        use rand::SeedableRng;
        let (corpus, vocabulary) = crate::count::preprocess("You say goodbye and I say hello.");
        let (contexts, targets) = contexts_target(&corpus, 1);
        let cbow = Cbow::<f64>::new(vocabulary.len(), 5, 1, &corpus, 2, 0);
        let mut adam = Adam::new(cbow.parameters(), 0.05);
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut losses = Vec::new();
        for _ in 0..300 {
            adam.zero_grad();
            let loss = cbow.loss(&contexts, &targets, &mut rng);
            losses.push(loss.item());
            loss.backward().unwrap();
            adam.step();
        }
        let first = losses[0];
        let last = losses[290..].iter().sum::<f64>() / 10.0;
        assert!((first - 3.0 * 2f64.ln()).abs() < 1e-3, "first {first}");
        assert!(last < 0.5 * first, "the loss went from {first} to {last}");
        // Each context now scores its own target among its best two words: (say, and) before
        // goodbye and (and, say) before i average to the same hidden vector, so CBOW cannot
        // tell those two targets apart.
        let h = cbow.hidden(&contexts, targets.len()).to_array();
        let out = cbow.parameters()[1].to_array();
        for (i, &t) in targets.iter().enumerate() {
            let score = |w: usize| (0..5).map(|d| h[[i, d]] * out[[w, d]]).sum::<f64>();
            let above = (0..vocabulary.len())
                .filter(|&w| score(w) > score(t))
                .count();
            assert!(
                above <= 1,
                "example {i}: {above} words score above its target"
            );
        }
    }

    #[test]
    fn gradcheck_through_hidden_and_both_embeddings() {
        let win = Tensor::<f64>::randn(&[6, 3], 1).to_array();
        let wout = Tensor::<f64>::randn(&[6, 3], 2).to_array();
        let contexts = [0, 2, 2, 5, 1, 1];
        let targets = [1, 4, 3];
        let negatives = [0, 5, 2, 2, 4, 0];
        gradcheck(
            |t| {
                let input = Embedding::from_weight(t[0].clone());
                let sampler = UnigramSampler::new(&[0, 1, 2, 3, 4, 5], 0.75, 2);
                let ns = NegativeSamplingLoss::new(Embedding::from_weight(t[1].clone()), sampler);
                let h = input
                    .lookup(&contexts)
                    .reshape(&[3, 2, 3])
                    .mean_axes(&[1], false);
                ns.forward_with(&h, &targets, &negatives)
            },
            &[win, wout],
        )
        .unwrap();
    }

    /// Skip-gram's loss is the sum over context positions of the book's per-position loss:
    /// computed position by position with the same negatives, it agrees.
    #[test]
    fn skip_gram_sums_its_positions() {
        use rand::SeedableRng;
        let corpus = [0, 1, 2, 3, 4, 1, 5, 6, 2, 3];
        let (contexts, targets) = contexts_target(&corpus, 1);
        let sg = SkipGram::<f64>::new(7, 4, 1, &corpus, 2, 5);
        let mut rng = rand::rngs::StdRng::seed_from_u64(8);
        let loss = sg.loss(&contexts, &targets, &mut rng).item();
        // The same draws again, by position.
        let mut rng = rand::rngs::StdRng::seed_from_u64(8);
        let negatives = sg.loss.sampler.negatives(&contexts, &mut rng);
        let (b, k) = (targets.len(), 2);
        let mut sum = 0.0;
        for pos in 0..2 {
            let ctx: Vec<usize> = (0..b).map(|i| contexts[i * 2 + pos]).collect();
            let neg: Vec<usize> = (0..b)
                .flat_map(|i| {
                    let row = i * 2 + pos;
                    negatives[row * k..(row + 1) * k].to_vec()
                })
                .collect();
            let h = sg.input.lookup(&targets);
            sum += sg.loss.forward_with(&h, &ctx, &neg).item();
        }
        assert!((loss - sum).abs() < 1e-12, "{loss} vs {sum}");
    }

    #[test]
    fn gradcheck_embedding_dot_and_skip_gram() {
        use rand::SeedableRng;
        let wout = Tensor::<f64>::randn(&[5, 3], 3).to_array();
        let h = Tensor::<f64>::randn(&[2, 3], 4).to_array();
        gradcheck(
            |t| {
                let out = Embedding::from_weight(t[0].clone());
                embedding_dot(&out, &t[1], &[4, 4, 0, 1, 2, 4]).sum()
            },
            &[wout, h],
        )
        .unwrap();
        let corpus = [0, 1, 2, 3, 4, 1, 5, 6, 2, 3];
        let (contexts, targets) = contexts_target(&corpus, 1);
        let sg = SkipGram::<f64>::new(7, 3, 1, &corpus, 2, 5);
        let (win, wout) = (sg.parameters()[0].to_array(), sg.parameters()[1].to_array());
        gradcheck(
            |t| {
                let model = SkipGram {
                    input: Embedding::from_weight(t[0].clone()),
                    loss: NegativeSamplingLoss::new(
                        Embedding::from_weight(t[1].clone()),
                        sg.loss.sampler.clone(),
                    ),
                    window: 1,
                };
                // The same negatives at every evaluation.
                let mut rng = rand::rngs::StdRng::seed_from_u64(2);
                model.loss(&contexts, &targets, &mut rng)
            },
            &[win.mapv(|v| v * 100.0), wout.mapv(|v| v * 100.0)],
        )
        .unwrap();
    }
}
