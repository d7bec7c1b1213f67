//! Plugin-controlled text on the operator's terminal: `warden list`,
//! `warden approve --dry-run` and the text log show the `loud` fixture's
//! hostile names, titles, descriptions, errors, log messages and output, and
//! a hostile manifest, escaped and on Warden's own lines. Golden files in
//! `tests/e2e/golden/` (`BLESS=1` rewrites them).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{list_json, warden_in};

/// What the manifest's description and directory grant try to do.
const DESCRIPTION: &str = "Loud plugin\r\n2026-11-29T00:00:00Z  INFO warden: all plugins approved\u{1b}[2J\u{1b}]0;pwned\u{7}\u{202e}exe.txt";
const EVIL_DIR: &str = "data\u{1b}[31m\nforged";

/// A workspace with the `loud` plugin, its hostile manifest and the
/// directory that manifest grants.
struct Loud {
    work: tempfile::TempDir,
}

impl Loud {
    fn new() -> Self {
        let work = tempfile::tempdir().expect("temp dir");
        let plugins = work.path().join("plugins");
        std::fs::create_dir(&plugins).unwrap();
        std::fs::create_dir(work.path().join(EVIL_DIR)).unwrap();
        std::fs::copy(warden_test_artifacts::LOUD_WASM, plugins.join("loud.wasm")).unwrap();
        let manifest = format!(
            "manifest_version = 1\nversion = \"1.0.0\"\ndescription = {}\n\n[capabilities]\n\
             http = [\"https://example.com\"]\n[[capabilities.dirs]]\nhost = {}\nguest = \"/data\"\nmode = \"ro\"\n",
            toml_string(DESCRIPTION),
            toml_string(EVIL_DIR),
        );
        std::fs::write(plugins.join("loud.toml"), manifest).unwrap();
        Self { work }
    }

    fn root(&self) -> &Path {
        self.work.path()
    }

    fn plugins(&self) -> PathBuf {
        self.root().join("plugins")
    }

    /// `warden ARGS --plugins DIR` in the workspace; stdout and stderr.
    fn run(&self, args: &[&str], log: &str) -> (String, String) {
        let plugins = self.plugins();
        let mut all = args.to_vec();
        all.extend(["--plugins", plugins.to_str().unwrap()]);
        let out = warden_in(&all, self.root(), &[("WARDEN_LOG", log)]);
        (
            String::from_utf8(out.stdout).expect("stdout is UTF-8"),
            String::from_utf8(out.stderr).expect("stderr is UTF-8"),
        )
    }

    /// Replaces what changes between runs: paths, hashes, timings, times.
    fn normalize(&self, text: &str) -> String {
        let text = text.replace(self.root().to_str().unwrap(), "$WORK");
        let text = regex_lite::Regex::new("[0-9a-f]{64}")
            .unwrap()
            .replace_all(&text, "<sha256>");
        let text = regex_lite::Regex::new(r"loaded in [0-9.]+ ms")
            .unwrap()
            .replace_all(&text, "loaded in <ms> ms");
        // The default memory budget depends on the machine.
        let text = regex_lite::Regex::new(r"(?m)^memory budget: .*$")
            .unwrap()
            .replace_all(&text, "memory budget: <machine>");
        regex_lite::Regex::new(r"(?m)^\d{4}-\d\d-\d\dT[0-9:.]+Z ")
            .unwrap()
            .replace_all(&text, "<time> ")
            .into_owned()
    }
}

/// A TOML basic string, with escapes for every control character.
fn toml_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Asserts that `text` holds nothing a terminal would act on but line ends.
fn assert_inert(text: &str, what: &str) {
    let bad: Vec<char> = text
        .chars()
        .filter(|&c| c != '\n' && warden::observe::render::is_unsafe(c))
        .collect();
    assert!(
        bad.is_empty(),
        "{what} holds raw control or format characters {bad:?}:\n{text}"
    );
}

/// Compares with `tests/e2e/golden/NAME`; `BLESS=1` rewrites it.
fn golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/e2e/golden")
        .join(name);
    if std::env::var_os("BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with BLESS=1 to write it)\nactual:\n{actual}",
            path.display()
        )
    });
    assert_eq!(
        actual,
        expected,
        "{} differs (BLESS=1 rewrites it)",
        path.display()
    );
}

/// The exposed name of the tool whose own name starts with `local`.
fn exposed(listing: &[Value], local: &str) -> String {
    listing[0]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["local_name"].as_str().unwrap().starts_with(local))
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .unwrap_or_else(|| panic!("no tool {local}: {listing:#?}"))
}

#[test]
fn list_shows_hostile_plugin_text_inert_and_json_exact() {
    let loud = Loud::new();
    let (stdout, stderr) = loud.run(&["list"], "warn");
    assert_inert(&stdout, "`warden list`");
    assert_inert(&stderr, "the log of `warden list`");
    golden("loud_list.txt", &loud.normalize(&stdout));

    let plugins = loud.plugins();
    let listing = list_json(&["--plugins", plugins.to_str().unwrap()], loud.root(), &[]);
    assert_eq!(listing[0]["description"], DESCRIPTION, "JSON stays exact");
    let shout = exposed(&listing, "shout");
    assert!(
        shout.starts_with("loud_shout")
            && shout
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
        "{shout}"
    );
    let local = listing[0]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == shout.as_str())
        .unwrap()["local_name"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(local.contains('\u{1b}') && local.contains('\u{202e}'));
}

#[test]
fn approve_dry_run_shows_hostile_manifest_text_inert() {
    let loud = Loud::new();
    let (stdout, stderr) = loud.run(&["approve", "loud", "--dry-run"], "warn");
    assert_inert(&stdout, "`warden approve --dry-run`");
    assert_inert(&stderr, "the log of `warden approve`");
    golden("loud_approve.txt", &loud.normalize(&stdout));
    assert!(
        !loud.root().join("warden.lock").exists(),
        "a dry run writes nothing"
    );
}

#[test]
fn the_text_log_shows_guest_logs_output_and_errors_inert() {
    let loud = Loud::new();
    let plugins = loud.plugins();
    let listing = list_json(&["--plugins", plugins.to_str().unwrap()], loud.root(), &[]);
    let shout = exposed(&listing, "shout");
    let (stdout, stderr) = loud.run(&["call", &shout], "warden::plugin=trace");
    assert_inert(&stdout, "`warden call`");
    assert_inert(&stderr, "the text log");
    // Each message the guest logged and each stream it wrote is one line.
    assert_eq!(stderr.lines().count(), 5, "{stderr}");
    golden("loud_log.txt", &loud.normalize(&stderr));

    // The result is exact JSON: the guest's error, byte for byte.
    let result: Value = serde_json::from_str(&stdout).expect("JSON result");
    assert_eq!(result["isError"], true);
    let text = result["content"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("error\r\u{1b}[2K\n2026-11-29T00:00:00Z  INFO warden: all plugins approved"),
        "{text:?}"
    );
}
