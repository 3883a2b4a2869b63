//! The [`Module`] trait and [`Sequential`]: the book's layer view (book 1 ch.5.7
//! 「誤差逆伝播法の実装」, where `TwoLayerNet` keeps an ordered dict of layers).

use nn_core::{Float, Tensor};

use crate::predictor::InferenceStep;

/// A named tensor of a module: a parameter or a buffer.
pub type Named<T> = (String, Tensor<T>);

/// How a module's state maps onto PyTorch's (see [`Module::torch_layout`]).
///
/// ```
/// use nn_layers::{Linear, Module, Relu, Sequential};
/// use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let net = Sequential::<f32>::new().add(Relu).add(Linear::new(3, 2, &mut rng));
/// // nn.Linear keeps its weight as (out, in); Linear here as (in, out).
/// assert_eq!(net.torch_layout().transposed, ["1.weight"]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TorchLayout {
    /// 2-D entries PyTorch stores transposed: a [`Linear`](crate::Linear) weight is `(in, out)`
    /// here (the book's `x · W`), `(out, in)` in `nn.Linear`.
    pub transposed: Vec<String>,
    /// Integer entries PyTorch keeps and this module does not (BatchNorm's
    /// `num_batches_tracked`): saved with these values, checked for their type and ignored on
    /// load.
    pub counters: Vec<(String, i64)>,
}

impl TorchLayout {
    /// The same layout with every name prefixed by `prefix` and a dot.
    pub fn prefixed(self, prefix: &str) -> TorchLayout {
        TorchLayout {
            transposed: self
                .transposed
                .into_iter()
                .map(|n| format!("{prefix}.{n}"))
                .collect(),
            counters: self
                .counters
                .into_iter()
                .map(|(n, v)| (format!("{prefix}.{n}"), v))
                .collect(),
        }
    }
}

/// A layer or a network of layers.
///
/// `forward` takes `&mut self` because some layers change state as they run (Dropout advances
/// its random generator, BatchNorm updates its running statistics in training mode).
pub trait Module<T: Float = f32> {
    /// Computes the output for a batch `x`.
    fn forward(&mut self, x: &Tensor<T>) -> Tensor<T>;

    /// The trainable parameters, named and in a fixed order (for optimizers and checkpoints).
    fn parameters(&self) -> Vec<Named<T>> {
        Vec::new()
    }

    /// Non-trainable state saved in checkpoints (BatchNorm's running mean and variance).
    fn buffers(&self) -> Vec<Named<T>> {
        Vec::new()
    }

    /// Where this module's saved state differs from the `state_dict()` of its PyTorch
    /// counterpart, so that checkpoints load into PyTorch as they are (see
    /// [`checkpoint`](crate::checkpoint)). Names are relative to the module, as in
    /// [`Module::parameters`]; none by default.
    fn torch_layout(&self) -> TorchLayout {
        TorchLayout::default()
    }

    /// Switches between training and evaluation behaviour (Dropout, BatchNorm).
    fn set_training(&mut self, _training: bool) {}

    /// Training mode (the default for new modules).
    fn train(&mut self) {
        self.set_training(true);
    }

    /// Evaluation mode.
    fn eval(&mut self) {
        self.set_training(false);
    }

    /// The parameters' tensors alone, in order (what an optimizer steps).
    fn parameter_tensors(&self) -> Vec<Tensor<T>> {
        self.parameters().into_iter().map(|(_, t)| t).collect()
    }

    /// This module's evaluation-mode forward pass as [`InferenceStep`]s, for a
    /// [`Predictor`](crate::Predictor); `Err` names the layer that has none (the default).
    fn inference_steps(&self) -> Result<Vec<InferenceStep<T>>, String> {
        Err(short_type_name(std::any::type_name::<Self>()))
    }

    /// The module's type name, short (`Conv2d<f64>`, `Sequential<f32>`): for messages and
    /// for tools that look inside a network.
    fn type_name(&self) -> String {
        short_type_name(std::any::type_name::<Self>())
    }

    /// Clears every parameter's gradient.
    fn zero_grad(&self) {
        for (_, p) in self.parameters() {
            p.zero_grad();
        }
    }
}

/// Modules applied one after another; parameter names are prefixed with the position
/// (`"0.weight"`, `"2.bias"`), as PyTorch's `nn.Sequential` does.
///
/// ```
/// use nn_layers::{Linear, Module, Relu, Sequential};
/// use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// // The 784-100-10 ReLU network of book 1 ch.5.
/// let mut net = Sequential::<f32>::new()
///     .add(Linear::new(784, 100, &mut rng))
///     .add(Relu)
///     .add(Linear::new(100, 10, &mut rng));
/// let names: Vec<String> = net.parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["0.weight", "0.bias", "2.weight", "2.bias"]);
/// let y = net.forward(&nn_core::Tensor::zeros(&[5, 784]));
/// assert_eq!(y.shape(), vec![5, 10]);
/// ```
#[derive(Default)]
pub struct Sequential<T: Float = f32> {
    layers: Vec<Box<dyn Module<T>>>,
}

impl<T: Float> Sequential<T> {
    /// An empty sequence.
    pub fn new() -> Self {
        Sequential { layers: Vec::new() }
    }

    /// Appends a module.
    #[allow(clippy::should_implement_trait)]
    pub fn add(mut self, layer: impl Module<T> + 'static) -> Self {
        self.layers.push(Box::new(layer));
        self
    }

    /// Appends a boxed module.
    pub fn push(&mut self, layer: Box<dyn Module<T>>) {
        self.layers.push(layer);
    }

    /// The number of modules.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether the sequence is empty.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// Every layer's output for `x`, in order (the last is what `forward` returns): a look
    /// inside the network, such as the feature maps of book 1 ch.7.6.
    ///
    /// ```
    /// use nn_layers::{Module, Relu, Sequential};
    /// let mut net = Sequential::<f32>::new().add(Relu).add(Relu);
    /// let outputs = net.forward_each(&nn_core::Tensor::zeros(&[1, 3]));
    /// assert_eq!(outputs.len(), 2);
    /// assert_eq!(net.layer_names(), ["Relu", "Relu"]);
    /// ```
    pub fn forward_each(&mut self, x: &Tensor<T>) -> Vec<Tensor<T>> {
        let mut outputs: Vec<Tensor<T>> = Vec::with_capacity(self.layers.len());
        for layer in &mut self.layers {
            let y = layer.forward(outputs.last().unwrap_or(x));
            outputs.push(y);
        }
        outputs
    }

    /// Each layer's type name, without generic parameters (`Conv2d`, `Relu`, `Linear`).
    pub fn layer_names(&self) -> Vec<String> {
        self.layers
            .iter()
            .map(|l| {
                let name = l.type_name();
                name.split('<').next().unwrap_or(&name).to_string()
            })
            .collect()
    }
}

/// `nn_layers::maxout::Maxout<f32>` → `Maxout<f32>`.
fn short_type_name(full: &str) -> String {
    let base = full.split('<').next().unwrap_or(full);
    let short = base.rsplit("::").next().unwrap_or(base);
    format!("{short}{}", &full[base.len()..])
}

fn prefixed<T: Float>(
    layers: &[Box<dyn Module<T>>],
    get: impl Fn(&dyn Module<T>) -> Vec<Named<T>>,
) -> Vec<Named<T>> {
    layers
        .iter()
        .enumerate()
        .flat_map(|(i, l)| {
            get(l.as_ref())
                .into_iter()
                .map(move |(n, t)| (format!("{i}.{n}"), t))
        })
        .collect()
}

impl<T: Float> Module<T> for Sequential<T> {
    fn forward(&mut self, x: &Tensor<T>) -> Tensor<T> {
        let mut h = x.clone();
        for layer in &mut self.layers {
            h = layer.forward(&h);
        }
        h
    }

    fn parameters(&self) -> Vec<Named<T>> {
        prefixed(&self.layers, |l| l.parameters())
    }

    fn buffers(&self) -> Vec<Named<T>> {
        prefixed(&self.layers, |l| l.buffers())
    }

    fn torch_layout(&self) -> TorchLayout {
        let mut all = TorchLayout::default();
        for (i, layer) in self.layers.iter().enumerate() {
            let part = layer.torch_layout().prefixed(&i.to_string());
            all.transposed.extend(part.transposed);
            all.counters.extend(part.counters);
        }
        all
    }

    fn set_training(&mut self, training: bool) {
        for layer in &mut self.layers {
            layer.set_training(training);
        }
    }

    fn inference_steps(&self) -> Result<Vec<InferenceStep<T>>, String> {
        let mut steps = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            steps.extend(
                layer
                    .inference_steps()
                    .map_err(|name| format!("layer {i} ({name})"))?,
            );
        }
        Ok(steps)
    }
}
