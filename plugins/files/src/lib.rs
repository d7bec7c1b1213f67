//! `files`: a Warden example plugin that lists, reads, searches and writes
//! files inside the directories the host grants it.
//!
//! Tools: `roots`, `list`, `read`, `search`, `stat` and `write`. The plugin
//! sees only the directories its manifest requests and the operator grants
//! (`[[capabilities.dirs]]`), at their guest paths such as `/workspace`.
//! Access is enforced by the host: this plugin attempts what it is asked and
//! explains refusals (read-only directory, path outside the granted
//! directories, `..` or symbolic links leading out).
//!
//! Every result is bounded: listings by `max_entries`, reads by `max_bytes`,
//! searches by `max_results` and by the size and number of files searched.

mod mime;
mod paths;
mod search;

use std::fs;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use warden_plugin::{Annotations, NoArgs, Tool, ToolError, ToolOutput};

use paths::{Op, Root, Target};

/// Default and largest `max_entries` of `list`.
const LIST_DEFAULT: usize = 200;
const LIST_MAX: usize = 2000;
/// How deep a recursive listing or a search goes below its directory.
const MAX_DEPTH: usize = 32;
/// Default and largest `max_bytes` of `read`.
const READ_DEFAULT: u64 = 256 * 1024;
const READ_MAX: u64 = 768 * 1024;
/// Default and largest `max_results` of `search`.
const SEARCH_DEFAULT: usize = 100;
const SEARCH_MAX: usize = 500;
/// Files larger than this are skipped by `search`.
const SEARCH_FILE_MAX: u64 = 4 * 1024 * 1024;
/// `search` stops after looking at this many files.
const SEARCH_FILES_MAX: usize = 20_000;
/// Largest `content` accepted by `write`.
const WRITE_MAX: usize = 4 * 1024 * 1024;

/// The tools of this plugin.
pub fn tools() -> Vec<Tool> {
    let reader = Annotations {
        read_only: Some(true),
        destructive: Some(false),
        idempotent: Some(true),
        open_world: Some(false),
    };
    vec![
        Tool::new(
            "roots",
            "List the directories this plugin may access (granted by the operator), with their \
             access mode. All other tools take paths inside these directories.",
            |_: NoArgs| roots_in(&paths::discover_roots()),
        )
        .title("Granted directories")
        .output_schema::<Roots>()
        .annotations(reader),
        Tool::new(
            "list",
            "List a directory: one entry per line, directories ending in `/`, files with their \
             size. Set `recursive` to include subdirectories.",
            |args: ListArgs| list_in(&paths::discover_roots(), args),
        )
        .title("List a directory")
        .output_schema::<Listing>()
        .annotations(reader),
        Tool::new(
            "read",
            "Read a file. Text is returned as text; binary files are returned as a blob with a \
             guessed MIME type. Large files are read in parts with `offset` and `max_bytes`.",
            |args: ReadArgs| read_in(&paths::discover_roots(), args),
        )
        .title("Read a file")
        .annotations(reader),
        Tool::new(
            "search",
            "Search the text files under a directory (or one file) for a substring or a regular \
             expression. Returns one `path:line: text` line per matching line.",
            |args: SearchArgs| search_in(&paths::discover_roots(), args),
        )
        .title("Search files")
        .output_schema::<SearchResult>()
        .annotations(reader),
        Tool::new(
            "stat",
            "Information about a file or directory: type, size, modification time, and the \
             access this plugin has to it.",
            |args: StatArgs| stat_in(&paths::discover_roots(), args),
        )
        .title("File information")
        .output_schema::<Stat>()
        .annotations(reader),
        Tool::new(
            "write",
            "Write a UTF-8 text file in a directory granted read-write. Refuses to replace an \
             existing file unless `overwrite` is true.",
            |args: WriteArgs| write_in(&paths::discover_roots(), args),
        )
        .title("Write a file")
        .output_schema::<Written>()
        .annotations(Annotations {
            read_only: Some(false),
            // With `overwrite: true` the previous content is replaced.
            destructive: Some(true),
            idempotent: Some(true),
            open_world: Some(false),
        }),
    ]
}

warden_plugin::export_plugin!(tools);

/// A result with a text block for the model and a structured value.
fn output<T: Serialize>(text: String, value: &T) -> Result<ToolOutput, ToolError> {
    let value = serde_json::to_value(value)
        .map_err(|e| ToolError::failed(format!("could not serialize the result: {e}")))?;
    Ok(ToolOutput {
        content: vec![warden_plugin::Content::Text(text)],
        structured: Some(value),
    })
}

/// `1234 bytes`, `1 byte`.
fn bytes(n: u64) -> String {
    if n == 1 {
        "1 byte".into()
    } else {
        format!("{n} bytes")
    }
}

/// Runs `f` on the target's path and maps its error to a message.
fn with_target<'a, T>(
    op: Op,
    target: &'a Target,
    f: impl FnOnce(&'a str) -> io::Result<T>,
) -> Result<T, ToolError> {
    f(&target.path).map_err(|e| paths::io_error(op, target, &e, paths::find_symlink(target)))
}

// ---------------------------------------------------------------- roots

/// The directories granted to the plugin.
#[derive(Debug, Serialize, JsonSchema)]
struct Roots {
    roots: Vec<RootInfo>,
}

#[derive(Debug, Serialize, JsonSchema)]
struct RootInfo {
    /// Absolute guest path, e.g. `/workspace`.
    path: String,
    /// `read-only` or `read-write`.
    access: String,
}

fn roots_in(roots: &[Root]) -> Result<ToolOutput, ToolError> {
    let text = if roots.is_empty() {
        "No directory is granted to this plugin.".to_string()
    } else {
        roots
            .iter()
            .map(|r| format!("{} ({})", r.path, r.access()))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let value = Roots {
        roots: roots
            .iter()
            .map(|r| RootInfo {
                path: r.path.clone(),
                access: r.access().into(),
            })
            .collect(),
    };
    output(text, &value)
}

// ---------------------------------------------------------------- list

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ListArgs {
    /// The directory to list: an absolute path inside a granted directory, such as
    /// `/workspace` or `/workspace/notes` (see `roots`). A relative path is taken
    /// relative to the first granted directory.
    path: String,
    /// Also list the contents of subdirectories (depth first). Symbolic links to
    /// directories are not followed. Default: false.
    #[serde(default)]
    recursive: bool,
    /// Stop after this many entries (1 to 2000). Default: 200.
    #[schemars(range(min = 1, max = 2000))]
    max_entries: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Kind {
    File,
    Directory,
    Symlink,
    Other,
}

impl Kind {
    fn of(file_type: fs::FileType) -> Self {
        if file_type.is_symlink() {
            Kind::Symlink
        } else if file_type.is_dir() {
            Kind::Directory
        } else if file_type.is_file() {
            Kind::File
        } else {
            Kind::Other
        }
    }
}

/// One directory entry.
#[derive(Debug, Serialize, JsonSchema)]
struct Entry {
    /// Absolute guest path.
    path: String,
    /// `file`, `directory`, `symlink` or `other`.
    #[serde(rename = "type")]
    kind: Kind,
    /// Size in bytes (files only).
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    /// Where a symbolic link points.
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<String>,
}

impl Entry {
    fn line(&self) -> String {
        match (self.kind, self.size, &self.target) {
            (Kind::Directory, _, _) => format!("{}/", self.path),
            (Kind::File, Some(size), _) => format!("{} ({})", self.path, bytes(size)),
            (Kind::Symlink, _, Some(to)) => format!("{} -> {to}", self.path),
            _ => format!("{} ({})", self.path, kind_name(self.kind)),
        }
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::File => "file",
        Kind::Directory => "directory",
        Kind::Symlink => "symbolic link",
        Kind::Other => "special file",
    }
}

/// A directory listing.
#[derive(Debug, Serialize, JsonSchema)]
struct Listing {
    /// The listed directory.
    path: String,
    /// Its entries, sorted by name (subdirectory contents follow their directory).
    entries: Vec<Entry>,
    /// True when `max_entries` cut the listing short.
    truncated: bool,
}

fn bounded(
    value: Option<usize>,
    default: usize,
    max: usize,
    name: &str,
) -> Result<usize, ToolError> {
    match value {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(n) => Err(ToolError::invalid_arguments(format!(
            "`{name}` must be between 1 and {max}, not {n}"
        ))),
    }
}

/// Entries of `dir`, sorted by name.
fn read_dir_sorted(dir: &str) -> io::Result<Vec<(String, fs::FileType)>> {
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        entries.push((name, entry.file_type()?));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(entries)
}

fn list_in(roots: &[Root], args: ListArgs) -> Result<ToolOutput, ToolError> {
    let max = bounded(args.max_entries, LIST_DEFAULT, LIST_MAX, "max_entries")?;
    let target = paths::resolve(&args.path, roots)?;
    let top = with_target(Op::List, &target, read_dir_sorted)?;

    let mut entries = Vec::new();
    let mut unreadable = Vec::new();
    let mut truncated = false;
    // Depth-first with an explicit stack of (directory, its remaining entries).
    let mut stack = vec![(target.path.clone(), top.into_iter(), 0usize)];
    while let Some((dir, mut items, depth)) = stack.pop() {
        let Some((name, file_type)) = items.next() else {
            continue;
        };
        let path = paths::join(&dir, &name);
        stack.push((dir, items, depth));
        if entries.len() == max {
            truncated = true;
            break;
        }
        let kind = Kind::of(file_type);
        let size = (kind == Kind::File)
            .then(|| fs::metadata(&path).map(|m| m.len()).ok())
            .flatten();
        let link = (kind == Kind::Symlink)
            .then(|| fs::read_link(&path).ok().map(|p| p.display().to_string()))
            .flatten();
        entries.push(Entry {
            path: path.clone(),
            kind,
            size,
            target: link,
        });
        if args.recursive && kind == Kind::Directory && depth < MAX_DEPTH {
            match read_dir_sorted(&path) {
                Ok(sub) => stack.push((path, sub.into_iter(), depth + 1)),
                Err(e) => unreadable.push(format!("{path}: {e}")),
            }
        }
    }

    let mut text = if entries.is_empty() {
        format!("{} is empty", target.path)
    } else {
        entries
            .iter()
            .map(Entry::line)
            .collect::<Vec<_>>()
            .join("\n")
    };
    if truncated {
        text.push_str(&format!(
            "\n[listing stopped at {max} entries (max_entries): list a subdirectory or raise \
             max_entries (at most {LIST_MAX})]"
        ));
    }
    if !unreadable.is_empty() {
        text.push_str(&format!(
            "\n[could not list {} subdirectories: {}]",
            unreadable.len(),
            unreadable.join("; ")
        ));
    }
    output(
        text,
        &Listing {
            path: target.path,
            entries,
            truncated,
        },
    )
}

// ---------------------------------------------------------------- read

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ReadArgs {
    /// The file to read: an absolute path inside a granted directory, such as
    /// `/workspace/notes/todo.md` (see `roots`).
    path: String,
    /// Read at most this many bytes (1 to 786432). Default: 262144 (256 KiB).
    #[schemars(range(min = 1, max = 786_432))]
    max_bytes: Option<u64>,
    /// Start at this byte offset, to continue a partial read. Default: 0.
    #[serde(default)]
    offset: u64,
}

fn read_in(roots: &[Root], args: ReadArgs) -> Result<ToolOutput, ToolError> {
    let max = match args.max_bytes {
        None => READ_DEFAULT,
        Some(n) if (1..=READ_MAX).contains(&n) => n,
        Some(n) => {
            return Err(ToolError::invalid_arguments(format!(
                "`max_bytes` must be between 1 and {READ_MAX}, not {n}"
            )));
        }
    };
    let target = paths::resolve(&args.path, roots)?;
    let path = target.path.as_str();
    let mut file = with_target(Op::Read, &target, fs::File::open)?;
    let meta = with_target(Op::Read, &target, |_| file.metadata())?;
    if meta.is_dir() {
        return Err(ToolError::failed(format!(
            "cannot read {path}: it is a directory (use `list` to see its contents)"
        )));
    }
    let size = meta.len();
    if args.offset > size {
        return Err(ToolError::invalid_arguments(format!(
            "`offset` {} is past the end of {path} ({})",
            args.offset,
            bytes(size)
        )));
    }
    let mut head = Vec::new();
    let mut buf = Vec::new();
    with_target(Op::Read, &target, |_| {
        (&mut file).take(16).read_to_end(&mut head)?;
        file.seek(SeekFrom::Start(args.offset))?;
        (&mut file).take(max).read_to_end(&mut buf)
    })?;

    let skip = if args.offset > 0 {
        mime::continuation_prefix(&buf)
    } else {
        0
    };
    if let Some((text, used)) = mime::as_text(&buf[skip..]) {
        let start = args.offset + skip as u64;
        let end = start + used as u64;
        let mut out = ToolOutput::text(text);
        if size == 0 {
            out = out.and_text(format!("[{path} is empty]"));
        } else if start > 0 || end < size {
            let mut note = format!("[{path}: bytes {start}-{end} of {size}");
            if end < size {
                note.push_str(&format!("; read with offset {end} for the rest"));
            }
            note.push(']');
            out = out.and_text(note);
        }
        return Ok(out);
    }

    let mime = mime::guess(path, &head);
    let start = args.offset;
    let end = start + buf.len() as u64;
    let mut note = format!("[{path} is a binary file ({mime}, {})", bytes(size));
    if start > 0 || end < size {
        note.push_str(&format!("; this is bytes {start}-{end}"));
        if end < size {
            note.push_str(&format!("; read with offset {end} for the rest"));
        }
    }
    note.push(']');
    Ok(ToolOutput::text(note).and_blob(buf, mime))
}

// ---------------------------------------------------------------- search

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SearchArgs {
    /// Where to search: a directory (searched recursively; `.git` directories and
    /// symbolic links are skipped) or a single file, inside a granted directory.
    path: String,
    /// The text to look for, matched within single lines. A literal substring
    /// unless `regex` is true.
    query: String,
    /// Treat `query` as a regular expression (Rust `regex` syntax, e.g.
    /// `^## .*agenda` or `TODO|FIXME`). Default: false.
    #[serde(default)]
    regex: bool,
    /// Match upper and lower case exactly. Default: false (case-insensitive).
    #[serde(default)]
    case_sensitive: bool,
    /// Only search files whose name matches this glob, e.g. `*.md` or
    /// `*.{md,txt}`; a glob with `/` is matched against the path relative to
    /// `path`, e.g. `meetings/**/*.md`.
    glob: Option<String>,
    /// Stop after this many matching lines (1 to 500). Default: 100.
    #[schemars(range(min = 1, max = 500))]
    max_results: Option<usize>,
}

/// One matching line.
#[derive(Debug, Serialize, JsonSchema)]
struct Match {
    /// Absolute guest path of the file.
    path: String,
    /// Line number, from 1.
    line: usize,
    /// The line (long lines are cut around the match, marked with `…`).
    text: String,
}

/// Search results.
#[derive(Debug, Default, Serialize, JsonSchema)]
struct SearchResult {
    /// Matching lines, by file (sorted by path) and line.
    matches: Vec<Match>,
    /// How many files were searched.
    files_searched: usize,
    /// Files skipped: binary, larger than 4 MiB, or unreadable.
    files_skipped: usize,
    /// True when `max_results` (or the limit of 20000 files) cut the search short.
    truncated: bool,
}

#[derive(Debug, Default)]
struct Skipped {
    binary: usize,
    large: usize,
    unreadable: usize,
}

fn search_in(roots: &[Root], args: SearchArgs) -> Result<ToolOutput, ToolError> {
    let max = bounded(args.max_results, SEARCH_DEFAULT, SEARCH_MAX, "max_results")?;
    let matcher = search::matcher(&args.query, args.regex, args.case_sensitive)?;
    let glob = args.glob.as_deref().map(search::Glob::new).transpose()?;
    let target = paths::resolve(&args.path, roots)?;
    let meta = with_target(Op::Search, &target, fs::metadata)?;

    // Files to search, as (absolute path, path relative to `target`).
    let mut files: Vec<(String, String)> = Vec::new();
    let mut walk_truncated = false;
    let single_file = !meta.is_dir();
    if !single_file {
        let top = with_target(Op::Search, &target, read_dir_sorted)?;
        let mut stack = vec![(target.path.clone(), String::new(), top.into_iter(), 0usize)];
        while let Some((dir, rel, mut items, depth)) = stack.pop() {
            let Some((name, file_type)) = items.next() else {
                continue;
            };
            let path = paths::join(&dir, &name);
            let relative = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            stack.push((dir, rel, items, depth));
            if file_type.is_dir() && name != ".git" && depth < MAX_DEPTH {
                if let Ok(sub) = read_dir_sorted(&path) {
                    stack.push((path, relative, sub.into_iter(), depth + 1));
                }
            } else if file_type.is_file() && glob.as_ref().is_none_or(|g| g.matches(&relative)) {
                if files.len() == SEARCH_FILES_MAX {
                    walk_truncated = true;
                    break;
                }
                files.push((path, relative));
            }
        }
    } else {
        files.push((target.path.clone(), String::new()));
    }

    let mut result = SearchResult::default();
    let mut skipped = Skipped::default();
    let mut matched_files = 0;
    'files: for (path, _) in &files {
        let size = fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if size > SEARCH_FILE_MAX {
            skipped.large += 1;
            continue;
        }
        let data = match fs::read(path) {
            Ok(data) => data,
            Err(e) if single_file => {
                return Err(paths::io_error(
                    Op::Search,
                    &target,
                    &e,
                    paths::find_symlink(&target),
                ));
            }
            Err(_) => {
                skipped.unreadable += 1;
                continue;
            }
        };
        if data[..data.len().min(8192)].contains(&0) {
            skipped.binary += 1;
            continue;
        }
        result.files_searched += 1;
        let text = String::from_utf8_lossy(&data);
        let mut file_matched = false;
        for (i, line) in text.split('\n').enumerate() {
            if let Some(m) = matcher.find(line) {
                if result.matches.len() == max {
                    result.truncated = true;
                    break 'files;
                }
                file_matched = true;
                result.matches.push(Match {
                    path: path.clone(),
                    line: i + 1,
                    text: search::snippet(line, m.start()),
                });
            }
        }
        matched_files += usize::from(file_matched);
    }
    result.files_skipped = skipped.binary + skipped.large + skipped.unreadable;
    result.truncated |= walk_truncated;

    let mut lines: Vec<String> = result
        .matches
        .iter()
        .map(|m| format!("{}:{}: {}", m.path, m.line, m.text))
        .collect();
    let searched = match result.files_searched {
        1 => "1 file searched".to_string(),
        n => format!("{n} files searched"),
    };
    if result.matches.is_empty() {
        lines.push(format!(
            "No matches for {:?} in {} ({searched}).",
            args.query, target.path
        ));
    } else {
        let n = result.matches.len();
        lines.push(format!(
            "{n} matching line{} in {matched_files} file{} ({searched}).",
            if n == 1 { "" } else { "s" },
            if matched_files == 1 { "" } else { "s" },
        ));
    }
    if result.truncated {
        lines.push(if walk_truncated {
            format!("[stopped after {SEARCH_FILES_MAX} files: search a subdirectory or use a glob]")
        } else {
            format!(
                "[stopped at {max} matches (max_results): narrow the query, path or glob, or \
                 raise max_results (at most {SEARCH_MAX})]"
            )
        });
    }
    if result.files_skipped > 0 {
        let mut parts = Vec::new();
        for (n, what) in [
            (skipped.binary, "binary"),
            (skipped.large, "larger than 4 MiB"),
            (skipped.unreadable, "unreadable"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        }
        lines.push(format!("[skipped files: {}]", parts.join(", ")));
    }
    output(lines.join("\n"), &result)
}

// ---------------------------------------------------------------- stat

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct StatArgs {
    /// A file or directory: an absolute path inside a granted directory, such as
    /// `/workspace/notes` (see `roots`).
    path: String,
}

/// Information about a path.
#[derive(Debug, Serialize, JsonSchema)]
struct Stat {
    /// Absolute guest path.
    path: String,
    /// `file`, `directory`, `symlink` or `other`.
    #[serde(rename = "type")]
    kind: Kind,
    /// Size in bytes.
    size: u64,
    /// Last modification, RFC 3339 in UTC, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    modified: Option<String>,
    /// Where a symbolic link points.
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<String>,
    /// The granted directory that contains the path.
    root: String,
    /// This plugin's access there: `read-only` or `read-write`.
    access: String,
}

fn stat_in(roots: &[Root], args: StatArgs) -> Result<ToolOutput, ToolError> {
    let target = paths::resolve(&args.path, roots)?;
    let meta = with_target(Op::Stat, &target, fs::symlink_metadata)?;
    let kind = Kind::of(meta.file_type());
    let link = (kind == Kind::Symlink)
        .then(|| {
            fs::read_link(&target.path)
                .ok()
                .map(|p| p.display().to_string())
        })
        .flatten();
    let modified = meta.modified().ok().and_then(rfc3339);
    let stat = Stat {
        path: target.path.clone(),
        kind,
        size: meta.len(),
        modified,
        target: link,
        root: target.root.path.clone(),
        access: target.root.access().into(),
    };
    let mut text = format!("{}: {}", stat.path, kind_name(kind));
    if kind == Kind::File {
        text.push_str(&format!(", {}", bytes(stat.size)));
    }
    if let Some(to) = &stat.target {
        text.push_str(&format!(" to {to}"));
    }
    if let Some(m) = &stat.modified {
        text.push_str(&format!(", modified {m}"));
    }
    text.push_str(&format!(", in {} ({})", stat.root, stat.access));
    output(text, &stat)
}

/// `time` as RFC 3339 in UTC, to the second.
fn rfc3339(time: SystemTime) -> Option<String> {
    let secs = i64::try_from(time.duration_since(UNIX_EPOCH).ok()?.as_secs()).ok()?;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    Some(format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    ))
}

// ---------------------------------------------------------------- write

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct WriteArgs {
    /// The file to write: an absolute path inside a directory granted read-write,
    /// such as `/scratch/summary.md` (see `roots`).
    path: String,
    /// The complete new content of the file (UTF-8 text, at most 4 MiB).
    content: String,
    /// Create missing parent directories. Default: false.
    #[serde(default)]
    create_dirs: bool,
    /// Replace the file if it already exists. Default: false (an existing file is
    /// left untouched and the call fails).
    #[serde(default)]
    overwrite: bool,
}

/// What `write` did.
#[derive(Debug, Serialize, JsonSchema)]
struct Written {
    /// Absolute guest path of the file.
    path: String,
    /// Bytes written.
    bytes: u64,
    /// True when the file did not exist before.
    created: bool,
}

fn write_in(roots: &[Root], args: WriteArgs) -> Result<ToolOutput, ToolError> {
    if args.content.len() > WRITE_MAX {
        return Err(ToolError::invalid_arguments(format!(
            "`content` is {}: at most {WRITE_MAX} bytes can be written at once",
            bytes(args.content.len() as u64)
        )));
    }
    let target = paths::resolve(&args.path, roots)?;
    let path = target.path.as_str();
    if target.is_root() {
        return Err(ToolError::failed(format!(
            "cannot write {path}: it is a granted directory, not a file"
        )));
    }
    if args.create_dirs {
        let dir = Target {
            path: paths::parent(&target.path).to_string(),
            normalized: paths::parent(&target.normalized).to_string(),
            root: target.root.clone(),
        };
        with_target(Op::CreateDir, &dir, fs::create_dir_all)?;
    }
    let previous = fs::metadata(path)
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len());
    let mut options = fs::OpenOptions::new();
    options.write(true);
    if args.overwrite {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = match options.open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && !target.escapes() => {
            return Err(ToolError::failed(match fs::metadata(path) {
                Ok(m) if m.is_dir() => format!("cannot write {path}: it is a directory"),
                Ok(m) => format!(
                    "cannot write {path}: it already exists ({}); pass overwrite: true to \
                     replace it",
                    bytes(m.len())
                ),
                Err(_) => {
                    format!(
                        "cannot write {path}: it already exists; pass overwrite: true to replace it"
                    )
                }
            }));
        }
        Err(e) => {
            return Err(paths::io_error(
                Op::Write,
                &target,
                &e,
                paths::find_symlink(&target),
            ));
        }
    };
    with_target(Op::Write, &target, |_| {
        file.write_all(args.content.as_bytes())?;
        file.flush()
    })?;
    let n = args.content.len() as u64;
    let created = previous.is_none();
    let text = match previous {
        None => format!("Wrote {} to {path} (new file).", bytes(n)),
        Some(old) => format!("Wrote {} to {path} (replaced {}).", bytes(n), bytes(old)),
    };
    output(
        text,
        &Written {
            path: target.path.clone(),
            bytes: n,
            created,
        },
    )
}

#[cfg(test)]
mod tests;
