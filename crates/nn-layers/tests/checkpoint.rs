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
        let path = dir.join(format!("model-{}.ckpt", T::NAME));
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
    let path = dir.path().join("special.ckpt");
    let values = vec![
        0.0f32,
        -0.0,
        f32::MIN_POSITIVE,
        f32::MAX,
        f32::INFINITY,
        1e-45,
    ];
    let t = Tensor::from_vec(&[2, 3], values.clone());
    save_tensors(&path, &[("x".to_string(), t)], &[]).expect("save");
    let read = read_tensors::<f32>(&path).expect("read");
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].1.shape(), [2, 3]);
    let got: Vec<u32> = read[0].1.iter().map(|v| v.to_bits()).collect();
    let want: Vec<u32> = values.iter().map(|v| v.to_bits()).collect();
    assert_eq!(got, want);
}

/// Saves `net(4, 1)` and returns its path and bytes.
fn saved(dir: &Path) -> (std::path::PathBuf, Vec<u8>) {
    let path = dir.join("model.ckpt");
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
            Err(CheckpointError::Corrupt { .. }) | Err(CheckpointError::NotACheckpoint { .. }) => {}
            other => panic!("{len} of {} bytes: {other:?}", bytes.len()),
        }
        assert_eq!(bits(&model), before, "truncated to {len} bytes");
    }
}

#[test]
fn every_flipped_byte_is_an_error_or_harmless() {
    // gzip's CRC-32 covers the content; a flip in the parts of the gzip header that carry no
    // data (modification time, OS) may load, but then it must load the original values.
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
                assert!(e.to_string().contains("model.ckpt"), "{e}");
            }
        }
    }
    // Only the gzip header's MTIME (4 bytes), XFL and OS bytes may go unnoticed.
    assert!(errors >= bytes.len() - 6, "{errors} of {}", bytes.len());
}

#[test]
fn wrong_magic_and_wrong_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, bytes) = saved(dir.path());
    let mut model = net::<f32>(4, 2);

    fs::write(&path, b"PK\x03\x04 not a checkpoint at all").expect("write");
    let err = load(&path, &mut model).unwrap_err();
    assert!(
        matches!(err, CheckpointError::NotACheckpoint { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("not a zero-nn checkpoint"),
        "{err}"
    );

    let mut future = bytes.clone();
    future[8..12].copy_from_slice(&2u32.to_le_bytes());
    fs::write(&path, &future).expect("write");
    let err = load(&path, &mut model).unwrap_err();
    assert!(
        matches!(
            err,
            CheckpointError::Version {
                found: 2,
                supported: 1,
                ..
            }
        ),
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
            assert_eq!(name, "0.weight");
            assert_eq!(expected, &[3, 5]);
            assert_eq!(found, &[3, 4]);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string()
            .contains("\"0.weight\" has shape [3, 4] in the file, the model expects [3, 5]"),
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
            err,
            CheckpointError::Dtype {
                expected: "f64",
                found: "f32",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn a_missing_file_is_an_io_error_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nowhere.ckpt");
    let err = load(&path, &mut net::<f32>(4, 1)).unwrap_err();
    assert!(matches!(err, CheckpointError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("nowhere.ckpt"), "{err}");
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
    let blocker = dir.path().join("blocked.ckpt");
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
    assert_eq!(names, ["blocked.ckpt", "model.ckpt"]);
    assert_eq!(fs::read(blocker.join("keep")).expect("read"), b"x");

    // A directory that does not exist is an error too.
    let err = save(&dir.path().join("no/such/dir/m.ckpt"), &net::<f32>(4, 1)).unwrap_err();
    assert!(err.to_string().contains("m.ckpt"), "{err}");
}
