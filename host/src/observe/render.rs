//! The one rendering rule for text a person reads (CLI output, the text log):
//! whatever a plugin wrote is shown, never obeyed.
//!
//! - Characters a terminal acts on or that are invisible are shown escaped:
//!   control characters (C0, DEL, C1: `\n`, `\r`, `\t`, `\x1b`, `\x9b`), and
//!   format and separator characters (Unicode categories Cf, Zl, Zp: bidi
//!   overrides and isolates, zero-width characters, tag characters, U+2028)
//!   as `\u{202e}`. So no plugin text can move the cursor, change colours,
//!   reorder or hide text, or start a new line that looks like Warden's own.
//! - Text shown on one line of the CLI is clipped to [`MAX_CHARS`] characters
//!   (after escaping), ending with `…[N more chars]`.
//! - JSON output stays exact: [`json`] only rewrites such characters as
//!   `\uXXXX` escapes inside JSON strings, which decode to the same value.
//!
//! Backslashes are not doubled: a plugin can write the text `\n`, which looks
//! like an escaped line break, but it cannot break the line.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

use unicode_general_category::{GeneralCategory, get_general_category};

/// The most characters one field of CLI output shows.
pub const MAX_CHARS: usize = 400;

/// Whether `c` must not reach a terminal as is.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            get_general_category(c),
            GeneralCategory::Format
                | GeneralCategory::LineSeparator
                | GeneralCategory::ParagraphSeparator
        )
}

/// Writes `c` escaped: `\n`, `\r`, `\t`, `\xHH` up to U+00FF, else `\u{H}`.
fn escape_char(c: char, out: &mut impl fmt::Write) -> fmt::Result {
    match c {
        '\n' => out.write_str("\\n"),
        '\r' => out.write_str("\\r"),
        '\t' => out.write_str("\\t"),
        c if (c as u32) <= 0xff => write!(out, "\\x{:02x}", c as u32),
        c => write!(out, "\\u{{{:x}}}", c as u32),
    }
}

/// `text` with every unsafe character escaped, unclipped (for log lines,
/// whose size is capped where they are produced).
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_unsafe(c) {
            let _ = escape_char(c, &mut out);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Shows plugin-controlled text on one line of CLI output: escaped and
/// clipped to [`MAX_CHARS`].
pub fn line(text: &str) -> Line<'_> {
    Line {
        text,
        max: MAX_CHARS,
    }
}

/// Text rendered by the rule: see [`line`].
#[derive(Debug, Clone, Copy)]
pub struct Line<'a> {
    text: &'a str,
    max: usize,
}

impl Line<'_> {
    /// The same text clipped to `max` characters instead.
    pub fn max(self, max: usize) -> Self {
        Self { max, ..self }
    }
}

impl fmt::Display for Line<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = 0;
        let mut piece = String::new();
        let mut chars = self.text.chars();
        while let Some(c) = chars.next() {
            piece.clear();
            if is_unsafe(c) {
                escape_char(c, &mut piece)?;
            } else {
                piece.push(c);
            }
            let width = piece.chars().count();
            if shown + width > self.max {
                let rest = 1 + chars.count();
                return write!(f, "…[{rest} more chars]");
            }
            shown += width;
            f.write_str(&piece)?;
        }
        Ok(())
    }
}

/// Serialized JSON with unsafe non-ASCII characters (C1 controls, format
/// and separator characters, which serde_json writes raw) rewritten as
/// `\uXXXX` escapes. Such characters can only occur inside JSON strings, so
/// the document decodes to exactly the same value.
pub fn json(serialized: &str) -> Cow<'_, str> {
    if !serialized.chars().any(|c| !c.is_ascii() && is_unsafe(c)) {
        return Cow::Borrowed(serialized);
    }
    let mut out = String::with_capacity(serialized.len() + 16);
    for c in serialized.chars() {
        if !c.is_ascii() && is_unsafe(c) {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "ok\r\x1b[2J\x1b[1;32mall plugins approved\x1b[0m\n\u{202e}evil\u{200b}\u{2028}\u{9b}31m\u{e0041}";

    #[test]
    fn escapes_what_a_terminal_would_act_on() {
        assert_eq!(
            escape(HOSTILE),
            "ok\\r\\x1b[2J\\x1b[1;32mall plugins approved\\x1b[0m\\n\\u{202e}evil\\u{200b}\\u{2028}\\x9b31m\\u{e0041}"
        );
        assert!(!escape(HOSTILE).chars().any(is_unsafe));
        assert!(matches!(
            escape("plain text, ünïcödé, 日本"),
            Cow::Borrowed(_)
        ));
        assert_eq!(escape("tab\there"), "tab\\there");
    }

    #[test]
    fn clips_with_an_indication() {
        let long = "a".repeat(1000);
        let shown = line(&long).to_string();
        assert_eq!(shown, format!("{}…[600 more chars]", "a".repeat(400)));
        assert_eq!(line("short").to_string(), "short");
        // The clip counts escaped characters and never splits an escape.
        assert_eq!(line("ab\ncd").max(4).to_string(), "ab\\n…[2 more chars]");
        assert_eq!(line("\x1b\x1b").max(5).to_string(), "\\x1b…[1 more chars]");
    }

    #[test]
    fn json_stays_exact() {
        let value = serde_json::json!({ "d": HOSTILE, "k\u{202e}": 1 });
        let text = serde_json::to_string(&value).unwrap();
        let safe = json(&text);
        assert!(!safe.chars().any(is_unsafe), "{safe}");
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, value);
        assert!(
            safe.contains("\\u202e") && safe.contains("\\udb40\\udc41"),
            "{safe}"
        );
    }
}
