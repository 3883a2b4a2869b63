//! The sequel's trained LSTM language model (`Rnnlm.pkl`) gives on `ptb.test.txt` the test
//! perplexity its `ch06/eval.py` prints: `benches/compare/book_rnnlm.py` (the book's layers
//! and `eval_perplexity` in NumPy, float32 as the book computes) is run on the same files with a
//! Python that has NumPy (`$ZERO_NN_PYTHON`, else `python3`), and the two perplexities must
//! agree within 1e-3 (both sum 235 windows of float32 losses in their own order: they differ
//! in the fifth significant digit at most).
//!
//! Needs the mirrored files (`NN_DATA_MIRROR`) and NumPy: in CI (`CI=true`) both must be there;
//! elsewhere the test says plainly that it was skipped and why.

use std::path::PathBuf;
use std::process::Command;

use nn_data::text::{PTB_TEST, PTB_TRAIN, Ptb, PtbSplit, RNNLM_PARAMS, param_list};
use nn_text::lm::{Rnnlm, eval_perplexity};

mod common;

use common::python;

fn skip(why: &str) {
    common::skip("book_rnnlm", why);
}

#[test]
fn the_books_rnnlm_has_its_test_perplexity() {
    if std::env::var_os("NN_DATA_MIRROR").is_none() {
        return skip("NN_DATA_MIRROR is not set (it must reach weights/Rnnlm.pkl and ptb/)");
    }
    let Some(python) = python() else {
        return skip("no Python with NumPy ($ZERO_NN_PYTHON, else python3)");
    };
    let cache = std::env::temp_dir().join(format!("nn-text-book-rnnlm-{}", std::process::id()));
    std::fs::create_dir_all(&cache).expect("a cache folder");
    let mut opts = nn_data::FetchOptions::from_env().expect("NN_DATA_MIRROR");
    opts.cache_dir = cache.clone();
    opts.progress = false;
    let pkl = nn_data::fetch(&RNNLM_PARAMS, &opts).expect("Rnnlm.pkl");
    let params = param_list(&pkl.content, &RNNLM_PARAMS.label()).expect("a parameter list");
    let model = Rnnlm::from_book_params(&params, &RNNLM_PARAMS.label()).expect("the Rnnlm");
    let test = Ptb::load(PtbSplit::Test, &opts).expect("ptb.test.txt");
    let ours = eval_perplexity(&model, &test.corpus, 10, 35);

    let train_path = nn_data::fetch(&PTB_TRAIN, &opts).expect("train").path;
    let test_path = nn_data::fetch(&PTB_TEST, &opts).expect("test").path;
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../benches/compare/book_rnnlm.py");
    let out = Command::new(python)
        .arg(&script)
        .args([&pkl.path, &train_path, &test_path])
        .output()
        .expect("run book_rnnlm.py");
    let _ = std::fs::remove_dir_all(&cache);
    assert!(
        out.status.success(),
        "book_rnnlm.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8_lossy(&out.stdout);
    let json: serde_json::Value = serde_json::from_str(line.trim()).expect("one JSON line");
    let book = json["test_perplexity"].as_f64().expect("test_perplexity");
    assert_eq!(json["windows"].as_u64(), Some(235));
    println!("test perplexity: zero-nn {ours}, the book's NumPy code {book}");
    assert!(
        (ours - book).abs() < 1e-3,
        "zero-nn {ours} against the book's NumPy code {book}"
    );
    // The figure the book reports for this model: about 136.
    assert!((book - 136.0).abs() < 1.0, "{book}");
}
