//! # nn-data — data sets
//!
//! Book 1 ch.3.6 「手書き数字認識」: MNIST (and Fashion-MNIST) fetched from public mirrors or a
//! local one, verified by SHA-256, parsed from the IDX format and served in mini-batches; plus
//! the toy sets of the book's and the notes' experiments; and the sequel's text (the Penn
//! Treebank as word ids, [`text`]). Independent of the autodiff: it
//! yields plain `ndarray` arrays.
//!
//! ```no_run
//! use nn_data::{FetchOptions, LoadOptions, Mnist, Split};
//! // NN_DATA_MIRROR=/path/to/mirror points at a local copy (a directory or URL).
//! let test = Mnist::load_split(Split::Test, &FetchOptions::from_env()?, LoadOptions::default())?;
//! assert_eq!(test.images.shape(), &[10_000, 784]);
//! # Ok::<(), nn_data::DataError>(())
//! ```

mod batch;
pub mod digit;
mod error;
pub mod fetch;
pub mod idx;
mod mnist;
pub mod numpy;
pub mod sequence;
pub mod text;
pub mod toy;

pub use batch::Batches;
pub use error::DataError;
pub use fetch::{FetchOptions, Fetched, Mirror, RemoteFile, fetch};
pub use mnist::{
    DEEP_CONVNET_PARAMS, Dataset, DatasetKind, FASHION_MNIST_FILES, FashionMnist, Labels,
    LoadOptions, MNIST_FILES, Mnist, SAMPLE_WEIGHT, SIMPLE_CONVNET_PARAMS, Split, TrainTest, build,
    load,
};
pub use numpy::{NamedArrays, NumpyArray, read_arrays};
