//! End-to-end: the `nn-mnist` binary as a user runs it. Tests that need the real data run in
//! CI (`CI=true`, with `NN_DATA_MIRROR` set by `.ci/run`); elsewhere they say they were skipped.
//! The bad-input tests need no data and run everywhere.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::have_data;

use nn_layers::checkpoint::{read_metadata, save_with_metadata};
use nn_train::{Arch, InitChoice};

fn nn_mnist(args: &[&str], cache: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nn-mnist"))
        .args(args)
        .env("NN_DATA_DIR", cache)
        .output()
        .expect("run nn-mnist")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `train --arch mlp --dataset fashion-mnist --epochs 1`, then `extra`.
fn one_mlp_epoch<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "train",
        "--arch",
        "mlp",
        "--dataset",
        "fashion-mnist",
        "--epochs",
        "1",
    ];
    args.extend_from_slice(extra);
    args
}

/// The value after `label` on the line that has it.
fn figure(text: &str, label: &str) -> String {
    let line = text
        .lines()
        .find(|l| l.contains(label))
        .unwrap_or_else(|| panic!("no {label:?} in:\n{text}"));
    let rest = &line[line.find(label).unwrap_or(0) + label.len()..];
    rest.split_whitespace().next().unwrap_or("").to_string()
}

/// An error is one line on stderr, prefixed, with a non-zero exit.
fn assert_one_line_error(o: &Output, code: i32, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "one line expected:\n{err}");
    assert!(err.starts_with("nn-mnist: error: "), "{err}");
    assert!(err.contains(needle), "{needle:?} not in: {err}");
}

#[test]
fn infer_reproduces_the_books_accuracy_unbatched_and_batched() {
    if !have_data("infer_reproduces_the_books_accuracy") {
        return;
    }
    let cache = tempfile::tempdir().expect("tempdir");
    let o = nn_mnist(&[], cache.path());
    let out = stdout(&o);
    assert!(o.status.success(), "{}\n{out}", stderr(&o));
    assert_eq!(
        figure(&out, "one image at a time:  Accuracy:"),
        "0.9352",
        "{out}"
    );
    assert_eq!(
        figure(&out, "batches of 100:       Accuracy:"),
        "0.9352",
        "{out}"
    );
    // `infer` is the same command.
    let o = nn_mnist(&["infer", "--batch-size", "1000"], cache.path());
    assert_eq!(
        figure(&stdout(&o), "batches of 1000:      Accuracy:"),
        "0.9352"
    );
}

#[test]
fn infer_reads_the_weights_from_an_npz_too() {
    if !have_data("infer_reads_the_weights_from_an_npz_too") {
        return;
    }
    // The book's arrays, re-saved as NumPy's np.savez would.
    let cache = tempfile::tempdir().expect("tempdir");
    let mut opts = nn_data::FetchOptions::from_env().expect("NN_DATA_MIRROR");
    opts.cache_dir = cache.path().to_path_buf();
    let arrays =
        nn_data::numpy::fetch_pickle(&nn_data::SAMPLE_WEIGHT, &opts).expect("sample_weight.pkl");
    let npz = cache.path().join("sample_weight.npz");
    let mut writer = ndarray_npy::NpzWriter::new(std::fs::File::create(&npz).expect("create"));
    for (name, array) in &arrays {
        writer
            .add_array(name.as_str(), &array.to_f32())
            .expect("add");
    }
    writer.finish().expect("finish");
    let o = nn_mnist(&["--weights", npz.to_str().expect("utf-8")], cache.path());
    let out = stdout(&o);
    assert!(o.status.success(), "{}\n{out}", stderr(&o));
    assert_eq!(
        figure(&out, "one image at a time:  Accuracy:"),
        "0.9352",
        "{out}"
    );
    assert_eq!(
        figure(&out, "batches of 100:       Accuracy:"),
        "0.9352",
        "{out}"
    );
}

#[test]
fn one_epoch_of_fashion_mnist_then_eval_reads_the_checkpoint_back() {
    if !have_data("one_epoch_of_fashion_mnist_then_eval") {
        return;
    }
    let cache = tempfile::tempdir().expect("tempdir");
    let out_dir = tempfile::tempdir().expect("tempdir");
    let dir = out_dir.path().to_str().expect("utf-8 path");
    let o = nn_mnist(
        &one_mlp_epoch(&["--threads", "2", "--runs-dir", dir]),
        cache.path(),
    );
    let out = stdout(&o);
    assert!(o.status.success(), "{}\n{out}", stderr(&o));
    let trained: f64 = figure(&out, "final test accuracy:")
        .parse()
        .expect("a number");
    assert!(
        trained >= 0.80,
        "one epoch of mlp reached {trained}:\n{out}"
    );
    for file in [
        "mlp-fashion-mnist-1.safetensors",
        "mlp-fashion-mnist-1.csv",
        "mlp-fashion-mnist-1.svg",
    ] {
        let len = std::fs::metadata(out_dir.path().join(file)).map_or(0, |m| m.len());
        assert!(len > 0, "{file} missing or empty");
    }
    let csv = std::fs::read_to_string(out_dir.path().join("mlp-fashion-mnist-1.csv")).expect("csv");
    assert_eq!(csv.lines().count(), 2, "{csv}");

    let ckpt = out_dir.path().join("mlp-fashion-mnist-1.safetensors");
    // The run's facts are in the header, the accuracy as printed.
    let facts = read_metadata(&ckpt).expect("metadata");
    let fact = |k: &str| {
        facts
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(fact("arch"), Some("mlp"), "{facts:?}");
    assert_eq!(fact("dataset"), Some("fashion-mnist"), "{facts:?}");
    assert_eq!(fact("epochs"), Some("1"), "{facts:?}");
    assert_eq!(fact("optimizer"), Some("sgd"), "{facts:?}");
    assert_eq!(
        fact("test_accuracy"),
        Some(format!("{trained:.4}").as_str()),
        "{facts:?}"
    );
    let o = nn_mnist(
        &["eval", "--checkpoint", ckpt.to_str().expect("utf-8")],
        cache.path(),
    );
    let out = stdout(&o);
    assert!(o.status.success(), "{}\n{out}", stderr(&o));
    assert_eq!(
        figure(&out, "test accuracy:"),
        format!("{trained:.4}"),
        "{out}"
    );
    assert!(out.contains("confusion matrix"), "{out}");

    // A second run gets the next number and leaves the first alone; `eval` without
    // --checkpoint takes the newest.
    let first = std::fs::read(&ckpt).expect("first checkpoint");
    let o = nn_mnist(
        &one_mlp_epoch(&["--lr", "0.05", "--out-dir", dir]),
        cache.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read(&ckpt).expect("first checkpoint"), first);
    let second = out_dir.path().join("mlp-fashion-mnist-2.safetensors");
    let facts = read_metadata(&second).expect("second run");
    assert!(
        facts.contains(&("lr".to_string(), "0.05".to_string())),
        "{facts:?}"
    );
    let o = nn_mnist(&["eval", "--runs-dir", dir], cache.path());
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("mlp-fashion-mnist-2.safetensors"),
        "{}",
        stdout(&o)
    );

    // Naming an existing file is refused before any training, unless --force.
    let path = ckpt.to_str().expect("utf-8");
    let args = one_mlp_epoch(&["--out", path]);
    let o = nn_mnist(&args, cache.path());
    assert_one_line_error(&o, 1, "exists; pass --force to replace it");
    assert_eq!(std::fs::read(&ckpt).expect("first checkpoint"), first);
    let o = nn_mnist(&[&args[..], &["--force"]].concat(), cache.path());
    assert!(o.status.success(), "{}", stderr(&o));
    assert_ne!(std::fs::read(&ckpt).expect("replaced"), first);
}

#[test]
fn a_diverging_run_stops_with_a_clear_message() {
    if !have_data("a_diverging_run_stops_with_a_clear_message") {
        return;
    }
    let cache = tempfile::tempdir().expect("tempdir");
    let out_dir = tempfile::tempdir().expect("tempdir");
    let o = nn_mnist(
        &one_mlp_epoch(&[
            "--lr",
            "1e30",
            "--out-dir",
            out_dir.path().to_str().expect("utf-8"),
        ]),
        cache.path(),
    );
    assert_one_line_error(&o, 1, "training diverged: the loss is");
    // Nothing written: no checkpoint of a diverged run.
    let left: Vec<_> = std::fs::read_dir(out_dir.path())
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn missing_data_is_a_one_line_error() {
    let cache = tempfile::tempdir().expect("tempdir");
    let empty = tempfile::tempdir().expect("tempdir");
    let o = nn_mnist(
        &["--mirror", empty.path().to_str().expect("utf-8")],
        cache.path(),
    );
    assert_one_line_error(
        &o,
        1,
        "weights/sample_weight.pkl: not available from any mirror",
    );
}

#[test]
fn a_corrupt_weight_file_is_a_one_line_error() {
    let cache = tempfile::tempdir().expect("tempdir");
    let bad = cache.path().join("bad.pkl");
    std::fs::write(&bad, b"\x80\x03}q\x00(X\x02\x00\x00\x00W1").expect("write");
    let o = nn_mnist(&["--weights", bad.to_str().expect("utf-8")], cache.path());
    assert_one_line_error(&o, 1, "bad.pkl: byte");
    // A valid pickle of the wrong network.
    let other =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../nn-data/tests/fixtures/numpy/arrays-p3.pkl");
    let o = nn_mnist(
        &["infer", "--weights", other.to_str().expect("utf-8")],
        cache.path(),
    );
    assert_one_line_error(&o, 1, "not the book's chapter-3 network");
}

#[test]
fn a_checkpoint_of_another_architecture_is_a_one_line_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ckpt = dir.path().join("mlp.safetensors");
    let net = Arch::Mlp.build(InitChoice::Auto, 0);
    save_with_metadata(&ckpt, &net, &[("arch", "mlp"), ("dataset", "mnist")]).expect("save");
    let path = ckpt.to_str().expect("utf-8");
    let o = nn_mnist(
        &["eval", "--checkpoint", path, "--arch", "mlp-deep"],
        dir.path(),
    );
    assert_one_line_error(
        &o,
        1,
        "\"0.weight\" has shape [100, 784] in the file, the model expects [256, 784]",
    );
    // Not a checkpoint at all.
    let o = nn_mnist(&["eval", "--checkpoint", "Cargo.toml"], dir.path());
    assert_one_line_error(&o, 1, "not a valid safetensors checkpoint");
}

#[test]
fn an_unknown_option_is_a_one_line_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = nn_mnist(&["train", "--optimiser", "adam"], dir.path());
    assert_one_line_error(&o, 2, "unexpected argument '--optimiser'");
    let o = nn_mnist(&["train", "--arch", "cnn"], dir.path());
    assert_one_line_error(&o, 2, "invalid value 'cnn'");
    let o = nn_mnist(&["eval", "--threads", "0"], dir.path());
    assert_one_line_error(&o, 2, "invalid value '0' for '--threads <THREADS>'");
    let o = nn_mnist(&["train", "--dropout", "0.5"], dir.path());
    assert_one_line_error(
        &o,
        1,
        "--batch-norm and --dropout apply to --arch mlp-deep only",
    );
}

#[test]
fn help_is_plain_and_exits_zero() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = nn_mnist(&["train", "--help"], dir.path());
    assert!(o.status.success());
    let out = stdout(&o);
    for option in [
        "--arch",
        "--optimizer",
        "--lr",
        "--epochs",
        "--batch-size",
        "--seed",
        "--init",
        "--dataset",
        "--checkpoint",
        "--threads",
    ] {
        assert!(out.contains(option), "{option} not in --help:\n{out}");
    }
}
