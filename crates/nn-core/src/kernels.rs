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

use std::sync::atomic::{AtomicUsize, Ordering};

use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis};

use crate::float::Float;

/// 0 means "not set": use every core the machine offers.
static THREADS: AtomicUsize = AtomicUsize::new(0);

/// Work with fewer multiply-adds than this runs on one thread: below it, handing half the work
/// to another core costs more than it saves (measured with `cargo bench --bench ops`). Matrix
/// products, batched [`crate::kernels::gemm_packed`] inference and convolutions all use it.
pub const PAR_MIN_MACS: usize = 1 << 19;

/// Products from this many multiply-adds on go through the packed-panel kernel (when the output
/// is row-major and A's rows or columns are contiguous); smaller ones through matrixmultiply.
const PACK_MIN_MACS: usize = 1 << 14;
/// The largest packing buffer (in elements) a thread keeps between calls.
const PACK_KEEP_MAX: usize = 1 << 22;

/// Sets how many threads matrix products may use (at least 1). The default is the environment
/// variable `NN_NUM_THREADS` if it holds a positive number, else the number of cores
/// ([`std::thread::available_parallelism`]), as in PyTorch.
pub fn set_num_threads(n: usize) {
    THREADS.store(n.max(1), Ordering::Relaxed);
}

/// How many threads matrix products may use.
pub fn num_threads() -> usize {
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
    let ((m, k), (k2, n)) = (a.dim(), b.dim());
    assert!(
        k == k2 && c.dim() == (m, n),
        "gemm: a {:?} @ b {:?} does not fit c {:?}",
        a.shape(),
        b.shape(),
        c.shape()
    );
    if cfg!(feature = "blas") {
        // OpenBLAS threads itself (OPENBLAS_NUM_THREADS); ndarray hands it every product whose
        // layout BLAS accepts.
        general_mat_mul(alpha, a, b, beta, c);
        return;
    }
    let threads = num_threads();
    let serial = threads <= 1 || m * n * k < PAR_MIN_MACS;
    // Packing B on every call pays off on one thread; split over threads, the serial packing
    // and the extra wake-ups cost more than matrixmultiply's own split (see benches/ops.rs).
    if serial && m * n * k >= PACK_MIN_MACS && n >= 8 && c.is_standard_layout() {
        // Column-major A (Xᵀ G in the backward pass) stays on matrixmultiply: as fast in
        // isolation, it made a whole training epoch 1.5x slower here (benches/compare, W3).
        if let Some(layout) = a_layout(a).filter(|&(_, _, cols)| !cols) {
            if beta == T::zero() {
                c.fill(T::zero());
            } else if beta != T::one() {
                c.map_inplace(|v| *v *= beta);
            }
            let out = c
                .as_slice_mut()
                .unwrap_or_else(|| unreachable!("checked to be standard layout"));
            T::pack_buffer().with(|cell| {
                // Taken out of the cell, so a nested call would simply use a fresh buffer.
                let mut buf = cell.take();
                pack_panels(b, alpha, &mut buf);
                dispatch::gemm_packed(layout, (m, k), &buf, n, out);
                if buf.capacity() <= PACK_KEEP_MAX {
                    cell.replace(buf);
                }
            });
            return;
        }
    }
    if serial {
        general_mat_mul(alpha, a, b, beta, c);
    } else {
        split(threads, alpha, a.view(), b.view(), beta, c.view_mut());
    }
}

/// Halves the output along its longer side until each part has one thread; the cut falls on a
/// multiple of 8 so every part keeps whole micro-kernel tiles.
fn split<T: Float>(
    parts: usize,
    alpha: T,
    a: ArrayView2<'_, T>,
    b: ArrayView2<'_, T>,
    beta: T,
    mut c: ArrayViewMut2<'_, T>,
) {
    let (m, n) = c.dim();
    let left = parts / 2;
    let cut = |len: usize| (len * left / parts) & !7;
    if parts < 2 || m.max(n) < 16 {
        general_mat_mul(alpha, &a, &b, beta, &mut c);
    } else if m >= n {
        let mid = cut(m).max(8);
        let (a0, a1) = a.split_at(Axis(0), mid);
        let (c0, c1) = c.split_at(Axis(0), mid);
        rayon::join(
            || split(left, alpha, a0, b, beta, c0),
            || split(parts - left, alpha, a1, b, beta, c1),
        );
    } else {
        let mid = cut(n).max(8);
        let (b0, b1) = b.split_at(Axis(1), mid);
        let (c0, c1) = c.split_at(Axis(1), mid);
        rayon::join(
            || split(left, alpha, a, b0, beta, c0),
            || split(parts - left, alpha, a, b1, beta, c1),
        );
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
    gemm(T::one(), a, b, T::zero(), &mut c.view_mut());
    c
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
    T::vecmat_add_impl(x, w, out);
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
    T::sigmoid_impl(v);
}

/// A weight matrix `W (k, n)` laid out for [`gemm_packed`]: columns in panels of 16 (the last
/// one 8 wide if at most 8 columns remain), zero-padded, each panel contiguous row by row.
/// Packing once and multiplying many batches saves the copy a general product makes on every
/// call.
///
/// ```
/// use nn_core::kernels::{PackedMatrix, gemm_packed};
/// use nn_core::ndarray::{Array2, array};
/// let w = array![[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0]]; // 2 × 3
/// let x = array![[1.0f32, 1.0], [0.0, 2.0]];
/// let packed = PackedMatrix::pack(&w.view());
/// let mut out = Array2::zeros((2, 3));
/// gemm_packed(&x.view(), &packed, &mut out.view_mut());
/// assert_eq!(out, x.dot(&w));
/// ```
#[derive(Debug, Clone)]
pub struct PackedMatrix<T: Float> {
    data: Vec<T>,
    k: usize,
    n: usize,
}

impl<T: Float> PackedMatrix<T> {
    /// Packs `w (k, n)`.
    pub fn pack(w: &ArrayView2<'_, T>) -> Self {
        Self::pack_scaled(w, T::one())
    }

    /// Packs `alpha · w`.
    pub fn pack_scaled(w: &ArrayView2<'_, T>, alpha: T) -> Self {
        let mut data = Vec::new();
        pack_panels(w, alpha, &mut data);
        let (k, n) = w.dim();
        PackedMatrix { data, k, n }
    }

    /// Packs `w (k, n)` in place of the matrix held, reusing its memory.
    pub fn repack(&mut self, w: &ArrayView2<'_, T>) {
        pack_panels(w, T::one(), &mut self.data);
        (self.k, self.n) = w.dim();
    }

    /// `(k, n)`.
    pub fn dim(&self) -> (usize, usize) {
        (self.k, self.n)
    }
}

/// Width of the panel that starts with `remaining` columns left: 16, or 8 for a last panel of
/// at most 8 columns. Panels start at multiples of 16. The packer and the kernel both use it.
fn panel_width(remaining: usize) -> usize {
    if remaining > 8 { 16 } else { 8 }
}

/// Fills `data` with `alpha · w` in panels (the layout of [`PackedMatrix`]), reusing its memory.
fn pack_panels<T: Float>(w: &ArrayView2<'_, T>, alpha: T, data: &mut Vec<T>) {
    let (k, n) = w.dim();
    let last = n / 16 * 16;
    let padded = if last == n {
        n
    } else {
        last + panel_width(n - last)
    };
    // Every element is written below, so a reused buffer needs no clearing.
    data.resize(k * padded, T::zero());
    let width = |j0: usize| panel_width(n - j0);
    if let Some(ws) = w.as_slice() {
        for (i, row) in ws.chunks_exact(n.max(1)).enumerate().take(k) {
            for j0 in (0..n).step_by(16) {
                let (nb, valid) = (width(j0), (n - j0).min(16));
                let dst = &mut data[j0 * k + i * nb..j0 * k + (i + 1) * nb];
                for (d, &v) in dst.iter_mut().zip(&row[j0..j0 + valid]) {
                    *d = alpha * v;
                }
                dst[valid..].fill(T::zero());
            }
        }
    } else {
        // Column by column, which walks a transposed (column-major) `w` in memory order.
        for (j, col) in w.columns().into_iter().enumerate() {
            let j0 = j / 16 * 16;
            let (nb, base) = (width(j0), j0 * k + (j - j0));
            for (i, &v) in col.iter().enumerate() {
                data[base + i * nb] = alpha * v;
            }
        }
        if last < n {
            let nb = width(last);
            for i in 0..k {
                data[last * k + i * nb + (n - last)..last * k + (i + 1) * nb].fill(T::zero());
            }
        }
    }
}

/// A's memory and how to walk it: `(slice, leading dimension, column-major)`, if its rows or
/// its columns are contiguous.
fn a_layout<'a, T: Float>(a: &'a ArrayView2<'_, T>) -> Option<(&'a [T], usize, bool)> {
    let (m, k) = a.dim();
    if a.is_standard_layout() {
        a.as_slice_memory_order().map(|s| (s, k, false))
    } else if a.t().is_standard_layout() {
        a.as_slice_memory_order().map(|s| (s, m, true))
    } else {
        None
    }
}

/// Splits the rows of the product over `parts` threads, on multiples of the 6-row tile.
fn run_packed<T: Float>(
    (a, ld, cols): (&[T], usize, bool),
    m: usize,
    k: usize,
    w: &PackedMatrix<T>,
    out: &mut [T],
    parts: usize,
) {
    let n = w.n;
    if parts <= 1 || m < 12 || m * n * k < PAR_MIN_MACS {
        dispatch::gemm_packed((a, ld, cols), (m, k), &w.data, n, out);
        return;
    }
    let left = parts / 2;
    let mid = ((m * left / parts).div_ceil(6) * 6).min(m);
    let a1 = if cols { &a[mid..] } else { &a[mid * ld..] };
    let (o0, o1) = out.split_at_mut(mid * n);
    rayon::join(
        || run_packed((a, ld, cols), mid, k, w, o0, left),
        || run_packed((a1, ld, cols), m - mid, k, w, o1, parts - left),
    );
}

/// `out += x W` for `x (m, k)` and a packed `W (k, n)`, split over up to [`num_threads`]
/// threads by rows of `x` when the product is large enough. `out` must be in standard
/// (row-major) layout.
///
/// # Panics
/// If the shapes do not fit or `out` is not in standard layout.
pub fn gemm_packed<T: Float>(
    x: &ArrayView2<'_, T>,
    w: &PackedMatrix<T>,
    out: &mut ArrayViewMut2<'_, T>,
) {
    packed_product(x, w, out, num_threads());
}

/// [`gemm_packed`] on the calling thread alone (for callers that split the work themselves).
///
/// # Panics
/// As [`gemm_packed`].
pub fn gemm_packed_serial<T: Float>(
    x: &ArrayView2<'_, T>,
    w: &PackedMatrix<T>,
    out: &mut ArrayViewMut2<'_, T>,
) {
    packed_product(x, w, out, 1);
}

fn packed_product<T: Float>(
    x: &ArrayView2<'_, T>,
    w: &PackedMatrix<T>,
    out: &mut ArrayViewMut2<'_, T>,
    parts: usize,
) {
    let (m, k) = x.dim();
    assert!(
        k == w.k && out.dim() == (m, w.n) && out.is_standard_layout(),
        "gemm_packed: x {:?} @ W ({}, {}) does not fit out {:?} (standard layout needed)",
        x.shape(),
        w.k,
        w.n,
        out.shape()
    );
    let os = out
        .as_slice_mut()
        .unwrap_or_else(|| unreachable!("checked to be standard layout"));
    match a_layout(x) {
        Some(layout) => run_packed(layout, m, k, w, os, parts),
        None => {
            let owned = x.as_standard_layout().into_owned();
            let xs = owned
                .as_slice()
                .unwrap_or_else(|| unreachable!("standard layout was just made"));
            run_packed((xs, k, false), m, k, w, os, parts);
        }
    }
}

/// The per-type implementations behind [`vecmat_add`] and [`sigmoid_inplace`].
pub(crate) mod imp {
    use num_traits::Float as NumFloat;

    /// Column blocks of `NB` outputs: `acc[j] += x[i] · W[i, j0 + j]` over all `i`.
    #[inline(always)]
    fn block<T: NumFloat, const NB: usize, const FMA: bool>(
        x: &[T],
        w: &[T],
        n: usize,
        j0: usize,
        out: &mut [T],
    ) {
        let mut acc = [T::zero(); NB];
        acc.copy_from_slice(&out[j0..j0 + NB]);
        for (i, &xi) in x.iter().enumerate() {
            let row = &w[i * n + j0..i * n + j0 + NB];
            for j in 0..NB {
                acc[j] = if FMA {
                    xi.mul_add(row[j], acc[j])
                } else {
                    acc[j] + xi * row[j]
                };
            }
        }
        out[j0..j0 + NB].copy_from_slice(&acc);
    }

    /// `MAXB` is the widest block whose accumulators fit the register file.
    #[inline(always)]
    pub(crate) fn vecmat<T: NumFloat, const MAXB: usize, const FMA: bool>(
        x: &[T],
        w: &[T],
        out: &mut [T],
    ) {
        let n = out.len();
        let mut j = 0;
        while n - j >= MAXB {
            block::<T, MAXB, FMA>(x, w, n, j, out);
            j += MAXB;
        }
        // The rest in one pass, so each row of W is read front to back once.
        let rest = (n - j) & !7;
        match rest {
            0 => {}
            8 => block::<T, 8, FMA>(x, w, n, j, out),
            16 => block::<T, 16, FMA>(x, w, n, j, out),
            24 => block::<T, 24, FMA>(x, w, n, j, out),
            32 => block::<T, 32, FMA>(x, w, n, j, out),
            40 => block::<T, 40, FMA>(x, w, n, j, out),
            48 => block::<T, 48, FMA>(x, w, n, j, out),
            _ => block::<T, 56, FMA>(x, w, n, j, out),
        }
        j += rest;
        for jj in j..n {
            let mut acc = out[jj];
            for (i, &xi) in x.iter().enumerate() {
                acc = acc + xi * w[i * n + jj];
            }
            out[jj] = acc;
        }
    }

    /// Depth of a k-block: a 6-row slice of A and a panel block stay in L1/L2 while reused.
    const KC: usize = 256;

    /// `out[r, j0 .. j0 + valid] += Σ_kk A[r, kk] · panel[kk, ..]` over `kk` in one k-block, for
    /// `MR` rows at once: `MR × NB` accumulators in registers, one panel row and `MR`
    /// broadcasts per step. A's element `(r, kk)` is `a[kk · ld + r]` if `COLS`, else
    /// `a[r · ld + kk]`.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn tile<T: NumFloat, const MR: usize, const NB: usize, const FMA: bool, const COLS: bool>(
        a: &[T],
        ld: usize,
        r0: usize,
        (kb, ke): (usize, usize),
        panel: &[T],
        out: &mut [T],
        n: usize,
        (j0, valid): (usize, usize),
    ) {
        // Accumulators start at zero and are only indexed by constants, so they stay in
        // registers; the partial last panel is handled when adding them to `out`.
        let mut acc = [[T::zero(); NB]; MR];
        if COLS {
            for kk in kb..ke {
                let b = &panel[(kk - kb) * NB..(kk - kb) * NB + NB];
                let col = &a[kk * ld + r0..kk * ld + r0 + MR];
                for r in 0..MR {
                    for j in 0..NB {
                        acc[r][j] = if FMA {
                            col[r].mul_add(b[j], acc[r][j])
                        } else {
                            acc[r][j] + col[r] * b[j]
                        };
                    }
                }
            }
        } else {
            let rows: [&[T]; MR] =
                std::array::from_fn(|r| &a[(r0 + r) * ld + kb..(r0 + r) * ld + ke]);
            for kk in 0..ke - kb {
                let b = &panel[kk * NB..kk * NB + NB];
                for r in 0..MR {
                    let av = rows[r][kk];
                    for j in 0..NB {
                        acc[r][j] = if FMA {
                            av.mul_add(b[j], acc[r][j])
                        } else {
                            acc[r][j] + av * b[j]
                        };
                    }
                }
            }
        }
        for (r, row) in acc.iter().enumerate() {
            let o = (r0 + r) * n + j0;
            if valid == NB {
                let dst = &mut out[o..o + NB];
                for j in 0..NB {
                    dst[j] = dst[j] + row[j];
                }
            } else {
                // A copy, so that only it (not `acc`) is indexed by a run-time bound.
                let part: [T; NB] = *row;
                for (d, &v) in out[o..o + valid].iter_mut().zip(&part) {
                    *d = *d + v;
                }
            }
        }
    }

    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn tiles<T: NumFloat, const MR: usize, const FMA: bool, const COLS: bool>(
        a: &[T],
        ld: usize,
        r0: usize,
        (kb, ke): (usize, usize),
        k: usize,
        w: &[T],
        out: &mut [T],
        n: usize,
    ) {
        let mut j = 0;
        while j < n {
            let nb = super::panel_width(n - j);
            let valid = nb.min(n - j);
            let panel = &w[j * k + kb * nb..j * k + ke * nb];
            if nb == 16 {
                tile::<T, MR, 16, FMA, COLS>(a, ld, r0, (kb, ke), panel, out, n, (j, valid));
            } else {
                tile::<T, MR, 8, FMA, COLS>(a, ld, r0, (kb, ke), panel, out, n, (j, valid));
            }
            j += nb;
        }
    }

    /// `out (m, n) += A (m, k) · W`, `W` packed in panels (see `PackedMatrix`; `n` may stop
    /// short of the last panel's width), `out` row-major with `n` columns.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn gemm_packed<T: NumFloat, const FMA: bool, const COLS: bool>(
        a: &[T],
        ld: usize,
        m: usize,
        k: usize,
        w: &[T],
        n: usize,
        out: &mut [T],
    ) {
        let mut kb = 0;
        while kb < k {
            let ke = (kb + KC).min(k);
            let mut r = 0;
            while m - r >= 6 {
                tiles::<T, 6, FMA, COLS>(a, ld, r, (kb, ke), k, w, out, n);
                r += 6;
            }
            match m - r {
                0 => {}
                1 => tiles::<T, 1, FMA, COLS>(a, ld, r, (kb, ke), k, w, out, n),
                2 => tiles::<T, 2, FMA, COLS>(a, ld, r, (kb, ke), k, w, out, n),
                3 => tiles::<T, 3, FMA, COLS>(a, ld, r, (kb, ke), k, w, out, n),
                4 => tiles::<T, 4, FMA, COLS>(a, ld, r, (kb, ke), k, w, out, n),
                _ => tiles::<T, 5, FMA, COLS>(a, ld, r, (kb, ke), k, w, out, n),
            }
            kb = ke;
        }
    }

    /// `e^x` for `f32` without branches, so that loops over it vectorise: Cephes' `expf`
    /// (range reduction by `ln 2`, degree-5 polynomial, exponent built from bits).
    #[inline(always)]
    pub(crate) fn exp_f32(x: f32) -> f32 {
        const HI: f32 = 88.72283;
        const LO: f32 = -87.33654;
        // 1.5 · 2^23: adding it rounds to an integer held in the low mantissa bits.
        const MAGIC: f32 = 12_582_912.0;
        let xc = x.clamp(LO, HI);
        let t = xc * std::f32::consts::LOG2_E + MAGIC;
        let n = t - MAGIC;
        let r = xc - n * 0.693_359_4 - n * -2.121_944_4e-4;
        let mut p = 1.987_569_1e-4_f32;
        p = p * r + 1.398_199_9e-3;
        p = p * r + 8.333_452e-3;
        p = p * r + 4.166_579_6e-2;
        p = p * r + 1.666_666_5e-1;
        p = p * r + 0.5;
        let y = p * r * r + r + 1.0;
        // n + 127 fits 8 bits for xc in [LO, HI]; the top of the range takes two steps.
        let k = (t.to_bits() as i32).wrapping_sub(0x4B40_0000);
        let half = k >> 1;
        let s1 = f32::from_bits(((half + 127) as u32) << 23);
        let s2 = f32::from_bits(((k - half + 127) as u32) << 23);
        let e = y * s1 * s2;
        if x > HI {
            f32::INFINITY
        } else if x < LO {
            0.0
        } else {
            e
        }
    }

    #[inline(always)]
    pub(crate) fn sigmoid_f32(v: &mut [f32]) {
        for x in v.iter_mut() {
            *x = 1.0 / (1.0 + exp_f32(-*x));
        }
    }

    #[inline(always)]
    pub(crate) fn sigmoid_generic<T: NumFloat>(v: &mut [T]) {
        for x in v.iter_mut() {
            *x = T::one() / (T::one() + (-*x).exp());
        }
    }
}

/// Runtime dispatch to AVX2 + FMA clones of the loops above.
#[allow(unsafe_code)]
pub(crate) mod dispatch {
    use super::imp;

    macro_rules! simd_clone {
        ($name:ident, $t:ty, $maxb:literal) => {
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            fn $name(x: &[$t], w: &[$t], out: &mut [$t]) {
                imp::vecmat::<$t, $maxb, true>(x, w, out)
            }
        };
    }
    simd_clone!(vecmat_f32_avx2, f32, 64);
    simd_clone!(vecmat_f64_avx2, f64, 32);

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn sigmoid_f32_avx2(v: &mut [f32]) {
        imp::sigmoid_f32(v)
    }

    #[cfg(target_arch = "x86_64")]
    fn has_avx2_fma() -> bool {
        is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
    }

    pub(crate) fn vecmat_f32(x: &[f32], w: &[f32], out: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if has_avx2_fma() {
            // SAFETY: the CPU was just checked to have AVX2 and FMA.
            return unsafe { vecmat_f32_avx2(x, w, out) };
        }
        imp::vecmat::<f32, 32, false>(x, w, out)
    }

    pub(crate) fn vecmat_f64(x: &[f64], w: &[f64], out: &mut [f64]) {
        #[cfg(target_arch = "x86_64")]
        if has_avx2_fma() {
            // SAFETY: the CPU was just checked to have AVX2 and FMA.
            return unsafe { vecmat_f64_avx2(x, w, out) };
        }
        imp::vecmat::<f64, 16, false>(x, w, out)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn gemm_packed_avx2<T: num_traits::Float, const COLS: bool>(
        a: &[T],
        ld: usize,
        (m, k): (usize, usize),
        w: &[T],
        n: usize,
        out: &mut [T],
    ) {
        imp::gemm_packed::<T, true, COLS>(a, ld, m, k, w, n, out)
    }

    fn gemm_packed_layout<T: num_traits::Float, const COLS: bool>(
        a: &[T],
        ld: usize,
        (m, k): (usize, usize),
        w: &[T],
        n: usize,
        out: &mut [T],
    ) {
        #[cfg(target_arch = "x86_64")]
        if has_avx2_fma() {
            // SAFETY: the CPU was just checked to have AVX2 and FMA.
            return unsafe { gemm_packed_avx2::<T, COLS>(a, ld, (m, k), w, n, out) };
        }
        imp::gemm_packed::<T, false, COLS>(a, ld, m, k, w, n, out)
    }

    /// The packed kernel on raw slices: A's element `(r, kk)` is `a[kk · ld + r]` if `cols`,
    /// else `a[r · ld + kk]`; `w` packed as in `PackedMatrix`, `out` row-major with `n` columns.
    pub(crate) fn gemm_packed<T: num_traits::Float>(
        (a, ld, cols): (&[T], usize, bool),
        (m, k): (usize, usize),
        w: &[T],
        n: usize,
        out: &mut [T],
    ) {
        if cols {
            gemm_packed_layout::<T, true>(a, ld, (m, k), w, n, out)
        } else {
            gemm_packed_layout::<T, false>(a, ld, (m, k), w, n, out)
        }
    }

    pub(crate) fn sigmoid_f32(v: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if has_avx2_fma() {
            // SAFETY: the CPU was just checked to have AVX2 and FMA.
            return unsafe { sigmoid_f32_avx2(v) };
        }
        imp::sigmoid_f32(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn arr(m: usize, n: usize, seed: u64) -> Array2<f64> {
        crate::test_util::rand(&[m, n], seed)
            .into_dimensionality()
            .expect("2-D")
    }

    #[test]
    fn gemm_matches_ndarray_at_every_split() {
        for threads in [1, 2, 3, 4] {
            set_num_threads(threads);
            for (m, k, n) in [
                (100, 784, 100),
                (3, 5, 7),
                (784, 100, 100),
                (20, 600, 900),
                (100, 100, 10),
                (7, 300, 13),
            ] {
                let (a, b) = (arr(m, k, 1), arr(k, n, 2));
                let mut c = arr(m, n, 3);
                let expect = a.dot(&b) * 0.5 + &c * 2.0;
                gemm(0.5, &a.view(), &b.view(), 2.0, &mut c.view_mut());
                let err = (&c - &expect).mapv(f64::abs).fold(0.0f64, |m, &v| m.max(v));
                assert!(err < 1e-9, "threads {threads}, ({m},{k},{n}): error {err}");
                // A column-major (a transposed array, as in Xᵀ G) and B transposed.
                let (at, bt) = (a.t().to_owned(), b.t().to_owned());
                let mut c2 = Array2::zeros((m, n));
                gemm(1.0, &at.t(), &bt.t(), 0.0, &mut c2.view_mut());
                let err = (&c2 - &a.dot(&b))
                    .mapv(f64::abs)
                    .fold(0.0f64, |m, &v| m.max(v));
                assert!(err < 1e-9, "transposed, ({m},{k},{n}): error {err}");
            }
        }
    }

    #[test]
    fn gemm_packed_matches_ndarray_for_every_tile_shape() {
        for threads in [1, 2] {
            set_num_threads(threads);
            for m in [1, 2, 5, 6, 7, 13, 100] {
                for n in [1, 8, 10, 16, 17, 24, 56, 100, 104] {
                    let k = if m == 100 { 784 } else { 37 };
                    let (x, w) = (arr(m, k, 7), arr(k, n, 8));
                    let start = arr(m, n, 9);
                    let expect = x.dot(&w) + &start;
                    let packed = PackedMatrix::pack(&w.view());
                    let mut out = start.clone();
                    gemm_packed(&x.view(), &packed, &mut out.view_mut());
                    let err = (&out - &expect)
                        .mapv(f64::abs)
                        .fold(0.0f64, |a, &b| a.max(b));
                    assert!(err < 1e-9, "({m},{k},{n}), {threads} threads: error {err}");
                    // f32, and x as a non-contiguous view (every other column of a wider array).
                    let wide = Array2::from_shape_fn((m, 2 * k), |(i, j)| x[[i, j / 2]] as f32);
                    let x32 = wide.slice(ndarray::s![.., ..;2]);
                    let w32 = w.mapv(|v| v as f32);
                    let mut out32 = start.mapv(|v| v as f32);
                    gemm_packed(
                        &x32,
                        &PackedMatrix::pack(&w32.view()),
                        &mut out32.view_mut(),
                    );
                    let err = out32
                        .iter()
                        .zip(&expect)
                        .map(|(a, b)| (f64::from(*a) - b).abs())
                        .fold(0.0f64, f64::max);
                    assert!(err < 1e-3, "f32 ({m},{k},{n}): error {err}");
                }
            }
        }
    }

    #[test]
    fn vecmat_matches_a_matrix_product_for_every_width() {
        for n in [1, 7, 8, 9, 16, 33, 50, 64, 100, 131] {
            let (x, w) = (arr(1, 37, 4), arr(37, n, 5));
            let bias = arr(1, n, 6);
            let expect = x.dot(&w) + &bias;
            let mut out = bias.as_slice().expect("standard layout").to_vec();
            vecmat_add(
                x.as_slice().expect("standard layout"),
                w.as_slice().expect("standard layout"),
                &mut out,
            );
            for (o, e) in out.iter().zip(expect.iter()) {
                assert!((o - e).abs() < 1e-12, "n = {n}: {o} vs {e}");
            }
            let (x32, w32) = (x.mapv(|v| v as f32), w.mapv(|v| v as f32));
            let mut out32: Vec<f32> = bias.iter().map(|&v| v as f32).collect();
            vecmat_add(
                x32.as_slice().expect("standard layout"),
                w32.as_slice().expect("standard layout"),
                &mut out32,
            );
            for (o, e) in out32.iter().zip(expect.iter()) {
                assert!((f64::from(*o) - e).abs() < 1e-4, "f32, n = {n}: {o} vs {e}");
            }
        }
    }

    #[test]
    #[should_panic(expected = "vecmat_add: x has 3 entries and out 2, so W needs 6 entries, got 5")]
    fn vecmat_names_the_sizes() {
        vecmat_add(&[0.0f32; 3], &[0.0; 5], &mut [0.0; 2]);
    }

    #[test]
    fn sigmoid_f32_is_within_2_ulp_everywhere() {
        let mut worst = 0u32;
        let mut x = -110.0f32;
        while x < 110.0 {
            let mut v = [x];
            sigmoid_inplace(&mut v);
            let exact = (1.0 / (1.0 + (-f64::from(x)).exp())) as f32;
            if exact >= f32::MIN_POSITIVE {
                let ulp = (v[0].to_bits() as i64 - exact.to_bits() as i64).unsigned_abs() as u32;
                worst = worst.max(ulp);
            } else {
                assert!(v[0] < f32::MIN_POSITIVE, "sigmoid({x}) = {}", v[0]);
            }
            x += 0.000_37;
        }
        assert!(worst <= 2, "worst error {worst} ulp");
        let mut special = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY];
        sigmoid_inplace(&mut special);
        assert!(special[0].is_nan());
        assert_eq!(&special[1..], &[1.0, 0.0]);
    }

    #[test]
    fn exp_f32_matches_the_standard_library() {
        let mut x = -100.0f32;
        while x < 100.0 {
            let (got, exact) = (imp::exp_f32(x), f64::from(x).exp());
            if exact > f64::from(f32::MAX) {
                assert_eq!(got, f32::INFINITY);
            } else if exact >= f64::from(f32::MIN_POSITIVE) {
                let rel = (f64::from(got) - exact).abs() / exact;
                assert!(rel < 3e-7, "exp({x}) = {got}, exact {exact}");
            }
            x += 0.0013;
        }
    }
}
