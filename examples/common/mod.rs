//! What every example shares: the command line (`--quick`, `--out`, `--dataset`), the output
//! folder, atomic SVG writing, line charts, and MNIST loading.
// Each example uses a part of this module.
#![allow(dead_code)]

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use plotters::prelude::*;
use zero_nn::data::{
    Dataset, FashionMnist, FetchOptions, LoadOptions, Mnist, NumpyArray, RemoteFile, Split,
    TrainTest,
};

pub mod pictures;

/// The result type of the examples: any error, printed as one line by [`main`].
pub type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// The options every example takes.
#[derive(Debug, Clone, clap::Args)]
pub struct Common {
    /// Small sizes and few epochs: a run of a few seconds that still draws every figure
    /// (also set by the environment variable ZERO_NN_QUICK=1).
    #[arg(long)]
    pub quick: bool,
    /// Where to write the figures [default: figures/<example>].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

impl Common {
    /// `--quick` or `ZERO_NN_QUICK=1`.
    pub fn quick(&self) -> bool {
        self.quick || std::env::var("ZERO_NN_QUICK").is_ok_and(|v| v == "1")
    }

    /// The output folder, created if missing.
    pub fn out_dir(&self, example: &str) -> Result<PathBuf> {
        let dir = self
            .out
            .clone()
            .unwrap_or_else(|| Path::new("figures").join(example));
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create the output folder {}: {e}", dir.display()))?;
        Ok(dir)
    }

    /// `full` normally, `quick` with `--quick`.
    pub fn pick<T>(&self, full: T, quick: T) -> T {
        if self.quick() { quick } else { full }
    }
}

/// The data-set option of the MNIST experiments.
#[derive(Debug, Clone, clap::Args)]
pub struct DataChoice {
    /// The data set: MNIST as the book, or Fashion-MNIST.
    #[arg(long, value_enum, default_value = "mnist")]
    pub dataset: DatasetArg,
}

/// Which 28×28 data set the MNIST experiments use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DatasetArg {
    /// Handwritten digits, as in the book.
    Mnist,
    /// Zalando's clothing images (same format, harder).
    FashionMnist,
}

impl DatasetArg {
    /// The name used in printed lines and figure titles.
    pub fn name(self) -> &'static str {
        match self {
            DatasetArg::Mnist => "MNIST",
            DatasetArg::FashionMnist => "Fashion-MNIST",
        }
    }

    /// Both splits, flattened and normalised (the book's `load_mnist(normalize=True)`).
    pub fn load(self) -> Result<TrainTest> {
        let fetch = FetchOptions::from_env()?;
        let opts = LoadOptions::default();
        let data = match self {
            DatasetArg::Mnist => Mnist::load(&fetch, opts)?,
            DatasetArg::FashionMnist => FashionMnist::load(&fetch, opts)?,
        };
        Ok(data)
    }

    /// One split, flattened and normalised.
    pub fn load_split(self, split: Split) -> Result<Dataset> {
        let fetch = FetchOptions::from_env()?;
        let opts = LoadOptions::default();
        let data = match self {
            DatasetArg::Mnist => Mnist::load_split(split, &fetch, opts)?,
            DatasetArg::FashionMnist => FashionMnist::load_split(split, &fetch, opts)?,
        };
        Ok(data)
    }
}

/// The arrays of one of the book's pickled weight files, fetched (checksum-verified) from its
/// public URL or a mirror (`NN_DATA_MIRROR`), as `nn-mnist infer` does.
pub fn book_arrays(spec: &RemoteFile) -> Result<Vec<(String, NumpyArray)>> {
    let fetched = zero_nn::data::fetch(spec, &FetchOptions::from_env()?)?;
    Ok(zero_nn::data::numpy::parse_pickle(
        &fetched.content,
        spec.name,
    )?)
}

/// The book's trained SimpleConvNet (`ch07/params.pkl`) in float64, every array's shape checked
/// (`nn_mnist::book::simple_convnet`).
pub fn book_simple_convnet() -> Result<zero_nn::layers::Sequential<f64>> {
    let spec = &zero_nn::data::SIMPLE_CONVNET_PARAMS;
    Ok(nn_mnist::book::simple_convnet(
        &book_arrays(spec)?,
        spec.name,
    )?)
}

/// Runs an example's body and turns an error into one line on stderr and exit code 1.
pub fn main(example: &str, run: impl FnOnce() -> Result<()>) -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{example}: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Draws into an SVG in memory, then writes it atomically (temporary file + rename) and says so.
pub fn write_svg(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(DrawingArea<SVGBackend<'_>, plotters::coord::Shift>) -> Result<()>,
) -> Result<()> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE)?;
        draw(root.clone())?;
        root.present()?;
    }
    nn_mnist::report::write_atomic(path, svg.as_bytes())?;
    println!("wrote {}", path.display());
    Ok(())
}

/// One named curve of a line chart.
pub struct Curve {
    /// The legend entry.
    pub label: String,
    /// The points, in x order.
    pub points: Vec<(f64, f64)>,
}

impl Curve {
    /// A curve from its label and points.
    pub fn new(label: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Curve {
            label: label.into(),
            points,
        }
    }
}

/// The colour of the `i`-th curve.
pub fn colour(i: usize) -> RGBColor {
    const PALETTE: [RGBColor; 8] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
    ];
    PALETTE[i % PALETTE.len()]
}

/// The range of the finite values, padded by 5% (and never empty).
pub fn padded_range(values: impl IntoIterator<Item = f64>) -> std::ops::Range<f64> {
    let (lo, hi) = values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        return 0.0..1.0;
    }
    // A flat curve still gets a readable axis.
    let pad = if hi - lo < 1e-12 {
        lo.abs().max(1.0) * 0.5
    } else {
        (hi - lo) * 0.05
    };
    lo - pad..hi + pad
}

/// A line chart of `curves` on `area`, with a legend; `log_y` plots log10 of y.
pub fn line_chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    (x_desc, y_desc): (&str, &str),
    curves: &[Curve],
    log_y: bool,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let map = |y: f64| if log_y { y.max(1e-300).log10() } else { y };
    let xs = padded_range(curves.iter().flat_map(|c| c.points.iter().map(|p| p.0)));
    let ys = padded_range(
        curves
            .iter()
            .flat_map(|c| c.points.iter().map(|p| map(p.1))),
    );
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(55)
        .build_cartesian_2d(xs, ys)?;
    let y_desc = if log_y {
        format!("log10 {y_desc}")
    } else {
        y_desc.to_string()
    };
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .draw()
        .map_err(|e| e.to_string())?;
    for (i, c) in curves.iter().enumerate() {
        let col = colour(i);
        chart
            .draw_series(LineSeries::new(
                c.points.iter().map(|&(x, y)| (x, map(y))),
                col.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?
            .label(c.label.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], col.stroke_width(2)));
    }
    if curves.len() < 2 {
        return Ok(());
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// The moving average over `window` points (the book smooths its loss curves the same way).
pub fn smooth(values: &[f64], window: usize) -> Vec<f64> {
    let window = window.max(1);
    let mut out = Vec::with_capacity(values.len());
    let mut sum = 0.0;
    for (i, v) in values.iter().enumerate() {
        sum += v;
        if i >= window {
            sum -= values[i - window];
        }
        out.push(sum / (i + 1).min(window) as f64);
    }
    out
}

/// The first `n` examples of `data` (all of them if it has fewer).
pub fn first(data: &Dataset, n: usize) -> Dataset {
    let idx: Vec<usize> = (0..n.min(data.len())).collect();
    data.select(&idx)
}

/// A mini-batch of `size` examples drawn with replacement, as the book's
/// `np.random.choice(train_size, batch_size)`: the images as a tensor and their classes.
pub fn random_batch<R: rand::Rng>(
    rng: &mut R,
    images: &ndarray::ArrayD<f32>,
    classes: &[usize],
    size: usize,
) -> (zero_nn::Tensor<f32>, Vec<usize>) {
    let idx: Vec<usize> = (0..size)
        .map(|_| rng.random_range(0..classes.len()))
        .collect();
    let x = zero_nn::Tensor::from_array(images.select(ndarray::Axis(0), &idx));
    (x, idx.iter().map(|&i| classes[i]).collect())
}

/// What goes between the affine layers of [`mlp`].
#[derive(Debug, Clone, Copy)]
pub struct MlpOptions {
    /// ReLU (else sigmoid).
    pub relu: bool,
    /// The weights' initialiser.
    pub init: zero_nn::layers::Init,
    /// BatchNorm after each hidden affine layer (book 1 ch.6.3).
    pub batch_norm: bool,
    /// Dropout after each hidden activation, with this probability (book 1 ch.6.4.3).
    pub dropout: Option<f64>,
}

/// The book's `MultiLayerNet(Extend)`: affine layers of `sizes`, each hidden one followed by
/// (BatchNorm), the activation and (Dropout); biases start at zero as in the book.
pub fn mlp(sizes: &[usize], opts: MlpOptions, seed: u64) -> zero_nn::layers::Sequential<f32> {
    use rand::SeedableRng;
    use zero_nn::layers::{BatchNorm1d, Dropout, Linear, Relu, Sequential, Sigmoid};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut net = Sequential::new();
    for (i, pair) in sizes.windows(2).enumerate() {
        net = net.add(Linear::with_init(
            pair[0], pair[1], opts.init, true, &mut rng,
        ));
        if i + 2 == sizes.len() {
            break;
        }
        if opts.batch_norm {
            // The book's ε (`10e-7`): with PyTorch's 1e-5 the smallest weight scales of the
            // ch.6.3 experiment have batch variances below ε and their signal fades.
            net = net.add(BatchNorm1d::with_options(pair[1], 0.1, 1e-6));
        }
        net = if opts.relu {
            net.add(Relu)
        } else {
            net.add(Sigmoid)
        };
        if let Some(p) = opts.dropout {
            net = net.add(Dropout::new(p, seed.wrapping_add(1000 + i as u64)));
        }
    }
    net
}

/// The centres of a `cells × cells` grid over the square [-half, half]², one row per cell, x
/// varying fastest: the inputs at which a decision map or heat map is drawn.
pub fn square_grid(cells: usize, half: f64) -> ndarray::Array2<f64> {
    let step = 2.0 * half / cells as f64;
    ndarray::Array2::from_shape_fn((cells * cells, 2), |(i, k)| {
        let v = if k == 0 { i % cells } else { i / cells };
        -half + step * (v as f64 + 0.5)
    })
}

/// One network of a side-by-side comparison, with its optimizer.
pub struct Contender {
    /// Its name in printed lines and legends.
    pub name: String,
    /// The network.
    pub net: zero_nn::layers::Sequential<f32>,
    /// What updates it.
    pub opt: Box<dyn zero_nn::optim::Optimizer>,
}

/// Trains every contender on the same random mini-batches of `batch` from `train`, printing
/// the losses every 100 iterations as the book's `ch06/*_compare_mnist.py` do; returns each
/// one's loss per iteration.
pub fn train_side_by_side(
    contenders: &mut [Contender],
    train: &Dataset,
    iterations: usize,
    batch: usize,
) -> Result<Vec<Vec<f64>>> {
    use rand::SeedableRng;
    use zero_nn::layers::{Module, Reduction, Target, cross_entropy};
    let classes = nn_mnist::train::classes(&train.labels);
    let mut losses = vec![Vec::with_capacity(iterations); contenders.len()];
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    for i in 0..iterations {
        let (xb, tb) = random_batch(&mut rng, &train.images, &classes, batch);
        for (c, curve) in contenders.iter_mut().zip(&mut losses) {
            c.opt.zero_grad();
            let loss = cross_entropy(&c.net.forward(&xb), Target::Classes(&tb), Reduction::Mean);
            let value = f64::from(loss.item());
            if !value.is_finite() {
                return Err(format!("{}, iteration {i}: the loss became {value}", c.name).into());
            }
            loss.backward()?;
            c.opt.step();
            curve.push(value);
        }
        if i % 100 == 0 {
            println!("===========iteration:{i}===========");
            for (c, curve) in contenders.iter().zip(&losses) {
                println!("{}:{:.6}", c.name, curve[i]);
            }
        }
    }
    Ok(losses)
}

/// Draws the loss curves of [`train_side_by_side`] into `path`, each smoothed over 11
/// iterations as the book's `smooth_curve`.
pub fn write_loss_curves(
    path: &Path,
    title: &str,
    contenders: &[Contender],
    losses: &[Vec<f64>],
) -> Result<()> {
    let curves: Vec<Curve> = contenders
        .iter()
        .zip(losses)
        .map(|(c, curve)| {
            let points = smooth(curve, 11)
                .into_iter()
                .enumerate()
                .map(|(i, v)| (i as f64, v))
                .collect();
            Curve::new(c.name.clone(), points)
        })
        .collect();
    write_svg(path, (900, 550), |root| {
        line_chart(&root, title, ("iterations", "loss"), &curves, false)
    })
}

/// How [`train_epochs`] trains: the book's `Trainer` with SGD and batches of 100.
#[derive(Debug, Clone, Copy)]
pub struct TrainerOptions {
    /// Epochs of `N / 100` mini-batches.
    pub epochs: usize,
    /// SGD's learning rate.
    pub lr: f64,
    /// The book's weight decay: `½λΣ‖W‖²` over the weight matrices (not the biases) is added to
    /// the loss.
    pub weight_decay: f64,
    /// Print the accuracies every tenth epoch, as the book's `epoch:…, train acc:…` lines.
    pub verbose: bool,
}

/// Trains `net` with SGD on mini-batches of 100 drawn with replacement from `train`; returns
/// the accuracy on `train` and on the held-out `test` before training and after each epoch.
pub fn train_epochs(
    mut net: zero_nn::layers::Sequential<f32>,
    train: &Dataset,
    test: &Dataset,
    opts: TrainerOptions,
) -> Result<(Vec<f64>, Vec<f64>)> {
    use nn_mnist::train::evaluate;
    use rand::SeedableRng;
    use zero_nn::layers::{Module, Reduction, Target, cross_entropy};
    use zero_nn::optim::Optimizer;
    let weights: Vec<zero_nn::Tensor<f32>> = net
        .parameters()
        .into_iter()
        .filter(|(name, _)| name.ends_with("weight"))
        .map(|(_, p)| p)
        .collect();
    let classes = nn_mnist::train::classes(&train.labels);
    let mut opt = zero_nn::optim::Sgd::new(net.parameter_tensors(), opts.lr);
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let mut train_acc = vec![evaluate(&mut net, train)];
    let mut test_acc = vec![evaluate(&mut net, test)];
    let penalty = 0.5 * opts.weight_decay as f32;
    for epoch in 1..=opts.epochs {
        for _ in 0..(train.len() / 100).max(1) {
            let (xb, tb) = random_batch(&mut rng, &train.images, &classes, 100);
            opt.zero_grad();
            let mut loss = cross_entropy(&net.forward(&xb), Target::Classes(&tb), Reduction::Mean);
            if penalty > 0.0 {
                for w in &weights {
                    loss = loss.add(&w.powi(2).sum().mul_scalar(penalty));
                }
            }
            let value = loss.item();
            if !value.is_finite() {
                return Err(format!("epoch {epoch}: the loss became {value}").into());
            }
            loss.backward()?;
            opt.step();
        }
        train_acc.push(evaluate(&mut net, train));
        test_acc.push(evaluate(&mut net, test));
        if opts.verbose && (epoch % 10 == 0 || epoch == opts.epochs) {
            println!(
                "epoch:{epoch}, train acc:{:.4}, test acc:{:.4}",
                train_acc[epoch], test_acc[epoch]
            );
        }
    }
    Ok((train_acc, test_acc))
}
