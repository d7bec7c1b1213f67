//! The example plugins written in Python (`data`), JavaScript (`markdown`)
//! and C (`checksum`), built from source with their pinned toolchains,
//! through the real server: every tool, a capability the plugin was not
//! granted, and a limit that stops it (an interpreter spinning in a
//! backtracking regular expression is stopped by the deadline like any
//! other guest).

use rmcp::model::{GetPromptRequestParams, ReadResourceRequestParams, ResourceContents};
use serde_json::{Map, Value, json};

use crate::http::{Reply, TestServer};
use crate::support::{Plugins, Revision, Server, error_text, ok_text};

/// A note that makes a backtracking `(a+)+$` run for ever.
fn runaway() -> String {
    format!("{}!", "a".repeat(60))
}

/// A workspace with `data/` (granted) and a secret beside it (not granted).
fn workspace(files: &[(&str, &str)]) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("data")).unwrap();
    for (name, text) in files {
        std::fs::write(root.path().join("data").join(name), text).unwrap();
    }
    std::fs::write(root.path().join("secret.txt"), "TOP SECRET").unwrap();
    root
}

/// The tool names of `server` that start with `prefix`, sorted.
async fn tools_of(server: &Server, prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = server
        .tool_names()
        .await
        .into_iter()
        .filter(|n| n.starts_with(prefix))
        .collect();
    names.sort();
    names
}

/// The structured content of a successful call.
async fn structured(server: &Server, tool: &str, arguments: Value) -> Map<String, Value> {
    let result = server.call(tool, arguments).await;
    ok_text(&result);
    result
        .structured_content
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_else(|| panic!("{tool}: no structured content"))
}

/// A call that must fail: its message.
async fn refused(server: &Server, tool: &str, arguments: Value) -> String {
    let result = server.call(tool, arguments).await;
    error_text(&result)
}

#[tokio::test]
async fn python_data_plugin_tools_resources_prompt_denials_and_a_runaway_regex() {
    let csv = format!(
        "city,temp,notes\nOslo,3,\nLima,19,warm\nCairo,25,{}\n",
        runaway()
    );
    let workspace = workspace(&[
        ("cities.csv", &csv),
        ("doc.json", r#"{"name": "x", "items": [1, 2, 3]}"#),
    ]);
    let plugins = Plugins::new()
        .component("data", warden_test_artifacts::DATA_WASM)
        .manifest(
            "data",
            "manifest_version = 1\nname = \"data\"\n\
             [[capabilities.dirs]]\nhost = \"data\"\nguest = \"/data\"\nmode = \"ro\"\n\
             [limits]\ntimeout = \"3s\"\nfuel = 1_000_000_000_000\nmemory = \"256MiB\"\n",
        );
    let server = Server::start_in(
        plugins.path(),
        Revision::Stateless,
        &[],
        workspace.path(),
        &[],
    )
    .await;

    assert_eq!(
        tools_of(&server, "data_").await,
        [
            "data_files",
            "data_query_csv",
            "data_summarize_csv",
            "data_summarize_json"
        ]
    );

    let files = structured(&server, "data_files", json!({})).await;
    let paths: Vec<&str> = files["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["cities.csv", "doc.json"], "{files:?}");

    let summary = structured(
        &server,
        "data_summarize_csv",
        json!({ "path": "cities.csv" }),
    )
    .await;
    assert_eq!(summary["rows"], 3, "{summary:?}");
    let temp = summary["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "temp")
        .unwrap();
    assert_eq!(
        (&temp["type"], &temp["min"], &temp["max"]),
        (&json!("integer"), &json!(3), &json!(25)),
        "{temp}"
    );

    let shape = server
        .call("data_summarize_json", json!({ "path": "doc.json" }))
        .await;
    assert!(
        ok_text(&shape).contains("$.items: array (length 3)"),
        "{shape:?}"
    );

    let query = structured(
        &server,
        "data_query_csv",
        json!({
            "path": "cities.csv",
            "filters": [{ "column": "temp", "op": "gt", "value": "10" }],
            "columns": ["city"],
        }),
    )
    .await;
    assert_eq!(query["matched"], 2, "{query:?}");
    assert_eq!(query["rows"], json!([["Lima"], ["Cairo"]]), "{query:?}");

    for outside in ["/etc/passwd", "../secret.txt", "/data/../secret.txt"] {
        let message = refused(&server, "data_summarize_csv", json!({ "path": outside })).await;
        assert!(!message.contains("TOP SECRET"), "{outside}: {message}");
        assert!(!message.contains("root:"), "{outside}: {message}");
    }

    let resources = server
        .client
        .list_all_resources()
        .await
        .expect("resources/list");
    let uris: Vec<&str> = resources.iter().map(|r| r.uri.as_str()).collect();
    assert!(uris.contains(&"data+data:///cities.csv"), "{uris:?}");
    let read = server
        .client
        .read_resource(ReadResourceRequestParams::new("data+data:///cities.csv"))
        .await
        .expect("resources/read");
    match &read.contents[0] {
        ResourceContents::TextResourceContents { text, .. } => {
            assert!(text.starts_with("city,temp,notes\nOslo,3,"), "{text}");
        }
        other => panic!("{other:?}"),
    }

    let mut args = Map::new();
    args.insert("path".into(), json!("cities.csv"));
    let prompt = server
        .client
        .get_prompt(GetPromptRequestParams::new("data_explore").with_arguments(args))
        .await
        .expect("prompts/get");
    let message = serde_json::to_value(&prompt.messages[0]).unwrap();
    let text = message["content"]["text"].as_str().unwrap();
    assert!(
        text.contains("cities.csv") && text.contains("3 rows"),
        "{text}"
    );

    let runaway = refused(
        &server,
        "data_query_csv",
        json!({
            "path": "cities.csv",
            "filters": [{ "column": "notes", "op": "regex", "value": "(a+)+$" }],
        }),
    )
    .await;
    assert!(runaway.contains("did not finish within 3 s"), "{runaway}");
    let again = structured(&server, "data_files", json!({})).await;
    assert_eq!(again["files"].as_array().unwrap().len(), 2);
    // CPython's start code is slow enough for ready instances: calls after
    // the first ran in instances made ahead, and got the same answers.
    let ready = server
        .log_events()
        .iter()
        .filter(|e| e["fields"]["message"] == "tool call finished")
        .filter(|e| e["fields"]["ready"] == Value::Bool(true))
        .count();
    assert!(ready > 0, "no call ran in a ready instance");
    server.stop().await;
}

#[tokio::test]
async fn javascript_markdown_plugin_tools_a_refused_origin_and_a_runaway_regex() {
    let site = TestServer::start().await;
    site.route("/ok", Reply::ok("text/html", "<p>fine</p>"));
    let origin = format!("http://127.0.0.1:{}", site.port());
    let plugins = Plugins::new()
        .component("markdown", warden_test_artifacts::MARKDOWN_WASM)
        .manifest(
            "markdown",
            &format!(
                "manifest_version = 1\nname = \"markdown\"\n[capabilities]\nhttp = [\"{origin}\"]\n\
                 [limits]\ntimeout = \"3s\"\nfuel = 1_000_000_000_000\nmemory = \"64MiB\"\n"
            ),
        );
    let server = Server::start(plugins.path(), Revision::Legacy).await;

    assert_eq!(
        tools_of(&server, "markdown_").await,
        [
            "markdown_check_links",
            "markdown_links",
            "markdown_outline",
            "markdown_regex_test"
        ]
    );

    let outline = structured(
        &server,
        "markdown_outline",
        json!({ "markdown": "# Title\n\n## Part A\n\ntext\n\n## Part B\n" }),
    )
    .await;
    assert_eq!(outline["count"], 3);
    let children: Vec<&str> = outline["outline"][0]["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["anchor"].as_str().unwrap())
        .collect();
    assert_eq!(children, ["part-a", "part-b"], "{outline:?}");

    let links = structured(
        &server,
        "markdown_links",
        json!({ "markdown": "[a](https://example.com/x), [b](./local.md), [a](https://example.com/x)" }),
    )
    .await;
    assert_eq!(links["summary"]["absolute"], 2, "{links:?}");
    assert_eq!(links["summary"]["relative"], 1, "{links:?}");
    assert_eq!(links["duplicates"][0]["url"], "https://example.com/x");

    // The same server under another name: another origin, not granted.
    let not_granted = format!("http://localhost:{}/elsewhere", site.port());
    let checked = structured(
        &server,
        "markdown_check_links",
        json!({ "urls": [format!("{origin}/ok"), format!("{origin}/missing"), &not_granted] }),
    )
    .await;
    let results: Vec<(&str, &str)> = checked["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["url"].as_str().unwrap(), l["result"].as_str().unwrap()))
        .collect();
    assert_eq!(
        results,
        [
            (format!("{origin}/ok").as_str(), "ok"),
            (format!("{origin}/missing").as_str(), "broken"),
            (not_granted.as_str(), "not-allowed"),
        ],
        "{checked:?}"
    );
    let requested = site.requests();
    assert!(
        requested.iter().all(|path| path != "/elsewhere"),
        "{requested:?}"
    );

    let matches = structured(
        &server,
        "markdown_regex_test",
        json!({ "pattern": "(\\d+)-(\\d+)", "text": "10-20 and 30-40" }),
    )
    .await;
    assert_eq!(matches["count"], 2);
    assert_eq!(matches["matches"][1]["groups"][1]["value"], "40");

    let runaway = refused(
        &server,
        "markdown_regex_test",
        json!({ "pattern": "(a+)+$", "text": runaway() }),
    )
    .await;
    assert!(runaway.contains("did not finish within 3 s"), "{runaway}");
    let after = structured(
        &server,
        "markdown_outline",
        json!({ "markdown": "# Still here\n" }),
    )
    .await;
    assert_eq!(after["count"], 1);
    server.stop().await;
}

/// The hex digest of `algorithm` over `text`, through `checksum_text`.
async fn text_digest(server: &Server, algorithm: &str, text: &str) -> String {
    let result = structured(
        server,
        "checksum_text",
        json!({ "text": text, "algorithm": algorithm }),
    )
    .await;
    result["digest"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn c_checksum_plugin_tools_denials_and_fuel() {
    let big = "x".repeat(4 << 20);
    let workspace = workspace(&[
        ("check.txt", "123456789"),
        ("abc.txt", "abc"),
        ("big.bin", &big),
    ]);
    // Fuel for a few hundred kilobytes of SHA-256 only.
    let plugins = Plugins::new()
        .component("checksum", warden_test_artifacts::CHECKSUM_WASM)
        .manifest(
            "checksum",
            "manifest_version = 1\nname = \"checksum\"\n\
             [[capabilities.dirs]]\nhost = \"data\"\nguest = \"/data\"\nmode = \"ro\"\n\
             [limits]\nfuel = 100_000_000\nmemory = \"32MiB\"\n",
        );
    let server = Server::start_in(
        plugins.path(),
        Revision::Stateless,
        &[],
        workspace.path(),
        &[],
    )
    .await;

    assert_eq!(
        tools_of(&server, "checksum_").await,
        [
            "checksum_file",
            "checksum_list",
            "checksum_text",
            "checksum_verify"
        ]
    );

    let listed = structured(&server, "checksum_list", json!({})).await;
    let text = serde_json::to_string(&listed).unwrap();
    assert!(
        text.contains("check.txt") && text.contains("abc.txt"),
        "{text}"
    );

    // Standard check values of each algorithm.
    let check = |algorithm: &'static str| json!({ "path": "check.txt", "algorithm": algorithm });
    for (algorithm, expected) in [
        ("crc32", "cbf43926"),
        ("adler32", "091e01de"),
        ("fnv1a64", "06d5573923c6cdfc"),
    ] {
        let file = structured(&server, "checksum_file", check(algorithm)).await;
        assert_eq!(file["digest"], expected, "{algorithm}: {file:?}");
        assert_eq!(file["bytes"], 9);
        assert_eq!(text_digest(&server, algorithm, "123456789").await, expected);
    }
    let sha = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    let file = structured(
        &server,
        "checksum_file",
        json!({ "path": "/data/abc.txt", "algorithm": "sha256" }),
    )
    .await;
    assert_eq!(file["digest"], sha);
    let verified = structured(
        &server,
        "checksum_verify",
        json!({ "path": "abc.txt", "algorithm": "sha256", "expected": sha.to_uppercase() }),
    )
    .await;
    assert_eq!(verified["match"], true);
    let wrong = structured(
        &server,
        "checksum_verify",
        json!({ "path": "abc.txt", "algorithm": "crc32", "expected": "00000000" }),
    )
    .await;
    assert_eq!(wrong["match"], false);

    for outside in ["/etc/passwd", "../secret.txt", "/data/../secret.txt"] {
        let message = refused(
            &server,
            "checksum_file",
            json!({ "path": outside, "algorithm": "sha256" }),
        )
        .await;
        assert!(!message.contains("TOP SECRET"), "{outside}: {message}");
    }
    let missing = refused(&server, "checksum_file", json!({ "path": "missing.txt" })).await;
    assert!(missing.contains("No such file"), "{missing}");

    let stopped = refused(
        &server,
        "checksum_file",
        json!({ "path": "big.bin", "algorithm": "sha256" }),
    )
    .await;
    assert!(stopped.contains("fuel"), "{stopped}");
    let small = structured(&server, "checksum_file", check("crc32")).await;
    assert_eq!(small["digest"], "cbf43926");
    server.stop().await;
}
