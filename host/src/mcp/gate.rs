//! Each plugin's own concurrency limit and bounded queue, in front of the
//! memory budget and the server-wide call slots: at most `running` calls of
//! a plugin run at once (one, in arrival order, for a `sequential` plugin:
//! the semaphore is fair), at most `queued` more wait, and a call beyond
//! both fails at once instead of piling up. A plugin without a `running` of
//! its own runs as many calls as the server's slots allow; its calls inside
//! (running or waiting anywhere) are still bounded by those slots plus
//! `queued`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::policy::operator::Concurrency;

/// The gates of every plugin called so far, by plugin name.
#[derive(Debug)]
pub(crate) struct Gates {
    /// The server's `max_concurrent_calls`: a plugin's `running` when unset.
    server_max: u32,
    gates: Mutex<HashMap<String, Arc<Gate>>>,
}

/// One plugin's gate.
#[derive(Debug)]
pub(crate) struct Gate {
    settings: Concurrency,
    /// The plugin's `running`, else the server's slots.
    running: u32,
    /// Only when the plugin has a `running` of its own.
    permits: Option<Arc<Semaphore>>,
    /// Calls inside: running or waiting.
    inside: AtomicU32,
}

/// A call's place in its plugin's gate, given back on drop.
#[derive(Debug)]
pub(crate) struct Pass {
    gate: Arc<Gate>,
    _permit: Option<OwnedSemaphorePermit>,
}

impl Drop for Pass {
    fn drop(&mut self) {
        self.gate.inside.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Why a call could not enter: the plugin's queue is full.
#[derive(Debug, thiserror::Error)]
#[error(
    "the plugin `{plugin}` is busy: {inside} of its calls are running or waiting, the most it \
     takes ({running} running, {running_from}, and {queued} waiting, \
     plugins.{plugin}.max_queued_calls); try again when one has finished"
)]
pub(crate) struct Busy {
    plugin: String,
    inside: u32,
    running: u32,
    queued: u32,
    /// The setting `running` comes from.
    running_from: String,
}

impl Gates {
    pub(crate) fn new(server_max: u32) -> Self {
        Self {
            server_max: server_max.max(1),
            gates: Mutex::new(HashMap::new()),
        }
    }

    /// The gate of `plugin` under `settings`; a new one (fresh counts) when
    /// the settings changed since the last call. Calls already inside the
    /// old gate finish there.
    pub(crate) fn get(&self, plugin: &str, settings: Concurrency) -> Arc<Gate> {
        let mut gates = self.gates.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(gate) = gates.get(plugin)
            && gate.settings == settings
        {
            return gate.clone();
        }
        let running = settings.running.unwrap_or(self.server_max).max(1);
        let gate = Arc::new(Gate {
            settings,
            running,
            permits: settings
                .running
                .map(|n| Arc::new(Semaphore::new(n.max(1) as usize))),
            inside: AtomicU32::new(0),
        });
        gates.insert(plugin.to_owned(), gate.clone());
        gate
    }
}

impl Gate {
    /// Waits for a turn (in arrival order), or fails at once when `running`
    /// calls run and `queued` more wait already.
    pub(crate) async fn enter(self: &Arc<Self>, plugin: &str) -> Result<Pass, Busy> {
        let limit = self.running + self.settings.queued;
        let entered = self
            .inside
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            });
        if let Err(inside) = entered {
            return Err(Busy {
                plugin: plugin.to_owned(),
                inside,
                running: self.running,
                queued: self.settings.queued,
                running_from: match self.settings.running {
                    Some(1) => format!("plugins.{plugin}.sequential"),
                    Some(_) => format!("plugins.{plugin}.max_concurrent_calls"),
                    None => "the server's max_concurrent_calls".to_owned(),
                },
            });
        }
        // Counted from here: a dropped (cancelled) wait gives its place back.
        let guard = Inside(self);
        let permit = match &self.permits {
            None => None,
            Some(permits) => Some(
                permits
                    .clone()
                    .acquire_owned()
                    .await
                    .expect("a gate's semaphore is never closed"),
            ),
        };
        std::mem::forget(guard);
        Ok(Pass {
            gate: self.clone(),
            _permit: permit,
        })
    }
}

/// Gives a waiting call's place back if its wait is dropped.
struct Inside<'a>(&'a Gate);

impl Drop for Inside<'_> {
    fn drop(&mut self) {
        self.0.inside.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sequential(queued: u32) -> Concurrency {
        Concurrency {
            running: Some(1),
            queued,
        }
    }

    #[tokio::test]
    async fn a_sequential_gate_admits_in_arrival_order_and_refuses_past_the_queue() {
        let gates = Gates::new(8);
        let gate = gates.get("p", sequential(2));
        let first = gate.enter("p").await.unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut waiting = Vec::new();
        for i in 0..2 {
            let (gate, order) = (gate.clone(), order.clone());
            waiting.push(tokio::spawn(async move {
                let _pass = gate.enter("p").await.unwrap();
                order.lock().unwrap().push(i);
            }));
            tokio::task::yield_now().await;
        }
        tokio::task::yield_now().await;
        let busy = gate.enter("p").await.unwrap_err().to_string();
        assert!(busy.contains("busy: 3 of its calls"), "{busy}");
        assert!(busy.contains("plugins.p.max_queued_calls"), "{busy}");
        drop(first);
        for w in waiting {
            w.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), [0, 1]);
        // Everyone left: the gate is empty again.
        let _again = gate.enter("p").await.unwrap();
    }

    #[tokio::test]
    async fn a_dropped_wait_gives_its_place_back() {
        let gates = Gates::new(8);
        let gate = gates.get("p", sequential(1));
        let _running = gate.enter("p").await.unwrap();
        let wait = gate.enter("p");
        let cancelled = tokio::time::timeout(std::time::Duration::from_millis(10), wait).await;
        assert!(cancelled.is_err(), "the second call waits");
        // Its place is free again: one more may wait.
        let third = gate.enter("p");
        let waited = tokio::time::timeout(std::time::Duration::from_millis(10), third).await;
        assert!(
            waited.is_err(),
            "the third call waits instead of being refused"
        );
    }

    #[tokio::test]
    async fn a_plugin_without_its_own_limit_is_bounded_only_by_the_server_slots_and_queue() {
        let gates = Gates::new(2);
        let settings = Concurrency {
            running: None,
            queued: 3,
        };
        let gate = gates.get("p", settings);
        // No waiting here: the server's slots and the budget decide who runs.
        let mut passes = Vec::new();
        for _ in 0..5 {
            passes.push(gate.enter("p").await.unwrap());
        }
        let busy = gate.enter("p").await.unwrap_err().to_string();
        assert!(busy.contains("the server's max_concurrent_calls"), "{busy}");
        passes.pop();
        let _again = gate.enter("p").await.unwrap();
    }

    #[test]
    fn changed_settings_make_a_new_gate() {
        let gates = Gates::new(4);
        let a = gates.get("p", Concurrency::default());
        assert!(Arc::ptr_eq(&a, &gates.get("p", Concurrency::default())));
        assert_eq!(a.running, 4, "unset: the server's limit");
        assert!(a.permits.is_none(), "unset: the server's slots decide");
        let b = gates.get("p", sequential(3));
        assert!(!Arc::ptr_eq(&a, &b));
        assert_eq!(b.running, 1);
    }
}
