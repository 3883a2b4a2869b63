//! Convolution, pooling and BatchNorm2d against PyTorch (`torch.nn.functional`, float64): outputs
//! and gradients agree to 1e-10 on random inputs, for conv2d with stride 1 and 2, padding 0–2 and
//! several channel counts, max and average pooling, and BatchNorm2d in training mode (with its
//! running statistics).
//!
//! Runs `benches/compare/torch_ops.py` with a Python that has torch: `$ZERO_NN_TORCH_PYTHON`,
//! else `python3`. PyTorch is too large for CI, so without it the test says plainly that it was
//! skipped (`pip install torch numpy`).

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use ndarray::{ArrayD, IxDyn};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use zero_nn::Tensor;
use zero_nn::layers::{BatchNorm2d, Module};

fn torch_python() -> Option<PathBuf> {
    common::python_with("torch, numpy")
}

fn random(shape: &[usize], rng: &mut StdRng) -> ArrayD<f64> {
    ArrayD::from_shape_simple_fn(IxDyn(shape), || rng.random_range(-2.0..2.0))
}

/// One case: named inputs, the upstream gradient, and zero-nn's output and gradients.
struct Case {
    name: String,
    inputs: Vec<(&'static str, ArrayD<f64>)>,
    g: ArrayD<f64>,
    ours: Vec<(String, ArrayD<f64>)>,
}

/// Runs `f` on leaves made from `inputs`, back-propagates `Σ g·y` with a random `g`, and returns
/// the case with `y` and every input's gradient.
fn case(
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

fn cases() -> Vec<Case> {
    let mut rng = StdRng::seed_from_u64(42);
    let mut out = Vec::new();
    // (input, out channels, kernel, stride, padding)
    let convs: [([usize; 4], usize, usize, usize, usize); 5] = [
        ([2, 3, 7, 6], 4, 3, 1, 0),
        ([2, 3, 7, 6], 4, 3, 2, 1),
        ([1, 1, 8, 5], 2, 2, 1, 2),
        ([3, 4, 6, 6], 6, 5, 1, 2),
        ([2, 2, 9, 7], 3, 2, 2, 0),
    ];
    for (i, (shape, o, k, s, p)) in convs.into_iter().enumerate() {
        let inputs = vec![
            ("x", random(&shape, &mut rng)),
            ("w", random(&[o, shape[1], k, k], &mut rng)),
            ("b", random(&[o], &mut rng)),
        ];
        out.push(case(
            format!("conv2d_s{s}_p{p}_{i}"),
            inputs,
            &mut rng,
            |t| t[0].conv2d(&t[1], Some(&t[2]), s, p),
        ));
    }
    for (k, s, p) in [(2, 2, 0), (3, 2, 1), (3, 1, 1)] {
        let x = random(&[2, 3, 7, 6], &mut rng);
        let name = format!("max_pool_k{k}_s{s}_p{p}");
        out.push(case(name, vec![("x", x.clone())], &mut rng, |t| {
            t[0].max_pool2d(k, s, p)
        }));
        let name = format!("avg_pool_k{k}_s{s}_p{p}");
        out.push(case(name, vec![("x", x)], &mut rng, |t| {
            t[0].avg_pool2d(k, s, p)
        }));
    }
    // BatchNorm2d in training mode; γ and β are the layer's own leaves.
    let (x, gamma, beta) = (
        random(&[4, 3, 5, 5], &mut rng),
        random(&[3], &mut rng),
        random(&[3], &mut rng),
    );
    let mut bn = BatchNorm2d::<f64>::new(3);
    let params = bn.parameters();
    params[0].1.set_value(gamma.clone());
    params[1].1.set_value(beta.clone());
    let xt = Tensor::from_array(x.clone()).requires_grad();
    let y = bn.forward(&xt);
    let g = random(&y.shape(), &mut rng);
    y.backward_with(g.clone()).expect("backward");
    let grad = |t: &Tensor<f64>| t.grad().expect("took part");
    out.push(Case {
        name: "batch_norm2d".into(),
        inputs: vec![("x", x), ("gamma", gamma), ("beta", beta)],
        g,
        ours: vec![
            ("y".into(), y.to_array()),
            ("dx".into(), grad(&xt)),
            ("dgamma".into(), grad(&params[0].1)),
            ("dbeta".into(), grad(&params[1].1)),
            ("running_mean".into(), bn.running_mean()),
            ("running_var".into(), bn.running_var()),
        ],
    });
    out
}

#[test]
fn conv_pool_and_batch_norm_agree_with_pytorch() {
    let Some(python) = torch_python() else {
        let _ = writeln!(
            std::io::stderr(),
            "conv_pool_and_batch_norm_agree_with_pytorch: SKIPPED — no Python with torch \
             (set ZERO_NN_TORCH_PYTHON, or `pip install torch numpy`)"
        );
        return;
    };
    let cases = cases();
    let dir = tempfile::tempdir().expect("temp dir");
    let (input, output) = (dir.path().join("in.npz"), dir.path().join("out.npz"));
    let mut npz = ndarray_npy::NpzWriter::new(std::fs::File::create(&input).expect("create"));
    for c in &cases {
        for (n, a) in &c.inputs {
            npz.add_array(format!("{}.{n}", c.name), a).expect("write");
        }
        npz.add_array(format!("{}.g", c.name), &c.g).expect("write");
    }
    npz.finish().expect("finish");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/compare/torch_ops.py");
    let run = Command::new(&python)
        .arg(&script)
        .arg(&input)
        .arg(&output)
        .output()
        .expect("run torch_ops.py");
    assert!(
        run.status.success(),
        "torch_ops.py failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    println!("{}", String::from_utf8_lossy(&run.stdout));
    let theirs: HashMap<String, ArrayD<f64>> = zero_nn::data::numpy::read_npz(&output)
        .expect("read torch's answers")
        .into_iter()
        .map(|(n, a)| (n, a.to_f64()))
        .collect();
    let mut compared = 0;
    for c in &cases {
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
    // 5 convolutions × 4 arrays, 6 poolings × 2, BatchNorm2d × 6.
    assert_eq!(compared, 38, "arrays compared");
}
