//! Who may list and call which tools over HTTP: `[[auth.rules]]` in
//! `warden.toml`, decided for a [`Principal`] (the holder of a validated
//! OAuth access token).
//!
//! ```toml
//! [[auth.rules]]
//! scope = "warden:read"            # the token carries this scope
//! claims = { groups = "eng" }      # and these claim values (all of them)
//! list = ["*"]                     # exposed tool names the principal sees
//! call = ["text_*", "files_read"]  # exposed tool names it may call
//! calls_per_minute = 60            # per principal and tool (or plugin: per = "plugin")
//! metrics = false                  # whether it may read /metrics
//! ```
//!
//! With no rules every principal may list and call every tool. With rules,
//! a principal may call a tool when a rule that matches it names the tool in
//! `call`, and sees the tool when it may call it and a matching rule names
//! it in `list` (so a tool it may not call is never listed to it). A
//! plugin's resources, prompts and completions are open to a principal that
//! may call at least one of its tools. `/metrics` (every plugin's tool
//! names, every principal's label) is open to a principal a rule with
//! `metrics = true` matches; such a rule may leave `call` empty.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::input::settings::{ConfigError, invalid};
use crate::policy::consent::ToolGlob;

/// The most rules `[[auth.rules]]` may hold.
const MAX_RULES: usize = 256;

/// The holder of a validated access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Who it is, for the audit log and spans: the configured claim's value
    /// (by default `sub`), qualified by nothing else.
    pub id: String,
    /// What metrics call it: a configured claim's value or a short hash of
    /// `id`, from a bounded set of values.
    pub label: String,
    /// The token's scopes (`scope`, space-separated, or `scp`).
    pub scopes: BTreeSet<String>,
    /// The token's claims, for rules that match on them.
    pub claims: serde_json::Map<String, Value>,
}

impl Principal {
    /// Whether the claim `name` is `value`, or is a list that holds it.
    fn has_claim(&self, name: &str, value: &str) -> bool {
        match self.claims.get(name) {
            Some(Value::String(s)) => s == value,
            Some(Value::Array(items)) => items.iter().any(|i| i.as_str() == Some(value)),
            Some(Value::Bool(b)) => b.to_string() == value,
            Some(Value::Number(n)) => n.to_string() == value,
            _ => false,
        }
    }
}

/// What a rate limit counts calls by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LimitPer {
    /// Each tool has its own budget per principal.
    #[default]
    Tool,
    /// All of a plugin's tools share one budget per principal.
    Plugin,
}

/// One `[[auth.rules]]` entry (with neither `scope` nor `claims`, it
/// applies to every valid token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRule {
    /// The scope a token must carry; `None`: any.
    pub scope: Option<String>,
    /// Claim values a token must carry, all of them.
    pub claims: BTreeMap<String, String>,
    /// Exposed tool names a matching principal sees (when it may call them).
    pub list: Vec<ToolGlob>,
    /// Exposed tool names a matching principal may call.
    pub call: Vec<ToolGlob>,
    /// Calls per minute per principal through this rule; `None`: no limit.
    pub calls_per_minute: Option<u32>,
    /// What the limit counts by.
    pub per: LimitPer,
    /// Whether a matching principal may read `/metrics`.
    pub metrics: bool,
}

impl AccessRule {
    /// Whether the rule applies to `principal`.
    fn matches(&self, principal: &Principal) -> bool {
        self.scope
            .as_ref()
            .is_none_or(|s| principal.scopes.contains(s))
            && self
                .claims
                .iter()
                .all(|(name, value)| principal.has_claim(name, value))
    }

    fn allows_call(&self, tool: &str) -> bool {
        self.call.iter().any(|g| g.matches(tool))
    }
}

/// The rate a call goes through: which rule's budget, by what key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallRate {
    /// The rule's position in `[[auth.rules]]`.
    pub rule: usize,
    /// Its calls per minute.
    pub per_minute: u32,
    /// Whether the budget is the tool's or the plugin's.
    pub per: LimitPer,
}

/// `[[auth.rules]]`, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessRules {
    rules: Vec<AccessRule>,
}

impl AccessRules {
    /// Rules as given (tests and callers that build them in code).
    pub fn new(rules: Vec<AccessRule>) -> Self {
        Self { rules }
    }

    /// The rules, in order.
    pub fn rules(&self) -> &[AccessRule] {
        &self.rules
    }

    /// Whether there are no rules: every principal may do everything.
    pub fn is_open(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether any rule applies to `principal` (with rules, one that none
    /// applies to may do nothing at all).
    pub fn admits(&self, principal: &Principal) -> bool {
        self.is_open() || self.rules.iter().any(|r| r.matches(principal))
    }

    /// Whether `principal` may call the tool exposed as `tool`.
    pub fn may_call(&self, principal: &Principal, tool: &str) -> bool {
        self.is_open()
            || self
                .rules
                .iter()
                .any(|r| r.matches(principal) && r.allows_call(tool))
    }

    /// Whether `principal` may read `/metrics`.
    pub fn may_read_metrics(&self, principal: &Principal) -> bool {
        self.is_open() || self.rules.iter().any(|r| r.metrics && r.matches(principal))
    }

    /// The scopes of the rules that open `/metrics`.
    pub fn metrics_scopes(&self) -> BTreeSet<&str> {
        self.rules
            .iter()
            .filter(|r| r.metrics)
            .filter_map(|r| r.scope.as_deref())
            .collect()
    }

    /// Whether `principal` sees the tool exposed as `tool` in `tools/list`.
    pub fn may_list(&self, principal: &Principal, tool: &str) -> bool {
        self.is_open()
            || (self.may_call(principal, tool)
                && self
                    .rules
                    .iter()
                    .any(|r| r.matches(principal) && r.list.iter().any(|g| g.matches(tool))))
    }

    /// The scopes of the rules that let their holder call `tool` (what a
    /// refusal tells the client to ask for).
    pub fn scopes_for(&self, tool: &str) -> BTreeSet<&str> {
        self.rules
            .iter()
            .filter(|r| r.allows_call(tool))
            .filter_map(|r| r.scope.as_deref())
            .collect()
    }

    /// Every scope the rules name, for the protected resource metadata.
    pub fn scopes(&self) -> BTreeSet<&str> {
        self.rules
            .iter()
            .filter_map(|r| r.scope.as_deref())
            .collect()
    }

    /// The rate limit a call of `tool` by `principal` goes through: the most
    /// generous of the rules that let it call; `None` when one of them sets
    /// no limit (or there are no rules).
    pub fn call_rate(&self, principal: &Principal, tool: &str) -> Option<CallRate> {
        let mut best: Option<CallRate> = None;
        for (index, rule) in self.rules.iter().enumerate() {
            if !(rule.matches(principal) && rule.allows_call(tool)) {
                continue;
            }
            let per_minute = rule.calls_per_minute?;
            if best.is_none_or(|b| per_minute > b.per_minute) {
                best = Some(CallRate {
                    rule: index,
                    per_minute,
                    per: rule.per,
                });
            }
        }
        best
    }
}

/// One `[[auth.rules]]` entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAccessRule {
    scope: Option<String>,
    #[serde(default)]
    claims: BTreeMap<String, String>,
    #[serde(default)]
    list: Vec<ToolGlob>,
    #[serde(default)]
    call: Vec<ToolGlob>,
    calls_per_minute: Option<u32>,
    #[serde(default)]
    per: LimitPer,
    #[serde(default)]
    metrics: bool,
}

/// Validates `[[auth.rules]]`; `path` is the config file.
pub(crate) fn validate_rules(
    raw: Vec<RawAccessRule>,
    path: &Path,
) -> Result<AccessRules, ConfigError> {
    if raw.len() > MAX_RULES {
        return Err(invalid(
            path,
            "auth.rules",
            format!("{} rules", raw.len()),
            format!("at most {MAX_RULES} rules"),
        ));
    }
    let mut rules = Vec::with_capacity(raw.len());
    for (index, rule) in raw.into_iter().enumerate() {
        let field = |name: &str| format!("auth.rules[{index}].{name}");
        if let Some(scope) = &rule.scope
            && (scope.is_empty() || scope.contains(char::is_whitespace) || scope.contains('"'))
        {
            return Err(invalid(
                path,
                &field("scope"),
                format!("{scope:?}"),
                "a scope is one word, without spaces or quotes",
            ));
        }
        if rule.call.is_empty() && !rule.metrics {
            return Err(invalid(
                path,
                &field("call"),
                "[]".into(),
                "name the tools the rule lets its principals call, such as [\"*\"] \
                 (or set metrics = true for a rule that only opens /metrics)",
            ));
        }
        if rule.calls_per_minute == Some(0) {
            return Err(invalid(
                path,
                &field("calls_per_minute"),
                "0".into(),
                "expected at least 1 (leave it out for no limit)",
            ));
        }
        rules.push(AccessRule {
            scope: rule.scope,
            claims: rule.claims,
            list: rule.list,
            call: rule.call,
            calls_per_minute: rule.calls_per_minute,
            per: rule.per,
            metrics: rule.metrics,
        });
    }
    Ok(AccessRules { rules })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn glob(p: &str) -> ToolGlob {
        ToolGlob::try_from(p.to_string()).unwrap()
    }

    fn principal(scopes: &[&str], claims: Value) -> Principal {
        Principal {
            id: "alice".into(),
            label: "alice".into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            claims: claims.as_object().cloned().unwrap_or_default(),
        }
    }

    fn rules() -> AccessRules {
        AccessRules::new(vec![
            AccessRule {
                scope: Some("read".into()),
                claims: BTreeMap::new(),
                list: vec![glob("*")],
                call: vec![glob("text_*")],
                calls_per_minute: Some(10),
                per: LimitPer::Tool,
                metrics: false,
            },
            AccessRule {
                scope: Some("write".into()),
                claims: BTreeMap::from([("groups".into(), "eng".into())]),
                list: vec![glob("files_*")],
                call: vec![glob("files_*"), glob("text_*")],
                calls_per_minute: Some(100),
                per: LimitPer::Plugin,
                metrics: true,
            },
        ])
    }

    #[test]
    fn no_rules_allow_everything() {
        let open = AccessRules::default();
        let p = principal(&[], json!({}));
        assert!(open.admits(&p) && open.may_call(&p, "x") && open.may_list(&p, "x"));
        assert_eq!(open.call_rate(&p, "x"), None);
    }

    #[test]
    fn metrics_only_through_a_rule_that_opens_them() {
        let rules = rules();
        assert!(!rules.may_read_metrics(&principal(&["read"], json!({}))));
        let engineer = principal(&["write"], json!({"groups": ["eng"]}));
        assert!(rules.may_read_metrics(&engineer));
        assert_eq!(rules.metrics_scopes(), BTreeSet::from(["write"]));
        assert!(AccessRules::default().may_read_metrics(&engineer));
    }

    #[test]
    fn scope_and_claims_decide_list_and_call_separately() {
        let rules = rules();
        let reader = principal(&["read"], json!({}));
        assert!(rules.may_call(&reader, "text_hash"));
        assert!(rules.may_list(&reader, "text_hash"));
        // Listed by `*`, but not callable: never listed.
        assert!(!rules.may_call(&reader, "files_write"));
        assert!(!rules.may_list(&reader, "files_write"));

        // `write` alone is not enough: the claim must match too.
        let writer = principal(&["write"], json!({"groups": ["ops"]}));
        assert!(!rules.admits(&writer));
        assert!(!rules.may_call(&writer, "files_write"));
        let writer = principal(&["write"], json!({"groups": ["ops", "eng"]}));
        assert!(rules.may_call(&writer, "files_write"));
        assert!(rules.may_list(&writer, "files_write"));
        // Callable through the second rule, whose `list` does not name it.
        assert!(rules.may_call(&writer, "text_hash"));
        assert!(!rules.may_list(&writer, "text_hash"));
        assert_eq!(rules.scopes_for("files_write"), BTreeSet::from(["write"]));
        assert_eq!(
            rules.scopes_for("text_hash"),
            BTreeSet::from(["read", "write"])
        );
    }

    #[test]
    fn the_most_generous_rate_wins() {
        let rules = rules();
        let both = principal(&["read", "write"], json!({"groups": "eng"}));
        let rate = rules.call_rate(&both, "text_hash").unwrap();
        assert_eq!((rate.rule, rate.per_minute), (1, 100));
        assert_eq!(rate.per, LimitPer::Plugin);
        let reader = principal(&["read"], json!({}));
        assert_eq!(
            rules.call_rate(&reader, "text_hash").unwrap().per_minute,
            10
        );
        // A rule without a limit makes the call unlimited.
        let mut unlimited = rules.rules().to_vec();
        unlimited[0].calls_per_minute = None;
        let unlimited = AccessRules::new(unlimited);
        assert_eq!(unlimited.call_rate(&both, "text_hash"), None);
    }

    #[test]
    fn rules_are_validated() {
        let parse = |text: &str| {
            #[derive(Deserialize)]
            struct Doc {
                rules: Vec<RawAccessRule>,
            }
            let doc: Doc = toml::from_str(text).unwrap();
            validate_rules(doc.rules, Path::new("warden.toml"))
        };
        let ok = parse("[[rules]]\nscope = \"read\"\ncall = [\"*\"]\n").unwrap();
        assert_eq!(ok.scopes(), BTreeSet::from(["read"]));
        // A rule without scope or claims applies to every valid token.
        let any = parse("[[rules]]\ncall = [\"text_*\"]\n").unwrap();
        let nobody = principal(&[], json!({}));
        assert!(any.admits(&nobody) && any.may_call(&nobody, "text_hash"));
        let e = parse("[[rules]]\nscope = \"a b\"\ncall = [\"*\"]\n").unwrap_err();
        assert!(e.to_string().contains("one word"), "{e}");
        let e = parse("[[rules]]\nscope = \"a\"\n").unwrap_err();
        assert!(e.to_string().contains("auth.rules[0].call"), "{e}");
        let e =
            parse("[[rules]]\nscope = \"a\"\ncall = [\"*\"]\ncalls_per_minute = 0\n").unwrap_err();
        assert!(e.to_string().contains("at least 1"), "{e}");
    }
}
