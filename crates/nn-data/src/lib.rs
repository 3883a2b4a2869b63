//! # nn-data — data sets
//!
//! Book 1 ch.3.6 「手書き数字認識」: MNIST (and Fashion-MNIST) downloaded from public mirrors or
//! a local one (`NN_DATA_MIRROR`), verified by SHA-256, parsed from the IDX format, and served in
//! mini-batches; plus the small toy sets of the book's examples. It is independent of the
//! autodiff and yields plain `ndarray` arrays. This crate is being built (issue 3).
