//! The plugins folder holding things that are not plugin files: a named
//! pipe, a pipe as a manifest, a socket, a symlink to a device, a directory,
//! an oversized file and a symlink out of the folder, each beside good
//! plugins. Every one is reported by name with its cause (`warden list`,
//! text and JSON, and the server's log); the good plugins are served; nothing
//! hangs or reads without end.

use std::os::unix::fs::symlink;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Plugins, Revision, Server, WARDEN, ok_text};

/// Longest any command here may take before the test calls it a hang.
const HANG: Duration = Duration::from_secs(60);

/// Each bad entry, by plugin name, and a phrase its load error must contain.
const BAD: &[(&str, &str)] = &[
    ("pipe", "it is a named pipe (FIFO), not a regular file"),
    (
        "pipe-manifest",
        "cannot read the manifest: it is a named pipe (FIFO)",
    ),
    ("sock", "it is a socket, not a regular file"),
    (
        "zero",
        "symbolic link that leads outside the plugins folder",
    ),
    ("dir", "it is a directory, not a regular file"),
    (
        "big",
        "it is 4 MiB, more than the limit of 2 MiB (raise loading.max_component_size",
    ),
    (
        "outside",
        "symbolic link that leads outside the plugins folder",
    ),
];

fn mkfifo(path: &Path) {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap_or_else(|e| panic!("mkfifo {}: {e}", path.display()));
}

/// A folder with the good plugins `text` and `linked` (a relative symlink to
/// a component in a subfolder) and every bad entry; the returned listener and
/// directory keep the socket and the outside file alive.
fn hostile_folder() -> (Plugins, UnixListener, tempfile::TempDir) {
    let plugins = Plugins::new().component("text", warden_test_artifacts::TEXT_WASM);
    let dir = plugins.path();
    mkfifo(&dir.join("pipe.wasm"));
    std::fs::copy(
        warden_test_artifacts::TEXT_WASM,
        dir.join("pipe-manifest.wasm"),
    )
    .unwrap();
    mkfifo(&dir.join("pipe-manifest.toml"));
    let socket = UnixListener::bind(dir.join("sock.wasm")).unwrap();
    symlink("/dev/zero", dir.join("zero.wasm")).unwrap();
    std::fs::create_dir(dir.join("dir.wasm")).unwrap();
    let big = std::fs::File::create(dir.join("big.wasm")).unwrap();
    big.set_len(4 << 20).unwrap();
    let outside = tempfile::tempdir().unwrap();
    let real = outside.path().join("real.wasm");
    std::fs::copy(warden_test_artifacts::TIME_WASM, &real).unwrap();
    symlink(&real, dir.join("outside.wasm")).unwrap();
    std::fs::create_dir(dir.join("build")).unwrap();
    std::fs::copy(
        warden_test_artifacts::TIME_WASM,
        dir.join("build/time-1.0.wasm"),
    )
    .unwrap();
    symlink("build/time-1.0.wasm", dir.join("linked.wasm")).unwrap();
    (plugins, socket, outside)
}

/// `warden.toml` in its own directory: the folder, and a component limit of
/// 2 MiB (the good components are smaller).
fn config(plugins: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("warden.toml"),
        format!(
            "plugins_dir = {:?}\n[loading]\nmax_component_size = \"2MiB\"\n",
            plugins.display().to_string()
        ),
    )
    .unwrap();
    dir
}

/// Runs `warden ARGS` in `cwd`, failing the test if it does not finish
/// within [`HANG`]; returns stdout and stderr.
fn run(args: &[&str], cwd: &Path) -> (String, String) {
    let mut child = Command::new(WARDEN)
        .args(args)
        .current_dir(cwd)
        .env("WARDEN_LOG", "warden=info")
        .env("WARDEN_WAIT_FOR_PLUGINS", "1")
        .env_remove("WARDEN_CONFIG")
        .env_remove("WARDEN_PLUGINS")
        .env_remove("WARDEN_LOCK")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run warden");
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > HANG {
            child.kill().unwrap();
            panic!("`warden {}` hung", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn entries_that_are_not_files_are_reported_by_name_beside_good_plugins() {
    let (plugins, _socket, _outside) = hostile_folder();
    let config = config(plugins.path());
    let cwd = config.path();

    let (listing, log) = run(&["list"], cwd);
    for (name, cause) in BAD {
        let block = listing
            .split("\n\n")
            .find(|b| b.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} is not listed:\n{listing}"));
        assert!(
            block.contains("[failed]") && block.contains(cause),
            "{block}"
        );
        assert!(
            log.contains(&format!("plugin={name} ")),
            "{name} not in the log:\n{log}"
        );
    }
    for good in ["text", "linked"] {
        assert!(
            listing
                .lines()
                .any(|l| l.starts_with(&format!("{good} ")) && l.ends_with("[loaded]")),
            "{listing}"
        );
    }

    let (json, _) = run(&["list", "--json"], cwd);
    let json: Vec<Value> = serde_json::from_str(&json).unwrap();
    let entry = |name: &str| {
        json.iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing: {json:#?}"))
    };
    for (name, cause) in BAD {
        let entry = entry(name);
        assert_eq!(entry["status"], "failed", "{entry:#}");
        let error = entry["error"].as_str().unwrap();
        assert!(error.contains(cause), "{name}: {error}");
        assert!(
            error.contains(&format!("{name}.")),
            "the error names the file: {error}"
        );
    }
    assert_eq!(entry("text")["status"], "loaded");
    assert_eq!(entry("linked")["status"], "loaded");

    let config_path = cwd.join("warden.toml");
    let server = tokio::time::timeout(
        HANG,
        Server::start_in(
            plugins.path(),
            Revision::Legacy,
            &["--config", config_path.to_str().unwrap()],
            cwd,
            &[],
        ),
    )
    .await
    .expect("the server answers initialize");
    let tools = server.tool_names().await;
    assert!(tools.contains(&"text_hash".to_string()), "{tools:?}");
    assert!(tools.iter().any(|t| t.starts_with("linked_")), "{tools:?}");
    let hash = server
        .call("text_hash", json!({ "text": "abc", "algorithm": "sha256" }))
        .await;
    assert!(ok_text(&hash).starts_with("ba7816bf"), "{hash:?}");
    let failed: Vec<Value> = server
        .log_events()
        .into_iter()
        .filter(|e| e["fields"]["message"] == "plugin failed to load")
        .collect();
    for (name, cause) in BAD {
        assert!(
            failed.iter().any(|e| e["fields"]["plugin"] == *name
                && e["fields"]["error"]
                    .as_str()
                    .unwrap_or_default()
                    .contains(cause)),
            "{name} not logged as failed: {failed:#?}"
        );
    }
    server.stop().await;
}
