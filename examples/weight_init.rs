//! Book 1 ch.6.2 「重みの初期値」: histograms of the activations of five 100-unit layers for
//! weights drawn with std 1, 0.01, Xavier (`1/√n`) and He (`√(2/n)`)
//! (`ch06/weight_init_activation_histogram.py`); then the three initialisations on MNIST
//! (6.2.4, `ch06/weight_init_compare.py`).
//!
//! `cargo run --release --example weight_init` →
//! `figures/weight_init/{sigmoid,relu,mnist_loss}.svg` (`-- --dataset fashion-mnist` for the
//! clothing images; `-- --skip-mnist` for the histograms alone)

mod common;

use clap::Parser;
use common::{Common, Contender, Result};
use plotters::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use zero_nn::Tensor;
use zero_nn::core::no_grad;
use zero_nn::layers::{Init, Module};
use zero_nn::optim::Sgd;
use zero_nn::train::{Activation, MlpOptions};

/// Draws the book's activation histograms for four weight scales, then trains a five-layer
/// network from three initialisations.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    data: common::DataChoice,
    /// Mini-batch iterations per initialisation [default: 2000, as the book; 100 with --quick].
    #[arg(long)]
    iterations: Option<usize>,
    /// Only the histograms; no data needed.
    #[arg(long)]
    skip_mnist: bool,
}

const LAYERS: usize = 5;
const NODES: usize = 100;
const BINS: usize = 30;

fn main() -> std::process::ExitCode {
    common::main("weight_init", || run(Args::parse()))
}

fn run(args: Args) -> Result<()> {
    let out = args.common.out_dir("weight_init")?;
    let rows_in = args.common.pick(1000, 200);
    let n = NODES as f64;
    let configs: [(&str, &str, f64); 6] = [
        ("sigmoid", "std 1", 1.0),
        ("sigmoid", "std 0.01", 0.01),
        ("sigmoid", "Xavier 1/√n", 1.0 / n.sqrt()),
        ("ReLU", "std 0.01", 0.01),
        ("ReLU", "Xavier 1/√n", 1.0 / n.sqrt()),
        ("ReLU", "He √(2/n)", (2.0 / n).sqrt()),
    ];
    println!(
        "input: {rows_in} × {NODES} standard normal; {LAYERS} layers of {NODES} units, no bias"
    );
    println!("per layer: mean ± std of the activations, and the share within 0.02 of 0 or 1");
    let mut histograms = Vec::new();
    for (activation, label, std) in configs {
        let layers = activations(rows_in, activation == "ReLU", std);
        println!("{activation}, {label}");
        for (i, a) in layers.iter().enumerate() {
            let mean = a.iter().sum::<f64>() / a.len() as f64;
            let sd = (a.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / a.len() as f64).sqrt();
            let near =
                |c: f64| a.iter().filter(|v| (*v - c).abs() < 0.02).count() as f64 / a.len() as f64;
            println!(
                "  layer {}: {mean:.4} ± {sd:.4}   near 0: {:>5.1}%   near 1: {:>5.1}%",
                i + 1,
                100.0 * near(0.0),
                100.0 * near(1.0)
            );
        }
        let counts: Vec<Vec<usize>> = layers.iter().map(|a| histogram(a)).collect();
        histograms.push((activation, label, counts));
    }

    for activation in ["sigmoid", "ReLU"] {
        let rows: Vec<_> = histograms.iter().filter(|h| h.0 == activation).collect();
        let file = format!("{}.svg", activation.to_lowercase());
        // ReLU puts half of everything at exactly 0; the book clips the axis at 7000 (of
        // 100,000 values) to see the rest.
        let top = if activation == "ReLU" {
            7 * rows_in
        } else {
            rows.iter()
                .flat_map(|h| h.2.iter().flatten())
                .copied()
                .max()
                .unwrap_or(1)
        };
        common::write_svg(
            &out.join(file),
            (1250, 250 * rows.len() as u32 + 40),
            |root| {
                let root = root.titled(
                &format!("{activation}: activations of layers 1–5 (histogram over [0, 1], {BINS} bins)"),
                ("sans-serif", 18),
            )?;
                let grid = root.split_evenly((rows.len(), LAYERS));
                for (r, (_, label, counts)) in rows.iter().enumerate() {
                    for (l, c) in counts.iter().enumerate() {
                        let mut chart = ChartBuilder::on(&grid[r * LAYERS + l])
                            .caption(format!("{label}, layer {}", l + 1), ("sans-serif", 13))
                            .margin(5)
                            .x_label_area_size(20)
                            .y_label_area_size(if l == 0 { 50 } else { 8 })
                            .build_cartesian_2d(0.0f64..1.0, 0.0f64..top as f64 * 1.05)?;
                        let mesh = &mut chart.configure_mesh();
                        mesh.disable_mesh().x_labels(3);
                        if l > 0 {
                            mesh.y_labels(0);
                        }
                        mesh.draw()?;
                        let width = 1.0 / BINS as f64;
                        chart.draw_series(c.iter().enumerate().map(|(b, &count)| {
                            let x0 = b as f64 * width;
                            let h = (count as f64).min(top as f64 * 1.05);
                            Rectangle::new([(x0, 0.0), (x0 + width, h)], common::colour(0).filled())
                        }))?;
                    }
                }
                Ok(())
            },
        )?;
    }
    if args.skip_mnist {
        return Ok(());
    }
    println!();
    network(&args, &out)
}

/// The book's 784-100-100-100-100-10 ReLU network from std 0.01, Xavier and He weights, SGD
/// lr 0.01, the same mini-batches of 128 for each.
fn network(args: &Args, out: &std::path::Path) -> Result<()> {
    let iterations = args.iterations.unwrap_or(args.common.pick(2000, 100));
    let data = common::load(args.data.dataset)?;
    let name = args.data.dataset.title();
    println!(
        "== {name}: 784-100-100-100-100-10 ReLU network, SGD lr 0.01, batches of 128, {iterations} iterations"
    );
    let inits = [
        ("std=0.01", Init::Normal { std: 0.01 }),
        ("Xavier", Init::LeCunNormal),
        ("He", Init::HeNormal),
    ];
    let mut contenders: Vec<Contender> = inits
        .iter()
        .map(|&(label, init)| {
            let opts = MlpOptions {
                activation: Activation::Relu,
                init,
                batch_norm: None,
                dropout: None,
            };
            let net = zero_nn::train::mlp(&[784, 100, 100, 100, 100, 10], opts, 0);
            let opt = Box::new(Sgd::new(net.parameter_tensors(), 0.01));
            Contender {
                name: label.to_string(),
                net,
                opt,
            }
        })
        .collect();
    let losses = common::train_side_by_side(&mut contenders, &data.train, iterations, 128)?;
    println!("test accuracy after {iterations} iterations:");
    for c in &mut contenders {
        let accuracy = zero_nn::train::evaluate(&mut c.net, &data.test);
        println!("  {:<9}: {accuracy:.4}", c.name);
    }
    common::write_loss_curves(
        &out.join("mnist_loss.svg"),
        &format!("{name}: training loss per initialisation (moving average of 11)"),
        &contenders,
        &losses,
    )
}

/// The activations of each of the five layers for a standard-normal input.
fn activations(rows: usize, relu: bool, std: f64) -> Vec<Vec<f64>> {
    let mut rng = StdRng::seed_from_u64(0);
    let mut x = Tensor::<f64>::randn_using(&[rows, NODES], &mut rng);
    let mut out = Vec::with_capacity(LAYERS);
    no_grad(|| {
        for _ in 0..LAYERS {
            let w = Init::Normal { std }.tensor::<f64, _>(&[NODES, NODES], NODES, NODES, &mut rng);
            let z = x.matmul(&w);
            x = if relu { z.relu() } else { z.sigmoid() };
            out.push(x.to_array().iter().copied().collect());
        }
    });
    out
}

/// Counts over [0, 1] in 30 bins, as `plt.hist(a.flatten(), 30, range=(0, 1))`.
fn histogram(values: &[f64]) -> Vec<usize> {
    let mut counts = vec![0; BINS];
    for &v in values {
        if (0.0..=1.0).contains(&v) {
            counts[((v * BINS as f64) as usize).min(BINS - 1)] += 1;
        }
    }
    counts
}
