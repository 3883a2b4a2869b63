//! The fully connected layer: the book's **Affine** layer (book 1 ch.5.6), `y = x W + b`.
//!
//! The weight is stored as the book stores it, `(in, out)`, so the book's pretrained arrays
//! (`W1` of shape 784×50, …) load as they are. Inputs with more than two axes are flattened
//! after the batch axis, as the book's Affine does for images.

use nn_core::{Float, Tensor};
use rand::Rng;

use crate::init::Init;
use crate::module::{Module, Named, TorchLayout};
use crate::predictor::InferenceStep;

/// `y = x W + b` with `W: (in, out)` and an optional `b: (out)`. Also known as Affine.
pub struct Linear<T: Float = f32> {
    weight: Tensor<T>,
    bias: Option<Tensor<T>>,
}

/// The book's name for [`Linear`].
pub type Affine<T = f32> = Linear<T>;

impl<T: Float> Linear<T> {
    /// PyTorch's default initialisation: weight and bias from U(±1/√in).
    pub fn new<R: Rng + ?Sized>(inputs: usize, outputs: usize, rng: &mut R) -> Self {
        let b = 1.0 / (inputs.max(1) as f64).sqrt();
        let init = Init::Uniform { low: -b, high: b };
        Linear {
            weight: init
                .tensor(&[inputs, outputs], inputs, outputs, rng)
                .requires_grad(),
            bias: Some(
                init.tensor(&[outputs], inputs, outputs, rng)
                    .requires_grad(),
            ),
        }
    }

    /// A chosen weight initialiser; the bias (if any) starts at zero, as in the book.
    ///
    /// ```
    /// use nn_layers::{Init, Linear, Module};
    /// use rand::SeedableRng;
    /// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    /// let layer = Linear::<f32>::with_init(784, 50, Init::Normal { std: 0.01 }, true, &mut rng);
    /// assert_eq!(layer.parameters()[0].1.shape(), vec![784, 50]);
    /// ```
    pub fn with_init<R: Rng + ?Sized>(
        inputs: usize,
        outputs: usize,
        init: Init,
        bias: bool,
        rng: &mut R,
    ) -> Self {
        Linear {
            weight: init
                .tensor(&[inputs, outputs], inputs, outputs, rng)
                .requires_grad(),
            bias: bias.then(|| Tensor::zeros(&[outputs]).requires_grad()),
        }
    }

    /// A layer from existing parameters (made leaves if they are not).
    ///
    /// # Panics
    /// If `weight` is not 2-D or `bias` is not `(out,)`.
    pub fn from_parameters(weight: Tensor<T>, bias: Option<Tensor<T>>) -> Self {
        let ws = weight.shape();
        assert!(
            ws.len() == 2,
            "Linear: weight must be (in, out), got {ws:?}"
        );
        if let Some(b) = &bias {
            assert!(
                b.shape() == [ws[1]],
                "Linear: bias {:?} does not match weight {ws:?}",
                b.shape()
            );
        }
        Linear {
            weight: weight.requires_grad(),
            bias: bias.map(Tensor::requires_grad),
        }
    }

    /// The weight `(in, out)`.
    pub fn weight(&self) -> &Tensor<T> {
        &self.weight
    }

    /// The bias `(out,)`, if any.
    pub fn bias(&self) -> Option<&Tensor<T>> {
        self.bias.as_ref()
    }
}

impl<T: Float> Module<T> for Linear<T> {
    fn forward(&mut self, x: &Tensor<T>) -> Tensor<T> {
        let shape = x.shape();
        let x = if shape.len() > 2 {
            x.reshape(&[shape[0], shape[1..].iter().product()])
        } else {
            x.clone()
        };
        match &self.bias {
            Some(b) => x.affine(&self.weight, b),
            None => x.matmul(&self.weight),
        }
    }

    fn inference_steps(&self) -> Result<Vec<InferenceStep<T>>, String> {
        let two_d = |t: &Tensor<T>| t.to_array().into_dimensionality::<ndarray::Ix2>();
        let weight = two_d(&self.weight).map_err(|_| "Linear with a non-2-D weight".to_string())?;
        let bias = match &self.bias {
            Some(b) => Some(
                b.to_array()
                    .into_dimensionality::<ndarray::Ix1>()
                    .map_err(|_| "Linear with a non-1-D bias".to_string())?,
            ),
            None => None,
        };
        Ok(vec![InferenceStep::Affine { weight, bias }])
    }

    fn torch_layout(&self) -> TorchLayout {
        TorchLayout {
            transposed: vec!["weight".to_string()],
            counters: Vec::new(),
        }
    }

    fn parameters(&self) -> Vec<Named<T>> {
        let mut p = vec![("weight".to_string(), self.weight.clone())];
        if let Some(b) = &self.bias {
            p.push(("bias".to_string(), b.clone()));
        }
        p
    }
}
