//! # nn-mnist — the command line's building blocks
//!
//! Book 1 ch.3.6 「手書き数字認識」 (inference with the book's pretrained weights) and the training
//! of ch.4–6 on MNIST and Fashion-MNIST. The `nn-mnist` binary is a thin layer over these.

pub mod arch;
pub mod book;
mod error;
pub mod report;
pub mod train;

pub use arch::{Arch, InitChoice};
pub use error::MnistError;
