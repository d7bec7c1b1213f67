//! The example plugins through the real server, on both protocol revisions.

use regex_lite::Regex;
use serde_json::json;

use crate::support::{Plugins, Revision, Server, ok_text};

#[tokio::test]
async fn example_tools_are_listed_with_valid_names_and_schemas() {
    let plugins = Plugins::new().examples();
    for revision in [Revision::Legacy, Revision::Stateless] {
        let server = Server::start(plugins.path(), revision).await;
        let tools = server.client.list_all_tools().await.expect("tools/list");
        let valid = Regex::new("^[a-zA-Z0-9_-]{1,64}$").unwrap();
        for tool in &tools {
            assert!(valid.is_match(&tool.name), "invalid name {}", tool.name);
            assert_eq!(
                tool.input_schema.get("type"),
                Some(&json!("object")),
                "{}",
                tool.name
            );
            assert!(
                tool.description.as_deref().is_some_and(|d| !d.is_empty()),
                "{}",
                tool.name
            );
        }
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
        for expected in [
            "text_hash",
            "text_base64_encode",
            "text_uuid",
            "text_json_query",
            "time_now",
            "time_convert",
        ] {
            assert!(
                names.contains(&expected),
                "{expected} missing from {names:?}"
            );
        }
        server.stop().await;
    }
}

#[tokio::test]
async fn example_tools_answer_on_both_revisions() {
    let plugins = Plugins::new().examples();
    for revision in [Revision::Legacy, Revision::Stateless] {
        let server = Server::start(plugins.path(), revision).await;

        let hash = server
            .call("text_hash", json!({ "text": "abc", "algorithm": "sha256" }))
            .await;
        assert!(
            ok_text(&hash)
                .contains("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            "{hash:?}"
        );

        let encoded = server
            .call("text_base64_encode", json!({ "text": "hello warden" }))
            .await;
        assert!(
            ok_text(&encoded).contains("aGVsbG8gd2FyZGVu"),
            "{encoded:?}"
        );

        let query = server
            .call(
                "text_json_query",
                json!({ "document": "{\"a\": [{\"b\": 1}, {\"b\": 2}]}", "query": "$.a[*].b" }),
            )
            .await;
        let found = ok_text(&query);
        assert!(found.contains('1') && found.contains('2'), "{found}");

        let uuid = server.call("text_uuid", json!({})).await;
        let uuid_re =
            Regex::new("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
                .unwrap();
        assert!(uuid_re.is_match(&ok_text(&uuid)), "{uuid:?}");

        let converted = server
            .call(
                "time_convert",
                json!({ "time": "2024-06-01T12:00:00Z", "to": "Asia/Tokyo" }),
            )
            .await;
        assert!(
            ok_text(&converted).contains("2024-06-01T21:00:00+09:00"),
            "{converted:?}"
        );

        let now = server.call("time_now", json!({ "timezone": "UTC" })).await;
        assert!(ok_text(&now).contains("20"), "{now:?}");

        let bad_zone = server
            .call("time_now", json!({ "timezone": "Mars/Olympus_Mons" }))
            .await;
        let message = crate::support::error_text(&bad_zone);
        assert!(message.contains("Mars/Olympus_Mons"), "{message}");

        server.stop().await;
    }
}
