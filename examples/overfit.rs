//! Book 1 ch.6.4 「正則化」: a seven-layer network overfits 300 training images; weight decay
//! (ch.6.4.2, `ch06/overfit_weight_decay.py`) and Dropout (ch.6.4.3, `ch06/overfit_dropout.py`)
//! narrow the gap between training and test accuracy.
//!
//! `cargo run --release --example overfit` → `figures/overfit/accuracy.svg`
//! (`-- --dataset fashion-mnist` for the clothing images)

mod common;

use clap::Parser;
use common::{Common, Curve, Result};
use zero_nn::layers::Init;
use zero_nn::train::{Activation, MlpOptions};

/// Trains 784-100×6-10 on 300 images: plain, with weight decay, with Dropout.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    data: common::DataChoice,
    /// Epochs of 3 mini-batches of 100 [default: 200; 10 with --quick]. The book's
    /// `max_epochs = 201` counts its evaluation before training too.
    #[arg(long)]
    epochs: Option<usize>,
    /// Weight decay λ: the loss gains ½λΣ‖W‖² over the weight matrices, as the book's.
    #[arg(long, default_value_t = 0.1)]
    weight_decay: f64,
    /// Dropout probability.
    #[arg(long, default_value_t = 0.2)]
    dropout: f64,
}

fn main() -> std::process::ExitCode {
    common::main("overfit", || run(Args::parse()))
}

fn run(args: Args) -> Result<()> {
    let out = args.common.out_dir("overfit")?;
    let epochs = args.epochs.unwrap_or(args.common.pick(200, 10));
    let data = common::load(args.data.dataset)?;
    let train_set = common::first(&data.train, 300);
    let test_set = common::first(&data.test, args.common.pick(data.test.len(), 1000));
    println!(
        "{}: 300 training images, {} test images; 784-100×6-10 ReLU, He initialisation, SGD lr 0.01, batches of 100, {epochs} epochs",
        args.data.dataset.title(),
        test_set.len()
    );

    let runs = [
        ("no regularisation".to_string(), 0.0, None),
        (
            format!("weight decay λ = {}", args.weight_decay),
            args.weight_decay,
            None,
        ),
        (
            format!("Dropout p = {}", args.dropout),
            0.0,
            Some(args.dropout),
        ),
    ];
    let mut panels = Vec::new();
    for (label, lambda, dropout) in runs {
        println!("== {label}");
        let opts = MlpOptions {
            activation: Activation::Relu,
            init: Init::HeNormal,
            batch_norm: None,
            dropout,
        };
        let net = zero_nn::train::mlp(&[784, 100, 100, 100, 100, 100, 100, 10], opts, 0);
        let schedule = common::TrainerOptions {
            epochs,
            lr: 0.01,
            weight_decay: lambda,
            verbose: true,
        };
        let (train, test) = common::train_epochs(net, &train_set, &test_set, schedule)?;
        let last = train.len() - 1;
        println!(
            "final: train acc {:.4}, test acc {:.4}, gap {:.4}",
            train[last],
            test[last],
            train[last] - test[last]
        );
        panels.push((label, train, test));
    }

    common::write_svg(&out.join("accuracy.svg"), (1350, 450), |root| {
        let root = root.titled(
            &format!(
                "{}: 300 training images — train vs test accuracy",
                args.data.dataset.title()
            ),
            ("sans-serif", 18),
        )?;
        for (area, (label, train, test)) in root.split_evenly((1, 3)).iter().zip(&panels) {
            let points = |c: &Vec<f64>| c.iter().enumerate().map(|(e, &a)| (e as f64, a)).collect();
            let curves = [
                Curve::new("train", points(train)),
                Curve::new("test", points(test)),
            ];
            common::line_chart(area, label, ("epoch", "accuracy"), &curves, false)?;
        }
        Ok(())
    })
}
