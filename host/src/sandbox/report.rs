//! What one call returns besides its outcome: timings, resource use, the
//! guest's output, refused capabilities and announcements.

use super::{CallError, Captured};
pub use crate::observe::CallStats;
use crate::observe::{Denial, Permission};

/// The result of one call together with what the call left behind.
#[derive(Debug)]
pub struct CallReport<T> {
    /// What the call returned, or why it failed.
    pub outcome: Result<T, CallError>,
    /// Timings and resource use.
    pub stats: CallStats,
    /// What the guest wrote to stdout.
    pub stdout: Captured,
    /// What the guest wrote to stderr.
    pub stderr: Captured,
    /// Capabilities the guest tried to use without a grant.
    pub denials: Vec<Denial>,
    /// What the guest asked the host to announce through `notify`.
    pub announcements: Announcements,
    /// The person's answers to the call's permission questions.
    pub permissions: Vec<Permission>,
}

/// What a guest asked the host to announce during one call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Announcements {
    /// The tool list changed.
    pub tools: bool,
    /// The prompt list changed.
    pub prompts: bool,
    /// The resource list (or the templates) changed.
    pub resources: bool,
    /// Plugin-local URIs of resources whose contents changed.
    pub updated: Vec<String>,
}

impl Announcements {
    /// Whether any list changed.
    pub fn lists_changed(&self) -> bool {
        self.tools || self.prompts || self.resources
    }

    /// Whether there is nothing to announce.
    pub fn is_empty(&self) -> bool {
        !self.lists_changed() && self.updated.is_empty()
    }
}

impl<T> CallReport<T> {
    /// A call that failed before the guest ran: no stats, denials or
    /// announcements, only what the guest's output had captured (nothing,
    /// or what a failed set-up left).
    pub(super) fn not_run(error: CallError, stdout: Captured, stderr: Captured) -> Self {
        CallReport {
            outcome: Err(error),
            stats: CallStats::default(),
            stdout,
            stderr,
            denials: Vec::new(),
            announcements: Announcements::default(),
            permissions: Vec::new(),
        }
    }

    pub(super) fn map<U>(self, f: impl FnOnce(T) -> Result<U, CallError>) -> CallReport<U> {
        CallReport {
            outcome: self.outcome.and_then(f),
            stats: self.stats,
            stdout: self.stdout,
            stderr: self.stderr,
            denials: self.denials,
            announcements: self.announcements,
            permissions: self.permissions,
        }
    }
}
