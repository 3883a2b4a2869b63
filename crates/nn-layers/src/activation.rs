//! Activation layers (book 1 ch.5.5 「活性化関数レイヤの実装」): each wraps one activation of
//! `nn-core`, whose backward rule the tape already knows. Plus [`PReLU`] (a learned slope),
//! [`Identity`], and the [`Softmax`]/[`LogSoftmax`] output layers.

use nn_core::{Float, Tensor};

use crate::module::{Module, Named};
use crate::predictor::InferenceStep;

macro_rules! activation {
    ($(#[$doc:meta])* $name:ident, |$x:ident| $body:expr) => {
        activation!($(#[$doc])* $name, |$x| $body, None);
    };
    ($(#[$doc:meta])* $name:ident, |$x:ident| $body:expr, $step:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $name;

        impl<T: Float> Module<T> for $name {
            fn forward(&mut self, $x: &Tensor<T>) -> Tensor<T> {
                $body
            }

            fn inference_steps(&self) -> Result<Vec<InferenceStep<T>>, String> {
                let step: Option<InferenceStep<T>> = $step;
                step.map(|s| vec![s]).ok_or_else(|| stringify!($name).to_string())
            }
        }
    };
}

activation!(
    /// The logistic sigmoid (book 1 ch.3.2.4).
    Sigmoid, |x| x.sigmoid(), Some(InferenceStep::Sigmoid));
activation!(
    /// Hyperbolic tangent.
    Tanh, |x| x.tanh(), Some(InferenceStep::Tanh));
activation!(
    /// `max(x, 0)` (book 1 ch.3.2.7).
    Relu, |x| x.relu(), Some(InferenceStep::Relu));
activation!(
    /// GELU, tanh approximation.
    Gelu, |x| x.gelu());
activation!(
    /// GELU, exact (erf).
    GeluErf, |x| x.gelu_erf());
activation!(
    /// `log(1 + eˣ)`.
    Softplus, |x| x.softplus());
activation!(
    /// The step function (book 1 ch.3.2.2); passes no gradient.
    Step, |x| x.step());
activation!(
    /// Passes its input through unchanged.
    Identity, |x| x.clone(), Some(InferenceStep::Identity));

/// `x` for `x > 0`, `slope · x` otherwise.
#[derive(Debug, Clone, Copy)]
pub struct LeakyRelu {
    /// The negative-side slope (PyTorch's default is 0.01).
    pub slope: f64,
}

impl<T: Float> Module<T> for LeakyRelu {
    fn forward(&mut self, x: &Tensor<T>) -> Tensor<T> {
        x.leaky_relu(T::lit(self.slope))
    }

    fn inference_steps(&self) -> Result<Vec<InferenceStep<T>>, String> {
        Ok(vec![InferenceStep::LeakyRelu(T::lit(self.slope))])
    }
}

/// ELU: `x` for `x > 0`, `α(eˣ - 1)` otherwise.
#[derive(Debug, Clone, Copy)]
pub struct Elu {
    /// α (usually 1).
    pub alpha: f64,
}

impl<T: Float> Module<T> for Elu {
    fn forward(&mut self, x: &Tensor<T>) -> Tensor<T> {
        x.elu(T::lit(self.alpha))
    }
}

/// Softmax along an axis (book 1 ch.3.5).
#[derive(Debug, Clone, Copy)]
pub struct Softmax {
    /// The axis that sums to 1 (1 for `(N, classes)`).
    pub axis: usize,
}

impl<T: Float> Module<T> for Softmax {
    fn forward(&mut self, x: &Tensor<T>) -> Tensor<T> {
        x.softmax(self.axis)
    }

    /// Supported over axis 1, the features of `(N, features)`.
    fn inference_steps(&self) -> Result<Vec<InferenceStep<T>>, String> {
        match self.axis {
            1 => Ok(vec![InferenceStep::Softmax]),
            a => Err(format!("Softmax {{ axis: {a} }}")),
        }
    }
}

/// Log-softmax along an axis.
#[derive(Debug, Clone, Copy)]
pub struct LogSoftmax {
    /// The axis normalised over.
    pub axis: usize,
}

impl<T: Float> Module<T> for LogSoftmax {
    fn forward(&mut self, x: &Tensor<T>) -> Tensor<T> {
        x.log_softmax(self.axis)
    }

    /// Supported over axis 1, the features of `(N, features)`.
    fn inference_steps(&self) -> Result<Vec<InferenceStep<T>>, String> {
        match self.axis {
            1 => Ok(vec![InferenceStep::LogSoftmax]),
            a => Err(format!("LogSoftmax {{ axis: {a} }}")),
        }
    }
}

/// Leaky ReLU whose negative-side slope is learned (one slope shared by all units).
pub struct PReLU<T: Float = f32> {
    slope: Tensor<T>,
}

impl<T: Float> PReLU<T> {
    /// Starts with `slope` (PyTorch uses 0.25).
    pub fn new(slope: f64) -> Self {
        PReLU {
            slope: Tensor::from_vec(&[1], vec![T::lit(slope)]).requires_grad(),
        }
    }
}

impl<T: Float> Module<T> for PReLU<T> {
    fn forward(&mut self, x: &Tensor<T>) -> Tensor<T> {
        let zero = Tensor::scalar(T::zero());
        x.maximum(&zero) + &self.slope * x.minimum(&zero)
    }

    fn parameters(&self) -> Vec<Named<T>> {
        vec![("slope".to_string(), self.slope.clone())]
    }
}
