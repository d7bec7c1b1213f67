//! Which tool calls need the person's confirmation before they run:
//! `[plugins.NAME] confirm = ["write_*"]` and `auto_approve = [...]` in
//! `warden.toml`, and the tools' own `destructiveHint`.
//!
//! A tool asks when the operator lists it in `confirm`, or when it is
//! annotated destructive (`destructiveHint: true`) and not read-only;
//! `auto_approve` skips the question for the tools it names (as Kiro's
//! `autoApprove` does). A read-only tool never asks unless the operator
//! lists it: its annotation is the plugin's claim, the list is the
//! operator's.

use serde::Deserialize;

/// The most bytes of a tool-name glob.
const MAX_GLOB_BYTES: usize = 128;

/// A tool-name pattern: `*` matches any run of characters, `?` one; every
/// other character matches itself.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct ToolGlob(String);

impl TryFrom<String> for ToolGlob {
    type Error = String;

    fn try_from(pattern: String) -> Result<Self, String> {
        if pattern.is_empty() || pattern.len() > MAX_GLOB_BYTES {
            return Err(format!(
                "a tool pattern has 1 to {MAX_GLOB_BYTES} characters, not {}",
                pattern.len()
            ));
        }
        if let Some(c) = pattern
            .chars()
            .find(|&c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '*' | '?')))
        {
            return Err(format!(
                "{pattern:?}: a tool pattern holds letters, digits, `_`, `-`, `.`, and the \
                 wildcards `*` and `?`, not {c:?}"
            ));
        }
        Ok(Self(pattern))
    }
}

impl ToolGlob {
    /// Whether `name` matches.
    pub fn matches(&self, name: &str) -> bool {
        wildmatch::WildMatch::new(&self.0).matches(name)
    }
}

/// `[plugins.NAME]` `confirm` and `auto_approve`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsentRules {
    /// Tools (names inside the plugin) that ask before they run.
    pub confirm: Vec<ToolGlob>,
    /// Tools that never ask.
    pub auto_approve: Vec<ToolGlob>,
}

/// Whether a call needs the person's confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentNeed {
    /// No: the tool is neither listed nor annotated destructive.
    None,
    /// It would, but `auto_approve` names it.
    AutoApproved,
    /// Yes: ask the person.
    Ask,
}

/// What a tool's annotations claim, as far as consent goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Claims {
    /// `readOnlyHint: true`.
    pub read_only: bool,
    /// `destructiveHint: true`, stated.
    pub destructive: bool,
}

impl ConsentRules {
    /// What a call of `tool` (its name inside the plugin) needs.
    pub fn need(&self, tool: &str, claims: Claims) -> ConsentNeed {
        let listed = self.confirm.iter().any(|g| g.matches(tool));
        let asks = listed || (claims.destructive && !claims.read_only);
        if !asks {
            ConsentNeed::None
        } else if self.auto_approve.iter().any(|g| g.matches(tool)) {
            ConsentNeed::AutoApproved
        } else {
            ConsentNeed::Ask
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(pattern: &str) -> ToolGlob {
        ToolGlob::try_from(pattern.to_string()).unwrap()
    }

    #[test]
    fn globs_match_names_and_refuse_other_characters() {
        assert!(glob("write_*").matches("write_file"));
        assert!(glob("write_*").matches("write_"));
        assert!(!glob("write_*").matches("rewrite_file"));
        assert!(glob("de?ete").matches("delete"));
        assert!(glob("*").matches("anything"));
        assert!(ToolGlob::try_from("a b".to_string()).is_err());
        assert!(ToolGlob::try_from(String::new()).is_err());
        assert!(ToolGlob::try_from("[ab]".to_string()).is_err());
    }

    #[test]
    fn listed_or_destructive_tools_ask_unless_auto_approved() {
        let rules = ConsentRules {
            confirm: vec![glob("write_*")],
            auto_approve: vec![glob("write_log")],
        };
        let none = Claims::default();
        let destructive = Claims {
            destructive: true,
            read_only: false,
        };
        let read_only = Claims {
            destructive: true,
            read_only: true,
        };
        assert_eq!(rules.need("write_file", none), ConsentNeed::Ask);
        assert_eq!(rules.need("write_log", none), ConsentNeed::AutoApproved);
        assert_eq!(rules.need("read_file", none), ConsentNeed::None);
        assert_eq!(rules.need("drop_table", destructive), ConsentNeed::Ask);
        assert_eq!(rules.need("drop_table", read_only), ConsentNeed::None);
        // The operator's list outweighs the plugin's claim.
        assert_eq!(rules.need("write_file", read_only), ConsentNeed::Ask);
    }
}
