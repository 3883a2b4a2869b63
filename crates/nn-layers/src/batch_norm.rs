//! Batch normalisation for `(N, features)` inputs (book 1 ch.6.3, Ioffe & Szegedy 2015).
//!
//! Training: normalise with the batch's mean and (biased) variance, then scale by γ and shift by
//! β; update the running statistics `r ← (1 - momentum) r + momentum · batch` (the running
//! variance uses the unbiased batch variance, as PyTorch). Evaluation: normalise with the running
//! statistics. The book's `momentum = 0.9` weights the old value, i.e. ours `momentum = 0.1`.

use nn_core::{Float, Tensor};

use crate::module::{Module, Named, TorchLayout};
use crate::predictor::InferenceStep;

/// The state and the forward pass shared by [`BatchNorm1d`] and
/// [`BatchNorm2d`](crate::BatchNorm2d): per-feature γ, β and running statistics, normalising over
/// the axes that are not the feature axis.
pub(crate) struct Norm<T: Float> {
    pub(crate) gamma: Tensor<T>,
    pub(crate) beta: Tensor<T>,
    pub(crate) running_mean: Tensor<T>,
    pub(crate) running_var: Tensor<T>,
    momentum: T,
    pub(crate) eps: T,
    training: bool,
}

impl<T: Float> Norm<T> {
    pub(crate) fn new(features: usize, momentum: f64, eps: f64) -> Self {
        Norm {
            gamma: Tensor::ones(&[features]).requires_grad(),
            beta: Tensor::zeros(&[features]).requires_grad(),
            // Leaves only so that checkpoints can set them; they are used through detach().
            running_mean: Tensor::zeros(&[features]).requires_grad(),
            running_var: Tensor::ones(&[features]).requires_grad(),
            momentum: T::lit(momentum),
            eps: T::lit(eps),
            training: true,
        }
    }

    /// Normalises `x` over `axes` (all but the feature axis), with per-feature statistics and
    /// parameters broadcast as `stat_shape` (the feature axis kept, the others 1).
    pub(crate) fn forward(
        &mut self,
        name: &str,
        x: &Tensor<T>,
        axes: &[usize],
        stat_shape: &[usize],
    ) -> Tensor<T> {
        let shape = x.shape();
        let per_feature = |t: &Tensor<T>| t.reshape(stat_shape);
        let normalized = if self.training {
            let n: usize = axes.iter().map(|&a| shape[a]).product();
            assert!(
                n > 1,
                "{name}: training needs more than one value per feature, got {shape:?}"
            );
            let mean = x.mean_axes(axes, true);
            let centered = x - &mean;
            let var = centered.powi(2).mean_axes(axes, true);
            let m = self.momentum;
            let unbiased = T::lit(n as f64 / (n as f64 - 1.0));
            let (batch_mean, batch_var) = (mean.array(), var.array());
            let features = self.running_mean.len();
            let flat = |a: &ndarray::ArcArray<T, ndarray::IxDyn>| {
                a.to_shape(features)
                    .unwrap_or_else(|_| unreachable!("one statistic per feature"))
                    .into_owned()
            };
            let (batch_mean, batch_var) = (flat(&batch_mean), flat(&batch_var));
            self.running_mean.update_value(|mut r| {
                r.zip_mut_with(&batch_mean, |r, &b| *r = (T::one() - m) * *r + m * b)
            });
            self.running_var.update_value(|mut r| {
                r.zip_mut_with(&batch_var, |r, &b| {
                    *r = (T::one() - m) * *r + m * b * unbiased
                })
            });
            centered / (var + self.eps).sqrt()
        } else {
            (x - per_feature(&self.running_mean.detach()))
                / (per_feature(&self.running_var.detach()) + self.eps).sqrt()
        };
        normalized * per_feature(&self.gamma) + per_feature(&self.beta)
    }

    pub(crate) fn parameters(&self) -> Vec<Named<T>> {
        vec![
            // PyTorch's names for γ and β, so that checkpoints carry over.
            ("weight".to_string(), self.gamma.clone()),
            ("bias".to_string(), self.beta.clone()),
        ]
    }

    pub(crate) fn buffers(&self) -> Vec<Named<T>> {
        vec![
            ("running_mean".to_string(), self.running_mean.clone()),
            ("running_var".to_string(), self.running_var.clone()),
        ]
    }

    /// PyTorch's BatchNorm counts the batches it has seen; this one does not (the count
    /// matters there only with `momentum=None`), so checkpoints carry a 0.
    pub(crate) fn torch_layout() -> TorchLayout {
        TorchLayout {
            transposed: Vec::new(),
            counters: vec![("num_batches_tracked".to_string(), 0)],
        }
    }

    pub(crate) fn set_training(&mut self, training: bool) {
        self.training = training;
    }
}

/// BatchNorm over the batch axis of `(N, features)` inputs.
pub struct BatchNorm1d<T: Float = f32> {
    norm: Norm<T>,
}

impl<T: Float> BatchNorm1d<T> {
    /// γ = 1, β = 0, running mean 0 and variance 1, momentum 0.1, eps 1e-5.
    pub fn new(features: usize) -> Self {
        Self::with_options(features, 0.1, 1e-5)
    }

    /// With explicit momentum and epsilon.
    pub fn with_options(features: usize, momentum: f64, eps: f64) -> Self {
        BatchNorm1d {
            norm: Norm::new(features, momentum, eps),
        }
    }

    /// The running mean (used in evaluation).
    pub fn running_mean(&self) -> ndarray::ArrayD<T> {
        self.norm.running_mean.to_array()
    }

    /// The running variance (used in evaluation).
    pub fn running_var(&self) -> ndarray::ArrayD<T> {
        self.norm.running_var.to_array()
    }
}

impl<T: Float> Module<T> for BatchNorm1d<T> {
    fn forward(&mut self, x: &Tensor<T>) -> Tensor<T> {
        let shape = x.shape();
        let features = self.norm.gamma.shape()[0];
        assert!(
            shape.len() == 2 && shape[1] == features,
            "BatchNorm1d: expects (N, {features}), got {shape:?}"
        );
        self.norm.forward("BatchNorm1d", x, &[0], &[1, features])
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

    /// `γ (x − mean) / √(var + ε) + β` with the running statistics, folded into one scale and
    /// shift per feature.
    fn inference_steps(&self) -> Result<Vec<InferenceStep<T>>, String> {
        let one_d = |t: &Tensor<T>| {
            t.to_array()
                .into_dimensionality::<ndarray::Ix1>()
                .map_err(|_| "BatchNorm1d with non-1-D statistics".to_string())
        };
        let n = &self.norm;
        let (gamma, beta) = (one_d(&n.gamma)?, one_d(&n.beta)?);
        let (mean, var) = (one_d(&n.running_mean)?, one_d(&n.running_var)?);
        let scale = ndarray::Zip::from(&gamma)
            .and(&var)
            .map_collect(|&g, &v| g / (v + n.eps).sqrt());
        let shift = ndarray::Zip::from(&beta)
            .and(&mean)
            .and(&scale)
            .map_collect(|&b, &m, &s| b - m * s);
        Ok(vec![InferenceStep::ScaleShift { scale, shift }])
    }
}
