//! Shared by the tests that compare with PyTorch.
// Each test binary uses a part of this module.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use ndarray::{ArrayD, IxDyn};
use rand::Rng;
use rand::rngs::StdRng;
use zero_nn::Tensor;

/// A Python that can import every module of `modules` (comma-separated, as in an `import`
/// statement): `$ZERO_NN_TORCH_PYTHON`, else `python3`; `None` if it cannot.
pub fn python_with(modules: &str) -> Option<PathBuf> {
    let candidate =
        std::env::var_os("ZERO_NN_TORCH_PYTHON").map_or_else(|| "python3".into(), PathBuf::from);
    Command::new(&candidate)
        .args(["-c", &format!("import {modules}")])
        .output()
        .is_ok_and(|o| o.status.success())
        .then_some(candidate)
}

/// Uniform values in [-2, 2).
pub fn random(shape: &[usize], rng: &mut StdRng) -> ArrayD<f64> {
    ArrayD::from_shape_simple_fn(IxDyn(shape), || rng.random_range(-2.0..2.0))
}

/// One case: named inputs, the upstream gradient, and zero-nn's output and gradients.
pub struct Case {
    /// The case's name, which says what PyTorch is to compute.
    pub name: String,
    /// The named inputs.
    pub inputs: Vec<(&'static str, ArrayD<f64>)>,
    /// The upstream gradient.
    pub g: ArrayD<f64>,
    /// zero-nn's output `y` and gradients `d{input}`.
    pub ours: Vec<(String, ArrayD<f64>)>,
}

/// Runs `f` on leaves made from `inputs`, back-propagates `Σ g·y` with a random `g`, and returns
/// the case with `y` and every input's gradient.
pub fn case(
    name: String,
    inputs: Vec<(&'static str, ArrayD<f64>)>,
    rng: &mut StdRng,
    f: impl FnOnce(&[Tensor<f64>]) -> Tensor<f64>,
) -> Case {
    let leaves: Vec<Tensor<f64>> = inputs
        .iter()
        .map(|(_, a)| Tensor::from_array(a.clone()).requires_grad())
        .collect();
    let y = f(&leaves);
    let g = random(&y.shape(), rng);
    y.backward_with(g.clone()).expect("backward");
    let mut ours = vec![("y".to_string(), y.to_array())];
    for ((n, _), leaf) in inputs.iter().zip(&leaves) {
        ours.push((format!("d{n}"), leaf.grad().expect("took part")));
    }
    Case {
        name,
        inputs,
        g,
        ours,
    }
}

/// Says on stderr that `test` was skipped for want of PyTorch.
pub fn skip_without_torch(test: &str) {
    let _ = writeln!(
        std::io::stderr(),
        "{test}: SKIPPED — no Python with torch (set ZERO_NN_TORCH_PYTHON, or `pip install torch numpy`)"
    );
}

/// Writes the cases' inputs and upstream gradients to an .npz, runs `script` (relative to the
/// repository) on it with `python`, and checks that every array zero-nn computed agrees with
/// PyTorch's to 1e-10; `expected` arrays must be compared.
pub fn agree_with_torch(python: &Path, script: &str, cases: &[Case], expected: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (input, output) = (dir.path().join("in.npz"), dir.path().join("out.npz"));
    let mut npz = ndarray_npy::NpzWriter::new(std::fs::File::create(&input).expect("create"));
    for c in cases {
        for (n, a) in &c.inputs {
            npz.add_array(format!("{}.{n}", c.name), a).expect("write");
        }
        npz.add_array(format!("{}.g", c.name), &c.g).expect("write");
    }
    npz.finish().expect("finish");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(script);
    let run = Command::new(python)
        .arg(&script)
        .arg(&input)
        .arg(&output)
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", script.display()));
    assert!(
        run.status.success(),
        "{} failed: {}",
        script.display(),
        String::from_utf8_lossy(&run.stderr)
    );
    println!("{}", String::from_utf8_lossy(&run.stdout));
    let theirs: HashMap<String, ArrayD<f64>> = zero_nn::data::numpy::read_npz(&output)
        .expect("read torch's answers")
        .into_iter()
        .map(|(n, a)| (n, a.to_f64()))
        .collect();
    let mut compared = 0;
    for c in cases {
        for (n, ours) in &c.ours {
            let key = format!("{}.{n}", c.name);
            let Some(t) = theirs.get(&key) else {
                panic!("PyTorch gave no {key}")
            };
            assert_eq!(ours.shape(), t.shape(), "{key}");
            let err = ours
                .iter()
                .zip(t.iter())
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            println!("{key}: max |zero-nn − torch| = {err:e}");
            assert!(err <= 1e-10, "{key}: max difference {err:e}");
            compared += 1;
        }
    }
    assert_eq!(compared, expected, "arrays compared");
}

/// The largest absolute difference between two arrays of one shape.
pub fn max_diff(a: &ArrayD<f32>, b: &ArrayD<f32>) -> f32 {
    assert_eq!(a.shape(), b.shape());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Runs the script `script` (relative to the repository) with `args` on `python`, and returns
/// the number after `"ours_in_torch": ` on the last line it prints (its JSON report of how far
/// PyTorch's output, from zero-nn's checkpoint, is from zero-nn's own); `label` names the case
/// in failures.
pub fn ours_in_torch(python: &Path, script: &str, args: &[&std::ffi::OsStr], label: &str) -> f64 {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(script);
    let out = Command::new(python)
        .arg(&script)
        .args(args)
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{label}: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout.lines().last().expect("a JSON line");
    line.split("\"ours_in_torch\": ")
        .nth(1)
        .and_then(|r| r.split([',', '}']).next())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{label}: no difference in {line}"))
}
