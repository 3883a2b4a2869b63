//! End to end through the facade: a small network learns XOR with plain gradient descent on
//! the tape, and its inference under `no_grad` leaves the tape empty.

use zero_nn::core::{Tensor, no_grad, tape_stats};

#[test]
fn a_two_layer_network_learns_xor() {
    let x = Tensor::<f32>::from_vec(&[4, 2], vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]);
    let t = Tensor::<f32>::from_vec(&[4, 2], vec![1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0]);
    let params = [
        Tensor::<f32>::randn(&[2, 8], 7).requires_grad(),
        Tensor::<f32>::zeros(&[8]).requires_grad(),
        Tensor::<f32>::randn(&[8, 2], 8).requires_grad(),
        Tensor::<f32>::zeros(&[2]).requires_grad(),
    ];
    let logits = |x: &Tensor<f32>| {
        x.affine(&params[0], &params[1])
            .tanh()
            .affine(&params[2], &params[3])
    };
    let mut losses = Vec::new();
    for _ in 0..500 {
        let loss = (logits(&x).log_softmax(1) * &t).sum().neg().div_scalar(4.0);
        loss.backward().expect("backward");
        losses.push(loss.item());
        for p in &params {
            let g = p.grad().expect("gradient");
            p.update_value(|mut v| v.scaled_add(-0.5, &g));
            p.zero_grad();
        }
    }
    let (first, last) = (losses[0], losses[losses.len() - 1]);
    assert!(last < 0.05, "loss went from {first} to {last}");

    let probs = no_grad(|| logits(&x).softmax(1)).to_array();
    assert_eq!(tape_stats::<f32>().nodes, 0);
    let predicted: Vec<usize> = probs
        .outer_iter()
        .map(|row| if row[1] > row[0] { 1 } else { 0 })
        .collect();
    assert_eq!(predicted, vec![0, 1, 1, 0]);
}
