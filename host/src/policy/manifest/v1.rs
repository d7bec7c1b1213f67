//! The schema of `manifest_version = 1`, as written, and its validation.

use std::path::Path;

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::dirs::check_host_dir;
use super::{
    BuildRecipe, Capabilities, DirGrant, DirMode, EnvVarName, FieldError, GuestPath, HttpOrigin,
    Manifest, ManifestError, PluginName, Seen, name_from_file,
};
use crate::limits::RawLimits;

/// A version 1 manifest before its values are checked.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawManifest {
    /// Checked by the version probe.
    #[serde(rename = "manifest_version")]
    _manifest_version: IgnoredAny,
    name: Option<String>,
    version: Option<String>,
    description: Option<String>,
    #[serde(default)]
    capabilities: RawCapabilities,
    #[serde(default)]
    limits: RawLimits,
    build: Option<RawBuild>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBuild {
    command: String,
    output: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCapabilities {
    #[serde(default)]
    http: Vec<String>,
    #[serde(default)]
    env: Vec<String>,
    #[serde(default)]
    dirs: Vec<RawDir>,
    #[serde(default)]
    client: Vec<String>,
    #[serde(default)]
    credentials: Vec<super::credentials::RawCredential>,
    http_max_requests: Option<toml::Value>,
    http_max_response: Option<toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDir {
    host: String,
    guest: String,
    mode: Option<String>,
}

impl RawManifest {
    /// Checks every value; the first problem becomes the error.
    pub(super) fn validate(self, path: &Path) -> Result<Manifest, ManifestError> {
        let invalid = |field: String, error: FieldError| ManifestError::Invalid {
            path: path.to_owned(),
            field,
            error,
        };

        let name = match self.name {
            Some(name) => {
                PluginName::try_from(name).map_err(|e| invalid("name".into(), e.into()))?
            }
            None => name_from_file(path)?,
        };

        let version = self
            .version
            .map(|value| {
                semver::Version::parse(&value).map_err(|e| {
                    let reason = e.to_string();
                    invalid("version".into(), FieldError::Version { value, reason })
                })
            })
            .transpose()?;

        let mut http = Vec::with_capacity(self.capabilities.http.len());
        let mut seen = Seen::new();
        for (i, value) in self.capabilities.http.iter().enumerate() {
            let field = format!("capabilities.http[{i}]");
            let origin: HttpOrigin = value
                .parse()
                .map_err(|e: super::HttpOriginError| invalid(field.clone(), e.into()))?;
            seen.check(origin.clone(), value, &field)
                .map_err(|e| invalid(field, e))?;
            http.push(origin);
        }

        let mut env = Vec::with_capacity(self.capabilities.env.len());
        let mut seen = Seen::new();
        for (i, value) in self.capabilities.env.iter().enumerate() {
            let field = format!("capabilities.env[{i}]");
            let name: EnvVarName = value
                .parse()
                .map_err(|e: super::EnvVarNameError| invalid(field.clone(), e.into()))?;
            seen.check(name.clone(), value, &field)
                .map_err(|e| invalid(field, e))?;
            env.push(name);
        }

        let mut dirs = Vec::with_capacity(self.capabilities.dirs.len());
        let mut seen = Seen::new();
        for (i, dir) in self.capabilities.dirs.into_iter().enumerate() {
            let field = |key: &str| format!("capabilities.dirs[{i}].{key}");
            let host = check_host_dir(&dir.host).map_err(|reason| {
                let value = dir.host.clone();
                invalid(field("host"), FieldError::HostDir { value, reason })
            })?;
            let guest: GuestPath = dir
                .guest
                .parse()
                .map_err(|e: super::GuestPathError| invalid(field("guest"), e.into()))?;
            seen.check(guest.clone(), &dir.guest, &field("guest"))
                .map_err(|e| invalid(field("guest"), e))?;
            let mode = match dir.mode {
                None => DirMode::default(),
                Some(value) => value
                    .parse()
                    .map_err(|()| invalid(field("mode"), FieldError::DirMode { value }))?,
            };
            dirs.push(DirGrant { host, guest, mode });
        }

        let mut client = Vec::with_capacity(self.capabilities.client.len());
        let mut seen = Seen::new();
        for (i, value) in self.capabilities.client.iter().enumerate() {
            let field = format!("capabilities.client[{i}]");
            let feature: super::ClientFeature = value
                .parse()
                .map_err(|reason| invalid(field.clone(), FieldError::ClientFeature(reason)))?;
            seen.check(feature, value, &field)
                .map_err(|e| invalid(field, e))?;
            client.push(feature);
        }
        client.sort();

        let credentials = super::credentials::validate(self.capabilities.credentials, &http)
            .map_err(|(field, error)| invalid(field, error))?;

        let http_max_requests = self
            .capabilities
            .http_max_requests
            .as_ref()
            .map(|value| {
                super::capabilities::check_http_requests(value).map_err(|reason| {
                    invalid(
                        "capabilities.http_max_requests".into(),
                        FieldError::HttpLimit {
                            value: value.to_string(),
                            reason,
                        },
                    )
                })
            })
            .transpose()?;
        let http_max_response = self
            .capabilities
            .http_max_response
            .as_ref()
            .map(|value| {
                super::capabilities::check_http_response(value).map_err(|reason| {
                    invalid(
                        "capabilities.http_max_response".into(),
                        FieldError::HttpLimit {
                            value: value.to_string(),
                            reason,
                        },
                    )
                })
            })
            .transpose()?;

        let limits = self
            .limits
            .validate()
            .map_err(|(kind, e)| invalid(format!("limits.{kind}"), e.into()))?;

        Ok(Manifest {
            path: Some(path.to_owned()),
            name,
            version,
            description: self.description,
            capabilities: Capabilities {
                http,
                env,
                dirs,
                client,
                credentials,
                http_max_requests,
                http_max_response,
            },
            limits,
            build: self.build.map(|b| BuildRecipe {
                command: b.command,
                output: b.output.into(),
            }),
        })
    }
}
