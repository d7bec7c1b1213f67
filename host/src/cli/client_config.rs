//! `warden config --client NAME`: the configuration an MCP client needs to
//! start (or reach) this Warden, with absolute paths filled in; `--write`
//! merges it into the client's file after showing the diff, keeping every
//! other server there.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use super::Common;

/// Print (or, with `--write`, merge into the client's file) the
/// configuration an MCP client needs to use this Warden.
#[derive(Debug, clap::Args)]
pub struct ClientConfig {
    /// The MCP client.
    #[arg(long, value_enum)]
    client: Client,
    /// Connect to a running `warden serve --http` at this URL (for example
    /// `http://127.0.0.1:8080/mcp`) instead of starting Warden over stdio.
    #[arg(long, value_name = "URL")]
    http: Option<String>,
    /// Merge the configuration into the client's file (after printing the
    /// diff), keeping the other servers there.
    #[arg(long)]
    write: bool,
    /// The client's configuration file (default: where the client reads it).
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
    /// The name of the server entry.
    #[arg(long, default_value = "warden")]
    name: String,
    #[command(flatten)]
    common: Common,
}

/// The MCP clients `warden config` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Client {
    /// Claude Desktop.
    Claude,
    /// VS Code (`.vscode/mcp.json` of the current folder).
    Vscode,
    /// Kiro (`.kiro/settings/mcp.json` of the current folder).
    Kiro,
    /// Cursor (`.cursor/mcp.json` of the current folder).
    Cursor,
    /// OpenAI Codex CLI (`~/.codex/config.toml`).
    Codex,
}

impl Client {
    /// Where the client reads its configuration.
    fn default_file(self) -> anyhow::Result<PathBuf> {
        let home = || {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .context("HOME is not set; name the file with --file")
        };
        Ok(match self {
            Client::Claude if cfg!(target_os = "macos") => {
                home()?.join("Library/Application Support/Claude/claude_desktop_config.json")
            }
            Client::Claude => std::env::var_os("XDG_CONFIG_HOME")
                .map(PathBuf::from)
                .map_or_else(|| home().map(|h| h.join(".config")), Ok)?
                .join("Claude/claude_desktop_config.json"),
            Client::Vscode => PathBuf::from(".vscode/mcp.json"),
            Client::Kiro => PathBuf::from(".kiro/settings/mcp.json"),
            Client::Cursor => PathBuf::from(".cursor/mcp.json"),
            Client::Codex => home()?.join(".codex/config.toml"),
        })
    }

    /// The key of the servers object in the client's JSON file.
    fn servers_key(self) -> &'static str {
        match self {
            Client::Vscode => "servers",
            _ => "mcpServers",
        }
    }
}

/// How the client reaches Warden.
enum Launch {
    /// Starts `command args...` and speaks MCP on its stdio.
    Stdio { command: String, args: Vec<String> },
    /// Connects to a Streamable HTTP endpoint.
    Http(String),
}

impl ClientConfig {
    /// Prints or writes the configuration.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        let launch = match &self.http {
            Some(url) => {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    bail!("--http takes an http:// or https:// URL, not `{url}`");
                }
                Launch::Http(url.clone())
            }
            None => self.stdio_launch()?,
        };
        let read_only = if self.client == Client::Kiro {
            self.read_only_tools().await?
        } else {
            Vec::new()
        };
        let file = match &self.file {
            Some(file) => file.clone(),
            None => self.client.default_file()?,
        };
        let old = match std::fs::read_to_string(&file) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", file.display())),
        };
        let new = match self.client {
            Client::Codex => merge_toml(old.as_deref(), &self.name, &launch)?,
            client => merge_json(old.as_deref(), client, &self.name, &launch, &read_only)
                .with_context(|| format!("cannot merge into {}", file.display()))?,
        };
        let mut out = std::io::stdout().lock();
        if !self.write {
            writeln!(
                out,
                "{}",
                entry_text(self.client, &self.name, &launch, &read_only)?
            )?;
            eprintln!(
                "(the `{}` entry of {}; `--write` merges it there)",
                self.name,
                file.display()
            );
            return Ok(ExitCode::SUCCESS);
        }
        if old.as_deref() == Some(new.as_str()) {
            writeln!(out, "{} already has this configuration", file.display())?;
            return Ok(ExitCode::SUCCESS);
        }
        write!(out, "{}", diff(&file, old.as_deref().unwrap_or(""), &new))?;
        if let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let temp = file.with_extension("warden-tmp");
        std::fs::write(&temp, &new).with_context(|| format!("cannot write {}", temp.display()))?;
        std::fs::rename(&temp, &file)
            .with_context(|| format!("cannot replace {}", file.display()))?;
        writeln!(out, "wrote {}", file.display())?;
        Ok(ExitCode::SUCCESS)
    }

    /// `warden serve` with this binary and the absolute plugins folder
    /// (and config file, when there is one).
    fn stdio_launch(&self) -> anyhow::Result<Launch> {
        let (config, plugins, _) = self.common.resolve()?;
        let command = std::env::current_exe()
            .and_then(|exe| exe.canonicalize())
            .context("cannot find the warden binary")?;
        let mut args = vec![
            "serve".to_string(),
            "--plugins".to_string(),
            absolute(&plugins)?,
        ];
        if let Some(config) = &config.path {
            args.extend(["--config".to_string(), absolute(config)?]);
        }
        if let Some(lock) = &self.common.lock {
            args.extend(["--lock".to_string(), absolute(lock)?]);
        }
        Ok(Launch::Stdio {
            command: command.to_string_lossy().into_owned(),
            args,
        })
    }

    /// The exposed names of the tools the plugins annotate read-only: the
    /// only ones Kiro may run without asking.
    async fn read_only_tools(&self) -> anyhow::Result<Vec<String>> {
        let dispatcher = self.common.start(false, None).await?;
        let mut tools: Vec<String> = dispatcher
            .registry()
            .summaries()
            .into_iter()
            .flat_map(|p| p.tools)
            .filter(|t| t.read_only)
            .map(|t| t.name)
            .collect();
        tools.sort();
        Ok(tools)
    }
}

/// `path` made absolute (and resolved, when it exists).
fn absolute(path: &Path) -> anyhow::Result<String> {
    let path = path
        .canonicalize()
        .or_else(|_| std::path::absolute(path))
        .with_context(|| format!("cannot make {} absolute", path.display()))?;
    Ok(path.to_string_lossy().into_owned())
}

/// The client's JSON entry for Warden.
fn json_entry(client: Client, launch: &Launch, read_only: &[String]) -> Value {
    let mut entry = match (launch, client) {
        (Launch::Stdio { command, args }, Client::Vscode) => {
            json!({ "type": "stdio", "command": command, "args": args })
        }
        (Launch::Stdio { command, args }, _) => json!({ "command": command, "args": args }),
        (Launch::Http(url), Client::Vscode) => json!({ "type": "http", "url": url }),
        // Claude Desktop starts local commands only: mcp-remote bridges.
        (Launch::Http(url), Client::Claude) => {
            json!({ "command": "npx", "args": ["-y", "mcp-remote", url] })
        }
        (Launch::Http(url), _) => json!({ "url": url }),
    };
    if client == Client::Kiro {
        entry["autoApprove"] = json!(read_only);
    }
    entry
}

/// The text `warden config` prints: the entry inside its servers object (or
/// its TOML table for Codex).
fn entry_text(
    client: Client,
    name: &str,
    launch: &Launch,
    read_only: &[String],
) -> anyhow::Result<String> {
    if client == Client::Codex {
        return Ok(toml_entry(name, launch));
    }
    let mut servers = serde_json::Map::new();
    servers.insert(name.into(), json_entry(client, launch, read_only));
    let mut doc = serde_json::Map::new();
    doc.insert(client.servers_key().into(), Value::Object(servers));
    Ok(serde_json::to_string_pretty(&doc)?)
}

/// `old` (a client's JSON file, if any) with the entry `name` set; every
/// other key and server is kept.
fn merge_json(
    old: Option<&str>,
    client: Client,
    name: &str,
    launch: &Launch,
    read_only: &[String],
) -> anyhow::Result<String> {
    let mut doc: Value = match old {
        Some(text) if !text.trim().is_empty() => {
            serde_json::from_str(text).context("the file is not valid JSON")?
        }
        _ => json!({}),
    };
    let Some(root) = doc.as_object_mut() else {
        bail!("the file's JSON is not an object");
    };
    let servers = root
        .entry(client.servers_key())
        .or_insert_with(|| json!({}));
    let Some(servers) = servers.as_object_mut() else {
        bail!("`{}` is not an object", client.servers_key());
    };
    servers.insert(name.into(), json_entry(client, launch, read_only));
    Ok(serde_json::to_string_pretty(&doc)? + "\n")
}

/// The `[mcp_servers.NAME]` table of Codex's `config.toml`.
fn toml_entry(name: &str, launch: &Launch) -> String {
    let mut table = toml::Table::new();
    match launch {
        Launch::Stdio { command, args } => {
            table.insert("command".into(), command.clone().into());
            table.insert(
                "args".into(),
                toml::Value::Array(args.iter().cloned().map(Into::into).collect()),
            );
        }
        Launch::Http(url) => {
            table.insert("url".into(), url.clone().into());
        }
    }
    let key = toml::Value::String(name.into()).to_string();
    let key = if name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        name.to_string()
    } else {
        key
    };
    format!(
        "[mcp_servers.{key}]\n{}",
        toml::to_string(&table).unwrap_or_default()
    )
}

/// `old` (Codex's `config.toml`, if any) with the table of `name` replaced
/// or appended; the rest of the file, comments included, is kept as it is.
fn merge_toml(old: Option<&str>, name: &str, launch: &Launch) -> anyhow::Result<String> {
    let old = old.unwrap_or("");
    if !old.trim().is_empty() {
        toml::from_str::<toml::Table>(old).context("the file is not valid TOML")?;
    }
    let entry = toml_entry(name, launch);
    let header = entry.lines().next().unwrap_or_default().to_string();
    let mut out = String::new();
    let mut skipping = false;
    let mut replaced = false;
    for line in old.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            skipping = trimmed == header;
            if skipping {
                out.push_str(&entry);
                replaced = true;
                continue;
            }
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    if !replaced {
        if !out.is_empty() && !out.ends_with("\n\n") {
            out.push('\n');
        }
        out.push_str(&entry);
    }
    toml::from_str::<toml::Table>(&out).context("the merged file is not valid TOML")?;
    Ok(out)
}

/// A unified diff of `old` and `new`, headed with `file`.
fn diff(file: &Path, old: &str, new: &str) -> String {
    let name = file.display().to_string();
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&name, &name)
        .to_string()
}
