//! Activation functions and their derivatives (book 1 ch.3.2 「活性化関数」, ch.5.5).
//!
//! Every derivative is the tape's: `y = f(x)` over a grid, `y.sum().backward()`, then `x.grad()`
//! holds `f'(x)` at each point. Each one is checked against central differences.
//!
//! `cargo run --release --example activations` → `figures/activations/{activations,derivatives}.svg`

mod common;

use clap::Parser;
use common::{Common, Curve, Result};
use zero_nn::Tensor;

/// Plots step, sigmoid, tanh, ReLU, Leaky ReLU, ELU, GELU, abs and softplus over [-5, 5] with
/// their derivatives computed by backpropagation.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    common: Common,
}

type Activation = (&'static str, fn(&Tensor<f64>) -> Tensor<f64>);

const ACTIVATIONS: [Activation; 9] = [
    ("step", |x| x.step()),
    ("sigmoid", |x| x.sigmoid()),
    ("tanh", |x| x.tanh()),
    ("ReLU", |x| x.relu()),
    ("Leaky ReLU (0.1)", |x| x.leaky_relu(0.1)),
    ("ELU (α = 1)", |x| x.elu(1.0)),
    ("GELU", |x| x.gelu_erf()),
    ("abs", |x| x.abs()),
    ("softplus", |x| x.softplus()),
];

fn main() -> std::process::ExitCode {
    common::main("activations", || run(Args::parse()))
}

fn run(args: Args) -> Result<()> {
    let out = args.common.out_dir("activations")?;
    let points = args.common.pick(401, 41);
    let grid: Vec<f64> = (0..points)
        .map(|i| -5.0 + 10.0 * i as f64 / (points - 1) as f64)
        .collect();

    let mut values = Vec::new();
    let mut slopes = Vec::new();
    println!("f(x) and f'(x) from the tape at x = -1, 1, 2 (the book's example input)");
    println!(
        "{:<18} {:>30}   {:>30}   max |tape - numerical|",
        "", "f(x)", "f'(x)"
    );
    for (name, f) in ACTIVATIONS {
        let (y, dy) = value_and_slope(f, &grid);
        let (y3, dy3) = value_and_slope(f, &[-1.0, 1.0, 2.0]);
        // Central differences over the whole grid at once, compared away from the kinks at 0
        // (step, ReLU, Leaky ReLU, abs), where f' has no value.
        let h = 1e-5;
        let shifted =
            |d: f64| value_and_slope(f, &grid.iter().map(|x| x + d).collect::<Vec<_>>()).0;
        let (plus, minus) = (shifted(h), shifted(-h));
        let worst = (0..grid.len())
            .filter(|&i| grid[i].abs() > 1e-3)
            .map(|i| (dy[i] - (plus[i] - minus[i]) / (2.0 * h)).abs())
            .fold(0.0f64, f64::max);
        println!(
            "{name:<18} {:>30}   {:>30}   {worst:.1e}",
            format_list(&y3),
            format_list(&dy3)
        );
        values.push(Curve::new(name, grid.iter().copied().zip(y).collect()));
        slopes.push(Curve::new(name, grid.iter().copied().zip(dy).collect()));
    }
    println!(
        "(the step function's derivative is 0 wherever it exists: no gradient flows through it)"
    );

    for (file, title, curves) in [
        ("activations.svg", "activation functions f(x)", &values),
        (
            "derivatives.svg",
            "their derivatives f'(x), by backpropagation",
            &slopes,
        ),
    ] {
        common::write_svg(&out.join(file), (1200, 840), |root| {
            let root = root.titled(title, ("sans-serif", 20))?;
            let panels = root.split_evenly((3, 3));
            for (panel, curve) in panels.iter().zip(curves.iter()) {
                let one = std::slice::from_ref(curve);
                common::line_chart(panel, &curve.label, ("x", ""), one, false)?;
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// `f(x)` and the tape's `f'(x)` at each point.
fn value_and_slope(f: fn(&Tensor<f64>) -> Tensor<f64>, xs: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let x = Tensor::from_vec(&[xs.len()], xs.to_vec()).requires_grad();
    let y = f(&x);
    let values = y.to_array().iter().copied().collect();
    let slopes = if y.is_tracked() {
        // Σ f(x_i) has ∂/∂x_i = f'(x_i): one backward pass gives every derivative.
        y.sum()
            .backward()
            .unwrap_or_else(|e| panic!("backward through an activation: {e}"));
        x.grad()
            .map_or_else(|| vec![0.0; xs.len()], |g| g.iter().copied().collect())
    } else {
        vec![0.0; xs.len()]
    };
    (values, slopes)
}

fn format_list(v: &[f64]) -> String {
    let items: Vec<String> = v.iter().map(|x| format!("{x:.5}")).collect();
    format!("[{}]", items.join(", "))
}
