//! The book's trained CNNs (ch.7 SimpleConvNet, ch.8 DeepConvNet) classify exactly as many MNIST
//! test images correctly as the book's own NumPy code does for the same weights — one image at a
//! time and in batches of 100. The reference is `benches/compare/book_cnn.py` (the book's im2col
//! layers), run here with a Python that has NumPy: `$ZERO_NN_PYTHON`, else `python3`.
//!
//! Needs the real data (`NN_DATA_MIRROR`) and NumPy: in CI (`CI=true`) both must be there, and
//! `.ci/run` installs NumPy; elsewhere the test says plainly that it was skipped and why.

use std::path::{Path, PathBuf};
use std::process::Command;

use nn_data::{FetchOptions, MNIST_FILES, RemoteFile};

mod common;

use common::skip;

/// A Python with NumPy, if there is one.
fn python() -> Option<PathBuf> {
    let candidate =
        std::env::var_os("ZERO_NN_PYTHON").map_or_else(|| "python3".into(), PathBuf::from);
    let ok = Command::new(&candidate)
        .args(["-c", "import numpy"])
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then_some(candidate)
}

/// The verified local file for `spec` (from the mirror or the cache).
fn fetched(spec: &RemoteFile, opts: &FetchOptions) -> PathBuf {
    nn_data::fetch(spec, opts)
        .unwrap_or_else(|e| panic!("{}: {e}", spec.label()))
        .path
}

/// `(correct one at a time, correct in batches of 100)` as `nn-mnist infer --net NET` prints.
fn zero_nn_counts(net: &str, cache: &Path) -> (usize, usize) {
    let out = Command::new(env!("CARGO_BIN_EXE_nn-mnist"))
        .args(["infer", "--net", net, "--batch-size", "100"])
        .env("NN_DATA_DIR", cache)
        .output()
        .expect("run nn-mnist");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "nn-mnist infer --net {net} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let count = |label: &str| -> usize {
        let line = text
            .lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no {label:?} line in:\n{text}"));
        let start = line.find('(').expect("a count in parentheses") + 1;
        line[start..]
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no count in {line:?}"))
    };
    println!("{text}");
    (count("one image at a time:"), count("batches of 100:"))
}

/// What the book's NumPy code counts as correct.
fn numpy_count(python: &Path, weights: &Path, opts: &FetchOptions, net: &str) -> usize {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../benches/compare/book_cnn.py");
    let out = Command::new(python)
        .arg(&script)
        .arg(weights)
        .arg(fetched(&MNIST_FILES[2], opts))
        .arg(fetched(&MNIST_FILES[3], opts))
        .arg(net)
        .output()
        .expect("run book_cnn.py");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "book_cnn.py {net} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("book_cnn.py: {text}");
    let key = "\"correct\": ";
    let start = text.find(key).expect("a correct count") + key.len();
    text[start..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a number")
}

fn check(test: &str, net: &str, numpy_net: &str, spec: &RemoteFile) {
    if std::env::var_os("NN_DATA_MIRROR").is_none() {
        return skip(
            test,
            "NN_DATA_MIRROR is not set (point it at ../shared/datasets,../shared)",
        );
    }
    let Some(python) = python() else {
        return skip(
            test,
            "no Python with NumPy (set ZERO_NN_PYTHON, or `pip install numpy`)",
        );
    };
    let cache = tempfile::tempdir().expect("temp dir");
    let mut opts = FetchOptions::from_env().expect("NN_DATA_MIRROR parses");
    opts.cache_dir = cache.path().to_path_buf();
    let weights = fetched(spec, &opts);
    let reference = numpy_count(&python, &weights, &opts, numpy_net);
    let (one, batched) = zero_nn_counts(net, cache.path());
    assert_eq!(
        one, reference,
        "{net}, one image at a time: zero-nn {one} correct, the book's NumPy code {reference}"
    );
    assert_eq!(
        batched, reference,
        "{net}, batches of 100: zero-nn {batched} correct, the book's NumPy code {reference}"
    );
}

#[test]
fn simple_convnet_matches_the_books_numpy_code() {
    check(
        "simple_convnet_matches_the_books_numpy_code",
        "simple-convnet",
        "simple",
        &nn_data::SIMPLE_CONVNET_PARAMS,
    );
}

#[test]
fn deep_convnet_matches_the_books_numpy_code() {
    check(
        "deep_convnet_matches_the_books_numpy_code",
        "deep-convnet",
        "deep",
        &nn_data::DEEP_CONVNET_PARAMS,
    );
}
