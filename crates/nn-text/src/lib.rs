//! # nn-text — the sequel's words as vectors, and its language models
//!
//! 「ゼロから作るDeep Learning ❷」 chapters 2–4, words made into vectors two ways. By counting
//! (ch.2): words side by side and their PPMI ([`count`] for small corpora, [`sparse`] for the
//! Penn Treebank), reduced by truncated SVD ([`svd`]). By learning (ch.3–4): the simple CBOW and
//! skip-gram with a softmax over every word ([`simple`]), then both with negative sampling
//! ([`word2vec`], [`UnigramSampler`]). And what is done with the vectors: cosine similarity, the
//! nearest words to a query ([`most_similar`]) and analogies ([`analogy`]), as the sequel's
//! `common/util.py` computes them. Then its language models (ch.5–7.1): [`lm`] (the book's
//! `SimpleRnnlm`, `Rnnlm` and `BetterRnnlm` as one configurable model, perplexity, text
//! generation, checkpoints PyTorch loads) and [`tbptt`] (training by truncated backpropagation
//! through time). The corpus, the vocabulary and the sequel's trained files come from
//! [`nn_data::text`].
//!
//! ```
//! use ndarray::array;
//! use nn_data::text::Vocabulary;
//! use nn_text::{Precision, most_similar};
//! let vocabulary = Vocabulary::from_words(["cat", "dog", "car"]);
//! let vectors = array![[1.0f32, 0.1], [0.9, 0.2], [-0.1, 1.0]];
//! let near = most_similar("cat", &vocabulary, vectors.view(), 2, Precision::F32).unwrap();
//! assert_eq!(near[0].0, "dog");
//! ```

pub mod count;
pub mod lm;
mod sampler;
pub mod seq2seq;
mod similarity;
pub mod simple;
pub mod sparse;
pub mod svd;
pub mod tbptt;
pub mod word2vec;

pub use sampler::UnigramSampler;
pub use similarity::{Precision, analogy, cos_similarity, most_similar};
