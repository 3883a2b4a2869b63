//! The IDX file format of MNIST (<http://yann.lecun.com/exdb/mnist/>, "FILE FORMATS"): a
//! big-endian header — two zero bytes, a dtype byte (0x08 = unsigned byte), the number of
//! dimensions, then each dimension as a u32 — followed by the payload in row-major order.
//!
//! The parser trusts nothing: every header field is checked, the payload must be exactly the
//! product of the dimensions, and nothing is allocated from an unchecked header (the buffer
//! grows with the data actually read, up to a fixed limit).

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use crate::error::DataError;

/// The largest payload accepted: well above MNIST's 47 MB training images.
pub const MAX_PAYLOAD: u64 = 1 << 30;

/// Which IDX file is expected; fixes the magic number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdxKind {
    /// `0x00000803`: unsigned bytes, 3 dimensions (count, rows, cols).
    Images,
    /// `0x00000801`: unsigned bytes, 1 dimension (count).
    Labels,
}

impl IdxKind {
    /// The magic number of this kind of file.
    pub fn magic(self) -> u32 {
        match self {
            IdxKind::Images => 0x0000_0803,
            IdxKind::Labels => 0x0000_0801,
        }
    }

    fn ndims(self) -> usize {
        (self.magic() & 0xff) as usize
    }

    fn name(self) -> &'static str {
        match self {
            IdxKind::Images => "images",
            IdxKind::Labels => "labels",
        }
    }
}

/// A parsed IDX file borrowing its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxView<'a> {
    /// The dimensions from the header.
    pub dims: Vec<u32>,
    /// Exactly `product(dims)` bytes.
    pub payload: &'a [u8],
}

/// A parsed IDX file owning its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idx {
    /// The dimensions from the header.
    pub dims: Vec<u32>,
    /// Exactly `product(dims)` bytes.
    pub payload: Vec<u8>,
}

/// Checks the 4-byte magic; returns the number of dimensions.
fn check_magic(head: &[u8], file: &str, kind: IdxKind) -> Result<usize, DataError> {
    if head.len() < 4 {
        return Err(DataError::TruncatedHeader {
            file: file.to_string(),
            expected: 4,
            found: head.len(),
        });
    }
    let found = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
    if found != kind.magic() {
        let what = if head[0] != 0 || head[1] != 0 {
            "not an IDX file: the first two bytes must be zero".to_string()
        } else if head[2] != 0x08 {
            format!("dtype byte {:#04x} is not 0x08 (unsigned byte)", head[2])
        } else {
            format!(
                "{} dimensions, expected {} for {}",
                head[3],
                kind.ndims(),
                kind.name()
            )
        };
        return Err(DataError::BadMagic {
            file: file.to_string(),
            expected: kind.magic(),
            found,
            what,
        });
    }
    Ok(kind.ndims())
}

/// Reads the dimensions following the magic and the payload length they imply.
fn dims_and_len(dim_bytes: &[u8], file: &str) -> Result<(Vec<u32>, u64), DataError> {
    let dims: Vec<u32> = dim_bytes
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let len = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(u64::from(d)));
    match len {
        Some(len) if len <= MAX_PAYLOAD => Ok((dims, len)),
        _ => Err(DataError::TooLarge {
            file: file.to_string(),
            limit: MAX_PAYLOAD,
        }),
    }
}

impl<'a> IdxView<'a> {
    /// Parses an uncompressed IDX file held in memory.
    ///
    /// ```
    /// use nn_data::idx::{IdxKind, IdxView};
    /// let bytes = [0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1];
    /// let idx = IdxView::parse(&bytes, "labels", IdxKind::Labels).unwrap();
    /// assert_eq!(idx.dims, vec![3]);
    /// assert_eq!(idx.payload, &[7, 2, 1]);
    /// ```
    ///
    /// # Errors
    /// [`DataError::BadMagic`], [`DataError::TruncatedHeader`], [`DataError::TooLarge`] or
    /// [`DataError::PayloadLength`], naming `file`.
    pub fn parse(bytes: &'a [u8], file: &str, kind: IdxKind) -> Result<Self, DataError> {
        let ndims = check_magic(bytes, file, kind)?;
        let header = 4 + 4 * ndims;
        if bytes.len() < header {
            return Err(DataError::TruncatedHeader {
                file: file.to_string(),
                expected: header,
                found: bytes.len(),
            });
        }
        let (dims, len) = dims_and_len(&bytes[4..header], file)?;
        let payload = &bytes[header..];
        if payload.len() as u64 != len {
            return Err(DataError::PayloadLength {
                file: file.to_string(),
                dims,
                expected: len,
                found: payload.len() as u64,
            });
        }
        Ok(IdxView { dims, payload })
    }
}

fn read_fully<R: Read>(r: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Reads an IDX file, gzip-compressed or not (detected by its magic bytes), from any reader.
///
/// # Errors
/// As [`IdxView::parse`], plus [`DataError::Gzip`] for a corrupt stream and
/// [`DataError::Io`] for read errors.
pub fn read_idx<R: Read>(reader: R, file: &str, kind: IdxKind) -> Result<Idx, DataError> {
    let mut reader = BufReader::new(reader);
    let io_err = |e: std::io::Error| DataError::io(file, e);
    let gz = reader
        .fill_buf()
        .map_err(io_err)?
        .starts_with(&[0x1f, 0x8b]);
    let mut src: Box<dyn Read> = if gz {
        Box::new(MultiGzDecoder::new(reader))
    } else {
        Box::new(reader)
    };
    let err = |e: std::io::Error| {
        if gz {
            DataError::Gzip {
                file: file.to_string(),
                reason: e.to_string(),
            }
        } else {
            DataError::io(file, e)
        }
    };
    let mut head = [0u8; 4];
    let got = read_fully(&mut src, &mut head).map_err(err)?;
    let ndims = check_magic(&head[..got], file, kind)?;
    let mut dim_bytes = vec![0u8; 4 * ndims];
    let got = read_fully(&mut src, &mut dim_bytes).map_err(err)?;
    if got < dim_bytes.len() {
        return Err(DataError::TruncatedHeader {
            file: file.to_string(),
            expected: 4 + dim_bytes.len(),
            found: 4 + got,
        });
    }
    let (dims, len) = dims_and_len(&dim_bytes, file)?;
    // Grows with the bytes that really arrive; one extra byte detects trailing data.
    let mut payload = Vec::with_capacity(len.min(1 << 20) as usize);
    src.take(len + 1).read_to_end(&mut payload).map_err(err)?;
    if payload.len() as u64 != len {
        return Err(DataError::PayloadLength {
            file: file.to_string(),
            dims,
            expected: len,
            found: payload.len() as u64,
        });
    }
    Ok(Idx { dims, payload })
}

/// Reads an IDX file (gzip or raw) from a path.
///
/// # Errors
/// As [`read_idx`].
pub fn read_idx_file(path: &Path, kind: IdxKind) -> Result<Idx, DataError> {
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    read_idx(file, &path.display().to_string(), kind)
}

/// Decompresses a gzip file held in memory, refusing output beyond `limit` bytes.
///
/// # Errors
/// [`DataError::Gzip`] for a corrupt or truncated stream, [`DataError::TooLarge`] past `limit`.
pub fn gunzip(bytes: &[u8], file: &str, limit: u64) -> Result<Vec<u8>, DataError> {
    let mut out = Vec::with_capacity((bytes.len() as u64 * 4).min(limit) as usize);
    MultiGzDecoder::new(bytes)
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| DataError::Gzip {
            file: file.to_string(),
            reason: e.to_string(),
        })?;
    if out.len() as u64 > limit {
        return Err(DataError::TooLarge {
            file: file.to_string(),
            limit,
        });
    }
    Ok(out)
}

/// Whether `bytes` start like a gzip stream.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    /// An IDX file with the given magic, dimensions and payload.
    pub(crate) fn idx_bytes(magic: u32, dims: &[u32], payload: &[u8]) -> Vec<u8> {
        let mut out = magic.to_be_bytes().to_vec();
        for d in dims {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out.extend_from_slice(payload);
        out
    }

    pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
        enc.write_all(bytes).expect("in memory");
        enc.finish().expect("in memory")
    }

    /// Parses both in memory and through the reader (raw and gzip); all must agree.
    fn parse_all(bytes: &[u8], kind: IdxKind) -> Result<Idx, DataError> {
        let view = IdxView::parse(bytes, "t", kind).map(|v| Idx {
            dims: v.dims,
            payload: v.payload.to_vec(),
        });
        let raw = read_idx(bytes, "t", kind);
        let gz = read_idx(&gzip(bytes)[..], "t", kind);
        assert_eq!(format!("{view:?}"), format!("{raw:?}"));
        assert_eq!(format!("{view:?}"), format!("{gz:?}"));
        view
    }

    #[test]
    fn valid_images_and_labels() {
        let images = idx_bytes(0x803, &[2, 2, 3], &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        let idx = parse_all(&images, IdxKind::Images).unwrap();
        assert_eq!(idx.dims, vec![2, 2, 3]);
        assert_eq!(idx.payload.len(), 12);
        let labels = idx_bytes(0x801, &[3], &[9, 0, 4]);
        assert_eq!(
            parse_all(&labels, IdxKind::Labels).unwrap().payload,
            vec![9, 0, 4]
        );
        // Zero images is a valid (empty) file.
        assert!(parse_all(&idx_bytes(0x803, &[0, 28, 28], &[]), IdxKind::Images).is_ok());
    }

    #[test]
    fn wrong_magic_is_explained() {
        let cases: [(u32, &str); 4] = [
            (0x0801, "1 dimensions, expected 3 for images"),
            (0x0d03, "dtype byte 0x0d is not 0x08"),
            (0x0100_0803, "not an IDX file"),
            (0x0804, "4 dimensions, expected 3"),
        ];
        for (magic, what) in cases {
            let bytes = idx_bytes(magic, &[1, 1, 1, 1], &[0]);
            match parse_all(&bytes, IdxKind::Images) {
                Err(DataError::BadMagic {
                    found,
                    expected: 0x803,
                    what: w,
                    ..
                }) => {
                    assert_eq!(found, magic);
                    assert!(w.contains(what), "{w}");
                }
                other => panic!("magic {magic:#x}: {other:?}"),
            }
        }
    }

    #[test]
    fn truncated_headers() {
        for len in [0, 3] {
            let bytes = &idx_bytes(0x803, &[1, 1, 1], &[0])[..len];
            assert!(matches!(
                parse_all(bytes, IdxKind::Images),
                Err(DataError::TruncatedHeader { expected: 4, .. })
            ));
        }
        let bytes = &idx_bytes(0x803, &[1, 1, 1], &[0])[..10];
        assert!(matches!(
            parse_all(bytes, IdxKind::Images),
            Err(DataError::TruncatedHeader {
                expected: 16,
                found: 10,
                ..
            })
        ));
    }

    #[test]
    fn payload_must_match_dimensions_exactly() {
        let short = idx_bytes(0x803, &[2, 2, 2], &[0; 7]);
        assert!(matches!(
            parse_all(&short, IdxKind::Images),
            Err(DataError::PayloadLength {
                expected: 8,
                found: 7,
                ..
            })
        ));
        let long = idx_bytes(0x801, &[2], &[0; 3]);
        assert!(matches!(
            parse_all(&long, IdxKind::Labels),
            Err(DataError::PayloadLength {
                expected: 2,
                found: 3,
                ..
            })
        ));
    }

    #[test]
    fn huge_headers_fail_before_allocating() {
        // 2^32 - 1 images of 2^16 x 2^16: far past the limit, refused from the header alone.
        let bytes = idx_bytes(0x803, &[u32::MAX, 65536, 65536], &[1, 2, 3]);
        assert!(matches!(
            parse_all(&bytes, IdxKind::Images),
            Err(DataError::TooLarge { .. })
        ));
        // A header claiming 800 MB with 3 bytes behind it: the reader's buffer only grows with
        // the data, so this reports the short payload without reserving 800 MB.
        let bytes = idx_bytes(0x803, &[1_000_000, 28, 28], &[1, 2, 3]);
        assert!(matches!(
            parse_all(&bytes, IdxKind::Images),
            Err(DataError::PayloadLength {
                expected: 784_000_000,
                found: 3,
                ..
            })
        ));
    }

    #[test]
    fn corrupt_gzip_is_reported() {
        let mut gz = gzip(&idx_bytes(0x801, &[4], &[1, 2, 3, 4]));
        let len = gz.len();
        gz[len / 2] ^= 0xff;
        gz.truncate(len - 6);
        let err = read_idx(&gz[..], "labels.gz", IdxKind::Labels).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::Gzip { .. } | DataError::PayloadLength { .. }
            ),
            "{err:?}"
        );
        assert!(matches!(
            gunzip(&gz, "labels.gz", 1 << 20),
            Err(DataError::Gzip { .. })
        ));
    }

    #[test]
    fn gunzip_enforces_its_limit() {
        let gz = gzip(&[0u8; 10_000]);
        assert_eq!(gunzip(&gz, "z", 10_000).unwrap().len(), 10_000);
        assert!(matches!(
            gunzip(&gz, "z", 9_999),
            Err(DataError::TooLarge { limit: 9_999, .. })
        ));
    }

    #[test]
    fn errors_name_the_file() {
        let err =
            IdxView::parse(&[0, 0, 8], "train-labels-idx1-ubyte", IdxKind::Labels).unwrap_err();
        assert!(
            err.to_string().starts_with("train-labels-idx1-ubyte: "),
            "{err}"
        );
    }
}
