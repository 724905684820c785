//! Worker threads that run one job at a time with the caller, each taking rows of it.
//!
//! A decode step is a few hundred jobs of tens of microseconds, so waking a thread must
//! cost far less than that: between jobs the workers spin on an epoch counter for a while
//! (as ggml's threads do), and only then sleep on a condition variable.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long an idle worker spins before it sleeps.
const SPIN: Duration = Duration::from_micros(500);

type Job = dyn Fn(usize) + Sync;

struct Shared {
    /// Bumped once per job.
    epoch: AtomicU64,
    /// The current job, valid while `pending` is non-zero.
    job: Mutex<Option<&'static Job>>,
    /// Workers that have not finished the current job.
    pending: AtomicUsize,
    /// Workers asleep (or about to be) on `wake`.
    sleeping: AtomicUsize,
    lock: Mutex<()>,
    wake: Condvar,
    stop: AtomicBool,
}

/// `threads - 1` workers plus the calling thread.
pub struct Pool {
    shared: Arc<Shared>,
    workers: Vec<std::thread::JoinHandle<()>>,
    /// One job at a time: a second caller waits here.
    running: Mutex<()>,
}

impl Pool {
    /// The cores this process may use (one in the browser).
    pub fn cores() -> usize {
        if cfg!(target_arch = "wasm32") {
            return 1;
        }
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }

    pub fn new(threads: usize) -> Self {
        let threads = if cfg!(target_arch = "wasm32") {
            1
        } else {
            threads.max(1)
        };
        let shared = Arc::new(Shared {
            epoch: AtomicU64::new(0),
            job: Mutex::new(None),
            pending: AtomicUsize::new(0),
            sleeping: AtomicUsize::new(0),
            lock: Mutex::new(()),
            wake: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let workers = (1..threads)
            .filter_map(|index| {
                let shared = shared.clone();
                std::thread::Builder::new()
                    .name(format!("gvt-cpu-{index}"))
                    .spawn(move || work(&shared, index))
                    .ok()
            })
            .collect();
        Self {
            shared,
            workers,
            running: Mutex::new(()),
        }
    }

    /// Threads a job runs on, the caller's included.
    pub fn threads(&self) -> usize {
        self.workers.len() + 1
    }

    /// Runs `job(thread)` on every thread (`0..threads()`, 0 being the caller) and returns
    /// when all have finished. A panic in a worker's share is re-raised here.
    pub fn run(&self, job: &(dyn Fn(usize) + Sync)) {
        if self.workers.is_empty() {
            return job(0);
        }
        let _one = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let failed = AtomicBool::new(false);
        let guarded = |thread: usize| {
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(thread))).is_err() {
                failed.store(true, SeqCst);
            }
        };
        let guarded: &(dyn Fn(usize) + Sync) = &guarded;
        // SAFETY: the reference is cleared below before this function returns, and no
        // worker reads it after `pending` reaches zero.
        let erased: &'static Job = unsafe { std::mem::transmute(guarded) };
        let s = &*self.shared;
        *s.job.lock().unwrap_or_else(|p| p.into_inner()) = Some(erased);
        s.pending.store(self.workers.len(), SeqCst);
        s.epoch.fetch_add(1, SeqCst);
        if s.sleeping.load(SeqCst) > 0 {
            let _g = s.lock.lock().unwrap_or_else(|p| p.into_inner());
            s.wake.notify_all();
        }
        guarded(0);
        let mut spins = 0u32;
        while s.pending.load(SeqCst) > 0 {
            spins += 1;
            if spins < 1 << 16 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        *s.job.lock().unwrap_or_else(|p| p.into_inner()) = None;
        if failed.load(SeqCst) {
            panic!("a CPU kernel panicked on a worker thread");
        }
    }
}

fn work(s: &Shared, index: usize) {
    let mut seen = 0u64;
    loop {
        let start = Instant::now();
        let mut spins = 0u32;
        while s.epoch.load(SeqCst) == seen && !s.stop.load(SeqCst) {
            std::hint::spin_loop();
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(256) && start.elapsed() > SPIN {
                let mut g = s.lock.lock().unwrap_or_else(|p| p.into_inner());
                s.sleeping.fetch_add(1, SeqCst);
                while s.epoch.load(SeqCst) == seen && !s.stop.load(SeqCst) {
                    g = s.wake.wait(g).unwrap_or_else(|p| p.into_inner());
                }
                s.sleeping.fetch_sub(1, SeqCst);
                break;
            }
        }
        if s.stop.load(SeqCst) {
            return;
        }
        seen = s.epoch.load(SeqCst);
        let job = *s.job.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(job) = job {
            job(index);
        }
        s.pending.fetch_sub(1, SeqCst);
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shared.stop.store(true, SeqCst);
        {
            let _g = self.shared.lock.lock().unwrap_or_else(|p| p.into_inner());
            self.shared.wake.notify_all();
        }
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_thread_runs_each_job_once() {
        let pool = Pool::new(3);
        for round in 0..200 {
            let hits: Vec<AtomicUsize> = (0..pool.threads()).map(|_| AtomicUsize::new(0)).collect();
            pool.run(&|t| {
                hits[t].fetch_add(1, SeqCst);
            });
            assert!(hits.iter().all(|h| h.load(SeqCst) == 1), "round {round}");
            if round % 50 == 0 {
                // Long enough for the workers to fall asleep.
                std::thread::sleep(SPIN * 4);
            }
        }
    }

    #[test]
    fn a_panicking_share_is_raised_to_the_caller() {
        let pool = Pool::new(2);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.run(&|t| assert!(t == 0, "worker share fails"))
        }));
        assert!(r.is_err());
        // The pool still works.
        let n = AtomicUsize::new(0);
        pool.run(&|_| {
            n.fetch_add(1, SeqCst);
        });
        assert_eq!(n.load(SeqCst), 2);
    }
}
