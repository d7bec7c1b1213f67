//! Completion of prompt arguments and URI-template variables.

use std::collections::BTreeMap;
use std::fmt;

/// Most values one completion returns (MCP's limit).
pub const MAX_COMPLETIONS: usize = 100;

/// Arguments (or template variables) by name.
pub type Arguments = BTreeMap<String, String>;

/// Suggests values for one argument: gets the text typed so far and the
/// arguments already resolved, returns candidates (see [`complete_from`]).
pub(crate) type Completer = Box<dyn Fn(&str, &Arguments) -> Vec<String>>;

/// Suggested values for an argument.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Completion {
    /// At most [`MAX_COMPLETIONS`] values.
    pub values: Vec<String>,
    /// How many values exist in all.
    pub total: Option<u32>,
    /// More values exist than were returned.
    pub has_more: bool,
}

impl Completion {
    /// Keeps the first [`MAX_COMPLETIONS`] of `values`, counting the rest.
    pub fn from_values(mut values: Vec<String>) -> Self {
        let total = u32::try_from(values.len()).ok();
        let has_more = values.len() > MAX_COMPLETIONS;
        values.truncate(MAX_COMPLETIONS);
        Self {
            values,
            total,
            has_more,
        }
    }
}

/// The candidates that start with `typed`, in order: a ready-made filter for
/// completers.
///
/// ```
/// let paths = ["guide.md", "glossary.md", "faq.md"];
/// assert_eq!(warden_plugin::complete_from(paths, "g"), ["guide.md", "glossary.md"]);
/// ```
pub fn complete_from<I, S>(candidates: I, typed: &str) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    candidates
        .into_iter()
        .map(Into::into)
        .filter(|c: &String| c.starts_with(typed))
        .collect()
}

/// Per-argument completers of a prompt or template.
#[derive(Default)]
pub(crate) struct Completers(Vec<(String, Completer)>);

impl Completers {
    pub(crate) fn add(&mut self, argument: String, completer: Completer) {
        self.0.push((argument, completer));
    }

    /// Completes `argument`; no completer means no suggestions.
    pub(crate) fn complete(&self, argument: &str, typed: &str, context: &Arguments) -> Completion {
        match self.0.iter().find(|(name, _)| name == argument) {
            Some((_, completer)) => Completion::from_values(completer(typed, context)),
            None => Completion::default(),
        }
    }
}

impl fmt::Debug for Completers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(name, _)| name))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_values_and_counts_the_rest() {
        let values: Vec<String> = (0..150).map(|i| i.to_string()).collect();
        let c = Completion::from_values(values);
        assert_eq!(c.values.len(), MAX_COMPLETIONS);
        assert_eq!(c.total, Some(150));
        assert!(c.has_more);
        let c = Completion::from_values(vec!["a".into()]);
        assert!(!c.has_more);
    }

    #[test]
    fn completers_by_argument() {
        let mut completers = Completers::default();
        completers.add(
            "path".into(),
            Box::new(|typed, _| complete_from(["a.md", "b.md"], typed)),
        );
        let none = Arguments::new();
        assert_eq!(completers.complete("path", "b", &none).values, ["b.md"]);
        assert!(completers.complete("other", "", &none).values.is_empty());
    }
}
