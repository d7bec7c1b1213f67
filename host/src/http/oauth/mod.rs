//! Warden as an OAuth 2.1 resource server (the MCP authorization spec):
//! access tokens are JWTs signed by the configured issuer, checked against
//! its published keys ([`jwks`]), its name (`iss`), this server's resource
//! URL (`aud`) and their lifetime (`exp`, `nbf`, with a small leeway). A valid
//! token becomes a [`Principal`], remembered while its key set is current
//! ([`verified`]); [`metadata`] serves the protected resource metadata
//! (RFC 9728) that a refusal points clients to.

pub mod jwks;
pub mod metadata;
pub mod settings;
mod verified;

use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, Mutex};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Validation, decode, decode_header};
use serde_json::{Map, Value};
use sha2::Digest as _;

use crate::policy::access::Principal;
use jwks::{Jwks, KeyError};
use settings::OAuthSettings;
use verified::VerifiedTokens;

/// The longest access token read.
const MAX_TOKEN: usize = 16 << 10;
/// The longest principal name or label kept.
const MAX_NAME: usize = 256;

/// Why a token was refused: what the audit log records, and what the
/// `WWW-Authenticate` challenge describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// A short stable word: `expired`, `wrong_audience`, ...
    pub reason: &'static str,
    /// A sentence for the client.
    pub description: String,
}

impl Refusal {
    fn new(reason: &'static str, description: impl Into<String>) -> Self {
        Self {
            reason,
            description: description.into(),
        }
    }
}

/// Checks access tokens.
#[derive(Debug)]
pub struct OAuth {
    settings: OAuthSettings,
    jwks: Jwks,
    labels: Labels,
    verified: VerifiedTokens,
}

impl OAuth {
    /// A resource server for `settings`.
    pub fn new(settings: OAuthSettings) -> Arc<Self> {
        let jwks = Jwks::new(
            settings.issuer.clone(),
            settings.jwks_uri.clone(),
            settings.jwks_refresh,
        );
        let labels = Labels::new(settings.max_principal_labels as usize);
        Arc::new(Self {
            settings,
            jwks,
            labels,
            verified: VerifiedTokens::default(),
        })
    }

    /// The settings.
    pub fn settings(&self) -> &OAuthSettings {
        &self.settings
    }

    /// Fetches the keys now, so the first request does not wait for them.
    pub async fn prefetch(&self) {
        self.jwks.refresh(None).await;
    }

    /// The principal `token` stands for, or why it is refused.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, Refusal> {
        if token.len() > MAX_TOKEN {
            return Err(Refusal::new("malformed", "the token is too long"));
        }
        let digest = verified::digest(token);
        if let Some(principal) = self.verified.get(&digest, self.jwks.generation()) {
            return Ok(principal);
        }
        let header = decode_header(token)
            .map_err(|_| Refusal::new("malformed", "the token is not a JWT"))?;
        if !self.settings.algorithms.contains(&header.alg) {
            return Err(Refusal::new(
                "algorithm",
                format!("tokens signed with {:?} are not accepted", header.alg),
            ));
        }
        let (keys, generation) = self
            .jwks
            .keys_for(header.kid.as_deref(), header.alg)
            .await
            .map_err(|e| match e {
                KeyError::Unknown => Refusal::new(
                    "unknown_key",
                    "the token is signed with a key the issuer does not publish",
                ),
                KeyError::Unavailable(_) => Refusal::new(
                    "keys_unavailable",
                    "the issuer's signing keys cannot be fetched now; try again later",
                ),
            })?;
        let mut validation = Validation::new(header.alg);
        validation.leeway = self.settings.leeway.as_secs();
        validation.validate_nbf = true;
        validation.set_issuer(&[self.settings.issuer.as_str()]);
        validation.set_audience(&[self.settings.resource.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let mut last = Refusal::new("bad_signature", "the token's signature is not valid");
        for key in keys {
            match decode::<Map<String, Value>>(token, &key.decoding, &validation) {
                Ok(data) => {
                    let principal = self.principal(data.claims)?;
                    self.verified
                        .insert(digest, &principal, generation, self.settings.leeway);
                    return Ok(principal);
                }
                Err(e) => {
                    last = refusal(e.kind(), &self.settings);
                    if !matches!(e.kind(), ErrorKind::InvalidSignature) {
                        break;
                    }
                }
            }
        }
        Err(last)
    }

    fn principal(&self, claims: Map<String, Value>) -> Result<Principal, Refusal> {
        let claim = &self.settings.principal_claim;
        let id = match claims.get(claim) {
            Some(Value::String(s)) if !s.is_empty() => clip(s),
            _ => {
                return Err(Refusal::new(
                    "no_principal",
                    format!("the token has no {claim:?} claim to name its holder"),
                ));
            }
        };
        let label = match &self.settings.metrics_claim {
            Some(name) => match claims.get(name) {
                Some(Value::String(s)) => clip(s),
                _ => "none".into(),
            },
            None => {
                let digest = sha2::Sha256::digest(id.as_bytes());
                digest[..4].iter().map(|b| format!("{b:02x}")).collect()
            }
        };
        Ok(Principal {
            label: self.labels.admit(label),
            id,
            scopes: scopes(&claims),
            claims,
        })
    }
}

/// A string clipped to [`MAX_NAME`] bytes at a character boundary.
fn clip(s: &str) -> String {
    let mut end = s.len().min(MAX_NAME);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// The token's scopes: `scope` (space-separated, RFC 9068) or `scp` (a list
/// or a string, as some issuers send).
fn scopes(claims: &Map<String, Value>) -> BTreeSet<String> {
    let words = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    let mut scopes = BTreeSet::new();
    for name in ["scope", "scp"] {
        match claims.get(name) {
            Some(Value::String(s)) => scopes.extend(words(s)),
            Some(Value::Array(items)) => {
                scopes.extend(items.iter().filter_map(Value::as_str).map(str::to_owned));
            }
            _ => {}
        }
    }
    scopes
}

fn refusal(kind: &ErrorKind, settings: &OAuthSettings) -> Refusal {
    match kind {
        ErrorKind::ExpiredSignature => Refusal::new("expired", "the token has expired"),
        ErrorKind::ImmatureSignature => Refusal::new("not_yet_valid", "the token is not valid yet"),
        ErrorKind::InvalidAudience => Refusal::new(
            "wrong_audience",
            format!("the token is not for this server ({})", settings.resource),
        ),
        ErrorKind::InvalidIssuer => Refusal::new(
            "wrong_issuer",
            format!("the token is not from {}", settings.issuer),
        ),
        ErrorKind::MissingRequiredClaim(claim) => {
            Refusal::new("missing_claim", format!("the token has no {claim:?} claim"))
        }
        ErrorKind::InvalidSignature => {
            Refusal::new("bad_signature", "the token's signature is not valid")
        }
        ErrorKind::InvalidAlgorithm => Refusal::new(
            "algorithm",
            "the token's algorithm does not match the issuer's key",
        ),
        _ => Refusal::new("malformed", "the token cannot be read"),
    }
}

/// Metrics labels for principals: the first `cap` distinct values are kept,
/// the rest are `other`, so a busy server's series stay bounded.
#[derive(Debug)]
struct Labels {
    seen: Mutex<HashSet<String>>,
    cap: usize,
}

impl Labels {
    fn new(cap: usize) -> Self {
        Self {
            seen: Mutex::default(),
            cap,
        }
    }

    fn admit(&self, label: String) -> String {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.contains(&label) {
            return label;
        }
        if seen.len() < self.cap {
            seen.insert(label.clone());
            return label;
        }
        "other".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scopes_from_scope_or_scp() {
        let claims = json!({"scope": "a b  c", "scp": ["d"]});
        let s = scopes(claims.as_object().unwrap());
        assert_eq!(s, BTreeSet::from(["a", "b", "c", "d"].map(String::from)));
    }

    #[test]
    fn labels_are_bounded() {
        let labels = Labels::new(2);
        assert_eq!(labels.admit("a".into()), "a");
        assert_eq!(labels.admit("b".into()), "b");
        assert_eq!(labels.admit("c".into()), "other");
        assert_eq!(labels.admit("a".into()), "a");
    }

    #[test]
    fn clips_at_a_character_boundary() {
        let long = "é".repeat(200);
        let clipped = clip(&long);
        assert!(clipped.len() <= MAX_NAME && clipped.chars().all(|c| c == 'é'));
    }
}
