//! The `warden` binary: parse the command line, run, print the error chain once.

use std::process::ExitCode;

use clap::Parser;
use warden::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    warden::telemetry::init(cli.log_format);
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
    match runtime.block_on(cli.run()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("warden: {e:#}");
            ExitCode::FAILURE
        }
    }
}
