//! The lock's verdict on a plugin: what its approval covers, what is held
//! back, and whether it may load.

use super::{Approval, NewPlugins};
use crate::policy::grants::covers;
use crate::policy::manifest::{Capabilities, DirGrant, DirMode};

/// What the lock decides for one plugin at load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    /// The verdict.
    pub verdict: Verdict,
    /// What may be granted: the requests the approval covers.
    pub approved: Capabilities,
    /// What is requested but not approved; held back.
    pub held: Capabilities,
}

/// The lock's verdict on one plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The approval covers the request; the component is the approved one.
    Approved,
    /// The component changed but requests nothing new: the lock is updated.
    Updated,
    /// First sight, trusted on first use: the lock records it.
    TrustedOnFirstUse,
    /// The plugin requests more than was approved: the growth is held back.
    Held,
    /// First sight under `require-approval`: not loaded.
    NotApproved,
}

impl Verdict {
    /// A name for logs and the audit trail: `approved`, `updated`,
    /// `trusted_on_first_use`, `held` or `not_approved`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Approved => "approved",
            Verdict::Updated => "updated",
            Verdict::TrustedOnFirstUse => "trusted_on_first_use",
            Verdict::Held => "held",
            Verdict::NotApproved => "not_approved",
        }
    }

    /// Whether the lock should record the plugin's current request and hash
    /// once the plugin has loaded.
    pub fn records(self) -> bool {
        matches!(self, Verdict::Updated | Verdict::TrustedOnFirstUse)
    }
}

/// Decides what a plugin whose component hashes to `sha256` and whose
/// manifest requests `requested` may have, given its recorded `approval`.
pub fn review(
    approval: Option<&Approval>,
    sha256: &str,
    requested: &Capabilities,
    new_plugins: NewPlugins,
) -> Review {
    let Some(approval) = approval else {
        return match new_plugins {
            NewPlugins::TrustOnFirstUse => Review {
                verdict: Verdict::TrustedOnFirstUse,
                approved: requested.clone(),
                held: Capabilities::default(),
            },
            NewPlugins::RequireApproval => Review {
                verdict: Verdict::NotApproved,
                approved: Capabilities::default(),
                held: requested.clone(),
            },
        };
    };
    let (approved, held) = split(&approval.capabilities(), requested);
    let verdict = if !held.is_empty() {
        Verdict::Held
    } else if approval.sha256 != sha256 || !approval.records_exactly(sha256, requested) {
        Verdict::Updated
    } else {
        Verdict::Approved
    };
    Review {
        verdict,
        approved,
        held,
    }
}

/// Splits `requested` into what `approved` covers and what it does not. A
/// read-write directory approved read-only is covered read-only, and its
/// write access is held.
///
/// The request's HTTP settings (`http_max_requests`, `http_max_response`)
/// go with the covered origins: they grant no access of their own, and the
/// operator's settings and ceilings bound them when grants are resolved.
fn split(approved: &Capabilities, requested: &Capabilities) -> (Capabilities, Capabilities) {
    let mut covered = Capabilities {
        http_max_requests: requested.http_max_requests,
        http_max_response: requested.http_max_response,
        ..Capabilities::default()
    };
    let mut held = Capabilities::default();
    for origin in &requested.http {
        if approved.http.iter().any(|a| covers(a, origin)) {
            covered.http.push(origin.clone());
        } else {
            held.http.push(origin.clone());
        }
    }
    for var in &requested.env {
        if approved.env.contains(var) {
            covered.env.push(var.clone());
        } else {
            held.env.push(var.clone());
        }
    }
    for feature in &requested.client {
        if approved.client.contains(feature) {
            covered.client.push(*feature);
        } else {
            held.client.push(*feature);
        }
    }
    for credential in &requested.credentials {
        if approved.credentials.contains(credential) {
            covered.credentials.push(credential.clone());
        } else {
            held.credentials.push(credential.clone());
        }
    }
    for dir in &requested.dirs {
        let same = approved
            .dirs
            .iter()
            .find(|a| a.guest == dir.guest && a.host == dir.host);
        match same {
            Some(a) if a.mode == DirMode::ReadOnly && dir.mode == DirMode::ReadWrite => {
                covered.dirs.push(DirGrant {
                    mode: DirMode::ReadOnly,
                    ..dir.clone()
                });
                held.dirs.push(dir.clone());
            }
            Some(_) => covered.dirs.push(dir.clone()),
            None => held.dirs.push(dir.clone()),
        }
    }
    (covered, held)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::policy::lock::changes;
    use crate::policy::manifest::Manifest;

    fn requesting(credentials: &str) -> Capabilities {
        let text = format!(
            "manifest_version = 1\n[capabilities]\nhttp = [\"https://api.example.com\"]\n\
             credentials = [{credentials}]\n"
        );
        Manifest::parse(&text, Path::new("p.toml"))
            .unwrap()
            .capabilities
    }

    #[test]
    fn a_new_or_changed_credential_is_growth_held_until_approved() {
        let token = r#"{ name = "TOKEN", origin = "https://api.example.com", header = "authorization", format = "Bearer {}" }"#;
        let approval = Approval::new("aa".into(), &requesting(token));
        let same = review(
            Some(&approval),
            "bb",
            &requesting(token),
            NewPlugins::RequireApproval,
        );
        assert_eq!(same.verdict, Verdict::Updated);
        assert_eq!(same.approved.credentials.len(), 1);

        // The same name in another header (one the server might echo back)
        // is a new request, not the approved one.
        let moved = r#"{ name = "TOKEN", origin = "https://api.example.com", header = "x-echo" }"#;
        for grown in [
            moved.to_string(),
            format!("{token}, {}", moved.replace("TOKEN", "KEY")),
        ] {
            let held = review(
                Some(&approval),
                "aa",
                &requesting(&grown),
                NewPlugins::TrustOnFirstUse,
            );
            assert_eq!(held.verdict, Verdict::Held, "{grown}");
            assert_eq!(held.held.credentials.len(), 1, "{grown}");
            assert!(held.held.to_string().contains("in x-echo"), "{}", held.held);
        }

        let lines: Vec<String> = changes(
            Some(&approval),
            &Approval::new("aa".into(), &requesting(moved)),
        )
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(
            lines,
            [
                "+ credential TOKEN for https://api.example.com in x-echo: \"{}\"",
                "- credential TOKEN for https://api.example.com in authorization: \"Bearer {}\"",
            ]
        );
    }
}
