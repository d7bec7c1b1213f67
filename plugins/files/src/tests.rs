//! Native tests of the tools against a temporary directory tree. The "granted
//! directories" are real host paths here; the host's enforcement (read-only
//! preopens, blocked escapes) is covered by the error-mapping tests in
//! `paths` and by the host's end-to-end tests.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};
use warden_plugin::{Content, describe_tools};

use super::*;

struct TempTree {
    dir: PathBuf,
}

impl TempTree {
    fn new() -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "warden-files-test-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("ro/notes/deep")).unwrap();
        fs::create_dir_all(dir.join("ro/.git")).unwrap();
        fs::create_dir_all(dir.join("rw")).unwrap();
        let write = |p: &str, data: &[u8]| fs::write(dir.join(p), data).unwrap();
        write("ro/a.md", b"# Alpha\nTODO: buy milk\nnothing here\n");
        write("ro/b.txt", "caf\u{e9} au lait\ntodo later\n".as_bytes());
        write("ro/notes/c.md", b"## Agenda\n- todo: review\n");
        write("ro/notes/deep/d.md", b"deep todo\n");
        write("ro/.git/config", b"todo in git\n");
        write("ro/image.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR todo");
        Self { dir }
    }

    fn roots(&self) -> Vec<Root> {
        vec![
            Root::new(self.path("ro"), false),
            Root::new(self.path("rw"), true),
        ]
    }

    /// Absolute path of `p` inside the tree.
    fn path(&self, p: &str) -> String {
        self.dir.join(p).display().to_string()
    }
}

impl Drop for TempTree {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn failed(result: Result<ToolOutput, ToolError>) -> String {
    match result {
        Err(ToolError::Failed(m)) => m,
        other => panic!("expected failed, got {other:?}"),
    }
}

fn invalid(result: Result<ToolOutput, ToolError>) -> String {
    match result {
        Err(ToolError::InvalidArguments(m)) => m,
        other => panic!("expected invalid-arguments, got {other:?}"),
    }
}

fn args<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).unwrap()
}

#[test]
fn descriptors() {
    let d = describe_tools(&tools()).unwrap();
    let names: Vec<_> = d.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["roots", "list", "read", "search", "stat", "write"]);
    for t in &d {
        let schema: Value = serde_json::from_str(&t.input_schema).unwrap();
        assert_eq!(schema["type"], "object", "{}", t.name);
        assert_eq!(
            t.annotations.read_only,
            Some(t.name != "write"),
            "{}",
            t.name
        );
        assert_eq!(t.annotations.open_world, Some(false));
        if t.name != "roots" {
            let path = &schema["properties"]["path"]["description"];
            assert!(path.as_str().unwrap().contains("granted"), "{}", t.name);
        }
    }
    let search: Value = serde_json::from_str(&d[3].input_schema).unwrap();
    let max = &search["properties"]["max_results"];
    assert_eq!(
        (max["minimum"].clone(), max["maximum"].clone()),
        (json!(1), json!(500))
    );
    let write: Value = serde_json::from_str(&d[5].input_schema).unwrap();
    assert_eq!(write["required"], json!(["path", "content"]));
    assert_eq!(d[5].annotations.destructive, Some(true));
}

#[test]
fn roots_report_access() {
    let out = roots_in(&[Root::new("/workspace", false), Root::new("/scratch", true)]).unwrap();
    assert_eq!(
        out.text_content(),
        "/workspace (read-only)\n/scratch (read-write)"
    );
    assert_eq!(
        out.structured.unwrap(),
        json!({"roots": [
            {"path": "/workspace", "access": "read-only"},
            {"path": "/scratch", "access": "read-write"}
        ]})
    );
    let none = roots_in(&[]).unwrap();
    assert_eq!(
        none.text_content(),
        "No directory is granted to this plugin."
    );
    assert_eq!(none.structured.unwrap(), json!({"roots": []}));
}

#[test]
fn lists_directories() {
    let t = TempTree::new();
    let ro = t.path("ro");
    let out = list_in(&t.roots(), args(json!({"path": ro}))).unwrap();
    assert_eq!(
        out.text_content(),
        format!(
            "{ro}/.git/\n{ro}/a.md (36 bytes)\n{ro}/b.txt (25 bytes)\n{ro}/image.png (21 bytes)\n\
             {ro}/notes/"
        )
    );
    let s = out.structured.unwrap();
    assert_eq!(s["truncated"], false);
    assert_eq!(
        s["entries"][1],
        json!({"path": format!("{ro}/a.md"), "type": "file", "size": 36})
    );
    assert_eq!(s["entries"][4]["type"], "directory");

    let out = list_in(&t.roots(), args(json!({"path": ro, "recursive": true}))).unwrap();
    let s = out.structured.unwrap();
    let listed: Vec<&str> = s["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap().strip_prefix(&ro).unwrap())
        .collect();
    assert_eq!(
        listed,
        [
            "/.git",
            "/.git/config",
            "/a.md",
            "/b.txt",
            "/image.png",
            "/notes",
            "/notes/c.md",
            "/notes/deep",
            "/notes/deep/d.md"
        ]
    );

    let out = list_in(
        &t.roots(),
        args(json!({"path": ro, "recursive": true, "max_entries": 3})),
    )
    .unwrap();
    assert!(
        out.text_content()
            .ends_with("[listing stopped at 3 entries (max_entries): list a subdirectory or raise max_entries (at most 2000)]"),
        "{}",
        out.text_content()
    );
    assert_eq!(out.structured.unwrap()["truncated"], true);

    let empty = list_in(&t.roots(), args(json!({"path": t.path("rw")}))).unwrap();
    assert_eq!(empty.text_content(), format!("{} is empty", t.path("rw")));

    let m = failed(list_in(
        &t.roots(),
        args(json!({"path": t.path("ro/a.md")})),
    ));
    assert_eq!(
        m,
        format!("cannot list {ro}/a.md: it is a file, not a directory")
    );
    let m = failed(list_in(
        &t.roots(),
        args(json!({"path": t.path("ro/nope")})),
    ));
    assert_eq!(
        m,
        format!("{ro}/nope does not exist (list {ro} to see what is there)")
    );
    let m = invalid(list_in(
        &t.roots(),
        args(json!({"path": ro, "max_entries": 0})),
    ));
    assert_eq!(m, "`max_entries` must be between 1 and 2000, not 0");
    let m = failed(list_in(&t.roots(), args(json!({"path": "/etc"}))));
    assert!(
        m.starts_with("no access to /etc: the plugin can only reach its granted directories ("),
        "{m}"
    );
}

#[test]
fn reads_text_in_parts() {
    let t = TempTree::new();
    let roots = t.roots();
    let a = t.path("ro/a.md");
    let out = read_in(&roots, args(json!({"path": a}))).unwrap();
    assert_eq!(
        out.content,
        vec![Content::Text(
            "# Alpha\nTODO: buy milk\nnothing here\n".into()
        )]
    );
    // Relative paths are relative to the first granted directory.
    let out = read_in(&roots, args(json!({"path": "a.md", "max_bytes": 7}))).unwrap();
    assert_eq!(
        out.content,
        vec![
            Content::Text("# Alpha".into()),
            Content::Text(format!(
                "[{a}: bytes 0-7 of 36; read with offset 7 for the rest]"
            )),
        ]
    );
    let out = read_in(&roots, args(json!({"path": a, "offset": 30}))).unwrap();
    assert_eq!(
        out.text_content(),
        format!(" here\n\n[{a}: bytes 30-36 of 36]")
    );

    // "café": the é (2 bytes) is cut by max_bytes and then skipped at the offset.
    let b = t.path("ro/b.txt");
    let out = read_in(&roots, args(json!({"path": b, "max_bytes": 4}))).unwrap();
    assert_eq!(
        out.text_content(),
        format!("caf\n[{b}: bytes 0-3 of 25; read with offset 3 for the rest]")
    );
    let out = read_in(
        &roots,
        args(json!({"path": b, "offset": 4, "max_bytes": 3})),
    )
    .unwrap();
    assert_eq!(
        out.text_content(),
        format!(" a\n[{b}: bytes 5-7 of 25; read with offset 7 for the rest]")
    );

    fs::write(t.path("rw/empty.txt"), b"").unwrap();
    let out = read_in(&roots, args(json!({"path": t.path("rw/empty.txt")}))).unwrap();
    assert_eq!(
        out.text_content(),
        format!("\n[{} is empty]", t.path("rw/empty.txt"))
    );

    let m = invalid(read_in(&roots, args(json!({"path": a, "offset": 37}))));
    assert_eq!(m, format!("`offset` 37 is past the end of {a} (36 bytes)"));
    let m = invalid(read_in(
        &roots,
        args(json!({"path": a, "max_bytes": 786433})),
    ));
    assert_eq!(m, "`max_bytes` must be between 1 and 786432, not 786433");
    let m = failed(read_in(&roots, args(json!({"path": t.path("ro/notes")}))));
    assert!(
        m.ends_with("notes: it is a directory (use `list` to see its contents)"),
        "{m}"
    );
}

#[test]
fn reads_binary_as_blob() {
    let t = TempTree::new();
    let png = t.path("ro/image.png");
    let out = read_in(&t.roots(), args(json!({"path": png}))).unwrap();
    assert_eq!(out.content.len(), 2);
    assert_eq!(
        out.content[0],
        Content::Text(format!("[{png} is a binary file (image/png, 21 bytes)]"))
    );
    let Content::Blob { data, mime_type } = &out.content[1] else {
        panic!("{out:?}")
    };
    assert_eq!(mime_type, "image/png");
    assert_eq!(data.len(), 21);
    let out = read_in(
        &t.roots(),
        args(json!({"path": png, "offset": 8, "max_bytes": 4})),
    )
    .unwrap();
    assert_eq!(
        out.content[0],
        Content::Text(format!(
            "[{png} is a binary file (image/png, 21 bytes); this is bytes 8-12; read with offset 12 for the rest]"
        ))
    );
}

#[test]
fn searches() {
    let t = TempTree::new();
    let ro = t.path("ro");
    let roots = t.roots();
    let out = search_in(&roots, args(json!({"path": ro, "query": "todo"}))).unwrap();
    assert_eq!(
        out.text_content(),
        format!(
            "{ro}/a.md:2: TODO: buy milk\n{ro}/b.txt:2: todo later\n{ro}/notes/c.md:2: - todo: review\n\
             {ro}/notes/deep/d.md:1: deep todo\n4 matching lines in 4 files (4 files searched).\n\
             [skipped files: 1 binary]"
        )
    );
    let s = out.structured.unwrap();
    assert_eq!(
        s["matches"][0],
        json!({"path": format!("{ro}/a.md"), "line": 2, "text": "TODO: buy milk"})
    );
    assert_eq!(s["files_searched"], 4);
    assert_eq!(s["files_skipped"], 1);
    assert_eq!(s["truncated"], false);

    let out = search_in(
        &roots,
        args(json!({"path": ro, "query": "todo", "case_sensitive": true, "glob": "*.md"})),
    )
    .unwrap();
    let s = out.structured.unwrap();
    assert_eq!(s["matches"].as_array().unwrap().len(), 2);
    assert_eq!(s["files_searched"], 3);

    let out = search_in(
        &roots,
        args(json!({"path": ro, "query": r"^#+\s", "regex": true, "glob": "notes/**"})),
    )
    .unwrap();
    assert_eq!(
        out.text_content(),
        format!("{ro}/notes/c.md:1: ## Agenda\n1 matching line in 1 file (2 files searched).")
    );

    let out = search_in(
        &roots,
        args(json!({"path": ro, "query": "todo", "max_results": 2})),
    )
    .unwrap();
    assert!(out.text_content().contains(
        "[stopped at 2 matches (max_results): narrow the query, path or glob, or raise max_results (at most 500)]"
    ));
    assert_eq!(out.structured.unwrap()["truncated"], true);

    let a = t.path("ro/a.md");
    let out = search_in(&roots, args(json!({"path": a, "query": "zebra"}))).unwrap();
    assert_eq!(
        out.text_content(),
        format!("No matches for \"zebra\" in {a} (1 file searched).")
    );

    let m = invalid(search_in(
        &roots,
        args(json!({"path": ro, "query": "(", "regex": true})),
    ));
    assert!(
        m.starts_with("`query` is not a valid regular expression"),
        "{m}"
    );
    let m = failed(search_in(
        &roots,
        args(json!({"path": t.path("ro/nope"), "query": "x"})),
    ));
    assert_eq!(
        m,
        format!("{ro}/nope does not exist (list {ro} to see what is there)")
    );
}

#[test]
fn writes() {
    let t = TempTree::new();
    let roots = t.roots();
    let f = t.path("rw/out.md");
    let out = write_in(&roots, args(json!({"path": f, "content": "hello"}))).unwrap();
    assert_eq!(
        out.text_content(),
        format!("Wrote 5 bytes to {f} (new file).")
    );
    assert_eq!(
        out.structured.unwrap(),
        json!({"path": f, "bytes": 5, "created": true})
    );
    assert_eq!(fs::read_to_string(&f).unwrap(), "hello");

    let m = failed(write_in(&roots, args(json!({"path": f, "content": "x"}))));
    assert_eq!(
        m,
        format!(
            "cannot write {f}: it already exists (5 bytes); pass overwrite: true to replace it"
        )
    );
    let out = write_in(
        &roots,
        args(json!({"path": f, "content": "bye", "overwrite": true})),
    )
    .unwrap();
    assert_eq!(
        out.text_content(),
        format!("Wrote 3 bytes to {f} (replaced 5 bytes).")
    );
    assert_eq!(fs::read_to_string(&f).unwrap(), "bye");

    let deep = t.path("rw/a/b/c.md");
    let m = failed(write_in(
        &roots,
        args(json!({"path": deep, "content": "x"})),
    ));
    assert_eq!(
        m,
        format!(
            "cannot write {deep}: the directory {} does not exist (pass create_dirs: true to create it)",
            t.path("rw/a/b")
        )
    );
    write_in(
        &roots,
        args(json!({"path": deep, "content": "x", "create_dirs": true})),
    )
    .unwrap();
    assert_eq!(fs::read_to_string(&deep).unwrap(), "x");

    let m = failed(write_in(
        &roots,
        args(json!({"path": t.path("rw"), "content": "x"})),
    ));
    assert!(
        m.ends_with(": it is a granted directory, not a file"),
        "{m}"
    );
    let m = failed(write_in(
        &roots,
        args(json!({"path": t.path("rw/a"), "content": "x"})),
    ));
    assert_eq!(
        m,
        format!("cannot write {}: it is a directory", t.path("rw/a"))
    );
    let m = failed(write_in(
        &roots,
        args(json!({"path": t.path("rw/a"), "content": "x", "overwrite": true})),
    ));
    assert_eq!(
        m,
        format!(
            "cannot write {}: it is a directory (use `list` to see its contents)",
            t.path("rw/a")
        )
    );
    let m = failed(write_in(
        &roots,
        args(json!({"path": "/etc/x", "content": "x"})),
    ));
    assert!(
        m.starts_with("no access to /etc/x: the plugin can only reach"),
        "{m}"
    );
}

#[test]
fn stats() {
    let t = TempTree::new();
    let a = t.path("ro/a.md");
    let out = stat_in(&t.roots(), args(json!({"path": a}))).unwrap();
    let s = out.structured.unwrap();
    assert_eq!(s["type"], "file");
    assert_eq!(s["size"], 36);
    assert_eq!(s["root"], t.path("ro"));
    assert_eq!(s["access"], "read-only");
    let modified = s["modified"].as_str().unwrap();
    assert!(
        modified.len() == 20 && modified.ends_with('Z'),
        "{modified}"
    );
    assert_eq!(
        out.content,
        vec![Content::Text(format!(
            "{a}: file, 36 bytes, modified {modified}, in {} (read-only)",
            t.path("ro")
        ))]
    );
    let out = stat_in(&t.roots(), args(json!({"path": t.path("rw")}))).unwrap();
    assert_eq!(out.structured.unwrap()["type"], "directory");
}

#[cfg(unix)]
#[test]
fn symlinks_are_listed_and_explained() {
    let t = TempTree::new();
    std::os::unix::fs::symlink("/etc", t.path("ro/etc-link")).unwrap();
    let out = list_in(&t.roots(), args(json!({"path": t.path("ro")}))).unwrap();
    assert!(
        out.text_content()
            .contains(&format!("{}/etc-link -> /etc", t.path("ro")))
    );
    let target = paths::resolve(&t.path("ro/etc-link/passwd"), &t.roots()).unwrap();
    assert_eq!(
        paths::find_symlink(&target),
        Some((t.path("ro/etc-link"), "/etc".to_string()))
    );
}

#[test]
fn formats_times() {
    let at = |s: u64| rfc3339(UNIX_EPOCH + std::time::Duration::from_secs(s)).unwrap();
    assert_eq!(at(0), "1970-01-01T00:00:00Z");
    assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(at(1_714_573_800), "2024-05-01T14:30:00Z");
}
