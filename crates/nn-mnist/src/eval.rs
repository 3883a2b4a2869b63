//! `nn-mnist eval`: a checkpoint of `train` on its test set — accuracy and confusion matrix.

use std::path::{Path, PathBuf};

use clap::Args;
use nn_data::DatasetKind;
use nn_layers::Module;
use nn_layers::checkpoint::{load, read_metadata};
use nn_train::metrics::{accuracy, confusion, predict};
use nn_train::{Arch, InitChoice, TrainError};

use crate::{DataArgs, fetch_options, test_split};

#[derive(Args)]
pub struct EvalArgs {
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
    pub data: DataArgs,
}

pub fn run(args: &EvalArgs) -> Result<(), TrainError> {
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

/// The newest `.safetensors` file in `dir` (by modification time).
pub fn newest_checkpoint(dir: &Path) -> Result<PathBuf, TrainError> {
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
pub fn recorded(
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
