//! GETs of the issuer's JSON documents (metadata, keys): HTTP/1.1 over TLS
//! verified against the Web PKI (plain HTTP only where the settings allow
//! it: a loopback issuer), with a timeout for the whole exchange and a cap
//! on the body. Redirects are not followed.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper::Request;
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
    let request = Request::get(path)
        .header(hyper::header::HOST, authority)
        .header(hyper::header::ACCEPT, "application/json")
        .header(hyper::header::USER_AGENT, "warden")
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    if url.scheme() == "https" {
        let name =
            rustls::pki_types::ServerName::try_from(host.trim_matches(['[', ']']).to_owned())
                .map_err(|e| e.to_string())?;
        let tls = tls_connector()
            .connect(name, stream)
            .await
            .map_err(|e| e.to_string())?;
        exchange(tls, request, max_bytes).await
    } else {
        exchange(stream, request, max_bytes).await
    }
}

async fn exchange<S>(
    stream: S,
    request: Request<Empty<Bytes>>,
    max_bytes: usize,
) -> Result<Bytes, String>
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
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status()));
    }
    Limited::new(response.into_body(), max_bytes)
        .collect()
        .await
        .map(|body| body.to_bytes())
        .map_err(|_| format!("the body is larger than {max_bytes} bytes or cut short"))
}

/// One TLS client configuration: the Web PKI roots.
fn tls_connector() -> tokio_rustls::TlsConnector {
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
