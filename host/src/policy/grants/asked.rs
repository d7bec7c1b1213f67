//! Directories the person may be asked about: requested by the manifest,
//! allowed by the operator's policy, but not approved in the lock (an
//! update's growth, held back), under `[policy] ask`.
//!
//! Each is opened and checked at load like a grant. One that overlaps
//! another directory (granted or held, of any plugin) where either may be
//! written, or a read-write one that contains Warden's own files, is not
//! asked about ([`asked_conflict`]): a request the operator has not approved
//! never refuses a plugin. The sandbox shows the rest to the plugin at their
//! guest paths and asks the person when the plugin first reaches into one
//! (`sandbox/asked_dirs.rs`).

use std::path::Path;

use serde::Serialize;

use super::dirs::overlap;
use super::{
    DirClaim, DirPreopen, GrantError, Grants, WorkspaceRoot, dir_refusal, protected_inside,
    write_refusal,
};
use crate::policy::manifest::{DirGrant, DirMode};
use crate::policy::operator::OperatorPolicy;

/// A held directory the person may be asked about.
#[derive(Debug, Clone, Serialize)]
pub struct AskedDir {
    /// The directory, opened at load, with the mode an answer of "allow"
    /// grants.
    pub dir: DirPreopen,
    /// The manifest's request: what "allow always" records in the lock.
    #[serde(skip)]
    pub request: DirGrant,
    /// Whether the directory is granted read-only already, so only its
    /// write access is asked about.
    pub granted_read_only: bool,
}

impl AskedDir {
    /// Whether `other` asks about the same directory the same way.
    pub fn same_as(&self, other: &Self) -> bool {
        self.dir.same_grant(&other.dir)
            && self.request == other.request
            && self.granted_read_only == other.granted_read_only
    }
}

/// The directories of `held` (requests the lock does not approve) that the
/// person may be asked about, given what `grants` already grants; with a
/// notice for each held directory that cannot be asked about.
pub fn asked_dirs(
    held: &[DirGrant],
    grants: &Grants,
    policy: &OperatorPolicy,
    plugin: &str,
    workspace_root: &Path,
) -> Result<(Vec<AskedDir>, Vec<String>), GrantError> {
    let mut asked = Vec::new();
    let mut notices = Vec::new();
    if held.is_empty() || !policy.asks_about_dirs(plugin) {
        return Ok((asked, notices));
    }
    let mut root = WorkspaceRoot::new(workspace_root);
    for (index, dir) in held.iter().enumerate() {
        let guest = dir.guest.as_str();
        let mut skip =
            |why: String| notices.push(format!("directory {guest} is not asked about: {why}"));
        if let Some(why) = dir_refusal(policy, plugin, dir) {
            skip(why);
            continue;
        }
        let granted = grants.dirs.iter().find(|g| g.guest == guest);
        let granted_read_only = match granted {
            None => false,
            Some(g) if g.mode == DirMode::ReadOnly && dir.mode == DirMode::ReadWrite => true,
            Some(_) => {
                skip("another directory is granted at the same guest path".into());
                continue;
            }
        };
        let mut mode = dir.mode;
        if mode == DirMode::ReadWrite
            && let Some(why) = write_refusal(policy, plugin)
        {
            if granted_read_only {
                skip(format!("its write access is refused: {why}"));
                continue;
            }
            mode = DirMode::ReadOnly;
        }
        let opened = root.open(dir, format!("held capabilities.dirs[{index}].host"));
        match opened {
            Ok(opened) => asked.push(AskedDir {
                dir: opened.with_mode(mode),
                request: dir.clone(),
                granted_read_only,
            }),
            Err(error) => skip(error.to_string()),
        }
    }
    Ok((asked, notices))
}

/// Why `asked`, a held directory of `plugin`, may not be asked about: it
/// overlaps a directory of `claims` (granted or held, of any plugin; not
/// its own grant of the same guest path) where either may be written, or it
/// is read-write and contains one of Warden's `protected` paths.
pub fn asked_conflict(
    plugin: &str,
    asked: &DirPreopen,
    claims: &[DirClaim<'_>],
    protected: &[std::path::PathBuf],
) -> Option<String> {
    if asked.mode == DirMode::ReadWrite
        && let Some(own) = protected_inside(asked, protected)
    {
        return Some(format!(
            "it contains {}, which belongs to Warden",
            own.display()
        ));
    }
    claims
        .iter()
        .filter(|c| !std::ptr::eq(c.dir, asked))
        .filter(|c| !(c.plugin == plugin && c.dir.guest == asked.guest))
        .find(|c| {
            (asked.mode == DirMode::ReadWrite || c.dir.mode == DirMode::ReadWrite)
                && overlap(asked, c.dir)
        })
        .map(|c| {
            let whose = if c.plugin == plugin {
                "its own".to_string()
            } else {
                format!("plugin `{}`'s", c.plugin)
            };
            format!(
                "it overlaps {whose} {} directory {}, and one of the two may be written",
                c.dir.mode.as_str(),
                c.dir.host.display()
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::manifest::GuestPath;
    use crate::policy::operator::PluginPolicy;

    fn request(host: &str, guest: &str, mode: DirMode) -> DirGrant {
        DirGrant {
            host: host.into(),
            guest: guest.parse::<GuestPath>().unwrap(),
            mode,
        }
    }

    fn asking(plugin: Option<PluginPolicy>) -> OperatorPolicy {
        let mut policy = OperatorPolicy {
            ask: true,
            ..OperatorPolicy::default()
        };
        if let Some(plugin) = plugin {
            policy.plugins.insert("p".into(), plugin);
        }
        policy
    }

    #[test]
    fn held_directories_are_asked_about_only_under_ask_and_within_the_policy() {
        let root = tempfile::tempdir().unwrap();
        for dir in ["notes", "out", "gone"] {
            std::fs::create_dir(root.path().join(dir)).unwrap();
        }
        std::fs::remove_dir(root.path().join("gone")).unwrap();
        let held = [
            request("notes", "/notes", DirMode::ReadOnly),
            request("out", "/out", DirMode::ReadWrite),
            request("gone", "/gone", DirMode::ReadOnly),
        ];
        let grants = Grants::default();

        let (none, notices) =
            asked_dirs(&held, &grants, &OperatorPolicy::default(), "p", root.path()).unwrap();
        assert!(none.is_empty() && notices.is_empty());

        let (asked, notices) = asked_dirs(&held, &grants, &asking(None), "p", root.path()).unwrap();
        let guests: Vec<(&str, DirMode)> = asked
            .iter()
            .map(|a| (a.dir.guest.as_str(), a.dir.mode))
            .collect();
        assert_eq!(
            guests,
            [("/notes", DirMode::ReadOnly), ("/out", DirMode::ReadWrite)]
        );
        assert_eq!(notices.len(), 1, "{notices:?}");
        assert!(notices[0].starts_with("directory /gone is not asked about: "));

        // The operator's list and write refusal bound what may be asked.
        let mut narrowed = asking(Some(PluginPolicy {
            dirs: Some(vec!["/out".parse().unwrap()]),
            ..PluginPolicy::default()
        }));
        narrowed.allow_write = false;
        let (asked, notices) = asked_dirs(&held, &grants, &narrowed, "p", root.path()).unwrap();
        assert_eq!(asked.len(), 1);
        assert_eq!(asked[0].dir.mode, DirMode::ReadOnly, "write is refused");
        assert!(notices[0].contains("not in plugins.p.dirs"), "{notices:?}");
    }

    #[test]
    fn a_read_only_grant_is_asked_about_for_its_write_access_only() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("out")).unwrap();
        let held = [request("out", "/out", DirMode::ReadWrite)];
        let grants = Grants {
            dirs: vec![
                DirPreopen::open_absolute(&root.path().join("out"), "/out", DirMode::ReadOnly)
                    .unwrap(),
            ],
            ..Grants::default()
        };
        let (asked, _) = asked_dirs(&held, &grants, &asking(None), "p", root.path()).unwrap();
        assert_eq!(asked.len(), 1);
        assert!(asked[0].granted_read_only);
        assert_eq!(asked[0].dir.mode, DirMode::ReadWrite);

        let (asked, notices) = asked_dirs(
            &held,
            &grants,
            &asking(Some(PluginPolicy {
                read_only: true,
                ..PluginPolicy::default()
            })),
            "p",
            root.path(),
        )
        .unwrap();
        assert!(asked.is_empty());
        assert!(
            notices[0].contains("its write access is refused"),
            "{notices:?}"
        );
    }

    #[test]
    fn a_held_directory_that_overlaps_another_is_not_asked_about() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("out/inner")).unwrap();
        let open = |rel: &str, guest: &str, mode| {
            DirPreopen::open_absolute(&root.path().join(rel), guest, mode).unwrap()
        };
        let claim = |plugin, dir| DirClaim { plugin, dir };
        let asked = open("out", "/out", DirMode::ReadWrite);
        // Its own read-only grant of the same directory is what it upgrades.
        let own = open("out", "/out", DirMode::ReadOnly);
        let claims = [claim("p", &own), claim("p", &asked)];
        assert_eq!(asked_conflict("p", &asked, &claims, &[]), None);

        // Another plugin's directory inside it, granted or held.
        let inner = open("out/inner", "/inner", DirMode::ReadOnly);
        let claims = [claim("p", &asked), claim("q", &inner)];
        let why = asked_conflict("p", &asked, &claims, &[]).unwrap();
        assert!(why.contains("plugin `q`'s ro directory"), "{why}");
        // The read-only one held inside another's read-write grant.
        let writer = open("out", "/w", DirMode::ReadWrite);
        let claims = [claim("q", &writer), claim("p", &inner)];
        assert!(asked_conflict("p", &inner, &claims, &[]).is_some());
        // Two read-only directories may overlap.
        let reader = open("out", "/r", DirMode::ReadOnly);
        let claims = [claim("q", &reader), claim("p", &inner)];
        assert_eq!(asked_conflict("p", &inner, &claims, &[]), None);
        // Warden's own files.
        let protected = [root.path().join("out/inner/warden.lock")];
        let why = asked_conflict("p", &asked, &[], &protected).unwrap();
        assert!(why.contains("belongs to Warden"), "{why}");
    }
}
