//! What runs beside a tool call for its client: the tasks that forward the
//! guest's progress reports (`notifications/progress`) and log messages
//! (`notifications/message`), and the links the sandbox feeds them through.
//!
//! Both forwarders are awaited before the result goes out, so that what the
//! guest reported reaches the client before the result does.
#![allow(deprecated)] // MCP logging is deprecated by SEP-2577, and still served.

use std::time::Duration;

use rmcp::model::{LoggingLevel, LoggingMessageNotificationParam, ProgressNotificationParam};
use rmcp::service::RequestContext;
use rmcp::{Peer, RoleServer};
use serde_json::Value;
use tokio::task::JoinHandle;

use crate::sandbox::{ClientLinks, ClientLog, ClientLogStream, Level, ProgressSink};

/// Least time between two progress notifications of one call (at most ten
/// per second); reports in between are coalesced into the latest.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// The forwarding tasks of one call.
#[derive(Debug, Default)]
pub(crate) struct Forwarders {
    progress: Option<(ProgressSink, JoinHandle<()>)>,
    log: Option<(ClientLog, JoinHandle<()>)>,
}

impl Forwarders {
    /// Starts a progress forwarder when the request carries a progress
    /// token, and a log forwarder when the client asked for messages at
    /// `level` or above (named `logger`, the plugin). Returns the links to
    /// hand the call; the caller adds the cancellation.
    pub(crate) fn start(
        context: &RequestContext<RoleServer>,
        level: Option<LoggingLevel>,
        logger: Option<String>,
    ) -> (Self, ClientLinks) {
        let mut links = ClientLinks::default();
        let mut forwarders = Self::default();
        if let Some(token) = context.meta.get_progress_token() {
            let (sink, stream) = ProgressSink::new();
            let peer = context.peer.clone();
            let task = tokio::spawn(async move {
                let mut stream = stream;
                let mut sent = 0u64;
                while let Some(report) = stream.next(PROGRESS_INTERVAL).await {
                    let mut param = ProgressNotificationParam::new(token.clone(), report.progress);
                    param.total = report.total;
                    param.message = report.message;
                    if let Err(e) = peer.notify_progress(param).await {
                        tracing::debug!("progress notification not sent: {e}");
                        break;
                    }
                    sent += 1;
                }
                tracing::debug!(
                    received = stream.received(),
                    sent,
                    "progress reports forwarded"
                );
            });
            links.progress = Some(sink.clone());
            forwarders.progress = Some((sink, task));
        }
        if let Some(min) = level.and_then(lowest_guest_level) {
            let (sink, stream) = ClientLog::new(min);
            let task = tokio::spawn(forward_log(context.peer.clone(), stream, logger));
            links.log = Some(sink.clone());
            forwarders.log = Some((sink, task));
        }
        (forwarders, links)
    }

    /// Ends both streams and waits until what they hold was sent.
    pub(crate) async fn finish(self) {
        if let Some((sink, task)) = self.progress {
            sink.finish();
            let _ = task.await;
        }
        if let Some((sink, task)) = self.log {
            sink.finish();
            let _ = task.await;
        }
    }
}

async fn forward_log(peer: Peer<RoleServer>, mut stream: ClientLogStream, logger: Option<String>) {
    let notify = |level: LoggingLevel, text: String| {
        let mut param = LoggingMessageNotificationParam::new(level, Value::String(text));
        param.logger = logger.clone();
        peer.notify_logging_message(param)
    };
    while let Some(message) = stream.next().await {
        if let Err(e) = notify(client_level(message.level), message.message).await {
            tracing::debug!("log notification not sent: {e}");
            return;
        }
    }
    let dropped = stream.dropped();
    if dropped > 0 {
        let text = format!(
            "{dropped} more log message(s) of this call were not forwarded: a call sends at \
             most {} messages, {} a second after the first {}; Warden's own log has them all",
            crate::sandbox::client_log::MAX_PER_CALL,
            crate::sandbox::client_log::REFILL_PER_SECOND,
            crate::sandbox::client_log::BURST,
        );
        if let Err(e) = notify(LoggingLevel::Warning, text).await {
            tracing::debug!("log notification not sent: {e}");
        }
    }
}

/// The lowest guest level a client at `level` receives; `None` when no
/// guest message is that severe (a guest logs `error` at most).
pub(crate) fn lowest_guest_level(level: LoggingLevel) -> Option<Level> {
    match level {
        LoggingLevel::Debug => Some(Level::Trace),
        LoggingLevel::Info => Some(Level::Info),
        LoggingLevel::Notice | LoggingLevel::Warning => Some(Level::Warn),
        LoggingLevel::Error => Some(Level::Error),
        LoggingLevel::Critical | LoggingLevel::Alert | LoggingLevel::Emergency => None,
    }
}

/// The MCP level of a guest message.
fn client_level(level: Level) -> LoggingLevel {
    match level {
        Level::Trace | Level::Debug => LoggingLevel::Debug,
        Level::Info => LoggingLevel::Info,
        Level::Warn => LoggingLevel::Warning,
        Level::Error => LoggingLevel::Error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_client_at_a_messages_level_receives_it_and_not_the_one_below() {
        let levels = [
            Level::Trace,
            Level::Debug,
            Level::Info,
            Level::Warn,
            Level::Error,
        ];
        for (i, &level) in levels.iter().enumerate() {
            let min = lowest_guest_level(client_level(level)).unwrap();
            let (sink, mut stream) = ClientLog::new(min);
            sink.push(level, "at");
            if i >= 2 {
                // Below info, trace and debug share the client's `debug`.
                sink.push(levels[i - 1], "below");
            }
            sink.finish();
            let mut got = Vec::new();
            while let Some(m) = stream.next().await {
                got.push(m.message);
            }
            assert_eq!(got, ["at"], "{level:?}");
        }
        assert_eq!(lowest_guest_level(LoggingLevel::Critical), None);
        assert_eq!(lowest_guest_level(LoggingLevel::Notice), Some(Level::Warn));
    }
}
