//! The embedder's inference threads: a rayon pool that tract's matrix products and our ops split their work over,
//! kept busy for the length of one inference.
//!
//! An op hands part of its work to the pool and waits for it about forty times per inference. A pool thread that
//! finds no work soon sleeps, and waking it costs more than many ops take: on a 2-core VM (rayon probe,
//! docs/benchmarks.md) a dispatch injected from outside the pool took 20-100 us, one from inside it 10-17 us after
//! a short gap, and 2-3 us while the other thread was awake. So a run happens on one of the pool's threads, and the
//! others look for work without sleeping while it goes on, as ONNX Runtime's and XNNPACK's pools spin during a run.
//!
//! One run at a time is in the pool: tract's matrix product keeps its thread's scratch borrowed while it waits for
//! its parts, and a pool thread waiting there may pick up any job of the pool; a second run picked up that way would
//! find the scratch borrowed and panic, and the panic's unwinding borrows it again, which aborts.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tract_linalg::multithread::{multithread_tract_scope, Executor};

use crate::error::{Error, Result};

/// How long a thread kept awake looks for work without finding any before it sleeps after all. Longer than the gaps
/// between one op's parallel part and the next (tract's serial ops between them take tens of microseconds), and
/// short, because a thread can also meet the job that keeps it awake while it waits inside a part of the run, which
/// then waits for it: a rare cycle, which this bounds.
const MAX_IDLE: Duration = Duration::from_micros(300);

/// The longest a thread stays awake for one run, whatever happens.
const MAX_AWAKE: Duration = Duration::from_secs(2);

/// A pool of `n > 1` inference threads.
pub(crate) struct Pool {
    pool: Arc<rayon::ThreadPool>,
    /// Held by the run in the pool (see the module's doc).
    one_run: Mutex<()>,
}

impl Pool {
    /// Starts `n` threads. Built here rather than by tract's helper, which panics when threads cannot be spawned.
    pub(crate) fn new(n: usize) -> Result<Pool> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .thread_name(|i| format!("shoplens-{i}"))
            .build()
            .map_err(|e| Error::Model(format!("cannot start {n} inference threads: {e}")))?;
        Ok(Pool { pool: Arc::new(pool), one_run: Mutex::new(()) })
    }

    /// Runs `f` (a plan's run) on one of the pool's threads, with tract's executor set to the pool and the other
    /// threads awake while it runs; other callers wait for it.
    ///
    /// From inside a rayon pool (a caller's par_iter, like the shard builder) `f` stays on the calling thread, with
    /// no pool: a rayon worker waiting on another pool runs its own pool's queued jobs meanwhile, and a second
    /// inference entered that way found tract's per-thread matmul scratch still borrowed and panicked.
    pub(crate) fn run<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        if rayon::current_thread_index().is_some() {
            return f();
        }
        // A run that panicked left nothing behind that the lock guards.
        let _one = self.one_run.lock().unwrap_or_else(|e| e.into_inner());
        let executor = Executor::MultiThread(self.pool.clone());
        let done = self.pool.install(|| {
            let _awake = Awake::start(&self.pool);
            // Caught inside the scope and raised again outside it: tract's scope does not restore the thread's
            // executor when its closure unwinds, and the pool thread would keep a handle to its own pool.
            multithread_tract_scope(executor, || catch_unwind(AssertUnwindSafe(f)))
        });
        done.unwrap_or_else(|panic| resume_unwind(panic))
    }
}

/// Keeps the pool's threads other than the current one looking for work until dropped.
struct Awake(Arc<AtomicBool>);

impl Awake {
    fn start(pool: &rayon::ThreadPool) -> Awake {
        let done = Arc::new(AtomicBool::new(false));
        let (flag, runner) = (done.clone(), rayon::current_thread_index());
        pool.spawn_broadcast(move |ctx| {
            // Never on the run's own thread: there it would spin on top of the run it waits for.
            if Some(ctx.index()) == runner {
                return;
            }
            let start = Instant::now();
            let mut found = start;
            while !flag.load(Ordering::Acquire) && start.elapsed() < MAX_AWAKE {
                match rayon::yield_now() {
                    Some(rayon::Yield::Executed) => found = Instant::now(),
                    _ if found.elapsed() > MAX_IDLE => return,
                    // Not a bare spin: with more threads than free cores it would hold up the run's own thread.
                    _ => std::thread::yield_now(),
                }
            }
        });
        Awake(done)
    }
}

impl Drop for Awake {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use std::panic::{catch_unwind, AssertUnwindSafe};

    use rayon::prelude::*;
    use tract_linalg::multithread::current_tract_executor;

    use super::*;

    /// A run happens on a pool thread with the pool as tract's executor, splits its work over both threads, and
    /// gives its result; a caller's rayon worker runs it inline.
    #[test]
    fn a_run_uses_the_pool_and_a_rayon_caller_runs_inline() {
        let pool = Pool::new(2).unwrap();
        let (index, multi, sum) = pool.run(|| {
            let multi = matches!(current_tract_executor(), Executor::MultiThread(_));
            let sum: u64 = (0..10_000u64).into_par_iter().sum();
            (rayon::current_thread_index(), multi, sum)
        });
        assert!(index.is_some() && multi);
        assert_eq!(sum, 49_995_000);
        let other = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let inline = other.install(|| pool.run(|| matches!(current_tract_executor(), Executor::MultiThread(_))));
        assert!(!inline, "inside another pool the run stays on the caller's thread, without this pool");
    }

    /// Runs from several threads at once all finish with their own results, one after the other; a run that panics
    /// raises its panic to its caller and leaves no pool thread with tract's executor still set (which would keep
    /// the pool alive after its embedder).
    #[test]
    fn concurrent_runs_and_a_panicking_one_finish() {
        let pool = Pool::new(2).unwrap();
        let panicked = catch_unwind(AssertUnwindSafe(|| pool.run(|| panic!("a run that fails"))));
        assert!(panicked.is_err());
        let left = pool.pool.broadcast(|_| matches!(current_tract_executor(), Executor::MultiThread(_)));
        assert_eq!(left, [false, false], "no pool thread keeps the executor after a panic");
        std::thread::scope(|s| {
            let runs: Vec<_> = (0..6u64)
                .map(|k| {
                    let pool = &pool;
                    s.spawn(move || pool.run(|| (0..100_000u64).into_par_iter().map(|i| i % (k + 2)).sum::<u64>()))
                })
                .collect();
            for (k, run) in runs.into_iter().enumerate() {
                let want: u64 = (0..100_000u64).map(|i| i % (k as u64 + 2)).sum();
                assert_eq!(run.join().unwrap(), want);
            }
        });
    }
}
