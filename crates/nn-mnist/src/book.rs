//! Book 1 ch.3.6 「手書き数字認識」: the pretrained `sample_weight.pkl` network,
//! `sigmoid(x W1 + b1) → sigmoid(· W2 + b2) → softmax(· W3 + b3)`.

use nn_data::NumpyArray;
use nn_layers::{Linear, Sequential, Sigmoid, Softmax};

use crate::error::MnistError;

/// The book's `init_network()` + `predict()`: builds the network from the arrays `W1, b1, W2,
/// b2, W3, b3` (float32, shapes 784×50, 50, 50×100, 100, 100×10, 10).
///
/// # Errors
/// [`MnistError::Weights`] naming the first array that is missing, of another shape, or not
/// float32, and any array the network does not use.
pub fn network(arrays: &[(String, NumpyArray)], file: &str) -> Result<Sequential<f32>, MnistError> {
    let spec: [(&str, &[usize]); 6] = [
        ("W1", &[784, 50]),
        ("b1", &[50]),
        ("W2", &[50, 100]),
        ("b2", &[100]),
        ("W3", &[100, 10]),
        ("b3", &[10]),
    ];
    let bad = |reason: String| MnistError::Weights {
        file: file.to_string(),
        reason,
    };
    if let Some((name, _)) = arrays
        .iter()
        .find(|(n, _)| !spec.iter().any(|(s, _)| s == n))
    {
        return Err(bad(format!(
            "unexpected array {name:?}: not the book's chapter-3 network (W1, b1, W2, b2, W3, b3)"
        )));
    }
    let mut tensors = Vec::with_capacity(6);
    for (name, shape) in spec {
        let Some((_, a)) = arrays.iter().find(|(n, _)| n == name) else {
            return Err(bad(format!(
                "no array {name:?}: not the book's chapter-3 network (W1, b1, W2, b2, W3, b3)"
            )));
        };
        if a.shape() != shape {
            return Err(bad(format!(
                "{name} has shape {:?}, the book's network needs {shape:?}",
                a.shape()
            )));
        }
        let NumpyArray::F32(values) = a else {
            return Err(bad(format!(
                "{name} is {}, the book's weights are float32",
                a.dtype()
            )));
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
