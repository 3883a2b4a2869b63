//! The convolution layer (book 1 ch.7.4.4 「Convolutionレイヤの実装」): weights
//! `(out_channels, in_channels, kh, kw)` and a bias per output channel, as in the book and
//! PyTorch's `nn.Conv2d`; the work is one op, [`Tensor::conv2d`].

use nn_core::{Float, Size2d, Tensor};
use rand::Rng;

use crate::init::Init;
use crate::module::{Module, Named};

/// 2-D convolution of `(N, C, H, W)` batches: `(N, out, OH, OW)` with
/// `OH = (H + 2·padding − kh) / stride + 1` (likewise `OW`).
///
/// ```
/// use nn_layers::{Conv2d, Init, Module};
/// use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// // The book's SimpleConvNet: 30 filters of 5×5, stride 1, no padding, weights 0.01·randn.
/// let mut conv = Conv2d::<f32>::with_init(1, 30, 5, Init::Normal { std: 0.01 }, true, &mut rng);
/// let y = conv.forward(&nn_core::Tensor::zeros(&[2, 1, 28, 28]));
/// assert_eq!(y.shape(), vec![2, 30, 24, 24]);
/// // The book's DeepConvNet pads its 3×3 convolutions by 1.
/// let same = Conv2d::<f32>::new(16, 32, 3, &mut rng).with_padding(1);
/// assert_eq!(same.weight().shape(), vec![32, 16, 3, 3]);
/// ```
pub struct Conv2d<T: Float = f32> {
    weight: Tensor<T>,
    bias: Option<Tensor<T>>,
    stride: Size2d,
    padding: Size2d,
}

impl<T: Float> Conv2d<T> {
    /// PyTorch's default initialisation, U(±1/√fan_in) for weight and bias with
    /// `fan_in = in_channels · kh · kw`; stride 1, no padding.
    pub fn new<R: Rng + ?Sized>(
        in_channels: usize,
        out_channels: usize,
        kernel: impl Into<Size2d>,
        rng: &mut R,
    ) -> Self {
        let k = kernel.into();
        let (fan_in, fan_out) = fans(in_channels, out_channels, k);
        let b = 1.0 / (fan_in.max(1) as f64).sqrt();
        let init = Init::Uniform { low: -b, high: b };
        Conv2d {
            weight: init
                .tensor(&[out_channels, in_channels, k.h, k.w], fan_in, fan_out, rng)
                .requires_grad(),
            bias: Some(
                init.tensor(&[out_channels], fan_in, fan_out, rng)
                    .requires_grad(),
            ),
            stride: Size2d::from(1),
            padding: Size2d::from(0),
        }
    }

    /// A chosen weight initialiser (fan-in `in_channels · kh · kw`, fan-out
    /// `out_channels · kh · kw`); the bias, if any, starts at zero as in the book.
    pub fn with_init<R: Rng + ?Sized>(
        in_channels: usize,
        out_channels: usize,
        kernel: impl Into<Size2d>,
        init: Init,
        bias: bool,
        rng: &mut R,
    ) -> Self {
        let k = kernel.into();
        let (fan_in, fan_out) = fans(in_channels, out_channels, k);
        Conv2d {
            weight: init
                .tensor(&[out_channels, in_channels, k.h, k.w], fan_in, fan_out, rng)
                .requires_grad(),
            bias: bias.then(|| Tensor::zeros(&[out_channels]).requires_grad()),
            stride: Size2d::from(1),
            padding: Size2d::from(0),
        }
    }

    /// A layer from existing parameters (made leaves if they are not); stride 1, no padding.
    ///
    /// # Panics
    /// If `weight` is not 4-D or `bias` is not `(out_channels,)`.
    pub fn from_parameters(weight: Tensor<T>, bias: Option<Tensor<T>>) -> Self {
        let ws = weight.shape();
        assert!(
            ws.len() == 4,
            "Conv2d: weight must be (out, in, kh, kw), got {ws:?}"
        );
        if let Some(b) = &bias {
            assert!(
                b.shape() == [ws[0]],
                "Conv2d: bias {:?} does not match weight {ws:?}",
                b.shape()
            );
        }
        Conv2d {
            weight: weight.requires_grad(),
            bias: bias.map(Tensor::requires_grad),
            stride: Size2d::from(1),
            padding: Size2d::from(0),
        }
    }

    /// The same layer moving its kernel by `stride`.
    pub fn with_stride(mut self, stride: impl Into<Size2d>) -> Self {
        self.stride = stride.into();
        self
    }

    /// The same layer padding its input with `padding` zeros on each side.
    pub fn with_padding(mut self, padding: impl Into<Size2d>) -> Self {
        self.padding = padding.into();
        self
    }

    /// The weight `(out_channels, in_channels, kh, kw)`.
    pub fn weight(&self) -> &Tensor<T> {
        &self.weight
    }

    /// The bias `(out_channels,)`, if any.
    pub fn bias(&self) -> Option<&Tensor<T>> {
        self.bias.as_ref()
    }

    /// The stride.
    pub fn stride(&self) -> Size2d {
        self.stride
    }

    /// The padding.
    pub fn padding(&self) -> Size2d {
        self.padding
    }
}

fn fans(in_channels: usize, out_channels: usize, k: Size2d) -> (usize, usize) {
    (in_channels * k.h * k.w, out_channels * k.h * k.w)
}

impl<T: Float> Module<T> for Conv2d<T> {
    fn forward(&mut self, x: &Tensor<T>) -> Tensor<T> {
        x.conv2d(&self.weight, self.bias.as_ref(), self.stride, self.padding)
    }

    fn parameters(&self) -> Vec<Named<T>> {
        let mut p = vec![("weight".to_string(), self.weight.clone())];
        if let Some(b) = &self.bias {
            p.push(("bias".to_string(), b.clone()));
        }
        p
    }
}
