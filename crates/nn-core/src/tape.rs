//! The tape (Wengert list) that records operations for reverse-mode autodiff.
//!
//! Book 1 ch.5 (誤差逆伝播法) builds backpropagation layer by layer; here every operation on
//! tensors that need a gradient appends one node to a per-thread tape, in execution order.
//! `backward()` walks the tape once in reverse: a node's consumers always come after it, so no
//! topological sort is needed. See `docs/architecture.md` for the memory lifecycle.

use std::cell::{Cell, RefCell};
use std::marker::PhantomData;
use std::rc::{Rc, Weak};

use ndarray::{ArcArray, ArrayD, IxDyn};
use smallvec::SmallVec;

use crate::error::AutogradError;
use crate::float::Float;
use crate::op::{Grads, NO_NODE, Op};

/// A parameter's storage: its value, its accumulated gradient, and where it sits on the tape.
pub(crate) struct Leaf<T: Float> {
    pub(crate) value: RefCell<ArcArray<T, IxDyn>>,
    pub(crate) grad: RefCell<Option<ArrayD<T>>>,
    /// `(epoch, node id)` of this leaf's node on the current tape, if it has one.
    slot: Cell<Option<(u64, usize)>>,
}

impl<T: Float> Leaf<T> {
    pub(crate) fn new(value: ArcArray<T, IxDyn>) -> Self {
        Leaf {
            value: RefCell::new(value),
            grad: RefCell::new(None),
            slot: Cell::new(None),
        }
    }

    pub(crate) fn accumulate_grad(&self, g: ArrayD<T>) {
        let mut grad = self.grad.borrow_mut();
        match grad.as_mut() {
            Some(acc) => *acc += &g,
            None => *grad = Some(g),
        }
    }
}

/// Held by every recorded tensor of one epoch; when the last one is dropped, the epoch's nodes
/// are garbage and the tape frees them, even if `backward()` never ran.
pub(crate) struct EpochGuard<T: Float> {
    pub(crate) epoch: u64,
    _t: PhantomData<T>,
}

impl<T: Float> Drop for EpochGuard<T> {
    fn drop(&mut self) {
        // `try_*`: the thread may be shutting down, or the tape borrowed (then the next
        // recording frees the nodes instead).
        let _ = T::tape_key().try_with(|tape| {
            if let Ok(mut tape) = tape.try_borrow_mut()
                && tape.epoch == self.epoch
            {
                tape.release();
            }
        });
    }
}

/// A recorded tensor's link to its node.
#[derive(Clone)]
pub(crate) struct NodeHandle<T: Float> {
    pub(crate) id: usize,
    pub(crate) guard: Rc<EpochGuard<T>>,
}

/// What an operation needs to know of one of its inputs in order to record itself.
pub(crate) enum InputRef<'a, T: Float> {
    Const,
    Leaf(&'a Rc<Leaf<T>>),
    Node(&'a NodeHandle<T>),
}

/// The node ids of an op's inputs ([`NO_NODE`] for a constant); most ops have at most three.
pub(crate) type InputIds = SmallVec<[usize; 3]>;

/// One entry of the tape: the shape of the value it stands for, and what backward does there.
pub(crate) struct Node<T: Float> {
    /// Checked against every gradient delivered to this node.
    pub(crate) shape: IxDyn,
    kind: NodeKind<T>,
}

enum NodeKind<T: Float> {
    /// A parameter: its gradient is added to the leaf's storage.
    Leaf(Rc<Leaf<T>>),
    /// An op with what its forward kept for backward.
    Op {
        op: Box<dyn Op<T>>,
        inputs: InputIds,
    },
}

/// The per-thread, per-float-type list of recorded operations.
pub struct Tape<T: Float> {
    nodes: Vec<Node<T>>,
    epoch: u64,
    guard: Weak<EpochGuard<T>>,
}

impl<T: Float> Tape<T> {
    pub(crate) fn new() -> Self {
        Tape {
            nodes: Vec::new(),
            epoch: 0,
            guard: Weak::new(),
        }
    }

    /// Frees every node of the current epoch and starts the next one.
    fn release(&mut self) {
        self.nodes.clear();
        self.epoch += 1;
    }

    fn current_guard(&mut self) -> Rc<EpochGuard<T>> {
        if let Some(g) = self.guard.upgrade()
            && g.epoch == self.epoch
        {
            return g;
        }
        if !self.nodes.is_empty() {
            // No tensor refers to these nodes any more.
            self.release();
        }
        let g = Rc::new(EpochGuard {
            epoch: self.epoch,
            _t: PhantomData,
        });
        self.guard = Rc::downgrade(&g);
        g
    }

    fn input_id(&mut self, op: &str, input: &InputRef<'_, T>) -> Option<usize> {
        match input {
            InputRef::Const => None,
            InputRef::Leaf(leaf) => {
                if let Some((epoch, id)) = leaf.slot.get()
                    && epoch == self.epoch
                {
                    return Some(id);
                }
                let id = self.nodes.len();
                self.nodes.push(Node {
                    shape: leaf.value.borrow().raw_dim(),
                    kind: NodeKind::Leaf(Rc::clone(leaf)),
                });
                leaf.slot.set(Some((self.epoch, id)));
                Some(id)
            }
            InputRef::Node(h) => {
                assert!(
                    h.guard.epoch == self.epoch,
                    "{op}: an input belongs to a graph already consumed by backward(); \
                     call .detach() on it to use its value as a constant"
                );
                Some(h.id)
            }
        }
    }
}

/// Records `op`, whose output of shape `shape` needs a gradient, as the newest node.
pub(crate) fn record<'a, T: Float>(
    op: Box<dyn Op<T>>,
    inputs: impl Iterator<Item = InputRef<'a, T>>,
    shape: IxDyn,
) -> NodeHandle<T> {
    T::tape_key().with(|tape| {
        let mut tape = tape.borrow_mut();
        let guard = tape.current_guard();
        let name = op.name();
        let ids: InputIds = inputs
            .map(|i| tape.input_id(name, &i).unwrap_or(NO_NODE))
            .collect();
        let id = tape.nodes.len();
        tape.nodes.push(Node {
            shape,
            kind: NodeKind::Op { op, inputs: ids },
        });
        NodeHandle { id, guard }
    })
}

/// Runs reverse-mode accumulation from node `root` seeded with `seed`, then frees the tape.
pub(crate) fn backward<T: Float>(
    root: &NodeHandle<T>,
    seed: ArrayD<T>,
) -> Result<(), AutogradError> {
    let mut nodes = T::tape_key().with(|tape| {
        let mut tape = tape.borrow_mut();
        if tape.epoch != root.guard.epoch {
            return Err(AutogradError::GraphFreed);
        }
        let nodes = std::mem::take(&mut tape.nodes);
        tape.epoch += 1;
        Ok(nodes)
    })?;
    // Nodes recorded after the root cannot reach it.
    nodes.truncate(root.id + 1);
    let mut grads: Vec<Option<ArrayD<T>>> = Vec::with_capacity(nodes.len());
    grads.resize_with(nodes.len(), || None);
    grads[root.id] = Some(seed);
    while let Some(node) = nodes.pop() {
        if let Some(g) = grads[nodes.len()].take() {
            match node.kind {
                NodeKind::Leaf(leaf) => leaf.accumulate_grad(g),
                NodeKind::Op { op, inputs } => {
                    let name = op.name();
                    let mut sink = Grads {
                        op: name,
                        inputs: &inputs,
                        nodes: &nodes,
                        grads: &mut grads,
                    };
                    op.backward(g, &mut sink);
                }
            }
        }
        // The node drops here: what its op kept is freed as the walk goes.
    }
    // Hand the allocation back so the next step does not regrow it.
    T::tape_key().with(|tape| {
        let mut tape = tape.borrow_mut();
        if tape.nodes.is_empty() {
            tape.nodes = nodes;
        }
    });
    Ok(())
}

/// What the tape of one float type holds on this thread, for tests and diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TapeStats {
    /// Recorded nodes alive now (leaves included).
    pub nodes: usize,
    /// Node slots allocated (the tape reuses them from step to step).
    pub capacity: usize,
    /// How many graphs have been freed so far.
    pub epoch: u64,
}

/// Reports the current thread's tape for element type `T`.
///
/// ```
/// use nn_core::{tape_stats, Tensor};
/// let w = Tensor::<f64>::scalar(2.0).requires_grad();
/// let y = &w * &w;
/// assert_eq!(tape_stats::<f64>().nodes, 2); // the leaf and the product
/// y.backward().unwrap();
/// assert_eq!(tape_stats::<f64>().nodes, 0); // backward frees the graph
/// ```
pub fn tape_stats<T: Float>() -> TapeStats {
    T::tape_key().with(|tape| {
        let tape = tape.borrow();
        TapeStats {
            nodes: tape.nodes.len(),
            capacity: tape.nodes.capacity(),
            epoch: tape.epoch,
        }
    })
}

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// Whether operations on this thread are being recorded (false inside [`no_grad`]).
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(Cell::get)
}

/// Runs `f` with recording switched off: every result is a constant and the tape is untouched.
///
/// Use it for inference and evaluation.
///
/// ```
/// use nn_core::{no_grad, tape_stats, Tensor};
/// let w = Tensor::<f32>::ones(&[3, 3]).requires_grad();
/// let y = no_grad(|| w.matmul(&w));
/// assert!(!y.is_tracked());
/// assert_eq!(tape_stats::<f32>().nodes, 0);
/// ```
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    let _guard = NoGradGuard::new();
    f()
}

/// Switches recording off until dropped (the scope form of [`no_grad`]).
#[must_use = "recording is switched back on when the guard is dropped"]
pub struct NoGradGuard {
    previous: bool,
    _not_send: PhantomData<*const ()>,
}

impl NoGradGuard {
    /// Switches recording off on this thread.
    pub fn new() -> Self {
        let previous = GRAD_ENABLED.with(|g| g.replace(false));
        NoGradGuard {
            previous,
            _not_send: PhantomData,
        }
    }
}

impl Default for NoGradGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for NoGradGuard {
    fn drop(&mut self) {
        GRAD_ENABLED.with(|g| g.set(self.previous));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Tensor;

    fn param(v: &[f64]) -> Tensor<f64> {
        Tensor::from_vec(&[v.len()], v.to_vec()).requires_grad()
    }

    #[test]
    fn backward_twice_is_an_error() {
        let w = param(&[1.0, 2.0]);
        let loss = (&w * &w).sum();
        loss.backward().unwrap();
        assert_eq!(loss.backward(), Err(AutogradError::GraphFreed));
    }

    #[test]
    fn non_scalar_backward_needs_a_seed() {
        let w = param(&[1.0, 2.0]);
        let y = &w * 3.0;
        assert_eq!(
            y.backward(),
            Err(AutogradError::NonScalar { shape: vec![2] })
        );
        let bad = y.backward_with(ArrayD::ones(IxDyn(&[3])));
        assert_eq!(
            bad,
            Err(AutogradError::SeedShape {
                expected: vec![2],
                found: vec![3]
            })
        );
        y.backward_with(ndarray::arr1(&[1.0, 10.0]).into_dyn())
            .unwrap();
        assert_eq!(w.grad().unwrap().as_slice().unwrap(), &[3.0, 30.0]);
    }

    #[test]
    fn constants_cannot_backward() {
        let c = Tensor::<f64>::ones(&[1]);
        assert_eq!((&c * 2.0).backward(), Err(AutogradError::NotTracked));
    }

    #[test]
    fn gradients_accumulate_until_zero_grad() {
        let w = param(&[1.0, -2.0]);
        for _ in 0..2 {
            (&w * &w).sum().backward().unwrap();
        }
        assert_eq!(w.grad().unwrap().as_slice().unwrap(), &[4.0, -8.0]);
        w.zero_grad();
        assert!(w.grad().is_none());
        (&w * 1.0).sum().backward().unwrap();
        assert_eq!(w.grad().unwrap().as_slice().unwrap(), &[1.0, 1.0]);
    }

    #[test]
    fn backward_on_a_leaf_seeds_its_gradient() {
        let w = Tensor::<f64>::scalar(3.0).requires_grad();
        w.backward().unwrap();
        assert_eq!(w.grad().unwrap().sum(), 1.0);
    }

    #[test]
    fn no_grad_records_nothing() {
        let w = param(&[1.0, 2.0]);
        let before = tape_stats::<f64>();
        let y = no_grad(|| (&w * &w).exp().sum());
        assert!(!y.is_tracked());
        assert_eq!(tape_stats::<f64>().nodes, before.nodes);
        assert!(is_grad_enabled());
        {
            let _guard = NoGradGuard::new();
            assert!(!is_grad_enabled());
            assert!(!(&w + 1.0).is_tracked());
        }
        assert!((&w + 1.0).is_tracked());
    }

    #[test]
    fn detach_stops_the_gradient() {
        let w = param(&[2.0]);
        let y = (&w * &w.detach()).sum(); // d/dw (w · c) = c
        y.backward().unwrap();
        assert_eq!(w.grad().unwrap().as_slice().unwrap(), &[2.0]);
    }

    #[test]
    fn dropping_a_graph_without_backward_frees_the_tape() {
        let w = param(&[1.0, 2.0]);
        {
            let h = (&w * 2.0).exp();
            let _loss = h.sum();
            assert_eq!(tape_stats::<f64>().nodes, 4); // leaf, mul, exp, sum
        }
        assert_eq!(tape_stats::<f64>().nodes, 0);
    }

    #[test]
    fn a_clone_keeps_the_graph_alive() {
        let w = param(&[1.0]);
        let kept = {
            let y = &w * 2.0;
            y.clone()
        };
        assert_eq!(tape_stats::<f64>().nodes, 2);
        kept.sum().backward().unwrap();
        assert_eq!(tape_stats::<f64>().nodes, 0);
        assert_eq!(w.grad().unwrap()[0], 2.0);
    }

    #[test]
    #[should_panic(expected = "mul: an input belongs to a graph already consumed by backward()")]
    fn using_a_consumed_graph_panics() {
        let w = param(&[1.0]);
        let y = &w * 2.0;
        y.sum().backward().unwrap();
        let _ = &y * &w;
    }

    #[test]
    fn float_types_have_separate_tapes() {
        let a = Tensor::<f32>::scalar(1.0).requires_grad();
        let b = Tensor::<f64>::scalar(1.0).requires_grad();
        let ya = &a * 2.0;
        let yb = &b * 3.0;
        ya.backward().unwrap();
        yb.backward().unwrap(); // not freed by the f32 backward
        assert_eq!(a.grad().unwrap().sum(), 2.0);
        assert_eq!(b.grad().unwrap().sum(), 3.0);
    }

    #[test]
    fn gradients_move_between_leaves() {
        let w = param(&[1.0, 2.0]);
        (&w * 3.0).sum().backward().unwrap();
        let g = w.take_grad().unwrap();
        assert!(w.grad().is_none());
        let other = param(&[0.0, 0.0]);
        other.add_grad(g.view());
        other.add_grad(g.view());
        assert_eq!(other.grad().unwrap().as_slice().unwrap(), &[6.0, 6.0]);
        assert!(Tensor::<f64>::scalar(1.0).take_grad().is_none());
    }

    #[test]
    #[should_panic(expected = "add_grad: the parameter has shape [2], the gradient [3]")]
    fn a_gradient_of_another_shape_is_refused() {
        param(&[1.0, 2.0]).add_grad(ArrayD::zeros(IxDyn(&[3])).view());
    }

    #[test]
    fn a_shared_value_is_copied_on_write() {
        let w = param(&[1.0, 2.0]);
        let outside = ndarray::arr1(&[5.0, 6.0]).into_dyn().into_shared();
        w.set_shared_value(outside.clone());
        assert_eq!(w.array().as_ptr(), outside.as_ptr());
        w.update_value(|mut v| v += 1.0);
        assert_eq!(outside.as_slice().unwrap(), &[5.0, 6.0]);
        assert_eq!(w.to_array().as_slice().unwrap(), &[6.0, 7.0]);
    }

    #[test]
    fn parameter_updates_are_seen_by_every_clone() {
        let w = param(&[1.0, 2.0]);
        let alias = w.clone();
        (&w * &w).sum().backward().unwrap();
        let g = w.grad().unwrap();
        w.update_value(|mut v| v.scaled_add(-0.5, &g));
        assert_eq!(alias.to_array().as_slice().unwrap(), &[0.0, 0.0]);
        assert_eq!(alias.grad(), Some(g));
    }
}
