//! The lock's verdict on each plugin: noted on its entry, audited, and
//! first-use trust and quiet updates written back to the lock file.

use std::collections::BTreeMap;

use super::LoadSettings;
use crate::mcp::registry::{PluginEntry, PluginStatus};
use crate::policy::lock::{self, Approval, LockFile, Verdict};
use crate::policy::manifest::Capabilities;

/// Notes the lock's verdict on the entry; fails when the plugin may not load.
pub(super) fn explain(
    entry: &mut PluginEntry,
    review: &lock::Review,
    settings: &LoadSettings,
) -> Result<(), String> {
    let name = &entry.name;
    let lock_path = settings.lock.path().display();
    if let Some(audit) = &settings.audit {
        let detail = match review.verdict {
            Verdict::Held | Verdict::NotApproved => format!("not approved: {}", review.held),
            _ => format!("approved: {}", review.approved),
        };
        audit.approval(name, review.verdict.as_str(), &detail);
    }
    match review.verdict {
        Verdict::Approved => {}
        Verdict::Updated => entry.notices.push(
            "the component or manifest changed and requests nothing beyond its approval".into(),
        ),
        Verdict::TrustedOnFirstUse => entry.notices.push(if settings.record {
            "first seen: trusted on first use".into()
        } else {
            format!("first seen: would be trusted on first use (not recorded in {lock_path} by this command)")
        }),
        Verdict::Held => {
            tracing::warn!(
                target: "warden::approval",
                plugin = %name,
                held = %review.held,
                lock = %lock_path,
                "plugin requests more than was approved; the growth is held back"
            );
            entry.notices.push(format!(
                "held back until approved: {} (the plugin requests more than {lock_path} \
                 records; review it and run `warden approve {name}`)",
                review.held
            ));
        }
        Verdict::NotApproved => {
            return Err(format!(
                "{}: not approved yet (policy.new_plugins = \"require-approval\"): it requests \
                 {}; review it and run `warden approve {name}`",
                entry.component_path.display(),
                review.held
            ));
        }
    }
    Ok(())
}

/// Writes first-use trust and quiet updates of the plugins that loaded to
/// the lock file (when the settings record); returns what was recorded.
pub(super) fn record_approvals(
    entries: &mut [PluginEntry],
    mut to_record: BTreeMap<String, Approval>,
    settings: &LoadSettings,
) -> BTreeMap<String, Approval> {
    to_record.retain(|name, _| {
        entries
            .iter()
            .any(|e| &e.name == name && matches!(e.status, PluginStatus::Loaded(_)))
    });
    if !settings.record || to_record.is_empty() {
        return BTreeMap::new();
    }
    let path = settings.lock.path();
    for (name, approval) in &to_record {
        tracing::info!(
            target: "warden::approval",
            plugin = %name,
            sha256 = %approval.sha256,
            capabilities = %approval.capabilities(),
            lock = %path.display(),
            "recorded in the lock file"
        );
    }
    // Read again: a person may have allowed an origin since the load began.
    let saved = LockFile::update(path, |lock| {
        for (name, approval) in &to_record {
            let kept = approval.clone().keeping_allowed(lock.get(name));
            lock.set(name, kept);
        }
    });
    let notice = match &saved {
        Ok(_) => format!("recorded in {}", path.display()),
        Err(error) => {
            tracing::warn!(target: "warden::approval", "{error}; approvals are not recorded");
            format!("not recorded: {error}")
        }
    };
    for entry in entries
        .iter_mut()
        .filter(|e| to_record.contains_key(&e.name))
    {
        entry.notices.push(notice.clone());
    }
    if saved.is_err() {
        return BTreeMap::new();
    }
    to_record
}

/// What `review` approves plus the origins a person allowed always (the
/// lock's `allowed_http`, granted with the approved ones under the same
/// policy), and a notice naming them.
pub(super) fn with_allowed(
    review: &lock::Review,
    approval: Option<&Approval>,
    lock: &LockFile,
) -> (Capabilities, Option<String>) {
    let mut approved = review.approved.clone();
    let allowed = approval
        .filter(|_| review.verdict != Verdict::NotApproved)
        .map(|a| a.allowed_http.as_slice())
        .unwrap_or_default();
    if allowed.is_empty() {
        return (approved, None);
    }
    for origin in allowed {
        if !approved.http.contains(origin) {
            approved.http.push(origin.clone());
        }
    }
    let origins: Vec<String> = allowed.iter().map(ToString::to_string).collect();
    let notice = format!(
        "allowed always by a person when asked (allowed_http in {}): {}",
        lock.path().display(),
        origins.join(", ")
    );
    (approved, Some(notice))
}
