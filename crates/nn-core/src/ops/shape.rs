//! Shape operations: reshape, transpose/permute, broadcast_to, concatenate and index_select
//! (the pieces im2col and embeddings are built from, book 1 ch.7.4). Reshape and permute of a
//! contiguous array share its data.

use ndarray::{ArcArray, ArrayD, Axis, Dimension, IxDyn, Slice};

use super::{Op, broadcast_shape, check_axis, sum_to_shape};
use crate::float::Float;
use crate::tape::GradSink;
use crate::tensor::Tensor;

pub(crate) enum Backward {
    Reshape {
        x: usize,
        in_shape: IxDyn,
    },
    /// `axes` is the forward permutation.
    Permute {
        x: usize,
        axes: Vec<usize>,
    },
    BroadcastTo {
        x: usize,
        in_shape: IxDyn,
    },
    /// Each input's node and its length along `axis`.
    Concatenate {
        inputs: Vec<(Option<usize>, usize)>,
        axis: Axis,
    },
    IndexSelect {
        x: usize,
        in_shape: IxDyn,
        axis: Axis,
        indices: Vec<usize>,
    },
}

/// `a` reshaped (row-major), copying only if its layout requires it.
fn reshape_owned<T: Float>(a: ArrayD<T>, shape: &IxDyn) -> ArrayD<T> {
    let a = if a.is_standard_layout() {
        a
    } else {
        a.as_standard_layout().into_owned()
    };
    match a.into_shape_with_order(shape.clone()) {
        Ok(r) => r,
        Err(_) => unreachable!("element counts were checked when recording"),
    }
}

impl Backward {
    pub(crate) fn backward<T: Float>(self, g: ArrayD<T>, sink: &mut GradSink<'_, T>) {
        match self {
            Backward::Reshape { x, in_shape } => sink.add(x, reshape_owned(g, &in_shape)),
            Backward::Permute { x, axes } => {
                let mut inverse = vec![0; axes.len()];
                for (i, &a) in axes.iter().enumerate() {
                    inverse[a] = i;
                }
                sink.add(x, g.permuted_axes(inverse));
            }
            Backward::BroadcastTo { x, in_shape } => sink.add(x, sum_to_shape(g, in_shape.slice())),
            Backward::Concatenate { inputs, axis } => {
                let mut start = 0;
                for (id, len) in inputs {
                    if let Some(id) = id {
                        let part = g.slice_axis(axis, Slice::from(start..start + len));
                        sink.add(id, part.to_owned());
                    }
                    start += len;
                }
            }
            Backward::IndexSelect {
                x,
                in_shape,
                axis,
                indices,
            } => {
                // Scatter-add: an index chosen twice receives both gradients.
                let mut dx = ArrayD::zeros(in_shape);
                for (j, &i) in indices.iter().enumerate() {
                    let mut row = dx.index_axis_mut(axis, i);
                    row += &g.index_axis(axis, j);
                }
                sink.add(x, dx);
            }
        }
    }
}

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
        let x = self.array();
        let new: usize = shape.iter().product();
        assert!(
            new == x.len(),
            "reshape: cannot reshape shape {:?} ({} elements) into {shape:?} ({new} elements)",
            x.shape(),
            x.len()
        );
        let in_shape = x.raw_dim();
        let target = IxDyn(shape);
        let y: ArcArray<T, IxDyn> = if x.is_standard_layout() {
            match x.into_shape_with_order(target) {
                Ok(y) => y,
                Err(_) => unreachable!("standard layout reshapes without copying"),
            }
        } else {
            reshape_owned(x.to_owned(), &target).into_shared()
        };
        Tensor::from_op(y, "reshape", &[self], |ids| {
            Op::Shape(Backward::Reshape {
                x: ids[0].unwrap_or_else(|| unreachable!()),
                in_shape,
            })
        })
    }

    /// Reorders the axes: output axis `i` is input axis `axes[i]` (NumPy's `transpose(axes)`).
    ///
    /// # Panics
    /// If `axes` is not a permutation of `0..ndim`.
    pub fn permute(&self, axes: &[usize]) -> Tensor<T> {
        let x = self.array();
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
        let y = x.permuted_axes(axes.to_vec());
        let axes = axes.to_vec();
        Tensor::from_op(y, "permute", &[self], |ids| {
            Op::Shape(Backward::Permute {
                x: ids[0].unwrap_or_else(|| unreachable!()),
                axes,
            })
        })
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
        let x = self.array();
        let target = broadcast_shape("broadcast_to", x.shape(), shape);
        assert!(
            target.slice() == shape,
            "broadcast_to: shape {:?} cannot be broadcast to {shape:?}",
            x.shape()
        );
        let y = match x.broadcast(target) {
            Some(v) => v.to_owned().into_shared(),
            None => unreachable!("checked by broadcast_shape"),
        };
        Tensor::from_op(y, "broadcast_to", &[self], |ids| {
            Op::Shape(Backward::BroadcastTo {
                x: ids[0].unwrap_or_else(|| unreachable!()),
                in_shape: x.raw_dim(),
            })
        })
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
        assert!(!tensors.is_empty(), "concatenate: no tensors given");
        let values: Vec<ArcArray<T, IxDyn>> = tensors.iter().map(|t| t.array()).collect();
        let first = values[0].shape();
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
        let views: Vec<_> = values.iter().map(|v| v.view()).collect();
        let y = match ndarray::concatenate(ax, &views) {
            Ok(y) => y.into_shared(),
            Err(e) => unreachable!("shapes were checked: {e}"),
        };
        let lens: Vec<usize> = values.iter().map(|v| v.len_of(ax)).collect();
        Tensor::from_op(y, "concatenate", tensors, |ids| {
            Op::Shape(Backward::Concatenate {
                inputs: ids.iter().copied().zip(lens).collect(),
                axis: ax,
            })
        })
    }

    /// Picks entries along `axis` by index, repeats allowed (NumPy's `take`; an embedding
    /// lookup is `weights.index_select(0, ids)`). Gradients of repeated indices add up.
    ///
    /// # Panics
    /// If `axis` or an index is out of range.
    pub fn index_select(&self, axis: usize, indices: &[usize]) -> Tensor<T> {
        let x = self.array();
        let ax = check_axis("index_select", axis, x.shape());
        let len = x.len_of(ax);
        if let Some(&bad) = indices.iter().find(|&&i| i >= len) {
            panic!(
                "index_select: index {bad} is out of range for axis {axis} of shape {:?}",
                x.shape()
            );
        }
        let y = x.select(ax, indices).into_shared();
        Tensor::from_op(y, "index_select", &[self], |ids| {
            Op::Shape(Backward::IndexSelect {
                x: ids[0].unwrap_or_else(|| unreachable!()),
                in_shape: x.raw_dim(),
                axis: ax,
                indices: indices.to_vec(),
            })
        })
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
    fn index_select_scatters_repeats() {
        let w = Tensor::<f64>::from_vec(&[3, 2], vec![0.0; 6]).requires_grad();
        w.index_select(0, &[2, 0, 2]).sum().backward().unwrap();
        assert_eq!(
            w.grad().unwrap().as_slice().unwrap(),
            &[1.0, 1.0, 0.0, 0.0, 2.0, 2.0]
        );
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
