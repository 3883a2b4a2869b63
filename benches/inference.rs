//! The book's chapter-3 network (784-50-100-10, sigmoid hidden layers, softmax) over 10,000
//! MNIST-shaped images (`cargo bench --bench inference`): one image at a time against batches
//! of 1, 10, 100 and 1,000, through the tape-free [`Predictor`] and, for reference, through the
//! model's own forward pass under `no_grad`. Throughput is in images per second.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ndarray::{Array2, Axis};
use rand::SeedableRng;
use rand::rngs::StdRng;
use zero_nn::core::{Tensor, kernels, no_grad};
use zero_nn::layers::{Init, Linear, Module, Predictor, Sequential, Sigmoid, Softmax};

const IMAGES: usize = 10_000;

fn network() -> Sequential<f32> {
    let mut rng = StdRng::seed_from_u64(0);
    let init = Init::Normal { std: 0.1 };
    Sequential::new()
        .add(Linear::with_init(784, 50, init, true, &mut rng))
        .add(Sigmoid)
        .add(Linear::with_init(50, 100, init, true, &mut rng))
        .add(Sigmoid)
        .add(Linear::with_init(100, 10, init, true, &mut rng))
        .add(Softmax { axis: 1 })
}

/// Pixels in [0, 1), as MNIST's `float32 / 255.0`.
fn images() -> Array2<f32> {
    Tensor::<f32>::rand_uniform(&[IMAGES, 784], 0.0, 1.0, 1)
        .to_array()
        .into_dimensionality()
        .expect("2-D")
}

fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

fn inference(c: &mut Criterion) {
    kernels::set_num_threads(1);
    let mut net = network();
    net.eval();
    let x = images();
    let mut p = Predictor::new(&net).expect("supported layers");
    let mut group = c.benchmark_group("inference_784_50_100_10_10k_images");
    group.throughput(Throughput::Elements(IMAGES as u64));
    group.sample_size(20);
    group.bench_function("unbatched_predictor", |bench| {
        bench.iter(|| {
            let mut hits = 0usize;
            for row in x.rows() {
                let y = p.predict_one(row.as_slice().expect("standard layout"));
                hits += argmax(y);
            }
            black_box(hits)
        })
    });
    for batch in [1usize, 10, 100, 1000] {
        for threads in [1usize, 2] {
            if threads == 2 && batch < 100 {
                continue;
            }
            let id = BenchmarkId::new(format!("batched_predictor_{threads}thread"), batch);
            group.bench_with_input(id, &batch, |bench, &batch| {
                kernels::set_num_threads(threads);
                bench.iter(|| {
                    let mut hits = 0usize;
                    for chunk in x.axis_chunks_iter(Axis(0), batch) {
                        let y = p.predict_batch(chunk);
                        hits += y
                            .rows()
                            .into_iter()
                            .map(|r| argmax(r.as_slice().expect("rows")))
                            .sum::<usize>();
                    }
                    black_box(hits)
                })
            });
            kernels::set_num_threads(1);
        }
    }
    // The same network through the tape's ops (nothing recorded): what a Predictor saves.
    for batch in [1usize, 100] {
        let id = BenchmarkId::new("module_forward_no_grad", batch);
        group.bench_with_input(id, &batch, |bench, &batch| {
            bench.iter(|| {
                no_grad(|| {
                    let mut n = 0usize;
                    for chunk in x.axis_chunks_iter(Axis(0), batch) {
                        let y = net.forward(&Tensor::from_array(chunk.to_owned()));
                        n += y.shape()[0];
                    }
                    black_box(n)
                })
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    targets = inference
}
criterion_main!(benches);
