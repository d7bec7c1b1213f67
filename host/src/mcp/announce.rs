//! Change notifications to connected clients.
//!
//! Clients on 2025-11-25 (`initialize`) get `notifications/*/list_changed`
//! on their session and `notifications/resources/updated` for the URIs they
//! subscribed to with `resources/subscribe`. Clients on 2026-07-28 get the
//! same notifications only on the `subscriptions/listen` streams they opened,
//! filtered by what each stream asked for. One [`Announcer`] serves every
//! session of a server (stdio has one; the HTTP transport has many).
//!
//! What plugins announce is coalesced per plugin ([`Announcer::queue`],
//! [`Announcer::next_work`]): at most one worker per plugin acts on it, at
//! most once per interval, and what arrives while it works is merged into
//! its next round, so the last change is never lost and a plugin that
//! announces on every call causes at most one refresh per interval.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::time::Instant;

use rmcp::RoleServer;

use crate::mcp::registry::Registry;
use rmcp::model::ResourceUpdatedNotificationParam;
use rmcp::service::{Peer, SubscriptionSendError, SubscriptionSink};

/// Which lists changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Changes {
    /// The tool list.
    pub tools: bool,
    /// The prompt list.
    pub prompts: bool,
    /// The resource list or templates.
    pub resources: bool,
}

impl Changes {
    /// Which lists a client sees differently in `new` than in `old`.
    pub fn between(old: &Registry, new: &Registry) -> Self {
        let (a, b) = (old.catalog(), new.catalog());
        Changes {
            tools: !old
                .tools()
                .map(|t| &t.tool)
                .eq(new.tools().map(|t| &t.tool)),
            prompts: !a
                .prompts()
                .map(|p| &p.prompt)
                .eq(b.prompts().map(|p| &p.prompt)),
            resources: !a
                .resources()
                .iter()
                .map(|r| &r.resource)
                .eq(b.resources().iter().map(|r| &r.resource))
                || !a
                    .templates()
                    .iter()
                    .map(|t| &t.template)
                    .eq(b.templates().iter().map(|t| &t.template)),
        }
    }

    /// Whether any list changed.
    pub fn any(self) -> bool {
        self.tools || self.prompts || self.resources
    }
}

/// Most distinct updated URIs kept per plugin between two rounds; more are
/// dropped (and logged), never buffered without bound.
const MAX_PENDING_URIS: usize = 256;

/// What a plugin announced and the host has not acted on yet.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Work {
    /// Some list changed: describe the plugin again.
    pub lists: bool,
    /// Plugin-local URIs whose contents changed.
    pub updated: BTreeSet<String>,
}

impl Work {
    fn is_empty(&self) -> bool {
        !self.lists && self.updated.is_empty()
    }
}

#[derive(Debug, Default)]
struct PluginQueue {
    work: Work,
    /// A worker is acting on this plugin's announcements.
    running: bool,
    /// When the worker's last round started.
    last: Option<Instant>,
}

/// One client session on the `initialize` lifecycle.
#[derive(Debug, Default)]
pub struct Session {
    peer: Mutex<Option<Peer<RoleServer>>>,
    subscribed: Mutex<BTreeSet<String>>,
}

impl Session {
    /// Records the peer that notifications for this session go to.
    pub fn attach(&self, peer: Peer<RoleServer>) {
        *lock(&self.peer) = Some(peer);
    }

    /// Subscribes to updates of the resource exposed as `uri`.
    pub fn subscribe(&self, uri: &str) {
        lock(&self.subscribed).insert(uri.to_string());
    }

    /// Ends a subscription.
    pub fn unsubscribe(&self, uri: &str) {
        lock(&self.subscribed).remove(uri);
    }

    fn peer(&self) -> Option<Peer<RoleServer>> {
        lock(&self.peer).clone()
    }
}

/// Every session and subscription stream that wants change notifications.
#[derive(Debug, Default)]
pub struct Announcer {
    sessions: Mutex<Vec<Weak<Session>>>,
    streams: Mutex<Vec<SubscriptionSink>>,
    queues: Mutex<BTreeMap<String, PluginQueue>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Announcer {
    /// Queues what `plugin` announced. Returns `true` when the caller must
    /// start the plugin's worker (none is running), which then calls
    /// [`Announcer::next_work`] until it returns `None`.
    pub fn queue(&self, plugin: &str, lists: bool, updated: &[String]) -> bool {
        let mut queues = lock(&self.queues);
        let queue = queues.entry(plugin.to_string()).or_default();
        queue.work.lists |= lists;
        let mut dropped = 0usize;
        for uri in updated {
            if queue.work.updated.len() < MAX_PENDING_URIS {
                queue.work.updated.insert(uri.clone());
            } else if !queue.work.updated.contains(uri) {
                dropped += 1;
            }
        }
        if dropped > 0 {
            tracing::warn!(
                plugin,
                dropped,
                "too many distinct resource updates announced at once; some are not notified"
            );
        }
        if queue.running || queue.work.is_empty() {
            return false;
        }
        queue.running = true;
        true
    }

    /// The next round of work for `plugin`'s worker, no sooner than
    /// `interval` after its previous round; `None` (and the worker ends)
    /// when nothing is left.
    pub async fn next_work(&self, plugin: &str, interval: Duration) -> Option<Work> {
        let start = lock(&self.queues)
            .get(plugin)
            .and_then(|q| q.last)
            .map(|last| last + interval);
        if let Some(start) = start {
            tokio::time::sleep_until(start).await;
        }
        let mut queues = lock(&self.queues);
        let queue = queues.entry(plugin.to_string()).or_default();
        if queue.work.is_empty() {
            queue.running = false;
            return None;
        }
        queue.last = Some(Instant::now());
        Some(std::mem::take(&mut queue.work))
    }

    /// Adds a session (it leaves when dropped).
    pub fn add_session(&self, session: &Arc<Session>) {
        let mut sessions = lock(&self.sessions);
        sessions.retain(|s| s.strong_count() > 0);
        sessions.push(Arc::downgrade(session));
    }

    /// Adds a `subscriptions/listen` stream (it leaves when it ends).
    pub fn add_stream(&self, sink: SubscriptionSink) {
        lock(&self.streams).push(sink);
    }

    /// Removes the stream of the listen request `id`.
    pub fn remove_stream(&self, sink: &SubscriptionSink) {
        lock(&self.streams).retain(|s| s.id() != sink.id());
    }

    fn sessions(&self) -> Vec<Arc<Session>> {
        let mut sessions = lock(&self.sessions);
        sessions.retain(|s| s.strong_count() > 0);
        sessions.iter().filter_map(Weak::upgrade).collect()
    }

    fn streams(&self) -> Vec<SubscriptionSink> {
        lock(&self.streams).clone()
    }

    /// Tells every session and stream that these lists changed.
    pub async fn lists_changed(&self, changes: Changes) {
        for session in self.sessions() {
            let Some(peer) = session.peer() else {
                continue;
            };
            let mut results = Vec::new();
            if changes.tools {
                results.push(peer.notify_tool_list_changed().await);
            }
            if changes.prompts {
                results.push(peer.notify_prompt_list_changed().await);
            }
            if changes.resources {
                results.push(peer.notify_resource_list_changed().await);
            }
            for error in results.into_iter().filter_map(Result::err) {
                tracing::debug!("list_changed notification not sent: {error}");
            }
        }
        for sink in self.streams() {
            let mut results = Vec::new();
            if changes.tools && sink.accepted().tools_list_changed == Some(true) {
                results.push(sink.notify_tool_list_changed().await);
            }
            if changes.prompts && sink.accepted().prompts_list_changed == Some(true) {
                results.push(sink.notify_prompt_list_changed().await);
            }
            if changes.resources && sink.accepted().resources_list_changed == Some(true) {
                results.push(sink.notify_resource_list_changed().await);
            }
            self.check(&sink, results);
        }
    }

    /// Tells sessions and streams subscribed to `uri` (an exposed URI) that
    /// the resource changed.
    pub async fn resource_updated(&self, uri: &str) {
        for session in self.sessions() {
            if !lock(&session.subscribed).contains(uri) {
                continue;
            }
            if let Some(peer) = session.peer()
                && let Err(error) = peer
                    .notify_resource_updated(ResourceUpdatedNotificationParam::new(uri))
                    .await
            {
                tracing::debug!("resources/updated notification not sent: {error}");
            }
        }
        for sink in self.streams() {
            let wanted = sink
                .accepted()
                .resource_subscriptions
                .as_ref()
                .is_some_and(|uris| uris.iter().any(|u| u == uri));
            if wanted {
                let result = sink.notify_resource_updated(uri).await;
                self.check(&sink, vec![result]);
            }
        }
    }

    /// Drops a stream that has ended.
    fn check(&self, sink: &SubscriptionSink, results: Vec<Result<(), SubscriptionSendError>>) {
        for result in results {
            match result {
                Ok(()) => {}
                Err(SubscriptionSendError::SubscriptionClosed) => {
                    self.remove_stream(sink);
                    return;
                }
                Err(error) => tracing::debug!("subscription notification not sent: {error}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn announcements_are_coalesced_per_plugin_and_the_last_is_kept() {
        let announcer = Announcer::default();
        let interval = Duration::from_millis(250);
        assert!(announcer.queue("p", true, &[]), "the first starts a worker");
        assert!(!announcer.queue("p", true, &["a".into()]), "one worker");
        assert!(announcer.queue("q", false, &["x".into()]), "per plugin");

        let first = announcer.next_work("p", interval).await.expect("work");
        assert!(first.lists);
        assert_eq!(first.updated, BTreeSet::from(["a".to_string()]));

        // While the worker acts, announcements pile up into one round.
        let started = Instant::now();
        for _ in 0..1000 {
            assert!(!announcer.queue("p", true, &["a".into(), "b".into()]));
        }
        let second = announcer.next_work("p", interval).await.expect("work");
        assert!(started.elapsed() >= interval, "no sooner than the interval");
        assert_eq!(second.updated.len(), 2);

        assert_eq!(announcer.next_work("p", interval).await, None);
        assert!(announcer.queue("p", false, &["c".into()]), "a new worker");
    }

    #[test]
    fn pending_uris_are_bounded() {
        let announcer = Announcer::default();
        let uris: Vec<String> = (0..1000).map(|i| format!("u{i}")).collect();
        announcer.queue("p", false, &uris);
        let queues = lock(&announcer.queues);
        assert_eq!(queues["p"].work.updated.len(), MAX_PENDING_URIS);
    }
}
