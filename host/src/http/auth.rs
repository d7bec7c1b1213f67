//! Authentication: where the static bearer token comes from, when auth may
//! be off, and the middleware that checks every protected request, against
//! the static token or, with `auth = "oauth"`, as an OAuth resource server
//! ([`super::oauth`]): a valid access token's [`Principal`] goes on with the
//! request (rmcp hands the request's parts to the MCP handler, which lists
//! to each principal only what it may call).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq as _;

use super::AppState;
use super::oauth::{OAuth, metadata};
use crate::http::settings::{AuthMode, HttpSettings};
use crate::policy::access::Principal;
use crate::policy::grants::Secret;

/// Why the HTTP server refuses to start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthConfigError {
    /// Auth is off on an address other machines can reach.
    #[error(
        "http.auth = \"off\" is only allowed on a loopback address (127.0.0.1 or ::1), \
         and {0} is not: set a bearer token in ${1} instead"
    )]
    OffOnNonLoopback(SocketAddr, String),
    /// Auth is on and no token is configured.
    #[error(
        "no bearer token for HTTP: set the environment variable {0} (or http.token_env / \
         http.token in warden.toml), or set http.auth = \"off\" for a loopback-only server"
    )]
    NoToken(String),
}

/// The token requests must present, or `None` when auth is off. The variable
/// named by `token_env` wins over `http.token`.
pub fn resolve_token(
    settings: &HttpSettings,
    addr: SocketAddr,
    lookup_env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Secret>, AuthConfigError> {
    match settings.auth {
        AuthMode::OAuth => Ok(None),
        AuthMode::Off if addr.ip().is_loopback() => Ok(None),
        AuthMode::Off => Err(AuthConfigError::OffOnNonLoopback(
            addr,
            settings.token_env.clone(),
        )),
        AuthMode::Bearer => lookup_env(&settings.token_env)
            .filter(|t| !t.trim().is_empty())
            .map(Secret::new)
            .or_else(|| settings.token.clone())
            .map(Some)
            .ok_or_else(|| AuthConfigError::NoToken(settings.token_env.clone())),
    }
}

/// Whether `presented` equals `expected`, in time independent of where they
/// differ.
fn token_matches(presented: &str, expected: &Secret) -> bool {
    presented
        .as_bytes()
        .ct_eq(expected.expose().as_bytes())
        .into()
}

/// The credentials on a request: `Authorization: Bearer TOKEN`.
fn bearer(request: &Request) -> Option<&str> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Refuses a request without the right bearer token with 401 and a
/// `WWW-Authenticate` challenge. Never logs the presented token.
pub async fn require_token(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(oauth) = &state.oauth {
        return require_access_token(oauth, &state, peer.ip(), request, next).await;
    }
    let Some(expected) = &state.token else {
        return next.run(request).await;
    };
    let reason = match bearer(&request) {
        Some(token) if token_matches(token, expected) => return next.run(request).await,
        Some(_) => "invalid_token",
        None => "missing_token",
    };
    refuse(&state, peer.ip(), reason)
}

/// Checks an OAuth access token: 401 with the resource metadata's address
/// when it is missing or invalid, 403 with the scopes that would do when no
/// access rule applies to its holder; otherwise the request goes on with
/// its [`Principal`].
async fn require_access_token(
    oauth: &OAuth,
    state: &AppState,
    client: IpAddr,
    mut request: Request,
    next: Next,
) -> Response {
    let settings = oauth.settings();
    let refused = match bearer(&request) {
        None => Err(None),
        Some(token) => oauth.authenticate(token).await.map_err(Some),
    };
    let principal = match refused {
        Ok(principal) => principal,
        Err(refusal) => {
            let reason = refusal.as_ref().map_or("missing_token", |r| r.reason);
            tracing::warn!(%client, reason, "HTTP request refused: no valid access token");
            crate::observe::metrics::http_rejected("unauthorized");
            if let Some(audit) = &state.audit {
                audit.auth_refused(Some(client), reason);
            }
            let text = match &refusal {
                Some(r) => format!("{}\n", r.description),
                None => "an access token is required: send `Authorization: Bearer TOKEN`\n".into(),
            };
            return with_challenge(
                (StatusCode::UNAUTHORIZED, text).into_response(),
                &metadata::unauthorized(settings, refusal.as_ref()),
            );
        }
    };
    if !settings.rules.admits(&principal) {
        tracing::warn!(%client, principal = %principal.id, "HTTP request refused: no access rule applies to the token");
        crate::observe::metrics::http_rejected("forbidden");
        if let Some(audit) = &state.audit {
            audit.access_refused(&principal.id, None, "no_rule");
        }
        return with_challenge(
            (
                StatusCode::FORBIDDEN,
                "the token carries none of the scopes this server grants access with\n",
            )
                .into_response(),
            &metadata::insufficient_scope(settings, &settings.rules.scopes()),
        );
    }
    request.extensions_mut().insert(Arc::new(principal));
    next.run(request).await
}

/// `response` with `WWW-Authenticate: challenge`.
pub(super) fn with_challenge(mut response: Response, challenge: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// The principal an earlier layer authenticated, if any.
pub(super) fn principal_of(request: &Request) -> Option<Arc<Principal>> {
    request.extensions().get::<Arc<Principal>>().cloned()
}

fn refuse(state: &AppState, client: IpAddr, reason: &'static str) -> Response {
    tracing::warn!(%client, reason, "HTTP request refused: bad credentials");
    crate::observe::metrics::http_rejected("unauthorized");
    if let Some(audit) = &state.audit {
        audit.auth_refused(Some(client), reason);
    }
    let challenge = if reason == "invalid_token" {
        "Bearer realm=\"warden\", error=\"invalid_token\""
    } else {
        "Bearer realm=\"warden\""
    };
    with_challenge(
        (
            StatusCode::UNAUTHORIZED,
            "a bearer token is required: send `Authorization: Bearer TOKEN`\n",
        )
            .into_response(),
        challenge,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(auth: AuthMode, token: Option<&str>) -> HttpSettings {
        HttpSettings {
            auth,
            token: token.map(Secret::new),
            ..HttpSettings::default()
        }
    }

    #[test]
    fn env_wins_over_the_config_token() {
        let s = settings(AuthMode::Bearer, Some("from-config"));
        let addr = "127.0.0.1:1".parse().unwrap();
        let token = resolve_token(&s, addr, &|_| Some("from-env".into())).unwrap();
        assert_eq!(token.unwrap().expose(), "from-env");
        let token = resolve_token(&s, addr, &|_| None).unwrap();
        assert_eq!(token.unwrap().expose(), "from-config");
    }

    #[test]
    fn auth_off_only_on_loopback() {
        let s = settings(AuthMode::Off, None);
        assert!(
            resolve_token(&s, "[::1]:1".parse().unwrap(), &|_| None)
                .unwrap()
                .is_none()
        );
        let e = resolve_token(&s, "0.0.0.0:8750".parse().unwrap(), &|_| None).unwrap_err();
        assert!(e.to_string().starts_with(
            "http.auth = \"off\" is only allowed on a loopback address (127.0.0.1 or ::1), and 0.0.0.0:8750 is not"
        ));
    }

    #[test]
    fn no_token_is_an_error() {
        let s = settings(AuthMode::Bearer, None);
        let e = resolve_token(&s, "127.0.0.1:1".parse().unwrap(), &|_| Some(" ".into()));
        assert!(
            e.unwrap_err()
                .to_string()
                .contains("set the environment variable WARDEN_HTTP_TOKEN")
        );
    }

    #[test]
    fn tokens_compare_exactly() {
        let expected = Secret::new("abc");
        assert!(token_matches("abc", &expected));
        assert!(!token_matches("abd", &expected));
        assert!(!token_matches("ab", &expected));
        assert!(!token_matches("abcd", &expected));
    }
}
