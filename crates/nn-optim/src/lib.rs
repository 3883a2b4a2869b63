//! # nn-optim — optimizers
//!
//! Book 1 ch.6.1 「パラメータの更新」: SGD, Momentum, Nesterov, AdaGrad, RMSprop and Adam (plus
//! AdamW), stepping parameters — [`nn_core::Tensor`] leaves — with the gradients the tape left
//! in them. Every optimizer takes an L2 weight decay (added to the gradient, book ch.6.4.2;
//! AdamW decouples it); [`clip_grad_norm`] and the learning-rate schedules work with all.
//!
//! ```
//! use nn_core::Tensor;
//! use nn_optim::{Optimizer, Sgd};
//! let w = Tensor::<f64>::from_vec(&[2], vec![3.0, -4.0]).requires_grad();
//! let mut opt = Sgd::new(vec![w.clone()], 0.1);
//! for _ in 0..100 {
//!     opt.zero_grad();
//!     (&w * &w).sum().backward().unwrap(); // minimise |w|²
//!     opt.step();
//! }
//! assert!(w.to_array().iter().all(|v| v.abs() < 1e-8));
//! ```

mod optimizers;
mod schedule;

pub use optimizers::{
    AdaGrad, Adam, AdamW, Momentum, Nesterov, Optimizer, RmsProp, Sgd, clip_grad_norm,
};
pub use schedule::{CosineLr, LrSchedule, StepLr};
