//! Training a language model by truncated BPTT holds steady memory: the tape is freed after
//! every window (the carried state keeps its values, not its history), so neither the tape's
//! nodes nor the heap bytes live between windows grow over 1,000 windows with clipping and
//! dropout. This file holds one test so that no other test's allocations are counted.

#![allow(unsafe_code)] // the counting allocator

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use nn_core::tape_stats;
use nn_optim::Sgd;
use nn_text::lm::{Rnnlm, RnnlmConfig};
use nn_text::tbptt::{Batches, train_windows};

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

#[test]
fn a_thousand_training_windows_hold_no_memory() {
    let corpus: Vec<usize> = (0..3000).map(|i| (i * i + i / 3) % 40).collect();
    let model = Rnnlm::<f32>::with_config(RnnlmConfig::better(40, 16, 0.2), 0);
    let mut sgd = Sgd::new(model.parameters(), 1.0);
    let mut batches = Batches::new(&corpus, 4, 8);
    let mut baseline = None;
    let mut first = f64::NAN;
    let mut last = f64::NAN;
    for chunk in 0..20 {
        let loss = train_windows(&model, &mut sgd, &mut batches, 50, Some(0.5), 0, |_| {})
            .expect("finite losses");
        assert_eq!(tape_stats::<f32>().nodes, 0, "chunk {chunk}: nodes left");
        if chunk == 0 {
            first = loss;
        }
        last = loss;
        if chunk == 2 {
            baseline = Some((LIVE.load(Ordering::Relaxed), tape_stats::<f32>().capacity));
        }
    }
    let (bytes, capacity) = baseline.expect("ran past chunk 2");
    assert_eq!(
        tape_stats::<f32>().capacity,
        capacity,
        "the tape's allocation grew"
    );
    let growth = LIVE.load(Ordering::Relaxed) - bytes;
    // One window's graph left behind would be tens of kilobytes per window.
    assert!(
        growth.abs() < 4096,
        "heap bytes live between windows grew by {growth}"
    );
    assert!(
        last < first * 0.9,
        "training did not progress: {first} -> {last}"
    );
}
