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
