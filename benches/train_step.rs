//! One training step — forward, cross-entropy, backward, optimizer update — at batch 100
//! (`cargo bench --bench train_step`): 784-100-10 and 784-256-256-10 ReLU networks, SGD and
//! Adam, on one and two threads; two threads either split each matrix product or split the
//! batch ([`DataParallel`]).

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rand::SeedableRng;
use rand::rngs::StdRng;
use zero_nn::core::{Tensor, kernels};
use zero_nn::layers::{
    DataParallel, Linear, Module, Reduction, Relu, Sequential, Target, cross_entropy,
};
use zero_nn::optim::{Adam, Optimizer, Sgd};

#[path = "../examples/common/alloc.rs"]
mod alloc;

const BATCH: usize = 100;

fn network(widths: &[usize]) -> Sequential<f32> {
    let mut rng = StdRng::seed_from_u64(0);
    let mut net = Sequential::new();
    for (i, pair) in widths.windows(2).enumerate() {
        net.push(Box::new(Linear::new(pair[0], pair[1], &mut rng)));
        if i + 2 < widths.len() {
            net.push(Box::new(Relu));
        }
    }
    net
}

fn train_step(c: &mut Criterion) {
    alloc::keep_freed_memory();
    let x = Tensor::<f32>::rand_uniform(&[BATCH, 784], 0.0, 1.0, 1);
    let labels: Vec<usize> = (0..BATCH).map(|i| (i * 7) % 10).collect();
    let mut group = c.benchmark_group("train_step_batch100");
    group.throughput(Throughput::Elements(BATCH as u64));
    for (name, widths) in [
        ("784_100_10", &[784, 100, 10][..]),
        ("784_256_256_10", &[784, 256, 256, 10][..]),
    ] {
        for opt in ["sgd", "adam"] {
            for threads in [1usize, 2] {
                let mut net = network(widths);
                let mut optimizer: Box<dyn Optimizer> = if opt == "sgd" {
                    Box::new(Sgd::new(net.parameter_tensors(), 0.1))
                } else {
                    Box::new(Adam::new(net.parameter_tensors(), 0.001))
                };
                let id = BenchmarkId::new(format!("{name}_{opt}"), format!("{threads}thread"));
                group.bench_function(id, |bench| {
                    kernels::set_num_threads(threads);
                    bench.iter(|| {
                        optimizer.zero_grad();
                        let loss = cross_entropy(
                            &net.forward(&x),
                            Target::Classes(&labels),
                            Reduction::Mean,
                        );
                        loss.backward().expect("scalar loss");
                        optimizer.step();
                        loss.item()
                    })
                });
            }
        }
    }
    for (name, widths) in [
        ("784_100_10_sgd", &[784, 100, 10][..]),
        ("784_256_256_10_adam", &[784, 256, 256, 10][..]),
    ] {
        let mut net = network(widths);
        let mut optimizer: Box<dyn Optimizer> = if name.ends_with("sgd") {
            Box::new(Sgd::new(net.parameter_tensors(), 0.1))
        } else {
            Box::new(Adam::new(net.parameter_tensors(), 0.001))
        };
        let w = widths.to_vec();
        let mut parallel = DataParallel::new(
            2,
            move || network(&w),
            |net: &mut dyn Module<f32>, x: &Tensor<f32>, t: &[usize], rows: Range<usize>| {
                cross_entropy(&net.forward(x), Target::Classes(&t[rows]), Reduction::Mean)
            },
        );
        let targets: Arc<[usize]> = Arc::from(labels.as_slice());
        let id = BenchmarkId::new(name, "2thread_data_parallel");
        group.bench_function(id, |bench| {
            bench.iter(|| {
                optimizer.zero_grad();
                let loss = parallel
                    .backward(&mut net, x.array(), Arc::clone(&targets))
                    .expect("scalar loss");
                optimizer.step();
                loss
            })
        });
    }
    kernels::set_num_threads(1);
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = train_step
}
criterion_main!(benches);
