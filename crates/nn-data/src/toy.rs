//! Small seeded data sets for the book's and the course notes' experiments.

use std::f64::consts::PI;

use ndarray::{Array1, Array2, array};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal, StandardNormal};

/// Noisy sine regression: `x = linspace(0, 0.5, n)`, `t = sin(2πx) + N(0, std²)`.
///
/// ```
/// let (x, t) = nn_data::toy::sin_noise(40, 0.05, 0);
/// assert_eq!((x.len(), t.len()), (40, 40));
/// assert_eq!((x[0], x[39]), (0.0, 0.5));
/// ```
///
/// # Panics
/// If `std` is negative or not finite.
pub fn sin_noise(n: usize, std: f64, seed: u64) -> (Array1<f64>, Array1<f64>) {
    let noise = match Normal::new(0.0, std) {
        Ok(d) => d,
        Err(e) => panic!("sin_noise: invalid std {std}: {e}"),
    };
    let mut rng = StdRng::seed_from_u64(seed);
    let x = Array1::linspace(0.0, 0.5, n);
    let t = x.mapv(|x| (2.0 * PI * x).sin() + noise.sample(&mut rng));
    (x, t)
}

/// The spiral of book 2 ch.1 (`dataset/spiral.py`): `n_per_class` points for each of
/// `classes` arms; returns points `(N, 2)` and one-hot targets `(N, classes)`.
///
/// ```
/// let (x, t) = nn_data::toy::spiral(100, 3, 1984);
/// assert_eq!(x.shape(), &[300, 2]);
/// assert_eq!(t.sum(), 300.0);
/// ```
pub fn spiral(n_per_class: usize, classes: usize, seed: u64) -> (Array2<f64>, Array2<f64>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let n = n_per_class * classes;
    let mut x = Array2::zeros((n, 2));
    let mut t = Array2::zeros((n, classes));
    for j in 0..classes {
        for i in 0..n_per_class {
            let rate = i as f64 / n_per_class as f64;
            let radius = rate;
            let jitter: f64 = StandardNormal.sample(&mut rng);
            let theta = j as f64 * 4.0 + 4.0 * rate + jitter * 0.2;
            let ix = n_per_class * j + i;
            x[[ix, 0]] = radius * theta.sin();
            x[[ix, 1]] = radius * theta.cos();
            t[[ix, j]] = 1.0;
        }
    }
    (x, t)
}

/// The TensorFlow playground's "plane" regression: `x1, x2` uniform in [-6, 6] and
/// `t = (x1 + x2) / 10`; with `noise` in [0, 1], each input is perturbed by a uniform
/// `±6·noise` before the target is computed (as the playground does).
///
/// ```
/// let (x, t) = nn_data::toy::plane(4, 0.0, 0);
/// assert!(((x[[0, 0]] + x[[0, 1]]) / 10.0 - t[0]).abs() < 1e-12);
/// ```
pub fn plane(n: usize, noise: f64, seed: u64) -> (Array2<f64>, Array1<f64>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut x = Array2::zeros((n, 2));
    let mut t = Array1::zeros(n);
    for i in 0..n {
        let (x1, x2) = (rng.random_range(-6.0..=6.0), rng.random_range(-6.0..=6.0));
        let mut jitter = || {
            if noise > 0.0 {
                rng.random_range(-6.0..=6.0) * noise
            } else {
                0.0
            }
        };
        let (n1, n2) = (jitter(), jitter());
        x[[i, 0]] = x1;
        x[[i, 1]] = x2;
        t[i] = (x1 + n1 + x2 + n2) / 10.0;
    }
    (x, t)
}

/// XOR's truth table: inputs `(4, 2)` and class labels `[0, 1, 1, 0]` (book 1 ch.2.5).
pub fn xor() -> (Array2<f64>, Array1<usize>) {
    (
        array![[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]],
        array![0, 1, 1, 0],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sin_noise_is_seeded_and_close_to_the_sine() {
        let (x, t) = sin_noise(40, 0.05, 3);
        assert_eq!(sin_noise(40, 0.05, 3).1, t);
        assert_ne!(sin_noise(40, 0.05, 4).1, t);
        let rms = (x.mapv(|x| (2.0 * PI * x).sin()) - &t)
            .mapv(|d| d * d)
            .mean()
            .unwrap_or(0.0)
            .sqrt();
        assert!(rms > 0.02 && rms < 0.1, "noise rms {rms}");
    }

    #[test]
    fn spiral_radius_grows_along_each_arm() {
        let (x, t) = spiral(50, 3, 1);
        for j in 0..3 {
            let r = |i: usize| x.row(50 * j + i).mapv(|v| v * v).sum().sqrt();
            assert!(r(0) < 1e-12 && r(49) > 0.95 && r(49) < 1.0);
            assert!(
                t.rows()
                    .into_iter()
                    .skip(50 * j)
                    .take(50)
                    .all(|row| row[j] == 1.0)
            );
        }
    }

    #[test]
    fn plane_targets_follow_the_inputs() {
        let (x, t) = plane(200, 0.0, 5);
        assert!(x.iter().all(|v| (-6.0..=6.0).contains(v)));
        for (row, &target) in x.rows().into_iter().zip(&t) {
            assert!(((row[0] + row[1]) / 10.0 - target).abs() < 1e-12);
        }
        let (_, noisy) = plane(200, 0.5, 5);
        assert!(noisy.iter().zip(&t).any(|(a, b)| (a - b).abs() > 0.01));
    }

    #[test]
    fn xor_table() {
        let (x, y) = xor();
        for (row, &label) in x.rows().into_iter().zip(&y) {
            assert_eq!(label, usize::from((row[0] != row[1]) as u8));
        }
    }
}
