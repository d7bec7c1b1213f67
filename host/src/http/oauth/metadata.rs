//! The protected resource metadata (RFC 9728) and the `WWW-Authenticate`
//! challenges that point clients to it.
//!
//! The document is served at `/.well-known/oauth-protected-resource` with
//! the resource's path appended (`.../oauth-protected-resource/mcp` for
//! `https://host/mcp`, as RFC 9728 §3.1 places it) and at the bare
//! well-known path, open to all: a client reads it before it has a token.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use url::Url;

use super::Refusal;
use super::settings::OAuthSettings;

/// The well-known path of the document.
pub const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// The paths the document is served at, on this server.
pub fn paths(resource: &Url) -> Vec<String> {
    let path = resource.path().trim_end_matches('/');
    let mut paths = vec![WELL_KNOWN.to_owned()];
    if !path.is_empty() {
        paths.push(format!("{WELL_KNOWN}{path}"));
    }
    paths
}

/// The document's URL, as clients reach it: the resource's origin, the
/// well-known path, the resource's path.
pub fn url(resource: &Url) -> String {
    let path = resource.path().trim_end_matches('/');
    format!(
        "{}{WELL_KNOWN}{path}",
        resource.origin().ascii_serialization()
    )
}

/// The document.
pub fn document(settings: &OAuthSettings) -> Value {
    json!({
        "resource": settings.resource.as_str(),
        "authorization_servers": [settings.issuer.as_str()],
        "scopes_supported": settings.scopes_supported,
        "bearer_methods_supported": ["header"],
        "resource_name": "Warden",
    })
}

/// The challenge of a 401: where the metadata is, and what was wrong with
/// the token when one was sent.
pub fn unauthorized(settings: &OAuthSettings, refusal: Option<&Refusal>) -> String {
    let mut challenge = format!(
        "Bearer resource_metadata=\"{}\"",
        quoted(&url(settings.resource.url()))
    );
    if let Some(refusal) = refusal {
        challenge.push_str(&format!(
            ", error=\"invalid_token\", error_description=\"{}\"",
            quoted(&refusal.description)
        ));
    }
    challenge
}

/// The challenge of a 403: the scopes that would do.
pub fn insufficient_scope(settings: &OAuthSettings, scopes: &BTreeSet<&str>) -> String {
    let scope: Vec<&str> = scopes.iter().copied().collect();
    format!(
        "Bearer error=\"insufficient_scope\", scope=\"{}\", resource_metadata=\"{}\"",
        quoted(&scope.join(" ")),
        quoted(&url(settings.resource.url()))
    )
}

/// Text safe inside a quoted string of a header: printable ASCII without
/// `"` or `\`.
fn quoted(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_rfc_9728() {
        let resource = Url::parse("https://w.example.com:8443/mcp").unwrap();
        assert_eq!(
            url(&resource),
            "https://w.example.com:8443/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(
            paths(&resource),
            [WELL_KNOWN, "/.well-known/oauth-protected-resource/mcp"]
        );
        let root = Url::parse("https://w.example.com/").unwrap();
        assert_eq!(
            url(&root),
            "https://w.example.com/.well-known/oauth-protected-resource"
        );
        assert_eq!(paths(&root), [WELL_KNOWN]);
    }

    #[test]
    fn challenges_are_quoted_safely() {
        assert_eq!(quoted("a \"b\"\\\n"), "a ?b???");
    }
}
