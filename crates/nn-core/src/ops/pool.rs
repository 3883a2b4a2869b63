//! Pooling on NCHW tensors (book 1 ch.7.3 「プーリング層」, 7.5 「プーリング層の実装」): the maximum
//! or the mean of each window, channel by channel. Windows are walked directly (no im2col copy).

use std::ops::Range;

use ndarray::{ArcArray, ArrayD, CowArray, IxDyn};

use super::conv::{Size2d, Window};
use crate::float::Float;
use crate::kernels;
use crate::op::{Grads, Op};
use crate::tensor::Tensor;

/// Kernel, stride and padding of a pooling op.
#[derive(Clone, Copy)]
struct PoolSpec {
    kernel: Size2d,
    stride: Size2d,
    padding: Size2d,
}

impl PoolSpec {
    /// The window's sizes and the input in standard layout, or a panic naming `op` (also for a
    /// padding over half the kernel: a window would then hold padding only, as PyTorch also
    /// refuses).
    fn prepare<'a, T: Float>(
        &self,
        op: &str,
        x: &'a ArcArray<T, IxDyn>,
    ) -> (Window, CowArray<'a, T, IxDyn>) {
        let (kernel, padding) = (self.kernel, self.padding);
        let win = Window::new(op, x.shape(), kernel, self.stride, padding);
        assert!(
            2 * padding.h <= kernel.h && 2 * padding.w <= kernel.w,
            "{op}: padding {padding:?} must be at most half the kernel {kernel:?}"
        );
        (win, x.as_standard_layout())
    }
}

/// One window of the input, clipped to it.
struct Span {
    /// Offset of the window's image plane in the flat standard-layout input.
    base: usize,
    width: usize,
    rows: Range<usize>,
    cols: Range<usize>,
}

impl Span {
    /// Flat input offsets of the window's elements, row by row (padding skipped).
    fn offsets(&self) -> impl Iterator<Item = usize> + '_ {
        self.rows.clone().flat_map(move |iy| {
            let row = self.base + iy * self.width;
            self.cols.clone().map(move |ix| row + ix)
        })
    }
}

/// Calls `f(output index, window)` for every output element, in output order.
fn for_each_window(win: &Window, mut f: impl FnMut(usize, &Span)) {
    let (kh, kw) = (win.kernel.h as isize, win.kernel.w as isize);
    let clip = |start: isize, len: isize, size: usize| {
        start.max(0) as usize..(start + len).min(size as isize) as usize
    };
    let mut out = 0;
    for plane in 0..win.n * win.c {
        for oy in 0..win.oh {
            let y0 = (oy * win.stride.h) as isize - win.padding.h as isize;
            for ox in 0..win.ow {
                let x0 = (ox * win.stride.w) as isize - win.padding.w as isize;
                let span = Span {
                    base: plane * win.h * win.w,
                    width: win.w,
                    rows: clip(y0, kh, win.h),
                    cols: clip(x0, kw, win.w),
                };
                f(out, &span);
                out += 1;
            }
        }
    }
}

fn output_shape(win: &Window) -> IxDyn {
    IxDyn(&[win.n, win.c, win.oh, win.ow])
}

/// The maximum of each window (padding never wins); the gradient goes to the arg-max, the first
/// one (row-major within the window) where several tie. Keeps the arg-max offsets.
pub(crate) struct MaxPool2dOp {
    spec: PoolSpec,
    in_shape: IxDyn,
    argmax: Option<Vec<usize>>,
}

impl<T: Float> Op<T> for MaxPool2dOp {
    fn name(&self) -> &'static str {
        "max_pool2d"
    }
    fn forward(&mut self, x: &[&ArcArray<T, IxDyn>], needs: &[bool]) -> ArcArray<T, IxDyn> {
        let (win, x) = self.spec.prepare("max_pool2d", x[0]);
        let xs = x
            .as_slice()
            .unwrap_or_else(|| unreachable!("standard layout"));
        let len = win.n * win.c * win.oh * win.ow;
        let mut y = Vec::with_capacity(len);
        let mut argmax = Vec::with_capacity(if needs[0] { len } else { 0 });
        let s = &self.spec;
        if s.kernel == Size2d::from(2)
            && s.stride == Size2d::from(2)
            && s.padding == Size2d::from(0)
        {
            y.resize(len, T::zero());
            if needs[0] {
                argmax.resize(len, 0);
            }
            // Whole planes to each thread where there is enough to share.
            let planes = win.n * win.c;
            let per_plane = win.oh * win.ow;
            let parts = if 4 * len >= POOL_PAR_MIN_INPUTS {
                kernels::num_threads().min(planes).max(1)
            } else {
                1
            };
            let chunk = (planes.div_ceil(parts) * per_plane).max(1);
            let w = &win;
            if parts == 1 {
                // On the calling thread: a parallel iterator, even over one chunk, would hand
                // the work to the pool and wait for it.
                if needs[0] {
                    max_pool_2x2(xs, w, 0, &mut y, &mut argmax);
                } else {
                    max_pool_2x2_values(xs, w, 0, &mut y);
                }
            } else if needs[0] {
                let runs = y.chunks_mut(chunk).zip(argmax.chunks_mut(chunk)).collect();
                kernels::team::for_each(runs, &|k, (y, a)| {
                    max_pool_2x2(xs, w, k * chunk / per_plane, y, a)
                });
            } else {
                let runs = y.chunks_mut(chunk).collect();
                kernels::team::for_each(runs, &|k, y| {
                    max_pool_2x2_values(xs, w, k * chunk / per_plane, y)
                });
            }
        } else {
            max_pool_windows(xs, &win, &mut y, needs[0].then_some(&mut argmax));
        }
        self.in_shape = x.raw_dim();
        self.argmax = needs[0].then_some(argmax);
        ArrayD::from_shape_vec(output_shape(&win), y)
            .unwrap_or_else(|_| unreachable!("one value per window"))
            .into_shared()
    }
    fn backward(self: Box<Self>, g: ArrayD<T>, grads: &mut Grads<'_, T>) {
        let Some(argmax) = self.argmax else { return };
        let mut dx = ArrayD::zeros(self.in_shape);
        let dxs = dx
            .as_slice_mut()
            .unwrap_or_else(|| unreachable!("a new array is standard"));
        // `g` is in output order whatever its strides: iterate it logically.
        for (&i, &g) in argmax.iter().zip(g.iter()) {
            dxs[i] += g;
        }
        grads.add(0, dx);
    }
}

/// `a` beats the best so far `b`: larger, or NaN over a number (ties keep the first).
#[inline(always)]
fn beats<T: Float>(a: T, b: T) -> bool {
    // Without short-circuits, so that the loops vectorise: a branch per test kept them scalar.
    (a > b) | (a.is_nan() & !b.is_nan())
}

/// Max pooling over any windows: the maximum of each (padding skipped) and, if asked, its
/// offset in `xs`.
fn max_pool_windows<T: Float>(
    xs: &[T],
    win: &Window,
    y: &mut Vec<T>,
    mut argmax: Option<&mut Vec<usize>>,
) {
    for_each_window(win, |_, span| {
        let mut best = usize::MAX;
        for i in span.offsets() {
            // NaN wins, as in PyTorch; strict `>` keeps the first of tied maxima.
            if best == usize::MAX || beats(xs[i], xs[best]) {
                best = i;
            }
        }
        y.push(xs[best]);
        if let Some(a) = argmax.as_deref_mut() {
            a.push(best);
        }
    });
}

/// Inputs from which 2×2 pooling shares its planes out over the threads.
const POOL_PAR_MIN_INPUTS: usize = 1 << 16;

/// The book's pooling (2×2 windows, stride 2, no padding) without the general window walk:
/// the same results and arg-maxes as it, four loads per output; the planes from `first` on
/// that `y` and `argmax` (of one length) hold.
fn max_pool_2x2<T: Float>(xs: &[T], win: &Window, first: usize, y: &mut [T], argmax: &mut [usize]) {
    let rows = y
        .chunks_exact_mut(win.ow.max(1))
        .zip(argmax.chunks_exact_mut(win.ow.max(1)));
    for (r, (y, a)) in rows.enumerate() {
        let (plane, oy) = (first + r / win.oh, r % win.oh);
        let r0 = plane * win.h * win.w + 2 * oy * win.w;
        let top = &xs[r0..r0 + 2 * win.ow];
        let bottom = &xs[r0 + win.w..r0 + win.w + 2 * win.ow];
        for (ox, (y, a)) in y.iter_mut().zip(a.iter_mut()).enumerate() {
            // The best value stays in a register and the choice is a select, not a reload.
            let cand = [
                top[2 * ox],
                top[2 * ox + 1],
                bottom[2 * ox],
                bottom[2 * ox + 1],
            ];
            let (mut v, mut k) = (cand[0], 0);
            for (j, &c) in cand.iter().enumerate().skip(1) {
                let better = beats(c, v);
                v = if better { c } else { v };
                k = if better { j } else { k };
            }
            *y = v;
            *a = r0 + 2 * ox + (k & 1) + (k >> 1) * win.w;
        }
    }
}

/// [`max_pool_2x2`]'s values alone (inference), into `y` (the planes from `first` on): each
/// pair of a row first, then the two rows, so that the loop vectorises. The same values: the
/// larger wins, NaN over a number, and of tied values the first in the window's order, as the
/// sequential walk picks.
fn max_pool_2x2_values<T: Float>(xs: &[T], win: &Window, first: usize, y: &mut [T]) {
    let pick = |a: T, b: T| if beats(b, a) { b } else { a };
    let rows = y.chunks_exact_mut(win.ow.max(1));
    for (r, out) in rows.enumerate() {
        let (plane, oy) = (first + r / win.oh, r % win.oh);
        let r0 = plane * win.h * win.w + 2 * oy * win.w;
        let top = &xs[r0..r0 + 2 * win.ow];
        let bottom = &xs[r0 + win.w..r0 + win.w + 2 * win.ow];
        for ((o, t), b) in out
            .iter_mut()
            .zip(top.chunks_exact(2))
            .zip(bottom.chunks_exact(2))
        {
            *o = pick(pick(t[0], t[1]), pick(b[0], b[1]));
        }
    }
}

/// The mean of each window over the whole kernel area, padding counted as zeros (PyTorch's
/// default `count_include_pad`); every input in a window receives `g / (kh·kw)`.
pub(crate) struct AvgPool2dOp {
    spec: PoolSpec,
    win: Option<Window>,
}

impl<T: Float> Op<T> for AvgPool2dOp {
    fn name(&self) -> &'static str {
        "avg_pool2d"
    }
    fn forward(&mut self, x: &[&ArcArray<T, IxDyn>], _: &[bool]) -> ArcArray<T, IxDyn> {
        let (win, x) = self.spec.prepare("avg_pool2d", x[0]);
        let xs = x
            .as_slice()
            .unwrap_or_else(|| unreachable!("standard layout"));
        let area = T::lit((win.kernel.h * win.kernel.w) as f64);
        let mut y = Vec::with_capacity(win.n * win.c * win.oh * win.ow);
        for_each_window(&win, |_, span| {
            y.push(span.offsets().fold(T::zero(), |s, i| s + xs[i]) / area);
        });
        self.win = Some(win);
        ArrayD::from_shape_vec(output_shape(&win), y)
            .unwrap_or_else(|_| unreachable!("one value per window"))
            .into_shared()
    }
    fn backward(self: Box<Self>, g: ArrayD<T>, grads: &mut Grads<'_, T>) {
        let Some(win) = self.win else { return };
        let g = g.as_standard_layout();
        let gs = g
            .as_slice()
            .unwrap_or_else(|| unreachable!("standard layout"));
        let area = T::lit((win.kernel.h * win.kernel.w) as f64);
        let mut dx = ArrayD::zeros(IxDyn(&[win.n, win.c, win.h, win.w]));
        let dxs = dx
            .as_slice_mut()
            .unwrap_or_else(|| unreachable!("a new array is standard"));
        for_each_window(&win, |o, span| {
            let share = gs[o] / area;
            for i in span.offsets() {
                dxs[i] += share;
            }
        });
        grads.add(0, dx);
    }
}

/// Pooling.
impl<T: Float> Tensor<T> {
    /// Max pooling of an `(N, C, H, W)` tensor: the maximum of each `kernel` window, moved by
    /// `stride`, over an input padded by `padding` (padding never wins). The gradient goes to
    /// each window's arg-max, the first one where several tie. PyTorch's `max_pool2d`; the
    /// book's Pooling layer is `max_pool2d(2, 2, 0)`.
    ///
    /// ```
    /// use nn_core::Tensor;
    /// let x = Tensor::<f32>::from_vec(&[1, 1, 2, 4], vec![1., 2., 0., 1., 4., 0., 3., 5.]);
    /// let y = x.max_pool2d(2, 2, 0);
    /// assert_eq!(y.to_array().as_slice().unwrap(), &[4.0, 5.0]);
    /// ```
    ///
    /// # Panics
    /// If the tensor is not 4-D, a kernel or stride is 0, the padding exceeds half the kernel,
    /// or the kernel exceeds the padded input.
    pub fn max_pool2d(
        &self,
        kernel: impl Into<Size2d>,
        stride: impl Into<Size2d>,
        padding: impl Into<Size2d>,
    ) -> Tensor<T> {
        let op = MaxPool2dOp {
            spec: PoolSpec {
                kernel: kernel.into(),
                stride: stride.into(),
                padding: padding.into(),
            },
            in_shape: IxDyn(&[]),
            argmax: None,
        };
        Tensor::apply(op, &[self])
    }

    /// Average pooling of an `(N, C, H, W)` tensor: the mean of each `kernel` window over the
    /// whole kernel area (padding counts as zeros, PyTorch's default). PyTorch's `avg_pool2d`.
    ///
    /// # Panics
    /// As [`max_pool2d`](Self::max_pool2d).
    pub fn avg_pool2d(
        &self,
        kernel: impl Into<Size2d>,
        stride: impl Into<Size2d>,
        padding: impl Into<Size2d>,
    ) -> Tensor<T> {
        let op = AvgPool2dOp {
            spec: PoolSpec {
                kernel: kernel.into(),
                stride: stride.into(),
                padding: padding.into(),
            },
            win: None,
        };
        Tensor::apply(op, &[self])
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array4, ArrayD};

    use super::{Window, max_pool_2x2, max_pool_2x2_values, max_pool_windows};
    use crate::Tensor;
    use crate::test_util::{check, rand};

    /// Pooling straight from its definition: max ignores the padding, mean divides by kh·kw.
    fn naive_pool(
        x: &ArrayD<f64>,
        k: (usize, usize),
        s: (usize, usize),
        p: (usize, usize),
        max: bool,
    ) -> Array4<f64> {
        let (n, c, h, w) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
        let (oh, ow) = ((h + 2 * p.0 - k.0) / s.0 + 1, (w + 2 * p.1 - k.1) / s.1 + 1);
        Array4::from_shape_fn((n, c, oh, ow), |(ni, ci, i, j)| {
            let mut acc = if max { f64::NEG_INFINITY } else { 0.0 };
            for ki in 0..k.0 {
                for kj in 0..k.1 {
                    let (y, xx) = (
                        (i * s.0 + ki) as isize - p.0 as isize,
                        (j * s.1 + kj) as isize - p.1 as isize,
                    );
                    if y >= 0 && xx >= 0 && (y as usize) < h && (xx as usize) < w {
                        let v = x[[ni, ci, y as usize, xx as usize]];
                        acc = if max { acc.max(v) } else { acc + v };
                    }
                }
            }
            if max { acc } else { acc / (k.0 * k.1) as f64 }
        })
    }

    /// `(input, kernel, stride, padding)`: the book's 2×2/2, overlapping windows with padding 1,
    /// non-square everything, kernel equal to and larger than the stride.
    type Pair = (usize, usize);
    const CASES: [([usize; 4], Pair, Pair, Pair); 4] = [
        ([2, 3, 6, 8], (2, 2), (2, 2), (0, 0)),
        ([2, 2, 5, 7], (3, 3), (2, 2), (1, 1)),
        ([1, 3, 7, 5], (2, 3), (1, 2), (1, 1)),
        ([3, 1, 9, 6], (4, 4), (2, 2), (2, 2)),
    ];

    #[test]
    fn pooling_matches_the_definition() {
        for (i, &(shape, k, s, p)) in CASES.iter().enumerate() {
            let x = rand(&shape, i as u64);
            let t = Tensor::from_array(x.clone());
            for max in [true, false] {
                let got = if max {
                    t.max_pool2d(k, s, p)
                } else {
                    t.avg_pool2d(k, s, p)
                }
                .to_array();
                let expected = naive_pool(&x, k, s, p, max);
                assert_eq!(got.shape(), expected.shape(), "case {i}");
                assert!(
                    got.iter()
                        .zip(expected.iter())
                        .all(|(a, b)| (a - b).abs() < 1e-12),
                    "case {i}, max {max}"
                );
            }
        }
    }

    #[test]
    fn pooling_gradients() {
        // Random values have no ties, so max pooling is differentiable at them.
        for (i, &(shape, k, s, p)) in CASES.iter().enumerate() {
            let x = rand(&shape, 10 + i as u64);
            check(|t| t[0].max_pool2d(k, s, p), &[x.clone()]);
            check(|t| t[0].avg_pool2d(k, s, p), &[x.clone()]);
            // A gradient arriving non-contiguous.
            check(
                |t| t[0].max_pool2d(k, s, p).permute(&[3, 2, 1, 0]),
                &[x.clone()],
            );
            check(|t| t[0].avg_pool2d(k, s, p).permute(&[3, 2, 1, 0]), &[x]);
        }
    }

    #[test]
    fn the_2x2_path_matches_the_general_one() {
        // Odd sizes (a row and a column left over), ties, and NaN.
        let (n, c, h, w) = (2, 3, 7, 9);
        let xs: Vec<f64> = (0..n * c * h * w)
            .map(|i| match i % 11 {
                0 => f64::NAN,
                k => ((i * 7919) % 13) as f64 + if k == 3 { 0.0 } else { 0.5 },
            })
            .collect();
        let win = Window::new("test", &[n, c, h, w], 2.into(), 2.into(), 0.into());
        let (mut y1, mut a1, mut y2, mut a2) = (vec![0.0; 72], vec![0; 72], vec![], vec![]);
        max_pool_2x2(&xs, &win, 0, &mut y1, &mut a1);
        max_pool_windows(&xs, &win, &mut y2, Some(&mut a2));
        assert_eq!(a1, a2);
        assert_eq!(y1.len(), n * c * 3 * 4);
        assert!(
            y1.iter()
                .zip(&y2)
                .all(|(a, b)| a == b || (a.is_nan() && b.is_nan()))
        );
        assert!(y1.iter().any(|v| v.is_nan()));
        // The values-only path (inference) gives the same values, signed zeros included.
        // (Everything else negative, so that the zeros are the maxima.)
        let mut zeros: Vec<f64> = xs.iter().map(|v| -v.abs() - 1.0).collect();
        zeros.iter_mut().step_by(5).for_each(|v| *v = -0.0);
        zeros.iter_mut().step_by(7).for_each(|v| *v = 0.0);
        for xs in [&xs, &zeros] {
            let (mut want, mut got) = (vec![], vec![0.0; n * c * 3 * 4]);
            max_pool_windows(xs, &win, &mut want, None);
            max_pool_2x2_values(xs, &win, 0, &mut got);
            let same = |a: &f64, b: &f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
            assert!(got.iter().zip(&want).all(|(a, b)| same(a, b)));
        }
    }

    /// Planes shared out over threads, and the ReLU before them: the bits of one thread.
    #[test]
    fn threads_give_the_bits_of_one() {
        let x = rand(&[4, 16, 32, 33], 31);
        let run = |threads| {
            crate::kernels::with_num_threads(threads, || {
                let t = Tensor::from_array(x.clone()).requires_grad();
                let y = t.relu().max_pool2d(2, 2, 0);
                (y.clone() * y.clone()).sum().backward().unwrap();
                let inference = crate::no_grad(|| t.relu().max_pool2d(2, 2, 0)).to_array();
                (y.to_array(), t.grad().unwrap(), inference)
            })
        };
        let (one, three) = (run(1), run(3));
        assert_eq!(one, three);
        assert_eq!(one.0, one.2);
    }

    #[test]
    fn max_pool_gives_ties_to_the_first() {
        let x = Tensor::<f64>::from_vec(&[1, 1, 2, 4], vec![3., 3., 1., 2., 3., 0., 2., 2.])
            .requires_grad();
        let y = x.max_pool2d(2, 2, 0);
        assert_eq!(y.to_array().as_slice().unwrap(), &[3.0, 2.0]);
        y.sum().backward().unwrap();
        assert_eq!(
            x.grad().unwrap().as_slice().unwrap(),
            &[1., 0., 0., 1., 0., 0., 0., 0.]
        );
        // Overlapping windows send several gradients to one input.
        let x = Tensor::<f64>::from_vec(&[1, 1, 1, 3], vec![0., 5., 1.]).requires_grad();
        x.max_pool2d((1, 2), 1, 0).sum().backward().unwrap();
        assert_eq!(x.grad().unwrap().as_slice().unwrap(), &[0., 2., 0.]);
    }

    #[test]
    fn max_pool_padding_never_wins() {
        let x = Tensor::<f64>::full(&[1, 1, 2, 2], -5.0);
        let y = x.max_pool2d(2, 1, 1).to_array();
        assert!(y.iter().all(|&v| v == -5.0), "{y}");
        // Average pooling counts the padding as zeros.
        let y = x.avg_pool2d(2, 1, 1).to_array();
        assert_eq!(y[[0, 0, 0, 0]], -5.0 / 4.0);
        assert_eq!(y[[0, 0, 1, 1]], -5.0);
    }

    #[test]
    fn nan_propagates_through_max_pool() {
        let x = Tensor::<f64>::from_vec(&[1, 1, 2, 2], vec![1., f64::NAN, 3., 2.]);
        assert!(x.max_pool2d(2, 2, 0).item().is_nan());
    }

    #[test]
    #[should_panic(
        expected = "max_pool2d: padding Size2d { h: 2, w: 2 } must be at most half the kernel Size2d { h: 3, w: 3 }"
    )]
    fn too_much_padding_panics() {
        let _ = Tensor::<f32>::ones(&[1, 1, 4, 4]).max_pool2d(3, 1, 2);
    }

    #[test]
    #[should_panic(expected = "avg_pool2d: expects an (N, C, H, W) input, got shape [4, 4]")]
    fn pooling_needs_four_axes() {
        let _ = Tensor::<f32>::ones(&[4, 4]).avg_pool2d(2, 2, 0);
    }
}
