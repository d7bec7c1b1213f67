//! Which interfaces of the plugin world a component exports, and running one
//! operation against a fresh instance.
//!
//! `tools` is required; `resources`, `prompts` and `completions` (since world
//! 0.1.1) are optional and detected one by one, so a component built against
//! 0.1.0 keeps loading unchanged. A component built against world 0.1.x is
//! run through the frozen 0.1 bindings and what it returns is converted to
//! the current types (`legacy.rs`).

use wasmtime::Store;
use wasmtime::component::{Instance, InstancePre};

use super::bindings::{
    Completion, CompletionRef, PromptDescriptor, PromptError, PromptResult, ResourceBody,
    ResourceContents, ResourceDescriptor, ResourceError, ResourceTemplate, ToolDescriptor,
    ToolError, ToolOutput,
};
use super::{HostState, LEGACY_WORLD_VERSION, LoadError, WORLD_PACKAGE, semver_compatible};

/// The export indices of one component, resolved once at load.
#[derive(Clone)]
pub(super) enum Exports {
    /// Built against the current world (0.2.x).
    Current(current::Indices),
    /// Built against world 0.1.x.
    Legacy(legacy::Indices),
}

/// Which optional interfaces a plugin exports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExportSet {
    /// `warden:plugin/resources`.
    pub resources: bool,
    /// `warden:plugin/prompts`.
    pub prompts: bool,
    /// `warden:plugin/completions`.
    pub completions: bool,
}

impl Exports {
    /// Resolves the exports of a linked component built against world
    /// `version` (already checked), whose export names are `exported`.
    pub(super) fn find(
        pre: &InstancePre<HostState>,
        exported: &[String],
        version: &str,
    ) -> Result<Self, LoadError> {
        let has = |interface: &str| {
            let prefix = format!("{WORLD_PACKAGE}/{interface}@");
            exported.iter().any(|name| {
                name.strip_prefix(&prefix)
                    .is_some_and(|v| semver_compatible(v, version))
            })
        };
        if semver_compatible(version, LEGACY_WORLD_VERSION) {
            legacy::Indices::find(pre, has).map(Exports::Legacy)
        } else {
            current::Indices::find(pre, has).map(Exports::Current)
        }
    }

    pub(super) fn set(&self) -> ExportSet {
        match self {
            Exports::Current(i) => i.set(),
            Exports::Legacy(i) => i.set(),
        }
    }

    /// Whether the interface `op` needs is exported.
    pub(super) fn supports(&self, op: &Op<'_>) -> bool {
        let set = self.set();
        match op {
            Op::ListTools | Op::Describe | Op::CallTool { .. } => true,
            Op::ReadResource { .. } => set.resources,
            Op::GetPrompt { .. } => set.prompts,
            Op::Complete { .. } => set.completions,
        }
    }

    /// Runs `op` on a freshly instantiated `instance`.
    pub(super) async fn run(
        &self,
        store: &mut Store<HostState>,
        instance: &Instance,
        op: Op<'_>,
    ) -> wasmtime::Result<OpResult> {
        match self {
            Exports::Current(i) => i.run(store, instance, op).await,
            Exports::Legacy(i) => i.run(store, instance, op).await,
        }
    }
}

impl From<&CompletionRef> for CompletionRef {
    fn from(r: &CompletionRef) -> Self {
        r.clone()
    }
}

/// The export indices and the operations of one world version, over the
/// bindings module `$($bindings)+`; results are converted with `Into` to the
/// current types (the identity for the current world).
macro_rules! world_exports {
    ($module:ident, $($bindings:tt)+) => {
        pub(super) mod $module {
            use wasmtime::Store;
            use wasmtime::component::{Instance, InstancePre};

            use $($bindings)+::{completions, prompts, resources, tools};
            use super::{Description, ExportSet, Op, OpResult};
            use crate::sandbox::{HostState, LoadError};

            #[derive(Clone)]
            pub(in crate::sandbox) struct Indices {
                tools: tools::GuestIndices,
                resources: Option<resources::GuestIndices>,
                prompts: Option<prompts::GuestIndices>,
                completions: Option<completions::GuestIndices>,
            }

            fn list<T, U: From<T>>(items: Vec<T>) -> Vec<U> {
                items.into_iter().map(Into::into).collect()
            }

            impl Indices {
                pub(super) fn find(
                    pre: &InstancePre<HostState>,
                    has: impl Fn(&str) -> bool,
                ) -> Result<Self, LoadError> {
                    let link = |e: wasmtime::Error| LoadError::Link(format!("{e:#}"));
                    Ok(Self {
                        tools: tools::GuestIndices::new(pre).map_err(link)?,
                        resources: has("resources")
                            .then(|| resources::GuestIndices::new(pre))
                            .transpose()
                            .map_err(link)?,
                        prompts: has("prompts")
                            .then(|| prompts::GuestIndices::new(pre))
                            .transpose()
                            .map_err(link)?,
                        completions: has("completions")
                            .then(|| completions::GuestIndices::new(pre))
                            .transpose()
                            .map_err(link)?,
                    })
                }

                pub(super) fn set(&self) -> ExportSet {
                    ExportSet {
                        resources: self.resources.is_some(),
                        prompts: self.prompts.is_some(),
                        completions: self.completions.is_some(),
                    }
                }

                pub(super) async fn run(
                    &self,
                    store: &mut Store<HostState>,
                    instance: &Instance,
                    op: Op<'_>,
                ) -> wasmtime::Result<OpResult> {
                    let missing =
                        |what: &str| wasmtime::format_err!("the plugin does not export `{what}`");
                    match op {
                        Op::ListTools => {
                            let tools = self.tools.load(&mut *store, instance)?;
                            let listed = tools.call_list_tools(&mut *store).await?;
                            Ok(OpResult::Tools(list(listed)))
                        }
                        Op::Describe => {
                            let tools = self.tools.load(&mut *store, instance)?;
                            let mut description = Description {
                                tools: list(tools.call_list_tools(&mut *store).await?),
                                ..Description::default()
                            };
                            if let Some(indices) = &self.resources {
                                let resources = indices.load(&mut *store, instance)?;
                                description.resources =
                                    list(resources.call_list_resources(&mut *store).await?);
                                description.templates = list(
                                    resources.call_list_resource_templates(&mut *store).await?,
                                );
                            }
                            if let Some(indices) = &self.prompts {
                                let prompts = indices.load(&mut *store, instance)?;
                                description.prompts =
                                    list(prompts.call_list_prompts(&mut *store).await?);
                            }
                            Ok(OpResult::Description(description))
                        }
                        Op::CallTool { tool, arguments } => {
                            let tools = self.tools.load(&mut *store, instance)?;
                            let result = tools.call_call_tool(&mut *store, tool, arguments).await?;
                            Ok(OpResult::Call(result.map(Into::into).map_err(Into::into)))
                        }
                        Op::ReadResource { uri } => {
                            let indices =
                                self.resources.as_ref().ok_or_else(|| missing("resources"))?;
                            let resources = indices.load(&mut *store, instance)?;
                            let result = resources.call_read_resource(&mut *store, uri).await?;
                            Ok(OpResult::Read(result.map(list).map_err(Into::into)))
                        }
                        Op::GetPrompt { name, arguments } => {
                            let indices =
                                self.prompts.as_ref().ok_or_else(|| missing("prompts"))?;
                            let prompts = indices.load(&mut *store, instance)?;
                            let result =
                                prompts.call_get_prompt(&mut *store, name, arguments).await?;
                            Ok(OpResult::Prompt(result.map(Into::into).map_err(Into::into)))
                        }
                        Op::Complete {
                            reference,
                            argument,
                            value,
                            context,
                        } => {
                            let indices = self
                                .completions
                                .as_ref()
                                .ok_or_else(|| missing("completions"))?;
                            let completions = indices.load(&mut *store, instance)?;
                            let reference = completions::CompletionRef::from(reference);
                            let result = completions
                                .call_complete(&mut *store, &reference, argument, value, context)
                                .await?;
                            Ok(OpResult::Completion(result.map(Into::into)))
                        }
                    }
                }
            }
        }
    };
}

world_exports!(current, crate::sandbox::bindings);
world_exports!(legacy, crate::sandbox::bindings::legacy);

/// Everything a plugin lists: what `list-tools`, `list-resources`,
/// `list-resource-templates` and `list-prompts` returned, in one instance.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Description {
    /// The tools.
    pub tools: Vec<ToolDescriptor>,
    /// Concrete resources (empty when `resources` is not exported).
    pub resources: Vec<ResourceDescriptor>,
    /// Resource templates.
    pub templates: Vec<ResourceTemplate>,
    /// Prompts (empty when `prompts` is not exported).
    pub prompts: Vec<PromptDescriptor>,
}

/// One operation on a fresh instance.
pub(super) enum Op<'a> {
    ListTools,
    Describe,
    CallTool {
        tool: &'a str,
        arguments: &'a str,
    },
    ReadResource {
        uri: &'a str,
    },
    GetPrompt {
        name: &'a str,
        arguments: &'a [(String, String)],
    },
    Complete {
        reference: &'a CompletionRef,
        argument: &'a str,
        value: &'a str,
        context: &'a [(String, String)],
    },
}

/// What an operation returned.
pub(super) enum OpResult {
    Tools(Vec<ToolDescriptor>),
    Description(Description),
    Call(Result<ToolOutput, ToolError>),
    Read(Result<Vec<ResourceContents>, ResourceError>),
    Prompt(Result<PromptResult, PromptError>),
    Completion(Result<Completion, String>),
}

fn opt(text: &Option<String>) -> usize {
    text.as_ref().map_or(0, String::len)
}

fn tools_size(tools: &[ToolDescriptor]) -> usize {
    tools
        .iter()
        .map(|t| {
            t.name.len()
                + t.description.len()
                + t.input_schema.len()
                + opt(&t.title)
                + opt(&t.output_schema)
                + t.requires.len()
        })
        .sum()
}

impl OpResult {
    /// Bytes of data the guest handed back.
    pub(super) fn size(&self) -> usize {
        match self {
            OpResult::Tools(tools) => tools_size(tools),
            OpResult::Description(d) => {
                let resources: usize = d
                    .resources
                    .iter()
                    .map(|r| {
                        r.uri.len()
                            + r.name.len()
                            + opt(&r.title)
                            + opt(&r.description)
                            + opt(&r.mime_type)
                    })
                    .sum();
                let templates: usize = d
                    .templates
                    .iter()
                    .map(|t| {
                        t.uri_template.len()
                            + t.name.len()
                            + opt(&t.title)
                            + opt(&t.description)
                            + opt(&t.mime_type)
                    })
                    .sum();
                let prompts: usize = d
                    .prompts
                    .iter()
                    .map(|p| {
                        p.name.len()
                            + opt(&p.title)
                            + opt(&p.description)
                            + p.arguments
                                .iter()
                                .map(|a| a.name.len() + opt(&a.title) + opt(&a.description))
                                .sum::<usize>()
                    })
                    .sum();
                tools_size(&d.tools) + resources + templates + prompts
            }
            OpResult::Call(Ok(output)) => super::output_size(output),
            OpResult::Call(Err(ToolError::InvalidArguments(m)))
            | OpResult::Call(Err(ToolError::Failed(m)))
            | OpResult::Call(Err(ToolError::UnknownTool(m))) => m.len(),
            OpResult::Read(Ok(contents)) => contents
                .iter()
                .map(|c| {
                    c.uri.len()
                        + opt(&c.mime_type)
                        + match &c.body {
                            ResourceBody::Text(text) => text.len(),
                            ResourceBody::Blob(data) => data.len(),
                        }
                })
                .sum(),
            OpResult::Read(Err(ResourceError::NotFound(m)))
            | OpResult::Read(Err(ResourceError::Failed(m))) => m.len(),
            OpResult::Prompt(Ok(result)) => {
                opt(&result.description)
                    + result
                        .messages
                        .iter()
                        .map(|m| super::content_size(&m.content))
                        .sum::<usize>()
            }
            OpResult::Prompt(Err(PromptError::InvalidArguments(m)))
            | OpResult::Prompt(Err(PromptError::Failed(m)))
            | OpResult::Prompt(Err(PromptError::UnknownPrompt(m))) => m.len(),
            OpResult::Completion(Ok(c)) => c.values.iter().map(String::len).sum(),
            OpResult::Completion(Err(m)) => m.len(),
        }
    }
}
