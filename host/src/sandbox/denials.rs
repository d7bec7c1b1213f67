//! What a call was refused: every capability a plugin reached for without a
//! grant (an HTTP origin, a client feature), recorded for the call's record
//! and logged on the `warden::denied` target.

use std::sync::{Arc, Mutex};

use crate::observe::Denial;

/// Denials recorded (and logged) per call; more are counted, not kept, so a
/// plugin that retries in a loop cannot flood the log or the host's memory.
pub(super) const MAX_RECORDED_DENIALS: usize = 32;

/// The denials of one call, shared with what the call created (response
/// bodies) and with every capability's host functions.
#[derive(Debug, Clone, Default)]
pub(super) struct DenialLog(Arc<Mutex<DenialLogInner>>);

#[derive(Debug, Default)]
struct DenialLogInner {
    kept: Vec<Denial>,
    dropped: u64,
}

impl DenialLog {
    /// Records a denial of `capability` (`http`, `client`) and logs it, up to
    /// [`MAX_RECORDED_DENIALS`] per call.
    pub(super) fn record(
        &self,
        plugin: &str,
        capability: &'static str,
        rule: &'static str,
        target: String,
        reason: String,
    ) {
        let mut log = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if log.kept.len() >= MAX_RECORDED_DENIALS {
            log.dropped += 1;
            if log.dropped == 1 {
                tracing::warn!(
                    target: "warden::denied",
                    plugin,
                    capability,
                    "more than {MAX_RECORDED_DENIALS} denials in one call; \
                     further ones are not logged"
                );
            }
            return;
        }
        tracing::warn!(
            target: "warden::denied",
            plugin,
            capability,
            target = %target,
            rule,
            reason = %reason,
            "{capability} access denied: {reason}"
        );
        log.kept.push(Denial {
            capability,
            target,
            reason,
        });
    }

    /// How many denials were counted but not kept.
    #[cfg(test)]
    pub(super) fn dropped(&self) -> u64 {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).dropped
    }

    pub(super) fn snapshot(&self) -> Vec<Denial> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .kept
            .clone()
    }
}
