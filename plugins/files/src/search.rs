//! Pure search logic: the query matcher, glob filters and match snippets.

use regex::{Regex, RegexBuilder};
use warden_plugin::ToolError;

/// Longest line text shown for a match, in characters.
pub const MAX_LINE_CHARS: usize = 240;

/// Builds the matcher for `query`: a literal substring unless `regex` is set.
pub fn matcher(query: &str, regex: bool, case_sensitive: bool) -> Result<Regex, ToolError> {
    if query.is_empty() {
        return Err(ToolError::invalid_arguments("`query` is empty"));
    }
    let pattern = if regex {
        query.to_string()
    } else {
        regex::escape(query)
    };
    RegexBuilder::new(&pattern)
        .case_insensitive(!case_sensitive)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| {
            ToolError::invalid_arguments(format!(
                "`query` is not a valid regular expression: {}",
                one_line(&e.to_string())
            ))
        })
}

fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A compiled glob: `*` matches within a path component, `**` across
/// components, `?` one character, `[abc]` a class, `{md,txt}` alternatives.
/// A pattern without `/` is matched against the file name, otherwise against
/// the path relative to the searched directory.
#[derive(Debug, Clone)]
pub struct Glob {
    regex: Regex,
    whole_path: bool,
}

impl Glob {
    pub fn new(pattern: &str) -> Result<Self, ToolError> {
        let pattern = pattern.trim().trim_start_matches("./");
        if pattern.is_empty() {
            return Err(ToolError::invalid_arguments("`glob` is empty"));
        }
        let invalid = |why: &str| {
            ToolError::invalid_arguments(format!(
                "`glob` {pattern:?} is invalid: {why} (examples: `*.md`, `**/*.rs`, \
                 `notes/*.{{md,txt}}`)"
            ))
        };
        let mut re = String::from("^");
        let chars: Vec<char> = pattern.chars().collect();
        let mut i = 0;
        let mut in_braces = false;
        while i < chars.len() {
            let c = chars[i];
            match c {
                '*' if chars.get(i + 1) == Some(&'*') => {
                    if chars.get(i + 2) == Some(&'/') {
                        re.push_str("(?:.*/)?");
                        i += 3;
                    } else {
                        re.push_str(".*");
                        i += 2;
                    }
                    continue;
                }
                '*' => re.push_str("[^/]*"),
                '?' => re.push_str("[^/]"),
                '[' => {
                    let end = chars[i + 1..]
                        .iter()
                        .position(|&c| c == ']')
                        .ok_or_else(|| invalid("unclosed `[`"))?;
                    let class: String = chars[i + 1..i + 1 + end].iter().collect();
                    let class = class
                        .strip_prefix('!')
                        .map_or(class.clone(), |rest| format!("^{rest}"));
                    re.push('[');
                    re.push_str(&class.replace('\\', "\\\\").replace('[', "\\["));
                    re.push(']');
                    i += end + 2;
                    continue;
                }
                '{' if !in_braces => {
                    in_braces = true;
                    re.push_str("(?:");
                }
                '}' if in_braces => {
                    in_braces = false;
                    re.push(')');
                }
                ',' if in_braces => re.push('|'),
                c => re.push_str(&regex::escape(&c.to_string())),
            }
            i += 1;
        }
        if in_braces {
            return Err(invalid("unclosed `{`"));
        }
        re.push('$');
        let regex = Regex::new(&re).map_err(|e| invalid(&one_line(&e.to_string())))?;
        Ok(Self {
            regex,
            whole_path: pattern.contains('/'),
        })
    }

    /// Whether the file at `relative` (relative to the searched directory,
    /// `/`-separated) matches.
    pub fn matches(&self, relative: &str) -> bool {
        let subject = if self.whole_path {
            relative
        } else {
            relative.rsplit('/').next().unwrap_or(relative)
        };
        self.regex.is_match(subject)
    }
}

/// A line for display: without its line ending, and cut to
/// [`MAX_LINE_CHARS`] around the match at byte `start` (with `…` marking
/// the cuts).
pub fn snippet(line: &str, start: usize) -> String {
    let line = line.trim_end_matches(['\r', '\n']);
    if line.chars().count() <= MAX_LINE_CHARS {
        return line.to_string();
    }
    // Keep up to 60 characters before the match.
    let before = line[..start.min(line.len())].chars().count();
    let skip = before.saturating_sub(60);
    let mut out = String::new();
    if skip > 0 {
        out.push('…');
    }
    out.extend(line.chars().skip(skip).take(MAX_LINE_CHARS));
    if skip + MAX_LINE_CHARS < line.chars().count() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substring_is_literal_and_case_insensitive_by_default() {
        let m = matcher("a.b (x)", false, false).unwrap();
        assert!(m.is_match("see A.B (X) here"));
        assert!(!m.is_match("aXb (x)"));
        let m = matcher("Todo", false, true).unwrap();
        assert!(m.is_match("Todo: x") && !m.is_match("TODO: x"));
        let m = matcher("ÉTÉ", false, false).unwrap();
        assert!(m.is_match("un été chaud"));
    }

    #[test]
    fn regex_queries() {
        let m = matcher(r"^#+\s+\w+", true, false).unwrap();
        assert!(m.is_match("## Agenda"));
        assert!(!m.is_match("text # no"));
        let ToolError::InvalidArguments(e) = matcher("(unclosed", true, false).unwrap_err() else {
            panic!()
        };
        assert!(
            e.starts_with("`query` is not a valid regular expression: "),
            "{e}"
        );
        assert!(!e.contains('\n'), "{e}");
        assert!(matcher("", false, false).is_err());
    }

    #[test]
    fn globs() {
        let g = Glob::new("*.md").unwrap();
        assert!(g.matches("a.md") && g.matches("deep/dir/a.md"));
        assert!(!g.matches("a.mdx") && !g.matches("a.txt"));
        let g = Glob::new("**/*.rs").unwrap();
        assert!(g.matches("lib.rs") && g.matches("src/a/lib.rs"));
        let g = Glob::new("notes/*.{md,txt}").unwrap();
        assert!(g.matches("notes/a.md") && g.matches("notes/b.txt"));
        assert!(!g.matches("notes/sub/a.md") && !g.matches("other/a.md"));
        let g = Glob::new("file?.[ch]").unwrap();
        assert!(g.matches("file1.c") && g.matches("x/fileA.h"));
        assert!(!g.matches("file12.c") && !g.matches("file1.o"));
        let g = Glob::new("[!a]*").unwrap();
        assert!(g.matches("bcd") && !g.matches("abc"));
        let g = Glob::new("a+b(1).md").unwrap();
        assert!(g.matches("a+b(1).md"));
        for bad in ["", "{a,b", "[ab"] {
            assert!(Glob::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn snippets() {
        assert_eq!(snippet("short line\r\n", 0), "short line");
        let long = format!("{}MATCH{}", "a".repeat(300), "b".repeat(300));
        let s = snippet(&long, 300);
        assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
        assert!(s.contains("MATCH"));
        assert_eq!(s.chars().count(), MAX_LINE_CHARS + 2);
        let s = snippet(&format!("MATCH{}", "é".repeat(400)), 0);
        assert!(s.starts_with("MATCH") && s.ends_with('…'));
    }
}
