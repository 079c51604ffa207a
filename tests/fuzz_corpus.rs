//! Replays the fuzz corpora on stable, in every `cargo test` run: each file of
//! `fuzz/corpus/<target>/` (grown by libFuzzer, minimized) and of `fuzz/regressions/<target>/`
//! (inputs that once broke a property, kept after the fix) goes through the same library
//! function the fuzzer runs. A missing or empty corpus fails, so the corpora cannot vanish
//! silently. A short seeded mutation pass over the corpora follows, so CI also sees inputs that
//! are not in the repository.

use calamari::fuzz_targets::TARGETS;
use rand::{rngs::StdRng, Rng, SeedableRng};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files of a directory, sorted; `None` when it does not exist.
fn files(dir: &Path) -> Option<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir).ok()?.map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect();
    v.sort();
    Some(v)
}

/// Runs `target` on every input, collecting failures as "what: panic message".
fn run_all(target: fn(&[u8]), inputs: impl IntoIterator<Item = (String, Vec<u8>)>) -> (usize, Vec<String>) {
    let (mut n, mut failures) = (0, vec![]);
    for (what, bytes) in inputs {
        n += 1;
        if let Err(e) = catch_unwind(AssertUnwindSafe(|| target(&bytes))) {
            let msg = e.downcast_ref::<String>().cloned().or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default();
            failures.push(format!("{what}: {msg}"));
        }
    }
    (n, failures)
}

fn corpus_inputs(name: &str) -> Vec<(String, Vec<u8>)> {
    let corpus = fuzz_dir().join("corpus").join(name);
    let mut paths = files(&corpus).unwrap_or_else(|| panic!("corpus {} is missing", corpus.display()));
    assert!(!paths.is_empty(), "corpus {} is empty", corpus.display());
    paths.extend(files(&fuzz_dir().join("regressions").join(name)).unwrap_or_default());
    paths.into_iter().map(|p| (p.display().to_string(), std::fs::read(&p).unwrap())).collect()
}

#[test]
fn every_corpus_file_keeps_its_target_properties() {
    let mut report = vec![];
    for (name, target) in TARGETS {
        let (n, failures) = run_all(target, corpus_inputs(name));
        eprintln!("{name}: {n} inputs replayed");
        report.extend(failures);
    }
    assert!(report.is_empty(), "{} corpus inputs broke a property:\n{}", report.len(), report.join("\n"));
}

#[test]
fn every_target_has_a_fuzz_target_file() {
    for (name, _) in TARGETS {
        let file = fuzz_dir().join("fuzz_targets").join(format!("{name}.rs"));
        let text = std::fs::read_to_string(&file).unwrap_or_else(|_| panic!("{} is missing", file.display()));
        assert!(text.contains(&format!("fuzz_targets::{name}(")), "{} does not call its target", file.display());
    }
}

/// A small mutation pass: each corpus file mutated a few times (byte flips, insertions,
/// deletions, splices with another file), with a fixed seed so that a failure reproduces.
#[test]
fn mutated_corpus_inputs_keep_the_properties() {
    let seed = std::env::var("FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20261127u64);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut report = vec![];
    for (name, target) in TARGETS {
        let inputs = corpus_inputs(name);
        let mut mutated = vec![];
        for round in 0..4000 {
            let (_, base) = &inputs[rng.gen_range(0..inputs.len())];
            let mut b = base.clone();
            for _ in 0..rng.gen_range(1..4) {
                let at = rng.gen_range(0..=b.len());
                match rng.gen_range(0..4) {
                    0 if at < b.len() => b[at] ^= 1 << rng.gen_range(0..8),
                    1 => b.insert(at, *b"&=.0{}\"%,\n9".get(rng.gen_range(0..12)).unwrap_or(&0xff)),
                    2 if at < b.len() => drop(b.remove(at)),
                    _ => {
                        let (_, other) = &inputs[rng.gen_range(0..inputs.len())];
                        let from = rng.gen_range(0..=other.len());
                        b.splice(at..at, other[from..].iter().take(16).copied());
                    }
                }
            }
            mutated.push((format!("{name} seed {seed} round {round} input {:?}", String::from_utf8_lossy(&b)), b));
        }
        let (_, failures) = run_all(target, mutated);
        report.extend(failures);
    }
    assert!(report.is_empty(), "{} mutated inputs broke a property:\n{}", report.len(), report.join("\n"));
}
