//! HTTP origins a plugin may ask to reach: `scheme://host[:port]`, parsed
//! and put in normal form once, at load time.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// `http` or `https`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// Plain HTTP, default port 80.
    Http,
    /// HTTP over TLS, default port 443.
    Https,
}

impl Scheme {
    /// The port used when an origin names none.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    /// `"http"` or `"https"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// The host part of an [`HttpOrigin`]. Names are stored in lowercase.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HostPattern {
    /// Exactly this DNS name, e.g. `api.example.com`. `localhost` is a name
    /// like any other and does not match `127.0.0.1`.
    Name(String),
    /// Exactly this IP address (written `[::1]` for IPv6).
    Ip(IpAddr),
    /// `*.SUFFIX`: any name with at least one more label before `SUFFIX`
    /// (`*.github.com` covers `api.github.com` and `a.b.github.com`, not
    /// `github.com`). Holds the suffix without the leading `*.`, which has at
    /// least two labels.
    Wildcard(String),
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostPattern::Name(name) => f.write_str(name),
            HostPattern::Ip(IpAddr::V4(ip)) => write!(f, "{ip}"),
            HostPattern::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            HostPattern::Wildcard(suffix) => write!(f, "*.{suffix}"),
        }
    }
}

/// An HTTP origin a plugin may reach: `scheme://host[:port]`.
///
/// - the scheme is `http` or `https` (any case);
/// - the host is a DNS name, an IPv4 address, a bracketed IPv6 address, or
///   `*.` followed by a name of at least two labels ([`HostPattern`]);
/// - the port is 1-65535, by default the scheme's;
/// - no user info, path, query or fragment (not even a trailing `/`).
///
/// Displays in normal form, without a default port: `https://api.example.com`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HttpOrigin {
    /// `http` or `https`.
    pub scheme: Scheme,
    /// The host or host pattern.
    pub host: HostPattern,
    /// The port, explicit or the scheme's default.
    pub port: u16,
}

/// A string that is not a valid [`HttpOrigin`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{value:?} is not a valid HTTP origin: {reason}")]
pub struct HttpOriginError {
    /// The rejected text.
    pub value: String,
    /// What is wrong with it.
    pub reason: String,
}

impl HttpOrigin {
    /// Whether the host is a `*.` wildcard.
    pub fn is_wildcard(&self) -> bool {
        matches!(self.host, HostPattern::Wildcard(_))
    }

    fn parse(s: &str) -> Result<HttpOrigin, String> {
        if s.is_empty() {
            return Err("an origin cannot be empty".into());
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("remove the spaces".into());
        }
        let Some((scheme, rest)) = s.split_once("://") else {
            return Err(
                "the scheme is missing: write scheme://host[:port], e.g. \"https://api.example.com\""
                    .into(),
            );
        };
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "https" => Scheme::Https,
            "http" => Scheme::Http,
            _ => {
                return Err(format!(
                    "unsupported scheme {scheme:?}: use \"http\" or \"https\""
                ));
            }
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if authority.contains('@') {
            return Err("user info (\"user@\") is not allowed in an origin".into());
        }
        if let Some(first) = tail.chars().next() {
            let what = match first {
                '/' => "a path",
                '?' => "a query",
                _ => "a fragment",
            };
            return Err(format!(
                "{what} ({tail:?}) is not allowed: an origin is scheme://host[:port]"
            ));
        }
        let (host, port) = split_host_port(authority)?;
        let port = match port {
            Some(port) => parse_port(port)?,
            None => scheme.default_port(),
        };
        Ok(HttpOrigin { scheme, host, port })
    }
}

/// Splits `host[:port]` or `[v6][:port]`, parsing the host.
fn split_host_port(authority: &str) -> Result<(HostPattern, Option<&str>), String> {
    if let Some(rest) = authority.strip_prefix('[') {
        let Some((ip, after)) = rest.split_once(']') else {
            return Err("an IPv6 address needs a closing ']'".into());
        };
        let ip: Ipv6Addr = ip
            .parse()
            .map_err(|_| format!("{ip:?} is not a valid IPv6 address"))?;
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or_else(|| format!("unexpected {after:?} after the IPv6 address"))?,
            ),
        };
        return Ok((HostPattern::Ip(IpAddr::V6(ip)), port));
    }
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    if port.is_some_and(|p| p.contains(':')) {
        return Err("write IPv6 addresses in brackets, as in \"http://[::1]:8080\"".into());
    }
    Ok((parse_host_pattern(host)?, port))
}

fn parse_port(port: &str) -> Result<u16, String> {
    if port.is_empty() {
        return Err("the port after ':' is missing".into());
    }
    if !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("invalid port {port:?} (expected 1-65535)"));
    }
    match port.parse::<u16>() {
        Ok(0) => Err("port 0 is not allowed (expected 1-65535)".into()),
        Ok(port) => Ok(port),
        Err(_) => Err(format!("port {port} is out of range (expected 1-65535)")),
    }
}

fn parse_host_pattern(host: &str) -> Result<HostPattern, String> {
    if host.is_empty() {
        return Err("the host is missing".into());
    }
    let host = host.to_ascii_lowercase();
    if host == "*" {
        return Err(
            "'*' alone would allow every host: name the hosts, or use a wildcard such as \"*.example.com\""
                .into(),
        );
    }
    if let Some(suffix) = host.strip_prefix("*.")
        && !suffix.contains('*')
    {
        if suffix.is_empty() {
            return Err("nothing follows \"*.\"".into());
        }
        if suffix.parse::<Ipv4Addr>().is_ok() {
            return Err("a wildcard cannot be used with an IP address".into());
        }
        check_host_name(suffix)?;
        if !suffix.contains('.') {
            return Err(format!(
                "\"*.{suffix}\" is too broad: a wildcard needs at least two labels after \"*.\", as in \"*.example.com\""
            ));
        }
        return Ok(HostPattern::Wildcard(suffix.to_owned()));
    }
    if host.contains('*') {
        return Err(
            "'*' is only allowed as the whole leftmost label, as in \"*.example.com\"".into(),
        );
    }
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Ok(HostPattern::Ip(IpAddr::V4(ip)));
    }
    check_host_name(&host)?;
    Ok(HostPattern::Name(host))
}

/// Checks a lowercase DNS name (RFC 1123 labels).
fn check_host_name(host: &str) -> Result<(), String> {
    if !host.is_ascii() {
        return Err(format!(
            "{host:?} is not ASCII: write international names in punycode (\"xn--...\")"
        ));
    }
    if host.ends_with('.') {
        return Err(format!("remove the trailing '.' from {host:?}"));
    }
    if host.len() > 253 {
        return Err("the host name is longer than 253 characters".into());
    }
    for label in host.split('.') {
        if label.is_empty() {
            return Err(format!("{host:?} has an empty label"));
        }
        if label.len() > 63 {
            return Err(format!("the label {label:?} is longer than 63 characters"));
        }
        if let Some(bad) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(format!("{bad:?} is not allowed in a host name"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("the label {label:?} starts or ends with '-'"));
        }
    }
    if host
        .rsplit('.')
        .next()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!(
            "{host:?} is neither an IPv4 address nor a host name"
        ));
    }
    if looks_like_legacy_ipv4(host) {
        return Err(format!(
            "{host:?} is an unusual spelling of an IPv4 address: write it as a dotted quad such as 127.0.0.1"
        ));
    }
    Ok(())
}

/// Whether a resolver would read `name` as an IPv4 address in one of the
/// legacy forms (`inet_aton`): one to four parts, each decimal, octal or hex.
pub(crate) fn looks_like_legacy_ipv4(name: &str) -> bool {
    let parts: Vec<&str> = name.split('.').collect();
    (1..=4).contains(&parts.len())
        && parts.iter().all(|p| {
            let digits = p.strip_prefix("0x").unwrap_or(p);
            !p.is_empty()
                && if digits.len() == p.len() {
                    p.bytes().all(|b| b.is_ascii_digit())
                } else {
                    digits.bytes().all(|b| b.is_ascii_hexdigit())
                }
        })
}

impl FromStr for HttpOrigin {
    type Err = HttpOriginError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        HttpOrigin::parse(s).map_err(|reason| HttpOriginError {
            value: s.to_owned(),
            reason,
        })
    }
}

impl TryFrom<String> for HttpOrigin {
    type Error = HttpOriginError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl fmt::Display for HttpOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.host)?;
        if self.port != self.scheme.default_port() {
            write!(f, ":{}", self.port)?;
        }
        Ok(())
    }
}

impl Serialize for HttpOrigin {
    /// Serializes as the normal-form string.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HttpOrigin {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(s: &str) -> HttpOrigin {
        s.parse().unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    fn origin_err(s: &str) -> String {
        match s.parse::<HttpOrigin>() {
            Ok(o) => panic!("{s:?} parsed as {o:?}"),
            Err(e) => {
                assert_eq!(e.value, s);
                e.reason
            }
        }
    }

    #[test]
    fn origins_parse_into_parts() {
        assert_eq!(
            origin("https://api.example.com"),
            HttpOrigin {
                scheme: Scheme::Https,
                host: HostPattern::Name("api.example.com".into()),
                port: 443
            }
        );
        assert_eq!(
            origin("http://api.example.com"),
            HttpOrigin {
                scheme: Scheme::Http,
                host: HostPattern::Name("api.example.com".into()),
                port: 80
            }
        );
        assert_eq!(
            origin("https://*.github.com:8443"),
            HttpOrigin {
                scheme: Scheme::Https,
                host: HostPattern::Wildcard("github.com".into()),
                port: 8443
            }
        );
        assert_eq!(
            origin("http://127.0.0.1:8080"),
            HttpOrigin {
                scheme: Scheme::Http,
                host: HostPattern::Ip("127.0.0.1".parse().unwrap()),
                port: 8080
            }
        );
        assert_eq!(
            origin("http://[::1]:8080"),
            HttpOrigin {
                scheme: Scheme::Http,
                host: HostPattern::Ip("::1".parse().unwrap()),
                port: 8080
            }
        );
        assert_eq!(origin("https://[2001:db8::1]").port, 443);
        assert_eq!(
            origin("http://localhost:3000").host,
            HostPattern::Name("localhost".into())
        );
        assert!(origin("https://*.a.example.com").is_wildcard());
        assert!(!origin("https://example.com").is_wildcard());
    }

    #[test]
    fn origins_display_in_normal_form() {
        for (input, normal) in [
            ("https://api.example.com", "https://api.example.com"),
            ("https://api.example.com:443", "https://api.example.com"),
            ("http://api.example.com:443", "http://api.example.com:443"),
            ("HTTPS://API.Example.COM", "https://api.example.com"),
            ("https://*.GitHub.com:8443", "https://*.github.com:8443"),
            ("http://127.0.0.1:80", "http://127.0.0.1"),
            ("http://[0:0::1]:8080", "http://[::1]:8080"),
            (
                "https://xn--bcher-kva.example",
                "https://xn--bcher-kva.example",
            ),
        ] {
            assert_eq!(origin(input).to_string(), normal);
            assert_eq!(origin(normal), origin(input), "{normal} round-trips");
        }
    }

    #[test]
    fn origins_with_the_same_normal_form_are_equal() {
        assert_eq!(
            origin("https://example.com"),
            origin("https://EXAMPLE.com:443")
        );
        assert_ne!(origin("https://example.com"), origin("http://example.com"));
        assert_ne!(origin("http://localhost"), origin("http://127.0.0.1"));
    }

    #[test]
    fn legacy_ipv4_spellings_are_refused_as_the_request_check_refuses_them() {
        // Found by the `policy` fuzzer: accepted as a grant, every request to
        // it was then refused.
        for host in ["126.0.0x1", "0x7f.1", "2130706433", "10.0x0"] {
            let reason = origin_err(&format!("http://{host}:8080"));
            assert!(
                reason.contains("unusual spelling of an IPv4 address")
                    || reason.contains("neither an IPv4 address nor a host name"),
                "{host}: {reason}"
            );
        }
        assert_eq!(
            origin("http://0x1.example.com").to_string(),
            "http://0x1.example.com"
        );
    }

    #[test]
    fn bad_schemes_are_refused() {
        assert_eq!(
            origin_err("ftp://example.com"),
            "unsupported scheme \"ftp\": use \"http\" or \"https\""
        );
        assert_eq!(
            origin_err("wss://example.com"),
            "unsupported scheme \"wss\": use \"http\" or \"https\""
        );
        assert_eq!(
            origin_err("://example.com"),
            "unsupported scheme \"\": use \"http\" or \"https\""
        );
        for missing in [
            "example.com",
            "example.com:443",
            "https:/example.com",
            "https:example.com",
        ] {
            assert!(
                origin_err(missing).starts_with("the scheme is missing"),
                "{missing}"
            );
        }
    }

    #[test]
    fn paths_queries_fragments_and_userinfo_are_refused() {
        assert_eq!(
            origin_err("https://example.com/"),
            "a path (\"/\") is not allowed: an origin is scheme://host[:port]"
        );
        assert_eq!(
            origin_err("https://example.com:8443/v1/users"),
            "a path (\"/v1/users\") is not allowed: an origin is scheme://host[:port]"
        );
        assert_eq!(
            origin_err("https://example.com?x=1"),
            "a query (\"?x=1\") is not allowed: an origin is scheme://host[:port]"
        );
        assert_eq!(
            origin_err("https://example.com#top"),
            "a fragment (\"#top\") is not allowed: an origin is scheme://host[:port]"
        );
        assert_eq!(
            origin_err("https://user:pw@example.com"),
            "user info (\"user@\") is not allowed in an origin"
        );
        assert_eq!(
            origin_err("https://@example.com"),
            "user info (\"user@\") is not allowed in an origin"
        );
    }

    #[test]
    fn ports_are_checked() {
        assert_eq!(origin("https://example.com:1").port, 1);
        assert_eq!(origin("https://example.com:65535").port, 65535);
        assert_eq!(
            origin_err("https://example.com:0"),
            "port 0 is not allowed (expected 1-65535)"
        );
        assert_eq!(
            origin_err("https://example.com:65536"),
            "port 65536 is out of range (expected 1-65535)"
        );
        assert_eq!(
            origin_err("https://example.com:99999"),
            "port 99999 is out of range (expected 1-65535)"
        );
        assert_eq!(
            origin_err("https://example.com:99999999999999999999999"),
            "port 99999999999999999999999 is out of range (expected 1-65535)"
        );
        assert_eq!(
            origin_err("https://example.com:"),
            "the port after ':' is missing"
        );
        assert_eq!(
            origin_err("https://example.com:https"),
            "invalid port \"https\" (expected 1-65535)"
        );
        assert_eq!(
            origin_err("https://example.com:*"),
            "invalid port \"*\" (expected 1-65535)"
        );
        assert_eq!(
            origin_err("https://example.com:-1"),
            "invalid port \"-1\" (expected 1-65535)"
        );
        assert_eq!(
            origin_err("https://example.com:+80"),
            "invalid port \"+80\" (expected 1-65535)"
        );
        assert_eq!(
            origin_err("http://[::1]:0"),
            "port 0 is not allowed (expected 1-65535)"
        );
    }

    #[test]
    fn wildcards_only_as_the_whole_leftmost_label() {
        let middle = "'*' is only allowed as the whole leftmost label, as in \"*.example.com\"";
        assert_eq!(origin_err("https://api.*.example.com"), middle);
        assert_eq!(origin_err("https://api.example.*"), middle);
        assert_eq!(origin_err("https://*api.example.com"), middle);
        assert_eq!(origin_err("https://a*.example.com"), middle);
        assert_eq!(origin_err("https://*.*.example.com"), middle);
        assert_eq!(origin_err("https://**.example.com"), middle);
        assert!(origin_err("https://*").starts_with("'*' alone would allow every host"));
        assert!(origin_err("https://*:443").starts_with("'*' alone would allow every host"));
        assert_eq!(
            origin_err("https://*.com"),
            "\"*.com\" is too broad: a wildcard needs at least two labels after \"*.\", as in \"*.example.com\""
        );
        assert_eq!(
            origin_err("http://*.0.0.1"),
            "\"0.0.1\" is neither an IPv4 address nor a host name"
        );
        assert_eq!(
            origin_err("http://*.10.0.0.1"),
            "a wildcard cannot be used with an IP address"
        );
        assert_eq!(origin_err("https://*."), "nothing follows \"*.\"");
    }

    #[test]
    fn hosts_are_checked() {
        assert_eq!(origin_err("https://"), "the host is missing");
        assert_eq!(origin_err("https://:443"), "the host is missing");
        assert_eq!(
            origin_err("https://exa_mple.com"),
            "'_' is not allowed in a host name"
        );
        assert_eq!(
            origin_err("https://a..b.com"),
            "\"a..b.com\" has an empty label"
        );
        assert_eq!(
            origin_err("https://example.com."),
            "remove the trailing '.' from \"example.com.\""
        );
        assert_eq!(
            origin_err("https://-a.example.com"),
            "the label \"-a\" starts or ends with '-'"
        );
        assert_eq!(
            origin_err("https://bücher.example"),
            "\"bücher.example\" is not ASCII: write international names in punycode (\"xn--...\")"
        );
        assert_eq!(
            origin_err("http://256.1.1.1"),
            "\"256.1.1.1\" is neither an IPv4 address nor a host name"
        );
        assert_eq!(
            origin_err("http://127.1"),
            "\"127.1\" is neither an IPv4 address nor a host name"
        );
        assert_eq!(
            origin_err(&format!("https://{}.com", "a".repeat(64))),
            format!(
                "the label \"{}\" is longer than 63 characters",
                "a".repeat(64)
            )
        );
        assert_eq!(
            origin_err("https://ex%41mple.com"),
            "'%' is not allowed in a host name"
        );
        assert_eq!(origin_err("https://example .com"), "remove the spaces");
        assert_eq!(origin_err(""), "an origin cannot be empty");
    }

    #[test]
    fn ipv6_needs_brackets() {
        assert_eq!(
            origin_err("http://::1"),
            "write IPv6 addresses in brackets, as in \"http://[::1]:8080\""
        );
        assert_eq!(
            origin_err("http://[::1"),
            "an IPv6 address needs a closing ']'"
        );
        assert_eq!(
            origin_err("http://[nope]"),
            "\"nope\" is not a valid IPv6 address"
        );
        assert_eq!(
            origin_err("http://[::1]8080"),
            "unexpected \"8080\" after the IPv6 address"
        );
        assert_eq!(
            origin_err("http://[fe80::1%eth0]"),
            "\"fe80::1%eth0\" is not a valid IPv6 address"
        );
    }

    #[test]
    fn origin_error_display() {
        assert_eq!(
            "https://example.com/v1"
                .parse::<HttpOrigin>()
                .unwrap_err()
                .to_string(),
            "\"https://example.com/v1\" is not a valid HTTP origin: a path (\"/v1\") is not allowed: an origin is scheme://host[:port]"
        );
    }

    #[test]
    fn origins_serialize_as_strings() {
        let json = serde_json::to_string(&origin("https://*.github.com:8443")).unwrap();
        assert_eq!(json, "\"https://*.github.com:8443\"");
        let back: HttpOrigin = serde_json::from_str(&json).unwrap();
        assert_eq!(back, origin("https://*.github.com:8443"));
        assert!(serde_json::from_str::<HttpOrigin>("\"ftp://x.com\"").is_err());
    }
}
