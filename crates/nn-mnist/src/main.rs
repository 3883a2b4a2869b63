//! `nn-mnist`: the book's chapter 3 (MNIST inference with `sample_weight.pkl`), training and
//! evaluation from the command line. The commands arrive with the data loader and layers
//! (issues 3–5); until then the binary says so and exits with an error instead of pretending.

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!(
        "nn-mnist: not implemented yet — chapter-3 inference needs the MNIST loader (nn-data) \
         and the pickle reader, which are still being built"
    );
    ExitCode::FAILURE
}
