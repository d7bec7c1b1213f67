//! A call's deadline (`timeout`), which moves while the call waits for its
//! MCP client: time spent waiting for a person or a model is bounded by
//! `client_wait`, not by `timeout`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// When a call's time is up; read by the epoch callback at every tick.
#[derive(Debug)]
pub(super) struct Deadline {
    start: Instant,
    /// Nanoseconds after `start`.
    at: AtomicU64,
}

impl Deadline {
    /// A deadline `timeout` after `start`.
    pub(super) fn new(start: Instant, timeout: Duration) -> Self {
        Self {
            start,
            at: AtomicU64::new(nanos(timeout)),
        }
    }

    /// The current deadline.
    pub(super) fn get(&self) -> Instant {
        self.start + Duration::from_nanos(self.at.load(Ordering::Relaxed))
    }

    /// Whether it has passed.
    pub(super) fn passed(&self) -> bool {
        Instant::now() >= self.get()
    }

    fn set(&self, at: Instant) {
        self.at.store(
            nanos(at.saturating_duration_since(self.start)),
            Ordering::Relaxed,
        );
    }

    /// Stops the clock for a wait of at most `wait`: the deadline moves
    /// `wait` later now, and back to the time that was left when the
    /// returned guard is dropped.
    pub(super) fn pause(&self, wait: Duration) -> Paused<'_> {
        let now = Instant::now();
        let left = self.get().saturating_duration_since(now);
        self.set(now + left + wait);
        Paused {
            deadline: self,
            left,
        }
    }

    /// Resolves once the deadline, plus `grace`, has passed, following it
    /// when it moves.
    pub(super) async fn expired(&self, grace: Duration) {
        loop {
            let at = self.get() + grace;
            tokio::time::sleep_until(at.into()).await;
            if Instant::now() >= self.get() + grace {
                return;
            }
        }
    }
}

/// The clock stopped for a client wait; restarts when dropped.
pub(super) struct Paused<'a> {
    deadline: &'a Deadline,
    left: Duration,
}

impl Drop for Paused<'_> {
    fn drop(&mut self) {
        self.deadline.set(Instant::now() + self.left);
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pause_keeps_the_time_that_was_left() {
        let start = Instant::now();
        let deadline = Deadline::new(start, Duration::from_millis(200));
        {
            let _paused = deadline.pause(Duration::from_secs(60));
            assert!(deadline.get() >= start + Duration::from_secs(60));
            std::thread::sleep(Duration::from_millis(300));
            assert!(!deadline.passed());
        }
        let left = deadline.get().saturating_duration_since(Instant::now());
        assert!(left > Duration::from_millis(100) && left <= Duration::from_millis(200));
    }

    #[tokio::test]
    async fn expiry_follows_a_moved_deadline() {
        let start = Instant::now();
        let deadline = Deadline::new(start, Duration::from_millis(50));
        let paused = deadline.pause(Duration::from_millis(100));
        let expired = deadline.expired(Duration::ZERO);
        tokio::pin!(expired);
        assert!(
            tokio::time::timeout(Duration::from_millis(80), &mut expired)
                .await
                .is_err()
        );
        drop(paused);
        expired.await;
        assert!(start.elapsed() >= Duration::from_millis(80));
    }
}
