//! Shared by the tests that compare with PyTorch.

use std::path::PathBuf;
use std::process::Command;

/// A Python that can import every module of `modules` (comma-separated, as in an `import`
/// statement): `$ZERO_NN_TORCH_PYTHON`, else `python3`; `None` if it cannot.
pub fn python_with(modules: &str) -> Option<PathBuf> {
    let candidate =
        std::env::var_os("ZERO_NN_TORCH_PYTHON").map_or_else(|| "python3".into(), PathBuf::from);
    Command::new(&candidate)
        .args(["-c", &format!("import {modules}")])
        .output()
        .is_ok_and(|o| o.status.success())
        .then_some(candidate)
}
