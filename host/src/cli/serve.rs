//! `warden serve`: MCP over stdio, or over Streamable HTTP with `--http`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use rmcp::ServiceExt;
use rmcp::service::ServerInitializeError;

use super::Common;
use crate::config::Config;
use crate::http::HttpServer;
use crate::load::reload::Reloader;
use crate::mcp::dispatch::Dispatcher;
use crate::mcp::server::WardenServer;
use crate::observe::Observer;
use crate::observe::audit::AuditLog;
use crate::observe::otlp::Otlp;
use crate::observe::spans::SpanWriter;

/// Serve the plugins' tools over MCP on stdin/stdout, or over HTTP.
#[derive(Debug, clap::Args)]
pub struct Serve {
    #[command(flatten)]
    common: Common,
    /// Serve MCP over Streamable HTTP at http://ADDR/mcp instead of stdio
    /// (ADDR default: `http.addr` from the config, else 127.0.0.1:8750).
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "")]
    http: Option<String>,
    /// This replica's name, put in front of every session id so a proxy
    /// can route a session to the replica holding it (default:
    /// `http.replica_id`; in Kubernetes, the pod's name)
    #[arg(long, value_name = "NAME", env = "WARDEN_REPLICA_ID")]
    replica_id: Option<String>,
    /// Append one JSON line per tool call to DIR/mcp_tool_spans.jsonl
    /// (default: `telemetry.spans_dir` from the config).
    #[arg(long, value_name = "DIR")]
    spans_dir: Option<PathBuf>,
    /// Append audit events (calls, denials, refused logins) to FILE
    /// (default: `audit.file` from the config).
    #[arg(long, value_name = "FILE")]
    audit_file: Option<PathBuf>,
    /// Do not watch the plugins folder, the config and the lock for changes
    /// (SIGHUP still reloads them once).
    #[arg(long)]
    no_watch: bool,
    /// Answer clients only once every plugin is loaded (compiled, and
    /// described now rather than listed from the cache), as scripts that
    /// list tools right after start expect; by default Warden answers at
    /// once, lists cached plugins from their cached descriptions (described
    /// again in the background), and plugins still compiling follow with
    /// `list_changed`
    #[arg(long, env = "WARDEN_WAIT_FOR_PLUGINS", value_parser = clap::builder::BoolishValueParser::new())]
    wait_for_plugins: bool,
}

impl Serve {
    /// Loads the plugins, then serves until stdin closes (stdio) or a signal
    /// arrives.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        let config = Config::discover(self.common.config.as_deref())?;
        let http = match &self.http {
            None => None,
            Some(addr) => Some(self.http_settings(&config, addr)?),
        };
        // Fail on a missing token before loading anything.
        let token = match &http {
            None => None,
            Some(settings) => crate::http::resolve_token(settings, settings.addr, &|name| {
                std::env::var(name).ok()
            })?,
        };
        let metrics = match http {
            Some(_) => Some(crate::observe::metrics::install().context("cannot set up metrics")?),
            None => None,
        };
        let observer = self.observer(&config)?;
        let audit = observer.audit.clone();
        let otlp = observer.otlp.clone();
        let started = self
            .common
            .start_serving(true, audit.clone(), self.wait_for_plugins, false)
            .await?;
        let dispatcher = started.dispatcher;
        let (loaded, failed) = dispatcher.registry().counts();
        crate::observe::metrics::plugins(loaded, failed);
        dispatcher.set_observer(observer);
        let reloader = started.reloader.clone();
        dispatcher.set_permission_lock(crate::mcp::permission::PermissionLock {
            path: started.watched.lock.clone(),
            changed: Arc::new(move || {
                let reloader = reloader.clone();
                tokio::spawn(async move {
                    let _ = reloader.reload("a person allowed an origin always").await;
                });
            }),
        });
        let _watch = if self.no_watch {
            None
        } else {
            let watch = crate::load::watch::watch(started.reloader.clone(), &started.watched)
                .with_context(|| {
                    format!(
                        "cannot watch the plugins folder {} (use --no-watch to serve without reloading)",
                        started.watched.plugins_dir.display()
                    )
                })?;
            Some(watch)
        };
        let _hangup = reload_on_hangup(started.reloader);
        match (http, metrics) {
            (Some(settings), Some(metrics)) => {
                let server = HttpServer {
                    dispatcher,
                    settings,
                    token,
                    metrics,
                    audit,
                };
                let listener = server
                    .bind()
                    .await
                    .with_context(|| format!("cannot listen on {}", server.settings.addr))?;
                server.serve(listener, shutdown_signal()).await?;
                flush(otlp).await;
                tracing::info!("stopped");
                Ok(ExitCode::SUCCESS)
            }
            _ => {
                let code = serve_stdio(dispatcher).await;
                flush(otlp).await;
                code
            }
        }
    }

    /// `[http]` with the address from `--http`, if one was given.
    fn http_settings(
        &self,
        config: &Config,
        addr: &str,
    ) -> anyhow::Result<crate::http::settings::HttpSettings> {
        let mut settings = config.http.clone();
        if !addr.is_empty() {
            settings.addr = crate::http::settings::parse_addr(addr)
                .map_err(|reason| anyhow::anyhow!("--http {addr}: {reason}"))?;
        }
        if let Some(replica) = &self.replica_id {
            settings.replica_id = Some(
                replica
                    .parse()
                    .map_err(|reason| anyhow::anyhow!("--replica-id {replica:?}: {reason}"))?,
            );
        }
        Ok(settings)
    }

    /// The spans file and audit log, from the flags or the config.
    fn observer(&self, config: &Config) -> anyhow::Result<Observer> {
        let spans = match self
            .spans_dir
            .as_ref()
            .or(config.telemetry.spans_dir.as_ref())
        {
            None => None,
            Some(dir) => {
                let writer = SpanWriter::open(dir, config.telemetry.spans_max_size.0)
                    .with_context(|| format!("cannot open the spans file in {}", dir.display()))?;
                tracing::info!(path = %writer.path().display(), "writing tool call spans");
                Some(Arc::new(writer))
            }
        };
        let audit = match self.audit_file.as_ref().or(config.audit.file.as_ref()) {
            None => None,
            Some(file) => {
                let log = AuditLog::open(
                    file,
                    config.audit.max_size.0,
                    config.audit.log_arguments.clone(),
                )
                .with_context(|| format!("cannot open the audit log {}", file.display()))?;
                tracing::info!(path = %log.path().display(), "writing the audit log");
                Some(Arc::new(log))
            }
        };
        let otlp = match &config.telemetry.otlp {
            None => None,
            Some(settings) => {
                let otlp = Otlp::start(settings).map_err(anyhow::Error::msg)?;
                tracing::info!(endpoint = %settings.endpoint, "exporting traces and metrics over OTLP");
                Some(Arc::new(otlp))
            }
        };
        Ok(Observer { spans, audit, otlp })
    }
}

/// Sends the OTLP exports still queued (the SDK blocks its caller while it
/// does, so off the async workers).
async fn flush(otlp: Option<Arc<Otlp>>) {
    if let Some(otlp) = otlp {
        let _ = tokio::task::spawn_blocking(move || otlp.shutdown()).await;
    }
}

/// Serves MCP on stdin/stdout until stdin closes or a signal arrives.
///
/// Pipes and Unix sockets (as MCP clients start servers) are driven by the
/// runtime's reactor; see `cli/stdio.rs`.
async fn serve_stdio(dispatcher: Arc<Dispatcher>) -> anyhow::Result<ExitCode> {
    let shutdown = shutdown_signal();
    let service = match WardenServer::new(dispatcher)
        .serve(super::stdio::transport())
        .await
    {
        Ok(service) => service,
        Err(ServerInitializeError::ConnectionClosed(_)) => {
            tracing::info!("the client closed stdin before the session started");
            return Ok(ExitCode::SUCCESS);
        }
        Err(e) => return Err(e.into()),
    };
    tracing::info!("serving MCP on stdio");
    let cancel = service.cancellation_token();
    tokio::select! {
        result = service.waiting() => {
            result?;
        }
        () = shutdown => {
            tracing::info!("shutting down");
            cancel.cancel();
        }
    }
    Ok(ExitCode::SUCCESS)
}
/// Reloads the plugins folder, the config and the lock on every SIGHUP,
/// until the returned task is dropped (aborted).
fn reload_on_hangup(reloader: Arc<Reloader>) -> Option<AbortOnDrop> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangup = match signal(SignalKind::hangup()) {
            Ok(hangup) => hangup,
            Err(error) => {
                tracing::warn!("SIGHUP will not reload: {error}");
                return None;
            }
        };
        let task = tokio::spawn(async move {
            while hangup.recv().await.is_some() {
                let _ = reloader.reload("SIGHUP").await;
            }
        });
        Some(AbortOnDrop(task))
    }
    #[cfg(not(unix))]
    {
        let _ = reloader;
        None
    }
}

/// A background task that ends with its owner.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Resolves on SIGINT or SIGTERM.
fn shutdown_signal() -> impl Future<Output = ()> {
    // SIGTERM is caught from here on, not from the first poll: a client
    // that stops the server right after its first answer must not find the
    // default action (death by signal) still in place.
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        if let Some(mut term) = term {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
            return;
        }
        let _ = ctrl_c.await;
    }
}
