//! # nn-layers — layers, activations, losses, initialisers and checkpoints
//!
//! Book 1 ch.5–7: the layer view of a network — Affine ([`Linear`]), [`Relu`], [`Sigmoid`],
//! Softmax-with-Loss ([`cross_entropy`]), [`BatchNorm1d`], [`Dropout`], and for convolutional
//! networks [`Conv2d`], [`MaxPool2d`], [`AvgPool2d`], [`Flatten`], [`BatchNorm2d`] — on top of
//! [`nn_core::Tensor`], whose tape does every backward pass. Each layer lives in its own file.
//!
//! ```
//! use nn_layers::{Init, Linear, Module, Reduction, Sequential, Sigmoid, Target, cross_entropy};
//! use rand::SeedableRng;
//! let mut rng = rand::rngs::StdRng::seed_from_u64(0);
//! // The book's chapter-3 network: 784-50-100-10 with sigmoid hidden layers.
//! let mut net = Sequential::<f32>::new()
//!     .add(Linear::with_init(784, 50, Init::Normal { std: 0.01 }, true, &mut rng))
//!     .add(Sigmoid)
//!     .add(Linear::with_init(50, 100, Init::Normal { std: 0.01 }, true, &mut rng))
//!     .add(Sigmoid)
//!     .add(Linear::with_init(100, 10, Init::Normal { std: 0.01 }, true, &mut rng));
//! let x = nn_core::Tensor::zeros(&[8, 784]);
//! let loss = cross_entropy(&net.forward(&x), Target::Classes(&[0, 1, 2, 3, 4, 5, 6, 7]), Reduction::Mean);
//! loss.backward().unwrap();
//! assert!(net.parameters().iter().all(|(_, p)| p.grad().is_some()));
//! ```

mod activation;
mod batch_norm;
mod batch_norm2d;
pub mod checkpoint;
mod conv;
mod data_parallel;
mod dropout;
mod embedding;
mod flatten;
mod gradcheck;
mod init;
mod linear;
mod loss;
mod maxout;
mod module;
mod pool;
mod predictor;
pub mod rnn;

pub use activation::{
    Elu, Gelu, GeluErf, Identity, LeakyRelu, LogSoftmax, PReLU, Relu, Sigmoid, Softmax, Softplus,
    Step, Tanh,
};
pub use batch_norm::BatchNorm1d;
pub use batch_norm2d::BatchNorm2d;
pub use checkpoint::{CheckpointError, load, save, save_with_metadata};
pub use conv::Conv2d;
pub use data_parallel::DataParallel;
pub use dropout::Dropout;
pub use embedding::Embedding;
pub use flatten::{Flatten, Unflatten};
pub use gradcheck::{GradientDifference, ModuleGradcheckError, gradcheck_module};
pub use init::Init;
pub use linear::{Affine, Linear};
pub use loss::{
    Reduction, Target, binary_cross_entropy_with_logits, cross_entropy, mse, nll, sum_squared_error,
};
pub use maxout::Maxout;
pub use module::{Module, Named, Sequential, TorchLayout};
pub use nn_core::Tensor;
pub use pool::{AvgPool2d, MaxPool2d};
pub use predictor::{InferenceStep, Predictor, PredictorError};
