//! What a call may still ask its client: requests and waiting time, shared
//! by the plugin's own requests and the host's permission questions, so
//! both count against the same `max_client_requests` and `client_wait`.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::super::bindings::client::ClientError;
use crate::limits::Limits;

/// A call's client budget, shared by everything in the call that asks.
#[derive(Debug, Clone)]
pub(crate) struct ClientBudget(Arc<Mutex<Left>>);

#[derive(Debug)]
struct Left {
    requests: u64,
    max_requests: u64,
    wait: Duration,
    max_wait: Duration,
}

impl ClientBudget {
    /// The budget of a call under `limits`.
    pub(crate) fn new(limits: &Limits) -> Self {
        Self(Arc::new(Mutex::new(Left {
            requests: limits.max_client_requests,
            max_requests: limits.max_client_requests,
            wait: limits.client_wait,
            max_wait: limits.client_wait,
        })))
    }

    fn left(&self) -> MutexGuard<'_, Left> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `Err` when no request is left.
    pub(crate) fn check_requests(&self) -> Result<(), ClientError> {
        let left = self.left();
        if left.requests == 0 {
            let limit = left.max_requests;
            return Err(ClientError::LimitExceeded(format!(
                "the call already sent {limit} request{} to the client (max_client_requests = \
                 {limit})",
                if limit == 1 { "" } else { "s" }
            )));
        }
        Ok(())
    }

    /// `Err` when the call already waited all of `client_wait`.
    pub(crate) fn check_wait(&self) -> Result<(), ClientError> {
        let left = self.left();
        if left.wait.is_zero() {
            return Err(self.waited_out(&left));
        }
        Ok(())
    }

    /// Checks both, then uses up one request.
    pub(crate) fn take(&self) -> Result<(), ClientError> {
        self.check_requests()?;
        self.check_wait()?;
        self.left().requests -= 1;
        Ok(())
    }

    /// The waiting time left.
    pub(crate) fn wait_left(&self) -> Duration {
        self.left().wait
    }

    /// Counts `waited` against the waiting time.
    pub(crate) fn waited(&self, waited: Duration) {
        let mut left = self.left();
        left.wait = left.wait.saturating_sub(waited);
    }

    /// The error for a client that did not answer within `client_wait`.
    pub(crate) fn late(&self) -> ClientError {
        ClientError::LimitExceeded(format!(
            "the client did not answer within the call's client_wait = {}",
            humantime::format_duration(self.left().max_wait)
        ))
    }

    fn waited_out(&self, left: &Left) -> ClientError {
        ClientError::LimitExceeded(format!(
            "the call already waited client_wait = {} for its client",
            humantime::format_duration(left.max_wait)
        ))
    }
}
