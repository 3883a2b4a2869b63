//! A convolutional training step must not grow memory either: 1,000 steps of conv → ReLU →
//! max pool → affine → softmax cross-entropy, measured by node count and by the heap bytes live
//! between steps (a counting global allocator). One test in this file, so that no other test's
//! allocations are counted.

#![allow(unsafe_code)] // the counting allocator

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use nn_core::{Tensor, no_grad, tape_stats};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator, only counting bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn live_bytes() -> isize {
    LIVE.load(Ordering::Relaxed)
}

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

    let mut first_loss = f64::NAN;
    let mut last_loss = f64::NAN;
    let mut baseline = None;
    for step in 0..1_000 {
        let loss = forward();
        loss.backward().expect("backward");
        assert_eq!(tape_stats::<f64>().nodes, 0, "step {step}: nodes left");
        last_loss = loss.item();
        if step == 0 {
            first_loss = last_loss;
        }
        drop(loss);
        for p in &params {
            let g = p.grad().expect("every parameter takes part");
            p.update_value(|mut v| v.scaled_add(-0.1, &g));
            p.zero_grad();
        }
        if step % 10 == 0 {
            // An evaluation pass that forgets no_grad: freed when dropped.
            let _unused = forward();
        }
        let _ = no_grad(forward);
        assert_eq!(tape_stats::<f64>().nodes, 0, "step {step}: a graph stayed");
        if step == 100 {
            baseline = Some((live_bytes(), tape_stats::<f64>().capacity));
        }
    }
    let (bytes_at_100, capacity_at_100) = baseline.expect("ran past step 100");
    assert_eq!(
        tape_stats::<f64>().capacity,
        capacity_at_100,
        "the tape's allocation grew"
    );
    let growth = live_bytes() - bytes_at_100;
    assert!(
        growth.abs() < 4096,
        "heap bytes live between steps grew by {growth}"
    );
    assert!(
        last_loss < first_loss * 0.5,
        "training did not progress: {first_loss} -> {last_loss}"
    );
}
