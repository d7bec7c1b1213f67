//! Outgoing HTTP from plugins (`wasi:http/outgoing-handler`).
//!
//! Every request is decided here, before any connection is made:
//!
//! 1. [`policy::decide`] compares the request's scheme, host and port with
//!    the plugin's granted origins. A refused request fails with
//!    `HttpRequestDenied` (the guest sees that WASI error code), is recorded
//!    as a [`Denial`] and logged on the `warden::denied` target.
//! 2. At most `max_requests_per_call` requests go out per call; the next one
//!    is refused the same way.
//!    Under `[policy] ask`, a request for an origin that is not granted
//!    asks the person first ([`Asker`]): allowed, it goes out; otherwise it
//!    is refused as above, with the person's answer in the reason.
//! 3. An allowed request for an origin a credential is granted for gets the
//!    credential's header, set here after the decision (replacing the
//!    plugin's own); the guest never holds the value.
//! 4. An allowed request is sent by Warden's connector (`connect`: a granted
//!    name may not resolve to a private address unless `allow_private`),
//!    and its response body is capped at `max_response_bytes`: the guest
//!    reads up to the cap, then gets `HttpResponseBodySize`.
//!
//! Response body frames, read by the connection task, are charged to the
//! call's host memory ([`CallMemory`]) from when they are handed to the call
//! until the call lets go of them ([`account::hold`]). Request body frames
//! are the call's own allocations and leave its count when the connection
//! frees them.
//!
//! wasi:http does not follow redirects: every hop is a new request through
//! this hook, so a redirect to an origin that is not granted is refused like
//! any other request to it.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpHooks};

use super::account::{self, CallMemory};
use super::connect::{self, Resolve, Route};
use super::denials::DenialLog;
use super::exchanges::ExchangeLog;
use super::permission::{Answer, Asker};
use crate::observe::{Denial, HttpExchange};
use crate::policy::grants::Grants;
use crate::policy::{self, Decision};

/// The HTTP hooks of one call.
#[derive(Debug)]
pub struct OutboundHttp {
    plugin: Arc<str>,
    grants: Arc<Grants>,
    /// Requests let through so far in this call.
    requests: u32,
    denials: DenialLog,
    exchanges: ExchangeLog,
    memory: Arc<CallMemory>,
    /// Asks the person about origins that are not granted (`[policy] ask`
    /// and a client that can ask); `None`: they are refused.
    asker: Option<Arc<Asker>>,
    /// How admitted requests are resolved and where they may lead.
    route: Route,
}

/// What becomes of one request.
#[derive(Debug, PartialEq, Eq)]
enum Admit {
    /// It may go out: its origin.
    Go(String),
    /// It is not granted; the person decides. The origin, and why it is
    /// not granted.
    Ask(String, String),
    /// It is refused (and recorded).
    Refused,
}

impl OutboundHttp {
    /// Hooks for a call into `plugin` with its grants, whose body bytes are
    /// charged to `memory`, asking through `asker` when the grants let the
    /// person decide.
    pub fn new(
        plugin: Arc<str>,
        grants: Arc<Grants>,
        memory: Arc<CallMemory>,
        asker: Option<Arc<Asker>>,
        resolver: Arc<dyn Resolve>,
    ) -> Self {
        let route = Route {
            resolver,
            allow_private: grants.http.allow_private,
        };
        Self {
            plugin,
            grants,
            requests: 0,
            denials: DenialLog::default(),
            exchanges: ExchangeLog::default(),
            memory,
            route,
            asker,
        }
    }

    /// What this call was refused so far (HTTP and every other capability
    /// recorded in the same log; at most [`super::denials::MAX_RECORDED_DENIALS`]).
    pub fn denials(&self) -> Vec<Denial> {
        self.denials.snapshot()
    }

    /// The requests that went out in this call.
    pub fn exchanges(&self) -> Vec<HttpExchange> {
        self.exchanges.snapshot()
    }

    /// Who asks the person about origins that are not granted, for the call
    /// the store is attached to.
    pub(super) fn set_asker(&mut self, asker: Option<Arc<Asker>>) {
        self.asker = asker;
    }

    /// The call's denial log, for the other capabilities to record into.
    pub(super) fn denial_log(&self) -> DenialLog {
        self.denials.clone()
    }

    /// Whether the request is within `max_requests_per_call`; records the
    /// refusal when it is not.
    fn within_cap(&mut self, target: &str) -> bool {
        let http = &self.grants.http;
        if self.requests < http.max_requests_per_call {
            self.requests += 1;
            return true;
        }
        let limit = http.max_requests_per_call;
        let reason = format!(
            "the plugin already made {limit} HTTP request{} in this call \
             (http_max_requests = {limit})",
            if limit == 1 { "" } else { "s" }
        );
        self.denials.record(
            &self.plugin,
            "http",
            "max-requests",
            target.to_owned(),
            reason,
        );
        false
    }

    /// Decides on one request.
    fn admit(&mut self, uri: &http::Uri) -> Admit {
        let grants = self.grants.clone();
        let http = &grants.http;
        match policy::decide(&http.origins, uri) {
            Decision::Deny {
                rule,
                target,
                reason,
            } => {
                let askable = matches!(rule, "no-grant" | "host" | "port" | "scheme")
                    && self.asker.is_some()
                    && http.ask.may_ask(uri);
                if askable {
                    return if self.within_cap(&target) {
                        Admit::Ask(target, reason)
                    } else {
                        Admit::Refused
                    };
                }
                if let Decision::Allow { origin, .. } = policy::decide(&http.pending, uri) {
                    let reason = format!(
                        "{origin} is requested by an update of the plugin that the operator \
                         has not approved yet (run `warden approve {}`)",
                        self.plugin
                    );
                    self.denials
                        .record(&self.plugin, "http", "awaiting-approval", target, reason);
                } else {
                    self.denials
                        .record(&self.plugin, "http", rule, target, reason);
                }
                Admit::Refused
            }
            Decision::Allow { origin, target } => {
                if !self.within_cap(&target) {
                    return Admit::Refused;
                }
                tracing::debug!(
                    target: "warden::http",
                    plugin = %self.plugin,
                    target = %target,
                    origin = %origin,
                    request = self.requests,
                    "outgoing HTTP request allowed"
                );
                Admit::Go(target)
            }
        }
    }

    /// Sets the header of each credential granted for the request's origin,
    /// replacing any value the plugin set. Only admitted requests get here,
    /// and only for the exact origin a credential names: a redirect to
    /// another origin is a request of its own, without it.
    fn add_credentials(&self, request: &mut http::Request<WasiBody>) {
        for credential in &self.grants.http.credentials {
            if !policy::decide(std::slice::from_ref(&credential.origin), request.uri()).is_allowed()
            {
                continue;
            }
            request
                .headers_mut()
                .insert(credential.header.name(), credential.value.clone());
            tracing::debug!(
                target: "warden::http",
                plugin = %self.plugin,
                credential = %credential.name,
                header = %credential.header,
                "credential added to the request"
            );
        }
    }

    fn cap(&self, target: String) -> ResponseCap {
        ResponseCap {
            limit: self.grants.http.max_response_bytes,
            plugin: self.plugin.clone(),
            target,
            denials: self.denials.clone(),
            exchanges: self.exchanges.clone(),
            memory: self.memory.clone(),
        }
    }
}

pub(super) type IoFuture = Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>;
type ResponseFuture = Box<
    dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture), wasmtime_wasi_http::Error>>
        + Send,
>;

impl WasiHttpHooks for OutboundHttp {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: IoFuture,
    ) -> ResponseFuture {
        match self.admit(request.uri()) {
            Admit::Go(target) => {
                let mut request = request;
                self.add_credentials(&mut request);
                Box::new(send(request, options, self.route.clone(), self.cap(target)))
            }
            Admit::Refused => Box::new(std::future::ready(Err(
                wasmtime_wasi_http::Error::HttpRequestDenied,
            ))),
            Admit::Ask(target, reason) => {
                let asker = self.asker.clone().expect("only asked with an asker");
                let plugin = self.plugin.clone();
                let denials = self.denials.clone();
                let cap = self.cap(target.clone());
                let route = self.route.clone();
                Box::new(async move {
                    match asker.http(&target).await {
                        Answer::Allowed => {
                            tracing::debug!(
                                target: "warden::http",
                                plugin = %plugin,
                                target = %target,
                                "outgoing HTTP request allowed by the person"
                            );
                            send(request, options, route, cap).await
                        }
                        Answer::Refused(why) => {
                            let reason = format!("{reason}; {why}");
                            denials.record(&plugin, "http", "not-allowed", target, reason);
                            Err(wasmtime_wasi_http::Error::HttpRequestDenied)
                        }
                        // The run stops: the guest never sees an answer.
                        Answer::Deferred => std::future::pending().await,
                    }
                })
            }
        }
    }
}

/// Sends an admitted request through Warden's connector (which refuses
/// names that resolve to private addresses unless `route` allows them); its
/// response body is capped by `cap`.
async fn send(
    request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
    route: Route,
    cap: ResponseCap,
) -> Result<(http::Response<WasiBody>, IoFuture), wasmtime_wasi_http::Error> {
    let began = SystemTime::now();
    let started = Instant::now();
    let method = request.method().to_string();
    let sent = connect::send(request, options, &route).await;
    cap.exchanges.record(HttpExchange {
        origin: cap.target.clone(),
        method,
        status: match &sent {
            Ok(connect::Sent::Response(response, _)) => Some(response.status().as_u16()),
            _ => None,
        },
        began,
        took: started.elapsed(),
    });
    let (response, io) = match sent? {
        connect::Sent::Response(response, io) => (response, io),
        connect::Sent::Refused(refused) => {
            let reason = format!(
                "{} resolves to {}, a {} address, which a granted name may not lead to \
                 (grant that IP address instead, or set [plugins.{}] allow_private = true)",
                refused.host, refused.ip, refused.range, cap.plugin
            );
            cap.denials
                .record(&cap.plugin, "http", "private-address", cap.target, reason);
            return Err(wasmtime_wasi_http::Error::HttpRequestDenied);
        }
    };
    let response = response.map(|body| CappedBody::new(body, cap).boxed_unsync());
    Ok((response, io))
}

/// What a response body may not exceed, and where to report it.
#[derive(Debug)]
struct ResponseCap {
    limit: u64,
    plugin: Arc<str>,
    target: String,
    denials: DenialLog,
    exchanges: ExchangeLog,
    memory: Arc<CallMemory>,
}

/// A response body that passes on at most `limit` bytes; reading past them
/// fails with `HttpResponseBodySize`.
struct CappedBody {
    inner: WasiBody,
    cap: ResponseCap,
    seen: u64,
    state: CapState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CapState {
    /// Under the limit.
    Open,
    /// The limit was reached with data left: the next poll fails.
    Exceeded,
    /// The error was returned; nothing more comes.
    Done,
}

impl CappedBody {
    fn new(inner: WasiBody, cap: ResponseCap) -> Self {
        Self {
            inner,
            cap,
            seen: 0,
            state: CapState::Open,
        }
    }

    fn exceeded(&mut self) {
        self.state = CapState::Exceeded;
        let limit = self.cap.limit;
        let reason = format!(
            "the response body is larger than the plugin's limit of {limit} bytes \
             (http_max_response)"
        );
        self.cap.denials.record(
            &self.cap.plugin,
            "http",
            "max-response-bytes",
            self.cap.target.clone(),
            reason,
        );
    }
}

impl Body for CappedBody {
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        match this.state {
            CapState::Open => {}
            CapState::Exceeded => {
                this.state = CapState::Done;
                return Poll::Ready(Some(Err(wasmtime_wasi_http::Error::HttpResponseBodySize(
                    Some(this.cap.limit),
                ))));
            }
            CapState::Done => return Poll::Ready(None),
        }
        let frame = match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => frame,
            other => return other,
        };
        let mut data = match frame.into_data() {
            Ok(data) => data,
            // Trailers pass through.
            Err(frame) => return Poll::Ready(Some(Ok(frame))),
        };
        let room = this.cap.limit - this.seen;
        if data.len() as u64 > room {
            // Hand over what fits; the next read fails.
            data.truncate(room as usize);
            this.exceeded();
            if data.is_empty() {
                this.state = CapState::Done;
                return Poll::Ready(Some(Err(wasmtime_wasi_http::Error::HttpResponseBodySize(
                    Some(this.cap.limit),
                ))));
            }
        }
        this.seen += data.len() as u64;
        Poll::Ready(Some(Ok(Frame::data(account::hold(&this.cap.memory, data)))))
    }

    fn is_end_stream(&self) -> bool {
        match self.state {
            CapState::Open => self.inner.is_end_stream(),
            CapState::Exceeded => false,
            CapState::Done => true,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self.state {
            CapState::Open => self.inner.size_hint(),
            CapState::Exceeded | CapState::Done => SizeHint::default(),
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    use std::net::SocketAddr;
    use std::pin::pin;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use http_body_util::{Empty, Full};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use crate::policy::grants::HttpGrant;

    /// A loopback HTTP/1.1 server answering every request with `body`;
    /// counts the connections it accepted.
    /// Reads a request's head (up to the blank line) from `stream`; `None`
    /// when the stream ends or fails first.
    pub(in crate::sandbox) async fn read_head(
        stream: &mut (impl tokio::io::AsyncRead + Unpin),
    ) -> Option<Vec<u8>> {
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        Some(head)
    }

    async fn server(body: Vec<u8>) -> (SocketAddr, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let body = body.clone();
                tokio::spawn(async move {
                    if read_head(&mut stream).await.is_none() {
                        return;
                    }
                    let header = format!(
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = stream.write_all(header.as_bytes()).await;
                    let _ = stream.write_all(&body).await;
                });
            }
        });
        (addr, hits)
    }

    /// A resolver that knows only the names in its table.
    #[derive(Debug, Default)]
    struct Names(Vec<(&'static str, Vec<std::net::IpAddr>)>);

    #[async_trait::async_trait]
    impl Resolve for Names {
        async fn lookup(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
            let (_, ips) = self
                .0
                .iter()
                .find(|(name, _)| *name == host)
                .ok_or_else(|| {
                    std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        format!("no such name {host}"),
                    )
                })?;
            Ok(ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect())
        }
    }

    fn hooks(origins: &[&str], max_requests: u32, max_bytes: u64) -> OutboundHttp {
        hooks_with(origins, max_requests, max_bytes, Names::default(), false)
    }

    fn hooks_with(
        origins: &[&str],
        max_requests: u32,
        max_bytes: u64,
        names: Names,
        allow_private: bool,
    ) -> OutboundHttp {
        let grants = Grants {
            http: HttpGrant {
                origins: origins.iter().map(|o| o.parse().unwrap()).collect(),
                max_requests_per_call: max_requests,
                max_response_bytes: max_bytes,
                allow_private,
                ..HttpGrant::default()
            },
            ..Grants::default()
        };
        OutboundHttp::new(
            "test".into(),
            Arc::new(grants),
            CallMemory::new(u64::MAX).unwrap(),
            None,
            Arc::new(names),
        )
    }

    fn get(uri: &str) -> http::Request<WasiBody> {
        http::Request::get(uri)
            .body(
                Empty::<Bytes>::new()
                    .map_err(|never| match never {})
                    .boxed_unsync(),
            )
            .unwrap()
    }

    async fn send(
        hooks: &mut OutboundHttp,
        uri: &str,
    ) -> Result<Result<Bytes, wasmtime_wasi_http::Error>, wasmtime_wasi_http::Error> {
        let future = hooks.send_request(get(uri), None, Box::new(async { Ok(()) }));
        let (response, io) = Pin::from(future).await?;
        tokio::spawn(Pin::from(io));
        Ok(response
            .into_body()
            .collect()
            .await
            .map(|collected| collected.to_bytes()))
    }

    #[tokio::test]
    async fn denied_requests_never_connect_and_are_recorded() {
        let (addr, hits) = server(b"hello".to_vec()).await;
        let port = addr.port();
        let mut hooks = hooks(&[&format!("http://127.0.0.1:{port}")], 16, 1024);

        let body = send(&mut hooks, &format!("http://127.0.0.1:{port}/ok")).await;
        assert_eq!(body.unwrap().unwrap(), "hello");
        assert_eq!(hits.load(Ordering::SeqCst), 1);

        for uri in [
            format!("http://localhost:{port}/secret?token=hunter2"),
            format!("http://127.0.0.1:{}/", port.wrapping_add(1).max(1)),
            format!("http://[::1]:{port}/"),
            format!("https://127.0.0.1:{port}/"),
        ] {
            let result = send(&mut hooks, &uri).await;
            assert!(
                matches!(result, Err(wasmtime_wasi_http::Error::HttpRequestDenied)),
                "{uri}: {result:?}"
            );
        }
        assert_eq!(hits.load(Ordering::SeqCst), 1, "a denied request connected");

        let denials = hooks.denials();
        assert_eq!(denials.len(), 4);
        assert!(denials.iter().all(|d| d.capability == "http"));
        assert_eq!(denials[0].target, format!("http://localhost:{port}"));
        assert_eq!(
            denials[0].reason,
            format!(
                "no grant for http://localhost:{port} (granted: http://127.0.0.1:{port}); \
                 a host name never matches an IP address grant"
            )
        );
        assert_eq!(denials[2].target, format!("http://[::1]:{port}"));
        assert_eq!(denials[3].target, format!("https://127.0.0.1:{port}"));
        for denial in &denials {
            assert!(!denial.to_string().contains("hunter2"), "{denial}");
        }
    }

    #[tokio::test]
    async fn a_granted_name_may_not_lead_to_a_private_address_unless_allowed() {
        let (addr, hits) = server(b"hello".to_vec()).await;
        let port = addr.port();
        let loopback = "127.0.0.1".parse().unwrap();
        let metadata = "169.254.169.254".parse().unwrap();
        let names = || {
            Names(vec![
                ("granted.test", vec![loopback]),
                ("rebound.test", vec![metadata]),
            ])
        };
        let origins = [
            &format!("http://granted.test:{port}")[..],
            "http://rebound.test",
            &format!("http://127.0.0.1:{port}"),
        ];
        let mut strict = hooks_with(&origins, 16, 1024, names(), false);
        for uri in [
            format!("http://granted.test:{port}/"),
            // A redirect is a request like any other.
            "http://rebound.test/latest/meta-data/".to_string(),
        ] {
            let result = send(&mut strict, &uri).await;
            assert!(
                matches!(result, Err(wasmtime_wasi_http::Error::HttpRequestDenied)),
                "{uri}: {result:?}"
            );
        }
        assert_eq!(hits.load(Ordering::SeqCst), 0, "a refused name connected");
        let denials = strict.denials();
        assert_eq!(denials.len(), 2);
        assert_eq!(denials[0].target, format!("http://granted.test:{port}"));
        assert!(
            denials[0]
                .reason
                .contains("resolves to 127.0.0.1, a loopback address"),
            "{}",
            denials[0].reason
        );
        assert!(
            denials[1].reason.contains("link-local (cloud metadata)"),
            "{}",
            denials[1].reason
        );
        assert!(denials[1].reason.contains("allow_private = true"));
        // The IP literal a grant names is the operator's choice: no lookup.
        let body = send(&mut strict, &format!("http://127.0.0.1:{port}/")).await;
        assert_eq!(body.unwrap().unwrap(), "hello");
        assert_eq!(hits.load(Ordering::SeqCst), 1);

        let mut open = hooks_with(&origins, 16, 1024, names(), true);
        let body = send(&mut open, &format!("http://granted.test:{port}/")).await;
        assert_eq!(body.unwrap().unwrap(), "hello");
        assert_eq!(hits.load(Ordering::SeqCst), 2);
        assert!(open.denials().is_empty());
    }

    #[tokio::test]
    async fn no_grant_denies_everything() {
        let (addr, hits) = server(b"hello".to_vec()).await;
        let mut hooks = hooks(&[], 16, 1024);
        let result = send(&mut hooks, &format!("http://{addr}/")).await;
        assert!(matches!(
            result,
            Err(wasmtime_wasi_http::Error::HttpRequestDenied)
        ));
        assert_eq!(hits.load(Ordering::SeqCst), 0);
        assert_eq!(hooks.denials()[0].reason, policy::NO_GRANT);
    }

    #[tokio::test]
    async fn requests_per_call_are_capped() {
        let (addr, hits) = server(b"x".to_vec()).await;
        let mut hooks = hooks(&[&format!("http://{addr}")], 2, 1024);
        let uri = format!("http://{addr}/");
        assert!(send(&mut hooks, &uri).await.is_ok());
        assert!(send(&mut hooks, &uri).await.is_ok());
        let third = send(&mut hooks, &uri).await;
        assert!(matches!(
            third,
            Err(wasmtime_wasi_http::Error::HttpRequestDenied)
        ));
        assert_eq!(hits.load(Ordering::SeqCst), 2);
        let denials = hooks.denials();
        assert_eq!(denials.len(), 1);
        assert_eq!(
            denials[0].reason,
            "the plugin already made 2 HTTP requests in this call (http_max_requests = 2)"
        );
        // Denied requests do not use up the budget of a fresh call.
        assert_eq!(hooks.requests, 2);
    }

    #[tokio::test]
    async fn response_bodies_are_capped() {
        let (addr, _) = server(vec![b'a'; 10_000]).await;
        let uri = format!("http://{addr}/");

        let mut roomy = hooks(&[&format!("http://{addr}")], 16, 10_000);
        assert_eq!(send(&mut roomy, &uri).await.unwrap().unwrap().len(), 10_000);
        assert!(roomy.denials().is_empty());

        let mut tight = hooks(&[&format!("http://{addr}")], 16, 4096);
        let body = send(&mut tight, &uri).await.unwrap();
        assert!(
            matches!(
                body,
                Err(wasmtime_wasi_http::Error::HttpResponseBodySize(Some(4096)))
            ),
            "{body:?}"
        );
        let denials = tight.denials();
        assert_eq!(denials.len(), 1);
        assert_eq!(denials[0].target, format!("http://{addr}"));
        assert!(denials[0].reason.contains("http_max_response"));
    }

    #[tokio::test]
    async fn capped_body_hands_over_exactly_the_limit() {
        let cap = ResponseCap {
            limit: 5,
            plugin: "test".into(),
            target: "http://x:80".into(),
            denials: DenialLog::default(),
            exchanges: ExchangeLog::default(),
            memory: CallMemory::new(u64::MAX).unwrap(),
        };
        let inner = Full::new(Bytes::from_static(b"abcdefgh"))
            .map_err(|never| match never {})
            .boxed_unsync();
        let mut body = pin!(CappedBody::new(inner, cap));
        let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(first, "abcde");
        assert!(matches!(
            body.frame().await,
            Some(Err(wasmtime_wasi_http::Error::HttpResponseBodySize(Some(
                5
            ))))
        ));
        assert!(body.frame().await.is_none());
        assert!(body.is_end_stream());
    }

    #[test]
    fn denials_are_bounded_per_call() {
        let mut hooks = hooks(&[], 16, 1024);
        let uri: http::Uri = "http://example.com/".parse().unwrap();
        for _ in 0..100 {
            assert_eq!(hooks.admit(&uri), Admit::Refused);
        }
        assert_eq!(
            hooks.denials().len(),
            crate::sandbox::denials::MAX_RECORDED_DENIALS
        );
        assert_eq!(hooks.denials.dropped(), 100 - 32);
    }
}
