//! Routable session ids: rmcp's in-memory sessions, with this replica's
//! name in front of every session id it opens (`warden-0.3f2b…`), so a
//! proxy in front of several replicas can send a 2025-11-25 session's
//! requests to the replica that holds it by reading `Mcp-Session-Id`, with
//! no table of its own. The rest of the id is 128 random bits (hex), which
//! is what makes it unguessable; the prefix is the operator's name for the
//! replica, not a secret.
//! Everything else is `LocalSessionManager`'s.

use futures_core::Stream;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::WorkerTransport;
use rmcp::transport::streamable_http_server::session::local::{
    LocalSessionManager, LocalSessionManagerError, LocalSessionWorker, create_local_session,
};
use rmcp::transport::streamable_http_server::session::{
    ServerSseMessage, SessionId, SessionManager,
};

use super::settings::ReplicaId;

/// Sessions whose ids start with `REPLICA.` when a replica id is set.
#[derive(Debug, Default)]
pub struct Sessions {
    replica: Option<ReplicaId>,
    local: LocalSessionManager,
}

impl Sessions {
    /// Sessions named after `replica` (plain UUIDs without one).
    pub fn new(replica: Option<ReplicaId>) -> Self {
        Self {
            replica,
            local: LocalSessionManager::default(),
        }
    }

    /// A new session id: `REPLICA.RANDOM`, or the random part alone.
    fn new_id(&self) -> SessionId {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).expect("the system's random source works");
        let random: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        match &self.replica {
            Some(replica) => format!("{}.{random}", replica.as_str()).into(),
            None => random.into(),
        }
    }
}

impl SessionManager for Sessions {
    type Error = LocalSessionManagerError;
    type Transport = WorkerTransport<LocalSessionWorker>;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
        let id = self.new_id();
        let (handle, worker) = create_local_session(id.clone(), self.local.session_config.clone());
        self.local.sessions.write().await.insert(id.clone(), handle);
        Ok((id, WorkerTransport::spawn(worker)))
    }

    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, Self::Error> {
        self.local.initialize_session(id, message).await
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        self.local.has_session(id).await
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        self.local.close_session(id).await
    }

    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.local.create_stream(id, message).await
    }

    async fn accept_message(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<(), Self::Error> {
        self.local.accept_message(id, message).await
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.local.create_standalone_stream(id).await
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.local.resume(id, last_event_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_lead_with_the_replica() {
        let named = Sessions::new(Some("warden-1".parse().unwrap()));
        let id = named.new_id();
        let (replica, random) = id.split_once('.').unwrap();
        assert_eq!(replica, "warden-1");
        let hex = |s: &str| s.len() == 32 && s.chars().all(|c| c.is_ascii_hexdigit());
        assert!(hex(random), "{id}");
        assert_ne!(named.new_id(), id);
        let plain = Sessions::new(None).new_id();
        assert!(hex(&plain), "{plain}");
    }
}
