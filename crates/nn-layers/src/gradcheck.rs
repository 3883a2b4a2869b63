//! Gradient checking for whole modules (book 1 ch.5.7.3 「誤差逆伝播法の勾配確認」): the tape's
//! gradient of every parameter and of the input, against central differences in `f64`.

use ndarray::ArrayD;
use nn_core::gradcheck::{ElementMismatch, compare_gradients, output_weights};
use nn_core::{AutogradError, GradcheckOptions, Tensor, no_grad};
use thiserror::Error;

use crate::module::Module;

/// The largest difference found for one tensor (the input, or a named parameter).
#[derive(Debug, Clone, PartialEq)]
pub struct GradientDifference {
    /// `"input"` or the parameter's name.
    pub name: String,
    /// The largest `|analytic − numeric|`.
    pub max_abs_error: f64,
    /// The largest `|analytic − numeric| / max(|numeric|, 1e-12)`.
    pub max_rel_error: f64,
}

/// Why a module's gradient check failed.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ModuleGradcheckError {
    /// An analytic gradient differs from the numerical one beyond the tolerances, or either is
    /// NaN or infinite.
    #[error("gradcheck: {name}, {mismatch}")]
    Mismatch {
        /// `"input"` or the parameter's name.
        name: String,
        /// The first element that failed.
        mismatch: ElementMismatch,
    },
    /// The backward pass itself failed.
    #[error(transparent)]
    Autograd(#[from] AutogradError),
}

/// Checks the gradients of `module` (every parameter, and the input `x`) against central
/// differences, through `Σ w ∘ f(module, x)` for fixed random weights `w`.
///
/// `f` runs the module and may add anything after it (a loss, say); it is called once with the
/// tape on and then twice per checked element with it off. The module must compute the same
/// function on every call: Dropout in training mode cannot be checked this way.
///
/// ```
/// use nn_layers::{Linear, Module, Sigmoid, Sequential, gradcheck_module};
/// use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let mut net = Sequential::<f64>::new().add(Linear::new(3, 4, &mut rng)).add(Sigmoid);
/// let x = nn_core::Tensor::<f64>::randn(&[2, 3], 1).to_array();
/// let report = gradcheck_module(&mut net, &x, |m, x| m.forward(x), Default::default()).unwrap();
/// assert_eq!(report.len(), 3); // input, 0.weight, 0.bias
/// ```
///
/// # Errors
/// [`ModuleGradcheckError::Mismatch`] naming the first element that differs or is not finite.
pub fn gradcheck_module<M, F>(
    module: &mut M,
    x: &ArrayD<f64>,
    mut f: F,
    opts: GradcheckOptions,
) -> Result<Vec<GradientDifference>, ModuleGradcheckError>
where
    M: Module<f64> + ?Sized,
    F: FnMut(&mut M, &Tensor<f64>) -> Tensor<f64>,
{
    let params = module.parameters();
    module.zero_grad();
    let input = Tensor::from_array(x.clone()).requires_grad();
    let out = f(module, &input);
    let weights = output_weights(&out.shape(), opts.seed);
    out.backward_with(weights.clone())?;
    drop(out);

    let mut weighted = |module: &mut M, x: &ArrayD<f64>| -> f64 {
        let y = no_grad(|| f(module, &Tensor::from_array(x.clone()))).array();
        y.iter().zip(weights.iter()).map(|(y, w)| y * w).sum()
    };
    let compare = |name: &str,
                   analytic: Option<ArrayD<f64>>,
                   shape: &[usize],
                   numeric_at: &mut dyn FnMut(&[usize]) -> f64|
     -> Result<GradientDifference, ModuleGradcheckError> {
        let analytic = analytic.unwrap_or_else(|| ArrayD::zeros(shape));
        let diff = compare_gradients(&analytic, numeric_at, &opts).map_err(|mismatch| {
            ModuleGradcheckError::Mismatch {
                name: name.to_string(),
                mismatch,
            }
        })?;
        Ok(GradientDifference {
            name: name.to_string(),
            max_abs_error: diff.max_abs_error,
            max_rel_error: diff.max_rel_error,
        })
    };

    let mut report = Vec::with_capacity(params.len() + 1);
    let mut probe = x.clone();
    report.push(compare(
        "input",
        input.grad(),
        x.shape(),
        &mut |index: &[usize]| {
            let original = probe[index];
            probe[index] = original + opts.eps;
            let plus = weighted(module, &probe);
            probe[index] = original - opts.eps;
            let minus = weighted(module, &probe);
            probe[index] = original;
            (plus - minus) / (2.0 * opts.eps)
        },
    )?);
    for (name, p) in &params {
        let shape = p.shape();
        report.push(compare(
            name,
            p.grad(),
            &shape,
            &mut |index: &[usize]| {
                let original = p.array()[index];
                p.update_value(|mut v| v[index] = original + opts.eps);
                let plus = weighted(module, x);
                p.update_value(|mut v| v[index] = original - opts.eps);
                let minus = weighted(module, x);
                p.update_value(|mut v| v[index] = original);
                (plus - minus) / (2.0 * opts.eps)
            },
        )?);
    }
    Ok(report)
}
