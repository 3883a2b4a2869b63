//! The update rules of book 1 ch.6.1 (`common/optimizer.py`), one struct each. An optimizer
//! owns handles to its parameters (clones share the storage) and per-parameter state.

use ndarray::{ArrayD, ArrayViewMutD, Zip};
use nn_core::kernels::{self, AdamStep};
use nn_core::{Float, Tensor};

/// Steps a fixed list of parameters with their gradients.
pub trait Optimizer {
    /// Applies one update from the current gradients (parameters without one are skipped).
    fn step(&mut self);
    /// Clears every parameter's gradient.
    fn zero_grad(&self);
    /// The learning rate.
    fn lr(&self) -> f64;
    /// Changes the learning rate (for schedules).
    fn set_lr(&mut self, lr: f64);
}

/// Calls `update(i, w, g)` for each parameter that has a gradient, with `g` including the L2
/// term `weight_decay · w` when that is not zero.
fn each_with_grad<T: Float>(
    params: &[Tensor<T>],
    weight_decay: f64,
    mut update: impl FnMut(usize, ArrayViewMutD<'_, T>, &ArrayD<T>),
) {
    for (i, p) in params.iter().enumerate() {
        p.with_grad(|g| {
            let Some(g) = g else { return };
            if weight_decay == 0.0 {
                p.update_value(|w| update(i, w, g));
            } else {
                let wd = T::lit(weight_decay);
                let decayed = g + &p.array().mapv(|w| w * wd);
                p.update_value(|w| update(i, w, &decayed));
            }
        });
    }
}

/// Per-parameter state, created as zeros on first use.
fn slot<'a, T: Float>(
    state: &'a mut [Option<ArrayD<T>>],
    i: usize,
    like: &ArrayD<T>,
) -> &'a mut ArrayD<T> {
    state[i].get_or_insert_with(|| ArrayD::zeros(like.raw_dim()))
}

macro_rules! common {
    () => {
        fn zero_grad(&self) {
            for p in &self.params {
                p.zero_grad();
            }
        }
        fn lr(&self) -> f64 {
            self.lr
        }
        fn set_lr(&mut self, lr: f64) {
            self.lr = lr;
        }
    };
}

/// Stochastic gradient descent `w ← w − η g` (full-batch GD when fed the whole set).
pub struct Sgd<T: Float = f32> {
    params: Vec<Tensor<T>>,
    lr: f64,
    weight_decay: f64,
}

impl<T: Float> Sgd<T> {
    /// SGD with learning rate `lr`.
    pub fn new(params: Vec<Tensor<T>>, lr: f64) -> Self {
        Sgd {
            params,
            lr,
            weight_decay: 0.0,
        }
    }

    /// Adds L2 weight decay `λ w` to every gradient.
    pub fn weight_decay(mut self, lambda: f64) -> Self {
        self.weight_decay = lambda;
        self
    }
}

impl<T: Float> Optimizer for Sgd<T> {
    fn step(&mut self) {
        let lr = T::lit(self.lr);
        each_with_grad(&self.params, self.weight_decay, |_, mut w, g| {
            match (w.as_slice_mut(), g.as_slice()) {
                (Some(w), Some(g)) => kernels::add_scaled(w, -lr, g),
                _ => w.scaled_add(-lr, g),
            }
        });
    }
    common!();
}

/// Momentum SGD: `v ← α v − η g`, `w ← w + v`.
pub struct Momentum<T: Float = f32> {
    params: Vec<Tensor<T>>,
    lr: f64,
    momentum: f64,
    weight_decay: f64,
    v: Vec<Option<ArrayD<T>>>,
}

impl<T: Float> Momentum<T> {
    /// Momentum SGD with rate `lr` and momentum `α` (the book uses 0.9).
    pub fn new(params: Vec<Tensor<T>>, lr: f64, momentum: f64) -> Self {
        let v = vec![None; params.len()];
        Momentum {
            params,
            lr,
            momentum,
            weight_decay: 0.0,
            v,
        }
    }

    /// Adds L2 weight decay `λ w` to every gradient.
    pub fn weight_decay(mut self, lambda: f64) -> Self {
        self.weight_decay = lambda;
        self
    }
}

impl<T: Float> Optimizer for Momentum<T> {
    fn step(&mut self) {
        let (lr, a) = (T::lit(self.lr), T::lit(self.momentum));
        let state = &mut self.v;
        each_with_grad(&self.params, self.weight_decay, |i, mut w, g| {
            let v = slot(state, i, g);
            Zip::from(&mut *v)
                .and(g)
                .for_each(|v, &g| *v = a * *v - lr * g);
            w += &*v;
        });
    }
    common!();
}

/// Nesterov's accelerated gradient in the book's form: `v ← α v − η g`,
/// `w ← w + α² v − (1 + α) η g`.
pub struct Nesterov<T: Float = f32> {
    params: Vec<Tensor<T>>,
    lr: f64,
    momentum: f64,
    weight_decay: f64,
    v: Vec<Option<ArrayD<T>>>,
}

impl<T: Float> Nesterov<T> {
    /// Nesterov momentum with rate `lr` and momentum `α`.
    pub fn new(params: Vec<Tensor<T>>, lr: f64, momentum: f64) -> Self {
        let v = vec![None; params.len()];
        Nesterov {
            params,
            lr,
            momentum,
            weight_decay: 0.0,
            v,
        }
    }

    /// Adds L2 weight decay `λ w` to every gradient.
    pub fn weight_decay(mut self, lambda: f64) -> Self {
        self.weight_decay = lambda;
        self
    }
}

impl<T: Float> Optimizer for Nesterov<T> {
    fn step(&mut self) {
        let (lr, a) = (T::lit(self.lr), T::lit(self.momentum));
        let state = &mut self.v;
        each_with_grad(&self.params, self.weight_decay, |i, mut w, g| {
            let v = slot(state, i, g);
            Zip::from(&mut w).and(&mut *v).and(g).for_each(|w, v, &g| {
                *v = a * *v - lr * g;
                *w += a * a * *v - (T::one() + a) * lr * g;
            });
        });
    }
    common!();
}

/// AdaGrad: `h ← h + g²`, `w ← w − η g / (√h + ε)`.
pub struct AdaGrad<T: Float = f32> {
    params: Vec<Tensor<T>>,
    lr: f64,
    eps: f64,
    weight_decay: f64,
    h: Vec<Option<ArrayD<T>>>,
}

impl<T: Float> AdaGrad<T> {
    /// AdaGrad with rate `lr` and the book's ε = 1e-7.
    pub fn new(params: Vec<Tensor<T>>, lr: f64) -> Self {
        let h = vec![None; params.len()];
        AdaGrad {
            params,
            lr,
            eps: 1e-7,
            weight_decay: 0.0,
            h,
        }
    }

    /// Sets ε.
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }

    /// Adds L2 weight decay `λ w` to every gradient.
    pub fn weight_decay(mut self, lambda: f64) -> Self {
        self.weight_decay = lambda;
        self
    }
}

impl<T: Float> Optimizer for AdaGrad<T> {
    fn step(&mut self) {
        let (lr, eps) = (T::lit(self.lr), T::lit(self.eps));
        let state = &mut self.h;
        each_with_grad(&self.params, self.weight_decay, |i, mut w, g| {
            let h = slot(state, i, g);
            Zip::from(&mut w).and(&mut *h).and(g).for_each(|w, h, &g| {
                *h += g * g;
                *w -= lr * g / (h.sqrt() + eps);
            });
        });
    }
    common!();
}

/// RMSprop: `h ← ρ h + (1 − ρ) g²`, `w ← w − η g / (√h + ε)`.
pub struct RmsProp<T: Float = f32> {
    params: Vec<Tensor<T>>,
    lr: f64,
    decay: f64,
    eps: f64,
    weight_decay: f64,
    h: Vec<Option<ArrayD<T>>>,
}

impl<T: Float> RmsProp<T> {
    /// RMSprop with rate `lr` and the book's ρ = 0.99, ε = 1e-7.
    pub fn new(params: Vec<Tensor<T>>, lr: f64) -> Self {
        let h = vec![None; params.len()];
        RmsProp {
            params,
            lr,
            decay: 0.99,
            eps: 1e-7,
            weight_decay: 0.0,
            h,
        }
    }

    /// Sets the decay ρ.
    pub fn decay(mut self, decay: f64) -> Self {
        self.decay = decay;
        self
    }

    /// Sets ε.
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }

    /// Adds L2 weight decay `λ w` to every gradient.
    pub fn weight_decay(mut self, lambda: f64) -> Self {
        self.weight_decay = lambda;
        self
    }
}

impl<T: Float> Optimizer for RmsProp<T> {
    fn step(&mut self) {
        let (lr, eps, rho) = (T::lit(self.lr), T::lit(self.eps), T::lit(self.decay));
        let state = &mut self.h;
        each_with_grad(&self.params, self.weight_decay, |i, mut w, g| {
            let h = slot(state, i, g);
            Zip::from(&mut w).and(&mut *h).and(g).for_each(|w, h, &g| {
                *h = rho * *h + (T::one() - rho) * g * g;
                *w -= lr * g / (h.sqrt() + eps);
            });
        });
    }
    common!();
}

/// Adam with bias correction: `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`,
/// `w ← w − η m̂ / (√v̂ + ε)` with `m̂ = m/(1−β₁ᵗ)`, `v̂ = v/(1−β₂ᵗ)`.
pub struct Adam<T: Float = f32> {
    params: Vec<Tensor<T>>,
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    decoupled: bool,
    t: i32,
    m: Vec<Option<ArrayD<T>>>,
    v: Vec<Option<ArrayD<T>>>,
}

impl<T: Float> Adam<T> {
    /// Adam with rate `lr`, β₁ = 0.9, β₂ = 0.999, ε = 1e-8.
    pub fn new(params: Vec<Tensor<T>>, lr: f64) -> Self {
        let n = params.len();
        Adam {
            params,
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled: false,
            t: 0,
            m: vec![None; n],
            v: vec![None; n],
        }
    }

    /// Sets β₁ and β₂.
    pub fn betas(mut self, beta1: f64, beta2: f64) -> Self {
        self.beta1 = beta1;
        self.beta2 = beta2;
        self
    }

    /// Sets ε.
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }

    /// Adds L2 weight decay `λ w` to every gradient (for the decoupled form, use [`AdamW`]).
    pub fn weight_decay(mut self, lambda: f64) -> Self {
        self.weight_decay = lambda;
        self
    }
}

impl<T: Float> Optimizer for Adam<T> {
    fn step(&mut self) {
        self.t += 1;
        let (b1, b2) = (T::lit(self.beta1), T::lit(self.beta2));
        let c1 = T::one() - b1.powi(self.t);
        let c2 = T::one() - b2.powi(self.t);
        let (lr, eps) = (T::lit(self.lr), T::lit(self.eps));
        let shrink = T::one() - lr * T::lit(self.weight_decay);
        let (decoupled, l2) = (
            self.decoupled,
            if self.decoupled {
                0.0
            } else {
                self.weight_decay
            },
        );
        // lr·m̂ / (√v̂ + ε) with the bias corrections folded into two constants, so that each
        // element costs one division and one square root (as PyTorch computes it).
        let (step, inv_sqrt_c2) = (lr / c1, T::one() / c2.sqrt());
        let (ms, vs) = (&mut self.m, &mut self.v);
        each_with_grad(&self.params, l2, |i, mut w, g| {
            if decoupled {
                w.mapv_inplace(|w| w * shrink);
            }
            let m = slot(ms, i, g);
            let v = slot(vs, i, g);
            let c = AdamStep {
                beta1: b1,
                beta2: b2,
                step,
                inv_sqrt_c2,
                eps,
            };
            match (
                w.as_slice_mut(),
                m.as_slice_mut(),
                v.as_slice_mut(),
                g.as_slice(),
            ) {
                // The usual case: contiguous, so the vectorised kernel can run.
                (Some(w), Some(m), Some(v), Some(g)) => kernels::adam_update(w, m, v, g, c),
                _ => Zip::from(&mut w)
                    .and(&mut *m)
                    .and(&mut *v)
                    .and(g)
                    .for_each(|w, m, v, &g| {
                        *m = b1 * *m + (T::one() - b1) * g;
                        *v = b2 * *v + (T::one() - b2) * g * g;
                        *w -= step * *m / (v.sqrt() * inv_sqrt_c2 + eps);
                    }),
            }
        });
    }
    common!();
}

/// AdamW: Adam with decoupled weight decay `w ← w (1 − η λ)` before each Adam update
/// (Loshchilov & Hutter), default λ = 0.01.
pub struct AdamW<T: Float = f32>(Adam<T>);

impl<T: Float> AdamW<T> {
    /// AdamW with rate `lr`, λ = 0.01, β₁ = 0.9, β₂ = 0.999, ε = 1e-8.
    pub fn new(params: Vec<Tensor<T>>, lr: f64) -> Self {
        let mut adam = Adam::new(params, lr);
        adam.weight_decay = 0.01;
        adam.decoupled = true;
        AdamW(adam)
    }

    /// Sets the decoupled decay λ.
    pub fn weight_decay(mut self, lambda: f64) -> Self {
        self.0.weight_decay = lambda;
        self
    }

    /// Sets β₁ and β₂.
    pub fn betas(self, beta1: f64, beta2: f64) -> Self {
        AdamW(Adam {
            decoupled: true,
            ..self.0.betas(beta1, beta2)
        })
    }

    /// Sets ε.
    pub fn eps(self, eps: f64) -> Self {
        AdamW(self.0.eps(eps))
    }
}

impl<T: Float> Optimizer for AdamW<T> {
    fn step(&mut self) {
        self.0.step();
    }
    fn zero_grad(&self) {
        self.0.zero_grad();
    }
    fn lr(&self) -> f64 {
        self.0.lr
    }
    fn set_lr(&mut self, lr: f64) {
        self.0.lr = lr;
    }
}

/// `Σ v²` in f64, in eight interleaved lanes so that the loop vectorises.
fn sum_of_squares<T: Float>(g: &ArrayD<T>) -> f64 {
    let Some(v) = g.as_slice_memory_order() else {
        return g.iter().map(|&v| v.as_f64() * v.as_f64()).sum();
    };
    let mut acc = [0.0f64; 8];
    let chunks = v.chunks_exact(8);
    let rest: f64 = chunks
        .remainder()
        .iter()
        .map(|&v| v.as_f64() * v.as_f64())
        .sum();
    for c in chunks {
        for j in 0..8 {
            let x = c[j].as_f64();
            acc[j] += x * x;
        }
    }
    acc.iter().sum::<f64>() + rest
}

/// Scales the gradients so that their global L2 norm is at most `max_norm`, by
/// `max_norm / (norm + 1e-6)` where that is below 1, as PyTorch's `clip_grad_norm_` and the
/// sequel's `clip_grads` do; returns the norm before clipping (NaN or infinite if a gradient
/// is, in which case nothing is scaled).
pub fn clip_grad_norm<T: Float>(params: &[Tensor<T>], max_norm: f64) -> f64 {
    let total: f64 = params
        .iter()
        .map(|p| p.with_grad(|g| g.map_or(0.0, sum_of_squares)))
        .sum::<f64>()
        .sqrt();
    let rate = max_norm / (total + 1e-6);
    if total.is_finite() && rate < 1.0 {
        let scale = T::lit(rate);
        for p in params {
            p.update_grad(|mut g| g.mapv_inplace(|v| v * scale));
        }
    }
    total
}
