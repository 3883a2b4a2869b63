//! The Rust side of `benches/compare/run.sh`: workloads W1–W5 through zero-nn and through a
//! hand-written ndarray baseline (no tape, the book's layer code translated line by line), and
//! the CNN workloads W6–W8, on the same synthetic data as `benches/compare/book_numpy.py`.
//! Prints one JSON line per workload and implementation.
//!
//! W9 and W10 are the sequel's word-vector workloads ([`words`]), W11 and W12 its language-model
//! workloads ([`rnn`]), W13 and W14 its attention workloads ([`seq2seq`]).
//!
//! `cargo run --release --example compare -- RUNS THREADS [WORKLOADS]` (e.g. `W6,W8`; all by
//! default)

mod rnn;
mod seq2seq;
mod words;

use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use ndarray::{Array1, Array2, ArrayView2, Axis, IxDyn, Slice};
use zero_nn::Tensor;
use zero_nn::core::kernels;
use zero_nn::core::no_grad;
use zero_nn::layers::{
    Conv2d, DataParallel, Flatten, Linear, MaxPool2d, Module, Predictor, Reduction, Relu,
    Sequential, Sigmoid, Softmax, Target, cross_entropy,
};
use zero_nn::optim::{Adam, Optimizer, Sgd};

#[path = "../common/alloc.rs"]
mod alloc;

fn images(n: usize) -> Array2<f32> {
    Array2::from_shape_fn((n, 784), |(i, j)| {
        ((i * 7919 + j * 104_729) % 256) as f32 / 255.0
    })
}

fn weights(rows: usize, cols: usize, salt: usize) -> Array2<f32> {
    Array2::from_shape_fn((rows, cols), |(i, j)| {
        ((((i * 31 + j * 17 + salt) % 97) as f64 / 97.0 - 0.5) * 0.1) as f32
    })
}

fn linear(a: usize, b: usize, salt: usize) -> Linear<f32> {
    Linear::from_parameters(
        Tensor::from_array(weights(a, b, salt)).requires_grad(),
        Some(Tensor::zeros(&[b]).requires_grad()),
    )
}

fn book_network() -> Sequential<f32> {
    Sequential::new()
        .add(linear(784, 50, 1))
        .add(Sigmoid)
        .add(linear(50, 100, 2))
        .add(Sigmoid)
        .add(linear(100, 10, 3))
        .add(Softmax { axis: 1 })
}

fn mlp(widths: &[usize]) -> Sequential<f32> {
    let mut net = Sequential::new();
    for (k, pair) in widths.windows(2).enumerate() {
        net.push(Box::new(linear(pair[0], pair[1], k + 1)));
        if k + 2 < widths.len() {
            net.push(Box::new(Relu));
        }
    }
    net
}

fn argmax<'a>(v: impl IntoIterator<Item = &'a f32>) -> usize {
    let mut best = (0, f32::NEG_INFINITY);
    for (i, &x) in v.into_iter().enumerate() {
        if x > best.1 {
            best = (i, x);
        }
    }
    best.0
}

pub(crate) fn median_time(runs: usize, mut f: impl FnMut()) -> (f64, Vec<f64>) {
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], times)
}

pub(crate) fn report(
    imp: &str,
    threads: usize,
    workload: &str,
    (s, runs): (f64, Vec<f64>),
    work: f64,
    unit: &str,
) {
    let runs: Vec<String> = runs.iter().map(|t| format!("{t}")).collect();
    println!(
        "{{\"impl\": \"{imp}\", \"threads\": {threads}, \"workload\": \"{workload}\", \"median_s\": {s}, \"runs_s\": [{}], \"rate\": {}, \"unit\": \"{unit}\"}}",
        runs.join(", "),
        work / s
    );
}

/// The book's `predict` with plain ndarray (ch.3.6.2).
struct BookNet {
    w: [Array2<f32>; 3],
    b: [Array1<f32>; 3],
}

impl BookNet {
    fn predict(&self, x: &Array2<f32>) -> Array2<f32> {
        let sigmoid = |a: Array2<f32>| a.mapv(|v| 1.0 / (1.0 + (-v).exp()));
        let z1 = sigmoid(x.dot(&self.w[0]) + &self.b[0]);
        let z2 = sigmoid(z1.dot(&self.w[1]) + &self.b[1]);
        let mut y = z2.dot(&self.w[2]) + &self.b[2];
        for mut row in y.rows_mut() {
            let m = row.fold(f32::NEG_INFINITY, |m, &v| m.max(v));
            row.mapv_inplace(|v| (v - m).exp());
            let s = row.sum();
            row.mapv_inplace(|v| v / s);
        }
        y
    }
}

/// One SGD epoch of the book's Affine → ReLU → Affine → SoftmaxWithLoss with plain ndarray.
fn manual_epoch(x: ArrayView2<'_, f32>, labels: &[usize]) -> f32 {
    let (mut w1, mut w2) = (weights(784, 100, 1), weights(100, 10, 2));
    let (mut b1, mut b2) = (Array1::<f32>::zeros(100), Array1::<f32>::zeros(10));
    let mut loss = 0.0;
    for (bi, xb) in x.axis_chunks_iter(Axis(0), 100).enumerate() {
        let t = &labels[bi * 100..bi * 100 + xb.nrows()];
        let h = (xb.dot(&w1) + &b1).mapv(|v| v.max(0.0));
        let mut y = h.dot(&w2) + &b2;
        let n = xb.nrows() as f32;
        loss = 0.0;
        for (mut row, &ti) in y.rows_mut().into_iter().zip(t) {
            let m = row.fold(f32::NEG_INFINITY, |m, &v| m.max(v));
            row.mapv_inplace(|v| (v - m).exp());
            let s = row.sum();
            row.mapv_inplace(|v| v / s);
            loss -= (row[ti] + 1e-7).ln() / n;
            row[ti] -= 1.0;
        }
        let dy = y / n;
        let dw2 = h.t().dot(&dy);
        let db2 = dy.sum_axis(Axis(0));
        let mut dh = dy.dot(&w2.t());
        dh.zip_mut_with(&h, |g, &h| {
            if h <= 0.0 {
                *g = 0.0
            }
        });
        let dw1 = xb.t().dot(&dh);
        let db1 = dh.sum_axis(Axis(0));
        w1.scaled_add(-0.1, &dw1);
        b1.scaled_add(-0.1, &db1);
        w2.scaled_add(-0.1, &dw2);
        b2.scaled_add(-0.1, &db2);
    }
    loss
}

fn epoch(x: &Images, labels: &[usize], widths: &[usize], adam: bool, threads: usize) -> f32 {
    let mut net = mlp(widths);
    let mut opt: Box<dyn Optimizer> = if adam {
        Box::new(Adam::new(net.parameter_tensors(), 0.001))
    } else {
        Box::new(Sgd::new(net.parameter_tensors(), 0.1))
    };
    if split_batches(threads) {
        let widths = widths.to_vec();
        let build = move || mlp(&widths);
        return parallel_epoch(&mut net, opt.as_mut(), x, labels, build, threads);
    }
    let batches = batches(x).map(Tensor::from_shared);
    train_batches(&mut net, opt.as_mut(), batches, labels)
}

/// An epoch with each batch of 100 split over `threads` threads ([`DataParallel`], replicas
/// made by `build`); the last batch's loss.
fn parallel_epoch(
    net: &mut Sequential<f32>,
    opt: &mut dyn Optimizer,
    x: &Images,
    labels: &[usize],
    build: impl Fn() -> Sequential<f32> + Send + Sync + 'static,
    threads: usize,
) -> f32 {
    let mut parallel = DataParallel::new(
        threads,
        build,
        |net: &mut dyn Module<f32>, x: &Tensor<f32>, t: &[usize], rows: Range<usize>| {
            cross_entropy(&net.forward(x), Target::Classes(&t[rows]), Reduction::Mean)
        },
    );
    let mut loss = 0.0;
    for (bi, xb) in batches(x).enumerate() {
        let n = xb.shape()[0];
        let t: Arc<[usize]> = Arc::from(&labels[bi * 100..bi * 100 + n]);
        opt.zero_grad();
        loss = parallel.backward(net, xb, t).expect("scalar loss");
        opt.step();
    }
    loss
}

/// Whether training at `threads` threads splits the batch (the default) rather than each
/// product (`COMPARE_SPLIT=products`).
fn split_batches(threads: usize) -> bool {
    threads > 1 && std::env::var("COMPARE_SPLIT").as_deref() != Ok("products")
}

/// One pass of `opt` over `batches` of 100 (the last may be shorter), labelled in order by
/// `labels`; the last batch's loss.
fn train_batches(
    net: &mut Sequential<f32>,
    opt: &mut dyn Optimizer,
    batches: impl Iterator<Item = Tensor<f32>>,
    labels: &[usize],
) -> f32 {
    let mut loss = 0.0;
    for (bi, xb) in batches.enumerate() {
        let t = &labels[bi * 100..bi * 100 + xb.shape()[0]];
        opt.zero_grad();
        let l = cross_entropy(&net.forward(&xb), Target::Classes(t), Reduction::Mean);
        l.backward().expect("scalar loss");
        opt.step();
        loss = l.item();
    }
    loss
}

/// A convolution `(out, in, k, k)` with the synthetic weights of `weights(out, in·k·k)`, as
/// `book_numpy.py`'s `conv_weights`.
fn conv(out: usize, inp: usize, k: usize, pad: usize, salt: usize) -> Conv2d<f32> {
    let w = weights(out, inp * k * k, salt)
        .into_shape_with_order((out, inp, k, k))
        .expect("same length")
        .into_dyn();
    Conv2d::from_parameters(
        Tensor::from_array(w).requires_grad(),
        Some(Tensor::zeros(&[out]).requires_grad()),
    )
    .with_padding(pad)
}

/// The book's SimpleConvNet (ch.7.5) with synthetic weights.
fn simple_convnet() -> Sequential<f32> {
    Sequential::new()
        .add(conv(30, 1, 5, 0, 1))
        .add(Relu)
        .add(MaxPool2d::new(2))
        .add(Flatten)
        .add(linear(4320, 100, 2))
        .add(Relu)
        .add(linear(100, 10, 3))
}

/// The book's DeepConvNet (ch.8.1) in evaluation mode (Dropout is then the identity).
fn deep_convnet() -> Sequential<f32> {
    let channels = [1, 16, 16, 32, 32, 64, 64];
    let mut net = Sequential::new();
    for i in 0..6 {
        let pad = if i == 3 { 2 } else { 1 };
        net = net
            .add(conv(channels[i + 1], channels[i], 3, pad, i + 1))
            .add(Relu);
        if i % 2 == 1 {
            net = net.add(MaxPool2d::new(2));
        }
    }
    net.add(Flatten)
        .add(linear(1024, 50, 7))
        .add(Relu)
        .add(linear(50, 10, 8))
}

/// The data set, shared by the batches cut from it.
type Images = ndarray::ArcArray<f32, IxDyn>;

/// `x` in batches of 100 rows (the last may be shorter), each sharing `x`'s data as the peers'
/// slices `x[i:i + 100]` do: no copy.
fn batches(x: &Images) -> impl Iterator<Item = Images> + '_ {
    let n = x.shape()[0];
    (0..n).step_by(100).map(move |i| {
        let mut b = x.clone();
        b.slice_axis_inplace(Axis(0), Slice::from(i..(i + 100).min(n)));
        b
    })
}

/// Classifies `x` (`(n, 1, 28, 28)`) in batches of 100 without the tape.
fn classify(net: &mut Sequential<f32>, x: &Images) -> usize {
    net.eval();
    no_grad(|| {
        let mut hits = 0;
        for chunk in batches(x) {
            let y = net.forward(&Tensor::from_shared(chunk));
            hits += y
                .array()
                .outer_iter()
                .map(|r| argmax(r.iter()))
                .sum::<usize>();
        }
        hits
    })
}

/// One Adam epoch of SimpleConvNet over `x` (`(n, 1, 28, 28)`) in batches of 100.
fn cnn_epoch(x: &Images, labels: &[usize], threads: usize) -> f32 {
    let mut net = simple_convnet();
    let mut opt = Adam::new(net.parameter_tensors(), 0.001);
    if split_batches(threads) {
        return parallel_epoch(&mut net, &mut opt, x, labels, simple_convnet, threads);
    }
    let batches = batches(x).map(Tensor::from_shared);
    train_batches(&mut net, &mut opt, batches, labels)
}

fn main() {
    alloc::keep_freed_memory();
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .take(2)
        .map(|a| a.parse().expect("usage: compare RUNS THREADS [WORKLOADS]"))
        .collect();
    let (runs, threads) = (
        args.first().copied().unwrap_or(3),
        args.get(1).copied().unwrap_or(1),
    );
    let only = std::env::args().nth(3);
    let wanted = |w: &str| {
        only.as_deref()
            .is_none_or(|list| list.split(',').any(|x| x == w))
    };
    kernels::set_num_threads(threads);

    mlp_workloads(runs, threads, &wanted);
    cnn_workloads(runs, threads, &wanted);
    words::word_workloads(runs, threads, &wanted);
    rnn::rnn_workloads(runs, threads, &wanted);
    seq2seq::seq2seq_workloads(runs, threads, &wanted);
}

fn cnn_workloads(runs: usize, threads: usize, wanted: &dyn Fn(&str) -> bool) {
    let ours = "zero-nn";
    let as_images = |x: Array2<f32>| {
        let n = x.nrows();
        x.into_shape_with_order(IxDyn(&[n, 1, 28, 28]))
            .expect("rows of 784")
            .into_shared()
    };
    if wanted("W6") {
        let x = as_images(images(10_000));
        let mut net = simple_convnet();
        let w6 = median_time(runs, || {
            std::hint::black_box(classify(&mut net, &x));
        });
        report(ours, threads, "W6", w6, 10_000.0, "images/s");
    }
    if wanted("W7") {
        let x = as_images(images(60_000));
        let labels: Vec<usize> = (0..60_000).map(|i| i % 10).collect();
        let w7 = median_time(runs, || {
            std::hint::black_box(cnn_epoch(&x, &labels, threads));
        });
        report(ours, threads, "W7", w7, 60_000.0, "samples/s");
    }
    if wanted("W8") {
        let x = as_images(images(10_000));
        let mut net = deep_convnet();
        let w8 = median_time(runs, || {
            std::hint::black_box(classify(&mut net, &x));
        });
        report(ours, threads, "W8", w8, 10_000.0, "images/s");
    }
}

fn mlp_workloads(runs: usize, threads: usize, wanted: &dyn Fn(&str) -> bool) {
    if wanted("W1") || wanted("W2") {
        inference_workloads(runs, threads);
    }
    if wanted("W3") || wanted("W4") {
        training_workloads(runs, threads, wanted);
    }
    if wanted("W5") {
        product_workloads(runs, threads);
    }
}

fn inference_workloads(runs: usize, threads: usize) {
    let ours = "zero-nn";
    let base = "ndarray by hand";
    let x10k = images(10_000);
    let net = book_network();
    let mut p = Predictor::new(&net).expect("supported layers");
    let w1 = median_time(runs, || {
        let mut hits = 0;
        for row in x10k.rows() {
            hits += argmax(p.predict_one(row.as_slice().expect("standard layout")));
        }
        std::hint::black_box(hits);
    });
    report(ours, threads, "W1", w1, 10_000.0, "images/s");
    let w2 = median_time(runs, || {
        let mut hits = 0;
        for chunk in x10k.axis_chunks_iter(Axis(0), 100) {
            hits += p
                .predict_batch(chunk)
                .rows()
                .into_iter()
                .map(argmax)
                .sum::<usize>();
        }
        std::hint::black_box(hits);
    });
    report(ours, threads, "W2", w2, 10_000.0, "images/s");

    let book = BookNet {
        w: [
            weights(784, 50, 1),
            weights(50, 100, 2),
            weights(100, 10, 3),
        ],
        b: [Array1::zeros(50), Array1::zeros(100), Array1::zeros(10)],
    };
    // The baseline is single-threaded: measured once, in the 1-thread run.
    if threads == 1 {
        let b1 = median_time(runs, || {
            let mut hits = 0;
            for row in x10k.axis_chunks_iter(Axis(0), 1) {
                hits += argmax(&book.predict(&row.to_owned()));
            }
            std::hint::black_box(hits);
        });
        report(base, 1, "W1", b1, 10_000.0, "images/s");
        let b2 = median_time(runs, || {
            let mut hits = 0;
            for chunk in x10k.axis_chunks_iter(Axis(0), 100) {
                hits += book
                    .predict(&chunk.to_owned())
                    .rows()
                    .into_iter()
                    .map(argmax)
                    .sum::<usize>();
            }
            std::hint::black_box(hits);
        });
        report(base, 1, "W2", b2, 10_000.0, "images/s");
    }
}

fn training_workloads(runs: usize, threads: usize, wanted: &dyn Fn(&str) -> bool) {
    let (ours, base) = ("zero-nn", "ndarray by hand");
    let x60k = images(60_000).into_dyn().into_shared();
    let labels: Vec<usize> = (0..60_000).map(|i| i % 10).collect();
    if wanted("W3") {
        let w3 = median_time(runs, || {
            std::hint::black_box(epoch(&x60k, &labels, &[784, 100, 10], false, threads));
        });
        report(ours, threads, "W3", w3, 60_000.0, "samples/s");
        if threads == 1 {
            let b3 = median_time(runs, || {
                let x = x60k.view().into_dimensionality().expect("rows of 784");
                std::hint::black_box(manual_epoch(x, &labels));
            });
            report(base, 1, "W3", b3, 60_000.0, "samples/s");
        }
    }
    if wanted("W4") {
        let w4 = median_time(runs, || {
            std::hint::black_box(epoch(&x60k, &labels, &[784, 256, 256, 10], true, threads));
        });
        report(ours, threads, "W4", w4, 60_000.0, "samples/s");
    }
}

fn product_workloads(runs: usize, threads: usize) {
    let ours = "zero-nn";

    for (name, (m, k, n)) in [
        ("W5 1024^3", (1024, 1024, 1024)),
        ("W5 100x784x100", (100, 784, 100)),
        ("W5 784x100x100", (784, 100, 100)),
    ] {
        let (a, b) = (weights(m, k, 5), weights(k, n, 6));
        let mut c = Array2::<f32>::zeros((m, n));
        let reps = (2e9 / (2.0 * (m * n * k) as f64)).max(1.0) as usize;
        let gflop = 2.0 * (m * n * k) as f64 / 1e9;
        let (s, ts) = median_time(runs, || {
            for _ in 0..reps {
                kernels::gemm(1.0, &a.view(), &b.view(), 0.0, &mut c.view_mut());
            }
        });
        let per = ts.iter().map(|t| t / reps as f64).collect();
        report(
            ours,
            threads,
            name,
            (s / reps as f64, per),
            gflop,
            "GFLOP/s",
        );
    }
}
