//! Book 2 ch.5 「リカレントニューラルネットワーク」: the book's `SimpleRnnlm` (Embedding 100 →
//! RNN 100 → Affine) trained on the first 1,000 words of PTB with its `ch05/train_custom_loop.py`
//! settings — batch 10, windows of 5 words, SGD lr 0.1, 100 epochs, the state carried from
//! window to window — printing the perplexity of every epoch as the book does (figure 5-26).
//! `--quick` trains 10 epochs.
//!
//! `cargo run --release --example simple_rnnlm` → `figures/simple_rnnlm/perplexity.svg`

mod common;

use std::time::Instant;

use clap::Parser;
use common::{Common, Curve, line_chart, write_svg};
use zero_nn::data::FetchOptions;
use zero_nn::data::text::{Ptb, PtbSplit};
use zero_nn::optim::Sgd;
use zero_nn::text::lm::{Rnnlm, RnnlmConfig};
use zero_nn::text::tbptt::{Batches, train_windows};

/// Trains the book's SimpleRnnlm on the start of PTB.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    common: Common,
    /// Words from the start of ptb.train.txt (the book's 1,000).
    #[arg(long, default_value_t = 1000)]
    words: usize,
    /// Passes over them (the book's 100).
    #[arg(long)]
    epochs: Option<usize>,
    /// Seed of the initial weights.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn main() -> std::process::ExitCode {
    common::main("simple_rnnlm", || {
        let args = Args::parse();
        let out = args.common.out_dir("simple_rnnlm")?;
        let epochs = args.epochs.unwrap_or(args.common.pick(100, 10));
        let train = Ptb::load(PtbSplit::Train, &FetchOptions::from_env()?)?;
        let corpus = &train.corpus[..args.words.min(train.corpus.len())];
        // As the book: the vocabulary is what the excerpt's largest id says.
        let v = corpus.iter().max().map_or(0, |&m| m + 1);
        let (batch, time, lr) = (10, 5, 0.1);
        println!(
            "{} words, vocabulary {v}, batch {batch}, time {time}, SGD lr {lr}, {epochs} epochs",
            corpus.len()
        );
        let model = Rnnlm::<f32>::with_config(RnnlmConfig::simple(v, 100, 100), args.seed);
        let mut sgd = Sgd::new(model.parameters(), lr);
        let mut batches = Batches::new(corpus, batch, time);
        let windows = batches.per_epoch();
        let started = Instant::now();
        let mut points = Vec::new();
        for epoch in 1..=epochs {
            let loss = train_windows(&model, &mut sgd, &mut batches, windows, None, 0, |_| {})?;
            println!("| epoch {epoch} | perplexity {:.2}", loss.exp());
            points.push((epoch as f64, loss.exp()));
        }
        println!("({:.1} s)", started.elapsed().as_secs_f64());
        let curves = [Curve::new("SimpleRnnlm", points)];
        write_svg(&out.join("perplexity.svg"), (720, 420), |area| {
            line_chart(
                &area,
                "SimpleRnnlm on the first 1,000 words of PTB",
                ("epochs", "perplexity"),
                &curves,
                false,
            )
        })
    })
}
