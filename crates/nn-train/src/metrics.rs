//! Predictions and how good they are: accuracy (book 1 ch.3.6.2's `accuracy_cnt`), the
//! confusion matrix, and the predicted classes of a set of images, batched or one at a time.

use ndarray::{ArrayD, ArrayView2, Axis, Ix2};
use nn_core::{Float, Tensor, no_grad};
use nn_data::Dataset;
use nn_layers::{Module, Predictor};

/// The index of the first largest value (NumPy's `argmax`).
pub fn argmax<T: Float>(values: impl IntoIterator<Item = T>) -> usize {
    let mut best = (0, T::neg_infinity());
    for (i, v) in values.into_iter().enumerate() {
        if v > best.1 {
            best = (i, v);
        }
    }
    best.0
}

/// The rows `[start, end)` of a batch of images as a tensor (no tape).
fn rows(images: &ArrayD<f32>, start: usize, end: usize) -> Tensor<f32> {
    Tensor::from_array(
        images
            .slice_axis(Axis(0), ndarray::Slice::from(start..end))
            .to_owned(),
    )
}

/// Predicted classes for every image, `batch_size` at a time, in evaluation mode with no tape:
/// through a [`Predictor`] (one vector–matrix product per layer for `batch_size == 1`, no
/// allocation per batch), or the module's own forward pass for layers a Predictor lacks.
pub fn predict(net: &mut dyn Module<f32>, images: &ArrayD<f32>, batch_size: usize) -> Vec<usize> {
    let batch_size = batch_size.max(1);
    let n = images.shape()[0];
    let features: usize = images.shape()[1..].iter().product();
    let flat = images.view().into_shape_with_order((n, features));
    if let (Ok(mut p), Ok(flat)) = (Predictor::new(&*net), flat) {
        return predict_with(&mut p, flat, batch_size);
    }
    let mut out = Vec::with_capacity(n);
    no_grad(|| {
        let mut start = 0;
        while start < n {
            let end = (start + batch_size).min(n);
            let y = net.forward(&rows(images, start, end)).array();
            let y = y.into_dimensionality::<Ix2>().unwrap_or_else(|e| {
                panic!("predict: the network's output is not (N, classes): {e}")
            });
            out.extend(y.rows().into_iter().map(|r| argmax(r.iter().copied())));
            start = end;
        }
    });
    out
}

/// [`predict`] through a compiled [`Predictor`], `images (n, features)`.
pub fn predict_with(
    p: &mut Predictor<f32>,
    images: ArrayView2<'_, f32>,
    batch_size: usize,
) -> Vec<usize> {
    let mut out = Vec::with_capacity(images.nrows());
    if batch_size <= 1 {
        for row in images.rows() {
            let y = match row.as_slice() {
                Some(x) => p.predict_one(x),
                None => p.predict_one(&row.to_vec()),
            };
            out.push(argmax(y.iter().copied()));
        }
    } else {
        for chunk in images.axis_chunks_iter(Axis(0), batch_size) {
            let y = p.predict_batch(chunk);
            out.extend(y.rows().into_iter().map(|r| argmax(r.iter().copied())));
        }
    }
    out
}

/// The fraction of `predicted` equal to `truth`.
pub fn accuracy(predicted: &[usize], truth: &[usize]) -> f64 {
    let right = predicted.iter().zip(truth).filter(|(p, t)| p == t).count();
    right as f64 / truth.len().max(1) as f64
}

/// `m[true][predicted]` counts over 10 classes.
pub fn confusion(predicted: &[usize], truth: &[usize]) -> [[usize; 10]; 10] {
    let mut m = [[0; 10]; 10];
    for (&p, &t) in predicted.iter().zip(truth) {
        if p < 10 && t < 10 {
            m[t][p] += 1;
        }
    }
    m
}

/// Test-set accuracy in evaluation mode (batches of 1,000).
pub fn evaluate(net: &mut dyn Module<f32>, data: &Dataset) -> f64 {
    net.eval();
    let acc = accuracy(&predict(net, &data.images, 1000), &data.labels.classes());
    net.train();
    acc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Arch, InitChoice};

    #[test]
    fn argmax_takes_the_first_largest_and_skips_nan() {
        assert_eq!(argmax([1.0f32, 3.0, 3.0, 2.0]), 1);
        assert_eq!(argmax([f32::NAN, -1.0]), 1);
        assert_eq!(argmax::<f64>([]), 0);
    }

    #[test]
    fn accuracy_and_confusion_count_the_same_pairs() {
        let (predicted, truth) = ([1, 2, 2, 0, 9], [1, 2, 3, 0, 9]);
        assert_eq!(accuracy(&predicted, &truth), 0.8);
        let m = confusion(&predicted, &truth);
        assert_eq!(m[3][2], 1);
        let diagonal: usize = (0..10).map(|k| m[k][k]).sum();
        assert_eq!(diagonal, 4);
        assert_eq!(accuracy(&[], &[]), 0.0);
    }

    #[test]
    fn every_batch_size_predicts_the_same_classes() {
        let mut net = Arch::MlpDeep {
            batch_norm: true,
            dropout: 0.0,
        }
        .build(InitChoice::Auto, 3);
        net.eval();
        let images = Tensor::<f32>::randn(&[23, 784], 5).array().to_owned();
        let one = predict(&mut net, &images, 1);
        assert_eq!(predict(&mut net, &images, 7), one);
        assert_eq!(predict(&mut net, &images, 100), one);
        // The tape's forward pass (no Predictor) agrees.
        let y = no_grad(|| net.forward(&Tensor::from_array(images.clone())).array());
        let tape: Vec<usize> = y.outer_iter().map(|r| argmax(r.iter().copied())).collect();
        assert_eq!(tape, one);
    }
}
