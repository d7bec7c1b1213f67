//! The example plugin of each language, with one small tool call checked by
//! its output, and the engine settings of the default configuration: shared
//! by the benches that compare engines on them (`languages`, `compile`).

use anyhow::ensure;
use base64::Engine as _;
use serde_json::json;

use ::warden::policy::lock::sha256_hex;
use ::warden::sandbox::EngineSettings;

use crate::baseline::{Baseline, Sample};

/// The text the Rust and C tools work on.
pub const TEXT: &str = "Warden hosts tools as sandboxed WebAssembly components; \
                        every call gets a fresh instance of its own.";

/// One example plugin and the tool called on it.
pub struct Target {
    pub language: &'static str,
    pub wasm: &'static str,
    pub tool: &'static str,
    pub arguments: String,
    /// A piece of text the tool's output must contain.
    pub expect: String,
}

/// The Rust (`text`) and C (`checksum`) plugins, and unless `quick` the
/// Python (`data`) and JavaScript (`markdown`) ones, which take seconds to
/// compile.
pub fn targets(quick: bool) -> Vec<Target> {
    let mut all = vec![
        Target {
            language: "Rust (text)",
            wasm: warden_test_artifacts::TEXT_WASM,
            tool: "base64_encode",
            arguments: json!({ "text": TEXT }).to_string(),
            expect: base64::engine::general_purpose::STANDARD.encode(TEXT),
        },
        Target {
            language: "C (checksum)",
            wasm: warden_test_artifacts::CHECKSUM_WASM,
            tool: "text",
            arguments: json!({ "text": TEXT, "algorithm": "sha256" }).to_string(),
            expect: sha256_hex(TEXT.as_bytes()),
        },
    ];
    if !quick {
        all.extend([
            Target {
                language: "Python (data)",
                wasm: warden_test_artifacts::DATA_WASM,
                tool: "files",
                // No directory is preopened, so it answers that /data is
                // not there (a tool error): the interpreter's start, the
                // SDK's dispatch and one small function.
                arguments: json!({}).to_string(),
                expect: "cannot list /data".into(),
            },
            Target {
                language: "JavaScript (markdown)",
                wasm: warden_test_artifacts::MARKDOWN_WASM,
                tool: "outline",
                arguments: json!({ "markdown": "# Warden\n\nIntro.\n\n## Plugins\n\nText.\n\n### Limits\n\n## Clients\n" })
                    .to_string(),
                expect: "Limits".into(),
            },
        ]);
    }
    all
}

/// The engine settings of the default configuration.
pub fn engine_settings() -> anyhow::Result<EngineSettings> {
    let config = ::warden::config::Config::default();
    Ok(::warden::cli::engine_settings(&config))
}

/// Calls of one case before the next case's turn.
const BATCH: usize = 10;

/// Calls made before the measured ones, per case.
pub fn warmup(iters: usize) -> usize {
    (iters / 10).clamp(1, 30)
}

/// `iters` checked calls of every target on every engine (each engine
/// holding the targets in order), after a warm-up, interleaved in batches
/// so that a noisy machine slows every case alike: `samples[target][engine]`.
pub async fn sample(
    engines: &[Baseline],
    targets: &[Target],
    iters: usize,
) -> anyhow::Result<Vec<Vec<Vec<Sample>>>> {
    let mut samples = vec![vec![Vec::new(); engines.len()]; targets.len()];
    for (t, target) in targets.iter().enumerate() {
        for engine in engines {
            for _ in 0..warmup(iters) {
                call(engine, t, target).await?;
            }
        }
    }
    let mut done = 0;
    while done < iters {
        let n = BATCH.min(iters - done);
        for (t, target) in targets.iter().enumerate() {
            for (e, engine) in engines.iter().enumerate() {
                for _ in 0..n {
                    samples[t][e].push(call(engine, t, target).await?);
                }
            }
        }
        done += n;
    }
    Ok(samples)
}

/// One fresh-instance call of the `index`th component of `engine`, checked.
pub async fn call(engine: &Baseline, index: usize, target: &Target) -> anyhow::Result<Sample> {
    let timed = engine.call(index, target.tool, &target.arguments).await?;
    let text = timed.text.unwrap_or_default();
    ensure!(
        text.contains(&target.expect),
        "{} `{}` under {:?} returned {text:?}, which lacks {:?}",
        target.language,
        target.tool,
        engine.variant.label.trim(),
        target.expect
    );
    Ok(timed.sample)
}
