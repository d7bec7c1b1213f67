//! Outgoing HTTP through the real server: the `fetch` example plugin against
//! HTTP servers this test starts on 127.0.0.1, allowed and denied side by
//! side. A denied request must never reach a server: every case counts the
//! connections the servers accepted.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::support::{Plugins, Revision, Server, error_text, ok_text};

/// One canned response.
#[derive(Clone)]
pub(crate) struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    pub(crate) fn ok(content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status: 200,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.into(),
        }
    }

    pub(crate) fn redirect(location: &str) -> Self {
        Self {
            status: 302,
            headers: vec![("location".into(), location.into())],
            body: Vec::new(),
        }
    }
}

/// A minimal HTTP/1.1 server on 127.0.0.1 that answers from a route table
/// and records every connection and request it sees.
pub(crate) struct TestServer {
    addr: SocketAddr,
    routes: Arc<Mutex<HashMap<String, Reply>>>,
    connections: Arc<Mutex<u32>>,
    requests: Arc<Mutex<Vec<String>>>,
    heads: Arc<Mutex<Vec<String>>>,
}

impl TestServer {
    pub(crate) async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().unwrap();
        let routes: Arc<Mutex<HashMap<String, Reply>>> = Arc::default();
        let connections: Arc<Mutex<u32>> = Arc::default();
        let requests: Arc<Mutex<Vec<String>>> = Arc::default();
        let heads: Arc<Mutex<Vec<String>>> = Arc::default();
        let (r, c, q, h) = (
            routes.clone(),
            connections.clone(),
            requests.clone(),
            heads.clone(),
        );
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                *c.lock().unwrap() += 1;
                let (routes, requests, heads) = (r.clone(), q.clone(), h.clone());
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                        if head.len() > 64 * 1024 {
                            return;
                        }
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
                    requests.lock().unwrap().push(path.clone());
                    heads.lock().unwrap().push(head.clone());
                    let reply = routes.lock().unwrap().get(&path).cloned();
                    let reply = reply.unwrap_or(Reply {
                        status: 404,
                        headers: vec![("content-type".into(), "text/plain".into())],
                        body: b"no such route".to_vec(),
                    });
                    let mut response = format!(
                        "HTTP/1.1 {} X\r\ncontent-length: {}\r\nconnection: close\r\n",
                        reply.status,
                        reply.body.len()
                    );
                    for (name, value) in &reply.headers {
                        response.push_str(&format!("{name}: {value}\r\n"));
                    }
                    response.push_str("\r\n");
                    if stream.write_all(response.as_bytes()).await.is_err() {
                        return;
                    }
                    for chunk in reply.body.chunks(64 * 1024) {
                        if stream.write_all(chunk).await.is_err() {
                            return;
                        }
                    }
                    let _ = stream.shutdown().await;
                });
            }
        });
        Self {
            addr,
            routes,
            connections,
            requests,
            heads,
        }
    }

    pub(crate) fn port(&self) -> u16 {
        self.addr.port()
    }

    pub(crate) fn route(&self, path: &str, reply: Reply) {
        self.routes.lock().unwrap().insert(path.into(), reply);
    }

    /// Connections accepted so far.
    pub(crate) fn connections(&self) -> u32 {
        *self.connections.lock().unwrap()
    }

    /// The request heads (request line and headers) seen so far.
    pub(crate) fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }

    /// Request targets (path and query) seen so far.
    pub(crate) fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// A plugins folder with `fetch` granted exactly `origins`.
pub(crate) fn fetch_plugin(origins: &[String]) -> Plugins {
    let list = origins
        .iter()
        .map(|o| format!("{o:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    Plugins::new()
        .component("fetch", warden_test_artifacts::FETCH_WASM)
        .manifest(
            "fetch",
            &format!(
                "manifest_version = 1\n\
                 [capabilities]\nhttp = [{list}]\n\
                 [limits]\ntimeout = \"20s\"\n"
            ),
        )
}

/// A config directory whose `warden.toml` lets `fetch` reach private
/// addresses through granted names.
pub(crate) fn allow_private_config() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("warden.toml"),
        "[plugins.fetch]\nallow_private = true\n",
    )
    .unwrap();
    dir
}

/// By default a granted name that resolves to a loopback address is refused
/// before connecting; the IP literal a grant names is not.
#[tokio::test]
async fn a_granted_name_that_resolves_to_loopback_is_refused_by_default() {
    let site = TestServer::start().await;
    let port = site.port();
    site.route("/hello", Reply::ok("text/plain", "hello"));
    let plugins = fetch_plugin(&[
        format!("http://localhost:{port}"),
        format!("http://127.0.0.1:{port}"),
    ]);
    let server = Server::start(plugins.path(), Revision::Stateless).await;
    let refused = server
        .call(
            "fetch_get",
            json!({ "url": format!("http://localhost:{port}/hello") }),
        )
        .await;
    let text = error_text(&refused);
    assert!(
        text.contains(&format!(
            "http access to http://localhost:{port} denied: localhost resolves to "
        )),
        "{text}"
    );
    assert!(text.contains("a loopback address"), "{text}");
    assert!(
        text.contains("[plugins.fetch] allow_private = true"),
        "{text}"
    );
    assert_eq!(site.connections(), 0, "a refused name connected");
    let by_address = server
        .call(
            "fetch_get",
            json!({ "url": format!("http://127.0.0.1:{port}/hello") }),
        )
        .await;
    assert!(ok_text(&by_address).starts_with("hello"));
    assert_eq!(site.connections(), 1);
    // A redirect to the granted name is a new request, refused the same way.
    site.route(
        "/hop",
        Reply::redirect(&format!("http://localhost:{port}/hello")),
    );
    let hopped = server
        .call(
            "fetch_get",
            json!({ "url": format!("http://127.0.0.1:{port}/hop") }),
        )
        .await;
    let text = error_text(&hopped);
    assert!(text.contains("localhost resolves to "), "{text}");
    assert_eq!(site.connections(), 2, "the redirect to the name connected");
    assert_eq!(site.requests(), ["/hello", "/hop"]);
}

/// The `warden::denied` events the server logged so far.
fn denied_events(server: &Server) -> Vec<Value> {
    server
        .log_events()
        .into_iter()
        .filter(|e| e["target"] == "warden::denied")
        .collect()
}

/// Asserts that a denial of `target` (`scheme://host:port`) was logged with
/// the capability and a reason, and returns the reason.
fn assert_denied_logged(server: &Server, target: &str) -> String {
    let events = denied_events(server);
    let event = events
        .iter()
        .find(|e| e["fields"]["target"] == target)
        .unwrap_or_else(|| panic!("no warden::denied event for {target}: {events:#?}"));
    assert_eq!(event["fields"]["capability"], "http", "{event:#}");
    assert_eq!(event["fields"]["plugin"], "fetch", "{event:#}");
    assert_eq!(event["level"], "WARN", "{event:#}");
    event["fields"]["reason"]
        .as_str()
        .expect("the reason is a string")
        .to_string()
}

/// Asserts a denied call's error names the capability and the origin: both
/// in the plugin's own message and in the host's account of the denial.
fn assert_denied(result: &rmcp::model::CallToolResult, origin: &str) -> String {
    let text = error_text(result);
    assert!(
        text.contains(&format!(
            "the origin {origin} is not granted to this plugin"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("\n- http access to {origin} denied: ")),
        "{text}"
    );
    text
}

#[tokio::test]
async fn granted_origin_succeeds_and_every_other_origin_is_denied_before_connecting() {
    let granted = TestServer::start().await;
    let by_name = TestServer::start().await;
    let elsewhere = TestServer::start().await;
    let (a, b, c) = (granted.port(), by_name.port(), elsewhere.port());
    granted.route(
        "/hello",
        Reply::ok("text/plain", "hello from the granted origin"),
    );
    granted.route(
        "/data",
        Reply::ok("application/json", r#"{"answer":42,"list":[1,2]}"#),
    );
    granted.route(
        "/page",
        Reply::ok(
            "text/html; charset=utf-8",
            "<html><head><title>T</title></head><body><h1>Title</h1>\
             <p>Some <b>bold</b> text and <a href=\"/data\">a link</a>.</p></body></html>",
        ),
    );
    granted.route("/hop", Reply::redirect("/hello"));
    granted.route(
        "/away",
        Reply::redirect(&format!("http://127.0.0.1:{c}/landing?token=hunter2")),
    );
    granted.route(
        "/to-name",
        Reply::redirect(&format!("http://localhost:{a}/hello")),
    );
    by_name.route("/hello", Reply::ok("text/plain", "hello by name"));
    elsewhere.route(
        "/landing",
        Reply::ok("text/plain", "should never be served"),
    );

    // Granted: 127.0.0.1:A by address, localhost:B by name only (a name
    // that resolves to loopback: the operator allows private addresses).
    let plugins = fetch_plugin(&[
        format!("http://127.0.0.1:{a}"),
        format!("http://localhost:{b}"),
    ]);
    let config = allow_private_config();
    let server = Server::start_with(
        plugins.path(),
        Revision::Stateless,
        &[
            "--config",
            config.path().join("warden.toml").to_str().unwrap(),
        ],
    )
    .await;
    let get = |url: String| {
        let server = &server;
        async move { server.call("fetch_get", json!({ "url": url })).await }
    };

    // Allowed: text, JSON (pretty-printed), HTML (as markdown), a redirect
    // within the origin, and the name-granted server by its name.
    let text = ok_text(&get(format!("http://127.0.0.1:{a}/hello")).await);
    assert!(text.starts_with("hello from the granted origin"), "{text}");
    let text = ok_text(&get(format!("http://127.0.0.1:{a}/data")).await);
    assert!(text.starts_with("{\n  \"answer\": 42,"), "{text}");
    let text = ok_text(&get(format!("http://127.0.0.1:{a}/page")).await);
    assert!(
        text.starts_with(&format!(
            "# Title\n\nSome **bold** text and [a link](http://127.0.0.1:{a}/data)."
        )),
        "{text}"
    );
    let text = ok_text(&get(format!("http://127.0.0.1:{a}/hop")).await);
    assert!(text.starts_with("hello from the granted origin"), "{text}");
    assert!(text.contains("after 1 redirect"), "{text}");
    let text = ok_text(&get(format!("http://localhost:{b}/hello")).await);
    assert!(text.starts_with("hello by name"), "{text}");
    assert_eq!(
        granted.requests(),
        ["/hello", "/data", "/page", "/hop", "/hello"]
    );
    assert_eq!(by_name.requests(), ["/hello"]);
    assert!(denied_events(&server).is_empty());
    let granted_connections = granted.connections();
    let by_name_connections = by_name.connections();

    // Another port.
    let result = get(format!("http://127.0.0.1:{c}/landing")).await;
    assert_denied(&result, &format!("http://127.0.0.1:{c}"));
    let reason = assert_denied_logged(&server, &format!("http://127.0.0.1:{c}"));
    assert!(reason.starts_with(&format!("no grant for http://127.0.0.1:{c} (granted: ")));

    // Another host name for the same address.
    let result = get(format!("http://localhost:{a}/hello")).await;
    assert_denied(&result, &format!("http://localhost:{a}"));
    let reason = assert_denied_logged(&server, &format!("http://localhost:{a}"));
    assert!(
        reason.contains(&format!(
            "granted: http://127.0.0.1:{a}, http://localhost:{b}"
        )),
        "{reason}"
    );

    // An IP literal that is not listed, although its name is granted.
    let result = get(format!("http://127.0.0.1:{b}/hello")).await;
    assert_denied(&result, &format!("http://127.0.0.1:{b}"));
    assert_denied_logged(&server, &format!("http://127.0.0.1:{b}"));
    // An IPv6 literal, and another scheme on the granted host and port.
    let result = get(format!("http://[::1]:{a}/hello")).await;
    assert_denied(&result, &format!("http://[::1]:{a}"));
    assert_denied_logged(&server, &format!("http://[::1]:{a}"));
    let result = get(format!("https://127.0.0.1:{a}/hello")).await;
    assert_denied(&result, &format!("https://127.0.0.1:{a}"));
    assert_denied_logged(&server, &format!("https://127.0.0.1:{a}"));

    // None of those reached a server.
    assert_eq!(granted.connections(), granted_connections);
    assert_eq!(by_name.connections(), by_name_connections);
    assert_eq!(elsewhere.connections(), 0);

    // A redirect from the granted origin to one that is not: the first hop
    // is served, the second is denied before connecting.
    let result = get(format!("http://127.0.0.1:{a}/away")).await;
    let text = assert_denied(&result, &format!("http://127.0.0.1:{c}"));
    assert!(
        text.contains(&format!("(redirected from http://127.0.0.1:{a}/away)")),
        "{text}"
    );
    assert!(!text.contains(&format!("http access to http://127.0.0.1:{a} denied")));
    let result = get(format!("http://127.0.0.1:{a}/to-name")).await;
    assert_denied(&result, &format!("http://localhost:{a}"));
    assert_eq!(
        granted.requests()[5..],
        ["/away".to_string(), "/to-name".to_string()]
    );
    assert_eq!(elsewhere.connections(), 0);

    // Denials name the origin but never the path or the query.
    let events = denied_events(&server);
    assert!(events.len() >= 7, "{events:#?}");
    for event in &events {
        let line = event.to_string();
        assert!(!line.contains("hunter2"), "{line}");
        assert!(!line.contains("/landing"), "{line}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_plugin_without_an_http_grant_reaches_nothing() {
    let target = TestServer::start().await;
    target.route("/", Reply::ok("text/plain", "nope"));
    let plugins = Plugins::new().component("fetch", warden_test_artifacts::FETCH_WASM);
    let server = Server::start(plugins.path(), Revision::Legacy).await;
    let result = server
        .call(
            "fetch_get",
            json!({ "url": format!("http://127.0.0.1:{}/", target.port()) }),
        )
        .await;
    assert_denied(&result, &format!("http://127.0.0.1:{}", target.port()));
    let reason = assert_denied_logged(&server, &format!("http://127.0.0.1:{}", target.port()));
    assert_eq!(reason, "the plugin has no HTTP grant");
    assert!(
        error_text(&result).ends_with(&format!(
            "- http access to http://127.0.0.1:{} denied: the plugin has no HTTP grant",
            target.port()
        )),
        "{}",
        error_text(&result)
    );
    assert_eq!(target.connections(), 0);
    server.stop().await;
}

#[tokio::test]
async fn response_bodies_are_capped_by_the_host() {
    let big = TestServer::start().await;
    // One byte over the default cap of 8 MiB per response body.
    big.route("/big", Reply::ok("text/plain", vec![b'a'; (8 << 20) + 1]));
    big.route("/small", Reply::ok("text/plain", vec![b'b'; 1000]));
    let list = format!("{:?}", format!("http://127.0.0.1:{}", big.port()));
    let plugins = Plugins::new()
        .component("fetch", warden_test_artifacts::FETCH_WASM)
        .manifest(
            "fetch",
            &format!(
                "manifest_version = 1\n[capabilities]\nhttp = [{list}]\n\
                 [limits]\ntimeout = \"20s\"\n"
            ),
        );
    let server = Server::start(plugins.path(), Revision::Stateless).await;

    // The plugin asks for more than the host allows: reading past the cap fails.
    let result = server
        .call(
            "fetch_get",
            json!({ "url": format!("http://127.0.0.1:{}/big", big.port()), "max_bytes": 16 << 20 }),
        )
        .await;
    let text = error_text(&result);
    assert!(
        text.contains(
            "is larger than the host allows this plugin (8388608 bytes, http_max_response)"
        ),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "- http access to http://127.0.0.1:{} denied: the response body is larger than \
             the plugin's limit of 8388608 bytes (http_max_response)",
            big.port()
        )),
        "{text}"
    );
    let reason = assert_denied_logged(&server, &format!("http://127.0.0.1:{}", big.port()));
    assert!(reason.contains("http_max_response"), "{reason}");

    // Under the cap everything arrives; the plugin's own max_bytes cuts earlier.
    let result = server
        .call(
            "fetch_get",
            json!({ "url": format!("http://127.0.0.1:{}/small", big.port()), "max_bytes": 10 }),
        )
        .await;
    let text = ok_text(&result);
    assert!(text.starts_with("bbbbbbbbbb\n"), "{text}");
    assert!(text.contains("(truncated at max_bytes)"), "{text}");
    server.stop().await;
}

#[tokio::test]
async fn raw_sockets_are_denied() {
    let target = TestServer::start().await;
    let plugins = Plugins::new().hostile(None);
    let server = Server::start(plugins.path(), Revision::Stateless).await;
    let result = server
        .call(
            "hostile_socket",
            json!({ "addr": format!("127.0.0.1:{}", target.port()) }),
        )
        .await;
    let text = ok_text(&result);
    assert!(text.starts_with("connect failed: "), "{text}");
    assert!(
        text.contains("PermissionDenied") || text.contains("not permitted"),
        "{text}"
    );
    assert_eq!(target.connections(), 0);
    server.stop().await;
}

#[tokio::test]
async fn manifest_and_operator_http_limits_take_the_lower_value() {
    let origin = TestServer::start().await;
    let port = origin.port();
    origin.route(
        "/start",
        Reply::redirect(&format!("http://127.0.0.1:{port}/next")),
    );
    origin.route("/next", Reply::ok("text/plain", "after one redirect"));
    origin.route("/4k", Reply::ok("text/plain", vec![b'x'; 4096]));
    let plugins = Plugins::new()
        .component("fetch", warden_test_artifacts::FETCH_WASM)
        .manifest(
            "fetch",
            &format!(
                "manifest_version = 1\n\
                 [capabilities]\nhttp = [\"http://127.0.0.1:{port}\"]\n\
                 http_max_requests = 8\nhttp_max_response = \"2KiB\"\n"
            ),
        );
    let config = plugins.path().join("warden.toml");
    std::fs::write(
        &config,
        "[plugins.fetch]\nhttp_max_requests = 1\nhttp_max_response = \"64KiB\"\n",
    )
    .unwrap();
    let server = Server::start_with(
        plugins.path(),
        Revision::Stateless,
        &["--config", config.to_str().unwrap()],
    )
    .await;

    // The operator's 1 request per call beats the manifest's 8: the redirect's
    // second request is refused before connecting.
    let result = server
        .call(
            "fetch_get",
            json!({ "url": format!("http://127.0.0.1:{port}/start") }),
        )
        .await;
    let text = error_text(&result);
    assert!(
        text.contains(&format!(
            "- http access to http://127.0.0.1:{port} denied: the plugin already made 1 HTTP \
             request in this call (http_max_requests = 1)"
        )),
        "{text}"
    );
    assert_eq!(origin.requests(), ["/start"]);

    // The manifest's 2 KiB per response beats the operator's 64 KiB.
    let result = server
        .call(
            "fetch_get",
            json!({ "url": format!("http://127.0.0.1:{port}/4k") }),
        )
        .await;
    let text = error_text(&result);
    assert!(
        text.contains("the response body is larger than the plugin's limit of 2048 bytes"),
        "{text}"
    );
    server.stop().await;
}
