//! The operator's interface, used by the `calamari` CLI: accounts, API keys, deposits, the chain
//! and address books (funding.rs), adjustments and an audit of the books. Mounted on the API listener under `/admin`, but answered only for
//! loopback peers that present the admin token kept in the data directory; everyone else gets
//! 403. Secrets leave only once, in the answer that creates a key.

mod accounts;
mod console;
mod funding;
pub(crate) mod limits;
mod log;
mod market;
mod market_status;
mod state;

use crate::auth::PermissionRequest;
use crate::server::Server;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use subtle::ConstantTimeEq;

type Shared = Arc<Server>;

/// The admin routes, each answer logged by the request log's middleware (the route's path,
/// status, client, latency: never a header, so never the token, nor a query or body).
pub fn router(server: Shared) -> Router {
    let router = Router::new()
        .route("/admin/accounts", get(accounts::list).post(create_account))
        .route("/admin/accounts/show", get(accounts::show))
        .route("/admin/keys/show", get(accounts::show_key))
        .route("/admin/keys/permissions", post(accounts::set_permissions))
        .route("/admin/keys", get(list_keys).post(create_key))
        .route("/admin/keys/revoke", post(revoke_key))
        .route("/admin/deposits", post(deposit))
        .route("/admin/audit", get(audit))
        .route("/admin/accounts/tier", post(limits::set_tier))
        .route("/admin/accounts/password", post(console::set_password))
        .route("/admin/keys/settings", post(limits::set_key_settings))
        .route("/admin/limits", get(limits::show))
        .route("/admin/lockouts", get(limits::lockouts))
        .route("/admin/lockouts/lift", post(limits::lift))
        .route("/admin/clock/advance", post(limits::advance_clock))
        .route("/admin/chain/deposit", post(funding::chain_deposit))
        .route("/admin/chain/fail", post(funding::fail))
        .route("/admin/address-book", get(funding::list_entries).post(funding::add_entry))
        .route("/admin/address-book/remove", post(funding::remove_entry))
        .route("/admin/adjust", post(funding::adjust))
        .route("/admin/reset", post(state::reset))
        .route("/admin/snapshots", get(state::list))
        .route("/admin/snapshots/save", post(state::save))
        .route("/admin/snapshots/restore", post(state::restore))
        .layer(DefaultBodyLimit::max(16 * 1024))
        .merge(market::router())
        .merge(market_status::router())
        .merge(log::router());
    // Tests only: a handler that panics, to prove the panic path (500 + EGeneral:Internal error,
    // the connection answered, the server serving on, calamari_panics_total counting).
    let router = if std::env::var("CALAMARI_TEST_PANIC").is_ok_and(|v| v == "1") {
        router.route("/admin/test/panic", post(test_panic))
    } else {
        router
    };
    let log = axum::middleware::from_fn_with_state(server.state.clone(), crate::telemetry::http::record);
    router.layer(crate::telemetry::http::catch_panic()).route_layer(log).with_state(server)
}

#[derive(Deserialize)]
struct PanicWhere {
    /// `handler` (the default) or `engine` (the engine thread dies: the server then answers
    /// `EService:Unavailable` to everything that needs the engine, and `/health` is 503).
    thread: Option<String>,
}

async fn test_panic(
    State(s): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    h: HeaderMap,
    axum::extract::Query(w): axum::extract::Query<PanicWhere>,
) -> Response {
    crate::admin_guard!(s, peer, h);
    if w.thread.as_deref() == Some("engine") {
        let answer = s.state.sequencer.read(|_| -> () { panic!("deliberate panic on the engine thread (CALAMARI_TEST_PANIC=1)") }).await;
        return bad(format!("{answer:?}"));
    }
    panic!("deliberate panic of /admin/test/panic (CALAMARI_TEST_PANIC=1)");
}

pub(crate) fn reply(status: StatusCode, v: Value) -> Response {
    (status, Json(v)).into_response()
}

pub(crate) fn bad(text: impl std::fmt::Display) -> Response {
    reply(StatusCode::BAD_REQUEST, json!({ "error": text.to_string() }))
}

/// Loopback peer and the right bearer token, compared in constant time.
pub(crate) fn allowed(server: &Server, peer: &SocketAddr, headers: &HeaderMap) -> bool {
    let token = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).unwrap_or("");
    peer.ip().is_loopback() && bool::from(token.as_bytes().ct_eq(server.admin_token.as_bytes()))
}

#[macro_export]
#[doc(hidden)]
macro_rules! admin_guard {
    ($s:expr, $peer:expr, $h:expr) => {
        if !$crate::admin::allowed(&$s, &$peer, &$h) {
            return $crate::admin::reply(axum::http::StatusCode::FORBIDDEN, json!({ "error": "forbidden" }));
        }
    };
}

#[derive(Deserialize)]
struct NewAccount {
    name: String,
}

async fn create_account(
    State(s): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    h: HeaderMap,
    Json(b): Json<NewAccount>,
) -> Response {
    crate::admin_guard!(s, peer, h);
    match s.create_account(&b.name).await {
        Ok(id) => reply(StatusCode::OK, json!({ "account": b.name, "id": id })),
        Err(_) => bad(format!("cannot create account {:?}: the name is taken or not valid (letters, digits, - _ . @)", b.name)),
    }
}

#[derive(Deserialize)]
struct NewKeyReq {
    account: String,
    name: String,
    permissions: String,
    #[serde(default)]
    settings: limits::KeySettingsInput,
}

async fn create_key(
    State(s): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    h: HeaderMap,
    Json(b): Json<NewKeyReq>,
) -> Response {
    crate::admin_guard!(s, peer, h);
    let request = match PermissionRequest::parse(&b.permissions) {
        Ok(p) => p,
        Err(e) => return bad(e),
    };
    let settings = match b.settings.seal(&s.sbox) {
        Ok(st) => st,
        Err(e) => return bad(e),
    };
    match s.create_key_with(&b.account, &b.name, request, settings).await {
        Ok(k) => reply(
            StatusCode::OK,
            json!({ "key": k.public_key, "secret": k.secret_b64, "permissions": k.permissions.names(), "note": k.note }),
        ),
        Err(e) => bad(e),
    }
}

async fn list_keys(State(s): State<Shared>, ConnectInfo(peer): ConnectInfo<SocketAddr>, h: HeaderMap) -> Response {
    crate::admin_guard!(s, peer, h);
    let keys = match s.key_store.list_keys() {
        Ok(k) => k,
        Err(e) => return bad(e),
    };
    let ids: Vec<u32> = keys.iter().map(|k| k.account_id).collect();
    let names = s
        .state
        .sequencer
        .read(move |ex| ids.iter().map(|i| ex.accounts.get(*i as usize).map(|a| a.name.clone()).unwrap_or_default()).collect::<Vec<_>>())
        .await;
    let names = names.unwrap_or_default();
    let list: Vec<Value> = keys.iter().zip(names).filter(|(k, _)| !k.revoked).map(|(k, account)| accounts::key_view(k, &account)).collect();
    reply(StatusCode::OK, json!({ "keys": list }))
}

#[derive(Deserialize)]
struct Revoke {
    key: String,
}

async fn revoke_key(State(s): State<Shared>, ConnectInfo(peer): ConnectInfo<SocketAddr>, h: HeaderMap, Json(b): Json<Revoke>) -> Response {
    crate::admin_guard!(s, peer, h);
    match s.revoke_key(&b.key) {
        Ok(revoked) => reply(StatusCode::OK, json!({ "revoked": revoked })),
        Err(e) => bad(e),
    }
}

#[derive(Deserialize)]
struct Deposit {
    account: String,
    asset: String,
    amount: String,
}

async fn deposit(State(s): State<Shared>, ConnectInfo(peer): ConnectInfo<SocketAddr>, h: HeaderMap, Json(b): Json<Deposit>) -> Response {
    crate::admin_guard!(s, peer, h);
    match s.deposit(&b.account, &b.asset, &b.amount).await {
        Ok(refid) => reply(StatusCode::OK, json!({ "refid": refid })),
        Err(e) => bad(e),
    }
}

/// Runs the engine's invariant checks (conservation, holds, books) on the live state, and gives
/// its digest (compare with `calamari replay` of the same data directory).
async fn audit(State(s): State<Shared>, ConnectInfo(peer): ConnectInfo<SocketAddr>, h: HeaderMap) -> Response {
    crate::admin_guard!(s, peer, h);
    let result = s
        .state
        .sequencer
        .read(|ex| {
            (
                ex.check_invariants(),
                ex.orders.next_seq() as usize,
                ex.history.next_trade as usize,
                ex.history.next_ledger as usize,
                ex.digest(),
                ex.now_ns,
            )
        })
        .await;
    match result {
        // `now_ns`: the engine's time, for `calamari replay --at` (funding transitions are a
        // function of the state and the time, so a replay brought to this time must agree).
        Ok((check, orders, trades, ledger, digest, now_ns)) => reply(
            StatusCode::OK,
            json!({ "ok": check.is_ok(), "problem": check.err(), "orders": orders, "trades": trades, "ledger_entries": ledger,
                    "digest": digest, "now_ns": now_ns }),
        ),
        Err(e) => bad(e),
    }
}
