//! The epoch ticker: the clock behind every call's wall-clock limit.
//!
//! It ticks only while at least one instance is running: an idle server
//! gets no wake-ups from it. A paused ticker loses nothing, because an
//! epoch deadline only matters to a store that is running.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::{JoinHandle, Thread};
use std::time::Duration;

use wasmtime::Engine;

/// How often the epoch ticker advances; the granularity of wall-clock limits.
pub(super) const EPOCH_TICK: Duration = Duration::from_millis(5);

#[derive(Debug, Default)]
struct Shared {
    stop: AtomicBool,
    /// Instances running now; the ticker sleeps while this is zero.
    running: AtomicUsize,
}

/// Advances the engine's epoch every [`EPOCH_TICK`] while some instance runs;
/// stopped and joined on drop.
pub(super) struct EpochTicker {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// Keeps the ticker ticking until dropped (one per running instance).
pub(super) struct Ticking<'a> {
    shared: &'a Shared,
}

impl Drop for Ticking<'_> {
    fn drop(&mut self) {
        self.shared.running.fetch_sub(1, Ordering::AcqRel);
    }
}

impl EpochTicker {
    pub(super) fn start(engine: Engine) -> Self {
        let shared = Arc::new(Shared::default());
        let state = shared.clone();
        let thread = std::thread::Builder::new()
            .name("warden-epoch".into())
            .spawn(move || {
                while !state.stop.load(Ordering::Acquire) {
                    if state.running.load(Ordering::Acquire) == 0 {
                        // Woken by `running` (or `drop`); a wake-up that
                        // came before this park makes it return at once.
                        std::thread::park();
                        continue;
                    }
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .ok();
        Self { shared, thread }
    }

    /// Marks one instance as running until the guard drops.
    pub(super) fn running(&self) -> Ticking<'_> {
        if self.shared.running.fetch_add(1, Ordering::AcqRel) == 0 {
            self.wake();
        }
        Ticking {
            shared: &self.shared,
        }
    }

    fn wake(&self) {
        if let Some(thread) = self.thread.as_ref().map(JoinHandle::thread) {
            Thread::unpark(thread);
        }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        self.wake();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
