//! Saving and loading a module's parameters and buffers as
//! [safetensors](https://huggingface.co/docs/safetensors), the format of PyTorch, Hugging Face
//! and candle: an 8-byte header length, a JSON header (names, dtypes, shapes, offsets and a
//! `__metadata__` map of strings), then the raw little-endian values.
//!
//! Names and layouts are those of the equivalent PyTorch `nn.Sequential` (`0.weight`,
//! `1.running_mean`, …): a [`Linear`](crate::Linear) weight, `(in, out)` here, is written as
//! `(out, in)`, and BatchNorm gets PyTorch's `num_batches_tracked` (see
//! [`Module::torch_layout`]). So `model.load_state_dict(safetensors.torch.load_file(path))`
//! accepts a checkpoint saved here, and a state dict PyTorch saved with
//! `safetensors.torch.save_file` loads here into the same architecture.
//!
//! The header is validated by the `safetensors` crate (sizes, offsets, overlaps; no code is
//! executed, unlike pickle). The format has no checksum, so files saved here carry a CRC-32 of
//! every name and value in `__metadata__` (`zero_nn.crc32`), checked on load when present; a
//! flipped byte is then an error, never silently different weights. Loading checks every name,
//! dtype and shape before changing anything (all or nothing). Saving writes a temporary file,
//! flushes it to disk and renames it over the target, so an interrupted save never loses the
//! old file.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use ndarray::{ArrayD, ArrayViewD, IxDyn};
use nn_core::Float;
use safetensors::{Dtype, SafeTensors};
use thiserror::Error;

use crate::module::{Module, Named, TorchLayout};

/// The `__metadata__` key PyTorch's `save_file` writes (`"pt"`); written here too.
const FORMAT_KEY: &str = "format";
/// This project's format version, in `__metadata__`.
pub const VERSION_KEY: &str = "zero_nn.format_version";
const VERSION: u32 = 1;
/// The CRC-32 of every entry's name and values, in name order, in `__metadata__`.
const CRC_KEY: &str = "zero_nn.crc32";

/// Why a checkpoint could not be saved or loaded.
#[derive(Debug, Error)]
pub enum CheckpointError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not a valid safetensors file (truncated, or a header that lies about sizes
    /// or offsets).
    #[error("{path}: not a valid safetensors checkpoint: {reason}")]
    NotACheckpoint {
        /// The file.
        path: PathBuf,
        /// What the safetensors reader found wrong.
        reason: String,
    },
    /// Written by a later version of this project.
    #[error("{path}: checkpoint format version {found}, this build reads version {supported}")]
    Version {
        /// The file.
        path: PathBuf,
        /// The version found.
        found: String,
        /// The version supported.
        supported: u32,
    },
    /// The values do not match the checksum saved with them.
    #[error("{path}: corrupt checkpoint: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// An entry of another element type (f64 values for an f32 model, say).
    #[error("{path}: {name:?} holds {found} values, the model uses {expected}")]
    Dtype {
        /// The file.
        path: PathBuf,
        /// The entry.
        name: String,
        /// The model's element type.
        expected: &'static str,
        /// The file's element type.
        found: String,
    },
    /// The model has a tensor the file lacks.
    #[error("{path}: no entry for the model's {name:?} (a checkpoint of another architecture?)")]
    Missing {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        name: String,
    },
    /// The file has a tensor the model lacks.
    #[error(
        "{path}: entry {name:?} is not part of the model (a checkpoint of another architecture?)"
    )]
    Unexpected {
        /// The file.
        path: PathBuf,
        /// The entry's name.
        name: String,
    },
    /// A tensor's shape differs.
    #[error("{path}: {name:?} has shape {found:?} in the file, the model expects {expected:?}")]
    Shape {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        name: String,
        /// The shape the model expects in the file.
        expected: Vec<usize>,
        /// The file's shape.
        found: Vec<usize>,
    },
}

/// Key/value strings stored with a checkpoint, sorted by key.
pub type Metadata = Vec<(String, String)>;

fn state<T: Float>(module: &dyn Module<T>) -> Vec<Named<T>> {
    let mut all = module.parameters();
    all.extend(module.buffers());
    all
}

fn dtype_of<T: Float>() -> Dtype {
    if size_of::<T>() == 4 {
        Dtype::F32
    } else {
        Dtype::F64
    }
}

fn le_bytes<T: Float>(values: impl Iterator<Item = T>) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
        if size_of::<T>() == 4 {
            out.extend_from_slice(&(v.as_f64() as f32).to_le_bytes());
        } else {
            out.extend_from_slice(&v.as_f64().to_le_bytes());
        }
    }
    out
}

/// One entry ready to write.
struct Entry {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl Entry {
    /// `value`'s elements in logical (row-major) order, whatever its memory layout.
    fn of<T: Float>(value: ArrayViewD<'_, T>) -> Entry {
        Entry {
            dtype: dtype_of::<T>(),
            shape: value.shape().to_vec(),
            bytes: le_bytes(value.iter().copied()),
        }
    }
}

impl safetensors::View for &Entry {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> std::borrow::Cow<'_, [u8]> {
        std::borrow::Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

fn crc32<'a>(entries: impl Iterator<Item = (&'a str, &'a [u8])>) -> String {
    let mut sorted: Vec<_> = entries.collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut crc = flate2::Crc::new();
    for (name, bytes) in sorted {
        crc.update(&(name.len() as u64).to_le_bytes());
        crc.update(name.as_bytes());
        crc.update(&(bytes.len() as u64).to_le_bytes());
        crc.update(bytes);
    }
    format!("{:08x}", crc.sum())
}

/// Saves `module`'s parameters and buffers to `path` atomically, in PyTorch's names and
/// layouts.
///
/// # Errors
/// [`CheckpointError::Io`] if the file cannot be written (the previous file, if any, is kept).
pub fn save<T: Float>(path: &Path, module: &dyn Module<T>) -> Result<(), CheckpointError> {
    save_with_metadata(path, module, &[])
}

/// Saves `module` with metadata — free-form key/value strings such as the architecture's name,
/// read back with [`read_metadata`] before a model is built to load into.
///
/// ```
/// use nn_layers::checkpoint::{read_metadata, save_with_metadata};
/// use nn_layers::{Linear, Module};
/// use rand::SeedableRng;
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("m.safetensors");
/// let layer = Linear::<f32>::new(3, 2, &mut rand::rngs::StdRng::seed_from_u64(0));
/// save_with_metadata(&path, &layer, &[("arch", "linear-3-2")]).unwrap();
/// let metadata = read_metadata(&path).unwrap();
/// assert!(metadata.contains(&("arch".to_string(), "linear-3-2".to_string())));
/// // The header says which format wrote it, as PyTorch's `save_file` does.
/// assert!(metadata.contains(&("format".to_string(), "pt".to_string())));
/// ```
///
/// # Errors
/// [`CheckpointError::Io`] if the file cannot be written (the previous file, if any, is kept).
pub fn save_with_metadata<T: Float>(
    path: &Path,
    module: &dyn Module<T>,
    metadata: &[(&str, &str)],
) -> Result<(), CheckpointError> {
    let TorchLayout {
        transposed,
        counters,
    } = module.torch_layout();
    let mut entries = Vec::new();
    for (name, tensor) in state(module) {
        let value = tensor.array();
        let entry = if transposed.contains(&name) && value.ndim() == 2 {
            Entry::of(value.t())
        } else {
            Entry::of(value.view())
        };
        entries.push((name, entry));
    }
    for (name, value) in counters {
        let entry = Entry {
            dtype: Dtype::I64,
            shape: Vec::new(),
            bytes: value.to_le_bytes().to_vec(),
        };
        entries.push((name, entry));
    }
    write(path, &entries, metadata)
}

/// Saves named arrays and metadata to `path` atomically, as they are (no change of layout).
///
/// # Errors
/// [`CheckpointError::Io`] if the file cannot be written (the previous file, if any, is kept).
pub fn save_tensors<T: Float>(
    path: &Path,
    tensors: &[(String, ArrayViewD<'_, T>)],
    metadata: &[(&str, &str)],
) -> Result<(), CheckpointError> {
    let entries: Vec<(String, Entry)> = tensors
        .iter()
        .map(|(name, value)| (name.clone(), Entry::of(value.view())))
        .collect();
    write(path, &entries, metadata)
}

fn write(
    path: &Path,
    entries: &[(String, Entry)],
    metadata: &[(&str, &str)],
) -> Result<(), CheckpointError> {
    let io = |source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut info: HashMap<String, String> = metadata
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    info.entry(FORMAT_KEY.into()).or_insert_with(|| "pt".into());
    info.entry(VERSION_KEY.into())
        .or_insert_with(|| VERSION.to_string());
    let crc = crc32(entries.iter().map(|(n, e)| (n.as_str(), &e.bytes[..])));
    info.insert(CRC_KEY.into(), crc);
    let bytes = safetensors::serialize(entries.iter().map(|(n, e)| (n.as_str(), e)), Some(info))
        .map_err(|e| io(std::io::Error::other(e.to_string())))?;

    nn_core::fs::write_atomic(path, &bytes).map_err(io)
}

/// One entry of a file read back.
struct Stored<'a> {
    name: String,
    dtype: Dtype,
    shape: Vec<usize>,
    data: &'a [u8],
}

fn dtype_name(dtype: Dtype) -> String {
    format!("{dtype:?}").to_lowercase()
}

fn read_file(path: &Path) -> Result<Vec<u8>, CheckpointError> {
    fs::read(path).map_err(|source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// A checkpoint's metadata (sorted by key) and entries (sorted by name): the header parsed and
/// validated once (sizes, offsets, the data covering the file), the format version and the
/// checksum checked.
fn parse<'a>(path: &Path, bytes: &'a [u8]) -> Result<(Metadata, Vec<Stored<'a>>), CheckpointError> {
    let invalid = |reason: String| CheckpointError::NotACheckpoint {
        path: path.to_path_buf(),
        reason,
    };
    let (n, header) = SafeTensors::read_metadata(bytes).map_err(|e| invalid(format!("{e:?}")))?;
    let mut metadata: Metadata = header
        .metadata()
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    metadata.sort();
    if let Some((_, found)) = metadata.iter().find(|(k, _)| k == VERSION_KEY)
        && found.parse::<u32>().is_ok_and(|v| v > VERSION)
    {
        return Err(CheckpointError::Version {
            path: path.to_path_buf(),
            found: found.clone(),
            supported: VERSION,
        });
    }
    // The 8-byte length, then the header; the reader has checked that the offsets fit.
    let body = bytes
        .get(8 + n..)
        .ok_or_else(|| invalid("no data after the header".into()))?;
    let mut entries = Vec::new();
    for (name, info) in header.tensors() {
        let (start, end) = info.data_offsets;
        let data = body
            .get(start..end)
            .ok_or_else(|| invalid(format!("{name:?}: offsets past the end")))?;
        entries.push(Stored {
            name,
            dtype: info.dtype,
            shape: info.shape.clone(),
            data,
        });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some((_, saved)) = metadata.iter().find(|(k, _)| k == CRC_KEY) {
        let found = crc32(entries.iter().map(|e| (e.name.as_str(), e.data)));
        if &found != saved {
            return Err(CheckpointError::Corrupt {
                path: path.to_path_buf(),
                reason: format!("checksum {found} of the values, {saved} saved with them"),
            });
        }
    }
    Ok((metadata, entries))
}

fn values<T: Float>(path: &Path, entry: &Stored<'_>) -> Result<ArrayD<T>, CheckpointError> {
    if entry.dtype != dtype_of::<T>() {
        return Err(CheckpointError::Dtype {
            path: path.to_path_buf(),
            name: entry.name.clone(),
            expected: T::NAME,
            found: dtype_name(entry.dtype),
        });
    }
    let values: Vec<T> = if size_of::<T>() == 4 {
        entry
            .data
            .chunks_exact(4)
            .map(|b| T::lit(f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))))
            .collect()
    } else {
        entry
            .data
            .chunks_exact(8)
            .map(|b| {
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                T::lit(f64::from_le_bytes(a))
            })
            .collect()
    };
    ArrayD::from_shape_vec(IxDyn(&entry.shape), values).map_err(|e| {
        CheckpointError::NotACheckpoint {
            path: path.to_path_buf(),
            reason: format!("{:?}: {e}", entry.name),
        }
    })
}

/// Reads a checkpoint's metadata (see [`save_with_metadata`]), sorted by key.
///
/// # Errors
/// As [`read_tensors`].
pub fn read_metadata(path: &Path) -> Result<Metadata, CheckpointError> {
    Ok(parse(path, &read_file(path)?)?.0)
}

/// Reads every entry of element type `T`, as stored (names and layouts of the file);
/// integer entries (BatchNorm's `num_batches_tracked`) are left out.
///
/// # Errors
/// [`CheckpointError`]: unreadable file, not safetensors, a later format version, a checksum
/// that does not match, a floating-point entry of another type.
pub fn read_tensors<T: Float>(path: &Path) -> Result<Vec<(String, ArrayD<T>)>, CheckpointError> {
    let bytes = read_file(path)?;
    let mut out = Vec::new();
    for entry in parse(path, &bytes)?.1 {
        if matches!(
            entry.dtype,
            Dtype::F16 | Dtype::BF16 | Dtype::F32 | Dtype::F64
        ) {
            out.push((entry.name.clone(), values(path, &entry)?));
        }
    }
    Ok(out)
}

/// Loads a checkpoint into `module`: every parameter and buffer must be present with its
/// shape (in PyTorch's layout, see [`Module::torch_layout`]) and element type, and nothing
/// else; nothing is changed unless everything matches.
///
/// # Errors
/// As [`read_tensors`], plus [`CheckpointError::Missing`], [`CheckpointError::Unexpected`],
/// [`CheckpointError::Shape`] and [`CheckpointError::Dtype`] for a checkpoint of another
/// architecture or element type.
pub fn load<T: Float>(path: &Path, module: &mut dyn Module<T>) -> Result<(), CheckpointError> {
    load_parsed(path, &read_file(path)?, module)
}

/// [`load`] from the bytes of a checkpoint already in memory; `origin` names it in errors.
///
/// # Errors
/// As [`load`], but for [`CheckpointError::Io`].
pub fn load_from_bytes<T: Float>(
    bytes: &[u8],
    origin: &Path,
    module: &mut dyn Module<T>,
) -> Result<(), CheckpointError> {
    load_parsed(origin, bytes, module)
}

fn load_parsed<T: Float>(
    path: &Path,
    bytes: &[u8],
    module: &mut dyn Module<T>,
) -> Result<(), CheckpointError> {
    let mut entries = parse(path, bytes)?.1;
    let TorchLayout {
        transposed,
        counters,
    } = module.torch_layout();
    let mut ordered = Vec::new();
    for (name, tensor) in state(module) {
        let Some(pos) = entries.iter().position(|e| e.name == name) else {
            return Err(CheckpointError::Missing {
                path: path.to_path_buf(),
                name,
            });
        };
        let stored = entries.swap_remove(pos);
        let flip = transposed.contains(&name) && tensor.shape().len() == 2;
        let mut expected = tensor.shape();
        if flip {
            expected.reverse();
        }
        if stored.shape != expected {
            return Err(CheckpointError::Shape {
                path: path.to_path_buf(),
                name,
                expected,
                found: stored.shape,
            });
        }
        let array = values::<T>(path, &stored)?;
        let array = if flip {
            array.t().as_standard_layout().into_owned()
        } else {
            array
        };
        ordered.push((tensor, array));
    }
    for (name, _) in &counters {
        if let Some(pos) = entries.iter().position(|e| e.name == *name) {
            let stored = entries.swap_remove(pos);
            if stored.dtype != Dtype::I64 {
                return Err(CheckpointError::Dtype {
                    path: path.to_path_buf(),
                    name: name.clone(),
                    expected: "i64",
                    found: dtype_name(stored.dtype),
                });
            }
            if !stored.shape.is_empty() {
                return Err(CheckpointError::Shape {
                    path: path.to_path_buf(),
                    name: name.clone(),
                    expected: Vec::new(),
                    found: stored.shape,
                });
            }
        }
    }
    if let Some(name) = entries.iter().map(|e| &e.name).min() {
        return Err(CheckpointError::Unexpected {
            path: path.to_path_buf(),
            name: name.clone(),
        });
    }
    for (tensor, array) in ordered {
        tensor.set_value(array);
    }
    Ok(())
}
