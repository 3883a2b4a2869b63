//! Reductions: sum, mean and max over all elements or over given axes, with or without kept
//! dimensions (NumPy's `keepdims`). Book 1 ch.5.6.2 (the bias gradient is a sum over the batch).

use ndarray::{ArcArray, ArrayD, ArrayViewD, Axis, Dimension, IxDyn, Zip};

use super::check_axis;
use crate::float::Float;
use crate::op::{Grads, Op};
use crate::tensor::Tensor;

/// Sum or mean over `axes` (all when `None`): `dx = broadcast(g) · scale`, scale 1 for the sum
/// and 1/n for the mean. Keeps only shapes.
pub(crate) struct SumOp<T: Float> {
    name: &'static str,
    axes: Option<Vec<usize>>,
    keepdims: bool,
    mean: bool,
    in_shape: IxDyn,
    kept_shape: IxDyn,
    scale: T,
}

impl<T: Float> Op<T> for SumOp<T> {
    fn name(&self) -> &'static str {
        self.name
    }
    fn forward(&mut self, inputs: &[&ArcArray<T, IxDyn>], _: &[bool]) -> ArcArray<T, IxDyn> {
        let x = inputs[0];
        let all: Vec<usize> = (0..x.ndim()).collect();
        let axes = normalize_axes(self.name, self.axes.as_deref().unwrap_or(&all), x.shape());
        let n: usize = axes.iter().map(|&a| x.shape()[a]).product();
        self.scale = if self.mean {
            T::lit(n as f64).recip()
        } else {
            T::one()
        };
        let kept = if axes.len() == x.ndim() && !self.keepdims {
            // Whole-tensor reduction: one pass, no intermediate arrays.
            ArrayD::from_elem(IxDyn(&vec![1; x.ndim()]), x.sum())
        } else {
            reduce_kept(x, &axes, |a, ax| a.sum_axis(ax))
        };
        let kept = if self.mean {
            kept.mapv_into(|v| v * self.scale)
        } else {
            kept
        };
        self.in_shape = x.raw_dim();
        self.kept_shape = kept.raw_dim();
        let out_shape = if self.keepdims {
            self.kept_shape.clone()
        } else {
            drop_axes(x.shape(), &axes)
        };
        match kept.into_shape_with_order(out_shape) {
            Ok(y) => y.into_shared(),
            Err(_) => unreachable!("same number of elements"),
        }
    }
    fn backward(self: Box<Self>, g: ArrayD<T>, grads: &mut Grads<'_, T>) {
        let g = reshape_kept(g, &self.kept_shape);
        let mut dx = ArrayD::zeros(self.in_shape);
        Zip::from(&mut dx)
            .and_broadcast(&g)
            .for_each(|d, &g| *d = g * self.scale);
        grads.add(0, dx);
    }
}

/// The largest elements over `axes` (NaN wins, as in NumPy and PyTorch); the gradient goes to
/// the maxima, split evenly among ties. Keeps the input and the maxima.
pub(crate) struct MaxOp<T: Float> {
    name: &'static str,
    axes: Option<Vec<usize>>,
    keepdims: bool,
    /// The input and the maxima with the reduced axes kept (length 1).
    saved: Option<(ArcArray<T, IxDyn>, ArrayD<T>)>,
}

impl<T: Float> Op<T> for MaxOp<T> {
    fn name(&self) -> &'static str {
        self.name
    }
    fn forward(&mut self, inputs: &[&ArcArray<T, IxDyn>], needs: &[bool]) -> ArcArray<T, IxDyn> {
        let x = inputs[0];
        let op = self.name;
        assert!(
            !x.is_empty(),
            "{op}: the tensor of shape {:?} is empty",
            x.shape()
        );
        let all: Vec<usize> = (0..x.ndim()).collect();
        let axes = normalize_axes(op, self.axes.as_deref().unwrap_or(&all), x.shape());
        let kept = reduce_kept(x, &axes, |a, ax| {
            a.fold_axis(ax, T::neg_infinity(), |&m, &v| {
                if v > m || v.is_nan() { v } else { m }
            })
        });
        let out_shape = if self.keepdims {
            kept.raw_dim()
        } else {
            drop_axes(x.shape(), &axes)
        };
        let y = match kept.to_shape(out_shape) {
            Ok(y) => y.into_owned().into_shared(),
            Err(_) => unreachable!("same number of elements"),
        };
        if needs[0] {
            self.saved = Some((x.clone(), kept));
        }
        y
    }
    fn backward(self: Box<Self>, g: ArrayD<T>, grads: &mut Grads<'_, T>) {
        let Some((x, kept)) = self.saved else { return };
        let g = reshape_kept(g, &kept.raw_dim());
        let mut mask = ArrayD::zeros(x.raw_dim());
        Zip::from(&mut mask)
            .and(&x)
            .and_broadcast(&kept)
            .for_each(|m, &v, &k| {
                *m = if v == k || (v.is_nan() && k.is_nan()) {
                    T::one()
                } else {
                    T::zero()
                }
            });
        // Ties share the gradient: divide by the number of maxima in each reduced slice.
        let mut count = mask.clone();
        for (axis, (&n, &k)) in x.shape().iter().zip(kept.shape()).enumerate() {
            if n != k {
                count = count.sum_axis(Axis(axis)).insert_axis(Axis(axis));
            }
        }
        Zip::from(&mut mask)
            .and_broadcast(&g)
            .and_broadcast(&count)
            .for_each(|m, &g, &c| *m = *m * g / c);
        grads.add(0, mask);
    }
}

/// A reduced gradient given back its kept unit axes (same elements, so no copy when contiguous).
fn reshape_kept<T: Float>(g: ArrayD<T>, kept: &IxDyn) -> ArrayD<T> {
    if g.shape() == kept.slice() {
        return g;
    }
    match g.to_shape(kept.clone()) {
        Ok(v) => v.into_owned(),
        Err(_) => unreachable!("a reduction's gradient has as many elements as its kept shape"),
    }
}

/// Validated axes, sorted and without duplicates.
fn normalize_axes(op: &str, axes: &[usize], shape: &[usize]) -> Vec<usize> {
    let mut sorted: Vec<usize> = axes
        .iter()
        .map(|&a| check_axis(op, a, shape).index())
        .collect();
    sorted.sort_unstable();
    let n = sorted.len();
    sorted.dedup();
    assert!(sorted.len() == n, "{op}: axis listed twice in {axes:?}");
    sorted
}

/// Applies `f` along each of `axes` keeping them as unit axes; returns the kept result.
fn reduce_kept<T: Float>(
    x: &ArcArray<T, IxDyn>,
    axes: &[usize],
    f: impl Fn(ArrayViewD<'_, T>, Axis) -> ArrayD<T>,
) -> ArrayD<T> {
    let mut out: Option<ArrayD<T>> = None;
    for &axis in axes {
        let reduced = match &out {
            Some(o) => f(o.view(), Axis(axis)),
            None => f(x.view(), Axis(axis)),
        };
        out = Some(reduced.insert_axis(Axis(axis)));
    }
    out.unwrap_or_else(|| x.to_owned())
}

fn drop_axes(shape: &[usize], axes: &[usize]) -> IxDyn {
    let s: Vec<usize> = shape
        .iter()
        .enumerate()
        .filter(|(i, _)| !axes.contains(i))
        .map(|(_, &d)| d)
        .collect();
    IxDyn(&s)
}

/// Reductions.
impl<T: Float> Tensor<T> {
    fn sum_scaled(
        &self,
        name: &'static str,
        axes: Option<&[usize]>,
        keepdims: bool,
        mean: bool,
    ) -> Tensor<T> {
        let op = SumOp {
            name,
            axes: axes.map(<[usize]>::to_vec),
            keepdims,
            mean,
            in_shape: IxDyn(&[]),
            kept_shape: IxDyn(&[]),
            scale: T::one(),
        };
        Tensor::apply(op, &[self])
    }

    /// Sum of all elements (a 0-dimensional tensor).
    pub fn sum(&self) -> Tensor<T> {
        self.sum_scaled("sum", None, false, false)
    }

    /// Sum over `axes`; `keepdims` keeps them as length-1 axes.
    ///
    /// ```
    /// use nn_core::Tensor;
    /// let x = Tensor::<f32>::ones(&[2, 3]);
    /// assert_eq!(x.sum_axes(&[0], false).shape(), vec![3]);
    /// assert_eq!(x.sum_axes(&[1], true).shape(), vec![2, 1]);
    /// ```
    ///
    /// # Panics
    /// If an axis is out of range or listed twice.
    pub fn sum_axes(&self, axes: &[usize], keepdims: bool) -> Tensor<T> {
        self.sum_scaled("sum_axes", Some(axes), keepdims, false)
    }

    /// Mean of all elements (a 0-dimensional tensor).
    pub fn mean(&self) -> Tensor<T> {
        self.sum_scaled("mean", None, false, true)
    }

    /// Mean over `axes`; `keepdims` keeps them as length-1 axes.
    ///
    /// # Panics
    /// If an axis is out of range or listed twice.
    pub fn mean_axes(&self, axes: &[usize], keepdims: bool) -> Tensor<T> {
        self.sum_scaled("mean_axes", Some(axes), keepdims, true)
    }

    fn max_impl(&self, name: &'static str, axes: Option<&[usize]>, keepdims: bool) -> Tensor<T> {
        let op = MaxOp {
            name,
            axes: axes.map(<[usize]>::to_vec),
            keepdims,
            saved: None,
        };
        Tensor::apply(op, &[self])
    }

    /// Largest element (a 0-dimensional tensor); tied maxima share the gradient evenly.
    ///
    /// # Panics
    /// If the tensor is empty.
    pub fn max(&self) -> Tensor<T> {
        self.max_impl("max", None, false)
    }

    /// Largest elements over `axes`; tied maxima share the gradient evenly.
    ///
    /// # Panics
    /// If the tensor is empty, or an axis is out of range or listed twice.
    pub fn max_axes(&self, axes: &[usize], keepdims: bool) -> Tensor<T> {
        self.max_impl("max_axes", Some(axes), keepdims)
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;
    use crate::test_util::{check, rand};

    #[test]
    fn sums_and_means() {
        let x = rand(&[2, 3, 4], 1);
        check(|t| t[0].sum(), &[x.clone()]);
        check(|t| t[0].mean(), &[x.clone()]);
        for keep in [false, true] {
            check(|t| t[0].sum_axes(&[0], keep), &[x.clone()]);
            check(|t| t[0].sum_axes(&[2, 0], keep), &[x.clone()]);
            check(|t| t[0].mean_axes(&[1], keep), &[x.clone()]);
            check(|t| t[0].mean_axes(&[0, 1, 2], keep), &[x.clone()]);
        }
    }

    #[test]
    fn maxima_without_ties() {
        let x = rand(&[3, 4], 2);
        check(|t| t[0].max(), &[x.clone()]);
        check(|t| t[0].max_axes(&[1], false), &[x.clone()]);
        check(|t| t[0].max_axes(&[0], true), &[x]);
    }

    #[test]
    fn reduction_values_and_shapes() {
        let x = Tensor::<f64>::from_vec(&[2, 3], vec![1.0, 5.0, 3.0, 4.0, 2.0, 6.0]);
        assert_eq!(x.sum().item(), 21.0);
        assert_eq!(x.mean().item(), 3.5);
        assert_eq!(x.max().item(), 6.0);
        assert_eq!(
            x.sum_axes(&[1], false).to_array().as_slice().unwrap(),
            &[9.0, 12.0]
        );
        assert_eq!(x.mean_axes(&[0], true).shape(), vec![1, 3]);
        assert_eq!(
            x.max_axes(&[0], false).to_array().as_slice().unwrap(),
            &[4.0, 5.0, 6.0]
        );
        assert_eq!(x.sum().shape(), Vec::<usize>::new());
    }

    #[test]
    fn tied_maxima_share_the_gradient() {
        let x =
            Tensor::<f64>::from_vec(&[2, 3], vec![2.0, 2.0, 1.0, 0.0, 3.0, 3.0]).requires_grad();
        x.max_axes(&[1], false).sum().backward().unwrap();
        assert_eq!(
            x.grad().unwrap().as_slice().unwrap(),
            &[0.5, 0.5, 0.0, 0.0, 0.5, 0.5]
        );
    }

    #[test]
    #[should_panic(expected = "sum_axes: axis 2 is out of range for shape [2, 3]")]
    fn bad_axis_panics() {
        let _ = Tensor::<f32>::ones(&[2, 3]).sum_axes(&[2], false);
    }
}
