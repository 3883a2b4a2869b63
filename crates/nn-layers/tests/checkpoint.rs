//! Checkpoints: bit-exact round trips, and every kind of damage is a clear error that leaves
//! the model as it was.

use std::fs;
use std::path::Path;

use nn_core::{Float, Tensor};
use nn_layers::checkpoint::{read_tensors, save_tensors};
use nn_layers::{
    BatchNorm1d, CheckpointError, Linear, Module, Named, PReLU, Sequential, Sigmoid, load, save,
};
use rand::SeedableRng;
use rand::rngs::StdRng;

fn net<T: Float>(hidden: usize, seed: u64) -> Sequential<T> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut net = Sequential::new()
        .add(Linear::new(3, hidden, &mut rng))
        .add(BatchNorm1d::new(hidden))
        .add(PReLU::new(0.1 * seed as f64))
        .add(Linear::new(hidden, 2, &mut rng));
    // Move the running statistics away from their initial values.
    net.forward(&Tensor::randn(&[8, 3], seed));
    net
}

/// Every parameter and buffer, as raw bits.
fn bits<T: Float>(module: &dyn Module<T>) -> Vec<(String, Vec<u64>)> {
    let mut all: Vec<Named<T>> = module.parameters();
    all.extend(module.buffers());
    all.into_iter()
        .map(|(n, t)| {
            let b = t.to_array().iter().map(|v| v.as_f64().to_bits()).collect();
            (n, b)
        })
        .collect()
}

#[test]
fn round_trip_is_bit_exact_in_f32_and_f64() {
    fn case<T: Float>(dir: &Path) {
        let path = dir.join(format!("model-{}.safetensors", T::NAME));
        let original = net::<T>(4, 1);
        save(&path, &original).expect("save");
        let mut other = net::<T>(4, 2);
        assert_ne!(bits(&original), bits(&other));
        load(&path, &mut other).expect("load");
        assert_eq!(bits(&original), bits(&other));
        // The loaded model computes exactly what the original did.
        let x = Tensor::<T>::randn(&[5, 3], 9);
        let (mut a, mut b) = (original, other);
        a.eval();
        b.eval();
        assert_eq!(a.forward(&x).to_array(), b.forward(&x).to_array());
    }
    let dir = tempfile::tempdir().expect("tempdir");
    case::<f32>(dir.path());
    case::<f64>(dir.path());
}

#[test]
fn special_values_survive() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("special.safetensors");
    let values = vec![
        0.0f32,
        -0.0,
        f32::MIN_POSITIVE,
        f32::MAX,
        f32::INFINITY,
        1e-45,
    ];
    let t = ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&[2, 3]), values.clone()).expect("2x3");
    save_tensors(&path, &[("x".to_string(), t.view())], &[]).expect("save");
    let read = read_tensors::<f32>(&path).expect("read");
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].1.shape(), [2, 3]);
    let got: Vec<u32> = read[0].1.iter().map(|v| v.to_bits()).collect();
    let want: Vec<u32> = values.iter().map(|v| v.to_bits()).collect();
    assert_eq!(got, want);
}

/// Saves `net(4, 1)` and returns its path and bytes.
fn saved(dir: &Path) -> (std::path::PathBuf, Vec<u8>) {
    let path = dir.join("model.safetensors");
    save(&path, &net::<f32>(4, 1)).expect("save");
    let bytes = fs::read(&path).expect("read back");
    (path, bytes)
}

#[test]
fn every_truncation_is_an_error_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, bytes) = saved(dir.path());
    let mut model = net::<f32>(4, 2);
    let before = bits(&model);
    for len in 0..bytes.len() {
        fs::write(&path, &bytes[..len]).expect("write");
        match load(&path, &mut model) {
            Err(CheckpointError::NotACheckpoint { .. }) => {}
            other => panic!("{len} of {} bytes: {other:?}", bytes.len()),
        }
        assert_eq!(bits(&model), before, "truncated to {len} bytes");
    }
}

#[test]
fn every_flipped_byte_is_an_error_or_harmless() {
    // The values are covered by the CRC-32 saved in the header; the header is JSON, validated
    // by the safetensors reader. A flip that still parses (a letter of the metadata, say) may
    // load, but then it must load the original values.
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, bytes) = saved(dir.path());
    let original = bits(&net::<f32>(4, 1));
    let mut errors = 0;
    for i in 0..bytes.len() {
        let mut damaged = bytes.clone();
        damaged[i] ^= 0x5a;
        fs::write(&path, &damaged).expect("write");
        let mut model = net::<f32>(4, 2);
        let before = bits(&model);
        match load(&path, &mut model) {
            Ok(()) => assert_eq!(
                bits(&model),
                original,
                "byte {i} flipped loaded other values"
            ),
            Err(e) => {
                errors += 1;
                assert_eq!(
                    bits(&model),
                    before,
                    "byte {i}: failed load changed the model"
                );
                assert!(e.to_string().contains("model.safetensors"), "{e}");
            }
        }
    }
    // Every value byte and nearly every header byte is caught.
    let header = 8 + u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
    assert!(
        errors >= bytes.len() - header / 4,
        "{errors} of {}",
        bytes.len()
    );
}

#[test]
fn the_header_may_not_lie() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, bytes) = saved(dir.path());
    let mut model = net::<f32>(4, 2);
    let before = bits(&model);
    let header_len = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
    let header = String::from_utf8(bytes[8..8 + header_len].to_vec()).expect("JSON");
    let body = &bytes[8 + header_len..];
    let rewrite = |header: &str| {
        let mut out = (header.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(body);
        out
    };
    // A huge header length, a shape that does not fit its offsets, offsets past the end.
    let mut huge = bytes.clone();
    huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    let shape = header.replacen("\"shape\":[4,3]", "\"shape\":[40,3]", 1);
    assert_ne!(shape, header, "the header names 0.weight's shape: {header}");
    let offsets = header.replacen("\"data_offsets\":[0,", "\"data_offsets\":[8,", 1);
    assert_ne!(offsets, header);
    for (what, file) in [
        ("huge header length", huge),
        ("shape", rewrite(&shape)),
        ("offsets", rewrite(&offsets)),
        ("not JSON", rewrite("{\"0.weight\": [")),
        ("a zip file", b"PK\x03\x04 not a checkpoint at all".to_vec()),
    ] {
        fs::write(&path, &file).expect("write");
        let err = load(&path, &mut model).unwrap_err();
        assert!(
            matches!(err, CheckpointError::NotACheckpoint { .. }),
            "{what}: {err:?}"
        );
        assert!(err.to_string().contains("not a valid safetensors"), "{err}");
        assert_eq!(bits(&model), before, "{what}");
    }
}

#[test]
fn a_later_format_version_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("future.safetensors");
    nn_layers::save_with_metadata(&path, &net::<f32>(4, 1), &[]).expect("save");
    let (mut names, mut views) = (Vec::new(), Vec::new());
    for (n, t) in read_tensors::<f32>(&path).expect("read") {
        names.push(n);
        views.push(t);
    }
    let tensors: Vec<_> = names
        .into_iter()
        .zip(views.iter().map(|v| v.view()))
        .collect();
    save_tensors(&path, &tensors, &[("zero_nn.format_version", "2")]).expect("save");
    let mut model = net::<f32>(4, 2);
    let err = load(&path, &mut model).unwrap_err();
    assert!(
        matches!(&err, CheckpointError::Version { found, supported: 1, .. } if found == "2"),
        "{err:?}"
    );
    assert!(err.to_string().contains("format version 2"), "{err}");
}

#[test]
fn another_architecture_is_refused_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, _) = saved(dir.path());

    // Same layers, other width: the first tensor that differs is named with both shapes.
    let mut wider = net::<f32>(5, 1);
    let before = bits(&wider);
    let err = load(&path, &mut wider).unwrap_err();
    match &err {
        CheckpointError::Shape {
            name,
            expected,
            found,
            ..
        } => {
            // PyTorch's layout: (out, in).
            assert_eq!(name, "0.weight");
            assert_eq!(expected, &[5, 3]);
            assert_eq!(found, &[4, 3]);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string()
            .contains("\"0.weight\" has shape [4, 3] in the file, the model expects [5, 3]"),
        "{err}"
    );
    assert_eq!(bits(&wider), before);

    // A model with a tensor the file lacks.
    let mut rng = StdRng::seed_from_u64(0);
    let mut longer = net::<f32>(4, 1)
        .add(Sigmoid)
        .add(Linear::new(2, 2, &mut rng));
    let err = load(&path, &mut longer).unwrap_err();
    assert!(
        matches!(&err, CheckpointError::Missing { name, .. } if name == "5.weight"),
        "{err:?}"
    );

    // A file with tensors the model lacks.
    let mut shorter = Sequential::<f32>::new().add(Linear::new(3, 4, &mut rng));
    let err = load(&path, &mut shorter).unwrap_err();
    assert!(
        matches!(&err, CheckpointError::Unexpected { name, .. } if name.starts_with("1.")),
        "{err:?}"
    );

    // f32 values into an f64 model.
    let mut wide = net::<f64>(4, 1);
    let err = load(&path, &mut wide).unwrap_err();
    assert!(
        matches!(
            &err,
            CheckpointError::Dtype {
                expected: "f64",
                found,
                ..
            } if found == "f32"
        ),
        "{err:?}"
    );
}

#[test]
fn a_missing_file_is_an_io_error_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nowhere.safetensors");
    let err = load(&path, &mut net::<f32>(4, 1)).unwrap_err();
    assert!(matches!(err, CheckpointError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("nowhere.safetensors"), "{err}");
}

#[test]
fn saving_replaces_atomically_and_a_failed_save_leaves_nothing_behind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, first) = saved(dir.path());
    // Overwrite with another model: the file is replaced whole.
    save(&path, &net::<f32>(4, 3)).expect("save");
    let second = fs::read(&path).expect("read");
    assert_ne!(first, second);
    let mut model = net::<f32>(4, 2);
    load(&path, &mut model).expect("load");
    assert_eq!(bits(&model), bits(&net::<f32>(4, 3)));

    // A save that cannot be renamed into place (the target is a non-empty directory) fails
    // and removes its temporary file.
    let blocker = dir.path().join("blocked.safetensors");
    fs::create_dir(&blocker).expect("mkdir");
    fs::write(blocker.join("keep"), b"x").expect("write");
    let err = save(&blocker, &net::<f32>(4, 1)).unwrap_err();
    assert!(matches!(err, CheckpointError::Io { .. }), "{err:?}");
    let names: Vec<String> = fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    let mut names = names;
    names.sort();
    assert_eq!(names, ["blocked.safetensors", "model.safetensors"]);
    assert_eq!(fs::read(blocker.join("keep")).expect("read"), b"x");

    // A directory that does not exist is an error too.
    let err = save(
        &dir.path().join("no/such/dir/m.safetensors"),
        &net::<f32>(4, 1),
    )
    .unwrap_err();
    assert!(err.to_string().contains("m.safetensors"), "{err}");
}
