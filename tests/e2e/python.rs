//! A client written by others: the official Python MCP SDK drives the real
//! server on both protocol revisions (`legacy` = 2025-11-25, `auto` picks
//! 2026-07-28).

use std::path::PathBuf;

use serde_json::Value;

use crate::support::{Plugins, WARDEN};

/// The Python interpreter with the `mcp` package: `WARDEN_TEST_PYTHON`, set by
/// `scripts/test`, or `python3`.
fn python() -> PathBuf {
    let python = std::env::var_os("WARDEN_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("python3"));
    let probe = std::process::Command::new(&python)
        .args(["-c", "import mcp"])
        .output();
    match probe {
        Ok(out) if out.status.success() => python,
        _ => panic!(
            "the Python MCP SDK is not available to {}: run `scripts/test`, which installs \
             it, or `pip install -r tests/python/requirements.txt` and set WARDEN_TEST_PYTHON \
             to that interpreter",
            python.display()
        ),
    }
}

fn run(mode: &str) -> Value {
    let plugins = Plugins::new().examples().hostile(None);
    report("check_client.py", plugins.path(), &[mode])
}

/// Runs `tests/python/SCRIPT WARDEN PLUGINS ARGS...` in the plugins folder
/// and returns the JSON report it prints.
fn report(script: &str, plugins: &std::path::Path, args: &[&str]) -> Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/python")
        .join(script);
    let out = std::process::Command::new(python())
        .arg(&script)
        .arg(WARDEN)
        .arg(plugins)
        .args(args)
        .current_dir(plugins)
        .output()
        .expect("run the Python client");
    assert!(
        out.status.success(),
        "python client failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("bad report ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

fn check(report: &Value, protocol: &str) {
    assert_eq!(report["protocol_version"], protocol, "{report:#}");
    let tools: Vec<&str> = report["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        tools.contains(&"text_hash") && tools.contains(&"time_now"),
        "{tools:?}"
    );
    assert_eq!(report["hash_is_error"], false, "{report:#}");
    assert!(
        report["hash"][0]
            .as_str()
            .unwrap()
            .contains("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        "{report:#}"
    );
    assert_eq!(report["bad_is_error"], true, "{report:#}");
    assert!(
        report["bad"][0]
            .as_str()
            .unwrap()
            .contains("invalid arguments"),
        "{report:#}"
    );
    assert_eq!(report["logged_is_error"], false, "{report:#}");
    let progress = report["progress"].as_array().unwrap();
    assert_eq!(progress.len(), 3, "{report:#}");
    assert_eq!(progress[2]["progress"], 3.0, "{report:#}");
    // `hostile_log` logs at every level; the client asked for warning.
    let logs: Vec<(&str, &str)> = report["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["level"].as_str().unwrap(), l["data"].as_str().unwrap()))
        .collect();
    assert_eq!(
        logs,
        [
            ("warning", "hostile: warn message"),
            ("error", "hostile: error message")
        ],
        "{report:#}"
    );
    assert!(
        report["logs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["logger"] == "hostile"),
        "{report:#}"
    );
    assert!(
        report["unknown_error"]
            .as_str()
            .unwrap_or("")
            .contains("unknown tool"),
        "{report:#}"
    );
}

#[test]
fn python_sdk_on_2025_11_25() {
    check(&run("legacy"), "2025-11-25");
}

#[test]
fn python_sdk_on_2026_07_28() {
    check(&run("auto"), "2026-07-28");
}

/// The Python SDK hears of a plugin added to the folder while it is
/// connected, on `revision`'s way (`list_changed` at 2025-11-25, a
/// `subscriptions/listen` stream at 2026-07-28), and calls it.
fn reload(mode: &str, protocol: &str) {
    let plugins = Plugins::new().hostile(None);
    let text = warden_test_artifacts::EXAMPLES
        .iter()
        .find(|(name, _)| *name == "text")
        .map(|(_, wasm)| *wasm)
        .expect("the text example");
    let report = report("check_reload.py", plugins.path(), &[mode, text]);
    assert_eq!(report["protocol_version"], protocol, "{report:#}");
    let names = |key: &str| -> Vec<String> {
        report[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    assert!(
        names("before").contains(&"hostile_echo".to_string()),
        "{report:#}"
    );
    assert!(
        !names("before").iter().any(|n| n.starts_with("text_")),
        "{report:#}"
    );
    assert!(!names("heard").is_empty(), "{report:#}");
    assert!(
        names("after").contains(&"text_base64_encode".to_string()),
        "{report:#}"
    );
    assert_eq!(report["call_is_error"], false, "{report:#}");
    assert_eq!(report["call"][0], "aGk=", "{report:#}");
}

#[test]
fn python_sdk_hears_of_a_new_plugin_on_2025_11_25() {
    reload("legacy", "2025-11-25");
}

#[test]
fn python_sdk_hears_of_a_new_plugin_on_2026_07_28() {
    reload("auto", "2026-07-28");
}

/// The Python SDK as a client that answers sampling, elicitation and roots:
/// the `asker` fixture's requests reach it and its answers come back, as
/// server-to-client requests (2025-11-25) or in `input_required` rounds that
/// replay the call (2026-07-28).
fn python_sdk_answers_a_plugin(mode: &str, version: &str) {
    let plugins = Plugins::new()
        .component("asker", warden_test_artifacts::ASKER_WASM)
        .manifest(
            "asker",
            "manifest_version = 1\n[capabilities]\nclient = [\"sampling\", \"elicitation\", \"roots\"]\n",
        );
    let report = report("check_client_requests.py", plugins.path(), &[mode]);
    assert_eq!(report["protocol_version"], version, "{report:#}");
    let results = &report["results"];
    for tool in ["asker_ask_model", "asker_ask_person", "asker_roots"] {
        assert_eq!(results[tool]["is_error"], false, "{report:#}");
    }
    assert_eq!(
        results["asker_ask_model"]["text"][0],
        "model python-model: python says hello"
    );
    assert_eq!(
        results["asker_ask_person"]["text"][0],
        r#"accept: {"name":"Grace"}"#
    );
    assert_eq!(
        results["asker_roots"]["text"][0],
        "file:///project (project)"
    );
    let asked = report["asked"].as_array().unwrap();
    assert_eq!(asked.len(), 3, "{report:#}");
    assert_eq!(asked[0]["max_tokens"], 30);
    assert_eq!(asked[1]["message"], "Name?");
}

#[test]
fn python_sdk_answers_a_plugin_on_2025_11_25() {
    python_sdk_answers_a_plugin("legacy", "2025-11-25");
}

#[test]
fn python_sdk_answers_a_plugin_on_2026_07_28() {
    python_sdk_answers_a_plugin("auto", "2026-07-28");
}

/// Runs `check_permission.py` in `scenario` (`http`, `dir`): three calls,
/// whose questions the Python SDK's person answers "once", "deny" and
/// "always". Checks the revision, that only the denied call failed, and that
/// each call asked once with the three choices; returns the report.
fn asked_three_times(
    plugins: &std::path::Path,
    config: &std::path::Path,
    mode: &str,
    version: &str,
    scenario: &str,
) -> Value {
    let report = report(
        "check_permission.py",
        plugins,
        &[mode, config.to_str().unwrap(), scenario],
    );
    assert_eq!(report["protocol_version"], version, "{report:#}");
    let errors: Vec<bool> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["is_error"].as_bool().unwrap())
        .collect();
    assert_eq!(errors, [false, true, false], "{report:#}");
    let asked = report["asked"].as_array().unwrap();
    assert_eq!(asked.len(), 3, "{report:#}");
    for question in asked {
        assert_eq!(
            question["choices"],
            serde_json::json!(["once", "always", "deny"])
        );
    }
    report
}

/// The Python SDK's person answers permission questions (`[policy] ask`):
/// the `fetch` example, granted no origin, reaches a local server after
/// "once", is refused after "deny" (no connection), and after "always" the
/// origin is recorded in the lock; as server-to-client requests (2025-11-25)
/// or `input_required` rounds (2026-07-28).
fn python_sdk_answers_permission_questions(mode: &str, version: &str) {
    let plugins = crate::http::fetch_plugin(&[]);
    let state = tempfile::tempdir().unwrap();
    let config = state.path().join("warden.toml");
    std::fs::write(&config, "[policy]\nask = true\n").unwrap();
    let report = asked_three_times(plugins.path(), &config, mode, version, "http");
    let origin = report["origin"].as_str().unwrap();
    let results = report["results"].as_array().unwrap();
    assert!(
        results[0]["text"][0]
            .as_str()
            .unwrap()
            .contains("hello from python"),
        "{report:#}"
    );
    let refused = results[1]["text"][0].as_str().unwrap();
    assert!(
        refused.contains(&format!("http access to {origin} denied")),
        "{refused}"
    );
    for question in report["asked"].as_array().unwrap() {
        let message = question["message"].as_str().unwrap();
        assert!(message.contains(origin), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
    }
    // "deny" never connected.
    assert_eq!(report["server_saw"], 2, "{report:#}");
    let lock = std::fs::read_to_string(state.path().join("warden.lock")).unwrap();
    assert!(
        lock.contains(&format!("allowed_http = [\"{origin}\"]")),
        "{lock}"
    );
}

#[test]
fn python_sdk_answers_permission_questions_on_2025_11_25() {
    python_sdk_answers_permission_questions("legacy", "2025-11-25");
}

#[test]
fn python_sdk_answers_permission_questions_on_2026_07_28() {
    python_sdk_answers_permission_questions("auto", "2026-07-28");
}

/// The Python SDK's person answers permission questions for a held
/// directory: the `files` example writes to /scratch, which its lock does
/// not approve, after "once"; is refused after "deny" (nothing written); and
/// after "always" the directory is approved in the lock.
fn python_sdk_answers_directory_questions(mode: &str, version: &str) {
    let root = tempfile::tempdir().unwrap();
    let scratch = root.path().join("scratch");
    std::fs::create_dir(&scratch).unwrap();
    let plugins = Plugins::new()
        .component("files", warden_test_artifacts::FILES_WASM)
        .manifest(
            "files",
            "manifest_version = 1\n[[capabilities.dirs]]\nhost = \"scratch\"\nguest = \"/scratch\"\nmode = \"rw\"\n",
        );
    let lock = root.path().join("warden.lock");
    let approved =
        crate::dir_permission::approving(&[("files", warden_test_artifacts::FILES_WASM)]);
    std::fs::write(&lock, approved).unwrap();
    let config = root.path().join("warden.toml");
    std::fs::write(
        &config,
        format!(
            "workspace_root = {:?}\nlock_file = {:?}\n[policy]\nask = true\n\
             [plugins.files]\nauto_approve = [\"write\"]\n",
            root.path().display().to_string(),
            lock.display().to_string()
        ),
    )
    .unwrap();
    let report = asked_three_times(plugins.path(), &config, mode, version, "dir");
    let refused = report["results"][1]["text"][0].as_str().unwrap();
    assert!(
        refused.contains("fs access to /scratch denied"),
        "{refused}"
    );
    for question in report["asked"].as_array().unwrap() {
        let message = question["message"].as_str().unwrap();
        assert!(
            message.contains("(seen by the plugin as /scratch)"),
            "{message}"
        );
    }
    assert!(scratch.join("once.txt").exists() && scratch.join("always.txt").exists());
    assert!(!scratch.join("deny.txt").exists());
    let lock = std::fs::read_to_string(&lock).unwrap();
    assert!(
        lock.contains("guest = \"/scratch\"\nmode = \"rw\""),
        "{lock}"
    );
}

#[test]
fn python_sdk_answers_directory_questions_on_2025_11_25() {
    python_sdk_answers_directory_questions("legacy", "2025-11-25");
}

#[test]
fn python_sdk_answers_directory_questions_on_2026_07_28() {
    python_sdk_answers_directory_questions("auto", "2026-07-28");
}
