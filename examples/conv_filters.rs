//! Book 1 ch.7.6.1 「1層目の重みの可視化」 (`ch07/visualize_filter.py`): the 30 first-layer 5×5
//! filters of SimpleConvNet before training (the book's `0.01 * randn`), after training here
//! (Adam, lr 0.001, batches of 100, as `ch07/train_convnet.py`), and the book's own trained
//! filters (`ch07/params.pkl`). Random filters are noise; trained ones are smooth edge and blob
//! detectors. The printed "neighbour correlation" (the correlation of horizontally and
//! vertically adjacent weights, over all filters) puts a number on that: about 0 for noise.
//!
//! `cargo run --release --example conv_filters` →
//! `figures/conv_filters/{before,after,book}.svg` (`-- --dataset fashion-mnist` trains on the
//! clothing images, whose training set the offline mirror has)

mod common;

use clap::Parser;
use common::pictures::{Picture, Scale, write_grid};
use common::{Common, Result};
use ndarray::{ArrayD, ArrayView2, Axis};
use rand::SeedableRng;
use rand::rngs::StdRng;
use zero_nn::data::Split;
use zero_nn::layers::{Module, Reduction, Target, cross_entropy};
use zero_nn::optim::{Adam, Optimizer};
use zero_nn::train::{Arch, InitChoice};

/// Draws SimpleConvNet's first-layer filters before and after training.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    data: common::DataChoice,
    /// Mini-batch iterations [default: 1200 (two epochs); 150 with --quick].
    #[arg(long)]
    iterations: Option<usize>,
    /// Seed of the initial weights and the batches.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn main() -> std::process::ExitCode {
    common::main("conv_filters", || run(Args::parse()))
}

fn run(args: Args) -> Result<()> {
    let out = args.common.out_dir("conv_filters")?;
    let iterations = args
        .iterations
        .unwrap_or_else(|| args.common.pick(1200, 150));
    let mut net = Arch::SimpleConvNet.build(InitChoice::Book, args.seed);
    let before = first_filters(&net)?;
    report("before training (0.01 · randn)", &before);
    grid(
        &out.join("before.svg"),
        "SimpleConvNet's 30 first-layer filters before training",
        &before,
    )?;

    let train = common::load_split(args.data.dataset, Split::Train)?;
    let test = common::first(
        &common::load_split(args.data.dataset, Split::Test)?,
        args.common.pick(10_000, 1_000),
    );
    let classes = train.labels.classes();
    let mut opt = Adam::new(net.parameter_tensors(), 0.001);
    let mut rng = StdRng::seed_from_u64(args.seed);
    let start = std::time::Instant::now();
    for i in 1..=iterations {
        let (xb, tb) = common::random_batch(&mut rng, &train.images, &classes, 100);
        opt.zero_grad();
        let loss = cross_entropy(&net.forward(&xb), Target::Classes(&tb), Reduction::Mean);
        let value = loss.item();
        if !value.is_finite() {
            return Err(format!("iteration {i}: the loss became {value}").into());
        }
        loss.backward()?;
        opt.step();
        if i % 100 == 0 || i == iterations {
            println!("iteration {i:>5}: loss {value:.4}");
        }
    }
    let acc = zero_nn::train::evaluate(&mut net, &test);
    println!(
        "trained {iterations} iterations on {} in {:.1} s; test accuracy {acc:.4} ({} images)",
        args.data.dataset.title(),
        start.elapsed().as_secs_f64(),
        test.len()
    );
    let after = first_filters(&net)?;
    report(&format!("after {iterations} iterations"), &after);
    grid(
        &out.join("after.svg"),
        &format!(
            "… after {iterations} iterations of Adam on {}",
            args.data.dataset.title()
        ),
        &after,
    )?;

    let book = first_filters(&common::book_simple_convnet()?)?;
    report("the book's trained filters (params.pkl)", &book);
    grid(
        &out.join("book.svg"),
        "The book's trained SimpleConvNet (ch07/params.pkl): first-layer filters",
        &book,
    )?;
    Ok(())
}

/// The first convolution's weights `(30, 1, 5, 5)`, in f64.
fn first_filters<T: zero_nn::core::Float>(net: &dyn Module<T>) -> Result<ArrayD<f64>> {
    net.parameters()
        .into_iter()
        .map(|(_, p)| p.array())
        .find(|a| a.ndim() == 4)
        .map(|a| a.mapv(|v| v.as_f64()))
        .ok_or_else(|| "the network has no convolution".into())
}

/// Each filter's first input channel as an image.
fn filter_views(w: &ArrayD<f64>) -> Vec<ArrayView2<'_, f64>> {
    w.outer_iter()
        .map(|f| {
            f.index_axis_move(Axis(0), 0)
                .into_dimensionality()
                .expect("a filter is (in, kh, kw)")
        })
        .collect()
}

fn grid(path: &std::path::Path, title: &str, w: &ArrayD<f64>) -> Result<()> {
    let pictures: Vec<Picture> = filter_views(w)
        .into_iter()
        .enumerate()
        .map(|(i, f)| Picture::new(f, format!("{}", i + 1), Scale::MinMax))
        .collect();
    write_grid(path, title, &pictures, 10, 70)
}

fn report(label: &str, w: &ArrayD<f64>) {
    let filters = filter_views(w);
    let std = {
        let n = w.len() as f64;
        let mean = w.sum() / n;
        (w.mapv(|v| (v - mean).powi(2)).sum() / n).sqrt()
    };
    println!(
        "{label}: {} filters {}×{}, weight std {std:.4}, neighbour correlation {:.3}",
        filters.len(),
        filters[0].nrows(),
        filters[0].ncols(),
        neighbour_correlation(&filters)
    );
}

/// The Pearson correlation of every pair of horizontally or vertically adjacent weights within
/// a filter, each filter centred on its own mean: near 0 for noise, near 1 for smooth filters.
fn neighbour_correlation(filters: &[ArrayView2<'_, f64>]) -> f64 {
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for f in filters {
        let mean = f.mean().unwrap_or(0.0);
        let (rows, cols) = f.dim();
        for r in 0..rows {
            for c in 0..cols {
                let a = f[[r, c]] - mean;
                for (dr, dc) in [(0, 1), (1, 0)] {
                    if r + dr < rows && c + dc < cols {
                        let b = f[[r + dr, c + dc]] - mean;
                        sab += a * b;
                        saa += a * a;
                        sbb += b * b;
                    }
                }
            }
        }
    }
    sab / (saa * sbb).sqrt().max(f64::MIN_POSITIVE)
}
