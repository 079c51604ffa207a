//! The exchange's whole state, kept and brought back: `calamari reset` (back to the first start:
//! no accounts but the demo one with a new key, the market's genesis again; the configuration and
//! the data directory's seed and master key stay) and `calamari snapshot save|restore NAME`.
//!
//! A snapshot is a consistent copy of the database (`VACUUM INTO`, taken by the storage thread
//! right after the commands queued before it are durable) in `snapshots/NAME/`: the command log,
//! the API keys and the metadata. Restoring replays the copy's log into a fresh engine, then
//! swaps it in through the sequencer, which replaces the log in one transaction; keys and tiers
//! follow, and so do the console passwords (metadata); every console session ends. Requests in
//! flight meanwhile see the old state or the new one, never a mix.

use super::{bad, reply, Shared};
use crate::auth::KeyRegistry;
use crate::engine::Exchange;
use crate::limits::Tier;
use crate::server::{Server, TIERS_META};
use crate::storage::KeyRecord;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Metadata that belongs to accounts and goes with them (the console passwords).
const ACCOUNT_META: &str = "console_password:";

/// One state replacement at a time.
static REPLACING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn snapshot_dir(s: &Server, name: &str) -> Result<PathBuf, String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && !name.starts_with('.');
    if !ok {
        return Err(format!("{name:?}: a snapshot name has 1 to 64 letters, digits, - _ ."));
    }
    Ok(s.data_dir.join("snapshots").join(name))
}

/// Swaps in a state: engine and log through the sequencer, then keys, tiers and console
/// passwords (every console session ends). The simulator
/// pauses meanwhile and starts again from the new state's index prices.
async fn replace(
    s: &Server,
    exchange: Exchange,
    records: Vec<Vec<u8>>,
    keys: Vec<KeyRecord>,
    tiers: BTreeMap<u32, Tier>,
    meta: Vec<(String, String)>,
) -> Result<(), String> {
    let was_on = s.market.enabled();
    s.market.set_enabled(false);
    let nonces: std::collections::HashMap<i64, u64> = keys.iter().map(|k| (k.id, k.nonce)).collect();
    let result = async {
        s.key_store.replace_keys(&keys).map_err(|e| e.to_string())?;
        s.key_store.replace_meta_prefix(ACCOUNT_META, &meta).map_err(|e| e.to_string())?;
        s.sessions.end_all();
        s.key_store.set_meta(TIERS_META, &serde_json::to_string(&tiers).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
        let registry = KeyRegistry::load(s.key_store.as_ref(), &s.sbox)?;
        for old in s.state.keys.all() {
            s.state.keys.remove(&old.public_key);
        }
        for k in registry.all() {
            k.restore_nonce(nonces.get(&k.id).copied().unwrap_or(0));
            s.state.keys.insert(k);
        }
        for (account, _) in s.state.limits.tiers() {
            s.state.limits.set_tier(account, Tier::default());
        }
        for (account, tier) in &tiers {
            s.state.limits.set_tier(*account, *tier);
        }
        Ok::<(), String>(())
    };
    // The engine first, so that no request authenticates with a new key against the old state.
    let swapped = s.state.sequencer.replace_state(exchange, records).await.map_err(|e| e.to_string());
    let keys_done = result.await;
    s.market.sim().resync();
    s.market.set_enabled(was_on);
    swapped.and(keys_done)
}

pub async fn reset(State(s): State<Shared>, ConnectInfo(peer): ConnectInfo<SocketAddr>, h: HeaderMap) -> Response {
    crate::admin_guard!(s, peer, h);
    let _one = REPLACING.lock().await;
    let fresh = Exchange::new((*s.state.markets).clone(), s.id_seed);
    if let Err(e) = replace(&s, fresh, Vec::new(), Vec::new(), BTreeMap::new(), Vec::new()).await {
        return bad(format!("reset failed: {e}"));
    }
    match s.bootstrap_demo().await {
        Ok(k) => reply(StatusCode::OK, json!({ "account": s.config.demo.account, "key": k.public_key, "secret": k.secret_b64 })),
        Err(e) => bad(format!("reset, but the demo account could not be created: {e}")),
    }
}

#[derive(Deserialize)]
pub struct Named {
    name: String,
}

pub async fn save(State(s): State<Shared>, ConnectInfo(peer): ConnectInfo<SocketAddr>, h: HeaderMap, Json(b): Json<Named>) -> Response {
    crate::admin_guard!(s, peer, h);
    let dir = match snapshot_dir(&s, &b.name) {
        Ok(d) => d,
        Err(e) => return bad(e),
    };
    if dir.exists() {
        return bad(format!("a snapshot named {:?} exists already", b.name));
    }
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return bad(format!("{}: {e}", dir.display()));
    }
    s.flush_nonces();
    let file = dir.join(crate::storage::sqlite::DB_FILE);
    if let Err(e) = s.state.sequencer.snapshot(file.clone()).await {
        return bad(e);
    }
    if !file.exists() {
        let _ = std::fs::remove_dir_all(&dir);
        return bad("the snapshot could not be written (see the server's log)");
    }
    reply(StatusCode::OK, json!({ "name": b.name }))
}

pub async fn restore(State(s): State<Shared>, ConnectInfo(peer): ConnectInfo<SocketAddr>, h: HeaderMap, Json(b): Json<Named>) -> Response {
    crate::admin_guard!(s, peer, h);
    let _one = REPLACING.lock().await;
    let dir = match snapshot_dir(&s, &b.name) {
        Ok(d) if d.join(crate::storage::sqlite::DB_FILE).exists() => d,
        Ok(_) => return bad(format!("no snapshot named {:?}", b.name)),
        Err(e) => return bad(e),
    };
    let loaded = tokio::task::spawn_blocking({
        let markets = (*s.state.markets).clone();
        let seed = s.id_seed;
        move || load(&dir, markets, seed)
    })
    .await;
    let (exchange, records, keys, tiers, meta) = match loaded {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => return bad(format!("snapshot {:?}: {e}", b.name)),
        Err(e) => return bad(e),
    };
    let n = records.len();
    match replace(&s, exchange, records, keys, tiers, meta).await {
        Ok(()) => reply(StatusCode::OK, json!({ "name": b.name, "records": n })),
        Err(e) => bad(format!("restore failed: {e}")),
    }
}

type Loaded = (Exchange, Vec<Vec<u8>>, Vec<KeyRecord>, BTreeMap<u32, Tier>, Vec<(String, String)>);

/// Reads a snapshot: its log (replayed here into an engine), keys with their nonces, tiers.
fn load(dir: &std::path::Path, markets: crate::engine::markets::Markets, seed: u64) -> Result<Loaded, String> {
    let (mut log, store) = crate::storage::open_sqlite(dir).map_err(|e| e.to_string())?;
    if store.get_meta("id_seed").map_err(|e| e.to_string())?.as_deref() != Some(seed.to_string().as_str()) {
        return Err("it was saved by another data directory".into());
    }
    let mut records = Vec::new();
    log.replay(&mut |_, bytes| {
        records.push(bytes.to_vec());
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    let recovered = crate::recovery::replay(log.as_mut(), markets, seed)?;
    let mut keys = store.list_keys().map_err(|e| e.to_string())?;
    for k in &mut keys {
        k.nonce = k.nonce.max(recovered.nonces.get(&k.id).copied().unwrap_or(0));
    }
    let tiers = match store.get_meta(TIERS_META).map_err(|e| e.to_string())? {
        Some(t) => serde_json::from_str(&t).map_err(|e| e.to_string())?,
        None => BTreeMap::new(),
    };
    let meta = store.meta_with_prefix(ACCOUNT_META).map_err(|e| e.to_string())?;
    Ok((recovered.exchange, records, keys, tiers, meta))
}

pub async fn list(State(s): State<Shared>, ConnectInfo(peer): ConnectInfo<SocketAddr>, h: HeaderMap) -> Response {
    crate::admin_guard!(s, peer, h);
    let mut names: Vec<String> = std::fs::read_dir(s.data_dir.join("snapshots"))
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().to_string()).collect())
        .unwrap_or_default();
    names.sort();
    reply(StatusCode::OK, json!({ "snapshots": names }))
}
