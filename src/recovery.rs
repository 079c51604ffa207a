//! Rebuilding the exchange from a command log: the one replay used by the server at start-up,
//! by `calamari replay` (an offline check of a data directory, no server involved) and by the
//! storage fault simulation. Keeping it in one place is what makes "the live state equals a
//! replay of what was persisted" a comparison of two runs of the same function over the same
//! records, rather than of two implementations.

use crate::engine::markets::Markets;
use crate::engine::{Envelope, Exchange};
use crate::storage::CommandLog;
use std::collections::HashMap;
use std::path::Path;

/// The state a log replays to.
pub struct Recovered {
    pub exchange: Exchange,
    /// The highest nonce each key used in a logged command.
    pub nonces: HashMap<i64, u64>,
    /// How many records were replayed.
    pub records: u64,
}

/// Replays every record of `log`, in order, into a fresh exchange. A record that does not parse or
/// no longer applies stops the replay with an error naming its sequence number.
pub fn replay(log: &mut dyn CommandLog, markets: Markets, id_seed: u64) -> Result<Recovered, String> {
    let mut exchange = Exchange::new(markets, id_seed);
    let mut nonces: HashMap<i64, u64> = HashMap::new();
    let mut records = 0u64;
    log.replay(&mut |seq, bytes| {
        let env: Envelope = serde_json::from_slice(bytes).map_err(|e| format!("record {seq}: {e}"))?;
        if let Some((k, n)) = env.key_nonce {
            let e = nonces.entry(k).or_default();
            *e = (*e).max(n);
        }
        exchange.apply(&env).map_err(|e| format!("record {seq} no longer applies: {e}"))?;
        records += 1;
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    Ok(Recovered { exchange, nonces, records })
}

/// What `calamari replay` reports about a data directory.
pub struct ReplayReport {
    pub records: u64,
    pub digest: String,
    /// `Err` names the first broken invariant.
    pub invariants: Result<(), String>,
    pub orders: usize,
    pub ledger_entries: usize,
}

/// Opens a data directory's store, replays its log with the markets of `config` and checks the
/// result. Reads only the log and the id seed; safe beside a running server (SQLite WAL readers).
/// With `at`, the replayed state is then brought to that engine time: the funding transitions and
/// timers due by then are applied (one `Tick`), as a running server applies them as its clock passes.
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
    let mut r = replay(log.as_mut(), markets, seed)?;
    if let Some(t) = at.filter(|t| r.exchange.due(*t)) {
        let tick = Envelope { time_ns: t, key_nonce: None, command: crate::engine::Command::Tick };
        r.exchange.apply(&tick).map_err(|e| format!("tick at {t}: {e}"))?;
    }
    Ok(ReplayReport {
        records: r.records,
        digest: r.exchange.digest(),
        invariants: r.exchange.check_invariants(),
        orders: r.exchange.orders.len(),
        ledger_entries: r.exchange.ledger.len(),
    })
}
