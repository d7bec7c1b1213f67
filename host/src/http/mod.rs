//! MCP over Streamable HTTP: rmcp's `StreamableHttpService` on axum, behind
//! the operator's protections.
//!
//! Routes:
//! - `/mcp`: MCP. Sessions for 2025-11-25 clients, in memory, their ids led
//!   by the replica's name ([`session_ids`]); 2026-07-28 requests are served
//!   statelessly by the same service, so any replica can answer them. rmcp
//!   checks `Host` (DNS rebinding) and `Origin`; [`jsonrpc`] the body size
//!   (413) and that the body is JSON-RPC (400).
//! - `/metrics`: Prometheus text format.
//! - `/healthz` (alive) and `/readyz` (plugins, draining): JSON, open to all,
//!   so probes need no token; they show plugin names and counts, never errors.
//!
//! Connections are accepted by [`accept`] (caps per server and per client,
//! header and idle timeouts, header size), before any request is read.
//! `/mcp` and `/metrics` are rate-limited per client IP (429 + `Retry-After`),
//! then need the bearer token or, with `auth = "oauth"`, an access token
//! ([`oauth`]; 401 + `WWW-Authenticate`); a JSON body that is not JSON-RPC
//! gets 400 with a JSON-RPC error ([`jsonrpc`]); an OAuth principal's
//! `tools/call` is checked against `[[auth.rules]]` and its rate ([`calls`]:
//! 403 or 429), and a 2025-11-25 session serves only the principal that
//! opened it ([`sessions`]). With OAuth, the protected resource metadata (RFC 9728) is
//! served open at `/.well-known/oauth-protected-resource[/PATH]`. On shutdown the
//! server drains: `/readyz` turns 503 at once, requests are still served
//! for `drain_delay` (so load balancers stop sending first), then new
//! requests get 503 (never processed, so a proxy may retry them elsewhere),
//! requests in flight get up to the shutdown deadline, then sessions are
//! cancelled. The listener and each connection close only once quiet (no
//! new connection, no request on its way) for 100 ms, and a closing
//! connection lingers to read what the peer still sends: no request that
//! reached Warden is cut without an answer.

mod accept;
mod activity;
mod auth;
mod calls;
mod health;
mod jsonrpc;
pub mod oauth;
mod rate_limit;
mod session_ids;
mod sessions;
pub mod settings;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http_body_util::BodyExt as _;
use metrics_exporter_prometheus::PrometheusHandle;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use auth::{AuthConfigError, resolve_token};
pub use rate_limit::ClientLimiter;

use calls::PrincipalLimiter;
use oauth::OAuth;
use session_ids::Sessions;
use sessions::SessionOwners;

use crate::http::settings::HttpSettings;
use crate::mcp::dispatch::Dispatcher;
use crate::mcp::server::WardenServer;
use crate::observe::audit::AuditLog;
use crate::policy::grants::Secret;

/// How long the server waits for connections to close once sessions are
/// cancelled, after the drain.
const CLOSE_GRACE: Duration = Duration::from_secs(5);
/// `Host` values accepted on a loopback bind when none are configured.
const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// What the HTTP server needs besides its settings.
#[derive(Debug)]
pub struct HttpServer {
    /// Routes calls.
    pub dispatcher: Arc<Dispatcher>,
    /// The settings from `[http]`, with the address to bind.
    pub settings: HttpSettings,
    /// The token requests must carry; `None` when auth is off (see
    /// [`resolve_token`]).
    pub token: Option<Secret>,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// Where refused authentications are recorded.
    pub audit: Option<Arc<AuditLog>>,
}

/// State shared by the handlers and middleware.
#[derive(Debug)]
struct AppState {
    dispatcher: Arc<Dispatcher>,
    token: Option<Secret>,
    limiter: Option<Arc<ClientLimiter>>,
    oauth: Option<Arc<OAuth>>,
    principal_limiter: Option<Arc<PrincipalLimiter>>,
    session_owners: SessionOwners,
    metrics: PrometheusHandle,
    audit: Option<Arc<AuditLog>>,
    /// Set by the shutdown signal: `/readyz` answers 503.
    unready: AtomicBool,
    /// Set after the drain delay: new requests get 503.
    draining: AtomicBool,
    in_flight: TaskTracker,
    max_body: usize,
}

impl HttpServer {
    /// Binds the configured address.
    pub async fn bind(&self) -> std::io::Result<TcpListener> {
        TcpListener::bind(self.settings.addr).await
    }

    /// Serves on `listener` until `shutdown` resolves, then drains: new
    /// requests get 503 while requests in flight finish (up to the
    /// configured deadline), then sessions end and the server returns.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let local = listener.local_addr()?;
        let deadline = self.settings.shutdown_timeout;
        let sessions = CancellationToken::new();
        let oauth = self.settings.oauth.clone().map(OAuth::new);
        if let Some(oauth) = &oauth {
            let oauth = oauth.clone();
            tokio::spawn(async move { oauth.prefetch().await });
        }
        let state = Arc::new(AppState {
            dispatcher: self.dispatcher.clone(),
            token: self.token,
            limiter: self.settings.rate_limit.and_then(ClientLimiter::new),
            principal_limiter: oauth
                .as_ref()
                .and_then(|o| PrincipalLimiter::new(&o.settings().rules)),
            oauth,
            session_owners: SessionOwners::default(),
            metrics: self.metrics,
            audit: self.audit,
            unready: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            in_flight: TaskTracker::new(),
            max_body: usize::try_from(self.settings.max_body.0).unwrap_or(usize::MAX),
        });
        let mcp = mcp_service(
            self.dispatcher,
            &self.settings,
            local,
            sessions.child_token(),
        );
        let app = router(state.clone(), mcp);
        let upkeep = state.metrics.clone();
        let upkeep_task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tick.tick().await;
                upkeep.run_upkeep();
            }
        });

        let server = tokio::spawn(accept::serve(
            listener,
            app,
            self.settings.connections,
            sessions.clone(),
        ));
        tracing::info!(addr = %local, "serving MCP over Streamable HTTP at http://{local}/mcp");

        shutdown.await;
        state.unready.store(true, Ordering::SeqCst);
        let delay = self.settings.drain_delay;
        if !delay.is_zero() {
            tracing::info!(
                delay_ms = delay.as_millis() as u64,
                "shutting down: /readyz reports draining; still serving requests until the drain delay ends"
            );
            tokio::time::sleep(delay).await;
        }
        state.draining.store(true, Ordering::SeqCst);
        state.in_flight.close();
        let running = state.in_flight.len();
        tracing::info!(
            in_flight = running,
            deadline_ms = deadline.as_millis() as u64,
            "shutting down: refusing new requests, waiting for requests in flight"
        );
        if tokio::time::timeout(deadline, state.in_flight.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                still_running = state.in_flight.len(),
                "shutdown deadline passed: cancelling the requests still running"
            );
        }
        sessions.cancel();
        upkeep_task.abort();
        match tokio::time::timeout(CLOSE_GRACE, server).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(join)) => Err(std::io::Error::other(join)),
            Err(_) => {
                tracing::warn!("connections still open after shutdown; closing them");
                Ok(())
            }
        }
    }
}

/// The configured Origins plus the server's own: a page served from this
/// very address (`http://127.0.0.1:PORT`, and on a loopback bind also
/// `http://localhost:PORT` and `http://[::1]:PORT`) is same-origin, which
/// DNS rebinding cannot fake because `Host` is checked too.
fn allowed_origins(settings: &HttpSettings, local: SocketAddr) -> Vec<String> {
    let port = local.port();
    let mut origins = settings.allowed_origins.clone();
    origins.push(format!("http://{local}"));
    if local.ip().is_loopback() {
        origins.extend([
            format!("http://127.0.0.1:{port}"),
            format!("http://localhost:{port}"),
            format!("http://[::1]:{port}"),
        ]);
    }
    origins.dedup();
    origins
}

/// The rmcp service for `/mcp`.
fn mcp_service(
    dispatcher: Arc<Dispatcher>,
    settings: &HttpSettings,
    local: SocketAddr,
    cancel: CancellationToken,
) -> StreamableHttpService<WardenServer, Sessions> {
    let mut config = StreamableHttpServerConfig::default()
        .with_cancellation_token(cancel)
        // `jsonrpc` reads and caps the body before rmcp sees it.
        .with_max_request_body_bytes(usize::MAX)
        .with_allowed_origins(allowed_origins(settings, local))
        .enforce_origin_validation();
    config = match &settings.allowed_hosts {
        Some(hosts) => config.with_allowed_hosts(hosts.clone()),
        None if local.ip().is_loopback() => config.with_allowed_hosts(LOOPBACK_HOSTS),
        None => config.disable_allowed_hosts(),
    };
    let access = Arc::new(
        settings
            .oauth
            .as_ref()
            .map(|o| o.rules.clone())
            .unwrap_or_default(),
    );
    StreamableHttpService::new(
        move || Ok(WardenServer::new(dispatcher.clone()).with_access(access.clone())),
        Arc::new(Sessions::new(settings.replica_id.clone())),
        config,
    )
}

fn router(state: Arc<AppState>, mcp: StreamableHttpService<WardenServer, Sessions>) -> Router {
    let protected = Router::new()
        .route_service("/mcp", mcp)
        .route(
            "/metrics",
            get(metrics).layer(from_fn_with_state(state.clone(), calls::check_metrics)),
        )
        .layer(from_fn_with_state(state.clone(), calls::check_calls))
        .layer(from_fn_with_state(state.clone(), jsonrpc::require_jsonrpc))
        .layer(from_fn_with_state(state.clone(), sessions::bind_sessions))
        .layer(from_fn_with_state(state.clone(), auth::require_token))
        .layer(from_fn_with_state(state.clone(), rate_limit::limit_clients))
        .layer(from_fn_with_state(state.clone(), drain));
    let mut open = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz));
    if let Some(oauth) = &state.oauth {
        for path in oauth::metadata::paths(oauth.settings().resource.url()) {
            open = open.route(&path, get(resource_metadata));
        }
    }
    open.merge(protected).with_state(state)
}

/// Refuses requests with 503 once the server is draining, and tracks POSTs
/// (tool calls and other requests) until their response body is sent.
async fn drain(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    if state.draining.load(Ordering::SeqCst) {
        crate::observe::metrics::http_rejected("draining");
        let mut response = (
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is shutting down\n",
        )
            .into_response();
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return response;
    }
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let token = state.in_flight.token();
    let response = next.run(request).await;
    response.map(|body| {
        axum::body::Body::new(body.map_frame(move |frame| {
            let _held_until_the_body_ends = &token;
            frame
        }))
    })
}

/// `GET /.well-known/oauth-protected-resource[/PATH]`: RFC 9728's document,
/// readable from any origin (clients fetch it before they hold a token).
async fn resource_metadata(State(state): State<Arc<AppState>>) -> Response {
    let Some(oauth) = &state.oauth else {
        return StatusCode::NOT_FOUND.into_response();
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            ),
        ],
        oauth::metadata::document(oauth.settings()).to_string(),
    )
        .into_response()
}

/// `GET /metrics`: the Prometheus text format (with OAuth, for the
/// principals [`calls::check_metrics`] lets through).
async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        state.metrics.render(),
    )
        .into_response()
}
