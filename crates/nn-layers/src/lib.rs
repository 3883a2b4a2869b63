//! # nn-layers — layers, activations, losses, initialisers and checkpoints
//!
//! Book 1 ch.5–7: the layer view of a network (Affine, ReLU, Sigmoid, SoftmaxWithLoss,
//! BatchNorm, Dropout), built on [`nn_core::Tensor`]. This crate is being built (issue 4); for
//! now it only re-exports the tensor it will build on.

pub use nn_core::Tensor;
