//! The form every differentiable operation takes: one struct implementing [`Op`], whose
//! `forward` computes the output and keeps exactly what its `backward` needs — the way the book
//! writes its layer classes (book 1 ch.5.4 「単純なレイヤの実装」, `MulLayer` and `AddLayer`).
//!
//! Code outside nn-core adds an op the same way and runs it with [`Tensor::apply`](crate::Tensor::apply): the tape
//! records it like any built-in op, and [`gradcheck`](crate::gradcheck()) checks it.
//!
//! ```
//! use nn_core::ndarray::{ArcArray, ArrayD, IxDyn};
//! use nn_core::{Float, Grads, Op, Tensor};
//!
//! /// The book's MulLayer for two tensors of one shape.
//! #[derive(Default)]
//! struct MulLayer<T: Float> {
//!     x: Option<ArcArray<T, IxDyn>>,
//!     y: Option<ArcArray<T, IxDyn>>,
//! }
//!
//! impl<T: Float> Op<T> for MulLayer<T> {
//!     fn name(&self) -> &'static str {
//!         "mul_layer"
//!     }
//!     fn forward(&mut self, inputs: &[&ArcArray<T, IxDyn>], _needs_grad: &[bool]) -> ArcArray<T, IxDyn> {
//!         let (x, y) = (inputs[0], inputs[1]);
//!         self.x = Some(x.clone()); // shares the data, no copy
//!         self.y = Some(y.clone());
//!         (x * y).into_shared()
//!     }
//!     fn backward(self: Box<Self>, dout: ArrayD<T>, grads: &mut Grads<'_, T>) {
//!         let (x, y) = (self.x.unwrap(), self.y.unwrap());
//!         grads.add(0, &dout * &y); // dx = dout · y
//!         grads.add(1, &dout * &x); // dy = dout · x
//!     }
//! }
//!
//! // 「5.4.1 乗算レイヤの実装」: 2 apples at 100 yen, consumption tax 1.1.
//! let apple = Tensor::<f64>::scalar(100.0).requires_grad();
//! let num = Tensor::<f64>::scalar(2.0).requires_grad();
//! let tax = Tensor::<f64>::scalar(1.1).requires_grad();
//! let apple_price = Tensor::apply(MulLayer::default(), &[&apple, &num]);
//! let price = Tensor::apply(MulLayer::default(), &[&apple_price, &tax]);
//! assert!((price.item() - 220.0).abs() < 1e-12);
//! price.backward().unwrap();
//! assert!((apple.grad().unwrap().sum() - 2.2).abs() < 1e-12);
//! assert!((num.grad().unwrap().sum() - 110.0).abs() < 1e-12);
//! assert!((tax.grad().unwrap().sum() - 200.0).abs() < 1e-12);
//! ```

use ndarray::{ArcArray, ArrayD, Dimension, IxDyn};

use crate::float::Float;
use crate::tape::Node;

/// A differentiable operation: its forward computation and its backward rule, side by side.
///
/// [`Tensor::apply`](crate::Tensor::apply) calls `forward` once with the inputs' values; if the
/// result is recorded, the op (with whatever `forward` kept in it) becomes a node of the tape,
/// and `backward` runs at most once, when [`Tensor::backward`](crate::Tensor::backward) reaches
/// it. The node is dropped right after, so what the op kept is freed as the walk goes.
///
/// See the [module documentation](crate::op) for a complete example.
pub trait Op<T: Float>: 'static {
    /// The op's name, used in panic messages (`"mul"`, `"conv2d"`).
    fn name(&self) -> &'static str;

    /// Computes the output from the inputs' values.
    ///
    /// `needs_grad[i]` tells whether input `i` will need a gradient (all `false` when nothing
    /// is recorded, e.g. inside [`no_grad`](crate::no_grad)): keep in `self` exactly what
    /// `backward` needs for those inputs, and nothing otherwise. Cloning an input
    /// (`ArcArray`) shares its data instead of copying it. Shape errors are programmer errors: panic naming the op
    /// and the shapes.
    fn forward(
        &mut self,
        inputs: &[&ArcArray<T, IxDyn>],
        needs_grad: &[bool],
    ) -> ArcArray<T, IxDyn>;

    /// Given `grad` = ∂L/∂output (the output's shape), adds ∂L/∂input into `grads` for every
    /// input that needs one ([`Grads::needs`]).
    fn backward(self: Box<Self>, grad: ArrayD<T>, grads: &mut Grads<'_, T>);
}

/// Marks an input that needs no gradient (a constant) in a node's input list.
pub(crate) const NO_NODE: usize = usize::MAX;

/// Where an op's `backward` delivers the gradients of its inputs.
pub struct Grads<'a, T: Float> {
    pub(crate) op: &'static str,
    /// Per input: its node id, or [`NO_NODE`].
    pub(crate) inputs: &'a [usize],
    /// The tape below the op's node (for the inputs' shapes).
    pub(crate) nodes: &'a [Node<T>],
    pub(crate) grads: &'a mut [Option<ArrayD<T>>],
}

impl<T: Float> Grads<'_, T> {
    /// The node of input `input`, `None` if it needs no gradient.
    fn node_of(&self, input: usize) -> Option<usize> {
        match self.inputs.get(input) {
            Some(&id) => (id != NO_NODE).then_some(id),
            None => panic!(
                "{}: backward gave a gradient for input {input}, but the op has {} inputs",
                self.op,
                self.inputs.len()
            ),
        }
    }

    /// Whether input `input` needs a gradient (the same as `needs_grad[input]` in `forward`).
    #[inline]
    pub fn needs(&self, input: usize) -> bool {
        self.inputs.get(input).is_some_and(|&id| id != NO_NODE)
    }

    /// The shape of input `input`, if it needs a gradient (a broadcasting op sums its gradient
    /// back to this shape).
    #[inline]
    pub fn shape(&self, input: usize) -> Option<&[usize]> {
        match self.inputs.get(input) {
            Some(&id) if id != NO_NODE => Some(self.nodes[id].shape.slice()),
            _ => None,
        }
    }

    /// Adds `grad` to the gradient of input `input`; does nothing for an input that needs none.
    /// Gradients of a tensor used several times add up.
    ///
    /// # Panics
    /// If `input` is not an input of the op, or `grad` does not have that input's shape.
    pub fn add(&mut self, input: usize, grad: ArrayD<T>) {
        let Some(id) = self.node_of(input) else {
            return;
        };
        let expected = self.nodes[id].shape.slice();
        assert!(
            grad.shape() == expected,
            "{}: backward gave input {input} a gradient of shape {:?}, but the input has shape {expected:?}",
            self.op,
            grad.shape()
        );
        match &mut self.grads[id] {
            Some(acc) => *acc += &grad,
            slot @ None => *slot = Some(grad),
        }
    }

    /// Adds `grad` into the part of input `input`'s gradient that `slice` selects along `axis`,
    /// the rest left as it is (zeros where there was no gradient yet): a slicing op's backward
    /// without a full-size array each time (a sequence cut into steps stays linear in its
    /// length).
    ///
    /// # Panics
    /// As [`Grads::add`], if `grad` is not the input's shape with `axis` sliced.
    pub fn add_slice(
        &mut self,
        input: usize,
        axis: usize,
        slice: ndarray::Slice,
        grad: ndarray::ArrayViewD<'_, T>,
    ) {
        let Some(id) = self.node_of(input) else {
            return;
        };
        let shape = self.nodes[id].shape.clone();
        let acc = self.grads[id].get_or_insert_with(|| ArrayD::zeros(shape));
        let mut part = acc.slice_axis_mut(ndarray::Axis(axis), slice);
        assert!(
            part.shape() == grad.shape(),
            "{}: backward gave input {input} a slice gradient of shape {:?}, the slice has shape {:?}",
            self.op,
            grad.shape(),
            part.shape()
        );
        part += &grad;
    }
}
