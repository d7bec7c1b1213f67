//! Warden's own connector for outgoing HTTP, in place of
//! `wasmtime_wasi_http::default_send_request`: it resolves the host name
//! itself ([`Resolve`], injectable), refuses addresses in the ranges
//! [`policy::egress`](crate::policy::egress) names unless the plugin may
//! reach private networks, then connects to exactly an address it checked
//! (no second lookup), with TLS verified against the name (SNI).
//!
//! An IP literal is not looked up or checked: the policy decision let it
//! through only because a grant names that address.

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http::uri::Scheme;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use tokio::net::TcpStream;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

use crate::input::remote::tls_connector;
use crate::policy::egress::refused_range;

/// Resolves host names for outgoing HTTP.
#[async_trait::async_trait]
pub trait Resolve: Send + Sync + std::fmt::Debug {
    /// The addresses of `host` (a DNS name, never an IP literal) at `port`.
    async fn lookup(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>>;
}

/// The system's resolver (`getaddrinfo` on a blocking thread).
#[derive(Debug, Default)]
pub struct SystemResolver;

#[async_trait::async_trait]
impl Resolve for SystemResolver {
    async fn lookup(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
        Ok(tokio::net::lookup_host((host, port)).await?.collect())
    }
}

/// How a call's requests are resolved and which addresses they may reach.
#[derive(Debug, Clone)]
pub(super) struct Route {
    /// Resolves host names.
    pub resolver: Arc<dyn Resolve>,
    /// Whether names may resolve to the ranges `refused_range` names.
    pub allow_private: bool,
}

/// Why a request was refused after its name was resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PrivateAddress {
    /// The name that was looked up.
    pub host: String,
    /// The first refused address.
    pub ip: IpAddr,
    /// Its range.
    pub range: &'static str,
}

/// What became of a request.
pub(super) enum Sent {
    /// Sent; the response and the connection's I/O.
    Response(http::Response<WasiBody>, super::http::IoFuture),
    /// Every address the name resolves to is refused; nothing connected.
    Refused(PrivateAddress),
}

/// Connection defaults when the guest sets none (as wasmtime's).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// Resolves, checks and connects, then sends `request` (over TLS verified
/// against the Web PKI roots for `https`).
pub(super) async fn send(
    request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
    route: &Route,
) -> Result<Sent, Error> {
    send_over(request, options, route, tls_connector()).await
}

/// [`send`], with `tls` for `https`.
async fn send_over(
    mut request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
    route: &Route,
    tls_connector: tokio_rustls::TlsConnector,
) -> Result<Sent, Error> {
    let uri = request.uri();
    let tls = uri.scheme() == Some(&Scheme::HTTPS);
    let host = uri.host().ok_or(Error::HttpRequestUriInvalid)?.to_owned();
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let timeout = |pick: fn(&RequestOptions) -> Option<Duration>| {
        options.and_then(|o| pick(&o)).unwrap_or(DEFAULT_TIMEOUT)
    };
    let connect_timeout = timeout(|o| o.connect_timeout);
    let first_byte_timeout = timeout(|o| o.first_byte_timeout);
    let between_bytes_timeout = timeout(|o| o.between_bytes_timeout).max(Duration::from_nanos(1));

    let literal = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .ok();
    let addresses = match literal {
        Some(ip) => vec![SocketAddr::new(ip, port)],
        None => {
            let found = tokio::time::timeout(connect_timeout, route.resolver.lookup(&host, port))
                .await
                .map_err(|_| Error::DnsTimeout)?
                .map_err(|_| Error::DnsError {
                    rcode: None,
                    info_code: None,
                })?;
            let mut refused = None;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|addr| match refused_range(addr.ip()) {
                    Some(range) if !route.allow_private => {
                        refused.get_or_insert_with(|| PrivateAddress {
                            host: host.clone(),
                            ip: addr.ip(),
                            range,
                        });
                        false
                    }
                    _ => true,
                })
                .collect();
            match (allowed.is_empty(), refused) {
                (true, Some(refused)) => return Ok(Sent::Refused(refused)),
                (true, None) => return Err(Error::DestinationNotFound),
                (false, _) => allowed,
            }
        }
    };

    let stream = connect(&addresses, connect_timeout).await?;
    let stream: Box<dyn Stream> = if tls {
        let name = match literal {
            Some(ip) => rustls::pki_types::ServerName::from(ip),
            None => rustls::pki_types::ServerName::try_from(host.clone())
                .map_err(|_| Error::TlsCertificateError)?,
        };
        Box::new(
            tls_connector
                .connect(name, stream)
                .await
                .map_err(Error::Tls)?,
        )
    } else {
        Box::new(stream)
    };
    let (mut sender, connection) = tokio::time::timeout(
        connect_timeout,
        hyper::client::conn::http1::Builder::new().handshake(hyper_util::rt::TokioIo::new(stream)),
    )
    .await
    .map_err(|_| Error::ConnectionTimeout)?
    .map_err(Error::Hyper)?;

    // The request line carries only the path: the scheme and authority are
    // for proxies (the `host` header has the name).
    *request.uri_mut() = http::Uri::builder()
        .path_and_query(request.uri().path_and_query().map_or("/", |p| p.as_str()))
        .build()
        .map_err(|_| Error::HttpRequestUriInvalid)?;

    let mut connection = Box::pin(connection);
    let mut connection_done = false;
    let response = {
        let send = tokio::time::timeout(first_byte_timeout, sender.send_request(request));
        tokio::pin!(send);
        // Drive the connection while waiting for the response.
        std::future::poll_fn(|cx| {
            if let Poll::Ready(result) = send.as_mut().poll(cx) {
                return Poll::Ready(result);
            }
            if !connection_done && let Poll::Ready(result) = connection.as_mut().poll(cx) {
                connection_done = true;
                if let Err(error) = result {
                    return Poll::Ready(Ok(Err(error)));
                }
                return send.as_mut().poll(cx);
            }
            Poll::Pending
        })
        .await
        .map_err(|_| Error::ConnectionReadTimeout)?
        .map_err(Error::Hyper)?
    };
    let response = response.map(|incoming| {
        TimedBody {
            incoming,
            timeout: Box::pin(tokio::time::sleep(between_bytes_timeout)),
            between: between_bytes_timeout,
        }
        .boxed_unsync()
    });
    let io: super::http::IoFuture = Box::new(async move {
        if connection_done {
            return Ok(());
        }
        connection.await.map_err(Error::Hyper)
    });
    Ok(Sent::Response(response, io))
}

/// A connected stream, plain or TLS.
trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static> Stream for T {}

/// Connects to the first of `addresses` that answers.
async fn connect(addresses: &[SocketAddr], timeout: Duration) -> Result<TcpStream, Error> {
    let mut last = Error::ConnectionRefused;
    for address in addresses {
        match tokio::time::timeout(timeout, TcpStream::connect(address)).await {
            Ok(Ok(stream)) => return Ok(stream),
            Ok(Err(error)) => last = Error::Connect(error),
            Err(_) => last = Error::ConnectionTimeout,
        }
    }
    Err(last)
}

/// A response body that fails when no data comes for `between`.
struct TimedBody {
    incoming: hyper::body::Incoming,
    timeout: Pin<Box<tokio::time::Sleep>>,
    between: Duration,
}

impl Body for TimedBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        match Pin::new(&mut self.incoming).poll_frame(cx) {
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Ready(Some(Err(error))) => Poll::Ready(Some(Err(Error::Hyper(error)))),
            Poll::Ready(Some(Ok(frame))) => {
                let next = tokio::time::Instant::now() + self.between;
                self.timeout.as_mut().reset(next);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => {
                ready!(self.timeout.as_mut().poll(cx));
                Poll::Ready(Some(Err(Error::ConnectionReadTimeout)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use http_body_util::Empty;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use tokio::io::AsyncWriteExt;

    /// A test CA, and a certificate it issued for `warden.test` (with its
    /// key), valid until 2126.
    const CA: &str = include_str!("testdata/ca.pem");
    const CERT: &str = include_str!("testdata/warden-test.pem");
    const KEY: &str = include_str!("testdata/warden-test.key");

    /// A TLS server on loopback with the `warden.test` certificate that
    /// answers every request with the server name the client sent (SNI).
    async fn tls_server() -> u16 {
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from_pem_slice(CERT.as_bytes()).unwrap()],
            PrivateKeyDer::from_pem_slice(KEY.as_bytes()).unwrap(),
        )
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let sni = tls.get_ref().1.server_name().unwrap_or("-").to_owned();
                    if crate::sandbox::http::tests::read_head(&mut tls)
                        .await
                        .is_none()
                    {
                        return;
                    }
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{sni}",
                        sni.len()
                    );
                    let _ = tls.write_all(reply.as_bytes()).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        port
    }

    /// Resolves every name to 127.0.0.1.
    #[derive(Debug)]
    struct Loopback;

    #[async_trait::async_trait]
    impl Resolve for Loopback {
        async fn lookup(&self, _: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
            Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))])
        }
    }

    /// A client that trusts only the test CA.
    fn trusting_the_test_ca() -> tokio_rustls::TlsConnector {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(CA.as_bytes()).unwrap())
            .unwrap();
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        tokio_rustls::TlsConnector::from(Arc::new(config))
    }

    async fn get(url: &str, tls: tokio_rustls::TlsConnector) -> Result<String, Error> {
        let route = Route {
            resolver: Arc::new(Loopback),
            allow_private: true,
        };
        let request = http::Request::get(url)
            .body(
                Empty::<Bytes>::new()
                    .map_err(|never| match never {})
                    .boxed_unsync(),
            )
            .unwrap();
        match send_over(request, None, &route, tls).await? {
            Sent::Response(response, io) => {
                tokio::spawn(Pin::from(io));
                let body = response.into_body().collect().await?.to_bytes();
                Ok(String::from_utf8(body.to_vec()).unwrap())
            }
            Sent::Refused(refused) => panic!("refused: {refused:?}"),
        }
    }

    #[tokio::test]
    async fn tls_is_verified_against_the_name_which_is_sent_as_sni() {
        let port = tls_server().await;
        // A trusted certificate for the name: connected, with the name as SNI.
        let sni = get(
            &format!("https://warden.test:{port}/"),
            trusting_the_test_ca(),
        )
        .await
        .unwrap();
        assert_eq!(sni, "warden.test");
        // The same server under another name: the certificate does not match.
        let other = get(
            &format!("https://other.test:{port}/"),
            trusting_the_test_ca(),
        )
        .await;
        assert!(
            matches!(other, Err(Error::Tls(_))),
            "a certificate for another name was accepted: {other:?}"
        );
        // Warden's own client trusts only the Web PKI: the test CA is unknown.
        let untrusted = get(&format!("https://warden.test:{port}/"), tls_connector()).await;
        assert!(
            matches!(untrusted, Err(Error::Tls(_))),
            "an untrusted certificate was accepted: {untrusted:?}"
        );
    }
}
