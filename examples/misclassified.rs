//! Book 1 ch.8.1.2 「さらに認識精度を高めるには」 (`ch08/misclassified_mnist.py`): the MNIST
//! test images that the book's trained DeepConvNet (`ch08/deep_convnet_params.pkl`) gets wrong,
//! each with its true label and the network's answer — many are hard for people too.
//!
//! `cargo run --release --example misclassified` → `figures/misclassified/misclassified.svg`
//! (`-- --show N` for the first N wrong images; `--quick` classifies the first 1,000 images)

mod common;

use clap::Parser;
use common::pictures::{Picture, write_grid};
use common::{Common, Result};
use zero_nn::data::{DEEP_CONVNET_PARAMS, DatasetKind, Split};

/// Finds and draws the test images the book's deep CNN misclassifies.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    common: Common,
    /// How many wrong images to draw, in test-set order (the book draws 20).
    #[arg(long, default_value_t = 40)]
    show: usize,
}

fn main() -> std::process::ExitCode {
    common::main("misclassified", || run(Args::parse()))
}

fn run(args: Args) -> Result<()> {
    let out = args.common.out_dir("misclassified")?;
    let test = common::first(
        &common::load_split(DatasetKind::Mnist, Split::Test)?,
        args.common.pick(10_000, 1_000),
    );
    let arrays = common::book_arrays(&DEEP_CONVNET_PARAMS)?;
    let mut net = zero_nn::train::book::deep_convnet(&arrays, DEEP_CONVNET_PARAMS.name)?;
    let start = std::time::Instant::now();
    let predicted = zero_nn::train::book::classify_images(&mut net, &test.images, 100);
    let truth = test.labels.classes();
    let wrong: Vec<usize> = (0..truth.len())
        .filter(|&i| predicted[i] != truth[i])
        .collect();
    let n = truth.len();
    println!(
        "the book's DeepConvNet on the first {n} MNIST test images ({:.1} s): {} correct, {} wrong, accuracy {:.4}",
        start.elapsed().as_secs_f64(),
        n - wrong.len(),
        wrong.len(),
        (n - wrong.len()) as f64 / n as f64
    );
    println!("======= misclassified (test index: label -> inference) =======");
    for &i in &wrong {
        println!("{i:>5}: {} -> {}", truth[i], predicted[i]);
    }

    let mut confusions = [[0usize; 10]; 10];
    for &i in &wrong {
        confusions[truth[i]][predicted[i]] += 1;
    }
    let mut pairs: Vec<(usize, usize, usize)> = (0..10)
        .flat_map(|t| (0..10).map(move |p| (t, p)))
        .map(|(t, p)| (confusions[t][p], t, p))
        .filter(|&(count, _, _)| count > 0)
        .collect();
    pairs.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let top: Vec<String> = pairs
        .iter()
        .take(5)
        .map(|(count, t, p)| format!("{t} read as {p}: {count}"))
        .collect();
    println!("most frequent confusions: {}", top.join(", "));

    let rows: Vec<&[f32]> = (0..test.len())
        .map(|i| {
            test.images
                .as_slice()
                .map(|all| &all[i * 784..(i + 1) * 784])
                .expect("the images are contiguous rows of 784")
        })
        .collect();
    let pictures: Vec<Picture> = wrong
        .iter()
        .take(args.show)
        .map(|&i| Picture::digit(rows[i], format!("#{i}: {} → {}", truth[i], predicted[i])))
        .collect();
    if pictures.is_empty() {
        println!("no misclassified image to draw");
        return Ok(());
    }
    write_grid(
        &out.join("misclassified.svg"),
        &format!(
            "DeepConvNet's mistakes: {} of {n} test images (label → inference), first {}",
            wrong.len(),
            pictures.len()
        ),
        &pictures,
        10,
        90,
    )?;
    Ok(())
}
