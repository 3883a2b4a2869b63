//! The networks the command trains: the book's chapter-3 shape and two ReLU MLPs.

use std::fmt;
use std::str::FromStr;

use nn_layers::{BatchNorm1d, Dropout, Init, Linear, Relu, Sequential, Sigmoid};
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::error::MnistError;

/// A network shape; `Display`/`FromStr` give the names the command line and checkpoints use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Arch {
    /// 784-50-100-10 with sigmoid hidden layers (book 1 ch.3.6).
    BookCh3,
    /// 784-100-10 with ReLU (book 1 ch.5's `TwoLayerNet` with ReLU).
    Mlp,
    /// 784-256-256-10 with ReLU, optionally BatchNorm after each hidden affine layer and
    /// Dropout after each hidden activation (book 1 ch.6).
    MlpDeep {
        /// Insert `BatchNorm1d` layers.
        batch_norm: bool,
        /// Dropout probability (0 for none).
        dropout: f64,
    },
}

/// Weight initialisation choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InitChoice {
    /// Xavier (Glorot) for sigmoid networks, He for ReLU networks (book 1 ch.6.2's advice).
    Auto,
    /// The book's `0.01 * randn`.
    Book,
    /// Glorot normal.
    Xavier,
    /// He normal.
    He,
}

impl Arch {
    /// The layer widths.
    pub fn widths(&self) -> &'static [usize] {
        match self {
            Arch::BookCh3 => &[784, 50, 100, 10],
            Arch::Mlp => &[784, 100, 10],
            Arch::MlpDeep { .. } => &[784, 256, 256, 10],
        }
    }

    /// Builds the network with seeded initial weights.
    pub fn build(&self, init: InitChoice, seed: u64) -> Sequential<f32> {
        let sigmoid = matches!(self, Arch::BookCh3);
        let init = match (init, sigmoid) {
            (InitChoice::Auto, true) | (InitChoice::Xavier, _) => Init::XavierNormal,
            (InitChoice::Auto, false) | (InitChoice::He, _) => Init::HeNormal,
            (InitChoice::Book, _) => Init::Normal { std: 0.01 },
        };
        let (batch_norm, dropout) = match *self {
            Arch::MlpDeep {
                batch_norm,
                dropout,
            } => (batch_norm, dropout),
            _ => (false, 0.0),
        };
        let mut rng = StdRng::seed_from_u64(seed);
        let widths = self.widths();
        let mut net = Sequential::new();
        for (i, pair) in widths.windows(2).enumerate() {
            let last = i + 2 == widths.len();
            net.push(Box::new(Linear::with_init(
                pair[0], pair[1], init, true, &mut rng,
            )));
            if last {
                break;
            }
            if batch_norm {
                net.push(Box::new(BatchNorm1d::new(pair[1])));
            }
            if sigmoid {
                net.push(Box::new(Sigmoid));
            } else {
                net.push(Box::new(Relu));
            }
            if dropout > 0.0 {
                net.push(Box::new(Dropout::new(
                    dropout,
                    seed.wrapping_add(1 + i as u64),
                )));
            }
        }
        net
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Arch::BookCh3 => write!(f, "book-ch3"),
            Arch::Mlp => write!(f, "mlp"),
            Arch::MlpDeep {
                batch_norm,
                dropout,
            } => {
                write!(f, "mlp-deep")?;
                if batch_norm {
                    write!(f, "+bn")?;
                }
                if dropout > 0.0 {
                    write!(f, "+dropout{dropout}")?;
                }
                Ok(())
            }
        }
    }
}

impl FromStr for Arch {
    type Err = MnistError;

    /// Parses `book-ch3`, `mlp`, `mlp-deep`, `mlp-deep+bn`, `mlp-deep+bn+dropout0.2`.
    fn from_str(s: &str) -> Result<Self, MnistError> {
        let bad = || MnistError::Usage(format!("unknown architecture {s:?}"));
        let mut parts = s.split('+');
        let arch = match parts.next() {
            Some("book-ch3") => Arch::BookCh3,
            Some("mlp") => Arch::Mlp,
            Some("mlp-deep") => Arch::MlpDeep {
                batch_norm: false,
                dropout: 0.0,
            },
            _ => return Err(bad()),
        };
        let mut arch = arch;
        for part in parts {
            match (&mut arch, part) {
                (Arch::MlpDeep { batch_norm, .. }, "bn") => *batch_norm = true,
                (Arch::MlpDeep { dropout, .. }, p) if p.starts_with("dropout") => {
                    *dropout = p["dropout".len()..]
                        .parse()
                        .ok()
                        .filter(|d| (0.0..1.0).contains(d))
                        .ok_or_else(bad)?;
                }
                _ => return Err(bad()),
            }
        }
        Ok(arch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nn_layers::Module;

    #[test]
    fn names_round_trip() {
        for name in [
            "book-ch3",
            "mlp",
            "mlp-deep",
            "mlp-deep+bn",
            "mlp-deep+bn+dropout0.2",
        ] {
            let arch: Arch = name.parse().unwrap();
            assert_eq!(arch.to_string(), name);
        }
        assert!("mlp+bn".parse::<Arch>().is_err());
        assert!("cnn".parse::<Arch>().is_err());
        assert!("mlp-deep+dropout1.5".parse::<Arch>().is_err());
    }

    #[test]
    fn shapes() {
        let net = Arch::MlpDeep {
            batch_norm: true,
            dropout: 0.5,
        }
        .build(InitChoice::Auto, 0);
        let names: Vec<String> = net.parameters().into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "0.weight", "0.bias", "1.gamma", "1.beta", "4.weight", "4.bias", "5.gamma",
                "5.beta", "8.weight", "8.bias"
            ]
        );
        let mut book = Arch::BookCh3.build(InitChoice::Book, 0);
        let y = book.forward(&nn_core::Tensor::zeros(&[2, 784]));
        assert_eq!(y.shape(), [2, 10]);
    }
}
