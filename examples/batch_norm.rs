//! Book 1 ch.6.3 「Batch Normalization」: the same five-layer ReLU network with and without
//! BatchNorm, for 16 initial weight scales from 1 to 0.0001, on 1000 training images
//! (`ch06/batch_norm_test.py`).
//!
//! `cargo run --release --example batch_norm` → `figures/batch_norm/accuracy.svg`
//! (`-- --dataset fashion-mnist` for the clothing images)

mod common;

use clap::Parser;
use common::{Common, Result};
use plotters::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use zero_nn::data::Dataset;
use zero_nn::layers::{Init, Module, Reduction, Sequential, Target, cross_entropy};
use zero_nn::optim::{Optimizer, Sgd};
use zero_nn::train::evaluate;
use zero_nn::train::{Activation, MlpOptions};

/// Trains a 784-100×5-10 network with and without BatchNorm from 16 weight scales.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    data: common::DataChoice,
    /// Epochs of 10 mini-batches of 100 [default: 20, as the book; 4 with --quick].
    #[arg(long)]
    epochs: Option<usize>,
}

fn main() -> std::process::ExitCode {
    common::main("batch_norm", || run(Args::parse()))
}

fn run(args: Args) -> Result<()> {
    let out = args.common.out_dir("batch_norm")?;
    let epochs = args.epochs.unwrap_or(args.common.pick(20, 4));
    // np.logspace(0, -4, num=16); --quick keeps every fifth.
    let scales: Vec<f64> = (0..16)
        .filter(|i| !args.common.quick() || i % 5 == 0)
        .map(|i| 10f64.powf(-4.0 * i as f64 / 15.0))
        .collect();
    let data = common::load(args.data.dataset)?;
    let train_set = common::first(&data.train, 1000);
    println!(
        "{}: the first 1000 training images; 784-100-100-100-100-100-10 ReLU, SGD lr 0.01, batches of 100, {epochs} epochs",
        args.data.dataset.title()
    );
    println!("training accuracy after each epoch, without and with BatchNorm");

    let mut results = Vec::new();
    for (k, &scale) in scales.iter().enumerate() {
        let mut curves = Vec::new();
        for batch_norm in [false, true] {
            let opts = MlpOptions {
                activation: Activation::Relu,
                init: Init::Normal { std: scale },
                // The book's ε (`10e-7`), see `MlpOptions::batch_norm`.
                batch_norm: batch_norm.then_some(1e-6),
                dropout: None,
            };
            let net = zero_nn::train::mlp(&[784, 100, 100, 100, 100, 100, 10], opts, k as u64);
            curves.push(train(net, &train_set, epochs, k as u64)?);
        }
        let last = |c: &Vec<f64>| match c.iter().position(|a| a.is_nan()) {
            Some(epoch) => format!("diverged in epoch {epoch}"),
            None => format!("{:.4}", c[c.len() - 1]),
        };
        println!(
            "weight scale {scale:<10.3e} normal {:<18}   BatchNorm {}",
            last(&curves[0]),
            last(&curves[1])
        );
        results.push((scale, curves));
    }

    let cols = 4;
    let rows = results.len().div_ceil(cols);
    common::write_svg(
        &out.join("accuracy.svg"),
        (1200, 260 * rows as u32 + 40),
        |root| {
            let root = root.titled(
                &format!(
                    "{}: training accuracy, BatchNorm (solid) vs normal (dashed)",
                    args.data.dataset.title()
                ),
                ("sans-serif", 18),
            )?;
            for (panel, (scale, curves)) in root.split_evenly((rows, cols)).iter().zip(&results) {
                let mut chart = ChartBuilder::on(panel)
                    .caption(format!("W std {scale:.2e}"), ("sans-serif", 13))
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
                let points = |c: &Vec<f64>| {
                    c.iter()
                        .enumerate()
                        .filter(|(_, a)| a.is_finite())
                        .map(|(e, &a)| (e as f64, a))
                        .collect::<Vec<_>>()
                };
                chart.draw_series(DashedLineSeries::new(
                    points(&curves[0]),
                    5,
                    4,
                    common::colour(1).stroke_width(2),
                ))?;
                chart.draw_series(LineSeries::new(
                    points(&curves[1]),
                    common::colour(0).stroke_width(2),
                ))?;
                if curves[0].iter().any(|a| a.is_nan()) {
                    let at = (epochs as f64 * 0.05, 0.93);
                    chart.draw_series([Text::new(
                        "normal: diverged (NaN loss)",
                        at,
                        ("sans-serif", 12),
                    )])?;
                }
            }
            Ok(())
        },
    )
}

/// The training accuracy before training and after each epoch.
fn train(mut net: Sequential<f32>, data: &Dataset, epochs: usize, seed: u64) -> Result<Vec<f64>> {
    let classes = data.labels.classes();
    let mut opt = Sgd::new(net.parameter_tensors(), 0.01);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut accuracy = vec![evaluate(&mut net, data)];
    for _ in 0..epochs {
        for _ in 0..data.len() / 100 {
            let (xb, tb) = common::random_batch(&mut rng, &data.images, &classes, 100);
            opt.zero_grad();
            let loss = cross_entropy(&net.forward(&xb), Target::Classes(&tb), Reduction::Mean);
            if !loss.item().is_finite() {
                // A diverged run is a result here (large scales without BatchNorm), not an
                // error: the accuracy reads NaN from this epoch on.
                accuracy.resize(epochs + 1, f64::NAN);
                return Ok(accuracy);
            }
            loss.backward()?;
            opt.step();
        }
        accuracy.push(evaluate(&mut net, data));
    }
    Ok(accuracy)
}
