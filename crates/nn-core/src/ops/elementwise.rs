//! Elementwise arithmetic with NumPy broadcasting, and scalar and unary math
//! (book 1 ch.5.4 「単純なレイヤの実装」: the add and multiply layers).

use std::ops::{Add, Div, Mul, Neg, Sub};

use ndarray::{ArcArray, ArrayD, Dimension, IxDyn, Zip};

use super::{Op, broadcast_shape, sum_to_shape, zip_broadcast};
use crate::float::Float;
use crate::tape::GradSink;
use crate::tensor::Tensor;

/// One operand of a binary op: its node (if it needs a gradient) and its shape.
pub(crate) struct Operand {
    id: Option<usize>,
    shape: IxDyn,
}

impl Operand {
    fn new(id: Option<usize>, t_shape: &[usize]) -> Self {
        Operand {
            id,
            shape: IxDyn(t_shape),
        }
    }

    /// Delivers `g` (of the broadcast shape) summed back to this operand's shape.
    fn deliver<T: Float>(&self, g: ArrayD<T>, sink: &mut GradSink<'_, T>) {
        if let Some(id) = self.id {
            sink.add(id, sum_to_shape(g, self.shape.slice()));
        }
    }
}

pub(crate) enum Backward<T: Float> {
    Add(Operand, Operand),
    Sub(Operand, Operand),
    /// Saved: each operand's value, kept only when the other operand needs a gradient.
    Mul(
        Operand,
        Operand,
        Option<ArcArray<T, IxDyn>>,
        Option<ArcArray<T, IxDyn>>,
    ),
    /// Saved: the divisor and the quotient.
    Div(Operand, Operand, ArcArray<T, IxDyn>, ArcArray<T, IxDyn>),
    /// `max(a, b)` if `pick_max`, else `min(a, b)`; ties split the gradient evenly.
    Extremum {
        a: Operand,
        b: Operand,
        a_val: ArcArray<T, IxDyn>,
        b_val: ArcArray<T, IxDyn>,
        pick_max: bool,
    },
    Unary {
        x: usize,
        rule: Unary<T>,
    },
}

pub(crate) enum Unary<T: Float> {
    Identity,
    Neg,
    Scale(T),
    /// Saved: the input.
    PowI(i32, ArcArray<T, IxDyn>),
    PowF(T, ArcArray<T, IxDyn>),
    Log(ArcArray<T, IxDyn>),
    Abs(ArcArray<T, IxDyn>),
    Clamp(Option<T>, Option<T>, ArcArray<T, IxDyn>),
    /// Saved: the output.
    Sqrt(ArcArray<T, IxDyn>),
    Exp(ArcArray<T, IxDyn>),
}

/// The values a binary op may keep for its backward rule.
pub(crate) struct Saved<T: Float> {
    a: ArcArray<T, IxDyn>,
    b: ArcArray<T, IxDyn>,
    y: ArcArray<T, IxDyn>,
}

/// `g ∘ f(s)` in place, for the saved array `s` of g's shape.
fn scale_by<T: Float>(mut g: ArrayD<T>, s: &ArcArray<T, IxDyn>, f: impl Fn(T) -> T) -> ArrayD<T> {
    Zip::from(&mut g).and(s).for_each(|g, &s| *g *= f(s));
    g
}

impl<T: Float> Backward<T> {
    pub(crate) fn backward(self, g: ArrayD<T>, sink: &mut GradSink<'_, T>) {
        match self {
            Backward::Add(a, b) => {
                if b.id.is_some() {
                    if a.id.is_some() {
                        a.deliver(g.clone(), sink);
                    }
                    b.deliver(g, sink);
                } else {
                    a.deliver(g, sink);
                }
            }
            Backward::Sub(a, b) => {
                if b.id.is_some() {
                    if a.id.is_some() {
                        a.deliver(g.clone(), sink);
                    }
                    b.deliver(g.mapv_into(|x| -x), sink);
                } else {
                    a.deliver(g, sink);
                }
            }
            Backward::Mul(a, b, a_val, b_val) => {
                if let Some(b_val) = b_val {
                    let mut ga = g.clone();
                    Zip::from(&mut ga)
                        .and_broadcast(&b_val)
                        .for_each(|g, &b| *g *= b);
                    a.deliver(ga, sink);
                }
                if let Some(a_val) = a_val {
                    let mut gb = g;
                    Zip::from(&mut gb)
                        .and_broadcast(&a_val)
                        .for_each(|g, &a| *g *= a);
                    b.deliver(gb, sink);
                }
            }
            Backward::Div(a, b, b_val, y) => {
                if a.id.is_some() {
                    let mut ga = g.clone();
                    Zip::from(&mut ga)
                        .and_broadcast(&b_val)
                        .for_each(|g, &b| *g /= b);
                    a.deliver(ga, sink);
                }
                if b.id.is_some() {
                    // ∂(a/b)/∂b = -(a/b)/b
                    let mut gb = g;
                    Zip::from(&mut gb)
                        .and(&y)
                        .and_broadcast(&b_val)
                        .for_each(|g, &y, &b| *g = -*g * y / b);
                    b.deliver(gb, sink);
                }
            }
            Backward::Extremum {
                a,
                b,
                a_val,
                b_val,
                pick_max,
            } => {
                let half = T::lit(0.5);
                let share = |mine: T, other: T| {
                    if mine == other {
                        half
                    } else if (mine > other) == pick_max {
                        T::one()
                    } else {
                        T::zero()
                    }
                };
                if a.id.is_some() {
                    let mut ga = g.clone();
                    Zip::from(&mut ga)
                        .and_broadcast(&a_val)
                        .and_broadcast(&b_val)
                        .for_each(|g, &x, &y| *g *= share(x, y));
                    a.deliver(ga, sink);
                }
                if b.id.is_some() {
                    let mut gb = g;
                    Zip::from(&mut gb)
                        .and_broadcast(&a_val)
                        .and_broadcast(&b_val)
                        .for_each(|g, &x, &y| *g *= share(y, x));
                    b.deliver(gb, sink);
                }
            }
            Backward::Unary { x, rule } => {
                let two = T::lit(2.0);
                let dx = match rule {
                    Unary::Identity => g,
                    Unary::Neg => g.mapv_into(|v| -v),
                    Unary::Scale(c) => g.mapv_into(|v| v * c),
                    Unary::PowI(n, x) => scale_by(g, &x, |x| T::lit(f64::from(n)) * x.powi(n - 1)),
                    Unary::PowF(p, x) => scale_by(g, &x, |x| p * x.powf(p - T::one())),
                    Unary::Log(x) => scale_by(g, &x, |x| x.recip()),
                    Unary::Abs(x) => scale_by(g, &x, |x| {
                        if x > T::zero() {
                            T::one()
                        } else if x < T::zero() {
                            -T::one()
                        } else {
                            T::zero()
                        }
                    }),
                    Unary::Clamp(lo, hi, x) => scale_by(g, &x, |x| {
                        let inside = lo.is_none_or(|lo| x >= lo) && hi.is_none_or(|hi| x <= hi);
                        if inside { T::one() } else { T::zero() }
                    }),
                    Unary::Sqrt(y) => scale_by(g, &y, |y| (two * y).recip()),
                    Unary::Exp(y) => scale_by(g, &y, |y| y),
                };
                sink.add(x, dx);
            }
        }
    }
}

/// Elementwise arithmetic. Binary ops broadcast both operands as NumPy does; their gradients
/// are summed back to each operand's shape.
impl<T: Float> Tensor<T> {
    fn binary(
        &self,
        other: &Tensor<T>,
        op: &str,
        f: impl Fn(T, T) -> T,
        make: impl FnOnce(Operand, Operand, Saved<T>) -> Backward<T>,
    ) -> Tensor<T> {
        let (a, b) = (self.array(), other.array());
        let out = broadcast_shape(op, a.shape(), b.shape());
        let y = zip_broadcast(&out, a.view(), b.view(), f).into_shared();
        Tensor::from_op(y.clone(), op, &[self, other], |ids| {
            let (oa, ob) = (
                Operand::new(ids[0], a.shape()),
                Operand::new(ids[1], b.shape()),
            );
            Op::Elementwise(make(oa, ob, Saved { a, b, y }))
        })
    }

    /// `self + other`, broadcasting.
    ///
    /// # Panics
    /// If the shapes cannot be broadcast together.
    pub fn add(&self, other: &Tensor<T>) -> Tensor<T> {
        self.binary(other, "add", |x, y| x + y, |a, b, _| Backward::Add(a, b))
    }

    /// `self - other`, broadcasting.
    ///
    /// # Panics
    /// If the shapes cannot be broadcast together.
    pub fn sub(&self, other: &Tensor<T>) -> Tensor<T> {
        self.binary(other, "sub", |x, y| x - y, |a, b, _| Backward::Sub(a, b))
    }

    /// `self * other` elementwise, broadcasting.
    ///
    /// # Panics
    /// If the shapes cannot be broadcast together.
    pub fn mul(&self, other: &Tensor<T>) -> Tensor<T> {
        self.binary(
            other,
            "mul",
            |x, y| x * y,
            |a, b, s| {
                let keep_a = b.id.is_some().then_some(s.a);
                let keep_b = a.id.is_some().then_some(s.b);
                Backward::Mul(a, b, keep_a, keep_b)
            },
        )
    }

    /// `self / other` elementwise, broadcasting.
    ///
    /// # Panics
    /// If the shapes cannot be broadcast together.
    pub fn div(&self, other: &Tensor<T>) -> Tensor<T> {
        self.binary(
            other,
            "div",
            |x, y| x / y,
            |a, b, s| Backward::Div(a, b, s.b, s.y),
        )
    }

    /// Elementwise maximum, broadcasting; where both are equal each gets half the gradient.
    ///
    /// # Panics
    /// If the shapes cannot be broadcast together.
    pub fn maximum(&self, other: &Tensor<T>) -> Tensor<T> {
        self.extremum(other, "maximum", true)
    }

    /// Elementwise minimum, broadcasting; where both are equal each gets half the gradient.
    ///
    /// # Panics
    /// If the shapes cannot be broadcast together.
    pub fn minimum(&self, other: &Tensor<T>) -> Tensor<T> {
        self.extremum(other, "minimum", false)
    }

    fn extremum(&self, other: &Tensor<T>, op: &str, pick_max: bool) -> Tensor<T> {
        let f = move |x: T, y: T| if (x >= y) == pick_max { x } else { y };
        self.binary(other, op, f, |a, b, s| Backward::Extremum {
            a,
            b,
            a_val: s.a,
            b_val: s.b,
            pick_max,
        })
    }

    fn unary(
        &self,
        op: &str,
        f: impl Fn(T) -> T,
        rule: impl FnOnce(ArcArray<T, IxDyn>, ArcArray<T, IxDyn>) -> Unary<T>,
    ) -> Tensor<T> {
        let x = self.array();
        let y = x.map(|&v| f(v)).into_shared();
        Tensor::from_op(y.clone(), op, &[self], |ids| {
            let id =
                ids[0].unwrap_or_else(|| unreachable!("a recorded unary op has a tracked input"));
            Op::Elementwise(Backward::Unary {
                x: id,
                rule: rule(x, y),
            })
        })
    }

    /// `-self`.
    pub fn neg(&self) -> Tensor<T> {
        self.unary("neg", |v| -v, |_, _| Unary::Neg)
    }

    /// `self + c`.
    pub fn add_scalar(&self, c: T) -> Tensor<T> {
        self.unary("add_scalar", |v| v + c, |_, _| Unary::Identity)
    }

    /// `self - c`.
    pub fn sub_scalar(&self, c: T) -> Tensor<T> {
        self.unary("sub_scalar", |v| v - c, |_, _| Unary::Identity)
    }

    /// `c - self`.
    pub fn rsub_scalar(&self, c: T) -> Tensor<T> {
        self.unary("rsub_scalar", |v| c - v, |_, _| Unary::Neg)
    }

    /// `self * c`.
    pub fn mul_scalar(&self, c: T) -> Tensor<T> {
        self.unary("mul_scalar", |v| v * c, |_, _| Unary::Scale(c))
    }

    /// `self / c` (true division, as NumPy's `x / c`).
    pub fn div_scalar(&self, c: T) -> Tensor<T> {
        self.unary("div_scalar", |v| v / c, |_, _| Unary::Scale(c.recip()))
    }

    /// `self` raised to the integer power `n`.
    pub fn powi(&self, n: i32) -> Tensor<T> {
        self.unary("powi", |v| v.powi(n), |x, _| Unary::PowI(n, x))
    }

    /// `self` raised to the real power `p`.
    pub fn powf(&self, p: T) -> Tensor<T> {
        self.unary("powf", |v| v.powf(p), |x, _| Unary::PowF(p, x))
    }

    /// Square root.
    pub fn sqrt(&self) -> Tensor<T> {
        self.unary("sqrt", T::sqrt, |_, y| Unary::Sqrt(y))
    }

    /// `e^self`.
    pub fn exp(&self) -> Tensor<T> {
        self.unary("exp", T::exp, |_, y| Unary::Exp(y))
    }

    /// Natural logarithm.
    pub fn log(&self) -> Tensor<T> {
        self.unary("log", T::ln, |x, _| Unary::Log(x))
    }

    /// Absolute value; its gradient at 0 is 0.
    pub fn abs(&self) -> Tensor<T> {
        self.unary("abs", T::abs, |x, _| Unary::Abs(x))
    }

    /// Limits values to `[min, max]` (either bound optional); the gradient passes where the
    /// input lies inside the bounds (inclusive) and is 0 elsewhere.
    pub fn clamp(&self, min: Option<T>, max: Option<T>) -> Tensor<T> {
        let f = move |v: T| {
            let v = min.map_or(v, |lo| if v < lo { lo } else { v });
            max.map_or(v, |hi| if v > hi { hi } else { v })
        };
        self.unary("clamp", f, |x, _| Unary::Clamp(min, max, x))
    }
}

macro_rules! binary_operator {
    ($trait:ident, $method:ident) => {
        impl<T: Float> $trait<&Tensor<T>> for &Tensor<T> {
            type Output = Tensor<T>;
            fn $method(self, rhs: &Tensor<T>) -> Tensor<T> {
                Tensor::$method(self, rhs)
            }
        }
        impl<T: Float> $trait<Tensor<T>> for Tensor<T> {
            type Output = Tensor<T>;
            fn $method(self, rhs: Tensor<T>) -> Tensor<T> {
                Tensor::$method(&self, &rhs)
            }
        }
        impl<T: Float> $trait<&Tensor<T>> for Tensor<T> {
            type Output = Tensor<T>;
            fn $method(self, rhs: &Tensor<T>) -> Tensor<T> {
                Tensor::$method(&self, rhs)
            }
        }
        impl<T: Float> $trait<Tensor<T>> for &Tensor<T> {
            type Output = Tensor<T>;
            fn $method(self, rhs: Tensor<T>) -> Tensor<T> {
                Tensor::$method(self, &rhs)
            }
        }
    };
}

binary_operator!(Add, add);
binary_operator!(Sub, sub);
binary_operator!(Mul, mul);
binary_operator!(Div, div);

macro_rules! scalar_operator {
    ($trait:ident, $method:ident, $scalar_method:ident) => {
        impl<T: Float> $trait<T> for &Tensor<T> {
            type Output = Tensor<T>;
            fn $method(self, rhs: T) -> Tensor<T> {
                self.$scalar_method(rhs)
            }
        }
        impl<T: Float> $trait<T> for Tensor<T> {
            type Output = Tensor<T>;
            fn $method(self, rhs: T) -> Tensor<T> {
                self.$scalar_method(rhs)
            }
        }
    };
}

scalar_operator!(Add, add, add_scalar);
scalar_operator!(Sub, sub, sub_scalar);
scalar_operator!(Mul, mul, mul_scalar);
scalar_operator!(Div, div, div_scalar);

macro_rules! scalar_on_left {
    ($t:ty) => {
        impl Add<&Tensor<$t>> for $t {
            type Output = Tensor<$t>;
            fn add(self, rhs: &Tensor<$t>) -> Tensor<$t> {
                rhs.add_scalar(self)
            }
        }
        impl Sub<&Tensor<$t>> for $t {
            type Output = Tensor<$t>;
            fn sub(self, rhs: &Tensor<$t>) -> Tensor<$t> {
                rhs.rsub_scalar(self)
            }
        }
        impl Mul<&Tensor<$t>> for $t {
            type Output = Tensor<$t>;
            fn mul(self, rhs: &Tensor<$t>) -> Tensor<$t> {
                rhs.mul_scalar(self)
            }
        }
        impl Div<&Tensor<$t>> for $t {
            type Output = Tensor<$t>;
            fn div(self, rhs: &Tensor<$t>) -> Tensor<$t> {
                rhs.powi(-1).mul_scalar(self)
            }
        }
    };
}

scalar_on_left!(f32);
scalar_on_left!(f64);

impl<T: Float> Neg for &Tensor<T> {
    type Output = Tensor<T>;
    fn neg(self) -> Tensor<T> {
        Tensor::neg(self)
    }
}

impl<T: Float> Neg for Tensor<T> {
    type Output = Tensor<T>;
    fn neg(self) -> Tensor<T> {
        Tensor::neg(&self)
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;
    use crate::test_util::{check, rand, uniform};

    #[test]
    fn add_sub_mul_div_same_shape() {
        let (a, b) = (rand(&[3, 4], 1), uniform(&[3, 4], 0.5, 2.0, 2));
        check(|t| &t[0] + &t[1], &[a.clone(), b.clone()]);
        check(|t| &t[0] - &t[1], &[a.clone(), b.clone()]);
        check(|t| &t[0] * &t[1], &[a.clone(), b.clone()]);
        check(|t| &t[0] / &t[1], &[a, b]);
    }

    #[test]
    fn binary_ops_broadcast_both_ways() {
        // [2, 3] with [3], and [4, 1, 3] with [2, 1] (both operands expand).
        for (sa, sb) in [
            (&[2, 3][..], &[3][..]),
            (&[4, 1, 3], &[2, 1]),
            (&[3], &[2, 3]),
            (&[], &[2, 2]),
        ] {
            let (a, b) = (rand(sa, 3), uniform(sb, 0.5, 2.0, 4));
            check(|t| &t[0] + &t[1], &[a.clone(), b.clone()]);
            check(|t| &t[0] - &t[1], &[a.clone(), b.clone()]);
            check(|t| &t[0] * &t[1], &[a.clone(), b.clone()]);
            check(|t| &t[0] / &t[1], &[a.clone(), b.clone()]);
            check(|t| t[0].maximum(&t[1]), &[a.clone(), b.clone()]);
            check(|t| t[0].minimum(&t[1]), &[a, b]);
        }
    }

    #[test]
    fn repeated_use_of_one_input_accumulates() {
        let x = rand(&[5], 5);
        check(|t| &(&t[0] * &t[0]) + &t[0], &[x.clone()]);
        check(|t| t[0].add(&t[0]).mul(&t[0]).div(&t[0].exp()), &[x]);
    }

    #[test]
    fn only_tracked_operands_get_gradients() {
        let a = Tensor::<f64>::from_vec(&[2], vec![1.0, 2.0]).requires_grad();
        let c = Tensor::<f64>::from_vec(&[2], vec![3.0, 4.0]);
        (&a * &c).sum().backward().unwrap();
        assert_eq!(a.grad().unwrap().as_slice().unwrap(), &[3.0, 4.0]);
        assert!(c.grad().is_none());
    }

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

    #[test]
    fn kinks_have_documented_gradients() {
        let x = Tensor::<f64>::from_vec(&[3], vec![0.0, -1.0, 1.0]).requires_grad();
        let y = Tensor::<f64>::from_vec(&[3], vec![0.0, 2.0, -2.0]).requires_grad();
        (x.maximum(&y) + x.abs() + x.clamp(Some(-1.0), Some(0.5)))
            .sum()
            .backward()
            .unwrap();
        // maximum: tie at 0 splits 0.5/0.5; abs'(0) = 0; clamp passes at the bound -1.
        assert_eq!(
            x.grad().unwrap().as_slice().unwrap(),
            &[1.5, 0.0, 1.0 + 1.0]
        );
        assert_eq!(y.grad().unwrap().as_slice().unwrap(), &[0.5, 1.0, 0.0]);
    }

    #[test]
    #[should_panic(expected = "mul: shapes [2, 3] and [2] cannot be broadcast together")]
    fn shape_mismatch_panics_with_op_and_shapes() {
        let _ = Tensor::<f32>::ones(&[2, 3]) * Tensor::<f32>::ones(&[2]);
    }

    #[test]
    fn forward_values() {
        let a = Tensor::<f32>::from_vec(&[2, 2], vec![1.0, 2.0, 3.0, 4.0]);
        let b = Tensor::<f32>::from_vec(&[2], vec![10.0, 20.0]);
        assert_eq!(
            (&a + &b).to_array().as_slice().unwrap(),
            &[11.0, 22.0, 13.0, 24.0]
        );
        assert_eq!(
            (&a / 2.0).to_array().as_slice().unwrap(),
            &[0.5, 1.0, 1.5, 2.0]
        );
        assert_eq!(
            a.clamp(Some(1.5), Some(3.5)).to_array().as_slice().unwrap(),
            &[1.5, 2.0, 3.0, 3.5]
        );
    }
}
