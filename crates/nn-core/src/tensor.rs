//! The [`Tensor`] type: an n-dimensional array that can record how it was computed.

use std::cell::Ref;
use std::fmt;
use std::rc::Rc;

use ndarray::{ArcArray, Array, ArrayD, ArrayViewD, ArrayViewMutD, Dimension, IxDyn};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, Uniform};

use smallvec::SmallVec;

use crate::error::AutogradError;
use crate::float::Float;
use crate::op::Op;
use crate::tape::{self, InputRef, Leaf, NodeHandle};

/// An n-dimensional array of `T` (`f32` by default) with reverse-mode autodiff.
///
/// A tensor is one of three kinds:
/// - a **constant** (data, or a result computed from constants or inside [`no_grad`](crate::no_grad));
/// - a **leaf** that requires grad (a parameter, made with [`Tensor::requires_grad`]): its
///   gradient is kept and accumulated across backward passes until [`Tensor::zero_grad`];
/// - a **recorded result**: an operation on at least one leaf or recorded result, with a node
///   on the tape so that [`Tensor::backward`] can reach the leaves.
///
/// Cloning a tensor is cheap and shares its data; clones of a leaf are the same parameter.
///
/// ```
/// use nn_core::Tensor;
/// let w = Tensor::<f64>::from_vec(&[2], vec![1.0, 2.0]).requires_grad();
/// let loss = (&w * &w).sum(); // Σ w²
/// loss.backward().unwrap();
/// assert_eq!(w.grad().unwrap().as_slice().unwrap(), &[2.0, 4.0]); // 2w
/// ```
pub struct Tensor<T: Float = f32> {
    repr: Repr<T>,
}

enum Repr<T: Float> {
    Value {
        value: ArcArray<T, IxDyn>,
        node: Option<NodeHandle<T>>,
    },
    Leaf(Rc<Leaf<T>>),
}

impl<T: Float> Clone for Tensor<T> {
    fn clone(&self) -> Self {
        let repr = match &self.repr {
            Repr::Value { value, node } => Repr::Value {
                value: value.clone(),
                node: node.clone(),
            },
            Repr::Leaf(leaf) => Repr::Leaf(Rc::clone(leaf)),
        };
        Tensor { repr }
    }
}

/// Construction.
impl<T: Float> Tensor<T> {
    /// A constant tensor from any ndarray array (no copy for an owned array).
    pub fn from_array<D: Dimension>(array: Array<T, D>) -> Self {
        Self::constant(array.into_dyn().into_shared())
    }

    /// A constant tensor from a shared array (no copy).
    pub fn from_shared(array: ArcArray<T, IxDyn>) -> Self {
        Self::constant(array)
    }

    /// A constant tensor of `shape` from row-major `data`.
    ///
    /// # Panics
    /// If `data.len()` is not the product of `shape`.
    pub fn from_vec(shape: &[usize], data: Vec<T>) -> Self {
        let len = data.len();
        match Array::from_shape_vec(IxDyn(shape), data) {
            Ok(a) => Self::from_array(a),
            Err(_) => panic!(
                "from_vec: shape {shape:?} needs {} elements, got {len}",
                shape.iter().product::<usize>()
            ),
        }
    }

    /// A 0-dimensional tensor holding `x`.
    pub fn scalar(x: T) -> Self {
        Self::from_array(ndarray::arr0(x))
    }

    /// A tensor of `shape` filled with `x`.
    pub fn full(shape: &[usize], x: T) -> Self {
        Self::from_array(ArrayD::from_elem(IxDyn(shape), x))
    }

    /// A tensor of zeros.
    pub fn zeros(shape: &[usize]) -> Self {
        Self::full(shape, T::zero())
    }

    /// A tensor of ones.
    pub fn ones(shape: &[usize]) -> Self {
        Self::full(shape, T::one())
    }

    /// Samples N(0, 1) from a generator seeded with `seed` (the book's `np.random.randn`).
    ///
    /// ```
    /// use nn_core::Tensor;
    /// let a = Tensor::<f32>::randn(&[2, 3], 42);
    /// assert_eq!(a.to_array(), Tensor::<f32>::randn(&[2, 3], 42).to_array()); // same seed, same values
    /// ```
    pub fn randn(shape: &[usize], seed: u64) -> Self {
        Self::randn_using(shape, &mut StdRng::seed_from_u64(seed))
    }

    /// Samples N(0, 1) from `rng` (for initialising many tensors from one generator).
    pub fn randn_using<R: rand::Rng + ?Sized>(shape: &[usize], rng: &mut R) -> Self {
        Self::from_array(ArrayD::from_shape_simple_fn(IxDyn(shape), || {
            T::standard_normal(rng)
        }))
    }

    /// Samples N(`mean`, `std`²) from a generator seeded with `seed`.
    pub fn rand_normal(shape: &[usize], mean: T, std: T, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        Self::from_array(ArrayD::from_shape_simple_fn(IxDyn(shape), || {
            mean + std * T::standard_normal(&mut rng)
        }))
    }

    /// Samples uniformly from `[low, high)` with a generator seeded with `seed`.
    ///
    /// # Panics
    /// If `low >= high` or either is not finite.
    pub fn rand_uniform(shape: &[usize], low: T, high: T, seed: u64) -> Self {
        Self::rand_uniform_using(shape, low, high, &mut StdRng::seed_from_u64(seed))
    }

    /// Samples uniformly from `[low, high)` using `rng`.
    ///
    /// # Panics
    /// If `low >= high` or either is not finite.
    pub fn rand_uniform_using<R: rand::Rng + ?Sized>(
        shape: &[usize],
        low: T,
        high: T,
        rng: &mut R,
    ) -> Self {
        let dist = match Uniform::new(low, high) {
            Ok(d) => d,
            Err(e) => panic!("rand_uniform: invalid range [{low}, {high}): {e}"),
        };
        Self::from_array(ArrayD::from_shape_simple_fn(IxDyn(shape), || {
            dist.sample(rng)
        }))
    }

    /// Makes this tensor a leaf that requires grad (a parameter). A leaf stays a leaf.
    ///
    /// # Panics
    /// On a recorded result: it already has a gradient path; [`detach`](Self::detach) it first
    /// to start a new leaf from its value.
    pub fn requires_grad(self) -> Self {
        match self.repr {
            Repr::Value { value, node: None } => Tensor {
                repr: Repr::Leaf(Rc::new(Leaf::new(value))),
            },
            Repr::Value { node: Some(_), .. } => panic!(
                "requires_grad: the tensor is the result of a recorded operation; call detach() first"
            ),
            leaf @ Repr::Leaf(_) => Tensor { repr: leaf },
        }
    }

    /// A constant with the same value: gradients do not flow through it. The data is shared.
    pub fn detach(&self) -> Self {
        Self::constant(self.array())
    }

    pub(crate) fn constant(value: ArcArray<T, IxDyn>) -> Self {
        Tensor {
            repr: Repr::Value { value, node: None },
        }
    }
}

/// Reading values.
impl<T: Float> Tensor<T> {
    /// The value as a shared array: a cheap handle, copy-on-write if mutated.
    pub fn array(&self) -> ArcArray<T, IxDyn> {
        match &self.repr {
            Repr::Value { value, .. } => value.clone(),
            Repr::Leaf(leaf) => leaf.value.borrow().clone(),
        }
    }

    /// The value as an owned array (a copy).
    pub fn to_array(&self) -> ArrayD<T> {
        self.array().into_owned()
    }

    /// The only element of a one-element tensor.
    ///
    /// # Panics
    /// If the tensor does not hold exactly one element.
    pub fn item(&self) -> T {
        let a = self.array();
        match a.iter().next() {
            Some(&x) if a.len() == 1 => x,
            _ => panic!(
                "item: the tensor has shape {:?}, not one element",
                a.shape()
            ),
        }
    }

    /// The shape.
    pub fn shape(&self) -> Vec<usize> {
        self.with_value(|v| v.shape().to_vec())
    }

    /// The number of axes.
    pub fn ndim(&self) -> usize {
        self.with_value(|v| v.ndim())
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.with_value(|v| v.len())
    }

    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the tensor takes part in autodiff (a leaf that requires grad, or a result
    /// recorded from one).
    pub fn is_tracked(&self) -> bool {
        !matches!(self.repr, Repr::Value { node: None, .. })
    }

    /// Whether the tensor is a leaf that requires grad (a parameter).
    pub fn is_leaf(&self) -> bool {
        matches!(self.repr, Repr::Leaf(_))
    }

    pub(crate) fn with_value<R>(&self, f: impl FnOnce(&ArcArray<T, IxDyn>) -> R) -> R {
        match &self.repr {
            Repr::Value { value, .. } => f(value),
            Repr::Leaf(leaf) => f(&leaf.value.borrow()),
        }
    }
}

/// Gradients and parameter updates.
impl<T: Float> Tensor<T> {
    /// The accumulated gradient of a leaf; `None` before any backward pass reached it, after
    /// [`zero_grad`](Self::zero_grad), and for tensors that are not leaves.
    pub fn grad(&self) -> Option<ArrayD<T>> {
        self.with_grad(|g| g.cloned())
    }

    /// Calls `f` with the leaf's gradient without copying it.
    pub fn with_grad<R>(&self, f: impl FnOnce(Option<&ArrayD<T>>) -> R) -> R {
        match &self.repr {
            Repr::Leaf(leaf) => f(leaf.grad.borrow().as_ref()),
            Repr::Value { .. } => f(None),
        }
    }

    /// Changes a leaf's gradient in place (e.g. clipping); does nothing if it has none.
    pub fn update_grad(&self, f: impl FnOnce(ArrayViewMutD<'_, T>)) {
        if let Repr::Leaf(leaf) = &self.repr
            && let Some(g) = leaf.grad.borrow_mut().as_mut()
        {
            f(g.view_mut());
        }
    }

    /// Takes a leaf's gradient out, leaving `None` (no copy); `None` for other tensors.
    pub fn take_grad(&self) -> Option<ArrayD<T>> {
        match &self.repr {
            Repr::Leaf(leaf) => leaf.grad.borrow_mut().take(),
            Repr::Value { .. } => None,
        }
    }

    /// Adds `g` to a leaf's gradient, as a backward pass would (a copy of `g` becomes the
    /// gradient if there was none); used to gather gradients computed elsewhere, e.g. on other
    /// threads.
    ///
    /// ```
    /// use nn_core::Tensor;
    /// use nn_core::ndarray::arr1;
    /// let w = Tensor::<f64>::zeros(&[2]).requires_grad();
    /// w.add_grad(arr1(&[1.0, 2.0]).into_dyn().view());
    /// w.add_grad(arr1(&[0.5, 0.5]).into_dyn().view());
    /// assert_eq!(w.grad().unwrap().as_slice().unwrap(), &[1.5, 2.5]);
    /// ```
    ///
    /// # Panics
    /// If the tensor is not a leaf, or `g`'s shape is not the leaf's.
    pub fn add_grad(&self, g: ArrayViewD<'_, T>) {
        match &self.repr {
            Repr::Leaf(leaf) => {
                let shape = leaf.value.borrow().raw_dim();
                assert!(
                    g.raw_dim() == shape,
                    "add_grad: the parameter has shape {:?}, the gradient {:?}",
                    shape.slice(),
                    g.shape()
                );
                let mut grad = leaf.grad.borrow_mut();
                match grad.as_mut() {
                    Some(acc) => match (acc.as_slice_mut(), g.as_slice()) {
                        (Some(a), Some(g)) => crate::kernels::add_scaled(a, T::one(), g),
                        _ => *acc += &g,
                    },
                    None => *grad = Some(g.to_owned()),
                }
            }
            Repr::Value { .. } => {
                panic!("add_grad: the tensor is not a parameter (requires_grad leaf)")
            }
        }
    }

    /// Clears a leaf's gradient (to `None`, as PyTorch's `set_to_none`); no-op otherwise.
    pub fn zero_grad(&self) {
        if let Repr::Leaf(leaf) = &self.repr {
            *leaf.grad.borrow_mut() = None;
        }
    }

    /// Updates a leaf's value in place (what an optimizer does). The data is copied first only
    /// if something else still shares it.
    ///
    /// # Panics
    /// If the tensor is not a leaf that requires grad.
    pub fn update_value(&self, f: impl FnOnce(ArrayViewMutD<'_, T>)) {
        match &self.repr {
            Repr::Leaf(leaf) => f(leaf.value.borrow_mut().view_mut()),
            Repr::Value { .. } => {
                panic!("update_value: the tensor is not a parameter (requires_grad leaf)")
            }
        }
    }

    /// Replaces a leaf's value (e.g. when loading a checkpoint).
    ///
    /// # Panics
    /// If the tensor is not a leaf or `value` has another shape.
    pub fn set_value<D: Dimension>(&self, value: Array<T, D>) {
        self.replace_value("set_value", value.into_dyn().into_shared());
    }

    /// Makes a leaf's value `value` without copying it: both share the data, and the next
    /// in-place update of either copies it first (copy-on-write).
    ///
    /// # Panics
    /// If the tensor is not a leaf or `value` has another shape.
    pub fn set_shared_value(&self, value: ArcArray<T, IxDyn>) {
        self.replace_value("set_shared_value", value);
    }

    fn replace_value(&self, op: &str, value: ArcArray<T, IxDyn>) {
        match &self.repr {
            Repr::Leaf(leaf) => {
                let mut current = leaf.value.borrow_mut();
                assert!(
                    current.shape() == value.shape(),
                    "{op}: the parameter has shape {:?}, the new value {:?}",
                    current.shape(),
                    value.shape()
                );
                *current = value;
            }
            Repr::Value { .. } => {
                panic!("{op}: the tensor is not a parameter (requires_grad leaf)")
            }
        }
    }

    /// Back-propagates from this one-element tensor (usually a loss): every leaf that took part
    /// receives `∂self/∂leaf`, added to its gradient. Frees the graph.
    ///
    /// # Errors
    /// [`AutogradError::NonScalar`] if the tensor has more than one element,
    /// [`AutogradError::NotTracked`] for a constant, [`AutogradError::GraphFreed`] if the graph
    /// was already consumed by an earlier backward pass.
    pub fn backward(&self) -> Result<(), AutogradError> {
        let shape = self.shape();
        if shape.iter().product::<usize>() != 1 {
            return Err(AutogradError::NonScalar { shape });
        }
        self.backward_with(ArrayD::ones(IxDyn(&shape)))
    }

    /// Back-propagates with `seed` as `∂L/∂self` (a vector-Jacobian product); frees the graph.
    ///
    /// # Errors
    /// [`AutogradError::SeedShape`] if `seed` and the tensor differ in shape; otherwise as
    /// [`backward`](Self::backward).
    pub fn backward_with(&self, seed: ArrayD<T>) -> Result<(), AutogradError> {
        let shape = self.shape();
        if seed.shape() != shape.as_slice() {
            return Err(AutogradError::SeedShape {
                expected: shape,
                found: seed.shape().to_vec(),
            });
        }
        match &self.repr {
            Repr::Value { node: None, .. } => Err(AutogradError::NotTracked),
            Repr::Value { node: Some(h), .. } => tape::backward(h, seed),
            Repr::Leaf(leaf) => {
                leaf.accumulate_grad(seed);
                Ok(())
            }
        }
    }
}

/// Plumbing for the operations.
impl<T: Float> Tensor<T> {
    fn input_ref(&self) -> InputRef<'_, T> {
        match &self.repr {
            Repr::Value { node: None, .. } => InputRef::Const,
            Repr::Value { node: Some(h), .. } => InputRef::Node(h),
            Repr::Leaf(leaf) => InputRef::Leaf(leaf),
        }
    }
}

/// Running operations.
impl<T: Float> Tensor<T> {
    /// Runs `op` on `inputs` and records it on the tape if recording is on and an input is
    /// tracked; otherwise the result is a constant and the op is dropped. Every built-in op
    /// goes through here, and so does an op written outside nn-core (see [`Op`]).
    ///
    /// ```
    /// use nn_core::ndarray::{ArcArray, ArrayD, IxDyn};
    /// use nn_core::{Float, Grads, Op, Tensor};
    ///
    /// /// `x³`, keeping its input for the derivative `3x²`.
    /// struct Cube<T: Float>(Option<ArcArray<T, IxDyn>>);
    ///
    /// impl<T: Float> Op<T> for Cube<T> {
    ///     fn name(&self) -> &'static str {
    ///         "cube"
    ///     }
    ///     fn forward(&mut self, x: &[&ArcArray<T, IxDyn>], needs: &[bool]) -> ArcArray<T, IxDyn> {
    ///         if needs[0] {
    ///             self.0 = Some(x[0].clone());
    ///         }
    ///         x[0].mapv(|v| v * v * v).into_shared()
    ///     }
    ///     fn backward(self: Box<Self>, mut g: ArrayD<T>, grads: &mut Grads<'_, T>) {
    ///         let x = self.0.expect("kept when a gradient is needed");
    ///         g.zip_mut_with(&x, |g, &x| *g = *g * T::lit(3.0) * x * x);
    ///         grads.add(0, g);
    ///     }
    /// }
    ///
    /// let x = nn_core::ndarray::arr1(&[0.5, -1.5]).into_dyn();
    /// nn_core::gradcheck(|t| Tensor::apply(Cube(None), &[&t[0]]), &[x]).unwrap();
    /// ```
    pub fn apply<O: Op<T>>(op: O, inputs: &[&Tensor<T>]) -> Tensor<T> {
        // Fixed-size arrays for the usual arities keep the bookkeeping off the heap.
        match inputs {
            [a] => Self::apply_n(op, [*a]),
            [a, b] => Self::apply_n(op, [*a, *b]),
            [a, b, c] => Self::apply_n(op, [*a, *b, *c]),
            _ => {
                let guards: Vec<_> = inputs.iter().map(|t| t.leaf_value()).collect();
                let values: Vec<_> = inputs
                    .iter()
                    .zip(&guards)
                    .map(|(t, g)| t.value_ref(g))
                    .collect();
                Self::run(op, inputs, &values)
            }
        }
    }

    #[inline]
    fn apply_n<O: Op<T>, const N: usize>(op: O, inputs: [&Tensor<T>; N]) -> Tensor<T> {
        let guards: [_; N] = std::array::from_fn(|i| inputs[i].leaf_value());
        let values: [_; N] = std::array::from_fn(|i| inputs[i].value_ref(&guards[i]));
        Self::run(op, &inputs, &values)
    }

    /// The forward pass, then the node if the result is recorded.
    #[inline]
    fn run<O: Op<T>>(
        mut op: O,
        inputs: &[&Tensor<T>],
        values: &[&ArcArray<T, IxDyn>],
    ) -> Tensor<T> {
        let recording = inputs.iter().any(|t| t.is_tracked()) && tape::is_grad_enabled();
        let needs: SmallVec<[bool; 4]> =
            inputs.iter().map(|t| recording && t.is_tracked()).collect();
        let value = op.forward(values, &needs);
        let node = recording.then(|| {
            let refs = inputs.iter().map(|t| t.input_ref());
            tape::record(Box::new(op), refs, value.raw_dim())
        });
        Tensor {
            repr: Repr::Value { value, node },
        }
    }

    /// A borrow of a leaf's value (which lives in a `RefCell`); `None` for other tensors.
    fn leaf_value(&self) -> Option<Ref<'_, ArcArray<T, IxDyn>>> {
        match &self.repr {
            Repr::Leaf(leaf) => Some(leaf.value.borrow()),
            Repr::Value { .. } => None,
        }
    }

    /// The value, given what [`leaf_value`](Self::leaf_value) returned for this tensor.
    fn value_ref<'a>(
        &'a self,
        guard: &'a Option<Ref<'a, ArcArray<T, IxDyn>>>,
    ) -> &'a ArcArray<T, IxDyn> {
        match (&self.repr, guard) {
            (Repr::Value { value, .. }, _) => value,
            (Repr::Leaf(_), Some(value)) => value,
            (Repr::Leaf(_), None) => unreachable!("a leaf's value is borrowed by leaf_value"),
        }
    }
}

impl<T: Float, D: Dimension> From<Array<T, D>> for Tensor<T> {
    fn from(array: Array<T, D>) -> Self {
        Self::from_array(array)
    }
}

impl<T: Float> fmt::Debug for Tensor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.repr {
            Repr::Value { node: None, .. } => "constant",
            Repr::Value { node: Some(_), .. } => "recorded",
            Repr::Leaf(_) => "leaf",
        };
        self.with_value(|v| write!(f, "Tensor<{}>({kind}, shape {:?}, {v})", T::NAME, v.shape()))
    }
}

impl<T: Float> fmt::Display for Tensor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.with_value(|v| fmt::Display::fmt(v, f))
    }
}
