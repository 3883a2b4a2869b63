//! Flattening `(N, C, H, W)` feature maps into `(N, C·H·W)` rows for a fully connected layer
//! (what the book's Affine layer does to its input implicitly, ch.7.5; PyTorch's `nn.Flatten`).

use nn_core::{Float, Tensor};

use crate::module::Module;
use crate::predictor::InferenceStep;

/// Keeps the batch axis and joins all others, in row-major order (no copy for a contiguous input).
///
/// ```
/// use nn_layers::{Flatten, Module};
/// let y = Module::<f32>::forward(&mut Flatten, &nn_core::Tensor::zeros(&[4, 30, 12, 12]));
/// assert_eq!(y.shape(), vec![4, 4320]);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flatten;

impl<T: Float> Module<T> for Flatten {
    fn forward(&mut self, x: &Tensor<T>) -> Tensor<T> {
        let shape = x.shape();
        assert!(
            !shape.is_empty(),
            "Flatten: expects a batch axis, got a 0-dimensional tensor"
        );
        x.reshape(&[shape[0], shape[1..].iter().product()])
    }

    fn inference_steps(&self) -> Result<Vec<InferenceStep<T>>, String> {
        // The predictor's rows are already flat.
        Ok(vec![InferenceStep::Identity])
    }
}

/// The inverse of [`Flatten`]: `(N, features)` rows back into `(N, shape…)` (PyTorch's
/// `nn.Unflatten(1, shape)`), e.g. MNIST's 784-pixel rows into `(N, 1, 28, 28)` images for a
/// convolutional network.
///
/// ```
/// use nn_layers::{Module, Unflatten};
/// let mut images = Unflatten::new(&[1, 28, 28]);
/// let y = Module::<f32>::forward(&mut images, &nn_core::Tensor::zeros(&[5, 784]));
/// assert_eq!(y.shape(), vec![5, 1, 28, 28]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unflatten {
    shape: Vec<usize>,
}

impl Unflatten {
    /// Rows of `shape.iter().product()` features become tensors of `shape`.
    pub fn new(shape: &[usize]) -> Self {
        Unflatten {
            shape: shape.to_vec(),
        }
    }
}

impl<T: Float> Module<T> for Unflatten {
    fn forward(&mut self, x: &Tensor<T>) -> Tensor<T> {
        let shape = x.shape();
        let features: usize = self.shape.iter().product();
        assert!(
            shape.len() >= 2 && shape[1..].iter().product::<usize>() == features,
            "Unflatten: expects (N, {features}) rows for {:?}, got {shape:?}",
            self.shape
        );
        let mut target = vec![shape[0]];
        target.extend_from_slice(&self.shape);
        x.reshape(&target)
    }
}
