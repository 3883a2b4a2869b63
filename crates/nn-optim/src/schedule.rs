//! Learning-rate schedules: the rate for an epoch, from the base rate.

/// A learning rate as a function of the epoch (counted from 0).
pub trait LrSchedule {
    /// The rate to use during `epoch`.
    fn lr(&self, base_lr: f64, epoch: usize) -> f64;
}

/// Multiplies the rate by `gamma` every `step_size` epochs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepLr {
    /// Epochs between decays.
    pub step_size: usize,
    /// Factor applied at each decay.
    pub gamma: f64,
}

impl LrSchedule for StepLr {
    fn lr(&self, base_lr: f64, epoch: usize) -> f64 {
        let decays = epoch / self.step_size.max(1);
        base_lr * self.gamma.powi(decays as i32)
    }
}

/// Cosine annealing from the base rate down to `eta_min` over `t_max` epochs (then flat).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CosineLr {
    /// Epochs of the half cosine.
    pub t_max: usize,
    /// The final rate.
    pub eta_min: f64,
}

impl LrSchedule for CosineLr {
    fn lr(&self, base_lr: f64, epoch: usize) -> f64 {
        let t = epoch.min(self.t_max) as f64 / self.t_max.max(1) as f64;
        self.eta_min + (base_lr - self.eta_min) * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_and_cosine() {
        let s = StepLr {
            step_size: 10,
            gamma: 0.5,
        };
        assert_eq!(
            [s.lr(1.0, 0), s.lr(1.0, 9), s.lr(1.0, 10), s.lr(1.0, 25)],
            [1.0, 1.0, 0.5, 0.25]
        );
        let c = CosineLr {
            t_max: 10,
            eta_min: 0.1,
        };
        assert!((c.lr(1.0, 0) - 1.0).abs() < 1e-12);
        assert!((c.lr(1.0, 5) - 0.55).abs() < 1e-12);
        assert!((c.lr(1.0, 10) - 0.1).abs() < 1e-12);
        assert!((c.lr(1.0, 50) - 0.1).abs() < 1e-12);
    }
}
