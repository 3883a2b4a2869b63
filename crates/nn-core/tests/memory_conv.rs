//! A convolutional training step must not grow memory either: 1,000 steps of conv → ReLU →
//! max pool → affine → softmax cross-entropy, measured by node count and by the heap bytes live
//! between steps (a counting global allocator). One test in this file, so that no other test's
//! allocations are counted.

#![allow(unsafe_code)] // the counting allocator

mod steady;

use nn_core::Tensor;

#[test]
fn a_thousand_conv_training_steps_hold_no_memory() {
    let x = Tensor::<f64>::randn(&[4, 1, 8, 8], 1);
    let mut onehot = ndarray::Array2::<f64>::zeros((4, 3));
    for row in 0..4 {
        onehot[[row, row % 3]] = 1.0;
    }
    let t = Tensor::from_array(onehot);
    let params = [
        Tensor::<f64>::randn(&[5, 1, 3, 3], 2)
            .mul_scalar(0.3)
            .requires_grad(),
        Tensor::<f64>::zeros(&[5]).requires_grad(),
        Tensor::<f64>::randn(&[5 * 4 * 4, 3], 3)
            .mul_scalar(0.1)
            .requires_grad(),
        Tensor::<f64>::zeros(&[3]).requires_grad(),
    ];
    let forward = || {
        let h = x
            .conv2d(&params[0], Some(&params[1]), 1, 1)
            .relu()
            .max_pool2d(2, 2, 0);
        let logits = h.reshape(&[4, 5 * 4 * 4]).affine(&params[2], &params[3]);
        logits.softmax_cross_entropy(&t).mean()
    };

    steady::train_without_growth(1_000, &params, forward);
}
