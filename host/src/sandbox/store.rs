//! A call's store: made for a plugin (at the call, or ahead of it as a
//! ready instance, `ready.rs`), then attached to the call that runs in it.
//!
//! What a store gets when it is made depends only on the plugin: its grants
//! (the WASI context), its limits (fuel, memory, handles, files, captured
//! output, host memory) and its name. What it gets when it is attached
//! depends on the call: the client's links, the deadline, the `client`
//! import's peer and budget, and the permission asker.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime::{Engine, Store, UpdateDeadline};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder};
use wasmtime_wasi_http::WasiHttpCtx;

use super::account::CallMemory;
use super::asked_dirs::{self, CallDirs};
use super::deadline::Deadline;
use super::files::{CallFiles, FilePool};
use super::host::HostState;
use super::limiter::CallLimiter;
use super::{
    Announcements, CallContext, CallError, CapturedOutput, ClientLinks, MAX_HTTP_FIELDS_BYTES,
    Resolve, client, http, permission,
};
use crate::limits::Limits;
use crate::policy::grants::Grants;
use crate::policy::manifest::DirMode;

/// What every store is made from: the engine, the pool of open files and
/// the resolver of outgoing HTTP host names.
#[derive(Clone)]
pub(super) struct Parts {
    pub(super) engine: Engine,
    pub(super) files: Arc<FilePool>,
    pub(super) resolver: Arc<dyn Resolve>,
}

/// A store made for one plugin, and what the host keeps of it outside.
pub(super) struct CallStore {
    pub(super) store: Store<HostState>,
    pub(super) stdout: CapturedOutput,
    pub(super) stderr: CapturedOutput,
    /// The host memory charged to the store's call.
    pub(super) memory: Arc<CallMemory>,
}

/// What attaching a store to a call gave it.
pub(super) struct Attached {
    /// Asks the person about origins that are not granted.
    pub(super) asker: Option<Arc<permission::Asker>>,
    /// Cancelled when a permission question stops the run for an
    /// `input_required` round.
    pub(super) stop: Option<tokio_util::sync::CancellationToken>,
}

impl CallStore {
    /// A store for the plugin `name` under `limits` and `grants`, with all of
    /// its fuel, interrupted once `deadline` passes. It serves no client
    /// until [`CallStore::attach`].
    pub(super) fn new(
        parts: &Parts,
        name: Arc<str>,
        limits: &Limits,
        grants: &Arc<Grants>,
        deadline: &Arc<Deadline>,
    ) -> Result<Self, CallError> {
        let log_cap = usize::try_from(limits.max_log_bytes).unwrap_or(usize::MAX);
        let stdout = CapturedOutput::new(log_cap);
        let stderr = CapturedOutput::new(log_cap);
        let wasi = wasi_context(grants, &stdout, &stderr)?;
        let memory = CallMemory::new(limits.host_memory_bytes).ok_or_else(|| {
            CallError::Internal("too many calls at once to account for their host memory".into())
        })?;
        let mut table = ResourceTable::new();
        table.set_max_capacity(usize::try_from(limits.max_handles).unwrap_or(usize::MAX));
        let mut http = WasiHttpCtx::new();
        http.set_field_size_limit(MAX_HTTP_FIELDS_BYTES);
        let http_hooks = http::OutboundHttp::new(
            name.clone(),
            grants.clone(),
            memory.clone(),
            None,
            parts.resolver.clone(),
        );
        let client = client::CallClient::new(
            name.clone(),
            grants.client.clone(),
            None,
            limits,
            client::ClientBudget::new(limits),
            deadline.clone(),
            http_hooks.denial_log(),
        );
        let asked_dirs = CallDirs::new(name.clone(), grants.clone(), http_hooks.denial_log());
        let state = HostState {
            asked_dirs,
            wasi,
            table,
            http,
            http_hooks,
            client,
            limiter: CallLimiter::new(limits.memory_bytes),
            log_budget: limits.max_log_bytes,
            announcements: Announcements::default(),
            ctx: CallContext {
                plugin: name,
                tool: None,
                client: ClientLinks::default(),
                ahead: false,
            },
            files: CallFiles::new(
                parts.files.clone(),
                limits.max_open_files,
                limits.max_write_bytes,
            ),
        };
        let mut store = Store::new(&parts.engine, state);
        store.limiter(|s| &mut s.limiter);
        store
            .set_fuel(limits.fuel)
            .map_err(|e| CallError::Internal(format!("{e:#}")))?;
        interrupt_at(&mut store, deadline.clone());
        Ok(Self {
            store,
            stdout,
            stderr,
            memory,
        })
    }

    /// Attaches the store to a call: its context, its deadline, and the
    /// `client` import and permission questions that go to its client.
    pub(super) fn attach(
        &mut self,
        limits: &Limits,
        grants: &Grants,
        ctx: CallContext,
        deadline: &Arc<Deadline>,
    ) -> Attached {
        let budget = client::ClientBudget::new(limits);
        // Only a plugin whose grants let the person decide gets an asker.
        let asker = if grants.http.ask.is_never() && grants.asked_dirs.is_empty() {
            None
        } else {
            permission::Asker::new(
                ctx.plugin.clone(),
                ctx.tool.clone(),
                ctx.client.peer.as_ref(),
                budget.clone(),
                deadline.clone(),
            )
        };
        let stop = asker.as_ref().map(|a| a.stopped());
        let state = self.store.data_mut();
        state.http_hooks.set_asker(asker.clone());
        state.asked_dirs.set_asker(asker.clone());
        state.client = client::CallClient::new(
            ctx.plugin.clone(),
            grants.client.clone(),
            ctx.client.peer.clone(),
            limits,
            budget,
            deadline.clone(),
            state.http_hooks.denial_log(),
        );
        state.ctx = ctx;
        interrupt_at(&mut self.store, deadline.clone());
        Attached { asker, stop }
    }
}

/// Interrupts the store's wasm at the first epoch tick after `deadline`.
fn interrupt_at(store: &mut Store<HostState>, deadline: Arc<Deadline>) {
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        Ok(if deadline.passed() {
            UpdateDeadline::Interrupt
        } else {
            UpdateDeadline::Yield(1)
        })
    });
}

/// A WASI context with exactly the granted capabilities: captured stdio, the
/// granted preopens and variables, and nothing inherited from the host.
fn wasi_context(
    grants: &Grants,
    stdout: &CapturedOutput,
    stderr: &CapturedOutput,
) -> Result<WasiCtx, CallError> {
    let mut wasi = WasiCtxBuilder::new();
    wasi.stdout(stdout.clone()).stderr(stderr.clone());
    for dir in &grants.dirs {
        let perms = match dir.mode {
            DirMode::ReadOnly => FsPerms::ReadOnly,
            DirMode::ReadWrite => FsPerms::ReadWrite,
        };
        wasi.preopened_dir(dir.open_path(), &dir.guest, perms)
            .map_err(|e| {
                CallError::Internal(format!(
                    "cannot open the granted directory for {}: {e:#}",
                    dir.guest
                ))
            })?;
    }
    // Without a placeholder, a held directory is not there, as without `ask`.
    let placeholder = asked_dirs::placeholder();
    for held in grants.asked_dirs.iter().filter(|a| !a.granted_read_only) {
        if let Some(placeholder) = placeholder {
            wasi.preopened_dir(placeholder, &held.dir.guest, FsPerms::ReadOnly)
                .map_err(|e| {
                    CallError::Internal(format!(
                        "cannot open the placeholder for the held directory {}: {e:#}",
                        held.dir.guest
                    ))
                })?;
        }
    }
    for var in &grants.env {
        wasi.env(&var.name, var.value.expose());
    }
    Ok(wasi.build())
}
