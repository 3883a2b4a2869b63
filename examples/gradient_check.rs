//! Book 1 ch.5.7.3 「誤差逆伝播法の勾配確認」 (`ch05/gradient_check.py`): the gradient of
//! TwoLayerNet(784, 50, 10) by backpropagation against the numerical gradient of ch.4
//! (central differences, h = 1e-4), on three images; prints the mean absolute difference per
//! parameter, as the book does.
//!
//! `cargo run --release --example gradient_check` → `figures/gradient_check/differences.svg`

mod common;

use clap::Parser;
use common::{Common, Result};
use ndarray::{ArrayD, Dimension};
use plotters::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use zero_nn::Tensor;
use zero_nn::core::no_grad;
use zero_nn::data::DatasetKind;
use zero_nn::data::Split;
use zero_nn::layers::{Init, Linear, Module, Reduction, Relu, Sequential, Target, cross_entropy};

/// Compares backpropagation with numerical differentiation on the book's two-layer network.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    common: Common,
    /// The data set (its first three test images: any input serves a gradient check, and the
    /// test split is the one that is always available).
    #[arg(long, value_enum, default_value = "mnist")]
    dataset: DatasetKind,
}

fn main() -> std::process::ExitCode {
    common::main("gradient_check", || run(Args::parse()))
}

fn run(args: Args) -> Result<()> {
    let out = args.common.out_dir("gradient_check")?;
    let three = common::first(&common::load_split(args.dataset, Split::Test)?, 3);
    let t = three.labels.classes();
    // The book computes in float64; so does this check.
    let x = Tensor::from_array(three.images.mapv(f64::from));
    println!(
        "{}: TwoLayerNet(784, 50, 10) (Affine, ReLU, Affine, SoftmaxWithLoss), W = 0.01·randn, b = 0; 3 images",
        args.dataset.title()
    );

    let mut rng = StdRng::seed_from_u64(0);
    let init = Init::Normal { std: 0.01 };
    let mut net = Sequential::<f64>::new()
        .add(Linear::with_init(784, 50, init, true, &mut rng))
        .add(Relu)
        .add(Linear::with_init(50, 10, init, true, &mut rng));
    let loss = |net: &mut Sequential<f64>| {
        cross_entropy(&net.forward(&x), Target::Classes(&t), Reduction::Mean)
    };
    net.zero_grad();
    loss(&mut net).backward()?;

    let names = ["W1", "b1", "W2", "b2"];
    let h = 1e-4;
    let mut rows = Vec::new();
    for (name, p) in names.iter().zip(net.parameter_tensors()) {
        let backprop = p.grad().ok_or_else(|| format!("{name} has no gradient"))?;
        // The book's numerical_gradient: (f(x + h) − f(x − h)) / 2h, one element at a time.
        let mut numerical = ArrayD::zeros(backprop.raw_dim());
        for (index, slot) in numerical.indexed_iter_mut() {
            let index = index.slice().to_vec();
            let nudge = |delta: f64| p.update_value(|mut w| w[index.as_slice()] += delta);
            nudge(h);
            let plus = no_grad(|| loss(&mut net)).item();
            nudge(-2.0 * h);
            let minus = no_grad(|| loss(&mut net)).item();
            nudge(h);
            *slot = (plus - minus) / (2.0 * h);
        }
        let diff = (&backprop - &numerical).mapv(f64::abs);
        let mean = diff.mean().unwrap_or(0.0);
        let max = diff.fold(0.0f64, |m, &d| m.max(d));
        println!("{name}:{mean:e}");
        let far = diff.iter().filter(|&&d| d > 1e-6).count();
        rows.push((*name, mean, max, backprop.len(), far));
    }
    println!("largest single differences:");
    for (name, _, max, n, far) in &rows {
        println!("  {name}: {max:.3e}; {far} of {n} elements differ by more than 1e-6");
    }
    // ReLU has a kink at 0: a probe of ±h that crosses it sees a different slope on each side.
    let w1 = &net.parameter_tensors()[0];
    let z = no_grad(|| x.matmul(w1)).to_array();
    let closest = z.iter().fold(f64::INFINITY, |m, v| m.min(v.abs()));
    let near = z.iter().filter(|v| v.abs() < h).count();
    println!(
        "ReLU inputs within h = {h:e} of the kink at 0: {near} of {} (smallest |input| {closest:.2e}); \
         the first layer's large differences come from those",
        z.len()
    );

    common::write_svg(&out.join("differences.svg"), (800, 480), |root| {
        let lows = rows
            .iter()
            .map(|r| r.1.max(1e-20).log10())
            .fold(0.0f64, f64::min);
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "|backprop − numerical| per parameter, log10 (blue: mean, orange: largest)",
                ("sans-serif", 16),
            )
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(50)
            .build_cartesian_2d(0.0f64..rows.len() as f64, (lows - 1.0).floor()..0.0)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(rows.len() * 2 + 1)
            .x_label_formatter(&|v| {
                let i = (v - 0.5).round();
                if (v - 0.5 - i).abs() < 1e-6 && i >= 0.0 {
                    names.get(i as usize).copied().unwrap_or("").to_string()
                } else {
                    String::new()
                }
            })
            .y_desc("log10 |difference|")
            .draw()?;
        let bottom = (lows - 1.0).floor();
        for (i, (_, mean, max, _, _)) in rows.iter().enumerate() {
            let x = i as f64;
            for (k, v) in [*mean, *max].into_iter().enumerate() {
                let left = x + 0.15 + 0.35 * k as f64;
                chart.draw_series([Rectangle::new(
                    [(left, bottom), (left + 0.3, v.max(1e-20).log10())],
                    common::colour(k).filled(),
                )])?;
            }
        }
        Ok(())
    })
}
