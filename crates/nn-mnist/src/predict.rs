//! `nn-mnist predict`: picture files of digits (any size, either polarity), each prepared as
//! the MNIST digits were and read by the networks `serve` runs.

use std::path::PathBuf;

use clap::Args;
use nn_train::TrainError;

use crate::input::{self, InputError};
use crate::models::{ModelArgs, Spec, model_specs};

/// `nn-mnist predict`'s options.
#[derive(Args)]
pub struct PredictArgs {
    /// Picture files of one digit each.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// How many classes to print for each network.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=10))]
    top: u64,
    #[command(flatten)]
    pub models: ModelArgs,
}

/// Reads every file of `args` with every network; a file that cannot be read, or that holds
/// no digit, is reported and makes the command fail after the others are read.
pub fn run(args: &PredictArgs) -> Result<(), TrainError> {
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
    let (mut unreadable, mut blank) = (0, 0);
    for file in &args.files {
        let image = match input::from_file(file) {
            Ok(image) => image,
            Err(InputError::NoInk(message)) => {
                // Not a digit: said beside the file, where its classes would be.
                println!("{}:\n  {message}", file.display());
                blank += 1;
                continue;
            }
            Err(e) => {
                eprintln!("nn-mnist: error: {}: {e}", file.display());
                unreadable += 1;
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
    let n = args.files.len();
    let problems: Vec<String> = [
        (unreadable, "could not be read"),
        (blank, "had no digit (no ink)"),
    ]
    .iter()
    .filter(|(count, _)| *count > 0)
    .map(|(count, what)| format!("{count} of {n} files {what}"))
    .collect();
    if !problems.is_empty() {
        return Err(TrainError::Usage(problems.join("; ")));
    }
    Ok(())
}
