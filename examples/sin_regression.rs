//! The course notebook's sine regression: why plain gradient descent stalls where Adam does not.
//!
//! 40 points `x = linspace(0, 0.5)`, `t = sin(2πx) + N(0, 0.05²)`, targets standardized; a 1-8-1
//! sigmoid network with N(0, 1) weights; full-batch gradient descent (lr 0.01) against Adam
//! (lr 0.05), 2000 epochs each, from the same initial network; then the same with ReLU and He
//! initialisation.
//!
//! `cargo run --release --example sin_regression` → `figures/sin_regression/{fits,loss}.svg`

mod common;

use std::f64::consts::PI;

use clap::Parser;
use common::{Common, Curve, Result};
use ndarray::{Array1, Axis};
use plotters::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use zero_nn::Tensor;
use zero_nn::data::toy::sin_noise;
use zero_nn::layers::{Init, Linear, Module, Reduction, Relu, Sequential, Sigmoid, mse};
use zero_nn::optim::{Adam, Optimizer, Sgd};

/// Fits a 1-8-1 network to a noisy sine with gradient descent and with Adam.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    common: Common,
    /// Full-batch epochs for each run [default: 2000; 200 with --quick].
    #[arg(long)]
    epochs: Option<usize>,
    /// Seed of the initial weights (the data always use seed 0).
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// One training run's outcome.
struct Fit {
    label: String,
    losses: Vec<f64>,
    net: Sequential<f64>,
}

fn main() -> std::process::ExitCode {
    common::main("sin_regression", || run(Args::parse()))
}

fn run(args: Args) -> Result<()> {
    let out = args.common.out_dir("sin_regression")?;
    let epochs = args.epochs.unwrap_or(args.common.pick(2000, 200));
    let (x, t) = sin_noise(40, 0.05, 0);
    let mean = t.mean().unwrap_or(0.0);
    let std = t.std(0.0);
    println!(
        "data: 40 points, x = linspace(0, 0.5), t = sin(2πx) + N(0, 0.05²); t standardized (mean {mean:.4}, std {std:.4})"
    );
    let x_in = Tensor::from_array(x.clone().insert_axis(Axis(1)));
    let t_in = Tensor::from_array(t.mapv(|v| (v - mean) / std).insert_axis(Axis(1)));

    // (label, ReLU with He rather than sigmoid with N(0, 1), Adam rather than GD, lr)
    let runs: [(&str, bool, bool, f64); 4] = [
        ("sigmoid, N(0,1), GD lr 0.01", false, false, 0.01),
        ("sigmoid, N(0,1), Adam lr 0.05", false, true, 0.05),
        ("ReLU, He, GD lr 0.01", true, false, 0.01),
        ("ReLU, He, Adam lr 0.05", true, true, 0.05),
    ];
    println!(
        "1-8-1 network, full batch, MSE on standardized targets, {epochs} epochs, init seed {}",
        args.seed
    );
    println!(
        "{:<32} {:>12} {:>12} {:>18} {:>18}",
        "", "first loss", "final loss", "RMS error vs t", "RMS vs sin(2πx)"
    );
    let mut fits = Vec::new();
    for (label, relu, adam, lr) in runs {
        let mut net = network(relu, args.seed);
        let mut opt: Box<dyn Optimizer> = if adam {
            Box::new(Adam::new(net.parameter_tensors(), lr))
        } else {
            Box::new(Sgd::new(net.parameter_tensors(), lr))
        };
        let mut losses = Vec::with_capacity(epochs + 1);
        for _ in 0..epochs {
            opt.zero_grad();
            let loss = mse(&net.forward(&x_in), &t_in, Reduction::Mean);
            let value = loss.item();
            if !value.is_finite() {
                return Err(format!("{label}: the loss became {value}").into());
            }
            losses.push(value);
            loss.backward()?;
            opt.step();
        }
        losses.push(mse(&net.forward(&x_in), &t_in, Reduction::Mean).item());
        // Back to the data's units.
        let y = predict(&mut net, &x, mean, std);
        let rms =
            |target: &Array1<f64>| ((&y - target).mapv(|d| d * d).mean().unwrap_or(0.0)).sqrt();
        println!(
            "{label:<32} {:>12.6} {:>12.6} {:>18.6} {:>18.6}",
            losses[0],
            losses[losses.len() - 1],
            rms(&t),
            rms(&x.mapv(|v| (2.0 * PI * v).sin()))
        );
        fits.push(Fit {
            label: label.to_string(),
            losses,
            net,
        });
    }
    let last = |f: &Fit| f.losses[f.losses.len() - 1];
    println!(
        "sigmoid: Adam's final loss is {:.1}x lower than GD's (a flat line scores 1.0; the noise alone costs about {:.3})",
        last(&fits[0]) / last(&fits[1]),
        (0.05 / std).powi(2)
    );

    let dense = Array1::linspace(0.0, 0.5, 201);
    common::write_svg(&out.join("fits.svg"), (900, 600), |root| {
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("1-8-1 fits of sin(2πx) + noise after {epochs} epochs"),
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(35)
            .y_label_area_size(45)
            .build_cartesian_2d(-0.02f64..0.52, -0.3f64..1.3)?;
        chart.configure_mesh().x_desc("x").y_desc("t").draw()?;
        chart
            .draw_series(LineSeries::new(
                dense.iter().map(|&v| (v, (2.0 * PI * v).sin())),
                BLACK.stroke_width(1),
            ))?
            .label("sin(2πx)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK));
        chart
            .draw_series(
                x.iter()
                    .zip(&t)
                    .map(|(&a, &b)| Circle::new((a, b), 3, BLACK.filled())),
            )?
            .label("data")
            .legend(|(x, y)| Circle::new((x + 10, y), 3, BLACK.filled()));
        for (i, fit) in fits.iter_mut().enumerate() {
            let col = common::colour(i);
            let y = predict(&mut fit.net, &dense, mean, std);
            chart
                .draw_series(LineSeries::new(
                    dense.iter().copied().zip(y.iter().copied()),
                    col.stroke_width(2),
                ))?
                .label(fit.label.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], col.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
        Ok(())
    })?;
    let curves: Vec<Curve> = fits
        .iter()
        .map(|f| {
            let points = f
                .losses
                .iter()
                .enumerate()
                .map(|(e, &l)| (e as f64, l))
                .collect();
            Curve::new(f.label.clone(), points)
        })
        .collect();
    common::write_svg(&out.join("loss.svg"), (900, 500), |root| {
        common::line_chart(
            &root,
            "training loss (standardized MSE)",
            ("epoch", "loss"),
            &curves,
            true,
        )
    })?;
    Ok(())
}

/// The 1-8-1 network: sigmoid with N(0, 1) weights (the notebook's), or ReLU with He.
fn network(relu: bool, seed: u64) -> Sequential<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let init = if relu {
        Init::HeNormal
    } else {
        Init::Normal { std: 1.0 }
    };
    let net = Sequential::new().add(Linear::with_init(1, 8, init, true, &mut rng));
    let net = if relu {
        net.add(Relu)
    } else {
        net.add(Sigmoid)
    };
    net.add(Linear::with_init(8, 1, init, true, &mut rng))
}

/// The network's output at `x`, de-standardized.
fn predict(net: &mut Sequential<f64>, x: &Array1<f64>, mean: f64, std: f64) -> Array1<f64> {
    let input = Tensor::from_array(x.clone().insert_axis(Axis(1)));
    let y = zero_nn::core::no_grad(|| net.forward(&input)).to_array();
    y.iter().map(|v| v * std + mean).collect()
}
