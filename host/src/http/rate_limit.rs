//! A per-client rate limit (a token bucket per client IP, from `governor`):
//! a client over its quota gets 429 with `Retry-After`.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::AppState;
use crate::http::settings::RateLimit;

/// How often the state of idle clients is dropped.
const FORGET_IDLE_EVERY: Duration = Duration::from_secs(60);

/// Token buckets keyed by client IP.
#[derive(Debug)]
pub struct ClientLimiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
}

impl ClientLimiter {
    /// A limiter allowing each client `limit.per_second` requests per second
    /// with bursts of `limit.burst`.
    pub fn new(limit: RateLimit) -> Option<Arc<Self>> {
        let per_second = NonZeroU32::new(limit.per_second)?;
        let burst = NonZeroU32::new(limit.burst)?;
        let quota = Quota::per_second(per_second).allow_burst(burst);
        let this = Arc::new(Self {
            limiter: RateLimiter::keyed(quota),
            clock: DefaultClock::default(),
        });
        forget_idle(&this, |this| this.limiter.retain_recent());
        Some(this)
    }

    /// `Ok` if `client` may make a request now, else how long to wait.
    pub fn check(&self, client: IpAddr) -> Result<(), Duration> {
        self.limiter
            .check_key(&client)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

/// Calls `forget` on `limiter` every [`FORGET_IDLE_EVERY`] while it lives,
/// so the state of keys that went idle is dropped.
pub(super) fn forget_idle<T: Send + Sync + 'static>(limiter: &Arc<T>, forget: fn(&T)) {
    let weak = Arc::downgrade(limiter);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(FORGET_IDLE_EVERY);
        loop {
            tick.tick().await;
            let Some(limiter) = weak.upgrade() else { break };
            forget(&limiter);
        }
    });
}

/// The `Retry-After` seconds for `wait`: rounded up, at least 1.
pub(super) fn retry_after(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// Answers 429 with `Retry-After` (whole seconds, at least 1) to a client
/// over its quota.
pub async fn limit_clients(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let Some(limiter) = &state.limiter else {
        return next.run(request).await;
    };
    match limiter.check(peer.ip()) {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            crate::observe::metrics::http_rejected("rate_limited");
            tracing::info!(client = %peer.ip(), "HTTP request refused: rate limit");
            let mut response = (
                StatusCode::TOO_MANY_REQUESTS,
                "too many requests from this client: retry later\n",
            )
                .into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after(wait)));
            response
        }
    }
}
