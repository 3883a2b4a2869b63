//! Products with one short side, read straight from their operands without packing the long
//! one: the two backward products of a wide layer (a language model's 100 → 10,000 output
//! Affine over 700 rows), where a general product first copies the 700 × 10,000 score
//! gradient into panels.
//!
//! - `xᵀ g` (the weight's gradient): `m` short, `x (k, m)` and `g (k, n)` row-major; also
//!   `x w` with `x (m, k)` row-major (a batch of at most 256 rows through a layer, the scores
//!   of a block of rows, an LSTM step's `h Wh`), where matrixmultiply packs the whole of `w`
//!   on every call (also a single row: one image through a wide layer in `f64`); any number
//!   of rows where `b` has at most 128 KB (a layer's 784 × 100 × 100 in `f32`, a
//!   convolution's unrolled pixels against its filters), which then stays in L2.
//! - `g wᵀ` (the input's gradient): `n` short, `g (m, k)` row-major; `wᵀ` is copied into rows
//!   once (`k · n` elements, a fraction of `g`).
//!
//! One kernel does both: tiles of up to 6 rows × 4 vectors (or 3 × 7 where `n` fits 7
//! vectors) of `c` stay in registers over a pass of 768 steps of `k`, `a`'s elements are
//! broadcast from wherever its strides put them, and `b`'s rows are loaded in place (copied
//! together first where they lie a multiple of 4 KB apart); a strip of `b` stays in L2 for
//! every tile of rows. A last vector of a few columns becomes dot products of `a`'s rows.
//! Written once over the element type (`f32`, `f64`) and compiled for AVX-512 (16 and 8
//! lanes; strips and limits are the same bytes in both) and for AVX2 with FMA, whose 16
//! registers take tiles of 6 rows × 2 vectors over passes of 256 steps (the strip then stays
//! in L1); the portable path keeps `gemm`'s general one. On AVX2 the same tiles also run the
//! panel kernel's `f32` products over packed panels (`gemm_packed`).

use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis};

use super::isa::Isa;
use super::split_with;

/// The element types the kernel runs on.
#[cfg(target_arch = "x86_64")]
pub(crate) trait Elem: avx512::Lanes + avx2::Lanes {}
#[cfg(target_arch = "x86_64")]
impl<T: avx512::Lanes + avx2::Lanes> Elem for T {}
#[cfg(not(target_arch = "x86_64"))]
pub(crate) trait Elem: crate::float::Float {}
#[cfg(not(target_arch = "x86_64"))]
impl<T: crate::float::Float> Elem for T {}

/// The short side's limit for `xᵀ g`: beyond it the general product's packing pays for itself.
const SHORT_M_MAX: usize = 256;
/// A `b` this small (bytes) stays in L2 for any number of rows: then `m` has no limit.
const SMALL_B: usize = 1 << 17;
/// The short side's limit for `g wᵀ`: one strip of at most 7 vectors.
const SHORT_N_MAX_VECTORS: usize = 7;
/// `g wᵀ` from this inner dimension on (an LSTM step's `da Whᵀ`, k = 4H, ran at 103
/// GFLOP/s here against matrixmultiply's 48).
const SHORT_N_MIN_K: usize = 256;
/// A product with one strip of columns (`n` at most 7 vectors) and a `b` larger than
/// this (bytes; half of L2) is split over the threads along `k`, for at most
/// `SPLIT_K_MAX_M` rows (the partial sums are `m × n` each): split along `m`, every thread
/// would read all of `b`. A language model's `g wᵀ` at 2 threads, 104 × 10,000 × 100: 171 →
/// 180 and 171 → 173 GFLOP/s; its last block of 76 rows 152 → 165 and 143 → 157 (the two ways
/// alternating in one process).
const SPLIT_K_MIN_B: usize = 1 << 19;
const SPLIT_K_MAX_M: usize = 256;
/// Products smaller than this (multiply-adds) stay on the general path. From here on the kernel
/// ran 1.3–2.6× matrixmultiply's speed at every shape it takes that was tried (one thread; an
/// attention's 10 × 256 × 29 5.8 → 3.5 µs, 10 × 29 × 256 3.7 → 1.4 µs, 20 × 100 × 100 8.2 → 3.9 µs).
const MIN_MACS: usize = 1 << 14;

/// On AVX2, `xᵀ g` (`a` with contiguous columns) over more than one pass of `k` lost to
/// matrixmultiply (100 × 700 × 200: 68 against 75 GFLOP/s; 784 × 50 × 100 won, 78 against 72).
const AVX2_COLS_MAX_K: usize = 256;

/// Elements of `T` in one cache line (one AVX-512 vector): the unit of the form's limits on
/// every path.
fn lanes<T>() -> usize {
    64 / size_of::<T>()
}

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

fn form<T: Elem>(
    isa: Isa,
    a: &ArrayView2<'_, T>,
    b: &ArrayView2<'_, T>,
    c: &ArrayViewMut2<'_, T>,
) -> Option<Form> {
    let ((m, k), n) = (a.dim(), b.ncols());
    let (lanes, size) = (lanes::<T>(), size_of::<T>());
    // Contiguous rows `len` long (or columns), however far apart: ndarray gives an axis of
    // length 1 the stride 0.
    let rows = |x: &[usize], s: &[isize]| s[1] == 1 && (x[0] == 1 || s[0] >= x[1] as isize);
    let cols = |x: &[usize], s: &[isize]| s[0] == 1 && (x[1] == 1 || s[1] >= x[0] as isize);
    let (a, b, c) = (
        (a.shape(), a.strides()),
        (b.shape(), b.strides()),
        (c.shape(), c.strides()),
    );
    if m * n * k < MIN_MACS || !rows(c.0, c.1) || a.1[0] < 0 || a.1[1] < 0 {
        return None;
    }
    let a_rows = rows(a.0, a.1);
    if (m <= SHORT_M_MAX || k * n * size <= SMALL_B)
        && n >= lanes
        && (a_rows || (cols(a.0, a.1) && (isa != Isa::Avx2 || k <= AVX2_COLS_MAX_K)))
        && rows(b.0, b.1)
    {
        return Some(Form::ShortM);
    }
    if n <= SHORT_N_MAX_VECTORS * lanes
        && k >= SHORT_N_MIN_K
        && rows(a.0, a.1)
        && (rows(b.0, b.1) || cols(b.0, b.1))
    {
        return Some(Form::ShortN);
    }
    None
}

#[cfg(test)]
pub(super) fn form_of<T: Elem>(
    isa: Isa,
    a: &ArrayView2<'_, T>,
    b: &ArrayView2<'_, T>,
    c: &ArrayViewMut2<'_, T>,
) -> Option<String> {
    form(isa, a, b, c).map(|f| format!("{f:?}"))
}

/// Whether the kernel has a path for `isa` (and this CPU runs it).
fn runs_on(isa: Isa) -> bool {
    cfg!(target_arch = "x86_64") && isa != Isa::Portable && isa.supported()
}

/// `c = α a b + β c` by the kernel below, split over `threads` along the longer side of `c`
/// (`kernels::split_with`); `false` (nothing done) where no form fits or the path is the
/// portable one.
pub(crate) fn gemm<T: Elem>(
    isa: Isa,
    threads: usize,
    alpha: T,
    a: &ArrayView2<'_, T>,
    b: &ArrayView2<'_, T>,
    beta: T,
    c: &mut ArrayViewMut2<'_, T>,
) -> bool {
    if !runs_on(isa) || form(isa, a, b, c).is_none() {
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
    let short_n = n <= SHORT_N_MAX_VECTORS * lanes::<T>();
    if short_n && threads > 1 && m <= SPLIT_K_MAX_M && k * n * size_of::<T>() > SPLIT_K_MIN_B {
        split_k(isa, threads, alpha, a.view(), b, beta, c.view_mut());
    } else {
        split_with(
            threads.max(1),
            alpha,
            a.view(),
            b,
            beta,
            c.view_mut(),
            &|alpha, a, b, beta, c| serial(isa, alpha, a, b, beta, c),
        );
    }
    true
}

/// `a b` split over `parts` threads along `k`: the first part adds into `c`, each other into
/// zeros of its own, added to `c` after.
fn split_k<T: Elem>(
    isa: Isa,
    parts: usize,
    alpha: T,
    a: ArrayView2<'_, T>,
    b: ArrayView2<'_, T>,
    beta: T,
    mut c: ArrayViewMut2<'_, T>,
) {
    let left = parts / 2;
    // Cuts on whole cache lines of `a`'s rows.
    let mid = (a.ncols() * left / parts) & !(lanes::<T>() - 1);
    if parts < 2 || mid == 0 {
        serial(isa, alpha, &a, &b, beta, &mut c);
        return;
    }
    let (a0, a1) = a.split_at(Axis(1), mid);
    let (b0, b1) = b.split_at(Axis(0), mid);
    let mut rest = Array2::<T>::zeros(c.dim());
    super::team::join(
        parts,
        || split_k(isa, left, alpha, a0, b0, beta, c.view_mut()),
        || split_k(isa, parts - left, alpha, a1, b1, T::zero(), rest.view_mut()),
    );
    c += &rest;
}

#[allow(unsafe_code)]
fn serial<T: Elem>(
    isa: Isa,
    alpha: T,
    a: &ArrayView2<'_, T>,
    b: &ArrayView2<'_, T>,
    beta: T,
    c: &mut ArrayViewMut2<'_, T>,
) {
    let ((m, k), n) = (a.dim(), b.ncols());
    let (sa, ldb, ldc) = (a.strides(), b.strides()[0], c.strides()[0]);
    let (pa, pb, pc) = (a.as_ptr(), b.as_ptr(), c.as_mut_ptr());
    let t = (
        (m, n, k),
        alpha,
        (pa, sa[0] as usize, sa[1] as usize),
        (pb, ldb as usize),
        beta,
        (pc, ldc as usize),
    );
    // SAFETY: `gemm` checked that the CPU has the path, and `form` that every stride is
    // positive, `b`'s and `c`'s rows contiguous, and the views hold the elements the kernel
    // reads and writes.
    #[cfg(target_arch = "x86_64")]
    unsafe {
        if isa == Isa::Avx512 {
            avx512::gemm(t.0, t.1, t.2, t.3, t.4, t.5);
        } else {
            avx2::gemm(t.0, t.1, t.2, t.3, t.4, t.5);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    unreachable!("x86-64 only: {isa:?} {t:?}")
}

/// The panel kernel's product (`kernels::isa::gemm_packed`: `out (m, n) += A (m, k) · W`, `W`
/// packed in panels of 16 columns) through this kernel's tiles where AVX2 runs it with two
/// vectors to a panel (`f32`); elsewhere the generic loop. The generic tile, compiled for AVX2,
/// kept four of its twelve accumulators on the stack (1024³ at 40–54 GFLOP/s on Zen 3, where
/// matrixmultiply ran 66–76).
pub(crate) fn gemm_packed<T: Elem>(
    isa: Isa,
    (a, ld, cols): (&[T], usize, bool),
    (m, k): (usize, usize),
    w: &[T],
    n: usize,
    out: &mut [T],
) {
    #[cfg(target_arch = "x86_64")]
    if isa >= Isa::Avx2 && Isa::Avx2.supported() && <T as avx2::Lanes>::LANES == 8 {
        assert!(
            out.len() >= m * n && w.len() >= crate::kernels::packed::padded_width(n) * k,
            "gemm_packed: {m} × {n} output in {}, {k} × {n} panels in {}",
            out.len(),
            w.len()
        );
        let (rsa, csa) = if cols { (1, ld) } else { (ld, 1) };
        if m > 0 && k > 0 {
            assert!(
                a.len() > (m - 1) * rsa + (k - 1) * csa,
                "gemm_packed: a {m} × {k} (strides {rsa}, {csa}) in {}",
                a.len()
            );
        }
        // SAFETY: the CPU has AVX2 and FMA; the asserts bound every element read and written.
        #[allow(unsafe_code)]
        unsafe {
            avx2::panels(
                (m, k),
                (a.as_ptr(), rsa, csa),
                w.as_ptr(),
                n,
                out.as_mut_ptr(),
            )
        };
        return;
    }
    super::isa::gemm_packed(isa, (a, ld, cols), (m, k), w, n, out)
}

/// A `match` of `(rows, columns)` calling `f::<T, R, C>(args)` for each pair listed.
#[cfg(target_arch = "x86_64")]
macro_rules! by_tile {
    ($shape:expr, $f:ident, $args:tt, [$(($r:literal, $c:literal))*]) => {
        match $shape {
            $( ($r, $c) => unsafe { $f::<T, $r, $c> $args }, )*
            (r, c) => unreachable!("no tile of {r} rows × {c}"),
        }
    };
}

/// The kernel's loops, written once and compiled into each instruction set's module with
/// `$features` enabled; the module gives `Lanes` for `f32` and `f64`, the tile shapes
/// (`$tiles`, and `$dots` for the dot products) and `WHOLE_MAX`, `STRIP`, `ACC` (accumulators
/// that fit the register file) and `DOT_ROWS`.
#[cfg(target_arch = "x86_64")]
macro_rules! loops {
    ($features:literal, $tiles:tt, $dots:tt) => {
        /// `b`'s rows this many bytes apart, or a multiple, fall into the same L2 sets
        /// every 32 rows; beyond `PACK_MIN_K` rows (8 to a set, L2's ways) a strip is copied
        /// together. An LSTM's `Wh` gradient at H = 256 (256 × 3712 × 1024) went 89 → 108 GFLOP/s;
        /// rows 2 KB apart (H = 128) measured slower copied.
        const PACK_STRIDE: usize = 4096;
        const PACK_MIN_K: usize = 256;
        const PACK_MIN_M: usize = 64;
        /// The widest last vector whose columns go to dot products, from this `k` on.
        const DOTS_MAX: usize = 4;
        const DOTS_MIN_K: usize = 256;

        /// An element type the kernel runs on: its vector, its mask, and the operations used.
        pub(crate) trait Lanes: crate::float::Float {
            /// Elements per vector.
            const LANES: usize;
            type V: Copy;
            type M: Copy;
            /// The first `cols` lanes (all from `LANES` on).
            unsafe fn mask(cols: usize) -> Self::M;
            unsafe fn vzero() -> Self::V;
            unsafe fn splat(x: Self) -> Self::V;
            unsafe fn load(m: Self::M, p: *const Self) -> Self::V;
            /// A whole vector.
            unsafe fn load_whole(p: *const Self) -> Self::V;
            unsafe fn store(p: *mut Self, m: Self::M, v: Self::V);
            /// `a b + c`.
            unsafe fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
            unsafe fn vmul(a: Self::V, b: Self::V) -> Self::V;
            unsafe fn hsum(v: Self::V) -> Self;
        }

        /// Rows per tile for `v` vectors of columns: at most `ACC` accumulators.
        fn rows_for(v: usize) -> usize {
            (ACC / v).clamp(1, 6)
        }

        /// `c (m, n) = α a b + β c`: `a`'s element `(i, p)` at `i · rsa + p · csa`, `b` and `c`
        /// row-major with rows `ldb` and `ldc` apart.
        #[target_feature(enable = $features)]
        pub(super) unsafe fn gemm<T: Lanes>(
            (m, n, k): (usize, usize, usize),
            alpha: T,
            (a, rsa, csa): (*const T, usize, usize),
            (b, ldb): (*const T, usize),
            beta: T,
            (c, ldc): (*mut T, usize),
        ) {
            // A last vector of at most `DOTS_MAX` columns would cost as much as a full one on every
            // step of `k`: those columns are dot products of `a`'s rows instead, where they are
            // contiguous (784 × 50 ran as 784 × 64, 10,000 × 100 as 10,000 × 112).
            let rest = n % T::LANES;
            let dots = csa == 1 && n > T::LANES && rest <= DOTS_MAX && rest > 0 && k >= DOTS_MIN_K;
            let main = if dots { n - rest } else { n };
            unsafe {
                vectors(
                    (m, main, k),
                    n - main,
                    alpha,
                    (a, rsa, csa),
                    (b, ldb),
                    beta,
                    (c, ldc),
                )
            };
        }

        /// `out (m, n) += a · w`, `w` packed in panels (`kernels::packed`): for each pass of
        /// `k`, tiles of 6 rows against every panel in turn (the pass's panels stay in L2, the
        /// rows' slice of `a` in L1).
        #[target_feature(enable = $features)]
        #[allow(dead_code)]
        pub(super) unsafe fn panels<T: Lanes>(
            (m, k): (usize, usize),
            (a, rsa, csa): (*const T, usize, usize),
            w: *const T,
            n: usize,
            out: *mut T,
        ) {
            let mut kb = 0;
            while kb < k {
                let ke = (kb + KC).min(k);
                let mut i = 0;
                while i < m {
                    let rows = (m - i).min(6);
                    let mut j = 0;
                    while j < n {
                        let nb = crate::kernels::packed::panel_width(n - j);
                        let t = (ke - kb, rsa, csa, nb, n, nb.min(n - j), T::one(), T::one());
                        let (at, bt, ct) = unsafe {
                            (
                                a.add(i * rsa + kb * csa),
                                w.add(j * k + kb * nb),
                                out.add(i * n + j),
                            )
                        };
                        by_tile!((rows, nb / T::LANES), tile, (at, bt, ct, t), $tiles);
                        j += nb;
                    }
                    i += rows;
                }
                kb = ke;
            }
        }

        /// Columns `..rest` of `c` as dot products: `bᵀ`'s rows gathered a pass of `k` at a time,
        /// then tiles of rows of `a` against all of them.
        #[target_feature(enable = $features)]
        unsafe fn dot_columns<T: Lanes>(
            (m, rest, k, alpha, beta): (usize, usize, usize, T, T),
            (a, rsa): (*const T, usize),
            (b, ldb): (*const T, usize),
            (c, ldc): (*mut T, usize),
        ) {
            let mut bt = vec![T::zero(); rest * KC];
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
                let beta = if kb == 0 { beta } else { T::one() };
                let mut i = 0;
                while i < m {
                    let rows = (m - i).min(DOT_ROWS);
                    let at = unsafe { a.add(i * rsa + kb) };
                    let ct = unsafe { c.add(i * ldc) };
                    let t = (len, rsa, ldc, alpha, beta);
                    by_tile!((rows, rest), dot_tile, (at, bt.as_ptr(), ct, t), $dots);
                    i += rows;
                }
                kb = ke;
            }
        }

        /// `c`'s `R × C` tile `= α Σ_p a[r, p] bt[j, p] + β c`: `a`'s rows `rsa` apart and
        /// contiguous, `bt`'s rows `k` long, one after another.
        #[target_feature(enable = $features)]
        #[inline(never)]
        unsafe fn dot_tile<T: Lanes, const R: usize, const C: usize>(
            a: *const T,
            bt: *const T,
            c: *mut T,
            (k, rsa, ldc, alpha, beta): (usize, usize, usize, T, T),
        ) {
            let mut acc = [[unsafe { T::vzero() }; C]; R];
            let step = |acc: &mut [[T::V; C]; R], p: usize, load: &dyn Fn(*const T) -> T::V| {
                let bv: [T::V; C] = std::array::from_fn(|j| load(unsafe { bt.add(j * k + p) }));
                for (r, row) in acc.iter_mut().enumerate() {
                    let av = load(unsafe { a.add(r * rsa + p) });
                    for (acc, &bv) in row.iter_mut().zip(&bv) {
                        *acc = unsafe { T::fma(av, bv, *acc) };
                    }
                }
            };
            let whole = k - k % T::LANES;
            for p in (0..whole).step_by(T::LANES) {
                step(&mut acc, p, &|x| unsafe { T::load_whole(x) });
            }
            if whole < k {
                let m = unsafe { T::mask(k - whole) };
                step(&mut acc, whole, &|x| unsafe { T::load(m, x) });
            }
            for (r, row) in acc.iter().enumerate() {
                for (j, &v) in row.iter().enumerate() {
                    let at = unsafe { c.add(r * ldc + j) };
                    let sum = alpha * unsafe { T::hsum(v) };
                    unsafe {
                        *at = if beta != T::zero() {
                            sum + beta * *at
                        } else {
                            sum
                        }
                    };
                }
            }
        }

        /// [`gemm`] with its first `n` columns in vectors and the `dots` after them as dot
        /// products (`a`'s rows contiguous), each pass of `k` at a time.
        #[target_feature(enable = $features)]
        unsafe fn vectors<T: Lanes>(
            (m, n, k): (usize, usize, usize),
            dots: usize,
            alpha: T,
            (a, rsa, csa): (*const T, usize, usize),
            (b, ldb): (*const T, usize),
            beta: T,
            (c, ldc): (*mut T, usize),
        ) {
            let strip = if n <= WHOLE_MAX * T::LANES {
                n
            } else {
                STRIP * T::LANES
            };
            // Rows of `b` a multiple of 4 KB apart share L2's sets, and a strip of hundreds of them
            // does not stay there: such a strip is copied together once for all the row tiles.
            let pack = (ldb * size_of::<T>()).is_multiple_of(PACK_STRIDE)
                && k > PACK_MIN_K
                && m >= PACK_MIN_M;
            let mut packed = if pack {
                vec![T::zero(); KC * strip]
            } else {
                Vec::new()
            };
            // Passes of equal length, none longer than `KC` (784 as 4 × 196, not 3 × 256 + 16).
            let kc = k.div_ceil(k.div_ceil(KC));
            let mut kb = 0;
            while kb < k {
                let ke = (kb + kc).min(k);
                let beta = if kb == 0 { beta } else { T::one() };
                let mut j = 0;
                while j < n {
                    let cols = (n - j).min(strip);
                    let vecs = cols.div_ceil(T::LANES);
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
                    // are in L2 when this strip is done. A `b` that fits L2 is there already, and
                    // the requests only take the loads' ports.
                    let next = if k * n * size_of::<T>() <= PREFETCH_MIN_B {
                        None
                    } else if j + cols < n {
                        Some((kb, ke, j + cols, (n - j - cols).min(strip)))
                    } else {
                        (ke < k && n > strip).then(|| (ke, (ke + kc).min(k), 0, strip))
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
                                for l in (0..cols).step_by(T::LANES) {
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
                        by_tile!((rows, vecs), tile, (at, bt, ct, t), $tiles);
                        i += rows;
                    }
                    j += cols;
                }
                if dots > 0 {
                    // Over the same pass, while its part of `a` is still in L2 (after the whole
                    // product, `a` had to come back from L3).
                    let t = (m, dots, ke - kb, alpha, beta);
                    let (at, bt, ct) = unsafe { (a.add(kb), b.add(kb * ldb + n), c.add(n)) };
                    unsafe { dot_columns(t, (at, rsa), (bt, ldb), (ct, ldc)) };
                }
                kb = ke;
            }
        }

        #[target_feature(enable = $features)]
        #[inline(never)]
        #[allow(clippy::type_complexity)]
        unsafe fn tile<T: Lanes, const R: usize, const V: usize>(
            a: *const T,
            b: *const T,
            c: *mut T,
            (k, rsa, csa, ldb, ldc, cols, alpha, beta): (
                usize,
                usize,
                usize,
                usize,
                usize,
                usize,
                T,
                T,
            ),
        ) {
            let masks: [T::M; V] = std::array::from_fn(|v| unsafe { T::mask(cols - T::LANES * v) });
            if beta != T::zero() {
                // `c`'s tile is read at the end, from L3 when `c` is a wide weight's gradient: ask
                // for it now, so that the loop hides the wait.
                for r in 0..R {
                    for v in 0..V {
                        unsafe {
                            _mm_prefetch::<_MM_HINT_T0>(c.add(r * ldc + T::LANES * v).cast())
                        };
                    }
                }
            }
            let t = (k, rsa, csa, ldb);
            // Only the last vector may be cut short: the loop is compiled twice, so that a whole
            // one costs no mask.
            let acc = if cols == T::LANES * V {
                unsafe { fmas::<T, R, V, true>(a, b, t, masks[V - 1]) }
            } else {
                unsafe { fmas::<T, R, V, false>(a, b, t, masks[V - 1]) }
            };
            unsafe { store(acc, c, ldc, &masks, alpha, beta) };
        }

        /// The `R × V` accumulators of [`tile`]'s pass over `k`; the last vector of `b`'s rows
        /// loaded through `last` unless `WHOLE`.
        #[target_feature(enable = $features)]
        #[inline]
        unsafe fn fmas<T: Lanes, const R: usize, const V: usize, const WHOLE: bool>(
            a: *const T,
            b: *const T,
            (k, rsa, csa, ldb): (usize, usize, usize, usize),
            last: T::M,
        ) -> [[T::V; V]; R] {
            let mut acc = [[unsafe { T::vzero() }; V]; R];
            for p in 0..k {
                let br = unsafe { b.add(p * ldb) };
                let bv: [T::V; V] = std::array::from_fn(|v| {
                    let at = unsafe { br.add(T::LANES * v) };
                    if WHOLE || v + 1 < V {
                        unsafe { T::load_whole(at) }
                    } else {
                        unsafe { T::load(last, at) }
                    }
                });
                let ar = unsafe { a.add(p * csa) };
                for (r, row) in acc.iter_mut().enumerate() {
                    let av = unsafe { T::splat(*ar.add(r * rsa)) };
                    for (acc, &bv) in row.iter_mut().zip(&bv) {
                        *acc = unsafe { T::fma(av, bv, *acc) };
                    }
                }
            }
            acc
        }

        /// `c = α acc + β c` for a tile of `R` rows, `ldc` apart.
        #[target_feature(enable = $features)]
        #[inline]
        unsafe fn store<T: Lanes, const R: usize, const V: usize>(
            acc: [[T::V; V]; R],
            c: *mut T,
            ldc: usize,
            masks: &[T::M; V],
            alpha: T,
            beta: T,
        ) {
            let (va, vb) = unsafe { (T::splat(alpha), T::splat(beta)) };
            for (r, row) in acc.iter().enumerate() {
                for (v, &a) in row.iter().enumerate() {
                    let p = unsafe { c.add(r * ldc + T::LANES * v) };
                    let mut out = unsafe { T::vmul(va, a) };
                    if beta != T::zero() {
                        let old = unsafe { T::load(masks[v], p) };
                        out = unsafe { T::fma(vb, old, out) };
                    }
                    unsafe { T::store(p, masks[v], out) };
                }
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod avx512 {
    use std::arch::x86_64::*;

    /// The widest strip of columns taken whole, and the strip beyond it (vectors).
    const WHOLE_MAX: usize = 7;
    const STRIP: usize = 4;
    /// Accumulators in a tile (of 32 registers), and rows in a tile of dot products.
    const ACC: usize = 24;
    const DOT_ROWS: usize = 6;
    /// `k` per pass, so that a strip of `b` stays in L2.
    const KC: usize = 768;
    /// Every `b` is prefetched strip by strip.
    const PREFETCH_MIN_B: usize = 0;

    macro_rules! lanes {
        ($t:ty, $lanes:literal, $v:ty, $m:ty, $zero:ident, $set1:ident, $load:ident, $loadu:ident, $store:ident, $fma:ident, $mul:ident, $sum:ident) => {
            impl Lanes for $t {
                const LANES: usize = $lanes;
                type V = $v;
                type M = $m;
                #[inline]
                unsafe fn mask(cols: usize) -> $m {
                    if cols >= $lanes {
                        <$m>::MAX
                    } else {
                        (1 << cols) - 1
                    }
                }
                #[inline]
                #[target_feature(enable = "avx512f")]
                unsafe fn vzero() -> $v {
                    $zero()
                }
                #[inline]
                #[target_feature(enable = "avx512f")]
                unsafe fn splat(x: $t) -> $v {
                    $set1(x)
                }
                #[inline]
                #[target_feature(enable = "avx512f")]
                unsafe fn load(m: $m, p: *const $t) -> $v {
                    unsafe { $load(m, p) }
                }
                #[inline]
                #[target_feature(enable = "avx512f")]
                unsafe fn load_whole(p: *const $t) -> $v {
                    unsafe { $loadu(p) }
                }
                #[inline]
                #[target_feature(enable = "avx512f")]
                unsafe fn store(p: *mut $t, m: $m, v: $v) {
                    unsafe { $store(p, m, v) }
                }
                #[inline]
                #[target_feature(enable = "avx512f")]
                unsafe fn fma(a: $v, b: $v, c: $v) -> $v {
                    $fma(a, b, c)
                }
                #[inline]
                #[target_feature(enable = "avx512f")]
                unsafe fn vmul(a: $v, b: $v) -> $v {
                    $mul(a, b)
                }
                #[inline]
                #[target_feature(enable = "avx512f")]
                unsafe fn hsum(v: $v) -> $t {
                    $sum(v)
                }
            }
        };
    }
    lanes!(
        f32,
        16,
        __m512,
        u16,
        _mm512_setzero_ps,
        _mm512_set1_ps,
        _mm512_maskz_loadu_ps,
        _mm512_loadu_ps,
        _mm512_mask_storeu_ps,
        _mm512_fmadd_ps,
        _mm512_mul_ps,
        _mm512_reduce_add_ps
    );
    lanes!(
        f64,
        8,
        __m512d,
        u8,
        _mm512_setzero_pd,
        _mm512_set1_pd,
        _mm512_maskz_loadu_pd,
        _mm512_loadu_pd,
        _mm512_mask_storeu_pd,
        _mm512_fmadd_pd,
        _mm512_mul_pd,
        _mm512_reduce_add_pd
    );

    #[rustfmt::skip]
    loops!(
        "avx512f",
        [(1, 1) (2, 1) (3, 1) (4, 1) (5, 1) (6, 1)
         (1, 2) (2, 2) (3, 2) (4, 2) (5, 2) (6, 2)
         (1, 3) (2, 3) (3, 3) (4, 3) (5, 3) (6, 3)
         (1, 4) (2, 4) (3, 4) (4, 4) (5, 4) (6, 4)
         (1, 5) (2, 5) (3, 5) (4, 5)
         (1, 6) (2, 6) (3, 6) (4, 6)
         (1, 7) (2, 7) (3, 7)],
        [(1, 1) (2, 1) (3, 1) (4, 1) (5, 1) (6, 1)
         (1, 2) (2, 2) (3, 2) (4, 2) (5, 2) (6, 2)
         (1, 3) (2, 3) (3, 3) (4, 3) (5, 3) (6, 3)
         (1, 4) (2, 4) (3, 4) (4, 4) (5, 4) (6, 4)]
    );
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod avx2 {
    use std::arch::x86_64::*;

    /// The widest strip of columns taken whole, and the strip beyond it (vectors).
    const WHOLE_MAX: usize = 2;
    const STRIP: usize = 2;
    /// Accumulators in a tile (of 16 registers: tiles of 4 × 3 spilled and ran at half the
    /// speed of 6 × 2), and rows in a tile of dot products.
    const ACC: usize = 12;
    const DOT_ROWS: usize = 3;
    /// `k` per pass, so that a strip of `b` stays in L1.
    const KC: usize = 256;
    /// A `b` up to this size (bytes) is not prefetched strip by strip: it stays in L2 (512 KB
    /// on Zen 3), where the requests cost 3–5% (one thread, best of 200 alternating runs:
    /// 100 × 784 × 100 79.6 → 84.0 GFLOP/s, 784 × 100 × 100 81.1 → 84.1, 100 × 50 × 100 82.3
    /// → 85.2).
    const PREFETCH_MIN_B: usize = 1 << 19;

    /// AVX2's masked loads and stores cost more than plain ones (the store many times more on
    /// AMD's cores): a mask says whether it is whole.
    #[derive(Clone, Copy)]
    pub(crate) struct Mask {
        whole: bool,
        lanes: __m256i,
    }

    macro_rules! lanes {
        ($t:ty, $lanes:literal, $v:ty, $zero:ident, $set1:ident, $loadu:ident, $mload:ident, $storeu:ident, $mstore:ident, $fma:ident, $mul:ident) => {
            impl Lanes for $t {
                const LANES: usize = $lanes;
                type V = $v;
                type M = Mask;
                #[inline]
                #[target_feature(enable = "avx2,fma")]
                unsafe fn mask(cols: usize) -> Mask {
                    let first: [i64; 8] = std::array::from_fn(|l| if l < cols { -1 } else { 0 });
                    let bits: [i32; 8] = std::array::from_fn(|l| first[l * $lanes / 8] as i32);
                    Mask {
                        whole: cols >= $lanes,
                        lanes: unsafe { _mm256_loadu_si256(bits.as_ptr().cast()) },
                    }
                }
                #[inline]
                #[target_feature(enable = "avx2,fma")]
                unsafe fn vzero() -> $v {
                    $zero()
                }
                #[inline]
                #[target_feature(enable = "avx2,fma")]
                unsafe fn splat(x: $t) -> $v {
                    $set1(x)
                }
                #[inline]
                #[target_feature(enable = "avx2,fma")]
                unsafe fn load(m: Mask, p: *const $t) -> $v {
                    if m.whole {
                        unsafe { $loadu(p) }
                    } else {
                        unsafe { $mload(p, m.lanes) }
                    }
                }
                #[inline]
                #[target_feature(enable = "avx2,fma")]
                unsafe fn load_whole(p: *const $t) -> $v {
                    unsafe { $loadu(p) }
                }
                #[inline]
                #[target_feature(enable = "avx2,fma")]
                unsafe fn store(p: *mut $t, m: Mask, v: $v) {
                    if m.whole {
                        unsafe { $storeu(p, v) }
                    } else {
                        unsafe { $mstore(p, m.lanes, v) }
                    }
                }
                #[inline]
                #[target_feature(enable = "avx2,fma")]
                unsafe fn fma(a: $v, b: $v, c: $v) -> $v {
                    $fma(a, b, c)
                }
                #[inline]
                #[target_feature(enable = "avx2,fma")]
                unsafe fn vmul(a: $v, b: $v) -> $v {
                    $mul(a, b)
                }
                #[inline]
                #[target_feature(enable = "avx2,fma")]
                unsafe fn hsum(v: $v) -> $t {
                    let lanes: [$t; $lanes] = unsafe { std::mem::transmute(v) };
                    // Pairwise, as a reduction in registers would add them.
                    let mut half = $lanes / 2;
                    let mut s = lanes;
                    while half > 0 {
                        for l in 0..half {
                            s[l] += s[l + half];
                        }
                        half /= 2;
                    }
                    s[0]
                }
            }
        };
    }
    lanes!(
        f32,
        8,
        __m256,
        _mm256_setzero_ps,
        _mm256_set1_ps,
        _mm256_loadu_ps,
        _mm256_maskload_ps,
        _mm256_storeu_ps,
        _mm256_maskstore_ps,
        _mm256_fmadd_ps,
        _mm256_mul_ps
    );
    lanes!(
        f64,
        4,
        __m256d,
        _mm256_setzero_pd,
        _mm256_set1_pd,
        _mm256_loadu_pd,
        _mm256_maskload_pd,
        _mm256_storeu_pd,
        _mm256_maskstore_pd,
        _mm256_fmadd_pd,
        _mm256_mul_pd
    );

    #[rustfmt::skip]
    loops!(
        "avx2,fma",
        [(1, 1) (2, 1) (3, 1) (4, 1) (5, 1) (6, 1)
         (1, 2) (2, 2) (3, 2) (4, 2) (5, 2) (6, 2)],
        [(1, 1) (2, 1) (3, 1)
         (1, 2) (2, 2) (3, 2)
         (1, 3) (2, 3) (3, 3)
         (1, 4) (2, 4) (3, 4)]
    );
}
