//! Blocking engine work moved off the caller's thread, as a future that UniFFI exports as Kotlin `suspend`, Swift
//! `async` and a Python coroutine.
//!
//! Why a thread per call rather than hand-written wrappers in each language or an async runtime: UniFFI polls the
//! future from the foreign side, so work done inside `poll` would block a Kotlin dispatcher thread or, worse, one of
//! Swift's few cooperative-pool threads. A plain thread needs no runtime in the library (tokio would only be used to
//! spawn), costs tens of microseconds against an inference of tens of milliseconds, and keeps the async API in one
//! place for the three languages. Cancelling the foreign call drops the future; the thread finishes its one call
//! and its result is dropped.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use super::error::guard;
use super::ShopLensError;

type Outcome<T> = Result<T, ShopLensError>;

struct Slot<T> {
    outcome: Option<Outcome<T>>,
    waker: Option<Waker>,
}

/// The result of [`offload`], ready once the worker thread is done.
pub(crate) struct Offloaded<T> {
    slot: Arc<Mutex<Slot<T>>>,
}

/// Runs `work` on a new thread. A panic in it becomes [`ShopLensError::Internal`]: the future always completes.
pub(crate) fn offload<T, F>(work: F) -> Offloaded<T>
where
    T: Send + 'static,
    F: FnOnce() -> Outcome<T> + Send + 'static,
{
    let slot = Arc::new(Mutex::new(Slot { outcome: None, waker: None }));
    let theirs = Arc::clone(&slot);
    let spawned = std::thread::Builder::new().name("shoplens-call".into()).spawn(move || {
        let outcome = guard(work);
        let waker = {
            let mut slot = lock(&theirs);
            slot.outcome = Some(outcome);
            slot.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    });
    if let Err(e) = spawned {
        lock(&slot).outcome = Some(Err(ShopLensError::Internal(format!("cannot start a worker thread: {e}"))));
    }
    Offloaded { slot }
}

impl<T> Future for Offloaded<T> {
    type Output = Outcome<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut slot = lock(&self.slot);
        match slot.outcome.take() {
            Some(outcome) => Poll::Ready(outcome),
            None => {
                slot.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

fn lock<T>(slot: &Mutex<Slot<T>>) -> std::sync::MutexGuard<'_, Slot<T>> {
    // Nothing panics while holding the lock; should it, the slot's state is still consistent.
    slot.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Wake;
    use std::thread::Thread;

    /// Wakes the test thread: enough of an executor to drive one future.
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }

    fn block_on<F: Future + Unpin>(mut future: F) -> F::Output {
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        loop {
            if let Poll::Ready(out) = Pin::new(&mut future).poll(&mut cx) {
                return out;
            }
            std::thread::park();
        }
    }

    #[test]
    fn delivers_the_result_from_another_thread() {
        let caller = std::thread::current().id();
        let out = block_on(offload(move || Ok(std::thread::current().id() != caller)));
        assert!(matches!(out, Ok(true)));
    }

    #[test]
    fn a_panic_becomes_an_internal_error() {
        let out: Outcome<()> = block_on(offload(|| panic!("boom")));
        assert!(matches!(out, Err(ShopLensError::Internal(m)) if m == "panic: boom"));
    }
}
