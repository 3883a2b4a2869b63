//! Data-parallel training steps: the batch split over threads, each thread with its own copy
//! of the model and its own tape, the gradients summed into the model before the optimizer
//! step (what PyTorch's `DistributedDataParallel` does across processes, here across cores).
//!
//! Why not split each matrix product instead: a training step of the book's networks is a few
//! hundred small operations; handing out each product costs a wake-up per product, and every
//! elementwise op between them stays on one core. One hand-off per step and every op of a
//! half-batch on each core is coarser work (docs/architecture.md, "Both cores in a training
//! step").

use std::any::Any;
use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;

use nn_core::ndarray::{ArcArray, ArrayD, Axis, IxDyn, Slice};
use nn_core::{AutogradError, Float, Tensor, kernels};

use crate::module::Module;

/// The loss of one shard: the model, the shard's rows of the input, all the step's targets, and
/// which rows of them belong to the shard.
type LossFn<Y, T> =
    dyn Fn(&mut dyn Module<T>, &Tensor<T>, &Y, Range<usize>) -> Tensor<T> + Send + Sync;

/// Splits each training step's batch over threads: this thread computes the first shard on the
/// model itself, helper threads the others on replicas built once by `build`; their gradients
/// are added to the model's, so the optimizer steps the model as after one pass over the whole
/// batch (up to rounding: the shards' sums are added in another order).
///
/// The loss must be a mean over the batch's rows (`Reduction::Mean`); each shard's loss is
/// weighted by its share of the rows. Layers that mix the rows of a batch see only their shard:
/// BatchNorm normalises each shard with its own statistics and the model's running statistics
/// follow the first shard (as `DistributedDataParallel` without `SyncBatchNorm`); each replica's
/// Dropout draws from the generator `build` gave it. Replicas run in training mode.
///
/// The allocator matters: with glibc's malloc, a 784-100-10 step on two threads returned the
/// heap's top to the system and faulted it back in every step, and gained nothing over one
/// thread; with mimalloc as the program's global allocator (what `nn-mnist` uses) it gained.
///
/// ```
/// use std::sync::Arc;
/// use nn_core::Tensor;
/// use nn_layers::{DataParallel, Linear, Module, Reduction, Relu, Sequential, Target, cross_entropy};
/// use rand::SeedableRng;
///
/// let net = || {
///     let mut rng = rand::rngs::StdRng::seed_from_u64(0);
///     Sequential::<f64>::new()
///         .add(Linear::new(4, 8, &mut rng))
///         .add(Relu)
///         .add(Linear::new(8, 3, &mut rng))
/// };
/// let loss = |m: &mut dyn Module<f64>, x: &Tensor<f64>, t: &[usize], rows: std::ops::Range<usize>| {
///     cross_entropy(&m.forward(x), Target::Classes(&t[rows]), Reduction::Mean)
/// };
/// let mut model = net();
/// let mut parallel = DataParallel::new(2, net, loss);
/// let x = Tensor::<f64>::randn(&[6, 4], 1).array();
/// let t: Arc<[usize]> = Arc::from(vec![0, 1, 2, 0, 1, 2]);
/// let l = parallel.backward(&mut model, x.clone(), t.clone()).unwrap();
///
/// // The same gradient as one pass over the whole batch.
/// let g: Vec<_> = model.parameters().iter().map(|(_, p)| p.take_grad().unwrap()).collect();
/// let whole = loss(&mut model, &Tensor::from_shared(x), &t, 0..6);
/// whole.backward().unwrap();
/// assert!((whole.item() - l).abs() < 1e-12);
/// for ((_, p), g) in model.parameters().iter().zip(&g) {
///     assert!((p.grad().unwrap() - g).iter().all(|d| d.abs() < 1e-12));
/// }
/// ```
pub struct DataParallel<Y: ?Sized, T: Float = f32> {
    loss: Arc<LossFn<Y, T>>,
    workers: Vec<Worker<Y, T>>,
}

struct Job<Y: ?Sized, T: Float> {
    /// The gradients of the worker's previous step, handed back so that the thread that
    /// allocated them frees them.
    spent: Vec<Option<ArrayD<T>>>,
    values: Vec<ArcArray<T, IxDyn>>,
    x: ArcArray<T, IxDyn>,
    targets: Arc<Y>,
    rows: Range<usize>,
    weight: T,
}

/// A shard's weighted loss and its gradients, or the panic that stopped it.
type Reply<T> = Result<Result<Done<T>, AutogradError>, Box<dyn Any + Send>>;

/// A shard's weighted loss and its gradients.
type Done<T> = (T, Vec<Option<ArrayD<T>>>);

struct Worker<Y: ?Sized, T: Float> {
    spent: Vec<Option<ArrayD<T>>>,
    jobs: Option<Sender<Job<Y, T>>>,
    replies: Receiver<Reply<T>>,
    thread: Option<JoinHandle<()>>,
}

impl<Y, T> DataParallel<Y, T>
where
    Y: ?Sized + Send + Sync + 'static,
    T: Float,
{
    /// Starts `threads - 1` helper threads, each building its replica with `build` (called on
    /// that thread; the replica's parameter values are replaced by the model's at every step).
    /// `loss(model, x, targets, rows)` computes the mean loss of the input rows `x`, which are
    /// rows `rows` of the step's batch; `targets[rows]` are theirs.
    ///
    /// # Panics
    /// If a thread cannot be started.
    pub fn new<M, B, L>(threads: usize, build: B, loss: L) -> Self
    where
        M: Module<T> + 'static,
        B: Fn() -> M + Send + Sync + 'static,
        L: Fn(&mut dyn Module<T>, &Tensor<T>, &Y, Range<usize>) -> Tensor<T>
            + Send
            + Sync
            + 'static,
    {
        let loss: Arc<LossFn<Y, T>> = Arc::new(loss);
        let build = Arc::new(build);
        let workers: Vec<Worker<Y, T>> = (1..threads.max(1))
            .map(|i| {
                let (jobs, job_rx) = channel::<Job<Y, T>>();
                let (reply_tx, replies) = channel();
                let (build, loss) = (Arc::clone(&build), Arc::clone(&loss));
                let thread = std::thread::Builder::new()
                    .name(format!("data-parallel-{i}"))
                    .spawn(move || serve(build.as_ref(), loss.as_ref(), job_rx, reply_tx))
                    .expect("DataParallel: cannot start a thread");
                Worker {
                    spent: Vec::new(),
                    jobs: Some(jobs),
                    replies,
                    thread: Some(thread),
                }
            })
            .collect();
        DataParallel { loss, workers }
    }

    /// How many threads share a step (this one included).
    pub fn threads(&self) -> usize {
        self.workers.len() + 1
    }

    /// Computes the loss of the batch `x` (rows along the first axis) with targets `targets`,
    /// and adds its gradient to the parameters of `model`; returns the loss. Call the
    /// optimizer's `zero_grad` before and `step` after, as around `loss.backward()`.
    ///
    /// # Errors
    /// What `backward` on a shard's loss returns (e.g. [`AutogradError::NonScalar`]).
    ///
    /// # Panics
    /// If a shard's forward pass or loss panics (the panic is passed on), or a replica's
    /// parameters do not have the model's shapes.
    pub fn backward(
        &mut self,
        model: &mut dyn Module<T>,
        x: ArcArray<T, IxDyn>,
        targets: Arc<Y>,
    ) -> Result<T, AutogradError> {
        let n = x.shape().first().copied().unwrap_or(0);
        let shards = shards(n, self.threads());
        let weight = |r: &Range<usize>| T::from(r.len()).unwrap() / T::from(n.max(1)).unwrap();
        let params = model.parameter_tensors();
        // The replicas take the cores from here: helpers spinning after the optimizer's last
        // split step would only slow them.
        nn_core::kernels::rest_helpers();
        // Every helper gets a shard (empty when rows are fewer than threads).
        for (worker, rows) in self.workers.iter_mut().zip(&shards[1..]) {
            let job = Job {
                spent: std::mem::take(&mut worker.spent),
                values: params.iter().map(Tensor::array).collect(),
                x: x.clone(),
                targets: Arc::clone(&targets),
                rows: rows.clone(),
                weight: weight(rows),
            };
            let sent = worker.jobs.as_ref().is_some_and(|tx| tx.send(job).is_ok());
            assert!(
                sent,
                "DataParallel: a helper thread stopped after an earlier panic"
            );
        }
        let rows = shards[0].clone();
        let w0 = weight(&rows);
        let own = catch_unwind(AssertUnwindSafe(|| {
            kernels::with_num_threads(1, || {
                let loss = self.loss.as_ref();
                shard_backward(model, loss, &x, &targets, rows, w0)
            })
        }));
        // Every reply is taken, even after a failure, so none is left for the next step.
        let replies: Vec<Reply<T>> = self
            .workers
            .iter()
            .map(|w| receive(&w.replies).expect("DataParallel: a helper thread stopped"))
            .collect();
        drop(x);
        let mut total = own.unwrap_or_else(|panic| resume_unwind(panic))?;
        for (reply, worker) in replies.into_iter().zip(&mut self.workers) {
            let (loss, grads) = reply.unwrap_or_else(|panic| resume_unwind(panic))?;
            total += loss;
            for (p, g) in params.iter().zip(&grads) {
                if let Some(g) = g {
                    p.add_grad(g.view());
                }
            }
            worker.spent = grads;
        }
        Ok(total)
    }
}

impl<Y: ?Sized, T: Float> Drop for DataParallel<Y, T> {
    fn drop(&mut self) {
        for w in &mut self.workers {
            w.jobs = None; // the thread's loop ends
        }
        for w in &mut self.workers {
            if let Some(t) = w.thread.take() {
                let _ = t.join();
            }
        }
    }
}

/// `n` rows in `parts` contiguous runs whose lengths differ by at most one (empty runs when
/// there are fewer rows than parts).
fn shards(n: usize, parts: usize) -> Vec<Range<usize>> {
    let (base, extra) = (n / parts, n % parts);
    let mut start = 0;
    (0..parts)
        .map(|i| {
            let len = base + usize::from(i < extra);
            start += len;
            start - len..start
        })
        .collect()
}

/// The weighted loss of rows `rows`, its gradient added to the model's parameters.
fn shard_backward<Y: ?Sized, T: Float>(
    model: &mut dyn Module<T>,
    loss: &LossFn<Y, T>,
    x: &ArcArray<T, IxDyn>,
    targets: &Y,
    rows: Range<usize>,
    weight: T,
) -> Result<T, AutogradError> {
    if rows.is_empty() {
        return Ok(T::zero());
    }
    let mut xs = x.clone(); // shares the data
    xs.slice_axis_inplace(Axis(0), Slice::from(rows.clone()));
    let l = loss(model, &Tensor::from_shared(xs), targets, rows);
    let value = l.item() * weight;
    l.backward_with(ArrayD::from_elem(IxDyn(&l.shape()), weight))?;
    Ok(value)
}

/// Receives the next message, spinning a while before sleeping: waking a sleeping thread
/// costs more than a short step's worth of work on some machines.
fn receive<M>(rx: &Receiver<M>) -> Result<M, std::sync::mpsc::RecvError> {
    for _ in 0..SPIN_TRIES {
        match rx.try_recv() {
            Ok(m) => return Ok(m),
            Err(std::sync::mpsc::TryRecvError::Empty) => std::hint::spin_loop(),
            Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                return Err(std::sync::mpsc::RecvError);
            }
        }
    }
    rx.recv()
}

const SPIN_TRIES: usize = 200_000;

/// A helper's wait for its next step: this thread is lent to the kernels' fork–join meanwhile,
/// so that the model's thread, summing gradients and stepping the optimizer between steps,
/// splits that work with this idle core instead of waking a kernel helper to share it; after
/// [`LEND_FOR`] without a step, it sleeps.
fn receive_lent<M>(rx: &Receiver<M>) -> Result<M, std::sync::mpsc::RecvError> {
    use std::sync::mpsc::{RecvError, TryRecvError};
    let polled = kernels::lend_thread(
        || match rx.try_recv() {
            Ok(m) => Some(Ok(m)),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(Err(RecvError)),
        },
        LEND_FOR,
    );
    polled.unwrap_or_else(|| rx.recv())
}

/// How long a helper waits for its next step, lent, before it sleeps: longer than any
/// optimizer step between two training steps of the book's networks here.
const LEND_FOR: std::time::Duration = std::time::Duration::from_millis(5);

/// A helper thread: builds its replica, then computes shards until the sender is dropped.
fn serve<M, B, Y, T>(
    build: &B,
    loss: &LossFn<Y, T>,
    jobs: Receiver<Job<Y, T>>,
    replies: Sender<Reply<T>>,
) where
    M: Module<T> + 'static,
    B: Fn() -> M,
    Y: ?Sized,
    T: Float,
{
    kernels::with_num_threads(1, || {
        let mut replica = build();
        let params = replica.parameters();
        // Each parameter's own array, put back after every step so that the model's arrays
        // are no longer shared when its optimizer updates them (no copy-on-write).
        let own: Vec<_> = params.iter().map(|(_, p)| p.array()).collect();
        while let Ok(mut job) = receive_lent(&jobs) {
            let reply = catch_unwind(AssertUnwindSafe(|| {
                drop(std::mem::take(&mut job.spent));
                let model_shapes: Vec<&[usize]> = job.values.iter().map(|v| v.shape()).collect();
                let ours: Vec<&[usize]> = own.iter().map(|v| v.shape()).collect();
                assert!(
                    model_shapes == ours,
                    "DataParallel: the replica built has parameters {:?} of shapes {ours:?}, \
                     the model {model_shapes:?}",
                    params.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>()
                );
                for ((_, p), v) in params.iter().zip(&job.values) {
                    p.set_shared_value(v.clone());
                }
                let result = shard_backward(
                    &mut replica,
                    loss,
                    &job.x,
                    &job.targets,
                    job.rows.clone(),
                    job.weight,
                );
                for ((_, p), v) in params.iter().zip(&own) {
                    p.set_shared_value(v.clone());
                }
                let grads = params.iter().map(|(_, p)| p.take_grad()).collect();
                result.map(|l| (l, grads))
            }));
            let failed = reply.is_err();
            drop(job);
            if replies.send(reply).is_err() || failed {
                break;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Linear, Module, Reduction, Relu, Sequential, Tanh, Target, cross_entropy};
    use rand::SeedableRng;

    fn net() -> Sequential<f64> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        Sequential::new()
            .add(Linear::new(5, 16, &mut rng))
            .add(Tanh)
            .add(Linear::new(16, 4, &mut rng))
    }

    fn loss(
        m: &mut dyn Module<f64>,
        x: &Tensor<f64>,
        t: &[usize],
        rows: Range<usize>,
    ) -> Tensor<f64> {
        cross_entropy(&m.forward(x), Target::Classes(&t[rows]), Reduction::Mean)
    }

    fn batch(n: usize, seed: u64) -> (ArcArray<f64, IxDyn>, Arc<[usize]>) {
        let x = Tensor::<f64>::randn(&[n, 5], seed).array();
        (x, (0..n).map(|i| (i * 3 + 1) % 4).collect())
    }

    /// Gradients of the whole batch on this thread alone, then cleared.
    fn reference(model: &mut Sequential<f64>, n: usize, seed: u64) -> (f64, Vec<ArrayD<f64>>) {
        let (x, t) = batch(n, seed);
        let l = loss(model, &Tensor::from_shared(x), &t, 0..n);
        l.backward().unwrap();
        let g = model
            .parameters()
            .iter()
            .map(|(_, p)| p.take_grad().unwrap())
            .collect();
        (l.item(), g)
    }

    fn assert_close(a: &ArrayD<f64>, b: &ArrayD<f64>) {
        let worst = (a - b).iter().fold(0.0f64, |m, d| m.max(d.abs()));
        assert!(worst < 1e-14, "gradients differ by {worst}");
    }

    #[test]
    fn shards_cover_the_rows_evenly() {
        assert_eq!(shards(100, 2), [0..50, 50..100]);
        assert_eq!(shards(7, 3), [0..3, 3..5, 5..7]);
        assert_eq!(shards(1, 3), [0..1, 1..1, 1..1]);
        assert_eq!(shards(0, 2), [0..0, 0..0]);
    }

    #[test]
    fn the_gradient_is_the_whole_batch_s() {
        // Even and uneven shards, and fewer rows than threads.
        for (threads, n) in [(2, 10), (3, 7), (3, 2), (1, 5), (4, 64)] {
            let mut model = net();
            let (want_loss, want) = reference(&mut model, n, 3);
            let mut parallel = DataParallel::new(threads, net, loss);
            let (x, t) = batch(n, 3);
            let got_loss = parallel.backward(&mut model, x, t).unwrap();
            assert!(
                (got_loss - want_loss).abs() < 1e-14,
                "{threads} threads, {n} rows"
            );
            for ((_, p), w) in model.parameters().iter().zip(&want) {
                assert_close(&p.grad().unwrap(), w);
            }
        }
    }

    #[test]
    fn training_follows_the_single_thread_run() {
        let (mut alone, mut shared) = (net(), net());
        let mut parallel = DataParallel::new(2, net, loss);
        for step in 0..5 {
            let (_, g) = reference(&mut alone, 12, step);
            let (x, t) = batch(12, step);
            parallel.backward(&mut shared, x, t).unwrap();
            for (((_, a), (_, b)), g) in alone.parameters().iter().zip(shared.parameters()).zip(g) {
                let gb = b.take_grad().unwrap();
                assert_close(&gb, &g);
                a.update_value(|mut v| v.scaled_add(-0.5, &g));
                b.update_value(|mut v| v.scaled_add(-0.5, &gb));
            }
        }
        for ((_, a), (_, b)) in alone.parameters().iter().zip(shared.parameters()) {
            assert_close(&a.to_array(), &b.to_array());
        }
    }

    #[test]
    fn gradients_accumulate_and_parameters_are_not_left_shared() {
        let mut model = net();
        let mut parallel = DataParallel::new(2, net, loss);
        let (x, t) = batch(6, 1);
        parallel.backward(&mut model, x.clone(), t.clone()).unwrap();
        let once: Vec<_> = model
            .parameters()
            .iter()
            .map(|(_, p)| p.grad().unwrap())
            .collect();
        parallel.backward(&mut model, x, t).unwrap();
        for ((_, p), g) in model.parameters().iter().zip(&once) {
            assert_close(&p.grad().unwrap(), &(g * 2.0));
            // Updated in place: no thread still holds the value, so nothing is copied.
            let before = p.array().as_ptr();
            p.update_value(|mut v| v += 1.0);
            assert_eq!(p.array().as_ptr(), before);
        }
    }

    #[test]
    #[should_panic(expected = "a helper's panic")]
    fn a_helper_s_panic_reaches_the_caller() {
        let mut parallel = DataParallel::new(2, net, |m, x, t: &[usize], rows: Range<usize>| {
            assert!(rows.start == 0, "a helper's panic");
            loss(m, x, t, rows)
        });
        let (x, t) = batch(4, 1);
        let _ = parallel.backward(&mut net(), x, t);
    }

    #[test]
    #[should_panic(expected = "DataParallel: the replica built has parameters")]
    fn a_replica_of_another_shape_is_refused() {
        let other = || {
            let mut rng = rand::rngs::StdRng::seed_from_u64(7);
            Sequential::new()
                .add(Linear::new(5, 8, &mut rng))
                .add(Relu)
                .add(Linear::new(8, 4, &mut rng))
        };
        let mut parallel = DataParallel::new(2, other, loss);
        let (x, t) = batch(4, 1);
        let _ = parallel.backward(&mut net(), x, t);
    }
}
