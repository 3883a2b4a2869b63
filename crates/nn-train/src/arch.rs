//! The networks the book trains, by name: the chapter-3 shape, two ReLU MLPs, and the two CNNs
//! (ch.7 SimpleConvNet, ch.8 DeepConvNet); and [`mlp`], the book's `MultiLayerNetExtend`, which
//! builds every MLP among them.

use std::fmt;
use std::str::FromStr;

use nn_layers::{
    BatchNorm1d, Conv2d, Dropout, Flatten, Init, Linear, MaxPool2d, Relu, Sequential, Sigmoid,
    Unflatten,
};
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::error::TrainError;

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
    /// The book's SimpleConvNet (ch.7.5): conv 30×5×5 → ReLU → 2×2 max pool → Affine 100 →
    /// ReLU → Affine 10.
    SimpleConvNet,
    /// The book's DeepConvNet (ch.8.1): six 3×3 convolutions (16, 16, 32, 32, 64, 64 filters,
    /// padding 1 except the fourth's 2) with ReLU, 2×2 max pooling after every second, then
    /// Affine 50 → ReLU → Dropout 0.5 → Affine 10 → Dropout 0.5.
    DeepConvNet,
}

/// Weight initialisation choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
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
    /// The layer widths of an MLP (the CNNs: their input and output).
    pub fn widths(&self) -> &'static [usize] {
        match self {
            Arch::BookCh3 => &[784, 50, 100, 10],
            Arch::Mlp => &[784, 100, 10],
            Arch::MlpDeep { .. } => &[784, 256, 256, 10],
            Arch::SimpleConvNet | Arch::DeepConvNet => &[784, 10],
        }
    }

    /// Builds the network with seeded initial weights; every network takes rows of 784 pixels.
    pub fn build(&self, init: InitChoice, seed: u64) -> Sequential<f32> {
        if matches!(self, Arch::SimpleConvNet | Arch::DeepConvNet) {
            return self.build_cnn(init, seed);
        }
        let activation = match self {
            Arch::BookCh3 => Activation::Sigmoid,
            _ => Activation::Relu,
        };
        let init = match (init, activation) {
            (InitChoice::Auto, Activation::Sigmoid) | (InitChoice::Xavier, _) => Init::XavierNormal,
            (InitChoice::Auto, Activation::Relu) | (InitChoice::He, _) => Init::HeNormal,
            (InitChoice::Book, _) => Init::Normal { std: 0.01 },
        };
        let (batch_norm, dropout) = match *self {
            Arch::MlpDeep {
                batch_norm,
                dropout,
            } => (batch_norm, dropout),
            _ => (false, 0.0),
        };
        let opts = MlpOptions {
            activation,
            init,
            // PyTorch's ε, so that a checkpoint means the same in `nn.BatchNorm1d`.
            batch_norm: batch_norm.then_some(1e-5),
            dropout: (dropout > 0.0).then_some(dropout),
        };
        mlp(self.widths(), opts, seed)
    }
}

/// The nonlinearity after each hidden affine layer of an [`mlp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// The sigmoid (book 1 ch.3.2.4).
    Sigmoid,
    /// ReLU (book 1 ch.3.2.7).
    Relu,
}

/// What goes between the affine layers of an [`mlp`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MlpOptions {
    /// The hidden layers' activation.
    pub activation: Activation,
    /// The weights' initialiser (biases start at zero, as in the book).
    pub init: Init,
    /// BatchNorm after each hidden affine layer, with this ε (book 1 ch.6.3): PyTorch's 1e-5
    /// (what [`Arch`] uses), or the book's `10e-7` = 1e-6, which keeps the smallest weight
    /// scales of the ch.6.3 experiment alive (their batch variances fall below 1e-5).
    pub batch_norm: Option<f64>,
    /// Dropout after each hidden activation, with this probability (book 1 ch.6.4.3).
    pub dropout: Option<f64>,
}

impl MlpOptions {
    /// Plain affine layers and `activation`, initialised with `init`.
    pub fn new(activation: Activation, init: Init) -> Self {
        MlpOptions {
            activation,
            init,
            batch_norm: None,
            dropout: None,
        }
    }
}

/// The book's `MultiLayerNetExtend`: affine layers of `widths`, each hidden one followed by
/// (BatchNorm), the activation and (Dropout). `seed` draws the weights; the `i`-th Dropout
/// draws its masks from `seed + 1 + i`.
///
/// ```
/// use nn_layers::{Init, Module};
/// use nn_train::{Activation, MlpOptions, mlp};
///
/// let opts = MlpOptions { batch_norm: Some(1e-6), ..MlpOptions::new(Activation::Relu, Init::HeNormal) };
/// let net = mlp(&[784, 100, 100, 10], opts, 0);
/// // Linear, BatchNorm, ReLU, Linear, BatchNorm, ReLU, Linear.
/// assert_eq!(net.parameters().len(), 3 * 2 + 2 * 2);
/// ```
pub fn mlp(widths: &[usize], opts: MlpOptions, seed: u64) -> Sequential<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut net = Sequential::new();
    for (i, pair) in widths.windows(2).enumerate() {
        net.push(Box::new(Linear::with_init(
            pair[0], pair[1], opts.init, true, &mut rng,
        )));
        if i + 2 == widths.len() {
            break;
        }
        if let Some(eps) = opts.batch_norm {
            net.push(Box::new(BatchNorm1d::with_options(pair[1], 0.1, eps)));
        }
        match opts.activation {
            Activation::Sigmoid => net.push(Box::new(Sigmoid)),
            Activation::Relu => net.push(Box::new(Relu)),
        }
        if let Some(p) = opts.dropout {
            net.push(Box::new(Dropout::new(p, seed.wrapping_add(1 + i as u64))));
        }
    }
    net
}

impl Arch {
    /// The book's CNNs, He-initialised by default (`--init book` gives its `0.01 * randn`, which
    /// the book uses for SimpleConvNet).
    fn build_cnn(&self, init: InitChoice, seed: u64) -> Sequential<f32> {
        let init = match init {
            InitChoice::Auto | InitChoice::He => Init::HeNormal,
            InitChoice::Xavier => Init::XavierNormal,
            InitChoice::Book => Init::Normal { std: 0.01 },
        };
        let mut rng = StdRng::seed_from_u64(seed);
        let net = Sequential::new().add(Unflatten::new(&[1, 28, 28]));
        if *self == Arch::SimpleConvNet {
            return net
                .add(Conv2d::with_init(1, 30, 5, init, true, &mut rng))
                .add(Relu)
                .add(MaxPool2d::new(2))
                .add(Flatten)
                .add(Linear::with_init(30 * 12 * 12, 100, init, true, &mut rng))
                .add(Relu)
                .add(Linear::with_init(100, 10, init, true, &mut rng));
        }
        let channels = [1, 16, 16, 32, 32, 64, 64];
        let mut net = net;
        for i in 0..6 {
            let pad = if i == 3 { 2 } else { 1 };
            let conv = Conv2d::with_init(channels[i], channels[i + 1], 3, init, true, &mut rng);
            net = net.add(conv.with_padding(pad)).add(Relu);
            if i % 2 == 1 {
                net = net.add(MaxPool2d::new(2));
            }
        }
        net.add(Flatten)
            .add(Linear::with_init(64 * 4 * 4, 50, init, true, &mut rng))
            .add(Relu)
            .add(Dropout::new(0.5, seed.wrapping_add(1)))
            .add(Linear::with_init(50, 10, init, true, &mut rng))
            .add(Dropout::new(0.5, seed.wrapping_add(2)))
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Arch::BookCh3 => write!(f, "book-ch3"),
            Arch::Mlp => write!(f, "mlp"),
            Arch::SimpleConvNet => write!(f, "simple-convnet"),
            Arch::DeepConvNet => write!(f, "deep-convnet"),
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
    type Err = TrainError;

    /// Parses `book-ch3`, `mlp`, `mlp-deep`, `mlp-deep+bn`, `mlp-deep+bn+dropout0.2`.
    fn from_str(s: &str) -> Result<Self, TrainError> {
        let bad = || TrainError::Usage(format!("unknown architecture {s:?}"));
        let mut parts = s.split('+');
        let arch = match parts.next() {
            Some("book-ch3") => Arch::BookCh3,
            Some("mlp") => Arch::Mlp,
            Some("simple-convnet") => Arch::SimpleConvNet,
            Some("deep-convnet") => Arch::DeepConvNet,
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
            "simple-convnet",
            "deep-convnet",
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
                "0.weight", "0.bias", "1.weight", "1.bias", "4.weight", "4.bias", "5.weight",
                "5.bias", "8.weight", "8.bias"
            ]
        );
        let mut book = Arch::BookCh3.build(InitChoice::Book, 0);
        let y = book.forward(&nn_core::Tensor::zeros(&[2, 784]));
        assert_eq!(y.shape(), [2, 10]);
    }

    #[test]
    fn the_books_cnns_take_rows_of_pixels() {
        let mut simple = Arch::SimpleConvNet.build(InitChoice::Auto, 0);
        let shapes: Vec<Vec<usize>> = simple.parameters().iter().map(|(_, p)| p.shape()).collect();
        assert_eq!(
            shapes,
            [
                vec![30, 1, 5, 5],
                vec![30],
                vec![4320, 100],
                vec![100],
                vec![100, 10],
                vec![10]
            ]
        );
        assert_eq!(
            simple.forward(&nn_core::Tensor::zeros(&[2, 784])).shape(),
            [2, 10]
        );
        let mut deep = Arch::DeepConvNet.build(InitChoice::Auto, 0);
        assert_eq!(deep.parameters().len(), 16);
        deep.eval();
        assert_eq!(
            deep.forward(&nn_core::Tensor::zeros(&[2, 784])).shape(),
            [2, 10]
        );
    }
}
