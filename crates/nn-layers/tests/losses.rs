//! Losses: values against the book's worked figures and hand formulas, PyTorch's reduction
//! semantics, numerical stability, and gradients against central differences.

use ndarray::{ArrayD, IxDyn, arr2};
use nn_core::{Tensor, gradcheck};
use nn_layers::{
    Reduction, Target, binary_cross_entropy_with_logits, cross_entropy, mse, nll, sum_squared_error,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn rand(shape: &[usize], seed: u64) -> ArrayD<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    ArrayD::from_shape_simple_fn(IxDyn(shape), || rng.random_range(-2.0..2.0))
}

fn close(a: f64, b: f64, tol: f64) {
    assert!((a - b).abs() <= tol, "{a} vs {b}");
}

const REDUCTIONS: [Reduction; 3] = [Reduction::Mean, Reduction::Sum, Reduction::None];

/// The book's ch.4.2 example: the network says "2" with probability 0.6.
fn book_y() -> Tensor<f64> {
    Tensor::from_vec(
        &[1, 10],
        vec![0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0],
    )
}

fn one_hot(n: usize, classes: usize, labels: &[usize]) -> Tensor<f64> {
    let mut t = ndarray::Array2::zeros((n, classes));
    for (i, &c) in labels.iter().enumerate() {
        t[[i, c]] = 1.0;
    }
    Tensor::from_array(t)
}

#[test]
fn the_books_sum_squared_error_and_cross_entropy_figures() {
    // Book 1 ch.4.2.1 / 4.2.2: 0.0975 and 0.510825457099338 for the right answer "2".
    // The book's cross_entropy_error adds δ = 1e-7 inside the log; so does this test.
    let t = one_hot(1, 10, &[2]);
    let log_y = (book_y() + Tensor::scalar(1e-7)).log();
    close(sum_squared_error(&book_y(), &t).item(), 0.0975, 1e-12);
    let ce = nll(&log_y, Target::Classes(&[2]), Reduction::Sum).item();
    close(ce, 0.510825457099338, 1e-12);
    // And 0.5975 / 2.302584092994546 when "7" is right.
    close(
        sum_squared_error(&book_y(), &one_hot(1, 10, &[7])).item(),
        0.5975,
        1e-12,
    );
    let ce = nll(&log_y, Target::Classes(&[7]), Reduction::Sum).item();
    close(ce, 2.302584092994546, 1e-12);
    // Without δ the zero probabilities are −∞ but not picked: the loss stays finite.
    let ce = nll(&book_y().log(), Target::Classes(&[2]), Reduction::Sum).item();
    close(ce, -(0.6f64.ln()), 1e-15);
}

#[test]
fn cross_entropy_by_hand_and_its_reductions() {
    let logits = Tensor::<f64>::from_array(arr2(&[[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]]));
    let row = |z: [f64; 3], c: usize| {
        let s: f64 = z.iter().map(|v| v.exp()).sum();
        s.ln() - z[c]
    };
    let (l0, l1) = (row([2.0, 1.0, 0.1], 0), row([0.5, 2.5, 0.3], 2));
    let target = Target::Classes(&[0, 2]);
    let none = cross_entropy(&logits, target, Reduction::None).to_array();
    assert_eq!(none.shape(), [2]);
    close(none[0], l0, 1e-12);
    close(none[1], l1, 1e-12);
    close(
        cross_entropy(&logits, target, Reduction::Sum).item(),
        l0 + l1,
        1e-12,
    );
    close(
        cross_entropy(&logits, target, Reduction::Mean).item(),
        (l0 + l1) / 2.0,
        1e-12,
    );
    // One-hot rows give the same as class indices.
    let t = one_hot(2, 3, &[0, 2]);
    close(
        cross_entropy(&logits, Target::Probabilities(&t), Reduction::Mean).item(),
        (l0 + l1) / 2.0,
        1e-12,
    );
}

#[test]
fn softmax_with_loss_gradient_is_y_minus_t_over_n() {
    let z = rand(&[4, 5], 1);
    let labels = [1, 0, 4, 4];
    let logits = Tensor::from_array(z.clone()).requires_grad();
    cross_entropy(&logits, Target::Classes(&labels), Reduction::Mean)
        .backward()
        .expect("backward");
    let grad = logits.grad().expect("gradient");
    let y = Tensor::from_array(z).softmax(1).to_array();
    let t = one_hot(4, 5, &labels).to_array();
    for ((g, y), t) in grad.iter().zip(&y).zip(&t) {
        close(*g, (y - t) / 4.0, 1e-15);
    }
}

#[test]
fn cross_entropy_is_stable_for_huge_logits() {
    let logits = Tensor::<f32>::from_vec(&[2, 2], vec![1000.0, -1000.0, 1000.0, -1000.0]);
    let loss = cross_entropy(&logits, Target::Classes(&[0, 1]), Reduction::None).to_array();
    assert_eq!(loss[0], 0.0);
    assert_eq!(loss[1], 2000.0);
    let z = Tensor::<f32>::from_vec(&[1, 2], vec![1000.0, -1000.0]).requires_grad();
    cross_entropy(&z, Target::Classes(&[1]), Reduction::Mean)
        .backward()
        .expect("backward");
    let g = z.grad().expect("gradient");
    assert_eq!(g.as_slice().expect("contiguous"), [1.0, -1.0]);
}

#[test]
fn gradients_of_every_loss_and_reduction() {
    let labels = [2usize, 0, 1];
    let soft = {
        let p = Tensor::from_array(rand(&[3, 4], 2)).softmax(1);
        p.to_array()
    };
    for reduction in REDUCTIONS {
        let check = |name: &str, r: Result<_, nn_core::GradcheckError>| {
            if let Err(e) = r {
                panic!("{name} {reduction:?}: {e}");
            }
        };
        check(
            "cross_entropy/classes",
            gradcheck(
                |t| cross_entropy(&t[0], Target::Classes(&labels), reduction),
                &[rand(&[3, 4], 3)],
            ),
        );
        // With probabilities the target is differentiable too.
        check(
            "cross_entropy/probabilities",
            gradcheck(
                |t| cross_entropy(&t[0], Target::Probabilities(&t[1]), reduction),
                &[rand(&[3, 4], 4), soft.clone()],
            ),
        );
        check(
            "nll",
            gradcheck(
                |t| nll(&t[0].log_softmax(1), Target::Classes(&labels), reduction),
                &[rand(&[3, 4], 5)],
            ),
        );
        check(
            "mse",
            gradcheck(
                |t| mse(&t[0], &t[1], reduction),
                &[rand(&[3, 4], 6), rand(&[3, 4], 7)],
            ),
        );
        let targets01 = rand(&[3, 4], 8).mapv(|v| (v + 2.0) / 4.0);
        check(
            "binary_cross_entropy_with_logits",
            gradcheck(
                |t| binary_cross_entropy_with_logits(&t[0], &t[1], reduction),
                &[rand(&[3, 4], 9), targets01],
            ),
        );
    }
    if let Err(e) = gradcheck(
        |t| sum_squared_error(&t[0], &t[1]),
        &[rand(&[3, 4], 10), rand(&[3, 4], 11)],
    ) {
        panic!("sum_squared_error: {e}");
    }
}

#[test]
fn nll_of_log_softmax_is_cross_entropy() {
    let z = Tensor::<f64>::from_array(rand(&[6, 3], 12));
    let labels = [0, 1, 2, 2, 1, 0];
    let a = nll(&z.log_softmax(1), Target::Classes(&labels), Reduction::Mean).item();
    let b = cross_entropy(&z, Target::Classes(&labels), Reduction::Mean).item();
    close(a, b, 1e-12);
}

#[test]
fn mean_squared_error_divides_by_batch_times_outputs() {
    let y = Tensor::<f64>::from_array(arr2(&[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]));
    let t = Tensor::<f64>::zeros(&[2, 3]);
    close(mse(&y, &t, Reduction::Sum).item(), 91.0, 1e-12);
    close(mse(&y, &t, Reduction::Mean).item(), 91.0 / 6.0, 1e-12);
    assert_eq!(mse(&y, &t, Reduction::None).shape(), [2, 3]);
    close(sum_squared_error(&y, &t).item(), 45.5, 1e-12);
}

#[test]
fn binary_cross_entropy_with_logits_matches_the_formula_and_is_stable() {
    let z = [-3.0, -0.5, 0.0, 0.7, 4.0];
    let t = [0.0, 1.0, 0.3, 1.0, 0.0];
    let got = binary_cross_entropy_with_logits(
        &Tensor::<f64>::from_vec(&[5], z.to_vec()),
        &Tensor::from_vec(&[5], t.to_vec()),
        Reduction::None,
    )
    .to_array();
    for i in 0..5 {
        let p = 1.0 / (1.0 + (-z[i]).exp());
        close(
            got[i],
            -(t[i] * p.ln() + (1.0 - t[i]) * (1.0 - p).ln()),
            1e-12,
        );
    }
    let extreme = binary_cross_entropy_with_logits(
        &Tensor::<f32>::from_vec(&[2], vec![200.0, -200.0]),
        &Tensor::from_vec(&[2], vec![0.0, 0.0]),
        Reduction::None,
    )
    .to_array();
    assert_eq!(extreme[0], 200.0);
    assert_eq!(extreme[1], 0.0);
}

#[test]
#[should_panic(expected = "cross_entropy: class 3 at index 1 is out of range for 3 classes")]
fn a_class_index_out_of_range_names_the_op() {
    let z = Tensor::<f32>::zeros(&[2, 3]);
    cross_entropy(&z, Target::Classes(&[0, 3]), Reduction::Mean);
}

#[test]
#[should_panic(expected = "cross_entropy: expects (N, classes), got [6]")]
fn cross_entropy_wants_a_batch_of_rows() {
    cross_entropy(
        &Tensor::<f32>::zeros(&[6]),
        Target::Classes(&[0]),
        Reduction::Mean,
    );
}
