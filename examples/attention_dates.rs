//! Book 2 ch.8 「Attention」: the sequel's trained attention model (`ch08/AttentionSeq2seq.pkl`)
//! turns dates written in many forms into ISO form. Its exact-match accuracy on the book's
//! test split of `date.txt` (questions reversed, as its `ch08/train.py` feeds them), answered
//! one question at a time as the book's `eval_seq2seq` does and in batches of 100 — the same
//! answers either way, and the book's own code gives the same answers (a CI test runs both) —
//! then the attention maps of ch.8.3 (`visualize_attention.py`) for a few test questions and
//! any dates given with `--date`. `--quick` answers the first 500 test questions.
//!
//! `cargo run --release --example attention_dates -- --date "dec 6, 2026"`

mod common;

use std::time::Instant;

use clap::Parser;
use common::Common;
use common::attention::{answer, draw_maps};
use ndarray::s;
use zero_nn::data::FetchOptions;
use zero_nn::data::sequence::{ATTENTION_SEQ2SEQ_PARAMS, CharSequences, DATE};
use zero_nn::data::text::load_param_list;
use zero_nn::text::seq2seq::{Seq2seq, Seq2seqKind, exact_match};

/// Answers date questions with the book's trained attention model and draws its attention.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    common: Common,
    /// A date to convert and draw the attention of (may be repeated).
    #[arg(long)]
    date: Vec<String>,
}

/// The question's characters as the model reads them (padded with spaces to the data's width,
/// reversed), or why it cannot.
fn encode(data: &CharSequences, text: &str, width: usize) -> common::Result<Vec<usize>> {
    let len = text.chars().count();
    if len == 0 || len > width {
        return Err(format!("{text:?}: a date of 1 to {width} characters, please").into());
    }
    let padded = format!("{text:<width$}");
    let ids = data
        .encode(&padded)
        .map_err(|(_, c)| format!("{text:?}: {c:?} is not one of the model's characters"))?;
    Ok(ids.into_iter().rev().collect())
}

fn main() -> std::process::ExitCode {
    common::main("attention_dates", || {
        let args = Args::parse();
        let opts = FetchOptions::from_env()?;
        let params = load_param_list(&ATTENTION_SEQ2SEQ_PARAMS, &opts)?;
        let model = Seq2seq::<f32>::from_book_params(
            Seq2seqKind::Attention,
            &params,
            &ATTENTION_SEQ2SEQ_PARAMS.label(),
        )?;
        let data = CharSequences::load(&DATE, &opts)?;
        let (width, len) = (data.x_test.ncols(), data.t_test.ncols() - 1);
        let typed = args
            .date
            .iter()
            .map(|text| encode(&data, text, width))
            .collect::<common::Result<Vec<_>>>()?;
        let count = args.common.pick(data.x_test.nrows(), 500);
        let questions = data.x_test.slice(s![..count, ..;-1]).to_owned();
        let answers = data.t_test.slice(s![..count, ..]).to_owned();
        for batch in [1, 100] {
            let started = Instant::now();
            let result = exact_match(&model, &questions, &answers, batch);
            println!(
                "the book's AttentionSeq2seq.pkl, {count} test questions of date.txt, {}: \
                 accuracy {:.4} ({} right) in {:.2} s",
                if batch == 1 {
                    "one at a time".to_string()
                } else {
                    format!("in batches of {batch}")
                },
                result.accuracy(),
                result.right,
                started.elapsed().as_secs_f64()
            );
        }

        let start = answers[[0, 0]];
        let mut maps: Vec<_> = (0..4)
            .map(|i| {
                let reversed = questions.row(i).to_vec();
                answer(&model, &data, &reversed, start, len)
            })
            .collect();
        for (text, reversed) in args.date.iter().zip(&typed) {
            let map = answer(&model, &data, reversed, start, len);
            println!("{text:?} → {}", map.answer.iter().collect::<String>());
            maps.push(map);
        }
        let out = args.common.out_dir("attention_dates")?;
        draw_maps(&out.join("attention_maps.svg"), &maps)
    })
}
