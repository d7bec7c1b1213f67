//! An OAuth issuer for the load bench: its metadata (RFC 8414) and key set
//! served on 127.0.0.1, and an RS256 access token signed with the test key
//! `tests/fixtures/oauth/rsa-a.pem`.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use axum::Router;
use axum::routing::get;
use jsonwebtoken::jwk::{Jwk, KeyAlgorithm};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::json;

/// The audience the bench's tokens name.
pub const RESOURCE: &str = "https://warden.bench/mcp";
/// The scope the bench's rule grants every tool to.
const SCOPE: &str = "bench";
const KID: &str = "bench-rsa";

/// A running issuer and a token it signed.
pub struct Issuer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// A valid access token (one hour) for every tool.
    pub token: String,
    server: tokio::task::JoinHandle<()>,
}

impl Issuer {
    /// Serves the metadata and the key set, and signs the token.
    pub async fn start() -> anyhow::Result<Self> {
        let pem = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/oauth/rsa-a.pem"),
        )
        .context("read the test key")?;
        let key = EncodingKey::from_rsa_pem(&pem)?;
        let mut jwk = Jwk::from_encoding_key(&key, Algorithm::RS256)?;
        jwk.common.key_id = Some(KID.into());
        jwk.common.key_algorithm = Some(KeyAlgorithm::RS256);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let metadata = json!({ "issuer": url, "jwks_uri": format!("{url}/jwks") }).to_string();
        let keys = json!({ "keys": [jwk] }).to_string();
        let app = Router::new()
            .route(
                "/.well-known/oauth-authorization-server",
                get(move || std::future::ready(metadata.clone())),
            )
            .route("/jwks", get(move || std::future::ready(keys.clone())));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(KID.into());
        let claims = json!({
            "iss": url, "aud": RESOURCE, "sub": "bench", "scope": SCOPE,
            "iat": now, "exp": now + 3600,
        });
        let token = encode(&header, &claims, &key)?;
        Ok(Self { url, token, server })
    }

    /// The `[http]` and `[auth]` sections that accept this issuer's tokens.
    pub fn config(&self) -> String {
        format!(
            "[http]\nauth = \"oauth\"\n[http.rate_limit]\nper_second = 0\n\
             [auth]\nissuer = \"{}\"\nresource = \"{RESOURCE}\"\n\
             [[auth.rules]]\nscope = \"{SCOPE}\"\nlist = [\"*\"]\ncall = [\"*\"]\n",
            self.url
        )
    }
}

impl Drop for Issuer {
    fn drop(&mut self) {
        self.server.abort();
    }
}
