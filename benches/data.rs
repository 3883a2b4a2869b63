//! Loading a whole data set (`cargo bench --bench data`): the 70,000 images of Fashion-MNIST
//! (MNIST's format and size; MNIST's training images are not available offline here) read from
//! the mirror, SHA-256 verified, decompressed, parsed and normalised to f32 in [0, 1].
//! Needs `NN_DATA_MIRROR` (e.g. `/usr/share/datasets` with Debian's dataset-fashion-mnist).

use std::hint::black_box;
use std::io::Write;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use zero_nn::data::{FashionMnist, FetchOptions, LoadOptions, Mnist, Split};

fn load_all(c: &mut Criterion) {
    let opts = match FetchOptions::from_env() {
        Ok(o) if !o.mirrors.is_empty() => FetchOptions {
            progress: false,
            ..o
        },
        _ => {
            let _ = writeln!(
                std::io::stderr(),
                "data bench SKIPPED: set NN_DATA_MIRROR to a local mirror"
            );
            return;
        }
    };
    let mut group = c.benchmark_group("load_normalize");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    if FashionMnist::load(&opts, LoadOptions::default()).is_ok() {
        group.bench_function("fashion_mnist_70000_images", |b| {
            b.iter(|| {
                black_box(FashionMnist::load(&opts, LoadOptions::default()).map(|d| d.train.len()))
            })
        });
    }
    if Mnist::load_split(Split::Test, &opts, LoadOptions::default()).is_ok() {
        group.bench_function("mnist_test_10000_images", |b| {
            b.iter(|| {
                black_box(
                    Mnist::load_split(Split::Test, &opts, LoadOptions::default()).map(|d| d.len()),
                )
            })
        });
    }
    group.finish();
}

criterion_group!(benches, load_all);
criterion_main!(benches);
