//! The sequel's seq2seq data split as its `dataset/sequence.py` splits it:
//! `benches/compare/book_sequence.py` (the book's `load_data`, NumPy's own
//! `numpy.random.seed(1984)` and `shuffle`) is run on the same `addition.txt` and `date.txt` with
//! a Python that has NumPy (`$ZERO_NN_PYTHON`, else `python3`), and the vocabulary and the four
//! arrays (by SHA-256 of their ids) must be the same.
//!
//! Needs the mirrored files (`NN_DATA_MIRROR`) and NumPy: in CI (`CI=true`) both must be there;
//! elsewhere the test says plainly that it was skipped and why.

use std::path::PathBuf;
use std::process::Command;

use ndarray::Array2;
use nn_data::FetchOptions;
use nn_data::sequence::{ADDITION, CharSequences, DATE};
use sha2::{Digest, Sha256};

fn skip(why: &str) {
    use std::io::Write;
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
    assert!(!in_ci, "book_sequence: CI=true but {why}");
    let _ = writeln!(std::io::stderr(), "book_sequence: SKIPPED — {why}");
}

fn python() -> Option<PathBuf> {
    let candidate =
        std::env::var_os("ZERO_NN_PYTHON").map_or_else(|| "python3".into(), PathBuf::from);
    Command::new(&candidate)
        .args(["-c", "import numpy"])
        .output()
        .is_ok_and(|o| o.status.success())
        .then_some(candidate)
}

/// `name rows cols sha256` as book_sequence.py prints it.
fn describe(name: &str, a: &Array2<usize>) -> String {
    let mut hash = Sha256::new();
    for &v in a.iter() {
        hash.update((v as i64).to_le_bytes());
    }
    let digest: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    format!("{name} {} {} {digest}", a.nrows(), a.ncols())
}

#[test]
fn the_books_split_of_addition_and_dates() {
    if std::env::var_os("NN_DATA_MIRROR").is_none() {
        return skip("NN_DATA_MIRROR is not set (it must reach sequence/)");
    }
    let Some(python) = python() else {
        return skip("no Python with NumPy ($ZERO_NN_PYTHON, else python3)");
    };
    let cache = tempfile::tempdir().expect("tempdir");
    let mut opts = FetchOptions::from_env().expect("NN_DATA_MIRROR");
    opts.cache_dir = cache.path().to_path_buf();
    opts.progress = false;
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../benches/compare/book_sequence.py");
    for (spec, chars) in [(&ADDITION, 13), (&DATE, 59)] {
        let ours = CharSequences::load(spec, &opts).expect("the file");
        assert_eq!(ours.vocabulary.len(), chars, "{}", spec.label());
        let path = nn_data::fetch(spec, &opts).expect("the file").path;
        let out = Command::new(&python)
            .arg(&script)
            .arg(&path)
            .output()
            .expect("run book_sequence.py");
        assert!(
            out.status.success(),
            "book_sequence.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let vocab: Vec<String> = ours
            .vocabulary
            .words()
            .iter()
            .map(|c| c.chars().map(|c| u32::from(c).to_string()).collect())
            .collect();
        let expected = [
            format!("vocab {}", vocab.join(",")),
            describe("x_train", &ours.x_train),
            describe("t_train", &ours.t_train),
            describe("x_test", &ours.x_test),
            describe("t_test", &ours.t_test),
        ];
        let theirs = String::from_utf8_lossy(&out.stdout);
        let theirs: Vec<&str> = theirs.lines().collect();
        assert_eq!(
            theirs,
            expected,
            "{}: the book's split differs",
            spec.label()
        );
    }
}
