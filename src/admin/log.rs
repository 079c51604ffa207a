//! The command log and its engine checkpoints, for the operator (`calamari log`): what the log
//! holds, how far history.db's rows are written (the history thread's busy and idle time), which
//! checkpoints exist, a checkpoint now, and pruning the records before the oldest
//! kept checkpoint (archived by default). Pruning happens only here, on an operator's request:
//! the server never removes a record on its own.

use super::{bad, reply, Shared};
use crate::storage::checkpoint as file;
use crate::storage::CommandLog;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::net::SocketAddr;

pub fn router() -> Router<Shared> {
    Router::new()
        .route("/admin/log", get(status))
        .route("/admin/log/checkpoint", post(checkpoint_now))
        .route("/admin/log/prune", post(prune))
}

fn reader(s: &Shared) -> Result<crate::storage::sqlite::SqliteLog, String> {
    crate::storage::sqlite::SqliteLog::open_reader(&s.data_dir).map_err(|e| e.to_string())
}

fn describe(s: &Shared) -> Result<Value, String> {
    let mut log = reader(s)?;
    let epoch = log.epoch().map_err(|e| e.to_string())?;
    let bounds = log.bounds().map_err(|e| e.to_string())?;
    let checkpoints: Vec<Value> = file::list(&file::dir(&s.data_dir), epoch)
        .into_iter()
        .map(|e| {
            let bytes = std::fs::metadata(&e.path).map(|m| m.len()).unwrap_or(0);
            let header = file::read_header(&e.path);
            json!({ "path": e.path, "epoch": e.epoch, "seq": e.seq, "bytes": bytes,
                    "digest": header.as_ref().ok().map(|h| h.digest.clone()), "problem": header.err() })
        })
        .collect();
    let c = &s.checkpoints.config;
    let st = &s.state.sequencer.stats;
    let secs = |ns: &std::sync::atomic::AtomicU64| ns.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1e9;
    let history = json!({
        "upto": st.history_upto.load(std::sync::atomic::Ordering::Relaxed),
        "lag_batches": st.history_mark.lag(),
        "busy_seconds": secs(&st.history_busy_ns),
        "idle_seconds": secs(&st.history_wait_ns),
    });
    Ok(json!({
        "epoch": epoch,
        "first": bounds.map(|b| b.0),
        "last": bounds.map(|b| b.1),
        "checkpoints": checkpoints,
        "checkpoint_every_commands": c.checkpoint_every_commands,
        "checkpoint_every_seconds": c.checkpoint_every_seconds,
        "checkpoints_kept": c.checkpoints_kept,
        "history": history,
    }))
}

async fn status(State(s): State<Shared>, ConnectInfo(peer): ConnectInfo<SocketAddr>, h: HeaderMap) -> Response {
    crate::admin_guard!(s, peer, h);
    match tokio::task::spawn_blocking(move || describe(&s)).await {
        Ok(Ok(v)) => reply(StatusCode::OK, v),
        Ok(Err(e)) => bad(e),
        Err(e) => bad(e),
    }
}

async fn checkpoint_now(State(s): State<Shared>, ConnectInfo(peer): ConnectInfo<SocketAddr>, h: HeaderMap) -> Response {
    crate::admin_guard!(s, peer, h);
    match tokio::task::spawn_blocking(move || s.checkpoints.checkpoint_now()).await {
        Ok(Ok(Some(w))) => reply(StatusCode::OK, json!({ "written": w })),
        Ok(Ok(None)) => reply(StatusCode::OK, json!({ "written": null, "note": "the newest checkpoint covers the whole log" })),
        Ok(Err(e)) => bad(format!("checkpoint failed: {e}")),
        Err(e) => bad(e),
    }
}

#[derive(Deserialize)]
pub struct Prune {
    /// Copy the records into `archive/` before removing them (default), or drop them.
    #[serde(default = "yes")]
    archive: bool,
}

fn yes() -> bool {
    true
}

/// Prunes before the oldest kept checkpoint that passes every check (so the previous checkpoint
/// stays usable if the newest is ever damaged).
fn prune_blocking(s: &Shared, archive: bool) -> Result<Value, String> {
    let mut log = reader(s)?;
    let epoch = log.epoch().map_err(|e| e.to_string())?;
    let markets = (*s.state.markets).clone();
    let mut usable = Vec::new();
    for e in file::list(&file::dir(&s.data_dir), epoch).into_iter().filter(|e| e.epoch == epoch) {
        if crate::recovery::checkpoint::check(&e.path, &mut log, &markets).is_ok() {
            usable.push(e.seq);
        }
    }
    let Some(&seq) = usable.iter().min() else {
        return Err("no usable engine checkpoint: nothing can be pruned (write one with `calamari log checkpoint`)".into());
    };
    let first = log.bounds().map_err(|e| e.to_string())?.map_or(seq, |b| b.0);
    let path = archive.then(|| s.data_dir.join("archive").join(format!("commands-{epoch}-{first}-{}.db", seq.saturating_sub(1))));
    let r = crate::storage::prune_before(&s.data_dir, seq, path.as_deref()).map_err(|e| e.to_string())?;
    tracing::info!(removed = r.removed, before = seq, archive = ?r.archive, "command log pruned by the operator");
    Ok(json!({ "before_checkpoint": seq, "removed": r.removed, "first": r.first, "archive": r.archive }))
}

async fn prune(State(s): State<Shared>, ConnectInfo(peer): ConnectInfo<SocketAddr>, h: HeaderMap, Json(b): Json<Prune>) -> Response {
    crate::admin_guard!(s, peer, h);
    match tokio::task::spawn_blocking(move || prune_blocking(&s, b.archive)).await {
        Ok(Ok(v)) => reply(StatusCode::OK, v),
        Ok(Err(e)) => bad(e),
        Err(e) => bad(e),
    }
}
