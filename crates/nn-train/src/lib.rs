//! # nn-train — training and evaluating networks on labelled images
//!
//! The training loop of book 1 ch.4.5 「学習アルゴリズムの実装」 with the layers of ch.5 and the
//! optimizers of ch.6 ([`train`]), accuracy and prediction ([`metrics`]), the networks the book
//! builds and trains ([`arch`]: its MLPs and CNNs by name; [`book`]: its pretrained weights), and
//! a run's history as CSV and SVG ([`report`]). The `nn-mnist` command and the examples are
//! built from these.
//!
//! ```
//! use nn_train::{Arch, InitChoice, metrics};
//! use ndarray::ArrayD;
//!
//! let mut net = Arch::Mlp.build(InitChoice::Auto, 0);
//! let images = ArrayD::<f32>::zeros(vec![3, 784]);
//! let predicted = metrics::predict(&mut net, &images, 100);
//! assert_eq!(predicted.len(), 3);
//! assert_eq!(metrics::accuracy(&[1, 2, 3], &[1, 2, 0]), 2.0 / 3.0);
//! ```

pub mod arch;
pub mod book;
mod error;
pub mod metrics;
pub mod report;
pub mod train;

pub use arch::{Activation, Arch, InitChoice, MlpOptions, mlp};
pub use error::TrainError;
pub use metrics::{accuracy, argmax, evaluate, predict};
pub use train::{EpochStats, OptimizerKind, TrainConfig};
