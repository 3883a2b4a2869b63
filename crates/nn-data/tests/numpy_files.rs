//! Reading NumPy's pickles and .npz archives: files written by NumPy 2.4 itself
//! (`tests/fixtures/numpy/make_fixtures.py`), and every way such a file can be wrong.

use std::path::PathBuf;

use ndarray::{ArrayD, IxDyn};
use nn_data::numpy::{parse_pickle, read_arrays};
use nn_data::{DataError, NumpyArray};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/numpy")
        .join(name)
}

/// The fixtures' values: `i * 0.5 - 1` in C order.
fn arange(shape: &[usize]) -> ArrayD<f64> {
    let n: usize = shape.iter().product();
    ArrayD::from_shape_vec(IxDyn(shape), (0..n).map(|i| i as f64 * 0.5 - 1.0).collect())
        .expect("shape")
}

fn get<'a>(arrays: &'a [(String, NumpyArray)], name: &str) -> &'a NumpyArray {
    &arrays
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no array {name}"))
        .1
}

fn assert_f32(a: &NumpyArray, want: &ArrayD<f64>, what: &str) {
    match a {
        NumpyArray::F32(a) => assert_eq!(a.mapv(f64::from), *want, "{what}"),
        other => panic!("{what}: expected float32, got {}", other.dtype()),
    }
}

fn assert_f64(a: &NumpyArray, want: &ArrayD<f64>, what: &str) {
    match a {
        NumpyArray::F64(a) => assert_eq!(a, want, "{what}"),
        other => panic!("{what}: expected float64, got {}", other.dtype()),
    }
}

#[test]
fn pickles_of_protocols_3_to_5_read_exactly() {
    // The transposed, Fortran-ordered 4-D array: values of arange((2,1,2,2)) with the last two
    // axes swapped.
    let t = arange(&[2, 1, 2, 2])
        .permuted_axes(IxDyn(&[0, 1, 3, 2]))
        .as_standard_layout()
        .into_owned();
    for proto in 3..=5 {
        let what = format!("protocol {proto}");
        let arrays = read_arrays(&fixture(&format!("arrays-p{proto}.pkl")))
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let names: Vec<&str> = arrays.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["W", "Wf", "b", "d", "be", "t", "s"], "{what}");
        assert_f32(get(&arrays, "W"), &arange(&[3, 4]), &what);
        assert_f32(
            get(&arrays, "Wf"),
            &arange(&[3, 4]),
            &format!("{what}, Fortran order"),
        );
        assert_f32(get(&arrays, "b"), &arange(&[4]), &what);
        assert_f64(get(&arrays, "d"), &arange(&[2, 3]), &what);
        assert_f32(
            get(&arrays, "be"),
            &arange(&[5]),
            &format!("{what}, big-endian"),
        );
        assert_f64(get(&arrays, "t"), &t, &format!("{what}, 4-D Fortran"));
        let s = get(&arrays, "s");
        assert_eq!(s.shape(), [] as [usize; 0]);
        assert_eq!(s.to_f64().first().copied(), Some(2.5));
    }
}

#[test]
fn npz_archives_plain_and_compressed() {
    for name in ["arrays.npz", "arrays-compressed.npz"] {
        let arrays = read_arrays(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let names: Vec<&str> = arrays.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["W", "d"], "{name}");
        assert_f32(get(&arrays, "W"), &arange(&[3, 4]), name);
        assert_f64(get(&arrays, "d"), &arange(&[2, 3]), name);
    }
}

fn pickle_error(bytes: &[u8]) -> (usize, String) {
    match parse_pickle(bytes, "test.pkl") {
        Err(DataError::Pickle { offset, reason, .. }) => (offset, reason),
        other => panic!("expected a pickle error, got {other:?}"),
    }
}

fn fixture_bytes(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).expect("fixture")
}

#[test]
fn what_is_not_a_dict_of_float_arrays_is_refused_clearly() {
    let (_, reason) = pickle_error(&fixture_bytes("arrays-p2.pkl"));
    assert!(
        reason.contains("refusing global _codecs.encode"),
        "{reason}"
    );
    let (_, reason) = pickle_error(&fixture_bytes("int-array.pkl"));
    assert!(reason.contains("dtype \"i8\""), "{reason}");
    // A list is read (the sequel's Rnnlm.pkl is one), but it is not a dict of arrays.
    let (_, reason) = pickle_error(&fixture_bytes("list.pkl"));
    assert!(reason.contains("holds a list"), "{reason}");
    // The classic attack: a pickle that would call os.system. Nothing is executed.
    let (_, reason) = pickle_error(b"\x80\x03cos\nsystem\nX\x02\x00\x00\x00lsR.");
    assert!(reason.contains("refusing global os.system"), "{reason}");
    // A bare array is not a dict.
    let (_, reason) = pickle_error(b"\x80\x03N.");
    assert!(reason.contains("holds a None, expected a dict"), "{reason}");
}

#[test]
fn the_error_names_the_file_and_offset() {
    let err = parse_pickle(b"\x80\x09}.", "weights.pkl").unwrap_err();
    assert_eq!(
        err.to_string(),
        "weights.pkl: byte 2: pickle protocol 9 (2 to 5 are read)"
    );
}

#[test]
fn lengths_beyond_the_file_are_refused_before_allocating() {
    // BINBYTES8 claiming 2^60 bytes, and a frame longer than the file.
    let (_, reason) = pickle_error(b"\x80\x04\x8e\x00\x00\x00\x00\x00\x00\x00\x10.");
    assert!(reason.contains("truncated"), "{reason}");
    let (_, reason) = pickle_error(b"\x80\x04\x95\xff\xff\x00\x00\x00\x00\x00\x00}.");
    assert!(reason.contains("overruns the file"), "{reason}");
}

#[test]
fn array_data_of_the_wrong_length_is_refused() {
    // Shrink the 3x4 float32 W's 48 data bytes to 47 in the protocol-3 file by patching its
    // SHORT_BINBYTES length (C 0x30 → C 0x2f) — the stream then misparses or the length check
    // fires; either way, an error.
    let mut bytes = fixture_bytes("arrays-p3.pkl");
    let at = bytes
        .windows(2)
        .position(|w| w == [b'C', 48])
        .expect("W's data");
    bytes[at + 1] = 47;
    assert!(parse_pickle(&bytes, "short.pkl").is_err());
}

#[test]
fn every_truncation_is_an_error() {
    for proto in 3..=5 {
        let bytes = fixture_bytes(&format!("arrays-p{proto}.pkl"));
        for len in 0..bytes.len() {
            assert!(
                parse_pickle(&bytes[..len], "cut.pkl").is_err(),
                "protocol {proto}, {len} of {} bytes parsed",
                bytes.len()
            );
        }
    }
}

#[test]
fn flipped_bytes_never_panic() {
    // A pickle has no checksum (the downloader's SHA-256 is the integrity check): a flipped byte
    // in float data may load, but nothing may panic or allocate without bound.
    for proto in 3..=5 {
        let bytes = fixture_bytes(&format!("arrays-p{proto}.pkl"));
        for i in 0..bytes.len() {
            for mask in [0x01, 0x80, 0xff] {
                let mut damaged = bytes.clone();
                damaged[i] ^= mask;
                let _ = parse_pickle(&damaged, "flipped.pkl");
            }
        }
    }
}

#[test]
fn a_corrupt_npz_is_an_npz_error() {
    let mut bytes = fixture_bytes("arrays.npz");
    bytes.truncate(bytes.len() / 2);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("half.npz");
    std::fs::write(&path, &bytes).expect("write");
    match read_arrays(&path) {
        Err(DataError::Npz { file, .. }) => assert!(file.ends_with("half.npz")),
        other => panic!("{other:?}"),
    }
}

/// The sequel's word-vector pickles: float16 vectors in a protocol-4 dict beside two dicts of
/// str → int and int → str.
#[test]
fn word_vectors_read_exactly_with_their_vocabulary() {
    use nn_data::numpy::{PickleValue, parse_pickle_value};
    use nn_data::text::WordVectors;
    let bytes = fixture_bytes("word-vectors.pkl");
    let wv = WordVectors::from_pickle(&bytes, "word-vectors.pkl").expect("word vectors");
    // float16 widened exactly: the fixture's values are all representable.
    assert_eq!(wv.vectors.mapv(f64::from).into_dyn(), arange(&[3, 4]));
    assert_eq!(wv.vocabulary.words(), ["you", "say", "goodbye"]);
    // The same file as plain data.
    let value = parse_pickle_value(&bytes, "word-vectors.pkl").expect("plain data");
    assert_eq!(
        value.get("word_to_id"),
        Some(&PickleValue::Dict(vec![
            (PickleValue::Str("you".into()), PickleValue::Int(0)),
            (PickleValue::Str("say".into()), PickleValue::Int(1)),
            (PickleValue::Str("goodbye".into()), PickleValue::Int(2)),
        ]))
    );
    assert!(matches!(
        value.get("word_vecs"),
        Some(PickleValue::Array(NumpyArray::F32(_)))
    ));
    // A dict of arrays reads as plain data too.
    let arrays = parse_pickle_value(&fixture_bytes("arrays-p4.pkl"), "a.pkl").expect("arrays");
    assert!(matches!(arrays.get("W"), Some(PickleValue::Array(_))));
}

#[test]
fn inconsistent_word_vectors_are_refused_clearly() {
    use nn_data::text::WordVectors;
    let refused = |name: &str| match WordVectors::from_pickle(&fixture_bytes(name), name) {
        Err(e @ DataError::BadWordVectors { .. }) => e.to_string(),
        other => panic!("{name}: expected BadWordVectors, got {other:?}"),
    };
    assert_eq!(
        refused("word-vectors-mismatch.pkl"),
        "word-vectors-mismatch.pkl: not the sequel's word vectors: \"word_to_id\" gives \"say\" \
         the id 2, \"id_to_word\" does not"
    );
    assert!(
        refused("word-vectors-short.pkl").ends_with("\"id_to_word\" has 2 words for 3 vectors")
    );
    assert!(refused("arrays-p4.pkl").ends_with("no \"word_vecs\" entry"));
    // A pickle that is not a dict at all.
    assert!(matches!(
        WordVectors::from_pickle(&fixture_bytes("list.pkl"), "list.pkl"),
        Err(DataError::BadWordVectors { .. })
    ));
}

#[test]
fn damaged_word_vectors_never_panic_and_truncations_fail() {
    use nn_data::text::WordVectors;
    let bytes = fixture_bytes("word-vectors.pkl");
    for len in 0..bytes.len() {
        assert!(
            WordVectors::from_pickle(&bytes[..len], "cut.pkl").is_err(),
            "{len} of {} bytes parsed",
            bytes.len()
        );
    }
    for i in 0..bytes.len() {
        for mask in [0x01, 0x80, 0xff] {
            let mut damaged = bytes.clone();
            damaged[i] ^= mask;
            let _ = WordVectors::from_pickle(&damaged, "flipped.pkl");
        }
    }
}

/// Lists (protocols 2 and 3: EMPTY_LIST, APPEND, APPENDS) read as plain data, nested ones
/// too; a list reached twice through the memo is refused rather than read stale.
#[test]
fn lists_read_as_plain_data() {
    use nn_data::numpy::{PickleValue, parse_pickle_value};
    // pickle.dumps([1, 'a', (2,), {'k': [3]}], protocol=3)
    let bytes: &[u8] = &[
        128, 3, 93, 113, 0, 40, 75, 1, 88, 1, 0, 0, 0, 97, 113, 1, 75, 2, 133, 113, 2, 125, 113, 3,
        88, 1, 0, 0, 0, 107, 113, 4, 93, 113, 5, 75, 3, 97, 115, 101, 46,
    ];
    let value = parse_pickle_value(bytes, "l.pkl").expect("a list");
    use PickleValue::{Dict, Int, List, Str, Tuple};
    assert_eq!(
        value,
        List(vec![
            Int(1),
            Str("a".into()),
            Tuple(vec![Int(2)]),
            Dict(vec![(Str("k".into()), List(vec![Int(3)]))]),
        ])
    );
    // pickle.dumps([7], protocol=2): APPEND alone.
    let value = parse_pickle_value(&[128, 2, 93, 113, 0, 75, 7, 97, 46], "l.pkl").expect("a list");
    assert_eq!(value, List(vec![Int(7)]));
    // x = []; pickle.dumps([x, x], protocol=3)
    let shared = [128, 3, 93, 113, 0, 40, 93, 113, 1, 104, 1, 101, 46];
    match parse_pickle_value(&shared, "s.pkl") {
        Err(DataError::Pickle { reason, .. }) => assert!(reason.contains("shared"), "{reason}"),
        other => panic!("{other:?}"),
    }
    // APPEND on something else, and every truncation, fail cleanly.
    assert!(parse_pickle_value(&[128, 3, 78, 75, 1, 97, 46], "n.pkl").is_err());
    for len in 0..bytes.len() {
        assert!(parse_pickle_value(&bytes[..len], "cut.pkl").is_err());
    }
}
