//! What a connection is doing, for its timeouts: waiting for a request head
//! (header timeout), idle between requests (idle timeout), or serving a
//! request (no timeout here: calls have their own limits).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::http::settings::ConnectionLimits;

/// No time recorded.
const NONE: u64 = u64::MAX;

/// Why a connection is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// The request head did not arrive in time.
    HeaderTimeout,
    /// No new request on a kept-alive connection in time.
    IdleTimeout,
}

impl Cut {
    /// The metrics label.
    pub fn label(self) -> &'static str {
        match self {
            Cut::HeaderTimeout => "header_timeout",
            Cut::IdleTimeout => "idle_timeout",
        }
    }
}

/// The state of one connection, shared by its reader, its requests and the
/// task that serves it. Times are milliseconds since the connection opened.
#[derive(Debug)]
pub struct Activity {
    opened: Instant,
    /// Requests whose response has not been sent completely.
    busy: AtomicUsize,
    /// Requests received so far.
    served: AtomicUsize,
    /// When the last response ended.
    idle_since: AtomicU64,
    /// The first byte read while no request was being served.
    head_since: AtomicU64,
    /// The last byte read.
    last_read: AtomicU64,
    /// Wakes the serving task when the deadline may have moved.
    changed: Notify,
}

impl Activity {
    /// A connection opened now.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            opened: Instant::now(),
            busy: AtomicUsize::new(0),
            served: AtomicUsize::new(0),
            idle_since: AtomicU64::new(0),
            head_since: AtomicU64::new(NONE),
            last_read: AtomicU64::new(0),
            changed: Notify::new(),
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(NONE - 1)
    }

    fn at(&self, ms: u64) -> Instant {
        self.opened + Duration::from_millis(ms)
    }

    /// Bytes arrived: when no request is being served, a request head starts.
    fn bytes_read(&self) {
        self.last_read.store(self.now_ms(), Ordering::SeqCst);
        if self.busy.load(Ordering::SeqCst) == 0
            && self
                .head_since
                .compare_exchange(NONE, self.now_ms(), Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        {
            self.changed.notify_one();
        }
    }

    /// A request head was read completely: the connection is busy until the
    /// returned guard (held by the response body) is dropped.
    pub fn request(self: &Arc<Self>) -> Busy {
        self.busy.fetch_add(1, Ordering::SeqCst);
        self.served.fetch_add(1, Ordering::SeqCst);
        self.head_since.store(NONE, Ordering::SeqCst);
        self.changed.notify_one();
        Busy(self.clone())
    }

    /// When the connection must be cut if nothing changes, and why; `None`
    /// while a request is being served.
    pub fn deadline(&self, limits: &ConnectionLimits) -> Option<(Instant, Cut)> {
        if self.busy.load(Ordering::SeqCst) > 0 {
            return None;
        }
        let head = self.head_since.load(Ordering::SeqCst);
        if head != NONE {
            return Some((self.at(head) + limits.header_timeout, Cut::HeaderTimeout));
        }
        if self.served.load(Ordering::SeqCst) == 0 {
            return Some((self.opened + limits.header_timeout, Cut::HeaderTimeout));
        }
        let idle = self.idle_since.load(Ordering::SeqCst);
        Some((self.at(idle) + limits.idle_timeout, Cut::IdleTimeout))
    }

    /// When a connection asked at `since` to stop may be closed without
    /// dropping a request that is on its way: `quiet` after `since` and
    /// after the last byte read. `None` while a request is being read or
    /// served (its response closes the connection).
    pub fn quiet_after(&self, since: Instant, quiet: Duration) -> Option<Instant> {
        if self.busy.load(Ordering::SeqCst) > 0 || self.head_since.load(Ordering::SeqCst) != NONE {
            return None;
        }
        let last_read = self.at(self.last_read.load(Ordering::SeqCst));
        Some(since.max(last_read) + quiet)
    }

    /// Resolves when the deadline may have moved.
    pub async fn changed(&self) {
        self.changed.notified().await;
    }
}

/// Marks a request in progress; dropped when its response has been sent.
#[derive(Debug)]
pub struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        let activity = &self.0;
        activity
            .idle_since
            .store(activity.now_ms(), Ordering::SeqCst);
        activity.busy.fetch_sub(1, Ordering::SeqCst);
        activity.changed.notify_one();
    }
}

/// How long a closing connection keeps reading what the peer still sends.
const LINGER: Duration = Duration::from_secs(1);
/// How much a closing connection reads and discards at most.
const LINGER_BYTES: usize = 1 << 20;

/// A connection's stream, reporting reads to its [`Activity`], and closing
/// without resetting its last response.
///
/// A response sent before its request was read whole (503 while draining,
/// 413 for a body over the cap) leaves request bytes unread; closing a
/// socket with unread bytes sends a reset, which can reach the peer before
/// it has read the response, and it then sees a connection cut with no
/// answer (a proxy answers 502 and cannot retry). So a shutdown half-closes
/// first and reads and discards what still comes, until the peer closes,
/// for at most [`LINGER`] and [`LINGER_BYTES`] (a "lingering close").
#[derive(Debug)]
pub struct Watched<T> {
    inner: T,
    activity: Arc<Activity>,
    closing: Option<Closing>,
}

/// A lingering close under way.
#[derive(Debug)]
struct Closing {
    until: Pin<Box<tokio::time::Sleep>>,
    write_closed: bool,
    discarded: usize,
}

impl<T> Watched<T> {
    /// Wraps `inner`.
    pub fn new(inner: T, activity: Arc<Activity>) -> Self {
        Self {
            inner,
            activity,
            closing: None,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.bytes_read();
        }
        polled
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let closing = this.closing.get_or_insert_with(|| Closing {
            until: Box::pin(tokio::time::sleep(LINGER)),
            write_closed: false,
            discarded: 0,
        });
        if !closing.write_closed {
            std::task::ready!(Pin::new(&mut this.inner).poll_shutdown(cx))?;
            closing.write_closed = true;
        }
        let mut scratch = [0u8; 8192];
        loop {
            if closing.discarded >= LINGER_BYTES || closing.until.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Ok(()));
            }
            let mut buf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut this.inner).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if !buf.filled().is_empty() => {
                    closing.discarded += buf.filled().len();
                }
                // The peer closed too, or the connection is gone.
                Poll::Ready(_) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ConnectionLimits {
        ConnectionLimits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            ..ConnectionLimits::default()
        }
    }

    #[test]
    fn deadlines_follow_the_connection() {
        let activity = Activity::new();
        let opened = activity.opened;
        let l = limits();
        // A new connection must send its request head within the header timeout.
        assert_eq!(
            activity.deadline(&l),
            Some((opened + l.header_timeout, Cut::HeaderTimeout))
        );
        let busy = activity.request();
        assert_eq!(activity.deadline(&l), None);
        drop(busy);
        // Between requests: the idle timeout, from the end of the response.
        let (at, cut) = activity.deadline(&l).unwrap();
        assert_eq!(cut, Cut::IdleTimeout);
        assert!(at >= opened + l.idle_timeout && at <= Instant::now() + l.idle_timeout);
        // The first byte of the next request starts the header timeout, and
        // later bytes do not move it.
        activity.bytes_read();
        let (at, cut) = activity.deadline(&l).unwrap();
        assert_eq!(cut, Cut::HeaderTimeout);
        assert!(at <= Instant::now() + l.header_timeout);
        activity.bytes_read();
        assert_eq!(activity.deadline(&l).unwrap().0, at);
        // Bytes read while a request is served (its body) start nothing.
        let busy = activity.request();
        activity.bytes_read();
        drop(busy);
        assert_eq!(activity.deadline(&l).unwrap().1, Cut::IdleTimeout);
    }

    /// A server that answers before reading the whole request, as a 503
    /// while draining or a 413 does, and closes: the client still gets the
    /// answer and a clean end, not a reset.
    #[tokio::test]
    async fn closing_lingers_so_an_early_answer_is_not_reset() {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        // Small socket buffers, so the body cannot all sit in them.
        let small = 64 << 10;
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(small).unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = socket.local_addr().unwrap();
        let listener = socket.listen(1).unwrap();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut io = Watched::new(tcp, Activity::new());
            let mut head = [0u8; 16];
            io.read_exact(&mut head).await.unwrap();
            io.write_all(b"413 too large").await.unwrap();
            io.shutdown().await.unwrap();
        });
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_send_buffer_size(small).unwrap();
        let mut client = socket.connect(addr).await.unwrap();
        // As most clients do: the whole request first, then the answer. The
        // body is more than the socket buffers hold, and within what a
        // closing connection reads.
        let body = vec![b'x'; LINGER_BYTES * 3 / 4];
        client
            .write_all(&body)
            .await
            .expect("the server read the body while closing, not reset it");
        let mut answer = Vec::new();
        client
            .read_to_end(&mut answer)
            .await
            .expect("the answer and a clean end, not a reset");
        assert_eq!(answer, b"413 too large");
        server.await.unwrap();
    }

    #[test]
    fn a_stopping_connection_closes_only_after_a_quiet_spell() {
        let activity = Activity::new();
        let quiet = Duration::from_millis(100);
        let stop = Instant::now();
        // Nothing read since the stop: quiet counts from the stop.
        assert_eq!(activity.quiet_after(stop, quiet), Some(stop + quiet));
        // A request head on its way holds the connection open; so does its
        // response.
        activity.bytes_read();
        assert_eq!(activity.quiet_after(stop, quiet), None);
        let busy = activity.request();
        assert_eq!(activity.quiet_after(stop, quiet), None);
        drop(busy);
        // Bytes read after the stop move the quiet spell on.
        let earlier = Instant::now() - Duration::from_secs(1);
        let at = activity.quiet_after(earlier, quiet).unwrap();
        assert!(at > earlier + quiet, "counted from the last byte read");
    }
}
