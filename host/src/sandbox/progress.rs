//! Progress reports of one call, coalesced: the guest may report as often as
//! it likes. The first [`BURST`] reports are kept in order (a tool that
//! reports a few steps has all of them delivered); after that the host keeps
//! only the latest report, and the forwarder takes one per interval as the
//! burst refills, plus the final one before the result.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// One progress report from a guest.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgressReport {
    /// Progress so far.
    pub progress: f64,
    /// The expected final value, when known.
    pub total: Option<f64>,
    /// A human-readable note.
    pub message: Option<String>,
}

/// The guest's end: [`ProgressSink::report`] replaces the pending report.
/// [`ProgressSink::finish`] tells the forwarder the call is over.
#[derive(Debug, Clone, Default)]
pub struct ProgressSink {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    latest: Mutex<Latest>,
    /// A report arrived or the call finished.
    changed: Notify,
    /// The call finished.
    finished: Notify,
}

/// Reports forwarded at once before the interval applies; also the most
/// reports kept waiting.
pub const BURST: usize = 8;

#[derive(Debug, Default)]
struct Latest {
    /// Waiting reports, oldest first; when full, the newest is replaced.
    reports: VecDeque<ProgressReport>,
    done: bool,
    /// Reports received, for logs.
    received: u64,
}

impl ProgressSink {
    /// A sink and the stream that forwards from it.
    pub fn new() -> (Self, ProgressStream) {
        let sink = Self::default();
        let stream = ProgressStream {
            shared: sink.shared.clone(),
            next: Instant::now(),
            tokens: BURST,
        };
        (sink, stream)
    }

    /// Replaces the pending report: older ones not yet forwarded are dropped.
    pub fn report(&self, report: ProgressReport) {
        {
            let mut latest = lock(&self.shared.latest);
            if latest.reports.len() >= BURST {
                latest.reports.pop_back();
            }
            latest.reports.push_back(report);
            latest.received += 1;
        }
        self.shared.changed.notify_one();
    }

    /// Ends the stream once the pending report (if any) is taken.
    pub fn finish(&self) {
        lock(&self.shared.latest).done = true;
        self.shared.changed.notify_one();
        self.shared.finished.notify_one();
    }
}

/// The forwarder's end.
#[derive(Debug)]
pub struct ProgressStream {
    shared: Arc<Shared>,
    /// When the burst runs out, no report goes out before this instant.
    next: Instant,
    /// Reports that may go out at once; one comes back per interval.
    tokens: usize,
}

impl ProgressStream {
    /// The next report to forward, no sooner than `interval` after the
    /// previous one, except the call's last report, which comes as soon as
    /// the call finished. `None` once the call finished and everything was
    /// taken.
    pub async fn next(&mut self, interval: Duration) -> Option<ProgressReport> {
        loop {
            let (waiting, done) = {
                let latest = lock(&self.shared.latest);
                (!latest.reports.is_empty(), latest.done)
            };
            if !done {
                if !waiting {
                    self.shared.changed.notified().await;
                }
                if self.tokens == 0 {
                    tokio::select! {
                        () = tokio::time::sleep_until(self.next) => {}
                        () = self.shared.finished.notified() => {}
                    }
                }
            }
            let now = Instant::now();
            if now >= self.next {
                let refills = 1 + (now - self.next).as_nanos() / interval.as_nanos().max(1);
                self.tokens = (self.tokens + refills as usize).min(BURST);
                self.next = now + interval;
            }
            let (report, done) = {
                let mut latest = lock(&self.shared.latest);
                let done = latest.done;
                let report = if self.tokens > 0 || done {
                    latest.reports.pop_front()
                } else {
                    None
                };
                (report, done)
            };
            match report {
                Some(report) => {
                    self.tokens = self.tokens.saturating_sub(1);
                    return Some(report);
                }
                None if done => return None,
                None => continue,
            }
        }
    }

    /// How many reports the guest made.
    pub fn received(&self) -> u64 {
        lock(&self.shared.latest).received
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(progress: f64) -> ProgressReport {
        ProgressReport {
            progress,
            total: Some(1000.0),
            message: None,
        }
    }

    #[tokio::test]
    async fn a_flood_is_coalesced_and_the_last_report_always_comes() {
        let (sink, mut stream) = ProgressSink::new();
        let producer = tokio::spawn(async move {
            for i in 1..=1000 {
                sink.report(report(f64::from(i)));
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            sink.finish();
        });
        let mut forwarded = Vec::new();
        while let Some(r) = stream.next(Duration::from_millis(100)).await {
            forwarded.push(r.progress);
        }
        producer.await.unwrap();
        assert_eq!(stream.received(), 1000);
        assert!(
            (2..100).contains(&forwarded.len()),
            "about one per 100 ms, not one per report: {forwarded:?}"
        );
        assert_eq!(forwarded.last(), Some(&1000.0));
        assert!(forwarded.windows(2).all(|w| w[0] < w[1]));
    }

    #[tokio::test]
    async fn a_few_quick_steps_are_all_delivered_in_order() {
        let (sink, mut stream) = ProgressSink::new();
        for i in 0..3 {
            sink.report(report(f64::from(i * 50)));
        }
        sink.finish();
        let mut forwarded = Vec::new();
        while let Some(r) = stream.next(Duration::from_secs(10)).await {
            forwarded.push(r.progress);
        }
        assert_eq!(forwarded, [0.0, 50.0, 100.0]);
    }

    #[tokio::test]
    async fn a_finished_call_without_reports_ends_the_stream() {
        let (sink, mut stream) = ProgressSink::new();
        sink.finish();
        assert_eq!(stream.next(Duration::from_secs(10)).await, None);
    }
}
