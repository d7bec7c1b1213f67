//! `warden serve`: MCP over stdio.

use std::process::ExitCode;

use rmcp::ServiceExt;
use rmcp::service::ServerInitializeError;

use super::Common;
use crate::server::WardenServer;

/// Serve the plugins' tools over MCP on stdin/stdout.
#[derive(Debug, clap::Args)]
pub struct Serve {
    #[command(flatten)]
    common: Common,
}

impl Serve {
    /// Loads the plugins, then serves until stdin closes or a signal arrives.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        let dispatcher = self.common.start().await?;
        let service = match WardenServer::new(dispatcher)
            .serve(rmcp::transport::stdio())
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
            () = shutdown_signal() => {
                tracing::info!("shutting down");
                cancel.cancel();
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
