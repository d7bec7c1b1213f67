//! `warden serve --http` as an OAuth 2.1 resource server, against an issuer
//! this test runs: its metadata (RFC 8414) and keys (JWKS) served on
//! 127.0.0.1, tokens it signs with the keys in `tests/fixtures/oauth`. Real
//! clients (rmcp's Streamable HTTP client, reqwest) against the real binary.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::jwk::{Jwk, KeyAlgorithm};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

use crate::http::{Reply, TestServer};
use crate::remote_support::{Remote, call, json_lines, stateless_post};
use crate::support::{Plugins, Revision, ok_text};

/// The audience tokens must name: this server's resource URL.
const RESOURCE: &str = "https://warden.test/mcp";

/// The rules every test here serves under.
const RULES: &str = r#"
[[auth.rules]]
scope = "text:read"
list = ["*"]
call = ["text_*"]
calls_per_minute = 3

[[auth.rules]]
scope = "admin"
list = ["*"]
call = ["*"]

[[auth.rules]]
scope = "metrics"
metrics = true
"#;

/// A signing key of the test issuer.
struct SigningKey {
    kid: &'static str,
    algorithm: Algorithm,
    key: EncodingKey,
}

impl SigningKey {
    fn load(kid: &'static str, file: &str, algorithm: Algorithm) -> Self {
        let pem = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../tests/fixtures/oauth/{file}")),
        )
        .unwrap();
        let key = match algorithm {
            Algorithm::ES256 => EncodingKey::from_ec_pem(&pem),
            _ => EncodingKey::from_rsa_pem(&pem),
        }
        .unwrap();
        Self {
            kid,
            algorithm,
            key,
        }
    }

    /// The public half, as the issuer publishes it.
    fn jwk(&self) -> Value {
        let mut jwk = Jwk::from_encoding_key(&self.key, self.algorithm).unwrap();
        jwk.common.key_id = Some(self.kid.into());
        jwk.common.key_algorithm = Some(KeyAlgorithm::from(self.algorithm));
        serde_json::to_value(jwk).unwrap()
    }

    /// A token with `claims`, signed by this key under `kid`.
    fn sign_as(&self, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(self.algorithm);
        header.kid = Some(kid.into());
        encode(&header, claims, &self.key).unwrap()
    }

    fn sign(&self, claims: &Value) -> String {
        self.sign_as(self.kid, claims)
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The test issuer: an HTTP server with its metadata and key set.
struct Issuer {
    server: TestServer,
}

impl Issuer {
    async fn start(keys: &[&SigningKey]) -> Self {
        let server = TestServer::start().await;
        let url = format!("http://127.0.0.1:{}", server.port());
        server.route(
            "/.well-known/oauth-authorization-server",
            Reply::ok(
                "application/json",
                json!({ "issuer": url, "jwks_uri": format!("{url}/jwks") }).to_string(),
            ),
        );
        let issuer = Self { server };
        issuer.publish(keys);
        issuer
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.server.port())
    }

    /// Publishes `keys` as the key set (a rotation replaces it).
    fn publish(&self, keys: &[&SigningKey]) {
        let keys: Vec<Value> = keys.iter().map(|k| k.jwk()).collect();
        self.server.route(
            "/jwks",
            Reply::ok("application/json", json!({ "keys": keys }).to_string()),
        );
    }

    /// How many times the key set was fetched.
    fn key_fetches(&self) -> usize {
        self.server
            .requests()
            .iter()
            .filter(|r| r.contains("/jwks"))
            .count()
    }

    /// Claims of a valid token for `sub` with `scope`.
    fn claims(&self, sub: &str, scope: &str) -> Value {
        json!({
            "iss": self.url(), "aud": RESOURCE, "sub": sub, "scope": scope,
            "team": format!("team-{sub}"), "iat": now(), "exp": now() + 600,
        })
    }
}

fn config(issuer: &Issuer) -> String {
    format!(
        "[http]\nauth = \"oauth\"\n[auth]\nissuer = \"{}\"\nresource = \"{RESOURCE}\"\n\
         metrics_claim = \"team\"\n[audit]\nfile = \"audit.jsonl\"\n{RULES}",
        issuer.url()
    )
}

/// A stateless `tools/call` of `tool` as a raw POST with `token`.
async fn raw_call(remote: &Remote, token: &str, tool: &str, arguments: Value) -> reqwest::Response {
    let params = json!({ "name": tool, "arguments": arguments });
    stateless_post(&remote.url("/mcp"), 7, "tools/call", Some(tool), params)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

fn challenge(response: &reqwest::Response) -> String {
    response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned()
}

fn audit(dir: &Path) -> Vec<Value> {
    json_lines(&dir.join("audit.jsonl"))
}

async fn tool_names(client: &crate::remote_support::HttpClient) -> Vec<String> {
    let mut names: Vec<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_are_checked_against_the_issuer_and_the_resource() {
    let a = SigningKey::load("a", "rsa-a.pem", Algorithm::RS256);
    let b = SigningKey::load("b", "rsa-b.pem", Algorithm::RS256);
    let issuer = Issuer::start(&[&a]).await;
    let dir = tempfile::tempdir().unwrap();
    let plugins = Plugins::new().examples();
    let remote = Remote::start(dir.path(), &config(&issuer), plugins.path(), &[], &[]);

    // The metadata is open, at the path RFC 9728 derives from the resource.
    let metadata: Value = reqwest::get(remote.url("/.well-known/oauth-protected-resource/mcp"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["resource"], RESOURCE);
    assert_eq!(metadata["authorization_servers"], json!([issuer.url()]));
    assert_eq!(
        metadata["scopes_supported"],
        json!(["admin", "metrics", "text:read"])
    );

    // No token: 401 pointing at the metadata.
    let pointer =
        "resource_metadata=\"https://warden.test/.well-known/oauth-protected-resource/mcp\"";
    let missing = raw_call(&remote, "", "text_hash", json!({})).await;
    assert_eq!(missing.status(), 401);
    assert_eq!(challenge(&missing), format!("Bearer {pointer}"));

    // Each bad token: 401 with invalid_token and the reason.
    let claims = issuer.claims("alice", "admin");
    let with = |patch: Value| {
        let mut c = claims.clone();
        c.as_object_mut()
            .unwrap()
            .extend(patch.as_object().unwrap().clone());
        c
    };
    let cases = [
        ("expired", a.sign(&with(json!({"exp": now() - 120})))),
        ("not_yet_valid", a.sign(&with(json!({"nbf": now() + 120})))),
        (
            "wrong_audience",
            a.sign(&with(json!({"aud": "https://other.test/mcp"}))),
        ),
        (
            "wrong_issuer",
            a.sign(&with(json!({"iss": "https://evil.test"}))),
        ),
        ("unknown_key", a.sign_as("nobody", &claims)),
        ("bad_signature", b.sign_as("a", &claims)),
        ("malformed", "not.a.jwt".to_string()),
    ];
    for (reason, token) in &cases {
        let refused = raw_call(&remote, token, "text_hash", json!({})).await;
        assert_eq!(refused.status(), 401, "{reason}");
        let header = challenge(&refused);
        assert!(
            header.contains("error=\"invalid_token\"") && header.contains(pointer),
            "{reason}: {header}"
        );
    }
    // Within the leeway, an expired token still passes.
    let lenient = a.sign(&with(json!({"exp": now() - 5})));
    let response = raw_call(
        &remote,
        &lenient,
        "text_hash",
        json!({"text": "x", "algorithm": "sha256"}),
    )
    .await;
    assert_eq!(response.status(), 200);

    // The audit log names each reason, and never a token.
    let events = audit(dir.path());
    let reasons: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "auth_refused")
        .filter_map(|e| e["reason"].as_str())
        .collect();
    for (reason, token) in &cases {
        assert!(reasons.contains(reason), "{reason} not in {reasons:?}");
        let text = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
        assert!(!text.contains(token.as_str()));
    }
    assert!(reasons.contains(&"missing_token"));

    // Unknown key ids never make the server fetch the keys more than once
    // per interval, however many arrive.
    let fetches = issuer.key_fetches();
    for _ in 0..20 {
        let token = a.sign_as("random-kid", &claims);
        assert_eq!(
            raw_call(&remote, &token, "text_hash", json!({}))
                .await
                .status(),
            401
        );
    }
    assert!(
        issuer.key_fetches() <= fetches + 1,
        "{} fetches",
        issuer.key_fetches()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn scopes_decide_what_is_listed_and_called_and_each_principal_has_its_rate() {
    let a = SigningKey::load("a", "rsa-a.pem", Algorithm::RS256);
    let issuer = Issuer::start(&[&a]).await;
    let dir = tempfile::tempdir().unwrap();
    let plugins = Plugins::new().examples();
    let remote = Remote::start(dir.path(), &config(&issuer), plugins.path(), &[], &[]);
    let reader = a.sign(&issuer.claims("alice", "text:read"));
    let admin = a.sign(&issuer.claims("root", "admin"));

    for revision in [Revision::Legacy, Revision::Stateless] {
        let client = remote.client(revision, Some(&admin)).await;
        let all = tool_names(&client).await;
        assert!(all.iter().any(|t| t.starts_with("time_")), "{all:?}");
        client.cancel().await.unwrap();

        let client = remote.client(revision, Some(&reader)).await;
        let names = tool_names(&client).await;
        assert!(!names.is_empty(), "{revision:?}");
        assert!(names.iter().all(|t| t.starts_with("text_")), "{names:?}");
        let expected: Vec<&String> = all.iter().filter(|t| t.starts_with("text_")).collect();
        assert_eq!(names.iter().collect::<Vec<_>>(), expected);
        // A tool it may not call: refused before it runs.
        let refused = client
            .call_tool(rmcp::model::CallToolRequestParams::new("time_now"))
            .await;
        assert!(refused.is_err(), "{revision:?}: {refused:?}");
        client.cancel().await.unwrap();
    }

    // Raw: 403 with the scope that would do (step-up authorization).
    let forbidden = raw_call(&remote, &reader, "time_now", json!({})).await;
    assert_eq!(forbidden.status(), 403);
    let header = challenge(&forbidden);
    assert!(
        header.starts_with("Bearer error=\"insufficient_scope\", scope=\"admin\""),
        "{header}"
    );
    let body: Value = forbidden.json().await.unwrap();
    assert_eq!(body["id"], 7);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("a token with the scope admin may"),
        "{body}"
    );

    // A token no rule applies to may do nothing.
    let stranger = a.sign(&issuer.claims("eve", "profile"));
    let refused = raw_call(&remote, &stranger, "text_hash", json!({})).await;
    assert_eq!(refused.status(), 403);
    assert!(challenge(&refused).contains("scope=\"admin metrics text:read\""));

    // The reader's rate: 3 calls a minute per tool; then 429 with
    // Retry-After. Other tools, and other principals, have their own.
    let hash = json!({"text": "x", "algorithm": "sha256"});
    for _ in 0..3 {
        let ok = raw_call(&remote, &reader, "text_hash", hash.clone()).await;
        assert_eq!(ok.status(), 200);
    }
    let limited = raw_call(&remote, &reader, "text_hash", hash.clone()).await;
    assert_eq!(limited.status(), 429);
    let wait: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // Names of tools that do not exist get "unknown tool", never a budget.
    for _ in 0..5 {
        let unknown = raw_call(&remote, &reader, "text_nope", json!({})).await;
        assert_eq!(unknown.status(), 200);
        assert!(unknown.text().await.unwrap().contains("text_nope"));
    }
    let bob = a.sign(&issuer.claims("bob", "text:read"));
    assert_eq!(
        raw_call(&remote, &bob, "text_hash", hash.clone())
            .await
            .status(),
        200
    );
    let client = remote.client(Revision::Stateless, Some(&admin)).await;
    for _ in 0..5 {
        ok_text(&call(&client, "text_hash", hash.clone()).await);
    }
    client.cancel().await.unwrap();

    // The audit log and the metrics name the principals.
    let events = audit(dir.path());
    let calls: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "tool_call")
        .collect();
    assert!(calls.iter().any(|e| e["principal"] == "alice"), "{calls:?}");
    assert!(calls.iter().any(|e| e["principal"] == "root"));
    let refusals: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e["event"] == "access_refused")
        .map(|e| {
            (
                e["principal"].as_str().unwrap(),
                e["reason"].as_str().unwrap(),
            )
        })
        .collect();
    for expected in [
        ("alice", "not_allowed"),
        ("eve", "no_rule"),
        ("alice", "rate_limited"),
    ] {
        assert!(refusals.contains(&expected), "{expected:?} in {refusals:?}");
    }
    // /metrics names every plugin's tools and every principal: only a rule
    // with `metrics = true` opens it, even to the admin.
    let scrape = |token: String| {
        let url = remote.url("/metrics");
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
        }
    };
    for token in [&admin, &reader] {
        let refused = scrape(token.clone()).await;
        assert_eq!(refused.status(), 403);
        let challenge = challenge(&refused);
        assert!(
            challenge.contains(r#"error="insufficient_scope", scope="metrics""#),
            "{challenge}"
        );
    }
    let scraper = a.sign(&issuer.claims("prometheus", "metrics"));
    let metrics = scrape(scraper.clone()).await;
    assert_eq!(metrics.status(), 200);
    let metrics = metrics.text().await.unwrap();
    // The scraper may call nothing.
    assert_eq!(
        raw_call(&remote, &scraper, "text_hash", hash)
            .await
            .status(),
        403
    );
    assert!(
        audit(dir.path())
            .iter()
            .any(|e| e["principal"] == "root" && e["reason"] == "metrics_not_allowed")
    );
    for series in [
        r#"warden_principal_tool_calls_total{principal="team-alice",plugin="text",outcome="ok"} 3"#,
        r#"warden_principal_tool_calls_total{principal="team-root",plugin="text",outcome="ok"} 5"#,
        r#"warden_principal_calls_refused_total{principal="team-alice",reason="rate_limited"} 1"#,
    ] {
        assert!(metrics.contains(series), "{series} in:\n{metrics}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_key_is_fetched_and_a_retired_one_refused() {
    let a = SigningKey::load("a", "rsa-a.pem", Algorithm::RS256);
    let c = SigningKey::load("c", "ec-c.pem", Algorithm::ES256);
    let issuer = Issuer::start(&[&a]).await;
    let dir = tempfile::tempdir().unwrap();
    let plugins = Plugins::new().examples();
    let remote = Remote::start(dir.path(), &config(&issuer), plugins.path(), &[], &[]);
    let hash = json!({"text": "x", "algorithm": "sha256"});
    let old = a.sign(&issuer.claims("root", "admin"));
    assert_eq!(
        raw_call(&remote, &old, "text_hash", hash.clone())
            .await
            .status(),
        200
    );

    // The issuer rotates to an EC key and retires the RSA one.
    issuer.publish(&[&c]);
    let new = c.sign(&issuer.claims("root", "admin"));
    // The new key id is fetched at most once per interval (5 s): ask until
    // the server has it.
    let started = std::time::Instant::now();
    loop {
        let status = raw_call(&remote, &new, "text_hash", hash.clone())
            .await
            .status();
        if status == 200 {
            break;
        }
        assert_eq!(status, 401);
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the rotated key was never fetched:\n{}",
            remote.stderr()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // The retired key is gone from the fetched set.
    assert_eq!(
        raw_call(&remote, &old, "text_hash", hash).await.status(),
        401
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_serves_only_the_principal_that_opened_it() {
    let a = SigningKey::load("a", "rsa-a.pem", Algorithm::RS256);
    let issuer = Issuer::start(&[&a]).await;
    let dir = tempfile::tempdir().unwrap();
    let plugins = Plugins::new().examples();
    let remote = Remote::start(dir.path(), &config(&issuer), plugins.path(), &[], &[]);
    let alice = a.sign(&issuer.claims("alice", "admin"));
    let mallory = a.sign(&issuer.claims("mallory", "admin"));
    let post = |token: &str, session: Option<&str>, body: Value| {
        let mut request = reqwest::Client::new()
            .post(remote.url("/mcp"))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .bearer_auth(token)
            .body(body.to_string());
        if let Some(session) = session {
            request = request
                .header("mcp-session-id", session)
                .header("mcp-protocol-version", "2025-11-25");
        }
        request.send()
    };
    let opened = post(
        &alice,
        None,
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "e2e", "version": "1"}}}),
    )
    .await
    .unwrap();
    assert_eq!(opened.status(), 200);
    let session = opened.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let status = post(&alice, Some(&session), initialized)
        .await
        .unwrap()
        .status();
    assert!(status.is_success(), "{status}");
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});

    // Another principal with a valid token cannot use alice's session.
    let stolen = post(&mallory, Some(&session), list.clone()).await.unwrap();
    assert_eq!(stolen.status(), 404);
    let own = post(&alice, Some(&session), list).await.unwrap();
    assert_eq!(own.status(), 200);
    assert!(own.text().await.unwrap().contains("text_hash"));
    let refused: Vec<Value> = audit(dir.path())
        .into_iter()
        .filter(|e| e["event"] == "access_refused")
        .collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["principal"], "mallory");
    assert_eq!(refused[0]["reason"], "session_not_owned");
}

#[tokio::test(flavor = "multi_thread")]
async fn resources_and_prompts_are_open_only_with_a_callable_tool_of_their_plugin() {
    let a = SigningKey::load("a", "rsa-a.pem", Algorithm::RS256);
    let issuer = Issuer::start(&[&a]).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("docs")).unwrap();
    std::fs::write(
        dir.path().join("docs/alpha.md"),
        "# Alpha\n\nSecret plans.\n",
    )
    .unwrap();
    let plugins = Plugins::new()
        .examples()
        .component("docs", warden_test_artifacts::DOCS_WASM)
        .manifest(
            "docs",
            "manifest_version = 1\nname = \"docs\"\n[[capabilities.dirs]]\nhost = \"docs\"\nguest = \"/docs\"\nmode = \"ro\"\n",
        );
    let remote = Remote::start(dir.path(), &config(&issuer), plugins.path(), &[], &[]);
    let reader = a.sign(&issuer.claims("alice", "text:read"));
    let admin = a.sign(&issuer.claims("root", "admin"));
    let uri = "docs+docs://alpha.md";

    for revision in [Revision::Legacy, Revision::Stateless] {
        let client = remote.client(revision, Some(&admin)).await;
        let resources = client.list_all_resources().await.unwrap();
        assert!(resources.iter().any(|r| r.uri == uri), "{resources:?}");
        assert!(!client.list_all_prompts().await.unwrap().is_empty());
        assert!(
            !client
                .list_all_resource_templates()
                .await
                .unwrap()
                .is_empty()
        );
        client
            .read_resource(rmcp::model::ReadResourceRequestParams::new(uri))
            .await
            .unwrap();
        client.cancel().await.unwrap();

        // The reader may call no docs tool: the docs plugin looks absent.
        let client = remote.client(revision, Some(&reader)).await;
        assert!(client.list_all_resources().await.unwrap().is_empty());
        assert!(client.list_all_prompts().await.unwrap().is_empty());
        assert!(
            client
                .list_all_resource_templates()
                .await
                .unwrap()
                .is_empty()
        );
        let read = client
            .read_resource(rmcp::model::ReadResourceRequestParams::new(uri))
            .await;
        let error = format!("{:?}", read.unwrap_err());
        assert!(error.contains("no plugin serves the resource"), "{error}");
        assert!(!error.contains("Secret plans"));
        client.cancel().await.unwrap();
    }
}
