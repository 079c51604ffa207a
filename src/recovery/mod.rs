//! Rebuilding the exchange from a command log: the one replay used by the server at start-up,
//! by `calamari replay` (an offline check of a data directory, no server involved) and by the
//! storage fault simulation. Keeping it in one place is what makes "the live state equals a
//! replay of what was persisted" a comparison of two runs of the same function over the same
//! records, rather than of two implementations.

use crate::engine::markets::Markets;
use crate::engine::outbox::HistoryNext;
use crate::engine::{Envelope, Exchange};
use crate::storage::CommandLog;
use std::collections::HashMap;
use std::path::Path;

pub mod checkpoint;
pub mod checkpointer;

/// The state a log replays to.
pub struct Recovered {
    pub exchange: Exchange,
    /// The highest nonce each key used in a logged command.
    pub nonces: HashMap<i64, u64>,
    /// How many records were replayed (after the checkpoint, when one was loaded).
    pub records: u64,
    /// The engine checkpoint the replay started from (its last record), if any.
    pub checkpoint: Option<u64>,
    /// Re-emitted history kept in the exchange's outbox: only trade and ledger records from these
    /// sequences on (the server's start keeps what its history tables lack); `None` keeps all.
    pub keep_history_from: Option<HistoryNext>,
}

/// Replays every record of `log`, in order, into a fresh exchange. A record that does not parse or
/// no longer applies stops the replay with an error naming its sequence number.
pub fn replay(log: &mut dyn CommandLog, markets: Markets, id_seed: u64) -> Result<Recovered, String> {
    replay_keeping(log, markets, id_seed, None)
}

/// [`replay`], keeping only the history records from `keep` on (see [`Recovered`]).
pub fn replay_keeping(log: &mut dyn CommandLog, markets: Markets, id_seed: u64, keep: Option<HistoryNext>) -> Result<Recovered, String> {
    replay_until(log, markets, id_seed, None, keep)
}

/// [`replay_keeping`], leaving out the records stamped after engine time `until` (when given).
fn replay_until(
    log: &mut dyn CommandLog,
    markets: Markets,
    id_seed: u64,
    until: Option<u64>,
    keep: Option<HistoryNext>,
) -> Result<Recovered, String> {
    let mut r = Recovered {
        exchange: Exchange::new(markets, id_seed),
        nonces: HashMap::new(),
        records: 0,
        checkpoint: None,
        keep_history_from: keep,
    };
    replay_tail_until(log, 0, &mut r, until)?;
    Ok(r)
}

/// Applies the records after `after` to `r` (a fresh state, or a checkpoint's at `after`),
/// counting them and raising the keys' nonces; returns the last record's sequence number.
pub fn replay_tail(log: &mut dyn CommandLog, after: u64, r: &mut Recovered) -> Result<u64, String> {
    replay_tail_until(log, after, r, None)
}

/// [`replay_tail`], leaving out the records stamped after engine time `until` (when given). The
/// log's times never decrease, so those are the log's last records.
fn replay_tail_until(log: &mut dyn CommandLog, after: u64, r: &mut Recovered, until: Option<u64>) -> Result<u64, String> {
    let mut last = after;
    let Recovered { exchange, nonces, records, keep_history_from, .. } = r;
    let keep = *keep_history_from;
    log.replay_after(after, &mut |seq, bytes| {
        let env: Envelope = serde_json::from_slice(bytes).map_err(|e| format!("record {seq}: {e}"))?;
        if until.is_some_and(|t| env.time_ns > t) {
            return Ok(());
        }
        if let Some((k, n)) = env.key_nonce {
            let e = nonces.entry(k).or_default();
            *e = (*e).max(n);
        }
        exchange.apply(&env).map_err(|e| format!("record {seq} no longer applies: {e}"))?;
        if let Some(k) = keep {
            // Sequences only grow: what is dropped is a prefix, and once nothing is, nothing is scanned.
            let out = &mut exchange.history_out;
            if out.trades.first().is_some_and(|t| t.seq < k.trades) {
                out.trades.retain(|t| t.seq >= k.trades);
            }
            if out.ledger.first().is_some_and(|e| e.seq < k.ledger) {
                out.ledger.retain(|e| e.seq >= k.ledger);
            }
            if out.closed_orders.first().is_some_and(|c| c.n < k.closed) {
                out.closed_orders.retain(|c| c.n >= k.closed);
            }
        }
        *records += 1;
        last = seq;
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    Ok(last)
}

/// What `calamari replay` reports about a data directory.
pub struct ReplayReport {
    pub records: u64,
    pub digest: String,
    /// `Err` names the first broken invariant.
    pub invariants: Result<(), String>,
    pub orders: usize,
    pub ledger_entries: usize,
    /// The newest usable engine checkpoint plus the log after it compared with the whole log's
    /// replay (`equal`), and the checkpoints refused with their reasons; `None` without any.
    pub checkpoint: Option<serde_json::Value>,
}

/// Opens a data directory's store, replays its log with the markets of `config` and checks the
/// result. Reads only the log and the id seed; safe beside a running server (SQLite WAL readers).
/// When the log was pruned, the replay starts from the newest usable engine checkpoint; otherwise
/// that checkpoint plus the log after it is compared with the whole replay, digest for digest.
/// With `at`, the replay is the state at that engine time (a live server's `now_ns`): records
/// stamped after it are left out (a running server may log a `Tick` between the moment its state
/// was read and this replay), and the funding transitions and timers due by then are applied (one
/// `Tick`), as a running server applies them as its clock passes. (From a pruned log's checkpoint
/// the whole tail is replayed.)
pub fn replay_data_dir(data_dir: &Path, config: &crate::config::Config, at: Option<u64>) -> Result<ReplayReport, String> {
    if !data_dir.join(crate::storage::sqlite::DB_FILE).exists() {
        return Err(format!("{}: no Calamari database here", data_dir.display()));
    }
    let (mut log, keys) = crate::storage::open_sqlite(data_dir).map_err(|e| e.to_string())?;
    let seed = keys
        .get_meta("id_seed")
        .map_err(|e| e.to_string())?
        .ok_or("the data directory has no id seed (never started)")?
        .parse::<u64>()
        .map_err(|e| e.to_string())?;
    let markets = Markets::from_config(config)?;
    let pruned = log.bounds().map_err(|e| e.to_string())?.is_some_and(|(first, _)| first > 1);
    let (mut r, checkpoint) = if pruned {
        let r = checkpoint::recover(log.as_mut(), markets, seed, data_dir)?;
        let note = serde_json::json!({ "seq": r.checkpoint, "tail": r.records, "equal": serde_json::Value::Null,
            "note": "the log was pruned before the checkpoint: no whole replay to compare with" });
        (r, Some(note))
    } else {
        // An offline check writes no history: the replay keeps none of it.
        let r = replay_until(log.as_mut(), markets.clone(), seed, at, Some(HistoryNext::NOTHING))?;
        let c = checkpoint::verify(data_dir, log.as_mut(), markets, &r.exchange)?;
        (r, c)
    };
    if let Some(t) = at.filter(|t| r.exchange.due(*t)) {
        let tick = Envelope { time_ns: t, key_nonce: None, command: crate::engine::Command::Tick };
        r.exchange.apply(&tick).map_err(|e| format!("tick at {t}: {e}"))?;
    }
    let mut invariants = r.exchange.check_invariants();
    if invariants.is_ok() && checkpoint.as_ref().is_some_and(|c| c["equal"] == false) {
        invariants = Err("the engine checkpoint plus the log after it differs from the whole log's replay".into());
    }
    Ok(ReplayReport {
        records: r.records,
        digest: r.exchange.digest(),
        invariants,
        orders: r.exchange.orders.next_seq() as usize,
        ledger_entries: r.exchange.history.next_ledger as usize,
        checkpoint,
    })
}
