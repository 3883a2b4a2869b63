//! The networks `serve` and `predict` run on a picture: the book's chapter-3 network, its
//! trained DeepConvNet, and a checkpoint written by `train`.
//!
//! A network holds `Rc`s (its tensors' tape), so it stays on the thread that built it: a
//! [`Spec`] (plain data, shared between threads) builds one [`Model`] per worker thread.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, ValueEnum};
use nn_core::{Float, Tensor, no_grad};
use nn_data::{DatasetKind, NamedArrays};
use nn_layers::{Module, Sequential};
use nn_train::{Arch, InitChoice, TrainError, book};

use crate::eval::{newest_checkpoint, recorded};
use crate::infer::{BookNet, book_weights};
use crate::{DataArgs, fetch_options, one_line};
use serde::Serialize;

/// What a client learns about a model (`GET /api/models`).
#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    /// The name requests use: `ch3`, `deep-convnet`, or the checkpoint's file stem.
    pub name: String,
    /// A line for people.
    pub title: String,
    /// The data set it was trained on (`mnist`, `fashion-mnist`).
    pub dataset: String,
    /// The ten class names.
    pub classes: Vec<String>,
    /// Whether predictions include the first convolution's feature maps.
    pub feature_maps: bool,
}

enum Source {
    Ch3(NamedArrays),
    SimpleConvNet(NamedArrays),
    DeepConvNet(NamedArrays),
    Checkpoint {
        arch: Arch,
        bytes: Arc<[u8]>,
        path: PathBuf,
    },
}

/// A model as data: what builds it on any thread.
pub struct Spec {
    /// Its description.
    pub info: ModelInfo,
    source: Source,
    origin: String,
}

const FASHION_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

fn classes(dataset: DatasetKind) -> Vec<String> {
    match dataset {
        DatasetKind::Mnist => (0..10).map(|d| d.to_string()).collect(),
        DatasetKind::FashionMnist => FASHION_CLASSES.iter().map(|s| s.to_string()).collect(),
    }
}

impl Spec {
    /// The book's chapter-3 network from the arrays of `sample_weight.pkl`.
    pub fn ch3(arrays: NamedArrays, origin: &str) -> Spec {
        let title = "the book's chapter-3 network (784-50-100-10, sigmoid)";
        Spec::book("ch3", title, false, Source::Ch3(arrays), origin)
    }

    /// The book's trained SimpleConvNet from the arrays of `ch07/params.pkl`.
    pub fn simple_convnet(arrays: NamedArrays, origin: &str) -> Spec {
        let title = "the book's SimpleConvNet (ch.7: conv 30×5×5, pool, 100, 10)";
        let source = Source::SimpleConvNet(arrays);
        Spec::book("simple-convnet", title, true, source, origin)
    }

    /// The book's trained DeepConvNet from the arrays of `deep_convnet_params.pkl`.
    pub fn deep_convnet(arrays: NamedArrays, origin: &str) -> Spec {
        let title = "the book's DeepConvNet (ch.8: six 3×3 convolutions)";
        let source = Source::DeepConvNet(arrays);
        Spec::book("deep-convnet", title, true, source, origin)
    }

    /// One of the book's MNIST networks.
    fn book(name: &str, title: &str, feature_maps: bool, source: Source, origin: &str) -> Spec {
        Spec {
            info: ModelInfo {
                name: name.into(),
                title: title.into(),
                dataset: DatasetKind::Mnist.to_string(),
                classes: classes(DatasetKind::Mnist),
                feature_maps,
            },
            source,
            origin: origin.into(),
        }
    }

    /// A checkpoint of `train`, architecture and data set as its metadata records them.
    pub fn checkpoint(path: PathBuf, bytes: Vec<u8>, arch: Arch, dataset: DatasetKind) -> Spec {
        let name = path
            .file_stem()
            .map_or_else(|| "checkpoint".into(), |s| s.to_string_lossy().into_owned());
        let cnn = matches!(arch, Arch::SimpleConvNet | Arch::DeepConvNet);
        Spec {
            info: ModelInfo {
                title: format!("{arch} trained on {} ({})", dataset.title(), path.display()),
                name,
                dataset: dataset.to_string(),
                classes: classes(dataset),
                feature_maps: cnn,
            },
            origin: path.display().to_string(),
            source: Source::Checkpoint {
                arch,
                bytes: bytes.into(),
                path,
            },
        }
    }

    /// Builds the network, in evaluation mode.
    ///
    /// # Errors
    /// The arrays are not the network's, or the checkpoint does not fit its architecture.
    pub fn build(&self) -> Result<Model, TrainError> {
        let net = match &self.source {
            Source::Ch3(arrays) => Net::F32(book::network(arrays, &self.origin)?),
            Source::SimpleConvNet(arrays) => Net::F64(book::simple_convnet(arrays, &self.origin)?),
            Source::DeepConvNet(arrays) => Net::F64(book::deep_convnet(arrays, &self.origin)?),
            Source::Checkpoint { arch, bytes, path } => {
                let mut net = arch.build(InitChoice::Auto, 0);
                nn_layers::checkpoint::load_from_bytes(bytes, path, &mut net)?;
                Net::F32(net)
            }
        };
        Ok(Model::new(self.info.clone(), net))
    }
}

enum Net {
    F32(Sequential<f32>),
    F64(Sequential<f64>),
}

/// A network ready to classify 28×28 images.
pub struct Model {
    info: ModelInfo,
    net: Net,
    /// The output is already a softmax (the chapter-3 network ends with one).
    probabilities: bool,
    /// The network takes `(N, 1, 28, 28)` (the book's CNN), not rows of 784.
    images: bool,
    /// The layer whose output is shown as feature maps: the first convolution's activation.
    maps: Option<usize>,
}

/// One model's answer for one image.
#[derive(Debug, Clone, Serialize)]
pub struct Prediction {
    /// The model's name.
    pub model: String,
    /// The ten class probabilities.
    pub probabilities: Vec<f32>,
    /// The most probable class.
    pub top: usize,
    /// The first convolution's activations (after its ReLU), for a CNN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feature_maps: Option<FeatureMaps>,
}

/// `channels` maps of `height × width`, channel-major.
#[derive(Debug, Clone, Serialize)]
pub struct FeatureMaps {
    /// How many maps.
    pub channels: usize,
    /// Rows of each.
    pub height: usize,
    /// Columns of each.
    pub width: usize,
    /// `channels × height × width` values.
    pub values: Vec<f32>,
}

impl Model {
    fn new(info: ModelInfo, mut net: Net) -> Model {
        let names = match &mut net {
            Net::F32(n) => {
                n.eval();
                n.layer_names()
            }
            Net::F64(n) => {
                n.eval();
                n.layer_names()
            }
        };
        let conv = names.iter().position(|n| n == "Conv2d");
        let maps = conv.map(|c| {
            if names.get(c + 1).is_some_and(|n| n == "Relu") {
                c + 1
            } else {
                c
            }
        });
        Model {
            info,
            probabilities: names.last().is_some_and(|n| n == "Softmax"),
            images: names.first().is_some_and(|n| n == "Conv2d"),
            maps,
            net,
        }
    }

    /// Its description.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// Classifies one image of 784 values in [0, 1] (ink 1 on 0, as `load_mnist` gives).
    ///
    /// # Panics
    /// If `image` does not hold 784 values (a programmer error: callers check input).
    pub fn predict(&mut self, image: &[f32]) -> Prediction {
        assert_eq!(image.len(), 784, "Model::predict: {} values", image.len());
        let shape: &[usize] = if self.images {
            &[1, 1, 28, 28]
        } else {
            &[1, 784]
        };
        let (logits, maps) = match &mut self.net {
            Net::F32(net) => run(net, image.iter().copied(), shape, self.maps),
            Net::F64(net) => run(net, image.iter().map(|&v| f64::from(v)), shape, self.maps),
        };
        let probabilities = if self.probabilities {
            logits
        } else {
            softmax(&logits)
        };
        Prediction {
            model: self.info.name.clone(),
            top: nn_train::argmax(probabilities.iter().copied()),
            probabilities,
            feature_maps: maps,
        }
    }
}

fn run<T: Float>(
    net: &mut Sequential<T>,
    image: impl Iterator<Item = T>,
    shape: &[usize],
    maps: Option<usize>,
) -> (Vec<f32>, Option<FeatureMaps>) {
    let x = ndarray::ArrayD::from_shape_vec(shape, image.collect())
        .unwrap_or_else(|e| unreachable!("784 values were checked: {e}"));
    let to_f32 = |v: T| v.to_f64().map_or(f32::NAN, |v| v as f32);
    no_grad(|| {
        let outputs = net.forward_each(&Tensor::from_array(x));
        let last = outputs
            .last()
            .map(|y| y.array().iter().map(|&v| to_f32(v)).collect())
            .unwrap_or_default();
        let maps = maps.and_then(|i| outputs.get(i)).and_then(|m| {
            let shape = m.shape();
            let [_, channels, height, width] = shape[..] else {
                return None;
            };
            Some(FeatureMaps {
                channels,
                height,
                width,
                values: m.array().iter().map(|&v| to_f32(v)).collect(),
            })
        });
        (last, maps)
    })
}

/// Softmax, shifted by the maximum so that large logits do not overflow.
fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = logits.iter().map(|&v| (v - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.iter().map(|v| v / sum).collect()
}

/// The networks `serve` and `predict` run.
#[derive(Args)]
pub struct ModelArgs {
    /// The book's trained networks to run, comma-separated [default: ch3,deep-convnet, leaving
    /// out one whose weights cannot be fetched].
    #[arg(long, value_enum, value_delimiter = ',')]
    pub nets: Option<Vec<BookNet>>,
    /// The chapter-3 network's weights (.pkl or .npz) instead of the book's file.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// A checkpoint of `train` to run as well (default: the newest in --runs-dir, if there is
    /// one).
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Where `train` writes its runs.
    #[arg(long, default_value = "runs")]
    pub runs_dir: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
}

/// The networks of `--nets` and the checkpoint. A book network named by default that cannot
/// be fetched, or a newest run that does not load, is left out with a warning; one asked for
/// explicitly is an error.
pub fn model_specs(args: &ModelArgs) -> Result<Vec<Spec>, TrainError> {
    let opts = fetch_options(&args.data)?;
    let mut specs = Vec::new();
    let explicit_nets = args.nets.is_some();
    let nets = args
        .nets
        .clone()
        .unwrap_or_else(|| vec![BookNet::Ch3, BookNet::DeepConvnet]);
    for net in &nets {
        let spec = match net {
            BookNet::Ch3 => {
                let (arrays, source) = book_weights(args.weights.as_deref(), net.file(), &opts)?;
                Spec::ch3(arrays, &source)
            }
            BookNet::SimpleConvnet | BookNet::DeepConvnet => {
                let build = match net {
                    BookNet::SimpleConvnet => Spec::simple_convnet,
                    _ => Spec::deep_convnet,
                };
                match book_weights(None, net.file(), &opts) {
                    Ok((arrays, source)) => build(arrays, &source),
                    Err(e) if !explicit_nets => {
                        eprintln!(
                            "nn-mnist: warning: leaving out {}: {}",
                            net.to_possible_value()
                                .map_or_else(String::new, |v| v.get_name().to_string()),
                            one_line(&e.to_string())
                        );
                        continue;
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        specs.push(spec);
    }
    let (path, explicit) = match &args.checkpoint {
        Some(path) => (Some(path.clone()), true),
        None => (newest_checkpoint(&args.runs_dir).ok(), false),
    };
    if let Some(path) = path {
        let spec = recorded(&path, None, None).and_then(|(arch, dataset)| {
            let bytes = std::fs::read(&path).map_err(|e| TrainError::Report {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            let spec = Spec::checkpoint(path.clone(), bytes, arch, dataset);
            spec.build()?;
            Ok(spec)
        });
        match spec {
            Ok(spec) => specs.push(spec),
            Err(e) if !explicit => {
                eprintln!(
                    "nn-mnist: warning: leaving out {}: {}",
                    path.display(),
                    one_line(&e.to_string())
                );
            }
            Err(e) => return Err(e),
        }
    }
    if specs.is_empty() {
        return Err(TrainError::Usage("no network to run".into()));
    }
    Ok(specs)
}
