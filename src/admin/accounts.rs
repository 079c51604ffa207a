//! The operator's view of accounts and keys: the list of accounts, one account whole (tier,
//! balances with holds, open orders, keys), one key, and a key's permissions changed as Kraken's
//! key edit page allows. Reads go through the sequencer like the API's, so they show only what is
//! durable; keys come from the key store (never their secrets).

use super::{bad, reply, Shared};
use crate::api::views;
use crate::auth::{PermissionRequest, Permissions};
use crate::engine::account::FIRST_USER;
use crate::money::format_units;
use crate::storage::KeyRecord;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::net::SocketAddr;

/// One key as the operator sees it: never the secret.
pub fn key_view(k: &KeyRecord, account: &str) -> Value {
    json!({
        "key": k.public_key,
        "account": account,
        "name": k.name,
        "permissions": Permissions(k.permissions).names(),
        "created_at": k.created_at,
        "settings": super::limits::settings_view(&k.settings),
    })
}

/// Every user account: name, id, tier, live keys and open orders.
pub async fn list(State(s): State<Shared>, ConnectInfo(peer): ConnectInfo<SocketAddr>, h: HeaderMap) -> Response {
    crate::admin_guard!(s, peer, h);
    let keys = match s.key_store.list_keys() {
        Ok(k) => k,
        Err(e) => return bad(e),
    };
    let rows = s
        .state
        .sequencer
        .read(|ex| {
            ex.accounts
                .iter()
                .enumerate()
                .skip(FIRST_USER as usize)
                .map(|(id, a)| (id as u32, a.name.clone(), a.open_orders.len()))
                .collect::<Vec<_>>()
        })
        .await;
    let rows = match rows {
        Ok(r) => r,
        Err(e) => return bad(e),
    };
    let list: Vec<Value> = rows
        .into_iter()
        .map(|(id, name, open)| {
            let live_keys = keys.iter().filter(|k| k.account_id == id && !k.revoked).count();
            json!({ "name": name, "id": id, "tier": s.state.limits.tier(id).to_string(), "keys": live_keys, "open_orders": open })
        })
        .collect();
    reply(StatusCode::OK, json!({ "accounts": list }))
}

#[derive(Deserialize)]
pub struct ByName {
    name: String,
}

/// One account: tier, balances (balance, hold, available per asset held), open orders in
/// Kraken's OpenOrders shape, and its live keys.
pub async fn show(State(s): State<Shared>, ConnectInfo(peer): ConnectInfo<SocketAddr>, h: HeaderMap, Query(q): Query<ByName>) -> Response {
    crate::admin_guard!(s, peer, h);
    let name = q.name.clone();
    let found = s
        .state
        .sequencer
        .read(move |ex| {
            let id = ex.account_by_name(&name).filter(|id| *id >= FIRST_USER)?;
            let acct = &ex.accounts[id as usize];
            let mut balances = Map::new();
            for (i, a) in ex.markets.assets.iter().enumerate() {
                let (bal, hold) = (acct.funds[i].balance, acct.funds[i].hold);
                if bal != 0 || hold != 0 {
                    balances.insert(
                        a.altname.clone(),
                        json!({
                            "balance": format_units(bal, a.decimals),
                            "hold": format_units(hold, a.decimals),
                            "available": format_units(bal - hold, a.decimals),
                        }),
                    );
                }
            }
            let mut open = Map::new();
            for seq in &acct.open_orders {
                let o = &ex.orders[*seq as usize];
                open.insert(ex.ids.encode(crate::engine::ids::IdKind::Order, *seq), views::order(ex, o, false));
            }
            Some((id, balances, open))
        })
        .await;
    let (id, balances, open) = match found {
        Ok(Some(f)) => f,
        Ok(None) => return bad(format!("no account named {:?}", q.name)),
        Err(e) => return bad(e),
    };
    let keys = match s.key_store.list_keys() {
        Ok(k) => k,
        Err(e) => return bad(e),
    };
    let keys: Vec<Value> = keys.iter().filter(|k| k.account_id == id && !k.revoked).map(|k| key_view(k, &q.name)).collect();
    reply(
        StatusCode::OK,
        json!({ "name": q.name, "id": id, "tier": s.state.limits.tier(id).to_string(), "balances": balances, "open_orders": open, "keys": keys }),
    )
}

#[derive(Deserialize)]
pub struct ByKey {
    key: String,
}

/// One live key: account, name, permissions, settings (the second factor's kind only).
pub async fn show_key(
    State(s): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    h: HeaderMap,
    Query(q): Query<ByKey>,
) -> Response {
    crate::admin_guard!(s, peer, h);
    let rec = match s.key_store.list_keys() {
        Ok(keys) => keys.into_iter().find(|k| k.public_key == q.key && !k.revoked),
        Err(e) => return bad(e),
    };
    let Some(rec) = rec else { return bad(format!("no live key {:?}", q.key)) };
    let account = s.account_name(rec.account_id).await;
    let mut v = key_view(&rec, &account);
    if let Some(live) = s.state.keys.get(&q.key) {
        v["highest_nonce"] = json!(live.highest_nonce().to_string());
    }
    reply(StatusCode::OK, v)
}

#[derive(Deserialize)]
pub struct SetPermissions {
    key: String,
    permissions: String,
}

/// Replaces a key's permissions (`all`, `none` or a list), by the account's tier.
pub async fn set_permissions(
    State(s): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    h: HeaderMap,
    Json(b): Json<SetPermissions>,
) -> Response {
    crate::admin_guard!(s, peer, h);
    let request = match PermissionRequest::parse(&b.permissions) {
        Ok(r) => r,
        Err(e) => return bad(e),
    };
    match s.set_key_permissions(&b.key, request).await {
        Ok((granted, note)) => reply(StatusCode::OK, json!({ "key": b.key, "permissions": granted.names(), "note": note })),
        Err(e) => bad(e),
    }
}
