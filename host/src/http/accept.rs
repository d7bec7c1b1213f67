//! The accept loop: what a peer can hold before any token is checked.
//!
//! Each connection takes a slot of `http.max_connections` and of
//! `http.max_connections_per_client` (by client IP); a connection over
//! either cap gets `503` and is closed at once, never queued. A connection
//! must send each request head within `http.header_timeout` (counted from
//! its opening, or from the first byte of a later request) and may wait at
//! most `http.idle_timeout` between requests; request heads over
//! `http.max_header_size` get `431`. Refused and cut connections are counted
//! in metrics, never logged one by one (a flood would flood the log).

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::Service as _;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::activity::{Activity, Watched};
use crate::http::settings::ConnectionLimits;

/// What a connection over a cap receives before it is closed.
const REFUSED: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\n\
content-type: text/plain\r\ncontent-length: 34\r\n\r\ntoo many connections: retry later\n";

/// How long a stopping server's listener, and each of its connections, must
/// stay quiet (no connection, no request started, no byte read) before it is
/// closed: a request already on its way arrives within it and is answered,
/// not dropped.
const QUIET_BEFORE_CLOSE: Duration = Duration::from_millis(100);

/// How long a stopping server goes on taking connections at most, when they
/// keep coming (a proxy that does not watch `/readyz`).
const ACCEPT_AFTER_STOP: Duration = Duration::from_secs(2);

/// How long to pause accepting after an error such as EMFILE.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Connection slots: in all, and per client IP.
#[derive(Debug)]
struct Slots {
    total: Arc<Semaphore>,
    per_client: Mutex<HashMap<IpAddr, u32>>,
    per_client_max: u32,
}

/// A connection's slots, given back on drop.
#[derive(Debug)]
struct Slot {
    slots: Arc<Slots>,
    client: IpAddr,
    _total: OwnedSemaphorePermit,
}

impl Slots {
    fn take(self: &Arc<Self>, client: IpAddr) -> Result<Slot, &'static str> {
        let total = self
            .total
            .clone()
            .try_acquire_owned()
            .map_err(|_| "max_connections")?;
        let mut per_client = self.per_client.lock().unwrap_or_else(|e| e.into_inner());
        let count = per_client.entry(client).or_insert(0);
        if *count >= self.per_client_max {
            return Err("max_connections_per_client");
        }
        *count += 1;
        Ok(Slot {
            slots: self.clone(),
            client,
            _total: total,
        })
    }

    fn open(&self) -> usize {
        self.per_client
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(|&n| n as usize)
            .sum()
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut per_client = self
            .slots
            .per_client
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(count) = per_client.get_mut(&self.client) {
            *count -= 1;
            if *count == 0 {
                per_client.remove(&self.client);
            }
        }
        crate::observe::metrics::http_connections(per_client.values().map(|&n| n as usize).sum());
    }
}

/// Accepts connections on `listener` and serves `app` on each until `stop`
/// is cancelled; then goes on taking connections until none has come for
/// [`QUIET_BEFORE_CLOSE`], closes each connection once it is quiet too, and
/// returns when all have closed.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    stop: CancellationToken,
) {
    let slots = Arc::new(Slots {
        total: Arc::new(Semaphore::new(limits.max_connections as usize)),
        per_client: Mutex::new(HashMap::new()),
        per_client_max: limits.max_connections_per_client,
    });
    let connections = TaskTracker::new();
    let admit = |tcp: TcpStream, peer: SocketAddr| {
        let slot = match slots.take(peer.ip()) {
            Ok(slot) => slot,
            Err(reason) => {
                refuse(tcp, reason);
                return;
            }
        };
        crate::observe::metrics::http_connections(slots.open());
        // Responses are streamed in several writes (SSE events): without
        // TCP_NODELAY, Nagle's algorithm and delayed ACKs add ~40 ms.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("cannot set TCP_NODELAY: {e}");
        }
        connections.spawn(connection(
            tcp,
            peer,
            app.clone(),
            limits,
            slot,
            stop.clone(),
        ));
    };
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => admit(tcp, peer),
                Err(e) => {
                    // Out of descriptors or a connection reset before accept:
                    // pause rather than spin.
                    tracing::debug!("accept failed: {e}");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
        }
    }
    // A connection the kernel completed before the stop may already carry a
    // request, and closing the listener would reset it: a proxy cannot tell
    // whether a reset request ran, so it answers 502 and does not retry.
    // Keep taking connections (each request gets 503, which a proxy retries
    // elsewhere) until none has come for a quiet spell: by then a proxy has
    // seen /readyz fail and sends no more.
    let give_up = tokio::time::Instant::now() + ACCEPT_AFTER_STOP;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => admit(tcp, peer),
                Err(_) => break,
            },
            () = tokio::time::sleep(QUIET_BEFORE_CLOSE) => break,
            () = tokio::time::sleep_until(give_up) => break,
        }
    }
    // Those the runtime has not been told about yet.
    let listener = match listener.into_std() {
        Ok(listener) => listener,
        Err(e) => {
            tracing::debug!("cannot take the listener back: {e}");
            return close(connections).await;
        }
    };
    while let Ok((tcp, peer)) = listener.accept() {
        match tcp
            .set_nonblocking(true)
            .and_then(|()| TcpStream::from_std(tcp))
        {
            Ok(tcp) => admit(tcp, peer),
            Err(e) => tracing::debug!("cannot serve a last connection: {e}"),
        }
    }
    drop(listener);
    close(connections).await;
}

/// Waits for every connection to close.
async fn close(connections: TaskTracker) {
    connections.close();
    connections.wait().await;
}

/// Answers 503 without waiting (the socket buffer of a fresh connection has
/// room) and closes.
fn refuse(tcp: TcpStream, reason: &'static str) {
    crate::observe::metrics::http_connection_refused(reason);
    tracing::debug!(reason, "HTTP connection refused");
    let _ = tcp.try_write(REFUSED);
}

/// Serves one connection until it closes, is cut by a timeout, or the
/// server stops.
async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: ConnectionLimits,
    _slot: Slot,
    stop: CancellationToken,
) {
    let activity = Activity::new();
    let io = TokioIo::new(Watched::new(tcp, activity.clone()));
    let app = TowerToHyperService::new(app);
    let requests = activity.clone();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        let busy = requests.request();
        let response = app.call(request.map(Body::new));
        async move {
            let response = response.await?;
            // The connection is busy until the whole body has been sent.
            Ok::<_, Infallible>(response.map(|body| {
                Body::new(body.map_frame(move |frame| {
                    let _until_the_body_ends = &busy;
                    frame
                }))
            }))
        }
    });
    let header_size = usize::try_from(limits.max_header_size.0).unwrap_or(usize::MAX);
    let mut builder = http1::Builder::new();
    builder
        .max_header_size(header_size)
        // hyper keeps reading an incomplete head until its buffer is full.
        .max_buf_size(header_size.max(crate::http::settings::MIN_HEADER_SIZE as usize))
        .keep_alive(true);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let mut stopped_at = None;
    let mut closing = false;
    loop {
        let deadline = activity.deadline(&limits);
        let expired = until(deadline.map(|(at, _)| at));
        let quiet = match stopped_at {
            Some(since) if !closing => activity.quiet_after(since, QUIET_BEFORE_CLOSE),
            _ => None,
        };
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    if e.is_parse_too_large() {
                        crate::observe::metrics::http_connection_cut("header_too_large");
                    }
                    tracing::trace!("HTTP connection ended: {e}");
                }
                return;
            }
            () = activity.changed() => {}
            () = expired => {
                // Recheck: a request may have started as the timer fired.
                if let Some((at, cut)) = activity.deadline(&limits)
                    && at <= tokio::time::Instant::now()
                {
                    crate::observe::metrics::http_connection_cut(cut.label());
                    return;
                }
            }
            () = until(quiet) => {
                // hyper closes an idle connection at once, even when a
                // request has arrived that it has not read yet: close only
                // after a quiet spell (a request gets 503 and `close`).
                if let Some(since) = stopped_at
                    && activity
                        .quiet_after(since, QUIET_BEFORE_CLOSE)
                        .is_some_and(|at| at <= tokio::time::Instant::now())
                {
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
            () = stop.cancelled(), if stopped_at.is_none() => {
                stopped_at = Some(tokio::time::Instant::now());
            }
        }
    }
}

/// Sleeps until `at`, or forever.
async fn until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_is_a_whole_response() {
        let text = std::str::from_utf8(REFUSED).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{text}"
        );
    }

    #[tokio::test]
    async fn slots_are_capped_per_client_and_in_all() {
        let slots = Arc::new(Slots {
            total: Arc::new(Semaphore::new(3)),
            per_client: Mutex::new(HashMap::new()),
            per_client_max: 2,
        });
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let a1 = slots.take(a).unwrap();
        let _a2 = slots.take(a).unwrap();
        assert_eq!(slots.take(a).unwrap_err(), "max_connections_per_client");
        let _b1 = slots.take(b).unwrap();
        assert_eq!(slots.take(b).unwrap_err(), "max_connections");
        assert_eq!(slots.open(), 3);
        drop(a1);
        assert_eq!(slots.open(), 2);
        let _b2 = slots.take(b).unwrap();
    }
}
