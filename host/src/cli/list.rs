//! `warden list`: what is in the plugins folder and what became of it.

use std::io::Write as _;
use std::process::ExitCode;

use super::Common;
use crate::mcp::registry::PluginSummary;
use crate::observe::render;

/// List every plugin with its tools, capabilities and limits; plugins that
/// failed to load are listed with their error.
#[derive(Debug, clap::Args)]
pub struct List {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    common: Common,
}

impl List {
    /// Loads the plugins and prints the listing.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        let dispatcher = self.common.start(false, None).await?;
        let summaries = dispatcher.registry().summaries();
        let mut out = std::io::stdout().lock();
        if self.json {
            let json = serde_json::to_string_pretty(&summaries)?;
            writeln!(out, "{}", render::json(&json))?;
        } else {
            for summary in &summaries {
                write_text(&mut out, summary)?;
            }
            if summaries.is_empty() {
                writeln!(out, "no plugins found")?;
            }
            let budget = dispatcher.budget();
            writeln!(
                out,
                "memory budget: {} ({}); one plugin may hold up to {} of it",
                crate::budget::Approx(budget.total()),
                budget.source(),
                budget.share(),
            )?;
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// One plugin as text. Every value that a plugin or its manifest controls goes
/// through [`render::line`]: escaped, clipped, never a line of its own.
fn write_text(out: &mut impl std::io::Write, p: &PluginSummary) -> std::io::Result<()> {
    let version = p.version.as_deref().unwrap_or("-");
    writeln!(
        out,
        "{} {} [{}]",
        render::line(&p.name),
        render::line(version),
        p.status
    )?;
    writeln!(
        out,
        "  component: {}",
        render::line(&p.component.to_string_lossy())
    )?;
    if let Some(manifest) = &p.manifest {
        writeln!(
            out,
            "  manifest:  {}",
            render::line(&manifest.to_string_lossy())
        )?;
    }
    if let Some(error) = &p.error {
        writeln!(out, "  error: {}", render::line(error))?;
    }
    if let Some(description) = &p.description {
        writeln!(out, "  description: {}", render::line(description))?;
    }
    if let Some(load_ms) = p.load_ms {
        writeln!(
            out,
            "  loaded in {load_ms:.1} ms (world {})",
            render::line(p.world_version.as_deref().unwrap_or("?"))
        )?;
    }
    if let Some(limits) = &p.limits {
        writeln!(out, "  limits: {limits}")?;
    }
    if let Some(requested) = &p.requested {
        writeln!(
            out,
            "  capabilities requested: {}",
            render::line(&requested.to_string())
        )?;
    }
    if let Some(granted) = &p.granted {
        writeln!(
            out,
            "  capabilities granted:   {}",
            render::line(&granted.to_string())
        )?;
    }
    for notice in &p.notices {
        writeln!(out, "  notice: {}", render::line(notice))?;
    }
    for tool in &p.tools {
        let title = tool.title.as_deref().unwrap_or(&tool.local_name);
        writeln!(
            out,
            "  - {} ({}): {}",
            render::line(&tool.name),
            render::line(title),
            render::line(first_line(&tool.description))
        )?;
    }
    for resource in &p.resources {
        writeln!(out, "  - resource {}", render::line(resource))?;
    }
    for template in &p.templates {
        writeln!(out, "  - resource template {}", render::line(template))?;
    }
    for prompt in &p.prompts {
        writeln!(out, "  - prompt {}", render::line(prompt))?;
    }
    writeln!(out)
}

/// The first line of a description (a description may have several; the
/// rest is for clients).
fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}
