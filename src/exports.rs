//! Kraken's data exports (AddExport, ExportStatus, RetrieveExport, RemoveExport): a zip holding
//! one CSV of the account's trades or ledger entries, with Kraken's column names, built in the
//! background and kept in the data directory's `exports/` folder.
//!
//! Consistency without stalling the engine: AddExport records a snapshot, the engine's next
//! trade and ledger sequence numbers at that moment (both histories are append-only, so "entries
//! with a sequence number below the snapshot" is a fixed set forever). The builder then reads the
//! rows in chunks of [`CHUNK`] from the history tables (`storage::history_read`), each chunk
//! rendered with the engine's ids and markets in a short read between commands.
//!
//! Crash safety: a report's metadata (`<ID>.json`) is written durably (temporary file, fsync,
//! rename, fsync of the folder) before AddExport answers; the zip is written to a temporary file
//! and renamed into place only when complete, so RetrieveExport never serves half a file. At
//! start-up every report not yet `Processed` is built again from its recorded snapshot, which
//! gives exactly the rows it would have had.

use crate::api::views;
use crate::engine::account::{LedgerEntry, TradeRecord};
use crate::engine::ids::IdKind;
use crate::engine::Exchange;
use crate::error::KrakenError;
use crate::money::format_units;
use crate::sequencer::Sequencer;
use crate::storage::history_read::HistoryReader;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Rows read per trip through the engine's queue.
pub const CHUNK: usize = 2000;
/// Kraken keeps a report for 14 days (`expiretm`).
const KEEP_SECS: u64 = 14 * 86_400;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Report {
    pub id: String,
    pub account: u32,
    /// `trades` or `ledgers`.
    pub report: String,
    pub descr: String,
    /// `CSV` or `TSV`.
    pub format: String,
    pub fields: String,
    pub asset: String,
    pub starttm: u64,
    pub endtm: u64,
    pub createdtm: u64,
    pub completedtm: u64,
    /// `Queued`, `Processing` or `Processed`.
    pub status: String,
    /// The engine's trade and ledger counts when the report was asked for.
    pub snapshot_trades: u64,
    pub snapshot_ledger: u64,
}

/// The reports of one data directory.
pub struct Exports {
    dir: PathBuf,
    reports: Mutex<BTreeMap<String, Report>>,
}

fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, dir.join(name))?;
    std::fs::File::open(dir)?.sync_all()
}

impl Exports {
    /// Opens `<data dir>/exports`, dropping temporary files a crash left behind.
    pub fn open(data_dir: &Path) -> Result<Exports, String> {
        let dir = data_dir.join("exports");
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut reports = BTreeMap::new();
        for entry in std::fs::read_dir(&dir).map_err(|e| e.to_string())?.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if name.ends_with(".tmp") {
                let _ = std::fs::remove_file(entry.path());
            } else if let Some(id) = name.strip_suffix(".json") {
                let text = std::fs::read_to_string(entry.path()).map_err(|e| e.to_string())?;
                let r: Report = serde_json::from_str(&text).map_err(|e| format!("{name}: {e}"))?;
                reports.insert(id.to_string(), r);
            }
        }
        Ok(Exports { dir, reports: Mutex::new(reports) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Report>> {
        self.reports.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn save(&self, r: &Report) -> Result<(), KrakenError> {
        let text = serde_json::to_vec(r).map_err(|_| KrakenError::InternalError)?;
        write_atomic(&self.dir, &format!("{}.json", r.id), &text).map_err(|_| KrakenError::InternalError)?;
        self.lock().insert(r.id.clone(), r.clone());
        Ok(())
    }

    /// A fresh id: four capital letters, as Kraken's (`TCJA`).
    pub fn new_id(&self) -> String {
        let reports = self.lock();
        loop {
            let id: String = (0..4).map(|_| (b'A' + rand::random::<u8>() % 26) as char).collect();
            if !reports.contains_key(&id) {
                return id;
            }
        }
    }

    /// Records a new report durably, then builds it in the background.
    pub fn add(self: &Arc<Self>, r: Report, seq: Sequencer, history: Arc<HistoryReader>) -> Result<(), KrakenError> {
        self.save(&r)?;
        self.spawn_build(r.id.clone(), seq, history);
        Ok(())
    }

    /// Builds again every report a stop interrupted (start-up).
    pub fn resume(self: &Arc<Self>, seq: &Sequencer, history: &Arc<HistoryReader>) {
        let pending: Vec<String> = self.lock().values().filter(|r| r.status != "Processed").map(|r| r.id.clone()).collect();
        for id in pending {
            self.spawn_build(id, seq.clone(), history.clone());
        }
    }

    fn spawn_build(self: &Arc<Self>, id: String, seq: Sequencer, history: Arc<HistoryReader>) {
        let me = self.clone();
        tokio::spawn(async move {
            if let Err(e) = me.build(&id, &seq, &history).await {
                tracing::warn!(report = %id, error = %e, "export not built (retried at the next start)");
            }
        });
    }

    async fn build(&self, id: &str, seq: &Sequencer, history: &Arc<HistoryReader>) -> Result<(), KrakenError> {
        let Some(mut r) = self.get(id) else { return Ok(()) };
        r.status = "Processing".into();
        self.save(&r)?;
        let sep = if r.format == "TSV" { b'\t' } else { b',' };
        let mut csv = csv::WriterBuilder::new().delimiter(sep).quote_style(csv::QuoteStyle::NonNumeric).from_writer(Vec::new());
        let header: &[&str] = if r.report == "trades" { &TRADE_COLUMNS } else { &LEDGER_COLUMNS };
        csv.write_record(header).map_err(|_| KrakenError::InternalError)?;
        let mut from = 0u64;
        loop {
            let (spec, h) = (r.clone(), history.clone());
            let chunk = tokio::task::spawn_blocking(move || chunk(&h, &spec, from))
                .await
                .map_err(|_| KrakenError::InternalError)?
                .map_err(|e| {
                    tracing::error!(error = %e, "history read failed");
                    KrakenError::InternalError
                })?;
            let spec = r.clone();
            let (rows, next) = seq.read(move |ex| rows_chunk(ex, &spec, chunk)).await?;
            for row in rows {
                csv.write_record(&row).map_err(|_| KrakenError::InternalError)?;
            }
            match next {
                Some(n) => from = n,
                None => break,
            }
            if self.get(id).is_none() {
                return Ok(()); // canceled meanwhile
            }
        }
        let text = csv.into_inner().map_err(|_| KrakenError::InternalError)?;
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        let name = format!("{}.{}", r.report, r.format.to_ascii_lowercase());
        zip.start_file(name, opts).map_err(|_| KrakenError::InternalError)?;
        zip.write_all(&text).map_err(|_| KrakenError::InternalError)?;
        let bytes = zip.finish().map_err(|_| KrakenError::InternalError)?.into_inner();
        if self.get(id).is_none() {
            return Ok(());
        }
        write_atomic(&self.dir, &format!("{id}.zip"), &bytes).map_err(|_| KrakenError::InternalError)?;
        r.status = "Processed".into();
        r.completedtm = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        self.save(&r)
    }

    pub fn get(&self, id: &str) -> Option<Report> {
        self.lock().get(id).cloned()
    }

    /// The account's reports of one kind, oldest first.
    pub fn list(&self, account: u32, report: &str) -> Vec<Report> {
        self.lock().values().filter(|r| r.account == account && r.report == report).cloned().collect()
    }

    /// The finished zip of a report.
    pub fn file(&self, id: &str) -> Option<Vec<u8>> {
        std::fs::read(self.dir.join(format!("{id}.zip"))).ok()
    }

    /// Forgets a report and deletes its files.
    pub fn remove(&self, id: &str) -> Result<(), KrakenError> {
        self.lock().remove(id);
        for name in [format!("{id}.zip"), format!("{id}.json")] {
            match std::fs::remove_file(self.dir.join(name)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(_) => return Err(KrakenError::InternalError),
            }
        }
        let _ = std::fs::File::open(&self.dir).and_then(|d| d.sync_all());
        Ok(())
    }

    pub fn expiretm(r: &Report) -> u64 {
        r.createdtm + KEEP_SECS
    }
}

/// Kraken's ledgers.csv columns.
pub const LEDGER_COLUMNS: [&str; 11] =
    ["txid", "refid", "time", "type", "subtype", "aclass", "asset", "wallet", "amount", "fee", "balance"];
/// Kraken's trades.csv columns.
pub const TRADE_COLUMNS: [&str; 13] =
    ["txid", "ordertxid", "pair", "time", "type", "ordertype", "price", "cost", "fee", "vol", "margin", "misc", "ledgers"];

/// `YYYY-MM-DD hh:mm:ss` (UTC), with `.ffff` when `frac` (trades), as Kraken's CSVs print time.
pub fn csv_time(time_ns: u64, frac: bool) -> String {
    let secs = time_ns / 1_000_000_000;
    let rem = secs % 86_400;
    let (y, m, d) = crate::calendar::civil_from_days((secs / 86_400) as i64);
    let base = format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60);
    if frac {
        format!("{base}.{:04}", (time_ns % 1_000_000_000) / 100_000)
    } else {
        base
    }
}

/// One chunk of the report's records, read from the history tables.
enum Chunk {
    Trades(Vec<TradeRecord>),
    Ledger(Vec<LedgerEntry>),
}

/// Up to [`CHUNK`] of the account's records of the report's kind from sequence `from`, below
/// the report's snapshot.
fn chunk(h: &HistoryReader, r: &Report, from: u64) -> Result<Chunk, crate::storage::StorageError> {
    Ok(if r.report == "trades" {
        Chunk::Trades(h.trades_from(r.account, from, r.snapshot_trades, CHUNK)?)
    } else {
        Chunk::Ledger(h.ledger_from(r.account, from, r.snapshot_ledger, CHUNK)?)
    })
}

/// The rows of one chunk (those in the report's time window and asset), and the sequence the
/// next chunk starts from (none when done).
fn rows_chunk(ex: &Exchange, r: &Report, chunk: Chunk) -> (Vec<Vec<String>>, Option<u64>) {
    let (start, end) = (r.starttm.saturating_mul(1_000_000_000), r.endtm.saturating_mul(1_000_000_000).saturating_add(999_999_999));
    let mut rows = Vec::new();
    let (n, last) = match &chunk {
        Chunk::Trades(v) => (v.len(), v.last().map(|t| t.seq)),
        Chunk::Ledger(v) => (v.len(), v.last().map(|e| e.seq)),
    };
    match chunk {
        Chunk::Trades(list) => {
            for t in &list {
                if t.time_ns < start || t.time_ns > end {
                    continue;
                }
                let v = views::trade(ex, t, true);
                let s = |k: &str| v[k].as_str().unwrap_or("").to_string();
                let ledgers: Vec<String> = t.ledgers.iter().map(|l| ex.ids.encode(IdKind::Ledger, *l)).collect();
                rows.push(vec![
                    ex.ids.encode(IdKind::Trade, t.seq),
                    s("ordertxid"),
                    s("pair"),
                    csv_time(t.time_ns, true),
                    s("type"),
                    s("ordertype"),
                    s("price"),
                    s("cost"),
                    s("fee"),
                    s("vol"),
                    s("margin"),
                    s("misc"),
                    ledgers.join(","),
                ]);
            }
        }
        Chunk::Ledger(list) => {
            for e in &list {
                let a = ex.markets.asset(e.asset);
                if e.time_ns < start || e.time_ns > end || (r.asset != "all" && r.asset != a.id) {
                    continue;
                }
                rows.push(vec![
                    ex.ids.encode(IdKind::Ledger, e.seq),
                    views::refid(ex, e.refid),
                    csv_time(e.time_ns, false),
                    e.kind.as_str().to_string(),
                    String::new(),
                    "currency".into(),
                    a.id.clone(),
                    "spot / main".into(),
                    format_units(e.amount, a.decimals),
                    format_units(e.fee, a.decimals),
                    format_units(e.balance, a.decimals),
                ]);
            }
        }
    }
    (rows, last.filter(|_| n == CHUNK).map(|s| s + 1))
}

#[cfg(test)]
mod tests {
    #[test]
    fn csv_time_is_utc_calendar_time() {
        assert_eq!(super::csv_time(0, false), "1970-01-01 00:00:00");
        assert_eq!(super::csv_time(1_710_877_411_679_800_000, true), "2024-03-19 19:43:31.6798");
        assert_eq!(super::csv_time(951_782_400_000_000_000, false), "2000-02-29 00:00:00");
    }
}
