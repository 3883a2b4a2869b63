//! Convolution on NCHW tensors (book 1 ch.7.2 「畳み込み層」, 7.4 「Convolution/Poolingレイヤの実装」):
//! `im2col` unrolls every kernel-sized window of the input into one row (7.4.3 「Im2colによる展開」),
//! so a convolution is one matrix product; `col2im` is its adjoint, which scatters the rows back
//! (adding where windows overlap). Weights are `(out_channels, in_channels, kh, kw)` as in the
//! book and PyTorch.

use ndarray::{ArcArray, Array2, Array4, ArrayD, ArrayView2, ArrayView4, Ix4, IxDyn};

use super::conv_gemm;
use crate::float::Float;
use crate::op::{Grads, Op};
use crate::tensor::Tensor;

/// A height and a width: a kernel size, a stride or a padding. `3.into()` is `3 × 3`.
///
/// ```
/// use nn_core::Size2d;
/// assert_eq!(Size2d::from(2), Size2d { h: 2, w: 2 });
/// assert_eq!(Size2d::from((3, 1)), Size2d { h: 3, w: 1 });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Size2d {
    /// Along the rows (H).
    pub h: usize,
    /// Along the columns (W).
    pub w: usize,
}

impl From<usize> for Size2d {
    fn from(n: usize) -> Self {
        Size2d { h: n, w: n }
    }
}

impl From<(usize, usize)> for Size2d {
    fn from((h, w): (usize, usize)) -> Self {
        Size2d { h, w }
    }
}

impl From<[usize; 2]> for Size2d {
    fn from([h, w]: [usize; 2]) -> Self {
        Size2d { h, w }
    }
}

/// The sizes of one sliding-window operation on an `(n, c, h, w)` input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub(crate) n: usize,
    pub(crate) c: usize,
    pub(crate) h: usize,
    pub(crate) w: usize,
    pub(crate) kernel: Size2d,
    pub(crate) stride: Size2d,
    pub(crate) padding: Size2d,
    /// The output's height and width: `(in + 2·pad − kernel) / stride + 1`.
    pub(crate) oh: usize,
    pub(crate) ow: usize,
}

impl Window {
    /// # Panics
    /// Naming `op`, if `shape` is not 4-D, a kernel or stride is 0, or the padded input is
    /// smaller than the kernel.
    pub(crate) fn new(
        op: &str,
        shape: &[usize],
        kernel: Size2d,
        stride: Size2d,
        padding: Size2d,
    ) -> Self {
        assert!(
            shape.len() == 4,
            "{op}: expects an (N, C, H, W) input, got shape {shape:?}"
        );
        assert!(
            kernel.h > 0 && kernel.w > 0 && stride.h > 0 && stride.w > 0,
            "{op}: kernel {kernel:?} and stride {stride:?} must be positive"
        );
        let (h, w) = (shape[2], shape[3]);
        assert!(
            h + 2 * padding.h >= kernel.h && w + 2 * padding.w >= kernel.w,
            "{op}: kernel {kernel:?} is larger than the input {shape:?} padded by {padding:?}"
        );
        Window {
            n: shape[0],
            c: shape[1],
            h,
            w,
            kernel,
            stride,
            padding,
            oh: (h + 2 * padding.h - kernel.h) / stride.h + 1,
            ow: (w + 2 * padding.w - kernel.w) / stride.w + 1,
        }
    }

    /// Columns of the unrolled matrix: `c · kh · kw`.
    pub(crate) fn patch(&self) -> usize {
        self.c * self.kernel.h * self.kernel.w
    }

    /// Output positions per image: `oh · ow`.
    pub(crate) fn positions(&self) -> usize {
        self.oh * self.ow
    }

    /// Input row `iy` and the kernel columns `kj` in `lo..hi` that fall inside the input for
    /// output position `(oy, ox)` and kernel row `ki`, with the input column of `kj = 0`
    /// (possibly negative); `None` if the kernel row lies in the padding.
    #[inline]
    pub(crate) fn span(
        &self,
        oy: usize,
        ox: usize,
        ki: usize,
    ) -> Option<(usize, isize, usize, usize)> {
        let iy = (oy * self.stride.h + ki) as isize - self.padding.h as isize;
        if iy < 0 || iy >= self.h as isize {
            return None;
        }
        let ix0 = (ox * self.stride.w) as isize - self.padding.w as isize;
        let lo = (-ix0).max(0) as usize;
        let hi = (self.w as isize - ix0).clamp(0, self.kernel.w as isize) as usize;
        Some((iy as usize, ix0, lo, hi.max(lo)))
    }
}

/// Unrolls `x (n, c, h, w)` into `(n·oh·ow, c·kh·kw)`: row `(n, oy, ox)` holds the window at
/// that output position, channel by channel, zeros where it covers the padding (the book's
/// `im2col`).
pub(crate) fn im2col<T: Float>(x: &ArrayView4<'_, T>, win: &Window) -> Array2<T> {
    let x = x.as_standard_layout();
    let xs = x
        .as_slice()
        .unwrap_or_else(|| unreachable!("standard layout"));
    let (cols, kh, kw) = (win.patch(), win.kernel.h, win.kernel.w);
    let mut out = Array2::zeros((win.n * win.positions(), cols));
    for (r, mut row) in out.rows_mut().into_iter().enumerate() {
        let (n, p) = (r / win.positions(), r % win.positions());
        let (oy, ox) = (p / win.ow, p % win.ow);
        let row = row
            .as_slice_mut()
            .unwrap_or_else(|| unreachable!("rows of a standard array"));
        for c in 0..win.c {
            for ki in 0..kh {
                let Some((iy, ix0, lo, hi)) = win.span(oy, ox, ki) else {
                    continue;
                };
                let src = ((n * win.c + c) * win.h + iy) * win.w;
                let dst = (c * kh + ki) * kw;
                // From the first column inside the image: ix0 alone may point before it.
                let from = (src as isize + ix0 + lo as isize) as usize;
                row[dst + lo..dst + hi].copy_from_slice(&xs[from..from + hi - lo]);
            }
        }
    }
    out
}

/// The adjoint of [`im2col`]: adds every row of `col (n·oh·ow, c·kh·kw)` back into the window
/// it came from, giving `(n, c, h, w)` (the book's `col2im`).
pub(crate) fn col2im<T: Float>(col: &ArrayView2<'_, T>, win: &Window) -> Array4<T> {
    let (kh, kw) = (win.kernel.h, win.kernel.w);
    let mut out = Array4::zeros((win.n, win.c, win.h, win.w));
    let xs = out
        .as_slice_mut()
        .unwrap_or_else(|| unreachable!("a new array is standard"));
    for (r, row) in col.rows().into_iter().enumerate() {
        let (n, p) = (r / win.positions(), r % win.positions());
        let (oy, ox) = (p / win.ow, p % win.ow);
        for c in 0..win.c {
            for ki in 0..kh {
                let Some((iy, ix0, lo, hi)) = win.span(oy, ox, ki) else {
                    continue;
                };
                let dst = ((((n * win.c + c) * win.h + iy) * win.w) as isize + ix0) + lo as isize;
                let src = (c * kh + ki) * kw;
                // From the first column inside the image: ix0 alone may point before it.
                let dst = dst as usize;
                for kj in lo..hi {
                    xs[dst + kj - lo] += row[src + kj];
                }
            }
        }
    }
    out
}

fn as4<T: Float>(x: &ArcArray<T, IxDyn>) -> ArrayView4<'_, T> {
    x.view()
        .into_dimensionality::<Ix4>()
        .unwrap_or_else(|_| unreachable!("checked to be 4-D"))
}

/// [`im2col`] as an op; its gradient is [`col2im`] of `g`.
pub(crate) struct Im2colOp {
    kernel: Size2d,
    stride: Size2d,
    padding: Size2d,
    win: Option<Window>,
}

impl<T: Float> Op<T> for Im2colOp {
    fn name(&self) -> &'static str {
        "im2col"
    }
    fn forward(&mut self, x: &[&ArcArray<T, IxDyn>], _: &[bool]) -> ArcArray<T, IxDyn> {
        let win = Window::new(
            "im2col",
            x[0].shape(),
            self.kernel,
            self.stride,
            self.padding,
        );
        self.win = Some(win);
        im2col(&as4(x[0]), &win).into_dyn().into_shared()
    }
    fn backward(self: Box<Self>, g: ArrayD<T>, grads: &mut Grads<'_, T>) {
        let Some(win) = self.win else { return };
        let g = g
            .into_dimensionality()
            .unwrap_or_else(|_| unreachable!("im2col's output is 2-D"));
        grads.add(0, col2im(&g.view(), &win).into_dyn());
    }
}

/// [`col2im`] as an op; its gradient is [`im2col`] of `g`.
pub(crate) struct Col2imOp {
    input_shape: [usize; 4],
    kernel: Size2d,
    stride: Size2d,
    padding: Size2d,
    win: Option<Window>,
}

impl<T: Float> Op<T> for Col2imOp {
    fn name(&self) -> &'static str {
        "col2im"
    }
    fn forward(&mut self, x: &[&ArcArray<T, IxDyn>], _: &[bool]) -> ArcArray<T, IxDyn> {
        let win = Window::new(
            "col2im",
            &self.input_shape,
            self.kernel,
            self.stride,
            self.padding,
        );
        let expected = [win.n * win.positions(), win.patch()];
        assert!(
            x[0].shape() == expected,
            "col2im: columns of shape {:?} do not match {expected:?} for an input {:?}",
            x[0].shape(),
            self.input_shape
        );
        self.win = Some(win);
        let col = x[0]
            .view()
            .into_dimensionality()
            .unwrap_or_else(|_| unreachable!("checked to be 2-D"));
        col2im(&col, &win).into_dyn().into_shared()
    }
    fn backward(self: Box<Self>, g: ArrayD<T>, grads: &mut Grads<'_, T>) {
        let Some(win) = self.win else { return };
        let g = g
            .into_dimensionality::<Ix4>()
            .unwrap_or_else(|_| unreachable!("col2im's output is 4-D"));
        grads.add(0, im2col(&g.view(), &win).into_dyn());
    }
}

/// A 2-D convolution: the output image `i` is `W · im2col(x_i)ᵀ + b`, shape
/// `(n, out_channels, oh, ow)`; `dW = Σᵢ gᵢ · colᵢ`, `dcolᵢ = gᵢᵀ · W`, `dx = col2im(dcol)`,
/// `db = Σ g` over n, h, w (computed image by image in `conv_gemm`).
pub(crate) struct Conv2dOp<T: Float> {
    stride: Size2d,
    padding: Size2d,
    win: Option<Window>,
    /// The input, kept (shared, not copied) when the weights need a gradient.
    x: Option<ArcArray<T, IxDyn>>,
    /// The weights, kept when the weights or the input need a gradient.
    w: Option<ArcArray<T, IxDyn>>,
    needs_x: bool,
}

/// The weights `(o, c, kh, kw)` as the matrix `(o, c·kh·kw)` (no copy when contiguous).
fn weight_matrix<T: Float>(w: &ArcArray<T, IxDyn>) -> ndarray::CowArray<'_, T, ndarray::Ix2> {
    let o = w.shape()[0];
    let rest = w.len() / o.max(1);
    w.to_shape((o, rest))
        .unwrap_or_else(|_| unreachable!("same number of elements"))
}

impl<T: Float> Op<T> for Conv2dOp<T> {
    fn name(&self) -> &'static str {
        "conv2d"
    }
    fn forward(&mut self, v: &[&ArcArray<T, IxDyn>], needs: &[bool]) -> ArcArray<T, IxDyn> {
        let (x, w, b) = (v[0], v[1], v.get(2).copied());
        let (sx, sw) = (x.shape(), w.shape());
        assert!(
            sx.len() == 4 && sw.len() == 4 && sx[1] == sw[1],
            "conv2d: input {sx:?} and weights {sw:?} need (N, C, H, W) and (O, C, KH, KW)"
        );
        if let Some(b) = b {
            assert!(
                b.shape() == [sw[0]],
                "conv2d: bias {:?} does not match weights {sw:?} (needs ({},))",
                b.shape(),
                sw[0]
            );
        }
        let kernel = Size2d { h: sw[2], w: sw[3] };
        let win = Window::new("conv2d", sx, kernel, self.stride, self.padding);
        let wmat = weight_matrix(w);
        let o = sw[0];
        let xs = x.as_standard_layout();
        let bias = b.map(|b| b.iter().copied().collect::<Vec<T>>());
        let mut y = vec![T::zero(); win.n * o * win.positions()];
        conv_gemm::forward(
            xs.as_slice()
                .unwrap_or_else(|| unreachable!("standard layout")),
            &win,
            &wmat.view(),
            bias.as_deref(),
            &mut y,
        );
        self.win = Some(win);
        self.needs_x = needs[0];
        self.x = needs[1].then(|| x.clone());
        self.w = (needs[0] || needs[1]).then(|| w.clone());
        ArrayD::from_shape_vec(IxDyn(&[win.n, o, win.oh, win.ow]), y)
            .unwrap_or_else(|_| unreachable!("sized above"))
            .into_shared()
    }
    fn backward(self: Box<Self>, g: ArrayD<T>, grads: &mut Grads<'_, T>) {
        let Some(win) = self.win else { return };
        let (o, p) = (g.shape()[1], win.positions());
        let g = g.as_standard_layout();
        let gs = g
            .as_slice()
            .unwrap_or_else(|| unreachable!("standard layout"));
        if grads.needs(2) {
            let mut db = vec![T::zero(); o];
            for gi in gs.chunks_exact(o * p) {
                for (d, channel) in db.iter_mut().zip(gi.chunks_exact(p)) {
                    *d = channel.iter().fold(*d, |acc, &v| acc + v);
                }
            }
            grads.add(
                2,
                ArrayD::from_shape_vec(IxDyn(&[o]), db)
                    .unwrap_or_else(|_| unreachable!("o values")),
            );
        }
        let Some(w) = &self.w else { return };
        let wmat = weight_matrix(w);
        let want_dw = self.x.is_some();
        let mut dx = self
            .needs_x
            .then(|| vec![T::zero(); win.n * win.c * win.h * win.w]);
        let xs = self.x.as_ref().map(|x| x.as_standard_layout());
        let dw = conv_gemm::backward(
            xs.as_ref().and_then(|x| x.as_slice()).unwrap_or(&[]),
            &win,
            &wmat.view(),
            gs,
            want_dw,
            dx.as_deref_mut(),
        );
        if let Some(dw) = dw {
            let shape = [o, win.c, win.kernel.h, win.kernel.w];
            grads.add(
                1,
                dw.into_shape_with_order(IxDyn(&shape))
                    .unwrap_or_else(|_| unreachable!("same number of elements")),
            );
        }
        if let Some(dx) = dx {
            grads.add(
                0,
                ArrayD::from_shape_vec(IxDyn(&[win.n, win.c, win.h, win.w]), dx)
                    .unwrap_or_else(|_| unreachable!("sized above")),
            );
        }
    }
}

/// Convolution.
impl<T: Float> Tensor<T> {
    /// Unrolls the windows of an `(N, C, H, W)` tensor into rows: `(N·OH·OW, C·KH·KW)`, where
    /// `OH = (H + 2·padding − kernel) / stride + 1` (likewise `OW`); windows over the padding
    /// read zeros. The book's `im2col` (ch.7.4.3); the gradient is [`col2im`](Self::col2im).
    ///
    /// ```
    /// use nn_core::Tensor;
    /// let x = Tensor::<f32>::ones(&[1, 3, 7, 7]);
    /// assert_eq!(x.im2col(5, 1, 0).shape(), vec![9, 75]); // the book's first example
    /// ```
    ///
    /// # Panics
    /// If the tensor is not 4-D, a kernel or stride is 0, or the kernel exceeds the padded
    /// input.
    pub fn im2col(
        &self,
        kernel: impl Into<Size2d>,
        stride: impl Into<Size2d>,
        padding: impl Into<Size2d>,
    ) -> Tensor<T> {
        let op = Im2colOp {
            kernel: kernel.into(),
            stride: stride.into(),
            padding: padding.into(),
            win: None,
        };
        Tensor::apply(op, &[self])
    }

    /// The adjoint of [`im2col`](Self::im2col): adds each row of `(N·OH·OW, C·KH·KW)` back into
    /// its window of an `(N, C, H, W)` tensor of shape `input_shape` (overlaps add up; the
    /// padding is dropped). The book's `col2im`.
    ///
    /// # Panics
    /// If the shape of `self` does not match what `im2col` gives for `input_shape`.
    pub fn col2im(
        &self,
        input_shape: [usize; 4],
        kernel: impl Into<Size2d>,
        stride: impl Into<Size2d>,
        padding: impl Into<Size2d>,
    ) -> Tensor<T> {
        let op = Col2imOp {
            input_shape,
            kernel: kernel.into(),
            stride: stride.into(),
            padding: padding.into(),
            win: None,
        };
        Tensor::apply(op, &[self])
    }

    /// 2-D convolution (cross-correlation, as in the book and PyTorch) of an `(N, C, H, W)`
    /// input with weights `(O, C, KH, KW)` and an optional bias `(O,)`; the output is
    /// `(N, O, OH, OW)`. One op: im2col and a matrix product forward, matrix products and
    /// col2im backward.
    ///
    /// ```
    /// use nn_core::Tensor;
    /// let x = Tensor::<f32>::ones(&[10, 1, 28, 28]);
    /// let w = Tensor::<f32>::ones(&[30, 1, 5, 5]);
    /// let b = Tensor::<f32>::zeros(&[30]);
    /// let y = x.conv2d(&w, Some(&b), 1, 0); // the book's SimpleConvNet, first layer
    /// assert_eq!(y.shape(), vec![10, 30, 24, 24]);
    /// assert_eq!(y.to_array()[[0, 0, 0, 0]], 25.0);
    /// ```
    ///
    /// # Panics
    /// If the shapes do not fit together, or the kernel exceeds the padded input.
    pub fn conv2d(
        &self,
        weight: &Tensor<T>,
        bias: Option<&Tensor<T>>,
        stride: impl Into<Size2d>,
        padding: impl Into<Size2d>,
    ) -> Tensor<T> {
        let op = Conv2dOp {
            stride: stride.into(),
            padding: padding.into(),
            win: None,
            x: None,
            w: None,
            needs_x: false,
        };
        match bias {
            Some(b) => Tensor::apply(op, &[self, weight, b]),
            None => Tensor::apply(op, &[self, weight]),
        }
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array4, ArrayD, IxDyn};

    use crate::Tensor;
    use crate::test_util::{check, rand};

    /// The convolution straight from its definition (book 1 ch.7.2.2), for comparison.
    fn naive_conv(
        x: &ArrayD<f64>,
        w: &ArrayD<f64>,
        b: Option<&ArrayD<f64>>,
        (sh, sw): (usize, usize),
        (ph, pw): (usize, usize),
    ) -> Array4<f64> {
        let (n, c, h, wd) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
        let (o, kh, kw) = (w.shape()[0], w.shape()[2], w.shape()[3]);
        let (oh, ow) = ((h + 2 * ph - kh) / sh + 1, (wd + 2 * pw - kw) / sw + 1);
        Array4::from_shape_fn((n, o, oh, ow), |(ni, oi, i, j)| {
            let mut acc = b.map_or(0.0, |b| b[[oi]]);
            for ci in 0..c {
                for ki in 0..kh {
                    for kj in 0..kw {
                        let (y, xx) = (
                            (i * sh + ki) as isize - ph as isize,
                            (j * sw + kj) as isize - pw as isize,
                        );
                        if y >= 0 && xx >= 0 && (y as usize) < h && (xx as usize) < wd {
                            acc += x[[ni, ci, y as usize, xx as usize]] * w[[oi, ci, ki, kj]];
                        }
                    }
                }
            }
            acc
        })
    }

    /// `(input shape, out channels, kernel, stride, padding)`: non-square inputs and kernels,
    /// batch and channels above 1, stride 1 and 2, padding 0, 1 and 2, the kernel larger than
    /// the stride and equal to it.
    type Pair = (usize, usize);
    const CASES: [([usize; 4], usize, Pair, Pair, Pair); 5] = [
        ([2, 3, 5, 7], 4, (3, 3), (2, 2), (1, 1)),
        ([2, 2, 6, 5], 3, (2, 2), (2, 2), (2, 2)),
        ([1, 2, 4, 6], 2, (2, 3), (1, 1), (0, 0)),
        ([3, 1, 7, 4], 2, (3, 2), (2, 1), (1, 0)),
        ([2, 2, 5, 5], 3, (5, 5), (1, 1), (2, 2)),
    ];

    #[test]
    fn conv2d_matches_the_definition() {
        for (i, &(shape, o, k, s, p)) in CASES.iter().enumerate() {
            let seed = 10 * i as u64;
            let x = rand(&shape, seed);
            let w = rand(&[o, shape[1], k.0, k.1], seed + 1);
            let b = rand(&[o], seed + 2);
            let expected = naive_conv(&x, &w, Some(&b), s, p);
            let (tx, tw, tb) = (
                Tensor::from_array(x.clone()),
                Tensor::from_array(w.clone()),
                Tensor::from_array(b),
            );
            let got = tx.conv2d(&tw, Some(&tb), s, p).to_array();
            assert_eq!(got.shape(), expected.shape(), "case {i}");
            let err = got
                .iter()
                .zip(expected.iter())
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            assert!(err < 1e-12, "case {i}: max difference {err}");
            let unbiased = tx.conv2d(&tw, None, s, p).to_array();
            let expected = naive_conv(&x, &w, None, s, p);
            assert!(
                unbiased
                    .iter()
                    .zip(expected.iter())
                    .all(|(a, b)| (a - b).abs() < 1e-12)
            );
        }
    }

    #[test]
    fn conv2d_gradients() {
        for (i, &(shape, o, k, s, p)) in CASES.iter().enumerate() {
            let seed = 100 + 10 * i as u64;
            let inputs = [
                rand(&shape, seed),
                rand(&[o, shape[1], k.0, k.1], seed + 1),
                rand(&[o], seed + 2),
            ];
            check(|t| t[0].conv2d(&t[1], Some(&t[2]), s, p), &inputs);
            check(|t| t[0].conv2d(&t[1], None, s, p), &inputs[..2]);
        }
        // Only the weights need a gradient (the first layer of a network): dx is skipped.
        let x = Tensor::from_array(rand(&[2, 3, 5, 7], 7));
        check(
            |t| x.conv2d(&t[0], Some(&t[1]), 2, 1),
            &[rand(&[4, 3, 3, 3], 8), rand(&[4], 9)],
        );
        // A non-contiguous input and a gradient arriving through a permute.
        check(
            |t| {
                t[0].permute(&[0, 1, 3, 2])
                    .conv2d(&t[1], None, 1, 1)
                    .permute(&[3, 2, 1, 0])
            },
            &[rand(&[2, 2, 4, 3], 10), rand(&[3, 2, 3, 3], 11)],
        );
    }

    #[test]
    fn im2col_follows_the_book() {
        // 「7.4.3」: (1, 3, 7, 7) with a 5×5 filter gives (9, 75); a batch of 10 gives (90, 75).
        assert_eq!(
            Tensor::<f32>::ones(&[1, 3, 7, 7]).im2col(5, 1, 0).shape(),
            vec![9, 75]
        );
        assert_eq!(
            Tensor::<f32>::ones(&[10, 3, 7, 7]).im2col(5, 1, 0).shape(),
            vec![90, 75]
        );
        // Row (n, oy, ox), column (c, ki, kj), zeros in the padding.
        let x = Tensor::<f64>::from_vec(&[1, 1, 2, 3], vec![1., 2., 3., 4., 5., 6.]);
        let col = x.im2col(2, 1, (0, 1)).to_array();
        let expected = [
            [0., 1., 0., 4.],
            [1., 2., 4., 5.],
            [2., 3., 5., 6.],
            [3., 0., 6., 0.],
        ];
        assert_eq!(col.shape(), &[4, 4]);
        for (r, row) in expected.iter().enumerate() {
            for (c, &v) in row.iter().enumerate() {
                assert_eq!(col[[r, c]], v, "row {r}, column {c}");
            }
        }
    }

    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        // <im2col(x), c> = <x, col2im(c)> for every configuration.
        for (i, &(shape, _, k, s, p)) in CASES.iter().enumerate() {
            let x = Tensor::from_array(rand(&shape, 200 + i as u64));
            let col = x.im2col(k, s, p);
            let c = Tensor::from_array(rand(&col.shape(), 300 + i as u64));
            let back = c.col2im(shape, k, s, p);
            assert_eq!(back.shape(), shape.to_vec());
            let lhs = (&col * &c).sum().item();
            let rhs = (&x * &back).sum().item();
            assert!((lhs - rhs).abs() < 1e-10, "case {i}: {lhs} vs {rhs}");
        }
    }

    #[test]
    fn im2col_and_col2im_gradients() {
        for (i, &(shape, _, k, s, p)) in CASES.iter().enumerate() {
            let x = rand(&shape, 400 + i as u64);
            check(|t| t[0].im2col(k, s, p), &[x.clone()]);
            let cols = Tensor::from_array(x).im2col(k, s, p).shape();
            check(
                |t| t[0].col2im(shape, k, s, p),
                &[rand(&cols, 500 + i as u64)],
            );
        }
    }

    #[test]
    #[should_panic(
        expected = "conv2d: input [2, 3, 5, 5] and weights [4, 2, 3, 3] need (N, C, H, W) and (O, C, KH, KW)"
    )]
    fn channel_mismatch_panics() {
        let _ = Tensor::<f32>::ones(&[2, 3, 5, 5]).conv2d(&Tensor::ones(&[4, 2, 3, 3]), None, 1, 0);
    }

    #[test]
    #[should_panic(
        expected = "conv2d: kernel Size2d { h: 5, w: 5 } is larger than the input [1, 1, 3, 3] padded by Size2d { h: 0, w: 0 }"
    )]
    fn kernel_larger_than_input_panics() {
        let _ = Tensor::<f32>::ones(&[1, 1, 3, 3]).conv2d(&Tensor::ones(&[1, 1, 5, 5]), None, 1, 0);
    }

    #[test]
    #[should_panic(expected = "col2im: columns of shape [4, 4] do not match [9, 4]")]
    fn col2im_checks_its_input() {
        let _ = Tensor::<f32>::ones(&[4, 4]).col2im([1, 1, 4, 4], 2, 1, 0);
    }

    #[test]
    fn works_in_f32() {
        let x = Tensor::<f32>::randn(&[2, 3, 6, 6], 1);
        let w = Tensor::<f32>::randn(&[4, 3, 3, 3], 2).requires_grad();
        let y = x.conv2d(&w, None, 1, 1);
        assert_eq!(y.shape(), vec![2, 4, 6, 6]);
        y.sum().backward().unwrap();
        assert_eq!(w.grad().unwrap().shape(), &[4, 3, 3, 3]);
        let _ = IxDyn(&[0]);
    }
}
