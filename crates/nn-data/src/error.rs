//! The one error type of the data crate: every variant names the file or URL involved and what
//! was expected versus found.

use std::path::PathBuf;

use thiserror::Error;

/// Why data could not be loaded.
#[derive(Debug, Error)]
pub enum DataError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not valid gzip (or its stream is corrupt).
    #[error("{file}: corrupt gzip stream: {reason}")]
    Gzip {
        /// The file.
        file: String,
        /// What the decoder said.
        reason: String,
    },
    /// The decompressed data is larger than any data set this crate knows.
    #[error(
        "{file}: decompresses to more than {limit} bytes; refusing (corrupt or not an IDX file)"
    )]
    TooLarge {
        /// The file.
        file: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// The IDX magic number is not the expected one.
    #[error("{file}: IDX magic number is {found:#010x}, expected {expected:#010x}: {what}")]
    BadMagic {
        /// The file.
        file: String,
        /// The expected magic (0x00000803 images, 0x00000801 labels).
        expected: u32,
        /// The magic found.
        found: u32,
        /// What exactly is wrong.
        what: String,
    },
    /// The IDX header is shorter than its dimensions need.
    #[error("{file}: IDX header truncated: needs {expected} bytes, file has {found}")]
    TruncatedHeader {
        /// The file.
        file: String,
        /// Bytes the header needs.
        expected: usize,
        /// Bytes available.
        found: usize,
    },
    /// The payload is not exactly the product of the dimensions.
    #[error(
        "{file}: IDX payload has {found} bytes, the header's dimensions {dims:?} need exactly {expected}"
    )]
    PayloadLength {
        /// The file.
        file: String,
        /// The header's dimensions.
        dims: Vec<u32>,
        /// Bytes the dimensions need.
        expected: u64,
        /// Bytes found (or a lower bound, when more than expected).
        found: u64,
    },
    /// Images are not 28×28 (MNIST and Fashion-MNIST both are).
    #[error("{file}: images are {rows}x{cols}, expected 28x28")]
    ImageSize {
        /// The file.
        file: String,
        /// Rows.
        rows: u32,
        /// Columns.
        cols: u32,
    },
    /// Images and labels disagree in number.
    #[error("{images_file} has {images} images but {labels_file} has {labels} labels")]
    CountMismatch {
        /// The images file.
        images_file: String,
        /// Number of images.
        images: u64,
        /// The labels file.
        labels_file: String,
        /// Number of labels.
        labels: u64,
    },
    /// A label is not a class index 0–9.
    #[error("{file}: label {label} at index {index} is not a class 0-9")]
    BadLabel {
        /// The file.
        file: String,
        /// Position of the label.
        index: usize,
        /// The label found.
        label: u8,
    },
    /// A file's SHA-256 matches none of its pinned digests.
    #[error(
        "{file} from {source_name}: SHA-256 mismatch: expected {expected}, got {actual} \
         (corrupt download or wrong file)"
    )]
    Checksum {
        /// The file name.
        file: String,
        /// The mirror or cache it came from.
        source_name: String,
        /// The pinned digest(s).
        expected: String,
        /// The digest found.
        actual: String,
    },
    /// No mirror provided the file.
    #[error(
        "{file}: not available from any mirror. Tried:\n{tried}\nDownload it by hand into {cache}, or \
         point NN_DATA_MIRROR at a directory or URL holding <dataset>/<file> (comma-separated list allowed)"
    )]
    Unavailable {
        /// The file (`<dataset>/<name>`).
        file: String,
        /// One line per mirror tried, with what went wrong there.
        tried: String,
        /// The cache directory the file belongs in.
        cache: PathBuf,
    },
    /// A pickle is not a dict of NumPy float arrays, or is damaged.
    #[error("{file}: byte {offset}: {reason}")]
    Pickle {
        /// The file.
        file: String,
        /// Where in the file the problem was found.
        offset: usize,
        /// What is wrong.
        reason: String,
    },
    /// An `.npz` archive could not be read.
    #[error("{file}: not a readable .npz of float arrays: {reason}")]
    Npz {
        /// The file.
        file: String,
        /// What is wrong.
        reason: String,
    },
    /// A mirror specification could not be understood.
    #[error("invalid mirror {spec:?}: {reason}")]
    BadMirror {
        /// The specification given.
        spec: String,
        /// Why it was refused.
        reason: String,
    },
    /// A text file is not text (not UTF-8).
    #[error("{file}: not UTF-8 text: {reason}")]
    NotText {
        /// The file.
        file: String,
        /// What the decoder said.
        reason: String,
    },
    /// A word of a corpus that the vocabulary it is mapped through does not hold.
    #[error("{file}: word {position} ({word:?}) is not in the training vocabulary")]
    UnknownWord {
        /// The file.
        file: String,
        /// The word.
        word: String,
        /// Its position in the file's words (0-based).
        position: usize,
    },
    /// A pickle that parsed but does not hold word vectors with a consistent vocabulary.
    #[error("{file}: not the sequel's word vectors: {reason}")]
    BadWordVectors {
        /// The file.
        file: String,
        /// What is wrong.
        reason: String,
    },
    /// A pickle that parsed but is not a list of float arrays (a model's saved parameters).
    #[error("{file}: not a list of parameter arrays: {reason}")]
    BadParams {
        /// The file.
        file: String,
        /// What is wrong.
        reason: String,
    },
    /// A text of questions and answers that is not the sequel's fixed-width `question_answer`
    /// lines (`addition.txt`, `date.txt`).
    #[error("{file}: line {line}: {reason}")]
    BadSequences {
        /// The file.
        file: String,
        /// The line (1-based; 0 for the file as a whole).
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A data-set name that is not `mnist` or `fashion-mnist`.
    #[error("unknown data set {0:?}: expected mnist or fashion-mnist")]
    UnknownDataset(String),
}

impl DataError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            source,
        }
    }
}
