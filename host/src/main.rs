//! The `warden` binary: parse the command line, run, print the error chain once.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use warden::cli::Cli;

/// How long blocking tasks may take to finish once `run` has returned.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(200);

fn main() -> ExitCode {
    let cli = Cli::parse();
    warden::observe::telemetry::init(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("warden: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(cli.run());
    // Unless stdin is a pipe or a Unix socket, the stdio transport reads it
    // on a blocking thread that never returns while the client keeps it
    // open: after a signal, do not wait for it.
    runtime.shutdown_timeout(SHUTDOWN_GRACE);
    match result {
        Ok(code) => code,
        Err(e) => {
            // Errors can quote plugin text: shown by the rendering rule.
            eprintln!(
                "warden: {}",
                warden::observe::render::escape(&format!("{e:#}"))
            );
            ExitCode::FAILURE
        }
    }
}
