//! Convolution, pooling and BatchNorm2d against PyTorch (`torch.nn.functional`, float64): outputs
//! and gradients agree to 1e-10 on random inputs, for conv2d with stride 1 and 2, padding 0–2 and
//! several channel counts, max and average pooling, and BatchNorm2d in training mode (with its
//! running statistics).
//!
//! Runs `benches/compare/torch_ops.py` with a Python that has torch: `$ZERO_NN_TORCH_PYTHON`,
//! else `python3`. PyTorch is too large for CI, so without it the test says plainly that it was
//! skipped (`pip install torch numpy`).

mod common;

use std::path::PathBuf;

use common::{Case, case, random};
use rand::SeedableRng;
use rand::rngs::StdRng;
use zero_nn::Tensor;
use zero_nn::layers::{BatchNorm2d, Module};

fn torch_python() -> Option<PathBuf> {
    common::python_with("torch, numpy")
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
        return common::skip_without_torch("conv_pool_and_batch_norm_agree_with_pytorch");
    };
    // 5 convolutions × 4 arrays, 6 poolings × 2, BatchNorm2d × 6.
    common::agree_with_torch(&python, "benches/compare/torch_ops.py", &cases(), 38);
}
