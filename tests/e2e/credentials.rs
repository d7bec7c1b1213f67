//! Brokered credentials through the real `warden serve`: the `snoop` fixture
//! requests a credential for one local origin; the operator's value reaches
//! that origin's server in the named header (replacing the plugin's own) and
//! nowhere else: not another origin's server (a redirect there included),
//! not the plugin's memory, environment or arguments, not its result, not
//! Warden's log at debug level, the spans, the audit log, the lock or `warden
//! list`. A credential an update adds is held until `warden approve`.

use std::path::Path;

use serde_json::{Value, json};

use crate::http::{Reply, TestServer};
use crate::support::{Revision, Server, list_json, ok_text, warden_in};

/// The credential's value, as the operator supplies it.
const SECRET: &str = "wdn-live-7c1f9a0e3b5d";
/// What the credential's origin answers with: found in the plugin's memory,
/// which shows that the search sees what the plugin received.
const MARKER: &str = "marker-from-the-response-4411";
/// What the snoop fixture XORs needles with.
const MASK: u8 = 0x5a;

/// `text` XOR [`MASK`], in hex: a needle the fixture can search for
/// without holding it.
fn masked(text: &str) -> String {
    text.bytes().map(|b| format!("{:02x}", b ^ MASK)).collect()
}

/// The snoop manifest: both origins, and `credentials` (TOML array items).
fn manifest(api: &str, other: &str, credentials: &str) -> String {
    format!(
        "manifest_version = 1\nname = \"snoop\"\n[capabilities]\n\
         http = [\"{api}\", \"{other}\"]\ncredentials = [{credentials}]\n"
    )
}

fn token_for(api: &str) -> String {
    format!(
        "{{ name = \"API_TOKEN\", origin = \"{api}\", header = \"authorization\", \
         format = \"Bearer {{}}\" }}"
    )
}

const CONFIG: &str = "[plugins.snoop]\n\
    credentials = { API_TOKEN = \"${WARDEN_TEST_API_TOKEN}\" }\n\
    [audit]\nfile = \"audit.jsonl\"\nlog_arguments = [\"snoop_snoop\"]\n\
    [telemetry]\nspans_dir = \"spans\"\n";

/// The `authorization` lines of a request head, values only.
fn authorization(head: &str) -> Vec<String> {
    head.lines()
        .filter_map(|line| line.split_once(':'))
        .filter(|(name, _)| name.trim().eq_ignore_ascii_case("authorization"))
        .map(|(_, value)| value.trim().to_string())
        .collect()
}

/// The head of the latest request for `path` that `server` saw.
fn head_of(server: &TestServer, path: &str) -> String {
    server
        .heads()
        .into_iter()
        .rfind(|h| h.split_whitespace().nth(1) == Some(path))
        .unwrap_or_else(|| panic!("no request for {path}: {:?}", server.requests()))
}

/// Every file under `dir`, read as text.
fn all_text(dir: &Path) -> String {
    let mut text = String::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            text.push_str(&all_text(&path));
        } else {
            text.push_str(&String::from_utf8_lossy(&std::fs::read(&path).unwrap()));
        }
    }
    text
}

struct Site {
    api: TestServer,
    other: TestServer,
    api_origin: String,
    other_origin: String,
    root: tempfile::TempDir,
}

impl Site {
    async fn new() -> Self {
        let (api, other) = (TestServer::start().await, TestServer::start().await);
        let api_origin = format!("http://127.0.0.1:{}", api.port());
        let other_origin = format!("http://127.0.0.1:{}", other.port());
        api.route("/whoami", Reply::ok("text/plain", MARKER));
        api.route("/hop", Reply::redirect(&format!("{other_origin}/landing")));
        other.route("/landing", Reply::ok("text/plain", "landed"));
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("plugins")).unwrap();
        std::fs::copy(
            warden_test_artifacts::SNOOP_WASM,
            root.path().join("plugins/snoop.wasm"),
        )
        .unwrap();
        std::fs::write(root.path().join("warden.toml"), CONFIG).unwrap();
        Self {
            api,
            other,
            api_origin,
            other_origin,
            root,
        }
    }

    fn path(&self) -> &Path {
        self.root.path()
    }

    fn plugins(&self) -> std::path::PathBuf {
        self.path().join("plugins")
    }

    fn write_manifest(&self, credentials: &str) {
        let text = manifest(&self.api_origin, &self.other_origin, credentials);
        std::fs::write(self.plugins().join("snoop.toml"), text).unwrap();
    }

    /// Serves the folder (logging everything at debug level) and runs one
    /// snoop call: `/whoami` and `/hop` on the credential's origin, with a
    /// header of the plugin's own. The report, and the server's stderr.
    async fn snoop(&self) -> (Value, String) {
        let env = [
            ("WARDEN_TEST_API_TOKEN", SECRET),
            ("WARDEN_LOG", "debug,wasmtime=info,cranelift=info"),
        ];
        let server =
            Server::start_in(&self.plugins(), Revision::Stateless, &[], self.path(), &env).await;
        let result = server
            .call(
                "snoop_snoop",
                json!({
                    "urls": [
                        format!("{}/whoami", self.api_origin),
                        format!("{}/hop", self.api_origin),
                    ],
                    "header": ["authorization", "Bearer plugin-made"],
                    "needles": [masked(SECRET), masked(MARKER)],
                }),
            )
            .await;
        let text = ok_text(&result);
        let stderr = server.stderr();
        server.stop().await;
        assert!(
            !text.contains(SECRET),
            "the plugin saw the credential: {text}"
        );
        (serde_json::from_str(&text).unwrap(), stderr)
    }
}

#[tokio::test]
async fn a_credential_reaches_only_its_origin_and_the_plugin_never_sees_it() {
    let site = Site::new().await;
    site.write_manifest(&token_for(&site.api_origin));
    let (report, stderr) = site.snoop().await;

    // What the plugin saw: the responses, but not the credential.
    let responses = report["responses"].as_array().unwrap();
    assert_eq!(responses[0]["body"], MARKER, "{report:#}");
    assert_eq!(responses[1]["status"], 302, "{report:#}");
    assert_eq!(responses[2]["body"], "landed", "{report:#}");
    assert_eq!(
        report["found"],
        json!([false, true]),
        "the credential is in the plugin's memory, or the search does not see what it \
         received: {report:#}"
    );
    assert!(
        report["memory_bytes"].as_u64().unwrap() >= 65536,
        "{report:#}"
    );
    assert_eq!(report["env"], json!([]), "{report:#}");

    // The credential's origin got the operator's value, once, in place of
    // the plugin's header; the other origin (reached by the redirect) got
    // only the plugin's own header.
    for path in ["/whoami", "/hop"] {
        assert_eq!(
            authorization(&head_of(&site.api, path)),
            [format!("Bearer {SECRET}")],
            "{path}"
        );
    }
    let landing = head_of(&site.other, "/landing");
    assert_eq!(authorization(&landing), ["Bearer plugin-made"], "{landing}");

    // Nothing Warden writes holds it, with everything at debug level.
    assert!(
        stderr.contains("credential added to the request"),
        "the log is not at debug level: {stderr}"
    );
    assert!(stderr.contains(MARKER), "the guest's output is not logged");
    assert!(!stderr.contains(SECRET), "the log holds the credential");
    let audit = std::fs::read_to_string(site.path().join("audit.jsonl")).unwrap();
    assert!(audit.contains("snoop_snoop"), "{audit}");
    assert!(
        !audit.contains(SECRET),
        "the audit log holds the credential"
    );
    let spans = all_text(&site.path().join("spans"));
    assert!(spans.contains("snoop_snoop"), "{spans}");
    assert!(!spans.contains(SECRET), "the spans hold the credential");
    let lock = std::fs::read_to_string(site.path().join("warden.lock")).unwrap();
    assert!(lock.contains("name = \"API_TOKEN\""), "{lock}");
    assert!(!lock.contains(SECRET), "the lock holds the credential");

    // `warden list` names the credential, never its value.
    let plugins = site.plugins();
    let env = [("WARDEN_TEST_API_TOKEN", SECRET)];
    let listing = warden_in(
        &["list", "--plugins", plugins.to_str().unwrap()],
        site.path(),
        &env,
    );
    let shown = String::from_utf8_lossy(&listing.stdout).into_owned()
        + &String::from_utf8_lossy(&listing.stderr);
    assert!(
        shown.contains(&format!(
            "credentials API_TOKEN -> {} (authorization)",
            site.api_origin
        )),
        "{shown}"
    );
    let json = list_json(&["--plugins", plugins.to_str().unwrap()], site.path(), &env);
    let json = serde_json::to_string(&json).unwrap();
    assert!(json.contains("API_TOKEN"), "{json}");
    assert!(!shown.contains(SECRET) && !json.contains(SECRET));
}

#[tokio::test]
async fn a_credential_an_update_adds_is_held_until_approved() {
    let site = Site::new().await;
    let plugins = site.plugins();
    let plugins_arg = plugins.to_str().unwrap();
    // Approved without a credential.
    site.write_manifest("");
    let approved = warden_in(
        &["approve", "snoop", "--plugins", plugins_arg],
        site.path(),
        &[],
    );
    assert!(approved.status.success(), "{approved:?}");

    // The update asks for one: held, so the origin gets no credential.
    site.write_manifest(&token_for(&site.api_origin));
    let listing = list_json(&["--plugins", plugins_arg], site.path(), &[]);
    let notices = listing[0]["notices"].to_string();
    assert!(
        notices.contains("held back until approved: credentials API_TOKEN for"),
        "{notices}"
    );
    site.snoop().await;
    assert_eq!(
        authorization(&head_of(&site.api, "/whoami")),
        ["Bearer plugin-made"]
    );

    // Approving shows the credential, then it is sent.
    let out = warden_in(
        &["approve", "snoop", "--plugins", plugins_arg],
        site.path(),
        &[],
    );
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains(&format!(
            "+ credential API_TOKEN for {} in authorization: \"Bearer {{}}\"",
            site.api_origin
        )),
        "{shown}"
    );
    site.snoop().await;
    assert_eq!(
        authorization(&head_of(&site.api, "/whoami")),
        [format!("Bearer {SECRET}")]
    );
}
