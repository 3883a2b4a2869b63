//! What every example shares: the command line (`--quick`, `--out`, `--dataset`), the output
//! folder, data and the book's weights ([`data`]), figures ([`charts`], [`pictures`]) and the
//! chapter-6 training loops ([`training`]). Networks come from the library (`zero_nn::train`).
// Each example uses a part of this module.
#![allow(dead_code, unused_imports)]

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub mod attention;
pub mod charts;
pub mod data;
pub mod pictures;
pub mod training;

pub use charts::{Curve, colour, line_chart, padded_range, smooth, square_grid, write_svg};
pub use data::{DataChoice, book_arrays, book_simple_convnet, load, load_split};
pub use training::{
    Contender, TrainerOptions, first, random_batch, train_epochs, train_side_by_side,
    write_loss_curves,
};

mod alloc;

/// The result type of the examples: any error, printed as one line by [`main`].
pub type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// The options every example takes.
#[derive(Debug, Clone, clap::Args)]
pub struct Common {
    /// Small sizes and few epochs: a run of a few seconds that still draws every figure
    /// (also set by the environment variable ZERO_NN_QUICK=1).
    #[arg(long)]
    pub quick: bool,
    /// Where to write the figures [default: figures/<example>].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

impl Common {
    /// `--quick` or `ZERO_NN_QUICK=1`.
    pub fn quick(&self) -> bool {
        self.quick || std::env::var("ZERO_NN_QUICK").is_ok_and(|v| v == "1")
    }

    /// The output folder, created if missing.
    pub fn out_dir(&self, example: &str) -> Result<PathBuf> {
        let dir = self
            .out
            .clone()
            .unwrap_or_else(|| Path::new("figures").join(example));
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create the output folder {}: {e}", dir.display()))?;
        Ok(dir)
    }

    /// `full` normally, `quick` with `--quick`.
    pub fn pick<T>(&self, full: T, quick: T) -> T {
        if self.quick() { quick } else { full }
    }
}

/// Runs an example's body and turns an error into one line on stderr and exit code 1.
pub fn main(example: &str, run: impl FnOnce() -> Result<()>) -> ExitCode {
    alloc::keep_freed_memory();
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{example}: error: {e}");
            ExitCode::FAILURE
        }
    }
}
