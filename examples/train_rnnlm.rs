//! Book 2 ch.6 「ゲート付きRNN」: language models trained on PTB by truncated backpropagation
//! through time, as the book's `ch06/train_rnnlm.py` and `ch06/train_better_rnnlm.py` do.
//!
//! - `--model rnnlm` (the default): the book's `Rnnlm` (Embedding 100 → LSTM 100 → Affine) with
//!   its settings — batch 20, windows of 35 words, SGD lr 20, gradients clipped to norm 0.25,
//!   4 epochs, the perplexity of every 20 windows printed and drawn (the book's figure 6-29;
//!   it reaches a test perplexity of about 136).
//! - `--model better`: `BetterRnnlm` (two LSTM layers, dropout, the output Affine tied to the
//!   embedding), the validation perplexity after every epoch and the learning rate ÷4 whenever
//!   it got worse. The book's size is `--hidden 650 --epochs 40` (hours on two cores).
//!
//! `--cell gru` puts GRUs in the LSTMs' place (lr 20 is the LSTM's: small GRU models diverged
//! with it here, `--lr 2` trained). The validation perplexity is printed after every
//! epoch and the test perplexity at the end; the trained model is saved as a safetensors
//! checkpoint that PyTorch's equivalent model loads (`nn_text::lm::save`). `--quick` trains one
//! epoch on the first 20,000 words and evaluates on 3,500.
//!
//! `cargo run --release --example train_rnnlm` → `figures/train_rnnlm/perplexity.svg`,
//! `figures/train_rnnlm/rnnlm.safetensors`

mod common;

use std::time::Instant;

use clap::{Parser, ValueEnum};
use common::{Common, Curve, line_chart, write_svg};
use zero_nn::data::FetchOptions;
use zero_nn::data::text::{Ptb, PtbSplit};
use zero_nn::optim::{Optimizer, Sgd};
use zero_nn::text::lm::{CellKind, Rnnlm, RnnlmConfig, eval_perplexity, save};
use zero_nn::text::tbptt::{Batches, train_windows};

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum Model {
    /// One LSTM layer (ch.6.4).
    Rnnlm,
    /// Two LSTM layers, dropout, tied weights, learning-rate decay (ch.6.5).
    Better,
}

#[derive(Clone, Copy, ValueEnum)]
enum Cell {
    Lstm,
    Gru,
}

/// Trains a language model on PTB.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    common: Common,
    /// Which of the book's models.
    #[arg(long, value_enum, default_value_t = Model::Rnnlm)]
    model: Model,
    /// The recurrent layers' kind.
    #[arg(long, value_enum, default_value_t = Cell::Lstm)]
    cell: Cell,
    /// The width of the embedding and of the recurrent layers [rnnlm: 100, better: 650].
    #[arg(long)]
    hidden: Option<usize>,
    /// Passes over ptb.train.txt [rnnlm: 4, better: 40].
    #[arg(long)]
    epochs: Option<usize>,
    /// SGD's learning rate.
    #[arg(long, default_value_t = 20.0)]
    lr: f64,
    /// Gradients clipped to this global norm.
    #[arg(long, default_value_t = 0.25)]
    clip: f64,
    /// Dropout probability (better only).
    #[arg(long, default_value_t = 0.5)]
    dropout: f64,
    /// Rows per window.
    #[arg(long, default_value_t = 20)]
    batch: usize,
    /// Words per window.
    #[arg(long, default_value_t = 35)]
    time: usize,
    /// Seed of the initial weights and of dropout.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn main() -> std::process::ExitCode {
    common::main("train_rnnlm", || {
        let args = Args::parse();
        let out = args.common.out_dir("train_rnnlm")?;
        let opts = FetchOptions::from_env()?;
        let train = Ptb::load(PtbSplit::Train, &opts)?;
        let val = Ptb::load(PtbSplit::Valid, &opts)?;
        let test = Ptb::load(PtbSplit::Test, &opts)?;
        let better = args.model == Model::Better;
        let hidden = args.hidden.unwrap_or(if better { 650 } else { 100 });
        let epochs = args
            .epochs
            .unwrap_or(args.common.pick(if better { 40 } else { 4 }, 1));
        let v = train.vocabulary.len();
        let mut config = if better {
            RnnlmConfig::better(v, hidden, args.dropout)
        } else {
            RnnlmConfig::lstm(v, hidden, hidden)
        };
        if let Cell::Gru = args.cell {
            config.cell = CellKind::Gru;
        }
        let corpus = &train.corpus[..args.common.pick(train.corpus.len(), 20_000)];
        let eval_words = |c: &[usize]| c.len().min(args.common.pick(usize::MAX, 3_500));
        let (val_c, test_c) = (
            &val.corpus[..eval_words(&val.corpus)],
            &test.corpus[..eval_words(&test.corpus)],
        );
        println!(
            "{config:?}\n{} training words, batch {}, time {}, SGD lr {}, clip {}, {epochs} epochs, \
             {} threads",
            corpus.len(),
            args.batch,
            args.time,
            args.lr,
            args.clip,
            zero_nn::core::kernels::num_threads()
        );

        let model = Rnnlm::<f32>::with_config(config, args.seed);
        let mut sgd = Sgd::new(model.parameters(), args.lr);
        let mut batches = Batches::new(corpus, args.batch, args.time);
        let per_epoch = batches.per_epoch();
        let started = Instant::now();
        let (mut train_curve, mut val_curve) = (Vec::new(), Vec::new());
        let mut best = f64::INFINITY;
        for epoch in 1..=epochs {
            if better {
                // The book's `fit` per epoch starts from the first window again.
                batches.restart();
            }
            model.set_training(true);
            train_windows(
                &model,
                &mut sgd,
                &mut batches,
                per_epoch,
                Some(args.clip),
                20,
                |r| {
                    let at = (epoch - 1) as f64 + r.window as f64 / per_epoch as f64;
                    train_curve.push((at, r.perplexity));
                    if r.window % 100 == 0 {
                        println!(
                            "| epoch {epoch} | iter {} / {per_epoch} | time {:.0}[s] | perplexity {:.2}",
                            r.window + 1,
                            started.elapsed().as_secs_f64(),
                            r.perplexity
                        );
                    }
                },
            )?;
            let ppl = eval_perplexity(&model, val_c, 10, args.time);
            model.reset_state();
            val_curve.push((epoch as f64, ppl));
            println!(
                "epoch {epoch}: validation perplexity {ppl:.2} ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
            if better {
                if ppl < best {
                    best = ppl;
                } else {
                    sgd.set_lr(sgd.lr() / 4.0);
                    println!("learning rate ÷4: {}", sgd.lr());
                }
            }
        }
        let ppl_test = eval_perplexity(&model, test_c, 10, args.time);
        println!(
            "test perplexity: {ppl_test:.2} ({} test words; {:.0} s in all)",
            test_c.len(),
            started.elapsed().as_secs_f64()
        );
        let name = if better { "better_rnnlm" } else { "rnnlm" };
        save(&out.join(format!("{name}.safetensors")), &model)?;
        println!(
            "wrote {}",
            out.join(format!("{name}.safetensors")).display()
        );
        let title = format!("{name} on PTB (hidden {hidden}): perplexity");
        write_svg(&out.join("perplexity.svg"), (720, 420), |area| {
            line_chart(
                &area,
                &title,
                ("epochs", "perplexity"),
                &[
                    Curve::new("training (every 20 windows)", train_curve),
                    Curve::new("validation", val_curve),
                ],
                true,
            )
        })
    })
}
