//! What changed between two approvals, for `warden approve`.

use std::fmt;

use super::Approval;

/// One line of what approving a plugin changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The component file is not the approved one.
    Component {
        /// The approved hash; `None` on first approval.
        from: Option<String>,
        /// The current hash.
        to: String,
    },
    /// A capability the current manifest requests that was not approved.
    Added(String),
    /// A capability that was approved and is no longer requested.
    Removed(String),
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Component { from: None, to } => write!(f, "component sha256 {to}"),
            Change::Component {
                from: Some(from),
                to,
            } => {
                write!(f, "component sha256 {from} -> {to}")
            }
            Change::Added(what) => write!(f, "+ {what}"),
            Change::Removed(what) => write!(f, "- {what}"),
        }
    }
}

/// Everything that approving `new` in place of `old` changes, in a stable
/// order: the component, then each capability added or removed.
pub fn changes(old: Option<&Approval>, new: &Approval) -> Vec<Change> {
    let mut out = Vec::new();
    if old.map(|o| &o.sha256) != Some(&new.sha256) {
        out.push(Change::Component {
            from: old.map(|o| o.sha256.clone()),
            to: new.sha256.clone(),
        });
    }
    let before = old.map(capability_lines).unwrap_or_default();
    let after = capability_lines(new);
    out.extend(
        after
            .iter()
            .filter(|line| !before.contains(line))
            .map(|line| Change::Added(line.clone())),
    );
    out.extend(
        before
            .iter()
            .filter(|line| !after.contains(line))
            .map(|line| Change::Removed(line.clone())),
    );
    out
}

/// One line per capability of an approval, e.g. `http https://example.com`,
/// `env API_TOKEN`, `dir docs -> /docs (ro)`, `client sampling`,
/// `credential TOKEN for https://api.github.com in authorization: "Bearer {}"`.
fn capability_lines(approval: &Approval) -> Vec<String> {
    let http = approval.http.iter().map(|o| format!("http {o}"));
    let env = approval.env.iter().map(|v| format!("env {v}"));
    let dirs = approval
        .dirs
        .iter()
        .map(|d| format!("dir {} -> {} ({})", d.host.display(), d.guest, d.mode));
    let client = approval.client.iter().map(|c| format!("client {c}"));
    let credentials = approval
        .credentials
        .iter()
        .map(|c| format!("credential {c}"));
    http.chain(env)
        .chain(dirs)
        .chain(client)
        .chain(credentials)
        .collect()
}
