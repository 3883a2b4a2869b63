//! Shape operations: reshape, transpose/permute, broadcast_to, concatenate, index_select,
//! narrowing/slicing along an axis and constant padding (the pieces im2col and embeddings are
//! built from, book 1 ch.7.4). Reshape and permute of a contiguous array share its data.

use ndarray::{ArcArray, ArrayD, Axis, Dimension, IxDyn, Slice};

use super::{broadcast_shape, check_axis, sum_to_shape};
use crate::float::Float;
use crate::op::{Grads, Op};
use crate::tensor::Tensor;

type Shared<T> = ArcArray<T, IxDyn>;

/// `a` reshaped (row-major), copying only if its layout requires it.
fn reshape_owned<T: Float>(a: ArrayD<T>, shape: &IxDyn) -> ArrayD<T> {
    let a = if a.is_standard_layout() {
        a
    } else {
        a.as_standard_layout().into_owned()
    };
    match a.into_shape_with_order(shape.clone()) {
        Ok(r) => r,
        Err(_) => unreachable!("element counts were checked in forward"),
    }
}

/// The same elements in a new shape; the gradient is reshaped back.
pub(crate) struct ReshapeOp {
    shape: Vec<usize>,
    in_shape: IxDyn,
}

impl<T: Float> Op<T> for ReshapeOp {
    fn name(&self) -> &'static str {
        "reshape"
    }
    fn forward(&mut self, x: &[&Shared<T>], _: &[bool]) -> Shared<T> {
        let (x, shape) = (x[0], &self.shape);
        let new: usize = shape.iter().product();
        assert!(
            new == x.len(),
            "reshape: cannot reshape shape {:?} ({} elements) into {shape:?} ({new} elements)",
            x.shape(),
            x.len()
        );
        self.in_shape = x.raw_dim();
        let target = IxDyn(shape);
        if x.is_standard_layout() {
            match x.clone().into_shape_with_order(target) {
                Ok(y) => y,
                Err(_) => unreachable!("standard layout reshapes without copying"),
            }
        } else {
            reshape_owned(x.to_owned(), &target).into_shared()
        }
    }
    fn backward(self: Box<Self>, g: ArrayD<T>, grads: &mut Grads<'_, T>) {
        grads.add(0, reshape_owned(g, &self.in_shape));
    }
}

/// Output axis `i` is input axis `axes[i]`; the gradient is permuted back by the inverse.
pub(crate) struct PermuteOp {
    axes: Vec<usize>,
}

impl<T: Float> Op<T> for PermuteOp {
    fn name(&self) -> &'static str {
        "permute"
    }
    fn forward(&mut self, x: &[&Shared<T>], _: &[bool]) -> Shared<T> {
        let (x, axes) = (x[0], &self.axes);
        let mut seen = vec![false; x.ndim()];
        let valid = axes.len() == x.ndim()
            && axes
                .iter()
                .all(|&a| a < seen.len() && !std::mem::replace(&mut seen[a], true));
        assert!(
            valid,
            "permute: {axes:?} is not a permutation of the axes of shape {:?}",
            x.shape()
        );
        x.clone().permuted_axes(axes.clone())
    }
    fn backward(self: Box<Self>, g: ArrayD<T>, grads: &mut Grads<'_, T>) {
        let mut inverse = vec![0; self.axes.len()];
        for (i, &a) in self.axes.iter().enumerate() {
            inverse[a] = i;
        }
        grads.add(0, g.permuted_axes(inverse));
    }
}

/// Repeats the input to a shape by NumPy broadcasting; the gradient is summed back.
pub(crate) struct BroadcastToOp {
    shape: Vec<usize>,
    in_shape: IxDyn,
}

impl<T: Float> Op<T> for BroadcastToOp {
    fn name(&self) -> &'static str {
        "broadcast_to"
    }
    fn forward(&mut self, x: &[&Shared<T>], _: &[bool]) -> Shared<T> {
        let (x, shape) = (x[0], &self.shape);
        let target = broadcast_shape("broadcast_to", x.shape(), shape);
        assert!(
            target.slice() == shape.as_slice(),
            "broadcast_to: shape {:?} cannot be broadcast to {shape:?}",
            x.shape()
        );
        self.in_shape = x.raw_dim();
        match x.broadcast(target) {
            Some(v) => v.to_owned().into_shared(),
            None => unreachable!("checked by broadcast_shape"),
        }
    }
    fn backward(self: Box<Self>, g: ArrayD<T>, grads: &mut Grads<'_, T>) {
        grads.add(0, sum_to_shape(g, self.in_shape.slice()));
    }
}

/// Joins the inputs along an axis; each input's gradient is its slice of `g`.
pub(crate) struct ConcatenateOp {
    axis: usize,
    /// Each input's length along the axis.
    lens: Vec<usize>,
}

impl<T: Float> Op<T> for ConcatenateOp {
    fn name(&self) -> &'static str {
        "concatenate"
    }
    fn forward(&mut self, values: &[&Shared<T>], _: &[bool]) -> Shared<T> {
        assert!(!values.is_empty(), "concatenate: no tensors given");
        let (axis, first) = (self.axis, values[0].shape());
        let ax = check_axis("concatenate", axis, first);
        for v in &values[1..] {
            let s = v.shape();
            let compatible = s.len() == first.len()
                && s.iter()
                    .zip(first)
                    .enumerate()
                    .all(|(i, (a, b))| i == axis || a == b);
            assert!(
                compatible,
                "concatenate: shapes {first:?} and {s:?} differ outside axis {axis}"
            );
        }
        self.lens = values.iter().map(|v| v.len_of(ax)).collect();
        let mut shape = first.to_vec();
        shape[axis] = self.lens.iter().sum();
        // Row-major inputs are runs of `len · inner` values for each index before the axis:
        // copied as slices into a row-major result. (ndarray's `concatenate` lays its result out
        // with the axis outermost, which every later reshape has to copy back.)
        let slices: Option<Vec<&[T]>> = values.iter().map(|v| v.as_slice()).collect();
        if let Some(slices) = slices {
            let inner: usize = first[axis + 1..].iter().product();
            let outer: usize = first[..axis].iter().product();
            let mut out = Vec::with_capacity(shape.iter().product());
            for o in 0..outer {
                for (s, &len) in slices.iter().zip(&self.lens) {
                    out.extend_from_slice(&s[o * len * inner..(o + 1) * len * inner]);
                }
            }
            return ArrayD::from_shape_vec(IxDyn(&shape), out)
                .unwrap_or_else(|_| unreachable!("shapes were checked"))
                .into_shared();
        }
        let mut y = ArrayD::zeros(IxDyn(&shape));
        let mut start = 0;
        for (v, &len) in values.iter().zip(&self.lens) {
            y.slice_axis_mut(ax, Slice::from(start..start + len))
                .assign(v);
            start += len;
        }
        y.into_shared()
    }
    fn backward(self: Box<Self>, g: ArrayD<T>, grads: &mut Grads<'_, T>) {
        let mut start = 0;
        for (input, &len) in self.lens.iter().enumerate() {
            if grads.needs(input) {
                let part = g.slice_axis(Axis(self.axis), Slice::from(start..start + len));
                grads.add(input, part.to_owned());
            }
            start += len;
        }
    }
}

/// Picks entries along an axis by index (repeats allowed); backward scatter-adds.
pub(crate) struct IndexSelectOp {
    axis: usize,
    indices: Vec<usize>,
    in_shape: IxDyn,
}

impl<T: Float> Op<T> for IndexSelectOp {
    fn name(&self) -> &'static str {
        "index_select"
    }
    fn forward(&mut self, x: &[&Shared<T>], _: &[bool]) -> Shared<T> {
        let x = x[0];
        let ax = check_axis("index_select", self.axis, x.shape());
        let len = x.len_of(ax);
        if let Some(&bad) = self.indices.iter().find(|&&i| i >= len) {
            panic!(
                "index_select: index {bad} is out of range for axis {} of shape {:?}",
                self.axis,
                x.shape()
            );
        }
        self.in_shape = x.raw_dim();
        // Rows of a contiguous table (an embedding lookup): copied as slices.
        if self.axis == 0
            && let Some(data) = x.as_slice()
        {
            let width = data.len().checked_div(len).unwrap_or(0);
            let mut out = Vec::with_capacity(self.indices.len() * width);
            for &i in &self.indices {
                out.extend_from_slice(&data[i * width..(i + 1) * width]);
            }
            let mut shape = x.shape().to_vec();
            shape[0] = self.indices.len();
            return ArrayD::from_shape_vec(shape, out)
                .expect("rows of the table's width")
                .into_shared();
        }
        x.select(ax, &self.indices).into_shared()
    }
    fn backward(self: Box<Self>, g: ArrayD<T>, grads: &mut Grads<'_, T>) {
        // An index chosen twice receives both gradients.
        let axis = Axis(self.axis);
        let mut dx = ArrayD::zeros(self.in_shape);
        if self.axis == 0
            && let (Some(d), Some(g)) = (dx.as_slice_mut(), g.as_slice())
        {
            let width = g.len() / self.indices.len().max(1);
            for (src, &i) in g.chunks_exact(width.max(1)).zip(&self.indices) {
                for (a, &b) in d[i * width..(i + 1) * width].iter_mut().zip(src) {
                    *a += b;
                }
            }
        } else {
            for (j, &i) in self.indices.iter().enumerate() {
                let mut row = dx.index_axis_mut(axis, i);
                row += &g.index_axis(axis, j);
            }
        }
        grads.add(0, dx);
    }
}

/// Every `step`-th entry of `start..end` along an axis; the gradient lands in those places of a
/// zero array of the input's shape.
pub(crate) struct SliceAxisOp {
    axis: usize,
    start: usize,
    end: usize,
    step: usize,
    in_shape: IxDyn,
}

impl SliceAxisOp {
    fn slice(&self) -> Slice {
        Slice::new(
            self.start as isize,
            Some(self.end as isize),
            self.step as isize,
        )
    }
}

impl<T: Float> Op<T> for SliceAxisOp {
    fn name(&self) -> &'static str {
        "slice_axis"
    }
    fn forward(&mut self, x: &[&Shared<T>], _: &[bool]) -> Shared<T> {
        let x = x[0];
        let ax = check_axis("slice_axis", self.axis, x.shape());
        let len = x.len_of(ax);
        assert!(
            self.start <= self.end && self.end <= len && self.step > 0,
            "slice_axis: {}..{} step {} does not fit axis {} of shape {:?}",
            self.start,
            self.end,
            self.step,
            self.axis,
            x.shape()
        );
        self.in_shape = x.raw_dim();
        let mut y = x.clone();
        y.slice_axis_inplace(ax, self.slice());
        y
    }
    fn backward(self: Box<Self>, g: ArrayD<T>, grads: &mut Grads<'_, T>) {
        grads.add_slice(0, self.axis, self.slice(), g.view());
    }
}

/// Constant padding: `widths[i] = (before, after)` entries of `value` around axis `i`; the
/// gradient is the interior of `g`.
pub(crate) struct PadOp<T> {
    widths: Vec<(usize, usize)>,
    value: T,
}

impl<T: Float> Op<T> for PadOp<T> {
    fn name(&self) -> &'static str {
        "pad"
    }
    fn forward(&mut self, x: &[&Shared<T>], _: &[bool]) -> Shared<T> {
        let x = x[0];
        assert!(
            self.widths.len() == x.ndim(),
            "pad: {} (before, after) pairs given for shape {:?}",
            self.widths.len(),
            x.shape()
        );
        let shape: Vec<usize> = x
            .shape()
            .iter()
            .zip(&self.widths)
            .map(|(&n, &(b, a))| n + b + a)
            .collect();
        let mut y = ArrayD::from_elem(IxDyn(&shape), self.value);
        self.interior(y.view_mut()).assign(x);
        y.into_shared()
    }
    fn backward(self: Box<Self>, g: ArrayD<T>, grads: &mut Grads<'_, T>) {
        let dx = self.interior(g.view()).to_owned();
        grads.add(0, dx);
    }
}

impl<T> PadOp<T> {
    /// The part of a padded array that holds the input.
    fn interior<S: ndarray::RawData, D: Dimension>(
        &self,
        mut a: ndarray::ArrayBase<S, D>,
    ) -> ndarray::ArrayBase<S, D> {
        for (axis, &(before, after)) in self.widths.iter().enumerate() {
            let end = a.len_of(Axis(axis)) - after;
            a.slice_axis_inplace(Axis(axis), Slice::from(before..end));
        }
        a
    }
}

/// Shape operations.
impl<T: Float> Tensor<T> {
    /// The same elements in row-major order with a new shape (NumPy's `reshape`).
    ///
    /// ```
    /// use nn_core::Tensor;
    /// let x = Tensor::<f32>::zeros(&[100, 1, 28, 28]);
    /// assert_eq!(x.reshape(&[100, 784]).shape(), vec![100, 784]);
    /// ```
    ///
    /// # Panics
    /// If the element counts differ.
    pub fn reshape(&self, shape: &[usize]) -> Tensor<T> {
        let op = ReshapeOp {
            shape: shape.to_vec(),
            in_shape: IxDyn(&[]),
        };
        Tensor::apply(op, &[self])
    }

    /// Reorders the axes: output axis `i` is input axis `axes[i]` (NumPy's `transpose(axes)`).
    ///
    /// # Panics
    /// If `axes` is not a permutation of `0..ndim`.
    pub fn permute(&self, axes: &[usize]) -> Tensor<T> {
        Tensor::apply(
            PermuteOp {
                axes: axes.to_vec(),
            },
            &[self],
        )
    }

    /// Swaps axes `a` and `b`.
    ///
    /// # Panics
    /// If an axis is out of range.
    pub fn transpose(&self, a: usize, b: usize) -> Tensor<T> {
        let shape = self.shape();
        check_axis("transpose", a, &shape);
        check_axis("transpose", b, &shape);
        let mut axes: Vec<usize> = (0..shape.len()).collect();
        axes.swap(a, b);
        self.permute(&axes)
    }

    /// The matrix transpose of a 2-D tensor (`x.T` in the book).
    ///
    /// # Panics
    /// If the tensor is not 2-D.
    pub fn t(&self) -> Tensor<T> {
        let shape = self.shape();
        assert!(
            shape.len() == 2,
            "t: expects a 2-D tensor, got shape {shape:?}"
        );
        self.permute(&[1, 0])
    }

    /// Repeats the tensor to `shape` by NumPy broadcasting; the gradient is summed back.
    ///
    /// # Panics
    /// If the tensor's shape does not broadcast to `shape`.
    pub fn broadcast_to(&self, shape: &[usize]) -> Tensor<T> {
        let op = BroadcastToOp {
            shape: shape.to_vec(),
            in_shape: IxDyn(&[]),
        };
        Tensor::apply(op, &[self])
    }

    /// Joins tensors along `axis`; all other axes must agree.
    ///
    /// ```
    /// use nn_core::Tensor;
    /// let a = Tensor::<f32>::ones(&[2, 3]);
    /// let b = Tensor::<f32>::zeros(&[1, 3]);
    /// assert_eq!(Tensor::concatenate(&[&a, &b], 0).shape(), vec![3, 3]);
    /// ```
    ///
    /// # Panics
    /// If `tensors` is empty, `axis` is out of range, or the other axes differ.
    pub fn concatenate(tensors: &[&Tensor<T>], axis: usize) -> Tensor<T> {
        Tensor::apply(
            ConcatenateOp {
                axis,
                lens: Vec::new(),
            },
            tensors,
        )
    }

    /// Picks entries along `axis` by index, repeats allowed (NumPy's `take`; an embedding
    /// lookup is `weights.index_select(0, ids)`). Gradients of repeated indices add up.
    ///
    /// # Panics
    /// If `axis` or an index is out of range.
    pub fn index_select(&self, axis: usize, indices: &[usize]) -> Tensor<T> {
        let op = IndexSelectOp {
            axis,
            indices: indices.to_vec(),
            in_shape: IxDyn(&[]),
        };
        Tensor::apply(op, &[self])
    }

    /// Entries `start, start + step, …` below `end` along `axis` (NumPy's `x[..., start:end:step]`),
    /// sharing the data; the gradient is zero elsewhere.
    ///
    /// ```
    /// use nn_core::Tensor;
    /// let x = Tensor::<f32>::from_vec(&[1, 6], vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    /// assert_eq!(x.slice_axis(1, 1, 6, 2).to_array().as_slice().unwrap(), &[1.0, 3.0, 5.0]);
    /// ```
    ///
    /// # Panics
    /// If `axis` is out of range, `start > end`, `end` exceeds the axis or `step` is 0.
    pub fn slice_axis(&self, axis: usize, start: usize, end: usize, step: usize) -> Tensor<T> {
        let op = SliceAxisOp {
            axis,
            start,
            end,
            step,
            in_shape: IxDyn(&[]),
        };
        Tensor::apply(op, &[self])
    }

    /// `len` entries from `start` along `axis` (PyTorch's `narrow`).
    ///
    /// # Panics
    /// If the range does not fit the axis.
    pub fn narrow(&self, axis: usize, start: usize, len: usize) -> Tensor<T> {
        self.slice_axis(axis, start, start + len, 1)
    }

    /// Pads every axis with `value`: `widths[i] = (before, after)` for axis `i` (NumPy's
    /// `np.pad(x, widths, constant_values=value)`).
    ///
    /// # Panics
    /// If `widths` does not have one pair per axis.
    pub fn pad(&self, widths: &[(usize, usize)], value: T) -> Tensor<T> {
        let op = PadOp {
            widths: widths.to_vec(),
            value,
        };
        Tensor::apply(op, &[self])
    }

    /// Pads the last two (spatial) axes of an NCHW tensor with zeros: `ph` rows above and
    /// below, `pw` columns left and right (what convolution's `padding` does; book 1 ch.7.2.3).
    ///
    /// ```
    /// use nn_core::Tensor;
    /// let x = Tensor::<f32>::ones(&[2, 3, 4, 5]);
    /// assert_eq!(x.pad2d(1, 2).shape(), vec![2, 3, 6, 9]);
    /// ```
    ///
    /// # Panics
    /// If the tensor has fewer than two axes.
    pub fn pad2d(&self, ph: usize, pw: usize) -> Tensor<T> {
        let nd = self.ndim();
        assert!(
            nd >= 2,
            "pad2d: expects at least 2 axes, got shape {:?}",
            self.shape()
        );
        let mut widths = vec![(0, 0); nd];
        widths[nd - 2] = (ph, ph);
        widths[nd - 1] = (pw, pw);
        self.pad(&widths, T::zero())
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;
    use crate::test_util::{check, rand};

    #[test]
    fn reshape_permute_transpose() {
        let x = rand(&[2, 3, 4], 1);
        check(|t| t[0].reshape(&[6, 4]), &[x.clone()]);
        check(|t| t[0].permute(&[2, 0, 1]), &[x.clone()]);
        check(|t| t[0].transpose(0, 2).reshape(&[4, 6]), &[x.clone()]);
        check(|t| t[0].reshape(&[4, 6]).t(), &[x]);
    }

    #[test]
    fn broadcast_to_sums_back() {
        check(|t| t[0].broadcast_to(&[4, 2, 3]), &[rand(&[2, 1], 2)]);
        check(|t| t[0].broadcast_to(&[3, 5]), &[rand(&[5], 3)]);
    }

    #[test]
    fn concatenate_and_index_select() {
        let (a, b) = (rand(&[2, 3], 4), rand(&[1, 3], 5));
        check(
            |t| Tensor::concatenate(&[&t[0], &t[1], &t[0]], 0),
            &[a.clone(), b],
        );
        check(
            |t| Tensor::concatenate(&[&t[0], &t[0].exp()], 1),
            &[a.clone()],
        );
        check(|t| t[0].index_select(1, &[2, 0, 2, 2]), &[a.clone()]);
        check(|t| t[0].index_select(0, &[1]), &[a]);
    }

    #[test]
    fn concatenate_is_row_major_and_matches_ndarray_for_any_layout() {
        let (a, b) = (rand(&[2, 3, 4], 7), rand(&[2, 3, 2], 8));
        let c = rand(&[2, 4, 3], 9).permuted_axes(vec![0, 2, 1]);
        for axis in 0..3 {
            let (x, y) = match axis {
                0 => (a.clone(), rand(&[1, 3, 4], 10)),
                1 => (a.clone(), rand(&[2, 5, 4], 11)),
                _ => (a.clone(), b.clone()),
            };
            let got = Tensor::concatenate(
                &[
                    &Tensor::from_array(x.clone()),
                    &Tensor::from_array(y.clone()),
                ],
                axis,
            )
            .to_array();
            let want = ndarray::concatenate(ndarray::Axis(axis), &[x.view(), y.view()]).unwrap();
            assert!(got.is_standard_layout(), "axis {axis}");
            assert_eq!(got, want, "axis {axis}");
        }
        // An input that is not row-major (a transposed view) takes the general path.
        let got = Tensor::concatenate(
            &[
                &Tensor::from_array(a.clone()),
                &Tensor::from_array(c.clone()),
            ],
            2,
        )
        .to_array();
        assert!(got.is_standard_layout());
        assert_eq!(
            got,
            ndarray::concatenate(ndarray::Axis(2), &[a.view(), c.view()]).unwrap()
        );
    }

    #[test]
    fn index_select_scatters_repeats() {
        let w = Tensor::<f64>::from_vec(&[3, 2], vec![0.0; 6]).requires_grad();
        w.index_select(0, &[2, 0, 2]).sum().backward().unwrap();
        assert_eq!(
            w.grad().unwrap().as_slice().unwrap(),
            &[1.0, 1.0, 0.0, 0.0, 2.0, 2.0]
        );
    }

    #[test]
    fn pad_and_slice_gradients() {
        let x = rand(&[2, 3, 4, 5], 6);
        check(|t| t[0].pad2d(1, 2), &[x.clone()]);
        check(
            |t| t[0].pad(&[(0, 1), (2, 0), (1, 1), (0, 0)], 0.5),
            &[x.clone()],
        );
        check(|t| t[0].narrow(2, 1, 2), &[x.clone()]);
        check(|t| t[0].slice_axis(3, 0, 5, 2), &[x.clone()]);
        check(|t| t[0].slice_axis(1, 1, 3, 3).pad2d(2, 0), &[x.clone()]);
        // Padding then cropping the same border gives the input back.
        let t = Tensor::from_array(x.clone());
        let back = t.pad2d(2, 1).narrow(2, 2, 4).narrow(3, 1, 5);
        assert_eq!(back.to_array(), x);
    }

    #[test]
    fn pad_and_slice_values() {
        let x = Tensor::<f32>::from_vec(&[1, 1, 1, 2], vec![1.0, 2.0]);
        assert_eq!(
            x.pad2d(1, 1).to_array().as_slice().unwrap(),
            &[0., 0., 0., 0., 0., 1., 2., 0., 0., 0., 0., 0.]
        );
        assert_eq!(
            x.pad(&[(0, 0), (0, 0), (0, 0), (1, 0)], 9.0)
                .to_array()
                .as_slice()
                .unwrap(),
            &[9., 1., 2.]
        );
        let r = Tensor::<f32>::from_vec(&[5], vec![0., 1., 2., 3., 4.]);
        assert_eq!(
            r.slice_axis(0, 1, 5, 3).to_array().as_slice().unwrap(),
            &[1., 4.]
        );
        assert_eq!(r.narrow(0, 2, 0).shape(), vec![0]);
    }

    #[test]
    #[should_panic(expected = "slice_axis: 3..6 step 1 does not fit axis 0 of shape [5]")]
    fn bad_narrow_panics() {
        let _ = Tensor::<f32>::zeros(&[5]).narrow(0, 3, 3);
    }

    #[test]
    #[should_panic(expected = "pad: 1 (before, after) pairs given for shape [2, 2]")]
    fn bad_pad_panics() {
        let _ = Tensor::<f32>::zeros(&[2, 2]).pad(&[(1, 1)], 0.0);
    }

    #[test]
    fn reshape_and_permute_values() {
        let x = Tensor::<f32>::from_vec(&[2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(
            x.t().to_array().iter().copied().collect::<Vec<_>>(),
            vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]
        );
        assert_eq!(
            x.t().reshape(&[6]).to_array().as_slice().unwrap(),
            &[1.0, 4.0, 2.0, 5.0, 3.0, 6.0]
        );
        assert_eq!(x.broadcast_to(&[2, 2, 3]).shape(), vec![2, 2, 3]);
    }

    #[test]
    #[should_panic(
        expected = "reshape: cannot reshape shape [2, 3] (6 elements) into [4] (4 elements)"
    )]
    fn bad_reshape_panics() {
        let _ = Tensor::<f32>::ones(&[2, 3]).reshape(&[4]);
    }

    #[test]
    #[should_panic(expected = "concatenate: shapes [2, 3] and [2, 4] differ outside axis 0")]
    fn bad_concatenate_panics() {
        let _ = Tensor::concatenate(&[&Tensor::<f32>::ones(&[2, 3]), &Tensor::ones(&[2, 4])], 0);
    }

    #[test]
    #[should_panic(expected = "index_select: index 3 is out of range for axis 0 of shape [3, 2]")]
    fn bad_index_panics() {
        let _ = Tensor::<f32>::ones(&[3, 2]).index_select(0, &[0, 3]);
    }
}
