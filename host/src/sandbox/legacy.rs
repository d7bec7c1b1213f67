//! Plugins built against world 0.1.x: the host interfaces they import,
//! served by the current implementations, and what their exports return,
//! converted to the current (0.2) types. World 0.2 only added to 0.1: a tool
//! of a 0.1 plugin requires no client feature, and its content never holds a
//! resource link.

use super::bindings::{self, legacy};
use super::host::HostState;

use legacy::warden::plugin as old;

impl old::types::Host for HostState {}

impl old::log::Host for HostState {
    fn log(&mut self, level: old::log::Level, message: String) {
        use old::log::Level as L;
        let level = match level {
            L::Trace => bindings::Level::Trace,
            L::Debug => bindings::Level::Debug,
            L::Info => bindings::Level::Info,
            L::Warn => bindings::Level::Warn,
            L::Error => bindings::Level::Error,
        };
        bindings::warden::plugin::log::Host::log(self, level, message);
    }
}

impl old::progress::Host for HostState {
    fn report(&mut self, progress: f64, total: Option<f64>, message: Option<String>) {
        bindings::warden::plugin::progress::Host::report(self, progress, total, message);
    }
}

impl old::notify::Host for HostState {
    fn list_changed(&mut self, kind: old::notify::ListKind) {
        use old::notify::ListKind as K;
        let kind = match kind {
            K::Tools => bindings::ListKind::Tools,
            K::Prompts => bindings::ListKind::Prompts,
            K::Resources => bindings::ListKind::Resources,
        };
        bindings::warden::plugin::notify::Host::list_changed(self, kind);
    }

    fn resource_updated(&mut self, uri: String) {
        bindings::warden::plugin::notify::Host::resource_updated(self, uri);
    }
}

impl From<old::types::ToolDescriptor> for bindings::ToolDescriptor {
    fn from(t: old::types::ToolDescriptor) -> Self {
        let a = t.annotations;
        Self {
            name: t.name,
            title: t.title,
            description: t.description,
            input_schema: t.input_schema,
            output_schema: t.output_schema,
            annotations: bindings::Annotations {
                read_only: a.read_only,
                destructive: a.destructive,
                idempotent: a.idempotent,
                open_world: a.open_world,
            },
            requires: Vec::new(),
        }
    }
}

impl From<old::types::Content> for bindings::Content {
    fn from(content: old::types::Content) -> Self {
        match content {
            old::types::Content::Text(text) => Self::Text(text),
            old::types::Content::Blob(b) => Self::Blob(bindings::Blob {
                data: b.data,
                mime_type: b.mime_type,
            }),
        }
    }
}

impl From<old::types::ToolOutput> for bindings::ToolOutput {
    fn from(o: old::types::ToolOutput) -> Self {
        Self {
            content: o.content.into_iter().map(Into::into).collect(),
            structured: o.structured,
        }
    }
}

impl From<old::types::ToolError> for bindings::ToolError {
    fn from(e: old::types::ToolError) -> Self {
        use old::types::ToolError as E;
        match e {
            E::InvalidArguments(m) => Self::InvalidArguments(m),
            E::Failed(m) => Self::Failed(m),
            E::UnknownTool(m) => Self::UnknownTool(m),
        }
    }
}

impl From<legacy::resources::ResourceDescriptor> for bindings::ResourceDescriptor {
    fn from(r: legacy::resources::ResourceDescriptor) -> Self {
        Self {
            uri: r.uri,
            name: r.name,
            title: r.title,
            description: r.description,
            mime_type: r.mime_type,
            size: r.size,
        }
    }
}

impl From<legacy::resources::ResourceTemplate> for bindings::ResourceTemplate {
    fn from(t: legacy::resources::ResourceTemplate) -> Self {
        Self {
            uri_template: t.uri_template,
            name: t.name,
            title: t.title,
            description: t.description,
            mime_type: t.mime_type,
        }
    }
}

impl From<legacy::resources::ResourceContents> for bindings::ResourceContents {
    fn from(c: legacy::resources::ResourceContents) -> Self {
        use legacy::resources::ResourceBody as B;
        Self {
            uri: c.uri,
            mime_type: c.mime_type,
            body: match c.body {
                B::Text(text) => bindings::ResourceBody::Text(text),
                B::Blob(data) => bindings::ResourceBody::Blob(data),
            },
        }
    }
}

impl From<legacy::resources::ResourceError> for bindings::ResourceError {
    fn from(e: legacy::resources::ResourceError) -> Self {
        use legacy::resources::ResourceError as E;
        match e {
            E::NotFound(m) => Self::NotFound(m),
            E::Failed(m) => Self::Failed(m),
        }
    }
}

impl From<legacy::prompts::PromptDescriptor> for bindings::PromptDescriptor {
    fn from(p: legacy::prompts::PromptDescriptor) -> Self {
        Self {
            name: p.name,
            title: p.title,
            description: p.description,
            arguments: p
                .arguments
                .into_iter()
                .map(|a| bindings::PromptArgument {
                    name: a.name,
                    title: a.title,
                    description: a.description,
                    required: a.required,
                })
                .collect(),
        }
    }
}

impl From<legacy::prompts::PromptResult> for bindings::PromptResult {
    fn from(r: legacy::prompts::PromptResult) -> Self {
        use legacy::prompts::Role as R;
        Self {
            description: r.description,
            messages: r
                .messages
                .into_iter()
                .map(|m| bindings::PromptMessage {
                    role: match m.role {
                        R::User => bindings::Role::User,
                        R::Assistant => bindings::Role::Assistant,
                    },
                    content: m.content.into(),
                })
                .collect(),
        }
    }
}

impl From<legacy::prompts::PromptError> for bindings::PromptError {
    fn from(e: legacy::prompts::PromptError) -> Self {
        use legacy::prompts::PromptError as E;
        match e {
            E::InvalidArguments(m) => Self::InvalidArguments(m),
            E::Failed(m) => Self::Failed(m),
            E::UnknownPrompt(m) => Self::UnknownPrompt(m),
        }
    }
}

impl From<legacy::completions::Completion> for bindings::Completion {
    fn from(c: legacy::completions::Completion) -> Self {
        Self {
            values: c.values,
            total: c.total,
            has_more: c.has_more,
        }
    }
}

impl From<&bindings::CompletionRef> for legacy::completions::CompletionRef {
    fn from(r: &bindings::CompletionRef) -> Self {
        match r {
            bindings::CompletionRef::Prompt(name) => Self::Prompt(name.clone()),
            bindings::CompletionRef::ResourceTemplate(uri) => Self::ResourceTemplate(uri.clone()),
        }
    }
}
