//! The sequel's ch.3 「word2vec」: its `SimpleCBOW` and `SimpleSkipGram`, word2vec before the
//! speed-ups — every word of the vocabulary scored by a full product with the output matrix
//! `W_out` `(hidden, vocabulary)` and a softmax over all of them. The one-hot inputs the book
//! multiplies by `W_in` are row lookups here (the same values and gradients, without the
//! vocabulary-wide product).
//!
//! ```
//! use nn_text::count::preprocess;
//! use nn_text::simple::SimpleCbow;
//! use nn_text::word2vec::contexts_target;
//! let (corpus, vocabulary) = preprocess("You say goodbye and I say hello.");
//! let (contexts, targets) = contexts_target(&corpus, 1);
//! let model = SimpleCbow::<f32>::new(vocabulary.len(), 5, 1, 0);
//! let loss = model.loss(&contexts, &targets);
//! assert!((loss.item() - (7f32).ln()).abs() < 1e-3);
//! ```

use nn_core::{Float, Tensor};
use nn_layers::{Embedding, Init, Reduction, Target, cross_entropy};
use rand::SeedableRng;

/// Input vectors `(vocabulary, hidden)` and output matrix `(hidden, vocabulary)` from
/// N(0, 0.01²), as the book's `0.01 * np.random.randn`.
fn weights<T: Float>(vocabulary: usize, hidden: usize, seed: u64) -> (Embedding<T>, Tensor<T>) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let init = Init::Normal { std: 0.01 };
    let input = Embedding::with_init(vocabulary, hidden, init, &mut rng);
    let output = init
        .tensor(&[hidden, vocabulary], hidden, vocabulary, &mut rng)
        .requires_grad();
    (input, output)
}

/// The book's `SimpleCBOW`: the context words' input vectors averaged (its `0.5 * (h0 + h1)`
/// for a window of 1), scored against every word, softmax cross-entropy with the target.
pub struct SimpleCbow<T: Float = f32> {
    input: Embedding<T>,
    output: Tensor<T>,
    window: usize,
}

impl<T: Float> SimpleCbow<T> {
    /// A model of `window` words each side (the book's 1).
    pub fn new(vocabulary: usize, hidden: usize, window: usize, seed: u64) -> Self {
        let (input, output) = weights(vocabulary, hidden, seed);
        SimpleCbow {
            input,
            output,
            window,
        }
    }

    /// The word vectors, `W_in`.
    pub fn word_vectors(&self) -> &Tensor<T> {
        self.input.weight()
    }

    /// `W_in` then `W_out`.
    pub fn parameters(&self) -> Vec<Tensor<T>> {
        vec![self.input.weight().clone(), self.output.clone()]
    }

    /// The scores of every word for each example, `(batch, vocabulary)`.
    ///
    /// # Panics
    /// If `contexts` does not hold `2 · window` words per example (a programmer error).
    pub fn scores(&self, contexts: &[usize], batch: usize) -> Tensor<T> {
        let c = 2 * self.window;
        assert_eq!(
            contexts.len(),
            batch * c,
            "SimpleCbow: {} context words for {batch} examples × {c}",
            contexts.len()
        );
        let hidden = self.input.weight().shape()[1];
        let h = self
            .input
            .lookup(contexts)
            .reshape(&[batch, c, hidden])
            .mean_axes(&[1], false);
        h.matmul(&self.output)
    }

    /// The mean softmax cross-entropy of the targets, `contexts` row-major as
    /// [`contexts_target`](crate::word2vec::contexts_target) gives them.
    pub fn loss(&self, contexts: &[usize], targets: &[usize]) -> Tensor<T> {
        let scores = self.scores(contexts, targets.len());
        cross_entropy(&scores, Target::Classes(targets), Reduction::Mean)
    }
}

/// The book's `SimpleSkipGram`: the target's input vector scored against every word, one
/// softmax cross-entropy per context position, summed (its `l1 + l2`).
pub struct SimpleSkipGram<T: Float = f32> {
    input: Embedding<T>,
    output: Tensor<T>,
    window: usize,
}

impl<T: Float> SimpleSkipGram<T> {
    /// A model of `window` words each side (the book's 1).
    pub fn new(vocabulary: usize, hidden: usize, window: usize, seed: u64) -> Self {
        let (input, output) = weights(vocabulary, hidden, seed);
        SimpleSkipGram {
            input,
            output,
            window,
        }
    }

    /// The word vectors, `W_in`.
    pub fn word_vectors(&self) -> &Tensor<T> {
        self.input.weight()
    }

    /// `W_in` then `W_out`.
    pub fn parameters(&self) -> Vec<Tensor<T>> {
        vec![self.input.weight().clone(), self.output.clone()]
    }

    /// The sum over context positions of each position's mean cross-entropy.
    ///
    /// # Panics
    /// If `contexts` does not hold `2 · window` words per target (a programmer error).
    pub fn loss(&self, contexts: &[usize], targets: &[usize]) -> Tensor<T> {
        let (b, c) = (targets.len(), 2 * self.window);
        assert_eq!(
            contexts.len(),
            b * c,
            "SimpleSkipGram: {} context words for {b} targets × {c}",
            contexts.len()
        );
        let scores = self.input.lookup(targets).matmul(&self.output);
        // Every example's scores once per context position: rows (example, position), the
        // order of `contexts`. The mean over b·c rows times c is the book's sum of c means.
        let rows: Vec<usize> = (0..b).flat_map(|i| std::iter::repeat_n(i, c)).collect();
        let scores = scores.index_select(0, &rows);
        let mean = cross_entropy(&scores, Target::Classes(contexts), Reduction::Mean);
        mean.mul_scalar(T::from(c).unwrap_or_else(T::one))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::count::preprocess;
    use crate::word2vec::contexts_target;
    use nn_core::gradcheck::gradcheck;
    use nn_optim::{Adam, Optimizer};

    fn small() -> (Vec<usize>, Vec<usize>, usize) {
        let (corpus, v) = preprocess("You say goodbye and I say hello.");
        let (c, t) = contexts_target(&corpus, 1);
        (c, t, v.len())
    }

    /// Near-zero weights score every word alike: ln 7 per softmax to start with, once for CBOW
    /// and twice (one per context) for skip-gram; the book's training then lowers both (its
    /// figure: CBOW from 1.95 towards 0.5 in 1,000 epochs).
    #[test]
    fn both_models_learn_the_small_corpus() {
        let (contexts, targets, v) = small();
        let cbow = SimpleCbow::<f64>::new(v, 5, 1, 0);
        let skip = SimpleSkipGram::<f64>::new(v, 5, 1, 0);
        let mut adam_c = Adam::new(cbow.parameters(), 0.001);
        let mut adam_s = Adam::new(skip.parameters(), 0.001);
        let (mut first, mut last) = ([0.0; 2], [0.0; 2]);
        for step in 0..2000 {
            // One graph at a time: a backward pass frees the tape it walked.
            for k in 0..2 {
                let loss = if k == 0 {
                    cbow.loss(&contexts, &targets)
                } else {
                    skip.loss(&contexts, &targets)
                };
                if step == 0 {
                    first[k] = loss.item();
                }
                last[k] = loss.item();
                loss.backward().unwrap();
            }
            adam_c.step();
            adam_s.step();
            adam_c.zero_grad();
            adam_s.zero_grad();
        }
        let ln7 = 7f64.ln();
        assert!((first[0] - ln7).abs() < 1e-3 && (first[1] - 2.0 * ln7).abs() < 1e-3);
        assert!(last[0] < 0.4 * first[0], "CBOW {first:?} → {last:?}");
        assert!(last[1] < 0.6 * first[1], "skip-gram {first:?} → {last:?}");
        // CBOW now picks each target from its context but one: (say, and) around goodbye and
        // (and, say) around i average to the same vector.
        let scores = cbow.scores(&contexts, targets.len()).to_array();
        let best: Vec<usize> = (0..targets.len())
            .map(|i| {
                (0..v)
                    .max_by(|&a, &b| scores[[i, a]].total_cmp(&scores[[i, b]]))
                    .unwrap()
            })
            .collect();
        let right = best.iter().zip(&targets).filter(|(a, b)| a == b).count();
        assert!(right >= targets.len() - 1, "{best:?} vs {targets:?}");
    }

    #[test]
    fn gradcheck_both_models() {
        let (contexts, targets, v) = small();
        let win = Tensor::<f64>::randn(&[v, 3], 1).to_array();
        let wout = Tensor::<f64>::randn(&[3, v], 2).to_array();
        gradcheck(
            |t| {
                let m = SimpleCbow {
                    input: Embedding::from_weight(t[0].clone()),
                    output: t[1].clone(),
                    window: 1,
                };
                m.loss(&contexts, &targets)
            },
            &[win.clone(), wout.clone()],
        )
        .unwrap();
        gradcheck(
            |t| {
                let m = SimpleSkipGram {
                    input: Embedding::from_weight(t[0].clone()),
                    output: t[1].clone(),
                    window: 1,
                };
                m.loss(&contexts, &targets)
            },
            &[win, wout],
        )
        .unwrap();
    }
}
