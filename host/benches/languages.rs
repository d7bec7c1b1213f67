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
mod examples;
mod stats;

use std::time::Duration;

use ::warden::limits::Limits;

use baseline::{Baseline, Sample, Variant};
use examples::{Target, targets};
use stats::percentile;

/// Samples per case in a full run (`WARDEN_BENCH_ITERS` overrides).
const DEFAULT_ITERS: usize = 300;
/// Samples per case in a smoke run.
const QUICK_ITERS: usize = 3;

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
    let settings = examples::engine_settings()?;
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
        "mode: {}, {iters} calls per case after {} warm-up, interleaved in batches; \
         {} logical CPUs; fuel limit {}",
        if quick { "smoke (cargo test)" } else { "full" },
        examples::warmup(iters),
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
    let samples = examples::sample(&engines, &targets, iters).await?;

    report(&targets, &variants, &compiles, &samples)
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
