//! Every optimizer against hand-computed steps (several in a row, so that state written back
//! between steps is tested), then on the book's ch.6 function and on Rosenbrock's.

use nn_core::Tensor;
use nn_optim::{AdaGrad, Adam, AdamW, Momentum, Nesterov, Optimizer, RmsProp, Sgd, clip_grad_norm};

/// f(w) = w₀² + 10 w₁², gradient (2w₀, 20w₁).
fn quadratic_grad(w: &[f64; 2]) -> [f64; 2] {
    [2.0 * w[0], 20.0 * w[1]]
}

/// Runs `steps` updates of `opt` on the quadratic through the tape; returns every iterate.
fn run(
    make: impl FnOnce(Vec<Tensor<f64>>) -> Box<dyn Optimizer>,
    start: [f64; 2],
    steps: usize,
) -> Vec<[f64; 2]> {
    let w = Tensor::<f64>::from_vec(&[2], start.to_vec()).requires_grad();
    let scale = Tensor::<f64>::from_vec(&[2], vec![1.0, 10.0]);
    let mut opt = make(vec![w.clone()]);
    let mut out = Vec::new();
    for _ in 0..steps {
        opt.zero_grad();
        (&w * &w * &scale).sum().backward().expect("backward");
        opt.step();
        let a = w.to_array();
        out.push([a[0], a[1]]);
    }
    out
}

fn assert_close(got: &[[f64; 2]], want: &[[f64; 2]], tol: f64) {
    assert_eq!(got.len(), want.len());
    for (step, (g, w)) in got.iter().zip(want).enumerate() {
        for k in 0..2 {
            assert!(
                (g[k] - w[k]).abs() <= tol,
                "step {}: got {g:?}, want {w:?}",
                step + 1
            );
        }
    }
}

#[test]
fn sgd_by_hand() {
    // w = (1, 1), η = 0.1: g = (2, 20) → (0.8, -1.0); g = (1.6, -20) → (0.64, 1.0);
    // g = (1.28, 20) → (0.512, -1.0).
    let got = run(|p| Box::new(Sgd::new(p, 0.1)), [1.0, 1.0], 3);
    assert_close(&got, &[[0.8, -1.0], [0.64, 1.0], [0.512, -1.0]], 1e-12);
}

#[test]
fn sgd_weight_decay_adds_lambda_w() {
    // λ = 0.5: g' = (2 + 0.5, 20 + 0.5) at (1, 1) → w = (1 - 0.25, 1 - 2.05).
    let got = run(
        |p| Box::new(Sgd::new(p, 0.1).weight_decay(0.5)),
        [1.0, 1.0],
        1,
    );
    assert_close(&got, &[[0.75, -1.05]], 1e-12);
}

#[test]
fn momentum_by_hand() {
    // α = 0.9, η = 0.1 from (1, 1):
    // v1 = -0.1·(2, 20) = (-0.2, -2)             → w1 = (0.8, -1.0)
    // v2 = 0.9·v1 - 0.1·(1.6, -20) = (-0.34, 0.2) → w2 = (0.46, -0.8)
    // v3 = 0.9·v2 - 0.1·(0.92, -16) = (-0.398, 1.78) → w3 = (0.062, 0.98)
    let got = run(|p| Box::new(Momentum::new(p, 0.1, 0.9)), [1.0, 1.0], 3);
    assert_close(&got, &[[0.8, -1.0], [0.46, -0.8], [0.062, 0.98]], 1e-12);
}

#[test]
fn nesterov_by_hand() {
    // α = 0.9, η = 0.01 from (1, 1), the book's form:
    // v1 = -0.01·(2, 20) = (-0.02, -0.2); w1 = w0 + 0.81·v1 - 1.9·0.01·g0 = (0.9458, 0.458)
    // g1 = (1.8916, 9.16); v2 = 0.9·v1 - 0.01·g1 = (-0.036916, -0.2716)
    // w2 = w1 + 0.81·v2 - 0.019·g1 = (0.9458 - 0.02990196 - 0.0359404, 0.458 - 0.219996 - 0.17404)
    //    = (0.87995764, 0.063964)
    let got = run(|p| Box::new(Nesterov::new(p, 0.01, 0.9)), [1.0, 1.0], 2);
    assert_close(&got, &[[0.9458, 0.458], [0.87995764, 0.063964]], 1e-12);
}

/// The same rules written per scalar, independently of the library's array code.
fn reference(rule: &str, start: [f64; 2], steps: usize) -> Vec<[f64; 2]> {
    let mut w = start;
    let (mut s1, mut s2) = ([0.0; 2], [0.0; 2]);
    let mut out = Vec::new();
    for t in 1..=steps {
        let g = quadratic_grad(&w);
        for k in 0..2 {
            match rule {
                "adagrad" => {
                    s1[k] += g[k] * g[k];
                    w[k] -= 0.5 * g[k] / (s1[k].sqrt() + 1e-7);
                }
                "rmsprop" => {
                    s1[k] = 0.99 * s1[k] + 0.01 * g[k] * g[k];
                    w[k] -= 0.01 * g[k] / (s1[k].sqrt() + 1e-7);
                }
                "adam" | "adamw" => {
                    if rule == "adamw" {
                        w[k] *= 1.0 - 0.1 * 0.01;
                    }
                    s1[k] = 0.9 * s1[k] + 0.1 * g[k];
                    s2[k] = 0.999 * s2[k] + 0.001 * g[k] * g[k];
                    let m_hat = s1[k] / (1.0 - 0.9f64.powi(t as i32));
                    let v_hat = s2[k] / (1.0 - 0.999f64.powi(t as i32));
                    w[k] -= 0.1 * m_hat / (v_hat.sqrt() + 1e-8);
                }
                _ => unreachable!(),
            }
        }
        out.push(w);
    }
    out
}

#[test]
fn adaptive_rules_match_scalar_references_over_five_steps() {
    let start = [1.0, -0.5];
    assert_close(
        &run(|p| Box::new(AdaGrad::new(p, 0.5)), start, 5),
        &reference("adagrad", start, 5),
        1e-12,
    );
    assert_close(
        &run(|p| Box::new(RmsProp::new(p, 0.01)), start, 5),
        &reference("rmsprop", start, 5),
        1e-12,
    );
    assert_close(
        &run(|p| Box::new(Adam::new(p, 0.1)), start, 5),
        &reference("adam", start, 5),
        1e-12,
    );
    assert_close(
        &run(|p| Box::new(AdamW::new(p, 0.1)), start, 5),
        &reference("adamw", start, 5),
        1e-12,
    );
}

#[test]
fn adams_first_step_moves_each_weight_by_lr() {
    // m̂ = g and v̂ = g² after one step, so each weight moves by η·sign(g) (up to ε).
    let got = run(|p| Box::new(Adam::new(p, 0.1)), [1.0, -0.5], 1);
    assert_close(&got, &[[0.9, -0.4]], 1e-8);
}

fn minimise(
    mut opt: Box<dyn Optimizer>,
    w: &Tensor<f64>,
    f: impl Fn(&Tensor<f64>) -> Tensor<f64>,
    steps: usize,
) -> f64 {
    for _ in 0..steps {
        opt.zero_grad();
        f(w).backward().expect("backward");
        opt.step();
    }
    f(w).item()
}

fn all(p: Vec<Tensor<f64>>, lr_scale: f64) -> Vec<(&'static str, Box<dyn Optimizer>)> {
    vec![
        ("sgd", Box::new(Sgd::new(p.clone(), 0.95 * lr_scale))),
        (
            "momentum",
            Box::new(Momentum::new(p.clone(), 0.1 * lr_scale, 0.9)),
        ),
        (
            "nesterov",
            Box::new(Nesterov::new(p.clone(), 0.1 * lr_scale, 0.9)),
        ),
        ("adagrad", Box::new(AdaGrad::new(p.clone(), 1.5))),
        ("rmsprop", Box::new(RmsProp::new(p.clone(), 0.005))),
        ("adam", Box::new(Adam::new(p.clone(), 0.3))),
        ("adamw", Box::new(AdamW::new(p, 0.3).weight_decay(0.0))),
    ]
}

#[test]
fn every_optimizer_minimises_the_books_function() {
    // f(x, y) = x²/20 + y² from (-7, 2) (book 1 ch.6.1.2).
    let f = |w: &Tensor<f64>| {
        let scale = Tensor::<f64>::from_vec(&[2], vec![0.05, 1.0]);
        (w * w * &scale).sum()
    };
    let names: Vec<&str> = all(vec![], 1.0).into_iter().map(|(n, _)| n).collect();
    for name in names {
        let w = Tensor::<f64>::from_vec(&[2], vec![-7.0, 2.0]).requires_grad();
        let opt = all(vec![w.clone()], 1.0)
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, o)| o);
        let value = minimise(opt.expect("listed"), &w, f, 5000);
        // From f = 6.45; RMSprop ends in a limit cycle of amplitude η around the minimum.
        assert!(value < 1e-4, "{name}: f = {value} at {:?}", w.to_array());
    }
}

#[test]
fn every_optimizer_minimises_rosenbrock() {
    // (1 - x)² + 100 (y - x²)² from (-1.5, 2); minimum 0 at (1, 1).
    let f = |w: &Tensor<f64>| {
        let x = w.index_select(0, &[0]);
        let y = w.index_select(0, &[1]);
        (x.rsub_scalar(1.0).powi(2) + (y - x.powi(2)).powi(2).mul_scalar(100.0)).sum()
    };
    let names: Vec<&str> = all(vec![], 1.0).into_iter().map(|(n, _)| n).collect();
    for name in names {
        let w = Tensor::<f64>::from_vec(&[2], vec![-1.5, 2.0]).requires_grad();
        let opt = all(vec![w.clone()], 0.001)
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, o)| o);
        let opt: Box<dyn Optimizer> = match name {
            "adagrad" => Box::new(AdaGrad::new(vec![w.clone()], 0.5)),
            "rmsprop" => Box::new(RmsProp::new(vec![w.clone()], 0.0005)),
            "adam" => Box::new(Adam::new(vec![w.clone()], 0.02)),
            "adamw" => Box::new(AdamW::new(vec![w.clone()], 0.02).weight_decay(0.0)),
            _ => opt.expect("listed"),
        };
        let value = minimise(opt, &w, f, 40_000);
        let a = w.to_array();
        assert!(
            value < 1e-4 && (a[0] - 1.0).abs() < 0.03,
            "{name}: f = {value} at {a:?}"
        );
    }
}

#[test]
fn clipping_scales_to_the_max_norm() {
    let a = Tensor::<f64>::from_vec(&[2], vec![0.0, 0.0]).requires_grad();
    let b = Tensor::<f64>::from_vec(&[1], vec![0.0]).requires_grad();
    let c = Tensor::<f64>::from_vec(&[2], vec![3.0, 4.0]);
    ((&a * &c).sum() + b.mul_scalar(12.0).sum())
        .backward()
        .expect("backward");
    // Gradients (3, 4) and (12): norm 13.
    let norm = clip_grad_norm(&[a.clone(), b.clone()], 6.5);
    assert!((norm - 13.0).abs() < 1e-12);
    let ga = a.grad().expect("grad");
    assert!((ga[0] - 1.5).abs() < 1e-6 && (ga[1] - 2.0).abs() < 1e-6);
    assert!((b.grad().expect("grad")[0] - 6.0).abs() < 1e-6);
    // Under the limit: untouched.
    assert!((clip_grad_norm(std::slice::from_ref(&a), 100.0) - 2.5).abs() < 1e-6);
}
