//! Typed capability requests: HTTP origins, environment variables,
//! directories, client features.
//!
//! These are what a plugin *asks* for; the operator decides what is granted
//! and the sandbox enforces it. Everything is parsed and checked here, at
//! load time, so later stages never see a raw string.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::{CredentialRequest, DirGrant, HttpOrigin};

/// The capabilities a plugin requests (`[capabilities]`). Empty by default:
/// a plugin without a manifest gets no network, no variables, no directories.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    /// HTTP origins the plugin may send requests to.
    pub http: Vec<HttpOrigin>,
    /// Environment variables the plugin may read.
    pub env: Vec<EnvVarName>,
    /// Directories the plugin may open.
    pub dirs: Vec<DirGrant>,
    /// Features of the MCP client the plugin may use (`client`), sorted.
    pub client: Vec<ClientFeature>,
    /// Credentials Warden adds to requests for one origin
    /// (`credentials`); the plugin never sees their values.
    pub credentials: Vec<CredentialRequest>,
    /// `http_max_requests`: outgoing requests per call, if not the default.
    pub http_max_requests: Option<u32>,
    /// `http_max_response`: bytes per response body, if not the default.
    pub http_max_response: Option<u64>,
}

/// The highest `http_max_requests` a manifest or the operator may set.
pub const MAX_HTTP_REQUESTS: u32 = 1024;
/// The highest `http_max_response` a manifest or the operator may set: 64 MiB.
pub const MAX_HTTP_RESPONSE: u64 = 64 << 20;

impl Capabilities {
    /// Whether nothing is requested.
    pub fn is_empty(&self) -> bool {
        self.http.is_empty()
            && self.env.is_empty()
            && self.dirs.is_empty()
            && self.client.is_empty()
            && self.credentials.is_empty()
    }
}

/// A feature of the MCP client a plugin may use through the world's
/// `client` import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientFeature {
    /// Asking the client's model for a completion.
    Sampling,
    /// Asking the person for input.
    Elicitation,
    /// Listing the client's roots.
    Roots,
}

impl ClientFeature {
    /// Every feature, in order.
    pub const ALL: [ClientFeature; 3] = [
        ClientFeature::Sampling,
        ClientFeature::Elicitation,
        ClientFeature::Roots,
    ];

    /// The name used in manifests, the lock and `warden.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientFeature::Sampling => "sampling",
            ClientFeature::Elicitation => "elicitation",
            ClientFeature::Roots => "roots",
        }
    }
}

impl fmt::Display for ClientFeature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for ClientFeature {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ClientFeature::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "{s:?} is not a client feature: use \"sampling\", \"elicitation\" or \"roots\""
                )
            })
    }
}

impl fmt::Display for Capabilities {
    /// One line for humans: `http https://api.example.com, https://*.github.com:8443;
    /// env API_TOKEN; dirs data -> /data (ro); client sampling`, or `none`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        fn list<T>(
            f: &mut fmt::Formatter<'_>,
            first: &mut bool,
            label: &str,
            items: &[T],
            item: impl Fn(&mut fmt::Formatter<'_>, &T) -> fmt::Result,
        ) -> fmt::Result {
            if items.is_empty() {
                return Ok(());
            }
            if !std::mem::take(first) {
                f.write_str("; ")?;
            }
            f.write_str(label)?;
            for (i, x) in items.iter().enumerate() {
                f.write_str(if i == 0 { " " } else { ", " })?;
                item(f, x)?;
            }
            Ok(())
        }
        let mut first = true;
        list(f, &mut first, "http", &self.http, |f, o| write!(f, "{o}"))?;
        list(f, &mut first, "env", &self.env, |f, v| write!(f, "{v}"))?;
        list(f, &mut first, "dirs", &self.dirs, |f, d| {
            write!(f, "{} -> {} ({})", d.host.display(), d.guest, d.mode)
        })?;
        list(f, &mut first, "client", &self.client, |f, c| {
            write!(f, "{c}")
        })?;
        list(f, &mut first, "credentials", &self.credentials, |f, c| {
            write!(f, "{c}")
        })
    }
}

/// An environment variable name: `^[A-Za-z_][A-Za-z0-9_]*$`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EnvVarName(String);

/// A string that is not a valid [`EnvVarName`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{value:?} is not a valid environment variable name: {reason}")]
pub struct EnvVarNameError {
    /// The rejected name.
    pub value: String,
    /// What is wrong with it.
    pub reason: String,
}

impl EnvVarName {
    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn check(name: &str) -> Result<(), String> {
        let Some(first) = name.chars().next() else {
            return Err("a variable name cannot be empty".into());
        };
        if let Some(bad) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '_'))
        {
            return Err(format!(
                "{bad:?} is not allowed: use letters, digits and '_'"
            ));
        }
        if first.is_ascii_digit() {
            return Err("a variable name cannot start with a digit".into());
        }
        Ok(())
    }
}

impl TryFrom<String> for EnvVarName {
    type Error = EnvVarNameError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        match EnvVarName::check(&value) {
            Ok(()) => Ok(EnvVarName(value)),
            Err(reason) => Err(EnvVarNameError { value, reason }),
        }
    }
}

impl FromStr for EnvVarName {
    type Err = EnvVarNameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EnvVarName::try_from(s.to_owned())
    }
}

impl From<EnvVarName> for String {
    fn from(name: EnvVarName) -> String {
        name.0
    }
}

impl AsRef<str> for EnvVarName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EnvVarName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

/// Checks an `http_max_requests` value: an integer from 1 to [`MAX_HTTP_REQUESTS`].
pub(crate) fn check_http_requests(value: &toml::Value) -> Result<u32, String> {
    value
        .as_integer()
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| (1..=MAX_HTTP_REQUESTS).contains(n))
        .ok_or_else(|| format!("expected an integer from 1 to {MAX_HTTP_REQUESTS}"))
}

/// Checks an `http_max_response` value: a size such as `"1MiB"`, at most
/// [`MAX_HTTP_RESPONSE`].
pub(crate) fn check_http_response(value: &toml::Value) -> Result<u64, String> {
    let bytes = crate::limits::parse_size_value(value).map_err(|e| e.to_string())?;
    if bytes > MAX_HTTP_RESPONSE {
        return Err(format!(
            "at most {} is allowed",
            crate::limits::ByteSize(MAX_HTTP_RESPONSE)
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::manifest::DirMode;

    fn origin(s: &str) -> HttpOrigin {
        s.parse().unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    #[test]
    fn env_var_names() {
        for ok in ["API_TOKEN", "_", "_x", "path", "A1", "a_B_9"] {
            assert_eq!(ok.parse::<EnvVarName>().expect(ok).as_str(), ok);
        }
        for (bad, reason) in [
            ("", "a variable name cannot be empty"),
            ("1ABC", "a variable name cannot start with a digit"),
            (
                "API-TOKEN",
                "'-' is not allowed: use letters, digits and '_'",
            ),
            (
                "API TOKEN",
                "' ' is not allowed: use letters, digits and '_'",
            ),
            ("A=B", "'=' is not allowed: use letters, digits and '_'"),
            ("ÄPI", "'Ä' is not allowed: use letters, digits and '_'"),
        ] {
            assert_eq!(
                bad.parse::<EnvVarName>().unwrap_err().reason,
                reason,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn capabilities_display_on_one_line() {
        assert_eq!(Capabilities::default().to_string(), "none");
        let caps = Capabilities {
            http: vec![
                origin("https://api.example.com"),
                origin("https://*.github.com:8443"),
            ],
            env: vec!["API_TOKEN".parse().unwrap()],
            dirs: vec![DirGrant {
                host: "data".into(),
                guest: "/data".parse().unwrap(),
                mode: DirMode::ReadOnly,
            }],
            client: vec![ClientFeature::Sampling, ClientFeature::Roots],
            ..Capabilities::default()
        };
        assert_eq!(
            caps.to_string(),
            "http https://api.example.com, https://*.github.com:8443; env API_TOKEN; dirs data -> /data (ro); client sampling, roots"
        );
        for feature in ClientFeature::ALL {
            assert_eq!(feature.as_str().parse::<ClientFeature>(), Ok(feature));
        }
        assert!("logging".parse::<ClientFeature>().is_err());
        let env_only = Capabilities {
            env: vec!["A".parse().unwrap(), "B".parse().unwrap()],
            ..Capabilities::default()
        };
        assert_eq!(env_only.to_string(), "env A, B");
    }
}
