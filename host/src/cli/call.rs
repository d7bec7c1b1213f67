//! `warden call`: one tool call from the shell.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use rmcp::model::JsonObject;

use super::Common;

/// Call one tool and print the MCP result as JSON on stdout. Exits 1 when the
/// result is an error.
#[derive(Debug, clap::Args)]
pub struct Call {
    /// The tool's exposed name, as `warden list` shows it (PLUGIN_TOOL).
    tool: String,
    /// The arguments as a JSON object (default: `{}`).
    #[arg(value_name = "ARGS_JSON")]
    arguments: Option<String>,
    #[command(flatten)]
    common: Common,
}

impl Call {
    /// Loads the plugins and runs the call.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        let arguments = match self.arguments.as_deref() {
            None => JsonObject::new(),
            Some(text) => {
                match serde_json::from_str(text).context("ARGS_JSON is not valid JSON")? {
                    serde_json::Value::Object(object) => object,
                    other => bail!("ARGS_JSON must be a JSON object, not {other}"),
                }
            }
        };
        let dispatcher = self.common.start(true, None).await?;
        let result = dispatcher
            .call(
                &self.tool,
                Some(arguments),
                Default::default(),
                &Default::default(),
            )
            .await?;
        let mut stdout = std::io::stdout().lock();
        let json = serde_json::to_string_pretty(&result)?;
        writeln!(stdout, "{}", crate::observe::render::json(&json))?;
        Ok(if result.is_error == Some(true) {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        })
    }
}
