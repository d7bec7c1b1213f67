//! Outgoing HTTP policy: may this request go out? Pure: no I/O, no DNS.
//!
//! [`decide`] compares the scheme, host and port of a request URI with a
//! plugin's granted [`HttpOrigin`]s and either names the origin that allows it
//! or says why not. The sandbox's HTTP hook asks before any connection is made.
//!
//! The rules, each checked exactly (no implicit catch-alls):
//!
//! - **scheme**: `http` or `https`, equal to the origin's. Anything else is
//!   refused outright.
//! - **host**: compared after lowercasing and dropping one trailing `.`.
//!   - a DNS name matches an origin with the same name, or a `*.SUFFIX`
//!     wildcard when it has at least one more label before `SUFFIX` (so
//!     `*.example.com` covers `a.example.com` and `a.b.example.com`, never
//!     `example.com`);
//!   - an IP literal (`127.0.0.1`, `[::1]`) matches only an origin listing that
//!     same address; an IPv4-mapped IPv6 address (`[::ffff:127.0.0.1]`) is
//!     compared as its IPv4 address;
//!   - a name never matches an IP and an IP never matches a name or a
//!     wildcard: `localhost` is not `127.0.0.1`;
//!   - hosts that are neither a dotted-quad IPv4 address, a bracketed IPv6
//!     address nor a valid DNS name are refused, in particular the legacy
//!     IPv4 spellings a resolver would still accept (`2130706433`,
//!     `0x7f.0.0.1`, `127.1`).
//! - **port**: explicit, or the scheme's default (80 / 443), equal to the
//!   origin's.
//! - a URI with user info (`user@host`) or without a host is refused.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::policy::manifest::{HostPattern, HttpOrigin, Scheme, looks_like_legacy_ipv4};

/// The verdict on one outgoing request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision<'a> {
    /// The request may go out: `origin` is the grant that allows it.
    Allow {
        /// The granted origin that matched.
        origin: &'a HttpOrigin,
        /// The request's origin, `scheme://host:port`.
        target: String,
    },
    /// The request is refused before any connection is made.
    Deny {
        /// Which rule refused it: `no-grant`, `scheme`, `host`, `port`,
        /// `invalid-host`, `userinfo` or `invalid-uri`.
        rule: &'static str,
        /// What was asked for, `scheme://host:port` (never the path or the
        /// query, which may carry secrets); best effort for malformed URIs.
        target: String,
        /// Why, for a person: what is missing.
        reason: String,
    },
}

impl Decision<'_> {
    /// Whether the request may go out.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow { .. })
    }

    /// The request's origin, `scheme://host:port`.
    pub fn target(&self) -> &str {
        match self {
            Decision::Allow { target, .. } | Decision::Deny { target, .. } => target,
        }
    }
}

/// The reason given when a plugin has no HTTP origin granted at all.
pub const NO_GRANT: &str = "the plugin has no HTTP grant";

/// Decides whether a request to `uri` may go out under the granted `origins`.
pub fn decide<'a>(origins: &'a [HttpOrigin], uri: &http::Uri) -> Decision<'a> {
    let request = match Request::parse(uri) {
        Ok(request) => request,
        Err((rule, target, reason)) => {
            return Decision::Deny {
                rule,
                target,
                reason,
            };
        }
    };
    let target = request.to_string();
    if origins.is_empty() {
        return Decision::Deny {
            rule: "no-grant",
            target,
            reason: NO_GRANT.to_string(),
        };
    }
    if let Some(origin) = origins.iter().find(|o| request.matches(o)) {
        return Decision::Allow { origin, target };
    }
    // Name the part that is missing: when some grant covers the host, the
    // port (same scheme) or the scheme; otherwise the host.
    let covering: Vec<&HttpOrigin> = origins
        .iter()
        .filter(|o| host_matches(&o.host, &request.host))
        .collect();
    let rule = if covering.is_empty() {
        "host"
    } else if covering.iter().any(|o| o.scheme == request.scheme) {
        "port"
    } else {
        "scheme"
    };
    let granted = origins
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let mut reason = format!("no grant for {target} (granted: {granted})");
    if let Some(hint) = hint(origins, &request) {
        reason.push_str("; ");
        reason.push_str(&hint);
    }
    Decision::Deny {
        rule,
        target,
        reason,
    }
}

/// A note for the surprising cases: a name that resolves to a granted
/// address, or an address whose name is granted.
fn hint(origins: &[HttpOrigin], request: &Request) -> Option<String> {
    let loopback_name = |h: &HostPattern| matches!(h, HostPattern::Name(n) if n == "localhost");
    let loopback_ip = |h: &HostPattern| matches!(h, HostPattern::Ip(ip) if ip.is_loopback());
    match &request.host {
        Host::Name(name) if name == "localhost" && origins.iter().any(|o| loopback_ip(&o.host)) => {
            Some("a host name never matches an IP address grant".into())
        }
        Host::Ip(ip) if ip.is_loopback() && origins.iter().any(|o| loopback_name(&o.host)) => {
            Some("an IP address is only allowed when that address is granted".into())
        }
        _ => None,
    }
}

/// The parts of a request URI that the policy looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Request {
    scheme: Scheme,
    host: Host,
    port: u16,
}

/// A request's host, normalized.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Host {
    /// A DNS name: lowercase, without a trailing dot.
    Name(String),
    /// An IP address; IPv4-mapped IPv6 addresses are stored as IPv4.
    Ip(IpAddr),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(name) => f.write_str(name),
            Host::Ip(IpAddr::V4(ip)) => write!(f, "{ip}"),
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
        }
    }
}

impl fmt::Display for Request {
    /// `scheme://host:port`, always with the port.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

type Refusal = (&'static str, String, String);

impl Request {
    fn parse(uri: &http::Uri) -> Result<Request, Refusal> {
        // Best-effort target for refusals, without path or query.
        let raw_target = || {
            let scheme = uri.scheme_str().unwrap_or("?");
            let authority = uri.authority().map_or("", |a| a.as_str());
            let authority = authority.rsplit('@').next().unwrap_or(authority);
            format!("{scheme}://{}", authority.to_ascii_lowercase())
        };
        let scheme = match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
            Some("http") => Scheme::Http,
            Some("https") => Scheme::Https,
            Some(other) => {
                return Err((
                    "scheme",
                    raw_target(),
                    format!("the scheme {other:?} is not allowed: only http and https"),
                ));
            }
            None => {
                return Err((
                    "invalid-uri",
                    raw_target(),
                    "the request URI has no scheme".into(),
                ));
            }
        };
        let Some(authority) = uri.authority() else {
            return Err((
                "invalid-uri",
                raw_target(),
                "the request URI has no host".into(),
            ));
        };
        if authority.as_str().contains('@') {
            return Err((
                "userinfo",
                raw_target(),
                "user info (\"user@\") is not allowed in a request URI".into(),
            ));
        }
        let host = parse_host(authority.host()).map_err(|reason| {
            let target = raw_target();
            ("invalid-host", target, reason)
        })?;
        let port = match authority.port() {
            None => scheme.default_port(),
            Some(port) => match port.as_u16() {
                0 => return Err(("port", raw_target(), "port 0 is not allowed".into())),
                port => port,
            },
        };
        Ok(Request { scheme, host, port })
    }

    fn matches(&self, origin: &HttpOrigin) -> bool {
        origin.scheme == self.scheme
            && origin.port == self.port
            && host_matches(&origin.host, &self.host)
    }
}

/// Whether a granted host pattern covers a request's host.
fn host_matches(pattern: &HostPattern, host: &Host) -> bool {
    match (pattern, host) {
        (HostPattern::Name(granted), Host::Name(name)) => granted == name,
        (HostPattern::Wildcard(suffix), Host::Name(name)) => name
            .strip_suffix(suffix.as_str())
            .and_then(|rest| rest.strip_suffix('.'))
            .is_some_and(|label| !label.is_empty()),
        (HostPattern::Ip(granted), Host::Ip(ip)) => canonical_ip(*granted) == *ip,
        (HostPattern::Name(_) | HostPattern::Wildcard(_), Host::Ip(_))
        | (HostPattern::Ip(_), Host::Name(_)) => false,
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) as their IPv4 address.
fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        IpAddr::V4(_) => ip,
    }
}

/// Parses and normalizes a request's host.
fn parse_host(host: &str) -> Result<Host, String> {
    if host.is_empty() {
        return Err("the request URI has no host".into());
    }
    if let Some(inner) = host.strip_prefix('[') {
        let ip = inner
            .strip_suffix(']')
            .and_then(|ip| ip.parse::<Ipv6Addr>().ok())
            .ok_or_else(|| format!("{host:?} is not a valid IPv6 address"))?;
        return Ok(Host::Ip(canonical_ip(IpAddr::V6(ip))));
    }
    let lower = host.to_ascii_lowercase();
    let name = lower.strip_suffix('.').unwrap_or(&lower);
    if let Ok(ip) = name.parse::<Ipv4Addr>() {
        return Ok(Host::Ip(IpAddr::V4(ip)));
    }
    if looks_like_legacy_ipv4(name) {
        return Err(format!(
            "{host:?} is an unusual spelling of an IPv4 address: write it as a dotted quad such as 127.0.0.1"
        ));
    }
    check_name(name).map_err(|why| format!("{host:?} is not a valid host name: {why}"))?;
    Ok(Host::Name(name.to_string()))
}

/// Checks a lowercase DNS name: LDH labels of 1-63 characters, at most 253
/// in all, and a last label that is not all digits.
fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("it is empty");
    }
    if name.len() > 253 {
        return Err("it is longer than 253 characters");
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err("it has an empty label");
        }
        if label.len() > 63 {
            return Err("a label is longer than 63 characters");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err("use only letters, digits, '-' and '.'");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("a label starts or ends with '-'");
        }
    }
    if name
        .rsplit('.')
        .next()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err("the last label is all digits");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origins(list: &[&str]) -> Vec<HttpOrigin> {
        list.iter().map(|o| o.parse().expect(o)).collect()
    }

    /// `Ok(index of the allowing origin)` or `Err((rule, reason))`.
    fn check(granted: &[&str], uri: &str) -> Result<usize, (&'static str, String)> {
        let granted = origins(granted);
        let uri: http::Uri = uri.parse().expect(uri);
        match decide(&granted, &uri) {
            Decision::Allow { origin, .. } => Ok(granted
                .iter()
                .position(|o| std::ptr::eq(o, origin))
                .unwrap()),
            Decision::Deny { rule, reason, .. } => Err((rule, reason)),
        }
    }

    fn rule(granted: &[&str], uri: &str) -> &'static str {
        match check(granted, uri) {
            Ok(i) => panic!("{uri} was allowed by {}", granted[i]),
            Err((rule, _)) => rule,
        }
    }

    #[test]
    fn table() {
        use std::result::Result::{Err as Deny, Ok as Allow};
        let grants = &[
            "https://api.example.com",      // 0
            "http://127.0.0.1:8123",        // 1
            "https://*.github.com",         // 2
            "http://[::1]:9000",            // 3
            "http://localhost:7000",        // 4
            "https://example.org:8443",     // 5
            "http://10.0.0.5",              // 6
            "http://[::ffff:192.0.2.7]:81", // 7
        ];
        let cases: &[(&str, Result<usize, &str>)] = &[
            // Exact names, with and without the default port.
            ("https://api.example.com/v1/items?q=1", Allow(0)),
            ("https://api.example.com:443/", Allow(0)),
            ("https://API.Example.COM/", Allow(0)),
            ("https://api.example.com./", Allow(0)),
            ("http://api.example.com/", Deny("scheme")),
            ("https://api.example.com:8443/", Deny("port")),
            ("https://example.com/", Deny("host")),
            ("https://evil.api.example.com/", Deny("host")),
            ("https://api.example.com.evil.net/", Deny("host")),
            // Wildcards: subdomains only.
            ("https://api.github.com/", Allow(2)),
            ("https://a.b.github.com/x", Allow(2)),
            ("https://API.GitHub.com./", Allow(2)),
            ("https://github.com/", Deny("host")),
            ("https://evilgithub.com/", Deny("host")),
            ("https://api.github.com.evil.net/", Deny("host")),
            ("http://api.github.com/", Deny("scheme")),
            ("https://api.github.com:444/", Deny("port")),
            // IPv4 literals.
            ("http://127.0.0.1:8123/", Allow(1)),
            ("http://127.0.0.1:8124/", Deny("port")),
            ("https://127.0.0.1:8123/", Deny("scheme")),
            ("http://127.0.0.2:8123/", Deny("host")),
            ("http://10.0.0.5/", Allow(6)),
            ("http://10.0.0.5:80/", Allow(6)),
            ("http://[::ffff:127.0.0.1]:8123/", Allow(1)),
            ("http://192.0.2.7:81/", Allow(7)),
            ("http://[::ffff:192.0.2.7]:81/", Allow(7)),
            // IPv6 literals.
            ("http://[::1]:9000/", Allow(3)),
            ("http://[0:0:0:0:0:0:0:1]:9000/", Allow(3)),
            ("http://[::1]:9001/", Deny("port")),
            ("http://[::2]:9000/", Deny("host")),
            ("http://[::1]:8123/", Deny("port")),
            // Names and addresses never match each other.
            ("http://localhost:8123/", Deny("port")),
            ("http://localhost:7000/", Allow(4)),
            ("http://localhost.:7000/", Allow(4)),
            ("http://127.0.0.1:7000/", Deny("port")),
            ("http://[::1]:7000/", Deny("port")),
            ("http://ip6-localhost:9000/", Deny("host")),
            // Legacy IPv4 spellings and bad names.
            ("http://2130706433:8123/", Deny("invalid-host")),
            ("http://0x7f000001:8123/", Deny("invalid-host")),
            ("http://0x7f.0.0.1:8123/", Deny("invalid-host")),
            ("http://127.1:8123/", Deny("invalid-host")),
            ("http://0177.0.0.1:8123/", Deny("invalid-host")),
            ("http://a_b.github.com/", Deny("invalid-host")),
            ("http://[::1/", Deny("invalid-uri")),
            // Explicit port on a non-default-port grant.
            ("https://example.org:8443/", Allow(5)),
            ("https://example.org/", Deny("port")),
            // User info, other schemes.
            ("https://user:pw@api.example.com/", Deny("userinfo")),
            ("ftp://api.example.com/", Deny("scheme")),
            ("ws://127.0.0.1:8123/", Deny("scheme")),
            ("http://127.0.0.1:0/", Deny("port")),
        ];
        assert!(cases.len() >= 40);
        for (uri, expected) in cases {
            let parsed: Result<http::Uri, _> = uri.parse();
            let got = match parsed {
                Err(_) => Err("invalid-uri"),
                Ok(_) => check(grants, uri).map_err(|(rule, _)| rule),
            };
            assert_eq!(got, *expected, "{uri}");
        }
    }

    #[test]
    fn no_grant_at_all() {
        let (rule, reason) = check(&[], "https://example.com/secret?token=1").unwrap_err();
        assert_eq!(rule, "no-grant");
        assert_eq!(reason, NO_GRANT);
    }

    #[test]
    fn reasons_name_what_is_missing() {
        assert_eq!(
            check(&["http://127.0.0.1:8123"], "http://localhost:8123/x").unwrap_err(),
            (
                "host",
                "no grant for http://localhost:8123 (granted: http://127.0.0.1:8123); \
                 a host name never matches an IP address grant"
                    .to_string()
            )
        );
        assert_eq!(
            check(&["http://127.0.0.1:8123"], "http://127.0.0.1:9999/").unwrap_err(),
            (
                "port",
                "no grant for http://127.0.0.1:9999 (granted: http://127.0.0.1:8123)".to_string()
            )
        );
        assert_eq!(
            check(
                &["https://api.example.com", "https://*.github.com"],
                "http://api.example.com/"
            )
            .unwrap_err(),
            (
                "scheme",
                "no grant for http://api.example.com:80 \
                 (granted: https://api.example.com, https://*.github.com)"
                    .to_string()
            )
        );
        assert_eq!(
            check(&["http://localhost:7000"], "http://127.0.0.1:7000/").unwrap_err(),
            (
                "host",
                "no grant for http://127.0.0.1:7000 (granted: http://localhost:7000); \
                 an IP address is only allowed when that address is granted"
                    .to_string()
            )
        );
    }

    #[test]
    fn targets_never_carry_path_query_or_user_info() {
        let granted = origins(&["https://api.example.com"]);
        for (uri, target) in [
            (
                "https://api.example.com/v1?token=secret",
                "https://api.example.com:443",
            ),
            (
                "https://other.example.com/a?b=c",
                "https://other.example.com:443",
            ),
            ("http://[::ffff:10.1.2.3]:8080/x", "http://10.1.2.3:8080"),
            (
                "https://Other.Example.COM./",
                "https://other.example.com:443",
            ),
            (
                "https://user:pw@api.example.com/x",
                "https://api.example.com",
            ),
            ("http://2130706433/x?y", "http://2130706433"),
        ] {
            let uri: http::Uri = uri.parse().unwrap();
            let decision = decide(&granted, &uri);
            assert_eq!(decision.target(), target, "{uri}");
            assert!(!decision.target().contains("secret"));
        }
    }

    #[test]
    fn first_matching_grant_wins() {
        assert_eq!(
            check(
                &["https://*.example.com", "https://api.example.com"],
                "https://api.example.com/"
            ),
            Ok(0)
        );
    }

    #[test]
    fn wildcard_never_matches_ips() {
        assert_eq!(
            rule(&["https://*.example.com"], "https://10.0.0.1/"),
            "host"
        );
        assert_eq!(rule(&["https://*.example.com"], "https://[::1]/"), "host");
    }

    #[test]
    fn legacy_ipv4_detection() {
        for yes in ["1", "127.1", "0x7f.1", "0X7F.1", "1.2.3.4.", "010.0.0.1"] {
            // Upper-case hex is lowercased before the check.
            let lower = yes.to_ascii_lowercase();
            let name = lower.strip_suffix('.').unwrap_or(&lower);
            assert!(looks_like_legacy_ipv4(name), "{yes}");
        }
        for no in [
            "example.com",
            "1.example",
            "0xg.1",
            "a.b.c.d.e",
            "1.2.3.4.5",
        ] {
            assert!(!looks_like_legacy_ipv4(no), "{no}");
        }
    }
}
