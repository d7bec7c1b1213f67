//! `feature-flags`: a Warden example plugin that answers "what is this flag in
//! this environment (for this user)?" from a JSON flag file.
//!
//! The file is read from a directory the host grants (by default
//! `/config/flags.json`; the example manifest maps `examples/workspace/flags`
//! to `/config`, read-only). Its format is described in [`config`]. The file is
//! read anew on every call, so edits take effect immediately.
//!
//! Tools: `get` (one flag, with the reason for its value), `list` (every flag
//! in an environment) and `environments`.

mod config;
mod files;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use warden_plugin::{Content, Tool, ToolError, ToolOutput};

use config::{FlagFile, Reason};
use files::Root;

/// The directory whose `flags.json` is read when no `file` is given, and
/// against which a relative `file` is resolved.
const CONFIG_DIR: &str = "/config";

/// The tools of this plugin.
pub fn tools() -> Vec<Tool> {
    vec![
        Tool::new(
            "get",
            "The value of one feature flag in an environment, and why it has that value \
             (default, environment override, or percentage rollout for the given user).",
            |args: GetArgs| get(&Ctx::discover(), args),
        )
        .title("Get a feature flag")
        .output_schema::<FlagResult>()
        .read_only()
        .idempotent()
        .closed_world(),
        Tool::new(
            "list",
            "Every feature flag resolved for an environment (and optionally a user), with the \
             reason for each value and the flag's description.",
            |args: ListArgs| list(&Ctx::discover(), args),
        )
        .title("List feature flags")
        .output_schema::<ListResult>()
        .read_only()
        .idempotent()
        .closed_world(),
        Tool::new(
            "environments",
            "The environments the flag file knows (for example dev, staging, prod).",
            |args: EnvironmentsArgs| environments(&Ctx::discover(), args),
        )
        .title("List environments")
        .output_schema::<EnvironmentsResult>()
        .read_only()
        .idempotent()
        .closed_world(),
    ]
}

warden_plugin::export_plugin!(tools);

/// Where flag files are looked for.
struct Ctx {
    roots: Vec<Root>,
    config_dir: String,
}

impl Ctx {
    fn discover() -> Self {
        Self {
            roots: files::discover_roots(),
            config_dir: CONFIG_DIR.into(),
        }
    }

    /// Reads and validates the flag file named by `file` (default
    /// `flags.json` in the config directory). Returns its path too.
    fn load(&self, file: Option<&str>) -> Result<(String, FlagFile), ToolError> {
        let path = files::flag_file_path(file, &self.config_dir)?;
        let text = files::read_text(&path, &self.roots)?;
        let flags = config::parse(&text).map_err(|e| ToolError::failed(e.message(&path)))?;
        Ok((path, flags))
    }
}

fn check_environment(flags: &FlagFile, path: &str, environment: &str) -> Result<(), ToolError> {
    if flags.environments.iter().any(|e| e == environment) {
        return Ok(());
    }
    let hint = config::suggest(environment, flags.environments.iter().map(String::as_str))
        .map(|s| format!("did you mean '{s}'? "))
        .unwrap_or_default();
    Err(ToolError::invalid_arguments(format!(
        "unknown environment '{environment}' in {path}; {hint}known environments: {}",
        flags.environments.join(", ")
    )))
}

fn output<T: Serialize>(text: String, value: &T) -> Result<ToolOutput, ToolError> {
    let value = serde_json::to_value(value)
        .map_err(|e| ToolError::failed(format!("could not serialize the result: {e}")))?;
    Ok(ToolOutput {
        content: vec![Content::Text(text)],
        structured: Some(value),
    })
}

// ---------------------------------------------------------------- get

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct GetArgs {
    /// The flag's name, e.g. `checkout-v2` (see `list`).
    flag: String,
    /// The environment, e.g. `dev`, `staging` or `prod` (see `environments`).
    environment: String,
    /// The user (id, e-mail, account...) to evaluate percentage rollouts for. The
    /// same user always gets the same answer. Without it, rollouts are not applied.
    user: Option<String>,
    /// The flag file: an absolute path in a granted directory, or a path relative
    /// to `/config`. Default: `/config/flags.json`.
    file: Option<String>,
}

/// A flag's value in an environment.
#[derive(Debug, Serialize, JsonSchema)]
struct FlagResult {
    /// The flag's name.
    flag: String,
    /// The environment it was resolved for.
    environment: String,
    /// The user rollouts were evaluated for, if one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    /// The resolved value (any JSON value).
    value: Value,
    /// `default`, `override` or `rollout`.
    reason: Reason,
    /// How the value was chosen, in words.
    detail: String,
    /// The flag's description from the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
}

fn get(ctx: &Ctx, args: GetArgs) -> Result<ToolOutput, ToolError> {
    let (path, flags) = ctx.load(args.file.as_deref())?;
    let Some(flag) = flags.flags.get(&args.flag) else {
        let names = flags.flags.keys().map(String::as_str);
        let hint = config::suggest(&args.flag, names)
            .map(|s| format!("did you mean '{s}'? "))
            .unwrap_or_default();
        let known: Vec<&str> = flags.flags.keys().map(String::as_str).collect();
        return Err(ToolError::invalid_arguments(format!(
            "unknown flag '{}' in {path}; {hint}known flags: {}",
            args.flag,
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        )));
    };
    check_environment(&flags, &path, &args.environment)?;
    let r = config::resolve(&args.flag, flag, &args.environment, args.user.as_deref());
    let text = format!(
        "{} = {} in {} ({}: {})",
        args.flag,
        r.value,
        args.environment,
        reason_name(r.reason),
        r.detail
    );
    output(
        text,
        &FlagResult {
            flag: args.flag,
            environment: args.environment,
            user: args.user,
            value: r.value,
            reason: r.reason,
            detail: r.detail,
            description: flag.description.clone(),
        },
    )
}

fn reason_name(reason: Reason) -> &'static str {
    match reason {
        Reason::Default => "default",
        Reason::Override => "override",
        Reason::Rollout => "rollout",
    }
}

// ---------------------------------------------------------------- list

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ListArgs {
    /// The environment, e.g. `dev`, `staging` or `prod` (see `environments`).
    environment: String,
    /// The user to evaluate percentage rollouts for. Without it, rollouts are not
    /// applied.
    user: Option<String>,
    /// The flag file: an absolute path in a granted directory, or a path relative
    /// to `/config`. Default: `/config/flags.json`.
    file: Option<String>,
}

/// One flag in a listing.
#[derive(Debug, Serialize, JsonSchema)]
struct ListedFlag {
    /// The flag's name.
    flag: String,
    /// The resolved value.
    value: Value,
    /// `default`, `override` or `rollout`.
    reason: Reason,
    /// How the value was chosen, in words.
    detail: String,
    /// The flag's description from the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
}

/// Every flag of the file resolved for one environment.
#[derive(Debug, Serialize, JsonSchema)]
struct ListResult {
    /// The flag file that was read.
    file: String,
    /// The environment.
    environment: String,
    /// The user rollouts were evaluated for, if one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    /// The flags, sorted by name.
    flags: Vec<ListedFlag>,
}

fn list(ctx: &Ctx, args: ListArgs) -> Result<ToolOutput, ToolError> {
    let (path, flags) = ctx.load(args.file.as_deref())?;
    check_environment(&flags, &path, &args.environment)?;
    let listed: Vec<ListedFlag> = flags
        .flags
        .iter()
        .map(|(name, flag)| {
            let r = config::resolve(name, flag, &args.environment, args.user.as_deref());
            ListedFlag {
                flag: name.clone(),
                value: r.value,
                reason: r.reason,
                detail: r.detail,
                description: flag.description.clone(),
            }
        })
        .collect();
    let mut lines = vec![match &args.user {
        Some(user) => format!(
            "{} flags in {} for user {user:?} (from {path}):",
            listed.len(),
            args.environment
        ),
        None => format!(
            "{} flags in {} (from {path}):",
            listed.len(),
            args.environment
        ),
    }];
    for f in &listed {
        let mut line = format!(
            "- {} = {} ({}: {})",
            f.flag,
            f.value,
            reason_name(f.reason),
            f.detail
        );
        if let Some(d) = &f.description {
            line.push_str(&format!(" — {d}"));
        }
        lines.push(line);
    }
    output(
        lines.join("\n"),
        &ListResult {
            file: path,
            environment: args.environment,
            user: args.user,
            flags: listed,
        },
    )
}

// ---------------------------------------------------------------- environments

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct EnvironmentsArgs {
    /// The flag file: an absolute path in a granted directory, or a path relative
    /// to `/config`. Default: `/config/flags.json`.
    file: Option<String>,
}

/// The environments of a flag file.
#[derive(Debug, Serialize, JsonSchema)]
struct EnvironmentsResult {
    /// The flag file that was read.
    file: String,
    /// The environment names, in the file's order.
    environments: Vec<String>,
    /// How many flags the file defines.
    flags: usize,
}

fn environments(ctx: &Ctx, args: EnvironmentsArgs) -> Result<ToolOutput, ToolError> {
    let (path, flags) = ctx.load(args.file.as_deref())?;
    let text = format!(
        "Environments in {path}: {} ({} flag{})",
        flags.environments.join(", "),
        flags.flags.len(),
        if flags.flags.len() == 1 { "" } else { "s" }
    );
    output(
        text,
        &EnvironmentsResult {
            file: path,
            environments: flags.environments,
            flags: flags.flags.len(),
        },
    )
}

#[cfg(test)]
mod tests;
