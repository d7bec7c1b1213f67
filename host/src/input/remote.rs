//! Warden's own HTTP requests (not a plugin's): the OAuth issuer's documents
//! and keys, OTLP exports. HTTP/1.1, over TLS verified against the Web PKI
//! for `https` (the settings that name a URL decide where plain `http` may
//! go), with a timeout for the whole exchange and a cap on the response
//! body. Redirects are not followed.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use url::Url;

/// How long one fetch may take, from connecting to the last byte.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The JSON document at `url`, at most `max_bytes` long.
pub async fn get_json<T: serde::de::DeserializeOwned>(
    url: &Url,
    max_bytes: usize,
) -> Result<T, String> {
    let body = tokio::time::timeout(TIMEOUT, get(url, max_bytes))
        .await
        .map_err(|_| format!("GET {url}: no answer within {TIMEOUT:?}"))?
        .map_err(|e| format!("GET {url}: {e}"))?;
    serde_json::from_slice(&body).map_err(|e| format!("GET {url}: not the expected JSON: {e}"))
}

async fn get(url: &Url, max_bytes: usize) -> Result<Bytes, String> {
    let request = Request::get(url.as_str())
        .header(hyper::header::ACCEPT, "application/json")
        .body(Bytes::new())
        .map_err(|e| e.to_string())?;
    let response = send(request, max_bytes).await?;
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status()));
    }
    Ok(response.into_body())
}

/// Sends `request` (its URI absolute) and reads the response, whatever its
/// status, with a body of at most `max_bytes`, within [`TIMEOUT`].
pub async fn exchange(
    request: Request<Bytes>,
    max_bytes: usize,
) -> Result<Response<Bytes>, String> {
    let uri = request.uri().to_string();
    tokio::time::timeout(TIMEOUT, send(request, max_bytes))
        .await
        .map_err(|_| format!("{uri}: no answer within {TIMEOUT:?}"))?
        .map_err(|e| format!("{uri}: {e}"))
}

async fn send(request: Request<Bytes>, max_bytes: usize) -> Result<Response<Bytes>, String> {
    let url = Url::parse(&request.uri().to_string()).map_err(|e| e.to_string())?;
    let host = url.host_str().ok_or("the URL has no host")?.to_owned();
    let port = url.port_or_known_default().ok_or("the URL has no port")?;
    let stream = TcpStream::connect((host.trim_matches(['[', ']']), port))
        .await
        .map_err(|e| e.to_string())?;
    let authority = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.clone(),
    };
    let path = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    };
    let (mut parts, body) = request.into_parts();
    parts.uri = path
        .parse()
        .map_err(|e: hyper::http::uri::InvalidUri| e.to_string())?;
    parts.headers.insert(
        hyper::header::HOST,
        authority.parse().map_err(|_| "bad host")?,
    );
    parts
        .headers
        .entry(hyper::header::USER_AGENT)
        .or_insert(hyper::header::HeaderValue::from_static("warden"));
    let request = Request::from_parts(parts, Full::new(body));
    if url.scheme() == "https" {
        let name =
            rustls::pki_types::ServerName::try_from(host.trim_matches(['[', ']']).to_owned())
                .map_err(|e| e.to_string())?;
        let tls = tls_connector()
            .connect(name, stream)
            .await
            .map_err(|e| e.to_string())?;
        round_trip(tls, request, max_bytes).await
    } else {
        round_trip(stream, request, max_bytes).await
    }
}

async fn round_trip<S>(
    stream: S,
    request: Request<Full<Bytes>>,
    max_bytes: usize,
) -> Result<Response<Bytes>, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let (parts, body) = response.into_parts();
    let body = Limited::new(body, max_bytes)
        .collect()
        .await
        .map(|body| body.to_bytes())
        .map_err(|_| format!("the body is larger than {max_bytes} bytes or cut short"))?;
    Ok(Response::from_parts(parts, body))
}

/// One TLS client configuration for the process, verifying servers against
/// the Web PKI roots (Warden's requests and the plugins' alike).
pub fn tls_connector() -> tokio_rustls::TlsConnector {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.into(),
        };
        Arc::new(
            rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth(),
        )
    });
    tokio_rustls::TlsConnector::from(config.clone())
}
