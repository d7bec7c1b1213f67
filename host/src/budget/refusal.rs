//! How a request waits for memory, and why it is refused when it cannot
//! have it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::Approx;

/// How long a request may wait for memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// A call from a client: at most this long (its timeout), in the bounded
    /// queue.
    Call(Duration),
    /// A plugin description at load: as long as it takes, outside the queue
    /// bounds.
    Load,
}

/// What the budget looks like now, for `/readyz` and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// The whole budget, in bytes.
    pub budget: u64,
    /// Bytes reserved by requests in flight.
    pub reserved: u64,
    /// Requests in flight.
    pub in_flight: usize,
    /// Requests waiting for memory.
    pub queued: usize,
}

/// Why a request was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// It reserves more than the whole budget.
    TooLarge,
    /// Too many requests already wait.
    QueueFull,
    /// It waited this long (its timeout) without memory coming free.
    Deadline(Duration),
}

impl Why {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Why::TooLarge => "too_large",
            Why::QueueFull => "queue_full",
            Why::Deadline(_) => "deadline",
        }
    }
}

/// A request the budget did not admit, with the numbers at that moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exhausted {
    /// Why.
    pub why: Why,
    /// The plugin it was for.
    pub plugin: Arc<str>,
    /// What the request reserves.
    pub needs: u64,
    /// The request's linear-memory limit (part of `needs`).
    pub memory_limit: u64,
    /// The budget when refused.
    pub usage: Usage,
    /// What the request's plugin held.
    pub plugin_held: u64,
    /// The most one plugin may hold.
    pub plugin_cap: u64,
}

impl fmt::Display for Exhausted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Usage {
            budget,
            reserved,
            in_flight,
            queued,
        } = self.usage;
        write!(
            f,
            "server memory budget exhausted: this call reserves {} ({} of linear memory plus {} \
             for the host) ",
            Approx(self.needs),
            Approx(self.memory_limit),
            Approx(self.needs - self.memory_limit),
        )?;
        if self.why == Why::TooLarge {
            return write!(
                f,
                "and the whole budget is {}; lower the plugin's memory limit or raise \
                 memory_budget in warden.toml",
                Approx(budget)
            );
        }
        write!(
            f,
            "and {} of the {} budget is reserved by {in_flight} call(s) in flight ({} by plugin \
             `{}`, which may hold {}); ",
            Approx(reserved),
            Approx(budget),
            Approx(self.plugin_held),
            self.plugin,
            Approx(self.plugin_cap),
        )?;
        match self.why {
            Why::QueueFull => write!(
                f,
                "{queued} request(s) already wait, the most allowed. Retry later."
            ),
            Why::Deadline(waited) => write!(
                f,
                "it waited {:.1} s, its timeout. Retry later, or raise memory_budget in \
                 warden.toml.",
                waited.as_secs_f64()
            ),
            Why::TooLarge => Ok(()),
        }
    }
}

impl std::error::Error for Exhausted {}
