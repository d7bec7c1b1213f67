//! The file parsers: plugin manifests, `warden.toml` and `warden.lock`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use warden::config::Config;
use warden::limits::{LimitBounds, LimitKind, Limits};
use warden::policy::lock::{self, Approval, LockFile, NewPlugins, Verdict};
use warden::policy::manifest::{DirMode, HttpOrigin, Manifest, PluginName};

const KINDS: [LimitKind; 5] = [
    LimitKind::Fuel,
    LimitKind::Memory,
    LimitKind::Timeout,
    LimitKind::MaxOutput,
    LimitKind::MaxLog,
];

/// The limits as comparable numbers (the timeout in nanoseconds).
fn numbers(limits: &Limits) -> [u128; 5] {
    [
        u128::from(limits.fuel),
        u128::from(limits.memory_bytes),
        limits.timeout.as_nanos(),
        u128::from(limits.max_output_bytes),
        u128::from(limits.max_log_bytes),
    ]
}

/// Every limit of `limits` is at most its ceiling.
fn assert_within(limits: &Limits, ceilings: &Limits, what: &str) {
    for ((kind, value), ceiling) in KINDS.iter().zip(numbers(limits)).zip(numbers(ceilings)) {
        assert!(
            value <= ceiling,
            "{what}: {kind} {value} is above its ceiling {ceiling}"
        );
    }
}

/// An error message starts with the file's path, as both error types promise.
fn assert_names_file(message: &str, path: &Path) {
    let path = path.display().to_string();
    assert!(
        message.starts_with(&path),
        "the error does not start with the file's path {path:?}: {message}"
    );
}

/// `NAME.toml` beside a component: parse, then check what a valid manifest
/// promises (a valid name, normal-form origins that parse back to
/// themselves, limits that resolve within the ceilings).
pub fn manifest(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("/plugins/fuzz.toml");
    let manifest = match Manifest::parse(text, path) {
        Ok(manifest) => manifest,
        Err(error) => {
            assert_eq!(error.path(), path);
            assert_names_file(&error.to_string(), path);
            return;
        }
    };
    assert_eq!(manifest.path.as_deref(), Some(path));
    let name = manifest.name.as_str();
    assert_eq!(
        name.parse::<PluginName>().ok().as_ref(),
        Some(&manifest.name)
    );
    for origin in &manifest.capabilities.http {
        let normal = origin.to_string();
        assert_eq!(
            normal.parse::<HttpOrigin>().ok().as_ref(),
            Some(origin),
            "origin {normal} does not parse back to itself"
        );
    }
    let bounds = LimitBounds::default();
    let (limits, _) = bounds.resolve(&manifest.limits);
    assert_within(&limits, &bounds.ceilings, "manifest limits");
    serde_json::to_string(&manifest).expect("a manifest serializes for `warden list --json`");
}

/// `warden.toml`: parse, then check that defaults never exceed ceilings and
/// that every plugin's limits resolve within the ceilings.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("/etc/warden/warden.toml");
    let config = match Config::parse(text, path) {
        Ok(config) => config,
        Err(error) => {
            assert_eq!(error.path(), path);
            assert_names_file(&error.to_string(), path);
            return;
        }
    };
    let bounds = &config.limits;
    assert_within(&bounds.defaults, &bounds.ceilings, "config defaults");
    assert!(config.max_concurrent_calls >= 1);
    assert!(config.max_wasm_stack.0 > 0);
    for plugin in config.policy.plugins.values() {
        let limits = bounds.defaults.with_overrides(&plugin.limits);
        assert_within(
            &limits.clamped_to(&bounds.ceilings),
            &bounds.ceilings,
            "plugin limits",
        );
    }
}

/// `warden.lock` as written, for the round trip.
#[derive(Serialize)]
struct RawLock<'a> {
    version: u32,
    plugins: BTreeMap<&'a str, &'a Approval>,
}

/// `warden.lock`: parse, then check that every approval survives a save and
/// load unchanged, approves itself, changes nothing against itself, and
/// never lets another request through beyond what it approved.
pub fn lock(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("/etc/warden/warden.lock");
    let lock = match LockFile::parse(text, path) {
        Ok(lock) => lock,
        Err(error) => {
            assert_names_file(&error.to_string(), path);
            return;
        }
    };
    // The plugin names, read independently of the lock parser.
    let table: toml::Table = toml::from_str(text).expect("a valid lock file is TOML");
    let names: Vec<&str> = table
        .get("plugins")
        .and_then(toml::Value::as_table)
        .map(|t| t.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let approvals: BTreeMap<&str, &Approval> = names
        .iter()
        .map(|name| {
            let approval = lock.get(name).expect("every [plugins.NAME] is in the lock");
            (*name, approval)
        })
        .collect();

    let written = toml::to_string(&RawLock {
        version: 1,
        plugins: approvals.clone(),
    })
    .expect("an approval serializes");
    let reread = LockFile::parse(&written, path)
        .unwrap_or_else(|e| panic!("a lock Warden writes does not load: {e}\n{written}"));
    for (name, approval) in &approvals {
        assert_eq!(reread.get(name), Some(*approval), "{name} changed on save");
        let requested = approval.capabilities();
        let review = lock::review(
            Some(*approval),
            &approval.sha256,
            &requested,
            NewPlugins::RequireApproval,
        );
        assert_eq!(
            review.verdict,
            Verdict::Approved,
            "{name} does not approve itself"
        );
        assert!(review.held.is_empty());
        assert!(lock::changes(Some(*approval), approval).is_empty());
    }
    // No silent escalation: what another plugin's approval asks for is only
    // granted as far as this approval covers it.
    for approval in approvals.values() {
        for other in approvals.values() {
            let review = lock::review(
                Some(*approval),
                "another component",
                &other.capabilities(),
                NewPlugins::TrustOnFirstUse,
            );
            let approved = approval.capabilities();
            for origin in &review.approved.http {
                assert!(
                    approved
                        .http
                        .iter()
                        .any(|a| warden::policy::grants::covers(a, origin)),
                    "{origin} granted beyond the approval"
                );
            }
            for var in &review.approved.env {
                assert!(
                    approved.env.contains(var),
                    "{var} granted beyond the approval"
                );
            }
            for dir in &review.approved.dirs {
                assert!(
                    approved.dirs.iter().any(|a| a.host == dir.host
                        && a.guest == dir.guest
                        && (a.mode == dir.mode || dir.mode == DirMode::ReadOnly)),
                    "{dir:?} granted beyond the approval"
                );
            }
        }
    }
}
