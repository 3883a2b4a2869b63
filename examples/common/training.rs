//! The two ways the book's chapter-6 experiments train: several networks side by side on the
//! same random mini-batches (`ch06/*_compare_mnist.py`), and one network for a number of epochs
//! with the accuracies after each (`common/trainer.py`).

use std::path::Path;

use rand::SeedableRng;
use zero_nn::data::Dataset;
use zero_nn::layers::{Module, Reduction, Target, cross_entropy};
use zero_nn::optim::Optimizer;
use zero_nn::train::evaluate;

use super::{Curve, Result, line_chart, smooth, write_svg};

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
    let classes = train.labels.classes();
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
    let weights: Vec<zero_nn::Tensor<f32>> = net
        .parameters()
        .into_iter()
        .filter(|(name, _)| name.ends_with("weight"))
        .map(|(_, p)| p)
        .collect();
    let classes = train.labels.classes();
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
