//! The book's pretrained networks: ch.3.6 「手書き数字認識」's `sample_weight.pkl`,
//! `sigmoid(x W1 + b1) → sigmoid(· W2 + b2) → softmax(· W3 + b3)`, and the trained CNNs of
//! ch.7 (SimpleConvNet) and ch.8 (DeepConvNet).

use ndarray::{ArrayD, Axis, IxDyn};
use nn_core::{Tensor, no_grad};
use nn_data::NumpyArray;
use nn_layers::{Conv2d, Flatten, Linear, MaxPool2d, Module, Relu, Sequential, Sigmoid, Softmax};

use crate::error::TrainError;

/// The book's `init_network()` + `predict()`: builds the network from the arrays `W1, b1, W2,
/// b2, W3, b3` (float32, shapes 784×50, 50, 50×100, 100, 100×10, 10).
///
/// # Errors
/// [`TrainError::Weights`] naming the first array that is missing, of another shape, or not
/// float32, and any array the network does not use.
pub fn network(arrays: &[(String, NumpyArray)], file: &str) -> Result<Sequential<f32>, TrainError> {
    let spec: [(&str, &[usize]); 6] = [
        ("W1", &[784, 50]),
        ("b1", &[50]),
        ("W2", &[50, 100]),
        ("b2", &[100]),
        ("W3", &[100, 10]),
        ("b3", &[10]),
    ];
    let mut tensors = Vec::with_capacity(6);
    for (a, (name, _)) in checked(arrays, file, &spec, "chapter-3 network")?
        .into_iter()
        .zip(spec)
    {
        let NumpyArray::F32(values) = a else {
            return Err(TrainError::Weights {
                file: file.to_string(),
                reason: format!("{name} is {}, the book's weights are float32", a.dtype()),
            });
        };
        tensors.push(nn_core::Tensor::from_array(values.clone()));
    }
    let mut t = tensors.into_iter();
    let mut layer = || {
        let w = t
            .next()
            .unwrap_or_else(|| unreachable!("six arrays were checked"));
        let b = t
            .next()
            .unwrap_or_else(|| unreachable!("six arrays were checked"));
        Linear::from_parameters(w, Some(b))
    };
    Ok(Sequential::new()
        .add(layer())
        .add(Sigmoid)
        .add(layer())
        .add(Sigmoid)
        .add(layer())
        .add(Softmax { axis: 1 }))
}

/// Checks that `arrays` are exactly the ones `spec` names, with those shapes; returns them in
/// `spec`'s order.
fn checked<'a>(
    arrays: &'a [(String, NumpyArray)],
    file: &str,
    spec: &[(&str, &[usize])],
    net: &str,
) -> Result<Vec<&'a NumpyArray>, TrainError> {
    let bad = |reason: String| TrainError::Weights {
        file: file.to_string(),
        reason,
    };
    let names: Vec<&str> = spec.iter().map(|(n, _)| *n).collect();
    if let Some((name, _)) = arrays.iter().find(|(n, _)| !names.contains(&n.as_str())) {
        return Err(bad(format!(
            "unexpected array {name:?}: not the book's {net} ({})",
            names.join(", ")
        )));
    }
    spec.iter()
        .map(|&(name, shape)| {
            let Some((_, a)) = arrays.iter().find(|(n, _)| n == name) else {
                return Err(bad(format!(
                    "no array {name:?}: not the book's {net} ({})",
                    names.join(", ")
                )));
            };
            if a.shape() != shape {
                return Err(bad(format!(
                    "{name} has shape {:?}, the book's {net} needs {shape:?}",
                    a.shape()
                )));
            }
            Ok(a)
        })
        .collect()
}

fn tensor64(a: &NumpyArray) -> Tensor<f64> {
    Tensor::from_array(a.to_f64())
}

/// The book's SimpleConvNet (ch.7.5, `ch07/simple_convnet.py`) from its trained parameters, in
/// float64 as the book computes: conv 30×5×5 (stride 1, no padding) → ReLU → 2×2 max pooling →
/// Affine 4320×100 → ReLU → Affine 100×10. Input `(N, 1, 28, 28)`, output the scores.
///
/// # Errors
/// [`TrainError::Weights`] naming the first array that is missing or of another shape, and
/// any array the network does not use.
pub fn simple_convnet(
    arrays: &[(String, NumpyArray)],
    file: &str,
) -> Result<Sequential<f64>, TrainError> {
    let spec: [(&str, &[usize]); 6] = [
        ("W1", &[30, 1, 5, 5]),
        ("b1", &[30]),
        ("W2", &[4320, 100]),
        ("b2", &[100]),
        ("W3", &[100, 10]),
        ("b3", &[10]),
    ];
    let a = checked(arrays, file, &spec, "SimpleConvNet")?;
    Ok(Sequential::new()
        .add(Conv2d::from_parameters(
            tensor64(a[0]),
            Some(tensor64(a[1])),
        ))
        .add(Relu)
        .add(MaxPool2d::new(2))
        .add(Flatten)
        .add(Linear::from_parameters(
            tensor64(a[2]),
            Some(tensor64(a[3])),
        ))
        .add(Relu)
        .add(Linear::from_parameters(
            tensor64(a[4]),
            Some(tensor64(a[5])),
        )))
}

/// The book's DeepConvNet (ch.8.1, `ch08/deep_convnet.py`) from its trained parameters, in
/// float64: six 3×3 convolutions (16, 16, 32, 32, 64, 64 filters; padding 1, the fourth 2),
/// ReLU after each, 2×2 max pooling after every second, Affine 1024×50 → ReLU → Dropout →
/// Affine 50×10 → Dropout.
///
/// The book's Dropout multiplies by `1 − 0.5` at test time, where this project's (inverted)
/// Dropout is the identity; both factors are folded into the last Affine layer: `W8 · 0.25`,
/// `b8 · 0.5`. Scaling by powers of two is exact in floating point, so this is the book's
/// function, not an approximation of it.
///
/// # Errors
/// As [`simple_convnet`].
pub fn deep_convnet(
    arrays: &[(String, NumpyArray)],
    file: &str,
) -> Result<Sequential<f64>, TrainError> {
    let channels = [1, 16, 16, 32, 32, 64, 64];
    // (weight shape, bias length) of the six convolutions and the two Affine layers.
    let mut layers: Vec<(Vec<usize>, usize)> = (0..6)
        .map(|i| (vec![channels[i + 1], channels[i], 3, 3], channels[i + 1]))
        .collect();
    layers.push((vec![1024, 50], 50));
    layers.push((vec![50, 10], 10));
    let names: Vec<(String, String)> = (1..=8)
        .map(|i| (format!("W{i}"), format!("b{i}")))
        .collect();
    let biases: Vec<[usize; 1]> = layers.iter().map(|&(_, b)| [b]).collect();
    let mut spec: Vec<(&str, &[usize])> = Vec::with_capacity(16);
    for (((w, b), (shape, _)), bias) in names.iter().zip(&layers).zip(&biases) {
        spec.push((w, shape));
        spec.push((b, bias));
    }
    let a = checked(arrays, file, &spec, "DeepConvNet")?;
    let mut net = Sequential::new();
    for i in 0..6 {
        let pad = if i == 3 { 2 } else { 1 };
        let conv = Conv2d::from_parameters(tensor64(a[2 * i]), Some(tensor64(a[2 * i + 1])));
        net = net.add(conv.with_padding(pad)).add(Relu);
        if i % 2 == 1 {
            net = net.add(MaxPool2d::new(2));
        }
    }
    let w8 = a[14].to_f64().mapv(|v| v * 0.25);
    let b8 = a[15].to_f64().mapv(|v| v * 0.5);
    Ok(net
        .add(Flatten)
        .add(Linear::from_parameters(
            tensor64(a[12]),
            Some(tensor64(a[13])),
        ))
        .add(Relu)
        .add(Linear::from_parameters(
            Tensor::from_array(w8),
            Some(Tensor::from_array(b8)),
        )))
}

/// The predicted class of every image (`(n, 784)` in [0, 1], as `load_mnist` gives), classified
/// `batch_size` at a time by a CNN in float64 (the images are widened exactly).
pub fn classify_images(
    net: &mut Sequential<f64>,
    images: &ArrayD<f32>,
    batch_size: usize,
) -> Vec<usize> {
    let n = images.shape()[0];
    let batch_size = batch_size.max(1);
    let mut out = Vec::with_capacity(n);
    no_grad(|| {
        let mut start = 0;
        while start < n {
            let end = (start + batch_size).min(n);
            let rows = images.slice_axis(Axis(0), (start..end).into());
            let x = rows
                .mapv(f64::from)
                .into_shape_with_order(IxDyn(&[end - start, 1, 28, 28]))
                .unwrap_or_else(|e| panic!("classify_images: images are not 28×28: {e}"));
            let y = net.forward(&Tensor::from_array(x)).array();
            out.extend(
                y.outer_iter()
                    .map(|row| crate::metrics::argmax(row.iter().copied())),
            );
            start = end;
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zeros(shape: &[usize]) -> NumpyArray {
        NumpyArray::F64(ArrayD::zeros(IxDyn(shape)))
    }

    fn simple_arrays() -> Vec<(String, NumpyArray)> {
        [
            ("W1", &[30, 1, 5, 5][..]),
            ("b1", &[30]),
            ("W2", &[4320, 100]),
            ("b2", &[100]),
            ("W3", &[100, 10]),
            ("b3", &[10]),
        ]
        .iter()
        .map(|(n, s)| (n.to_string(), zeros(s)))
        .collect()
    }

    #[test]
    fn simple_convnet_builds_and_classifies() {
        let mut net = simple_convnet(&simple_arrays(), "p.pkl").unwrap();
        let images = ArrayD::<f32>::zeros(IxDyn(&[3, 784]));
        assert_eq!(classify_images(&mut net, &images, 2), vec![0, 0, 0]);
    }

    fn error(r: Result<Sequential<f64>, TrainError>) -> String {
        match r {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn wrong_arrays_are_named() {
        let mut arrays = simple_arrays();
        arrays[2].1 = zeros(&[4320, 50]);
        let err = error(simple_convnet(&arrays, "p.pkl"));
        assert!(
            err.contains("W2 has shape [4320, 50], the book's SimpleConvNet needs [4320, 100]"),
            "{err}"
        );
        arrays[2].1 = zeros(&[4320, 100]);
        arrays.pop();
        let err = error(simple_convnet(&arrays, "p.pkl"));
        assert!(err.contains("no array \"b3\""), "{err}");
        // The chapter-3 weights are not a CNN.
        let err = error(deep_convnet(&simple_arrays(), "p.pkl"));
        assert!(
            err.contains("the book's DeepConvNet needs [16, 1, 3, 3]"),
            "{err}"
        );
    }

    #[test]
    fn deep_convnet_folds_the_books_test_time_dropout() {
        let channels = [1, 16, 16, 32, 32, 64, 64];
        let mut arrays = Vec::new();
        for i in 0..6 {
            arrays.push((
                format!("W{}", i + 1),
                zeros(&[channels[i + 1], channels[i], 3, 3]),
            ));
            arrays.push((format!("b{}", i + 1), zeros(&[channels[i + 1]])));
        }
        arrays.push(("W7".into(), zeros(&[1024, 50])));
        arrays.push((
            "b7".into(),
            NumpyArray::F64(ArrayD::from_elem(IxDyn(&[50]), 1.0)),
        ));
        arrays.push((
            "W8".into(),
            NumpyArray::F64(ArrayD::from_elem(IxDyn(&[50, 10]), 1.0)),
        ));
        arrays.push((
            "b8".into(),
            NumpyArray::F64(ArrayD::from_elem(IxDyn(&[10]), 2.0)),
        ));
        let mut net = deep_convnet(&arrays, "d.pkl").unwrap();
        net.eval();
        // The book: relu(b7) = 1 → ×0.5 → · W8 + b8 = 25 + 2 → ×0.5 = 13.5 for every class.
        let y = net.forward(&Tensor::zeros(&[1, 1, 28, 28])).to_array();
        assert!(y.iter().all(|&v| v == 13.5), "{y}");
    }
}
