//! Shared by the tests that run the book's code in NumPy.

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

/// Says that `test` was skipped and why; in CI (`CI=true`) that is a failure.
pub fn skip(test: &str, why: &str) {
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
    assert!(!in_ci, "{test}: CI=true but {why}");
    let _ = writeln!(std::io::stderr(), "{test}: SKIPPED — {why}");
}

/// A Python that has NumPy: `$ZERO_NN_PYTHON`, else `python3`.
pub fn python() -> Option<PathBuf> {
    let candidate =
        std::env::var_os("ZERO_NN_PYTHON").map_or_else(|| "python3".into(), PathBuf::from);
    let ok = Command::new(&candidate)
        .args(["-c", "import numpy"])
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then_some(candidate)
}
