//! The data sets and the book's pretrained weights, fetched (checksum-verified) from their
//! public URLs or a mirror (`NN_DATA_MIRROR`), as `nn-mnist` fetches them.

use zero_nn::data::{
    Dataset, DatasetKind, FetchOptions, LoadOptions, NamedArrays, RemoteFile, Split, TrainTest,
};

use super::Result;

/// The data-set option of the MNIST experiments.
#[derive(Debug, Clone, clap::Args)]
pub struct DataChoice {
    /// The data set: MNIST as the book, or Fashion-MNIST (same format, harder).
    #[arg(long, value_enum, default_value = "mnist")]
    pub dataset: DatasetKind,
}

/// Both splits of `kind`, flattened and normalised (the book's `load_mnist(normalize=True)`).
pub fn load(kind: DatasetKind) -> Result<TrainTest> {
    Ok(TrainTest {
        train: load_split(kind, Split::Train)?,
        test: load_split(kind, Split::Test)?,
    })
}

/// One split of `kind`, flattened and normalised.
pub fn load_split(kind: DatasetKind, split: Split) -> Result<Dataset> {
    let fetch = FetchOptions::from_env()?;
    Ok(zero_nn::data::load(
        kind,
        split,
        &fetch,
        LoadOptions::default(),
    )?)
}

/// The arrays of one of the book's pickled weight files.
pub fn book_arrays(spec: &RemoteFile) -> Result<NamedArrays> {
    let opts = FetchOptions::from_env()?;
    Ok(zero_nn::data::numpy::fetch_pickle(spec, &opts)?)
}

/// The book's trained SimpleConvNet (`ch07/params.pkl`) in float64, every array's shape checked
/// (`zero_nn::train::book::simple_convnet`).
pub fn book_simple_convnet() -> Result<zero_nn::layers::Sequential<f64>> {
    let spec = &zero_nn::data::SIMPLE_CONVNET_PARAMS;
    Ok(zero_nn::train::book::simple_convnet(
        &book_arrays(spec)?,
        spec.name,
    )?)
}
