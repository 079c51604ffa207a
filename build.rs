//! Build script: a fingerprint of the engine's source (`src/engine/**`), compiled in as
//! `CALAMARI_ENGINE_FINGERPRINT`. An engine checkpoint (src/recovery/checkpoint.rs) is a cache of
//! "replay the command log with this engine"; one written by a build whose engine differs (its
//! state types or its rules) is refused and the log replayed instead.

use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn main() {
    let root = Path::new("src/engine");
    println!("cargo:rerun-if-changed=src/engine");
    let mut all = Vec::new();
    files(root, &mut all);
    all.sort();
    // FNV-1a, 64 bits: stable across toolchains (std's hasher is not promised to be).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in &all {
        println!("cargo:rerun-if-changed={}", p.display());
        let name = p.to_string_lossy().replace('\\', "/");
        for b in name.bytes().chain([0u8]).chain(std::fs::read(p).unwrap_or_default()).chain([0u8]) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    println!("cargo:rustc-env=CALAMARI_ENGINE_FINGERPRINT={h:016x}");
}
