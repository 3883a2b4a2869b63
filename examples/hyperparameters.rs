//! Book 1 ch.6.5 「ハイパーパラメータの検証」 (`ch06/hyperparameter_optimization.py`): random
//! search of the learning rate and the weight decay, scored on validation data split off the
//! training images — never on the test set.
//!
//! `cargo run --release --example hyperparameters` → `figures/hyperparameters/best.svg`
//! (`-- --dataset fashion-mnist` for the clothing images)

mod common;

use clap::Parser;
use common::{Common, Result};
use plotters::prelude::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use zero_nn::layers::Init;
use zero_nn::train::{Activation, MlpOptions};

/// Random search over lr ∈ 10^[-6, -2] and weight decay ∈ 10^[-8, -4] on 500 training images.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    data: common::DataChoice,
    /// Trials [default: 100, as the book; 6 with --quick].
    #[arg(long)]
    trials: Option<usize>,
    /// Epochs per trial [default: 50, as the book; 5 with --quick].
    #[arg(long)]
    epochs: Option<usize>,
    /// Seed of the search (the data split uses it too).
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// One trial's hyperparameters and curves.
struct Trial {
    lr: f64,
    weight_decay: f64,
    train: Vec<f64>,
    val: Vec<f64>,
}

fn main() -> std::process::ExitCode {
    common::main("hyperparameters", || run(Args::parse()))
}

fn run(args: Args) -> Result<()> {
    let out = args.common.out_dir("hyperparameters")?;
    let trials = args.trials.unwrap_or(args.common.pick(100, 6));
    let epochs = args.epochs.unwrap_or(args.common.pick(50, 5));
    let data = common::load(args.data.dataset)?;
    // The first 500 training images, shuffled, 20% held out for validation.
    let mut rng = StdRng::seed_from_u64(args.seed);
    let mut order: Vec<usize> = (0..500.min(data.train.len())).collect();
    order.shuffle(&mut rng);
    let (val_idx, train_idx) = order.split_at(order.len() / 5);
    let (train_set, val_set) = (data.train.select(train_idx), data.train.select(val_idx));
    println!(
        "{}: {} training and {} validation images (from the first 500 of the training split); \
         784-100×6-10 ReLU, He initialisation, SGD, batches of 100, {epochs} epochs per trial, {trials} trials",
        args.data.dataset.title(),
        train_set.len(),
        val_set.len()
    );

    let mut results = Vec::with_capacity(trials);
    for _ in 0..trials {
        let weight_decay = 10f64.powf(rng.random_range(-8.0..-4.0));
        let lr = 10f64.powf(rng.random_range(-6.0..-2.0));
        let opts = MlpOptions {
            activation: Activation::Relu,
            init: Init::HeNormal,
            batch_norm: None,
            dropout: None,
        };
        let net = zero_nn::train::mlp(&[784, 100, 100, 100, 100, 100, 100, 10], opts, rng.random());
        let schedule = common::TrainerOptions {
            epochs,
            lr,
            weight_decay,
            verbose: false,
        };
        let (train, val) = common::train_epochs(net, &train_set, &val_set, schedule)?;
        println!(
            "val acc:{:.4} | lr:{lr:.3e}, weight decay:{weight_decay:.3e}",
            val[val.len() - 1]
        );
        results.push(Trial {
            lr,
            weight_decay,
            train,
            val,
        });
    }

    results.sort_by(|a, b| b.val[b.val.len() - 1].total_cmp(&a.val[a.val.len() - 1]));
    let best: Vec<&Trial> = results.iter().take(20).collect();
    println!("=========== Hyper-Parameter Optimization Result ===========");
    for (i, trial) in best.iter().enumerate() {
        println!(
            "Best-{}(val acc:{:.4}) | lr:{:.3e}, weight decay:{:.3e}",
            i + 1,
            trial.val[trial.val.len() - 1],
            trial.lr,
            trial.weight_decay
        );
    }

    let cols = 5;
    let rows = best.len().div_ceil(cols);
    common::write_svg(
        &out.join("best.svg"),
        (1250, 230 * rows as u32 + 40),
        |root| {
            let root = root.titled(
            &format!(
                "the best {} trials: validation (solid) and training (dashed) accuracy per epoch",
                best.len()
            ),
            ("sans-serif", 18),
        )?;
            for (i, (panel, trial)) in root
                .split_evenly((rows, cols))
                .iter()
                .zip(&best)
                .enumerate()
            {
                let mut chart = ChartBuilder::on(panel)
                    .caption(
                        format!(
                            "Best-{}: lr {:.1e}, wd {:.1e}",
                            i + 1,
                            trial.lr,
                            trial.weight_decay
                        ),
                        ("sans-serif", 12),
                    )
                    .margin(6)
                    .x_label_area_size(20)
                    .y_label_area_size(30)
                    .build_cartesian_2d(0.0f64..epochs as f64, 0.0f64..1.0)?;
                chart
                    .configure_mesh()
                    .disable_mesh()
                    .x_labels(5)
                    .y_labels(3)
                    .draw()?;
                let points = |c: &[f64]| -> Vec<(f64, f64)> {
                    c.iter().enumerate().map(|(e, &a)| (e as f64, a)).collect()
                };
                chart.draw_series(LineSeries::new(
                    points(&trial.val),
                    common::colour(0).stroke_width(2),
                ))?;
                chart.draw_series(DashedLineSeries::new(
                    points(&trial.train),
                    4,
                    3,
                    common::colour(1).stroke_width(2),
                ))?;
            }
            Ok(())
        },
    )
}
