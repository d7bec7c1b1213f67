//! Ready instances: fresh instances of a plugin made before the calls that
//! will run in them, for plugins whose instantiation is slow (the start code
//! of an interpreter: about 0.8 ms for a CPython component here).
//!
//! - **Never shared.** An instance is made for one call and dropped with it;
//!   a ready one has run only its own start code, as the call's instance
//!   would have before the call.
//! - **Only where it pays.** A plugin gets ready instances once it has been
//!   instantiated [`SAMPLES`] times and never faster than the threshold
//!   (100 µs by default): below that, the hand-off to the thread that makes
//!   them costs about what it saves. The fastest time is the measure because
//!   noise only ever adds time; the first instantiations after a load are
//!   slow for every plugin (cold code and caches), hence several.
//! - **Not for plugins run one at a time** (the call's `ahead` is false):
//!   their start code would run beside their running call.
//! - **Made on a thread of their own**, after a call begins, so that on a
//!   machine with a free core the next instance is made while the call runs.
//! - **Charged like the call.** Making runs under the plugin's limits (fuel,
//!   memory, host memory, a deadline of its timeout); the call inherits what
//!   is left: the fuel the start code used, and the time it took, count
//!   against the call as they would have at the call. A plugin whose start
//!   code fails, hits a limit or opens files gets no ready instances (until
//!   it is loaded again): its calls instantiate as before and report the
//!   failure.
//! - **Bounded.** At most `per_plugin` for each plugin, at most
//!   [`MAX_READY`] in all, and the linear and host memory they hold together
//!   at most `memory`; the instance pool has room for them on top of the
//!   calls. A plugin not called for [`IDLE`] has its ready instances dropped.
//! - **Matched.** A ready instance serves only a call of the plugin name,
//!   grants and limits it was made under; one made under grants that have
//!   changed is dropped.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use wasmtime::component::{Instance, InstancePre};

use super::HOST_GRACE;
use super::account::{self, Accounted};
use super::deadline::Deadline;
use super::host::HostState;
use super::store::{CallStore, Parts};
use super::ticker::EpochTicker;
use crate::limits::Limits;
use crate::policy::grants::Grants;

/// Instantiations measured before a plugin may get ready instances.
pub const SAMPLES: u32 = 3;
/// The most ready instances held at once, over all plugins.
pub const MAX_READY: u32 = 8;
/// Ready instances of a plugin not called for this long are dropped.
pub const IDLE: Duration = Duration::from_secs(60);

/// How many ready instances plugins may keep, and how much memory they may
/// hold together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadySettings {
    /// Ready instances kept per plugin; 0 turns them off.
    pub per_plugin: u32,
    /// The linear and host memory all ready instances may hold together.
    pub memory: u64,
    /// Plugins whose instantiation takes at least this long get them.
    pub threshold: Duration,
}

impl ReadySettings {
    /// One per plugin, 256 MiB in all, for instantiations of 100 µs or more.
    pub const DEFAULT: ReadySettings = ReadySettings {
        per_plugin: 1,
        memory: 256 << 20,
        threshold: Duration::from_micros(100),
    };

    /// The instance-pool slots ready instances may take.
    pub(super) fn pool_slots(&self) -> u32 {
        if self.per_plugin == 0 { 0 } else { MAX_READY }
    }
}

/// An instance made ahead of its call, with its store.
pub(super) struct Readied {
    pub(super) call: CallStore,
    pub(super) instance: Instance,
    /// How long making it took: counted against the call's timeout.
    pub(super) took: Duration,
}

impl Readied {
    /// Drops the instance, then hands its host memory back if it held much.
    fn discard(self) {
        let memory = self.call.memory.clone();
        drop(self);
        account::trim_after(&memory);
    }
}

/// One plugin's ready instances (shared by the clones of its compiled code).
#[derive(Default)]
pub(super) struct ReadyPool {
    /// Whether the plugin's instantiation is slow enough.
    worth: AtomicBool,
    /// Instantiations measured.
    samples: AtomicU32,
    /// The fastest of them, in nanoseconds.
    fastest: AtomicU64,
    state: Mutex<PoolState>,
}

#[derive(Default)]
struct PoolState {
    held: Vec<Held>,
    /// Instances being made.
    making: u32,
    /// Making one failed: no more for this plugin.
    off: bool,
    /// The memory the last one made held, when it did not fit.
    needs: u64,
    /// When a call last began.
    used: Option<Instant>,
    /// Whether the sweeper knows this pool.
    swept: bool,
}

/// A ready instance in its pool: gives its count and memory back when it
/// leaves, taken or dropped.
struct Held {
    readied: Option<Readied>,
    name: Arc<str>,
    grants: Arc<Grants>,
    limits: Limits,
    bytes: u64,
    totals: Arc<Mutex<Totals>>,
}

impl Drop for Held {
    fn drop(&mut self) {
        {
            let mut totals = lock(&self.totals);
            totals.count -= 1;
            totals.held -= 1;
            totals.bytes -= self.bytes;
            totals.publish();
        }
        if let Some(readied) = self.readied.take() {
            readied.discard();
        }
    }
}

/// Ready instances over all plugins.
#[derive(Debug, Default)]
struct Totals {
    /// Held and being made.
    count: u32,
    /// Held.
    held: u32,
    /// What the held ones hold.
    bytes: u64,
}

impl Totals {
    fn publish(&self) {
        crate::observe::metrics::ready_instances(self.held, self.bytes);
    }
}

/// What making one ready instance needs.
struct Job {
    pool: Weak<ReadyPool>,
    pre: InstancePre<HostState>,
    name: Arc<str>,
    limits: Limits,
    grants: Arc<Grants>,
}

/// What the making thread shares with the sandbox.
struct Shared {
    settings: ReadySettings,
    totals: Arc<Mutex<Totals>>,
    parts: Parts,
    ticker: Arc<EpochTicker>,
    pools: Mutex<Vec<Weak<ReadyPool>>>,
}

/// The sandbox's ready instances: settings, totals, and the thread that
/// makes them (started when first needed).
pub(super) struct Ready {
    shared: Arc<Shared>,
    jobs: OnceLock<mpsc::UnboundedSender<Job>>,
}

impl Ready {
    pub(super) fn new(settings: ReadySettings, parts: Parts, ticker: Arc<EpochTicker>) -> Self {
        Self {
            shared: Arc::new(Shared {
                settings,
                totals: Arc::default(),
                parts,
                ticker,
                pools: Mutex::default(),
            }),
            jobs: OnceLock::new(),
        }
    }

    /// The settings it was made with.
    pub(super) fn settings(&self) -> ReadySettings {
        self.shared.settings
    }

    /// Records how long instantiating `pool`'s plugin took at a call.
    pub(super) fn observe(&self, pool: &ReadyPool, took: Duration) {
        pool.observe(took, self.shared.settings.threshold);
    }

    /// A ready instance of `pool`'s plugin made for `name` under `grants`
    /// and `limits`, if one is there. Ready instances made under other
    /// grants are dropped.
    pub(super) fn take(
        &self,
        pool: &ReadyPool,
        name: &str,
        limits: &Limits,
        grants: &Arc<Grants>,
    ) -> Option<Readied> {
        if !pool.worth.load(Ordering::Relaxed) {
            return None;
        }
        let (found, stale) = {
            let mut state = lock(&pool.state);
            state.used = Some(Instant::now());
            let stale: Vec<Held> = extract(&mut state.held, |h| !Arc::ptr_eq(&h.grants, grants));
            let found = state
                .held
                .iter()
                .position(|h| h.limits == *limits && *h.name == *name)
                .map(|i| state.held.swap_remove(i));
            (found, stale)
        };
        drop(stale);
        found.and_then(|mut held| held.readied.take())
    }

    /// Asks for one more ready instance of the plugin, unless it has all it
    /// may have, the totals are reached, or its instantiation is fast.
    pub(super) fn refill(
        &self,
        pool: &Arc<ReadyPool>,
        pre: &InstancePre<HostState>,
        name: &Arc<str>,
        limits: &Limits,
        grants: &Arc<Grants>,
    ) {
        let settings = self.shared.settings;
        if settings.per_plugin == 0 || !pool.worth.load(Ordering::Relaxed) {
            return;
        }
        {
            let mut state = lock(&pool.state);
            let had = u32::try_from(state.held.len()).unwrap_or(u32::MAX);
            if state.off || had.saturating_add(state.making) >= settings.per_plugin {
                return;
            }
            let mut totals = lock(&self.shared.totals);
            if totals.count >= MAX_READY
                || totals.bytes.saturating_add(state.needs) > settings.memory
            {
                return;
            }
            totals.count += 1;
            state.making += 1;
            if !state.swept {
                state.swept = true;
                lock(&self.shared.pools).push(Arc::downgrade(pool));
            }
        }
        let job = Job {
            pool: Arc::downgrade(pool),
            pre: pre.clone(),
            name: name.clone(),
            limits: *limits,
            grants: grants.clone(),
        };
        let jobs = self.jobs.get_or_init(|| start(self.shared.clone()));
        if let Err(mpsc::error::SendError(job)) = jobs.send(job) {
            // The making thread could not start: give the count back.
            if let Some(pool) = job.pool.upgrade() {
                let mut state = lock(&pool.state);
                state.making -= 1;
                state.off = true;
            }
            lock(&self.shared.totals).count -= 1;
        }
    }
}

/// Starts the thread that makes ready instances and drops idle ones; it ends
/// when the sandbox is dropped.
fn start(shared: Arc<Shared>) -> mpsc::UnboundedSender<Job> {
    let (sender, mut jobs) = mpsc::unbounded_channel::<Job>();
    let spawned = std::thread::Builder::new()
        .name("warden-ready".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    tracing::warn!("ready instances are off: {error}");
                    return;
                }
            };
            runtime.block_on(async move {
                tokio::spawn(sweep(shared.clone()));
                while let Some(job) = jobs.recv().await {
                    tokio::spawn(make(shared.clone(), job));
                }
            });
        });
    if let Err(error) = spawned {
        tracing::warn!("ready instances are off: {error}");
    }
    sender
}

/// Makes one ready instance and puts it in its pool, if the pool is still
/// there and it fits.
async fn make(shared: Arc<Shared>, job: Job) {
    let made = match job.pool.upgrade() {
        Some(_) => instantiate(&shared, &job).await,
        None => Err("the plugin was dropped"),
    };
    let Some(pool) = job.pool.upgrade() else {
        lock(&shared.totals).count -= 1;
        return;
    };
    let mut state = lock(&pool.state);
    state.making -= 1;
    let readied = match made {
        Ok(readied) => readied,
        Err(reason) => {
            state.off = true;
            drop(state);
            lock(&shared.totals).count -= 1;
            tracing::debug!(plugin = %job.name, reason, "no ready instances for this plugin");
            return;
        }
    };
    pool.observe(readied.took, shared.settings.threshold);
    tracing::debug!(
        plugin = %job.name,
        took_us = readied.took.as_micros() as u64,
        "ready instance made"
    );
    let bytes = held_bytes(&readied);
    let fits = {
        let mut totals = lock(&shared.totals);
        let fits = totals.bytes.saturating_add(bytes) <= shared.settings.memory;
        if fits {
            totals.held += 1;
            totals.bytes += bytes;
            totals.publish();
        } else {
            totals.count -= 1;
        }
        fits
    };
    if fits {
        state.needs = 0;
        state.held.push(Held {
            readied: Some(readied),
            name: job.name,
            grants: job.grants,
            limits: job.limits,
            bytes,
            totals: shared.totals.clone(),
        });
    } else {
        state.needs = bytes;
        drop(state);
        readied.discard();
    }
}

impl ReadyPool {
    /// Records how long the plugin's instantiation took, which decides
    /// whether it is made ahead.
    fn observe(&self, took: Duration, threshold: Duration) {
        let took = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        // Starts at 0 (none yet): the first sample is the fastest.
        let fastest = match self.fastest.load(Ordering::Relaxed) {
            0 => took,
            before => before.min(took),
        };
        self.fastest.store(fastest, Ordering::Relaxed);
        let samples = self
            .samples
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1);
        let threshold = u64::try_from(threshold.as_nanos()).unwrap_or(u64::MAX);
        self.worth.store(
            samples >= SAMPLES && fastest >= threshold,
            Ordering::Relaxed,
        );
    }
}

/// The memory a ready instance holds: its linear memories and what its
/// making charged to the host.
fn held_bytes(readied: &Readied) -> u64 {
    let linear = readied.call.store.data().limiter.peak_memory() as u64;
    linear.saturating_add(readied.call.memory.used())
}

/// Instantiates the job's plugin under its limits; why it cannot be kept
/// ready when that fails, hits a limit or opens files.
async fn instantiate(shared: &Shared, job: &Job) -> Result<Readied, &'static str> {
    let started = Instant::now();
    let deadline = Arc::new(Deadline::new(started, job.limits.timeout));
    let mut call = CallStore::new(
        &shared.parts,
        job.name.clone(),
        &job.limits,
        &job.grants,
        &deadline,
    )
    .map_err(|_| "its store could not be made")?;
    let _ticking = shared.ticker.running();
    let memory = call.memory.clone();
    let instance = {
        let instantiating =
            Accounted::new(memory.clone(), job.pre.instantiate_async(&mut call.store));
        tokio::select! {
            made = instantiating => Some(made),
            () = deadline.expired(HOST_GRACE) => None,
        }
    };
    let failure = match instance {
        None => "its start code timed out",
        // A start that opened files would hold them while it waits: such a
        // plugin gets no ready instances, so that the file pool's shares
        // stay the calls'.
        Some(_) if call.store.data().files.peak_open() > 0 => "its start code opens files",
        // Made ahead, it could not ask the person: a call's own instance can.
        Some(_) if call.store.data().asked_dirs.reached_ahead() => {
            "its start code reaches a held directory"
        }
        Some(Ok(Ok(instance))) if !memory.exceeded() => {
            return Ok(Readied {
                call,
                instance,
                took: started.elapsed(),
            });
        }
        Some(_) => "its start code failed or hit a limit",
    };
    // As after a call: what a start that failed used goes back.
    drop(call);
    account::trim_after(&memory);
    Err(failure)
}

/// Drops the ready instances of plugins not called for [`IDLE`].
async fn sweep(shared: Arc<Shared>) {
    loop {
        tokio::time::sleep(IDLE / 4).await;
        let pools: Vec<Arc<ReadyPool>> = {
            let mut pools = lock(&shared.pools);
            pools.retain(|p| p.strong_count() > 0);
            pools.iter().filter_map(Weak::upgrade).collect()
        };
        for pool in pools {
            let idle: Vec<Held> = {
                let mut state = lock(&pool.state);
                match state.used {
                    Some(used) if used.elapsed() < IDLE => Vec::new(),
                    _ => std::mem::take(&mut state.held),
                }
            };
            drop(idle);
        }
    }
}

/// Removes and returns the items of `items` that match.
fn extract<T>(items: &mut Vec<T>, mut matches: impl FnMut(&T) -> bool) -> Vec<T> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < items.len() {
        if matches(&items[i]) {
            out.push(items.swap_remove(i));
        } else {
            i += 1;
        }
    }
    out
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::{
        CallContext, CallReport, ClientLinks, CompiledPlugin, Content, EngineSettings, Sandbox,
        ToolError, ToolOutput,
    };

    fn sandbox(per_plugin: u32) -> Sandbox {
        Sandbox::new(&EngineSettings {
            max_wasm_stack: 512 << 10,
            max_concurrent_calls: 2,
            memory_ceiling: 64 << 20,
            cache_functions: false,
            ready: ReadySettings {
                per_plugin,
                memory: 256 << 20,
                // Every instantiation counts as slow: Rust fixtures are fast.
                threshold: Duration::from_nanos(1),
            },
        })
        .unwrap()
    }

    fn hostile(sandbox: &Sandbox) -> CompiledPlugin {
        sandbox
            .compile(&std::fs::read(warden_test_artifacts::HOSTILE_WASM).unwrap())
            .unwrap()
    }

    /// A context for `plugin`'s `tool` (`None` when describing).
    fn context(plugin: &str, tool: Option<&str>, ahead: bool) -> CallContext {
        CallContext {
            plugin: plugin.into(),
            tool: tool.map(Into::into),
            client: ClientLinks::default(),
            ahead,
        }
    }

    async fn call(
        sandbox: &Sandbox,
        plugin: &CompiledPlugin,
        limits: &Limits,
        grants: &Arc<Grants>,
        tool: &str,
    ) -> CallReport<Result<ToolOutput, ToolError>> {
        let ctx = context("hostile", Some(tool), true);
        sandbox.call(plugin, limits, grants, ctx, tool, "{}").await
    }

    fn text(report: &CallReport<Result<ToolOutput, ToolError>>) -> String {
        match &report.outcome {
            Ok(Ok(output)) => match output.content.as_slice() {
                [Content::Text(text)] => text.clone(),
                other => panic!("not one text: {other:?}"),
            },
            Ok(Err(error)) => panic!("tool error: {error:?}"),
            Err(error) => panic!("call error: {error}"),
        }
    }

    /// Waits until `plugin` holds `count` ready instances.
    async fn held(plugin: &CompiledPlugin, count: usize) {
        let started = Instant::now();
        while lock(&plugin.ready.state).held.len() != count {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the plugin never held {count} ready instances"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    fn totals(sandbox: &Sandbox) -> (u32, u64) {
        let totals = lock(&sandbox.ready.shared.totals);
        (totals.count, totals.bytes)
    }

    #[tokio::test]
    async fn each_ready_instance_serves_one_call_and_is_charged_its_start() {
        let sandbox = sandbox(1);
        let plugin = hostile(&sandbox);
        let (limits, grants) = (Limits::DEFAULTS, Arc::new(Grants::default()));
        // The first calls measure the instantiation.
        let first = call(&sandbox, &plugin, &limits, &grants, "counter").await;
        assert!(!first.stats.ready);
        assert_eq!(text(&first), "1");
        for _ in 1..SAMPLES {
            assert!(lock(&plugin.ready.state).held.is_empty());
            let report = call(&sandbox, &plugin, &limits, &grants, "counter").await;
            assert!(!report.stats.ready);
        }
        for _ in 0..5 {
            held(&plugin, 1).await;
            let (count, bytes) = totals(&sandbox);
            assert_eq!(count, 1);
            assert!(bytes > 0, "a ready instance holds its linear memory");
            let report = call(&sandbox, &plugin, &limits, &grants, "counter").await;
            assert!(
                report.stats.ready,
                "the call did not run in the ready instance"
            );
            // A fresh instance: no call before it left its count behind.
            assert_eq!(text(&report), "1");
            // Its start code's fuel counts, as it would have at the call.
            assert_eq!(report.stats.fuel_used, first.stats.fuel_used);
        }
        drop(plugin);
        // The one being made for the next call is dropped once made.
        let started = Instant::now();
        while totals(&sandbox) != (0, 0) {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "a dropped plugin kept {:?}",
                totals(&sandbox)
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    #[tokio::test]
    async fn a_ready_instance_serves_only_its_grants_and_limits() {
        let sandbox = sandbox(1);
        let plugin = hostile(&sandbox);
        let (limits, grants) = (Limits::DEFAULTS, Arc::new(Grants::default()));
        for _ in 0..SAMPLES {
            call(&sandbox, &plugin, &limits, &grants, "counter").await;
        }
        held(&plugin, 1).await;

        // Other limits: the ready instance is not theirs, and stays.
        let other = Limits {
            fuel: limits.fuel / 2,
            ..limits
        };
        let report = call(&sandbox, &plugin, &other, &grants, "counter").await;
        assert!(!report.stats.ready);
        assert_eq!(text(&report), "1");
        held(&plugin, 1).await;

        // The same code under another plugin name: not theirs either.
        let ctx = context("twin", Some("counter"), true);
        let report = sandbox
            .call(&plugin, &limits, &grants, ctx, "counter", "{}")
            .await;
        assert!(!report.stats.ready);
        assert_eq!(text(&report), "1");
        held(&plugin, 1).await;

        // New grants: the one made under the old grants is dropped, and the
        // next is made under the new ones.
        let regranted = Arc::new(Grants::default());
        let report = call(&sandbox, &plugin, &limits, &regranted, "counter").await;
        assert!(!report.stats.ready);
        held(&plugin, 1).await;
        assert_eq!(totals(&sandbox).0, 1);
        let report = call(&sandbox, &plugin, &limits, &regranted, "counter").await;
        assert!(report.stats.ready);
        assert_eq!(text(&report), "1");
    }

    #[tokio::test]
    async fn none_are_made_when_turned_off_for_describing_or_for_sequential_plugins() {
        let sandbox = sandbox(0);
        let plugin = hostile(&sandbox);
        let (limits, grants) = (Limits::DEFAULTS, Arc::new(Grants::default()));
        for _ in 0..=SAMPLES {
            let report = call(&sandbox, &plugin, &limits, &grants, "counter").await;
            assert!(!report.stats.ready);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            sandbox.ready.jobs.get().is_none(),
            "no making thread started"
        );

        let sandbox = self::sandbox(1);
        let plugin = hostile(&sandbox);
        let ctx = context("hostile", None, true);
        for _ in 0..3 {
            let ctx = ctx.clone();
            let described = sandbox.describe_all(&plugin, &limits, &grants, ctx).await;
            assert!(described.outcome.is_ok());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(lock(&plugin.ready.state).held.is_empty());
        assert_eq!(totals(&sandbox), (0, 0));

        // Calls of a plugin whose calls run one at a time: none either.
        for _ in 0..=SAMPLES {
            let ctx = context("hostile", Some("counter"), false);
            let report = sandbox
                .call(&plugin, &limits, &grants, ctx, "counter", "{}")
                .await;
            assert!(!report.stats.ready);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(lock(&plugin.ready.state).held.is_empty());
        assert_eq!(totals(&sandbox), (0, 0));
    }

    #[tokio::test]
    async fn a_plugin_that_fails_to_start_gets_none() {
        let sandbox = sandbox(1);
        let plugin = hostile(&sandbox);
        let grants = Arc::new(Grants::default());
        for _ in 0..SAMPLES {
            call(&sandbox, &plugin, &Limits::DEFAULTS, &grants, "counter").await;
        }
        held(&plugin, 1).await;
        // Too little fuel to start: the call fails as it would have, and an
        // instance made under those limits fails the same way.
        let starving = Limits {
            fuel: 1,
            ..Limits::DEFAULTS
        };
        let report = call(&sandbox, &plugin, &starving, &grants, "counter").await;
        assert!(matches!(
            report.outcome,
            Err(crate::sandbox::CallError::Limit(_))
        ));
        let taken = call(&sandbox, &plugin, &Limits::DEFAULTS, &grants, "counter").await;
        assert!(taken.stats.ready);
        held(&plugin, 1).await;
        let name: Arc<str> = "hostile".into();
        sandbox
            .ready
            .take(&plugin.ready, &name, &Limits::DEFAULTS, &grants);
        sandbox
            .ready
            .refill(&plugin.ready, &plugin.pre, &name, &starving, &grants);
        let started = Instant::now();
        while !lock(&plugin.ready.state).off {
            assert!(started.elapsed() < Duration::from_secs(10));
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        assert_eq!(totals(&sandbox), (0, 0));
        sandbox.ready.refill(
            &plugin.ready,
            &plugin.pre,
            &name,
            &Limits::DEFAULTS,
            &grants,
        );
        let report = call(&sandbox, &plugin, &Limits::DEFAULTS, &grants, "counter").await;
        assert!(!report.stats.ready, "a plugin that failed to start got one");
        assert_eq!(text(&report), "1");
    }
}
