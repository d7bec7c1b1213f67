//! The smoke run of every fuzz target: its seed corpus, then mutated inputs
//! from a fixed seed (the same inputs every run). The real, coverage-guided
//! runs are `scripts/fuzz`.

use crate::{Mutator, TARGETS, Target, corpus_dir};

/// Mutated inputs per target; the MCP target runs a whole session per input.
fn mutations(target: &str) -> usize {
    match target {
        "mcp" => 300,
        "catalog" => 1_000,
        _ => 3_000,
    }
}

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = corpus_dir(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a corpus entry").path())
        .collect();
    files.sort();
    let seeds: Vec<Vec<u8>> = files
        .iter()
        .map(|path| std::fs::read(path).expect("a corpus file"))
        .collect();
    assert!(!seeds.is_empty(), "{} has no seeds", dir.display());
    seeds
}

fn run(name: &str, target: Target) {
    let seeds = seeds(name);
    for seed in &seeds {
        target(seed);
    }
    let mut mutator = Mutator::new(name.len() as u64 * 7919);
    for i in 0..mutations(name) {
        let input = &seeds[i % seeds.len()];
        let other = &seeds[(i * 7 + 3) % seeds.len()];
        let mutated = mutator.mutate(input, other);
        target(&mutated);
    }
}

#[test]
fn every_target_has_a_binary_and_seeds() {
    let bins = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz_targets");
    for (name, _) in TARGETS {
        assert!(
            bins.join(format!("{name}.rs")).is_file(),
            "no fuzz_targets/{name}.rs"
        );
        assert!(!seeds(name).is_empty());
    }
}

#[test]
fn manifest() {
    run("manifest", crate::manifest);
}

#[test]
fn config() {
    run("config", crate::config);
}

#[test]
fn lock() {
    run("lock", crate::lock);
}

#[test]
fn policy() {
    run("policy", crate::policy);
}

#[test]
fn catalog() {
    run("catalog", crate::catalog);
}

#[test]
fn mcp() {
    run("mcp", crate::mcp);
}

#[test]
fn wire() {
    run("wire", crate::wire);
}
