//! # nn-core — tensors with tape-based reverse-mode autodiff
//!
//! The foundation of zero-nn, the Rust companion to *ゼロから作るDeep Learning*. Book 1 ch.5
//! (誤差逆伝播法) derives backpropagation with computational graphs; here every operation on a
//! tensor that needs a gradient is written to a tape, and [`Tensor::backward`] replays the tape
//! in reverse. Ch.4's numerical differentiation survives as [`gradcheck()`], which every
//! operation is tested with.
//!
//! ```
//! use nn_core::Tensor;
//!
//! // One step of a 2-layer network's forward and backward pass.
//! let x = Tensor::<f32>::randn(&[4, 3], 0);
//! let w1 = Tensor::<f32>::randn(&[3, 5], 1).requires_grad();
//! let b1 = Tensor::<f32>::zeros(&[5]).requires_grad();
//! let w2 = Tensor::<f32>::randn(&[5, 2], 2).requires_grad();
//! let h = (x.matmul(&w1) + &b1).sigmoid(); // bias broadcast over the batch
//! let loss = h.matmul(&w2).log_softmax(1).mean().neg();
//! loss.backward()?;
//! assert_eq!(w1.grad().unwrap().shape(), &[3, 5]);
//! assert_eq!(b1.grad().unwrap().shape(), &[5]); // summed over the batch
//! # Ok::<(), nn_core::AutogradError>(())
//! ```
//!
//! Every operation is a struct implementing [`Op`] — its `forward` and its `backward` side by
//! side, like the book's layer classes — run by [`Tensor::apply`]; code outside this crate adds
//! differentiable operations the same way (see the [`op`] module). Convolution and pooling
//! (ch.7) are ops too: [`Tensor::conv2d`], [`Tensor::im2col`], [`Tensor::max_pool2d`].
//!
//! See `docs/architecture.md` for the tape's design, its memory lifecycle and how to add an op.

// Tests build gradcheck inputs as `&[x.clone()]`, which reads better than `from_ref`.
#![cfg_attr(test, allow(clippy::cloned_ref_to_slice_refs))]

// Links the BLAS implementation that ndarray's `blas` feature calls.
#[cfg(feature = "blas")]
extern crate blas_src;

mod error;
mod float;
pub mod fs;
pub mod gradcheck;
pub mod kernels;
pub mod op;
mod ops;
mod tape;
mod tensor;

pub use error::AutogradError;
pub use float::Float;
pub use gradcheck::{
    GradcheckError, GradcheckOptions, GradcheckReport, compare_gradients, gradcheck, gradcheck_with,
};
pub use op::{Grads, Op};
pub use ops::Size2d;
pub use tape::{NoGradGuard, TapeStats, is_grad_enabled, no_grad, tape_stats};
pub use tensor::Tensor;

/// The ndarray version this crate is built on, re-exported so users name the same types.
pub use ndarray;

#[cfg(test)]
pub(crate) mod test_util {
    use ndarray::{ArrayD, IxDyn};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use crate::{Tensor, gradcheck};

    /// Values uniform in `[lo, hi)`, seeded.
    pub(crate) fn uniform(shape: &[usize], lo: f64, hi: f64, seed: u64) -> ArrayD<f64> {
        let mut rng = StdRng::seed_from_u64(seed);
        ArrayD::from_shape_simple_fn(IxDyn(shape), || rng.random_range(lo..hi))
    }

    /// Values in `[-2, 2)`, seeded.
    pub(crate) fn rand(shape: &[usize], seed: u64) -> ArrayD<f64> {
        uniform(shape, -2.0, 2.0, seed)
    }

    /// Asserts that `f`'s gradients match central differences.
    pub(crate) fn check(f: impl Fn(&[Tensor<f64>]) -> Tensor<f64>, inputs: &[ArrayD<f64>]) {
        if let Err(e) = gradcheck(f, inputs) {
            panic!("{e}");
        }
    }
}
