//! Sending one GET: over `wasi:http/outgoing-handler` in the sandbox, and a
//! stand-in elsewhere (native unit tests use their own fake).

use crate::url::Url;

/// What came back for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// Header names in lowercase, values decoded lossily.
    pub headers: Vec<(String, String)>,
    /// At most `max_bytes` of the body (empty for redirects).
    pub body: Vec<u8>,
    /// Whether the body was longer than `max_bytes`.
    pub truncated: bool,
}

impl Response {
    /// The first value of a header (`name` in lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A redirect this client follows: 301, 302, 303, 307 or 308 with a `Location`.
    pub fn redirect_location(&self) -> Option<&str> {
        matches!(self.status, 301 | 302 | 303 | 307 | 308)
            .then(|| self.header("location"))
            .flatten()
    }
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    not(target_family = "wasm"),
    allow(
        dead_code,
        reason = "only the wasi:http transport reports most of these"
    )
)]
pub enum FetchError {
    /// The host refused the request before connecting (`HttpRequestDenied`).
    Denied,
    /// The host cut the response body at its limit (`HttpResponseBodySize`).
    BodyTooLarge(Option<u64>),
    /// Anything else, described.
    Other(String),
}

/// Classifies a response-body read error that came as text only: the host's
/// size limit (`... body size exceeds limit: N bytes`) or anything else (its
/// first line; the rest may be a host backtrace).
#[cfg_attr(
    not(target_family = "wasm"),
    allow(dead_code, reason = "used by the wasi:http transport")
)]
pub fn body_error(text: &str) -> FetchError {
    let first = text.lines().next().unwrap_or("").trim();
    if let Some(rest) = first
        .to_ascii_lowercase()
        .split("response body size exceeds limit")
        .nth(1)
    {
        let limit = rest
            .trim_start_matches(':')
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok());
        return FetchError::BodyTooLarge(limit);
    }
    FetchError::Other(format!("reading the response failed: {first}"))
}

/// Sends GET requests.
pub trait Transport {
    /// GETs `url`, reading at most `max_bytes` of the body (none for redirects).
    fn get(&mut self, url: &Url, max_bytes: usize) -> Result<Response, FetchError>;
}

/// The `Accept` header sent with every request.
const ACCEPT: &str = "text/html, application/xhtml+xml, application/json;q=0.9, \
                      text/plain;q=0.8, */*;q=0.5";
const USER_AGENT: &str = concat!("warden-fetch/", env!("CARGO_PKG_VERSION"));

/// `wasi:http` on the wasm target.
#[cfg(target_family = "wasm")]
pub use self::wasi_http::WasiHttp as Http;

/// Outside the sandbox there is no network to use.
#[cfg(not(target_family = "wasm"))]
#[derive(Debug)]
pub struct Http;

#[cfg(not(target_family = "wasm"))]
impl Transport for Http {
    fn get(&mut self, _url: &Url, _max_bytes: usize) -> Result<Response, FetchError> {
        let _ = (ACCEPT, USER_AGENT);
        Err(FetchError::Other(
            "HTTP is only available inside the Warden sandbox (wasm32-wasip2)".into(),
        ))
    }
}

#[cfg(target_family = "wasm")]
mod wasi_http {
    use wasip2::http::outgoing_handler;
    use wasip2::http::types::{
        ErrorCode, Fields, IncomingResponse, Method, OutgoingRequest, RequestOptions, Scheme,
        http_error_code,
    };
    use wasip2::io::streams::StreamError;

    use super::{ACCEPT, FetchError, Response, Transport, USER_AGENT};
    use crate::url::{self, Url};

    const SECOND_NS: u64 = 1_000_000_000;
    /// Largest single read from the body stream.
    const CHUNK: u64 = 64 * 1024;

    /// Requests through `wasi:http/outgoing-handler`.
    #[derive(Debug)]
    pub struct WasiHttp;

    impl Transport for WasiHttp {
        fn get(&mut self, url: &Url, max_bytes: usize) -> Result<Response, FetchError> {
            let response = send(url)?;
            let status = response.status();
            let headers = {
                let fields = response.headers();
                fields
                    .entries()
                    .into_iter()
                    .map(|(name, value)| {
                        (
                            name.to_ascii_lowercase(),
                            String::from_utf8_lossy(&value).into_owned(),
                        )
                    })
                    .collect()
            };
            let mut result = Response {
                status,
                headers,
                body: Vec::new(),
                truncated: false,
            };
            if result.redirect_location().is_none() {
                let (body, truncated) = read_body(&response, max_bytes)?;
                result.body = body;
                result.truncated = truncated;
            }
            Ok(result)
        }
    }

    fn send(url: &Url) -> Result<IncomingResponse, FetchError> {
        let bad = |what: &str| FetchError::Other(format!("cannot build the request: {what}"));
        let headers = Fields::from_list(&[
            ("user-agent".to_string(), USER_AGENT.as_bytes().to_vec()),
            ("accept".to_string(), ACCEPT.as_bytes().to_vec()),
        ])
        .map_err(|e| bad(&format!("{e:?}")))?;
        let request = OutgoingRequest::new(headers);
        request
            .set_method(&Method::Get)
            .map_err(|()| bad("method"))?;
        let scheme = match url.scheme {
            url::Scheme::Http => Scheme::Http,
            url::Scheme::Https => Scheme::Https,
        };
        request
            .set_scheme(Some(&scheme))
            .map_err(|()| bad("scheme"))?;
        request
            .set_authority(Some(&url.authority()))
            .map_err(|()| bad(&format!("invalid host {:?}", url.authority())))?;
        request
            .set_path_with_query(Some(&url.path_query))
            .map_err(|()| bad(&format!("invalid path {:?}", url.path_query)))?;
        let options = RequestOptions::new();
        // Best effort: a host may not support every timeout.
        let _ = options.set_connect_timeout(Some(10 * SECOND_NS));
        let _ = options.set_first_byte_timeout(Some(30 * SECOND_NS));
        let _ = options.set_between_bytes_timeout(Some(30 * SECOND_NS));

        let future = outgoing_handler::handle(request, Some(options)).map_err(from_code)?;
        future.subscribe().block();
        match future.get() {
            Some(Ok(Ok(response))) => Ok(response),
            Some(Ok(Err(code))) => Err(from_code(code)),
            Some(Err(())) => Err(FetchError::Other("the response was already taken".into())),
            None => Err(FetchError::Other("the response is not ready".into())),
        }
    }

    /// Reads up to `max_bytes` of the body; `true` when there was more.
    fn read_body(
        response: &IncomingResponse,
        max_bytes: usize,
    ) -> Result<(Vec<u8>, bool), FetchError> {
        let body = response
            .consume()
            .map_err(|()| FetchError::Other("the response body was already taken".into()))?;
        let stream = body
            .stream()
            .map_err(|()| FetchError::Other("the response body stream was already taken".into()))?;
        let mut buf = Vec::new();
        // One byte more than wanted tells whether the body was longer.
        let want = max_bytes as u64 + 1;
        while (buf.len() as u64) < want {
            let len = (want - buf.len() as u64).min(CHUNK);
            match stream.blocking_read(len) {
                Ok(chunk) => buf.extend_from_slice(&chunk),
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(error)) => {
                    return Err(match http_error_code(&error) {
                        Some(code) => from_code(code),
                        None => body_error(&error.to_debug_string()),
                    });
                }
            }
        }
        drop(stream);
        drop(body);
        let truncated = buf.len() > max_bytes;
        buf.truncate(max_bytes);
        Ok((buf, truncated))
    }

    /// A body error the host did not give an error code for. (wasmtime 48
    /// reports errors of the response body, its size limit included, only as
    /// text; the code is lost on the way.)
    fn body_error(text: &str) -> FetchError {
        super::body_error(text)
    }

    fn from_code(code: ErrorCode) -> FetchError {
        match code {
            ErrorCode::HttpRequestDenied => FetchError::Denied,
            ErrorCode::HttpResponseBodySize(limit) => FetchError::BodyTooLarge(limit),
            ErrorCode::DnsError(_) | ErrorCode::DestinationNotFound => {
                FetchError::Other("the host name could not be resolved".into())
            }
            ErrorCode::ConnectionRefused => FetchError::Other("the connection was refused".into()),
            ErrorCode::ConnectionTimeout | ErrorCode::DnsTimeout => {
                FetchError::Other("connecting timed out".into())
            }
            ErrorCode::ConnectionReadTimeout | ErrorCode::HttpResponseTimeout => {
                FetchError::Other("the server did not answer in time".into())
            }
            ErrorCode::TlsCertificateError => {
                FetchError::Other("the server's TLS certificate is not valid".into())
            }
            ErrorCode::InternalError(Some(message)) => FetchError::Other(message),
            other => FetchError::Other(format!("the request failed: {other:?}")),
        }
    }
}
