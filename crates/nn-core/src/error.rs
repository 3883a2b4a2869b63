//! Errors of the autodiff engine.

use thiserror::Error;

/// Why a `backward` call could not run.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AutogradError {
    /// The graph was already consumed by an earlier `backward()` (each forward pass supports one
    /// backward pass; sum the losses first if several need to flow back).
    #[error(
        "backward(): this tensor's graph was already freed by an earlier backward(); \
         run the forward pass again (or sum the losses and call backward() once)"
    )]
    GraphFreed,
    /// The tensor is a constant: nothing that requires a gradient took part in computing it.
    #[error(
        "backward(): the tensor does not require grad (no parameter took part in computing it, \
         or it was computed inside no_grad)"
    )]
    NotTracked,
    /// `backward()` without a seed needs a one-element tensor.
    #[error(
        "backward(): the tensor has shape {shape:?}, not a scalar; reduce it (sum/mean) or call \
         backward_with(seed) with a seed of that shape"
    )]
    NonScalar {
        /// The tensor's shape.
        shape: Vec<usize>,
    },
    /// The seed given to `backward_with` has another shape than the tensor.
    #[error("backward_with(): the seed has shape {found:?} but the tensor has shape {expected:?}")]
    SeedShape {
        /// The tensor's shape.
        expected: Vec<usize>,
        /// The seed's shape.
        found: Vec<usize>,
    },
}
