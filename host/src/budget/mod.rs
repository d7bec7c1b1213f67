//! The server-wide memory budget: every fresh instance reserves what it may
//! use before it runs, so that the calls in flight together never ask the
//! host for more than it can hold.
//!
//! **What a call reserves.** Its linear-memory limit (all the linear memories
//! of its instance together, enforced by the sandbox's limiter) plus a host
//! allowance ([`MemoryBudget::host_allowance`]): its fiber stack, its
//! `host_memory` limit (what the sandbox charges to the call: WASI and HTTP
//! objects, buffered bodies and headers, captured stdout and stderr, its
//! result), and a fixed part for what is not charged (the store, wasm tables). The reservation is held
//! from admission until the instance is gone and the result mapped.
//!
//! **Who is admitted.** Tool calls, `resources/read`, `prompts/get`,
//! `completion/complete` and the descriptions a plugin's announcement
//! triggers (those run under the reservation of the call that announced,
//! whose instance is gone by then and whose plugin and limits are the same).
//! Plugin descriptions at load are admitted too, so a folder of big plugins
//! cannot exceed the budget while it loads; they wait as long as it takes
//! (each description ahead of them ends within its timeout) and do not count
//! against the queue bounds.
//!
//! **The budget.** `memory_budget` in `warden.toml`, else half of physical
//! memory, or three quarters of the memory limit of Warden's cgroup (v2
//! `memory.max`, v1 `memory.limit_in_bytes`, the lowest on the path to the
//! root) when that is lower: the rest is Warden's own (compiled code, the
//! registry, buffers, ready instances up to `ready_memory`) and the host's.
//! A plugin whose reservation per call exceeds the whole budget is refused
//! at load.
//!
//! **Fairness.** A request is admitted when its reservation fits in what is
//! not reserved and its plugin stays within its share (`memory_budget_plugin_share`
//! of the budget, default one half; a plugin holding nothing may always run
//! one call, however big). Otherwise it waits in one queue, oldest first:
//! - a request that fits passes older ones that do not, so small calls never
//!   wait behind a big one;
//! - a request may be passed [`MAX_PASSES`] times; after that nothing younger
//!   passes it, and the memory finishing calls free goes to it, so a big call
//!   does not starve either (a request held back by its own plugin's share
//!   only stops that plugin's younger requests: a flooding plugin never holds
//!   up the others);
//! - the queue holds at most four waiting requests per allowed concurrent
//!   call, and one plugin at most its share of that;
//! - a request waits at most its own timeout; once admitted it gets its full
//!   limits.
//!
//! A request refused (the queue is full, or its wait ran out) ends with a
//! "server memory budget exhausted" error naming the numbers: a tool error
//! (`isError`) for tool calls, a JSON-RPC error for the others. The admission
//! rules live in the `ledger` submodule, without clocks or tasks, and are
//! unit-tested there.

mod ledger;
mod machine;
mod refusal;
mod size;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::oneshot;

use crate::limits::Limits;
pub use ledger::MAX_PASSES;
use ledger::{Arrival, Bounds, Ledger, Refusal, Ticket};
use machine::MachineMemory;
pub use refusal::{Exhausted, Usage, Wait, Why};
use size::derive;
pub use size::{Approx, BudgetSource, Share};

pub(crate) const MIB: u64 = 1 << 20;
pub(crate) const GIB: u64 = 1 << 30;

/// The fixed part of a call's host allowance: the WASI and HTTP contexts,
/// the resource table, wasm tables (bounded by the instance pool) and the
/// host's own buffers for the call.
pub const HOST_BASE_ALLOWANCE: u64 = 8 * MIB;
/// The budget when the machine tells nothing (no `/proc/meminfo`).
pub const FALLBACK_BUDGET: u64 = 8 * GIB;
/// Waiting requests allowed per allowed concurrent call.
pub const QUEUE_PER_CALL_SLOT: usize = 4;

#[derive(Debug)]
struct State {
    ledger: Ledger,
    wakers: HashMap<Ticket, oneshot::Sender<()>>,
}

/// The server-wide memory budget (see the module docs). One per server,
/// shared by the loader and the dispatcher.
#[derive(Debug)]
pub struct MemoryBudget {
    source: BudgetSource,
    share: Share,
    /// The async stack each call's wasm runs on.
    call_stack: u64,
    state: Mutex<State>,
}

impl MemoryBudget {
    /// A budget of `total` bytes (`None`: derived from the machine), with
    /// one plugin holding at most `share` of it, at most
    /// [`QUEUE_PER_CALL_SLOT`] waiting requests per concurrent call, for
    /// calls whose wasm runs on a stack of `call_stack` bytes.
    pub fn new(
        total: Option<u64>,
        share: Share,
        max_concurrent_calls: u32,
        call_stack: u64,
    ) -> Self {
        let (total, source) = match total {
            Some(total) => (total, BudgetSource::Configured),
            None => derive(MachineMemory::read()),
        };
        let max_queue = usize::try_from(max_concurrent_calls)
            .unwrap_or(usize::MAX)
            .max(1)
            .saturating_mul(QUEUE_PER_CALL_SLOT);
        let bounds = Bounds {
            total,
            plugin_cap: share.of(total),
            max_queue,
            plugin_queue: usize::try_from(share.of(max_queue as u64))
                .unwrap_or(max_queue)
                .max(1),
        };
        crate::observe::metrics::memory_budget(total);
        Self {
            source,
            share,
            call_stack,
            state: Mutex::new(State {
                ledger: Ledger::new(bounds),
                wakers: HashMap::new(),
            }),
        }
    }

    /// The whole budget, in bytes.
    pub fn total(&self) -> u64 {
        self.lock().ledger.bounds().total
    }

    /// Where the size comes from.
    pub fn source(&self) -> BudgetSource {
        self.source
    }

    /// The most one plugin may hold, as a fraction of the budget.
    pub fn share(&self) -> Share {
        self.share
    }

    /// What is reserved and waiting now.
    pub fn usage(&self) -> Usage {
        usage(&self.lock().ledger)
    }

    /// Host bytes a call with `limits` may cause besides its linear memory:
    /// its fiber stack, its captured stdout and stderr, its result, and
    /// [`HOST_BASE_ALLOWANCE`]. The one place that says how much host memory
    /// a call is charged.
    pub fn host_allowance(&self, limits: &Limits) -> u64 {
        HOST_BASE_ALLOWANCE
            .saturating_add(self.call_stack)
            .saturating_add(limits.host_bytes_ceiling() - limits.memory_bytes)
    }

    /// What one call with `limits` reserves: its linear-memory limit plus
    /// its host allowance.
    pub fn reservation(&self, limits: &Limits) -> u64 {
        limits
            .memory_bytes
            .saturating_add(self.host_allowance(limits))
    }

    /// `Err` with a message naming both numbers when one call with `limits`
    /// would reserve more than the whole budget.
    pub fn check_fits(&self, limits: &Limits) -> Result<(), String> {
        let needs = self.reservation(limits);
        let total = self.total();
        if needs <= total {
            return Ok(());
        }
        Err(format!(
            "limits.memory: one call reserves {} ({} of linear memory plus {} for the host), \
             more than the server's whole memory budget of {} ({}); lower the plugin's memory \
             limit (its manifest, or [plugins.NAME.limits] in warden.toml) or raise \
             memory_budget in warden.toml",
            Approx(needs),
            Approx(limits.memory_bytes),
            Approx(needs - limits.memory_bytes),
            Approx(total),
            self.source,
        ))
    }

    /// Reserves memory for one request of `plugin` with `limits`, waiting
    /// as `wait` allows. Dropping the returned [`Reservation`] gives the
    /// memory back; dropping this future while it waits leaves the queue.
    pub async fn admit(
        &self,
        plugin: &str,
        limits: &Limits,
        wait: Wait,
    ) -> Result<Reservation<'_>, Exhausted> {
        let bytes = self.reservation(limits);
        let plugin: Arc<str> = plugin.into();
        let reservation = || Reservation {
            budget: self,
            plugin: plugin.clone(),
            bytes,
        };
        let (deadline, bounded) = match wait {
            Wait::Call(timeout) => (Some(timeout), true),
            Wait::Load => (None, false),
        };
        let (ticket, woken) = {
            let mut state = self.lock();
            match state.ledger.arrive(&plugin, bytes, bounded) {
                Arrival::Admitted => {
                    publish(&state.ledger);
                    return Ok(reservation());
                }
                Arrival::Refused(refusal) => {
                    let why = match refusal {
                        Refusal::TooLarge => Why::TooLarge,
                        Refusal::QueueFull => Why::QueueFull,
                    };
                    return Err(self.refuse(&state.ledger, why, &plugin, bytes, limits));
                }
                Arrival::Queued(ticket) => {
                    let (tx, rx) = oneshot::channel();
                    state.wakers.insert(ticket, tx);
                    publish(&state.ledger);
                    (ticket, rx)
                }
            }
        };
        let mut waiting = Waiting {
            budget: self,
            ticket,
            plugin: plugin.clone(),
            bytes,
            armed: true,
        };
        let started = Instant::now();
        let woken = match deadline {
            Some(deadline) => tokio::time::timeout(deadline, woken).await.ok(),
            None => Some(woken.await),
        };
        waiting.armed = false;
        if let Some(Ok(())) = woken {
            return Ok(reservation());
        }
        let mut state = self.lock();
        let (was_waiting, admitted) = state.ledger.withdraw(ticket);
        state.wakers.remove(&ticket);
        wake(&mut state, admitted);
        if !was_waiting {
            // Admitted just as the wait ran out.
            return Ok(reservation());
        }
        let why = Why::Deadline(started.elapsed());
        Err(self.refuse(&state.ledger, why, &plugin, bytes, limits))
    }

    fn refuse(
        &self,
        ledger: &Ledger,
        why: Why,
        plugin: &Arc<str>,
        needs: u64,
        limits: &Limits,
    ) -> Exhausted {
        publish(ledger);
        crate::observe::metrics::memory_refused(why.label());
        let refusal = Exhausted {
            why,
            plugin: plugin.clone(),
            needs,
            memory_limit: limits.memory_bytes,
            usage: usage(ledger),
            plugin_held: ledger.held(plugin),
            plugin_cap: ledger.bounds().plugin_cap,
        };
        tracing::warn!(
            target: "warden::budget",
            plugin = %plugin,
            reason = why.label(),
            needs,
            reserved = refusal.usage.reserved,
            queued = refusal.usage.queued,
            "request refused by the memory budget"
        );
        refusal
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn release(&self, plugin: &str, bytes: u64) {
        let mut state = self.lock();
        let admitted = state.ledger.release(plugin, bytes);
        wake(&mut state, admitted);
        publish(&state.ledger);
    }
}

fn usage(ledger: &Ledger) -> Usage {
    Usage {
        budget: ledger.bounds().total,
        reserved: ledger.reserved(),
        in_flight: ledger.in_flight(),
        queued: ledger.queued(),
    }
}

fn publish(ledger: &Ledger) {
    crate::observe::metrics::memory_usage(ledger.reserved(), ledger.queued());
}

/// Tells admitted waiters. One whose future is already gone is released by
/// its [`Waiting`] guard, which finds it no longer queued.
fn wake(state: &mut State, admitted: Vec<Ticket>) {
    for ticket in admitted {
        if let Some(tx) = state.wakers.remove(&ticket) {
            let _ = tx.send(());
        }
    }
}

/// Memory reserved for one request; given back when dropped.
#[derive(Debug)]
#[must_use = "the memory is given back when the reservation drops"]
pub struct Reservation<'a> {
    budget: &'a MemoryBudget,
    plugin: Arc<str>,
    bytes: u64,
}

impl Reservation<'_> {
    /// The bytes reserved.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.budget.release(&self.plugin, self.bytes);
    }
}

/// A queued request whose future may be dropped (the client cancelled):
/// takes it out of the queue, or gives back what it was just granted.
struct Waiting<'a> {
    budget: &'a MemoryBudget,
    ticket: Ticket,
    plugin: Arc<str>,
    bytes: u64,
    armed: bool,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let mut state = self.budget.lock();
        state.wakers.remove(&self.ticket);
        let (was_waiting, mut admitted) = state.ledger.withdraw(self.ticket);
        if !was_waiting {
            admitted.extend(state.ledger.release(&self.plugin, self.bytes));
        }
        wake(&mut state, admitted);
        publish(&state.ledger);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn limits(memory: u64, timeout_ms: u64) -> Limits {
        Limits {
            memory_bytes: memory,
            timeout: Duration::from_millis(timeout_ms),
            host_memory_bytes: MIB + 128 * 1024,
            ..Limits::DEFAULTS
        }
    }

    fn budget(total: u64) -> MemoryBudget {
        MemoryBudget::new(Some(total), Share::WHOLE, 4, MIB)
    }

    #[test]
    fn the_default_is_half_of_physical_memory_or_three_quarters_of_the_cgroup() {
        let physical = MachineMemory {
            physical: Some(24 * GIB),
            cgroup_limit: None,
        };
        assert_eq!(
            derive(physical),
            (12 * GIB, BudgetSource::Physical(24 * GIB))
        );
        let tight = MachineMemory {
            physical: Some(24 * GIB),
            cgroup_limit: Some(4 * GIB),
        };
        assert_eq!(derive(tight), (3 * GIB, BudgetSource::Cgroup(4 * GIB)));
        let loose = MachineMemory {
            physical: Some(24 * GIB),
            cgroup_limit: Some(64 * GIB),
        };
        assert_eq!(derive(loose).1, BudgetSource::Physical(24 * GIB));
        assert_eq!(
            derive(MachineMemory::default()),
            (FALLBACK_BUDGET, BudgetSource::Fallback)
        );
    }

    #[test]
    fn shares_parse_from_fractions() {
        assert_eq!(Share::from_fraction(0.5), Some(Share::DEFAULT));
        assert_eq!(Share::from_fraction(1.0), Some(Share::WHOLE));
        assert_eq!(Share::from_fraction(0.0), None);
        assert_eq!(Share::from_fraction(1.5), None);
        assert_eq!(Share::from_fraction(-0.1), None);
        assert_eq!(Share::DEFAULT.of(12 * GIB), 6 * GIB);
        assert_eq!(Share::DEFAULT.to_string(), "0.5");
    }

    #[test]
    fn a_reservation_is_memory_plus_the_host_allowance() {
        let b = budget(GIB);
        let l = limits(256 * MIB, 1000);
        // 8 MiB base + 1 MiB stack + the host memory limit.
        assert_eq!(b.host_allowance(&l), 10 * MIB + 128 * 1024);
        assert_eq!(b.reservation(&l), 266 * MIB + 128 * 1024);
        assert!(b.check_fits(&l).is_ok());
        let error = b.check_fits(&limits(GIB, 1000)).unwrap_err();
        assert!(
            error.contains("reserves 1.0 GiB") && error.contains("budget of 1 GiB"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn waits_until_memory_is_released() {
        let b = Arc::new(budget(300 * MIB));
        let l = limits(200 * MIB, 5000);
        let first = b.admit("p", &l, Wait::Call(l.timeout)).await.unwrap();
        let waiter = {
            let b = b.clone();
            tokio::spawn(async move {
                let l = limits(200 * MIB, 5000);
                b.admit("p", &l, Wait::Call(l.timeout))
                    .await
                    .map(|r| r.bytes())
            })
        };
        while b.usage().queued == 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(b.usage().in_flight, 1);
        drop(first);
        assert_eq!(waiter.await.unwrap(), Ok(b.reservation(&l)));
        assert_eq!(
            b.usage().reserved,
            0,
            "the waiter's reservation dropped too"
        );
    }

    #[tokio::test]
    async fn a_wait_ends_at_the_deadline_with_the_numbers() {
        let b = budget(300 * MIB);
        let l = limits(200 * MIB, 50);
        let _first = b.admit("p", &l, Wait::Call(l.timeout)).await.unwrap();
        let refused = b.admit("p", &l, Wait::Call(l.timeout)).await.unwrap_err();
        assert!(matches!(refused.why, Why::Deadline(d) if d >= Duration::from_millis(50)));
        assert_eq!(refused.usage.queued, 0, "it left the queue");
        let message = refused.to_string();
        assert!(
            message.starts_with("server memory budget exhausted: this call reserves 210 MiB"),
            "{message}"
        );
        assert!(message.contains("of the 300 MiB budget"), "{message}");
    }

    #[tokio::test]
    async fn a_cancelled_wait_leaves_the_queue() {
        let b = budget(300 * MIB);
        let l = limits(200 * MIB, 5000);
        let first = b.admit("p", &l, Wait::Call(l.timeout)).await.unwrap();
        let second = b.admit("p", &l, Wait::Call(l.timeout));
        assert!(
            tokio::time::timeout(Duration::from_millis(20), second)
                .await
                .is_err()
        );
        assert_eq!(b.usage().queued, 0);
        drop(first);
        assert_eq!(b.usage().reserved, 0);
    }
}
