//! `warden doctor` and `warden config --client`: the set-up checks and the
//! MCP clients' configuration, with real files in a temporary home.

use std::path::Path;

use serde_json::Value;

use crate::support::{Plugins, WARDEN, list_json, warden_in};

/// Runs `warden ARGS` in `cwd` with HOME (and XDG_CONFIG_HOME) at `home`:
/// (success, stdout, stderr).
fn run(args: &[&str], cwd: &Path, home: &Path) -> (bool, String, String) {
    let home = home.to_str().unwrap();
    let xdg = format!("{home}/.config");
    let out = warden_in(args, cwd, &[("HOME", home), ("XDG_CONFIG_HOME", &xdg)]);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The line of `check` in a report, if any.
fn lines<'a>(report: &'a str, check: &str) -> Vec<&'a str> {
    report
        .lines()
        .filter(|l| l.get(5..).is_some_and(|rest| rest.starts_with(check)))
        .collect()
}

/// Runs `warden doctor ARGS` in `cwd` (with the real home: rustup and the
/// toolchains live there): (success, stdout, stderr).
fn doctor(args: &[&str], cwd: &Path) -> (bool, String, String) {
    let mut all = vec!["doctor"];
    all.extend_from_slice(args);
    let out = warden_in(&all, cwd, &[]);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn doctor_passes_a_good_set_up_and_names_the_fix_for_each_problem() {
    let cwd = tempfile::tempdir().unwrap();
    let plugins = Plugins::new().examples();
    let dir = plugins.path().to_str().unwrap();
    let (ok, report, stderr) = doctor(&["--plugins", dir, "--http", "127.0.0.1:0"], cwd.path());
    assert!(ok, "{report}\n{stderr}");
    assert!(lines(&report, "config")[0].starts_with("ok "), "{report}");
    assert!(
        lines(&report, "plugins")[0].contains("3 component(s)"),
        "{report}"
    );
    assert_eq!(lines(&report, "load").len(), 3, "{report}");
    assert!(lines(&report, "cache")[0].starts_with("ok "), "{report}");
    assert!(lines(&report, "http")[0].starts_with("ok "), "{report}");
    assert!(
        lines(&report, "vscode")[0].contains("warden config --client vscode --write"),
        "{report}"
    );

    let broken = Plugins::new().examples().raw("junk", b"not wasm at all");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (ok, report, _) = doctor(
        &[
            "--plugins",
            broken.path().to_str().unwrap(),
            "--http",
            &addr,
        ],
        cwd.path(),
    );
    assert!(!ok, "{report}");
    let junk = lines(&report, "load")
        .into_iter()
        .find(|l| l.contains("junk"))
        .unwrap_or_else(|| panic!("{report}"));
    assert!(
        junk.starts_with("FAIL") && junk.contains("warden check"),
        "{report}"
    );
    let http = lines(&report, "http")[0];
    assert!(http.starts_with("FAIL") && http.contains(&addr), "{report}");

    let (ok, report, _) = doctor(&["--plugins", "/nonexistent/plugins"], cwd.path());
    assert!(!ok, "{report}");
    assert!(
        lines(&report, "plugins")[0].contains("mkdir -p /nonexistent/plugins"),
        "{report}"
    );
}

/// The canonical path of the binary under test.
fn warden_path() -> String {
    std::fs::canonicalize(WARDEN)
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn config_prints_each_clients_entry_with_absolute_paths() {
    let home = tempfile::tempdir().unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let plugins = Plugins::new().examples();
    let dir = std::fs::canonicalize(plugins.path()).unwrap();
    let dir = dir.to_str().unwrap();
    for (client, key) in [
        ("claude", "mcpServers"),
        ("vscode", "servers"),
        ("kiro", "mcpServers"),
        ("cursor", "mcpServers"),
    ] {
        let (ok, out, err) = run(
            &["config", "--client", client, "--plugins", dir],
            cwd.path(),
            home.path(),
        );
        assert!(ok, "{client}: {err}");
        let json: Value =
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("{client}: {e}: {out}"));
        let entry = &json[key]["warden"];
        assert_eq!(entry["command"], warden_path().as_str(), "{client}: {out}");
        assert_eq!(entry["args"][0], "serve", "{client}: {out}");
        assert_eq!(entry["args"][2], dir, "{client}: {out}");
        if client == "vscode" {
            assert_eq!(entry["type"], "stdio");
        }
    }

    let (ok, out, _) = run(
        &["config", "--client", "codex", "--plugins", dir],
        cwd.path(),
        home.path(),
    );
    assert!(ok);
    let table: toml::Table = toml::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(
        table["mcp_servers"]["warden"]["command"].as_str(),
        Some(warden_path().as_str())
    );

    let url = "http://127.0.0.1:8080/mcp";
    let (_, out, _) = run(
        &["config", "--client", "cursor", "--http", url],
        cwd.path(),
        home.path(),
    );
    let json: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["mcpServers"]["warden"]["url"], url);
    let (_, out, _) = run(
        &["config", "--client", "claude", "--http", url],
        cwd.path(),
        home.path(),
    );
    let json: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["mcpServers"]["warden"]["args"][2], url, "{out}");
}

#[test]
fn kiro_auto_approves_exactly_the_read_only_tools() {
    let home = tempfile::tempdir().unwrap();
    let cwd = tempfile::tempdir().unwrap();
    // `files` has tools that write as well as tools that only read.
    let plugins = Plugins::new()
        .examples()
        .component("files", warden_test_artifacts::FILES_WASM);
    let dir = plugins.path().to_str().unwrap();
    let listing = list_json(&["--plugins", dir], cwd.path(), &[]);
    let mut read_only: Vec<String> = listing
        .iter()
        .flat_map(|p| p["tools"].as_array().unwrap().clone())
        .filter(|t| t["read_only"] == true)
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    read_only.sort();
    let all = listing
        .iter()
        .map(|p| p["tools"].as_array().unwrap().len())
        .sum::<usize>();
    assert!(
        !read_only.is_empty() && read_only.len() < all,
        "{listing:#?}"
    );

    let (ok, out, err) = run(
        &["config", "--client", "kiro", "--plugins", dir],
        cwd.path(),
        home.path(),
    );
    assert!(ok, "{err}");
    let json: Value = serde_json::from_str(&out).unwrap();
    let approved: Vec<String> = json["mcpServers"]["warden"]["autoApprove"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(approved, read_only);
}

#[test]
fn write_merges_into_the_clients_file_and_keeps_the_rest() {
    let home = tempfile::tempdir().unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let plugins = Plugins::new();
    let dir = plugins.path().to_str().unwrap();

    std::fs::create_dir_all(cwd.path().join(".vscode")).unwrap();
    let vscode = cwd.path().join(".vscode/mcp.json");
    std::fs::write(
        &vscode,
        r#"{"inputs": [], "servers": {"other": {"type": "stdio", "command": "other-server"}}}"#,
    )
    .unwrap();
    let (ok, out, err) = run(
        &["config", "--client", "vscode", "--plugins", dir, "--write"],
        cwd.path(),
        home.path(),
    );
    assert!(ok, "{err}");
    assert!(out.contains("+") && out.contains("\"warden\""), "{out}");
    let merged: Value = serde_json::from_str(&std::fs::read_to_string(&vscode).unwrap()).unwrap();
    assert_eq!(merged["servers"]["other"]["command"], "other-server");
    assert_eq!(
        merged["servers"]["warden"]["command"],
        warden_path().as_str()
    );
    assert_eq!(merged["inputs"], serde_json::json!([]));
    let (ok, out, _) = run(
        &["config", "--client", "vscode", "--plugins", dir, "--write"],
        cwd.path(),
        home.path(),
    );
    assert!(ok && out.contains("already has"), "{out}");

    let codex = home.path().join(".codex/config.toml");
    std::fs::create_dir_all(codex.parent().unwrap()).unwrap();
    std::fs::write(
        &codex,
        "# my settings\nmodel = \"o4\"\n\n[mcp_servers.other]\ncommand = \"other\"\n",
    )
    .unwrap();
    for _ in 0..2 {
        let (ok, _, err) = run(
            &["config", "--client", "codex", "--plugins", dir, "--write"],
            cwd.path(),
            home.path(),
        );
        assert!(ok, "{err}");
    }
    let text = std::fs::read_to_string(&codex).unwrap();
    assert!(
        text.starts_with("# my settings\nmodel = \"o4\"\n"),
        "{text}"
    );
    let table: toml::Table = toml::from_str(&text).unwrap();
    assert_eq!(
        table["mcp_servers"]["other"]["command"].as_str(),
        Some("other")
    );
    assert_eq!(
        table["mcp_servers"]["warden"]["command"].as_str(),
        Some(warden_path().as_str())
    );
    assert_eq!(text.matches("[mcp_servers.warden]").count(), 1, "{text}");

    let claude = home
        .path()
        .join(".config/Claude/claude_desktop_config.json");
    let (ok, _, err) = run(
        &["config", "--client", "claude", "--plugins", dir, "--write"],
        cwd.path(),
        home.path(),
    );
    assert!(ok, "{err}");
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&claude).unwrap()).unwrap();
    assert_eq!(written["mcpServers"]["warden"]["args"][0], "serve");
}
