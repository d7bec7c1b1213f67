//! `warden new`: a plugin project in Rust, Python, JavaScript or C that
//! builds (`warden build`) and loads unchanged: source, manifest with its
//! `[build]` recipe, the WIT it builds against, a build script, one test and
//! a README. The non-Rust SDKs are copied in from this repository's
//! `plugins/sdk-*`; the world's bindings are generated at build time.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};

use crate::policy::manifest::PluginName;

/// Create a plugin project (source, manifest, WIT, build script, one test,
/// README) that `warden build` builds and Warden loads unchanged.
#[derive(Debug, clap::Args)]
pub struct New {
    /// The plugin's name (`[a-z0-9_-]`): the tools are exposed as
    /// `NAME_TOOL`.
    name: String,
    /// The project's language.
    #[arg(long, value_enum)]
    lang: Lang,
    /// Where to create the project (default: ./NAME); must not exist or be
    /// empty.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

/// The languages `warden new` scaffolds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Lang {
    Rust,
    Python,
    Js,
    C,
}

/// One file of a project: its path, its text, whether its `{{...}}`
/// placeholders are filled (templates; SDK files are copied as they are)
/// and whether it is a script.
struct File {
    path: &'static str,
    text: &'static str,
    template: bool,
    executable: bool,
}

/// A template.
const fn file(path: &'static str, text: &'static str) -> File {
    File {
        path,
        text,
        template: true,
        executable: false,
    }
}

/// A template that is a script.
const fn script(path: &'static str, text: &'static str) -> File {
    File {
        path,
        text,
        template: true,
        executable: true,
    }
}

/// A file copied as it is.
const fn copy(path: &'static str, text: &'static str) -> File {
    File {
        path,
        text,
        template: false,
        executable: false,
    }
}

const WIT: &str = include_str!("../../../wit/plugin.wit");

const RUST: &[File] = &[
    file("Cargo.toml", include_str!("new/rust/Cargo.toml")),
    file("src/lib.rs", include_str!("new/rust/lib.rs")),
];

const PYTHON: &[File] = &[
    file("app.py", include_str!("new/python/app.py")),
    file("tools.py", include_str!("new/python/tools.py")),
    file("test_tools.py", include_str!("new/python/test_tools.py")),
    script("build", include_str!("new/python/build")),
    copy(
        "warden_sdk/__init__.py",
        include_str!("../../../plugins/sdk-python/warden_sdk/__init__.py"),
    ),
    copy(
        "warden_sdk/_host.py",
        include_str!("../../../plugins/sdk-python/warden_sdk/_host.py"),
    ),
    copy(
        "warden_sdk/client.py",
        include_str!("../../../plugins/sdk-python/warden_sdk/client.py"),
    ),
    copy(
        "warden_sdk/content.py",
        include_str!("../../../plugins/sdk-python/warden_sdk/content.py"),
    ),
    copy(
        "warden_sdk/convert.py",
        include_str!("../../../plugins/sdk-python/warden_sdk/convert.py"),
    ),
    copy(
        "warden_sdk/docstrings.py",
        include_str!("../../../plugins/sdk-python/warden_sdk/docstrings.py"),
    ),
    copy(
        "warden_sdk/errors.py",
        include_str!("../../../plugins/sdk-python/warden_sdk/errors.py"),
    ),
    copy(
        "warden_sdk/log.py",
        include_str!("../../../plugins/sdk-python/warden_sdk/log.py"),
    ),
    copy(
        "warden_sdk/notify.py",
        include_str!("../../../plugins/sdk-python/warden_sdk/notify.py"),
    ),
    copy(
        "warden_sdk/progress.py",
        include_str!("../../../plugins/sdk-python/warden_sdk/progress.py"),
    ),
    copy(
        "warden_sdk/registry.py",
        include_str!("../../../plugins/sdk-python/warden_sdk/registry.py"),
    ),
    copy(
        "warden_sdk/schema.py",
        include_str!("../../../plugins/sdk-python/warden_sdk/schema.py"),
    ),
    copy(
        "warden_sdk/typing_support.py",
        include_str!("../../../plugins/sdk-python/warden_sdk/typing_support.py"),
    ),
    copy(
        "warden_sdk/uri.py",
        include_str!("../../../plugins/sdk-python/warden_sdk/uri.py"),
    ),
    copy(
        "warden_sdk/world.py",
        include_str!("../../../plugins/sdk-python/warden_sdk/world.py"),
    ),
];

const JS: &[File] = &[
    file("app.js", include_str!("new/js/app.js")),
    file("tools.js", include_str!("new/js/tools.js")),
    file("tools.test.js", include_str!("new/js/tools.test.js")),
    file("package.json", include_str!("new/js/package.json")),
    script("build", include_str!("new/js/build")),
    copy(
        "sdk/warden.js",
        include_str!("../../../plugins/sdk-js/warden.js"),
    ),
    copy(
        "sdk/component.js",
        include_str!("../../../plugins/sdk-js/component.js"),
    ),
];

const C: &[File] = &[
    file("plugin.c", include_str!("new/c/plugin.c")),
    script("build", include_str!("new/c/build")),
    script("test", include_str!("new/c/test")),
    copy(
        "sdk/warden.h",
        include_str!("../../../plugins/sdk-c/warden.h"),
    ),
    copy(
        "sdk/warden.c",
        include_str!("../../../plugins/sdk-c/warden.c"),
    ),
    copy(
        "sdk/warden_json.c",
        include_str!("../../../plugins/sdk-c/warden_json.c"),
    ),
    copy(
        "sdk/warden_client.c",
        include_str!("../../../plugins/sdk-c/warden_client.c"),
    ),
    copy(
        "sdk/warden_internal.h",
        include_str!("../../../plugins/sdk-c/warden_internal.h"),
    ),
];

impl Lang {
    /// The language's own files.
    fn files(self) -> &'static [File] {
        match self {
            Lang::Rust => RUST,
            Lang::Python => PYTHON,
            Lang::Js => JS,
            Lang::C => C,
        }
    }

    /// The values of the placeholders that depend on the language.
    fn values(self, name: &str) -> Vec<(&'static str, String)> {
        let (language, memory, command, output, files, build_how, test_how) = match self {
            Lang::Rust => (
                "Rust",
                "32MiB",
                "cargo build --release --target wasm32-wasip2".to_string(),
                format!(
                    "target/wasm32-wasip2/release/{}.wasm",
                    name.replace('-', "_")
                ),
                "| `Cargo.toml`, `src/lib.rs` | the plugin: the tool's descriptor and code, with wit-bindgen |",
                "`cargo build --release --target wasm32-wasip2`; it needs \
                 `rustup target add wasm32-wasip2` once",
                "`cargo test` runs the unit test natively.",
            ),
            Lang::Python => (
                "Python",
                "256MiB",
                "./build".to_string(),
                format!("target/{name}.wasm"),
                "| `tools.py` | the tools: type-hinted functions; the SDK derives their schemas |\n\
                 | `app.py` | the entry componentize-py builds |\n\
                 | `warden_sdk/` | Warden's Python SDK, copied in |\n\
                 | `build` | the build script (componentize-py) |\n\
                 | `test_tools.py` | the unit tests |",
                "`./build`: componentize-py, pinned and installed once by \
                 `warden toolchain python`; the component holds a Python \
                 interpreter (about 18 MB), compiled once by Warden and cached",
                "`python3 -m unittest` runs the unit tests with plain CPython.",
            ),
            Lang::Js => (
                "JavaScript",
                "64MiB",
                "./build".to_string(),
                format!("target/{name}.wasm"),
                "| `tools.js` | the tools: functions with their JSON Schemas |\n\
                 | `app.js` | the entry componentize-js builds |\n\
                 | `sdk/` | Warden's JavaScript SDK, copied in |\n\
                 | `build` | the build script (componentize-js) |\n\
                 | `tools.test.js` | the unit tests |",
                "`./build`: componentize-js, pinned and installed once by \
                 `warden toolchain js`; the component holds a JavaScript \
                 engine (about 12 MB), compiled once by Warden and cached",
                "`node --test` runs the unit tests with plain node.",
            ),
            Lang::C => (
                "C",
                "16MiB",
                "./build".to_string(),
                format!("target/{name}.wasm"),
                "| `plugin.c` | the tools, declared with the SDK's macros |\n\
                 | `sdk/` | Warden's C SDK (`warden.h`, `warden.c`, `warden_json.c`, `warden_client.c`, `warden_internal.h`), copied in |\n\
                 | `build` | the build script (wit-bindgen, zig, wasm-tools) |\n\
                 | `test` | builds and calls the tool through Warden |",
                "`./build`: wit-bindgen, zig and wasm-tools, pinned and \
                 installed once by `warden toolchain c`",
                "`./test` builds the plugin and calls its tool through Warden.",
            ),
        };
        vec![
            ("language", language.into()),
            ("lang", self.flag().into()),
            ("memory", memory.into()),
            ("build_command", command),
            ("build_output", output),
            ("files", files.into()),
            ("build_how", build_how.into()),
            ("test_how", test_how.into()),
        ]
    }

    /// The `--lang` value.
    fn flag(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
            Lang::Js => "js",
            Lang::C => "c",
        }
    }
}

impl New {
    /// Writes the project.
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let name = PluginName::try_from(self.name.clone())
            .map_err(|e| anyhow::anyhow!("`{}` cannot be a plugin name: {e}", self.name))?;
        let name = name.to_string();
        let dir = self.dir.clone().unwrap_or_else(|| PathBuf::from(&name));
        if dir.exists() && std::fs::read_dir(&dir)?.next().is_some() {
            bail!(
                "{} already exists and is not empty; choose another --dir",
                dir.display()
            );
        }
        let mut values = self.lang.values(&name);
        values.push(("name", name.clone()));

        let manifest = format!("{name}.toml");
        let common = [
            copy("wit/plugin.wit", WIT),
            file("README.md", include_str!("new/README.md")),
            file(".gitignore", "target/\n__pycache__/\n"),
        ];
        write(
            &dir,
            &manifest,
            &file("", include_str!("new/manifest.toml")),
            &values,
        )?;
        for f in common.iter().chain(self.lang.files()) {
            write(&dir, f.path, f, &values)?;
        }
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "created {} ({} plugin `{name}`, tool `{name}_greet`)",
            dir.display(),
            self.lang.flag()
        )?;
        writeln!(out, "next: cd {} && warden build", dir.display())?;
        Ok(ExitCode::SUCCESS)
    }
}

/// Writes `f` into `dir` as `path`, with the placeholders of a template
/// filled.
fn write(dir: &Path, path: &str, f: &File, values: &[(&str, String)]) -> anyhow::Result<()> {
    let mut text = f.text.to_string();
    if f.template {
        for (key, value) in values {
            text = text.replace(&format!("{{{{{key}}}}}"), value);
        }
    }
    let path = dir.join(path);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    if f.executable {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(())
}
