//! Fork–join on helper threads that wait between jobs before they sleep.
//!
//! A product of a few hundred microseconds split over two cores gains nothing if handing half
//! of it to the other core takes as long: a sleeping thread takes tens of microseconds to wake
//! on a virtual machine, and rayon's workers go to sleep after a few rounds of yielding (one
//! image through DeepConvNet at 2 threads ran slower split than on one thread). The helpers
//! here spin for [`SPIN_HOT`] after each job, then yield their core between looks until
//! [`SPIN`], as OpenMP's threads wait, and only then park; [`rest`] parks them at once. A job
//! finds an idle helper or runs on the calling thread. A thread of the caller's own can join
//! the helpers while it waits for work of its own ([`lend`]), as a data-parallel replica does
//! between training steps.

use std::any::Any;
use std::cell::UnsafeCell;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// How long a helper waits for its next job before it parks: spinning for `SPIN_HOT`, then
/// yielding its core to any other thread that is ready between looks.
const SPIN: Duration = Duration::from_micros(500);
const SPIN_HOT: Duration = Duration::from_micros(50);
/// The most helpers ever started.
const MAX_HELPERS: usize = 63;

/// A helper's state: idle (spinning or parked), claimed by a caller writing a job, holding a
/// job, or done with it.
const SPINNING: u8 = 0;
const PARKED: u8 = 1;
const CLAIMED: u8 = 2;
const READY: u8 = 3;
const DONE: u8 = 4;
/// A lent thread's slot while its thread is busy with its own work: never claimed.
const AWAY: u8 = 5;

/// A job on the caller's stack, its type erased: `run(data)` calls it.
#[derive(Clone, Copy)]
struct Job {
    run: unsafe fn(*mut ()),
    data: *mut (),
}

struct Slot {
    state: AtomicU8,
    job: UnsafeCell<Option<Job>>,
    panic: UnsafeCell<Option<Box<dyn Any + Send>>>,
    thread: OnceLock<Thread>,
    /// A thread lent by [`lend`], not one started here.
    lent: bool,
}

impl Slot {
    /// A slot in `state` with no job, its thread still to be set.
    fn new(state: u8, lent: bool) -> Arc<Slot> {
        Arc::new(Slot {
            state: AtomicU8::new(state),
            job: UnsafeCell::new(None),
            panic: UnsafeCell::new(None),
            thread: OnceLock::new(),
            lent,
        })
    }
}

// SAFETY: `job` and `panic` are written only by whoever the state gives them to: the caller
// between claiming the slot and publishing READY (Release), the helper between seeing READY
// (Acquire) and publishing DONE (Release), the caller again after seeing DONE (Acquire).
#[allow(unsafe_code)]
unsafe impl Sync for Slot {}
// SAFETY: as above; the job's pointer is only followed while its caller waits for it.
#[allow(unsafe_code)]
unsafe impl Send for Slot {}

/// Every helper started, in order.
static HELPERS: Mutex<Vec<Arc<Slot>>> = Mutex::new(Vec::new());

fn helpers() -> std::sync::MutexGuard<'static, Vec<Arc<Slot>>> {
    HELPERS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `a` here and `b` on an idle helper thread at the same time (or both here, one after
/// the other, where no helper is idle), and returns both results. `wanted` is how many threads
/// the caller means to use at most (helpers are started up to `wanted − 1`). A panic in either
/// is raised here once both are done.
pub(crate) fn join<A, B, RA, RB>(wanted: usize, a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    fork(claim(wanted), a, b)
}

/// [`join`] with a helper only if one is spinning now (none is woken or started): for work
/// of a few microseconds a side, which waking a thread would cost more than it saves.
pub(crate) fn join_hot<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    fork(claim_spinning(), a, b)
}

/// `a` here and `b` on `slot` (claimed, and whether it was parked), or both here without one.
fn fork<A, B, RA, RB>(slot: Option<(Arc<Slot>, bool)>, a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    let Some((slot, parked)) = slot else {
        return (a(), b());
    };
    let mut work: (Option<B>, Option<RB>) = (Some(b), None);
    #[allow(unsafe_code)]
    unsafe fn call<B: FnOnce() -> RB, RB>(data: *mut ()) {
        // SAFETY: `data` is `work` below, alive until the caller has seen DONE.
        let work = unsafe { &mut *data.cast::<(Option<B>, Option<RB>)>() };
        let f = work
            .0
            .take()
            .unwrap_or_else(|| unreachable!("each job runs once"));
        work.1 = Some(f());
    }
    let job = Job {
        run: call::<B, RB>,
        data: (&raw mut work).cast(),
    };
    #[allow(unsafe_code)]
    // SAFETY: this caller claimed the slot; the helper reads the job only after READY.
    unsafe {
        *slot.job.get() = Some(job);
    }
    slot.state.store(READY, Ordering::Release);
    if parked && let Some(t) = slot.thread.get() {
        t.unpark();
    }
    let ra = catch_unwind(AssertUnwindSafe(a));
    // `work` lives on this stack: wait for the helper whatever `a` did.
    let mut spins = 0u32;
    while slot.state.load(Ordering::Acquire) != DONE {
        spins = spins.wrapping_add(1);
        if spins.is_multiple_of(4096) {
            std::thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
    #[allow(unsafe_code)]
    // SAFETY: DONE was seen with Acquire: the helper has finished with the slot.
    let panic = unsafe { (*slot.panic.get()).take() };
    slot.state.store(SPINNING, Ordering::Release);
    let ra = ra.unwrap_or_else(|p| resume_unwind(p));
    if let Some(p) = panic {
        resume_unwind(p);
    }
    (ra, work.1.unwrap_or_else(|| unreachable!("the job ran")))
}

/// `f(index, item)` for every item, the items halved over helpers (as many as items at most),
/// the results in the items' order.
pub(crate) fn map<I, R, F>(items: Vec<I>, f: &F) -> Vec<R>
where
    I: Send,
    R: Send,
    F: Fn(usize, I) -> R + Sync,
{
    fn go<I: Send, R: Send, F: Fn(usize, I) -> R + Sync>(
        wanted: usize,
        first: usize,
        mut items: Vec<I>,
        f: &F,
    ) -> Vec<R> {
        if items.len() <= 1 {
            return items.into_iter().map(|item| f(first, item)).collect();
        }
        let right = items.split_off(items.len() / 2);
        let mid = first + items.len();
        let (mut left, right) = join(
            wanted,
            || go(wanted, first, items, f),
            || go(wanted, mid, right, f),
        );
        left.extend(right);
        left
    }
    go(items.len(), 0, items, f)
}

/// [`map`] without results.
pub(crate) fn for_each<I, F>(items: Vec<I>, f: &F)
where
    I: Send,
    F: Fn(usize, I) + Sync,
{
    map(items, f);
}

/// Parks every spinning helper now, not at the end of its spin: for a caller about to run
/// threads of its own, which spinning helpers would slow.
pub(crate) fn rest() {
    for slot in helpers().iter().filter(|s| !s.lent) {
        let _ = slot
            .state
            .compare_exchange(SPINNING, PARKED, Ordering::AcqRel, Ordering::Relaxed);
    }
}

/// A spinning helper, now claimed (never parked, so `false`), if there is one.
fn claim_spinning() -> Option<(Arc<Slot>, bool)> {
    helpers().iter().find_map(|slot| {
        slot.state
            .compare_exchange(SPINNING, CLAIMED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
            .then(|| (Arc::clone(slot), false))
    })
}

/// An idle helper, now claimed, and whether it was parked (then it needs waking), starting one
/// if none is idle and fewer than `wanted − 1` exist.
fn claim(wanted: usize) -> Option<(Arc<Slot>, bool)> {
    let want = wanted.saturating_sub(1).min(MAX_HELPERS);
    if want == 0 {
        return None;
    }
    let helpers = helpers();
    // Any idle helper will do (how many run at once is set by how the caller splits its work),
    // a spinning one before one that must be woken.
    for idle in [SPINNING, PARKED] {
        for slot in helpers.iter() {
            if slot
                .state
                .compare_exchange(idle, CLAIMED, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return Some((Arc::clone(slot), idle == PARKED));
            }
        }
    }
    if helpers.iter().filter(|s| !s.lent).count() >= want {
        return None;
    }
    drop(helpers);
    // Born claimed, by this caller.
    start().map(|slot| (slot, false))
}

fn start() -> Option<Arc<Slot>> {
    let slot = Slot::new(CLAIMED, false);
    let mine = Arc::clone(&slot);
    let handle = std::thread::Builder::new()
        .name("nn-core helper".into())
        .spawn(move || serve(&mine))
        .ok()?;
    let _ = slot.thread.set(handle.thread().clone());
    helpers().push(Arc::clone(&slot));
    Some(slot)
}

fn serve(slot: &Slot) {
    loop {
        let mut since = Instant::now();
        let mut spins = 0u32;
        loop {
            match slot.state.load(Ordering::Acquire) {
                READY => break,
                SPINNING => {
                    spins = spins.wrapping_add(1);
                    if !spins.is_multiple_of(256) {
                        std::hint::spin_loop();
                        continue;
                    }
                    let idle = since.elapsed();
                    if idle < SPIN_HOT {
                        std::hint::spin_loop();
                    } else if idle < SPIN {
                        // Any other thread ready to run here (another pool's worker, a
                        // data-parallel replica) gets the core.
                        std::thread::yield_now();
                    } else {
                        // Parked by the next look (unless a caller claimed it first).
                        let _ = slot.state.compare_exchange(
                            SPINNING,
                            PARKED,
                            Ordering::AcqRel,
                            Ordering::Relaxed,
                        );
                    }
                }
                // At the end of the spin, or sent to rest by `rest`.
                PARKED => {
                    while slot.state.load(Ordering::Acquire) != READY {
                        std::thread::park();
                    }
                    break;
                }
                // Claimed (a job is being written) or done (its caller has not taken it yet).
                _ => {
                    since = Instant::now();
                    std::hint::spin_loop();
                }
            }
        }
        run(slot);
    }
}

/// Runs the job of a slot seen READY, and publishes DONE.
fn run(slot: &Slot) {
    #[allow(unsafe_code)]
    // SAFETY: READY was seen with Acquire; the caller waits for DONE before it touches the
    // slot or the job's data again.
    unsafe {
        if let Some(job) = (*slot.job.get()).take() {
            let run = job.run;
            let data = job.data;
            if let Err(p) = catch_unwind(AssertUnwindSafe(|| run(data))) {
                *slot.panic.get() = Some(p);
            }
        }
    }
    slot.state.store(DONE, Ordering::Release);
}

/// This thread's slot among the helpers while it is lent ([`lend`]), taken off the list when
/// the thread ends.
struct Lent(Arc<Slot>);

impl Drop for Lent {
    fn drop(&mut self) {
        // `lend` leaves the slot AWAY: no caller holds it.
        helpers().retain(|s| !Arc::ptr_eq(s, &self.0));
    }
}

thread_local! {
    static LENT: Lent = {
        let slot = Slot::new(AWAY, true);
        let _ = slot.thread.set(std::thread::current());
        helpers().push(Arc::clone(&slot));
        Lent(slot)
    };
}

/// Lends this thread to [`join`]'s callers as one more idle helper until `poll` returns a
/// value (returned), or for `patience` without one (`None`). For a thread of the caller's own
/// that waits between tasks of its own (a data-parallel replica between steps): what other
/// threads split meanwhile (an optimizer step) runs on its core instead of waking a helper
/// there that would share the core with it.
pub(crate) fn lend<M>(mut poll: impl FnMut() -> Option<M>, patience: Duration) -> Option<M> {
    LENT.with(|lent| {
        let slot = &lent.0;
        slot.state.store(SPINNING, Ordering::Release);
        let mut since = Instant::now();
        let mut got = None;
        let mut spins = 0u32;
        loop {
            match slot.state.load(Ordering::Acquire) {
                READY => {
                    run(slot);
                    since = Instant::now();
                }
                SPINNING => {
                    if got.is_none() {
                        got = poll();
                    }
                    spins = spins.wrapping_add(1);
                    let leave =
                        got.is_some() || (spins.is_multiple_of(256) && since.elapsed() >= patience);
                    if leave
                        && slot
                            .state
                            .compare_exchange(SPINNING, AWAY, Ordering::AcqRel, Ordering::Relaxed)
                            .is_ok()
                    {
                        return got;
                    }
                    std::hint::spin_loop();
                }
                // Claimed (a job is being written) or done (its caller has not taken it yet).
                _ => std::hint::spin_loop(),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_halves_run_and_return() {
        let v: Vec<u64> = (0..10_000).collect();
        let (lo, hi) = v.split_at(5_000);
        let (a, b) = join(2, || lo.iter().sum::<u64>(), || hi.iter().sum::<u64>());
        assert_eq!(a + b, v.iter().sum::<u64>());
        // Nested, three ways deep, as a split over 3 or 4 threads does.
        let (x, (y, z)) = join(4, || 1, || join(4, || 2, || join(4, || 3, || 4)));
        assert_eq!((x, y, z), (1, 2, (3, 4)));
    }

    #[test]
    fn a_lent_thread_serves_jobs_until_its_own_message_comes() {
        let (tx, rx) = std::sync::mpsc::channel::<u32>();
        let (ran_tx, ran_rx) = std::sync::mpsc::channel::<std::thread::ThreadId>();
        let lent = std::thread::spawn(move || {
            ran_tx.send(std::thread::current().id()).unwrap();
            let got = lend(|| rx.try_recv().ok(), Duration::from_secs(10));
            let slot = LENT.with(|l| Arc::clone(&l.0));
            (got, std::thread::current().id(), slot)
        });
        let lent_id = ran_rx.recv().unwrap();
        // Other tests' helpers may take some of these; the lent thread takes one soon.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut served = false;
        while !served && Instant::now() < deadline {
            let (_, id) = join_hot(|| (), || std::thread::current().id());
            served = id == lent_id;
        }
        assert!(served, "no job ran on the lent thread");
        tx.send(7).unwrap();
        let (got, id, slot) = lent.join().unwrap();
        assert_eq!((got, id), (Some(7), lent_id));
        // Its slot left the list with the thread.
        assert!(!helpers().iter().any(|s| Arc::ptr_eq(s, &slot)));
    }

    #[test]
    fn lending_ends_after_its_patience() {
        let t = Instant::now();
        assert_eq!(lend(|| None::<u8>, Duration::from_millis(20)), None);
        assert!(t.elapsed() >= Duration::from_millis(20));
        // The slot is away: no caller is handed to it.
        let slot = LENT.with(|l| Arc::clone(&l.0));
        assert_eq!(slot.state.load(Ordering::Acquire), AWAY);
    }

    #[test]
    fn a_parked_helper_is_woken() {
        assert_eq!(join(2, || 1, || 2), (1, 2));
        std::thread::sleep(SPIN * 20);
        assert_eq!(join(2, || 3, || 4), (3, 4));
    }

    #[test]
    fn many_callers_at_once_each_get_their_answers() {
        let handles: Vec<_> = (0..8u64)
            .map(|t| {
                std::thread::spawn(move || {
                    (0..2_000u64)
                        .map(|i| {
                            let (a, b) = join(3, || t * i, || t + i);
                            a + b
                        })
                        .sum::<u64>()
                })
            })
            .collect();
        for (t, h) in handles.into_iter().enumerate() {
            let t = t as u64;
            let want = (0..2_000u64).map(|i| t * i + t + i).sum::<u64>();
            assert_eq!(h.join().expect("no panic"), want);
        }
    }

    #[test]
    fn a_panic_on_either_side_reaches_the_caller_after_both_finish() {
        let other_done = std::sync::atomic::AtomicBool::new(false);
        let r = catch_unwind(AssertUnwindSafe(|| {
            join(
                2,
                || panic!("left"),
                || {
                    std::thread::sleep(Duration::from_millis(5));
                    other_done.store(true, Ordering::SeqCst);
                },
            )
        }));
        assert!(r.is_err() && other_done.load(Ordering::SeqCst));
        let r = catch_unwind(|| join(2, || 1, || -> i32 { panic!("right") }));
        let msg = r.expect_err("the helper's panic");
        assert_eq!(msg.downcast_ref::<&str>(), Some(&"right"));
        // The helper is still there for the next job.
        assert_eq!(join(2, || 5, || 6), (5, 6));
    }
}
