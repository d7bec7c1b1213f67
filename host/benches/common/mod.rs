//! What every bench binary reads from its command line and environment.

use anyhow::Context as _;

/// Whether this is a smoke run: `cargo bench` passes `--bench`, while
/// `cargo test --benches` (and `--all-targets`) does not.
pub fn smoke_run() -> bool {
    let args: Vec<String> = std::env::args().skip(1).collect();
    args.iter().any(|a| a == "--test") || !args.iter().any(|a| a == "--bench")
}

/// The positive integer in the environment variable `name`, else `default`.
pub fn env_count(name: &str, default: u64) -> anyhow::Result<u64> {
    match std::env::var(name) {
        Ok(value) => value
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|&n| n > 0)
            .with_context(|| format!("{name} must be a positive integer, not {value:?}")),
        Err(_) => Ok(default),
    }
}
