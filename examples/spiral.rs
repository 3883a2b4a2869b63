//! Book 2 ch.1 「ニューラルネットワークの復習」: a two-layer net (Affine, Sigmoid, Affine,
//! SoftmaxWithLoss) trained with SGD on the three-armed spiral (`ch01/train.py`).
//!
//! `cargo run --release --example spiral` → `figures/spiral/{loss,boundary}.svg`

mod common;

use clap::Parser;
use common::{Common, Curve, Result};
use ndarray::Axis;
use plotters::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use zero_nn::Tensor;
use zero_nn::core::no_grad;
use zero_nn::data::Batches;
use zero_nn::data::toy::spiral;
use zero_nn::layers::{
    Init, Linear, Module, Reduction, Sequential, Sigmoid, Target, cross_entropy,
};
use zero_nn::optim::{Optimizer, Sgd};
use zero_nn::train::argmax;

/// Trains the book's TwoLayerNet on the spiral and draws its decision boundary.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    common: Common,
    /// Epochs [default: 300, as the book; 30 with --quick].
    #[arg(long)]
    epochs: Option<usize>,
    /// Hidden units.
    #[arg(long, default_value_t = 10)]
    hidden: usize,
    /// Learning rate.
    #[arg(long, default_value_t = 1.0)]
    lr: f64,
}

fn main() -> std::process::ExitCode {
    common::main("spiral", || run(Args::parse()))
}

fn run(args: Args) -> Result<()> {
    let out = args.common.out_dir("spiral")?;
    let epochs = args.epochs.unwrap_or(args.common.pick(300, 30));
    let batch_size = 30;
    let (x, t) = spiral(100, 3, 1984);
    let labels: Vec<usize> = t
        .outer_iter()
        .map(|row| argmax(row.iter().copied()))
        .collect();

    // As ch01/two_layer_net.py: W = 0.01·randn, b = 0.
    let mut rng = StdRng::seed_from_u64(0);
    let init = Init::Normal { std: 0.01 };
    let mut net = Sequential::<f64>::new()
        .add(Linear::with_init(2, args.hidden, init, true, &mut rng))
        .add(Sigmoid)
        .add(Linear::with_init(args.hidden, 3, init, true, &mut rng));
    let mut opt = Sgd::new(net.parameter_tensors(), args.lr);
    let mut batches = Batches::new(x.nrows(), batch_size, Some(0), true);
    let iters = batches.per_epoch();
    println!(
        "spiral: 300 points, 3 classes; 2-{}-3 sigmoid net, SGD lr {}, batch {batch_size}, {epochs} epochs",
        args.hidden, args.lr
    );

    let mut curve = Vec::new();
    let (mut total, mut count) = (0.0, 0);
    for epoch in 0..epochs {
        for (iter, idx) in batches.epoch().enumerate() {
            let xb = Tensor::from_array(x.select(Axis(0), idx));
            let tb: Vec<usize> = idx.iter().map(|&i| labels[i]).collect();
            opt.zero_grad();
            let loss = cross_entropy(&net.forward(&xb), Target::Classes(&tb), Reduction::Mean);
            let value = loss.item();
            if !value.is_finite() {
                return Err(format!("epoch {}: the loss became {value}", epoch + 1).into());
            }
            loss.backward()?;
            opt.step();
            total += value;
            count += 1;
            // The book averages the loss over every 10 iterations and prints it.
            if (iter + 1) % 10 == 0 {
                let avg = total / count as f64;
                curve.push(((epoch * iters + iter + 1) as f64, avg));
                if (epoch + 1) % 10 == 0 || epoch == 0 {
                    println!(
                        "| epoch {} |  iter {} / {} | loss {avg:.2}",
                        epoch + 1,
                        iter + 1,
                        iters
                    );
                }
                (total, count) = (0.0, 0);
            }
        }
    }
    let scores = no_grad(|| net.forward(&Tensor::from_array(x.clone()))).to_array();
    let predicted: Vec<usize> = scores
        .outer_iter()
        .map(|r| argmax(r.iter().copied()))
        .collect();
    let correct = predicted
        .iter()
        .zip(&labels)
        .filter(|(p, l)| p == l)
        .count();
    println!(
        "training accuracy: {:.4} ({correct} of {})",
        correct as f64 / labels.len() as f64,
        labels.len()
    );

    let curves = [Curve::new("loss (mean of 10 iterations)", curve)];
    common::write_svg(&out.join("loss.svg"), (800, 450), |root| {
        common::line_chart(
            &root,
            "spiral: training loss",
            ("iterations", "loss"),
            &curves,
            false,
        )
    })?;

    let cells = 120;
    let span = 1.2;
    let step = 2.0 * span / cells as f64;
    let grid = common::square_grid(cells, span);
    let regions = no_grad(|| net.forward(&Tensor::from_array(grid.clone()))).to_array();
    common::write_svg(&out.join("boundary.svg"), (640, 640), |root| {
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "spiral: decision regions and the training points",
                ("sans-serif", 16),
            )
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(40)
            .build_cartesian_2d(-span..span, -span..span)?;
        chart.configure_mesh().disable_mesh().draw()?;
        chart.draw_series(grid.outer_iter().zip(regions.outer_iter()).map(|(p, s)| {
            let class = argmax(s.iter().copied());
            let h = step / 2.0;
            Rectangle::new(
                [(p[0] - h, p[1] - h), (p[0] + h, p[1] + h)],
                common::colour(class).mix(0.25).filled(),
            )
        }))?;
        for class in 0..3 {
            let style = common::colour(class).filled();
            chart.draw_series(
                x.outer_iter()
                    .zip(&labels)
                    .filter(|(_, l)| **l == class)
                    .map(|(p, _)| Circle::new((p[0], p[1]), 3, style)),
            )?;
        }
        Ok(())
    })?;
    Ok(())
}
