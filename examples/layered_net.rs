//! The layered-network tutorial: the 2-2-2 network worked by hand (forward pass, every gradient,
//! one gradient-descent step), then a [2, 3, 1] network learning the playground's "plane".
//!
//! `cargo run --release --example layered_net` → `figures/layered_net/{loss,plane}.svg`

mod common;

use clap::Parser;
use common::{Common, Curve, Result};
use ndarray::{Array2, Axis, array};
use plotters::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use zero_nn::Tensor;
use zero_nn::core::no_grad;
use zero_nn::data::Batches;
use zero_nn::data::toy::plane;
use zero_nn::layers::{
    Identity, Linear, Module, Reduction, Sequential, Sigmoid, Tanh, mse, sum_squared_error,
};
use zero_nn::optim::{Optimizer, Sgd};

/// Works the 2-2-2 example by hand, then trains [2, 3, 1] on the plane regression data.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    common: Common,
    /// Epochs on the plane data [default: 100; 10 with --quick].
    #[arg(long)]
    epochs: Option<usize>,
}

fn main() -> std::process::ExitCode {
    common::main("layered_net", || run(Args::parse()))
}

fn run(args: Args) -> Result<()> {
    let out = args.common.out_dir("layered_net")?;
    worked_example()?;
    println!();
    plane_regression(&args, &out)
}

/// The 2-2-2 network: inputs (0.05, 0.1), targets (0.01, 0.99), sigmoid hidden layer,
/// identity output, loss ½Σ(y − t)², one step of gradient descent with lr 0.1.
fn worked_example() -> Result<()> {
    println!("== the 2-2-2 network, by the tape");
    let x = Tensor::<f64>::from_array(array![[0.05, 0.1]]);
    let t = Tensor::<f64>::from_array(array![[0.01, 0.99]]);
    // Stored (inputs, outputs) as in the book: column j holds the weights into node j.
    let w1 = Tensor::from_array(array![[0.15, 0.25], [0.2, 0.3]]);
    let w2 = Tensor::from_array(array![[0.4, 0.5], [0.45, 0.55]]);
    let bias = |v: f64| Tensor::from_array(array![v, v]);
    let mut net = Sequential::<f64>::new()
        .add(Linear::from_parameters(w1, Some(bias(0.35))))
        .add(Sigmoid)
        .add(Linear::from_parameters(w2, Some(bias(0.6))))
        .add(Identity);

    let y = net.forward(&x);
    let loss = sum_squared_error(&y, &t);
    println!(
        "forward:  y = {}   L = ½Σ(y − t)² = {:.10}",
        show(&y.to_array()),
        loss.item()
    );
    loss.backward()?;
    // The book's names; weights print in the stored (inputs, outputs) layout.
    let names = ["W1", "b1", "W2", "b2"];
    let params = net.parameter_tensors();
    for (name, p) in names.iter().zip(&params) {
        let g = p.grad().ok_or_else(|| format!("{name} has no gradient"))?;
        println!("∂L/∂{name} = {}", show(&g));
    }
    Sgd::new(params.clone(), 0.1).step();
    println!("after one step (lr 0.1):");
    for (name, p) in names.iter().zip(&params) {
        println!("  {name} = {}", show(&p.to_array()));
    }
    let after = sum_squared_error(&no_grad(|| net.forward(&x)), &t).item();
    println!("loss after the step: {after:.10} (was {:.10})", loss.item());
    Ok(())
}

fn show(a: &ndarray::ArrayD<f64>) -> String {
    let rows: Vec<String> = a
        .outer_iter()
        .map(|r| {
            if r.ndim() == 0 {
                format!("{:.10}", r.iter().next().copied().unwrap_or(0.0))
            } else {
                let v: Vec<String> = r.iter().map(|v| format!("{v:.10}")).collect();
                format!("[{}]", v.join(", "))
            }
        })
        .collect();
    format!("[{}]", rows.join(", "))
}

/// [2, 3, 1] with tanh on the plane `t = (x1 + x2) / 10`, mini-batches of 4, lr 0.02.
fn plane_regression(args: &Args, out: &std::path::Path) -> Result<()> {
    let epochs = args.epochs.unwrap_or(args.common.pick(100, 10));
    let (x_train, t_train) = plane(250, 0.0, 1);
    let (x_test, t_test) = plane(250, 0.0, 2);
    println!(
        "== [2, 3, 1] tanh network on the plane t = (x1 + x2)/10, x in [-6, 6]², 250 training and 250 test points"
    );
    println!("mini-batches of 4, plain gradient descent lr 0.02, MSE, {epochs} epochs");
    let mut rng = StdRng::seed_from_u64(0);
    let mut net = Sequential::<f64>::new()
        .add(Linear::new(2, 3, &mut rng))
        .add(Tanh)
        .add(Linear::new(3, 1, &mut rng));
    let mut opt = Sgd::new(net.parameter_tensors(), 0.02);
    let t_train = t_train.insert_axis(Axis(1));
    let t_test = t_test.insert_axis(Axis(1));
    // Whole sets as tensors once, for the per-epoch losses.
    let whole = |x: &Array2<f64>, t: &Array2<f64>| {
        (Tensor::from_array(x.clone()), Tensor::from_array(t.clone()))
    };
    let (train_set, test_set) = (whole(&x_train, &t_train), whole(&x_test, &t_test));
    let eval = |net: &mut Sequential<f64>, (x, t): &(Tensor<f64>, Tensor<f64>)| {
        mse(&no_grad(|| net.forward(x)), t, Reduction::Mean).item()
    };
    let mut batches = Batches::new(x_train.nrows(), 4, Some(0), false);
    let mut train_curve = vec![(0.0, eval(&mut net, &train_set))];
    let mut test_curve = vec![(0.0, eval(&mut net, &test_set))];
    println!(
        "epoch {:>3}: train loss {:.6}  test loss {:.6}",
        0, train_curve[0].1, test_curve[0].1
    );
    for epoch in 1..=epochs {
        for idx in batches.epoch() {
            let x = Tensor::from_array(x_train.select(Axis(0), idx));
            let t = Tensor::from_array(t_train.select(Axis(0), idx));
            opt.zero_grad();
            let loss = mse(&net.forward(&x), &t, Reduction::Mean);
            loss.backward()?;
            opt.step();
        }
        let (train, test) = (eval(&mut net, &train_set), eval(&mut net, &test_set));
        if !train.is_finite() {
            return Err(format!("epoch {epoch}: the loss became {train}").into());
        }
        train_curve.push((epoch as f64, train));
        test_curve.push((epoch as f64, test));
        if epoch % 10 == 0 || epoch == epochs {
            println!("epoch {epoch:>3}: train loss {train:.6}  test loss {test:.6}");
        }
    }

    let curves = [
        Curve::new("train", train_curve),
        Curve::new("test", test_curve),
    ];
    common::write_svg(&out.join("loss.svg"), (800, 450), |root| {
        common::line_chart(
            &root,
            "[2, 3, 1] on the plane: MSE per epoch",
            ("epoch", "loss"),
            &curves,
            true,
        )
    })?;

    let cells = 60;
    let grid = common::square_grid(cells, 6.0);
    let pred = no_grad(|| net.forward(&Tensor::from_array(grid.clone()))).to_array();
    common::write_svg(&out.join("plane.svg"), (640, 640), |root| {
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "prediction over the plane (colour) and training targets (dots)",
                ("sans-serif", 15),
            )
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(40)
            .build_cartesian_2d(-6.0f64..6.0, -6.0f64..6.0)?;
        chart
            .configure_mesh()
            .x_desc("x1")
            .y_desc("x2")
            .disable_mesh()
            .draw()?;
        let half = 6.0 / cells as f64;
        chart.draw_series(grid.outer_iter().zip(pred.iter()).map(|(p, &v)| {
            Rectangle::new(
                [(p[0] - half, p[1] - half), (p[0] + half, p[1] + half)],
                diverging(v / 1.2).filled(),
            )
        }))?;
        chart.draw_series(x_train.outer_iter().zip(t_train.iter()).map(|(p, &v)| {
            Circle::new((p[0], p[1]), 3, diverging(v / 1.2).filled().stroke_width(1))
        }))?;
        chart.draw_series(
            x_train
                .outer_iter()
                .map(|p| Circle::new((p[0], p[1]), 3, BLACK.stroke_width(1))),
        )?;
        Ok(())
    })?;
    Ok(())
}

/// Blue (−1) through white (0) to orange (+1), as the playground colours its outputs.
fn diverging(v: f64) -> RGBColor {
    let v = v.clamp(-1.0, 1.0);
    let (end, s) = if v < 0.0 {
        ((8.0, 119.0, 189.0), -v)
    } else {
        ((245.0, 147.0, 34.0), v)
    };
    let mix = |e: f64| (255.0 + (e - 255.0) * s).round() as u8;
    RGBColor(mix(end.0), mix(end.1), mix(end.2))
}
