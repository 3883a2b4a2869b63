//! `nn-mnist train`: trains a network (book 1 ch.4.5's loop, ch.6's optimizers and
//! regularisation) and writes its checkpoint, history and curves into the runs folder.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use nn_data::{DatasetKind, LoadOptions, Split};
use nn_layers::Module;
use nn_layers::checkpoint::save_with_metadata;
use nn_train::report::{csv, svg, write_atomic};
use nn_train::train::{EpochStats, OptimizerKind, TrainConfig, parallel_trainer, train};
use nn_train::{Arch, InitChoice, TrainError};

use crate::{DataArgs, fetch_options, rate, test_split};

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
pub struct TrainArgs {
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
    #[arg(long, default_value = "runs", visible_alias = "out-dir")]
    runs_dir: PathBuf,
    /// Checkpoint file instead (safetensors; the .csv and .svg go beside it).
    #[arg(long, visible_alias = "out")]
    checkpoint: Option<PathBuf>,
    /// Replace the files --checkpoint names if they exist (a new run never replaces an
    /// earlier one otherwise).
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    pub data: DataArgs,
}

pub fn run(args: &TrainArgs) -> Result<(), TrainError> {
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
/// `--runs-dir`.
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
    let dir = &args.runs_dir;
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
