//! The admission rules of the memory budget, without clocks or tasks: who may
//! reserve how much, and which waiting request goes next. The async wrapper in
//! the parent module turns its decisions into waits and wake-ups; everything
//! that decides is here, so the unit tests below exercise the real rules.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

/// How many younger requests may be admitted past a waiting one before it
/// stops being passed.
pub const MAX_PASSES: u32 = 32;

/// Identifies one waiting request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Ticket(u64);

/// What became of a new request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arrival {
    /// Reserved at once.
    Admitted,
    /// Waiting; it is admitted when a later [`Ledger::release`] or
    /// [`Ledger::withdraw`] returns its ticket.
    Queued(Ticket),
    /// Refused without waiting.
    Refused(Refusal),
}

/// Why a request was refused without waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// It needs more than the whole budget: it could never run.
    TooLarge,
    /// Too many requests already wait (in all, or of its plugin).
    QueueFull,
}

/// Limits of one ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bounds {
    /// The whole budget, in bytes.
    pub total: u64,
    /// The most one plugin may hold while it holds anything at all.
    pub plugin_cap: u64,
    /// The most requests that may wait, in all.
    pub max_queue: usize,
    /// The most requests of one plugin that may wait.
    pub plugin_queue: usize,
}

#[derive(Debug)]
struct Waiter {
    ticket: Ticket,
    plugin: Arc<str>,
    bytes: u64,
    /// Younger requests admitted while this one could not be.
    passed: u32,
    /// Whether the queue bounds apply to it.
    bounded: bool,
}

/// Reserved bytes (in all and per plugin) and the requests waiting, oldest
/// first.
#[derive(Debug)]
pub(crate) struct Ledger {
    bounds: Bounds,
    reserved: u64,
    in_flight: usize,
    held: HashMap<Arc<str>, u64>,
    queue: VecDeque<Waiter>,
    next_ticket: u64,
}

impl Ledger {
    pub(crate) fn new(bounds: Bounds) -> Self {
        Self {
            bounds,
            reserved: 0,
            in_flight: 0,
            held: HashMap::new(),
            queue: VecDeque::new(),
            next_ticket: 0,
        }
    }

    pub(crate) fn bounds(&self) -> Bounds {
        self.bounds
    }

    /// Bytes reserved by admitted requests.
    pub(crate) fn reserved(&self) -> u64 {
        self.reserved
    }

    /// Admitted requests that have not released their bytes.
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Requests waiting.
    pub(crate) fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Bytes `plugin` holds.
    pub(crate) fn held(&self, plugin: &str) -> u64 {
        self.held.get(plugin).copied().unwrap_or(0)
    }

    /// A new request of `plugin` for `bytes`. `bounded` requests are refused
    /// when the queue (or the plugin's part of it) is full; unbounded ones
    /// always wait.
    pub(crate) fn arrive(&mut self, plugin: &Arc<str>, bytes: u64, bounded: bool) -> Arrival {
        if bytes > self.bounds.total {
            return Arrival::Refused(Refusal::TooLarge);
        }
        let ticket = Ticket(self.next_ticket);
        self.next_ticket += 1;
        self.queue.push_back(Waiter {
            ticket,
            plugin: plugin.clone(),
            bytes,
            passed: 0,
            bounded,
        });
        // Nothing was freed, so only the newcomer can be admitted here.
        if self.pump().contains(&ticket) {
            return Arrival::Admitted;
        }
        let of_plugin = self.queue.iter().filter(|w| &w.plugin == plugin).count();
        if bounded
            && (self.queue.iter().filter(|w| w.bounded).count() > self.bounds.max_queue
                || of_plugin > self.bounds.plugin_queue)
        {
            self.queue.pop_back();
            return Arrival::Refused(Refusal::QueueFull);
        }
        Arrival::Queued(ticket)
    }

    /// Gives back what an admitted request of `plugin` reserved; returns the
    /// waiting requests this admits.
    pub(crate) fn release(&mut self, plugin: &str, bytes: u64) -> Vec<Ticket> {
        self.reserved -= bytes;
        self.in_flight -= 1;
        if let Some(held) = self.held.get_mut(plugin) {
            *held -= bytes;
            if *held == 0 {
                self.held.remove(plugin);
            }
        }
        self.pump()
    }

    /// Takes a waiting request out of the queue (it gave up). `false` when it
    /// is no longer waiting: it was admitted and must be released. Also
    /// returns the requests its leaving admits.
    pub(crate) fn withdraw(&mut self, ticket: Ticket) -> (bool, Vec<Ticket>) {
        match self.queue.iter().position(|w| w.ticket == ticket) {
            Some(index) => {
                self.queue.remove(index);
                (true, self.pump())
            }
            None => (false, Vec::new()),
        }
    }

    /// Admits every waiting request the rules allow, oldest first:
    ///
    /// - a request whose plugin holds something and would go over its cap
    ///   waits for that plugin's own requests (it never holds up others);
    /// - a request that fits in what is free is admitted, even past older
    ///   ones that do not fit; each older one passed this way counts it (for
    ///   a request waiting on its plugin's cap, only passes by its own
    ///   plugin count);
    /// - once a request has been passed [`MAX_PASSES`] times nothing younger
    ///   passes it (nothing at all when it waits for free memory, nothing of
    ///   its plugin when it waits for its plugin's cap), so finishing
    ///   requests free room for it.
    fn pump(&mut self) -> Vec<Ticket> {
        let mut admitted = Vec::new();
        // Indices (all below `i`) of older requests that a younger admission passes.
        let mut waiting_memory: Vec<usize> = Vec::new();
        let mut waiting_share: Vec<usize> = Vec::new();
        let mut stopped_plugins: HashSet<Arc<str>> = HashSet::new();
        let mut i = 0;
        while i < self.queue.len() {
            let waiter = &self.queue[i];
            if stopped_plugins.contains(&waiter.plugin) {
                i += 1;
                continue;
            }
            let held = self.held(&waiter.plugin);
            if held > 0 && held + waiter.bytes > self.bounds.plugin_cap {
                if waiter.passed >= MAX_PASSES {
                    stopped_plugins.insert(waiter.plugin.clone());
                } else {
                    waiting_share.push(i);
                }
                i += 1;
                continue;
            }
            if self.reserved + waiter.bytes > self.bounds.total {
                if waiter.passed >= MAX_PASSES {
                    break;
                }
                waiting_memory.push(i);
                i += 1;
                continue;
            }
            let Some(waiter) = self.queue.remove(i) else {
                break;
            };
            self.reserved += waiter.bytes;
            self.in_flight += 1;
            *self.held.entry(waiter.plugin.clone()).or_default() += waiter.bytes;
            admitted.push(waiter.ticket);
            let mut stop = false;
            for &j in &waiting_memory {
                self.queue[j].passed += 1;
                stop |= self.queue[j].passed >= MAX_PASSES;
            }
            for &j in &waiting_share {
                let older = &mut self.queue[j];
                if older.plugin == waiter.plugin {
                    older.passed += 1;
                    if older.passed >= MAX_PASSES {
                        stopped_plugins.insert(older.plugin.clone());
                    }
                }
            }
            if stop {
                break;
            }
        }
        admitted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn ledger(total: u64, plugin_cap: u64) -> Ledger {
        Ledger::new(Bounds {
            total,
            plugin_cap,
            max_queue: 8,
            plugin_queue: 4,
        })
    }

    fn name(n: &str) -> Arc<str> {
        n.into()
    }

    fn queued(arrival: Arrival) -> Ticket {
        match arrival {
            Arrival::Queued(ticket) => ticket,
            other => panic!("expected to wait, got {other:?}"),
        }
    }

    #[test]
    fn admits_while_it_fits_then_queues_then_admits_on_release() {
        let mut l = ledger(100 * MIB, 100 * MIB);
        let a = name("a");
        assert_eq!(l.arrive(&a, 40 * MIB, true), Arrival::Admitted);
        assert_eq!(l.arrive(&a, 40 * MIB, true), Arrival::Admitted);
        let third = queued(l.arrive(&a, 40 * MIB, true));
        assert_eq!((l.reserved(), l.in_flight(), l.queued()), (80 * MIB, 2, 1));
        assert_eq!(l.release("a", 40 * MIB), vec![third]);
        assert_eq!((l.reserved(), l.in_flight(), l.queued()), (80 * MIB, 2, 0));
        assert_eq!(l.held("a"), 80 * MIB);
    }

    #[test]
    fn a_request_larger_than_the_budget_is_refused_at_once() {
        let mut l = ledger(100 * MIB, 50 * MIB);
        assert_eq!(
            l.arrive(&name("a"), 101 * MIB, true),
            Arrival::Refused(Refusal::TooLarge)
        );
        assert_eq!(l.queued(), 0);
    }

    #[test]
    fn a_small_request_passes_a_big_one_that_does_not_fit() {
        let mut l = ledger(100 * MIB, 100 * MIB);
        let (big, small) = (name("big"), name("small"));
        assert_eq!(l.arrive(&big, 70 * MIB, true), Arrival::Admitted);
        let waiting = queued(l.arrive(&big, 70 * MIB, true));
        assert_eq!(l.arrive(&small, 10 * MIB, true), Arrival::Admitted);
        assert_eq!(l.arrive(&small, 10 * MIB, true), Arrival::Admitted);
        // The big one gets its turn when the first big call ends.
        assert_eq!(l.release("big", 70 * MIB), vec![waiting]);
    }

    #[test]
    fn a_big_request_is_passed_a_bounded_number_of_times() {
        let mut l = ledger(100 * MIB, 100 * MIB);
        let (big, small) = (name("big"), name("small"));
        assert_eq!(l.arrive(&small, 50 * MIB, true), Arrival::Admitted);
        let waiting = queued(l.arrive(&big, 60 * MIB, true));
        // Small calls come and go past it, MAX_PASSES times.
        for _ in 0..MAX_PASSES {
            assert_eq!(l.arrive(&small, 10 * MIB, true), Arrival::Admitted);
            assert!(l.release("small", 10 * MIB).is_empty());
        }
        // From now on small calls wait behind it, and memory freed goes to it.
        let behind = queued(l.arrive(&small, 10 * MIB, true));
        assert_eq!(l.release("small", 50 * MIB), vec![waiting, behind]);
    }

    #[test]
    fn a_plugin_cannot_hold_more_than_its_share_while_others_get_room() {
        let mut l = ledger(100 * MIB, 50 * MIB);
        let (flood, other) = (name("flood"), name("other"));
        assert_eq!(l.arrive(&flood, 20 * MIB, true), Arrival::Admitted);
        assert_eq!(l.arrive(&flood, 20 * MIB, true), Arrival::Admitted);
        let over = queued(l.arrive(&flood, 20 * MIB, true));
        assert_eq!(l.held("flood"), 40 * MIB);
        // The other plugin has the rest of the budget, however long the
        // flood's queue and however often it passes the flood's waiters.
        for _ in 0..(MAX_PASSES + 5) {
            assert_eq!(l.arrive(&other, 50 * MIB, true), Arrival::Admitted);
            assert!(l.release("other", 50 * MIB).is_empty());
        }
        assert_eq!(l.release("flood", 20 * MIB), vec![over]);
    }

    #[test]
    fn one_call_bigger_than_the_share_runs_alone() {
        let mut l = ledger(100 * MIB, 50 * MIB);
        let a = name("a");
        assert_eq!(l.arrive(&a, 80 * MIB, true), Arrival::Admitted);
        let second = queued(l.arrive(&a, 80 * MIB, true));
        assert_eq!(l.release("a", 80 * MIB), vec![second]);
    }

    #[test]
    fn a_plugin_own_small_calls_cannot_starve_its_big_one() {
        let mut l = ledger(1000 * MIB, 100 * MIB);
        let a = name("a");
        assert_eq!(l.arrive(&a, 60 * MIB, true), Arrival::Admitted);
        let big = queued(l.arrive(&a, 90 * MIB, true));
        for _ in 0..MAX_PASSES {
            assert_eq!(l.arrive(&a, 10 * MIB, true), Arrival::Admitted);
            assert!(l.release("a", 10 * MIB).is_empty());
        }
        let small = queued(l.arrive(&a, 10 * MIB, true));
        // Other plugins are not held up by it.
        assert_eq!(l.arrive(&name("b"), 10 * MIB, true), Arrival::Admitted);
        assert_eq!(l.release("a", 60 * MIB), vec![big, small]);
    }

    #[test]
    fn the_queue_is_bounded_in_all_and_per_plugin() {
        let mut l = ledger(100 * MIB, 100 * MIB);
        assert_eq!(l.arrive(&name("hog"), 100 * MIB, true), Arrival::Admitted);
        for _ in 0..4 {
            queued(l.arrive(&name("a"), MIB, true));
        }
        assert_eq!(
            l.arrive(&name("a"), MIB, true),
            Arrival::Refused(Refusal::QueueFull),
            "a plugin may fill only its part of the queue"
        );
        for _ in 0..4 {
            queued(l.arrive(&name("b"), MIB, true));
        }
        assert_eq!(
            l.arrive(&name("c"), MIB, true),
            Arrival::Refused(Refusal::QueueFull)
        );
        // Unbounded requests (plugin descriptions at load) always wait.
        queued(l.arrive(&name("c"), MIB, false));
        assert_eq!(l.queued(), 9);
    }

    #[test]
    fn a_withdrawn_waiter_leaves_and_may_unblock_others() {
        let mut l = ledger(100 * MIB, 100 * MIB);
        let (big, small) = (name("big"), name("small"));
        assert_eq!(l.arrive(&small, 50 * MIB, true), Arrival::Admitted);
        let blocker = queued(l.arrive(&big, 60 * MIB, true));
        for _ in 0..MAX_PASSES {
            assert_eq!(l.arrive(&small, 10 * MIB, true), Arrival::Admitted);
            l.release("small", 10 * MIB);
        }
        let behind = queued(l.arrive(&small, 10 * MIB, true));
        assert_eq!(l.withdraw(blocker), (true, vec![behind]));
        assert_eq!(l.withdraw(blocker), (false, Vec::new()));
        assert_eq!(l.withdraw(behind), (false, Vec::new()), "already admitted");
    }

    #[test]
    fn reservations_add_up_and_never_exceed_the_budget() {
        let mut l = ledger(100 * MIB, 60 * MIB);
        let plugins = [name("a"), name("b"), name("c")];
        let mut running: Vec<(Arc<str>, u64)> = Vec::new();
        let mut waiting: HashMap<Ticket, (Arc<str>, u64)> = HashMap::new();
        // A fixed pseudo-random sequence of arrivals and releases.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..5000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let plugin = plugins[(x % 3) as usize].clone();
            let bytes = ((x >> 8) % 70 + 1) * MIB;
            if x % 5 < 3 {
                match l.arrive(&plugin, bytes, true) {
                    Arrival::Admitted => running.push((plugin, bytes)),
                    Arrival::Queued(t) => {
                        waiting.insert(t, (plugin, bytes));
                    }
                    Arrival::Refused(_) => {}
                }
            } else if !running.is_empty() {
                let (plugin, bytes) = running.swap_remove((x >> 20) as usize % running.len());
                for t in l.release(&plugin, bytes) {
                    running.push(waiting.remove(&t).expect("admitted a waiter"));
                }
            }
            let sum: u64 = running.iter().map(|(_, b)| b).sum();
            assert_eq!(l.reserved(), sum);
            assert!(l.reserved() <= 100 * MIB);
            for p in &plugins {
                let held: u64 = running.iter().filter(|(q, _)| q == p).map(|(_, b)| b).sum();
                let count = running.iter().filter(|(q, _)| q == p).count();
                assert_eq!(l.held(p), held);
                assert!(
                    held <= 60 * MIB || count == 1,
                    "{p} holds {held} in {count}"
                );
            }
            assert_eq!(l.queued(), waiting.len());
        }
    }
}
