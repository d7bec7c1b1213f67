//! One method per exported operation: each runs in a fresh instance and maps
//! the operation's result to its type.

use std::sync::Arc;

use super::exports::{Op, OpResult};
use super::{
    CallContext, CallError, CallReport, CompiledPlugin, Completion, CompletionRef, Description,
    PromptError, PromptResult, ResourceContents, ResourceError, Sandbox, ToolDescriptor, ToolError,
    ToolOutput,
};
use crate::limits::Limits;
use crate::policy::grants::Grants;

impl Sandbox {
    /// Calls `list-tools` in a fresh instance.
    pub async fn describe(
        &self,
        plugin: &CompiledPlugin,
        limits: &Limits,
        grants: &Arc<Grants>,
        ctx: CallContext,
    ) -> CallReport<Vec<ToolDescriptor>> {
        let report = self.run(plugin, limits, grants, ctx, Op::ListTools).await;
        report.map(|result| match result {
            OpResult::Tools(tools) => Ok(tools),
            _ => Err(unexpected()),
        })
    }

    /// Calls every `list-*` function the plugin exports, in one fresh
    /// instance.
    pub async fn describe_all(
        &self,
        plugin: &CompiledPlugin,
        limits: &Limits,
        grants: &Arc<Grants>,
        ctx: CallContext,
    ) -> CallReport<Description> {
        let report = self.run(plugin, limits, grants, ctx, Op::Describe).await;
        report.map(|result| match result {
            OpResult::Description(description) => Ok(description),
            _ => Err(unexpected()),
        })
    }

    /// Calls `read-resource` in a fresh instance. The inner `Result` is the
    /// plugin's own verdict.
    pub async fn read_resource(
        &self,
        plugin: &CompiledPlugin,
        limits: &Limits,
        grants: &Arc<Grants>,
        ctx: CallContext,
        uri: &str,
    ) -> CallReport<Result<Vec<ResourceContents>, ResourceError>> {
        let op = Op::ReadResource { uri };
        let report = self.run(plugin, limits, grants, ctx, op).await;
        report.map(|result| match result {
            OpResult::Read(result) => Ok(result),
            _ => Err(unexpected()),
        })
    }

    /// Calls `get-prompt` in a fresh instance.
    pub async fn get_prompt(
        &self,
        plugin: &CompiledPlugin,
        limits: &Limits,
        grants: &Arc<Grants>,
        ctx: CallContext,
        name: &str,
        arguments: &[(String, String)],
    ) -> CallReport<Result<PromptResult, PromptError>> {
        let op = Op::GetPrompt { name, arguments };
        let report = self.run(plugin, limits, grants, ctx, op).await;
        report.map(|result| match result {
            OpResult::Prompt(result) => Ok(result),
            _ => Err(unexpected()),
        })
    }

    /// Calls `complete` in a fresh instance.
    #[allow(clippy::too_many_arguments)]
    pub async fn complete(
        &self,
        plugin: &CompiledPlugin,
        limits: &Limits,
        grants: &Arc<Grants>,
        ctx: CallContext,
        reference: &CompletionRef,
        argument: &str,
        value: &str,
        context: &[(String, String)],
    ) -> CallReport<Result<Completion, String>> {
        let op = Op::Complete {
            reference,
            argument,
            value,
            context,
        };
        let report = self.run(plugin, limits, grants, ctx, op).await;
        report.map(|result| match result {
            OpResult::Completion(result) => Ok(result),
            _ => Err(unexpected()),
        })
    }

    /// Calls `call-tool` in a fresh instance. The inner `Result` is the
    /// plugin's own verdict; the outer one says whether the call ran at all.
    pub async fn call(
        &self,
        plugin: &CompiledPlugin,
        limits: &Limits,
        grants: &Arc<Grants>,
        ctx: CallContext,
        tool: &str,
        arguments: &str,
    ) -> CallReport<Result<ToolOutput, ToolError>> {
        let report = self
            .run(
                plugin,
                limits,
                grants,
                ctx,
                Op::CallTool { tool, arguments },
            )
            .await;
        report.map(|result| match result {
            OpResult::Call(result) => Ok(result),
            _ => Err(unexpected()),
        })
    }
}

fn unexpected() -> CallError {
    CallError::Internal("the plugin returned an unexpected result".into())
}
