//! Micro-benchmarks (`cargo bench --bench ops`): matrix products at the networks' shapes on one
//! and two threads, elementwise ops, reductions and softmax, the tape's cost per op on tiny
//! tensors, and convolution and pooling at the book's CNN shapes. docs/performance.md records the measured figures.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ndarray::Array2;
use zero_nn::core::{Tensor, kernels, no_grad};

fn matrix(rows: usize, cols: usize, seed: u64) -> Array2<f32> {
    Tensor::<f32>::randn(&[rows, cols], seed)
        .to_array()
        .into_dimensionality()
        .expect("2-D")
}

/// `(m, k, n)` of the products in a 784-100-10 / 784-256-256-10 training step at batch 100,
/// and the machine's large-matrix reference.
const SHAPES: [(&str, usize, usize, usize); 7] = [
    ("x_w1_100x784x56", 100, 784, 56),
    ("x_w1_100x784x100", 100, 784, 100),
    ("xt_g_784x100x100", 784, 100, 100),
    ("x_w1_100x784x256", 100, 784, 256),
    ("h_w2_100x256x256", 100, 256, 256),
    ("h_w2_100x100x10", 100, 100, 10),
    ("square_1024", 1024, 1024, 1024),
];

fn matmul(c: &mut Criterion) {
    let mut group = c.benchmark_group("matmul_f32");
    for (name, m, k, n) in SHAPES {
        let (a, b) = (matrix(m, k, 1), matrix(k, n, 2));
        let mut out = Array2::<f32>::zeros((m, n));
        group.throughput(Throughput::Elements((2 * m * k * n) as u64));
        if m * k * n > 100_000_000 {
            group
                .sample_size(10)
                .measurement_time(Duration::from_secs(5));
        } else {
            group.sample_size(50);
        }
        for threads in [1, 2] {
            group.bench_with_input(BenchmarkId::new(name, threads), &threads, |bench, &t| {
                kernels::set_num_threads(t);
                bench.iter(|| {
                    kernels::gemm(1.0, &a.view(), &b.view(), 0.0, &mut out.view_mut());
                    black_box(&out);
                })
            });
        }
        if n % 8 == 0 {
            let packed = kernels::PackedMatrix::pack(&b.view());
            for threads in [1, 2] {
                let id = BenchmarkId::new(format!("{name}_packed"), threads);
                group.bench_with_input(id, &threads, |bench, &t| {
                    kernels::set_num_threads(t);
                    bench.iter(|| {
                        out.fill(0.0);
                        kernels::gemm_packed(&a.view(), &packed, &mut out.view_mut());
                        black_box(&out);
                    })
                });
            }
        }
        if name.starts_with("xt_") {
            // As the backward pass calls it: A is a transposed (column-major) view
            // (`to_owned` alone would keep the transposed layout).
            let x = a.t().as_standard_layout().into_owned();
            for threads in [1, 2] {
                let id = BenchmarkId::new(format!("{name}_view"), threads);
                group.bench_with_input(id, &threads, |bench, &t| {
                    kernels::set_num_threads(t);
                    bench.iter(|| {
                        kernels::gemm(1.0, &x.t(), &b.view(), 0.0, &mut out.view_mut());
                        black_box(&out);
                    })
                });
            }
        }
        // The crate's default backend, called directly: the baseline for the rows above.
        group.bench_function(BenchmarkId::new(name, "ndarray_dot"), |bench| {
            bench.iter(|| black_box(a.dot(&b)))
        });
    }
    kernels::set_num_threads(1);
    group.finish();
}

/// The hand-written panel kernel on each instruction-set path, one thread, against
/// matrixmultiply (ndarray's backend, with its AVX-512 kernels) in the same run: the figures
/// behind the choice in `kernels::gemm` (docs/performance.md).
fn matmul_paths(c: &mut Criterion) {
    let mut group = c.benchmark_group("matmul_paths_f32");
    kernels::set_num_threads(1);
    for (name, m, k, n) in [
        ("1024x1024x1024", 1024, 1024, 1024),
        ("100x784x100", 100, 784, 100),
        ("784x100x100", 784, 100, 100),
    ] {
        let (a, b) = (matrix(m, k, 1), matrix(k, n, 2));
        let at = a.t().as_standard_layout().into_owned();
        let mut out = Array2::<f32>::zeros((m, n));
        group
            .throughput(Throughput::Elements((2 * m * k * n) as u64))
            .sample_size(if m * k * n > 100_000_000 { 10 } else { 50 });
        // The panel kernel has no AVX-512 version of its own (that path runs the AVX2 loop).
        let paths = kernels::Isa::available()
            .into_iter()
            .filter(|&i| i <= kernels::Isa::Avx2);
        for isa in paths {
            group.bench_function(
                BenchmarkId::new(name, format!("panels_{}", isa.name())),
                |bench| {
                    bench.iter(|| {
                        kernels::gemm_panels(
                            isa,
                            1.0,
                            &a.view(),
                            &b.view(),
                            0.0,
                            &mut out.view_mut(),
                        );
                        black_box(&out);
                    })
                },
            );
            // Xᵀ·G of the backward pass: A column-major.
            let id = BenchmarkId::new(
                format!("{name}_colmajor_a"),
                format!("panels_{}", isa.name()),
            );
            group.bench_function(id, |bench| {
                bench.iter(|| {
                    kernels::gemm_panels(isa, 1.0, &at.t(), &b.view(), 0.0, &mut out.view_mut());
                    black_box(&out);
                })
            });
        }
        group.bench_function(BenchmarkId::new(name, "matrixmultiply"), |bench| {
            bench.iter(|| {
                ndarray::linalg::general_mat_mul(1.0, &a.view(), &b.view(), 0.0, &mut out);
                black_box(&out);
            })
        });
    }
    group.finish();
}

/// Packing B into panels, as every packed product does: W1 of 784-256-256-10 row-major (the
/// forward product) and W2ᵀ as a transposed view (the backward `G Wᵀ`).
fn packing(c: &mut Criterion) {
    let mut group = c.benchmark_group("pack_f32");
    let (w1, w2) = (matrix(784, 256, 1), matrix(256, 256, 2));
    let mut packed = kernels::PackedMatrix::pack(&w1.view());
    for (name, w) in [("rows_784x256", w1.view()), ("transposed_256x256", w2.t())] {
        group.throughput(Throughput::Elements(w.len() as u64));
        group.bench_function(name, |bench| bench.iter(|| packed.repack(black_box(&w))));
    }
    group.finish();
}

fn elementwise(c: &mut Criterion) {
    let mut group = c.benchmark_group("elementwise_f32_100x256");
    group.throughput(Throughput::Elements(100 * 256));
    let x = Tensor::<f32>::randn(&[100, 256], 3);
    let y = Tensor::<f32>::randn(&[100, 256], 4);
    let b = Tensor::<f32>::randn(&[256], 5);
    group.bench_function("add", |bench| bench.iter(|| black_box(&x + &y)));
    group.bench_function("add_bias_broadcast", |bench| {
        bench.iter(|| black_box(&x + &b))
    });
    group.bench_function("mul", |bench| bench.iter(|| black_box(&x * &y)));
    group.bench_function("relu", |bench| bench.iter(|| black_box(x.relu())));
    group.bench_function("sigmoid", |bench| bench.iter(|| black_box(x.sigmoid())));
    group.bench_function("exp", |bench| bench.iter(|| black_box(x.exp())));
    group.bench_function("sum_axis0", |bench| {
        bench.iter(|| black_box(x.sum_axes(&[0], false)))
    });
    group.bench_function("sum_all", |bench| bench.iter(|| black_box(x.sum())));
    group.bench_function("softmax_axis1", |bench| {
        bench.iter(|| black_box(x.softmax(1)))
    });
    group.bench_function("log_softmax_axis1", |bench| {
        bench.iter(|| black_box(x.log_softmax(1)))
    });
    let mut raw = x.to_array().into_raw_vec_and_offset().0;
    group.bench_function("kernels_sigmoid_inplace", |bench| {
        bench.iter(|| {
            kernels::sigmoid_inplace(&mut raw);
            black_box(&raw);
        })
    });
    group.finish();
}

fn tape_overhead(c: &mut Criterion) {
    let mut group = c.benchmark_group("tape_per_op_1x1");
    let k = Tensor::<f32>::scalar(1.000_1);
    let x = Tensor::<f32>::scalar(0.5).requires_grad();
    group.throughput(Throughput::Elements(1));
    group.bench_function("recorded_mul_forward_backward", |bench| {
        bench.iter(|| {
            let y = &x * &k;
            y.backward().expect("scalar");
            x.zero_grad();
        })
    });
    let c0 = Tensor::<f32>::scalar(0.5);
    group.bench_function("constant_mul", |bench| bench.iter(|| black_box(&c0 * &k)));
    group.finish();
}

/// The book's SimpleConvNet layers at batch 100 (ch.7.5): 1×28×28 images, 30 filters 5×5,
/// then 2×2 max pooling; and a 3×3 layer of its deep network (ch.8.1) with 16 → 16 channels.
fn conv(c: &mut Criterion) {
    let mut group = c.benchmark_group("conv_f32_batch100");
    group.sample_size(20);
    kernels::set_num_threads(1);
    let x = Tensor::<f32>::randn(&[100, 1, 28, 28], 6);
    let w = Tensor::<f32>::randn(&[30, 1, 5, 5], 7).requires_grad();
    let b = Tensor::<f32>::zeros(&[30]).requires_grad();
    group.bench_function("simple_convnet_conv_forward", |bench| {
        bench.iter(|| black_box(no_grad(|| x.conv2d(&w, Some(&b), 1, 0))))
    });
    group.bench_function("simple_convnet_conv_forward_backward", |bench| {
        bench.iter(|| {
            x.conv2d(&w, Some(&b), 1, 0)
                .sum()
                .backward()
                .expect("scalar");
            w.zero_grad();
            b.zero_grad();
        })
    });
    group.bench_function("simple_convnet_im2col", |bench| {
        bench.iter(|| black_box(x.im2col(5, 1, 0)))
    });
    let h = Tensor::<f32>::randn(&[100, 30, 24, 24], 8).requires_grad();
    group.bench_function("max_pool_2x2_forward_backward", |bench| {
        bench.iter(|| {
            h.max_pool2d(2, 2, 0).sum().backward().expect("scalar");
            h.zero_grad();
        })
    });
    let x16 = Tensor::<f32>::randn(&[100, 16, 14, 14], 9).requires_grad();
    let w16 = Tensor::<f32>::randn(&[16, 16, 3, 3], 10).requires_grad();
    group.bench_function("deep_convnet_conv3x3_16_forward_backward", |bench| {
        bench.iter(|| {
            x16.conv2d(&w16, None, 1, 1)
                .sum()
                .backward()
                .expect("scalar");
            x16.zero_grad();
            w16.zero_grad();
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = matmul, matmul_paths, packing, elementwise, tape_overhead, conv
}
criterion_main!(benches);
