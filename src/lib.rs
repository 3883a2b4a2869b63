//! # zero-nn — *ゼロから作るDeep Learning* in Rust
//!
//! One dependency for the whole toolkit. Each crate is re-exported as a module:
//!
//! | module | crate | what |
//! |---|---|---|
//! | [`core`] | `nn-core` | tensors with tape-based reverse-mode autodiff, gradient checking |
//! | [`layers`] | `nn-layers` | layers, activations, losses, initialisers, checkpoints |
//! | [`optim`] | `nn-optim` | optimizers |
//! | [`data`] | `nn-data` | MNIST / Fashion-MNIST loading, batching, toy data sets |
//! | [`train`] | `nn-train` | the training loop, metrics, the book's networks, run reports |
//!
//! ```
//! use zero_nn::core::Tensor;
//! let w = Tensor::<f64>::scalar(3.0).requires_grad();
//! let y = w.powi(2);
//! y.backward().unwrap();
//! assert_eq!(w.grad().unwrap().into_iter().next(), Some(6.0));
//! ```

pub use nn_core as core;
pub use nn_core::Tensor;
pub use nn_data as data;
pub use nn_layers as layers;
pub use nn_optim as optim;
pub use nn_text as text;
pub use nn_train as train;
