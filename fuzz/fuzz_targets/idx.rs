//! Fuzzes the IDX parser: in memory, through the streaming reader (raw and gzip), and the
//! MNIST builder on top. Any input must give Ok or a DataError, never a panic, and the two
//! parsers must agree.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nn_data::LoadOptions;
use nn_data::idx::{IdxKind, IdxView, read_idx};

fuzz_target!(|data: &[u8]| {
    for kind in [IdxKind::Images, IdxKind::Labels] {
        let view = IdxView::parse(data, "fuzz", kind);
        let read = read_idx(data, "fuzz", kind);
        match (&view, &read) {
            (Ok(v), Ok(r)) => assert!(v.dims == r.dims && v.payload == &r.payload[..]),
            (Err(_), Err(_)) => {}
            // A gzip stream is only decoded by the reader.
            _ => assert!(data.starts_with(&[0x1f, 0x8b]), "parsers disagree: {view:?} vs {read:?}"),
        }
    }
    // Split the input into an images file and a labels file for the builder.
    if data.len() >= 2 {
        let cut = usize::from(data[0]) * data.len() / 256;
        let (images, labels) = data[1..].split_at(cut.min(data.len() - 1));
        let _ = nn_data::build(images, "images", labels, "labels", LoadOptions::default());
    }
});
