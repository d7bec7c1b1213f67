//! What wasmtime's fuel and epoch instrumentation cost for a plugin in each
//! language: the example plugins built from source in Rust (`text`),
//! Python (`data`, componentize-py), JavaScript (`markdown`,
//! componentize-js) and C (`checksum`, zig + the preview1 adapter).
//!
//! For each component, plain wasmtime engines (the same pooling allocator,
//! stack and linker as the call bench's baseline) with no instrumentation,
//! fuel only, epoch interruption only, and both (what Warden runs): the
//! compile time of each, then fresh-instance calls of one small tool,
//! interleaved in batches so a noisy machine slows them alike. An interpreter
//! runs far more guest code per call than a compiled guest, so fuel's
//! per-instruction cost weighs more on it; the table shows by how much, and
//! how much fuel one call burns against the default limit.
//!
//! ```text
//! cargo bench -p warden --bench languages
//! WARDEN_BENCH_ITERS=100 cargo bench -p warden --bench languages
//! ```
//!
//! Under `cargo test --benches` it runs the Rust and C plugins only, with a
//! few calls on the bare and the fully instrumented engine, as a smoke test:
//! compiling the 13-18 MB interpreter components four times takes minutes.

// A benchmark reports on stdout.
#![allow(clippy::print_stdout)]

#[allow(dead_code)] // Shared with the call bench, which uses all of it.
mod baseline;
mod common;
mod stats;

use std::time::Duration;

use anyhow::ensure;
use base64::Engine as _;
use serde_json::json;

use ::warden::limits::Limits;
use ::warden::policy::lock::sha256_hex;
use ::warden::sandbox::EngineSettings;

use baseline::{Baseline, Sample, Variant};
use stats::percentile;

/// The text the Rust and C tools work on.
const TEXT: &str = "Warden hosts tools as sandboxed WebAssembly components; \
                    every call gets a fresh instance of its own.";
/// Samples per case in a full run (`WARDEN_BENCH_ITERS` overrides).
const DEFAULT_ITERS: usize = 300;
/// Samples per case in a smoke run.
const QUICK_ITERS: usize = 3;
/// Calls of one case before the next case's turn.
const BATCH: usize = 10;

/// One language's example plugin and the tool called on it.
struct Target {
    language: &'static str,
    wasm: &'static str,
    tool: &'static str,
    arguments: String,
    /// A piece of text the tool's output must contain.
    expect: String,
}

fn targets(quick: bool) -> Vec<Target> {
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

fn main() -> anyhow::Result<()> {
    let quick = common::smoke_run();
    let iters = if quick {
        QUICK_ITERS
    } else {
        usize::try_from(common::env_count(
            "WARDEN_BENCH_ITERS",
            DEFAULT_ITERS as u64,
        )?)?
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(quick, iters))
}

async fn run(quick: bool, iters: usize) -> anyhow::Result<()> {
    let config = ::warden::config::Config::default();
    let settings = EngineSettings {
        max_wasm_stack: usize::try_from(config.max_wasm_stack.0)?,
        max_concurrent_calls: config.max_concurrent_calls,
        memory_ceiling: config.limits.ceilings.memory_bytes,
        cache_functions: config.cache_functions,
    };
    let targets = targets(quick);
    let variants = if quick {
        vec![Variant::BARE, Variant::FUEL_EPOCH]
    } else {
        vec![
            Variant::BARE,
            Variant::FUEL,
            Variant::EPOCH,
            Variant::FUEL_EPOCH,
        ]
    };
    println!("Fuel and epoch interruption per plugin language");
    println!(
        "mode: {}, {iters} calls per case after {} warm-up, interleaved in batches of {BATCH}; \
         {} logical CPUs; fuel limit {}",
        if quick { "smoke (cargo test)" } else { "full" },
        warmup(iters),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        Limits::DEFAULTS.fuel,
    );
    if quick {
        println!(
            "(smoke run: Rust and C only; `cargo bench --bench languages` adds Python and JavaScript)"
        );
    }
    println!();

    let wasm: Vec<&str> = targets.iter().map(|t| t.wasm).collect();
    let mut engines = Vec::new();
    let mut compiles = Vec::new();
    for variant in &variants {
        let (engine, times) = Baseline::new(*variant, &settings, &wasm)?;
        engines.push(engine);
        compiles.push(times);
    }

    // samples[target][variant]
    let mut samples: Vec<Vec<Vec<Sample>>> = vec![vec![Vec::new(); variants.len()]; targets.len()];
    for (t, target) in targets.iter().enumerate() {
        for engine in &engines {
            for _ in 0..warmup(iters) {
                call(engine, t, target).await?;
            }
        }
    }
    let mut done = 0;
    while done < iters {
        let n = BATCH.min(iters - done);
        for (t, target) in targets.iter().enumerate() {
            for (v, engine) in engines.iter().enumerate() {
                for _ in 0..n {
                    samples[t][v].push(call(engine, t, target).await?);
                }
            }
        }
        done += n;
    }

    report(&targets, &variants, &compiles, &samples)
}

fn warmup(iters: usize) -> usize {
    (iters / 10).clamp(1, 30)
}

/// One fresh-instance call of the `index`th component, checked.
async fn call(engine: &Baseline, index: usize, target: &Target) -> anyhow::Result<Sample> {
    let timed = engine.call(index, target.tool, &target.arguments).await?;
    let text = timed.text.unwrap_or_default();
    ensure!(
        text.contains(&target.expect),
        "{} `{}` returned {text:?}, which lacks {:?}",
        target.language,
        target.tool,
        target.expect
    );
    Ok(timed.sample)
}

fn report(
    targets: &[Target],
    variants: &[Variant],
    compiles: &[Vec<Duration>],
    samples: &[Vec<Vec<Sample>>],
) -> anyhow::Result<()> {
    for (t, target) in targets.iter().enumerate() {
        let size = std::fs::metadata(target.wasm)?.len();
        println!(
            "== {} — {:.2} MB, tool `{}`",
            target.language,
            size as f64 / 1e6,
            target.tool
        );
        println!(
            "{:<28} {:>11} {:>10} {:>10} {:>10} {:>9} {:>14}",
            "engine", "compile ms", "p50 us", "p90 us", "inst us", "vs bare", "fuel per call"
        );
        let bare = median(&totals(&samples[t][0]));
        for (v, variant) in variants.iter().enumerate() {
            let cases = &samples[t][v];
            let total = totals(cases);
            let p50 = median(&total);
            let instantiate: Vec<Duration> = cases
                .iter()
                .filter_map(|s| s.phases.map(|p| p[0]))
                .collect();
            let fuel = cases
                .iter()
                .filter_map(|s| s.fuel)
                .max()
                .map_or("-".to_string(), |f| {
                    format!(
                        "{f} ({:.2}%)",
                        f as f64 * 100.0 / Limits::DEFAULTS.fuel as f64
                    )
                });
            println!(
                "{:<28} {:>11.1} {:>10.1} {:>10.1} {:>10.1} {:>8.2}x {:>14}",
                variant.label.trim(),
                compiles[v][t].as_secs_f64() * 1e3,
                p50.as_secs_f64() * 1e6,
                percentile(&total, 0.9).as_secs_f64() * 1e6,
                median(&instantiate).as_secs_f64() * 1e6,
                p50.as_secs_f64() / bare.as_secs_f64().max(1e-9),
                fuel
            );
        }
        println!();
    }
    Ok(())
}

fn totals(samples: &[Sample]) -> Vec<Duration> {
    samples.iter().map(|s| s.total).collect()
}

fn median(values: &[Duration]) -> Duration {
    percentile(values, 0.5)
}
