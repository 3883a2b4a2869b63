//! The compute core of `conv2d`, one image at a time: the image is unrolled into a scratch
//! matrix `col (positions, c·kh·kw)` that stays in cache, read in place by every product:
//! `yᵢ = W colᵢ` (written in the output's own `(o, positions)` layout, its bias first),
//! `dWᵀ += colᵢᵀ · gᵢᵀ`, `dcolᵢ = gᵢᵀ · W`. Images are shared out over threads in contiguous runs (one task per
//! thread), so a batch keeps both cores busy without a hand-off per product. Nothing of the
//! size of the unrolled batch is kept: backward unrolls each image again, which costs less than
//! the memory traffic of keeping it.

use std::ops::Range;

use ndarray::{ArrayView2, ArrayViewMut2, Axis};

use super::conv::Window;
use crate::float::Float;
use crate::kernels;

/// Unrolls image `x` (`c·h·w` values) into `col` (`patch × positions`, row-major): row
/// `(c, ki, kj)` holds, for every output position, the input under that kernel element. With
/// stride 1 each output row of it is one contiguous copy. Where the output is as wide as the
/// image every value is written; otherwise the elements that fall in the padding are not:
/// they are the same for every image, so a buffer zeroed once keeps them zero.
pub(crate) fn unroll<T: Float>(x: &[T], win: &Window, col: &mut [T]) {
    unroll_rows(x, win, 0..win.oh, col);
}

/// [`unroll`] for the output rows `rows` alone: `col` is `patch × (rows.len() · ow)`.
fn unroll_rows<T: Float>(x: &[T], win: &Window, rows: Range<usize>, col: &mut [T]) {
    if writes_all(win) {
        unroll_shifted(x, win, rows, col);
        return;
    }
    walk(win, rows, |src, dst, len, step| {
        if step == 1 {
            col[dst..dst + len].copy_from_slice(&x[src..src + len]);
        } else {
            for (t, d) in col[dst..dst + len].iter_mut().enumerate() {
                *d = x[src + t * step];
            }
        }
    });
}

/// Whether [`unroll`] writes every value of `col` (the shifted copies), padding included.
fn writes_all(win: &Window) -> bool {
    win.stride.h == 1 && win.stride.w == 1 && win.ow == win.w
}

/// [`unroll`] where the stride is 1 and the output as wide as the image (a 3×3 kernel with
/// padding 1): each kernel element's row of `col` is the image shifted, so its output rows
/// inside the image are one copy, and the values that the shift brought in from the next or
/// previous image row go back to zero. Every value of `col` is written, so it need not start
/// zeroed. The run-by-run walk made a call per output row and
/// kernel element (28 values each on MNIST), a quarter of a DeepConvNet inference.
fn unroll_shifted<T: Float>(x: &[T], win: &Window, rows: Range<usize>, col: &mut [T]) {
    let (kh, kw, h, w) = (win.kernel.h, win.kernel.w, win.h, win.w);
    let p = rows.len() * w;
    let (r0, r1) = (rows.start as isize, rows.end as isize);
    let (ph, pw) = (win.padding.h as isize, win.padding.w as isize);
    for c in 0..win.c {
        for ki in 0..kh {
            // Output rows (from `r0`) whose input row `oy + ki − ph` lies in the image.
            let lo = ((ph - ki as isize).clamp(r0, r1) - r0) as usize;
            let hi = ((h as isize + ph - ki as isize).clamp(r0, r1) - r0) as usize;
            for kj in 0..kw {
                let row = &mut col[((c * kh + ki) * kw + kj) * p..][..p];
                // Output rows whose input row is padding.
                row[..lo * w].fill(T::zero());
                row[hi.max(lo) * w..].fill(T::zero());
                if lo >= hi {
                    continue;
                }
                // Input column `ox + shift`; position `(r0 + oy)·w + ox` reads
                // `x[at + oy·w + ox]`.
                let shift = kj as isize - pw;
                let at = (c * h * w) as isize + (r0 + ki as isize - ph) * w as isize + shift;
                let (d0, d1) = (lo * w, hi * w);
                let s0 = (at + d0 as isize).max(0);
                let s1 = (at + d1 as isize).min(x.len() as isize);
                if s0 < s1 {
                    let d = (s0 - at) as usize;
                    row[d..d + (s1 - s0) as usize].copy_from_slice(&x[s0 as usize..s1 as usize]);
                }
                // The columns the shift took from outside the row (and any end the copy
                // skipped, which falls among them).
                let (z0, z1) = if shift < 0 {
                    (0, (-shift as usize).min(w))
                } else {
                    (w - (shift as usize).min(w), w)
                };
                // Column by column (a value or two per row: a fill called `memset` for each).
                for z in z0..z1 {
                    for v in row[d0 + z..d1].iter_mut().step_by(w) {
                        *v = T::zero();
                    }
                }
            }
        }
    }
}

/// Adds `col` (`patch × positions`) back into image `dx` (the adjoint of [`unroll`]).
pub(crate) fn roll_back<T: Float>(col: &[T], win: &Window, dx: &mut [T]) {
    walk(win, 0..win.oh, |src, dst, len, step| {
        if step == 1 {
            for (d, &v) in dx[src..src + len].iter_mut().zip(&col[dst..dst + len]) {
                *d += v;
            }
        } else {
            for (t, &v) in col[dst..dst + len].iter().enumerate() {
                dx[src + t * step] += v;
            }
        }
    });
}

/// Calls `f(image offset, col offset, len, image step)` for every run of output columns whose
/// kernel element `(c, ki, kj)` falls inside the image, one output row of `rows` at a time
/// (`col` holding those rows alone).
#[inline(always)]
fn walk(win: &Window, rows: Range<usize>, mut f: impl FnMut(usize, usize, usize, usize)) {
    let (kh, kw, p) = (win.kernel.h, win.kernel.w, rows.len() * win.ow);
    let (sh, sw, ph, pw) = (win.stride.h, win.stride.w, win.padding.h, win.padding.w);
    for c in 0..win.c {
        for ki in 0..kh {
            for kj in 0..kw {
                let row = ((c * kh + ki) * kw + kj) * p;
                // Output columns with `0 ≤ ox·sw + kj − pw < w`.
                let lo = pw.saturating_sub(kj).div_ceil(sw).min(win.ow);
                let hi = if win.w + pw > kj {
                    ((win.w + pw - kj - 1) / sw + 1).min(win.ow)
                } else {
                    0
                };
                if lo >= hi {
                    continue;
                }
                for oy in rows.clone() {
                    let iy = (oy * sh + ki) as isize - ph as isize;
                    if iy < 0 || iy >= win.h as isize {
                        continue;
                    }
                    let src = (c * win.h + iy as usize) * win.w + lo * sw + kj - pw;
                    f(src, row + (oy - rows.start) * win.ow + lo, hi - lo, sw);
                }
            }
        }
    }
}

/// How many runs of images to share out: one per thread, never more than images.
fn parts(n: usize, macs: usize) -> usize {
    if macs < kernels::PAR_MIN_MACS {
        1
    } else {
        kernels::num_threads().min(n).max(1)
    }
}

/// Runs `f(first image, count, out)` on `parts` contiguous runs of the `n` images in parallel
/// (inline for one part), `out` being the run's images of `out` (`per_image` values each) if
/// given; returns the results in run order.
fn over_images<T: Float, R: Send>(
    n: usize,
    parts: usize,
    out: Option<&mut [T]>,
    per_image: usize,
    f: impl Fn(usize, usize, Option<&mut [T]>) -> R + Sync,
) -> Vec<R> {
    let per = n.div_ceil(parts.max(1)).max(1);
    let mut runs: Vec<(usize, usize, Option<&mut [T]>)> = Vec::with_capacity(parts);
    match out {
        Some(out) => {
            for (k, chunk) in out.chunks_mut(per * per_image.max(1)).enumerate() {
                let start = k * per;
                runs.push((start, per.min(n - start), Some(chunk)));
            }
        }
        None => {
            for start in (0..n).step_by(per) {
                runs.push((start, per.min(n - start), None));
            }
        }
    }
    if runs.len() <= 1 {
        return runs.into_iter().map(|(s, len, o)| f(s, len, o)).collect();
    }
    kernels::team::map(runs, &|_, (s, len, o)| f(s, len, o))
}

/// `y (n, o, oh, ow) = conv(x, W) + b` for `x` as `n` contiguous images and `wmat` the
/// weights as `(o, patch)`.
pub(crate) fn forward<T: Float>(
    x: &[T],
    win: &Window,
    wmat: &ArrayView2<'_, T>,
    bias: Option<&[T]>,
    y: &mut [T],
) {
    let macs = win.n * win.positions() * win.patch() * wmat.nrows();
    let threads = kernels::num_threads();
    if win.n == 1 && threads > 1 && macs >= kernels::PAR_MIN_MACS && win.oh > 1 {
        let yv = ArrayViewMut2::from_shape((wmat.nrows(), win.positions()), y)
            .unwrap_or_else(|_| unreachable!("one image's output"));
        forward_rows(threads, x, win, wmat, bias, 0..win.oh, yv);
        return;
    }
    forward_in(parts(win.n, macs), x, win, wmat, bias, y);
}

/// One image's output rows `rows` (`y` holding their positions), split over `parts` threads by
/// output rows: each thread unrolls its rows alone, into its own buffer, so the unrolled image
/// never moves between cores.
fn forward_rows<T: Float>(
    parts: usize,
    x: &[T],
    win: &Window,
    wmat: &ArrayView2<'_, T>,
    bias: Option<&[T]>,
    rows: Range<usize>,
    mut y: ArrayViewMut2<'_, T>,
) {
    let left = parts / 2;
    if parts < 2 || rows.len() < 2 {
        with_col(win, rows.len() * win.ow * win.patch(), |col| {
            unrolled_product(x, win, rows.clone(), wmat, bias, col, y.view_mut());
        });
        return;
    }
    let mid = rows.start + rows.len() * left / parts;
    let (y0, y1) = y.split_at(Axis(1), (mid - rows.start) * win.ow);
    kernels::team::join(
        parts,
        || forward_rows(left, x, win, wmat, bias, rows.start..mid, y0),
        || forward_rows(parts - left, x, win, wmat, bias, mid..rows.end, y1),
    );
}

/// Output rows `rows` of one image `x` into `y` (`o × positions of those rows`): the rows
/// unrolled into `col` (its padding already zero where the walk skips it), each channel's row
/// of `y` set to its bias, then `W col` added: the output in its own `(o, positions)` layout,
/// with no transposing copy.
fn unrolled_product<T: Float>(
    x: &[T],
    win: &Window,
    rows: Range<usize>,
    wmat: &ArrayView2<'_, T>,
    bias: Option<&[T]>,
    col: &mut [T],
    mut y: ArrayViewMut2<'_, T>,
) {
    let p = rows.len() * win.ow;
    unroll_rows(x, win, rows, col);
    let colv = ArrayView2::from_shape((win.patch(), p), &*col)
        .unwrap_or_else(|_| unreachable!("sized by the caller"));
    for (ch, mut row) in y.rows_mut().into_iter().enumerate() {
        row.fill(bias.map_or(T::zero(), |b| b[ch]));
    }
    kernels::gemm_serial(T::one(), wmat, &colv, T::one(), &mut y);
}

/// Runs `f` on `len` values of this thread's buffer for images unrolled through `win`, reused
/// from the last call: zeroed for a walk, which skips the padding (and then keeps it zero for
/// every image `f` unrolls); left as it was for the shifted copies, which write every value.
fn with_col<T: Float, R>(win: &Window, len: usize, f: impl FnOnce(&mut [T]) -> R) -> R {
    let mut buf = T::col_buffer().with(|cell| cell.take());
    if buf.len() < len {
        buf.resize(len, T::zero());
    }
    let col = &mut buf[..len];
    if !writes_all(win) {
        col.fill(T::zero());
    }
    let out = f(col);
    if buf.len() <= COL_KEEP_MAX {
        T::col_buffer().with(|cell| cell.replace(buf));
    }
    out
}

fn forward_in<T: Float>(
    parts: usize,
    x: &[T],
    win: &Window,
    wmat: &ArrayView2<'_, T>,
    bias: Option<&[T]>,
    y: &mut [T],
) {
    let (o, p, patch) = (wmat.nrows(), win.positions(), win.patch());
    let image = win.c * win.h * win.w;
    let out_image = o * p;
    over_images(win.n, parts, Some(y), out_image, |first, count, ys| {
        let ys = ys.unwrap_or_else(|| unreachable!("y was given"));
        with_col(win, p * patch, |col| {
            for i in first..first + count {
                let yi = &mut ys[(i - first) * out_image..(i - first + 1) * out_image];
                let yv = ArrayViewMut2::from_shape((o, p), yi)
                    .unwrap_or_else(|_| unreachable!("one image's output"));
                let xi = &x[i * image..(i + 1) * image];
                unrolled_product(xi, win, 0..win.oh, wmat, bias, col, yv);
            }
        });
    });
}

/// The largest unrolled image (values) a thread keeps between calls.
const COL_KEEP_MAX: usize = 1 << 22;

/// The gradients of [`forward`] for its output gradient `g (n, o, oh, ow)`: `dW` as
/// `(o, patch)` if `dw`, and `dx` (`n` images) if `dx` is given.
pub(crate) fn backward<T: Float>(
    x: &[T],
    win: &Window,
    wmat: &ArrayView2<'_, T>,
    g: &[T],
    want_dw: bool,
    dx: Option<&mut [T]>,
) -> Option<ndarray::Array2<T>> {
    let macs = win.n * win.positions() * win.patch() * wmat.nrows() * 2;
    backward_in(parts(win.n, macs), x, win, wmat, g, want_dw, dx)
}

fn backward_in<T: Float>(
    parts: usize,
    x: &[T],
    win: &Window,
    wmat: &ArrayView2<'_, T>,
    g: &[T],
    want_dw: bool,
    dx: Option<&mut [T]>,
) -> Option<ndarray::Array2<T>> {
    let (o, p, patch) = (wmat.nrows(), win.positions(), win.patch());
    let image = win.c * win.h * win.w;
    let partials = over_images(win.n, parts, dx, image, |first, count, mut dxs| {
        let mut col = vec![T::zero(); if want_dw { p * patch } else { 0 }];
        let mut dcol = vec![T::zero(); if dxs.is_some() { p * patch } else { 0 }];
        let mut dwt = want_dw.then(|| ndarray::Array2::<T>::zeros((patch, o)));
        for i in first..first + count {
            let gi = ArrayView2::from_shape((o, p), &g[i * o * p..(i + 1) * o * p])
                .unwrap_or_else(|_| unreachable!("g is (n, o, oh, ow)"));
            if let Some(dwt) = dwt.as_mut() {
                // dWᵀ += colᵢᵀ · gᵢᵀ, colᵢᵀ being `col` itself.
                unroll(&x[i * image..(i + 1) * image], win, &mut col);
                let colv = ArrayView2::from_shape((patch, p), &col[..])
                    .unwrap_or_else(|_| unreachable!("sized above"));
                kernels::gemm_serial(T::one(), &colv, &gi.t(), T::one(), &mut dwt.view_mut());
            }
            if let Some(dxs) = dxs.as_deref_mut() {
                // dcolᵢᵀ = Wᵀ · gᵢ, in `col`'s layout.
                let mut dcolv = ArrayViewMut2::from_shape((patch, p), &mut dcol[..])
                    .unwrap_or_else(|_| unreachable!("sized above"));
                kernels::gemm_serial(T::one(), &wmat.t(), &gi, T::zero(), &mut dcolv);
                let dxi = &mut dxs[(i - first) * image..(i - first + 1) * image];
                roll_back(&dcol, win, dxi);
            }
        }
        dwt
    });
    if !want_dw {
        return None;
    }
    let mut total: Option<ndarray::Array2<T>> = None;
    for part in partials.into_iter().flatten() {
        match total.as_mut() {
            Some(t) => *t += &part,
            None => total = Some(part),
        }
    }
    total.map(|t| t.t().as_standard_layout().into_owned())
}

#[cfg(test)]
mod tests {
    use ndarray::{Array2, ArrayView4};

    use super::super::conv::{Size2d, Window, col2im, im2col};
    use super::*;
    use crate::float::sealed::Sealed;

    fn values(len: usize, seed: usize) -> Vec<f64> {
        (0..len)
            .map(|i| (((i * 7919 + seed * 104_729) % 1000) as f64 / 500.0) - 1.0)
            .collect()
    }

    /// Forward and both gradients against the book's whole-batch im2col/col2im form, for
    /// several kernel widths (the fixed-size copies), strides and paddings, on one thread and
    /// with the images shared out over 2 and 3 runs.
    #[test]
    fn image_by_image_matches_im2col_on_any_split() {
        for (c, h, w, o, k, stride, pad) in [
            (2, 7, 9, 5, (3, 3), (1, 1), (1, 1)),
            (1, 8, 8, 4, (5, 5), (1, 1), (0, 0)),
            (3, 9, 7, 6, (5, 5), (2, 2), (2, 2)),
            (2, 6, 10, 3, (2, 4), (1, 2), (0, 1)),
            (2, 5, 6, 3, (3, 3), (2, 1), (2, 0)),
            // Stride 1 and the output as wide as the image: the shifted copies.
            (3, 6, 5, 4, (5, 5), (1, 1), (2, 2)),
            (2, 5, 7, 3, (3, 3), (1, 1), (0, 1)),
            (2, 4, 6, 3, (1, 3), (1, 1), (1, 1)),
            (1, 2, 2, 2, (5, 5), (1, 1), (2, 2)),
        ] {
            let kernel: Size2d = k.into();
            let n = 5;
            let win = Window::new("test", &[n, c, h, w], kernel, stride.into(), pad.into());
            let patch = win.patch();
            let (p, image) = (win.positions(), c * h * w);
            let x = values(n * image, 1);
            let wv = values(o * patch, 2);
            let b = values(o, 3);
            let g = values(n * o * p, 4);
            let wmat = Array2::from_shape_vec((o, patch), wv).unwrap();
            let x4 = ArrayView4::from_shape((n, c, h, w), &x).unwrap();
            let col = im2col(&x4, &win);
            // y_i = W · col_iᵀ + b; dW = Σ g_i · col_i; dcol_i = g_iᵀ · W.
            let mut want_y = vec![0.0; n * o * p];
            let mut want_dw = Array2::<f64>::zeros((o, patch));
            let mut dcol = Array2::<f64>::zeros((n * p, patch));
            for i in 0..n {
                let coli = col.slice(ndarray::s![i * p..(i + 1) * p, ..]);
                let yi = wmat.dot(&coli.t());
                for (ch, row) in yi.rows().into_iter().enumerate() {
                    for (pos, v) in row.iter().enumerate() {
                        want_y[(i * o + ch) * p + pos] = v + b[ch];
                    }
                }
                let gi = ArrayView2::from_shape((o, p), &g[i * o * p..(i + 1) * o * p]).unwrap();
                want_dw = want_dw + gi.dot(&coli);
                dcol.slice_mut(ndarray::s![i * p..(i + 1) * p, ..])
                    .assign(&gi.t().dot(&wmat));
            }
            let want_dx = col2im(&dcol.view(), &win);
            for parts in [1, 2, 3] {
                // The unrolled image's buffer is reused: left full of NaN, every value the
                // product reads must be written again.
                f64::col_buffer().with(|b| b.replace(vec![f64::NAN; 4 * n * p * patch]));
                let mut y = vec![0.0; n * o * p];
                forward_in(parts, &x, &win, &wmat.view(), Some(&b), &mut y);
                let mut dx = vec![0.0; n * image];
                let dw = backward_in(parts, &x, &win, &wmat.view(), &g, true, Some(&mut dx))
                    .expect("asked for dW");
                let close = |a: &[f64], b: &[f64]| {
                    a.len() == b.len() && a.iter().zip(b).all(|(u, v)| (u - v).abs() < 1e-12)
                };
                let case = format!(
                    "c {c} h {h} w {w} o {o} k {k:?} stride {stride:?} pad {pad:?}, {parts} parts"
                );
                assert!(close(&y, &want_y), "y, {case}");
                assert!(
                    close(dw.as_slice().unwrap(), want_dw.as_slice().unwrap()),
                    "dW, {case}"
                );
                assert!(close(&dx, want_dx.as_slice().unwrap()), "dx, {case}");
                // One image split by output rows over the threads.
                let one = Window::new("test", &[1, c, h, w], kernel, stride.into(), pad.into());
                for i in 0..n {
                    let mut yi = Array2::<f64>::zeros((o, p));
                    let xi = &x[i * image..(i + 1) * image];
                    let rows = 0..one.oh;
                    forward_rows(parts, xi, &one, &wmat.view(), Some(&b), rows, yi.view_mut());
                    let want = &want_y[i * o * p..(i + 1) * o * p];
                    assert!(
                        close(yi.as_slice().unwrap(), want),
                        "image {i} by rows, {case}"
                    );
                }
            }
        }
    }
}
