//! Which principal opened each 2025-11-25 session. A session id is state the
//! client carries, not a credential: with OAuth, a request that names a
//! session another principal opened is answered as if the session did not
//! exist (404, which tells a client to start a new one), so a leaked session
//! id is no use without its owner's token.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::auth::principal_of;

/// The header that names a session.
const SESSION_HEADER: &str = "mcp-session-id";
/// Sessions remembered; the oldest owner is forgotten past this (and its
/// session refused, so the client starts a new one).
const MAX_SESSIONS: usize = 65_536;

/// Session ids and their owners' principal ids.
#[derive(Debug, Default)]
pub struct SessionOwners {
    inner: Mutex<Owners>,
}

#[derive(Debug, Default)]
struct Owners {
    by_session: HashMap<String, String>,
    order: VecDeque<String>,
}

impl SessionOwners {
    fn owner(&self, session: &str) -> Option<String> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.by_session.get(session).cloned()
    }

    fn record(&self, session: String, principal: String) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if inner.by_session.len() >= MAX_SESSIONS
            && let Some(oldest) = inner.order.pop_front()
        {
            inner.by_session.remove(&oldest);
        }
        inner.order.push_back(session.clone());
        inner.by_session.insert(session, principal);
    }

    fn forget(&self, session: &str) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if inner.by_session.remove(session).is_some() {
            inner.order.retain(|s| s != session);
        }
    }
}

/// Binds each session to the principal that opened it.
pub async fn bind_sessions(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(principal) = principal_of(&request) else {
        return next.run(request).await;
    };
    let owners = &state.session_owners;
    let session = request
        .headers()
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let deleting = request.method() == Method::DELETE;
    if let Some(session) = &session
        && owners.owner(session).as_deref() != Some(principal.id.as_str())
    {
        tracing::warn!(principal = %principal.id, "HTTP request refused: the session belongs to another principal or is unknown");
        if let Some(audit) = &state.audit {
            audit.access_refused(&principal.id, None, "session_not_owned");
        }
        return (StatusCode::NOT_FOUND, "no such session\n").into_response();
    }
    let response = next.run(request).await;
    match session {
        None => {
            let opened = response
                .headers()
                .get(SESSION_HEADER)
                .and_then(|v| v.to_str().ok());
            if let Some(opened) = opened {
                owners.record(opened.to_owned(), principal.id.clone());
            }
        }
        Some(session) if deleting && response.status().is_success() => owners.forget(&session),
        Some(_) => {}
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_are_bounded_and_forgotten() {
        let owners = SessionOwners::default();
        owners.record("s1".into(), "alice".into());
        assert_eq!(owners.owner("s1").as_deref(), Some("alice"));
        owners.forget("s1");
        assert_eq!(owners.owner("s1"), None);
        for i in 0..=MAX_SESSIONS {
            owners.record(format!("s{i}"), "bob".into());
        }
        assert_eq!(owners.owner("s0"), None);
        assert_eq!(
            owners.owner(&format!("s{MAX_SESSIONS}")).as_deref(),
            Some("bob")
        );
    }
}
