//! Elementwise arithmetic with NumPy broadcasting (book 1 ch.5.4 「単純なレイヤの実装」: the
//! add and multiply layers). Each operand's gradient is summed back to its own shape.

use std::ops::{Add, Div, Mul, Neg, Sub};

use ndarray::{ArcArray, ArrayD, IxDyn, Zip};

use super::{broadcast_shape, sum_to_shape, zip_broadcast};
use crate::float::Float;
use crate::op::{Grads, Op};
use crate::tensor::Tensor;

type Shared<T> = ArcArray<T, IxDyn>;

/// `f(a, b)` over the broadcast of both operands.
fn broadcast_apply<T: Float>(
    op: &str,
    a: &Shared<T>,
    b: &Shared<T>,
    f: impl Fn(T, T) -> T,
) -> Shared<T> {
    let out = broadcast_shape(op, a.shape(), b.shape());
    zip_broadcast(&out, a.view(), b.view(), f).into_shared()
}

/// The incoming gradient for each operand that needs it, copied only when both do.
fn split<T: Float>(g: ArrayD<T>, a: bool, b: bool) -> (Option<ArrayD<T>>, Option<ArrayD<T>>) {
    match (a, b) {
        (true, true) => (Some(g.clone()), Some(g)),
        (true, false) => (Some(g), None),
        (false, true) => (None, Some(g)),
        (false, false) => (None, None),
    }
}

/// `g *= f(x, …)` elementwise, with the saved operands broadcast to g's shape.
fn scale_broadcast<T: Float>(mut g: ArrayD<T>, x: &Shared<T>, f: impl Fn(T, T) -> T) -> ArrayD<T> {
    if g.shape() == x.shape() {
        Zip::from(&mut g).and(x).for_each(|g, &x| *g = f(*g, x));
    } else {
        Zip::from(&mut g)
            .and_broadcast(x)
            .for_each(|g, &x| *g = f(*g, x));
    }
    g
}

/// Delivers `g` to input `input`, summed back to that input's shape.
fn deliver<T: Float>(grads: &mut Grads<'_, T>, input: usize, g: ArrayD<T>) {
    if let Some(shape) = grads.shape(input) {
        let g = sum_to_shape(g, shape);
        grads.add(input, g);
    }
}

/// `a + b` (the book's AddLayer): the gradient passes to both operands unchanged.
pub(crate) struct AddOp;

impl<T: Float> Op<T> for AddOp {
    fn name(&self) -> &'static str {
        "add"
    }
    fn forward(&mut self, x: &[&Shared<T>], _: &[bool]) -> Shared<T> {
        broadcast_apply("add", x[0], x[1], |a, b| a + b)
    }
    fn backward(self: Box<Self>, g: ArrayD<T>, grads: &mut Grads<'_, T>) {
        let (ga, gb) = split(g, grads.needs(0), grads.needs(1));
        if let Some(ga) = ga {
            deliver(grads, 0, ga);
        }
        if let Some(gb) = gb {
            deliver(grads, 1, gb);
        }
    }
}

/// `a - b`: `da = g`, `db = -g`.
pub(crate) struct SubOp;

impl<T: Float> Op<T> for SubOp {
    fn name(&self) -> &'static str {
        "sub"
    }
    fn forward(&mut self, x: &[&Shared<T>], _: &[bool]) -> Shared<T> {
        broadcast_apply("sub", x[0], x[1], |a, b| a - b)
    }
    fn backward(self: Box<Self>, g: ArrayD<T>, grads: &mut Grads<'_, T>) {
        let (ga, gb) = split(g, grads.needs(0), grads.needs(1));
        if let Some(ga) = ga {
            deliver(grads, 0, ga);
        }
        if let Some(gb) = gb {
            deliver(grads, 1, gb.mapv_into(|v| -v));
        }
    }
}

/// `a * b` elementwise (the book's MulLayer): `da = g·b`, `db = g·a`, so each operand is kept
/// only when the other one needs a gradient.
pub(crate) struct MulOp<T: Float> {
    a: Option<Shared<T>>,
    b: Option<Shared<T>>,
}

impl<T: Float> Op<T> for MulOp<T> {
    fn name(&self) -> &'static str {
        "mul"
    }
    fn forward(&mut self, x: &[&Shared<T>], needs: &[bool]) -> Shared<T> {
        self.b = needs[0].then(|| x[1].clone());
        self.a = needs[1].then(|| x[0].clone());
        broadcast_apply("mul", x[0], x[1], |a, b| a * b)
    }
    fn backward(self: Box<Self>, g: ArrayD<T>, grads: &mut Grads<'_, T>) {
        let (ga, gb) = split(g, self.b.is_some(), self.a.is_some());
        if let (Some(ga), Some(b)) = (ga, &self.b) {
            deliver(grads, 0, scale_broadcast(ga, b, |g, b| g * b));
        }
        if let (Some(gb), Some(a)) = (gb, &self.a) {
            deliver(grads, 1, scale_broadcast(gb, a, |g, a| g * a));
        }
    }
}

/// `a / b`: `da = g / b`, `db = -g·(a/b)/b`; keeps the divisor, and the quotient if `b` needs a
/// gradient.
pub(crate) struct DivOp<T: Float> {
    b: Option<Shared<T>>,
    y: Option<Shared<T>>,
}

impl<T: Float> Op<T> for DivOp<T> {
    fn name(&self) -> &'static str {
        "div"
    }
    fn forward(&mut self, x: &[&Shared<T>], needs: &[bool]) -> Shared<T> {
        let y = broadcast_apply("div", x[0], x[1], |a, b| a / b);
        self.b = (needs[0] || needs[1]).then(|| x[1].clone());
        self.y = needs[1].then(|| y.clone());
        y
    }
    fn backward(self: Box<Self>, g: ArrayD<T>, grads: &mut Grads<'_, T>) {
        let Some(b) = &self.b else { return };
        let (ga, gb) = split(g, grads.needs(0), self.y.is_some());
        if let Some(ga) = ga {
            deliver(grads, 0, scale_broadcast(ga, b, |g, b| g / b));
        }
        if let (Some(mut gb), Some(y)) = (gb, &self.y) {
            Zip::from(&mut gb)
                .and(y)
                .and_broadcast(b)
                .for_each(|g, &y, &b| *g = -*g * y / b);
            deliver(grads, 1, gb);
        }
    }
}

/// `max(a, b)` (or `min`) elementwise; where both are equal each gets half the gradient.
pub(crate) struct ExtremumOp<T: Float> {
    pick_max: bool,
    /// Both operands, kept if either needs a gradient.
    values: Option<(Shared<T>, Shared<T>)>,
}

impl<T: Float> ExtremumOp<T> {
    fn new(pick_max: bool) -> Self {
        ExtremumOp {
            pick_max,
            values: None,
        }
    }

    /// The share of the gradient that goes to `mine`.
    fn share(&self, mine: T, other: T) -> T {
        if mine == other {
            T::lit(0.5)
        } else if (mine > other) == self.pick_max {
            T::one()
        } else {
            T::zero()
        }
    }
}

impl<T: Float> Op<T> for ExtremumOp<T> {
    fn name(&self) -> &'static str {
        if self.pick_max { "maximum" } else { "minimum" }
    }
    fn forward(&mut self, x: &[&Shared<T>], needs: &[bool]) -> Shared<T> {
        self.values = (needs[0] || needs[1]).then(|| (x[0].clone(), x[1].clone()));
        let pick_max = self.pick_max;
        let f = move |a: T, b: T| if (a >= b) == pick_max { a } else { b };
        broadcast_apply(Op::<T>::name(self), x[0], x[1], f)
    }
    fn backward(self: Box<Self>, g: ArrayD<T>, grads: &mut Grads<'_, T>) {
        let Some((a, b)) = &self.values else { return };
        let (ga, gb) = split(g, grads.needs(0), grads.needs(1));
        for (input, g) in [(0, ga), (1, gb)] {
            if let Some(mut g) = g {
                Zip::from(&mut g)
                    .and_broadcast(a)
                    .and_broadcast(b)
                    .for_each(|g, &a, &b| {
                        let (mine, other) = if input == 0 { (a, b) } else { (b, a) };
                        *g *= self.share(mine, other);
                    });
                deliver(grads, input, g);
            }
        }
    }
}

/// Elementwise arithmetic. Binary ops broadcast both operands as NumPy does; their gradients
/// are summed back to each operand's shape.
impl<T: Float> Tensor<T> {
    /// `self + other`, broadcasting.
    ///
    /// # Panics
    /// If the shapes cannot be broadcast together.
    pub fn add(&self, other: &Tensor<T>) -> Tensor<T> {
        Tensor::apply(AddOp, &[self, other])
    }

    /// `self - other`, broadcasting.
    ///
    /// # Panics
    /// If the shapes cannot be broadcast together.
    pub fn sub(&self, other: &Tensor<T>) -> Tensor<T> {
        Tensor::apply(SubOp, &[self, other])
    }

    /// `self * other` elementwise, broadcasting.
    ///
    /// # Panics
    /// If the shapes cannot be broadcast together.
    pub fn mul(&self, other: &Tensor<T>) -> Tensor<T> {
        Tensor::apply(MulOp { a: None, b: None }, &[self, other])
    }

    /// `self / other` elementwise, broadcasting.
    ///
    /// # Panics
    /// If the shapes cannot be broadcast together.
    pub fn div(&self, other: &Tensor<T>) -> Tensor<T> {
        Tensor::apply(DivOp { b: None, y: None }, &[self, other])
    }

    /// Elementwise maximum, broadcasting; where both are equal each gets half the gradient.
    ///
    /// # Panics
    /// If the shapes cannot be broadcast together.
    pub fn maximum(&self, other: &Tensor<T>) -> Tensor<T> {
        Tensor::apply(ExtremumOp::new(true), &[self, other])
    }

    /// Elementwise minimum, broadcasting; where both are equal each gets half the gradient.
    ///
    /// # Panics
    /// If the shapes cannot be broadcast together.
    pub fn minimum(&self, other: &Tensor<T>) -> Tensor<T> {
        Tensor::apply(ExtremumOp::new(false), &[self, other])
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
