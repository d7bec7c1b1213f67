//! `GET /healthz` and `GET /readyz`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::AppState;
use crate::mcp::registry::PluginStatus;

/// Alive: the process answers HTTP.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Ready to serve calls: 200 with the plugins loaded and failed (names and
/// counts), those serving their previous version because their newest files
/// failed (names), those still compiling in the background (names), and
/// the memory budget (bytes, reserved, queued requests), or 503
/// from the shutdown signal on (while requests are still served for the
/// drain delay, so a load balancer turns this replica out first). A plugin that failed to load
/// does not make the server unready: the others serve.
pub async fn readyz(State(state): State<Arc<AppState>>) -> (StatusCode, Json<Value>) {
    let registry = state.dispatcher.registry();
    let (mut loaded, mut failed, mut kept) = (Vec::new(), Vec::new(), Vec::new());
    for plugin in registry.plugins() {
        match plugin.status {
            PluginStatus::Loaded(_) => loaded.push(plugin.name.as_str()),
            PluginStatus::Failed(_) => failed.push(plugin.name.as_str()),
        }
        if plugin.replacement_error.is_some() {
            kept.push(plugin.name.as_str());
        }
    }
    let loading = state
        .dispatcher
        .background()
        .map(|b| b.loading())
        .unwrap_or_default();
    let draining = state.unready.load(Ordering::SeqCst);
    let status = if draining {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    let body = json!({
        "status": if draining { "draining" } else { "ready" },
        "plugins": {
            "loaded": loaded.len(),
            "failed": failed.len(),
            "loaded_names": loaded,
            "failed_names": failed,
            "kept_previous": kept.len(),
            "kept_previous_names": kept,
            "loading": loading.len(),
            "loading_names": loading,
        },
        "tools": registry.tools().count(),
        "memory": memory(state.dispatcher.budget().usage()),
    });
    (status, Json(body))
}

/// The memory budget's part of `/readyz`.
fn memory(usage: crate::budget::Usage) -> Value {
    json!({
        "budget_bytes": usage.budget,
        "reserved_bytes": usage.reserved,
        "in_flight": usage.in_flight,
        "queued": usage.queued,
    })
}
