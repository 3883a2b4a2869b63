//! Saving and loading a module's parameters and buffers.
//!
//! Format (version 1), little-endian throughout:
//!
//! ```text
//! "ZNNCKPT\0"  u32 version            — uncompressed header
//! gzip stream of:
//!   u8 element size (4 = f32, 8 = f64)
//!   u32 metadata count, per item: u32 key length, key, u32 value length, value (UTF-8)
//!   u32 entry count
//!   per entry: u32 name length, name (UTF-8), u32 rank, u64 × rank dims, elements
//! ```
//!
//! gzip's CRC-32 catches flipped bytes; every length is bounded and checked, so a corrupt or
//! truncated file is an error, never a panic or a huge allocation. Loading checks every name
//! and shape before changing anything (all or nothing). Saving writes a temporary file, flushes
//! it to disk and renames it over the target, so an interrupted save never loses the old file.
//!
//! The format is written by hand rather than with bincode: bincode is unmaintained (its final
//! release is a compile error), and a checkpoint format should outlive its serializer.

use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use ndarray::{ArrayD, IxDyn};
use nn_core::Float;
use thiserror::Error;

use crate::module::{Module, Named};

const MAGIC: [u8; 8] = *b"ZNNCKPT\0";
const VERSION: u32 = 1;
const MAX_NAME: usize = 4096;
const MAX_RANK: usize = 8;
const MAX_METADATA: usize = 1024;
const MAX_ELEMENTS: u64 = 1 << 31;

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
    /// The file does not start with the checkpoint magic.
    #[error("{path}: not a zero-nn checkpoint (magic {found:?}, expected {expected:?})")]
    NotACheckpoint {
        /// The file.
        path: PathBuf,
        /// The first bytes found.
        found: Vec<u8>,
        /// The magic expected.
        expected: &'static [u8],
    },
    /// A format version this build cannot read.
    #[error("{path}: checkpoint format version {found}, this build reads version {supported}")]
    Version {
        /// The file.
        path: PathBuf,
        /// The version found.
        found: u32,
        /// The version supported.
        supported: u32,
    },
    /// The content is damaged or truncated.
    #[error("{path}: corrupt checkpoint: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Saved as f32 but loaded as f64, or the reverse.
    #[error("{path}: holds {found} values, the model uses {expected}")]
    Dtype {
        /// The file.
        path: PathBuf,
        /// The model's element type.
        expected: &'static str,
        /// The file's element type.
        found: &'static str,
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
        /// The model's shape.
        expected: Vec<usize>,
        /// The file's shape.
        found: Vec<usize>,
    },
}

fn element_name(size: u8) -> &'static str {
    match size {
        4 => "f32",
        8 => "f64",
        _ => "unknown",
    }
}

fn state<T: Float>(module: &dyn Module<T>) -> Vec<Named<T>> {
    let mut all = module.parameters();
    all.extend(module.buffers());
    all
}

/// Saves `module`'s parameters and buffers to `path` atomically.
///
/// # Errors
/// [`CheckpointError::Io`] if the file cannot be written (the previous file, if any, is kept).
pub fn save<T: Float>(path: &Path, module: &dyn Module<T>) -> Result<(), CheckpointError> {
    save_tensors(path, &state(module), &[])
}

/// Saves `module` with metadata — free-form key/value strings such as the architecture's name,
/// read back with [`read_metadata`] before a model is built to load into.
///
/// ```
/// use nn_layers::checkpoint::{read_metadata, save_with_metadata};
/// use nn_layers::{Linear, Module};
/// use rand::SeedableRng;
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("m.ckpt");
/// let layer = Linear::<f32>::new(3, 2, &mut rand::rngs::StdRng::seed_from_u64(0));
/// save_with_metadata(&path, &layer, &[("arch", "linear-3-2")]).unwrap();
/// assert_eq!(read_metadata(&path).unwrap(), [("arch".to_string(), "linear-3-2".to_string())]);
/// ```
///
/// # Errors
/// [`CheckpointError::Io`] if the file cannot be written (the previous file, if any, is kept).
pub fn save_with_metadata<T: Float>(
    path: &Path,
    module: &dyn Module<T>,
    metadata: &[(&str, &str)],
) -> Result<(), CheckpointError> {
    save_tensors(path, &state(module), metadata)
}

/// Saves named tensors and metadata to `path` atomically.
///
/// # Errors
/// [`CheckpointError::Io`] if the file cannot be written (the previous file, if any, is kept).
pub fn save_tensors<T: Float>(
    path: &Path,
    tensors: &[Named<T>],
    metadata: &[(&str, &str)],
) -> Result<(), CheckpointError> {
    let io = |source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut file = BufWriter::new(File::create(&tmp)?);
        file.write_all(&MAGIC)?;
        file.write_all(&VERSION.to_le_bytes())?;
        let mut gz = GzEncoder::new(file, Compression::fast());
        let size = std::mem::size_of::<T>() as u8;
        gz.write_all(&[size])?;
        gz.write_all(&(metadata.len() as u32).to_le_bytes())?;
        for (k, v) in metadata {
            for text in [k, v] {
                gz.write_all(&(text.len() as u32).to_le_bytes())?;
                gz.write_all(text.as_bytes())?;
            }
        }
        gz.write_all(&(tensors.len() as u32).to_le_bytes())?;
        let mut bytes = Vec::new();
        for (name, tensor) in tensors {
            gz.write_all(&(name.len() as u32).to_le_bytes())?;
            gz.write_all(name.as_bytes())?;
            let value = tensor.array();
            gz.write_all(&(value.ndim() as u32).to_le_bytes())?;
            for &d in value.shape() {
                gz.write_all(&(d as u64).to_le_bytes())?;
            }
            bytes.clear();
            for &v in value.iter() {
                match size {
                    4 => bytes.extend_from_slice(&(v.as_f64() as f32).to_le_bytes()),
                    _ => bytes.extend_from_slice(&v.as_f64().to_le_bytes()),
                }
            }
            gz.write_all(&bytes)?;
        }
        let file = gz.finish()?;
        let file = file.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(io)
}

struct Input<'a, R: Read> {
    inner: R,
    path: &'a Path,
}

impl<R: Read> Input<'_, R> {
    fn corrupt(&self, reason: impl Into<String>) -> CheckpointError {
        CheckpointError::Corrupt {
            path: self.path.to_path_buf(),
            reason: reason.into(),
        }
    }

    fn bytes(&mut self, buf: &mut [u8], what: &str) -> Result<(), CheckpointError> {
        self.inner.read_exact(buf).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => {
                self.corrupt(format!("truncated while reading {what}"))
            }
            _ => self.corrupt(format!("{what}: {e}")),
        })
    }

    fn u32(&mut self, what: &str) -> Result<u32, CheckpointError> {
        let mut b = [0u8; 4];
        self.bytes(&mut b, what)?;
        Ok(u32::from_le_bytes(b))
    }

    fn u64(&mut self, what: &str) -> Result<u64, CheckpointError> {
        let mut b = [0u8; 8];
        self.bytes(&mut b, what)?;
        Ok(u64::from_le_bytes(b))
    }
}

/// The decompressed stream, positioned at the entries.
type Entries<'a> = Input<'a, GzDecoder<BufReader<File>>>;

/// Opens a checkpoint: checks magic and version, reads the element size and the metadata,
/// and returns the decoder positioned at the entries.
fn open(path: &Path) -> Result<(Entries<'_>, u8, Metadata), CheckpointError> {
    let file = File::open(path).map_err(|source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut raw = Input {
        inner: BufReader::new(file),
        path,
    };
    let mut magic = [0u8; 8];
    let mut filled = 0;
    while filled < magic.len() {
        match raw.inner.read(&mut magic[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(source) => {
                return Err(CheckpointError::Io {
                    path: path.to_path_buf(),
                    source,
                });
            }
        }
    }
    if magic[..filled] != MAGIC {
        return Err(CheckpointError::NotACheckpoint {
            path: path.to_path_buf(),
            found: magic[..filled].to_vec(),
            expected: &MAGIC,
        });
    }
    let version = raw.u32("the format version")?;
    if version != VERSION {
        return Err(CheckpointError::Version {
            path: path.to_path_buf(),
            found: version,
            supported: VERSION,
        });
    }
    let mut input = Input {
        inner: GzDecoder::new(raw.inner),
        path,
    };
    let mut size = [0u8; 1];
    input.bytes(&mut size, "the element size")?;
    let size = size[0];
    if size != 4 && size != 8 {
        return Err(input.corrupt(format!("element size {size} (expected 4 or 8)")));
    }
    let count = input.u32("the metadata count")? as usize;
    if count > MAX_METADATA {
        return Err(input.corrupt(format!("{count} metadata items exceed {MAX_METADATA}")));
    }
    let mut metadata = Vec::with_capacity(count);
    for _ in 0..count {
        let mut pair = [String::new(), String::new()];
        for text in &mut pair {
            let len = input.u32("a metadata length")? as usize;
            if len > MAX_NAME {
                return Err(input.corrupt(format!("metadata length {len} exceeds {MAX_NAME}")));
            }
            let mut bytes = vec![0u8; len];
            input.bytes(&mut bytes, "metadata")?;
            *text = String::from_utf8(bytes).map_err(|_| input.corrupt("metadata is not UTF-8"))?;
        }
        let [k, v] = pair;
        metadata.push((k, v));
    }
    Ok((input, size, metadata))
}

/// Key/value strings stored with a checkpoint.
pub type Metadata = Vec<(String, String)>;

/// Reads a checkpoint's metadata (see [`save_with_metadata`]) without its tensors.
///
/// # Errors
/// As [`read_tensors`], for the part of the file read.
pub fn read_metadata(path: &Path) -> Result<Metadata, CheckpointError> {
    open(path).map(|(_, _, metadata)| metadata)
}

/// Reads every named array of a checkpoint, as element type `T`.
///
/// # Errors
/// [`CheckpointError`]: unreadable file, wrong magic or version, corrupt or truncated content,
/// other element type.
pub fn read_tensors<T: Float>(path: &Path) -> Result<Vec<(String, ArrayD<T>)>, CheckpointError> {
    let (mut input, size, _) = open(path)?;
    let expected = std::mem::size_of::<T>() as u8;
    if size != expected {
        return Err(CheckpointError::Dtype {
            path: path.to_path_buf(),
            expected: T::NAME,
            found: element_name(size),
        });
    }
    let count = input.u32("the entry count")?;
    let mut entries = Vec::new();
    for i in 0..count {
        let len = input.u32("a name length")? as usize;
        if len > MAX_NAME {
            return Err(input.corrupt(format!("entry {i}: name length {len} exceeds {MAX_NAME}")));
        }
        let mut name = vec![0u8; len];
        input.bytes(&mut name, "a name")?;
        let name = String::from_utf8(name)
            .map_err(|_| input.corrupt(format!("entry {i}: name is not UTF-8")))?;
        let rank = input.u32("a rank")? as usize;
        if rank > MAX_RANK {
            return Err(input.corrupt(format!("{name:?}: rank {rank} exceeds {MAX_RANK}")));
        }
        let mut dims = Vec::with_capacity(rank);
        for _ in 0..rank {
            dims.push(input.u64("a dimension")?);
        }
        let elements = dims.iter().try_fold(1u64, |a, &d| a.checked_mul(d));
        let elements = match elements {
            Some(n) if n <= MAX_ELEMENTS => n as usize,
            _ => return Err(input.corrupt(format!("{name:?}: dimensions {dims:?} are too large"))),
        };
        // Read in pieces so that a lying header cannot make us reserve memory up front.
        let mut values = Vec::with_capacity(elements.min(1 << 16));
        let mut buf = vec![0u8; usize::from(size) * elements.min(1 << 14)];
        let mut left = elements;
        while left > 0 {
            let take = left.min(buf.len() / usize::from(size));
            let chunk = &mut buf[..take * usize::from(size)];
            if let Err(e) = input.inner.read_exact(chunk) {
                return Err(input.corrupt(match e.kind() {
                    std::io::ErrorKind::UnexpectedEof => {
                        format!("truncated while reading the values of {name:?}")
                    }
                    _ => format!("the values of {name:?}: {e}"),
                }));
            }
            if size == 4 {
                values.extend(
                    chunk
                        .chunks_exact(4)
                        .map(|b| T::lit(f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))),
                );
            } else {
                values.extend(chunk.chunks_exact(8).map(|b| {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(b);
                    T::lit(f64::from_le_bytes(a))
                }));
            }
            left -= take;
        }
        let shape: Vec<usize> = dims.iter().map(|&d| d as usize).collect();
        let array = ArrayD::from_shape_vec(IxDyn(&shape), values)
            .map_err(|e| input.corrupt(format!("{name:?}: {e}")))?;
        entries.push((name, array));
    }
    let mut rest = [0u8; 1];
    match input.inner.read(&mut rest) {
        Ok(0) => Ok(entries),
        Ok(_) => Err(input.corrupt("trailing data after the last entry")),
        Err(e) => Err(input.corrupt(e.to_string())),
    }
}

/// Loads a checkpoint into `module`: every parameter and buffer must be present with its
/// shape, and nothing else; nothing is changed unless everything matches.
///
/// # Errors
/// As [`read_tensors`], plus [`CheckpointError::Missing`], [`CheckpointError::Unexpected`] and
/// [`CheckpointError::Shape`] for a checkpoint of another architecture.
pub fn load<T: Float>(path: &Path, module: &mut dyn Module<T>) -> Result<(), CheckpointError> {
    let mut entries = read_tensors::<T>(path)?;
    let targets = state(module);
    let mut ordered = Vec::with_capacity(targets.len());
    for (name, tensor) in &targets {
        let Some(pos) = entries.iter().position(|(n, _)| n == name) else {
            return Err(CheckpointError::Missing {
                path: path.to_path_buf(),
                name: name.clone(),
            });
        };
        let (_, array) = entries.swap_remove(pos);
        if array.shape() != tensor.shape().as_slice() {
            return Err(CheckpointError::Shape {
                path: path.to_path_buf(),
                name: name.clone(),
                expected: tensor.shape(),
                found: array.shape().to_vec(),
            });
        }
        ordered.push((tensor, array));
    }
    if let Some((name, _)) = entries.first() {
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
