//! Tokens already checked: a client sends the same access token on every
//! request, and checking its signature (RS256: tens of microseconds) each
//! time is most of what OAuth costs a request. A token that passed is
//! remembered by its SHA-256, with the principal it stands for, until the
//! earlier of its expiry (with the leeway) and the next change of the
//! issuer's key set: a key set fetched again (on rotation, on an unknown key
//! id, or when it is due) forgets every token, so a retired key's tokens
//! are refused exactly as they would be without this cache. Only tokens
//! that passed are kept; at most [`MAX_TOKENS`], the oldest forgotten first.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use sha2::Digest as _;

use crate::policy::access::Principal;

/// Tokens remembered at once (each holds its principal's claims, at most
/// the longest token read).
pub const MAX_TOKENS: usize = 1024;

type Digest = [u8; 32];

/// Checked tokens, by digest.
#[derive(Debug, Default)]
pub struct VerifiedTokens {
    inner: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    by_digest: HashMap<Digest, Entry>,
    order: VecDeque<Digest>,
}

#[derive(Debug)]
struct Entry {
    principal: Principal,
    /// When the token stops being valid (its `exp` plus the leeway).
    until: Instant,
    /// The key set it was checked against (when that set was fetched).
    keys: Instant,
}

/// The token's digest: what the cache is keyed by.
pub fn digest(token: &str) -> Digest {
    sha2::Sha256::digest(token.as_bytes()).into()
}

impl VerifiedTokens {
    /// The principal of the token with `digest`, if it passed while the key
    /// set fetched at `keys` was current and has not expired.
    pub fn get(&self, digest: &Digest, keys: Option<Instant>) -> Option<Principal> {
        let keys = keys?;
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let entry = inner.by_digest.get(digest)?;
        if entry.keys == keys && Instant::now() < entry.until {
            return Some(entry.principal.clone());
        }
        inner.by_digest.remove(digest);
        None
    }

    /// Remembers that the token with `digest` passed against the key set
    /// fetched at `keys`, standing for `principal`, valid `leeway` past its
    /// `exp`.
    pub fn insert(
        &self,
        digest: Digest,
        principal: &Principal,
        keys: Option<Instant>,
        leeway: Duration,
    ) {
        let (Some(keys), Some(until)) = (keys, valid_until(&principal.claims, leeway)) else {
            return;
        };
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        while inner.by_digest.len() >= MAX_TOKENS || inner.order.len() >= 2 * MAX_TOKENS {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            inner.by_digest.remove(&oldest);
        }
        let entry = Entry {
            principal: principal.clone(),
            until,
            keys,
        };
        if inner.by_digest.insert(digest, entry).is_none() {
            inner.order.push_back(digest);
        }
    }
}

/// When a token whose claims are `claims` stops being valid: `exp` plus
/// `leeway`, as an instant; `None` without a usable `exp` or when it has
/// passed.
fn valid_until(claims: &serde_json::Map<String, Value>, leeway: Duration) -> Option<Instant> {
    let exp = claims.get("exp")?.as_f64()?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_secs_f64();
    let left = exp + leeway.as_secs_f64() - now;
    (left.is_finite() && left > 0.0).then(|| Instant::now() + Duration::from_secs_f64(left))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn principal(exp: f64) -> Principal {
        let claims = json!({ "sub": "alice", "exp": exp });
        Principal {
            id: "alice".into(),
            label: "alice".into(),
            scopes: Default::default(),
            claims: claims.as_object().unwrap().clone(),
        }
    }

    fn now() -> f64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
    }

    #[test]
    fn a_token_is_remembered_while_its_key_set_is_current() {
        let cache = VerifiedTokens::default();
        let keys = Instant::now();
        let d = digest("token-1");
        cache.insert(d, &principal(now() + 600.0), Some(keys), Duration::ZERO);
        assert_eq!(cache.get(&d, Some(keys)).unwrap().id, "alice");
        assert!(cache.get(&digest("token-2"), Some(keys)).is_none());
        // Another key set (fetched again): forgotten.
        let refetched = keys + Duration::from_secs(1);
        assert!(cache.get(&d, Some(refetched)).is_none());
        assert!(cache.get(&d, Some(keys)).is_none(), "removed on the miss");
        // No current key set: nothing is trusted.
        cache.insert(d, &principal(now() + 600.0), Some(keys), Duration::ZERO);
        assert!(cache.get(&d, None).is_none());
    }

    #[test]
    fn expired_tokens_are_not_kept_or_served() {
        let cache = VerifiedTokens::default();
        let keys = Instant::now();
        let d = digest("old");
        cache.insert(d, &principal(now() - 5.0), Some(keys), Duration::ZERO);
        assert!(cache.get(&d, Some(keys)).is_none());
        // Within the leeway it is still valid.
        cache.insert(
            d,
            &principal(now() - 5.0),
            Some(keys),
            Duration::from_secs(30),
        );
        assert!(cache.get(&d, Some(keys)).is_some());
        // Valid for a moment only.
        let d = digest("short");
        cache.insert(d, &principal(now() + 0.05), Some(keys), Duration::ZERO);
        std::thread::sleep(Duration::from_millis(100));
        assert!(cache.get(&d, Some(keys)).is_none());
    }

    #[test]
    fn the_cache_is_bounded() {
        let cache = VerifiedTokens::default();
        let keys = Instant::now();
        for i in 0..=MAX_TOKENS {
            let d = digest(&format!("token-{i}"));
            cache.insert(d, &principal(now() + 600.0), Some(keys), Duration::ZERO);
        }
        let inner = cache.inner.lock().unwrap();
        assert_eq!(inner.by_digest.len(), MAX_TOKENS);
        assert!(!inner.by_digest.contains_key(&digest("token-0")));
    }
}
