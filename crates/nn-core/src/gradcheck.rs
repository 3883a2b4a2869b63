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
    /// An analytic gradient differs from the numerical one beyond the tolerances, or either is
    /// NaN or infinite.
    #[error("gradcheck: input {input}, {mismatch}")]
    Mismatch {
        /// Which input.
        input: usize,
        /// The first element that failed.
        mismatch: ElementMismatch,
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
/// [`GradcheckError::Mismatch`] naming the first element that differs or is not finite.
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
    let weights = output_weights(&out.shape(), opts.seed);
    out.backward_with(weights.clone())?;
    drop(out);

    let weighted = |xs: &[ArrayD<f64>]| -> f64 {
        let consts: Vec<Tensor<f64>> = xs.iter().map(|a| Tensor::from_array(a.clone())).collect();
        let y = no_grad(|| f(&consts)).array();
        y.iter().zip(weights.iter()).map(|(y, w)| y * w).sum()
    };

    let mut report = GradcheckReport {
        max_abs_error: Vec::with_capacity(inputs.len()),
        max_rel_error: Vec::with_capacity(inputs.len()),
    };
    let mut probe: Vec<ArrayD<f64>> = inputs.to_vec();
    for (i, leaf) in leaves.iter().enumerate() {
        let analytic = leaf
            .grad()
            .unwrap_or_else(|| ArrayD::zeros(inputs[i].raw_dim()));
        let numeric = |index: &[usize]| {
            let original = probe[i][index];
            probe[i][index] = original + opts.eps;
            let plus = weighted(&probe);
            probe[i][index] = original - opts.eps;
            let minus = weighted(&probe);
            probe[i][index] = original;
            (plus - minus) / (2.0 * opts.eps)
        };
        let diff = compare_gradients(&analytic, numeric, &opts)
            .map_err(|mismatch| GradcheckError::Mismatch { input: i, mismatch })?;
        report.max_abs_error.push(diff.max_abs_error);
        report.max_rel_error.push(diff.max_rel_error);
    }
    Ok(report)
}

/// The fixed random weights `w` of `Σ w ∘ f(x)`: magnitudes in `[0.5, 1.5]` with random signs,
/// never near zero, so no element of the output goes unchecked.
pub fn output_weights(shape: &[usize], seed: u64) -> ArrayD<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    ArrayD::from_shape_simple_fn(IxDyn(shape), || {
        let magnitude = rng.random_range(0.5..1.5);
        if rng.random_bool(0.5) {
            magnitude
        } else {
            -magnitude
        }
    })
}

/// The largest differences between one tensor's analytic and numerical gradients.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GradientDiff {
    /// The largest `|analytic − numeric|`.
    pub max_abs_error: f64,
    /// The largest `|analytic − numeric| / max(|numeric|, 1e-12)`.
    pub max_rel_error: f64,
}

/// The first element whose analytic and numerical gradients disagree.
#[derive(Debug, Clone, PartialEq, Error)]
#[error(
    "element {index:?}: analytic gradient {analytic:e} but numerical {numeric:e}{}",
    not_finite_note(*.analytic, *.numeric)
)]
pub struct ElementMismatch {
    /// The element's index.
    pub index: Vec<usize>,
    /// From backward().
    pub analytic: f64,
    /// From central differences.
    pub numeric: f64,
}

/// Compares `analytic` with `numeric(index)` element by element: an element fails if
/// `|analytic − numeric| > atol + rtol·|numeric|`, or if either value is NaN or infinite (a
/// comparison with NaN would otherwise pass by accident). Both [`gradcheck_with`] and
/// nn-layers' `gradcheck_module` judge with this routine.
///
/// ```
/// use nn_core::gradcheck::{GradcheckOptions, compare_gradients};
/// use nn_core::ndarray::arr1;
/// let opts = GradcheckOptions::default();
/// let analytic = arr1(&[1.0, f64::NAN]).into_dyn();
/// let err = compare_gradients(&analytic, |_| f64::NAN, &opts).unwrap_err();
/// assert_eq!(err.index, vec![0]); // NaN numerically, 1 analytically
/// let err = compare_gradients(&analytic, |i| if i[0] == 0 { 1.0 } else { f64::NAN }, &opts);
/// assert_eq!(err.unwrap_err().index, vec![1]); // NaN on both sides still fails
/// ```
///
/// # Errors
/// The first element (row-major) that fails.
pub fn compare_gradients(
    analytic: &ArrayD<f64>,
    mut numeric: impl FnMut(&[usize]) -> f64,
    opts: &GradcheckOptions,
) -> Result<GradientDiff, ElementMismatch> {
    let mut diff = GradientDiff {
        max_abs_error: 0.0,
        max_rel_error: 0.0,
    };
    for (index, &a) in analytic.indexed_iter() {
        let n = numeric(index.slice());
        let abs = (a - n).abs();
        // Written so that NaN fails: `abs <= tol` is false for NaN.
        let within = a.is_finite() && n.is_finite() && abs <= opts.atol + opts.rtol * n.abs();
        if !within {
            return Err(ElementMismatch {
                index: index.slice().to_vec(),
                analytic: a,
                numeric: n,
            });
        }
        diff.max_abs_error = diff.max_abs_error.max(abs);
        diff.max_rel_error = diff.max_rel_error.max(abs / n.abs().max(1e-12));
    }
    Ok(diff)
}

fn not_finite_note(analytic: f64, numeric: f64) -> &'static str {
    if analytic.is_finite() && numeric.is_finite() {
        ""
    } else {
        " (a gradient that is NaN or infinite never passes)"
    }
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
            GradcheckError::Mismatch { mismatch: m, .. } => {
                assert!((m.numeric - 2.0 * m.analytic).abs() < 1e-6)
            }
            other => panic!("expected a mismatch, got {other}"),
        }
    }

    #[test]
    fn nan_on_both_sides_fails() {
        // sqrt of a negative number: NaN forward, NaN backward, NaN numerically.
        let x = ndarray::arr1(&[-1.0]).into_dyn();
        let err = gradcheck(|t| t[0].sqrt(), &[x]).unwrap_err();
        match &err {
            GradcheckError::Mismatch { mismatch: m, .. } => {
                assert_eq!(m.index, vec![0]);
                assert!(m.analytic.is_nan() && m.numeric.is_nan());
            }
            other => panic!("expected a mismatch, got {other}"),
        }
        assert!(err.to_string().contains("input 0, element [0]"), "{err}");
        assert!(err.to_string().contains("NaN or infinite"), "{err}");
    }

    #[test]
    fn infinity_fails() {
        let analytic = ndarray::arr1(&[f64::INFINITY]).into_dyn();
        let opts = GradcheckOptions::default();
        assert!(compare_gradients(&analytic, |_| f64::INFINITY, &opts).is_err());
        assert!(compare_gradients(&analytic, |_| 1.0, &opts).is_err());
        let finite = ndarray::arr1(&[1.0]).into_dyn();
        assert!(compare_gradients(&finite, |_| f64::NEG_INFINITY, &opts).is_err());
        assert!(compare_gradients(&finite, |_| 1.0 + 1e-9, &opts).is_ok());
    }

    #[test]
    fn unused_inputs_have_zero_gradient() {
        let report = gradcheck(|t| t[0].exp(), &[rand(&[2], 2), rand(&[2], 3)]).unwrap();
        assert_eq!(report.max_abs_error[1], 0.0);
    }
}
