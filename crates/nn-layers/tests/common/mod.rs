//! Helpers shared by the layer tests.

use ndarray::{ArrayD, IxDyn};
use nn_core::GradcheckOptions;
use nn_layers::{Module, gradcheck_module};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Values in ±[0.1, 2): clear of the kinks of ReLU-like functions at 0, so that central
/// differences with h = 1e-6 never straddle one.
pub fn input(shape: &[usize], seed: u64) -> ArrayD<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    ArrayD::from_shape_simple_fn(IxDyn(shape), || {
        let m = rng.random_range(0.1..2.0);
        if rng.random_bool(0.5) { m } else { -m }
    })
}

/// Gradchecks `module` (input and every parameter) at `x`, every error at most 1e-6.
pub fn check<M: Module<f64>>(name: &str, module: &mut M, x: &ArrayD<f64>) {
    match gradcheck_module(module, x, |m, x| m.forward(x), GradcheckOptions::default()) {
        Ok(report) => {
            for d in report {
                assert!(d.max_abs_error <= 1e-6, "{name}: {d:?}");
            }
        }
        Err(e) => panic!("{name}: {e}"),
    }
}
