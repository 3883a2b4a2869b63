//! The tape must not grow across training steps: 10,000 steps of a small MLP, measured by
//! node count and by the heap bytes live between steps (a counting global allocator).
//! This file holds one test so that no other test's allocations are counted.

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

    let mut first_loss = f64::NAN;
    let mut last_loss = f64::NAN;
    let mut baseline = None;
    for step in 0..10_000 {
        let loss = forward();
        assert!(tape_stats::<f64>().nodes > 0);
        loss.backward().expect("backward");
        assert_eq!(
            tape_stats::<f64>().nodes,
            0,
            "step {step}: nodes left after backward"
        );
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
        // An evaluation pass that forgets no_grad: its graph is freed when dropped.
        if step % 10 == 0 {
            let _unused = forward();
        }
        assert_eq!(
            tape_stats::<f64>().nodes,
            0,
            "step {step}: an abandoned graph stayed"
        );
        let _ = no_grad(forward);
        if step == 100 {
            baseline = Some((live_bytes(), tape_stats::<f64>().capacity));
        }
    }
    let (bytes_at_100, capacity_at_100) = baseline.expect("ran past step 100");
    let stats = tape_stats::<f64>();
    assert_eq!(
        stats.capacity, capacity_at_100,
        "the tape's allocation grew"
    );
    // A leak of even one small node per step would be ~1 MB over 9,900 steps; the slack only
    // absorbs a stray allocation of the test harness's own threads.
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
