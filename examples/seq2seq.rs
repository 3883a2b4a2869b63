//! Book 2 ch.7.3–7.5 「seq2seqの実装」「seq2seqの改良」 and ch.8.4 「Attentionの評価」: seq2seq
//! models trained with the book's settings, the exact-match accuracy on the test split after
//! every epoch (the book's `eval_seq2seq`, greedy answers), and the book's comparisons as
//! curves — on `addition.txt` (wordvec 16, hidden 128, batch 128, Adam 0.001, gradients
//! clipped at 5, 25 epochs) the plain Seq2seq, with reversed questions, and PeekySeq2seq with
//! reversed questions; on `date.txt` (hidden 256, 10 epochs) the AttentionSeq2seq with
//! reversed questions, and its attention maps for the first test questions (ch.8.3.3). `--quick`
//! trains each on 2,000 questions for 2 epochs.
//!
//! `cargo run --release --example seq2seq` (all four; `--run NAME` for one of them)

mod common;

use std::time::Instant;

use clap::Parser;
use common::attention::{Map, answer, draw_maps};
use common::{Common, Curve, line_chart, write_svg};
use ndarray::{Array2, s};
use zero_nn::data::FetchOptions;
use zero_nn::data::numpy::RandomState;
use zero_nn::data::sequence::{ADDITION, CharSequences, DATE};
use zero_nn::optim::Adam;
use zero_nn::text::seq2seq::{Seq2seq, Seq2seqKind, exact_match, train_epoch};

/// Trains the book's seq2seq models and plots their test accuracy per epoch.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    common: Common,
    /// Which runs: plain, reversed, peeky (on addition), attention (on dates); all by default.
    #[arg(long, value_delimiter = ',')]
    run: Vec<String>,
    /// Epochs [default: the book's 25 on addition, 10 on dates].
    #[arg(long)]
    epochs: Option<usize>,
    /// Seed of the initial weights and of the shuffles.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// One of the book's runs.
struct Run {
    name: &'static str,
    label: &'static str,
    kind: Seq2seqKind,
    dates: bool,
    reverse: bool,
}

const RUNS: [Run; 4] = [
    Run {
        name: "plain",
        label: "Seq2seq",
        kind: Seq2seqKind::Plain,
        dates: false,
        reverse: false,
    },
    Run {
        name: "reversed",
        label: "Seq2seq, reversed input",
        kind: Seq2seqKind::Plain,
        dates: false,
        reverse: true,
    },
    Run {
        name: "peeky",
        label: "PeekySeq2seq, reversed input",
        kind: Seq2seqKind::Peeky,
        dates: false,
        reverse: true,
    },
    Run {
        name: "attention",
        label: "AttentionSeq2seq, reversed input (dates)",
        kind: Seq2seqKind::Attention,
        dates: true,
        reverse: true,
    },
];

fn reversed(x: &Array2<usize>, reverse: bool) -> Array2<usize> {
    if reverse {
        x.slice(s![.., ..;-1]).to_owned()
    } else {
        x.clone()
    }
}

fn main() -> std::process::ExitCode {
    common::main("seq2seq", || {
        let args = Args::parse();
        for name in &args.run {
            if !RUNS.iter().any(|r| r.name == name) {
                return Err(format!(
                    "unknown run {name:?}: expected plain, reversed, peeky or attention"
                )
                .into());
            }
        }
        let opts = FetchOptions::from_env()?;
        let quick = args.common.quick();
        let mut trained_maps: Vec<Map> = Vec::new();
        let mut addition_curves = Vec::new();
        let mut date_curves = Vec::new();
        for run in RUNS
            .iter()
            .filter(|r| args.run.is_empty() || args.run.iter().any(|n| n == r.name))
        {
            let data = CharSequences::load(if run.dates { &DATE } else { &ADDITION }, &opts)?;
            let (train_n, test_n) = if quick {
                (2_000, 500)
            } else {
                (data.x_train.nrows(), data.x_test.nrows())
            };
            let x_train = reversed(
                &data.x_train.slice(s![..train_n, ..]).to_owned(),
                run.reverse,
            );
            let t_train = data.t_train.slice(s![..train_n, ..]).to_owned();
            let x_test = reversed(&data.x_test.slice(s![..test_n, ..]).to_owned(), run.reverse);
            let t_test = data.t_test.slice(s![..test_n, ..]).to_owned();
            let hidden = if run.dates { 256 } else { 128 };
            let epochs = args.epochs.unwrap_or(if quick {
                2
            } else if run.dates {
                10
            } else {
                25
            });
            let v = data.vocabulary.len();
            let model = Seq2seq::<f32>::new(run.kind, v, 16, hidden, args.seed);
            let mut adam = Adam::new(model.parameters(), 0.001);
            let mut shuffle = RandomState::new(args.seed as u32);
            println!(
                "{}: {} training and {} test questions of {}, {} characters, hidden {hidden}, \
                 batch 128, Adam 0.001, clip 5, {epochs} epochs",
                run.label,
                x_train.nrows(),
                x_test.nrows(),
                if run.dates {
                    "date.txt"
                } else {
                    "addition.txt"
                },
                v
            );
            let started = Instant::now();
            let mut points = Vec::new();
            for epoch in 1..=epochs {
                let loss = train_epoch(
                    &model,
                    &mut adam,
                    (&x_train, &t_train),
                    128,
                    Some(5.0),
                    &mut shuffle,
                )?;
                let result = exact_match(&model, &x_test, &t_test, 500);
                println!(
                    "  epoch {epoch:2}: loss {loss:.4}, test accuracy {:.4} ({:.0} s)",
                    result.accuracy(),
                    started.elapsed().as_secs_f64()
                );
                points.push((epoch as f64, 100.0 * result.accuracy()));
            }
            if run.kind == Seq2seqKind::Attention {
                // The maps of ch.8.3.3, from the model trained here.
                let len = t_test.ncols() - 1;
                for i in 0..4.min(x_test.nrows()) {
                    let reversed = x_test.row(i).to_vec();
                    trained_maps.push(answer(&model, &data, &reversed, t_test[[i, 0]], len));
                }
            }
            let curve = Curve::new(run.label, points);
            if run.dates {
                date_curves.push(curve);
            } else {
                addition_curves.push(curve);
            }
        }
        let out = args.common.out_dir("seq2seq")?;
        for (file, title, curves) in [
            (
                "addition.svg",
                "addition.txt: test accuracy",
                addition_curves,
            ),
            ("dates.svg", "date.txt: test accuracy", date_curves),
        ] {
            if curves.is_empty() {
                continue;
            }
            write_svg(&out.join(file), (720, 440), |root| {
                line_chart(&root, title, ("epoch", "accuracy (%)"), &curves, false)
            })?;
        }
        if !trained_maps.is_empty() {
            draw_maps(&out.join("attention_maps.svg"), &trained_maps)?;
        }
        Ok(())
    })
}
