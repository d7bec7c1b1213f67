//! Native tests of the tools, with the example flag file of the repository
//! (`examples/workspace/flags/flags.json`) in a temporary "granted" directory.

use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};
use warden_plugin::describe_tools;

use super::*;

const EXAMPLE: &str = include_str!("../../../examples/workspace/flags/flags.json");

struct TempConfig {
    dir: PathBuf,
}

impl TempConfig {
    fn new() -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "warden-flags-test-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("flags.json"), EXAMPLE).unwrap();
        Self { dir }
    }

    fn ctx(&self) -> Ctx {
        Ctx {
            roots: vec![Root::new(self.path())],
            config_dir: self.path(),
        }
    }

    fn path(&self) -> String {
        self.dir.display().to_string()
    }
}

impl Drop for TempConfig {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn args<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).unwrap()
}

fn error(result: Result<ToolOutput, ToolError>) -> ToolError {
    result.expect_err("expected an error")
}

/// A user inside (`want` = true) or outside the rollout of `flag` at `pct`%.
fn user(flag: &str, pct: u64, want: bool) -> String {
    (0..)
        .map(|i| format!("user-{i}"))
        .find(|u| (config::bucket(flag, u) < pct * 100) == want)
        .unwrap()
}

#[test]
fn descriptors() {
    let d = describe_tools(&tools()).unwrap();
    let names: Vec<_> = d.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["get", "list", "environments"]);
    for t in &d {
        assert_eq!(t.annotations.read_only, Some(true));
        let schema: Value = serde_json::from_str(&t.input_schema).unwrap();
        assert_eq!(schema["type"], "object");
        assert!(schema["properties"]["file"]["description"].is_string());
    }
    let get: Value = serde_json::from_str(&d[0].input_schema).unwrap();
    assert_eq!(get["required"], json!(["flag", "environment"]));
}

#[test]
fn example_file_is_valid() {
    let flags = config::parse(EXAMPLE).unwrap();
    assert_eq!(flags.environments, ["dev", "staging", "prod"]);
    assert_eq!(flags.flags.len(), 6);
}

#[test]
fn gets_flags() {
    let t = TempConfig::new();
    let ctx = t.ctx();
    let out = get(
        &ctx,
        args(json!({"flag": "checkout-v2", "environment": "dev"})),
    )
    .unwrap();
    assert_eq!(
        out.text_content(),
        "checkout-v2 = true in dev (override: dev overrides the default (false))"
    );
    assert_eq!(
        out.structured.unwrap(),
        json!({
            "flag": "checkout-v2",
            "environment": "dev",
            "value": true,
            "reason": "override",
            "detail": "dev overrides the default (false)",
            "description": "New one-page checkout flow (replaces the three-step wizard)"
        })
    );

    let out = get(
        &ctx,
        args(json!({"flag": "dark-mode", "environment": "prod"})),
    )
    .unwrap();
    assert_eq!(
        out.text_content(),
        "dark-mode = true in prod (default: no override for prod)"
    );

    let inside = user("checkout-v2", 25, true);
    let out = get(
        &ctx,
        args(json!({"flag": "checkout-v2", "environment": "prod", "user": inside})),
    )
    .unwrap();
    let s = out.structured.unwrap();
    assert_eq!(
        (s["value"].clone(), s["reason"].clone()),
        (json!(true), json!("rollout"))
    );
    assert_eq!(s["user"], json!(inside));
    // Deterministic: the same answer every time.
    let again = get(
        &ctx,
        args(json!({"flag": "checkout-v2", "environment": "prod", "user": inside})),
    )
    .unwrap();
    assert_eq!(again.structured.unwrap(), s);

    let outside = user("checkout-v2", 25, false);
    let out = get(
        &ctx,
        args(json!({"flag": "checkout-v2", "environment": "prod", "user": outside})),
    )
    .unwrap();
    assert_eq!(out.structured.unwrap()["value"], false);

    let out = get(
        &ctx,
        args(json!({"flag": "maintenance-banner", "environment": "prod"})),
    )
    .unwrap();
    assert_eq!(out.structured.unwrap()["value"]["enabled"], true);
}

#[test]
fn unknown_names_list_the_known_ones() {
    let t = TempConfig::new();
    let ctx = t.ctx();
    let file = format!("{}/flags.json", t.path());
    let e = error(get(
        &ctx,
        args(json!({"flag": "checkout_v2", "environment": "prod"})),
    ));
    assert_eq!(
        e,
        ToolError::invalid_arguments(format!(
            "unknown flag 'checkout_v2' in {file}; did you mean 'checkout-v2'? known flags: \
             checkout-v2, dark-mode, maintenance-banner, max-upload-mb, recommendations-model, \
             search-backend"
        ))
    );
    let e = error(get(
        &ctx,
        args(json!({"flag": "nope", "environment": "prod"})),
    ));
    assert!(e.message().starts_with("unknown flag 'nope' in "), "{e}");
    assert!(!e.message().contains("did you mean"), "{e}");
    let e = error(get(
        &ctx,
        args(json!({"flag": "dark-mode", "environment": "qa"})),
    ));
    assert_eq!(
        e,
        ToolError::invalid_arguments(format!(
            "unknown environment 'qa' in {file}; known environments: dev, staging, prod"
        ))
    );
    let e = error(list(&ctx, args(json!({"environment": "Prod"}))));
    assert_eq!(
        e.message(),
        format!(
            "unknown environment 'Prod' in {file}; did you mean 'prod'? known environments: dev, \
             staging, prod"
        )
    );
}

#[test]
fn lists_flags() {
    let t = TempConfig::new();
    let ctx = t.ctx();
    let file = format!("{}/flags.json", t.path());
    let out = list(&ctx, args(json!({"environment": "staging"}))).unwrap();
    let text = out.text_content();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], format!("6 flags in staging (from {file}):"));
    assert_eq!(
        lines[1],
        "- checkout-v2 = true (override: staging overrides the default (false)) — New one-page \
         checkout flow (replaces the three-step wizard)"
    );
    assert_eq!(lines.len(), 7);
    let s = out.structured.unwrap();
    assert_eq!(s["environment"], "staging");
    assert_eq!(s["file"], json!(file));
    let flags = s["flags"].as_array().unwrap();
    assert_eq!(flags.len(), 6);
    assert_eq!(flags[5]["flag"], "search-backend");
    assert_eq!(flags[5]["value"], "elasticsearch");
    assert!(
        flags[5]["detail"]
            .as_str()
            .unwrap()
            .contains("a 50% rollout to \"opensearch\" applies per user"),
        "{}",
        flags[5]
    );

    let inside = user("search-backend", 50, true);
    let out = list(
        &ctx,
        args(json!({"environment": "staging", "user": inside})),
    )
    .unwrap();
    assert!(
        out.text_content()
            .starts_with(&format!("6 flags in staging for user \"{inside}\""))
    );
    assert_eq!(out.structured.unwrap()["flags"][5]["value"], "opensearch");
}

#[test]
fn environments_of_the_file() {
    let t = TempConfig::new();
    let out = environments(&t.ctx(), args(json!({}))).unwrap();
    let file = format!("{}/flags.json", t.path());
    assert_eq!(
        out.text_content(),
        format!("Environments in {file}: dev, staging, prod (6 flags)")
    );
    assert_eq!(
        out.structured.unwrap(),
        json!({"file": file, "environments": ["dev", "staging", "prod"], "flags": 6})
    );
}

#[test]
fn file_errors() {
    let t = TempConfig::new();
    let ctx = t.ctx();
    let dir = t.path();
    fs::write(
        t.dir.join("broken.json"),
        "{\n  \"flags\": {\n    \"a\": {\"default\": }\n  }\n}",
    )
    .unwrap();
    let e = error(environments(&ctx, args(json!({"file": "broken.json"}))));
    assert_eq!(
        e,
        ToolError::failed(format!(
            "malformed flag file {dir}/broken.json: line 3, column 22: expected value"
        ))
    );
    let e = error(environments(&ctx, args(json!({"file": "missing.json"}))));
    assert_eq!(
        e,
        ToolError::failed(format!(
            "flag file {dir}/missing.json does not exist; .json files in {dir}: broken.json, \
             flags.json"
        ))
    );
    let e = error(environments(&ctx, args(json!({"file": "/etc/passwd"}))));
    assert_eq!(
        e.message(),
        format!(
            "no access to /etc/passwd: the plugin can only reach its granted directories ({dir})"
        )
    );
    let e = error(environments(&ctx, args(json!({"file": "../x/flags.json"}))));
    assert_eq!(
        e.message(),
        format!(
            "access denied to {dir}/../x/flags.json: the path leads outside the granted directory \
             {dir} (`..` cannot leave a granted directory)"
        )
    );
    fs::create_dir(t.dir.join("sub.json")).unwrap();
    let e = error(environments(&ctx, args(json!({"file": "sub.json"}))));
    assert_eq!(
        e.message(),
        format!("cannot read {dir}/sub.json: it is a directory, not a flag file")
    );
}
