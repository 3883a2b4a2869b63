//! `nn-mnist`: the book's chapter 3 (MNIST inference with `sample_weight.pkl`), training and
//! evaluation of networks on MNIST and Fashion-MNIST, and a page to draw digits on. One file per
//! subcommand; this one parses the command line and dispatches.
// The options' doc comments are clap's --help text, where `<run>` is a placeholder, not HTML.
#![allow(rustdoc::invalid_html_tags)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use nn_data::{DatasetKind, FetchOptions, LoadOptions, Split};
use nn_train::TrainError;

#[path = "../../../examples/common/alloc.rs"]
mod alloc;
mod dates;
mod eval;
mod infer;
mod input;
mod models;
mod predict;
mod serve;
mod train;

/// MNIST with zero-nn: the book's chapter 3, and training your own networks.
#[derive(Parser)]
#[command(name = "nn-mnist", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    infer: infer::InferArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Classify the MNIST test set with the book's pretrained network, as in book 1 ch.3.6
    /// (the default command).
    Infer(infer::InferArgs),
    /// Train a network and save it (the training loop of book 1 ch.4.5).
    Train(train::TrainArgs),
    /// Evaluate a saved network on a test set.
    Eval(eval::EvalArgs),
    /// A web page to draw digits on, read by the book's networks, and its JSON API.
    Serve(serve::ServeArgs),
    /// Classify picture files (PNG, JPEG, BMP, GIF; any size, either polarity).
    Predict(predict::PredictArgs),
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

/// Where data come from: the command line over the environment.
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

/// The test split of a data set.
fn test_split(kind: DatasetKind, opts: &FetchOptions) -> Result<nn_data::Dataset, TrainError> {
    Ok(nn_data::load(
        kind,
        Split::Test,
        opts,
        LoadOptions::default(),
    )?)
}

/// Images (or samples) per second.
fn rate(images: usize, seconds: f64) -> f64 {
    images as f64 / seconds.max(1e-9)
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
    // Inference and training reuse the same large arrays step after step and keep them; the
    // server answers small requests on many threads for hours and gives idle memory back.
    if !matches!(cli.command, Some(Command::Serve(_))) {
        alloc::keep_freed_memory();
    }
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
        None => infer::run(&cli.infer),
        Some(Command::Infer(args)) => infer::run(args),
        Some(Command::Train(args)) => train::run(args),
        Some(Command::Eval(args)) => eval::run(args),
        Some(Command::Serve(args)) => serve::run(args),
        Some(Command::Predict(args)) => predict::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nn-mnist: error: {}", one_line(&e.to_string()));
            ExitCode::FAILURE
        }
    }
}
