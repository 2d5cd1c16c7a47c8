//! The fork-join pool of the CPU kernels.
//!
//! The thread that submits a job works on it too, so `threads()` workers means the caller plus
//! `threads() - 1` helpers. Between jobs a helper spins for a short while (a training step
//! issues many small parallel ops back to back, and waking a sleeping thread costs more than
//! most of them take), then sleeps until the next job. Tasks are claimed one at a time from a
//! shared counter, so uneven tasks balance themselves.
//!
//! A job submitted while another is running (another Python thread, or a task that itself
//! submits) runs serially on the submitting thread: never a deadlock, never oversubscription.
//!
//! The number of threads comes from `RUSTDL_NUM_THREADS`, else `OMP_NUM_THREADS`, else the
//! number of available cores; [`set_threads`] changes it. Whether a kernel uses the pool at all
//! is decided by its size (`PAR_MIN` in the module map).

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, TryLockError};
use std::time::{Duration, Instant};

/// How long an idle helper spins before it sleeps (`RUSTDL_SPIN_US` overrides it).
const SPIN_DEFAULT_US: u64 = 200;

/// Hard upper bound on the number of threads.
const MAX_THREADS: usize = 256;

struct Job {
    /// The task body; the lifetime is erased, see the safety note in [`run`].
    f: *const (dyn Fn(usize) + Sync),
    tasks: usize,
    next: AtomicUsize,
    done: AtomicUsize,
    panicked: AtomicBool,
}

// SAFETY: `f` points to a `Sync` closure that outlives every use (see `run`).
unsafe impl Send for Job {}
unsafe impl Sync for Job {}

impl Job {
    /// Claims and runs tasks until none are left.
    fn work(&self) {
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            if i >= self.tasks {
                return;
            }
            // SAFETY: the submitter keeps the closure alive until every task is done and
            // every helper has released the job.
            let f = unsafe { &*self.f };
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(i))).is_err() {
                self.panicked.store(true, Ordering::Relaxed);
            }
            self.done.fetch_add(1, Ordering::Release);
        }
    }
}

struct Shared {
    epoch: AtomicUsize,
    slot: Mutex<Option<Arc<Job>>>,
    sleep: Mutex<()>,
    wake: Condvar,
    sleepers: AtomicUsize,
    /// Threads a job may use (caller included).
    active: AtomicUsize,
    /// Helper threads spawned so far.
    spawned: Mutex<usize>,
    /// Held by the thread whose job is running.
    submit: Mutex<()>,
    spin: Duration,
}

thread_local! {
    /// Set on helper threads: a job submitted from a task runs serially.
    static IS_HELPER: Cell<bool> = const { Cell::new(false) };
}

fn env_threads() -> Option<usize> {
    ["RUSTDL_NUM_THREADS", "OMP_NUM_THREADS"]
        .iter()
        .find_map(|k| std::env::var(k).ok()?.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        // the pool starts with the first parallel kernel: the backend's one-time setup
        super::alloc::tune_allocator();
        let n = env_threads()
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .min(MAX_THREADS);
        let spin = std::env::var("RUSTDL_SPIN_US")
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(SPIN_DEFAULT_US);
        Shared {
            epoch: AtomicUsize::new(0),
            slot: Mutex::new(None),
            sleep: Mutex::new(()),
            wake: Condvar::new(),
            sleepers: AtomicUsize::new(0),
            active: AtomicUsize::new(n.max(1)),
            spawned: Mutex::new(0),
            submit: Mutex::new(()),
            spin: Duration::from_micros(spin),
        }
    })
}

/// Threads a parallel kernel uses, the calling thread included.
pub fn threads() -> usize {
    shared().active.load(Ordering::Relaxed)
}

/// Sets the number of threads (1 = everything on the calling thread). Clamped to 1..=256.
pub fn set_threads(n: usize) {
    shared()
        .active
        .store(n.clamp(1, MAX_THREADS), Ordering::Relaxed);
}

/// Starts helpers up to `threads() - 1`.
fn ensure_helpers(s: &'static Shared) {
    let want = s.active.load(Ordering::Relaxed) - 1;
    let mut spawned = s.spawned.lock().unwrap_or_else(|e| e.into_inner());
    while *spawned < want {
        let index = *spawned;
        let ok = std::thread::Builder::new()
            .name(format!("rustdl-cpu-{}", index + 1))
            .spawn(move || helper(s, index))
            .is_ok();
        if !ok {
            break;
        }
        *spawned += 1;
    }
}

fn helper(s: &'static Shared, index: usize) {
    IS_HELPER.with(|h| h.set(true));
    let mut seen = s.epoch.load(Ordering::Acquire);
    loop {
        // wait for the next job: spin a while if this helper is wanted, then sleep
        let wanted = index + 1 < s.active.load(Ordering::Relaxed);
        let start = Instant::now();
        let mut spins = 0u32;
        loop {
            if s.epoch.load(Ordering::Acquire) != seen {
                break;
            }
            spins = spins.wrapping_add(1);
            if !wanted || (spins.is_multiple_of(128) && start.elapsed() >= s.spin) {
                s.sleepers.fetch_add(1, Ordering::SeqCst);
                let mut g = s.sleep.lock().unwrap_or_else(|e| e.into_inner());
                while s.epoch.load(Ordering::SeqCst) == seen {
                    g = s.wake.wait(g).unwrap_or_else(|e| e.into_inner());
                }
                drop(g);
                s.sleepers.fetch_sub(1, Ordering::SeqCst);
                break;
            }
            std::hint::spin_loop();
        }
        seen = s.epoch.load(Ordering::Acquire);
        if index + 1 >= s.active.load(Ordering::Relaxed) {
            continue;
        }
        let job = s.slot.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(job) = job {
            job.work();
        }
    }
}

/// Runs `f(0..tasks)` over the pool's threads and returns when every call has returned.
///
/// # Panics
/// Panics (on the calling thread) if a task panicked.
pub fn run(tasks: usize, f: impl Fn(usize) + Sync) {
    if tasks == 0 {
        return;
    }
    let s = shared();
    let serial = || (0..tasks).for_each(&f);
    if tasks == 1 || s.active.load(Ordering::Relaxed) <= 1 || IS_HELPER.with(|h| h.get()) {
        return serial();
    }
    let _guard = match s.submit.try_lock() {
        Ok(g) => g,
        Err(TryLockError::Poisoned(e)) => e.into_inner(),
        Err(TryLockError::WouldBlock) => return serial(),
    };
    ensure_helpers(s);
    let body: &(dyn Fn(usize) + Sync) = &f;
    // SAFETY: the lifetime is erased only for the duration of this call: the job leaves the
    // slot and every helper's clone of it is dropped before `run` returns, so no thread can
    // reach `f` afterwards.
    let body: *const (dyn Fn(usize) + Sync) = unsafe { std::mem::transmute(body) };
    let job = Arc::new(Job {
        f: body,
        tasks,
        next: AtomicUsize::new(0),
        done: AtomicUsize::new(0),
        panicked: AtomicBool::new(false),
    });
    *s.slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(job.clone());
    s.epoch.fetch_add(1, Ordering::SeqCst);
    if s.sleepers.load(Ordering::SeqCst) > 0 {
        let _g = s.sleep.lock().unwrap_or_else(|e| e.into_inner());
        s.wake.notify_all();
    }
    job.work();
    let mut spins = 0u32;
    while job.done.load(Ordering::Acquire) < tasks {
        spins = spins.wrapping_add(1);
        if spins.is_multiple_of(1024) {
            std::thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
    *s.slot.lock().unwrap_or_else(|e| e.into_inner()) = None;
    while Arc::strong_count(&job) > 1 {
        std::hint::spin_loop();
    }
    // pairs with the helpers' release of their clones: their last reads of `f` came first
    std::sync::atomic::fence(Ordering::Acquire);
    if job.panicked.load(Ordering::Relaxed) {
        panic!("a parallel CPU task panicked");
    }
}

/// Calls `f(i, chunk_i)` for the consecutive `chunk`-sized pieces of `out` (the last may be
/// shorter), in parallel.
pub fn chunks_mut<T: Send>(out: &mut [T], chunk: usize, f: impl Fn(usize, &mut [T]) + Sync) {
    let chunk = chunk.max(1);
    let len = out.len();
    let tasks = len.div_ceil(chunk);
    let base = SendPtr(out.as_mut_ptr());
    run(tasks, |i| {
        let start = i * chunk;
        let n = chunk.min(len - start);
        // SAFETY: tasks cover disjoint ranges of `out`, which outlives `run`.
        let piece = unsafe { std::slice::from_raw_parts_mut(base.get().add(start), n) };
        f(i, piece)
    });
}

/// `(0..n).map(f).collect()`, computed in `chunk`-sized pieces in parallel.
pub fn map_collect<R: Send + Copy + Default>(
    n: usize,
    chunk: usize,
    f: impl Fn(usize) -> R + Sync,
) -> Vec<R> {
    let mut out = vec![R::default(); n];
    let chunk = chunk.max(1);
    chunks_mut(&mut out, chunk, |ci, o| {
        for (j, slot) in o.iter_mut().enumerate() {
            *slot = f(ci * chunk + j);
        }
    });
    out
}

/// A raw pointer that tasks may share; each task touches a disjoint part.
pub struct SendPtr<T>(pub *mut T);
impl<T> Clone for SendPtr<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for SendPtr<T> {}
// SAFETY: used only to hand disjoint ranges of one buffer to different tasks.
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}
impl<T> SendPtr<T> {
    /// The pointer (a method, so closures capture the whole `Sync` wrapper).
    #[inline(always)]
    pub fn get(self) -> *mut T {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_task_runs_once() {
        let hits: Vec<AtomicUsize> = (0..1000).map(|_| AtomicUsize::new(0)).collect();
        for _ in 0..50 {
            run(hits.len(), |i| {
                hits[i].fetch_add(1, Ordering::Relaxed);
            });
        }
        assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 50));
    }

    #[test]
    fn nested_and_concurrent_jobs_finish() {
        let total = AtomicUsize::new(0);
        std::thread::scope(|sc| {
            for _ in 0..4 {
                sc.spawn(|| {
                    for _ in 0..20 {
                        run(8, |_| {
                            run(4, |_| {
                                total.fetch_add(1, Ordering::Relaxed);
                            })
                        });
                    }
                });
            }
        });
        assert_eq!(total.load(Ordering::Relaxed), 4 * 20 * 8 * 4);
    }

    #[test]
    fn chunks_cover_the_slice() {
        let mut v = vec![0usize; 10_007];
        chunks_mut(&mut v, 1000, |ci, o| {
            for (j, x) in o.iter_mut().enumerate() {
                *x = ci * 1000 + j;
            }
        });
        assert!(v.iter().enumerate().all(|(i, &x)| i == x));
        let m = map_collect(333, 7, |i| i * 2);
        assert!(m.iter().enumerate().all(|(i, &x)| x == 2 * i));
    }

    #[test]
    fn a_panicking_task_panics_the_caller_and_the_pool_survives() {
        let r = std::panic::catch_unwind(|| {
            run(16, |i| {
                if i == 7 {
                    panic!("boom");
                }
            })
        });
        assert!(r.is_err());
        let n = AtomicUsize::new(0);
        run(16, |_| {
            n.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(n.load(Ordering::Relaxed), 16);
    }
}
