//! Book 1 ch.6.1 「パラメータの更新」: SGD, Momentum, Nesterov, AdaGrad, RMSprop and Adam on
//! `f(x, y) = x²/20 + y²` (`ch06/optimizer_compare_naive.py`) and on MNIST
//! (`ch06/optimizer_compare_mnist.py`).
//!
//! `cargo run --release --example optimizers` → `figures/optimizers/{trajectories,mnist_loss}.svg`
//! (`-- --dataset fashion-mnist` for the clothing images; `-- --skip-mnist` for the function alone)

mod common;

use clap::Parser;
use common::{Common, Contender, Result};
use plotters::prelude::*;
use zero_nn::Tensor;
use zero_nn::layers::{Init, Module};
use zero_nn::train::OptimizerKind;
use zero_nn::train::{Activation, MlpOptions};

/// Compares the book's optimizers on a function and on a five-layer network.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    data: common::DataChoice,
    /// Mini-batch iterations per optimizer [default: 2000, as the book; 100 with --quick].
    #[arg(long)]
    iterations: Option<usize>,
    /// Only the function f(x, y); no data needed.
    #[arg(long)]
    skip_mnist: bool,
}

/// The optimizers of the comparison, each with the book's learning rate for the function and
/// for MNIST (Nesterov and RMSprop are not in the book's figure; their rates are ours).
/// Momentum and Nesterov use α = 0.9, RMSprop ρ = 0.99, as the book.
const OPTIMIZERS: [(&str, OptimizerKind, f64, f64); 6] = [
    ("SGD", OptimizerKind::Sgd, 0.95, 0.01),
    ("Momentum", OptimizerKind::Momentum, 0.1, 0.01),
    ("Nesterov", OptimizerKind::Nesterov, 0.1, 0.01),
    ("AdaGrad", OptimizerKind::Adagrad, 1.5, 0.01),
    ("RMSprop", OptimizerKind::Rmsprop, 0.3, 0.001),
    ("Adam", OptimizerKind::Adam, 0.3, 0.001),
];

fn main() -> std::process::ExitCode {
    common::main("optimizers", || run(Args::parse()))
}

fn run(args: Args) -> Result<()> {
    let out = args.common.out_dir("optimizers")?;
    function(&out)?;
    if args.skip_mnist {
        return Ok(());
    }
    println!();
    network(&args, &out)
}

/// 30 steps from (-7, 2) on `x²/20 + y²`, whose gradient is 20× steeper in y than in x.
fn function(out: &std::path::Path) -> Result<()> {
    println!("== f(x, y) = x²/20 + y², 30 steps from (-7, 2)");
    let mut paths = Vec::new();
    for (name, kind, lr, _) in OPTIMIZERS {
        let x = Tensor::<f64>::scalar(-7.0).requires_grad();
        let y = Tensor::<f64>::scalar(2.0).requires_grad();
        let mut opt = kind.build(vec![x.clone(), y.clone()], lr, 0.0);
        let mut path = vec![(x.item(), y.item())];
        for _ in 0..30 {
            opt.zero_grad();
            let f = x.powi(2).div_scalar(20.0).add(&y.powi(2));
            f.backward()?;
            opt.step();
            path.push((x.item(), y.item()));
        }
        let (px, py) = path[path.len() - 1];
        println!(
            "{name:<9} lr {lr:<5} ends at ({px:>8.4}, {py:>8.4}), f = {:.6}",
            px * px / 20.0 + py * py
        );
        paths.push((name, lr, path));
    }
    common::write_svg(&out.join("trajectories.svg"), (1200, 760), |root| {
        let root = root.titled(
            "30 updates on f(x, y) = x²/20 + y² from (-7, 2)",
            ("sans-serif", 20),
        )?;
        for (panel, (name, lr, path)) in root.split_evenly((2, 3)).iter().zip(&paths) {
            let mut chart = ChartBuilder::on(panel)
                .caption(format!("{name} (lr {lr})"), ("sans-serif", 16))
                .margin(8)
                .x_label_area_size(25)
                .y_label_area_size(30)
                .build_cartesian_2d(-10.0f64..10.0, -5.0f64..5.0)?;
            chart.configure_mesh().disable_mesh().draw()?;
            // Level sets x²/20 + y² = c are ellipses with semi-axes √(20c) and √c.
            for c in [0.1f64, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0] {
                let ellipse = (0..=120).map(|k| {
                    let a = k as f64 / 120.0 * std::f64::consts::TAU;
                    ((20.0 * c).sqrt() * a.cos(), c.sqrt() * a.sin())
                });
                chart.draw_series(LineSeries::new(ellipse, RGBColor(180, 180, 180)))?;
            }
            chart.draw_series(LineSeries::new(path.iter().copied(), RED.stroke_width(2)))?;
            chart.draw_series(path.iter().map(|&p| Circle::new(p, 3, RED.filled())))?;
            chart.draw_series([Cross::new((0.0, 0.0), 6, BLACK.stroke_width(2))])?;
        }
        Ok(())
    })
}

/// The book's five-layer ReLU network (784-100-100-100-100-10, He initialisation), trained
/// by each optimizer on the same random mini-batches of 128 from the same initial weights.
fn network(args: &Args, out: &std::path::Path) -> Result<()> {
    let iterations = args.iterations.unwrap_or(args.common.pick(2000, 100));
    let data = common::load(args.data.dataset)?;
    println!(
        "== {}: 784-100-100-100-100-10 ReLU network, He initialisation, batches of 128, {iterations} iterations",
        args.data.dataset.title()
    );
    let opts = MlpOptions {
        activation: Activation::Relu,
        init: Init::HeNormal,
        batch_norm: None,
        dropout: None,
    };
    let mut contenders: Vec<Contender> = OPTIMIZERS
        .iter()
        .map(|&(name, kind, _, lr)| {
            let net = zero_nn::train::mlp(&[784, 100, 100, 100, 100, 10], opts, 0);
            let opt = kind.build(net.parameter_tensors(), lr, 0.0);
            Contender {
                name: name.to_string(),
                net,
                opt,
            }
        })
        .collect();
    let losses = common::train_side_by_side(&mut contenders, &data.train, iterations, 128)?;
    println!("test accuracy after {iterations} iterations:");
    for ((name, _, _, lr), c) in OPTIMIZERS.iter().zip(&mut contenders) {
        let accuracy = zero_nn::train::evaluate(&mut c.net, &data.test);
        println!("  {name:<9} (lr {lr}): {accuracy:.4}");
    }
    let name = args.data.dataset.title();
    common::write_loss_curves(
        &out.join("mnist_loss.svg"),
        &format!("{name}: training loss per optimizer (moving average of 11)"),
        &contenders,
        &losses,
    )
}
