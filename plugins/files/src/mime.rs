//! Telling text from binary, and guessing the MIME type of binary files.

/// Decodes `bytes` as text, or `None` when they look binary (a NUL byte or
/// invalid UTF-8). An incomplete UTF-8 sequence at the very end (cut by a
/// size limit) is dropped: the returned length says how many bytes were used.
pub fn as_text(bytes: &[u8]) -> Option<(&str, usize)> {
    if bytes.contains(&0) {
        return None;
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => Some((text, bytes.len())),
        // `error_len() == None`: the input ended in the middle of a character.
        Err(e) if e.error_len().is_none() && bytes.len() - e.valid_up_to() < 4 => {
            let valid = e.valid_up_to();
            std::str::from_utf8(&bytes[..valid])
                .ok()
                .map(|text| (text, valid))
        }
        Err(_) => None,
    }
}

/// How many leading bytes are UTF-8 continuation bytes (at most 3): a read
/// starting at an offset inside a character skips them.
pub fn continuation_prefix(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .take(3)
        .take_while(|b| (0x80..0xC0).contains(*b))
        .count()
}

/// The MIME type of a binary file, from its first bytes, else its name.
pub fn guess(name: &str, head: &[u8]) -> &'static str {
    const MAGIC: &[(&[u8], &str)] = &[
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"GIF87a", "image/gif"),
        (b"GIF89a", "image/gif"),
        (b"%PDF-", "application/pdf"),
        (b"PK\x03\x04", "application/zip"),
        (b"\x1f\x8b", "application/gzip"),
        (b"\0asm", "application/wasm"),
        (b"\x7fELF", "application/x-executable"),
        (b"SQLite format 3\0", "application/vnd.sqlite3"),
        (b"OggS", "audio/ogg"),
        (b"ID3", "audio/mpeg"),
        (b"fLaC", "audio/flac"),
        (b"wOFF", "font/woff"),
        (b"wOF2", "font/woff2"),
        (b"BM", "image/bmp"),
        (b"\0\0\x01\0", "image/x-icon"),
    ];
    if let Some((_, mime)) = MAGIC.iter().find(|(magic, _)| head.starts_with(magic)) {
        return mime;
    }
    if head.len() >= 12 && &head[..4] == b"RIFF" {
        match &head[8..12] {
            b"WEBP" => return "image/webp",
            b"WAVE" => return "audio/wav",
            _ => {}
        }
    }
    if head.len() >= 12 && &head[4..8] == b"ftyp" {
        return "video/mp4";
    }
    let extension = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "ico" => "image/x-icon",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" | "tgz" => "application/gzip",
        "tar" => "application/x-tar",
        "wasm" => "application/wasm",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "ogg" => "audio/ogg",
        "mp4" => "video/mp4",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "sqlite" | "db" => "application/vnd.sqlite3",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_detection() {
        assert_eq!(as_text(b"hello"), Some(("hello", 5)));
        assert_eq!(as_text(b""), Some(("", 0)));
        assert_eq!(as_text(b"a\0b"), None);
        assert_eq!(as_text(b"\xff\xfe"), None);
        // "é" is C3 A9: a read cut after C3 keeps the text before it.
        assert_eq!(as_text(b"caf\xc3"), Some(("caf", 3)));
        assert_eq!(as_text("café".as_bytes()), Some(("café", 5)));
        assert_eq!(continuation_prefix(b"\xa9abc"), 1);
        assert_eq!(continuation_prefix(b"abc"), 0);
    }

    #[test]
    fn mime_guesses() {
        assert_eq!(guess("x.bin", b"\x89PNG\r\n\x1a\n...."), "image/png");
        assert_eq!(guess("x", b"RIFF\0\0\0\0WEBPVP8 "), "image/webp");
        assert_eq!(guess("x", b"\0asm\x01\0\0\0"), "application/wasm");
        assert_eq!(guess("photo.JPG", b"??"), "image/jpeg");
        assert_eq!(guess("blob", b"\x01\x02"), "application/octet-stream");
    }
}
