//! Brokered credentials: a secret the plugin may *use* on one origin but
//! never read.
//!
//! ```toml
//! [capabilities]
//! http = ["https://api.github.com"]
//! credentials = [
//!     { name = "GITHUB_TOKEN", origin = "https://api.github.com", header = "authorization", format = "Bearer {}" },
//! ]
//! ```
//!
//! The manifest names the credential, the one origin it goes to, the header
//! that carries it and how its value is written (`{}` is the value); the
//! operator supplies the value (`[plugins.NAME] credentials`). Warden adds
//! the header to the plugin's requests for that origin after the policy
//! check; the guest never holds the value.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{EnvVarName, FieldError, HttpOrigin};
use crate::policy::grants::covers;

/// One credential a manifest requests. Recorded as written in the lock: a
/// change of origin, header or format is a new request that needs approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialRequest {
    /// The credential's name; the operator supplies its value under it.
    pub name: EnvVarName,
    /// The one origin whose requests carry it (never a wildcard).
    pub origin: HttpOrigin,
    /// The request header that carries it, lower case.
    pub header: CredentialHeader,
    /// How the header's value is written: `{}` stands for the credential.
    pub format: CredentialFormat,
}

impl fmt::Display for CredentialRequest {
    /// `GITHUB_TOKEN for https://api.github.com in authorization: "Bearer {}"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} for {} in {}: {:?}",
            self.name, self.origin, self.header, self.format.0
        )
    }
}

/// A request header a credential may be sent in: a valid header name, lower
/// case, that does not frame or route the request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CredentialHeader(String);

/// Headers that frame, route or upgrade a request; a credential never
/// replaces them.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
    "expect",
    "proxy-connection",
    "http2-settings",
];

impl CredentialHeader {
    /// The header's name, lower case.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The header's name for `http`.
    pub fn name(&self) -> http::HeaderName {
        http::HeaderName::from_bytes(self.0.as_bytes()).expect("checked when parsed")
    }
}

impl TryFrom<String> for CredentialHeader {
    type Error = String;

    fn try_from(value: String) -> Result<Self, String> {
        let name = http::HeaderName::from_bytes(value.as_bytes())
            .map_err(|_| format!("{value:?} is not a valid HTTP header name"))?;
        if RESERVED_HEADERS.contains(&name.as_str()) {
            return Err(format!(
                "{value:?} frames or routes the request; a credential cannot be sent in it"
            ));
        }
        Ok(Self(name.as_str().to_owned()))
    }
}

impl From<CredentialHeader> for String {
    fn from(header: CredentialHeader) -> String {
        header.0
    }
}

impl fmt::Display for CredentialHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

/// How a credential's header value is written: visible ASCII and spaces
/// around exactly one `{}`, at most [`CredentialFormat::MAX_LEN`] bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CredentialFormat(String);

impl CredentialFormat {
    /// The longest format.
    pub const MAX_LEN: usize = 256;

    /// The value alone: `{}`.
    pub fn bare() -> Self {
        Self("{}".into())
    }

    /// The header value for `secret`.
    pub fn render(&self, secret: &str) -> String {
        self.0.replacen("{}", secret, 1)
    }
}

impl TryFrom<String> for CredentialFormat {
    type Error = String;

    fn try_from(value: String) -> Result<Self, String> {
        if value.len() > Self::MAX_LEN {
            return Err(format!("a format is at most {} bytes", Self::MAX_LEN));
        }
        if value.matches("{}").count() != 1 {
            return Err(format!(
                "{value:?} must hold `{{}}` exactly once, where the credential goes"
            ));
        }
        if let Some(bad) = value.chars().find(|c| !(c.is_ascii_graphic() || *c == ' ')) {
            return Err(format!(
                "{bad:?} cannot be in a header value: use visible ASCII and spaces"
            ));
        }
        Ok(Self(value))
    }
}

impl From<CredentialFormat> for String {
    fn from(format: CredentialFormat) -> String {
        format.0
    }
}

/// One `capabilities.credentials` entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCredential {
    name: String,
    origin: String,
    header: String,
    format: Option<String>,
}

/// Checks `capabilities.credentials` against the manifest's `http` origins:
/// each names a valid variable-style name once, one exact origin that an
/// `http` entry covers, a header it may go in (each origin and header at
/// most once) and a format. The error names the field.
pub(super) fn validate(
    raw: Vec<RawCredential>,
    http: &[HttpOrigin],
) -> Result<Vec<CredentialRequest>, (String, FieldError)> {
    let mut out: Vec<CredentialRequest> = Vec::with_capacity(raw.len());
    for (i, entry) in raw.into_iter().enumerate() {
        let field = |key: &str| format!("capabilities.credentials[{i}].{key}");
        let wrong = |key: &str, reason: String| (field(key), FieldError::Credential(reason));
        let name: EnvVarName = entry
            .name
            .parse()
            .map_err(|e: super::EnvVarNameError| (field("name"), e.into()))?;
        if let Some(first) = out.iter().position(|c| c.name == name) {
            return Err(wrong(
                "name",
                format!("{name} is listed twice (first at capabilities.credentials[{first}])"),
            ));
        }
        let origin: HttpOrigin = entry
            .origin
            .parse()
            .map_err(|e: super::HttpOriginError| (field("origin"), e.into()))?;
        if origin.is_wildcard() {
            return Err(wrong(
                "origin",
                format!(
                    "{origin} is a wildcard; a credential goes to exactly one origin, so name it"
                ),
            ));
        }
        if !http.iter().any(|h| covers(h, &origin)) {
            return Err(wrong(
                "origin",
                format!("{origin} is not in capabilities.http; request the origin too"),
            ));
        }
        let header = CredentialHeader::try_from(entry.header).map_err(|e| wrong("header", e))?;
        if let Some(first) = out
            .iter()
            .position(|c| c.origin == origin && c.header == header)
        {
            return Err(wrong(
                "header",
                format!(
                    "{origin} already gets a credential in {header} \
                     (capabilities.credentials[{first}])"
                ),
            ));
        }
        let format = match entry.format {
            Some(format) => CredentialFormat::try_from(format).map_err(|e| wrong("format", e))?,
            None => CredentialFormat::bare(),
        };
        out.push(CredentialRequest {
            name,
            origin,
            header,
            format,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::policy::manifest::Manifest;

    fn parse(credentials: &str) -> Result<Manifest, String> {
        let text = format!(
            "manifest_version = 1\n[capabilities]\n\
             http = [\"https://api.example.com\", \"https://*.example.org\"]\n\
             credentials = [{credentials}]\n"
        );
        Manifest::parse(&text, Path::new("p.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn a_credential_names_one_requested_origin_and_a_header() {
        let manifest = parse(
            r#"{ name = "TOKEN", origin = "https://api.example.com", header = "Authorization", format = "Bearer {}" },
               { name = "KEY", origin = "https://a.example.org", header = "x-api-key" }"#,
        )
        .unwrap();
        let credentials = &manifest.capabilities.credentials;
        assert_eq!(credentials.len(), 2);
        assert_eq!(credentials[0].header.as_str(), "authorization");
        assert_eq!(credentials[0].format.render("s3cr3t"), "Bearer s3cr3t");
        assert_eq!(credentials[1].format.render("k"), "k");
        assert_eq!(
            credentials[0].to_string(),
            "TOKEN for https://api.example.com in authorization: \"Bearer {}\""
        );
    }

    #[test]
    fn bad_credentials_name_the_field_and_the_fix() {
        for (entry, expected) in [
            (
                r#"{ name = "T", origin = "https://*.example.org", header = "authorization" }"#,
                "capabilities.credentials[0].origin: https://*.example.org is a wildcard",
            ),
            (
                r#"{ name = "T", origin = "https://other.example.com", header = "authorization" }"#,
                "is not in capabilities.http; request the origin too",
            ),
            (
                r#"{ name = "T", origin = "https://api.example.com", header = "host" }"#,
                "capabilities.credentials[0].header: \"host\" frames or routes the request",
            ),
            (
                r#"{ name = "T", origin = "https://api.example.com", header = "bad header" }"#,
                "is not a valid HTTP header name",
            ),
            (
                r#"{ name = "T", origin = "https://api.example.com", header = "a", format = "Bearer" }"#,
                "must hold `{}` exactly once",
            ),
            (
                r#"{ name = "T", origin = "https://api.example.com", header = "a", format = "{} {}" }"#,
                "must hold `{}` exactly once",
            ),
            (
                r#"{ name = "T", origin = "https://api.example.com", header = "a", format = "{}\r\nx: y" }"#,
                "cannot be in a header value",
            ),
            (
                r#"{ name = "1T", origin = "https://api.example.com", header = "a" }"#,
                "capabilities.credentials[0].name",
            ),
            (
                r#"{ name = "T", origin = "https://api.example.com", header = "a" },
                   { name = "T", origin = "https://api.example.com", header = "b" }"#,
                "capabilities.credentials[1].name: T is listed twice",
            ),
            (
                r#"{ name = "T", origin = "https://api.example.com", header = "a" },
                   { name = "U", origin = "https://api.example.com:443", header = "A" }"#,
                "capabilities.credentials[1].header: https://api.example.com already gets a credential in a",
            ),
            (
                r#"{ name = "T", origin = "https://api.example.com", header = "a", value = "x" }"#,
                "unknown field `value`",
            ),
        ] {
            let error = parse(entry).unwrap_err();
            assert!(error.contains(expected), "{entry}: {error}");
        }
    }
}
