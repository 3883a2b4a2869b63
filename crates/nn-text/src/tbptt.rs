//! Training a language model by truncated backpropagation through time, as the sequel's
//! `RnnlmTrainer` (`common/trainer.py`, ch.5.5.3 and ch.6.4) does: the corpus cut into `batch`
//! rows that start `len / batch` words apart, each window of `time` words continuing where the
//! last one stopped (its position carried from one call to the next), the recurrent states
//! carried across windows with their history cut, the gradients clipped by their global norm,
//! then one optimizer step.
//!
//! ```
//! use nn_optim::Sgd;
//! use nn_text::lm::{Rnnlm, RnnlmConfig};
//! use nn_text::tbptt::{Batches, train_windows};
//! let corpus: Vec<usize> = (0..200).map(|i| (i * 7) % 10).collect();
//! let model = Rnnlm::<f32>::with_config(RnnlmConfig::simple(10, 8, 8), 0);
//! let mut sgd = Sgd::new(model.parameters(), 0.1);
//! let mut batches = Batches::new(&corpus, 4, 5);
//! let first = train_windows(&model, &mut sgd, &mut batches, 10, None, 0, |_| {}).unwrap();
//! let later = train_windows(&model, &mut sgd, &mut batches, 100, None, 0, |_| {}).unwrap();
//! assert!(later.exp() < first.exp());
//! ```

use nn_core::{Float, Tensor};
use nn_optim::{Optimizer, clip_grad_norm};

use crate::lm::Rnnlm;

/// The book's `get_batch`: windows of `batch × time` inputs and their next words.
pub struct Batches<'a> {
    corpus: &'a [usize],
    batch: usize,
    time: usize,
    jump: usize,
    time_idx: usize,
    xs: Vec<usize>,
    ts: Vec<usize>,
}

impl<'a> Batches<'a> {
    /// Windows over `corpus` (inputs `corpus[..n-1]`, targets `corpus[1..]`), `batch` rows of
    /// `time` words.
    ///
    /// # Panics
    /// If `batch` or `time` is zero, or the corpus is shorter than `batch + 1` words (a
    /// programmer error).
    pub fn new(corpus: &'a [usize], batch: usize, time: usize) -> Self {
        assert!(
            batch > 0 && time > 0 && corpus.len() > batch,
            "Batches: a corpus of {} words in {batch} rows of {time}",
            corpus.len()
        );
        Batches {
            corpus,
            batch,
            time,
            jump: (corpus.len() - 1) / batch,
            time_idx: 0,
            xs: vec![0; batch * time],
            ts: vec![0; batch * time],
        }
    }

    /// Windows in one pass over the corpus (the book's `max_iters`).
    pub fn per_epoch(&self) -> usize {
        (self.corpus.len() - 1) / (self.batch * self.time)
    }

    /// Starts again from the first window (the book's `fit` does at each call).
    pub fn restart(&mut self) {
        self.time_idx = 0;
    }

    /// The next window's inputs and targets, `batch × time` ids each, row-major.
    pub fn next_window(&mut self) -> (&[usize], &[usize]) {
        let n = self.corpus.len() - 1;
        for t in 0..self.time {
            for i in 0..self.batch {
                let k = (i * self.jump + self.time_idx) % n;
                self.xs[i * self.time + t] = self.corpus[k];
                self.ts[i * self.time + t] = self.corpus[k + 1];
            }
            self.time_idx += 1;
        }
        (&self.xs, &self.ts)
    }

    /// Rows per window.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Steps per window.
    pub fn time(&self) -> usize {
        self.time
    }
}

/// A loss that was not a finite number: training has diverged.
#[derive(Debug, thiserror::Error)]
#[error(
    "the loss became {loss} at window {window}: training diverged (try a smaller learning \
     rate, or clip the gradients)"
)]
pub struct Diverged {
    /// The window, counted from 0 in this call.
    pub window: usize,
    /// The loss.
    pub loss: f64,
}

/// A perplexity over the windows since the last report.
#[derive(Clone, Copy, Debug)]
pub struct Report {
    /// The window just trained, counted from 0 in this call.
    pub window: usize,
    /// `exp` of the mean loss since the last report.
    pub perplexity: f64,
}

/// One training step on `loss`: refused if it is not finite (as window or batch `index`),
/// else backward, clipping at `clip` (global norm), `optimizer.step()`; the loss's value.
pub(crate) fn step<T: Float>(
    loss: Tensor<T>,
    params: &[Tensor<T>],
    optimizer: &mut dyn Optimizer,
    clip: Option<f64>,
    index: usize,
) -> Result<f64, Diverged> {
    let value = loss.item().to_f64().unwrap_or(f64::NAN);
    if !value.is_finite() {
        return Err(Diverged {
            window: index,
            loss: value,
        });
    }
    optimizer.zero_grad();
    loss.backward().expect("a scalar loss");
    drop(loss);
    if let Some(max) = clip {
        clip_grad_norm(params, max);
    }
    optimizer.step();
    Ok(value)
}

/// Trains `model` on `windows` windows from `batches`: loss, backward, clipping at `clip`
/// (global norm; none if `None`), `optimizer.step()`. Every `report_every` windows (at windows 0,
/// `report_every`, … as the book's `eval_interval`; never if 0) calls `report` with the
/// perplexity since the last report. Returns the mean loss over the windows.
///
/// # Errors
/// [`Diverged`] if a loss is NaN or infinite (no step is taken with it).
#[allow(clippy::too_many_arguments)]
pub fn train_windows<T: Float>(
    model: &Rnnlm<T>,
    optimizer: &mut dyn Optimizer,
    batches: &mut Batches<'_>,
    windows: usize,
    clip: Option<f64>,
    report_every: usize,
    mut report: impl FnMut(Report),
) -> Result<f64, Diverged> {
    let params = model.parameters();
    let (batch, time) = (batches.batch(), batches.time());
    let (mut total, mut since, mut count) = (0.0, 0.0, 0usize);
    for window in 0..windows {
        let (xs, ts) = batches.next_window();
        let value = step(
            model.loss(xs, ts, batch, time),
            &params,
            optimizer,
            clip,
            window,
        )?;
        total += value;
        since += value;
        count += 1;
        if report_every > 0 && window % report_every == 0 {
            report(Report {
                window,
                perplexity: (since / count as f64).exp(),
            });
            since = 0.0;
            count = 0;
        }
    }
    Ok(total / windows.max(1) as f64)
}
