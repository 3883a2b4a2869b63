//! Training and evaluation loops (book 1 ch.4.5 「学習アルゴリズムの実装」, with the layers of
//! ch.5 and the optimizers of ch.6).

use std::io::IsTerminal;
use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use ndarray::{ArrayD, Axis};
use nn_core::{Float, Tensor};
use nn_data::{Batches, Dataset};
use nn_layers::{DataParallel, Module, Reduction, Sequential, Target, cross_entropy};
use nn_optim::{AdaGrad, Adam, AdamW, Momentum, Nesterov, Optimizer, RmsProp, Sgd, clip_grad_norm};

use crate::error::TrainError;
use crate::metrics::evaluate;

/// The optimizers of book 1 ch.6.1 (and AdamW), by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum OptimizerKind {
    /// Minibatch SGD.
    Sgd,
    /// SGD with momentum 0.9.
    Momentum,
    /// Nesterov momentum 0.9 (the book's form).
    Nesterov,
    /// AdaGrad.
    Adagrad,
    /// RMSprop (decay 0.99).
    Rmsprop,
    /// Adam (β1 0.9, β2 0.999).
    Adam,
    /// Adam with decoupled weight decay.
    Adamw,
}

impl OptimizerKind {
    /// A learning rate that works for MNIST MLPs with this optimizer.
    pub fn default_lr(self) -> f64 {
        match self {
            OptimizerKind::Sgd => 0.1,
            OptimizerKind::Momentum | OptimizerKind::Nesterov => 0.01,
            OptimizerKind::Adagrad => 0.01,
            OptimizerKind::Rmsprop | OptimizerKind::Adam | OptimizerKind::Adamw => 0.001,
        }
    }

    /// The optimizer over `params`.
    pub fn build<T: Float>(
        self,
        params: Vec<Tensor<T>>,
        lr: f64,
        weight_decay: f64,
    ) -> Box<dyn Optimizer> {
        match self {
            OptimizerKind::Sgd => Box::new(Sgd::new(params, lr).weight_decay(weight_decay)),
            OptimizerKind::Momentum => {
                Box::new(Momentum::new(params, lr, 0.9).weight_decay(weight_decay))
            }
            OptimizerKind::Nesterov => {
                Box::new(Nesterov::new(params, lr, 0.9).weight_decay(weight_decay))
            }
            OptimizerKind::Adagrad => Box::new(AdaGrad::new(params, lr).weight_decay(weight_decay)),
            OptimizerKind::Rmsprop => Box::new(RmsProp::new(params, lr).weight_decay(weight_decay)),
            OptimizerKind::Adam => Box::new(Adam::new(params, lr).weight_decay(weight_decay)),
            OptimizerKind::Adamw => Box::new(AdamW::new(params, lr).weight_decay(weight_decay)),
        }
    }
}

/// How to train.
#[derive(Debug, Clone)]
pub struct TrainConfig {
    /// Passes over the training set.
    pub epochs: usize,
    /// Examples per step.
    pub batch_size: usize,
    /// Shuffling seed.
    pub seed: u64,
    /// Gradient clipping by global norm, if set.
    pub clip: Option<f64>,
    /// Evaluate training accuracy on the whole training set each epoch.
    pub train_accuracy: bool,
}

/// One epoch's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochStats {
    /// 1-based.
    pub epoch: usize,
    /// Mean training loss over the epoch's steps.
    pub train_loss: f64,
    /// Accuracy on the training set after the epoch (evaluation mode), if measured.
    pub train_accuracy: Option<f64>,
    /// Accuracy on the test set after the epoch.
    pub test_accuracy: f64,
    /// Wall time of the epoch's training steps, in seconds.
    pub seconds: f64,
}

/// A [`DataParallel`] for the networks `nn-mnist` trains: cross-entropy over class labels.
pub type ParallelTrainer = DataParallel<[usize], f32>;

/// A [`ParallelTrainer`] over `threads` threads whose replicas `build` makes.
pub fn parallel_trainer(
    threads: usize,
    build: impl Fn() -> Sequential<f32> + Send + Sync + 'static,
) -> ParallelTrainer {
    DataParallel::new(threads, build, class_loss)
}

/// The mean cross-entropy of rows `rows` of a batch whose class labels are `t`.
fn class_loss(
    net: &mut dyn Module<f32>,
    x: &Tensor<f32>,
    t: &[usize],
    rows: Range<usize>,
) -> Tensor<f32> {
    cross_entropy(&net.forward(x), Target::Classes(&t[rows]), Reduction::Mean)
}

/// Trains `net` on `train`, measuring on `test` after every epoch; `on_epoch` sees each
/// epoch's figures as they come. With `parallel`, every batch is split over its threads (each
/// a replica of `net`, gradients summed before the optimizer step; see [`DataParallel`] for
/// what changes for BatchNorm and Dropout).
///
/// Shows a progress bar with the running loss and samples/s when stderr is a terminal.
///
/// # Errors
/// [`TrainError::NonFinite`] as soon as a loss is NaN or infinite.
pub fn train(
    net: &mut dyn Module<f32>,
    mut parallel: Option<&mut ParallelTrainer>,
    optimizer: &mut dyn Optimizer,
    train: &Dataset,
    test: &Dataset,
    config: &TrainConfig,
    mut on_epoch: impl FnMut(&EpochStats),
) -> Result<Vec<EpochStats>, TrainError> {
    // A batch's mean loss; its gradient is added to the parameters only if it is finite
    // (a split batch runs backward before the loss is known: the step is refused below).
    let mut step = |net: &mut dyn Module<f32>, x: ArrayD<f32>, t: Vec<usize>| {
        let result = match parallel.as_deref_mut() {
            Some(p) => p.backward(net, x.into_shared(), Arc::from(t)),
            None => {
                let loss = class_loss(net, &Tensor::from_array(x), &t, 0..t.len());
                let value = loss.item();
                if value.is_finite() {
                    loss.backward().map(|()| value)
                } else {
                    Ok(value)
                }
            }
        };
        result.unwrap_or_else(|e| unreachable!("the loss is a tracked scalar: {e}"))
    };
    let labels = train.labels.classes();
    let mut batches = Batches::new(train.len(), config.batch_size, Some(config.seed), false);
    let params = net.parameter_tensors();
    let mut history = Vec::with_capacity(config.epochs);
    let tty = std::io::stderr().is_terminal();
    net.train();
    for epoch in 1..=config.epochs {
        let bar = if tty {
            let bar = indicatif::ProgressBar::new(batches.per_epoch() as u64);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "epoch {prefix} [{bar:30}] {pos}/{len} {msg}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_prefix(format!("{epoch}/{}", config.epochs));
            Some(bar)
        } else {
            None
        };
        let started = Instant::now();
        let (mut total, mut steps, mut seen) = (0.0f64, 0usize, 0usize);
        for (n, idx) in batches.epoch().enumerate() {
            let x = train.images.select(Axis(0), idx);
            let t: Vec<usize> = idx.iter().map(|&i| labels[i]).collect();
            optimizer.zero_grad();
            let value = step(net, x, t);
            if !value.is_finite() {
                if let Some(bar) = &bar {
                    bar.abandon();
                }
                return Err(TrainError::NonFinite {
                    epoch,
                    step: n + 1,
                    loss: value,
                });
            }
            if let Some(max) = config.clip {
                clip_grad_norm(&params, max);
            }
            optimizer.step();
            total += f64::from(value);
            steps += 1;
            seen += idx.len();
            if let Some(bar) = &bar {
                bar.inc(1);
                if n % 20 == 0 {
                    let rate = seen as f64 / started.elapsed().as_secs_f64().max(1e-9);
                    bar.set_message(format!(
                        "loss {:.4}  {rate:.0} samples/s",
                        total / steps as f64
                    ));
                }
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        let train_accuracy = config.train_accuracy.then(|| evaluate(net, train));
        let stats = EpochStats {
            epoch,
            train_loss: total / steps.max(1) as f64,
            train_accuracy,
            test_accuracy: evaluate(net, test),
            seconds,
        };
        on_epoch(&stats);
        history.push(stats);
    }
    Ok(history)
}
