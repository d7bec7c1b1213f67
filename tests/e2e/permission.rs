//! Permission prompts (`[policy] ask = true`), against the real `warden
//! serve` over stdio and the `fetch` example reaching a local HTTP server it
//! was not granted: the person's client is asked (allow once, allow always,
//! deny); once lets that call through and asks again next call; always is
//! recorded in `warden.lock` and survives a restart; deny (and every other
//! answer) refuses the request before it connects. A client that cannot ask,
//! or an origin outside the operator's list, is refused silently as before.
//! On 2026-07-28 the question is an `input_required` round.

use std::time::{Duration, Instant};

use rmcp::ClientHandler;
use rmcp::model::ProtocolVersion;
use serde_json::{Value, json};

use crate::http::{Reply, TestServer, fetch_plugin};
use crate::person::Person;
use crate::support::{Revision, ServedStdio, error_text, ok_text};

/// A person who answers every permission question with `answer` (declines when `None`).
fn answering(answer: Option<&str>) -> Person {
    Person::new(answer.map(|answer| json!({ "answer": answer })))
}

const ASK: &str = "[policy]\nask = true\n[audit]\nfile = \"audit.jsonl\"\n";

/// The permission decisions in the audit log, each checked to name the
/// plugin, the tool and `target`.
fn decisions<H: ClientHandler>(served: &ServedStdio<H>, target: &str) -> Vec<String> {
    served
        .audited("permission")
        .into_iter()
        .map(|e| {
            assert_eq!(e["plugin"], "fetch", "{e}");
            assert_eq!(e["tool"], "fetch_get", "{e}");
            assert_eq!(e["capability"], "http", "{e}");
            assert_eq!(e["target"], target, "{e}");
            e["decision"].as_str().unwrap().to_string()
        })
        .collect()
}

async fn hello_server() -> (TestServer, String) {
    let server = TestServer::start().await;
    server.route(
        "/hello?token=hunter2",
        Reply::ok("text/plain", "hello, asked"),
    );
    let origin = format!("http://127.0.0.1:{}", server.port());
    (server, origin)
}

fn get(origin: &str) -> Value {
    json!({ "url": format!("{origin}/hello?token=hunter2") })
}

#[tokio::test]
async fn once_lets_one_call_through_and_deny_refuses_before_connecting() {
    let (web, origin) = hello_server().await;
    let plugins = fetch_plugin(&[]);

    let person = answering(Some("once"));
    let served = ServedStdio::start(person.clone(), plugins.path(), Revision::Legacy, ASK).await;
    for round in 1..=2 {
        let text = ok_text(&served.call("fetch_get", get(&origin)).await);
        assert!(text.contains("hello, asked"), "{text}");
        assert_eq!(person.asked().len(), round, "once is for one call only");
    }
    let question = &person.asked()[0];
    let message = question["message"].as_str().unwrap();
    assert!(message.contains("`fetch` (running `get`)"), "{message}");
    assert!(message.contains(&origin), "{message}");
    assert!(
        !message.contains("hunter2"),
        "the path and query are not shown: {message}"
    );
    let choices: Vec<&str> = question["requestedSchema"]["properties"]["answer"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["const"].as_str().unwrap())
        .collect();
    assert_eq!(choices, ["once", "always", "deny"]);
    assert_eq!(decisions(&served, &origin), ["once", "once"]);
    assert_eq!(web.connections(), 2);
    let lock = std::fs::read_to_string(served.file("warden.lock")).unwrap();
    assert!(!lock.contains("allowed_http"), "{lock}");
    served.stop().await;

    // Denied, or declined: refused before connecting, with the reason.
    for person in [answering(Some("deny")), answering(None)] {
        let served =
            ServedStdio::start(person.clone(), plugins.path(), Revision::Legacy, ASK).await;
        let refused = served.call("fetch_get", get(&origin)).await;
        let text = error_text(&refused);
        assert!(
            text.contains(&format!("http access to {origin} denied: ")),
            "{text}"
        );
        assert!(
            text.contains("the person was asked and did not allow it"),
            "{text}"
        );
        assert_eq!(person.asked().len(), 1);
        assert_eq!(decisions(&served, &origin), ["denied"]);
        served.stop().await;
    }
    assert_eq!(web.connections(), 2, "a refused request connected");
}

#[tokio::test]
async fn nothing_asks_without_a_client_that_can_or_outside_the_operators_list() {
    let (web, origin) = hello_server().await;
    let plugins = fetch_plugin(&[]);

    let mut mute = answering(Some("always"));
    mute.elicitation = false;
    let served = ServedStdio::start(mute.clone(), plugins.path(), Revision::Legacy, ASK).await;
    let text = error_text(&served.call("fetch_get", get(&origin)).await);
    assert!(text.contains("the plugin has no HTTP grant"), "{text}");
    assert!(decisions(&served, &origin).is_empty());
    served.stop().await;

    // Without `ask`, a client that can ask is not asked.
    let person = answering(Some("always"));
    let served = ServedStdio::start(person.clone(), plugins.path(), Revision::Legacy, "").await;
    error_text(&served.call("fetch_get", get(&origin)).await);
    served.stop().await;

    // The operator's list for the plugin bounds what may be asked.
    let narrowed = format!("{ASK}[plugins.fetch]\nhttp = [\"http://127.0.0.1:1\"]\n");
    let served =
        ServedStdio::start(person.clone(), plugins.path(), Revision::Legacy, &narrowed).await;
    error_text(&served.call("fetch_get", get(&origin)).await);
    served.stop().await;
    assert!(person.asked().is_empty());
    assert_eq!(web.connections(), 0);
}

#[tokio::test]
async fn always_is_recorded_in_the_lock_and_outlives_the_server() {
    let (web, origin) = hello_server().await;
    let plugins = fetch_plugin(&[]);
    // One lock for both servers below.
    let state = tempfile::tempdir().unwrap();
    let lock_path = state.path().join("warden.lock");
    let config = format!("lock_file = {:?}\n{ASK}", lock_path.display().to_string());

    let person = answering(Some("always"));
    let served =
        ServedStdio::start(person.clone(), plugins.path(), Revision::Legacy, &config).await;
    ok_text(&served.call("fetch_get", get(&origin)).await);
    assert_eq!(person.asked().len(), 1);
    let lock = std::fs::read_to_string(&lock_path).unwrap();
    assert!(
        lock.contains(&format!("allowed_http = [\"{origin}\"]")),
        "{lock}"
    );
    // The server reloads the lock: soon a call goes through without asking.
    let started = Instant::now();
    loop {
        let before = person.asked().len();
        ok_text(&served.call("fetch_get", get(&origin)).await);
        if person.asked().len() == before {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "still asking after the lock recorded the origin"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let audited = decisions(&served, &origin);
    assert_eq!(audited[0], "always", "{audited:?}");
    served.stop().await;

    // A new server, with a client that cannot ask, grants it from the lock.
    let mut mute = answering(None);
    mute.elicitation = false;
    let served = ServedStdio::start(mute.clone(), plugins.path(), Revision::Legacy, &config).await;
    let text = ok_text(&served.call("fetch_get", get(&origin)).await);
    assert!(text.contains("hello, asked"), "{text}");
    // Another origin is still refused.
    let other = "http://127.0.0.1:1";
    let text = error_text(&served.call("fetch_get", get(other)).await);
    assert!(
        text.contains(&format!("http access to {other} denied")),
        "{text}"
    );
    served.stop().await;
    assert!(mute.asked().is_empty());
    assert!(web.connections() >= 3);
}

#[tokio::test]
async fn on_2026_07_28_the_question_is_an_input_required_round() {
    let (web, origin) = hello_server().await;
    let plugins = fetch_plugin(&[]);
    let mut person = answering(Some("once"));
    person.version = ProtocolVersion::V_2026_07_28;
    let served = ServedStdio::start(person.clone(), plugins.path(), Revision::Stateless, ASK).await;
    let text = ok_text(&served.call("fetch_get", get(&origin)).await);
    assert!(text.contains("hello, asked"), "{text}");
    assert_eq!(person.asked().len(), 1);
    // Asked in the first run (which stopped before connecting), allowed in
    // the retry.
    assert_eq!(decisions(&served, &origin), ["asked", "once"]);
    assert_eq!(web.connections(), 1);
    served.stop().await;
}
