//! `.npz` archives (`np.savez`, `np.savez_compressed`), read with `ndarray-npy`.

use std::fs::File;
use std::io::{BufReader, Cursor, Read, Seek};
use std::path::Path;

use ndarray::IxDyn;

use super::{NamedArrays, NumpyArray};
use crate::error::DataError;

/// Reads every array of an `.npz` archive (`np.savez` or `np.savez_compressed`).
///
/// # Errors
/// [`DataError::Io`] if the file cannot be opened, [`DataError::Npz`] if it is not a valid
/// archive of `float32`/`float64` arrays.
pub fn read_npz(path: &Path) -> Result<NamedArrays, DataError> {
    let file = File::open(path).map_err(|e| DataError::io(path, e))?;
    from_reader(BufReader::new(file), &path.display().to_string())
}

/// [`read_npz`] of an archive already in memory; `file` names it in errors.
pub(super) fn from_bytes(bytes: &[u8], file: &str) -> Result<NamedArrays, DataError> {
    from_reader(Cursor::new(bytes), file)
}

fn from_reader(reader: impl Read + Seek, file: &str) -> Result<NamedArrays, DataError> {
    use ndarray_npy::{NpzReader, ReadNpyError, ReadNpzError};
    let npz_error = |reason: String| DataError::Npz {
        file: file.to_string(),
        reason,
    };
    let mut npz = NpzReader::new(reader).map_err(|e| npz_error(e.to_string()))?;
    let names = npz.names().map_err(|e| npz_error(e.to_string()))?;
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let array = match npz.by_name::<ndarray::OwnedRepr<f32>, IxDyn>(&name) {
            Ok(a) => NumpyArray::F32(a),
            Err(ReadNpzError::Npy(ReadNpyError::WrongDescriptor(_))) => {
                match npz.by_name::<ndarray::OwnedRepr<f64>, IxDyn>(&name) {
                    Ok(a) => NumpyArray::F64(a),
                    Err(e) => {
                        return Err(npz_error(format!(
                            "{name}: {e} (only float32 and float64 arrays are read)"
                        )));
                    }
                }
            }
            Err(e) => return Err(npz_error(format!("{name}: {e}"))),
        };
        let key = name.strip_suffix(".npy").unwrap_or(&name).to_string();
        out.push((key, array));
    }
    Ok(out)
}
