//! Products with one short side, read straight from their operands without packing the long
//! one: the two backward products of a wide layer (a language model's 100 → 10,000 output
//! Affine over 700 rows), where a general product first copies the 700 × 10,000 score
//! gradient into panels.
//!
//! - `xᵀ g` (the weight's gradient): `m` short, `x (k, m)` and `g (k, n)` row-major; also
//!   `x w` with `x (m, k)` row-major (a batch of at most 256 rows through a layer, the scores
//!   of a block of rows, an LSTM step's `h Wh`), where matrixmultiply packs the whole of `w`
//!   on every call; any number of rows where `b` has at most 32K elements (a layer's 784 × 100
//!   × 100, a convolution's unrolled pixels against its filters), which then stays in L2.
//! - `g wᵀ` (the input's gradient): `n` short, `g (m, k)` row-major; `wᵀ` is copied into rows
//!   once (`k · n` elements, a fraction of `g`).
//!
//! One kernel does both: tiles of up to 6 rows × 4 vectors (or 3 × 7 where `n` fits 7
//! vectors) of `c` stay in registers over a pass of 768 steps of `k`, `a`'s elements are
//! broadcast from wherever its strides put them, and `b`'s rows are loaded in place (copied
//! together first where they lie a multiple of 4 KB apart); a strip of `b` stays in L2 for
//! every tile of rows. A last vector of a few columns becomes dot products of `a`'s rows. AVX-512
//! and `f32` only; elsewhere `gemm` keeps its general path.

use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis};

use super::isa::Isa;
use super::split_with;

/// The short side's limit for `xᵀ g`: beyond it the general product's packing pays for itself.
const SHORT_M_MAX: usize = 256;
/// A `b` this small (elements) stays in L2 for any number of rows: then `m` has no limit.
const SMALL_B: usize = 1 << 15;
/// The short side's limit for `g wᵀ`: one strip of at most 7 vectors.
const SHORT_N_MAX: usize = 112;
/// `g wᵀ` from this inner dimension on (an LSTM step's `da Whᵀ`, k = 4H, ran at 103
/// GFLOP/s here against matrixmultiply's 48).
const SHORT_N_MIN_K: usize = 256;
/// A product with one strip of columns (`n` at most `SHORT_N_MAX`) and a `b` larger than
/// this (elements; half of L2) is split over the threads along `k`, for at most
/// `SPLIT_K_MAX_M` rows (the partial sums are `m × n` each): split along `m`, every thread
/// would read all of `b`. A language model's `g wᵀ` at 2 threads, 104 × 10,000 × 100: 171 →
/// 180 and 171 → 173 GFLOP/s; its last block of 76 rows 152 → 165 and 143 → 157 (the two ways
/// alternating in one process).
const SPLIT_K_MIN_B: usize = 1 << 17;
const SPLIT_K_MAX_M: usize = 256;
/// Products smaller than this (multiply-adds) stay on the general path. From here on the kernel
/// ran 1.3–2.6× matrixmultiply's speed at every shape it takes that was tried (one thread; an
/// attention's 10 × 256 × 29 5.8 → 3.5 µs, 10 × 29 × 256 3.7 → 1.4 µs, 20 × 100 × 100 8.2 → 3.9 µs).
const MIN_MACS: usize = 1 << 14;

/// Which short side a product has, if the kernel takes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form {
    /// `xᵀ g` or `x w`: `a` a transposed row-major matrix or a row-major one, `m` short, `b`
    /// with contiguous rows.
    ShortM,
    /// `g wᵀ`: `a` row-major, `n` short, `b` with contiguous rows or columns (then copied into
    /// rows once).
    ShortN,
}

fn form(
    a: &ArrayView2<'_, f32>,
    b: &ArrayView2<'_, f32>,
    c: &ArrayViewMut2<'_, f32>,
) -> Option<Form> {
    let ((m, k), n) = (a.dim(), b.ncols());
    let (sa, sb, sc) = (a.strides(), b.strides(), c.strides());
    let rows = |s: &[isize], len: usize| s[1] == 1 && s[0] >= len as isize;
    let cols = |s: &[isize], len: usize| s[0] == 1 && s[1] >= len as isize;
    if m * n * k < MIN_MACS || !rows(sc, n) {
        return None;
    }
    if (m <= SHORT_M_MAX || k * n <= SMALL_B)
        && n >= 16
        && (cols(sa, m) || rows(sa, k))
        && rows(sb, n)
    {
        return Some(Form::ShortM);
    }
    if n <= SHORT_N_MAX && k >= SHORT_N_MIN_K && rows(sa, k) && (rows(sb, n) || cols(sb, k)) {
        return Some(Form::ShortN);
    }
    None
}

#[cfg(test)]
pub(super) fn form_of(
    a: &ArrayView2<'_, f32>,
    b: &ArrayView2<'_, f32>,
    c: &ArrayViewMut2<'_, f32>,
) -> Option<String> {
    form(a, b, c).map(|f| format!("{f:?}"))
}

/// `c = α a b + β c` by the kernel below, split over `threads` along the longer side of `c`
/// (`kernels::split_with`); `false` (nothing done) where no form fits or the path is not
/// AVX-512.
pub(crate) fn gemm_f32(
    isa: Isa,
    threads: usize,
    alpha: f32,
    a: &ArrayView2<'_, f32>,
    b: &ArrayView2<'_, f32>,
    beta: f32,
    c: &mut ArrayViewMut2<'_, f32>,
) -> bool {
    if isa != Isa::Avx512 || !isa.supported() || form(a, b, c).is_none() {
        return false;
    }
    // `b` with contiguous columns (`wᵀ`) is copied into rows once, before the threads share it.
    let rows;
    let b = if b.strides()[1] == 1 {
        b.view()
    } else {
        rows = b.as_standard_layout();
        rows.view()
    };
    let (m, k, n) = (a.nrows(), a.ncols(), b.ncols());
    if n <= SHORT_N_MAX && threads > 1 && m <= SPLIT_K_MAX_M && k * n > SPLIT_K_MIN_B {
        split_k(threads, alpha, a.view(), b, beta, c.view_mut());
    } else {
        split_with(
            threads.max(1),
            alpha,
            a.view(),
            b,
            beta,
            c.view_mut(),
            &serial,
        );
    }
    true
}

/// `a b` split over `parts` threads along `k`: the first part adds into `c`, each other into
/// zeros of its own, added to `c` after.
fn split_k(
    parts: usize,
    alpha: f32,
    a: ArrayView2<'_, f32>,
    b: ArrayView2<'_, f32>,
    beta: f32,
    mut c: ArrayViewMut2<'_, f32>,
) {
    let left = parts / 2;
    // Cuts on whole cache lines of `a`'s rows.
    let mid = (a.ncols() * left / parts) & !15;
    if parts < 2 || mid == 0 {
        serial(alpha, &a, &b, beta, &mut c);
        return;
    }
    let (a0, a1) = a.split_at(Axis(1), mid);
    let (b0, b1) = b.split_at(Axis(0), mid);
    let mut rest = Array2::<f32>::zeros(c.dim());
    rayon::join(
        || split_k(left, alpha, a0, b0, beta, c.view_mut()),
        || split_k(parts - left, alpha, a1, b1, 0.0, rest.view_mut()),
    );
    c += &rest;
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
    let (sa, ldb, ldc) = (a.strides(), b.strides()[0], c.strides()[0]);
    let (pa, pb, pc) = (a.as_ptr(), b.as_ptr(), c.as_mut_ptr());
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `gemm_f32` checked AVX-512, and `form` that every stride is positive, `b`'s and
    // `c`'s rows contiguous, and the views hold the elements the kernel reads and writes.
    unsafe {
        avx512::gemm(
            (m, n, k),
            alpha,
            (pa, sa[0] as usize, sa[1] as usize),
            (pb, ldb as usize),
            beta,
            (pc, ldc as usize),
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    unreachable!(
        "AVX-512 only on x86-64: {m}×{k}×{n} {alpha} {beta} {pa:?} {pb:?} {pc:?} {sa:?} {ldb} {ldc}"
    )
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod avx512 {
    use std::arch::x86_64::*;

    /// The widest strip of columns taken whole (7 vectors), and the strip width beyond it.
    const WHOLE_MAX: usize = 112;
    const STRIP: usize = 64;
    /// `k` per pass, so that a strip of `b` stays in L2.
    const KC: usize = 768;
    /// `b`'s rows this many elements (4 KB) apart, or a multiple, fall into the same L2 sets
    /// every 32 rows; beyond `PACK_MIN_K` rows (8 to a set, L2's ways) a strip is copied
    /// together. An LSTM's `Wh` gradient at H = 256 (256 × 3712 × 1024) went 89 → 108 GFLOP/s;
    /// rows 2 KB apart (H = 128) measured slower copied.
    const PACK_STRIDE: usize = 1024;
    const PACK_MIN_K: usize = 256;
    const PACK_MIN_M: usize = 64;
    /// The widest last vector whose columns go to dot products, from this `k` on, in tiles of
    /// this many rows.
    const DOTS_MAX: usize = 4;
    const DOTS_MIN_K: usize = 256;
    const DOT_ROWS: usize = 6;

    fn mask(cols: usize) -> u16 {
        if cols >= 16 {
            u16::MAX
        } else {
            (1u16 << cols) - 1
        }
    }

    /// Rows per tile for `v` vectors of columns: at most 24 accumulators.
    fn rows_for(v: usize) -> usize {
        (24 / v).min(6)
    }

    /// `c (m, n) = α a b + β c`: `a`'s element `(i, p)` at `i · rsa + p · csa`, `b` and `c`
    /// row-major with rows `ldb` and `ldc` apart.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn gemm(
        (m, n, k): (usize, usize, usize),
        alpha: f32,
        (a, rsa, csa): (*const f32, usize, usize),
        (b, ldb): (*const f32, usize),
        beta: f32,
        (c, ldc): (*mut f32, usize),
    ) {
        // A last vector of at most `DOTS_MAX` columns would cost as much as a full one on every
        // step of `k`: those columns are dot products of `a`'s rows instead, where they are
        // contiguous (784 × 50 ran as 784 × 64, 10,000 × 100 as 10,000 × 112).
        let rest = n % 16;
        let dots = csa == 1 && n > 16 && rest <= DOTS_MAX && rest > 0 && k >= DOTS_MIN_K;
        let main = if dots { n - rest } else { n };
        unsafe { vectors((m, main, k), alpha, (a, rsa, csa), (b, ldb), beta, (c, ldc)) };
        if dots {
            let t = (m, rest, k, alpha, beta);
            unsafe { dot_columns(t, (a, rsa), (b.add(main), ldb), (c.add(main), ldc)) };
        }
    }

    /// Columns `..rest` of `c` as dot products: `bᵀ`'s rows gathered a pass of `k` at a time,
    /// then tiles of rows of `a` against all of them.
    #[target_feature(enable = "avx512f")]
    unsafe fn dot_columns(
        (m, rest, k, alpha, beta): (usize, usize, usize, f32, f32),
        (a, rsa): (*const f32, usize),
        (b, ldb): (*const f32, usize),
        (c, ldc): (*mut f32, usize),
    ) {
        let mut bt = vec![0.0f32; rest * KC];
        let mut kb = 0;
        while kb < k {
            let ke = (kb + KC).min(k);
            let len = ke - kb;
            for p in 0..len {
                for j in 0..rest {
                    // SAFETY: row `kb + p` of `b` holds columns `..rest`.
                    bt[j * len + p] = unsafe { *b.add((kb + p) * ldb + j) };
                }
            }
            let beta = if kb == 0 { beta } else { 1.0 };
            let mut i = 0;
            while i < m {
                let rows = (m - i).min(DOT_ROWS);
                let at = unsafe { a.add(i * rsa + kb) };
                let ct = unsafe { c.add(i * ldc) };
                let t = (len, rsa, ldc, alpha, beta);
                macro_rules! go {
                    ($(($r:literal, $c:literal))*) => {
                        match (rows, rest) {
                            $( ($r, $c) => unsafe { dot_tile::<$r, $c>(at, bt.as_ptr(), ct, t) }, )*
                            _ => unreachable!("no dot tile of {rows} rows × {rest} columns"),
                        }
                    };
                }
                #[rustfmt::skip]
                go!((1, 1) (2, 1) (3, 1) (4, 1) (5, 1) (6, 1)
                    (1, 2) (2, 2) (3, 2) (4, 2) (5, 2) (6, 2)
                    (1, 3) (2, 3) (3, 3) (4, 3) (5, 3) (6, 3)
                    (1, 4) (2, 4) (3, 4) (4, 4) (5, 4) (6, 4));
                i += rows;
            }
            kb = ke;
        }
    }

    /// `c`'s `R × C` tile `= α Σ_p a[r, p] bt[j, p] + β c`: `a`'s rows `rsa` apart and
    /// contiguous, `bt`'s rows `k` long, one after another.
    #[target_feature(enable = "avx512f")]
    #[inline(never)]
    unsafe fn dot_tile<const R: usize, const C: usize>(
        a: *const f32,
        bt: *const f32,
        c: *mut f32,
        (k, rsa, ldc, alpha, beta): (usize, usize, usize, f32, f32),
    ) {
        let mut acc = [[_mm512_setzero_ps(); C]; R];
        let mut p = 0;
        while p < k {
            let m = mask(k - p);
            let bv: [__m512; C] =
                std::array::from_fn(|j| unsafe { _mm512_maskz_loadu_ps(m, bt.add(j * k + p)) });
            for (r, row) in acc.iter_mut().enumerate() {
                let av = unsafe { _mm512_maskz_loadu_ps(m, a.add(r * rsa + p)) };
                for (acc, &bv) in row.iter_mut().zip(&bv) {
                    *acc = _mm512_fmadd_ps(av, bv, *acc);
                }
            }
            p += 16;
        }
        for (r, row) in acc.iter().enumerate() {
            for (j, &v) in row.iter().enumerate() {
                let at = unsafe { c.add(r * ldc + j) };
                let sum = alpha * _mm512_reduce_add_ps(v);
                unsafe { *at = if beta != 0.0 { sum + beta * *at } else { sum } };
            }
        }
    }

    /// [`gemm`] with every column in vectors.
    #[target_feature(enable = "avx512f")]
    unsafe fn vectors(
        (m, n, k): (usize, usize, usize),
        alpha: f32,
        (a, rsa, csa): (*const f32, usize, usize),
        (b, ldb): (*const f32, usize),
        beta: f32,
        (c, ldc): (*mut f32, usize),
    ) {
        let strip = if n <= WHOLE_MAX { n } else { STRIP };
        // Rows of `b` a multiple of 4 KB apart share L2's sets, and a strip of hundreds of them
        // does not stay there: such a strip is copied together once for all the row tiles.
        let pack = ldb % PACK_STRIDE == 0 && k > PACK_MIN_K && m >= PACK_MIN_M;
        let mut packed = if pack {
            vec![0.0f32; KC * strip]
        } else {
            Vec::new()
        };
        let mut kb = 0;
        while kb < k {
            let ke = (kb + KC).min(k);
            let beta = if kb == 0 { beta } else { 1.0 };
            let mut j = 0;
            while j < n {
                let cols = (n - j).min(strip);
                let vecs = cols.div_ceil(16);
                let (bt, lds) = if pack {
                    for (p, row) in packed.chunks_exact_mut(strip).take(ke - kb).enumerate() {
                        let from = unsafe { b.add((kb + p) * ldb + j) };
                        // SAFETY: row `kb + p` of `b` holds columns `j..j + cols`.
                        row[..cols]
                            .copy_from_slice(unsafe { std::slice::from_raw_parts(from, cols) });
                    }
                    (packed.as_ptr(), strip)
                } else {
                    (unsafe { b.add(kb * ldb + j) }, ldb)
                };
                // The next strip's rows of `b` lie far apart (the hardware's prefetcher follows
                // a few streams, not hundreds): ask for them a share per row tile, so that they
                // are in L2 when this strip is done.
                let next = if j + cols < n {
                    Some((kb, ke, j + cols, (n - j - cols).min(strip)))
                } else {
                    (ke < k && n > strip).then(|| (ke, (ke + KC).min(k), 0, strip))
                };
                let tiles = m.div_ceil(rows_for(vecs));
                let mut tile_no = 0;
                let mut i = 0;
                while i < m {
                    let rows = (m - i).min(rows_for(vecs));
                    if let Some((r0, r1, c0, cols)) = next {
                        let (from, to) = (
                            r0 + (r1 - r0) * tile_no / tiles,
                            r0 + (r1 - r0) * (tile_no + 1) / tiles,
                        );
                        for r in from..to {
                            let row = unsafe { b.add(r * ldb + c0) };
                            for l in (0..cols).step_by(16) {
                                unsafe { _mm_prefetch::<_MM_HINT_T1>(row.add(l).cast()) };
                            }
                            // The row's last element, where it starts mid-line.
                            unsafe { _mm_prefetch::<_MM_HINT_T1>(row.add(cols - 1).cast()) };
                        }
                    }
                    tile_no += 1;
                    let at = unsafe { a.add(kb * csa + i * rsa) };
                    let ct = unsafe { c.add(i * ldc + j) };
                    let t = (ke - kb, rsa, csa, lds, ldc, cols, alpha, beta);
                    macro_rules! go {
                        ($(($r:literal, $v:literal))*) => {
                            match (rows, vecs) {
                                $( ($r, $v) => unsafe { tile::<$r, $v>(at, bt, ct, t) }, )*
                                _ => unreachable!("no tile of {rows} rows × {vecs} vectors"),
                            }
                        };
                    }
                    #[rustfmt::skip]
                    go!((1, 1) (2, 1) (3, 1) (4, 1) (5, 1) (6, 1)
                        (1, 2) (2, 2) (3, 2) (4, 2) (5, 2) (6, 2)
                        (1, 3) (2, 3) (3, 3) (4, 3) (5, 3) (6, 3)
                        (1, 4) (2, 4) (3, 4) (4, 4) (5, 4) (6, 4)
                        (1, 5) (2, 5) (3, 5) (4, 5)
                        (1, 6) (2, 6) (3, 6) (4, 6)
                        (1, 7) (2, 7) (3, 7));
                    i += rows;
                }
                j += cols;
            }
            kb = ke;
        }
    }

    #[target_feature(enable = "avx512f")]
    #[inline(never)]
    #[allow(clippy::type_complexity)]
    unsafe fn tile<const R: usize, const V: usize>(
        a: *const f32,
        b: *const f32,
        c: *mut f32,
        (k, rsa, csa, ldb, ldc, cols, alpha, beta): (
            usize,
            usize,
            usize,
            usize,
            usize,
            usize,
            f32,
            f32,
        ),
    ) {
        let masks: [u16; V] = std::array::from_fn(|v| mask(cols - 16 * v));
        if beta != 0.0 {
            // `c`'s tile is read at the end, from L3 when `c` is a wide weight's gradient: ask
            // for it now, so that the loop hides the wait.
            for r in 0..R {
                for v in 0..V {
                    unsafe { _mm_prefetch::<_MM_HINT_T0>(c.add(r * ldc + 16 * v).cast()) };
                }
            }
        }
        let mut acc = [[_mm512_setzero_ps(); V]; R];
        for p in 0..k {
            let br = unsafe { b.add(p * ldb) };
            let bv: [__m512; V] =
                std::array::from_fn(|v| unsafe { _mm512_maskz_loadu_ps(masks[v], br.add(16 * v)) });
            let ar = unsafe { a.add(p * csa) };
            for (r, row) in acc.iter_mut().enumerate() {
                let av = _mm512_set1_ps(unsafe { *ar.add(r * rsa) });
                for (acc, &bv) in row.iter_mut().zip(&bv) {
                    *acc = _mm512_fmadd_ps(av, bv, *acc);
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
