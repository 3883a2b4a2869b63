//! Pooling layers (book 1 ch.7.5 「Poolingレイヤの実装」), PyTorch's `nn.MaxPool2d` and
//! `nn.AvgPool2d`: no parameters, the work is one op ([`Tensor::max_pool2d`],
//! [`Tensor::avg_pool2d`]).

use nn_core::{Float, Size2d, Tensor};

use crate::module::Module;

/// Kernel, stride and padding of a pooling layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Window {
    kernel: Size2d,
    stride: Size2d,
    padding: Size2d,
}

impl Window {
    fn new(kernel: impl Into<Size2d>) -> Self {
        let kernel = kernel.into();
        // As PyTorch: the stride defaults to the kernel size.
        Window {
            kernel,
            stride: kernel,
            padding: Size2d::from(0),
        }
    }
}

/// The maximum of each window (book 1 ch.7.3); the gradient goes to the arg-max.
///
/// ```
/// use nn_layers::{MaxPool2d, Module};
/// let mut pool = MaxPool2d::new(2); // the book's pool_h = pool_w = 2, stride 2
/// let y = Module::<f32>::forward(&mut pool, &nn_core::Tensor::zeros(&[1, 30, 24, 24]));
/// assert_eq!(y.shape(), vec![1, 30, 12, 12]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxPool2d {
    window: Window,
}

impl MaxPool2d {
    /// `kernel`-sized windows moved by `kernel` (no overlap), no padding.
    pub fn new(kernel: impl Into<Size2d>) -> Self {
        MaxPool2d {
            window: Window::new(kernel),
        }
    }

    /// The same layer moving its windows by `stride`.
    pub fn with_stride(mut self, stride: impl Into<Size2d>) -> Self {
        self.window.stride = stride.into();
        self
    }

    /// The same layer padding its input (padding never wins; at most half the kernel).
    pub fn with_padding(mut self, padding: impl Into<Size2d>) -> Self {
        self.window.padding = padding.into();
        self
    }
}

impl<T: Float> Module<T> for MaxPool2d {
    fn forward(&mut self, x: &Tensor<T>) -> Tensor<T> {
        let w = self.window;
        x.max_pool2d(w.kernel, w.stride, w.padding)
    }
}

/// The mean of each window, padding counted as zeros (PyTorch's default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AvgPool2d {
    window: Window,
}

impl AvgPool2d {
    /// `kernel`-sized windows moved by `kernel` (no overlap), no padding.
    pub fn new(kernel: impl Into<Size2d>) -> Self {
        AvgPool2d {
            window: Window::new(kernel),
        }
    }

    /// The same layer moving its windows by `stride`.
    pub fn with_stride(mut self, stride: impl Into<Size2d>) -> Self {
        self.window.stride = stride.into();
        self
    }

    /// The same layer padding its input with zeros (at most half the kernel).
    pub fn with_padding(mut self, padding: impl Into<Size2d>) -> Self {
        self.window.padding = padding.into();
        self
    }
}

impl<T: Float> Module<T> for AvgPool2d {
    fn forward(&mut self, x: &Tensor<T>) -> Tensor<T> {
        let w = self.window;
        x.avg_pool2d(w.kernel, w.stride, w.padding)
    }
}
