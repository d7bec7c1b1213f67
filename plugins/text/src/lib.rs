//! `text`: a Warden example plugin with everyday text utilities.
//!
//! Tools: `hash`, `base64_encode`, `base64_decode`, `uuid`, `json_query` and
//! `stats`. Every tool is pure (no files, no network, no environment); `uuid`
//! reads the WASI random source and, for v7, the wall clock.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::Value;
use serde_json_path::JsonPath;

use warden_plugin::{Deserialize, JsonSchema, Serialize, Tool, ToolError, ToolOutput};

/// The tools of this plugin.
pub fn tools() -> Vec<Tool> {
    vec![
        Tool::new(
            "hash",
            "Hash a text (its UTF-8 bytes) and return the digest as lowercase hex.",
            hash,
        )
        .title("Hash text")
        .read_only()
        .idempotent()
        .closed_world(),
        Tool::new(
            "base64_encode",
            "Encode a text (its UTF-8 bytes) as base64, with the standard or the URL-safe alphabet.",
            base64_encode,
        )
        .title("Base64 encode")
        .read_only()
        .idempotent()
        .closed_world(),
        Tool::new(
            "base64_decode",
            "Decode base64 (standard or URL-safe alphabet, padding optional, whitespace ignored). \
             Returns the text when the bytes are UTF-8, otherwise the bytes as an \
             application/octet-stream blob.",
            base64_decode,
        )
        .title("Base64 decode")
        .read_only()
        .idempotent()
        .closed_world(),
        Tool::new(
            "uuid",
            "Generate random UUIDs: version 4 (random) or version 7 (time-ordered). One per line.",
            uuid,
        )
        .title("Generate UUIDs")
        .read_only()
        .closed_world(),
        Tool::structured(
            "json_query",
            "Run a JSONPath query (RFC 9535, e.g. `$.store.book[*].title` or \
             `$..book[?@.price < 10]`) over a JSON document and return the matching values \
             with their normalized paths.",
            json_query,
        )
        .title("JSONPath query")
        .read_only()
        .idempotent()
        .closed_world(),
        Tool::structured(
            "stats",
            "Count the characters, bytes, words and lines of a text.",
            stats,
        )
        .title("Text statistics")
        .read_only()
        .idempotent()
        .closed_world(),
    ]
}

warden_plugin::export_plugin!(tools);

// ---------------------------------------------------------------- hash

/// A hash algorithm.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Algorithm {
    /// SHA-256 (SHA-2, 256 bits).
    #[default]
    Sha256,
    /// SHA-384 (SHA-2, 384 bits).
    Sha384,
    /// SHA-512 (SHA-2, 512 bits).
    Sha512,
    /// SHA-1 (160 bits; broken for security purposes).
    Sha1,
    /// MD5 (128 bits; broken for security purposes).
    Md5,
    /// BLAKE3 (256 bits).
    Blake3,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct HashArgs {
    /// The text to hash; its UTF-8 bytes are hashed.
    text: String,
    /// The hash algorithm.
    #[serde(default)]
    algorithm: Algorithm,
}

fn hash(args: HashArgs) -> Result<ToolOutput, ToolError> {
    Ok(ToolOutput::text(digest_hex(
        args.algorithm,
        args.text.as_bytes(),
    )))
}

fn digest_hex(algorithm: Algorithm, data: &[u8]) -> String {
    use sha2::Digest as _;
    match algorithm {
        Algorithm::Sha256 => hex(&sha2::Sha256::digest(data)),
        Algorithm::Sha384 => hex(&sha2::Sha384::digest(data)),
        Algorithm::Sha512 => hex(&sha2::Sha512::digest(data)),
        Algorithm::Sha1 => hex(&sha1::Sha1::digest(data)),
        Algorithm::Md5 => hex(&md5::Md5::digest(data)),
        Algorithm::Blake3 => blake3::hash(data).to_hex().to_string(),
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

// ---------------------------------------------------------------- base64

/// A base64 alphabet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum Alphabet {
    /// RFC 4648 section 4: `A-Z a-z 0-9 + /`.
    #[default]
    Standard,
    /// RFC 4648 section 5, for URLs and file names: `A-Z a-z 0-9 - _`.
    UrlSafe,
}

impl Alphabet {
    fn name(self) -> &'static str {
        match self {
            Alphabet::Standard => "standard",
            Alphabet::UrlSafe => "url_safe",
        }
    }

    fn base(self) -> &'static base64::alphabet::Alphabet {
        match self {
            Alphabet::Standard => &base64::alphabet::STANDARD,
            Alphabet::UrlSafe => &base64::alphabet::URL_SAFE,
        }
    }
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct EncodeArgs {
    /// The text to encode; its UTF-8 bytes are encoded.
    text: String,
    /// The alphabet.
    #[serde(default)]
    alphabet: Alphabet,
    /// Pad the output with `=` to a multiple of 4 characters.
    #[serde(default = "default_true")]
    padding: bool,
}

fn base64_encode(args: EncodeArgs) -> Result<ToolOutput, ToolError> {
    let config = GeneralPurposeConfig::new().with_encode_padding(args.padding);
    let engine = GeneralPurpose::new(args.alphabet.base(), config);
    Ok(ToolOutput::text(engine.encode(args.text.as_bytes())))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct DecodeArgs {
    /// The base64 text. Whitespace and line breaks are ignored; `=` padding is
    /// optional.
    data: String,
    /// The alphabet. When omitted it is detected: `-` or `_` in the input
    /// means URL-safe, anything else standard.
    alphabet: Option<Alphabet>,
}

fn base64_decode(args: DecodeArgs) -> Result<ToolOutput, ToolError> {
    let bytes = decode_base64(&args.data, args.alphabet)?;
    match String::from_utf8(bytes) {
        Ok(text) => Ok(ToolOutput::text(text)),
        Err(e) => {
            let bytes = e.into_bytes();
            Ok(ToolOutput::text(format!(
                "decoded {} bytes that are not UTF-8 text; returned as binary",
                bytes.len()
            ))
            .and_blob(bytes, "application/octet-stream"))
        }
    }
}

fn decode_base64(data: &str, alphabet: Option<Alphabet>) -> Result<Vec<u8>, ToolError> {
    let compact: String = data.chars().filter(|c| !c.is_whitespace()).collect();
    let alphabet = alphabet.unwrap_or(if compact.contains(['-', '_']) {
        Alphabet::UrlSafe
    } else {
        Alphabet::Standard
    });
    let config =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let engine = GeneralPurpose::new(alphabet.base(), config);
    engine.decode(compact.as_bytes()).map_err(|e| {
        use base64::DecodeError::*;
        let alpha = alphabet.name();
        let detail = match e {
            InvalidByte(offset, byte) => {
                let hint = match (alphabet, byte) {
                    (Alphabet::Standard, b'-' | b'_') | (Alphabet::UrlSafe, b'+' | b'/') => {
                        " (it belongs to the other alphabet: set `alphabet` accordingly)"
                    }
                    _ => "",
                };
                format!(
                    "character {:?} at offset {offset} is not in the {alpha} alphabet{hint}",
                    byte as char
                )
            }
            InvalidLength(len) => format!(
                "{len} base64 characters cannot encode whole bytes; the input is probably truncated"
            ),
            InvalidLastSymbol(offset, byte) => format!(
                "the last character {:?} (offset {offset}) has bits set that encode nothing; \
                 the input is probably truncated or corrupted",
                byte as char
            ),
            InvalidPadding => "the `=` padding is malformed".to_string(),
        };
        ToolError::invalid_arguments(format!(
            "`data` is not valid base64 ({alpha} alphabet): {detail}"
        ))
    })
}

// ---------------------------------------------------------------- uuid

/// A UUID version.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum UuidVersion {
    /// Version 4: 122 random bits.
    #[default]
    V4,
    /// Version 7: a millisecond Unix timestamp followed by random bits; sorts
    /// by creation time.
    V7,
}

fn default_count() -> u32 {
    1
}

const MAX_UUIDS: u32 = 1000;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct UuidArgs {
    /// The UUID version.
    #[serde(default)]
    version: UuidVersion,
    /// How many UUIDs to generate (1 to 1000).
    #[serde(default = "default_count")]
    #[schemars(range(min = 1, max = 1000))]
    count: u32,
}

fn uuid(args: UuidArgs) -> Result<ToolOutput, ToolError> {
    if !(1..=MAX_UUIDS).contains(&args.count) {
        return Err(ToolError::invalid_arguments(format!(
            "`count` must be between 1 and {MAX_UUIDS}, got {}",
            args.count
        )));
    }
    let ids: Vec<String> = (0..args.count)
        .map(|_| match args.version {
            UuidVersion::V4 => uuid::Uuid::new_v4(),
            UuidVersion::V7 => uuid::Uuid::now_v7(),
        })
        .map(|u| u.hyphenated().to_string())
        .collect();
    Ok(ToolOutput::text(ids.join("\n")))
}

// ---------------------------------------------------------------- json_query

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct QueryArgs {
    /// The JSON document: any JSON value, or a string holding JSON text (which
    /// is parsed first).
    document: Value,
    /// The JSONPath query (RFC 9535), starting with `$`.
    query: String,
}

/// One value a query matched.
#[derive(Debug, Serialize, JsonSchema)]
struct Match {
    /// Normalized path of the value, e.g. `$['store']['book'][0]`.
    path: String,
    /// The value.
    value: Value,
}

#[derive(Debug, Serialize, JsonSchema)]
struct QueryResult {
    /// Number of matches.
    count: usize,
    /// The matches in document order.
    matches: Vec<Match>,
}

fn json_query(args: QueryArgs) -> Result<QueryResult, ToolError> {
    let document = match args.document {
        Value::String(text) => serde_json::from_str(&text).map_err(|e| {
            ToolError::invalid_arguments(format!(
                "`document` is a string but not JSON text ({e}); pass the JSON value itself, \
                 or a string containing valid JSON"
            ))
        })?,
        other => other,
    };
    let path = JsonPath::parse(&args.query).map_err(|e| {
        ToolError::invalid_arguments(format!(
            "`query` is not a valid JSONPath expression: {e} (position {} in {:?}); \
             example: `$.store.book[*].title`",
            e.position(),
            args.query
        ))
    })?;
    let matches: Vec<Match> = path
        .query_located(&document)
        .into_iter()
        .map(|m| Match {
            path: m.location().to_string(),
            value: m.node().clone(),
        })
        .collect();
    Ok(QueryResult {
        count: matches.len(),
        matches,
    })
}

// ---------------------------------------------------------------- stats

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct StatsArgs {
    /// The text to measure.
    text: String,
}

#[derive(Debug, PartialEq, Eq, Serialize, JsonSchema)]
struct Stats {
    /// Unicode scalar values.
    chars: usize,
    /// UTF-8 bytes.
    bytes: usize,
    /// Runs of non-whitespace characters.
    words: usize,
    /// Lines (a final line break does not start a new line).
    lines: usize,
    /// Lines that contain only whitespace.
    blank_lines: usize,
}

fn stats(args: StatsArgs) -> Result<Stats, ToolError> {
    let text = &args.text;
    Ok(Stats {
        chars: text.chars().count(),
        bytes: text.len(),
        words: text.split_whitespace().count(),
        lines: text.lines().count(),
        blank_lines: text.lines().filter(|l| l.trim().is_empty()).count(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_plugin::{Content, call_tool, describe_tools};

    fn call(name: &str, args: Value) -> Result<ToolOutput, ToolError> {
        call_tool(&tools(), name, &args.to_string())
    }

    fn text(name: &str, args: Value) -> String {
        call(name, args).unwrap().text_content()
    }

    fn invalid(name: &str, args: Value) -> String {
        match call(name, args) {
            Err(ToolError::InvalidArguments(m)) => m,
            other => panic!("expected invalid-arguments, got {other:?}"),
        }
    }

    #[test]
    fn descriptors_are_valid() {
        let d = describe_tools(&tools()).unwrap();
        let names: Vec<_> = d.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "hash",
                "base64_encode",
                "base64_decode",
                "uuid",
                "json_query",
                "stats"
            ]
        );
        for t in &d {
            let schema: Value = serde_json::from_str(&t.input_schema).unwrap();
            assert_eq!(schema["type"], "object", "{}", t.name);
        }
        let hash: Value = serde_json::from_str(&d[0].input_schema).unwrap();
        assert_eq!(hash["properties"]["algorithm"]["default"], "sha256");
        assert_eq!(hash["required"], serde_json::json!(["text"]));
        let uuid: Value = serde_json::from_str(&d[3].input_schema).unwrap();
        assert_eq!(uuid["properties"]["count"]["maximum"], 1000);
        assert!(d[4].output_schema.is_some());
    }

    #[test]
    fn hashes() {
        let h = |alg: &str| text("hash", serde_json::json!({"text": "abc", "algorithm": alg}));
        assert_eq!(
            text("hash", serde_json::json!({"text": "abc"})),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(h("sha1"), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(h("md5"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            h("blake3"),
            "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"
        );
        assert!(h("sha512").starts_with("ddaf35a193617aba"));
        assert!(h("sha384").starts_with("cb00753f45a35e8b"));
        let m = invalid(
            "hash",
            serde_json::json!({"text": "a", "algorithm": "sha3"}),
        );
        assert!(m.contains("`algorithm`") && m.contains("sha256"), "{m}");
    }

    #[test]
    fn base64_round_trips() {
        let enc = |args: Value| text("base64_encode", args);
        assert_eq!(enc(serde_json::json!({"text": "hi?>"})), "aGk/Pg==");
        assert_eq!(
            enc(serde_json::json!({"text": "hi?>", "alphabet": "url_safe", "padding": false})),
            "aGk_Pg"
        );
        let dec = |args: Value| text("base64_decode", args);
        assert_eq!(dec(serde_json::json!({"data": "aGk/Pg=="})), "hi?>");
        assert_eq!(dec(serde_json::json!({"data": "aGk/Pg"})), "hi?>");
        assert_eq!(dec(serde_json::json!({"data": "aGk_Pg"})), "hi?>");
        assert_eq!(dec(serde_json::json!({"data": "aGk_\n Pg=="})), "hi?>");
    }

    #[test]
    fn base64_decode_binary_is_a_blob() {
        let out = call("base64_decode", serde_json::json!({"data": "/wA="})).unwrap();
        assert_eq!(
            out.content[1],
            Content::Blob {
                data: vec![0xff, 0],
                mime_type: "application/octet-stream".into()
            }
        );
    }

    #[test]
    fn base64_decode_errors_are_actionable() {
        let m = invalid("base64_decode", serde_json::json!({"data": "ab!d"}));
        assert!(m.contains("'!'") && m.contains("offset 2"), "{m}");
        let m = invalid(
            "base64_decode",
            serde_json::json!({"data": "aGk_Pg", "alphabet": "standard"}),
        );
        assert!(m.contains("other alphabet"), "{m}");
        let m = invalid("base64_decode", serde_json::json!({"data": "aGk/P"}));
        assert!(m.contains("truncated"), "{m}");
    }

    #[test]
    fn uuids() {
        let out = text("uuid", serde_json::json!({}));
        let u = uuid::Uuid::parse_str(&out).unwrap();
        assert_eq!(u.get_version_num(), 4);
        let out = text("uuid", serde_json::json!({"version": "v7", "count": 3}));
        let ids: Vec<_> = out
            .lines()
            .map(|l| uuid::Uuid::parse_str(l).unwrap())
            .collect();
        assert_eq!(ids.len(), 3);
        assert!(ids.iter().all(|u| u.get_version_num() == 7));
        let m = invalid("uuid", serde_json::json!({"count": 0}));
        assert!(m.contains("between 1 and 1000"), "{m}");
    }

    #[test]
    fn json_queries() {
        let doc = serde_json::json!({"store": {"book": [
            {"title": "A", "price": 8},
            {"title": "B", "price": 12}
        ]}});
        let out = call(
            "json_query",
            serde_json::json!({"document": doc, "query": "$.store.book[?@.price < 10].title"}),
        )
        .unwrap();
        let s = out.structured.unwrap();
        assert_eq!(s["count"], 1);
        assert_eq!(s["matches"][0]["value"], "A");
        assert_eq!(s["matches"][0]["path"], "$['store']['book'][0]['title']");

        let out = call(
            "json_query",
            serde_json::json!({"document": "[1, 2, 3]", "query": "$[-1]"}),
        )
        .unwrap();
        assert_eq!(out.structured.unwrap()["matches"][0]["value"], 3);

        let m = invalid(
            "json_query",
            serde_json::json!({"document": {}, "query": "$.["}),
        );
        assert!(m.contains("not a valid JSONPath"), "{m}");
        let m = invalid(
            "json_query",
            serde_json::json!({"document": "{not json", "query": "$"}),
        );
        assert!(m.contains("not JSON text"), "{m}");
    }

    #[test]
    fn text_stats() {
        let out = call("stats", serde_json::json!({"text": "héllo world\n\nbye\n"})).unwrap();
        assert_eq!(
            out.structured.unwrap(),
            serde_json::json!({"chars": 17, "bytes": 18, "words": 3, "lines": 3, "blank_lines": 1})
        );
    }
}
