//! Dropout (book 1 ch.6.4.3): in training, each unit is zeroed with probability `p` and the
//! survivors scaled by `1/(1-p)` ("inverted" dropout, as PyTorch), so evaluation is the identity.
//! The book scales at test time instead (`x * (1 - ratio)`); the expected outputs are the same.

use ndarray::{ArrayD, IxDyn};
use nn_core::{Float, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::module::Module;
use crate::predictor::InferenceStep;

/// Randomly zeroes units in training mode; the identity in evaluation mode.
pub struct Dropout {
    p: f64,
    rng: StdRng,
    training: bool,
}

impl Dropout {
    /// Drops with probability `p`, drawing masks from a generator seeded with `seed`.
    ///
    /// # Panics
    /// If `p` is not in [0, 1].
    pub fn new(p: f64, seed: u64) -> Self {
        assert!(
            (0.0..=1.0).contains(&p),
            "Dropout: p must be in [0, 1], got {p}"
        );
        Dropout {
            p,
            rng: StdRng::seed_from_u64(seed),
            training: true,
        }
    }
}

impl<T: Float> Module<T> for Dropout {
    fn forward(&mut self, x: &Tensor<T>) -> Tensor<T> {
        if !self.training || self.p == 0.0 {
            return x.clone();
        }
        let keep = 1.0 - self.p;
        let scale = if keep > 0.0 {
            T::lit(1.0 / keep)
        } else {
            T::zero()
        };
        let rng = &mut self.rng;
        let mask = ArrayD::from_shape_simple_fn(IxDyn(&x.shape()), || {
            if rng.random::<f64>() < keep {
                scale
            } else {
                T::zero()
            }
        });
        x * Tensor::from_array(mask)
    }

    fn set_training(&mut self, training: bool) {
        self.training = training;
    }

    fn inference_steps(&self) -> Result<Vec<InferenceStep<T>>, String> {
        Ok(vec![InferenceStep::Identity])
    }
}
