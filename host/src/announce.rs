//! Change notifications to connected clients.
//!
//! Clients on 2025-11-25 (`initialize`) get `notifications/*/list_changed`
//! on their session and `notifications/resources/updated` for the URIs they
//! subscribed to with `resources/subscribe`. Clients on 2026-07-28 get the
//! same notifications only on the `subscriptions/listen` streams they opened,
//! filtered by what each stream asked for. One [`Announcer`] serves every
//! session of a server (stdio has one; the HTTP transport has many).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, Weak};

use rmcp::RoleServer;
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
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Announcer {
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
