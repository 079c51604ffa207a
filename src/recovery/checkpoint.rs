//! Engine checkpoints as a cache of replay: the state the log replays to up to record N, written
//! with N, so that a start loads it and replays only the records after N. A checkpoint is used
//! only when it is exactly what replaying the log to N would give with this build and this
//! configuration: same container version and engine build (`build.rs` fingerprint), same markets,
//! same log generation, record N still the record it was built after (SHA-256), checksum intact.
//! Anything else is refused with its reason in the log, and the next older checkpoint or the
//! whole log is used instead.
//!
//! Checkpoints are built from the durable log alone (see `checkpointer`): the newest checkpoint
//! plus the records after it, replayed on the checkpoint thread, so the engine thread never stops
//! for one and a checkpoint never holds a command that is not durable.

use super::{replay_tail, Recovered};
use crate::engine::markets::Markets;
use crate::engine::outbox::HistoryNext;
use crate::engine::Exchange;
use crate::storage::checkpoint::{self as file, Header};
use crate::storage::CommandLog;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Serialize)]
struct BodyRef<'a> {
    exchange: &'a Exchange,
    nonces: Vec<(i64, u64)>,
}

#[derive(Deserialize)]
struct Body {
    exchange: Exchange,
    nonces: Vec<(i64, u64)>,
}

/// SHA-256 of the markets (assets, pairs, fee schedules, the tape's bound; the name maps are derived from them
/// and, being hash maps, have no stable order): a checkpoint is refused under another configuration.
pub fn markets_hash(m: &Markets) -> String {
    let text = format!("{:?}\n{:?}\n{:?}\n{:?}\n{}\n{:?}", m.assets, m.pairs, m.taker_fees, m.maker_fees, m.fee_volume_asset, m.tape);
    file::sha256_hex(&[text.as_bytes()])
}

/// Checks one checkpoint file against the log and this build, and decodes it.
pub fn load(path: &Path, log: &mut dyn CommandLog, markets: &Markets) -> Result<(Header, Recovered), String> {
    let (header, payload) = check(path, log, markets)?;
    let mut body: Body = postcard::from_bytes(&payload).map_err(|e| format!("undecodable: {e}"))?;
    body.exchange.relink_queues();
    let r = Recovered {
        exchange: body.exchange,
        nonces: body.nonces.into_iter().collect(),
        records: 0,
        checkpoint: Some(header.seq),
        keep_history_from: None,
    };
    Ok((header, r))
}

/// Every check of [`load`] but the decoding: header, build, markets, log generation, record,
/// length and checksum. Returns the header and the payload.
pub fn check(path: &Path, log: &mut dyn CommandLog, markets: &Markets) -> Result<(Header, Vec<u8>), String> {
    let epoch = log.epoch().map_err(|e| e.to_string())?;
    let header = file::read_header(path)?;
    if header.engine != file::engine_fingerprint() {
        return Err(format!("written by another engine build ({}; this one is {})", header.engine, file::engine_fingerprint()));
    }
    if header.markets != markets_hash(markets) {
        return Err("written with other markets (the configuration changed)".into());
    }
    if header.epoch != epoch {
        return Err(format!("of log generation {} (the log was replaced since: now {epoch})", header.epoch));
    }
    let record = log.record(header.seq).map_err(|e| e.to_string())?.ok_or_else(|| format!("the log holds no record {}", header.seq))?;
    if file::sha256_hex(&[&record]) != header.record_sha256 {
        return Err(format!("record {} of the log is not the one it was built after", header.seq));
    }
    file::read(path)
}

/// The start-up replay: the newest usable checkpoint plus the log after it, else the whole log.
/// Every refused checkpoint is named in the server's log with its reason.
pub fn recover(log: &mut dyn CommandLog, markets: Markets, seed: u64, data_dir: &Path) -> Result<Recovered, String> {
    recover_as(log, markets, seed, data_dir, true)
}

/// [`recover`] for the server's start: the replay keeps in the outbox only the history records
/// `history` lacks (`HistoryDb::next_seqs`), so a start does not hold the whole history in
/// memory; and a checkpoint beyond the history's `history_upto` (rows a crash or power cut took
/// since) is not used, so the replay after the one used re-emits every missing row. (A pruned
/// log cannot be replayed whole: there the newest usable checkpoint is taken regardless, and the
/// rows of records before it that are missing stay missing, with a warning.)
pub fn recover_at_start(
    log: &mut dyn CommandLog,
    markets: Markets,
    seed: u64,
    data_dir: &Path,
    history: &crate::storage::history_db::HistoryDb,
) -> Result<Recovered, String> {
    let keep = history.next_seqs().map_err(|e| e.to_string())?;
    let upto = history.upto().map_err(|e| e.to_string())?;
    let pruned = log.bounds().map_err(|e| e.to_string())?.is_some_and(|(first, _)| first > 1);
    let r = recover_keeping(log, markets, seed, data_dir, (true, (!pruned).then_some(upto)), Some(keep))?;
    if r.checkpoint.is_some_and(|c| c > upto) {
        tracing::warn!(
            checkpoint = r.checkpoint,
            history_upto = upto,
            "the log is pruned and history rows before the checkpoint are missing"
        );
    }
    Ok(r)
}

/// [`recover`]; `startup` says whether the "state restored from …" line is the server's start
/// (the checkpoint thread's builds log theirs at debug, so the start's line is the only one).
fn recover_as(log: &mut dyn CommandLog, markets: Markets, seed: u64, data_dir: &Path, startup: bool) -> Result<Recovered, String> {
    recover_keeping(log, markets, seed, data_dir, (startup, None), None)
}

/// `at_most`: a checkpoint after this record is refused (the durable history's end).
fn recover_keeping(
    log: &mut dyn CommandLog,
    markets: Markets,
    seed: u64,
    data_dir: &Path,
    (startup, at_most): (bool, Option<u64>),
    keep: Option<crate::engine::outbox::HistoryNext>,
) -> Result<Recovered, String> {
    let epoch = log.epoch().map_err(|e| e.to_string())?;
    for entry in file::list(&file::dir(data_dir), epoch) {
        let name = entry.path.display().to_string();
        if let Some(upto) = at_most.filter(|upto| entry.seq > *upto) {
            tracing::warn!(checkpoint = %name, seq = entry.seq, history_upto = upto,
                "engine checkpoint beyond the durable history rows; trying the previous one, else the whole log");
            continue;
        }
        let started = Instant::now();
        let loaded = load(&entry.path, log, &markets).and_then(|(h, mut r)| {
            let load_ms = started.elapsed().as_millis() as u64;
            let started = Instant::now();
            r.keep_history_from = keep;
            replay_tail(log, h.seq, &mut r).map_err(|e| format!("the log after it does not apply: {e}"))?;
            let tail_ms = started.elapsed().as_millis() as u64;
            if startup {
                tracing::info!(checkpoint = %name, seq = h.seq, load_ms, tail = r.records, tail_ms,
                    "state restored from an engine checkpoint and the log after it");
            } else {
                tracing::debug!(checkpoint = %name, seq = h.seq, load_ms, tail = r.records, tail_ms, "checkpoint build: from the previous checkpoint");
            }
            Ok(r)
        });
        match loaded {
            Ok(r) => return Ok(r),
            Err(reason) => {
                tracing::warn!(checkpoint = %name, %reason, "engine checkpoint refused; trying the previous one, else the whole log")
            }
        }
    }
    let r = super::replay_keeping(log, markets, seed, keep)?;
    if startup {
        tracing::info!(replayed = r.records, "state restored from the whole command log (no usable engine checkpoint)");
    }
    Ok(r)
}

/// A checkpoint just written.
#[derive(Clone, Debug, Serialize)]
pub struct Written {
    pub path: PathBuf,
    pub seq: u64,
    pub bytes: u64,
    pub digest: String,
    /// Loading the previous checkpoint and replaying the records after it.
    pub replay_ms: u64,
    pub encode_ms: u64,
    pub digest_ms: u64,
    pub write_ms: u64,
    /// Older checkpoints removed (all but the newest `keep`).
    pub removed: usize,
}

/// Writes `r` (the state after record `seq` of log generation `epoch`, whose bytes hash to
/// `record_sha256`) and keeps the newest `keep` checkpoints.
pub fn write(data_dir: &Path, r: &Recovered, seq: u64, epoch: u64, record_sha256: String, keep: usize) -> Result<Written, String> {
    let t = Instant::now();
    let mut nonces: Vec<(i64, u64)> = r.nonces.iter().map(|(k, v)| (*k, *v)).collect();
    nonces.sort_unstable();
    let payload = postcard::to_allocvec(&BodyRef { exchange: &r.exchange, nonces }).map_err(|e| e.to_string())?;
    let encode_ms = t.elapsed().as_millis() as u64;
    let t = Instant::now();
    let digest = r.exchange.digest();
    let digest_ms = t.elapsed().as_millis() as u64;
    let header = Header {
        format: file::FORMAT.into(),
        version: file::VERSION,
        engine: file::engine_fingerprint().into(),
        markets: markets_hash(&r.exchange.markets),
        epoch,
        seq,
        record_sha256,
        digest: digest.clone(),
        created: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        payload_bytes: payload.len() as u64,
    };
    let t = Instant::now();
    let dir = file::dir(data_dir);
    let (path, bytes) = file::write(&dir, &header, &payload)?;
    let write_ms = t.elapsed().as_millis() as u64;
    let removed = file::retain(&dir, epoch, keep.max(1)).len();
    Ok(Written { path, seq, bytes, digest, replay_ms: 0, encode_ms, digest_ms, write_ms, removed })
}

/// Builds a checkpoint of a data directory's durable log from its newest usable checkpoint and
/// the records after it (or the whole log), reading through its own connection: nothing of the
/// running engine is touched. `None` when the newest checkpoint already covers the last record.
pub fn build(data_dir: &Path, markets: Markets, seed: u64, keep: usize) -> Result<Option<Written>, String> {
    let mut log = crate::storage::sqlite::SqliteLog::open_reader(data_dir).map_err(|e| e.to_string())?;
    log.cap_at_history(data_dir).map_err(|e| e.to_string())?;
    let t = Instant::now();
    let epoch = log.epoch().map_err(|e| e.to_string())?;
    // The build writes no history: its replay keeps none of what it re-emits (keeping it held a
    // day's trade records, ledger entries and closed orders in memory at 10x the market's rate).
    let r = recover_keeping(&mut log, markets, seed, data_dir, (false, None), Some(HistoryNext::NOTHING))?;
    let Some((_, last)) = log.bounds().map_err(|e| e.to_string())? else { return Ok(None) };
    let seq = r.checkpoint.unwrap_or(0) + r.records;
    if r.records == 0 || seq > last || log.epoch().map_err(|e| e.to_string())? != epoch {
        return Ok(None); // nothing new, or the log was replaced meanwhile
    }
    let record = log.record(seq).map_err(|e| e.to_string())?.ok_or_else(|| format!("record {seq} vanished"))?;
    let replay_ms = t.elapsed().as_millis() as u64;
    let mut w = write(data_dir, &r, seq, epoch, file::sha256_hex(&[&record]), keep)?;
    w.replay_ms = replay_ms;
    Ok(Some(w))
}

/// `calamari replay`'s check: the newest usable checkpoint plus the log after it against the
/// replay of the whole log, by digest. `None` when there is no usable checkpoint.
pub fn verify(data_dir: &Path, log: &mut dyn CommandLog, markets: Markets, full: &Exchange) -> Result<Option<Value>, String> {
    let epoch = log.epoch().map_err(|e| e.to_string())?;
    let mut refused = Vec::new();
    for entry in file::list(&file::dir(data_dir), epoch) {
        match load(&entry.path, log, &markets) {
            Ok((h, mut r)) => {
                r.keep_history_from = Some(HistoryNext::NOTHING);
                replay_tail(log, h.seq, &mut r)?;
                let digest = r.exchange.digest();
                let whole = full.digest();
                return Ok(Some(serde_json::json!({
                    "path": entry.path, "seq": h.seq, "tail": r.records, "checkpoint_digest": h.digest,
                    "digest": digest, "full_replay_digest": whole, "equal": digest == whole, "refused": refused,
                })));
            }
            Err(reason) => refused.push(serde_json::json!({ "path": entry.path, "reason": reason })),
        }
    }
    Ok(if refused.is_empty() { None } else { Some(serde_json::json!({ "equal": Value::Null, "refused": refused })) })
}
