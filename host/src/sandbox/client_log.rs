//! A call's log messages on their way to the MCP client
//! (`notifications/message`), bounded three ways so that a plugin that logs
//! in a loop costs the host and the client little: a burst of
//! [`BURST`] messages, then [`REFILL_PER_SECOND`] a second; at most
//! [`MAX_PER_CALL`] in all; at most [`MAX_WAITING`] waiting to be sent. What
//! does not fit is counted, and the forwarder says how many were dropped
//! when the call ends. Every message still goes to Warden's own log (and
//! counts against the call's `max_log_bytes`) whether or not it is
//! forwarded.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::Notify;

use super::bindings::Level;

/// Messages forwarded at once before the rate applies.
pub const BURST: u32 = 20;
/// Messages a second after the burst.
pub const REFILL_PER_SECOND: u32 = 10;
/// Messages forwarded from one call at most.
pub const MAX_PER_CALL: u32 = 200;
/// Messages waiting for the forwarder at most.
const MAX_WAITING: usize = 64;

/// One message for the client.
#[derive(Debug, Clone, PartialEq)]
pub struct LogMessage {
    /// The guest's level.
    pub level: Level,
    /// The message, already truncated by the host.
    pub message: String,
}

/// The guest's end: [`ClientLog::push`] queues a message when its level is
/// at least the client's and the call's allowance has room.
#[derive(Debug, Clone)]
pub struct ClientLog {
    min: Level,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    changed: Notify,
}

#[derive(Debug)]
struct State {
    waiting: VecDeque<LogMessage>,
    /// Messages accepted so far.
    accepted: u32,
    /// Messages refused by a cap.
    dropped: u64,
    tokens: f64,
    refilled: Instant,
    done: bool,
}

impl ClientLog {
    /// A sink for messages at `min` or above, and the stream that forwards
    /// them.
    pub fn new(min: Level) -> (Self, ClientLogStream) {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                waiting: VecDeque::new(),
                accepted: 0,
                dropped: 0,
                tokens: f64::from(BURST),
                refilled: Instant::now(),
                done: false,
            }),
            changed: Notify::new(),
        });
        (
            Self {
                min,
                shared: shared.clone(),
            },
            ClientLogStream { shared },
        )
    }

    /// Queues `message` for the client if its level passes and a cap
    /// allows; otherwise counts it as dropped (below the level: ignored).
    pub fn push(&self, level: Level, message: &str) {
        if rank(level) < rank(self.min) {
            return;
        }
        {
            let mut state = lock(&self.shared.state);
            if state.done {
                return;
            }
            let now = Instant::now();
            let refill =
                now.duration_since(state.refilled).as_secs_f64() * f64::from(REFILL_PER_SECOND);
            state.tokens = (state.tokens + refill).min(f64::from(BURST));
            state.refilled = now;
            if state.tokens < 1.0
                || state.accepted >= MAX_PER_CALL
                || state.waiting.len() >= MAX_WAITING
            {
                state.dropped += 1;
                return;
            }
            state.tokens -= 1.0;
            state.accepted += 1;
            state.waiting.push_back(LogMessage {
                level,
                message: message.to_owned(),
            });
        }
        self.shared.changed.notify_one();
    }

    /// Ends the stream once what is waiting is taken.
    pub fn finish(&self) {
        lock(&self.shared.state).done = true;
        self.shared.changed.notify_one();
    }
}

/// The forwarder's end.
#[derive(Debug)]
pub struct ClientLogStream {
    shared: Arc<Shared>,
}

impl ClientLogStream {
    /// The next message, in order; `None` once the call finished and
    /// everything was taken.
    pub async fn next(&mut self) -> Option<LogMessage> {
        loop {
            let notified = self.shared.changed.notified();
            {
                let mut state = lock(&self.shared.state);
                if let Some(message) = state.waiting.pop_front() {
                    return Some(message);
                }
                if state.done {
                    return None;
                }
            }
            notified.await;
        }
    }

    /// Messages a cap kept from the client.
    pub fn dropped(&self) -> u64 {
        lock(&self.shared.state).dropped
    }
}

/// Severity order of the guest's levels.
fn rank(level: Level) -> u8 {
    match level {
        Level::Trace => 0,
        Level::Debug => 1,
        Level::Info => 2,
        Level::Warn => 3,
        Level::Error => 4,
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn drain(mut stream: ClientLogStream) -> (Vec<LogMessage>, u64) {
        let mut got = Vec::new();
        while let Some(message) = stream.next().await {
            got.push(message);
        }
        let dropped = stream.dropped();
        (got, dropped)
    }

    #[tokio::test]
    async fn messages_below_the_level_are_ignored_and_the_rest_come_in_order() {
        let (log, stream) = ClientLog::new(Level::Info);
        log.push(Level::Debug, "hidden");
        log.push(Level::Info, "one");
        log.push(Level::Error, "two");
        log.push(Level::Trace, "hidden");
        log.finish();
        let (got, dropped) = drain(stream).await;
        let texts: Vec<&str> = got.iter().map(|m| m.message.as_str()).collect();
        assert_eq!(texts, ["one", "two"]);
        assert_eq!(dropped, 0, "below the level is not a drop");
    }

    #[tokio::test]
    async fn a_flood_is_cut_to_the_burst_and_counted() {
        let (log, stream) = ClientLog::new(Level::Trace);
        for i in 0..10_000 {
            log.push(Level::Info, &format!("line {i}"));
        }
        log.finish();
        log.push(Level::Info, "after the end");
        let (got, dropped) = drain(stream).await;
        // The burst, plus what the rate refilled while the loop ran.
        assert!(
            (BURST as usize..BURST as usize + 5).contains(&got.len()),
            "{} forwarded",
            got.len()
        );
        assert_eq!(got[0].message, "line 0");
        assert_eq!(dropped as usize + got.len(), 10_000);
    }

    #[tokio::test]
    async fn the_stream_waits_for_messages_until_the_call_ends() {
        let (log, stream) = ClientLog::new(Level::Info);
        let forwarder = tokio::spawn(drain(stream));
        for i in 0..3 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            log.push(Level::Warn, &format!("step {i}"));
        }
        log.finish();
        let (got, _) = forwarder.await.unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[2].message, "step 2");
    }
}
