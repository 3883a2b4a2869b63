//! Book 1 ch.7.6 「CNNの可視化」: what the first convolution of the book's trained SimpleConvNet
//! (`ch07/params.pkl`) makes of one test image — its 30 feature maps (24×24, after the bias
//! and ReLU, as the pooling layer receives them) beside the 5×5 filters that made them. Edge
//! filters light up along the strokes of their orientation; blob filters respond to the ink.
//!
//! `cargo run --release --example feature_maps` → `figures/feature_maps/{maps,filters}.svg`
//! (`-- --index N` for another test image)

mod common;

use clap::Parser;
use common::pictures::{Picture, Scale, write_grid};
use common::{Common, Result};
use ndarray::{Array4, ArrayView2, Axis, Ix4, IxDyn, s};
use zero_nn::Tensor;
use zero_nn::core::no_grad;
use zero_nn::data::{DatasetKind, Split};
use zero_nn::layers::Module;

/// Draws the first-layer feature maps of the book's SimpleConvNet for one MNIST test image.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    common: Common,
    /// Which test image (0: the first, a 7).
    #[arg(long, default_value_t = 0)]
    index: usize,
}

fn main() -> std::process::ExitCode {
    common::main("feature_maps", || run(Args::parse()))
}

fn run(args: Args) -> Result<()> {
    let out = args.common.out_dir("feature_maps")?;
    let test = common::load_split(DatasetKind::Mnist, Split::Test)?;
    if args.index >= test.len() {
        return Err(format!(
            "--index {} is past the {} test images",
            args.index,
            test.len()
        )
        .into());
    }
    let label = test.labels.classes()[args.index];
    let pixels: Vec<f32> = test
        .images
        .index_axis(Axis(0), args.index)
        .iter()
        .copied()
        .collect();
    let image = Array4::from_shape_fn((1, 1, 28, 28), |(_, _, r, c)| f64::from(pixels[r * 28 + c]));

    // Its first layer: W1 (30, 1, 5, 5) and b1 (30,), shapes checked when the net is built.
    let params = common::book_simple_convnet()?.parameters();
    let w1 = params[0]
        .1
        .to_array()
        .into_dimensionality::<Ix4>()
        .map_err(|e| format!("W1: {e}"))?;
    let b1 = params[1].1.to_array();

    // The tape's convolution, as the network computes it.
    let maps = no_grad(|| {
        Tensor::from_array(image.clone().into_dyn())
            .conv2d(
                &Tensor::from_array(w1.clone().into_dyn()),
                Some(&Tensor::from_array(b1.clone())),
                1,
                0,
            )
            .relu()
            .array()
    });
    let maps = maps
        .into_shape_with_order(IxDyn(&[30, 24, 24]))
        .map_err(|e| format!("the feature maps: {e}"))?
        .into_dimensionality::<ndarray::Ix3>()?;

    // The same by the definition: relu(b + Σ w·x over each 5×5 window).
    let mut worst = 0.0f64;
    for (k, map) in maps.outer_iter().enumerate() {
        let filter = w1.slice(s![k, 0, .., ..]);
        for ((r, c), &v) in map.indexed_iter() {
            let window = image.slice(s![0, 0, r..r + 5, c..c + 5]);
            let direct = (b1[k] + (&window * &filter).sum()).max(0.0);
            worst = worst.max((v - direct).abs());
        }
    }
    println!(
        "test image {} (label {label}): 30 feature maps of {}×{} from the book's trained filters",
        args.index,
        maps.shape()[1],
        maps.shape()[2]
    );
    println!("largest |conv2d − direct sum| over all maps: {worst:.3e}");

    // Each map's share of active units and its peak: which filters this image excites.
    let mut stats: Vec<(usize, f64, f64)> = maps
        .outer_iter()
        .enumerate()
        .map(|(k, m)| {
            let active = m.iter().filter(|&&v| v > 0.0).count() as f64 / m.len() as f64;
            (k, active, m.fold(0.0f64, |a, &v| a.max(v)))
        })
        .collect();
    stats.sort_by(|a, b| b.2.total_cmp(&a.2));
    println!("filter  active  peak");
    for (k, active, peak) in &stats {
        println!("{:>6}  {:>5.1}%  {peak:.3}", k + 1, 100.0 * active);
    }
    let silent = stats.iter().filter(|s| s.2 == 0.0).count();
    println!("{silent} of 30 maps are zero everywhere on this image");

    let mut pictures = vec![Picture::new(
        image.slice(s![0, 0, .., ..]),
        format!("input ({label})"),
        Scale::Unit,
    )];
    pictures.extend(
        maps.outer_iter()
            .enumerate()
            .map(|(k, m)| Picture::new(m, format!("map {}", k + 1), Scale::MinMax)),
    );
    write_grid(
        &out.join("maps.svg"),
        &format!(
            "First conv layer of the book's SimpleConvNet on test image {} (ReLU(conv + b), dark = strong)",
            args.index
        ),
        &pictures,
        8,
        110,
    )?;
    let filters: Vec<Picture> = (0..30)
        .map(|k| {
            let f: ArrayView2<'_, f64> = w1.slice(s![k, 0, .., ..]);
            Picture::new(f, format!("filter {}", k + 1), Scale::MinMax)
        })
        .collect();
    write_grid(
        &out.join("filters.svg"),
        "… and the 30 filters that made them (params.pkl W1)",
        &filters,
        8,
        90,
    )?;
    Ok(())
}
