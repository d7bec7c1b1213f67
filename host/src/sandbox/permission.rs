//! Permission prompts: a plugin reached for a capability it was not granted
//! (an HTTP origin, or a directory its manifest requests that the lock does
//! not approve), the operator's policy lets the person decide
//! (`[policy] ask`), and the call's client can ask them (form elicitation).
//!
//! The question is an elicitation form under the host key
//! `warden.permission.N` (N counts the questions of the call) with three
//! answers: allow once (for the rest of this call), allow always (for this
//! call, and reported so the MCP layer records it in the lock file), or
//! deny. Anything else (decline, cancel, no answer within `client_wait`, an
//! error) denies. Each question counts against the call's
//! `max_client_requests` and `client_wait` like the plugin's own requests,
//! with the call's clock stopped while the person thinks; a target is asked
//! about at most once per call. Only the person's answer through the client
//! allows anything: the plugin and the model have no way to answer.
//!
//! On 2026-07-28 the question is an `input_required` round: the peer
//! returns [`PeerError::Deferred`], the asker fires its stop token and the
//! run ends as [`super::CallError::Deferred`]; the retry replays the call and
//! the question gets its answer from the sealed state.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::client::{ClientBudget, ClientPeer, ClientRequest, PeerError};
use super::deadline::Deadline;
use crate::observe::Permission;
use crate::policy::manifest::DirMode;

/// The prefix of the keys of permission questions.
pub const PERMISSION_KEY_PREFIX: &str = "warden.permission.";

/// What a question is about.
#[derive(Debug, Clone, Copy)]
pub(super) enum Target<'a> {
    /// An HTTP origin, `scheme://host:port`.
    Http(&'a str),
    /// A directory the manifest requests: its guest path, its host path as
    /// the manifest writes it, the access asked for, and whether it is
    /// granted read-only already.
    Dir {
        guest: &'a str,
        host: &'a std::path::Path,
        mode: DirMode,
        granted_read_only: bool,
    },
}

impl Target<'_> {
    /// The capability, as denials and audit records name it.
    fn capability(&self) -> &'static str {
        match self {
            Target::Http(_) => "http",
            Target::Dir { .. } => "fs",
        }
    }

    /// What is asked for: the origin, or the guest path.
    fn name(&self) -> &str {
        match self {
            Target::Http(origin) => origin,
            Target::Dir { guest, .. } => guest,
        }
    }
}

/// What the person answered about one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Answer {
    /// Allowed (once or always): the request may go out.
    Allowed,
    /// Not allowed, and why (for the denial).
    Refused(String),
    /// The run stops to ask between two runs.
    Deferred,
}

/// The permission questions of one call.
#[derive(Debug)]
pub(super) struct Asker {
    plugin: Arc<str>,
    tool: Option<Arc<str>>,
    peer: Arc<dyn ClientPeer>,
    budget: ClientBudget,
    deadline: Arc<Deadline>,
    /// Fired when the run must stop for an `input_required` round.
    stop: CancellationToken,
    /// Questions are asked one at a time, so a target is asked about once.
    asking: tokio::sync::Mutex<Asked>,
    /// The person's decisions, for the report.
    decisions: Mutex<Vec<Permission>>,
}

#[derive(Debug, Default)]
struct Asked {
    questions: u32,
    allowed: Vec<(&'static str, String)>,
    refused: Vec<(&'static str, String, String)>,
}

impl Asker {
    /// An asker for a call into `plugin` whose client is `peer`; `None` when
    /// the client cannot ask in form mode (then nothing asks).
    pub(super) fn new(
        plugin: Arc<str>,
        tool: Option<Arc<str>>,
        peer: Option<&Arc<dyn ClientPeer>>,
        budget: ClientBudget,
        deadline: Arc<Deadline>,
    ) -> Option<Arc<Self>> {
        let peer = peer.filter(|p| p.support().elicitation_form)?.clone();
        Some(Arc::new(Self {
            plugin,
            tool,
            peer,
            budget,
            deadline,
            stop: CancellationToken::new(),
            asking: tokio::sync::Mutex::default(),
            decisions: Mutex::default(),
        }))
    }

    /// Fired when the run must stop for an `input_required` round.
    pub(super) fn stopped(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// The person's decisions so far.
    pub(super) fn decisions(&self) -> Vec<Permission> {
        self.decisions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn decided(&self, target: Target<'_>, decision: &'static str) {
        self.decisions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Permission {
                capability: target.capability(),
                target: target.name().to_owned(),
                decision,
            });
    }

    /// Asks whether the plugin may reach `target` (`scheme://host:port`).
    pub(super) async fn http(&self, target: &str) -> Answer {
        self.ask(Target::Http(target)).await
    }

    /// Asks whether the plugin may reach `target`.
    pub(super) async fn ask(&self, target: Target<'_>) -> Answer {
        let (capability, name) = (target.capability(), target.name());
        let mut asked = self.asking.lock().await;
        if asked
            .allowed
            .iter()
            .any(|(c, t)| *c == capability && t == name)
        {
            return Answer::Allowed;
        }
        if let Some((.., why)) = asked
            .refused
            .iter()
            .find(|(c, t, _)| *c == capability && t == name)
        {
            return Answer::Refused(why.clone());
        }
        if let Err(error) = self.budget.take() {
            return Answer::Refused(format!(
                "the person could not be asked: {}",
                super::client::error_message(&error)
            ));
        }
        asked.questions += 1;
        let key = format!("{PERMISSION_KEY_PREFIX}{}", asked.questions);
        let request = question(&self.plugin, self.tool.as_deref(), target);
        let wait = self.budget.wait_left();
        let started = Instant::now();
        let answer = {
            let _paused = self.deadline.pause(wait);
            tokio::time::timeout(wait, self.peer.ask(vec![(key, request)])).await
        };
        self.budget.waited(started.elapsed());
        let (answer, decision) = match answer {
            Err(_) => (
                Answer::Refused(format!(
                    "the person was asked and did not answer within client_wait = {}",
                    humantime::format_duration(wait)
                )),
                "denied",
            ),
            Ok(mut answers) => match answers.pop() {
                Some(Err(PeerError::Deferred)) => {
                    self.decided(target, "asked");
                    self.stop.cancel();
                    return Answer::Deferred;
                }
                Some(Ok(result)) => match choice(&result) {
                    Some(decision @ ("once" | "always")) => (Answer::Allowed, decision),
                    _ => (
                        Answer::Refused("the person was asked and did not allow it".into()),
                        "denied",
                    ),
                },
                Some(Err(PeerError::Failed(message) | PeerError::Unsupported(message))) => {
                    return Answer::Refused(format!("asking the person failed: {message}"));
                }
                None => return Answer::Refused("the client gave no answer".into()),
            },
        };
        self.decided(target, decision);
        match &answer {
            Answer::Allowed => asked.allowed.push((capability, name.to_owned())),
            Answer::Refused(why) => asked
                .refused
                .push((capability, name.to_owned(), why.clone())),
            Answer::Deferred => {}
        }
        answer
    }
}

/// The person's choice in an elicitation result: `once`, `always` or
/// `deny`; `None` unless they accepted the form with one of them.
fn choice(result: &Value) -> Option<&'static str> {
    if result.get("action").and_then(Value::as_str) != Some("accept") {
        return None;
    }
    match result.pointer("/content/answer").and_then(Value::as_str)? {
        "once" => Some("once"),
        "always" => Some("always"),
        "deny" => Some("deny"),
        _ => None,
    }
}

/// The question: which plugin (and tool) wants to reach what.
pub(super) fn question(plugin: &str, tool: Option<&str>, target: Target<'_>) -> ClientRequest {
    let who = match tool {
        Some(tool) => format!("The plugin `{plugin}` (running `{tool}`)"),
        None => format!("The plugin `{plugin}`"),
    };
    let (message, title) = match target {
        Target::Http(origin) => (
            format!(
                "{who} wants to connect to {origin}, which it was not granted.\n\n\
                 Allow once: for this call only. Allow always: recorded in warden.lock for \
                 this plugin. Deny: the request fails."
            ),
            format!("Let {plugin} connect to {origin}?"),
        ),
        Target::Dir {
            guest,
            host,
            mode,
            granted_read_only,
        } => {
            let host = host.display().to_string();
            let host = crate::observe::render::escape(&host);
            let guest = crate::observe::render::escape(guest);
            let (wants, deny, title) = if granted_read_only {
                (
                    format!(
                        "wants to write to the directory `{host}` (seen by the plugin as \
                         {guest}), which it may only read: its manifest requests write access \
                         that warden.lock does not approve"
                    ),
                    "it stays read-only",
                    format!("Let {plugin} write to {guest}?"),
                )
            } else {
                let access = match mode {
                    DirMode::ReadOnly => "read",
                    DirMode::ReadWrite => "read and write",
                };
                (
                    format!(
                        "wants to {access} the directory `{host}` (seen by the plugin as \
                         {guest}), which its manifest requests but warden.lock does not approve"
                    ),
                    "the plugin cannot reach it",
                    format!("Let {plugin} {access} {guest}?"),
                )
            };
            (
                format!(
                    "{who} {wants}.\n\nAllow once: for this call only. Allow always: \
                     approved in warden.lock for this plugin. Deny: {deny}."
                ),
                title,
            )
        }
    };
    let choices = json!({
        "type": "string",
        "title": title,
        "oneOf": [
            {"const": "once", "title": "Allow once"},
            {"const": "always", "title": "Allow always"},
            {"const": "deny", "title": "Deny"},
        ],
        "default": "deny",
    });
    ClientRequest::form(message, "answer", choices)
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::time::Duration;

    use super::super::client::ClientSupport;

    /// A client that answers every question with `answer` (`None`: it
    /// declines), or defers; counts the questions.
    #[derive(Debug)]
    struct Person {
        answer: Option<&'static str>,
        defer: bool,
        asked: Mutex<Vec<(String, ClientRequest)>>,
    }

    #[async_trait::async_trait]
    impl ClientPeer for Person {
        fn support(&self) -> ClientSupport {
            ClientSupport {
                elicitation_form: true,
                ..ClientSupport::default()
            }
        }

        async fn ask(&self, batch: Vec<(String, ClientRequest)>) -> Vec<Result<Value, PeerError>> {
            self.asked.lock().unwrap().extend(batch.iter().cloned());
            batch
                .iter()
                .map(|_| {
                    if self.defer {
                        return Err(PeerError::Deferred);
                    }
                    Ok(match self.answer {
                        Some(answer) => json!({"action": "accept", "content": {"answer": answer}}),
                        None => json!({"action": "decline"}),
                    })
                })
                .collect()
        }
    }

    fn asker(
        answer: Option<&'static str>,
        defer: bool,
        limits: &crate::limits::Limits,
    ) -> (Arc<Asker>, Arc<Person>) {
        let person = Arc::new(Person {
            answer,
            defer,
            asked: Mutex::default(),
        });
        let peer: Arc<dyn ClientPeer> = person.clone();
        let deadline = Arc::new(Deadline::new(Instant::now(), Duration::from_secs(10)));
        let asker = Asker::new(
            "fetch".into(),
            Some("fetch_get".into()),
            Some(&peer),
            ClientBudget::new(limits),
            deadline,
        )
        .unwrap();
        (asker, person)
    }

    #[tokio::test]
    async fn each_target_is_asked_once_per_call() {
        let limits = crate::limits::Limits::default();
        let (asker, person) = asker(Some("once"), false, &limits);
        assert_eq!(asker.http("https://a.example:443").await, Answer::Allowed);
        assert_eq!(asker.http("https://a.example:443").await, Answer::Allowed);
        assert_eq!(asker.http("https://b.example:443").await, Answer::Allowed);
        let asked = person.asked.lock().unwrap().clone();
        let keys: Vec<&str> = asked.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["warden.permission.1", "warden.permission.2"]);
        let message = asked[0].1.params["message"].as_str().unwrap();
        assert!(
            message.contains("`fetch` (running `fetch_get`)"),
            "{message}"
        );
        assert!(message.contains("https://a.example:443"), "{message}");
        let decisions: Vec<&str> = asker.decisions().iter().map(|d| d.decision).collect();
        assert_eq!(decisions, ["once", "once"]);
    }

    #[tokio::test]
    async fn anything_but_allow_denies_and_is_remembered() {
        let limits = crate::limits::Limits::default();
        for answer in [None, Some("deny"), Some("sure")] {
            let (asker, person) = asker(answer, false, &limits);
            let Answer::Refused(why) = asker.http("http://10.0.0.1:80").await else {
                panic!("{answer:?} allowed");
            };
            assert!(why.contains("did not allow"), "{why}");
            assert!(matches!(
                asker.http("http://10.0.0.1:80").await,
                Answer::Refused(_)
            ));
            assert_eq!(person.asked.lock().unwrap().len(), 1);
            assert_eq!(asker.decisions()[0].decision, "denied");
        }
    }

    #[tokio::test]
    async fn questions_count_against_max_client_requests() {
        let limits = crate::limits::Limits {
            max_client_requests: 1,
            ..crate::limits::Limits::default()
        };
        let (asker, person) = asker(Some("always"), false, &limits);
        assert_eq!(asker.http("https://a.example:443").await, Answer::Allowed);
        let Answer::Refused(why) = asker.http("https://b.example:443").await else {
            panic!("asked past the cap");
        };
        assert!(why.contains("max_client_requests = 1"), "{why}");
        assert_eq!(person.asked.lock().unwrap().len(), 1);
        assert_eq!(asker.decisions()[0].decision, "always");
    }

    #[tokio::test]
    async fn a_round_stops_the_run() {
        let limits = crate::limits::Limits::default();
        let (asker, _) = asker(None, true, &limits);
        let stopped = asker.stopped();
        assert_eq!(asker.http("https://a.example:443").await, Answer::Deferred);
        assert!(stopped.is_cancelled());
        assert_eq!(asker.decisions()[0].decision, "asked");
    }
}
