//! Exposed names of tools and prompts: restricted to what MCP clients accept
//! (`^[a-zA-Z0-9_-]{1,64}$`) and unique, with a `_2`, `_3`, ... suffix for
//! each later name that collides, in linear time however many collide.

use std::collections::{BTreeMap, HashMap};

/// Longest tool or prompt name clients accept.
pub const MAX_NAME: usize = 64;

/// Hands out unique names against one map of taken names. Remembers, per
/// wanted name, the first suffix not yet known to be taken, so that `n`
/// tools wanting the same name cost `O(n)` probes instead of `O(n²)`. Names
/// are only ever added to the map while it is in use, so a suffix once seen
/// taken stays taken and skipping it gives the same names as probing from
/// `_2` every time.
#[derive(Debug, Default)]
pub(crate) struct UniqueNames {
    next_suffix: HashMap<String, u32>,
}

impl UniqueNames {
    /// The `wanted` name (`PLUGIN_TOOL`, or the tool's own name when the
    /// plugin is not namespaced), with characters clients reject replaced by
    /// `_`, truncated to [`MAX_NAME`] and made unique against `taken`. The
    /// caller inserts the result into `taken`.
    pub(crate) fn assign<V>(&mut self, wanted: &str, taken: &BTreeMap<String, V>) -> String {
        let base: String = wanted
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let fit = |room: usize| &base[..base.len().min(room)];
        let first = fit(MAX_NAME).to_string();
        if !taken.contains_key(&first) {
            return first;
        }
        let next = self.next_suffix.entry(base.clone()).or_insert(2);
        loop {
            let suffix = format!("_{next}");
            let candidate = format!("{}{suffix}", fit(MAX_NAME - suffix.len()));
            *next += 1;
            if !taken.contains_key(&candidate) {
                return candidate;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assign(names: &mut UniqueNames, taken: &mut BTreeMap<String, ()>, wanted: &str) -> String {
        let name = names.assign(wanted, taken);
        taken.insert(name.clone(), ());
        name
    }

    #[test]
    fn names_are_sanitized_and_unique() {
        let (mut names, mut taken) = (UniqueNames::default(), BTreeMap::new());
        assert_eq!(assign(&mut names, &mut taken, "text_sha256"), "text_sha256");
        assert_eq!(
            assign(&mut names, &mut taken, "text_sha256"),
            "text_sha256_2"
        );
        assert_eq!(
            assign(&mut names, &mut taken, "text_a.b/c::d"),
            "text_a_b_c__d"
        );
        assert_eq!(assign(&mut names, &mut taken, "text_a_b"), "text_a_b");
        assert_eq!(assign(&mut names, &mut taken, "text_a.b"), "text_a_b_2");
    }

    #[test]
    fn suffixes_skip_names_taken_by_others() {
        let (mut names, mut taken) = (UniqueNames::default(), BTreeMap::new());
        assert_eq!(assign(&mut names, &mut taken, "x_3"), "x_3");
        assert_eq!(assign(&mut names, &mut taken, "x"), "x");
        assert_eq!(assign(&mut names, &mut taken, "x"), "x_2");
        assert_eq!(assign(&mut names, &mut taken, "x"), "x_4");
        assert_eq!(assign(&mut names, &mut taken, "x_5"), "x_5");
        assert_eq!(assign(&mut names, &mut taken, "x"), "x_6");
    }

    #[test]
    fn long_names_are_truncated_to_64() {
        let (mut names, mut taken) = (UniqueNames::default(), BTreeMap::new());
        let long = format!("p_{}", "x".repeat(100));
        let first = assign(&mut names, &mut taken, &long);
        assert_eq!(first.len(), MAX_NAME);
        let second = assign(&mut names, &mut taken, &long);
        assert_eq!(second.len(), MAX_NAME);
        assert!(second.ends_with("_2"));
        // Names that differ only past the 64th character collide too.
        let other = assign(&mut names, &mut taken, &format!("{long}y"));
        assert_eq!(other, format!("{}_3", &long[..62]));
    }

    #[test]
    fn many_collisions_take_linear_probes() {
        let (mut names, mut taken) = (UniqueNames::default(), BTreeMap::new());
        for _ in 0..20_000 {
            assign(&mut names, &mut taken, "same");
        }
        assert_eq!(taken.len(), 20_000);
        assert!(taken.contains_key("same_20000"));
    }
}
