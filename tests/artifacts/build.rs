//! Builds the guest workspaces (`plugins/` and `tests/fixtures/`) for
//! `wasm32-wasip2` with a nested `cargo build --release`, then writes
//! `$OUT_DIR/gen.rs` with the absolute path of every component.
//!
//! Modeled on wasmtime's `crates/test-programs/artifacts/build.rs`:
//! - the nested build uses its own target directory inside `OUT_DIR` (the
//!   outer cargo holds the lock on the outer one);
//! - flags meant for the outer (host) build are not passed on
//!   (`CARGO_ENCODED_RUSTFLAGS`, `RUSTFLAGS`, clippy's workspace wrapper, ...);
//! - every source file of both workspaces and the WIT contract is declared
//!   with `rerun-if-changed`, so editing a guest rebuilds it.

// Build scripts talk to cargo on stdout.
#![allow(clippy::print_stdout)]

use std::env;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const TARGET: &str = "wasm32-wasip2";

/// The guest workspaces, relative to the repository root.
const WORKSPACES: &[&str] = &["plugins", "tests/fixtures"];

/// One component to expose: constant name, workspace, file name in the
/// workspace's `target/wasm32-wasip2/release`, and the example name (for the
/// example plugins that have a manifest in `examples/plugins/`).
struct Artifact {
    constant: &'static str,
    workspace: &'static str,
    file: &'static str,
    example: Option<&'static str>,
    doc: &'static str,
}

const ARTIFACTS: &[Artifact] = &[
    Artifact {
        constant: "TEXT_WASM",
        workspace: "plugins",
        file: "text.wasm",
        example: Some("text"),
        doc: "The `text` example plugin (`plugins/text`).",
    },
    Artifact {
        constant: "TIME_WASM",
        workspace: "plugins",
        file: "time.wasm",
        example: Some("time"),
        doc: "The `time` example plugin (`plugins/time`).",
    },
    Artifact {
        constant: "FETCH_WASM",
        workspace: "plugins",
        file: "fetch.wasm",
        example: Some("fetch"),
        doc: "The `fetch` example plugin (`plugins/fetch`): GET over wasi:http.",
    },
    // `files`, `feature-flags` and `docs` have example manifests too, but those grant
    // directories of the repository's example workspace, which tests provide
    // themselves; they are not in `EXAMPLES`.
    Artifact {
        constant: "FILES_WASM",
        workspace: "plugins",
        file: "files.wasm",
        example: None,
        doc: "The `files` example plugin (`plugins/files`): list, read, search, write in granted directories.",
    },
    Artifact {
        constant: "FEATURE_FLAGS_WASM",
        workspace: "plugins",
        file: "feature_flags.wasm",
        example: None,
        doc: "The `feature-flags` example plugin (`plugins/feature-flags`).",
    },
    Artifact {
        constant: "DOCS_WASM",
        workspace: "plugins",
        file: "docs.wasm",
        example: None,
        doc: "The `docs` example plugin (`plugins/docs`): Markdown files of a granted directory \
              as resources, prompts `summarize` and `review_diff`, tools `search` and `refresh`.",
    },
    Artifact {
        constant: "SWAPPER_WASM",
        workspace: "tests/fixtures",
        file: "swapper.wasm",
        example: None,
        doc: "The `swapper` fixture plugin (`tests/fixtures/swapper`): renames a granted \
              directory and plants a symlink in its place.",
    },
    Artifact {
        constant: "HOSTILE_WASM",
        workspace: "tests/fixtures",
        file: "hostile.wasm",
        example: None,
        doc: "The `hostile` fixture plugin (`tests/fixtures/hostile`): spin, alloc, recurse, \
              flood, trap, big_output, sleep, echo, log, env, fuel, counter, socket.",
    },
    Artifact {
        constant: "DESCRIBE_HOSTILE_WASM",
        workspace: "tests/fixtures",
        file: "describe_hostile.wasm",
        example: None,
        doc: "The `describe-hostile` fixture plugin (`tests/fixtures/describe-hostile`): its \
              `list-tools` hangs, sleeps, or lists colliding names, many tools, huge schemas, \
              regex-heavy schemas or huge descriptions, as `DESCRIBE_MODE` says.",
    },
    Artifact {
        constant: "HOG_WASM",
        workspace: "tests/fixtures",
        file: "hog.wasm",
        example: None,
        doc: "The `hog` fixture plugin (`tests/fixtures/hog`): holds HTTP fields, bodies, \
              pollables, open files and written bytes without end; floods progress and announcements.",
    },
    Artifact {
        constant: "PINNED_WASM",
        workspace: "tests/fixtures",
        file: "pinned.wasm",
        example: None,
        doc: "The `pinned` fixture plugin, version 1 (`tests/fixtures/pinned`): one tool, \
              `version`, answering \"v1\".",
    },
    Artifact {
        constant: "PINNED_V2_WASM",
        workspace: "tests/fixtures",
        file: "pinned_v2.wasm",
        example: None,
        doc: "Version 2 of `pinned` (`tests/fixtures/pinned-v2`): the tool answers \"v2\", \
              with a description and schema changed as a rug pull would.",
    },
    Artifact {
        constant: "SNOOP_WASM",
        workspace: "tests/fixtures",
        file: "snoop.wasm",
        example: None,
        doc: "The `snoop` fixture plugin (`tests/fixtures/snoop`): sends requests, then reports \
              what it can see (responses, environment, arguments) and searches its linear \
              memory for masked needles.",
    },
    Artifact {
        constant: "WRONG_VERSION_WASM",
        workspace: "tests/fixtures",
        file: "wrong_version.wasm",
        example: None,
        doc: "A plugin built against `warden:plugin@0.3.0` (`tests/fixtures/wrong-version`).",
    },
    Artifact {
        constant: "BAD_IMPORT_WASM",
        workspace: "tests/fixtures",
        file: "bad_import.wasm",
        example: None,
        doc: "A plugin that also imports `fixture:missing/thing`, which no host provides \
              (`tests/fixtures/bad-import`).",
    },
    Artifact {
        constant: "TOOLS_ONLY_WASM",
        workspace: "tests/fixtures",
        file: "tools_only.wasm",
        example: None,
        doc: "A tools-only plugin built against a frozen copy of `warden:plugin@0.1.0` \
              (`tests/fixtures/tools-only`): tool `reverse`.",
    },
    Artifact {
        constant: "CONFORMANCE_WASM",
        workspace: "tests/fixtures",
        file: "conformance.wasm",
        example: None,
        doc: "The tools, resources and prompts the MCP conformance suite calls by name \
              (`tests/fixtures/conformance`); serve it with `namespace = false`.",
    },
    Artifact {
        constant: "HOLD_WASM",
        workspace: "tests/fixtures",
        file: "hold.wasm",
        example: None,
        doc: "The `hold` fixture plugin (`tests/fixtures/hold`): `hold` fills its memory limit \
              and keeps it `ms` milliseconds; `ping`.",
    },
    Artifact {
        constant: "ASKER_WASM",
        workspace: "tests/fixtures",
        file: "asker.wasm",
        example: None,
        doc: "The `asker` fixture plugin (`tests/fixtures/asker`): asks the MCP client through \
              the `client` import (`ask_model`, `ask_person`, `visit`, `roots`, `ask_many`, \
              `needs_sampling`) and reports each answer or error as text.",
    },
    Artifact {
        constant: "LOUD_WASM",
        workspace: "tests/fixtures",
        file: "loud.wasm",
        example: None,
        doc: "A plugin with terminal escapes, forged log lines and bidi overrides in every text \
              field it controls (`tests/fixtures/loud`): tools `shout…` and `long`.",
    },
    Artifact {
        constant: "OPENER_WASM",
        workspace: "tests/fixtures",
        file: "opener.wasm",
        example: None,
        doc: "A plugin whose start code opens `/data/start.txt` and keeps it open \
              (`tests/fixtures/opener`): tool `opened`, the files its start opened.",
    },
    Artifact {
        constant: "NOT_A_PLUGIN_WASM",
        workspace: "tests/fixtures",
        file: "not-a-plugin.wasm",
        example: None,
        doc: "An ordinary WASI command component exporting `wasi:cli/run` \
              (`tests/fixtures/not-a-plugin`).",
    },
];

/// The example plugins written in other languages, built by
/// `scripts/build-lang-plugins` with their own pinned toolchains: constant,
/// plugin name (`plugins/NAME`, manifest `examples/plugins/NAME.toml`), doc.
const LANG_PLUGINS: &[(&str, &str, &str)] = &[
    (
        "DATA_WASM",
        "data",
        "The `data` example plugin in Python (`plugins/data`, componentize-py): CSV and JSON \
         summaries over a directory granted at `/data`, with resources and a prompt.",
    ),
    (
        "MARKDOWN_WASM",
        "markdown",
        "The `markdown` example plugin in JavaScript (`plugins/markdown`, componentize-js): \
         outline, links, link checking over granted origins, regex tester.",
    ),
    (
        "CHECKSUM_WASM",
        "checksum",
        "The `checksum` example plugin in C (`plugins/checksum`, zig + wit-bindgen): checksums \
         of files in a directory granted at `/data` and of text.",
    ),
];

fn main() {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let repo = manifest_dir
        .parent()
        .and_then(Path::parent)
        .expect("tests/artifacts lives two levels below the repository root")
        .to_path_buf();
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    let target_dir = out_dir.join("guests");

    check_target_installed();

    watch(&repo.join("wit"), true);
    for workspace in WORKSPACES {
        // Not the workspace root itself: cargo scans a watched directory
        // recursively, and the root may hold a `target` directory.
        watch(&repo.join(workspace), false);
    }
    watch(&repo.join("scripts"), true);
    println!("cargo:rerun-if-env-changed=RUSTFLAGS");

    for workspace in WORKSPACES {
        build(&repo.join(workspace).join("Cargo.toml"), &target_dir);
    }

    let lang_dir = out_dir.join("lang-plugins");
    build_lang_plugins(&repo, &lang_dir);

    let release = target_dir.join(TARGET).join("release");
    let mut code = String::from("// @generated by tests/artifacts/build.rs\n\n");
    for artifact in ARTIFACTS {
        let path = release.join(artifact.file);
        check_component(&path, artifact);
        let path = path.to_str().expect("OUT_DIR is not valid UTF-8");
        writeln!(code, "/// {}", artifact.doc).unwrap();
        writeln!(code, "pub const {}: &str = {path:?};", artifact.constant).unwrap();
    }
    for &(constant, name, doc) in LANG_PLUGINS {
        let artifact = Artifact {
            constant,
            workspace: "plugins",
            file: name,
            example: None,
            doc,
        };
        let path = lang_dir.join(format!("{name}.wasm"));
        check_component(&path, &artifact);
        let path = path.to_str().expect("OUT_DIR is not valid UTF-8");
        writeln!(code, "/// {doc}").unwrap();
        writeln!(code, "pub const {constant}: &str = {path:?};").unwrap();
    }
    code.push_str(
        "\n/// The example plugins as `(name, path of the .wasm)`; each has a manifest \
         `NAME.toml` in [`examples_manifest_dir`].\npub const EXAMPLES: &[(&str, &str)] = &[\n",
    );
    for artifact in ARTIFACTS {
        if let Some(name) = artifact.example {
            writeln!(code, "    ({name:?}, {}),", artifact.constant).unwrap();
        }
    }
    code.push_str("];\n");
    fs::write(out_dir.join("gen.rs"), code).expect("write gen.rs");
}

/// Fails the build with a clear message when the wasm32-wasip2 standard
/// library is not installed for the compiler in use.
fn check_target_installed() {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| OsString::from("rustc"));
    let output = Command::new(&rustc)
        .args(["--print", "target-libdir", "--target", TARGET])
        .stderr(Stdio::inherit())
        .output();
    let installed = match output {
        Ok(out) if out.status.success() => {
            let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            fs::read_dir(&dir).is_ok_and(|entries| {
                entries
                    .flatten()
                    .any(|e| e.file_name().to_string_lossy().starts_with("libcore-"))
            })
        }
        _ => false,
    };
    if !installed {
        fail(&format!(
            "the {TARGET} target is not installed: run `rustup target add {TARGET}` \
             (needed to build the example plugins and test fixtures)"
        ));
    }
}

/// `cargo build --release --target wasm32-wasip2` for one guest workspace.
fn build(manifest: &Path, target_dir: &Path) {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--release")
        .arg("--locked")
        .arg("--target")
        .arg(TARGET)
        .arg("--manifest-path")
        .arg(manifest)
        .arg("--target-dir")
        .arg(target_dir)
        // Cargo's stdout is read for `cargo:` directives: keep the nested
        // build's output on stderr.
        .stdout(Stdio::from(std::io::stderr()))
        .stderr(Stdio::inherit());
    without_outer_build_settings(&mut cmd);
    if env::var_os("CARGO_CFG_MIRI").is_some() {
        // Miri's sysroot has no wasm standard library.
        cmd.env_remove("RUSTC").env_remove("RUSTC_WRAPPER");
    }
    if outer_build_denies_warnings() {
        // Keep the guests warning-free in CI too.
        cmd.env("RUSTFLAGS", "-D warnings");
    }
    eprintln!("running: {cmd:?}");
    let status = cmd
        .status()
        .unwrap_or_else(|e| fail(&format!("could not run cargo: {e}")));
    if !status.success() {
        fail(&format!(
            "building {} for {TARGET} failed ({status}); see the output above",
            manifest.display()
        ));
    }
}

/// `scripts/build-lang-plugins DEST`: the Python, JavaScript and C example
/// plugins, each with the toolchain its script pins (installed under
/// `~/.cache/warden/toolchains` on first use; unchanged plugins are not built
/// again).
fn build_lang_plugins(repo: &Path, dest: &Path) {
    let mut cmd = Command::new("bash");
    cmd.arg(repo.join("scripts").join("build-lang-plugins"))
        .arg(dest)
        .args(LANG_PLUGINS.iter().map(|(_, name, _)| name))
        .stdout(Stdio::from(std::io::stderr()))
        .stderr(Stdio::inherit());
    // The C toolchain installs wit-bindgen with `cargo install`, with the
    // compiler on PATH.
    without_outer_build_settings(&mut cmd);
    cmd.env_remove("RUSTC_WRAPPER").env_remove("RUSTC");
    eprintln!("running: {cmd:?}");
    let status = cmd
        .status()
        .unwrap_or_else(|e| fail(&format!("could not run scripts/build-lang-plugins: {e}")));
    if !status.success() {
        fail(&format!(
            "building the Python, JavaScript and C example plugins failed ({status}); \
             see the output above (their toolchains come from PyPI, npm and crates.io)"
        ));
    }
}

/// Keeps the outer (host) build's settings from a nested cargo: its flags
/// (often host-specific, such as `-C target-cpu=native`, or coverage
/// instrumentation; `CARGO_ENCODED_RUSTFLAGS`, set by cargo for build
/// scripts, would win over everything else), its target and target
/// directory, and clippy's wrapper (`cargo clippy` runs rustc through
/// clippy-driver with `RUSTC_WORKSPACE_WRAPPER`).
fn without_outer_build_settings(cmd: &mut Command) {
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WORKSPACE_WRAPPER",
    ] {
        cmd.env_remove(var);
    }
}

fn outer_build_denies_warnings() -> bool {
    let encoded = env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let flags: Vec<&str> = encoded.split('\x1f').collect();
    flags.windows(2).any(|w| w[0] == "-D" && w[1] == "warnings") || flags.contains(&"-Dwarnings")
}

/// Checks that `path` exists and is a component (not a core module).
fn check_component(path: &Path, artifact: &Artifact) {
    let bytes = fs::read(path).unwrap_or_else(|e| {
        fail(&format!(
            "expected {} from {} at {}: {e}",
            artifact.file,
            artifact.workspace,
            path.display()
        ))
    });
    // Magic, then the component-model layer/version (0x0d, 0, 1, 0); a core
    // module has version 1, 0, 0, 0.
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" || bytes[4..8] != [0x0d, 0x00, 0x01, 0x00] {
        fail(&format!(
            "{} is not a WebAssembly component (was it built for {TARGET}?)",
            path.display()
        ));
    }
}

/// Declares every file under `dir` (except `target` directories and hidden
/// entries) as an input of this build script, and `dir` itself too when
/// `watch_dir` (so that a new file in it counts as a change).
fn watch(dir: &Path, watch_dir: bool) {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => fail(&format!("cannot read {}: {e}", dir.display())),
    };
    if watch_dir {
        println!("cargo:rerun-if-changed={}", dir.display());
    }
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name == "target" {
            continue;
        }
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => watch(&path, true),
            Ok(_) => println!("cargo:rerun-if-changed={}", path.display()),
            Err(_) => {}
        }
    }
}

fn fail(message: &str) -> ! {
    println!("cargo:warning={message}");
    eprintln!("error: {message}");
    std::process::exit(1);
}
