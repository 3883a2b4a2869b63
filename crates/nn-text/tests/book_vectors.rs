//! The sequel's trained CBOW vectors (`cbow_params.pkl`) give, through `most_similar` and
//! `analogy` in float16, the same words in the same order with the same scores as the book's
//! `ch04/eval.py` computes on that file (its four queries and four analogies), and the same
//! scores for a dozen more queries. The reference is `benches/compare/book_word2vec.py`
//! (the book's `common/util.py` arithmetic in NumPy), run here with a Python that has NumPy:
//! `$ZERO_NN_PYTHON`, else `python3`.
//!
//! Needs the mirrored file (`NN_DATA_MIRROR`) and NumPy: in CI (`CI=true`) both must be there;
//! elsewhere the test says plainly that it was skipped and why.

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

use nn_data::text::{CBOW_PARAMS, WordVectors};
use nn_text::{Precision, analogy, most_similar};

mod common;

use common::python;

fn skip(why: &str) {
    common::skip("book_vectors", why);
}

/// Words beyond the book's queries, to check the float16 arithmetic more widely (their top 5
/// may hold ties, which NumPy's sort orders its own way).
const MORE: [&str; 12] = [
    "the",
    "stock",
    "market",
    "president",
    "japan",
    "bank",
    "money",
    "good",
    "computer",
    "buy",
    "china",
    "october",
];

#[test]
fn the_books_queries_and_analogies_come_out_as_its_numpy_code_prints() {
    if std::env::var_os("NN_DATA_MIRROR").is_none() {
        return skip("NN_DATA_MIRROR is not set (it must reach weights/cbow_params.pkl)");
    }
    let Some(python) = python() else {
        return skip("no Python with NumPy ($ZERO_NN_PYTHON, else python3)");
    };
    let cache = tempfile_dir();
    let mut opts = nn_data::FetchOptions::from_env().expect("NN_DATA_MIRROR");
    opts.cache_dir = cache.clone();
    opts.progress = false;
    // One fetch: its bytes for this side, its path for NumPy's.
    let fetched = nn_data::fetch(&CBOW_PARAMS, &opts).expect("cbow_params.pkl");
    let wv =
        WordVectors::from_pickle(&fetched.content, &CBOW_PARAMS.label()).expect("word vectors");
    let path = fetched.path;
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../benches/compare/book_word2vec.py");
    let out = Command::new(python)
        .arg(&script)
        .arg(&path)
        .args(MORE)
        .output()
        .expect("run book_word2vec.py");
    assert!(
        out.status.success(),
        "book_word2vec.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 4 + MORE.len() + 4, "{lines:?}");
    let vectors = wv.vectors.view();
    for line in &lines {
        let query = line["query"].as_str().expect("query");
        let want: Vec<(String, f64)> = line["top"]
            .as_array()
            .expect("top")
            .iter()
            .map(|p| {
                (
                    p[0].as_str().expect("word").to_string(),
                    p[1].as_f64().expect("score"),
                )
            })
            .collect();
        let got = match query.split_once(':') {
            Some((a, rest)) => {
                let (b, c) = rest.split_once(" = ").expect("a:b = c:?");
                let c = c.trim_end_matches(":?");
                analogy([a, b, c], &wv.vocabulary, vectors, 5, Precision::F16)
            }
            None => most_similar(query, &wv.vocabulary, vectors, 5, Precision::F16),
        }
        .expect("the words are in the vocabulary");
        let got: Vec<(String, f64)> = got.into_iter().map(|(w, s)| (w, f64::from(s))).collect();
        if MORE.contains(&query) {
            // Equal float16 scores are common; NumPy's argsort orders a tie its own way. The
            // scores must agree, and every word NumPy shows must have its score here too.
            let scores = |v: &[(String, f64)]| v.iter().map(|p| p.1).collect::<Vec<_>>();
            assert_eq!(scores(&got), scores(&want), "[{query}]");
            let q = wv.vocabulary.id(query).expect("query");
            for (word, score) in &want {
                let id = wv.vocabulary.id(word).expect("a word of the vocabulary");
                let row = |i: usize| wv.vectors.row(i).to_vec();
                let here = nn_text::cos_similarity(&row(id), &row(q), Precision::F16);
                assert_eq!(f64::from(here), *score, "[{query}] {word}");
            }
        } else {
            assert_eq!(got, want, "[{query}]");
        }
        let shown: Vec<String> = got.iter().map(|(w, s)| format!("{w}: {s}")).collect();
        let _ = writeln!(std::io::stderr(), "[{query}] {}", shown.join(", "));
    }
    let _ = std::fs::remove_dir_all(cache);
}

fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nn-text-book-vectors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a cache folder");
    dir
}
