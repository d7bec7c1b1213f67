//! `[http]` in `warden.toml`: the Streamable HTTP transport's settings.
//!
//! ```toml
//! [http]
//! addr = "127.0.0.1:8750"            # default; `warden serve --http [ADDR]` overrides
//! auth = "bearer"                    # "oauth": access tokens from an issuer (`[auth]`,
//!                                    # see `oauth::settings`); "off": only on loopback
//! token_env = "WARDEN_HTTP_TOKEN"    # default; the variable holding the token
//! token = "..."                      # discouraged: prefer token_env
//! allowed_origins = ["https://app.example.com"] # default []: any Origin header is refused
//! allowed_hosts = ["mcp.example.com"] # Host check; default: loopback names on a loopback bind
//! max_body = "4MiB"                  # default
//! shutdown_timeout = "30s"           # in-flight calls get this long after SIGTERM
//! drain_delay = "0s"                 # after SIGTERM, /readyz says 503 but requests are
//!                                    # still served this long (load balancers notice first)
//! replica_id = "warden-0"            # put in every session id, so a proxy can route
//!                                    # 2025-11-25 sessions; --replica-id / WARDEN_REPLICA_ID
//! header_timeout = "10s"             # to send a complete request head
//! idle_timeout = "60s"               # a kept-alive connection may wait for its next request
//! max_connections = 1024             # open connections, all clients together
//! max_connections_per_client = 128   # open connections per client IP
//! max_header_size = "32KiB"          # request line and headers; more gets 431
//! [http.rate_limit]                  # per client IP
//! per_second = 50                    # default; 0 turns the limit off
//! burst = 100                        # default: twice per_second
//! ```

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::http::oauth::settings::{OAuthSettings, RawAuth};
use crate::input::settings::{ConfigError, at_least_one, duration, invalid, size};
use crate::limits::ByteSize;
use crate::policy::grants::Secret;

/// The default HTTP address.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8750";
/// The default variable holding the bearer token.
pub const DEFAULT_TOKEN_ENV: &str = "WARDEN_HTTP_TOKEN";

/// `[http]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSettings {
    /// Where to listen.
    pub addr: SocketAddr,
    /// Whether requests need the bearer token.
    pub auth: AuthMode,
    /// The variable the token is read from (it wins over `token`).
    pub token_env: String,
    /// The token written in the config, if any.
    pub token: Option<Secret>,
    /// Browser origins allowed to call; any other `Origin` header gets 403.
    pub allowed_origins: Vec<String>,
    /// Accepted `Host` values; `None`: loopback names on a loopback bind,
    /// any host otherwise.
    pub allowed_hosts: Option<Vec<String>>,
    /// Largest accepted request body.
    pub max_body: ByteSize,
    /// How long in-flight requests may run after a shutdown signal.
    pub shutdown_timeout: Duration,
    /// How long, after a shutdown signal, `/readyz` reports draining while
    /// new requests are still served, before they are refused.
    pub drain_delay: Duration,
    /// This replica's name, the prefix of every session id it opens.
    pub replica_id: Option<ReplicaId>,
    /// Per-client rate limit; `None`: off.
    pub rate_limit: Option<RateLimit>,
    /// Connections before and between requests: timeouts and caps.
    pub connections: ConnectionLimits,
    /// `[auth]`: the OAuth resource server, when `auth = "oauth"`.
    pub oauth: Option<OAuthSettings>,
}

/// What a connection may hold before and between its requests, whoever
/// sends them (these apply before any token is checked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Time to send a complete request head: from the connection's opening,
    /// or from the first byte of a later request on a kept-alive connection.
    pub header_timeout: Duration,
    /// Time a kept-alive connection may wait for its next request.
    pub idle_timeout: Duration,
    /// Open connections, all clients together; more are refused.
    pub max_connections: u32,
    /// Open connections per client IP; more are refused.
    pub max_connections_per_client: u32,
    /// Largest request line and headers, in bytes; more gets 431.
    pub max_header_size: ByteSize,
}

/// The smallest header size cap (hyper's minimum read buffer).
pub const MIN_HEADER_SIZE: u64 = 8 << 10;

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
            max_connections_per_client: 128,
            max_header_size: ByteSize(32 << 10),
        }
    }
}

/// Whether HTTP requests need a bearer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// `Authorization: Bearer TOKEN` on every MCP and metrics request.
    Bearer,
    /// OAuth 2.1 access tokens (JWTs) from the issuer in `[auth]`.
    #[serde(rename = "oauth")]
    OAuth,
    /// No token; refused unless the address is loopback.
    Off,
}

/// A token bucket per client IP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub per_second: u32,
    /// Requests allowed in a burst.
    pub burst: u32,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            addr: DEFAULT_ADDR.parse().expect("valid default address"),
            auth: AuthMode::Bearer,
            token_env: DEFAULT_TOKEN_ENV.into(),
            token: None,
            allowed_origins: Vec::new(),
            allowed_hosts: None,
            max_body: ByteSize(4 << 20),
            shutdown_timeout: Duration::from_secs(30),
            drain_delay: Duration::ZERO,
            replica_id: None,
            rate_limit: Some(RateLimit {
                per_second: 50,
                burst: 100,
            }),
            connections: ConnectionLimits::default(),
            oauth: None,
        }
    }
}

/// `[http]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHttp {
    addr: Option<String>,
    auth: Option<AuthMode>,
    token_env: Option<String>,
    token: Option<String>,
    allowed_origins: Option<Vec<String>>,
    allowed_hosts: Option<Vec<String>>,
    max_body: Option<toml::Value>,
    shutdown_timeout: Option<toml::Value>,
    drain_delay: Option<toml::Value>,
    replica_id: Option<String>,
    rate_limit: Option<RawRateLimit>,
    header_timeout: Option<toml::Value>,
    idle_timeout: Option<toml::Value>,
    max_connections: Option<u32>,
    max_connections_per_client: Option<u32>,
    max_header_size: Option<toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRateLimit {
    per_second: u32,
    burst: Option<u32>,
}

impl RawHttp {
    /// Validates `[http]` with `[auth]`; `path` is the config file.
    pub(crate) fn validate(
        self,
        auth: Option<RawAuth>,
        path: &Path,
    ) -> Result<HttpSettings, ConfigError> {
        let defaults = HttpSettings::default();
        let mode = self.auth.unwrap_or(defaults.auth);
        let oauth = match (mode, auth) {
            (AuthMode::OAuth, auth) => Some(auth.unwrap_or_default().validate(path)?),
            (_, None) => None,
            (_, Some(_)) => {
                return Err(invalid(
                    path,
                    "auth",
                    "[auth]".into(),
                    "[auth] configures OAuth access tokens: set http.auth = \"oauth\" to use it",
                ));
            }
        };
        let connections = self.connection_limits(path)?;
        let addr = match &self.addr {
            None => defaults.addr,
            Some(text) => parse_addr(text)
                .map_err(|reason| invalid(path, "http.addr", format!("{text:?}"), reason))?,
        };
        let token_env = match self.token_env {
            None => defaults.token_env,
            Some(name) => {
                if name.parse::<crate::policy::manifest::EnvVarName>().is_err() {
                    return Err(invalid(
                        path,
                        "http.token_env",
                        format!("{name:?}"),
                        "expected an environment variable name such as WARDEN_HTTP_TOKEN",
                    ));
                }
                name
            }
        };
        let token = match self.token {
            Some(token) if token.trim().is_empty() => {
                return Err(invalid(
                    path,
                    "http.token",
                    "(value not shown)".into(),
                    "the token is empty",
                ));
            }
            other => other.map(Secret::new),
        };
        let allowed_origins = self.allowed_origins.unwrap_or_default();
        for origin in &allowed_origins {
            if origin != "null" && !origin.contains("://") {
                return Err(invalid(
                    path,
                    "http.allowed_origins",
                    format!("{origin:?}"),
                    "expected an origin with a scheme, such as \"https://app.example.com\" or \"http://localhost:*\"",
                ));
            }
        }
        let max_body = match &self.max_body {
            None => defaults.max_body,
            Some(value) => size(path, "http.max_body", value)?,
        };
        let shutdown_timeout = match &self.shutdown_timeout {
            None => defaults.shutdown_timeout,
            Some(value) => duration(path, "http.shutdown_timeout", value)?,
        };
        let drain_delay = match &self.drain_delay {
            None => defaults.drain_delay,
            Some(value) => duration(path, "http.drain_delay", value)?,
        };
        let replica_id =
            match self.replica_id {
                None => None,
                Some(text) => Some(text.parse().map_err(|reason| {
                    invalid(path, "http.replica_id", format!("{text:?}"), reason)
                })?),
            };
        let rate_limit = match self.rate_limit {
            None => defaults.rate_limit,
            Some(RawRateLimit { per_second: 0, .. }) => None,
            Some(RawRateLimit { per_second, burst }) => {
                let burst = burst.unwrap_or(per_second.saturating_mul(2));
                if burst == 0 {
                    return Err(invalid(
                        path,
                        "http.rate_limit.burst",
                        "0".into(),
                        "expected at least 1 (set per_second = 0 to turn the limit off)",
                    ));
                }
                Some(RateLimit { per_second, burst })
            }
        };
        Ok(HttpSettings {
            addr,
            auth: mode,
            token_env,
            token,
            allowed_origins,
            allowed_hosts: self.allowed_hosts,
            max_body,
            shutdown_timeout,
            drain_delay,
            replica_id,
            rate_limit,
            connections,
            oauth,
        })
    }

    fn connection_limits(&self, path: &Path) -> Result<ConnectionLimits, ConfigError> {
        let defaults = ConnectionLimits::default();
        let positive = |field: &str, value: &toml::Value| {
            let d = duration(path, field, value)?;
            if d.is_zero() {
                return Err(invalid(
                    path,
                    field,
                    format!("{value}"),
                    "expected more than 0 s",
                ));
            }
            Ok(d)
        };
        let max_header_size = match &self.max_header_size {
            None => defaults.max_header_size,
            Some(value) => {
                let size = size(path, "http.max_header_size", value)?;
                if size.0 < MIN_HEADER_SIZE {
                    return Err(invalid(
                        path,
                        "http.max_header_size",
                        format!("{value}"),
                        "expected at least 8KiB",
                    ));
                }
                size
            }
        };
        Ok(ConnectionLimits {
            header_timeout: match &self.header_timeout {
                None => defaults.header_timeout,
                Some(value) => positive("http.header_timeout", value)?,
            },
            idle_timeout: match &self.idle_timeout {
                None => defaults.idle_timeout,
                Some(value) => positive("http.idle_timeout", value)?,
            },
            max_connections: match self.max_connections {
                None => defaults.max_connections,
                Some(n) => at_least_one(path, "http.max_connections", n)?,
            },
            max_connections_per_client: match self.max_connections_per_client {
                None => defaults.max_connections_per_client,
                Some(n) => at_least_one(path, "http.max_connections_per_client", n)?,
            },
            max_header_size,
        })
    }
}

/// A replica's name: 1 to 63 ASCII letters, digits, `-` and `_` (a
/// Kubernetes pod name fits), so it can lead a session id, end at its `.`,
/// and be matched by a proxy's routing rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaId(String);

impl ReplicaId {
    /// The name as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for ReplicaId {
    type Err = &'static str;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if text.is_empty() || text.len() > 63 || !text.chars().all(allowed) {
            return Err("expected 1 to 63 ASCII letters, digits, '-' or '_', such as \"warden-0\"");
        }
        Ok(Self(text.to_owned()))
    }
}

/// Parses `IP:PORT` (`[::1]:8750` for IPv6) or `localhost:PORT`.
pub fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    if let Some(port) = text.strip_prefix("localhost:") {
        let port: u16 = port.parse().map_err(|_| format!("invalid port `{port}`"))?;
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    text.parse()
        .map_err(|_| "expected IP:PORT, such as \"127.0.0.1:8750\" or \"[::1]:8750\"".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(text: &str) -> Result<HttpSettings, String> {
        let raw: RawHttp = toml::from_str(text).map_err(|e| e.to_string())?;
        raw.validate(None, Path::new("etc/warden.toml"))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn http_defaults() {
        let h = http("").unwrap();
        assert_eq!(h, HttpSettings::default());
        assert!(h.addr.ip().is_loopback());
    }

    #[test]
    fn http_keys() {
        let h = http(
            r#"
            addr = "[::1]:9000"
            auth = "off"
            token_env = "MY_TOKEN"
            allowed_origins = ["https://app.example.com"]
            max_body = "1MiB"
            shutdown_timeout = "5s"
            rate_limit = { per_second = 0 }
            "#,
        )
        .unwrap();
        assert_eq!(h.addr.to_string(), "[::1]:9000");
        assert_eq!(h.auth, AuthMode::Off);
        assert_eq!(h.token_env, "MY_TOKEN");
        assert_eq!(h.max_body, ByteSize(1 << 20));
        assert_eq!(h.shutdown_timeout, Duration::from_secs(5));
        assert_eq!(h.rate_limit, None);
        assert_eq!(
            http("rate_limit = { per_second = 3 }").unwrap().rate_limit,
            Some(RateLimit {
                per_second: 3,
                burst: 6
            })
        );
    }

    #[test]
    fn connection_limits() {
        let c = http(
            r#"
            header_timeout = "2s"
            idle_timeout = "500ms"
            max_connections = 10
            max_connections_per_client = 3
            max_header_size = "16KiB"
            "#,
        )
        .unwrap()
        .connections;
        assert_eq!(c.header_timeout, Duration::from_secs(2));
        assert_eq!(c.idle_timeout, Duration::from_millis(500));
        assert_eq!((c.max_connections, c.max_connections_per_client), (10, 3));
        assert_eq!(c.max_header_size, ByteSize(16 << 10));
        assert_eq!(
            http("max_header_size = \"1KiB\"").unwrap_err(),
            "etc/warden.toml: http.max_header_size: invalid value \"1KiB\": expected at least 8KiB"
        );
        assert_eq!(
            http("max_connections = 0").unwrap_err(),
            "etc/warden.toml: http.max_connections: invalid value 0: expected at least 1"
        );
        assert!(http("idle_timeout = \"0s\"").is_err());
    }

    #[test]
    fn replicas() {
        let h = http("drain_delay = \"2s\"\nreplica_id = \"warden-7f9c_b\"").unwrap();
        assert_eq!(h.drain_delay, Duration::from_secs(2));
        assert_eq!(h.replica_id.unwrap().as_str(), "warden-7f9c_b");
        for bad in ["", "a.b", "pod 1", "é", &"x".repeat(64)] {
            let e = http(&format!("replica_id = {bad:?}")).unwrap_err();
            assert!(
                e.starts_with("etc/warden.toml: http.replica_id: invalid value"),
                "{e}"
            );
        }
    }

    #[test]
    fn token_is_never_shown() {
        let h = http("token = \"s3cret\"").unwrap();
        assert!(!format!("{h:?}").contains("s3cret"));
        let e = http("token = \"  \"").unwrap_err();
        assert_eq!(
            e,
            "etc/warden.toml: http.token: invalid value (value not shown): the token is empty"
        );
    }

    #[test]
    fn bad_http_values_name_the_field() {
        assert_eq!(
            http("addr = \"example.com\"").unwrap_err(),
            "etc/warden.toml: http.addr: invalid value \"example.com\": expected IP:PORT, such as \"127.0.0.1:8750\" or \"[::1]:8750\""
        );
        assert_eq!(
            http("allowed_origins = [\"app.example.com\"]").unwrap_err(),
            "etc/warden.toml: http.allowed_origins: invalid value \"app.example.com\": expected an origin with a scheme, such as \"https://app.example.com\" or \"http://localhost:*\""
        );
        assert!(
            http("auth = \"maybe\"")
                .unwrap_err()
                .contains("unknown variant")
        );
    }
}
