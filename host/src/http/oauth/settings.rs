//! `[auth]` in `warden.toml`: the OAuth 2.1 resource server's settings,
//! used when `[http] auth = "oauth"`.
//!
//! ```toml
//! [http]
//! auth = "oauth"
//!
//! [auth]
//! issuer = "https://id.example.com/realms/team"  # the authorization server
//! resource = "https://warden.example.com/mcp"    # this server's URL: the tokens' audience
//! jwks_uri = "https://id.example.com/keys"       # default: from the issuer's metadata
//! algorithms = ["RS256", "ES256"]                # default: RS256, PS256, ES256, EdDSA
//! leeway = "30s"                                 # clock skew allowed on exp and nbf
//! principal_claim = "sub"                        # names the principal in audit and spans
//! metrics_claim = "client_id"                    # metrics label; default a short hash
//! max_principal_labels = 100                     # distinct metrics labels, then "other"
//! jwks_refresh = "10m"                           # keys are fetched again this often
//! scopes_supported = ["warden:read"]             # advertised; default the rules' scopes
//!
//! [[auth.rules]]                                 # see `policy::access`
//! scope = "warden:read"
//! list = ["*"]
//! call = ["*"]
//! calls_per_minute = 60
//! ```

use std::path::Path;
use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde::Deserialize;
use url::Url;

use crate::input::settings::{ConfigError, at_least_one, duration, invalid};
use crate::policy::access::{AccessRules, RawAccessRule, validate_rules};

/// `[auth]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthSettings {
    /// The authorization server that issues the tokens (`iss`).
    pub issuer: Identifier,
    /// This server's resource URL: what tokens must name in `aud`.
    pub resource: Identifier,
    /// Where the signing keys are; `None`: from the issuer's metadata.
    pub jwks_uri: Option<Url>,
    /// Accepted signature algorithms (asymmetric only).
    pub algorithms: Vec<Algorithm>,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway: Duration,
    /// The claim that names a principal.
    pub principal_claim: String,
    /// The claim whose value labels a principal's metrics; `None`: a hash.
    pub metrics_claim: Option<String>,
    /// Distinct principal labels in metrics before the rest are `other`.
    pub max_principal_labels: u32,
    /// How often the keys are fetched again.
    pub jwks_refresh: Duration,
    /// Scopes advertised in the protected resource metadata.
    pub scopes_supported: Vec<String>,
    /// What each principal may list and call.
    pub rules: AccessRules,
}

/// A URL that names something (an issuer, a resource): compared exactly as
/// written, as `iss` and `aud` are, and parsed for fetching and paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identifier {
    written: String,
    url: Url,
}

impl Identifier {
    /// As written in the config.
    pub fn as_str(&self) -> &str {
        &self.written
    }

    /// Parsed.
    pub fn url(&self) -> &Url {
        &self.url
    }
}

impl std::fmt::Display for Identifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.written)
    }
}

/// Algorithms accepted when none are configured.
const DEFAULT_ALGORITHMS: [Algorithm; 4] = [
    Algorithm::RS256,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::EdDSA,
];

/// `[auth]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAuth {
    issuer: Option<String>,
    resource: Option<String>,
    jwks_uri: Option<String>,
    algorithms: Option<Vec<String>>,
    leeway: Option<toml::Value>,
    principal_claim: Option<String>,
    metrics_claim: Option<String>,
    max_principal_labels: Option<u32>,
    jwks_refresh: Option<toml::Value>,
    scopes_supported: Option<Vec<String>>,
    #[serde(default)]
    rules: Vec<RawAccessRule>,
}

impl RawAuth {
    /// Validates `[auth]`; `path` is the config file.
    pub(crate) fn validate(self, path: &Path) -> Result<OAuthSettings, ConfigError> {
        let required = |field: &str, value: Option<String>| {
            value.ok_or_else(|| {
                invalid(
                    path,
                    field,
                    "(missing)".into(),
                    "http.auth = \"oauth\" needs auth.issuer (the authorization server) and \
                     auth.resource (this server's URL, such as \"https://warden.example.com/mcp\")",
                )
            })
        };
        let identifier = |field: &str, written: String| {
            endpoint(path, field, &written).map(|url| Identifier { written, url })
        };
        let issuer = identifier("auth.issuer", required("auth.issuer", self.issuer)?)?;
        let resource = identifier("auth.resource", required("auth.resource", self.resource)?)?;
        if resource.url.fragment().is_some() {
            return Err(invalid(
                path,
                "auth.resource",
                format!("{:?}", resource.as_str()),
                "a resource URL has no fragment (RFC 8707)",
            ));
        }
        let jwks_uri = self
            .jwks_uri
            .map(|uri| endpoint(path, "auth.jwks_uri", &uri))
            .transpose()?;
        let algorithms = match self.algorithms {
            None => DEFAULT_ALGORITHMS.to_vec(),
            Some(names) if names.is_empty() => {
                return Err(invalid(
                    path,
                    "auth.algorithms",
                    "[]".into(),
                    "name at least one algorithm, such as \"RS256\"",
                ));
            }
            Some(names) => names
                .iter()
                .map(|name| algorithm(path, name))
                .collect::<Result<_, _>>()?,
        };
        let leeway = match &self.leeway {
            None => Duration::from_secs(30),
            Some(value) => duration(path, "auth.leeway", value)?,
        };
        if leeway > Duration::from_secs(300) {
            return Err(invalid(
                path,
                "auth.leeway",
                format!("{leeway:?}"),
                "at most 5 minutes: leeway lets expired tokens in",
            ));
        }
        let jwks_refresh = match &self.jwks_refresh {
            None => Duration::from_secs(600),
            Some(value) => duration(path, "auth.jwks_refresh", value)?,
        };
        if jwks_refresh < Duration::from_secs(30) {
            return Err(invalid(
                path,
                "auth.jwks_refresh",
                format!("{jwks_refresh:?}"),
                "at least 30 s",
            ));
        }
        let rules = validate_rules(self.rules, path)?;
        let scopes_supported = self
            .scopes_supported
            .unwrap_or_else(|| rules.scopes().into_iter().map(str::to_owned).collect());
        Ok(OAuthSettings {
            issuer,
            resource,
            jwks_uri,
            algorithms,
            leeway,
            principal_claim: claim(path, "auth.principal_claim", self.principal_claim)?
                .unwrap_or_else(|| "sub".into()),
            metrics_claim: claim(path, "auth.metrics_claim", self.metrics_claim)?,
            max_principal_labels: at_least_one(
                path,
                "auth.max_principal_labels",
                self.max_principal_labels.unwrap_or(100),
            )?,
            jwks_refresh,
            scopes_supported,
            rules,
        })
    }
}

/// A URL the server fetches or names: `https`, or `http` on a loopback host
/// (an issuer on the same machine, or in tests).
fn endpoint(path: &Path, field: &str, text: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(text)
        .map_err(|e| invalid(path, field, format!("{text:?}"), format!("not a URL: {e}")))?;
    if fetchable(&url) {
        Ok(url)
    } else {
        Err(invalid(
            path,
            field,
            format!("{text:?}"),
            "expected an https:// URL (http:// only on a loopback host)",
        ))
    }
}

/// Whether Warden may fetch from `url`: `https`, or `http` on a loopback
/// host.
pub(super) fn fetchable(url: &Url) -> bool {
    let loopback = match url.host() {
        Some(url::Host::Domain(name)) => name == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    url.scheme() == "https" || (url.scheme() == "http" && loopback)
}

fn algorithm(path: &Path, name: &str) -> Result<Algorithm, ConfigError> {
    let algorithm: Algorithm = name.parse().map_err(|_| {
        invalid(
            path,
            "auth.algorithms",
            format!("{name:?}"),
            "expected RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384 or EdDSA",
        )
    })?;
    if matches!(
        algorithm,
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
    ) {
        return Err(invalid(
            path,
            "auth.algorithms",
            format!("{name:?}"),
            "a shared-secret algorithm cannot be verified with published keys; use an \
             asymmetric one such as RS256 or ES256",
        ));
    }
    Ok(algorithm)
}

fn claim(path: &Path, field: &str, name: Option<String>) -> Result<Option<String>, ConfigError> {
    match name {
        Some(n) if n.is_empty() || n.len() > 128 => Err(invalid(
            path,
            field,
            format!("{n:?}"),
            "a claim name has 1 to 128 characters",
        )),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<OAuthSettings, ConfigError> {
        let raw: RawAuth = toml::from_str(text).unwrap();
        raw.validate(Path::new("warden.toml"))
    }

    #[test]
    fn defaults_and_required_fields() {
        let s = parse(
            "issuer = \"https://id.example.com/realms/t\"\nresource = \"https://w.example.com/mcp\"\n",
        )
        .unwrap();
        assert_eq!(s.algorithms, DEFAULT_ALGORITHMS);
        assert_eq!(s.leeway, Duration::from_secs(30));
        assert_eq!(s.principal_claim, "sub");
        assert!(s.rules.is_open() && s.scopes_supported.is_empty());
        let e = parse("issuer = \"https://id.example.com\"\n").unwrap_err();
        assert!(e.to_string().contains("auth.resource"), "{e}");
    }

    #[test]
    fn refuses_plain_http_symmetric_keys_and_long_leeway() {
        let base = "resource = \"https://w.example.com/mcp\"\n";
        let e = parse(&format!("{base}issuer = \"http://id.example.com\"\n")).unwrap_err();
        assert!(e.to_string().contains("https://"), "{e}");
        assert!(parse(&format!("{base}issuer = \"http://127.0.0.1:9/\"\n")).is_ok());
        let issuer = "issuer = \"https://id.example.com\"\n";
        let e = parse(&format!("{base}{issuer}algorithms = [\"HS256\"]\n")).unwrap_err();
        assert!(e.to_string().contains("shared-secret"), "{e}");
        let e = parse(&format!("{base}{issuer}leeway = \"1h\"\n")).unwrap_err();
        assert!(e.to_string().contains("at most 5 minutes"), "{e}");
    }

    #[test]
    fn scopes_supported_default_to_the_rules() {
        let s = parse(
            "issuer = \"https://id.example.com\"\nresource = \"https://w.example.com/mcp\"\n\
             [[rules]]\nscope = \"tools:read\"\ncall = [\"*\"]\n",
        )
        .unwrap();
        assert_eq!(s.scopes_supported, ["tools:read"]);
    }
}
