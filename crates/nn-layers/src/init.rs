//! Weight initialisers (book 1 ch.6.2 「重みの初期値」), all drawing from a caller's seeded
//! generator.
//!
//! The book's ch.6.2 uses `std = 1/√n` under the name "Xavier" and `std = √(2/n)` for He, with
//! `n` the number of inputs; [`Init::XavierNormal`] here is Glorot's `√(2/(fan_in + fan_out))`
//! as in PyTorch, and the book's variant is [`Init::LeCunNormal`].

use ndarray::{ArrayD, IxDyn};
use nn_core::{Float, Tensor};
use rand::Rng;
use rand_distr::{Distribution, Uniform};

/// How to fill a new parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    /// N(0, std²); the book's default is `std = 0.01` (`0.01 * np.random.randn`).
    Normal {
        /// Standard deviation.
        std: f64,
    },
    /// U(low, high).
    Uniform {
        /// Lower bound.
        low: f64,
        /// Upper bound.
        high: f64,
    },
    /// Glorot normal: N(0, 2/(fan_in + fan_out)).
    XavierNormal,
    /// Glorot uniform: U(±√(6/(fan_in + fan_out))).
    XavierUniform,
    /// He/Kaiming normal for ReLU: N(0, 2/fan_in).
    HeNormal,
    /// LeCun normal: N(0, 1/fan_in) — what the book's ch.6.2 calls "Xavier" (`1/√n`).
    LeCunNormal,
    /// He/Kaiming uniform for ReLU: U(±√(6/fan_in)).
    HeUniform,
    /// All zeros.
    Zeros,
    /// All `c`.
    Constant(f64),
}

impl Init {
    /// A tensor of `shape` (a constant; call `.requires_grad()` for a parameter).
    ///
    /// ```
    /// use nn_layers::Init;
    /// use rand::SeedableRng;
    /// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    /// let w = Init::HeNormal.tensor::<f32, _>(&[784, 100], 784, 100, &mut rng);
    /// let std = (w.to_array().mapv(|v| v * v).mean().unwrap()).sqrt();
    /// assert!((std - (2.0f32 / 784.0).sqrt()).abs() < 0.002);
    /// ```
    ///
    /// # Panics
    /// If a distribution's parameters are invalid (negative std, `low >= high`).
    pub fn tensor<T: Float, R: Rng + ?Sized>(
        &self,
        shape: &[usize],
        fan_in: usize,
        fan_out: usize,
        rng: &mut R,
    ) -> Tensor<T> {
        let (fi, fo) = (fan_in.max(1) as f64, fan_out.max(1) as f64);
        let normal = |std: f64, rng: &mut R| {
            assert!(
                std >= 0.0 && std.is_finite(),
                "Init: invalid standard deviation {std}"
            );
            ArrayD::from_shape_simple_fn(IxDyn(shape), || T::lit(std) * T::standard_normal(rng))
        };
        let uniform = |low: f64, high: f64, rng: &mut R| {
            let dist = match Uniform::new(low, high) {
                Ok(d) => d,
                Err(e) => panic!("Init: invalid range [{low}, {high}): {e}"),
            };
            ArrayD::from_shape_simple_fn(IxDyn(shape), || T::lit(dist.sample(rng)))
        };
        let a = match *self {
            Init::Normal { std } => normal(std, rng),
            Init::Uniform { low, high } => uniform(low, high, rng),
            Init::XavierNormal => normal((2.0 / (fi + fo)).sqrt(), rng),
            Init::XavierUniform => {
                let b = (6.0 / (fi + fo)).sqrt();
                uniform(-b, b, rng)
            }
            Init::HeNormal => normal((2.0 / fi).sqrt(), rng),
            Init::LeCunNormal => normal((1.0 / fi).sqrt(), rng),
            Init::HeUniform => {
                let b = (6.0 / fi).sqrt();
                uniform(-b, b, rng)
            }
            Init::Zeros => ArrayD::zeros(IxDyn(shape)),
            Init::Constant(c) => ArrayD::from_elem(IxDyn(shape), T::lit(c)),
        };
        Tensor::from_array(a)
    }
}
