//! Engine checkpoints against random command streams, with no server in the way: the engine
//! property tests' streams (orders of every kind, amends, batches, funding, market states,
//! timers) are logged to a real SQLite command log, checkpoints are built at random points from
//! that log, and then the newest checkpoint plus the log after it must give exactly the state
//! of the whole log's replay and of the live engine (same `Exchange::digest`, same nonces).
//! The encoding itself must lose nothing: decode(encode(state)) has the state's digest at every
//! checkpoint.

mod engine_model;
use calamari::recovery::{self, checkpoint};
use calamari::storage::CommandLog;
use engine_model::ops::*;
use engine_model::sim::*;
use engine_model::*;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

const SEED: u64 = 11;

/// Appends the accepted envelopes of `sim.all[from..]` (with key+nonce pairs made up per
/// record, so nonces are carried too) and returns the new `from`.
fn flush(sim: &Sim, log: &mut dyn CommandLog, from: usize) -> usize {
    let records: Vec<Vec<u8>> = sim.all[from..]
        .iter()
        .enumerate()
        .filter(|(_, (_, ok))| *ok)
        .map(|(i, (env, _))| {
            let mut env = env.clone();
            env.key_nonce = Some(((from + i) as i64 % 3, (from + i) as u64 * 7));
            serde_json::to_vec(&env).unwrap()
        })
        .collect();
    log.append(&records).unwrap();
    sim.all.len()
}

#[test]
fn checkpoint_plus_tail_equals_the_whole_replay_on_random_streams() {
    let mut runner = TestRunner::deterministic();
    let cases: usize = std::env::var("CHECKPOINT_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(12);
    let (mut checkpoints, mut tails) = (0, 0u64);
    for case in 0..cases {
        let ops = prop::collection::vec((mixed_op(), dt()), 240).new_tree(&mut runner).unwrap().current();
        let cuts: Vec<usize> = prop::collection::vec(0usize..240, 1..4).new_tree(&mut runner).unwrap().current();
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _keys) = calamari::storage::open_sqlite(dir.path()).unwrap();
        let mut sim = Sim::new(SEED, 4, [200_000 * 10_000, 5 * 10_000_000_000, 60 * 10_000_000_000]);
        let mut flushed = 0;
        for (i, (op, dt)) in ops.iter().enumerate() {
            sim.advance(*dt);
            sim.tick_if_due();
            let cmd = command(&sim.ex, &sim.users, op);
            let _ = sim.apply(cmd);
            if cuts.contains(&i) {
                flushed = flush(&sim, log.as_mut(), flushed);
                let w = checkpoint::build(dir.path(), markets(), SEED, 2).unwrap();
                if let Some(w) = w {
                    assert_eq!(w.digest, sim.ex.digest(), "case {case}: the checkpoint at op {i} is not the live state");
                    let (_, decoded) = checkpoint::load(&w.path, log.as_mut(), &markets()).unwrap();
                    assert_eq!(decoded.exchange.digest(), w.digest, "case {case}: decode(encode(state)) differs");
                    assert_eq!(decoded.exchange.check_invariants(), Ok(()));
                    checkpoints += 1;
                }
            }
        }
        flush(&sim, log.as_mut(), flushed);
        let full = recovery::replay(log.as_mut(), markets(), SEED).unwrap();
        let from_checkpoint = checkpoint::recover(log.as_mut(), markets(), SEED, dir.path()).unwrap();
        assert!(from_checkpoint.checkpoint.is_some(), "case {case}: no checkpoint was used");
        tails += from_checkpoint.records;
        assert_eq!(full.exchange.digest(), sim.ex.digest(), "case {case}: whole replay differs from the live engine");
        assert_eq!(
            from_checkpoint.exchange.digest(),
            full.exchange.digest(),
            "case {case}: checkpoint + tail differs from the whole replay"
        );
        let sorted =
            |n: &std::collections::HashMap<i64, u64>| n.iter().map(|(k, v)| (*k, *v)).collect::<std::collections::BTreeMap<_, _>>();
        assert_eq!(sorted(&from_checkpoint.nonces), sorted(&full.nonces), "case {case}: nonces differ");
        assert!(!full.nonces.is_empty());
        // The same again after the log goes on: the newer state.
        let mut cont = from_checkpoint;
        assert_eq!(recovery::replay_tail(log.as_mut(), full.records, &mut cont).unwrap(), full.records);
    }
    eprintln!("checkpoint_stream: {cases} streams, {checkpoints} checkpoints, {tails} tail records replayed, all digests equal");
    assert!(checkpoints >= cases, "too few checkpoints to mean anything: {checkpoints}");
}

#[test]
fn a_checkpoint_of_another_configuration_or_log_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _keys) = calamari::storage::open_sqlite(dir.path()).unwrap();
    let mut sim = Sim::new(SEED, 2, [1_000_000, 1_000_000, 1_000_000]);
    sim.advance(1);
    flush(&sim, log.as_mut(), 0);
    let w = checkpoint::build(dir.path(), markets(), SEED, 2).unwrap().expect("a checkpoint");
    checkpoint::load(&w.path, log.as_mut(), &markets()).unwrap();
    let mut other = config();
    other.pairs[0].tick_size = "0.5".into();
    let other = calamari::engine::markets::Markets::from_config(&other).unwrap();
    let e = checkpoint::load(&w.path, log.as_mut(), &other).err().unwrap();
    assert!(e.contains("other markets"), "{e}");
    // A checkpoint of another engine build (its state's form or its rules, the history fold's
    // among them, may differ) is refused before its payload is read.
    let bytes = std::fs::read(&w.path).unwrap();
    let fingerprint = calamari::storage::checkpoint::engine_fingerprint();
    let other_build = "0".repeat(fingerprint.len() - 1) + if fingerprint.ends_with('0') { "1" } else { "0" };
    let text = String::from_utf8_lossy(&bytes[..bytes.iter().position(|b| *b == b'\n').unwrap()]).into_owned();
    let relabeled = text.replace(&format!("\"engine\":\"{fingerprint}\""), &format!("\"engine\":\"{other_build}\""));
    assert_ne!(relabeled, text, "the header names the build");
    let other_path = w.path.with_extension("other-build");
    std::fs::write(&other_path, [relabeled.as_bytes(), &bytes[text.len()..]].concat()).unwrap();
    let e = checkpoint::load(&other_path, log.as_mut(), &markets()).err().unwrap();
    assert!(e.contains("another engine build"), "{e}");
    // A checkpoint of the format version before (9: trade records and ledger entries in one
    // chain each) is refused by its version, whatever its build.
    let version = calamari::storage::checkpoint::VERSION;
    assert_eq!(version, 10);
    let older = text.replace(&format!("\"version\":{version},"), &format!("\"version\":{},", version - 1));
    assert_ne!(older, text, "the header names the version");
    std::fs::write(&other_path, [older.as_bytes(), &bytes[text.len()..]].concat()).unwrap();
    let e = checkpoint::load(&other_path, log.as_mut(), &markets()).err().unwrap();
    assert!(e.contains("format version 9"), "{e}");
    std::fs::remove_file(&other_path).unwrap();
    // A replaced log (reset, restore) is a new generation: the old checkpoint no longer applies.
    let records: Vec<Vec<u8>> = sim.all.iter().filter(|(_, ok)| *ok).map(|(env, _)| serde_json::to_vec(env).unwrap()).collect();
    log.replace_all(&records).unwrap();
    let e = checkpoint::load(&w.path, log.as_mut(), &markets()).err().unwrap();
    assert!(e.contains("generation"), "{e}");
    let r = checkpoint::recover(log.as_mut(), markets(), SEED, dir.path()).unwrap();
    assert_eq!((r.checkpoint, r.exchange.digest()), (None, sim.ex.digest()), "the whole log, replayed");
}
