//! `warden toolchain LANG`: installs (once) the pinned toolchain for plugins
//! in a language and prints where it is, as `scripts/toolchains/LANG` of the
//! Warden repository does: the scripts are built into the binary, so a
//! project made by `warden new` builds anywhere.

use std::path::Path;
use std::process::{Command, ExitCode};

use anyhow::Context as _;

/// Install (once, under ~/.cache/warden/toolchains) and locate the pinned
/// toolchain for plugins in a language; prints its path (Python,
/// JavaScript) or `export` lines (C) on stdout.
#[derive(Debug, clap::Args)]
pub struct Toolchain {
    /// The language.
    #[arg(value_enum)]
    lang: ToolchainLang,
}

/// The languages with a pinned toolchain.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ToolchainLang {
    /// componentize-py.
    Python,
    /// componentize-js.
    Js,
    /// zig, wit-bindgen, wasm-tools and the WASI preview1 adapter.
    C,
}

/// The scripts, as `(path under toolchains/, text)`.
const SCRIPTS: &[(&str, &str)] = &[
    ("python", include_str!("../../../scripts/toolchains/python")),
    ("js", include_str!("../../../scripts/toolchains/js")),
    (
        "js.d/package.json",
        include_str!("../../../scripts/toolchains/js.d/package.json"),
    ),
    (
        "js.d/package-lock.json",
        include_str!("../../../scripts/toolchains/js.d/package-lock.json"),
    ),
    ("c", include_str!("../../../scripts/toolchains/c")),
];

impl Toolchain {
    /// Runs the language's script; its stdout is this command's.
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let name = match self.lang {
            ToolchainLang::Python => "python",
            ToolchainLang::Js => "js",
            ToolchainLang::C => "c",
        };
        let dir = tempfile::tempdir().context("cannot create a temporary folder")?;
        write_scripts(dir.path())?;
        let status = Command::new("bash")
            .arg(dir.path().join(name))
            .status()
            .context("cannot run bash (needed to install the toolchain)")?;
        Ok(if status.success() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    }
}

/// Writes the toolchain scripts into `dir`.
fn write_scripts(dir: &Path) -> anyhow::Result<()> {
    for (path, text) in SCRIPTS {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
