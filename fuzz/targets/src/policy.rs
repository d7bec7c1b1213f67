//! The outgoing HTTP policy: origin grants as manifests write them, and
//! [`warden::policy::decide`] on request URIs as guests send them.

use warden::policy::manifest::{HostPattern, HttpOrigin};
use warden::policy::{Decision, decide};

/// Input: the first line holds origins separated by spaces, every further
/// line is a request URI.
///
/// Checks: an origin displays in a normal form that parses back to it; each
/// granted origin allows a request to itself; an allowed request is allowed
/// by the one origin named, under every larger set of grants, and its scheme
/// and port are that origin's; a refusal never echoes user info, path or
/// query (they may carry secrets) and names a known rule.
pub fn policy(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.lines();
    let origins: Vec<HttpOrigin> = lines
        .next()
        .unwrap_or_default()
        .split(' ')
        .filter_map(|s| s.parse().ok())
        .collect();
    for origin in &origins {
        let normal = origin.to_string();
        assert_eq!(
            normal.parse::<HttpOrigin>().ok().as_ref(),
            Some(origin),
            "{normal}"
        );
        assert_eq!(normal.parse::<HttpOrigin>().unwrap().to_string(), normal);
        let host = match &origin.host {
            HostPattern::Wildcard(suffix) => format!("a.{suffix}"),
            other => other.to_string(),
        };
        let own = format!("{}://{host}:{}/x?y", origin.scheme, origin.port);
        let uri: http::Uri = own.parse().expect("an origin is a valid URI authority");
        let decision = decide(std::slice::from_ref(origin), &uri);
        assert!(
            decision.is_allowed(),
            "{origin} refuses {own}: {decision:?}"
        );
    }
    for line in lines {
        let Ok(uri) = line.parse::<http::Uri>() else {
            continue;
        };
        check_request(&origins, &uri);
    }
}

fn check_request(origins: &[HttpOrigin], uri: &http::Uri) {
    let decision = decide(origins, uri);
    let target = decision.target().to_string();
    let authority = target.split_once("://").map_or(target.as_str(), |(_, a)| a);
    assert!(
        !authority.contains(['/', '?', '#', '@']),
        "the target {target:?} of {uri} leaks more than scheme, host and port"
    );
    match decision {
        Decision::Allow { origin, .. } => {
            let port = uri.port_u16().unwrap_or(origin.scheme.default_port());
            assert_eq!(port, origin.port, "{uri} allowed on another port");
            assert!(
                uri.scheme_str()
                    .is_some_and(|s| s.eq_ignore_ascii_case(&origin.scheme.to_string())),
                "{uri} allowed under another scheme"
            );
            assert!(decide(std::slice::from_ref(origin), uri).is_allowed());
            // More grants never take a permission away.
            let mut more = origins.to_vec();
            more.insert(0, "https://more.example.com".parse().unwrap());
            assert!(decide(&more, uri).is_allowed());
            // Refused outright: user info anywhere in the authority.
            assert!(!uri.authority().is_some_and(|a| a.as_str().contains('@')));
        }
        Decision::Deny { rule, reason, .. } => {
            assert!(
                [
                    "no-grant",
                    "scheme",
                    "host",
                    "port",
                    "invalid-host",
                    "userinfo",
                    "invalid-uri"
                ]
                .contains(&rule),
                "unknown rule {rule}"
            );
            assert!(!reason.is_empty());
            // Fewer grants never give a permission.
            if let Some((_, fewer)) = origins.split_first() {
                assert!(!decide(fewer, uri).is_allowed());
            }
        }
    }
}
