//! One line per check, for `warden check` and `warden doctor`: a tag
//! (`ok`, `FAIL`, `info`, `skip`), the check's name and what was found, with
//! everything a plugin controls escaped.

use crate::observe::render;

/// How one check went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mark {
    Pass,
    Fail,
    Info,
    Skip,
}

/// The lines printed so far, and whether any failed.
pub(super) struct Report<W> {
    out: W,
    /// Whether a line was a failure.
    pub(super) failed: bool,
}

impl<W: std::io::Write> Report<W> {
    /// A report written to `out`.
    pub(super) fn new(out: W) -> Self {
        Self { out, failed: false }
    }

    /// Prints one check's line.
    pub(super) fn line(&mut self, mark: Mark, check: &str, text: &str) -> std::io::Result<()> {
        let tag = match mark {
            Mark::Pass => "ok  ",
            Mark::Fail => "FAIL",
            Mark::Info => "info",
            Mark::Skip => "skip",
        };
        self.failed |= mark == Mark::Fail;
        writeln!(self.out, "{tag} {check:<9} {}", render::line(text))
    }
}
