//! A client whose person answers every elicitation form the same way, for
//! the tests of the host's own questions (consent, permission prompts).

use std::sync::{Arc, Mutex};

use rmcp::model::{
    ClientCapabilities, ClientConfig, ElicitRequestParams, ElicitResult, ElicitationAction,
    ErrorData, ProtocolVersion,
};
use rmcp::service::RequestContext;
use rmcp::{ClientHandler, RoleClient};
use serde_json::{Value, json};

/// Accepts every form with `content` (declines when `None`), and keeps the
/// questions; declares form elicitation unless `elicitation` is false.
#[derive(Debug, Clone)]
pub(crate) struct Person {
    pub(crate) elicitation: bool,
    content: Option<Value>,
    pub(crate) version: ProtocolVersion,
    asked: Arc<Mutex<Vec<Value>>>,
}

impl Person {
    /// A person who accepts with `content`, or declines; on 2025-11-25.
    pub(crate) fn new(content: Option<Value>) -> Self {
        Self {
            elicitation: true,
            content,
            version: ProtocolVersion::V_2025_11_25,
            asked: Arc::default(),
        }
    }

    /// The questions so far, as sent.
    pub(crate) fn asked(&self) -> Vec<Value> {
        self.asked.lock().unwrap().clone()
    }
}

impl ClientHandler for Person {
    fn get_info(&self) -> ClientConfig {
        let capabilities: ClientCapabilities = if self.elicitation {
            serde_json::from_value(json!({"elicitation": {"form": {}}})).unwrap()
        } else {
            ClientCapabilities::default()
        };
        crate::support::client_config("warden-e2e-person", capabilities, self.version.clone())
    }

    async fn create_elicitation(
        &self,
        params: ElicitRequestParams,
        _: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        self.asked
            .lock()
            .unwrap()
            .push(serde_json::to_value(&params).unwrap());
        Ok(match &self.content {
            Some(content) => {
                let mut result = ElicitResult::new(ElicitationAction::Accept);
                result.content = Some(content.clone());
                result
            }
            None => ElicitResult::new(ElicitationAction::Decline),
        })
    }
}
