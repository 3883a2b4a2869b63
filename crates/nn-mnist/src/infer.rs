//! `nn-mnist infer` (the default command): the book's trained networks on the MNIST test set,
//! one image at a time and in batches — chapter 3's 0.9352, and the ch.7/ch.8 CNNs.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Args, ValueEnum};
use nn_data::{DatasetKind, FetchOptions, NamedArrays};
use nn_layers::Module;
use nn_train::metrics::{accuracy, predict};
use nn_train::{TrainError, book};

use crate::{DataArgs, fetch_options, rate, test_split};

#[derive(Args, Clone)]
pub struct InferArgs {
    /// Which of the book's trained networks to run.
    #[arg(long, value_enum, default_value = "ch3")]
    pub net: BookNet,
    /// The weights: a pickle (.pkl) or .npz of the network's arrays (default: the book's
    /// file for --net, fetched and checksum-verified).
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Images per batch for the batched pass.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch_size: u64,
    #[command(flatten)]
    pub data: DataArgs,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BookNet {
    /// Ch.3.6: 784-50-100-10, sigmoid (sample_weight.pkl).
    Ch3,
    /// Ch.7.5: SimpleConvNet, conv 30×5×5 → pool → 100 → 10 (ch07/params.pkl).
    SimpleConvnet,
    /// Ch.8.1: DeepConvNet, six 3×3 convolutions → 50 → 10 (ch08/deep_convnet_params.pkl).
    DeepConvnet,
}

impl BookNet {
    /// The book's file of the network's trained weights.
    pub fn file(self) -> &'static nn_data::RemoteFile {
        match self {
            BookNet::Ch3 => &nn_data::SAMPLE_WEIGHT,
            BookNet::SimpleConvnet => &nn_data::SIMPLE_CONVNET_PARAMS,
            BookNet::DeepConvnet => &nn_data::DEEP_CONVNET_PARAMS,
        }
    }
}

/// The arrays of `weights`, or else of the book's file `spec`, fetched and verified; with the
/// name to report them by.
pub fn book_weights(
    weights: Option<&Path>,
    spec: &nn_data::RemoteFile,
    opts: &FetchOptions,
) -> Result<(NamedArrays, String), TrainError> {
    Ok(match weights {
        Some(path) => (nn_data::read_arrays(path)?, path.display().to_string()),
        None => (
            nn_data::numpy::fetch_pickle(spec, opts)?,
            spec.name.to_string(),
        ),
    })
}

pub fn run(args: &InferArgs) -> Result<(), TrainError> {
    if args.net != BookNet::Ch3 {
        return infer_cnn(args);
    }
    let opts = fetch_options(&args.data)?;
    let (arrays, source) = book_weights(args.weights.as_deref(), args.net.file(), &opts)?;
    let mut net = book::network(&arrays, &source)?;
    net.eval();
    let test = test_split(DatasetKind::Mnist, &opts)?;
    let truth = test.labels.classes();
    let n = truth.len();
    println!(
        "The book's chapter-3 network (784-50-100-10, sigmoid, softmax) from {source}, \
         on the MNIST test set ({n} images)"
    );
    // Each pass is a few milliseconds: timed after an untimed warm-up, the best of a few.
    let (one, t1) = best_of(PASSES, || predict(&mut net, &test.images, 1));
    // Python's str(float): the book prints "Accuracy:" + str(float(accuracy_cnt) / len(x)).
    println!(
        "one image at a time:  Accuracy: {}  ({t1:.3} s, {:.0} images/s)",
        accuracy(&one, &truth),
        rate(n, t1)
    );
    let batch = usize::try_from(args.batch_size).unwrap_or(usize::MAX);
    let (batched, tb) = best_of(PASSES, || predict(&mut net, &test.images, batch));
    println!(
        "batches of {batch}:{:pad$}Accuracy: {}  ({tb:.3} s, {:.0} images/s)",
        "",
        accuracy(&batched, &truth),
        rate(n, tb),
        pad = 10usize.saturating_sub(batch.to_string().len())
    );
    println!("batched speed-up: {:.1}x", t1 / tb.max(1e-9));
    Ok(())
}

/// Timed passes of the chapter-3 network, after one untimed pass.
const PASSES: usize = 5;

/// What `pass` returns, and the shortest of `passes` timed runs of it after an untimed one
/// (which fills the caches and the allocator's pools, so that both ways are timed alike).
fn best_of<T>(passes: usize, mut pass: impl FnMut() -> T) -> (T, f64) {
    let mut out = pass();
    let mut best = f64::INFINITY;
    for _ in 0..passes {
        let started = Instant::now();
        out = pass();
        best = best.min(started.elapsed().as_secs_f64());
    }
    (out, best)
}

/// The book's trained CNNs (ch.7, ch.8) on the MNIST test set, in float64 as the book computes;
/// the counts of correct images are what `benches/compare/book_cnn.py` (the book's NumPy
/// layers) prints for the same weights.
fn infer_cnn(args: &InferArgs) -> Result<(), TrainError> {
    let opts = fetch_options(&args.data)?;
    let title = match args.net {
        BookNet::SimpleConvnet => {
            "The book's SimpleConvNet (ch.7: conv 30×5×5, ReLU, max pool 2×2, Affine 100, ReLU, Affine 10)"
        }
        _ => {
            "The book's DeepConvNet (ch.8: six 3×3 convolutions with ReLU, three max pools, Affine 50, ReLU, Dropout, Affine 10, Dropout)"
        }
    };
    let (arrays, source) = book_weights(args.weights.as_deref(), args.net.file(), &opts)?;
    let mut net = if args.net == BookNet::SimpleConvnet {
        book::simple_convnet(&arrays, &source)?
    } else {
        book::deep_convnet(&arrays, &source)?
    };
    net.eval();
    let test = test_split(DatasetKind::Mnist, &opts)?;
    let truth = test.labels.classes();
    let n = truth.len();
    println!("{title} from {source}, float64, on the MNIST test set ({n} images)");
    let batch = usize::try_from(args.batch_size).unwrap_or(usize::MAX);
    let passes = [
        ("one image at a time:".to_string(), 1),
        (format!("batches of {batch}:"), batch),
    ];
    for (label, size) in passes {
        let started = Instant::now();
        let predicted = book::classify_images(&mut net, &test.images, size);
        let t = started.elapsed().as_secs_f64();
        let correct = predicted.iter().zip(&truth).filter(|(p, t)| p == t).count();
        println!(
            "{label:<21} Accuracy: {}  ({correct} of {n} correct; {t:.3} s, {:.0} images/s)",
            accuracy(&predicted, &truth),
            rate(n, t)
        );
    }
    Ok(())
}
