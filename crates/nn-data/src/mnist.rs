//! MNIST and Fashion-MNIST, loaded like the book's `load_mnist(normalize, flatten,
//! one_hot_label)` (book 1 ch.3.6.1, `dataset/mnist.py`).

use ndarray::{Array1, Array2, ArrayD, Axis, IxDyn};

use crate::error::DataError;
use crate::fetch::{FetchOptions, RemoteFile, fetch};
use crate::idx::{IdxKind, IdxView};

/// The two data sets of 28×28 grey images in 10 classes. `Display` and `FromStr` use the names
/// of the command line and of checkpoints' metadata, `mnist` and `fashion-mnist`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum DatasetKind {
    /// Handwritten digits (LeCun, Cortes, Burges).
    Mnist,
    /// Zalando's clothing images, a drop-in replacement with the same format.
    FashionMnist,
}

/// Training (60,000 images) or test (10,000) part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// The 60,000 training images.
    Train,
    /// The 10,000 test images.
    Test,
}

const MNIST_URLS: &[&str] = &[
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
];
const FASHION_URLS: &[&str] = &["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"];

pub(crate) const fn file(
    dataset: &'static str,
    name: &'static str,
    sha256: Option<&'static str>,
    raw_sha256: Option<&'static str>,
    default_urls: &'static [&'static str],
) -> RemoteFile {
    RemoteFile {
        dataset,
        name,
        sha256,
        raw_sha256,
        default_urls,
    }
}

/// MNIST's files: the official `.gz` digests, and the decompressed ones where known.
pub const MNIST_FILES: [RemoteFile; 4] = [
    file(
        "mnist",
        "train-images-idx3-ubyte.gz",
        Some("440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
        None,
        MNIST_URLS,
    ),
    file(
        "mnist",
        "train-labels-idx1-ubyte.gz",
        Some("3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
        Some("65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
        MNIST_URLS,
    ),
    file(
        "mnist",
        "t10k-images-idx3-ubyte.gz",
        Some("8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
        Some("0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
        MNIST_URLS,
    ),
    file(
        "mnist",
        "t10k-labels-idx1-ubyte.gz",
        Some("f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
        Some("ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
        MNIST_URLS,
    ),
];

/// Fashion-MNIST's files, pinned by the digests of their decompressed content (so that
/// recompressed copies such as Debian's `dataset-fashion-mnist` are accepted).
pub const FASHION_MNIST_FILES: [RemoteFile; 4] = [
    file(
        "fashion-mnist",
        "train-images-idx3-ubyte.gz",
        None,
        Some("c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
        FASHION_URLS,
    ),
    file(
        "fashion-mnist",
        "train-labels-idx1-ubyte.gz",
        None,
        Some("bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
        FASHION_URLS,
    ),
    file(
        "fashion-mnist",
        "t10k-images-idx3-ubyte.gz",
        None,
        Some("5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
        FASHION_URLS,
    ),
    file(
        "fashion-mnist",
        "t10k-labels-idx1-ubyte.gz",
        None,
        Some("0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
        FASHION_URLS,
    ),
];

impl DatasetKind {
    /// Both kinds.
    pub const ALL: [DatasetKind; 2] = [DatasetKind::Mnist, DatasetKind::FashionMnist];

    /// The short name: `mnist`, `fashion-mnist`.
    pub fn name(self) -> &'static str {
        match self {
            DatasetKind::Mnist => "mnist",
            DatasetKind::FashionMnist => "fashion-mnist",
        }
    }

    /// The name in prose and figure titles: `MNIST`, `Fashion-MNIST`.
    pub fn title(self) -> &'static str {
        match self {
            DatasetKind::Mnist => "MNIST",
            DatasetKind::FashionMnist => "Fashion-MNIST",
        }
    }

    /// The (images, labels) files of a split.
    pub fn files(self, split: Split) -> (&'static RemoteFile, &'static RemoteFile) {
        let files = match self {
            DatasetKind::Mnist => &MNIST_FILES,
            DatasetKind::FashionMnist => &FASHION_MNIST_FILES,
        };
        match split {
            Split::Train => (&files[0], &files[1]),
            Split::Test => (&files[2], &files[3]),
        }
    }
}

impl std::fmt::Display for DatasetKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for DatasetKind {
    type Err = DataError;

    /// `mnist` or `fashion-mnist`.
    fn from_str(s: &str) -> Result<Self, DataError> {
        DatasetKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| DataError::UnknownDataset(s.to_string()))
    }
}

/// How to shape the arrays, as the book's `load_mnist` arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadOptions {
    /// Pixels as `f32 / 255.0` in [0, 1] (else the raw 0–255 values, as `f32`).
    pub normalize: bool,
    /// Images as `(N, 784)` (else `(N, 1, 28, 28)`).
    pub flatten: bool,
    /// Labels as one-hot rows `(N, 10)` (else class indices).
    pub one_hot: bool,
}

impl Default for LoadOptions {
    /// The book's defaults: `normalize=True, flatten=True, one_hot_label=False`.
    fn default() -> Self {
        LoadOptions {
            normalize: true,
            flatten: true,
            one_hot: false,
        }
    }
}

/// Labels as class indices or one-hot rows.
#[derive(Debug, Clone, PartialEq)]
pub enum Labels {
    /// Class indices 0–9.
    Classes(Array1<usize>),
    /// One-hot rows of 10.
    OneHot(Array2<f32>),
}

impl Labels {
    /// The number of labels.
    pub fn len(&self) -> usize {
        match self {
            Labels::Classes(c) => c.len(),
            Labels::OneHot(o) => o.nrows(),
        }
    }

    /// Whether there are no labels.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The class of every label (a one-hot row's class is the index of its largest value).
    ///
    /// ```
    /// use nn_data::Labels;
    /// let one_hot = ndarray::array![[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    /// assert_eq!(Labels::OneHot(one_hot).classes(), [1, 2]);
    /// ```
    pub fn classes(&self) -> Vec<usize> {
        match self {
            Labels::Classes(c) => c.to_vec(),
            Labels::OneHot(rows) => rows
                .rows()
                .into_iter()
                .map(|r| {
                    r.iter()
                        .enumerate()
                        .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
                            if v > best.1 { (i, v) } else { best }
                        })
                        .0
                })
                .collect(),
        }
    }

    /// The rows at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Labels {
        match self {
            Labels::Classes(c) => Labels::Classes(c.select(Axis(0), indices)),
            Labels::OneHot(o) => Labels::OneHot(o.select(Axis(0), indices)),
        }
    }
}

/// Images and their labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// `(N, 784)` or `(N, 1, 28, 28)`, `f32`.
    pub images: ArrayD<f32>,
    /// One per image.
    pub labels: Labels,
}

impl Dataset {
    /// The number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The examples at `indices` (a mini-batch), in that order.
    ///
    /// # Panics
    /// If an index is out of range.
    pub fn select(&self, indices: &[usize]) -> Dataset {
        Dataset {
            images: self.images.select(Axis(0), indices),
            labels: self.labels.select(indices),
        }
    }
}

/// Both splits.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainTest {
    /// 60,000 examples.
    pub train: Dataset,
    /// 10,000 examples.
    pub test: Dataset,
}

/// Loads one split of a data set: fetches (or finds) its two files, verifies their digests,
/// parses and checks them.
///
/// # Errors
/// Any [`DataError`]: a file unavailable from every mirror (naming the file and what each
/// mirror said), a checksum mismatch, a malformed IDX file, counts that disagree, a label
/// outside 0–9.
pub fn load(
    kind: DatasetKind,
    split: Split,
    fetch_opts: &FetchOptions,
    opts: LoadOptions,
) -> Result<Dataset, DataError> {
    let (image_file, label_file) = kind.files(split);
    let images = fetch(image_file, fetch_opts)?;
    let labels = fetch(label_file, fetch_opts)?;
    build(
        &images.content,
        &image_file.label(),
        &labels.content,
        &label_file.label(),
        opts,
    )
}

/// Builds a data set from decompressed IDX images and labels.
///
/// # Errors
/// As [`load`], for the parsing and consistency checks.
pub fn build(
    images: &[u8],
    images_name: &str,
    labels: &[u8],
    labels_name: &str,
    opts: LoadOptions,
) -> Result<Dataset, DataError> {
    let img = IdxView::parse(images, images_name, IdxKind::Images)?;
    let lab = IdxView::parse(labels, labels_name, IdxKind::Labels)?;
    let (n, rows, cols) = (img.dims[0], img.dims[1], img.dims[2]);
    if (rows, cols) != (28, 28) {
        return Err(DataError::ImageSize {
            file: images_name.to_string(),
            rows,
            cols,
        });
    }
    if u64::from(n) != u64::from(lab.dims[0]) {
        return Err(DataError::CountMismatch {
            images_file: images_name.to_string(),
            images: u64::from(n),
            labels_file: labels_name.to_string(),
            labels: u64::from(lab.dims[0]),
        });
    }
    if let Some((index, &label)) = lab.payload.iter().enumerate().find(|(_, l)| **l >= 10) {
        return Err(DataError::BadLabel {
            file: labels_name.to_string(),
            index,
            label,
        });
    }
    let n = n as usize;
    // As the book: x.astype(np.float32) / 255.0 — a true division, bit-identical to NumPy's.
    let pixels: Vec<f32> = if opts.normalize {
        img.payload.iter().map(|&p| f32::from(p) / 255.0).collect()
    } else {
        img.payload.iter().map(|&p| f32::from(p)).collect()
    };
    let shape: &[usize] = if opts.flatten {
        &[n, 784]
    } else {
        &[n, 1, 28, 28]
    };
    let images = match ArrayD::from_shape_vec(IxDyn(shape), pixels) {
        Ok(a) => a,
        Err(_) => unreachable!("the payload length was checked against the dimensions"),
    };
    let labels = if opts.one_hot {
        let mut onehot = Array2::zeros((n, 10));
        for (row, &l) in lab.payload.iter().enumerate() {
            onehot[[row, usize::from(l)]] = 1.0;
        }
        Labels::OneHot(onehot)
    } else {
        Labels::Classes(lab.payload.iter().map(|&l| usize::from(l)).collect())
    };
    Ok(Dataset { images, labels })
}

macro_rules! dataset_type {
    ($name:ident, $kind:expr, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone, Copy)]
        pub struct $name;

        impl $name {
            /// Loads both splits (the test split on a second thread).
            ///
            /// # Errors
            /// As [`load`].
            pub fn load(
                fetch_opts: &FetchOptions,
                opts: LoadOptions,
            ) -> Result<TrainTest, DataError> {
                std::thread::scope(|scope| {
                    let test = scope.spawn(|| load($kind, Split::Test, fetch_opts, opts));
                    let train = load($kind, Split::Train, fetch_opts, opts);
                    let test = test
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                    Ok(TrainTest {
                        train: train?,
                        test: test?,
                    })
                })
            }

            /// Loads one split (the test split needs only its two files).
            ///
            /// # Errors
            /// As [`load`].
            pub fn load_split(
                split: Split,
                fetch_opts: &FetchOptions,
                opts: LoadOptions,
            ) -> Result<Dataset, DataError> {
                load($kind, split, fetch_opts, opts)
            }
        }
    };
}

dataset_type!(
    Mnist,
    DatasetKind::Mnist,
    "MNIST: `Mnist::load(&FetchOptions::from_env()?, LoadOptions::default())`."
);
dataset_type!(
    FashionMnist,
    DatasetKind::FashionMnist,
    "Fashion-MNIST: `FashionMnist::load(&FetchOptions::from_env()?, LoadOptions::default())`."
);

/// The book's pretrained chapter-3 network (`ch03/sample_weight.pkl`, a pickle of NumPy
/// arrays W1, b1, W2, b2, W3, b3), fetched like the data sets (mirror folder `weights/`).
pub const SAMPLE_WEIGHT: RemoteFile = file(
    "weights",
    "sample_weight.pkl",
    Some("b7f55a27988ba34c3777b0f1bbd464817c8a4db855723e6ff26f703501917a13"),
    None,
    &["https://raw.githubusercontent.com/oreilly-japan/deep-learning-from-scratch/master/ch03/"],
);

/// The book's trained SimpleConvNet (ch.7: `ch07/params.pkl`, arrays W1, b1 of the 30 5×5
/// filters, W2, b2, W3, b3 of the two Affine layers, float64), mirrored as
/// `weights/simple_convnet_params.pkl`.
pub const SIMPLE_CONVNET_PARAMS: RemoteFile = file(
    "weights",
    "simple_convnet_params.pkl",
    Some("a5da99cffddafcfe5e686e79dc0ec3a7cc993b58e64f483b50960511e5e85344"),
    None,
    &[
        "https://raw.githubusercontent.com/oreilly-japan/deep-learning-from-scratch/master/ch07/params.pkl",
    ],
);

/// The book's trained DeepConvNet (ch.8: `ch08/deep_convnet_params.pkl`, arrays W1…W6, b1…b6 of
/// the six 3×3 convolutions and W7, b7, W8, b8 of the two Affine layers, float64).
pub const DEEP_CONVNET_PARAMS: RemoteFile = file(
    "weights",
    "deep_convnet_params.pkl",
    Some("4b7a27baee2037605afa94d3f514ca9fa9cc96623739328609765073cfd5f802"),
    None,
    &["https://raw.githubusercontent.com/oreilly-japan/deep-learning-from-scratch/master/ch08/"],
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dataset_names_round_trip() {
        for kind in DatasetKind::ALL {
            assert_eq!(kind.to_string().parse::<DatasetKind>().unwrap(), kind);
        }
        assert_eq!(DatasetKind::FashionMnist.title(), "Fashion-MNIST");
        let err = "cifar".parse::<DatasetKind>().unwrap_err().to_string();
        assert!(
            err.contains("\"cifar\"") && err.contains("fashion-mnist"),
            "{err}"
        );
    }
    use crate::idx::tests::idx_bytes;

    fn images(n: u32) -> Vec<u8> {
        let payload: Vec<u8> = (0..n * 784).map(|i| (i % 256) as u8).collect();
        idx_bytes(0x803, &[n, 28, 28], &payload)
    }

    #[test]
    fn builds_like_the_books_load_mnist() {
        let labels = idx_bytes(0x801, &[2], &[3, 9]);
        let d = build(&images(2), "i", &labels, "l", LoadOptions::default()).unwrap();
        assert_eq!(d.images.shape(), &[2, 784]);
        assert_eq!(d.images[[0, 255]], 1.0);
        assert_eq!(d.images[[0, 51]], 51.0f32 / 255.0);
        assert_eq!(d.labels, Labels::Classes(ndarray::arr1(&[3, 9])));

        let opts = LoadOptions {
            normalize: false,
            flatten: false,
            one_hot: true,
        };
        let d = build(&images(2), "i", &labels, "l", opts).unwrap();
        assert_eq!(d.images.shape(), &[2, 1, 28, 28]);
        assert_eq!(d.images[[0, 0, 9, 3]], 255.0); // pixel 255 = row 9, column 3
        let Labels::OneHot(onehot) = &d.labels else {
            panic!("one-hot requested")
        };
        assert_eq!(
            onehot.row(1).to_vec(),
            vec![0., 0., 0., 0., 0., 0., 0., 0., 0., 1.]
        );
        let batch = d.select(&[1, 1, 0]);
        assert_eq!(batch.len(), 3);
        assert_eq!(batch.images.shape(), &[3, 1, 28, 28]);
    }

    #[test]
    fn inconsistent_files_are_refused() {
        let labels = idx_bytes(0x801, &[3], &[1, 2, 3]);
        let err = build(&images(2), "imgs", &labels, "labs", LoadOptions::default()).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::CountMismatch {
                    images: 2,
                    labels: 3,
                    ..
                }
            ),
            "{err}"
        );

        let bad_label = idx_bytes(0x801, &[2], &[1, 10]);
        let err = build(
            &images(2),
            "imgs",
            &bad_label,
            "labs",
            LoadOptions::default(),
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                DataError::BadLabel {
                    index: 1,
                    label: 10,
                    ..
                }
            ),
            "{err}"
        );

        let small = idx_bytes(0x803, &[1, 2, 2], &[0; 4]);
        let one = idx_bytes(0x801, &[1], &[0]);
        let err = build(&small, "imgs", &one, "labs", LoadOptions::default()).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::ImageSize {
                    rows: 2,
                    cols: 2,
                    ..
                }
            ),
            "{err}"
        );

        // Labels passed where images belong: the magic tells.
        let err = build(&one, "imgs", &one, "labs", LoadOptions::default()).unwrap_err();
        assert!(matches!(err, DataError::BadMagic { .. }), "{err}");
    }
}
