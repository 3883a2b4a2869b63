//! `c (m, n) = α xᵀ g + β c` with `x (k, m)` and `g (k, n)` row-major and `m` short, read
//! straight from the operands without packing: the weight's gradient of a wide layer (a
//! language model's 100 → 10,000 output Affine, `k` its 700 rows), where a general product
//! copies the 700 × 10,000 score gradient into panels first. Tiles of 6 rows × 64 columns of
//! `c` stay in registers, `x`'s elements are broadcast, `g`'s rows are loaded in place; a strip
//! of `g` stays in L2 for every tile of rows.
//!
//! AVX-512 and `f32` only; elsewhere `gemm` keeps its general path. The other backward product,
//! `g wᵀ` (`n` short), was tried the same way (dot products along `k`): slower than
//! matrixmultiply, so it stays there.

use ndarray::{ArrayView2, ArrayViewMut2, Axis};

use super::isa::Isa;

/// The short side's limit: beyond it the general product's packing pays for itself.
const SHORT_MAX: usize = 256;
/// Products smaller than this (multiply-adds) stay on the general path.
const MIN_MACS: usize = 1 << 20;

/// Whether the layout is the one the kernel reads: `a` a transposed row-major `x` with `m`
/// short, `b` and `c` with contiguous rows, and enough work.
fn fits(a: &ArrayView2<'_, f32>, b: &ArrayView2<'_, f32>, c: &ArrayViewMut2<'_, f32>) -> bool {
    let ((m, k), n) = (a.dim(), b.ncols());
    let (sa, sb, sc) = (a.strides(), b.strides(), c.strides());
    m * n * k >= MIN_MACS
        && m <= SHORT_MAX
        && n >= 16
        && sa[0] == 1
        && sa[1] >= m as isize
        && sb[1] == 1
        && sb[0] >= n as isize
        && sc[1] == 1
        && sc[0] >= n as isize
}

#[cfg(test)]
pub(super) fn fits_f32(
    a: &ArrayView2<'_, f32>,
    b: &ArrayView2<'_, f32>,
    c: &ArrayViewMut2<'_, f32>,
) -> bool {
    fits(a, b, c)
}

/// `c = α a b + β c` by the kernel above, split over `threads` by columns; `false` (nothing
/// done) where it does not fit or the path is not AVX-512.
pub(crate) fn gemm_f32(
    isa: Isa,
    threads: usize,
    alpha: f32,
    a: &ArrayView2<'_, f32>,
    b: &ArrayView2<'_, f32>,
    beta: f32,
    c: &mut ArrayViewMut2<'_, f32>,
) -> bool {
    if isa != Isa::Avx512 || !isa.supported() {
        return false;
    }
    if !fits(a, b, c) {
        return false;
    }
    split(
        threads.max(1),
        alpha,
        a.view(),
        b.view(),
        beta,
        c.view_mut(),
    );
    true
}

/// Halves the columns until each thread has one part.
fn split(
    parts: usize,
    alpha: f32,
    a: ArrayView2<'_, f32>,
    b: ArrayView2<'_, f32>,
    beta: f32,
    mut c: ArrayViewMut2<'_, f32>,
) {
    let n = c.ncols();
    if parts < 2 || n < 64 {
        serial(alpha, &a, &b, beta, &mut c);
        return;
    }
    let left = parts / 2;
    let mid = (n * left / parts) / 16 * 16;
    let (b0, b1) = b.split_at(Axis(1), mid);
    let (c0, c1) = c.split_at(Axis(1), mid);
    rayon::join(
        || split(left, alpha, a, b0, beta, c0),
        || split(parts - left, alpha, a, b1, beta, c1),
    );
}

#[allow(unsafe_code)]
fn serial(
    alpha: f32,
    a: &ArrayView2<'_, f32>,
    b: &ArrayView2<'_, f32>,
    beta: f32,
    c: &mut ArrayViewMut2<'_, f32>,
) {
    let ((m, k), n) = (a.dim(), b.ncols());
    let (ldx, ldg, ldc) = (a.strides()[1], b.strides()[0], c.strides()[0]);
    let (x, g, out) = (a.as_ptr(), b.as_ptr(), c.as_mut_ptr());
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `gemm_f32` checked AVX-512, and `fits` that every stride is positive and the
    // views hold the elements the kernel reads and writes.
    unsafe {
        avx512::tn(
            (m, n, k),
            alpha,
            (x, ldx as usize),
            (g, ldg as usize),
            beta,
            (out, ldc as usize),
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    unreachable!(
        "AVX-512 only on x86-64: {m}×{k}×{n} {alpha} {beta} {x:?} {g:?} {out:?} {ldx} {ldg} {ldc}"
    )
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod avx512 {
    use std::arch::x86_64::*;

    /// Rows of `c` in one `tn` tile, and its columns in vectors of 16.
    const TN_ROWS: usize = 6;
    const TN_VECS: usize = 4;
    /// `k` per pass of `tn`, so that a strip of `g` stays in L2.
    const TN_KC: usize = 768;
    fn mask(cols: usize) -> u16 {
        if cols >= 16 {
            u16::MAX
        } else {
            (1u16 << cols) - 1
        }
    }

    /// See the module's documentation.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn tn(
        (m, n, k): (usize, usize, usize),
        alpha: f32,
        (x, ldx): (*const f32, usize),
        (g, ldg): (*const f32, usize),
        beta: f32,
        (c, ldc): (*mut f32, usize),
    ) {
        let mut kb = 0;
        while kb < k {
            let ke = (kb + TN_KC).min(k);
            let beta = if kb == 0 { beta } else { 1.0 };
            let mut j = 0;
            while j < n {
                let cols = (n - j).min(16 * TN_VECS);
                let mut i = 0;
                while i < m {
                    let rows = (m - i).min(TN_ROWS);
                    let xs = unsafe { x.add(kb * ldx + i) };
                    let gs = unsafe { g.add(kb * ldg + j) };
                    let cs = unsafe { c.add(i * ldc + j) };
                    let t = (ke - kb, ldx, ldg, ldc, cols, alpha, beta);
                    macro_rules! go {
                        ($($r:literal)*) => {
                            match (rows, cols.div_ceil(16)) {
                                $( ($r, 1) => unsafe { tn_tile::<$r, 1>(xs, gs, cs, t) },
                                   ($r, 2) => unsafe { tn_tile::<$r, 2>(xs, gs, cs, t) },
                                   ($r, 3) => unsafe { tn_tile::<$r, 3>(xs, gs, cs, t) },
                                   ($r, _) => unsafe { tn_tile::<$r, 4>(xs, gs, cs, t) }, )*
                                _ => unreachable!("tn: tiles have 1 to {TN_ROWS} rows"),
                            }
                        };
                    }
                    go!(1 2 3 4 5 6);
                    i += rows;
                }
                j += cols;
            }
            kb = ke;
        }
    }

    #[target_feature(enable = "avx512f")]
    #[inline(never)]
    unsafe fn tn_tile<const R: usize, const V: usize>(
        x: *const f32,
        g: *const f32,
        c: *mut f32,
        (k, ldx, ldg, ldc, cols, alpha, beta): (usize, usize, usize, usize, usize, f32, f32),
    ) {
        let masks: [u16; V] = std::array::from_fn(|v| mask(cols - 16 * v));
        let mut acc = [[_mm512_setzero_ps(); V]; R];
        for p in 0..k {
            let gr = unsafe { g.add(p * ldg) };
            let gv: [__m512; V] =
                std::array::from_fn(|v| unsafe { _mm512_maskz_loadu_ps(masks[v], gr.add(16 * v)) });
            let xr = unsafe { x.add(p * ldx) };
            for (r, row) in acc.iter_mut().enumerate() {
                let xv = _mm512_set1_ps(unsafe { *xr.add(r) });
                for (a, &gv) in row.iter_mut().zip(&gv) {
                    *a = _mm512_fmadd_ps(xv, gv, *a);
                }
            }
        }
        unsafe { store(acc, c, ldc, &masks, alpha, beta) };
    }

    /// `c = α acc + β c` for a tile of `R` rows, `ldc` apart.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn store<const R: usize, const V: usize>(
        acc: [[__m512; V]; R],
        c: *mut f32,
        ldc: usize,
        masks: &[u16; V],
        alpha: f32,
        beta: f32,
    ) {
        let (va, vb) = (_mm512_set1_ps(alpha), _mm512_set1_ps(beta));
        for (r, row) in acc.iter().enumerate() {
            for (v, &a) in row.iter().enumerate() {
                let p = unsafe { c.add(r * ldc + 16 * v) };
                let mut out = _mm512_mul_ps(va, a);
                if beta != 0.0 {
                    let old = unsafe { _mm512_maskz_loadu_ps(masks[v], p) };
                    out = _mm512_fmadd_ps(vb, old, out);
                }
                unsafe { _mm512_mask_storeu_ps(p, masks[v], out) };
            }
        }
    }
}
