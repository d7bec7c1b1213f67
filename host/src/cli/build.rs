//! `warden build`: runs a plugin project's build, checks the component as
//! `warden check` does, and puts it beside its manifest in the plugins
//! folder.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use anyhow::{Context as _, bail};

use super::Common;
use super::check::Check;
use crate::policy::manifest::{BuildRecipe, Manifest};

/// Build a plugin project (the manifest's `[build]` command, or cargo for a
/// Rust crate without one), check the component, and copy it with its
/// manifest into the plugins folder.
#[derive(Debug, clap::Args)]
pub struct Build {
    /// The project folder, holding the plugin's manifest `NAME.toml`
    /// (default: the current folder).
    #[arg(value_name = "DIR", default_value = ".")]
    dir: PathBuf,
    /// Build and check only; do not copy into the plugins folder.
    #[arg(long)]
    no_install: bool,
    #[command(flatten)]
    common: Common,
}

impl Build {
    /// Builds, checks and installs.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        let manifest_path = find_manifest(&self.dir)?;
        let manifest = Manifest::load(&manifest_path)?;
        let recipe = match &manifest.build {
            Some(recipe) => recipe.clone(),
            None => cargo_recipe(&self.dir).with_context(|| {
                format!(
                    "{} has no [build] section (command and output) and {} is not a Rust crate",
                    manifest_path.display(),
                    self.dir.display()
                )
            })?,
        };
        let name = manifest.name.to_string();

        eprintln!(
            "building {name} in {}: {}",
            self.dir.display(),
            recipe.command
        );
        let started = Instant::now();
        let warden = std::env::current_exe().context("cannot find the warden binary")?;
        let status = Command::new("sh")
            .arg("-c")
            .arg(&recipe.command)
            .current_dir(&self.dir)
            .env("WARDEN", &warden)
            // `output` is relative to the project: cargo must write there.
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET_DIR")
            .stdin(Stdio::null())
            .status()
            .context("cannot run sh")?;
        if !status.success() {
            bail!("the build of {name} failed ({status}); its output is above");
        }
        let output = self.dir.join(&recipe.output);
        eprintln!(
            "built {} in {:.1} s; checking it",
            output.display(),
            started.elapsed().as_secs_f64()
        );

        let check = Check::new(
            output.clone(),
            Some(manifest_path.clone()),
            self.common.clone(),
        );
        if !check.passes().await? {
            eprintln!("{name} will not load: see the check above");
            return Ok(ExitCode::FAILURE);
        }
        if self.no_install {
            return Ok(ExitCode::SUCCESS);
        }
        let (_, folder, _) = self.common.resolve()?;
        install(&output, &manifest_path, &folder, &name)?;
        eprintln!(
            "installed {name} in {} ({name}.wasm, {name}.toml)",
            folder.display()
        );
        Ok(ExitCode::SUCCESS)
    }
}

/// The plugin manifest of a project folder: its one `*.toml` file that is a
/// manifest (`Cargo.toml` and the like are not).
fn find_manifest(dir: &Path) -> anyhow::Result<PathBuf> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "toml")
            && std::fs::read_to_string(&path)
                .is_ok_and(|text| text.lines().any(|l| l.starts_with("manifest_version")))
        {
            found.push(path);
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => bail!(
            "no plugin manifest (NAME.toml with `manifest_version = 1`) in {}; \
             `warden new NAME --lang LANG` creates a project",
            dir.display()
        ),
        _ => bail!(
            "{} holds several plugin manifests ({}); keep one per project",
            dir.display(),
            found
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The build of a Rust crate without a `[build]` section:
/// `cargo build --release --target wasm32-wasip2`.
fn cargo_recipe(dir: &Path) -> Option<BuildRecipe> {
    let text = std::fs::read_to_string(dir.join("Cargo.toml")).ok()?;
    let cargo: toml::Table = toml::from_str(&text).ok()?;
    let package = cargo.get("package")?.get("name")?.as_str()?;
    Some(BuildRecipe {
        command: "cargo build --release --target wasm32-wasip2".into(),
        output: format!(
            "target/wasm32-wasip2/release/{}.wasm",
            package.replace('-', "_")
        )
        .into(),
    })
}

/// Copies the component and its manifest into `folder` as `NAME.wasm` and
/// `NAME.toml`, each through a temporary file renamed into place, so a
/// watching server never reads half a file.
fn install(component: &Path, manifest: &Path, folder: &Path, name: &str) -> anyhow::Result<()> {
    std::fs::create_dir_all(folder)
        .with_context(|| format!("cannot create the plugins folder {}", folder.display()))?;
    for (from, to) in [
        (manifest, format!("{name}.toml")),
        (component, format!("{name}.wasm")),
    ] {
        let temp = folder.join(format!(".{to}.warden-build"));
        std::fs::copy(from, &temp)
            .with_context(|| format!("cannot copy {} to {}", from.display(), temp.display()))?;
        std::fs::rename(&temp, folder.join(&to))
            .with_context(|| format!("cannot move {} into place", temp.display()))?;
    }
    Ok(())
}
