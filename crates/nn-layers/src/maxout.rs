//! Maxout (Goodfellow et al. 2013): a linear layer producing `k` pieces per output unit, of
//! which each unit keeps the largest.

use nn_core::{Float, Tensor};
use rand::Rng;

use crate::linear::Linear;
use crate::module::{Module, Named};

/// `y_j = max_i (x W + b)_{j,i}` over `k` pieces.
pub struct Maxout<T: Float = f32> {
    linear: Linear<T>,
    outputs: usize,
    pieces: usize,
}

impl<T: Float> Maxout<T> {
    /// `inputs → outputs` units of `pieces` linear pieces each.
    ///
    /// # Panics
    /// If `pieces` is 0.
    pub fn new<R: Rng + ?Sized>(inputs: usize, outputs: usize, pieces: usize, rng: &mut R) -> Self {
        assert!(pieces > 0, "Maxout: needs at least one piece");
        Maxout {
            linear: Linear::new(inputs, outputs * pieces, rng),
            outputs,
            pieces,
        }
    }
}

impl<T: Float> Module<T> for Maxout<T> {
    fn forward(&mut self, x: &Tensor<T>) -> Tensor<T> {
        let z = self.linear.forward(x);
        let n = z.shape()[0];
        z.reshape(&[n, self.outputs, self.pieces])
            .max_axes(&[2], false)
    }

    fn parameters(&self) -> Vec<Named<T>> {
        self.linear
            .parameters()
            .into_iter()
            .map(|(n, t)| (format!("linear.{n}"), t))
            .collect()
    }
}
