//! How big the budget is: derived from the machine or set, the share one
//! plugin may hold, and sizes shown approximately.

use std::fmt;

use super::machine::MachineMemory;
use super::{FALLBACK_BUDGET, GIB, MIB};

/// The part of the budget one plugin may hold, as a fraction in (0, 1].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Share(u16);

impl Share {
    /// One half: two plugins flooding at once split the budget, and a third
    /// finds room as soon as either's calls end.
    pub const DEFAULT: Share = Share(500);
    /// The whole budget.
    pub const WHOLE: Share = Share(1000);

    /// A share from a fraction; `None` unless it is in (0, 1].
    pub fn from_fraction(fraction: f64) -> Option<Share> {
        let thousandths = (fraction * 1000.0).round();
        (fraction > 0.0 && (1.0..=1000.0).contains(&thousandths))
            .then_some(Share(thousandths as u16))
    }

    /// This share of `bytes`.
    pub fn of(self, bytes: u64) -> u64 {
        u64::try_from(u128::from(bytes) * u128::from(self.0) / 1000).unwrap_or(bytes)
    }
}

impl Default for Share {
    fn default() -> Self {
        Share::DEFAULT
    }
}

impl fmt::Display for Share {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", f64::from(self.0) / 1000.0)
    }
}

/// Where the budget's size comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetSource {
    /// `memory_budget` in `warden.toml`.
    Configured,
    /// Three quarters of this cgroup memory limit.
    Cgroup(u64),
    /// Half of this much physical memory.
    Physical(u64),
    /// [`FALLBACK_BUDGET`]: the machine said nothing.
    Fallback,
}

impl fmt::Display for BudgetSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            BudgetSource::Configured => f.write_str("memory_budget in warden.toml"),
            BudgetSource::Cgroup(limit) => {
                write!(f, "3/4 of the cgroup memory limit of {}", Approx(limit))
            }
            BudgetSource::Physical(bytes) => {
                write!(f, "1/2 of the {} of physical memory", Approx(bytes))
            }
            BudgetSource::Fallback => f.write_str("built-in: physical memory unknown"),
        }
    }
}

/// The default budget for a machine, rounded down to whole MiB.
pub(super) fn derive(machine: MachineMemory) -> (u64, BudgetSource) {
    let from_cgroup = machine.cgroup_limit.map(|limit| limit / 4 * 3);
    let from_physical = machine.physical.map(|bytes| bytes / 2);
    let (bytes, source) = match (from_cgroup, from_physical, machine.cgroup_limit) {
        (Some(c), Some(p), Some(limit)) if c < p => (c, BudgetSource::Cgroup(limit)),
        (_, Some(p), _) => (p, BudgetSource::Physical(machine.physical.unwrap_or(0))),
        (Some(c), None, Some(limit)) => (c, BudgetSource::Cgroup(limit)),
        _ => (FALLBACK_BUDGET, BudgetSource::Fallback),
    };
    ((bytes / MIB * MIB).max(MIB), source)
}

/// Displays a byte count approximately (`11.8 GiB`, `273 MiB`), for messages
/// about sizes that are not round.
#[derive(Debug, Clone, Copy)]
pub struct Approx(pub u64);

impl fmt::Display for Approx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let units = [("GiB", GIB), ("MiB", MIB), ("KiB", 1 << 10)];
        for (name, size) in units {
            if self.0 >= size {
                let value = self.0 as f64 / size as f64;
                return if value >= 100.0 || self.0.is_multiple_of(size) {
                    write!(f, "{value:.0} {name}")
                } else {
                    write!(f, "{value:.1} {name}")
                };
            }
        }
        write!(f, "{} B", self.0)
    }
}
