//! The outgoing HTTP requests of one call, for its record (and the spans of
//! the OTLP export): at most [`MAX_RECORDED_EXCHANGES`], however many the
//! call's limit lets out.

use std::sync::{Arc, Mutex};

use crate::observe::{HttpExchange, MAX_RECORDED_EXCHANGES};

/// The exchanges of one call, shared with the requests' futures.
#[derive(Debug, Clone, Default)]
pub(super) struct ExchangeLog(Arc<Mutex<Vec<HttpExchange>>>);

impl ExchangeLog {
    /// Records `exchange`, unless the log is full.
    pub(super) fn record(&self, exchange: HttpExchange) {
        let mut log = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if log.len() < MAX_RECORDED_EXCHANGES {
            log.push(exchange);
        }
    }

    /// What was recorded so far.
    pub(super) fn snapshot(&self) -> Vec<HttpExchange> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    #[test]
    fn bounded() {
        let log = ExchangeLog::default();
        for _ in 0..MAX_RECORDED_EXCHANGES + 5 {
            log.record(HttpExchange {
                origin: "https://example.com:443".into(),
                method: "GET".into(),
                status: Some(200),
                began: SystemTime::now(),
                took: Duration::ZERO,
            });
        }
        assert_eq!(log.snapshot().len(), MAX_RECORDED_EXCHANGES);
    }
}
