//! What the memory tests share: a counting global allocator and the training loop they watch.
//! Each test file that uses it holds one test, so that no other test's allocations are counted.

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

/// Runs `steps` SGD steps (lr 0.1) of the loss `forward` over `params`, each followed by an
/// evaluation pass under `no_grad` and, every tenth step, one that forgets `no_grad`; asserts
/// that no node outlives a step, that neither the tape's allocation nor the heap bytes live
/// between steps grow after step 100, and that the loss at least halves.
pub fn train_without_growth(
    steps: usize,
    params: &[Tensor<f64>],
    forward: impl Fn() -> Tensor<f64>,
) {
    let mut first_loss = f64::NAN;
    let mut last_loss = f64::NAN;
    let mut baseline = None;
    for step in 0..steps {
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
        for p in params {
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
        let _ = no_grad(&forward);
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
