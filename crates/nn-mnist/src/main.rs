//! `nn-mnist`: the book's chapter 3 (MNIST inference with `sample_weight.pkl`), and training
//! and evaluation of MLPs on MNIST and Fashion-MNIST.
// The options' doc comments are clap's --help text, where `<run>` is a placeholder, not HTML.
#![allow(rustdoc::invalid_html_tags)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Parser, Subcommand, ValueEnum};
use nn_data::{DatasetKind, FetchOptions, LoadOptions, Split};
use nn_layers::Module;
use nn_layers::checkpoint::{load, read_metadata, save_with_metadata};
use nn_train::metrics::{accuracy, confusion, predict};
use nn_train::report::{csv, svg, write_atomic};
use nn_train::train::{EpochStats, OptimizerKind, TrainConfig, parallel_trainer, train};
use nn_train::{Arch, InitChoice, TrainError, book};

use crate::models::Spec;
use nn_data::NamedArrays;

mod input;
mod models;
mod serve;

// glibc's malloc returned the heap top to the OS and faulted it back in on every data-parallel
// training step (docs/performance.md, "Threads in a training step").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// MNIST with zero-nn: the book's chapter 3, and training your own networks.
#[derive(Parser)]
#[command(name = "nn-mnist", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    infer: InferArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Classify the MNIST test set with the book's pretrained network, as in book 1 ch.3.6
    /// (the default command).
    Infer(InferArgs),
    /// Train a network and save it (the training loop of book 1 ch.4.5).
    Train(TrainArgs),
    /// Evaluate a saved network on a test set.
    Eval(EvalArgs),
    /// A web page to draw digits on, read by the book's networks, and its JSON API.
    Serve(ServeArgs),
    /// Classify picture files (PNG, JPEG, BMP, GIF; any size, either polarity).
    Predict(PredictArgs),
}

/// Where data comes from.
#[derive(Args, Clone)]
struct DataArgs {
    /// Mirrors to fetch data and weights from: directories, file:// or http(s):// URLs,
    /// comma-separated (default: $NN_DATA_MIRROR, else the public mirrors).
    #[arg(long, global = true)]
    mirror: Option<String>,
    /// Cache directory for downloaded files (default: $NN_DATA_DIR, else ./datasets).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Threads to use (default: $NN_NUM_THREADS, else every core): inference splits its matrix
    /// products and batches; `train` with 2 or more splits every batch over them (data-parallel).
    #[arg(long, global = true, value_parser = clap::value_parser!(u64).range(1..=1024))]
    threads: Option<u64>,
}

#[derive(Args, Clone)]
struct InferArgs {
    /// Which of the book's trained networks to run.
    #[arg(long, value_enum, default_value = "ch3")]
    net: BookNet,
    /// The weights: a pickle (.pkl) or .npz of the network's arrays (default: the book's
    /// file for --net, fetched and checksum-verified).
    #[arg(long)]
    weights: Option<PathBuf>,
    /// Images per batch for the batched pass.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    batch_size: u64,
    #[command(flatten)]
    data: DataArgs,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BookNet {
    /// Ch.3.6: 784-50-100-10, sigmoid (sample_weight.pkl).
    Ch3,
    /// Ch.7.5: SimpleConvNet, conv 30×5×5 → pool → 100 → 10 (ch07/params.pkl).
    SimpleConvnet,
    /// Ch.8.1: DeepConvNet, six 3×3 convolutions → 50 → 10 (ch08/deep_convnet_params.pkl).
    DeepConvnet,
}

impl BookNet {
    /// The book's file of the network's trained weights.
    fn file(self) -> &'static nn_data::RemoteFile {
        match self {
            BookNet::Ch3 => &nn_data::SAMPLE_WEIGHT,
            BookNet::SimpleConvnet => &nn_data::SIMPLE_CONVNET_PARAMS,
            BookNet::DeepConvnet => &nn_data::DEEP_CONVNET_PARAMS,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum ArchName {
    /// 784-50-100-10, sigmoid (the book's chapter-3 shape).
    BookCh3,
    /// 784-100-10, ReLU.
    Mlp,
    /// 784-256-256-10, ReLU (with --batch-norm and --dropout).
    MlpDeep,
    /// The book's SimpleConvNet (ch.7.5): conv 30×5×5, ReLU, max pool, Affine 100, ReLU, Affine 10.
    SimpleConvnet,
    /// The book's DeepConvNet (ch.8.1): six 3×3 convolutions, three max pools, Affine 50, Dropout, Affine 10, Dropout.
    DeepConvnet,
}

#[derive(Args)]
struct TrainArgs {
    /// Network architecture.
    #[arg(long, value_enum, default_value = "mlp")]
    arch: ArchName,
    /// Add BatchNorm after each hidden layer (mlp-deep; book 1 ch.6.3).
    #[arg(long)]
    batch_norm: bool,
    /// Dropout probability after each hidden layer (mlp-deep; book 1 ch.6.4.3).
    #[arg(long, default_value_t = 0.0)]
    dropout: f64,
    /// Data set to train on.
    #[arg(long, value_enum, default_value = "mnist")]
    dataset: DatasetKind,
    /// Optimizer (book 1 ch.6.1).
    #[arg(long, value_enum, default_value = "sgd")]
    optimizer: OptimizerKind,
    /// Learning rate (default: 0.1 for sgd, 0.01 momentum/nesterov/adagrad, 0.001 rmsprop/adam/adamw).
    #[arg(long)]
    lr: Option<f64>,
    /// L2 weight decay λ (book 1 ch.6.4.2; decoupled for adamw).
    #[arg(long, default_value_t = 0.0)]
    weight_decay: f64,
    /// Clip gradients to this global norm.
    #[arg(long)]
    clip: Option<f64>,
    /// Passes over the training set.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    epochs: u64,
    /// Examples per step.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    batch_size: u64,
    /// Seed for initial weights, shuffling and dropout.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Weight initialisation (book 1 ch.6.2).
    #[arg(long, value_enum, default_value = "auto")]
    init: InitChoice,
    /// Skip measuring accuracy on the training set each epoch (saves time).
    #[arg(long)]
    no_train_accuracy: bool,
    /// Directory for the run's files: <arch>-<dataset>-<run>.safetensors (the checkpoint),
    /// .csv (history) and .svg (curves), <run> one more than the highest there.
    #[arg(long, default_value = "runs")]
    out_dir: PathBuf,
    /// Checkpoint file instead (safetensors; the .csv and .svg go beside it).
    #[arg(long, visible_alias = "out")]
    checkpoint: Option<PathBuf>,
    /// Replace the files --checkpoint names if they exist (a new run never replaces an
    /// earlier one otherwise).
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    data: DataArgs,
}

#[derive(Args)]
struct EvalArgs {
    /// The checkpoint written by `nn-mnist train` (default: the newest .safetensors in
    /// --runs-dir).
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Where `train` writes its runs.
    #[arg(long, default_value = "runs")]
    runs_dir: PathBuf,
    /// Data set (default: the one the checkpoint was trained on).
    #[arg(long, value_enum)]
    dataset: Option<DatasetKind>,
    /// Architecture (default: the one recorded in the checkpoint), e.g. mlp, mlp-deep+bn.
    #[arg(long)]
    arch: Option<String>,
    #[command(flatten)]
    data: DataArgs,
}

/// The networks `serve` and `predict` run.
#[derive(Args)]
struct ModelArgs {
    /// The book's trained networks to run, comma-separated [default: ch3,deep-convnet, leaving
    /// out one whose weights cannot be fetched].
    #[arg(long, value_enum, value_delimiter = ',')]
    nets: Option<Vec<BookNet>>,
    /// The chapter-3 network's weights (.pkl or .npz) instead of the book's file.
    #[arg(long)]
    weights: Option<PathBuf>,
    /// A checkpoint of `train` to run as well (default: the newest in --runs-dir, if there is
    /// one).
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Where `train` writes its runs.
    #[arg(long, default_value = "runs")]
    runs_dir: PathBuf,
    #[command(flatten)]
    data: DataArgs,
}

#[derive(Args)]
struct ServeArgs {
    /// The address to listen on; the default is reachable from this machine only.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: std::net::SocketAddr,
    #[command(flatten)]
    models: ModelArgs,
}

#[derive(Args)]
struct PredictArgs {
    /// Picture files of one digit each.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// How many classes to print for each network.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=10))]
    top: u64,
    #[command(flatten)]
    models: ModelArgs,
}

fn fetch_options(data: &DataArgs) -> Result<FetchOptions, TrainError> {
    let mut opts = FetchOptions::from_env()?;
    if let Some(list) = &data.mirror {
        opts.mirrors = nn_data::fetch::parse_mirror_list(list)?;
    }
    if let Some(dir) = &data.data_dir {
        opts.cache_dir = dir.clone();
    }
    Ok(opts)
}

fn test_split(kind: DatasetKind, opts: &FetchOptions) -> Result<nn_data::Dataset, TrainError> {
    Ok(nn_data::load(
        kind,
        Split::Test,
        opts,
        LoadOptions::default(),
    )?)
}

fn rate(images: usize, seconds: f64) -> f64 {
    images as f64 / seconds.max(1e-9)
}

/// The arrays of `weights`, or else of the book's file `spec`, fetched and verified; with the
/// name to report them by.
fn book_weights(
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

fn infer(args: &InferArgs) -> Result<(), TrainError> {
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
    let started = Instant::now();
    let one = predict(&mut net, &test.images, 1);
    let t1 = started.elapsed().as_secs_f64();
    // Python's str(float): the book prints "Accuracy:" + str(float(accuracy_cnt) / len(x)).
    println!(
        "one image at a time:  Accuracy: {}  ({t1:.3} s, {:.0} images/s)",
        accuracy(&one, &truth),
        rate(n, t1)
    );
    let batch = usize::try_from(args.batch_size).unwrap_or(usize::MAX);
    let started = Instant::now();
    let batched = predict(&mut net, &test.images, batch);
    let tb = started.elapsed().as_secs_f64();
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

fn train_command(args: &TrainArgs) -> Result<(), TrainError> {
    let arch = match args.arch {
        ArchName::BookCh3 => Arch::BookCh3,
        ArchName::Mlp => Arch::Mlp,
        ArchName::MlpDeep => Arch::MlpDeep {
            batch_norm: args.batch_norm,
            dropout: args.dropout,
        },
        ArchName::SimpleConvnet => Arch::SimpleConvNet,
        ArchName::DeepConvnet => Arch::DeepConvNet,
    };
    if !matches!(arch, Arch::MlpDeep { .. }) && (args.batch_norm || args.dropout > 0.0) {
        return Err(TrainError::Usage(
            "--batch-norm and --dropout apply to --arch mlp-deep only".into(),
        ));
    }
    if !(0.0..1.0).contains(&args.dropout) {
        return Err(TrainError::Usage(format!(
            "--dropout must be in [0, 1), got {}",
            args.dropout
        )));
    }
    let lr = args.lr.unwrap_or_else(|| args.optimizer.default_lr());
    if !(lr > 0.0 && lr.is_finite()) {
        return Err(TrainError::Usage(format!(
            "--lr must be positive, got {lr}"
        )));
    }
    // Decided before training, so that a run that would replace files stops at once.
    let checkpoint = run_paths(args, &arch)?;
    let opts = fetch_options(&args.data)?;
    let data = nn_data::load(args.dataset, Split::Train, &opts, LoadOptions::default())?;
    let test = test_split(args.dataset, &opts)?;
    let mut net = arch.build(args.init, args.seed);
    let mut optimizer = args
        .optimizer
        .build(net.parameter_tensors(), lr, args.weight_decay);
    let config = TrainConfig {
        epochs: usize::try_from(args.epochs).unwrap_or(usize::MAX),
        batch_size: usize::try_from(args.batch_size).unwrap_or(usize::MAX),
        seed: args.seed,
        clip: args.clip,
        train_accuracy: !args.no_train_accuracy,
    };
    println!(
        "training {arch} on {} ({} train, {} test images): {:?} lr {lr}, batch {}, {} epochs, seed {}",
        args.dataset.name(),
        data.len(),
        test.len(),
        args.optimizer,
        config.batch_size,
        config.epochs,
        config.seed
    );
    let threads = nn_core::kernels::num_threads();
    let report = |s: &EpochStats| {
        let train_acc = s
            .train_accuracy
            .map_or_else(String::new, |a| format!("  train acc {a:.4}"));
        println!(
            "epoch {}/{}  loss {:.4}{train_acc}  test acc {:.4}  {:.1} s ({:.0} samples/s)",
            s.epoch,
            config.epochs,
            s.train_loss,
            s.test_accuracy,
            s.seconds,
            rate(data.len(), s.seconds)
        );
    };
    // Both cores on every step: with two threads or more the batch is split, each helper
    // thread with its own replica (docs/architecture.md). Replicas differ only in their Dropout
    // seeds.
    let mut parallel = (threads > 1).then(|| {
        let (init, seed) = (args.init, args.seed);
        let replica = std::sync::atomic::AtomicU64::new(1);
        parallel_trainer(threads, move || {
            let k = replica.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            arch.build(
                init,
                seed.wrapping_add(k.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
            )
        })
    });
    let history = train(
        &mut net,
        parallel.as_mut(),
        optimizer.as_mut(),
        &data,
        &test,
        &config,
        report,
    )?;
    net.eval();
    // The run's facts travel with the weights; `eval` reads the architecture from them.
    let arch_name = arch.to_string();
    let (epochs, optimizer_name, lr_text) = (
        config.epochs.to_string(),
        format!("{:?}", args.optimizer).to_lowercase(),
        lr.to_string(),
    );
    let accuracy = history
        .last()
        .map_or_else(String::new, |s| format!("{:.4}", s.test_accuracy));
    let mut facts = vec![
        ("arch", arch_name.as_str()),
        ("dataset", args.dataset.name()),
        ("epochs", epochs.as_str()),
        ("optimizer", optimizer_name.as_str()),
        ("lr", lr_text.as_str()),
    ];
    if !accuracy.is_empty() {
        facts.push(("test_accuracy", accuracy.as_str()));
    }
    save_with_metadata(&checkpoint, &net, &facts)?;
    let csv_path = checkpoint.with_extension("csv");
    write_atomic(&csv_path, csv(&history).as_bytes())?;
    let svg_path = checkpoint.with_extension("svg");
    let title = format!(
        "{arch} on {}, {:?} lr {lr}",
        args.dataset.name(),
        args.optimizer
    );
    write_atomic(&svg_path, svg(&history, &title)?.as_bytes())?;
    if let Some(last) = history.last() {
        println!("final test accuracy: {:.4}", last.test_accuracy);
    }
    println!(
        "wrote {}, {} and {}",
        checkpoint.display(),
        csv_path.display(),
        svg_path.display()
    );
    Ok(())
}

/// The checkpoint path of a new run (its .csv and .svg go beside it): `--checkpoint` as given,
/// refused if any of the three files exists unless `--force`; else the next run number in
/// `--out-dir`.
fn run_paths(args: &TrainArgs, arch: &Arch) -> Result<PathBuf, TrainError> {
    let report = |path: &Path, e: std::io::Error| TrainError::Report {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    if let Some(path) = &args.checkpoint {
        if !args.force {
            for p in [
                path.clone(),
                path.with_extension("csv"),
                path.with_extension("svg"),
            ] {
                if p.exists() {
                    return Err(TrainError::Usage(format!(
                        "{} exists; pass --force to replace it, or name another file",
                        p.display()
                    )));
                }
            }
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| report(dir, e))?;
        }
        return Ok(path.clone());
    }
    let dir = &args.out_dir;
    std::fs::create_dir_all(dir).map_err(|e| report(dir, e))?;
    let stem = format!("{}-{}-", arch, args.dataset.name());
    let mut last = 0u64;
    for entry in std::fs::read_dir(dir)
        .map_err(|e| report(dir, e))?
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        let run = name
            .strip_prefix(&stem)
            .and_then(|rest| rest.split('.').next())
            .and_then(|n| n.parse::<u64>().ok());
        last = last.max(run.unwrap_or(0));
    }
    Ok(dir.join(format!("{stem}{}.safetensors", last + 1)))
}

/// The newest `.safetensors` file in `dir` (by modification time).
fn newest_checkpoint(dir: &Path) -> Result<PathBuf, TrainError> {
    let none = || {
        TrainError::Usage(format!(
            "no checkpoint in {}; train one first, or pass --checkpoint",
            dir.display()
        ))
    };
    let entries = std::fs::read_dir(dir).map_err(|_| none())?;
    entries
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "safetensors"))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .max()
        .map(|(_, path)| path)
        .ok_or_else(none)
}

/// The architecture and data set of a checkpoint, as its metadata records them unless given.
fn recorded(
    checkpoint: &Path,
    arch: Option<&str>,
    dataset: Option<DatasetKind>,
) -> Result<(Arch, DatasetKind), TrainError> {
    let metadata = read_metadata(checkpoint)?;
    let meta = |key: &str| {
        metadata
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    let arch_name = arch
        .map(str::to_string)
        .or_else(|| meta("arch"))
        .ok_or_else(|| {
            TrainError::Usage(format!(
                "{}: the checkpoint does not record its architecture; pass --arch",
                checkpoint.display()
            ))
        })?;
    let arch: Arch = arch_name.parse()?;
    let dataset = match dataset {
        Some(d) => d,
        None => meta("dataset")
            .and_then(|name| name.parse::<DatasetKind>().ok())
            .ok_or_else(|| {
                TrainError::Usage(format!(
                    "{}: the checkpoint does not record its data set; pass --dataset",
                    checkpoint.display()
                ))
            })?,
    };
    Ok((arch, dataset))
}

/// The networks of `--nets` and the checkpoint. A book network named by default that cannot
/// be fetched, or a newest run that does not load, is left out with a warning; one asked for
/// explicitly is an error.
fn model_specs(args: &ModelArgs) -> Result<Vec<Spec>, TrainError> {
    let opts = fetch_options(&args.data)?;
    let mut specs = Vec::new();
    let explicit_nets = args.nets.is_some();
    let nets = args
        .nets
        .clone()
        .unwrap_or_else(|| vec![BookNet::Ch3, BookNet::DeepConvnet]);
    for net in &nets {
        let spec = match net {
            BookNet::Ch3 => {
                let (arrays, source) = book_weights(args.weights.as_deref(), net.file(), &opts)?;
                Spec::ch3(arrays, &source)
            }
            BookNet::SimpleConvnet | BookNet::DeepConvnet => {
                let build = match net {
                    BookNet::SimpleConvnet => Spec::simple_convnet,
                    _ => Spec::deep_convnet,
                };
                match book_weights(None, net.file(), &opts) {
                    Ok((arrays, source)) => build(arrays, &source),
                    Err(e) if !explicit_nets => {
                        eprintln!(
                            "nn-mnist: warning: leaving out {}: {}",
                            net.to_possible_value()
                                .map_or_else(String::new, |v| v.get_name().to_string()),
                            one_line(&e.to_string())
                        );
                        continue;
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        specs.push(spec);
    }
    let (path, explicit) = match &args.checkpoint {
        Some(path) => (Some(path.clone()), true),
        None => (newest_checkpoint(&args.runs_dir).ok(), false),
    };
    if let Some(path) = path {
        let spec = recorded(&path, None, None).and_then(|(arch, dataset)| {
            let bytes = std::fs::read(&path).map_err(|e| TrainError::Report {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            let spec = Spec::checkpoint(path.clone(), bytes, arch, dataset);
            spec.build()?;
            Ok(spec)
        });
        match spec {
            Ok(spec) => specs.push(spec),
            Err(e) if !explicit => {
                eprintln!(
                    "nn-mnist: warning: leaving out {}: {}",
                    path.display(),
                    one_line(&e.to_string())
                );
            }
            Err(e) => return Err(e),
        }
    }
    if specs.is_empty() {
        return Err(TrainError::Usage("no network to run".into()));
    }
    Ok(specs)
}

fn serve_command(args: &ServeArgs) -> Result<(), TrainError> {
    let specs = model_specs(&args.models)?;
    // One request is one image: workers run side by side, each on one thread.
    let workers = args
        .models
        .data
        .threads
        .map_or_else(nn_core::kernels::num_threads, |n| {
            usize::try_from(n).unwrap_or(1)
        });
    nn_core::kernels::set_num_threads(1);
    if !args.addr.ip().is_loopback() {
        eprintln!(
            "nn-mnist: warning: listening on {}: other machines can reach this server",
            args.addr
        );
    }
    let names: Vec<String> = specs.iter().map(|s| s.info.name.clone()).collect();
    serve::serve(specs, args.addr, workers, |bound| {
        println!(
            "serving {} on http://{bound}/ ({workers} workers; Ctrl-C to stop)",
            names.join(", ")
        );
    })
    .map_err(TrainError::Usage)
}

fn predict_command(args: &PredictArgs) -> Result<(), TrainError> {
    let specs = model_specs(&args.models)?;
    let mut models = specs
        .iter()
        .map(Spec::build)
        .collect::<Result<Vec<_>, _>>()?;
    let top = usize::try_from(args.top).unwrap_or(3);
    let width = models
        .iter()
        .map(|m| m.info().name.len())
        .max()
        .unwrap_or(0);
    let mut failed = 0;
    for file in &args.files {
        let image = match input::from_file(file) {
            Ok(image) => image,
            Err(e) => {
                eprintln!("nn-mnist: error: {e}");
                failed += 1;
                continue;
            }
        };
        println!("{}:", file.display());
        for model in &mut models {
            let p = model.predict(&image);
            let mut order: Vec<usize> = (0..p.probabilities.len()).collect();
            order.sort_by(|&a, &b| p.probabilities[b].total_cmp(&p.probabilities[a]));
            let classes = &model.info().classes;
            let best: Vec<String> = order
                .iter()
                .take(top)
                .map(|&k| format!("{} ({:.1}%)", classes[k], 100.0 * p.probabilities[k]))
                .collect();
            println!("  {:<width$}  {}", model.info().name, best.join("  "));
        }
    }
    if failed > 0 {
        return Err(TrainError::Usage(format!(
            "{failed} of {} files could not be read",
            args.files.len()
        )));
    }
    Ok(())
}

fn eval(args: &EvalArgs) -> Result<(), TrainError> {
    let checkpoint = match &args.checkpoint {
        Some(path) => path.clone(),
        None => newest_checkpoint(&args.runs_dir)?,
    };
    let (arch, dataset) = recorded(&checkpoint, args.arch.as_deref(), args.dataset)?;
    let mut net = arch.build(InitChoice::Auto, 0);
    load(&checkpoint, &mut net)?;
    net.eval();
    let opts = fetch_options(&args.data)?;
    let test = test_split(dataset, &opts)?;
    let truth = test.labels.classes();
    let predicted = predict(&mut net, &test.images, 1000);
    println!(
        "{arch} from {} on the {} test set ({} images)",
        checkpoint.display(),
        dataset.name(),
        truth.len()
    );
    println!("test accuracy: {:.4}", accuracy(&predicted, &truth));
    println!("confusion matrix (rows: true class, columns: predicted):");
    let m = confusion(&predicted, &truth);
    print!("     ");
    for p in 0..10 {
        print!("{p:>6}");
    }
    println!();
    for (t, row) in m.iter().enumerate() {
        print!("{t:>5}");
        for count in row {
            print!("{count:>6}");
        }
        println!();
    }
    Ok(())
}

/// One line, whatever the error: multi-line details (mirrors tried) are joined.
fn one_line(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if !out.is_empty() {
            out.push_str(if out.ends_with(':') { " " } else { "; " });
        }
        out.push_str(line);
    }
    out
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            eprintln!("nn-mnist: error: {first} (see nn-mnist --help)");
            return ExitCode::from(2);
        }
    };
    let data = match &cli.command {
        None => &cli.infer.data,
        Some(Command::Infer(args)) => &args.data,
        Some(Command::Train(args)) => &args.data,
        Some(Command::Eval(args)) => &args.data,
        Some(Command::Serve(args)) => &args.models.data,
        Some(Command::Predict(args)) => &args.models.data,
    };
    if let Some(n) = data.threads {
        nn_core::kernels::set_num_threads(usize::try_from(n).unwrap_or(1));
    }
    let result = match &cli.command {
        None => infer(&cli.infer),
        Some(Command::Infer(args)) => infer(args),
        Some(Command::Train(args)) => train_command(args),
        Some(Command::Eval(args)) => eval(args),
        Some(Command::Serve(args)) => serve_command(args),
        Some(Command::Predict(args)) => predict_command(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nn-mnist: error: {}", one_line(&e.to_string()));
            ExitCode::FAILURE
        }
    }
}
