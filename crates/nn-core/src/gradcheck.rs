//! Gradient checking: compares the tape's gradients with central differences in `f64`
//! (book 1 ch.4.3 「数値微分」 and ch.5.7.3 「誤差逆伝播法の勾配確認」, `gradient_check.py`).

use ndarray::{ArrayD, Dimension, IxDyn};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use thiserror::Error;

use crate::error::AutogradError;
use crate::tape::no_grad;
use crate::tensor::Tensor;

/// Step size and tolerances of [`gradcheck_with`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GradcheckOptions {
    /// The finite-difference step `h` in `(f(x+h) - f(x-h)) / 2h`.
    pub eps: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance (to the numerical gradient's magnitude).
    pub rtol: f64,
    /// Seed of the random output weights (see [`gradcheck`]).
    pub seed: u64,
}

impl Default for GradcheckOptions {
    fn default() -> Self {
        GradcheckOptions {
            eps: 1e-6,
            atol: 1e-6,
            rtol: 1e-4,
            seed: 0,
        }
    }
}

/// The largest differences found between analytic and numerical gradients.
#[derive(Debug, Clone, PartialEq)]
pub struct GradcheckReport {
    /// Per input: the largest `|analytic - numeric|`.
    pub max_abs_error: Vec<f64>,
    /// Per input: the largest `|analytic - numeric| / max(|numeric|, 1e-12)`.
    pub max_rel_error: Vec<f64>,
}

/// Why a gradient check failed.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum GradcheckError {
    /// An analytic gradient differs from the numerical one beyond the tolerances.
    #[error(
        "gradcheck: input {input}, element {index:?}: analytic gradient {analytic:e} but numerical {numeric:e}"
    )]
    Mismatch {
        /// Which input.
        input: usize,
        /// The element's index.
        index: Vec<usize>,
        /// From backward().
        analytic: f64,
        /// From central differences.
        numeric: f64,
    },
    /// The backward pass itself failed.
    #[error(transparent)]
    Autograd(#[from] AutogradError),
}

/// Checks the gradients of `f` at `inputs` with [`GradcheckOptions::default`].
///
/// `f` may return any shape: the check differentiates `Σ w ∘ f(inputs)` for fixed random
/// weights `w`, which tests the whole vector-Jacobian product rather than one sum.
///
/// ```
/// use nn_core::{gradcheck, ndarray::arr1};
/// let x = arr1(&[0.5, -1.0, 2.0]).into_dyn();
/// let report = gradcheck(|t| t[0].tanh().mul(&t[0]), &[x]).unwrap();
/// assert!(report.max_abs_error[0] < 1e-6);
/// ```
///
/// # Errors
/// [`GradcheckError::Mismatch`] naming the first element that differs.
pub fn gradcheck<F>(f: F, inputs: &[ArrayD<f64>]) -> Result<GradcheckReport, GradcheckError>
where
    F: Fn(&[Tensor<f64>]) -> Tensor<f64>,
{
    gradcheck_with(f, inputs, GradcheckOptions::default())
}

/// [`gradcheck`] with explicit step, tolerances and seed.
///
/// # Errors
/// As [`gradcheck`].
pub fn gradcheck_with<F>(
    f: F,
    inputs: &[ArrayD<f64>],
    opts: GradcheckOptions,
) -> Result<GradcheckReport, GradcheckError>
where
    F: Fn(&[Tensor<f64>]) -> Tensor<f64>,
{
    let leaves: Vec<Tensor<f64>> = inputs
        .iter()
        .map(|a| Tensor::from_array(a.clone()).requires_grad())
        .collect();
    let out = f(&leaves);
    // Weights in ±[0.5, 1.5]: never near zero, so no element of the output goes unchecked.
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let weights = ArrayD::from_shape_simple_fn(IxDyn(&out.shape()), || {
        let magnitude = rng.random_range(0.5..1.5);
        if rng.random_bool(0.5) {
            magnitude
        } else {
            -magnitude
        }
    });
    out.backward_with(weights.clone())?;
    drop(out);

    let weighted = |xs: &[ArrayD<f64>]| -> f64 {
        let consts: Vec<Tensor<f64>> = xs.iter().map(|a| Tensor::from_array(a.clone())).collect();
        let y = no_grad(|| f(&consts)).array();
        y.iter().zip(weights.iter()).map(|(y, w)| y * w).sum()
    };

    let mut report = GradcheckReport {
        max_abs_error: vec![0.0; inputs.len()],
        max_rel_error: vec![0.0; inputs.len()],
    };
    let mut probe: Vec<ArrayD<f64>> = inputs.to_vec();
    for (i, leaf) in leaves.iter().enumerate() {
        let analytic = leaf
            .grad()
            .unwrap_or_else(|| ArrayD::zeros(inputs[i].raw_dim()));
        for (index, &a) in analytic.indexed_iter() {
            let original = probe[i][&index];
            probe[i][&index] = original + opts.eps;
            let plus = weighted(&probe);
            probe[i][&index] = original - opts.eps;
            let minus = weighted(&probe);
            probe[i][&index] = original;
            let numeric = (plus - minus) / (2.0 * opts.eps);
            let abs = (a - numeric).abs();
            let is_nan = a.is_nan() != numeric.is_nan();
            if is_nan || abs > opts.atol + opts.rtol * numeric.abs() {
                return Err(GradcheckError::Mismatch {
                    input: i,
                    index: index.slice().to_vec(),
                    analytic: a,
                    numeric,
                });
            }
            report.max_abs_error[i] = report.max_abs_error[i].max(abs);
            report.max_rel_error[i] = report.max_rel_error[i].max(abs / numeric.abs().max(1e-12));
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::rand;

    #[test]
    fn a_wrong_gradient_is_caught() {
        // `detach` hides one factor from the tape: analytic x, true derivative 2x.
        let x = rand(&[3], 1);
        let err = gradcheck(|t| &t[0] * &t[0].detach(), &[x]).unwrap_err();
        match err {
            GradcheckError::Mismatch {
                analytic, numeric, ..
            } => {
                assert!((numeric - 2.0 * analytic).abs() < 1e-6)
            }
            other => panic!("expected a mismatch, got {other}"),
        }
    }

    #[test]
    fn unused_inputs_have_zero_gradient() {
        let report = gradcheck(|t| t[0].exp(), &[rand(&[2], 2), rand(&[2], 3)]).unwrap();
        assert_eq!(report.max_abs_error[1], 0.0);
    }
}
