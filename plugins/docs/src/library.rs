//! The documents: Markdown and text files under the granted directory.

use std::fs;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

/// How deep the listing goes below the root.
const MAX_DEPTH: usize = 8;
/// Most documents listed.
const MAX_DOCS: usize = 1000;
/// Largest document read.
pub const MAX_DOC_BYTES: u64 = 512 * 1024;

/// One document found under the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Doc {
    /// Its path relative to the root, with `/` separators.
    pub path: String,
    /// Its first `# ` heading, if any.
    pub title: Option<String>,
    /// Its size in bytes.
    pub size: u64,
}

/// Why a document could not be read.
#[derive(Debug, PartialEq, Eq)]
pub enum DocError {
    /// No such document (or not a document).
    NotFound(String),
    /// It exists but could not be read.
    Failed(String),
}

/// Whether `name` is a file this plugin serves.
pub fn is_doc(name: &str) -> bool {
    name.ends_with(".md") || name.ends_with(".markdown") || name.ends_with(".txt")
}

/// The MIME type of a document.
pub fn mime_type(path: &str) -> &'static str {
    if path.ends_with(".txt") {
        "text/plain"
    } else {
        "text/markdown"
    }
}

/// Every document under `root`, sorted by path.
pub fn list(root: &Path) -> Vec<Doc> {
    let mut docs = Vec::new();
    walk(root, root, 0, &mut docs);
    docs.sort_by(|a, b| a.path.cmp(&b.path));
    docs
}

fn walk(root: &Path, dir: &Path, depth: usize, docs: &mut Vec<Doc>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        if docs.len() >= MAX_DOCS {
            return;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let path = entry.path();
        if kind.is_dir() && depth < MAX_DEPTH {
            walk(root, &path, depth + 1, docs);
        } else if kind.is_file() && is_doc(&name) {
            let Ok(relative) = path.strip_prefix(root) else {
                continue;
            };
            let relative: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
            docs.push(Doc {
                path: relative.join("/"),
                title: read(root, &relative.join("/")).ok().and_then(|t| title(&t)),
                size,
            });
        }
    }
}

/// The first `# ` heading of a Markdown text.
pub fn title(text: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("# "))
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// `relative` resolved under `root`, refusing absolute paths and `..`.
fn resolve(root: &Path, relative: &str) -> Result<PathBuf, DocError> {
    let path = Path::new(relative);
    let clean = path
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if relative.is_empty() || !clean {
        return Err(DocError::NotFound(format!(
            "`{relative}` is not a document path: use a path relative to the docs folder, \
             without `..`, as listed by resources/list"
        )));
    }
    Ok(root.join(path))
}

/// Reads the document at `relative`.
pub fn read(root: &Path, relative: &str) -> Result<String, DocError> {
    let path = resolve(root, relative)?;
    if !is_doc(relative) {
        return Err(DocError::NotFound(format!(
            "`{relative}` is not a document: this plugin serves .md, .markdown and .txt files"
        )));
    }
    let file = fs::File::open(&path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => DocError::NotFound(format!(
            "there is no document `{relative}`; resources/list shows the documents"
        )),
        _ => DocError::Failed(format!("cannot open `{relative}`: {e}")),
    })?;
    let mut text = String::new();
    file.take(MAX_DOC_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| DocError::Failed(format!("cannot read `{relative}`: {e}")))?;
    if text.len() as u64 > MAX_DOC_BYTES {
        return Err(DocError::Failed(format!(
            "`{relative}` is larger than {} KiB",
            MAX_DOC_BYTES / 1024
        )));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> PathBuf {
        let root = std::env::temp_dir().join(format!("docs-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("guides")).unwrap();
        fs::write(root.join("a.md"), "intro\n# Alpha\ntext").unwrap();
        fs::write(root.join("guides/b.md"), "no heading").unwrap();
        fs::write(root.join("image.png"), [0u8, 1]).unwrap();
        root
    }

    #[test]
    fn lists_reads_and_refuses_escapes() {
        let root = tree();
        let docs = list(&root);
        let paths: Vec<&str> = docs.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(paths, ["a.md", "guides/b.md"]);
        assert_eq!(docs[0].title.as_deref(), Some("Alpha"));
        assert_eq!(docs[1].title, None);
        assert_eq!(read(&root, "guides/b.md").unwrap(), "no heading");
        assert!(matches!(read(&root, "nope.md"), Err(DocError::NotFound(_))));
        assert!(matches!(read(&root, "../x.md"), Err(DocError::NotFound(_))));
        assert!(matches!(
            read(&root, "/etc/x.md"),
            Err(DocError::NotFound(_))
        ));
        assert!(matches!(
            read(&root, "image.png"),
            Err(DocError::NotFound(_))
        ));
        fs::remove_dir_all(&root).unwrap();
    }
}
