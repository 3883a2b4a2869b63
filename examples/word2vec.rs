//! Book 2 ch.4 「word2vecの高速化」: the sequel's trained CBOW vectors (`ch04/cbow_params.pkl`)
//! queried as its `ch04/eval.py` does — the same words and scores, computed in float16 as its
//! NumPy code computes — then CBOW with negative sampling trained here on the Penn Treebank
//! (the book's settings: window 5, hidden 100, batch 100, Adam; `--quick` takes the first
//! 20,000 words for one epoch), its loss curve, and the same queries on the vectors it learnt.
//! `--model skip-gram` trains the book's skip-gram instead.
//!
//! `cargo run --release --example word2vec` → `figures/word2vec/loss.svg` and the vectors with
//! their vocabulary, `figures/word2vec/word_vecs.safetensors`

mod common;

use std::time::Instant;

use clap::Parser;
use common::{Common, Curve, line_chart, smooth, write_svg};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use zero_nn::core::Tensor;
use zero_nn::data::FetchOptions;
use zero_nn::data::text::{Ptb, PtbSplit, Vocabulary, WordVectors};
use zero_nn::optim::{Adam, Optimizer};
use zero_nn::text::word2vec::{Cbow, SkipGram, contexts_target};
use zero_nn::text::{Precision, analogy, most_similar};

/// Queries the book's vectors, then trains CBOW on PTB and queries its own.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    common: Common,
    /// Passes over the corpus [default: 10, as the book; 1 with --quick].
    #[arg(long)]
    epochs: Option<usize>,
    /// Seed for the initial vectors, the order of the batches and the negatives.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The model trained on PTB.
    #[arg(long, value_enum, default_value_t = ModelKind::Cbow)]
    model: ModelKind,
}

/// The two word2vec models of the book's ch.4.
#[derive(Clone, Copy, clap::ValueEnum)]
enum ModelKind {
    /// The context predicts the word (`ch04/cbow.py`).
    Cbow,
    /// The word predicts its context (`ch04/skip_gram.py`).
    SkipGram,
}

enum Model {
    Cbow(Cbow),
    SkipGram(SkipGram),
}

impl Model {
    fn loss(&self, contexts: &[usize], targets: &[usize], rng: &mut rand::rngs::StdRng) -> Tensor {
        match self {
            Model::Cbow(m) => m.loss(contexts, targets, rng),
            Model::SkipGram(m) => m.loss(contexts, targets, rng),
        }
    }
    fn parameters(&self) -> Vec<Tensor> {
        match self {
            Model::Cbow(m) => m.parameters(),
            Model::SkipGram(m) => m.parameters(),
        }
    }
    fn word_vectors(&self) -> &Tensor {
        match self {
            Model::Cbow(m) => m.word_vectors(),
            Model::SkipGram(m) => m.word_vectors(),
        }
    }
}

const QUERIES: [&str; 4] = ["you", "year", "car", "toyota"];
const ANALOGIES: [[&str; 3]; 4] = [
    ["king", "man", "queen"],
    ["take", "took", "go"],
    ["car", "cars", "child"],
    ["good", "better", "bad"],
];

/// Prints the book's queries and analogies, as its `eval.py` lays them out.
fn evaluate(vocabulary: &Vocabulary, vectors: ndarray::ArrayView2<'_, f32>, p: Precision) {
    let show = |top: Option<Vec<(String, f32)>>| match top {
        Some(top) => {
            for (word, score) in top {
                // A float16 score printed in full, as NumPy prints the book's float64 copy.
                match p {
                    Precision::F16 => println!(" {word}: {}", f64::from(score)),
                    Precision::F32 => println!(" {word}: {score:.4}"),
                }
            }
        }
        None => println!(" (a word is not in the vocabulary)"),
    };
    for q in QUERIES {
        println!("\n[query] {q}");
        show(most_similar(q, vocabulary, vectors, 5, p));
    }
    println!("{}", "-".repeat(50));
    for [a, b, c] in ANALOGIES {
        println!("\n[analogy] {a}:{b} = {c}:?");
        show(analogy([a, b, c], vocabulary, vectors, 5, p));
    }
}

fn main() -> std::process::ExitCode {
    common::main("word2vec", || {
        let args = Args::parse();
        let out = args.common.out_dir("word2vec")?;
        let opts = FetchOptions::from_env()?;

        println!("The book's trained vectors (cbow_params.pkl), in float16 as its eval.py:");
        let book = WordVectors::load_cbow(&opts)?;
        evaluate(&book.vocabulary, book.vectors.view(), Precision::F16);

        let ptb = Ptb::load(PtbSplit::Train, &opts)?;
        let words = args.common.pick(ptb.corpus.len(), 20_000);
        let corpus = &ptb.corpus[..words];
        let epochs = args.epochs.unwrap_or(args.common.pick(10, 1));
        let (window, hidden, batch) = (5, 100, 100);
        let (contexts, targets) = contexts_target(corpus, window);
        let v = ptb.vocabulary.len();
        let (model, name, tag) = match args.model {
            ModelKind::Cbow => (
                Model::Cbow(Cbow::new(v, hidden, window, corpus, 5, args.seed)),
                "CBOW",
                "cbow-negative-sampling",
            ),
            ModelKind::SkipGram => (
                Model::SkipGram(SkipGram::new(v, hidden, window, corpus, 5, args.seed)),
                "skip-gram",
                "skip-gram-negative-sampling",
            ),
        };
        let mut adam = Adam::new(model.parameters(), 0.001);
        let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed.wrapping_add(1));
        let c = 2 * window;
        let steps = targets.len() / batch;
        println!(
            "\n{name} with negative sampling on PTB: {words} words, {} examples, window {window}, \
             hidden {hidden}, batch {batch}, Adam lr 0.001, {epochs} epoch(s), {steps} steps each",
            targets.len()
        );
        let mut losses = Vec::new();
        let mut order: Vec<usize> = (0..targets.len()).collect();
        for epoch in 1..=epochs {
            let started = Instant::now();
            order.shuffle(&mut rng);
            let mut sum = 0.0;
            for step in 0..steps {
                let rows = &order[step * batch..(step + 1) * batch];
                let t: Vec<usize> = rows.iter().map(|&i| targets[i]).collect();
                let ctx: Vec<usize> = rows
                    .iter()
                    .flat_map(|&i| contexts[i * c..(i + 1) * c].iter().copied())
                    .collect();
                adam.zero_grad();
                let loss = model.loss(&ctx, &t, &mut rng);
                let value = f64::from(loss.item());
                if !value.is_finite() {
                    return Err(
                        format!("the loss became {value} at epoch {epoch}, step {step}").into(),
                    );
                }
                loss.backward()?;
                adam.step();
                sum += value;
                losses.push(value);
            }
            println!(
                "epoch {epoch}: mean loss {:.4} ({:.1} s)",
                sum / steps.max(1) as f64,
                started.elapsed().as_secs_f64()
            );
        }
        // At most about 2,000 points: the curve is smoothed over 100 steps anyway.
        let every = (losses.len() / 2000).max(1);
        let points: Vec<(f64, f64)> = smooth(&losses, 100)
            .into_iter()
            .enumerate()
            .step_by(every)
            .map(|(i, l)| ((i + 1) as f64, l))
            .collect();
        let path = out.join("loss.svg");
        write_svg(&path, (720, 420), |area| {
            line_chart(
                &area,
                &format!("{name} with negative sampling on PTB"),
                ("step", "loss (mean of the last 100 steps)"),
                &[Curve::new("loss", points)],
                false,
            )
        })?;

        // The vectors with their words: safetensors (named `weight`, as PyTorch's nn.Embedding
        // names its table), the vocabulary in the metadata, one word per line in id order.
        let weights = model.word_vectors().to_array();
        let path = out.join("word_vecs.safetensors");
        let words = ptb.vocabulary.words().join("\n");
        let (epochs_text, corpus_text) = (epochs.to_string(), corpus.len().to_string());
        zero_nn::layers::checkpoint::save_tensors(
            &path,
            &[("weight".to_string(), weights.view())],
            &[
                ("vocabulary", words.as_str()),
                ("model", tag),
                ("window", "5"),
                ("epochs", epochs_text.as_str()),
                ("corpus_words", corpus_text.as_str()),
            ],
        )?;
        println!("wrote {}", path.display());

        println!("\nThe vectors trained here (float32):");
        let vectors = weights.into_dimensionality::<ndarray::Ix2>()?;
        evaluate(&ptb.vocabulary, vectors.view(), Precision::F32);
        Ok(())
    })
}
