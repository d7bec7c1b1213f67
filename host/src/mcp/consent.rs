//! The person's confirmation of a risky tool call, asked before the plugin
//! runs (what needs it is decided in [`crate::policy::consent`]).
//!
//! The question is an elicitation form sent through the call's client, under
//! the key [`CONSENT_KEY`]: during the call on 2025-11-25, in an
//! `input_required` round on 2026-07-28 (where the answer is only taken from
//! a retry whose sealed state shows the question was asked, for this tool,
//! these arguments, within `client_wait`). Only the person's answer through
//! the client allows the call: a client that cannot ask gets
//! `consent_required`, and nothing the model sends can stand in for it.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::policy::consent::Claims;
use crate::sandbox::{ClientPeer, ClientRequest, PeerError};

/// The key of the consent question among a call's requests to its client.
pub const CONSENT_KEY: &str = "warden.consent";

/// Arguments shown in the question, at most.
const MAX_SHOWN_ARGUMENTS: usize = 20;
/// Characters of one argument's value shown, at most.
const MAX_SHOWN_VALUE: usize = 200;

/// What the person decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// They allowed the call.
    Approved,
    /// They declined, dismissed the question, or did not answer in time.
    Declined(String),
    /// The client cannot ask them.
    Required(String),
    /// The run stops to ask between rounds (2026-07-28).
    Deferred,
}

impl Decision {
    /// The audit's name for it.
    pub fn label(&self) -> &'static str {
        match self {
            Decision::Approved => "approved",
            Decision::Declined(_) => "declined",
            Decision::Required(_) => "required",
            Decision::Deferred => "asked",
        }
    }
}

/// What the annotations of `tool` claim.
pub fn claims(tool: &rmcp::model::Tool) -> Claims {
    let annotations = tool.annotations.as_ref();
    Claims {
        read_only: annotations.and_then(|a| a.read_only_hint) == Some(true),
        destructive: annotations.and_then(|a| a.destructive_hint) == Some(true),
    }
}

/// The question: which tool, and a readable summary of its arguments, each
/// value JSON-encoded (so no argument can forge a line of the question) and
/// cut short.
pub fn question(tool: &str, arguments: &Value) -> ClientRequest {
    let mut lines = Vec::new();
    if let Some(object) = arguments.as_object() {
        for (name, value) in object.iter().take(MAX_SHOWN_ARGUMENTS) {
            let shown = value.to_string();
            let shown = match shown.char_indices().nth(MAX_SHOWN_VALUE) {
                Some((cut, _)) => format!("{}… ({} characters)", &shown[..cut], shown.len()),
                None => shown,
            };
            lines.push(format!("- {}: {shown}", json!(name)));
        }
        if object.len() > MAX_SHOWN_ARGUMENTS {
            lines.push(format!(
                "- ... and {} more",
                object.len() - MAX_SHOWN_ARGUMENTS
            ));
        }
    }
    let summary = if lines.is_empty() {
        "It takes no arguments.".to_owned()
    } else {
        format!("With:\n{}", lines.join("\n"))
    };
    let message = format!(
        "Allow the tool `{tool}` to run? It can change things outside this conversation.\n\n\
         {summary}"
    );
    let allow = json!({
        "type": "boolean",
        "title": "Allow this call",
        "default": false,
    });
    ClientRequest::form(message, "allow", allow)
}

/// Asks the person through `peer`, waiting at most `wait`.
pub async fn ask(
    peer: Option<&Arc<dyn ClientPeer>>,
    tool: &str,
    plugin: &str,
    local_tool: &str,
    arguments: &Value,
    wait: Duration,
) -> Decision {
    let how_to_allow = format!(
        "To let it run without asking, add it to auto_approve in warden.toml: \
         [plugins.{plugin}] auto_approve = [\"{local_tool}\"]"
    );
    let Some(peer) = peer.filter(|p| p.support().elicitation_form) else {
        return Decision::Required(format!(
            "`{tool}` needs the person's confirmation before it runs, and this client cannot \
             ask them (it did not declare elicitation in form mode). {how_to_allow}"
        ));
    };
    let request = vec![(CONSENT_KEY.to_owned(), question(tool, arguments))];
    let answer = match tokio::time::timeout(wait, peer.ask(request)).await {
        Err(_) => {
            return Decision::Declined(format!(
                "nobody confirmed `{tool}` within client_wait = {}, so it did not run",
                humantime::format_duration(wait)
            ));
        }
        Ok(mut answers) => answers.pop(),
    };
    match answer {
        Some(Err(PeerError::Deferred)) => Decision::Deferred,
        Some(Ok(result)) => {
            let accepted = result.get("action").and_then(Value::as_str) == Some("accept");
            let allowed = result.pointer("/content/allow").and_then(Value::as_bool) == Some(true);
            if accepted && allowed {
                Decision::Approved
            } else {
                Decision::Declined(format!(
                    "the person did not allow `{tool}` to run, so it did not run"
                ))
            }
        }
        Some(Err(PeerError::Failed(message) | PeerError::Unsupported(message))) => {
            Decision::Required(format!(
                "`{tool}` needs the person's confirmation before it runs, and asking failed \
                 ({message}). {how_to_allow}"
            ))
        }
        None => Decision::Required(format!(
            "`{tool}` needs the person's confirmation before it runs, and the client gave no \
             answer. {how_to_allow}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_question_names_the_tool_and_encodes_each_argument() {
        let long = "x".repeat(500);
        let question = question(
            "files_write",
            &json!({"path": "/data/a.txt", "content": long, "evil": "ok\n- allow: true"}),
        );
        let message = question.params["message"].as_str().unwrap();
        assert!(message.contains("`files_write`"), "{message}");
        assert!(message.contains(r#"- "path": "/data/a.txt""#), "{message}");
        assert!(message.contains("(502 characters)"), "{message}");
        // A newline in a value stays escaped: it cannot start a line.
        assert!(message.contains(r#""ok\n- allow: true""#), "{message}");
        assert_eq!(question.params["requestedSchema"]["required"][0], "allow");
    }
}
