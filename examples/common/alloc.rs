//! The allocator of the project's binaries: mimalloc, told to keep the memory it frees
//! (this one file, for the examples, `compare`, the training benchmark and `nn-mnist`).
//!
//! With glibc's malloc a training step's large arrays were unmapped when freed and faulted in
//! again on the next step (docs/performance.md). mimalloc keeps them, but by default returns to
//! the OS, once a second, whatever is free at that moment — between two steps, that is most of
//! a step's arrays — and every page came back through a fault that cleared it: 20,000 faults in
//! 80 batches of the seq2seq epoch here. A training process reuses the same sizes step after
//! step, so it keeps its memory, as PyTorch's caching allocators do.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc.h (v2 and v3); -1 never returns freed memory.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Tells mimalloc never to return freed memory to the OS; call it first thing in `main`.
pub fn keep_freed_memory() {
    // SAFETY: sets one of mimalloc's options, which it reads when it next frees pages.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_set(PURGE_DELAY, -1)
    };
}
