//! What an OAuth principal may call, and how often: every `tools/call` of an
//! authenticated request is checked here, the one place it is, against
//! `[[auth.rules]]` before rmcp sees it; so is every `GET /metrics`.
//!
//! - A tool the principal may not call gets 403 with an `insufficient_scope`
//!   challenge naming the scopes that would allow it (the MCP authorization
//!   spec's step-up: a client may ask for a token with more scope).
//! - A call over the principal's rate (`calls_per_minute` of the rule that
//!   lets it call, per tool or per plugin) gets 429 with `Retry-After`.
//!
//! - `/metrics` (every plugin's tool names, every principal's label) for a
//!   principal no rule with `metrics = true` applies to gets 403 with an
//!   `insufficient_scope` challenge naming those rules' scopes.
//!
//! Refused calls carry a JSON-RPC error with the request's id; every refusal
//! is audited with the principal.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use rmcp::model::RequestId;
use serde_json::json;

use super::AppState;
use super::auth::{principal_of, with_challenge};
use super::oauth::metadata;
use super::rate_limit::{forget_idle, retry_after};
use crate::policy::access::{AccessRules, CallRate, LimitPer};

/// JSON-RPC: a server error (refused before the call ran).
const REFUSED: i64 = -32000;

/// The tool a `tools/call` request names, noted by the JSON-RPC check.
#[derive(Debug, Clone)]
pub struct ToolCall {
    /// The request's id.
    pub id: RequestId,
    /// The exposed tool name.
    pub name: String,
}

/// A token bucket per principal and tool (or plugin), one set per rule.
#[derive(Debug)]
pub struct PrincipalLimiter {
    per_rule: Vec<Option<DefaultKeyedRateLimiter<(String, String)>>>,
    clock: DefaultClock,
}

impl PrincipalLimiter {
    /// The budgets of `rules`; `None` when no rule sets a rate.
    pub fn new(rules: &AccessRules) -> Option<Arc<Self>> {
        let per_rule: Vec<_> = rules
            .rules()
            .iter()
            .map(|rule| {
                let per_minute = NonZeroU32::new(rule.calls_per_minute?)?;
                Some(RateLimiter::keyed(Quota::per_minute(per_minute)))
            })
            .collect();
        if per_rule.iter().all(Option::is_none) {
            return None;
        }
        let this = Arc::new(Self {
            per_rule,
            clock: DefaultClock::default(),
        });
        forget_idle(&this, |this| {
            for limiter in this.per_rule.iter().flatten() {
                limiter.retain_recent();
            }
        });
        Some(this)
    }

    /// `Ok` when `principal` may call through `rate` now (by `key`: the
    /// tool's or plugin's name), else how long to wait.
    fn check(&self, rate: CallRate, principal: &str, key: &str) -> Result<(), Duration> {
        let Some(Some(limiter)) = self.per_rule.get(rate.rule) else {
            return Ok(());
        };
        limiter
            .check_key(&(principal.to_owned(), key.to_owned()))
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

/// Refuses the `tools/call`s a principal may not make, or not yet.
pub async fn check_calls(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let (Some(oauth), Some(principal), Some(call)) = (
        &state.oauth,
        principal_of(&request),
        request.extensions().get::<ToolCall>().cloned(),
    ) else {
        return next.run(request).await;
    };
    let settings = oauth.settings();
    let rules = &settings.rules;
    if !rules.may_call(&principal, &call.name) {
        tracing::warn!(principal = %principal.id, tool = %call.name, "tool call refused: no access rule lets the principal call it");
        crate::observe::metrics::principal_refused(&principal.label, "not_allowed");
        if let Some(audit) = &state.audit {
            audit.access_refused(&principal.id, Some(&call.name), "not_allowed");
        }
        let scopes = rules.scopes_for(&call.name);
        let response = refusal(
            StatusCode::FORBIDDEN,
            &call.id,
            format!(
                "this token may not call {:?}{}",
                call.name,
                if scopes.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; a token with the scope {} may",
                        scopes.iter().copied().collect::<Vec<_>>().join(" or ")
                    )
                }
            ),
        );
        return with_challenge(response, &metadata::insufficient_scope(settings, &scopes));
    }
    // Budgets are kept only for tools that exist, so made-up names cannot
    // grow the limiter (they get "unknown tool" from the handler).
    let plugin = state
        .dispatcher
        .registry()
        .tool(&call.name)
        .map(|t| t.plugin.name.clone());
    if let (Some(limiter), Some(rate), Some(plugin)) = (
        &state.principal_limiter,
        rules.call_rate(&principal, &call.name),
        plugin,
    ) {
        let key = match rate.per {
            LimitPer::Tool => call.name.clone(),
            LimitPer::Plugin => plugin,
        };
        if let Err(wait) = limiter.check(rate, &principal.id, &key) {
            let seconds = retry_after(wait);
            tracing::info!(principal = %principal.id, tool = %call.name, "tool call refused: the principal's rate limit");
            crate::observe::metrics::principal_refused(&principal.label, "rate_limited");
            if let Some(audit) = &state.audit {
                audit.access_refused(&principal.id, Some(&call.name), "rate_limited");
            }
            let mut response = refusal(
                StatusCode::TOO_MANY_REQUESTS,
                &call.id,
                format!(
                    "this token may call {key:?} {} times a minute; retry in {seconds} s",
                    rate.per_minute
                ),
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            return response;
        }
    }
    next.run(request).await
}

/// Refuses `/metrics` to a principal no rule with `metrics = true` applies
/// to.
pub async fn check_metrics(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let (Some(oauth), Some(principal)) = (&state.oauth, principal_of(&request)) else {
        return next.run(request).await;
    };
    let settings = oauth.settings();
    if settings.rules.may_read_metrics(&principal) {
        return next.run(request).await;
    }
    tracing::warn!(principal = %principal.id, "/metrics refused: no access rule opens it to the principal");
    crate::observe::metrics::principal_refused(&principal.label, "not_allowed");
    if let Some(audit) = &state.audit {
        audit.access_refused(&principal.id, None, "metrics_not_allowed");
    }
    let response = (
        StatusCode::FORBIDDEN,
        "this token may not read the metrics\n",
    )
        .into_response();
    with_challenge(
        response,
        &metadata::insufficient_scope(settings, &settings.rules.metrics_scopes()),
    )
}

/// `status` with a JSON-RPC error answering request `id`.
fn refusal(status: StatusCode, id: &RequestId, message: String) -> Response {
    let body = json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": { "code": REFUSED, "message": message },
    });
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
