//! # nn-optim — optimizers
//!
//! Book 1 ch.6.1 「パラメータの更新」: SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adam (and
//! AdamW), stepping the parameters ([`nn_core::Tensor`] leaves) that layers expose. This crate
//! is being built (issue 4); for now it only re-exports the parameter type it will update.

pub use nn_core::Tensor;
