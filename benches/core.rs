//! nn-core's overhead, measured against plain ndarray (`cargo bench --bench core`):
//! (a) a 784-100-10 MLP training step (forward + backward, batch 100) through the tape,
//! (b) the same computation written by hand with ndarray, as the book writes its layers,
//! (c) the cost of recording one op on 1×1 tensors.
//! The ratio a/b is the tape's overhead; docs/performance.md records the measured figures.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use ndarray::{Array1, Array2, Axis};
use zero_nn::core::{Tensor, no_grad};

const BATCH: usize = 100;
const IN: usize = 784;
const HIDDEN: usize = 100;
const OUT: usize = 10;

struct Data {
    x: Array2<f32>,
    t: Array2<f32>,
    w1: Array2<f32>,
    w2: Array2<f32>,
}

fn data() -> Data {
    let arr = |shape: &[usize], seed| -> Array2<f32> {
        let a = Tensor::<f32>::randn(shape, seed).to_array();
        a.into_dimensionality().expect("2-D")
    };
    let mut t = Array2::zeros((BATCH, OUT));
    for i in 0..BATCH {
        t[[i, (i * 7) % OUT]] = 1.0;
    }
    Data {
        x: arr(&[BATCH, IN], 1).mapv(|v| v.abs().min(1.0)),
        t,
        w1: arr(&[IN, HIDDEN], 2) * 0.01,
        w2: arr(&[HIDDEN, OUT], 3) * 0.01,
    }
}

/// The hand-written step: Affine → ReLU → Affine → SoftmaxWithLoss and back (book ch.5).
fn manual_step(
    d: &Data,
    b1: &Array1<f32>,
    b2: &Array1<f32>,
) -> (f32, [Array2<f32>; 2], [Array1<f32>; 2]) {
    let a1 = d.x.dot(&d.w1) + b1;
    let h = a1.mapv(|v| v.max(0.0));
    let scores = h.dot(&d.w2) + b2;
    let mut y = scores;
    for mut row in y.rows_mut() {
        let m = row.fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        row.mapv_inplace(|v| (v - m).exp());
        let s = row.sum();
        row.mapv_inplace(|v| v / s);
    }
    let n = BATCH as f32;
    let loss = -(&d.t * &y.mapv(f32::ln)).sum() / n;
    let dscores = (&y - &d.t) / n;
    let dw2 = h.t().dot(&dscores);
    let db2 = dscores.sum_axis(Axis(0));
    let mut dh = dscores.dot(&d.w2.t());
    dh.zip_mut_with(&h, |g, &h| {
        if h <= 0.0 {
            *g = 0.0
        }
    });
    let dw1 = d.x.t().dot(&dh);
    let db1 = dh.sum_axis(Axis(0));
    (loss, [dw1, dw2], [db1, db2])
}

fn mlp_step(c: &mut Criterion) {
    let d = data();
    let mut group = c.benchmark_group("mlp_784_100_10_batch100");

    let x = Tensor::from_array(d.x.clone());
    let t = Tensor::from_array(d.t.clone());
    let w1 = Tensor::from_array(d.w1.clone()).requires_grad();
    let b1 = Tensor::<f32>::zeros(&[HIDDEN]).requires_grad();
    let w2 = Tensor::from_array(d.w2.clone()).requires_grad();
    let b2 = Tensor::<f32>::zeros(&[OUT]).requires_grad();
    let params = [&w1, &b1, &w2, &b2];
    group.bench_function("tape_forward_backward", |bench| {
        bench.iter(|| {
            for p in params {
                p.zero_grad();
            }
            let h = x.affine(&w1, &b1).relu();
            let logits = h.affine(&w2, &b2);
            let loss = (logits.log_softmax(1) * &t)
                .sum()
                .neg()
                .div_scalar(BATCH as f32);
            loss.backward().expect("backward");
            black_box(loss.item())
        })
    });
    // The same with separate matmul and broadcast add (one more array and a gradient copy).
    group.bench_function("tape_forward_backward_unfused", |bench| {
        bench.iter(|| {
            for p in params {
                p.zero_grad();
            }
            let h = (x.matmul(&w1) + &b1).relu();
            let logits = h.matmul(&w2) + &b2;
            let loss = (logits.log_softmax(1) * &t)
                .sum()
                .neg()
                .div_scalar(BATCH as f32);
            loss.backward().expect("backward");
            black_box(loss.item())
        })
    });

    let (b1m, b2m) = (Array1::zeros(HIDDEN), Array1::zeros(OUT));
    group.bench_function("manual_ndarray_forward_backward", |bench| {
        bench.iter(|| black_box(manual_step(&d, &b1m, &b2m)))
    });

    group.bench_function("tape_inference_no_grad", |bench| {
        bench.iter(|| no_grad(|| black_box(x.affine(&w1, &b1).relu().affine(&w2, &b2))))
    });
    group.finish();
}

fn op_overhead(c: &mut Criterion) {
    const OPS: usize = 1000;
    let mut group = c.benchmark_group("op_overhead_1x1_x1000");
    let w = Tensor::<f32>::ones(&[1, 1]).requires_grad();
    let k = Tensor::<f32>::full(&[1, 1], 1.0001);
    group.bench_function("recorded_mul", |bench| {
        bench.iter(|| {
            let mut y = w.clone();
            for _ in 0..OPS {
                y = &y * &k;
            }
            black_box(y)
        })
    });
    group.bench_function("recorded_mul_and_backward", |bench| {
        bench.iter(|| {
            let mut y = w.clone();
            for _ in 0..OPS {
                y = &y * &k;
            }
            y.sum().backward().expect("backward");
            w.zero_grad();
        })
    });
    let c0 = w.detach();
    group.bench_function("constant_mul", |bench| {
        bench.iter(|| {
            let mut y = c0.clone();
            for _ in 0..OPS {
                y = &y * &k;
            }
            black_box(y)
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
    targets = mlp_step, op_overhead
}
criterion_main!(benches);
