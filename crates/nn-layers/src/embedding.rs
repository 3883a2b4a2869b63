//! Word embeddings: the sequel's **Embedding** layer (book 2 ch.4.1 「Embeddingレイヤ」), a
//! table of vectors from which a word id picks its row; PyTorch's `nn.Embedding`.
//!
//! Forward is a row gather, backward adds each output row's gradient back into the row it came
//! from, so an id that appears twice in a batch gets both gradients (the book's `np.add.at`).

use nn_core::{Float, Tensor};
use rand::Rng;

use crate::init::Init;
use crate::module::{Module, Named};

/// A `(vocabulary, dimensions)` weight whose row `i` is the vector of id `i`.
///
/// ```
/// use nn_layers::Embedding;
/// use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let embed = Embedding::<f32>::new(10_000, 100, &mut rng);
/// let h = embed.lookup(&[3, 7, 3]);
/// assert_eq!(h.shape(), vec![3, 100]);
/// ```
pub struct Embedding<T: Float = f32> {
    weight: Tensor<T>,
}

impl<T: Float> Embedding<T> {
    /// PyTorch's initialisation, N(0, 1).
    pub fn new<R: Rng + ?Sized>(vocabulary: usize, dimensions: usize, rng: &mut R) -> Self {
        Self::with_init(vocabulary, dimensions, Init::Normal { std: 1.0 }, rng)
    }

    /// A chosen initialiser; the book's is `Init::Normal { std: 0.01 }`.
    pub fn with_init<R: Rng + ?Sized>(
        vocabulary: usize,
        dimensions: usize,
        init: Init,
        rng: &mut R,
    ) -> Self {
        Embedding {
            weight: init
                .tensor(&[vocabulary, dimensions], vocabulary, dimensions, rng)
                .requires_grad(),
        }
    }

    /// An embedding of a given `(vocabulary, dimensions)` weight (trained vectors, say).
    ///
    /// # Panics
    /// If `weight` is not 2-D (a programmer error).
    pub fn from_weight(weight: Tensor<T>) -> Self {
        assert_eq!(
            weight.shape().len(),
            2,
            "Embedding: the weight must be (vocabulary, dimensions), got {:?}",
            weight.shape()
        );
        Embedding { weight }
    }

    /// The weight, `(vocabulary, dimensions)`.
    pub fn weight(&self) -> &Tensor<T> {
        &self.weight
    }

    /// The rows of `ids`, `(ids.len(), dimensions)`: the book's `Embedding.forward(idx)`.
    ///
    /// # Panics
    /// If an id is not below the vocabulary size (a programmer error).
    pub fn lookup(&self, ids: &[usize]) -> Tensor<T> {
        self.weight.index_select(0, ids)
    }
}

impl<T: Float> Module<T> for Embedding<T> {
    /// `x` holds word ids as floats (each a whole number below the vocabulary size), of any
    /// shape; the output has that shape with the dimensions appended.
    ///
    /// # Panics
    /// If a value of `x` is not such an id (a programmer error).
    fn forward(&mut self, x: &Tensor<T>) -> Tensor<T> {
        let ids: Vec<usize> = x
            .to_array()
            .iter()
            .map(|&v| {
                let f = v.to_f64().unwrap_or(f64::NAN);
                assert!(
                    f >= 0.0 && f.fract() == 0.0,
                    "Embedding: input {f} is not a word id"
                );
                f as usize
            })
            .collect();
        let mut shape = x.shape();
        shape.push(self.weight.shape()[1]);
        self.lookup(&ids).reshape(&shape)
    }

    fn parameters(&self) -> Vec<Named<T>> {
        vec![("weight".to_string(), self.weight.clone())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nn_core::gradcheck::gradcheck;
    use rand::SeedableRng;

    #[test]
    fn rows_are_gathered_and_repeated_ids_add_their_gradients() {
        let w =
            Tensor::<f64>::from_vec(&[3, 2], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).requires_grad();
        let e = Embedding::from_weight(w.clone());
        let h = e.lookup(&[2, 0, 2]);
        assert_eq!(
            h.to_array().into_raw_vec_and_offset().0,
            [5.0, 6.0, 1.0, 2.0, 5.0, 6.0]
        );
        let g = Tensor::<f64>::from_vec(&[3, 2], vec![1.0, 10.0, 100.0, 1000.0, 0.5, 0.25]);
        h.mul(&g).sum().backward().unwrap();
        let grad = w.grad().unwrap().into_raw_vec_and_offset().0;
        // Row 2 was used twice: its gradient is the sum; row 1 was not used.
        assert_eq!(grad, [100.0, 1000.0, 0.0, 0.0, 1.5, 10.25]);
    }

    #[test]
    fn gradcheck_with_repeated_ids() {
        let w = Tensor::<f64>::randn(&[5, 3], 7).to_array();
        let ids = [4, 1, 4, 4, 0];
        gradcheck(
            |t| {
                let e = Embedding::from_weight(t[0].clone());
                e.lookup(&ids).sigmoid().sum()
            },
            &[w],
        )
        .unwrap();
    }

    #[test]
    fn forward_takes_ids_of_any_shape() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut e = Embedding::<f32>::with_init(7, 4, Init::Normal { std: 0.01 }, &mut rng);
        let x = Tensor::<f32>::from_vec(&[2, 3], vec![0.0, 6.0, 2.0, 2.0, 1.0, 0.0]);
        let y = e.forward(&x);
        assert_eq!(y.shape(), vec![2, 3, 4]);
        let w = e.weight().to_array();
        let y = y.to_array();
        for k in 0..4 {
            assert_eq!(y[[0, 1, k]], w[[6, k]]);
        }
        assert_eq!(e.parameters()[0].0, "weight");
    }
}
