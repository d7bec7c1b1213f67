//! `warden doctor`: checks the set-up, one pass/fail line per check, each
//! failure with the exact fix.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use super::report::{Mark, Report};
use super::{Common, cache_dir, engine_settings};
use crate::config::Config;
use crate::policy::lock::LockFile;
use crate::sandbox::{ArtifactCache, Sandbox};

/// Check the set-up: toolchains, plugins folder, every plugin, config, lock,
/// cache, the HTTP port and the MCP clients' configuration files; one
/// pass/fail line each, every failure with its fix. Exits 1 on a failure.
#[derive(Debug, clap::Args)]
pub struct Doctor {
    /// Also check that this address is free for `warden serve --http`.
    #[arg(long, value_name = "ADDR")]
    http: Option<String>,
    #[command(flatten)]
    common: Common,
}

impl Doctor {
    /// Runs every check.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        let mut report = Report::new(std::io::stdout().lock());
        toolchains(&mut report)?;

        let config = match Config::discover(self.common.config.as_deref()) {
            Ok(config) => {
                let source = config.path.as_ref().map_or_else(
                    || "none found; the defaults apply (see examples/warden.toml)".to_string(),
                    |p| format!("{} is valid", p.display()),
                );
                report.line(Mark::Pass, "config", &source)?;
                config
            }
            Err(e) => {
                report.line(
                    Mark::Fail,
                    "config",
                    &format!("{e}: fix the file, or name another with --config"),
                )?;
                return Ok(ExitCode::FAILURE);
            }
        };
        let lock_path = self
            .common
            .lock
            .clone()
            .unwrap_or_else(|| config.lock_path());
        match LockFile::load(&lock_path) {
            Ok(_) if lock_path.exists() => report.line(
                Mark::Pass,
                "lock",
                &format!("{} is valid", lock_path.display()),
            )?,
            Ok(_) => report.line(
                Mark::Info,
                "lock",
                &format!(
                    "{} does not exist yet: `warden serve` records first-use approvals there, \
                     `warden approve NAME` records yours",
                    lock_path.display()
                ),
            )?,
            Err(e) => report.line(
                Mark::Fail,
                "lock",
                &format!("{e}: fix it, or move it aside and run `warden approve --all`"),
            )?,
        }

        let dir = self
            .common
            .plugins
            .clone()
            .unwrap_or_else(|| config.plugins_dir.clone());
        let folder_ok = plugins_folder(&mut report, &dir)?;
        cache(&mut report, &config)?;
        if folder_ok && !report.failed {
            plugins(&mut report, &self.common).await?;
        }
        if let Some(addr) = &self.http {
            port(&mut report, addr)?;
        }
        clients(&mut report)?;
        Ok(if report.failed {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        })
    }
}

/// The toolchains plugin authors need, by language.
fn toolchains<W: std::io::Write>(report: &mut Report<W>) -> std::io::Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .stderr(Stdio::null())
        .output();
    match installed {
        Ok(out) if String::from_utf8_lossy(&out.stdout).contains("wasm32-wasip2") => {
            report.line(Mark::Pass, "rust", "the wasm32-wasip2 target is installed")?
        }
        Ok(_) => report.line(
            Mark::Fail,
            "rust",
            "the wasm32-wasip2 target is missing: run `rustup target add wasm32-wasip2`",
        )?,
        Err(_) => report.line(
            Mark::Info,
            "rust",
            "rustup not found: install Rust from https://rustup.rs to build Rust plugins",
        )?,
    }
    let tools = [
        (
            "python",
            "python3",
            "--version",
            "Python plugins (componentize-py) need python3 3.10+",
        ),
        (
            "js",
            "node",
            "--version",
            "JavaScript plugins (componentize-js) need Node.js 20+ and npm",
        ),
        (
            "c",
            "cargo",
            "--version",
            "C plugins need cargo once, to install wit-bindgen",
        ),
    ];
    for (lang, program, arg, need) in tools {
        let version = Command::new(program)
            .arg(arg)
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
        let toolchains = toolchain_root().join(match lang {
            "python" => "python-componentize-py-",
            "js" => "js-componentize-js-",
            _ => "c-",
        });
        let ready = installed_toolchain(&toolchains);
        match (version, ready) {
            (Some(v), Some(dir)) => report.line(
                Mark::Pass,
                lang,
                &format!("{program} {v}; toolchain installed in {}", dir.display()),
            )?,
            (Some(v), None) => report.line(
                Mark::Info,
                lang,
                &format!(
                    "{program} {v}; the pinned toolchain is not installed yet: \
                     `warden toolchain {lang}` (or the first `warden build`) installs it"
                ),
            )?,
            (None, _) => report.line(Mark::Info, lang, &format!("{program} not found: {need}"))?,
        }
    }
    Ok(())
}

/// `~/.cache/warden/toolchains`, where the toolchain scripts install.
fn toolchain_root() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_default()
        .join("warden/toolchains")
}

/// An installed toolchain whose folder name starts with `prefix`'s file name.
fn installed_toolchain(prefix: &Path) -> Option<PathBuf> {
    let parent = prefix.parent()?;
    let start = prefix.file_name()?.to_string_lossy().into_owned();
    std::fs::read_dir(parent)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.is_dir()
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(&start))
        })
}

/// The plugins folder exists and can be read.
fn plugins_folder<W: std::io::Write>(report: &mut Report<W>, dir: &Path) -> std::io::Result<bool> {
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            let count = entries
                .flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "wasm"))
                .count();
            report.line(
                Mark::Pass,
                "plugins",
                &format!("{} is readable ({count} component(s))", dir.display()),
            )?;
            Ok(true)
        }
        Err(e) => {
            report.line(
                Mark::Fail,
                "plugins",
                &format!(
                    "cannot read {}: {e}; create it (`mkdir -p {}`), or name another with \
                     --plugins or `plugins_dir` in warden.toml",
                    dir.display(),
                    dir.display()
                ),
            )?;
            Ok(false)
        }
    }
}

/// The compiled-component cache can be opened for writing.
fn cache<W: std::io::Write>(report: &mut Report<W>, config: &Config) -> anyhow::Result<()> {
    let Some(dir) = cache_dir(config) else {
        report.line(
            Mark::Info,
            "cache",
            "no cache folder (no HOME, no cache_dir): every start compiles every plugin",
        )?;
        return Ok(());
    };
    let sandbox = Sandbox::new(&engine_settings(config))?;
    match ArtifactCache::open(&dir, config.cache_max_size.0, &sandbox) {
        Ok(cache) => {
            let probe = dir.join(".doctor-probe");
            match std::fs::write(&probe, b"") {
                Ok(()) => {
                    let _ = std::fs::remove_file(&probe);
                    let entries = cache.usage().map(|u| u.entries).unwrap_or(0);
                    report.line(
                        Mark::Pass,
                        "cache",
                        &format!(
                            "{} is writable ({entries} compiled component(s))",
                            dir.display()
                        ),
                    )?;
                }
                Err(e) => report.line(
                    Mark::Fail,
                    "cache",
                    &format!(
                        "cannot write in {}: {e}; fix its permissions or set cache_dir",
                        dir.display()
                    ),
                )?,
            }
        }
        Err(e) => report.line(
            Mark::Fail,
            "cache",
            &format!("{e}; fix it or set another cache_dir in warden.toml"),
        )?,
    }
    Ok(())
}

/// Every plugin of the folder loads.
async fn plugins<W: std::io::Write>(report: &mut Report<W>, common: &Common) -> anyhow::Result<()> {
    let dispatcher = common.start(false, None).await?;
    let summaries = dispatcher.registry().summaries();
    if summaries.is_empty() {
        report.line(
            Mark::Info,
            "load",
            "no plugins in the folder: `warden new NAME --lang LANG` starts one",
        )?;
    }
    for plugin in &summaries {
        match &plugin.error {
            None => report.line(
                Mark::Pass,
                "load",
                &format!("{}: {} tool(s)", plugin.name, plugin.tools.len()),
            )?,
            Some(error) => report.line(
                Mark::Fail,
                "load",
                &format!(
                    "{}: {error} (`warden check {}` says more)",
                    plugin.name,
                    plugin.component.display()
                ),
            )?,
        }
    }
    Ok(())
}

/// The address `warden serve --http` would listen on is free.
fn port<W: std::io::Write>(report: &mut Report<W>, addr: &str) -> std::io::Result<()> {
    match std::net::TcpListener::bind(addr) {
        Ok(_) => report.line(Mark::Pass, "http", &format!("{addr} is free")),
        Err(e) => report.line(
            Mark::Fail,
            "http",
            &format!(
                "cannot listen on {addr}: {e}; stop what uses it, or pass another address to \
                 `warden serve --http ADDR`"
            ),
        ),
    }
}

/// The MCP clients' configuration files, and whether they start Warden.
fn clients<W: std::io::Write>(report: &mut Report<W>) -> std::io::Result<()> {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let claude = if cfg!(target_os = "macos") {
        home.join("Library/Application Support/Claude/claude_desktop_config.json")
    } else {
        home.join(".config/Claude/claude_desktop_config.json")
    };
    let files = [
        ("claude", claude),
        ("vscode", PathBuf::from(".vscode/mcp.json")),
        ("kiro", PathBuf::from(".kiro/settings/mcp.json")),
        ("cursor", PathBuf::from(".cursor/mcp.json")),
        ("codex", home.join(".codex/config.toml")),
    ];
    for (client, file) in files {
        match std::fs::read_to_string(&file) {
            Ok(text) if text.contains("warden") => report.line(
                Mark::Pass,
                client,
                &format!("{} mentions warden", file.display()),
            )?,
            Ok(_) => report.line(
                Mark::Info,
                client,
                &format!(
                    "{} has no warden server: `warden config --client {client} --write` adds it",
                    file.display()
                ),
            )?,
            Err(_) => report.line(
                Mark::Info,
                client,
                &format!(
                    "{} not found: `warden config --client {client} --write` creates it",
                    file.display()
                ),
            )?,
        }
    }
    Ok(())
}
