//! Credentials resolved at load: the operator's value for each approved
//! request whose origin is granted, written into its header value.

use super::{CredentialGrant, covers};
use crate::input::bounded_file::read_operator_text;
use crate::policy::manifest::{CredentialRequest, HttpOrigin, Scheme};
use crate::policy::operator::{CredentialSource, PluginPolicy, expand_references};

/// The largest credential file Warden reads.
const MAX_FILE: u64 = 64 << 10;

/// Grants each of `requested` whose origin one of `origins` covers and for
/// which the operator (`narrowing`, the plugin's `[plugins.NAME]`) supplies
/// a value that makes a valid header; says in `notices` why any other is not
/// granted, and warns of credentials sent over plain HTTP. No notice ever
/// holds a value.
pub(super) fn resolve(
    requested: &[CredentialRequest],
    origins: &[HttpOrigin],
    narrowing: Option<&PluginPolicy>,
    plugin: &str,
    lookup_env: &dyn Fn(&str) -> Option<String>,
    notices: &mut Vec<String>,
) -> Vec<CredentialGrant> {
    let supplied = narrowing.map(|p| &p.credentials);
    let mut granted = Vec::new();
    for request in requested {
        let name = request.name.as_str();
        let key = format!("plugins.{plugin}.credentials.{name}");
        let mut refuse =
            |why: String| notices.push(format!("credential {name} not granted: {why}"));
        if !origins.iter().any(|o| covers(o, &request.origin)) {
            refuse(format!("its origin {} is not granted", request.origin));
            continue;
        }
        let Some(source) = supplied.and_then(|s| s.get(name)) else {
            refuse(format!(
                "the operator supplies no value (set {key} = \"${{VARIABLE}}\" or \
                 {{ file = \"PATH\" }} in warden.toml)"
            ));
            continue;
        };
        let secret = match source {
            CredentialSource::Value(template) => match expand_references(template, lookup_env) {
                Ok(secret) => secret,
                Err(missing) => {
                    refuse(format!("{key} refers to ${{{missing}}}, which is not set"));
                    continue;
                }
            },
            CredentialSource::File(path) => match read_operator_text(path, MAX_FILE) {
                Ok(text) => text
                    .strip_suffix('\n')
                    .map(|t| t.strip_suffix('\r').unwrap_or(t))
                    .unwrap_or(&text)
                    .to_owned(),
                Err(error) => {
                    refuse(format!("{key}: cannot read {}: {error}", path.display()));
                    continue;
                }
            },
        };
        if secret.is_empty() {
            refuse(format!("{key} is empty"));
            continue;
        }
        let Ok(mut value) = http::HeaderValue::from_str(&request.format.render(&secret)) else {
            refuse(format!(
                "the value of {key} cannot be sent in a header (it holds a line break, a \
                 control character or a non-ASCII character)"
            ));
            continue;
        };
        value.set_sensitive(true);
        if request.origin.scheme == Scheme::Http {
            notices.push(format!(
                "credential {name} is sent to {} over plain HTTP, readable on the network",
                request.origin
            ));
        }
        granted.push(CredentialGrant {
            name: name.to_owned(),
            origin: request.origin.clone(),
            header: request.header.clone(),
            value,
        });
    }
    if let Some(supplied) = supplied {
        for name in supplied.keys() {
            if !requested.iter().any(|r| r.name.as_str() == name) {
                notices.push(format!(
                    "plugins.{plugin}.credentials.{name} is not requested by the plugin \
                     (or not approved); it is not used"
                ));
            }
        }
    }
    granted
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::policy::grants::resolve as resolve_grants;
    use crate::policy::manifest::Manifest;
    use crate::policy::operator::{CredentialSource, OperatorPolicy, PluginPolicy};

    const MANIFEST: &str = r#"manifest_version = 1
[capabilities]
http = ["https://api.example.com", "http://plain.example.com"]
credentials = [
    { name = "TOKEN", origin = "https://api.example.com", header = "authorization", format = "Bearer {}" },
    { name = "PLAIN", origin = "http://plain.example.com", header = "x-key" },
]
"#;

    fn policy(sources: &[(&str, CredentialSource)]) -> OperatorPolicy {
        let mut policy = OperatorPolicy::default();
        policy.plugins.insert(
            "p".into(),
            PluginPolicy {
                credentials: sources
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.clone()))
                    .collect(),
                ..PluginPolicy::default()
            },
        );
        policy
    }

    fn grant(policy: &OperatorPolicy) -> (Vec<super::CredentialGrant>, Vec<String>) {
        let requested = Manifest::parse(MANIFEST, Path::new("p.toml"))
            .unwrap()
            .capabilities;
        let lookup = |name: &str| (name == "SECRET_ENV").then(|| "hunter2".to_string());
        let (grants, notices) =
            resolve_grants(&requested, policy, "p", Path::new("."), &lookup).unwrap();
        (grants.http.credentials, notices)
    }

    #[test]
    fn the_operator_value_is_written_into_the_header_and_never_shown() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain.key");
        std::fs::write(&file, "from-a-file\n").unwrap();
        let policy = policy(&[
            ("TOKEN", CredentialSource::Value("${SECRET_ENV}".into())),
            ("PLAIN", CredentialSource::File(file)),
        ]);
        let (granted, notices) = grant(&policy);
        assert_eq!(granted.len(), 2);
        assert_eq!(granted[0].value, "Bearer hunter2");
        assert!(granted[0].value.is_sensitive());
        assert_eq!(granted[1].value, "from-a-file");
        assert_eq!(
            notices,
            [
                "credential PLAIN is sent to http://plain.example.com over plain HTTP, readable on the network"
            ]
        );
        let shown = format!(
            "{granted:?} {} {}",
            serde_json::to_string(&granted).unwrap(),
            granted[0]
        );
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("from-a-file"), "{shown}");
        assert!(format!("{policy:?}").contains("[redacted]"));
    }

    #[test]
    fn a_credential_without_a_usable_value_or_origin_is_not_granted() {
        let mut narrowed = policy(&[
            ("TOKEN", CredentialSource::Value("${UNSET_ENV}".into())),
            ("PLAIN", CredentialSource::Value("bad\u{7f}value".into())),
            ("EXTRA", CredentialSource::Value("x".into())),
        ]);
        let (granted, notices) = grant(&narrowed);
        assert!(granted.is_empty());
        let notices = notices.join("\n");
        for expected in [
            "credential TOKEN not granted: plugins.p.credentials.TOKEN refers to ${UNSET_ENV}, which is not set",
            "credential PLAIN not granted: the value of plugins.p.credentials.PLAIN cannot be sent in a header",
            "plugins.p.credentials.EXTRA is not requested by the plugin",
        ] {
            assert!(notices.contains(expected), "{notices}");
        }
        assert!(!notices.contains("bad"), "{notices}");

        // No value at all, and an origin the operator does not grant.
        let plugin = narrowed.plugins.get_mut("p").unwrap();
        plugin.credentials.clear();
        plugin.http = Some(vec!["http://plain.example.com".parse().unwrap()]);
        let (granted, notices) = grant(&narrowed);
        assert!(granted.is_empty());
        let notices = notices.join("\n");
        assert!(
            notices.contains(
                "credential TOKEN not granted: its origin https://api.example.com is not granted"
            ),
            "{notices}"
        );
        assert!(
            notices.contains("credential PLAIN not granted: the operator supplies no value"),
            "{notices}"
        );

        // An unreadable file names the file, not a value.
        let missing = policy(&[(
            "TOKEN",
            CredentialSource::File("/nonexistent/warden-token".into()),
        )]);
        let (granted, notices) = grant(&missing);
        assert!(granted.is_empty());
        assert!(
            notices
                .join("\n")
                .contains("cannot read /nonexistent/warden-token"),
            "{notices:?}"
        );
    }
}
