//! What Cranelift's settings cost and buy: for each example plugin (Rust,
//! C, and in a full run Python and JavaScript) and each engine setting,
//! the cold compile time (ms per MB of `.wasm`), the size of the compiled
//! code, and fresh-instance calls of one small tool on the result.
//!
//! The first row is wasmtime's defaults, the yardstick a peer that embeds
//! wasmtime without limits compiles at; then each of Warden's two
//! instrumentations alone, then both (what Warden runs) with Cranelift's
//! settings varied. The single-pass register allocator, which halves
//! compile time again, is left out: wasmtime does not consider it
//! production-ready for untrusted code. Compiles alternate between
//! the settings within each round, and calls are interleaved in batches, so
//! a noisy machine slows every setting alike.
//!
//! ```text
//! cargo bench -p warden --bench compile
//! WARDEN_COMPILE_ROUNDS=5 WARDEN_BENCH_ITERS=500 cargo bench -p warden --bench compile
//! ```
//!
//! Under `cargo test --benches` it compiles the Rust and C plugins once
//! with wasmtime's defaults and once with Warden's settings, and makes a few
//! calls on each.

// A benchmark reports on stdout.
#![allow(clippy::print_stdout)]

#[allow(dead_code)] // Shared with the call bench, which uses all of it.
mod baseline;
mod common;
mod examples;
mod stats;

use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use base64::Engine as _;
use serde_json::json;
use wasmtime::OptLevel;

use ::warden::policy::lock::sha256_hex;
use ::warden::sandbox::{ArtifactCache, EngineSettings, Sandbox};

use baseline::{Baseline, Codegen, Sample, Variant};
use examples::{TEXT, Target};
use stats::percentile;

/// Calls per case in a full run (`WARDEN_BENCH_ITERS` overrides).
const DEFAULT_ITERS: u64 = 300;
/// Compiles per case in a full run (`WARDEN_COMPILE_ROUNDS` overrides).
const DEFAULT_ROUNDS: u64 = 3;
/// Copies of [`TEXT`] in the long case's argument (about 240 KB).
const LONG_REPEAT: usize = 2000;

/// The example plugins, and in a full run the Rust one again with a long
/// argument: where the quality of the code shows (guest work, not start-up).
fn targets(quick: bool) -> Vec<Target> {
    let mut all = examples::targets(quick);
    if !quick {
        let long = TEXT.repeat(LONG_REPEAT);
        let encoded = base64::engine::general_purpose::STANDARD.encode(&long);
        all.insert(
            1,
            Target {
                language: "Rust (text), 240 KB of work",
                wasm: warden_test_artifacts::TEXT_WASM,
                tool: "base64_encode",
                arguments: json!({ "text": long }).to_string(),
                expect: encoded[encoded.len() - 64..].to_string(),
            },
        );
    }
    all
}

/// Warden's engine (fuel and epoch) with other Cranelift settings.
const fn limited(label: &'static str, codegen: Codegen) -> Variant {
    Variant {
        label,
        codegen,
        ..Variant::FUEL_EPOCH
    }
}

fn variants(quick: bool) -> Vec<Variant> {
    let mut all = vec![
        Variant {
            label: "wasmtime defaults (no limits)",
            ..Variant::BARE
        },
        Variant {
            label: "fuel only",
            ..Variant::FUEL
        },
        Variant {
            label: "epoch only",
            ..Variant::EPOCH
        },
        limited("fuel + epoch (Warden)", Codegen::DEFAULT),
        limited(
            "  one thread",
            Codegen {
                parallel: false,
                ..Codegen::DEFAULT
            },
        ),
        limited(
            "  opt level none",
            Codegen {
                opt: OptLevel::None,
                ..Codegen::DEFAULT
            },
        ),
    ];
    if quick {
        all.retain(|v| v.label.starts_with("wasmtime") || v.label.starts_with("fuel + epoch"));
    }
    all
}

fn main() -> anyhow::Result<()> {
    let quick = common::smoke_run();
    let (rounds, iters) = if quick {
        (1, 3)
    } else {
        (
            common::env_count("WARDEN_COMPILE_ROUNDS", DEFAULT_ROUNDS)?,
            common::env_count("WARDEN_BENCH_ITERS", DEFAULT_ITERS)?,
        )
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(
        quick,
        usize::try_from(rounds)?,
        usize::try_from(iters)?,
    ))
}

async fn run(quick: bool, rounds: usize, iters: usize) -> anyhow::Result<()> {
    let settings = examples::engine_settings()?;
    let targets = targets(quick);
    let variants = variants(quick);
    println!("Cranelift settings: compile time, code size and calls");
    println!(
        "mode: {}, {rounds} compile(s) per case, {iters} calls per case, {} logical CPUs",
        if quick { "smoke (cargo test)" } else { "full" },
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    println!();

    let wasm: Vec<&str> = targets.iter().map(|t| t.wasm).collect();
    // compiles[variant][target]: one duration per round.
    let mut compiles = vec![vec![Vec::new(); targets.len()]; variants.len()];
    let mut engines: Vec<Option<Baseline>> = variants.iter().map(|_| None).collect();
    for _ in 0..rounds {
        for (v, variant) in variants.iter().enumerate() {
            // The last round's engine stays for the calls.
            engines[v] = None;
            let (engine, times) = Baseline::new(*variant, &settings, &wasm)?;
            for (t, time) in times.into_iter().enumerate() {
                compiles[v][t].push(time);
            }
            engines[v] = Some(engine);
        }
    }
    let engines: Vec<Baseline> = engines.into_iter().flatten().collect();

    // samples[target][variant]
    let samples = examples::sample(&engines, &targets, iters).await?;

    for (t, target) in targets.iter().enumerate() {
        let mb = std::fs::metadata(target.wasm)?.len() as f64 / 1e6;
        println!(
            "== {} — {mb:.2} MB, tool `{}`",
            target.language, target.tool
        );
        println!(
            "{:<30} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "engine", "compile ms", "ms/MB", "code MB", "p50 us", "inst us", "call us"
        );
        for (v, variant) in variants.iter().enumerate() {
            let compile = percentile(&compiles[v][t], 0.5);
            let cases: &[Sample] = &samples[t][v];
            let total: Vec<Duration> = cases.iter().map(|s| s.total).collect();
            let phase = |i: usize| -> Vec<Duration> {
                cases
                    .iter()
                    .filter_map(|s| s.phases.map(|p| p[i]))
                    .collect()
            };
            println!(
                "{:<30} {:>10.0} {:>9.0} {:>9.2} {:>9.1} {:>9.1} {:>9.1}",
                variant.label,
                compile.as_secs_f64() * 1e3,
                compile.as_secs_f64() * 1e3 / mb,
                engines[v].code_size(t)? as f64 / 1e6,
                percentile(&total, 0.5).as_secs_f64() * 1e6,
                percentile(&phase(0), 0.5).as_secs_f64() * 1e6,
                percentile(&phase(1), 0.5).as_secs_f64() * 1e6,
            );
        }
        println!();
    }
    functions(&settings, &targets, rounds)?;
    if quick {
        println!(
            "(smoke run: the Rust and C plugins, one compile each, wasmtime's defaults and Warden's)"
        );
    }
    Ok(())
}

/// Warden's own compile (`Sandbox::compile`) and its cache of compiled
/// functions: with the cache turned off (`cache_functions = false`), into
/// an empty cache, and of another
/// file with the same code (a second plugin built with the same toolchain)
/// once the first one's functions are kept.
fn functions(settings: &EngineSettings, targets: &[Target], rounds: usize) -> anyhow::Result<()> {
    println!("== Sandbox::compile and the cache of compiled functions");
    println!(
        "{:<24} {:>12} {:>12} {:>12} {:>10} {:>10}",
        "component", "off ms", "cold ms", "shared ms", "functions", "again"
    );
    let mut seen = Vec::new();
    for target in targets {
        if seen.contains(&target.wasm) {
            continue;
        }
        seen.push(target.wasm);
        let bytes = std::fs::read(target.wasm)?;
        let mut sibling = bytes.clone();
        // A custom section: other bytes, the same functions.
        sibling.extend_from_slice(&[0, 8, 7]);
        sibling.extend_from_slice(b"sibling");
        let (mut none, mut cold, mut shared) = (Vec::new(), Vec::new(), Vec::new());
        let (mut functions, mut again) = (0, 0);
        for _ in 0..rounds {
            let sandbox = Sandbox::new(&EngineSettings {
                cache_functions: false,
                ..settings.clone()
            })?;
            let started = Instant::now();
            drop(sandbox.compile(&bytes)?);
            none.push(started.elapsed());

            let dir = tempfile::tempdir()?;
            let sandbox = Sandbox::new(settings)?;
            let cache =
                ArtifactCache::open(dir.path(), 8 << 30, &sandbox).map_err(anyhow::Error::msg)?;
            let started = Instant::now();
            let compiled = sandbox.compile(&bytes)?;
            cold.push(started.elapsed());
            cache
                .store(&sha256_hex(&bytes), &compiled, None)
                .map_err(anyhow::Error::msg)?;
            drop(compiled);
            let kept = sandbox.functions().context("the function cache is on")?;
            functions = kept.len();
            let before = kept.counts();
            let started = Instant::now();
            drop(sandbox.compile(&sibling)?);
            shared.push(started.elapsed());
            let counts = kept.counts() - before;
            again = counts.compiled;
            ensure!(
                counts.hits > counts.compiled,
                "{}: {} functions compiled again, {} from the cache",
                target.language,
                counts.compiled,
                counts.hits
            );
        }
        let ms = |d: &[Duration]| percentile(d, 0.5).as_secs_f64() * 1e3;
        println!(
            "{:<24} {:>12.0} {:>12.0} {:>12.0} {:>10} {:>10}",
            target.language,
            ms(&none),
            ms(&cold),
            ms(&shared),
            functions,
            again
        );
    }
    println!();
    Ok(())
}
