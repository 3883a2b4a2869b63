//! Pointwise math: negation, scalar arithmetic, powers, roots, exp/log, abs and clamp. Each op
//! is a [`Pointwise`] rule — its function and its derivative on two adjacent lines — run by
//! [`PointwiseOp`], which keeps the input or the output for the derivative (book 1 ch.5.5 keeps
//! the sigmoid's output the same way).

use ndarray::{ArcArray, ArrayD, IxDyn};

use super::{chain, map};
use crate::float::Float;
use crate::op::{Grads, Op};
use crate::tensor::Tensor;

/// Which value a pointwise derivative is computed from.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keep {
    /// `dy/dx` is a function of `x`.
    Input,
    /// `dy/dx` is a function of `y` (sigmoid, tanh, exp, sqrt, ReLU).
    Output,
    /// `dy/dx` is a constant: nothing is kept.
    Nothing,
}

/// A pointwise op `y = f(x)`: its function, its derivative, and what the derivative needs.
pub(crate) trait Pointwise<T: Float>: Sync + 'static {
    const NAME: &'static str;
    const KEEP: Keep;
    /// The forward function.
    fn f(&self, x: T) -> T;
    /// `dy/dx` from the kept value (`x` or `y` as [`Pointwise::KEEP`] says; ignored for
    /// [`Keep::Nothing`]).
    fn df(&self, kept: T) -> T;
}

/// Runs a [`Pointwise`] rule as an [`Op`].
pub(crate) struct PointwiseOp<T: Float, P> {
    rule: P,
    kept: Option<ArcArray<T, IxDyn>>,
}

impl<T: Float, P: Pointwise<T>> PointwiseOp<T, P> {
    pub(crate) fn run(rule: P, x: &Tensor<T>) -> Tensor<T> {
        Tensor::apply(PointwiseOp { rule, kept: None }, &[x])
    }
}

impl<T: Float, P: Pointwise<T>> Op<T> for PointwiseOp<T, P> {
    fn name(&self) -> &'static str {
        P::NAME
    }
    fn forward(&mut self, x: &[&ArcArray<T, IxDyn>], needs: &[bool]) -> ArcArray<T, IxDyn> {
        let y = map(x[0], |v| self.rule.f(v));
        if needs[0] {
            self.kept = match P::KEEP {
                Keep::Input => Some(x[0].clone()),
                Keep::Output => Some(y.clone()),
                Keep::Nothing => None,
            };
        }
        y
    }
    fn backward(self: Box<Self>, g: ArrayD<T>, grads: &mut Grads<'_, T>) {
        let dx = match &self.kept {
            Some(kept) => chain(g, kept, |s| self.rule.df(s)),
            None => {
                let d = self.rule.df(T::zero());
                if d == T::one() {
                    g
                } else {
                    g.mapv_into(|v| v * d)
                }
            }
        };
        grads.add(0, dx);
    }
}

/// A rule with no parameters, named by a zero-sized type.
macro_rules! pointwise {
    ($(#[$doc:meta])* $name:ident, $op:literal, $keep:ident, |$x:ident| $f:expr, |$s:ident| $df:expr) => {
        $(#[$doc])*
        pub(crate) struct $name;
        impl<T: Float> Pointwise<T> for $name {
            const NAME: &'static str = $op;
            const KEEP: Keep = Keep::$keep;
            #[inline]
            fn f(&self, $x: T) -> T {
                $f
            }
            #[inline]
            fn df(&self, $s: T) -> T {
                $df
            }
        }
    };
}
pub(crate) use pointwise;

pointwise!(
    /// `-x`.
    Negate, "neg", Nothing, |x| -x, |_s| -T::one()
);
pointwise!(
    /// `√x`; `dy/dx = 1 / 2y`.
    Sqrt, "sqrt", Output, |x| x.sqrt(), |y| (T::lit(2.0) * y).recip()
);
pointwise!(
    /// `eˣ`; `dy/dx = y`.
    Exp, "exp", Output, |x| x.exp(), |y| y
);
pointwise!(
    /// `ln x`; `dy/dx = 1/x`.
    Log, "log", Input, |x| x.ln(), |x| x.recip()
);
pointwise!(
    /// `|x|`; its derivative at 0 is 0.
    Abs, "abs", Input, |x| x.abs(), |x| if x > T::zero() {
        T::one()
    } else if x < T::zero() {
        -T::one()
    } else {
        T::zero()
    }
);

/// `x + c`: the gradient passes unchanged.
pub(crate) struct AddScalar<T>(T);
impl<T: Float> Pointwise<T> for AddScalar<T> {
    const NAME: &'static str = "add_scalar";
    const KEEP: Keep = Keep::Nothing;
    fn f(&self, x: T) -> T {
        x + self.0
    }
    fn df(&self, _: T) -> T {
        T::one()
    }
}

/// `c - x`.
pub(crate) struct RsubScalar<T>(T);
impl<T: Float> Pointwise<T> for RsubScalar<T> {
    const NAME: &'static str = "rsub_scalar";
    const KEEP: Keep = Keep::Nothing;
    fn f(&self, x: T) -> T {
        self.0 - x
    }
    fn df(&self, _: T) -> T {
        -T::one()
    }
}

/// `x · c`.
pub(crate) struct MulScalar<T>(T);
impl<T: Float> Pointwise<T> for MulScalar<T> {
    const NAME: &'static str = "mul_scalar";
    const KEEP: Keep = Keep::Nothing;
    fn f(&self, x: T) -> T {
        x * self.0
    }
    fn df(&self, _: T) -> T {
        self.0
    }
}

/// `x / c` (true division, as NumPy's `x / c`).
pub(crate) struct DivScalar<T>(T);
impl<T: Float> Pointwise<T> for DivScalar<T> {
    const NAME: &'static str = "div_scalar";
    const KEEP: Keep = Keep::Nothing;
    fn f(&self, x: T) -> T {
        x / self.0
    }
    fn df(&self, _: T) -> T {
        self.0.recip()
    }
}

/// `xⁿ` for an integer `n`; `dy/dx = n xⁿ⁻¹`.
pub(crate) struct PowI(i32);
impl<T: Float> Pointwise<T> for PowI {
    const NAME: &'static str = "powi";
    const KEEP: Keep = Keep::Input;
    fn f(&self, x: T) -> T {
        x.powi(self.0)
    }
    fn df(&self, x: T) -> T {
        T::lit(f64::from(self.0)) * x.powi(self.0 - 1)
    }
}

/// `xᵖ` for a real `p`; `dy/dx = p xᵖ⁻¹`.
pub(crate) struct PowF<T>(T);
impl<T: Float> Pointwise<T> for PowF<T> {
    const NAME: &'static str = "powf";
    const KEEP: Keep = Keep::Input;
    fn f(&self, x: T) -> T {
        x.powf(self.0)
    }
    fn df(&self, x: T) -> T {
        self.0 * x.powf(self.0 - T::one())
    }
}

/// `x` limited to `[min, max]` (either optional); the gradient passes inside the bounds
/// (inclusive) and is 0 outside.
pub(crate) struct Clamp<T> {
    min: Option<T>,
    max: Option<T>,
}
impl<T: Float> Pointwise<T> for Clamp<T> {
    const NAME: &'static str = "clamp";
    const KEEP: Keep = Keep::Input;
    fn f(&self, x: T) -> T {
        let x = self.min.map_or(x, |lo| if x < lo { lo } else { x });
        self.max.map_or(x, |hi| if x > hi { hi } else { x })
    }
    fn df(&self, x: T) -> T {
        let inside = self.min.is_none_or(|lo| x >= lo) && self.max.is_none_or(|hi| x <= hi);
        if inside { T::one() } else { T::zero() }
    }
}

/// Pointwise math.
impl<T: Float> Tensor<T> {
    /// `-self`.
    pub fn neg(&self) -> Tensor<T> {
        PointwiseOp::run(Negate, self)
    }

    /// `self + c`.
    pub fn add_scalar(&self, c: T) -> Tensor<T> {
        PointwiseOp::run(AddScalar(c), self)
    }

    /// `self - c`.
    pub fn sub_scalar(&self, c: T) -> Tensor<T> {
        PointwiseOp::run(AddScalar(-c), self)
    }

    /// `c - self`.
    pub fn rsub_scalar(&self, c: T) -> Tensor<T> {
        PointwiseOp::run(RsubScalar(c), self)
    }

    /// `self * c`.
    pub fn mul_scalar(&self, c: T) -> Tensor<T> {
        PointwiseOp::run(MulScalar(c), self)
    }

    /// `self / c` (true division, as NumPy's `x / c`).
    pub fn div_scalar(&self, c: T) -> Tensor<T> {
        PointwiseOp::run(DivScalar(c), self)
    }

    /// `self` raised to the integer power `n`.
    pub fn powi(&self, n: i32) -> Tensor<T> {
        PointwiseOp::run(PowI(n), self)
    }

    /// `self` raised to the real power `p`.
    pub fn powf(&self, p: T) -> Tensor<T> {
        PointwiseOp::run(PowF(p), self)
    }

    /// Square root.
    pub fn sqrt(&self) -> Tensor<T> {
        PointwiseOp::run(Sqrt, self)
    }

    /// `e^self`.
    pub fn exp(&self) -> Tensor<T> {
        PointwiseOp::run(Exp, self)
    }

    /// Natural logarithm.
    pub fn log(&self) -> Tensor<T> {
        PointwiseOp::run(Log, self)
    }

    /// Absolute value; its gradient at 0 is 0.
    pub fn abs(&self) -> Tensor<T> {
        PointwiseOp::run(Abs, self)
    }

    /// Limits values to `[min, max]` (either bound optional); the gradient passes where the
    /// input lies inside the bounds (inclusive) and is 0 elsewhere.
    pub fn clamp(&self, min: Option<T>, max: Option<T>) -> Tensor<T> {
        PointwiseOp::run(Clamp { min, max }, self)
    }
}

#[cfg(test)]
mod tests {
    use crate::test_util::{check, rand, uniform};

    #[test]
    fn scalar_and_unary_ops() {
        let x = rand(&[2, 3], 6);
        let pos = uniform(&[2, 3], 0.3, 3.0, 7);
        check(|t| -&t[0], &[x.clone()]);
        check(|t| &t[0] + 2.5, &[x.clone()]);
        check(|t| &t[0] - 2.5, &[x.clone()]);
        check(|t| &t[0] * 2.5, &[x.clone()]);
        check(|t| &t[0] / 2.5, &[x.clone()]);
        check(|t| 2.5 - &t[0], &[x.clone()]);
        check(|t| 2.5 * &t[0], &[x.clone()]);
        check(|t| 1.0 + &t[0], &[x.clone()]);
        check(|t| 2.5 / &t[0], &[pos.clone()]);
        check(|t| t[0].powi(3), &[x.clone()]);
        check(|t| t[0].powi(-2), &[pos.clone()]);
        check(|t| t[0].powf(1.7), &[pos.clone()]);
        check(|t| t[0].sqrt(), &[pos.clone()]);
        check(|t| t[0].exp(), &[x.clone()]);
        check(|t| t[0].log(), &[pos]);
        check(|t| t[0].abs(), &[x.clone()]);
        // Values drawn from [-2, 2) stay clear of the bounds ±0.5 by more than eps.
        check(|t| t[0].clamp(Some(-0.5), Some(0.5)), &[x.clone()]);
        check(|t| t[0].clamp(None, Some(0.5)), &[x]);
    }
}
