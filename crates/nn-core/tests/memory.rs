//! The tape must not grow across training steps: 10,000 steps of a small MLP, measured by
//! node count and by the heap bytes live between steps (a counting global allocator).
//! This file holds one test so that no other test's allocations are counted.

#![allow(unsafe_code)] // the counting allocator

mod steady;

use nn_core::Tensor;

#[test]
fn ten_thousand_training_steps_hold_no_memory() {
    let x = Tensor::<f64>::randn(&[8, 4], 1);
    let labels = [0usize, 1, 2, 0, 1, 2, 0, 1];
    let mut onehot = ndarray::Array2::<f64>::zeros((8, 3));
    for (row, &c) in labels.iter().enumerate() {
        onehot[[row, c]] = 1.0;
    }
    let t = Tensor::from_array(onehot);
    let params = [
        Tensor::<f64>::randn(&[4, 16], 2)
            .mul_scalar(0.1)
            .requires_grad(),
        Tensor::<f64>::zeros(&[16]).requires_grad(),
        Tensor::<f64>::randn(&[16, 3], 3)
            .mul_scalar(0.1)
            .requires_grad(),
        Tensor::<f64>::zeros(&[3]).requires_grad(),
    ];
    let forward = || {
        let h = (x.matmul(&params[0]) + &params[1]).relu();
        let logits = h.matmul(&params[2]) + &params[3];
        (logits.log_softmax(1) * &t).sum().neg().div_scalar(8.0)
    };

    steady::train_without_growth(10_000, &params, forward);
}
