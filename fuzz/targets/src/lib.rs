//! The bodies of Warden's fuzz targets, in one place for two drivers:
//!
//! - the cargo-fuzz binaries in `fuzz/fuzz_targets/` (coverage-guided,
//!   sanitizer build: `scripts/fuzz [TARGET] [SECONDS]`);
//! - the smoke test of this crate, which runs every target over its seed
//!   corpus (`fuzz/corpus/TARGET/`) and a few thousand mutated inputs in the
//!   normal `cargo test` run.
//!
//! Each target takes raw bytes, feeds them to the real code and checks the
//! properties that code promises (beyond "does not panic"); a broken promise
//! panics, which libFuzzer reports as a crash.

mod catalog;
mod harness;
mod mcp;
mod mutate;
mod parsers;
mod policy;
mod wire;

pub use catalog::catalog;
pub use mcp::mcp;
pub use mutate::Mutator;
pub use parsers::{config, lock, manifest};
pub use policy::policy;
pub use wire::wire;

/// A fuzz target's body.
pub type Target = fn(&[u8]);

/// Every target by name; the name is also its cargo-fuzz binary and its
/// seed corpus folder.
pub const TARGETS: &[(&str, Target)] = &[
    ("manifest", manifest),
    ("config", config),
    ("lock", lock),
    ("policy", policy),
    ("catalog", catalog),
    ("mcp", mcp),
    ("wire", wire),
];

/// The seed corpus folder of `target`.
pub fn corpus_dir(target: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../corpus")
        .join(target)
}

#[cfg(test)]
mod smoke;
