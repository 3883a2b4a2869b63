//! The built-in differentiable operations, one file per family. Each op is a struct
//! implementing [`Op`](crate::Op): its `forward` and its `backward` sit side by side, and the
//! struct holds exactly what `backward` needs. The public `Tensor` methods at the end of each
//! file run them through [`Tensor::apply`](crate::Tensor::apply).

pub(crate) mod activation;
pub(crate) mod affine_loss;
pub(crate) mod conv;
mod conv_gemm;
pub(crate) mod elementwise;
pub(crate) mod loss;
pub(crate) mod matmul;
pub(crate) mod pool;
pub(crate) mod reduce;
pub(crate) mod shape;
pub(crate) mod unary;

pub use conv::Size2d;

use ndarray::{ArcArray, ArrayD, ArrayViewD, Axis, Dimension, IxDyn, Zip};

use crate::float::Float;

/// Elements from which a pointwise op is shared out over the threads (a ReLU over a batch's
/// convolution output, millions of values, ran on one core while the other waited).
const PAR_MIN_ELEMENTS: usize = 1 << 16;

/// `f` applied to every element, as a new shared array; over the threads for large
/// contiguous arrays.
pub(crate) fn map<T: Float>(
    x: &ArcArray<T, IxDyn>,
    f: impl Fn(T) -> T + Sync,
) -> ArcArray<T, IxDyn> {
    if let Some(xs) = x.as_slice()
        && xs.len() >= PAR_MIN_ELEMENTS
        && crate::kernels::num_threads() > 1
    {
        let mut ys = vec![T::zero(); xs.len()];
        let per = xs.len().div_ceil(crate::kernels::num_threads());
        let parts = ys.chunks_mut(per).zip(xs.chunks(per)).collect();
        crate::kernels::team::for_each(parts, &|_, (ys, xs): (&mut [T], &[T])| {
            for (y, &x) in ys.iter_mut().zip(xs) {
                *y = f(x);
            }
        });
        return ArrayD::from_shape_vec(x.raw_dim(), ys)
            .unwrap_or_else(|_| unreachable!("one value per element"))
            .into_shared();
    }
    x.map(|&v| f(v)).into_shared()
}

/// `g ∘ f(s)` in place, for the saved array `s` of g's shape: the chain rule of a pointwise op.
pub(crate) fn chain<T: Float>(
    mut g: ArrayD<T>,
    s: &ArcArray<T, IxDyn>,
    f: impl Fn(T) -> T,
) -> ArrayD<T> {
    Zip::from(&mut g).and(s).for_each(|g, &s| *g *= f(s));
    g
}

/// The NumPy broadcast of two shapes.
///
/// # Panics
/// Naming `op` and both shapes, if they are incompatible.
pub(crate) fn broadcast_shape(op: &str, a: &[usize], b: &[usize]) -> IxDyn {
    if a == b {
        return IxDyn(a);
    }
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for (i, o) in out.iter_mut().enumerate() {
        // Align from the right; missing leading axes count as 1.
        let da = if i + a.len() >= n {
            a[i + a.len() - n]
        } else {
            1
        };
        let db = if i + b.len() >= n {
            b[i + b.len() - n]
        } else {
            1
        };
        *o = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => panic!("{op}: shapes {a:?} and {b:?} cannot be broadcast together"),
        };
    }
    IxDyn(&out)
}

/// Sums a gradient of a broadcast result back to the shape of the operand that was broadcast.
pub(crate) fn sum_to_shape<T: Float>(g: ArrayD<T>, shape: &[usize]) -> ArrayD<T> {
    if g.shape() == shape {
        return g;
    }
    let mut g = g;
    while g.ndim() > shape.len() {
        g = g.sum_axis(Axis(0));
    }
    for (axis, &dim) in shape.iter().enumerate() {
        if dim == 1 && g.shape()[axis] != 1 {
            g = g.sum_axis(Axis(axis)).insert_axis(Axis(axis));
        }
    }
    g
}

/// `f(a, b)` elementwise over the broadcast of `a` and `b` (whose shape `out` the caller
/// computed with [`broadcast_shape`]).
pub(crate) fn zip_broadcast<T: Float>(
    out: &IxDyn,
    a: ArrayViewD<'_, T>,
    b: ArrayViewD<'_, T>,
    f: impl Fn(T, T) -> T,
) -> ArrayD<T> {
    if a.shape() == out.slice() && b.shape() == out.slice() {
        // Contiguous operands: a plain loop over slices, no per-element index arithmetic.
        if let (Some(xs), Some(ys)) = (a.as_slice(), b.as_slice()) {
            let v: Vec<T> = xs.iter().zip(ys).map(|(&x, &y)| f(x, y)).collect();
            if let Ok(out) = ArrayD::from_shape_vec(out.clone(), v) {
                return out;
            }
        }
        return Zip::from(&a).and(&b).map_collect(|&x, &y| f(x, y));
    }
    match (a.broadcast(out.clone()), b.broadcast(out.clone())) {
        (Some(a), Some(b)) => Zip::from(&a).and(&b).map_collect(|&x, &y| f(x, y)),
        _ => unreachable!("shapes were checked by broadcast_shape"),
    }
}

/// Checks `axis` against `ndim`, naming the op.
pub(crate) fn check_axis(op: &str, axis: usize, shape: &[usize]) -> Axis {
    assert!(
        axis < shape.len(),
        "{op}: axis {axis} is out of range for shape {shape:?}"
    );
    Axis(axis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_follows_numpy_rules() {
        assert_eq!(broadcast_shape("t", &[2, 3], &[3]), IxDyn(&[2, 3]));
        assert_eq!(broadcast_shape("t", &[4, 1, 3], &[2, 1]), IxDyn(&[4, 2, 3]));
        assert_eq!(broadcast_shape("t", &[], &[5]), IxDyn(&[5]));
        assert_eq!(broadcast_shape("t", &[1], &[0]), IxDyn(&[0]));
    }

    #[test]
    #[should_panic(expected = "add: shapes [2, 3] and [4] cannot be broadcast together")]
    fn broadcast_mismatch_names_op_and_shapes() {
        broadcast_shape("add", &[2, 3], &[4]);
    }

    #[test]
    fn sum_to_shape_reduces_leading_and_unit_axes() {
        let g = ArrayD::<f64>::ones(IxDyn(&[4, 2, 3]));
        let r = sum_to_shape(g, &[2, 1]);
        assert_eq!(r.shape(), &[2, 1]);
        assert!(r.iter().all(|&x| x == 12.0));
    }
}
