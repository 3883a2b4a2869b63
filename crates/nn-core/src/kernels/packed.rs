//! Weight matrices kept once for many products, and the panel layout of the hand-written
//! panel kernel.

use ndarray::{ArrayView2, ArrayViewMut2};

use super::isa::{Isa, active_isa, pack_panels as pack_panels_on};
use super::{gemm_with, num_threads};
use crate::float::Float;

/// A weight matrix `W (k, n)` (scaled) kept row-major, contiguous, for many products with
/// [`gemm_packed`] (inference, `nn_layers::Predictor`): each product goes through `gemm`'s
/// own dispatch, so a batch of up to 256 rows reaches the short-side kernel, which reads `W`
/// where it lies (matrixmultiply would pack it on every call). Prepacked panels for the panel
/// kernel lost to that on AVX2 (the chapter-3 network's batched pass 22.7 against 18.6 ms).
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
        let mut packed = PackedMatrix {
            data: Vec::new(),
            k: 0,
            n: 0,
        };
        packed.fill(w, alpha);
        packed
    }

    /// Packs `w (k, n)` in place of the matrix held, reusing its memory.
    pub fn repack(&mut self, w: &ArrayView2<'_, T>) {
        self.fill(w, T::one());
    }

    fn fill(&mut self, w: &ArrayView2<'_, T>, alpha: T) {
        (self.k, self.n) = w.dim();
        self.data.clear();
        self.data.extend(w.iter().map(|&v| alpha * v));
    }

    /// `(k, n)`.
    pub fn dim(&self) -> (usize, usize) {
        (self.k, self.n)
    }
}

/// Width of the panel that starts with `remaining` columns left: 16, or 8 for a last panel of
/// at most 8 columns. Panels start at multiples of 16. The packer and the kernel both use it.
pub(super) fn panel_width(remaining: usize) -> usize {
    if remaining > 8 { 16 } else { 8 }
}

/// The columns `n` columns take once packed in panels (the last panel padded to its width); the
/// packer sizes its buffer by it and the AVX2 panel loop bounds its reads by it.
pub(super) fn padded_width(n: usize) -> usize {
    let last = n / 16 * 16;
    if last == n {
        n
    } else {
        last + panel_width(n - last)
    }
}

/// Fills `data` with `alpha · w` in panels (the layout of [`PackedMatrix`]), reusing its memory.
pub(super) fn pack_panels<T: Float>(isa: Isa, w: &ArrayView2<'_, T>, alpha: T, data: &mut Vec<T>) {
    let (k, n) = w.dim();
    let last = n / 16 * 16;
    // Every element is written below, so a reused buffer needs no clearing.
    data.resize(k * padded_width(n), T::zero());
    if let Some((ws, ld, cols)) = a_layout(w) {
        if cols {
            pack_panels_on::<T, true>(isa, ws, ld, (k, n), alpha, data);
        } else {
            pack_panels_on::<T, false>(isa, ws, ld, (k, n), alpha, data);
        }
        return;
    }
    let width = |j0: usize| panel_width(n - j0);
    for (i, row) in w.rows().into_iter().enumerate() {
        for (j, &v) in row.iter().enumerate() {
            let j0 = j / 16 * 16;
            data[j0 * k + i * width(j0) + (j - j0)] = alpha * v;
        }
        if last < n {
            let nb = width(last);
            data[last * k + i * nb + (n - last)..last * k + (i + 1) * nb].fill(T::zero());
        }
    }
}

/// A's memory and how to walk it: `(slice, leading dimension, column-major)`, if its rows or
/// its columns are contiguous.
pub(super) fn a_layout<'a, T: Float>(a: &'a ArrayView2<'_, T>) -> Option<(&'a [T], usize, bool)> {
    let (m, k) = a.dim();
    if a.is_standard_layout() {
        a.as_slice_memory_order().map(|s| (s, k, false))
    } else if a.t().is_standard_layout() {
        a.as_slice_memory_order().map(|s| (s, m, true))
    } else {
        None
    }
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
    packed_product(active_isa(), x, w, out, num_threads());
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
    packed_product(active_isa(), x, w, out, 1);
}

pub(super) fn packed_product<T: Float>(
    isa: Isa,
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
    let wv = ArrayView2::from_shape((w.k, w.n), &w.data[..])
        .unwrap_or_else(|_| unreachable!("filled row-major"));
    gemm_with(isa, parts, T::one(), x, &wv, T::one(), out);
}

/// Calls `f` with A's memory as [`a_layout`] gives it, or with a row-major copy if neither its
/// rows nor its columns are contiguous.
pub(super) fn with_a_layout<T: Float, R>(
    a: &ArrayView2<'_, T>,
    f: impl FnOnce((&[T], usize, bool)) -> R,
) -> R {
    match a_layout(a) {
        Some(layout) => f(layout),
        None => {
            let owned = a.as_standard_layout().into_owned();
            let xs = owned
                .as_slice()
                .unwrap_or_else(|| unreachable!("standard layout was just made"));
            f((xs, a.ncols(), false))
        }
    }
}
