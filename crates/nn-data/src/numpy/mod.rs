//! NumPy arrays as the book ships them: a Python pickle of a `dict` of `ndarray`s
//! (`sample_weight.pkl`, the ch.7/ch.8 CNN parameters; [`parse_pickle`]), or an `.npz`
//! archive ([`read_npz`]). [`read_arrays`] reads either, told apart by their first bytes.

mod npz;
mod pickle;
mod random;

use std::path::Path;

use ndarray::ArrayD;

use crate::error::DataError;

pub use npz::read_npz;
pub use pickle::{PickleValue, parse_pickle, parse_pickle_value};
pub use random::RandomState;

/// One array read from a NumPy file, in the element type it was saved with.
#[derive(Debug, Clone, PartialEq)]
pub enum NumpyArray {
    /// `float32` (`<f4`), the book's dtype.
    F32(ArrayD<f32>),
    /// `float64` (`<f8`).
    F64(ArrayD<f64>),
}

impl NumpyArray {
    /// The array's shape.
    pub fn shape(&self) -> &[usize] {
        match self {
            NumpyArray::F32(a) => a.shape(),
            NumpyArray::F64(a) => a.shape(),
        }
    }

    /// NumPy's name for the element type (`"float32"`, `"float64"`).
    pub fn dtype(&self) -> &'static str {
        match self {
            NumpyArray::F32(_) => "float32",
            NumpyArray::F64(_) => "float64",
        }
    }

    /// The values as `f32` (rounding `float64` values, as NumPy's `astype(np.float32)`).
    pub fn to_f32(&self) -> ArrayD<f32> {
        match self {
            NumpyArray::F32(a) => a.clone(),
            NumpyArray::F64(a) => a.mapv(|v| v as f32),
        }
    }

    /// The values as `f64` (exact).
    pub fn to_f64(&self) -> ArrayD<f64> {
        match self {
            NumpyArray::F32(a) => a.mapv(f64::from),
            NumpyArray::F64(a) => a.clone(),
        }
    }
}

/// Named arrays, in the order the file lists them.
pub type NamedArrays = Vec<(String, NumpyArray)>;

/// The arrays of a pickled weight file (the book's), fetched from its URL or a mirror and
/// checksum-verified as [`fetch`](crate::fetch()) does.
///
/// # Errors
/// Any [`DataError`] of the fetch, or [`DataError::Pickle`] for content that is not a dict of
/// `float32`/`float64` arrays.
pub fn fetch_pickle(
    spec: &crate::RemoteFile,
    opts: &crate::FetchOptions,
) -> Result<NamedArrays, DataError> {
    let fetched = crate::fetch(spec, opts)?;
    parse_pickle(&fetched.content, spec.name)
}

/// Reads a `.pkl` (pickled dict of arrays) or `.npz` file, told apart by their first bytes.
///
/// ```no_run
/// let arrays = nn_data::numpy::read_arrays("sample_weight.pkl".as_ref())?;
/// for (name, a) in &arrays {
///     println!("{name}: {:?} {}", a.shape(), a.dtype()); // W1: [784, 50] float32, …
/// }
/// # Ok::<(), nn_data::DataError>(())
/// ```
///
/// # Errors
/// [`DataError::Io`] if the file cannot be read, [`DataError::Pickle`] or [`DataError::Npz`] if
/// its content is not a dict of `float32`/`float64` arrays.
pub fn read_arrays(path: &Path) -> Result<NamedArrays, DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    let name = path.display().to_string();
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        npz::from_bytes(&bytes, &name)
    } else {
        parse_pickle(&bytes, &name)
    }
}
