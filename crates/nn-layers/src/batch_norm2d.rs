//! Batch normalisation of `(N, C, H, W)` feature maps, per channel (PyTorch's `nn.BatchNorm2d`):
//! the statistics of a channel are taken over the batch and both spatial axes, with the same
//! running-statistics rule as [`BatchNorm1d`](crate::BatchNorm1d) (book 1 ch.6.3).

use nn_core::{Float, Tensor};

use crate::batch_norm::Norm;
use crate::module::{Module, Named, TorchLayout};

/// BatchNorm per channel of `(N, C, H, W)` inputs: γ, β and running statistics of shape `(C,)`.
///
/// ```
/// use nn_layers::{BatchNorm2d, Module};
/// let mut bn = BatchNorm2d::<f64>::new(3);
/// let x = nn_core::Tensor::<f64>::randn(&[4, 3, 5, 5], 0);
/// let y = bn.forward(&x).to_array();
/// // Each channel comes out with mean 0 over (N, H, W).
/// let m = y.index_axis(ndarray::Axis(1), 0).mean().unwrap();
/// assert!(m.abs() < 1e-12);
/// ```
pub struct BatchNorm2d<T: Float = f32> {
    norm: Norm<T>,
}

impl<T: Float> BatchNorm2d<T> {
    /// γ = 1, β = 0, running mean 0 and variance 1, momentum 0.1, eps 1e-5 (PyTorch's defaults).
    pub fn new(channels: usize) -> Self {
        Self::with_options(channels, 0.1, 1e-5)
    }

    /// With explicit momentum (the weight of the new batch) and epsilon.
    pub fn with_options(channels: usize, momentum: f64, eps: f64) -> Self {
        BatchNorm2d {
            norm: Norm::new(channels, momentum, eps),
        }
    }

    /// The running mean per channel (used in evaluation).
    pub fn running_mean(&self) -> ndarray::ArrayD<T> {
        self.norm.running_mean.to_array()
    }

    /// The running variance per channel (used in evaluation).
    pub fn running_var(&self) -> ndarray::ArrayD<T> {
        self.norm.running_var.to_array()
    }
}

impl<T: Float> Module<T> for BatchNorm2d<T> {
    fn forward(&mut self, x: &Tensor<T>) -> Tensor<T> {
        let shape = x.shape();
        let channels = self.norm.gamma.shape()[0];
        assert!(
            shape.len() == 4 && shape[1] == channels,
            "BatchNorm2d: expects (N, {channels}, H, W), got {shape:?}"
        );
        self.norm
            .forward("BatchNorm2d", x, &[0, 2, 3], &[1, channels, 1, 1])
    }

    fn parameters(&self) -> Vec<Named<T>> {
        self.norm.parameters()
    }

    fn buffers(&self) -> Vec<Named<T>> {
        self.norm.buffers()
    }

    fn torch_layout(&self) -> TorchLayout {
        Norm::<T>::torch_layout()
    }

    fn set_training(&mut self, training: bool) {
        self.norm.set_training(training);
    }
}
