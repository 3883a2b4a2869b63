//! Activation functions (book 1 ch.3.2 「活性化関数」, ch.5.5 「活性化関数レイヤの実装」) and
//! softmax / log-softmax along an axis (ch.3.5). Each pointwise activation is a [`Pointwise`]
//! rule: sigmoid, tanh and ReLU keep their output (`y(1-y)`, `1-y²`, `y>0`), the others their
//! input.

use ndarray::{ArcArray, ArrayD, Axis, IxDyn, Zip};

use super::check_axis;
use super::unary::{Keep, Pointwise, PointwiseOp, pointwise};
use crate::float::Float;
use crate::op::{Grads, Op};
use crate::tensor::Tensor;

const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
const GELU_COEF: f64 = 0.044_715;

fn sigmoid<T: Float>(x: T) -> T {
    // Two forms so that exp never overflows.
    if x >= T::zero() {
        (T::one() + (-x).exp()).recip()
    } else {
        let e = x.exp();
        e / (T::one() + e)
    }
}

fn gelu_tanh<T: Float>(x: T) -> T {
    let inner = T::lit(SQRT_2_OVER_PI) * (x + T::lit(GELU_COEF) * x * x * x);
    T::lit(0.5) * x * (T::one() + inner.tanh())
}

fn gelu_tanh_grad<T: Float>(x: T) -> T {
    let c = T::lit(SQRT_2_OVER_PI);
    let k = T::lit(GELU_COEF);
    let t = (c * (x + k * x * x * x)).tanh();
    let half = T::lit(0.5);
    half * (T::one() + t) + half * x * (T::one() - t * t) * c * (T::one() + T::lit(3.0) * k * x * x)
}

fn gelu_erf<T: Float>(x: T) -> T {
    T::lit(0.5) * x * (T::one() + (x * T::lit(std::f64::consts::FRAC_1_SQRT_2)).erf())
}

fn gelu_erf_grad<T: Float>(x: T) -> T {
    let cdf = T::lit(0.5) * (T::one() + (x * T::lit(std::f64::consts::FRAC_1_SQRT_2)).erf());
    let pdf = (-(x * x) * T::lit(0.5)).exp()
        * T::lit(0.5 * std::f64::consts::FRAC_2_SQRT_PI * std::f64::consts::FRAC_1_SQRT_2);
    cdf + x * pdf
}

fn softplus<T: Float>(x: T) -> T {
    // log(1 + e^x) = max(x, 0) + log(1 + e^-|x|), stable for large |x|.
    x.max(T::zero()) + (-x.abs()).exp().ln_1p()
}

pointwise!(
    /// The logistic sigmoid (the book's Sigmoid layer): `dy/dx = y(1 - y)`.
    Sigmoid, "sigmoid", Output, |x| sigmoid(x), |y| y * (T::one() - y)
);
pointwise!(
    /// `tanh x`: `dy/dx = 1 - y²`.
    Tanh, "tanh", Output, |x| x.tanh(), |y| T::one() - y * y
);
pointwise!(
    /// `max(x, 0)` (the book's Relu layer): the gradient passes where the output is not `≤ 0`.
    /// NaN propagates, value and gradient, as in PyTorch (`x.max(0)` would turn it into 0).
    Relu, "relu", Output, |x| if x <= T::zero() { T::zero() } else { x },
    |y| if y <= T::zero() { T::zero() } else { T::one() }
);
pointwise!(
    /// GELU, tanh approximation.
    GeluTanh, "gelu", Input, |x| gelu_tanh(x), |x| gelu_tanh_grad(x)
);
pointwise!(
    /// Exact GELU `x Φ(x)`.
    GeluErf, "gelu_erf", Input, |x| gelu_erf(x), |x| gelu_erf_grad(x)
);
pointwise!(
    /// `log(1 + eˣ)`: `dy/dx = sigmoid(x)`.
    Softplus, "softplus", Input, |x| softplus(x), |x| sigmoid(x)
);

/// `x` for `x > 0`, `slope · x` otherwise.
pub(crate) struct LeakyRelu<T>(T);
impl<T: Float> Pointwise<T> for LeakyRelu<T> {
    const NAME: &'static str = "leaky_relu";
    const KEEP: Keep = Keep::Input;
    fn f(&self, x: T) -> T {
        if x > T::zero() { x } else { self.0 * x }
    }
    fn df(&self, x: T) -> T {
        if x > T::zero() { T::one() } else { self.0 }
    }
}

/// `x` for `x > 0`, `α(eˣ - 1)` otherwise.
pub(crate) struct Elu<T>(T);
impl<T: Float> Pointwise<T> for Elu<T> {
    const NAME: &'static str = "elu";
    const KEEP: Keep = Keep::Input;
    fn f(&self, x: T) -> T {
        if x > T::zero() {
            x
        } else {
            self.0 * x.exp_m1()
        }
    }
    fn df(&self, x: T) -> T {
        if x > T::zero() {
            T::one()
        } else {
            self.0 * x.exp()
        }
    }
}

/// Softmax (or log-softmax) along an axis, keeping its output:
/// softmax `dx = y (g - Σ g y)`, log-softmax `dx = g - eʸ Σ g` along the axis.
pub(crate) struct SoftmaxOp<T: Float> {
    axis: usize,
    log: bool,
    y: Option<ArcArray<T, IxDyn>>,
}

impl<T: Float> Op<T> for SoftmaxOp<T> {
    fn name(&self) -> &'static str {
        if self.log { "log_softmax" } else { "softmax" }
    }
    fn forward(&mut self, x: &[&ArcArray<T, IxDyn>], needs: &[bool]) -> ArcArray<T, IxDyn> {
        let ax = check_axis(Op::<T>::name(self), self.axis, x[0].shape());
        let mut y = x[0].to_owned();
        // Subtracting the lane's maximum keeps exp from overflowing (book 1 ch.3.5.2).
        for mut lane in y.lanes_mut(ax) {
            let m = lane.fold(T::neg_infinity(), |m, &v| m.max(v));
            lane.mapv_inplace(|v| v - m);
            let total = lane.fold(T::zero(), |s, &v| s + v.exp());
            if self.log {
                let log_total = total.ln();
                lane.mapv_inplace(|v| v - log_total);
            } else {
                let inv = total.recip();
                lane.mapv_inplace(|v| v.exp() * inv);
            }
        }
        let y = y.into_shared();
        self.y = needs[0].then(|| y.clone());
        y
    }
    fn backward(self: Box<Self>, mut g: ArrayD<T>, grads: &mut Grads<'_, T>) {
        let Some(y) = &self.y else { return };
        let ax = Axis(self.axis);
        Zip::from(g.lanes_mut(ax))
            .and(y.lanes(ax))
            .for_each(|mut g, y| {
                if self.log {
                    let total = g.sum();
                    Zip::from(&mut g)
                        .and(&y)
                        .for_each(|g, &y| *g -= y.exp() * total);
                } else {
                    let dot = g
                        .iter()
                        .zip(y.iter())
                        .fold(T::zero(), |acc, (&g, &y)| acc + g * y);
                    Zip::from(&mut g)
                        .and(&y)
                        .for_each(|g, &y| *g = y * (*g - dot));
                }
            });
        grads.add(0, g);
    }
}

/// Activation functions.
impl<T: Float> Tensor<T> {
    /// The logistic sigmoid `1 / (1 + e^-x)`, computed without overflow.
    pub fn sigmoid(&self) -> Tensor<T> {
        PointwiseOp::run(Sigmoid, self)
    }

    /// Hyperbolic tangent.
    pub fn tanh(&self) -> Tensor<T> {
        PointwiseOp::run(Tanh, self)
    }

    /// `max(x, 0)`; its gradient at 0 is 0.
    pub fn relu(&self) -> Tensor<T> {
        PointwiseOp::run(Relu, self)
    }

    /// `x` for `x > 0`, `slope · x` otherwise.
    pub fn leaky_relu(&self, slope: T) -> Tensor<T> {
        PointwiseOp::run(LeakyRelu(slope), self)
    }

    /// GELU with the tanh approximation `0.5x(1 + tanh(√(2/π)(x + 0.044715x³)))`.
    pub fn gelu(&self) -> Tensor<T> {
        PointwiseOp::run(GeluTanh, self)
    }

    /// Exact GELU `x Φ(x) = 0.5x(1 + erf(x/√2))`.
    pub fn gelu_erf(&self) -> Tensor<T> {
        PointwiseOp::run(GeluErf, self)
    }

    /// ELU: `x` for `x > 0`, `α(eˣ - 1)` otherwise.
    pub fn elu(&self, alpha: T) -> Tensor<T> {
        PointwiseOp::run(Elu(alpha), self)
    }

    /// Softplus `log(1 + eˣ)`, computed without overflow.
    pub fn softplus(&self) -> Tensor<T> {
        PointwiseOp::run(Softplus, self)
    }

    /// The step function (1 where `x > 0`, else 0), book 1 ch.3.2.2.
    ///
    /// Its derivative is 0 wherever it exists, so the result is a constant: no gradient flows
    /// through it (which is why the book replaces it with the sigmoid for learning).
    pub fn step(&self) -> Tensor<T> {
        let y = self
            .array()
            .map(|&v| if v > T::zero() { T::one() } else { T::zero() });
        Tensor::from_array(y)
    }

    /// `exp(x) / Σ exp(x)` along `axis`, numerically stable (the maximum is subtracted first).
    ///
    /// ```
    /// use nn_core::Tensor;
    /// let p = Tensor::<f64>::from_vec(&[1, 3], vec![0.3, 2.9, 4.0]).softmax(1);
    /// assert!((p.sum().item() - 1.0).abs() < 1e-12);
    /// ```
    ///
    /// # Panics
    /// If `axis` is out of range.
    pub fn softmax(&self, axis: usize) -> Tensor<T> {
        Tensor::apply(
            SoftmaxOp {
                axis,
                log: false,
                y: None,
            },
            &[self],
        )
    }

    /// `log softmax(x)` along `axis`, computed as `x - max - log Σ exp(x - max)`.
    ///
    /// # Panics
    /// If `axis` is out of range.
    pub fn log_softmax(&self, axis: usize) -> Tensor<T> {
        Tensor::apply(
            SoftmaxOp {
                axis,
                log: true,
                y: None,
            },
            &[self],
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;
    use crate::test_util::{check, rand};

    #[test]
    fn pointwise_activations() {
        // rand() draws from [-2, 2): values sit away from ReLU's kink by far more than eps.
        let x = rand(&[3, 5], 1);
        check(|t| t[0].sigmoid(), &[x.clone()]);
        check(|t| t[0].tanh(), &[x.clone()]);
        check(|t| t[0].relu(), &[x.clone()]);
        check(|t| t[0].leaky_relu(0.1), &[x.clone()]);
        check(|t| t[0].gelu(), &[x.clone()]);
        check(|t| t[0].gelu_erf(), &[x.clone()]);
        check(|t| t[0].elu(1.0), &[x.clone()]);
        check(|t| t[0].softplus(), &[x]);
    }

    #[test]
    fn softmax_along_each_axis() {
        let x = rand(&[2, 3, 4], 2);
        for axis in 0..3 {
            check(|t| t[0].softmax(axis), &[x.clone()]);
            check(|t| t[0].log_softmax(axis), &[x.clone()]);
        }
        // Softmax of a transposed (non-contiguous) input.
        check(|t| t[0].t().softmax(1), &[rand(&[4, 3], 3)]);
    }

    #[test]
    fn softmax_is_stable_for_large_inputs() {
        let x = Tensor::<f32>::from_vec(&[1, 3], vec![1000.0, 1001.0, 999.0]);
        let p = x.softmax(1).to_array();
        assert!(p.iter().all(|v| v.is_finite()));
        assert!((p.sum() - 1.0).abs() < 1e-6);
        let lp = x.log_softmax(1).to_array();
        assert!((lp[[0, 1]] - (-(1.0f32 + (-1.0f32).exp() + (-2.0f32).exp()).ln())).abs() < 1e-5);
        assert_eq!(Tensor::<f64>::scalar(-800.0).sigmoid().item(), 0.0);
        assert_eq!(Tensor::<f64>::scalar(800.0).softplus().item(), 800.0);
    }

    #[test]
    fn activation_values() {
        let x = Tensor::<f64>::from_vec(&[4], vec![-1.0, 0.0, 0.5, 2.0]);
        assert_eq!(
            x.relu().to_array().as_slice().unwrap(),
            &[0.0, 0.0, 0.5, 2.0]
        );
        assert_eq!(
            x.step().to_array().as_slice().unwrap(),
            &[0.0, 0.0, 1.0, 1.0]
        );
        assert_eq!(
            x.leaky_relu(0.1).to_array().as_slice().unwrap(),
            &[-0.1, 0.0, 0.5, 2.0]
        );
        assert!((x.sigmoid().to_array()[1] - 0.5).abs() < 1e-15);
        // GELU(1) = Φ(1) = 0.8413447460685429 exactly; the tanh form is within 2e-4 of it.
        let one = Tensor::<f64>::scalar(1.0);
        assert!((one.gelu_erf().item() - 0.841_344_746_068_542_9).abs() < 1e-12);
        assert!((one.gelu().item() - 0.841_344_746_068_542_9).abs() < 2e-4);
    }

    /// PyTorch: `relu(nan) = nan`, and its backward passes the gradient where the output is not
    /// `≤ 0`, NaN included.
    #[test]
    fn relu_propagates_nan_like_pytorch() {
        let x = Tensor::<f64>::from_vec(&[3], vec![f64::NAN, -1.0, 2.0]).requires_grad();
        let y = x.relu();
        let v = y.to_array();
        assert!(v[0].is_nan() && v[1] == 0.0 && v[2] == 2.0);
        y.sum().backward().unwrap();
        assert_eq!(x.grad().unwrap().as_slice().unwrap(), &[1.0, 0.0, 1.0]);
    }

    #[test]
    fn step_passes_no_gradient() {
        let x = Tensor::<f64>::from_vec(&[2], vec![-1.0, 1.0]).requires_grad();
        let y = x.step();
        assert!(!y.is_tracked());
        ((&y * &x).sum()).backward().unwrap();
        // Only the product's direct path contributes: d(step(x)·x)/dx = step(x).
        assert_eq!(x.grad().unwrap().as_slice().unwrap(), &[0.0, 1.0]);
    }
}
