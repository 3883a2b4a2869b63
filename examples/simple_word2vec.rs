//! Book 2 ch.3 「word2vec」: `SimpleCBOW` and `SimpleSkipGram` trained on "You say goodbye and I
//! say hello." with the book's `ch03/train.py` settings (window 1, hidden 5, batch 3, Adam,
//! 1,000 epochs), their losses averaged every 20 steps as its `Trainer` plots them (the book's
//! figure 3-24), and the five-number vector CBOW learnt for each word. A run takes under a
//! second, so `--quick` changes nothing.
//!
//! `cargo run --release --example simple_word2vec` → `figures/simple_word2vec/loss.svg`

mod common;

use clap::Parser;
use common::{Common, Curve, line_chart, write_svg};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use zero_nn::core::Tensor;
use zero_nn::optim::{Adam, Optimizer};
use zero_nn::text::count::preprocess;
use zero_nn::text::simple::{SimpleCbow, SimpleSkipGram};
use zero_nn::text::word2vec::contexts_target;

/// Trains both of the book's simple word2vec models on its small corpus.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    common: Common,
    /// Passes over the six examples.
    #[arg(long, default_value_t = 1000)]
    epochs: usize,
    /// Seed for the initial weights and the order of the batches.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// The book's `Trainer.fit`: shuffled batches every epoch, the mean loss of every 20 steps.
fn train(
    loss: impl Fn(&[usize], &[usize]) -> Tensor<f32>,
    parameters: Vec<Tensor<f32>>,
    (contexts, targets): (&[usize], &[usize]),
    epochs: usize,
    seed: u64,
) -> Result<Vec<f64>, Box<dyn std::error::Error>> {
    const BATCH: usize = 3;
    const EVERY: usize = 20;
    let mut adam = Adam::new(parameters, 0.001);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut order: Vec<usize> = (0..targets.len()).collect();
    let (mut curve, mut sum, mut count) = (Vec::new(), 0.0, 0);
    for _ in 0..epochs {
        order.shuffle(&mut rng);
        for rows in order.chunks_exact(BATCH) {
            let t: Vec<usize> = rows.iter().map(|&i| targets[i]).collect();
            let c: Vec<usize> = rows
                .iter()
                .flat_map(|&i| contexts[2 * i..2 * i + 2].iter().copied())
                .collect();
            adam.zero_grad();
            let l = loss(&c, &t);
            sum += f64::from(l.item());
            count += 1;
            l.backward()?;
            adam.step();
            if count == EVERY {
                curve.push(sum / EVERY as f64);
                (sum, count) = (0.0, 0);
            }
        }
    }
    Ok(curve)
}

fn main() -> std::process::ExitCode {
    common::main("simple_word2vec", || {
        let args = Args::parse();
        let out = args.common.out_dir("simple_word2vec")?;
        let (corpus, vocabulary) = preprocess("You say goodbye and I say hello.");
        let (contexts, targets) = contexts_target(&corpus, 1);
        let v = vocabulary.len();
        let data = (contexts.as_slice(), targets.as_slice());
        println!(
            "{} examples, window 1, hidden 5, batch 3, Adam lr 0.001, {} epochs",
            targets.len(),
            args.epochs
        );

        let cbow = SimpleCbow::<f32>::new(v, 5, 1, args.seed);
        let cbow_curve = train(
            |c, t| cbow.loss(c, t),
            cbow.parameters(),
            data,
            args.epochs,
            args.seed,
        )?;
        let skip = SimpleSkipGram::<f32>::new(v, 5, 1, args.seed);
        let skip_curve = train(
            |c, t| skip.loss(c, t),
            skip.parameters(),
            data,
            args.epochs,
            args.seed,
        )?;
        for (name, curve) in [("SimpleCBOW", &cbow_curve), ("SimpleSkipGram", &skip_curve)] {
            println!(
                "{name}: loss {:.4} over the first 20 steps, {:.4} over the last 20",
                curve.first().copied().unwrap_or(f64::NAN),
                curve.last().copied().unwrap_or(f64::NAN)
            );
        }
        let points = |c: &[f64]| -> Vec<(f64, f64)> {
            c.iter()
                .enumerate()
                .map(|(i, &l)| ((i + 1) as f64, l))
                .collect()
        };
        write_svg(&out.join("loss.svg"), (720, 420), |area| {
            line_chart(
                &area,
                "word2vec on the small corpus",
                ("steps (×20)", "loss"),
                &[
                    Curve::new("SimpleCBOW", points(&cbow_curve)),
                    Curve::new(
                        "SimpleSkipGram (two contexts' losses summed)",
                        points(&skip_curve),
                    ),
                ],
                false,
            )
        })?;

        println!("\nSimpleCBOW's word vectors:");
        let w = cbow
            .word_vectors()
            .to_array()
            .into_dimensionality::<ndarray::Ix2>()?;
        for (id, word) in vocabulary.words().iter().enumerate() {
            let row: Vec<String> = w.row(id).iter().map(|v| format!("{v:>7.3}")).collect();
            println!("{word:>8} {}", row.join(" "));
        }
        Ok(())
    })
}
