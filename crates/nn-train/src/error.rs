//! The command's one error type: each variant says what went wrong and what to do about it.

use std::path::PathBuf;

use thiserror::Error;

/// Why a command failed.
#[derive(Debug, Error)]
pub enum TrainError {
    /// Data or weights could not be fetched or parsed.
    #[error(transparent)]
    Data(#[from] nn_data::DataError),
    /// A checkpoint could not be written or read.
    #[error(transparent)]
    Checkpoint(#[from] nn_layers::CheckpointError),
    /// A weight file does not hold the network it should.
    #[error("{file}: {reason}")]
    Weights {
        /// The file.
        file: String,
        /// What is missing or wrong.
        reason: String,
    },
    /// Training produced a loss that is not a finite number.
    #[error(
        "training diverged: the loss is {loss} at epoch {epoch}, step {step}; \
         try a smaller --lr (or gradient clipping with --clip)"
    )]
    NonFinite {
        /// 1-based epoch.
        epoch: usize,
        /// 1-based step within the epoch.
        step: usize,
        /// The value seen.
        loss: f32,
    },
    /// A report file could not be written.
    #[error("{path}: {reason}")]
    Report {
        /// The file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// Options that do not fit together, or a checkpoint without the information needed.
    #[error("{0}")]
    Usage(String),
}
