//! The issuer's signing keys (JWKS): found through the issuer's metadata
//! (RFC 8414, then OpenID Connect discovery) unless configured, fetched with
//! a size cap and a timeout, cached, fetched again every `jwks_refresh` and
//! when a token names a key id the cache lacks (a rotation), at most once per
//! [`MIN_REFETCH`] whatever tokens arrive. A failed fetch keeps the keys
//! already known.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};
use serde::Deserialize;
use url::Url;

use super::settings::{Identifier, fetchable};
use crate::input::remote::get_json;

/// The fewest seconds between two fetches of the keys.
pub const MIN_REFETCH: Duration = Duration::from_secs(5);
/// The largest metadata or key set document read.
const MAX_DOCUMENT: usize = 256 << 10;
/// The most keys kept from one key set.
const MAX_KEYS: usize = 64;

/// One usable signing key.
#[derive(Clone)]
pub struct Key {
    kid: Option<String>,
    algorithm: Option<Algorithm>,
    family: AlgorithmFamily,
    /// The key that checks signatures.
    pub decoding: DecodingKey,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl Key {
    /// Whether this key may check a token signed with `algorithm` that names
    /// `kid`.
    fn fits(&self, kid: Option<&str>, algorithm: Algorithm) -> bool {
        kid.is_none_or(|kid| self.kid.as_deref() == Some(kid))
            && self.algorithm.is_none_or(|a| a == algorithm)
            && self.family == algorithm.family()
    }
}

/// The keys known, and when they were fetched.
#[derive(Debug, Default)]
struct KeySet {
    keys: Vec<Key>,
    fetched: Option<Instant>,
}

/// Why no key is at hand.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key set has no key for the token.
    #[error("no key of the issuer matches the token's key id")]
    Unknown,
    /// The keys could not be fetched yet.
    #[error("the issuer's keys are not available: {0}")]
    Unavailable(String),
}

/// The issuer's keys, cached.
#[derive(Debug)]
pub struct Jwks {
    issuer: Identifier,
    configured_uri: Option<Url>,
    refresh_every: Duration,
    keys: RwLock<Arc<KeySet>>,
    /// Held while fetching (one fetch at a time); remembers the last
    /// attempt and the discovered key set URL.
    fetching: tokio::sync::Mutex<Fetching>,
}

#[derive(Debug, Default)]
struct Fetching {
    last_attempt: Option<Instant>,
    last_error: Option<String>,
    discovered_uri: Option<Url>,
}

impl Jwks {
    /// Keys of `issuer`, from `jwks_uri` or the issuer's metadata.
    pub fn new(issuer: Identifier, jwks_uri: Option<Url>, refresh_every: Duration) -> Self {
        Self {
            issuer,
            configured_uri: jwks_uri,
            refresh_every,
            keys: RwLock::default(),
            fetching: tokio::sync::Mutex::default(),
        }
    }

    fn current(&self) -> Arc<KeySet> {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// When the key set in use was fetched, unless it is due to be fetched
    /// again: what a token checked against it is remembered with.
    pub fn generation(&self) -> Option<Instant> {
        self.current()
            .fetched
            .filter(|at| at.elapsed() < self.refresh_every)
    }

    /// The keys that may check a token signed with `algorithm` naming
    /// `kid`, and when their set was fetched: fetched again when stale, or
    /// when none fits (at most once per [`MIN_REFETCH`]).
    pub async fn keys_for(
        &self,
        kid: Option<&str>,
        algorithm: Algorithm,
    ) -> Result<(Vec<Key>, Option<Instant>), KeyError> {
        let set = self.current();
        let fitting = |set: &KeySet| -> Vec<Key> {
            set.keys
                .iter()
                .filter(|k| k.fits(kid, algorithm))
                .cloned()
                .collect()
        };
        let stale = set
            .fetched
            .is_none_or(|at| at.elapsed() >= self.refresh_every);
        let found = fitting(&set);
        if !found.is_empty() && !stale {
            return Ok((found, set.fetched));
        }
        let error = self.refresh(set.fetched).await;
        let set = self.current();
        let found = fitting(&set);
        if !found.is_empty() {
            return Ok((found, set.fetched));
        }
        match (set.fetched, error) {
            (None, Some(error)) => Err(KeyError::Unavailable(error)),
            _ => Err(KeyError::Unknown),
        }
    }

    /// Fetches the keys unless another task did since `seen`, or the last
    /// attempt was under [`MIN_REFETCH`] ago. Returns the last fetch error.
    pub async fn refresh(&self, seen: Option<Instant>) -> Option<String> {
        let mut fetching = self.fetching.lock().await;
        if self.current().fetched != seen {
            return None;
        }
        if fetching
            .last_attempt
            .is_some_and(|at| at.elapsed() < MIN_REFETCH)
        {
            return fetching.last_error.clone();
        }
        fetching.last_attempt = Some(Instant::now());
        match self.fetch(&mut fetching).await {
            Ok(keys) => {
                tracing::info!(keys = keys.len(), issuer = %self.issuer, "fetched the issuer's signing keys");
                fetching.last_error = None;
                *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(KeySet {
                    keys,
                    fetched: Some(Instant::now()),
                });
                None
            }
            Err(error) => {
                tracing::warn!(issuer = %self.issuer, %error, "cannot fetch the issuer's signing keys; keeping the keys already known");
                fetching.last_error = Some(error.clone());
                Some(error)
            }
        }
    }

    async fn fetch(&self, fetching: &mut Fetching) -> Result<Vec<Key>, String> {
        let uri = match (&self.configured_uri, &fetching.discovered_uri) {
            (Some(uri), _) | (None, Some(uri)) => uri.clone(),
            (None, None) => {
                let uri = self.discover().await?;
                fetching.discovered_uri = Some(uri.clone());
                uri
            }
        };
        let document: KeySetDocument = get_json(&uri, MAX_DOCUMENT).await?;
        Ok(usable_keys(document.keys))
    }

    /// The `jwks_uri` from the issuer's metadata: RFC 8414's
    /// `/.well-known/oauth-authorization-server` (inserted before the
    /// issuer's path), then OpenID Connect's `openid-configuration`
    /// (appended to it). The metadata must name this issuer.
    async fn discover(&self) -> Result<Url, String> {
        let path = self.issuer.url().path().trim_end_matches('/');
        let mut oauth = self.issuer.url().clone();
        oauth.set_path(&format!("/.well-known/oauth-authorization-server{path}"));
        let mut oidc = self.issuer.url().clone();
        oidc.set_path(&format!("{path}/.well-known/openid-configuration"));
        let mut errors = Vec::new();
        for url in [oauth, oidc] {
            match get_json::<IssuerMetadata>(&url, MAX_DOCUMENT).await {
                Ok(metadata) => {
                    if metadata.issuer.trim_end_matches('/')
                        != self.issuer.as_str().trim_end_matches('/')
                    {
                        return Err(format!(
                            "the metadata at {url} names the issuer {:?}, not {}",
                            metadata.issuer, self.issuer
                        ));
                    }
                    let uri = Url::parse(&metadata.jwks_uri)
                        .map_err(|e| format!("{url}: jwks_uri is not a URL: {e}"))?;
                    if !fetchable(&uri) {
                        return Err(format!("{url}: jwks_uri {uri} is not https"));
                    }
                    return Ok(uri);
                }
                Err(error) => errors.push(error),
            }
        }
        Err(format!(
            "cannot find the issuer's jwks_uri (set auth.jwks_uri): {}",
            errors.join("; ")
        ))
    }
}

#[derive(Deserialize)]
struct IssuerMetadata {
    issuer: String,
    jwks_uri: String,
}

#[derive(Deserialize)]
struct KeySetDocument {
    keys: Vec<serde_json::Value>,
}

/// The keys of a set that can check signatures: each parsed on its own (an
/// unknown kind of key is skipped, not fatal), encryption and shared-secret
/// keys left out, at most [`MAX_KEYS`].
fn usable_keys(keys: Vec<serde_json::Value>) -> Vec<Key> {
    keys.into_iter()
        .filter_map(|value| serde_json::from_value::<Jwk>(value).ok())
        .filter_map(|jwk| {
            if matches!(
                jwk.common.public_key_use,
                Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
            ) {
                return None;
            }
            let family = match &jwk.algorithm {
                AlgorithmParameters::RSA(_) => AlgorithmFamily::Rsa,
                AlgorithmParameters::EllipticCurve(_) => AlgorithmFamily::Ec,
                AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
                    AlgorithmFamily::Ed
                }
                _ => return None,
            };
            let algorithm = match jwk.common.key_algorithm {
                None => None,
                Some(
                    KeyAlgorithm::RSA1_5 | KeyAlgorithm::RSA_OAEP | KeyAlgorithm::RSA_OAEP_256,
                ) => {
                    return None;
                }
                Some(a) => Some(Algorithm::try_from(a).ok()?),
            };
            Some(Key {
                kid: jwk.common.key_id.clone(),
                algorithm,
                family,
                decoding: DecodingKey::from_jwk(&jwk).ok()?,
            })
        })
        .take(MAX_KEYS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_signing_keys_only() {
        let rsa = json!({"kty": "RSA", "kid": "a", "alg": "RS256", "use": "sig",
            "n": "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw",
            "e": "AQAB"});
        let encryption = json!({"kty": "RSA", "kid": "e", "use": "enc",
            "n": rsa["n"], "e": "AQAB"});
        let oaep = json!({"kty": "RSA", "kid": "o", "alg": "RSA-OAEP",
            "n": rsa["n"], "e": "AQAB"});
        let secret = json!({"kty": "oct", "kid": "s", "k": "c2VjcmV0"});
        let unknown = json!({"kty": "XYZ", "kid": "x"});
        let keys = usable_keys(vec![rsa, encryption, oaep, secret, unknown]);
        assert_eq!(keys.len(), 1);
        assert!(keys[0].fits(Some("a"), Algorithm::RS256));
        assert!(!keys[0].fits(Some("b"), Algorithm::RS256));
        assert!(!keys[0].fits(Some("a"), Algorithm::PS256));
        assert!(!keys[0].fits(None, Algorithm::ES256));
    }
}
