//! Loss functions (book 1 ch.4.2 「損失関数」, ch.5.6.3 Softmax-with-Loss), with PyTorch's
//! `reduction` semantics: [`Reduction::Mean`] averages over every loss term (the batch for
//! cross-entropy; batch × outputs for the elementwise losses), [`Reduction::Sum`] adds them,
//! [`Reduction::None`] returns them.

use ndarray::Array2;
use nn_core::{Float, Tensor};

/// How the per-example (or per-element) losses are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reduction {
    /// The average.
    #[default]
    Mean,
    /// The sum.
    Sum,
    /// No reduction: one loss per example (cross-entropy, NLL) or per element.
    None,
}

fn reduce<T: Float>(losses: Tensor<T>, reduction: Reduction) -> Tensor<T> {
    match reduction {
        Reduction::Mean => losses.mean(),
        Reduction::Sum => losses.sum(),
        Reduction::None => losses,
    }
}

/// Classification targets: class indices, or one row per example (one-hot or soft labels).
#[derive(Debug, Clone, Copy)]
pub enum Target<'a, T: Float> {
    /// One class index per example.
    Classes(&'a [usize]),
    /// `(N, C)` rows (one-hot, or distributions).
    Probabilities(&'a Tensor<T>),
}

impl<T: Float> Target<'_, T> {
    /// The `(N, C)` target rows.
    ///
    /// # Panics
    /// If a class index is not below `classes`.
    fn rows(&self, n: usize, classes: usize, op: &str) -> Tensor<T> {
        match *self {
            Target::Probabilities(t) => t.clone(),
            Target::Classes(labels) => {
                check_labels(labels, n, classes, op);
                let mut t = Array2::zeros((n, classes));
                for (i, &c) in labels.iter().enumerate() {
                    t[[i, c]] = T::one();
                }
                Tensor::from_array(t)
            }
        }
    }
}

/// # Panics
/// If there are not `n` labels or one is not below `classes`.
fn check_labels(labels: &[usize], n: usize, classes: usize, op: &str) {
    assert!(
        labels.len() == n,
        "{op}: {} labels for {n} examples",
        labels.len()
    );
    for (i, &c) in labels.iter().enumerate() {
        assert!(
            c < classes,
            "{op}: class {c} at index {i} is out of range for {classes} classes"
        );
    }
}

fn logits_shape<T: Float>(x: &Tensor<T>, op: &str) -> (usize, usize) {
    let s = x.shape();
    assert!(s.len() == 2, "{op}: expects (N, classes), got {s:?}");
    (s[0], s[1])
}

/// Cross-entropy of softmax(`logits`) against `target` — the book's SoftmaxWithLoss, fused and
/// numerically stable; with [`Reduction::Mean`] its gradient is `(y − t) / N`. A
/// [`Target::Probabilities`] that the tape tracks receives its gradient too (`−log y`).
///
/// ```
/// use nn_core::Tensor;
/// use nn_layers::{Reduction, Target, cross_entropy};
/// let logits = Tensor::<f64>::from_vec(&[2, 3], vec![2.0, 1.0, 0.1, 0.5, 2.5, 0.3]).requires_grad();
/// let loss = cross_entropy(&logits, Target::Classes(&[0, 1]), Reduction::Mean);
/// loss.backward().unwrap();
/// assert!(loss.item() > 0.0);
/// ```
///
/// # Panics
/// If `logits` is not `(N, C)`, or the target does not match.
pub fn cross_entropy<T: Float>(
    logits: &Tensor<T>,
    target: Target<'_, T>,
    reduction: Reduction,
) -> Tensor<T> {
    let (n, c) = logits_shape(logits, "cross_entropy");
    let losses = match target {
        // A target the tape tracks (distillation, say) needs its own gradient, −log softmax(z),
        // which the fused op does not give.
        Target::Probabilities(t) if t.is_tracked() => {
            assert!(
                t.shape() == [n, c],
                "cross_entropy: logits {:?} and target {:?} must both be (N, C)",
                logits.shape(),
                t.shape()
            );
            (logits.log_softmax(1) * t).sum_axes(&[1], false).neg()
        }
        Target::Classes(labels) => {
            check_labels(labels, n, c, "cross_entropy");
            logits.softmax_cross_entropy_classes(labels)
        }
        _ => logits.softmax_cross_entropy(&target.rows(n, c, "cross_entropy")),
    };
    reduce(losses, reduction)
}

/// Negative log-likelihood of `log_probs` (e.g. from `log_softmax`) at the targets.
///
/// # Panics
/// If `log_probs` is not `(N, C)`, or the target does not match.
pub fn nll<T: Float>(
    log_probs: &Tensor<T>,
    target: Target<'_, T>,
    reduction: Reduction,
) -> Tensor<T> {
    let (n, c) = logits_shape(log_probs, "nll");
    let picked = match target {
        // Gather rather than multiply by one-hot rows, so that a −∞ elsewhere in a row (log 0)
        // does not turn into NaN.
        Target::Classes(labels) => {
            check_labels(labels, n, c, "nll");
            let flat: Vec<usize> = labels.iter().enumerate().map(|(i, &k)| i * c + k).collect();
            log_probs.reshape(&[n * c]).index_select(0, &flat)
        }
        Target::Probabilities(_) => (log_probs * target.rows(n, c, "nll")).sum_axes(&[1], false),
    };
    reduce(picked.neg(), reduction)
}

/// The book's sum of squared errors `½ Σ (y − t)²` (book 1 ch.4.2.1), over every element.
///
/// # Panics
/// If the shapes cannot be broadcast together.
pub fn sum_squared_error<T: Float>(y: &Tensor<T>, t: &Tensor<T>) -> Tensor<T> {
    (y - t).powi(2).sum().mul_scalar(T::lit(0.5))
}

/// Mean squared error `(y − t)²`, reduced (Mean divides by batch × outputs).
///
/// # Panics
/// If the shapes cannot be broadcast together.
pub fn mse<T: Float>(y: &Tensor<T>, t: &Tensor<T>, reduction: Reduction) -> Tensor<T> {
    reduce((y - t).powi(2), reduction)
}

/// Binary cross-entropy of `sigmoid(logits)` against targets in [0, 1], computed stably as
/// `softplus(z) − z t` (gradient `sigmoid(z) − t`).
///
/// # Panics
/// If the shapes cannot be broadcast together.
pub fn binary_cross_entropy_with_logits<T: Float>(
    logits: &Tensor<T>,
    t: &Tensor<T>,
    reduction: Reduction,
) -> Tensor<T> {
    reduce(logits.softplus() - logits * t, reduction)
}
