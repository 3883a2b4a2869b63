//! Hot loops outside the tape: matrix products split over threads, the vector–matrix product
//! of one-image inference, and a vectorised sigmoid.
//!
//! Every matrix product of nn-core goes through [`gemm`], so [`set_num_threads`] decides how
//! many cores a training step uses. A product is split over threads only when it is big enough
//! to pay for the hand-off (a few microseconds), so tiny networks stay single-threaded.
//!
//! ```
//! use nn_core::kernels;
//! use nn_core::ndarray::array;
//!
//! kernels::set_num_threads(2);
//! let a = array![[1.0f32, 2.0], [3.0, 4.0]];
//! let b = array![[5.0f32], [6.0]];
//! assert_eq!(kernels::dot(&a.view(), &b.view()), array![[17.0], [39.0]]);
//! assert_eq!(kernels::num_threads(), 2);
//! ```

use std::any::TypeId;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicUsize, Ordering};

use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis, CowArray, Ix2};

use crate::float::Float;

mod imp;
pub(crate) mod isa;
mod packed;
pub(crate) mod skinny;
pub(crate) mod team;
#[cfg(test)]
mod tests;

pub use isa::{Isa, active_isa};
pub use packed::{PackedMatrix, gemm_packed, gemm_packed_serial};
use packed::{a_layout, pack_panels, with_a_layout};

/// 0 means "not set": use every core the machine offers.
static THREADS: AtomicUsize = AtomicUsize::new(0);

/// Work with fewer multiply-adds than this runs on one thread: below it, handing half the work
/// to another core costs more than it saves (measured with `cargo bench --bench ops`). Matrix
/// products, batched [`crate::kernels::gemm_packed`] inference and convolutions all use it.
pub const PAR_MIN_MACS: usize = 1 << 19;

/// Products from this many multiply-adds on go through the panel kernel where it is used at
/// all (`panels_win`); smaller ones through matrixmultiply.
const PACK_MIN_MACS: usize = 1 << 14;
/// The largest packing buffer (in elements) a thread keeps between calls.
const PACK_KEEP_MAX: usize = 1 << 22;

/// Sets how many threads matrix products may use (at least 1). The default is the environment
/// variable `NN_NUM_THREADS` if it holds a positive number, else the number of cores
/// ([`std::thread::available_parallelism`]), as in PyTorch.
pub fn set_num_threads(n: usize) {
    THREADS.store(n.max(1), Ordering::Relaxed);
}

std::thread_local! {
    /// A limit for this thread alone (0: none), set by [`with_num_threads`].
    static LOCAL_THREADS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Runs `f` with matrix products, convolutions and batched inference on *this* thread limited
/// to `n` threads (at least 1), whatever [`set_num_threads`] says; other threads are not
/// affected. Data-parallel training uses it so that each of its threads computes alone.
///
/// ```
/// use nn_core::kernels;
/// kernels::set_num_threads(2);
/// assert_eq!(kernels::with_num_threads(1, kernels::num_threads), 1);
/// assert_eq!(kernels::num_threads(), 2);
/// ```
pub fn with_num_threads<R>(n: usize, f: impl FnOnce() -> R) -> R {
    struct Restore(usize);
    impl Drop for Restore {
        fn drop(&mut self) {
            LOCAL_THREADS.with(|l| l.set(self.0));
        }
    }
    let _restore = Restore(LOCAL_THREADS.with(|l| l.replace(n.max(1))));
    f()
}

/// How many threads matrix products may use (on this thread: see [`with_num_threads`]).
pub fn num_threads() -> usize {
    match LOCAL_THREADS.with(std::cell::Cell::get) {
        0 => global_threads(),
        n => n,
    }
}

fn global_threads() -> usize {
    match THREADS.load(Ordering::Relaxed) {
        0 => {
            let n = std::env::var("NN_NUM_THREADS")
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .filter(|&n| n > 0)
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            THREADS.store(n, Ordering::Relaxed);
            n
        }
        n => n,
    }
}

/// `c = alpha · a b + beta · c`, split over up to [`num_threads`] threads.
///
/// # Panics
/// If the shapes do not fit: `a (m, k)`, `b (k, n)`, `c (m, n)`.
pub fn gemm<T: Float>(
    alpha: T,
    a: &ArrayView2<'_, T>,
    b: &ArrayView2<'_, T>,
    beta: T,
    c: &mut ArrayViewMut2<'_, T>,
) {
    gemm_on(active_isa(), alpha, a, b, beta, c);
}

/// [`gemm`] on the instruction-set path `isa` instead of [`active_isa`] (for benchmarks and
/// tests that compare paths); a path the CPU lacks falls back to the widest one it has.
///
/// ```
/// use nn_core::kernels::{Isa, gemm_on};
/// use nn_core::ndarray::{Array2, array};
/// let (a, b) = (array![[1.0f32, 2.0]], array![[3.0f32], [4.0]]);
/// let mut c = Array2::zeros((1, 1));
/// gemm_on(Isa::Portable, 1.0, &a.view(), &b.view(), 0.0, &mut c.view_mut());
/// assert_eq!(c, array![[11.0]]);
/// ```
///
/// # Panics
/// As [`gemm`].
pub fn gemm_on<T: Float>(
    isa: Isa,
    alpha: T,
    a: &ArrayView2<'_, T>,
    b: &ArrayView2<'_, T>,
    beta: T,
    c: &mut ArrayViewMut2<'_, T>,
) {
    check_gemm(a, b, c);
    gemm_with(isa, num_threads(), alpha, a, b, beta, c);
}

/// [`gemm`] on the calling thread alone (for callers that split the work themselves, as the
/// convolutions do over images).
///
/// # Panics
/// As [`gemm`].
pub fn gemm_serial<T: Float>(
    alpha: T,
    a: &ArrayView2<'_, T>,
    b: &ArrayView2<'_, T>,
    beta: T,
    c: &mut ArrayViewMut2<'_, T>,
) {
    check_gemm(a, b, c);
    gemm_with(active_isa(), 1, alpha, a, b, beta, c);
}

fn check_gemm<T: Float>(a: &ArrayView2<'_, T>, b: &ArrayView2<'_, T>, c: &ArrayViewMut2<'_, T>) {
    let ((m, k), (k2, n)) = (a.dim(), b.dim());
    assert!(
        k == k2 && c.dim() == (m, n),
        "gemm: a {:?} @ b {:?} does not fit c {:?}",
        a.shape(),
        b.shape(),
        c.shape()
    );
}

fn gemm_with<T: Float>(
    isa: Isa,
    threads: usize,
    alpha: T,
    a: &ArrayView2<'_, T>,
    b: &ArrayView2<'_, T>,
    beta: T,
    c: &mut ArrayViewMut2<'_, T>,
) {
    if cfg!(feature = "blas") {
        // OpenBLAS threads itself (OPENBLAS_NUM_THREADS); ndarray hands it every product whose
        // layout BLAS accepts.
        general_mat_mul(alpha, a, b, beta, c);
        return;
    }
    let ((m, k), n) = (a.dim(), b.ncols());
    let serial = threads <= 1 || m * n * k < PAR_MIN_MACS;
    if T::skinny_gemm_impl(isa, if serial { 1 } else { threads }, alpha, a, b, beta, c) {
        return;
    }
    // The hand-written panel kernel runs only where it beat matrixmultiply: one thread, f32,
    // AVX2, row-major A (see `panels_win`). Column-major A (Xᵀ G in the backward pass)
    // stays on matrixmultiply there too: as fast in isolation, the AVX2 loop made a whole
    // training epoch 1.5x slower (benches/compare, W3).
    if serial
        && panels_win::<T>(isa)
        && m * n * k >= PACK_MIN_MACS
        && n >= 8
        && c.is_standard_layout()
        && let Some(layout) = a_layout(a).filter(|&(_, _, cols)| !cols)
    {
        gemm_panels_with(isa, layout, (m, k), alpha, b, beta, c);
        return;
    }
    if serial {
        general_mat_mul(alpha, a, b, beta, c);
    } else {
        split(threads, alpha, a.view(), b.view(), beta, c.view_mut());
    }
}

/// Whether the hand-written panel kernel (`imp::gemm_packed`) is used for `T` on the path
/// `isa`; elsewhere matrixmultiply computes the product. Measured (docs/performance.md,
/// "matrixmultiply's AVX-512"): on AVX2 the panel kernel beat matrixmultiply's AVX2 kernel in
/// f32 (W2 1.4x, 1024³ 1.2x) and lost in f64; on AVX-512 matrixmultiply's own AVX-512 kernel
/// beat it at every shape, in f32 and f64, on one thread and two; the portable loop is 4x
/// slower than matrixmultiply.
pub(crate) fn panels_win<T: Float>(isa: Isa) -> bool {
    isa == Isa::Avx2 && size_of::<T>() == 4
}

/// `c = alpha · a b + beta · c` through the hand-written panel kernel on the path `isa`, on
/// the calling thread, whatever [`gemm`] would choose: for benchmarks and tests that weigh it
/// against matrixmultiply. The AVX-512 path runs the AVX2 loop (the kernel has no AVX-512
/// version: matrixmultiply's beat it); a path the CPU lacks falls back to the widest it has.
///
/// ```
/// use nn_core::kernels::{Isa, gemm_panels};
/// use nn_core::ndarray::{Array2, array};
/// let (a, b) = (array![[1.0f32, 2.0]], array![[3.0f32], [4.0]]);
/// let mut c = Array2::zeros((1, 1));
/// gemm_panels(Isa::Portable, 1.0, &a.view(), &b.view(), 0.0, &mut c.view_mut());
/// assert_eq!(c, array![[11.0]]);
/// ```
///
/// # Panics
/// As [`gemm`], and if `c` is not in standard (row-major) layout.
pub fn gemm_panels<T: Float>(
    isa: Isa,
    alpha: T,
    a: &ArrayView2<'_, T>,
    b: &ArrayView2<'_, T>,
    beta: T,
    c: &mut ArrayViewMut2<'_, T>,
) {
    let ((m, k), (k2, n)) = (a.dim(), b.dim());
    assert!(
        k == k2 && c.dim() == (m, n) && c.is_standard_layout(),
        "gemm_panels: a {:?} @ b {:?} does not fit c {:?} (standard layout needed)",
        a.shape(),
        b.shape(),
        c.shape()
    );
    with_a_layout(a, |layout| {
        gemm_panels_with(isa, layout, (m, k), alpha, b, beta, c)
    });
}

/// The panel kernel for A laid out as `a_layout` says; `c` in standard layout.
fn gemm_panels_with<T: Float>(
    isa: Isa,
    layout: (&[T], usize, bool),
    (m, k): (usize, usize),
    alpha: T,
    b: &ArrayView2<'_, T>,
    beta: T,
    c: &mut ArrayViewMut2<'_, T>,
) {
    if beta == T::zero() {
        c.fill(T::zero());
    } else if beta != T::one() {
        c.map_inplace(|v| *v *= beta);
    }
    let out = c
        .as_slice_mut()
        .unwrap_or_else(|| unreachable!("checked to be standard layout"));
    let n = b.ncols();
    T::pack_buffer().with(|cell| {
        // Taken out of the cell, so a nested call would simply use a fresh buffer.
        let mut buf = cell.take();
        pack_panels(isa, b, alpha, &mut buf);
        T::gemm_packed_impl(isa, layout, (m, k), &buf, n, out);
        if buf.capacity() <= PACK_KEEP_MAX {
            cell.replace(buf);
        }
    });
}

/// Halves the output along its longer side until each part has one thread; the cut falls on a
/// multiple of 8 so every part keeps whole micro-kernel tiles. Each part goes to matrixmultiply.
pub(super) fn split<T: Float>(
    parts: usize,
    alpha: T,
    a: ArrayView2<'_, T>,
    b: ArrayView2<'_, T>,
    beta: T,
    c: ArrayViewMut2<'_, T>,
) {
    split_with(parts, alpha, a, b, beta, c, &|alpha, a, b, beta, c| {
        general_mat_mul(alpha, a, b, beta, c)
    });
}

/// [`split`] with `part` computing each part.
pub(super) fn split_with<T: Float, F>(
    parts: usize,
    alpha: T,
    a: ArrayView2<'_, T>,
    b: ArrayView2<'_, T>,
    beta: T,
    mut c: ArrayViewMut2<'_, T>,
    part: &F,
) where
    F: Fn(T, &ArrayView2<'_, T>, &ArrayView2<'_, T>, T, &mut ArrayViewMut2<'_, T>) + Sync,
{
    let (m, n) = c.dim();
    let left = parts / 2;
    let cut = |len: usize| (len * left / parts) & !7;
    if parts < 2 || m.max(n) < 16 {
        part(alpha, &a, &b, beta, &mut c);
    } else if m >= n {
        let mid = cut(m).max(8);
        let (a0, a1) = a.split_at(Axis(0), mid);
        let (c0, c1) = c.split_at(Axis(0), mid);
        team::join(
            parts,
            || split_with(left, alpha, a0, b, beta, c0, part),
            || split_with(parts - left, alpha, a1, b, beta, c1, part),
        );
    } else {
        let mid = cut(n).max(8);
        let (b0, b1) = b.split_at(Axis(1), mid);
        let (c0, c1) = c.split_at(Axis(1), mid);
        team::join(
            parts,
            || split_with(left, alpha, a, b0, beta, c0, part),
            || split_with(parts - left, alpha, a, b1, beta, c1, part),
        );
    }
}

/// Runs `a` here and `b` on another thread at once, and returns both results: the fork–join
/// that nn-core's own parallel loops use. The other thread is a helper that spins a while
/// between jobs before it sleeps, so a hand-off costs a fraction of a microsecond when work
/// comes in bursts (one image through a network), not the tens of microseconds of waking a
/// sleeping thread; with [`num_threads`] at 1, or no helper idle, `b` runs here after `a`.
/// A panic in either is raised here, once both are done.
///
/// ```
/// let (a, b) = nn_core::kernels::join(|| 1 + 1, || "two");
/// assert_eq!((a, b), (2, "two"));
/// ```
pub fn join<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    team::join(num_threads(), a, b)
}

/// Sends [`join`]'s helper threads to sleep now rather than after their spin: for code about to
/// run threads of its own for a while (data-parallel training's replicas), which helpers
/// spinning on the same cores would slow. The next [`join`] wakes one again.
pub fn rest_helpers() {
    team::rest();
}

/// Lends the calling thread to [`join`]'s callers on other threads, as one more idle helper,
/// until `poll` returns a value (returned) or `patience` passes without one (`None`). For a
/// thread that waits between tasks of its own, as a data-parallel replica waits between
/// training steps: what the other threads split meanwhile (an optimizer step, a gradient sum)
/// runs at once on this core rather than on a helper woken to share the core with it.
///
/// ```
/// use std::sync::mpsc::channel;
/// let (tx, rx) = channel();
/// tx.send(7).unwrap();
/// let got = nn_core::kernels::lend_thread(|| rx.try_recv().ok(), std::time::Duration::from_millis(1));
/// assert_eq!(got, Some(7));
/// assert_eq!(nn_core::kernels::lend_thread(|| rx.try_recv().ok(), std::time::Duration::ZERO), None);
/// ```
pub fn lend_thread<M>(poll: impl FnMut() -> Option<M>, patience: std::time::Duration) -> Option<M> {
    team::lend(poll, patience)
}

/// Runs `f` on every item, the items shared out over up to as many threads as there are items
/// (through [`join`]'s helpers). Callers make one item per thread's share of the work.
///
/// ```
/// let mut v = vec![0u32; 8];
/// nn_core::kernels::for_each(v.chunks_mut(4).collect(), |c: &mut [u32]| c.fill(7));
/// assert_eq!(v, [7; 8]);
/// ```
pub fn for_each<I: Send>(items: Vec<I>, f: impl Fn(I) + Sync) {
    if num_threads() < 2 {
        items.into_iter().for_each(f);
    } else {
        team::for_each(items, &|_, item| f(item));
    }
}

/// The product `a b` as a new array, through [`gemm`].
///
/// # Panics
/// If the inner dimensions differ.
pub fn dot<T: Float>(a: &ArrayView2<'_, T>, b: &ArrayView2<'_, T>) -> Array2<T> {
    assert!(
        a.ncols() == b.nrows(),
        "dot: shapes {:?} and {:?} are not aligned",
        a.shape(),
        b.shape()
    );
    let mut c = Array2::zeros((a.nrows(), b.ncols()));
    // Adding to the zeros the allocator wrote spares the kernel clearing them again.
    gemm(T::one(), a, b, T::one(), &mut c.view_mut());
    c
}

/// `a`ᵀ in row-major (standard) layout: borrowed where it already is (`a` column-major),
/// otherwise copied — for `f32` on the AVX-512 path by 16 × 16 blocks transposed in registers
/// (a 100 × 10,000 matrix in about a third of ndarray's time), elsewhere by ndarray.
///
/// ```
/// use nn_core::ndarray::array;
/// let a = array![[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0]];
/// let t = nn_core::kernels::transposed(a.view());
/// assert_eq!(t, array![[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]]);
/// assert!(t.is_standard_layout());
/// ```
pub fn transposed<T: Float>(a: ArrayView2<'_, T>) -> CowArray<'_, T, Ix2> {
    transposed_on(active_isa(), a)
}

pub(crate) fn transposed_on<T: Float>(isa: Isa, a: ArrayView2<'_, T>) -> CowArray<'_, T, Ix2> {
    let (r, c) = a.dim();
    if a.t().is_standard_layout() {
        return CowArray::from(a.reversed_axes());
    }
    if let Some(src) = a
        .as_slice()
        .filter(|_| TypeId::of::<T>() == TypeId::of::<f32>())
    {
        let mut out = Vec::<T>::with_capacity(r * c);
        let dst = &mut out.spare_capacity_mut()[..r * c];
        // SAFETY: `T` is `f32` (checked above), which has the size and alignment of `u32`,
        // and every bit pattern is both.
        #[allow(unsafe_code)]
        let done = unsafe {
            let src = std::slice::from_raw_parts(src.as_ptr().cast::<u32>(), src.len());
            let dst = std::slice::from_raw_parts_mut(
                dst.as_mut_ptr().cast::<MaybeUninit<u32>>(),
                dst.len(),
            );
            isa::transpose_u32(isa, src, c, (r, c), dst)
        };
        if done {
            // SAFETY: all `r · c` values were written.
            #[allow(unsafe_code)]
            unsafe {
                out.set_len(r * c)
            };
            return CowArray::from(Array2::from_shape_vec((c, r), out).expect("c × r values"));
        }
    }
    CowArray::from(a.t().as_standard_layout().into_owned())
}

/// `out += x W` for one row vector `x (k)` and a row-major `W (k, n)` given as a slice: the
/// inner loop of one-image inference. Accumulators stay in registers across the whole of `x`,
/// so each weight is loaded once; AVX2 and FMA are used when the CPU has them.
///
/// ```
/// let x = [1.0f32, 2.0];
/// let w = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]; // 2 × 3
/// let mut out = [0.5f32; 3];
/// nn_core::kernels::vecmat_add(&x, &w, &mut out);
/// assert_eq!(out, [9.5, 12.5, 15.5]);
/// ```
///
/// # Panics
/// If `w.len() != x.len() * out.len()`.
pub fn vecmat_add<T: Float>(x: &[T], w: &[T], out: &mut [T]) {
    assert!(
        w.len() == x.len() * out.len(),
        "vecmat_add: x has {} entries and out {}, so W needs {} entries, got {}",
        x.len(),
        out.len(),
        x.len() * out.len(),
        w.len()
    );
    T::vecmat_add_impl(active_isa(), x, w, out);
}

/// `v ← 1 / (1 + e^(−v))` in place, with a vectorised exponential (within 2 ulp of the exact
/// sigmoid for `f32`, except that results below `f32::MIN_POSITIVE`, for `v < −87.3`, flush to
/// zero; `f64` uses the standard library's `exp`).
///
/// ```
/// let mut v = [0.0f32, 100.0, -100.0];
/// nn_core::kernels::sigmoid_inplace(&mut v);
/// assert_eq!(v, [0.5, 1.0, 0.0]);
/// ```
pub fn sigmoid_inplace<T: Float>(v: &mut [T]) {
    T::sigmoid_impl(active_isa(), v);
}

/// `v ← tanh(v)` in place, with a vectorised formula for `f32` (within 3 ulp of the exact
/// `tanh`, odd, ±1 at ±∞, NaN kept; see `imp::tanh_f32_one`); `f64` uses the standard
/// library's.
///
/// ```
/// let mut v = [0.0f32, 0.5, -3.0, f32::INFINITY];
/// nn_core::kernels::tanh_inplace(&mut v);
/// assert_eq!((v[0], v[3]), (0.0, 1.0));
/// assert!((v[1] - 0.5f32.tanh()).abs() < 1e-7 && (v[2] + 3f32.tanh()).abs() < 1e-7);
/// ```
pub fn tanh_inplace<T: Float>(v: &mut [T]) {
    T::tanh_impl(active_isa(), v);
}

/// The largest value of `x`, NaN ignored (`-∞` if there is none), vectorised.
///
/// ```
/// assert_eq!(nn_core::kernels::max(&[1.0f32, f32::NAN, 3.0, 2.0]), 3.0);
/// ```
pub fn max<T: Float>(x: &[T]) -> T {
    isa::max(active_isa(), x)
}

/// `Σ e^(x_i − shift)`, with each term written to `out` when given — the heart of a stable
/// softmax and log-sum-exp (`shift` the row's maximum). `f32` uses the vectorised exponential
/// of [`sigmoid_inplace`] (within 2 ulp; results below `f32::MIN_POSITIVE` flush to zero),
/// written in intrinsics on the AVX-512 path, `f64` the standard library's; the sum is taken
/// in 16 interleaved lanes.
///
/// ```
/// let x = [0.0f32, 1.0, 2.0];
/// let mut e = [0.0f32; 3];
/// let s = nn_core::kernels::exp_sum(&x, 2.0, Some(&mut e));
/// assert_eq!(e[2], 1.0);
/// assert!((s - (1.0 + (-1.0f32).exp() + (-2.0f32).exp())).abs() < 1e-6);
/// ```
///
/// # Panics
/// If `out` is shorter than `x`.
pub fn exp_sum<T: Float>(x: &[T], shift: T, out: Option<&mut [T]>) -> T {
    if let Some(o) = &out {
        assert!(
            o.len() >= x.len(),
            "exp_sum: {} values into {}",
            x.len(),
            o.len()
        );
    }
    T::exp_sum_impl(active_isa(), x, shift, out)
}

/// [`exp_sum`] with each term written over `x`: `x_i ← e^(x_i − shift)`, returning their sum
/// (the same values and sum as [`exp_sum`] with an output).
///
/// ```
/// use nn_core::kernels::{exp_sum, exp_sum_inplace};
/// let x = [0.0f32, 1.0, 2.0];
/// let mut e = [0.0f32; 3];
/// let s = exp_sum(&x, 2.0, Some(&mut e));
/// let mut v = x;
/// assert_eq!(exp_sum_inplace(&mut v, 2.0), s);
/// assert_eq!((v, v[2]), (e, 1.0));
/// ```
pub fn exp_sum_inplace<T: Float>(x: &mut [T], shift: T) -> T {
    T::exp_sum_inplace_impl(active_isa(), x, shift)
}

/// `v += b` element by element, returning the largest sum (NaN ignored, as in [`max`]) — a row
/// of scores gets its bias and the maximum its softmax needs in one pass.
///
/// ```
/// let mut v = [1.0f32, 5.0, -2.0];
/// assert_eq!(nn_core::kernels::add_max(&mut v, &[0.5, -1.0, 10.0]), 8.0);
/// assert_eq!(v, [1.5, 4.0, 8.0]);
/// ```
///
/// # Panics
/// If `b`'s length differs from `v`'s.
pub fn add_max<T: Float>(v: &mut [T], b: &[T]) -> T {
    assert_eq!(
        v.len(),
        b.len(),
        "add_max: {} values and {} to add",
        v.len(),
        b.len()
    );
    isa::add_max(active_isa(), v, b)
}

/// One row of an LSTM's backward step (the book's `LSTM.backward`), at the widest vector width
/// the CPU has: the row's activated gates `[i, f, g, o]` (`4h` values) become the gradients of
/// their pre-activations, and `dc` — the gradient reaching the new cell `c'` — becomes the
/// previous cell's. `tanh_c` is `tanh c'`, `c_prev` the previous cell, and the gradient reaching
/// the new `h'` is `dh + dh_next` (the step's output and the next step's share), `h` values each:
///
/// `dc' = dc + (dh + dh_next) · o · (1 − tanh² c')`; `di = dc' g i (1 − i)`, `df = dc' c f (1 − f)`,
/// `dg = dc' i (1 − g²)`, `do = (dh + dh_next) tanh c' · o (1 − o)`; `dc ← dc' f`.
///
/// ```
/// use nn_core::kernels::lstm_row_grad;
/// // One unit: i = f = g = o = 0.5, tanh c' = 0.5, c = 1, dh = 1, no gradient from later steps.
/// let mut gates = [0.5f32; 4];
/// let mut dc = [0.0f32];
/// lstm_row_grad(&mut gates, (&[0.5], &[1.0]), (&[1.0], &[0.0]), &mut dc);
/// let dc1 = 0.5 * 0.75; // dh · o · (1 − tanh²)
/// assert_eq!(gates, [dc1 * 0.125, dc1 * 0.25, dc1 * 0.375, 0.5 * 0.5 * 0.5]);
/// assert_eq!(dc, [dc1 * 0.5]);
/// ```
///
/// # Panics
/// If `gates` is not `4h` values or a state or gradient slice not `h`.
pub fn lstm_row_grad<T: Float>(
    gates: &mut [T],
    (tanh_c, c_prev): (&[T], &[T]),
    (dh, dh_next): (&[T], &[T]),
    dc: &mut [T],
) {
    let h = dc.len();
    assert!(
        gates.len() == 4 * h && [tanh_c, c_prev, dh, dh_next].iter().all(|s| s.len() == h),
        "lstm_row_grad: {} gate values and states of {}, {}, gradients of {}, {} for {h} units",
        gates.len(),
        tanh_c.len(),
        c_prev.len(),
        dh.len(),
        dh_next.len()
    );
    isa::lstm_row_grad(active_isa(), gates, (tanh_c, c_prev), (dh, dh_next), dc)
}

/// The per-step constants of [`adam_update`]: `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`,
/// `w ← w − step · m / (√v · inv_sqrt_c2 + ε)`, where `step = lr / (1 − β₁ᵗ)` and
/// `inv_sqrt_c2 = 1 / √(1 − β₂ᵗ)` fold in the bias corrections (as PyTorch computes it).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamStep<T> {
    /// β₁.
    pub beta1: T,
    /// β₂.
    pub beta2: T,
    /// `lr / (1 − β₁ᵗ)`.
    pub step: T,
    /// `1 / √(1 − β₂ᵗ)`.
    pub inv_sqrt_c2: T,
    /// ε.
    pub eps: T,
}

/// One Adam update of a parameter `w` with its moments `m`, `v` and gradient `g`, element by
/// element at the widest vector width the CPU has (the optimizer's hot loop).
///
/// ```
/// use nn_core::kernels::{AdamStep, adam_update};
/// let (mut w, mut m, mut v) = ([1.0f32], [0.0f32], [0.0f32]);
/// let c = AdamStep { beta1: 0.9, beta2: 0.999, step: 0.1 / 0.1, inv_sqrt_c2: 1.0 / 0.001f32.sqrt(), eps: 1e-8 };
/// adam_update(&mut w, &mut m, &mut v, &[0.5], c);
/// // The first step moves by lr (0.1) against the gradient's sign.
/// assert!((w[0] - 0.9).abs() < 1e-6);
/// ```
///
/// # Panics
/// If the four slices differ in length.
pub fn adam_update<T: Float>(w: &mut [T], m: &mut [T], v: &mut [T], g: &[T], c: AdamStep<T>) {
    assert!(
        m.len() == w.len() && v.len() == w.len() && g.len() == w.len(),
        "adam_update: w has {} values, m {}, v {}, g {}",
        w.len(),
        m.len(),
        v.len(),
        g.len()
    );
    let c = [c.beta1, c.beta2, c.step, c.inv_sqrt_c2, c.eps];
    let isa = active_isa();
    // A large parameter (a word-vector table, say) is streamed from memory: split over the
    // threads, each updating its own span.
    let parts = num_threads().min(w.len() / ADAM_PAR_MIN_LEN).max(1);
    if parts == 1 {
        if let Some(mid) = hot_halves(w.len()) {
            let (w0, w1) = w.split_at_mut(mid);
            let (m0, m1) = m.split_at_mut(mid);
            let (v0, v1) = v.split_at_mut(mid);
            let (g0, g1) = g.split_at(mid);
            team::join_hot(
                || isa::adam(isa, w0, m0, v0, g0, c),
                || isa::adam(isa, w1, m1, v1, g1, c),
            );
        } else {
            isa::adam(isa, w, m, v, g, c);
        }
        return;
    }
    let span = w.len().div_ceil(parts).next_multiple_of(64);
    let chunks = w
        .chunks_mut(span)
        .zip(m.chunks_mut(span))
        .zip(v.chunks_mut(span))
        .zip(g.chunks(span));
    team::for_each(chunks.collect(), &|_, (((w, m), v), g)| {
        isa::adam(isa, w, m, v, g, c)
    });
}

/// Streaming updates of at least twice this many values are halved with a helper thread when
/// one is spinning idle at that moment (a hand-off then costs about a microsecond; waking a
/// parked one costs tens, what [`ADAM_PAR_MIN_LEN`] pays for).
const HOT_PAR_MIN_LEN: usize = 1 << 13;

/// Where to cut a streaming update of `len` values in two for [`team::join_hot`], if it is
/// long enough to be worth halving and more than one thread is allowed.
fn hot_halves(len: usize) -> Option<usize> {
    (len >= 2 * HOT_PAR_MIN_LEN && num_threads() > 1).then(|| (len / 2).next_multiple_of(64))
}

/// `y += a·x`, halved with an idle spinning helper thread for long slices (an optimizer's
/// step, a gradient sum).
///
/// ```
/// let mut y = vec![1.0f32; 3];
/// nn_core::kernels::add_scaled(&mut y, 2.0, &[1.0, 2.0, 3.0]);
/// assert_eq!(y, [3.0, 5.0, 7.0]);
/// ```
///
/// # Panics
/// If `y` and `x` differ in length.
pub fn add_scaled<T: Float>(y: &mut [T], a: T, x: &[T]) {
    assert!(
        y.len() == x.len(),
        "add_scaled: y has {} values, x {}",
        y.len(),
        x.len()
    );
    fn run<T: Float>(y: &mut [T], a: T, x: &[T]) {
        y.iter_mut().zip(x).for_each(|(y, &x)| *y += a * x);
    }
    if let Some(mid) = hot_halves(y.len()) {
        let (y0, y1) = y.split_at_mut(mid);
        let (x0, x1) = x.split_at(mid);
        team::join_hot(|| run(y0, a, x0), || run(y1, a, x1));
    } else {
        run(y, a, x);
    }
}

/// Parameters of at least this many values per thread have their Adam step split over
/// threads (below it, handing work to another core costs more than it saves).
const ADAM_PAR_MIN_LEN: usize = 1 << 16;
