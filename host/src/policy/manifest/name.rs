//! The checked plugin name.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A plugin's name: `^[a-z][a-z0-9-]{0,31}$`.
///
/// The host exposes a plugin's tools as `PLUGIN_TOOL`, so a plugin name never
/// contains `_`: the first `_` in a tool name always ends the plugin name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PluginName(String);

impl PluginName {
    /// The longest plugin name, in bytes.
    pub const MAX_LEN: usize = 32;

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Checks `name`, explaining the first problem found.
    fn check(name: &str) -> Result<(), String> {
        let Some(first) = name.chars().next() else {
            return Err("a plugin name cannot be empty".into());
        };
        if name.contains('_') {
            return Err(
                "use '-' instead of '_' (the host joins plugin and tool names with '_')".into(),
            );
        }
        if name.chars().any(|c| c.is_ascii_uppercase()) {
            return Err("use lowercase letters, digits and '-'".into());
        }
        if let Some(bad) = name
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Err(format!(
                "{bad:?} is not allowed: use lowercase letters, digits and '-'"
            ));
        }
        if !first.is_ascii_lowercase() {
            return Err("a plugin name must start with a lowercase letter".into());
        }
        if name.len() > Self::MAX_LEN {
            return Err(format!(
                "it is {} characters long; the maximum is {}",
                name.len(),
                Self::MAX_LEN
            ));
        }
        Ok(())
    }
}

/// A string that is not a valid [`PluginName`].
///
/// Displays as `"My_Plugin" is not a valid plugin name: use '-' instead of '_' (...)`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{value:?} is not a valid plugin name: {reason}")]
pub struct PluginNameError {
    /// The rejected name.
    pub value: String,
    /// What is wrong with it.
    pub reason: String,
}

impl TryFrom<String> for PluginName {
    type Error = PluginNameError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        match PluginName::check(&value) {
            Ok(()) => Ok(PluginName(value)),
            Err(reason) => Err(PluginNameError { value, reason }),
        }
    }
}

impl FromStr for PluginName {
    type Err = PluginNameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PluginName::try_from(s.to_owned())
    }
}

impl From<PluginName> for String {
    fn from(name: PluginName) -> String {
        name.0
    }
}

impl AsRef<str> for PluginName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PluginName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names() {
        for name in [
            "a",
            "text",
            "json-query",
            "x86",
            "a-1-b",
            "a-",
            "a--b",
            &"a".repeat(32),
        ] {
            let parsed: PluginName = name.parse().expect(name);
            assert_eq!(parsed.as_str(), name);
            assert_eq!(parsed.to_string(), name);
        }
    }

    #[test]
    fn invalid_names_say_why() {
        for (name, reason) in [
            ("", "a plugin name cannot be empty"),
            (
                "my_plugin",
                "use '-' instead of '_' (the host joins plugin and tool names with '_')",
            ),
            (
                "My_Plugin",
                "use '-' instead of '_' (the host joins plugin and tool names with '_')",
            ),
            ("Text", "use lowercase letters, digits and '-'"),
            (
                "text.v2",
                "'.' is not allowed: use lowercase letters, digits and '-'",
            ),
            (
                "te xt",
                "' ' is not allowed: use lowercase letters, digits and '-'",
            ),
            (
                "tèxt",
                "'è' is not allowed: use lowercase letters, digits and '-'",
            ),
            ("1text", "a plugin name must start with a lowercase letter"),
            ("-text", "a plugin name must start with a lowercase letter"),
            (
                &"a".repeat(33),
                "it is 33 characters long; the maximum is 32",
            ),
        ] {
            let err = name.parse::<PluginName>().expect_err(name);
            assert_eq!(err.reason, reason, "{name:?}");
            assert_eq!(err.value, name);
        }
        assert_eq!(
            "Text".parse::<PluginName>().unwrap_err().to_string(),
            "\"Text\" is not a valid plugin name: use lowercase letters, digits and '-'"
        );
    }

    #[test]
    fn serde_checks_names() {
        #[derive(Debug, Deserialize)]
        struct T {
            #[allow(dead_code)]
            name: PluginName,
        }
        assert!(toml::from_str::<T>("name = \"ok\"").is_ok());
        let err = toml::from_str::<T>("name = \"Not_Ok\"").unwrap_err();
        assert!(
            err.to_string().contains("is not a valid plugin name"),
            "{err}"
        );
        assert_eq!(
            serde_json::to_string(&"ok".parse::<PluginName>().unwrap()).unwrap(),
            "\"ok\""
        );
    }
}
