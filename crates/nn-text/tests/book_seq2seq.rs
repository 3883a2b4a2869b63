//! The sequel's trained attention model (`AttentionSeq2seq.pkl`) answers the test questions of
//! `date.txt` (the book's split, questions reversed) as its own code does:
//! `benches/compare/book_seq2seq.py` (the book's AttentionSeq2seq, TimeLSTM, attention and
//! `eval_seq2seq` in NumPy, float32 as the book computes) is run on the same files with a Python
//! that has NumPy (`$ZERO_NN_PYTHON`, else `python3`), and every answer to the first 500
//! questions must be the same, character for character — one question at a time and in
//! batches of 100.
//!
//! Needs the mirrored files (`NN_DATA_MIRROR`) and NumPy: in CI (`CI=true`) both must be there;
//! elsewhere the test says plainly that it was skipped and why.

use std::path::PathBuf;
use std::process::Command;

use ndarray::{Axis, s};
use nn_data::sequence::{ATTENTION_SEQ2SEQ_PARAMS, CharSequences, DATE};
use nn_data::text::param_list;
use nn_text::seq2seq::{Seq2seq, Seq2seqKind, exact_match};

mod common;

use common::python;

const QUESTIONS: usize = 500;

fn skip(why: &str) {
    common::skip("book_seq2seq", why);
}

#[test]
fn the_books_attention_model_answers_as_its_code_does() {
    if std::env::var_os("NN_DATA_MIRROR").is_none() {
        return skip(
            "NN_DATA_MIRROR is not set (it must reach weights/AttentionSeq2seq.pkl and sequence/)",
        );
    }
    let Some(python) = python() else {
        return skip("no Python with NumPy ($ZERO_NN_PYTHON, else python3)");
    };
    let cache = std::env::temp_dir().join(format!("nn-text-book-seq2seq-{}", std::process::id()));
    std::fs::create_dir_all(&cache).expect("a cache folder");
    let mut opts = nn_data::FetchOptions::from_env().expect("NN_DATA_MIRROR");
    opts.cache_dir = cache.clone();
    opts.progress = false;
    let pkl = nn_data::fetch(&ATTENTION_SEQ2SEQ_PARAMS, &opts).expect("AttentionSeq2seq.pkl");
    let params = param_list(&pkl.content, &ATTENTION_SEQ2SEQ_PARAMS.label()).expect("a list");
    let model = Seq2seq::from_book_params(
        Seq2seqKind::Attention,
        &params,
        &ATTENTION_SEQ2SEQ_PARAMS.label(),
    )
    .expect("the AttentionSeq2seq");
    let data = CharSequences::load(&DATE, &opts).expect("date.txt");
    let questions = data.x_test.slice(s![..QUESTIONS, ..;-1]).to_owned();
    let answers = data.t_test.slice(s![..QUESTIONS, ..]).to_owned();
    let one = exact_match(&model, &questions, &answers, 1);
    let batched = exact_match(&model, &questions, &answers, 100);
    assert_eq!(one, batched, "one at a time and in batches of 100 differ");

    let date_path = nn_data::fetch(&DATE, &opts).expect("date.txt").path;
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../benches/compare/book_seq2seq.py");
    let out = Command::new(python)
        .current_dir(script.parent().expect("benches/compare"))
        .arg(&script)
        .arg(&pkl.path)
        .arg(&date_path)
        .arg(QUESTIONS.to_string())
        .output()
        .expect("run book_seq2seq.py");
    let _ = std::fs::remove_dir_all(&cache);
    assert!(
        out.status.success(),
        "book_seq2seq.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).expect("one JSON line");
    let theirs: Vec<&str> = json["guesses"]
        .as_array()
        .expect("guesses")
        .iter()
        .map(|g| g.as_str().expect("a guess"))
        .collect();
    let ours: Vec<String> = one
        .guesses
        .iter()
        .map(|g| data.decode(g.iter().copied()))
        .collect();
    assert_eq!(theirs.len(), QUESTIONS);
    for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        let q = data.decode(questions.index_axis(Axis(0), i).iter().rev().copied());
        assert_eq!(
            a, b,
            "question {i} ({q:?}): zero-nn {a:?}, the book's code {b:?}"
        );
    }
    assert_eq!(json["right"].as_u64(), Some(one.right as u64));
    println!(
        "first {QUESTIONS} test questions: {} right (the book's code: {})",
        one.right, json["right"]
    );
}
