//! Small checks around the sandbox: component headers, world versions,
//! result sizes, crash messages, kernel features.

use super::{Content, LoadError, ToolOutput};

/// Whether the kernel has the `PAGEMAP_SCAN` ioctl (Linux 6.7 and later).
pub(super) fn pagemap_scan_supported() -> bool {
    let Ok(release) = std::fs::read_to_string("/proc/sys/kernel/osrelease") else {
        return false;
    };
    let mut parts = release.trim().split(['.', '-']);
    let major: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (major, minor) >= (6, 7)
}

/// The size of a tool result in bytes: text, binary data and structured JSON.
pub fn output_size(output: &ToolOutput) -> usize {
    let content: usize = output.content.iter().map(content_size).sum();
    content + output.structured.as_ref().map_or(0, String::len)
}

/// The size of one content block in bytes.
pub(super) fn content_size(content: &Content) -> usize {
    match content {
        Content::Text(text) => text.len(),
        Content::Blob(blob) => blob.data.len() + blob.mime_type.len(),
        Content::ResourceLink(link) => {
            let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
            link.uri.len()
                + link.name.len()
                + opt(&link.title)
                + opt(&link.description)
                + opt(&link.mime_type)
        }
    }
}

/// Rejects files that are not components before wasmtime sees them, with a
/// message that says what the file is instead.
pub(super) fn check_header(bytes: &[u8]) -> Result<(), LoadError> {
    const MAGIC: &[u8] = b"\0asm";
    if bytes.len() < 8 || &bytes[..4] != MAGIC {
        return Err(LoadError::NotWasm);
    }
    // Core modules are version 1, layer 0; components set layer 1.
    match bytes[4..8] {
        [1, 0, 0, 0] => Err(LoadError::CoreModule),
        _ => Ok(()),
    }
}

/// Versions `found` and `expected` are semver-compatible: same major, and for
/// 0.x the same minor.
pub(super) fn semver_compatible(found: &str, expected: &str) -> bool {
    let parse = |v: &str| -> Option<(u64, u64)> {
        let core = v.split(['-', '+']).next()?;
        let mut parts = core.split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        parts.next()?.parse::<u64>().ok()?;
        Some((major, minor))
    };
    match (parse(found), parse(expected)) {
        (Some((0, a)), Some((0, b))) => a == b,
        (Some((a, _)), Some((b, _))) => a == b,
        _ => false,
    }
}

/// What a crashed guest last said on stderr: its panic message when there is
/// one (`panicked at FILE:LINE:COL:` and the lines after it), else the last
/// non-empty line; trimmed to a sane length.
pub(super) fn crash_detail(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("note: run with `RUST_BACKTRACE"))
        .collect();
    let detail = match lines.iter().rposition(|l| l.contains("panicked at")) {
        Some(start) => lines[start..].join(" "),
        None => lines.last()?.to_string(),
    };
    Some(truncate(&detail, 500))
}

pub(super) fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semver_rules() {
        assert!(semver_compatible("0.1.0", "0.1.0"));
        assert!(semver_compatible("0.1.7", "0.1.0"));
        assert!(!semver_compatible("0.2.0", "0.1.0"));
        assert!(!semver_compatible("1.0.0", "0.1.0"));
        assert!(semver_compatible("1.4.0", "1.0.0"));
        assert!(!semver_compatible("", "0.1.0"));
        assert!(!semver_compatible("banana", "0.1.0"));
    }

    #[test]
    fn headers() {
        assert!(matches!(check_header(b"hello"), Err(LoadError::NotWasm)));
        assert!(matches!(
            check_header(b"\0asm\x01\0\0\0"),
            Err(LoadError::CoreModule)
        ));
        assert!(check_header(b"\0asm\x0d\0\x01\0").is_ok());
    }

    #[test]
    fn crash_detail_prefers_the_panic_message() {
        let stderr = b"starting\nthread '<unnamed>' panicked at src/lib.rs:3:5:\nboom\n\
            note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        assert_eq!(
            crash_detail(stderr).as_deref(),
            Some("thread '<unnamed>' panicked at src/lib.rs:3:5: boom")
        );
        assert_eq!(
            crash_detail(b"a\nlast words\n\n").as_deref(),
            Some("last words")
        );
        assert_eq!(crash_detail(b""), None);
    }
}
