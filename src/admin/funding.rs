//! The operator's side of funding: the chain (a deposit arriving on an address, a deposit or
//! withdrawal failing on purpose), the accounts' address books (Kraken's withdrawal keys) and
//! adjustments. Each is one engine command, durable before it is answered.

use super::{bad, reply, Shared};
use crate::api::views::refid;
use crate::engine::account::RefId;
use crate::engine::funding::addresses::owner_of;
use crate::engine::funding::methods;
use crate::engine::ids::IdKind;
use crate::engine::{Applied, Command};
use crate::error::KrakenError;
use crate::money::parse_units;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::net::SocketAddr;

fn refid_of(ex: &crate::engine::Exchange, a: &Applied) -> Value {
    match a {
        Applied::Funding(id) => json!(refid(ex, RefId::Funding(*id))),
        Applied::Deposited { refid: r, .. } => json!(refid(ex, *r)),
        _ => Value::Null,
    }
}

#[derive(Deserialize)]
pub struct ChainDeposit {
    address: String,
    amount: String,
    tag: Option<String>,
}

/// `calamari chain deposit ADDRESS AMOUNT [--tag T]`: the address names its account, asset and
/// method; the deposit waits for the method's confirmations on the server's clock.
pub async fn chain_deposit(
    State(s): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    h: HeaderMap,
    Json(b): Json<ChainDeposit>,
) -> Response {
    crate::admin_guard!(s, peer, h);
    let st = &s.state;
    let markets = st.markets.clone();
    let method_of = |asset: u16, m: u8| markets.assets.get(asset as usize).and_then(|a| methods::methods(&a.id).get(m as usize).copied());
    let Some(mut owner) = owner_of(&st.ids, &b.address, b.tag.as_deref(), method_of) else {
        return bad(format!("{:?} (tag {:?}) is not a deposit address this exchange issued", b.address, b.tag));
    };
    if owner.asset == u16::MAX {
        // The shared Ripple address: the tag named the account.
        match st.markets.assets.iter().position(|a| methods::methods(&a.id).iter().any(|m| m.has_tag())) {
            Some(a) => owner.asset = a as u16,
            None => return bad("no tagged method is configured"),
        }
    }
    let Some(amount) = parse_units(&b.amount, st.markets.asset(owner.asset).decimals).filter(|u| *u > 0) else {
        return bad(format!("{:?} is not a positive amount of {}", b.amount, st.markets.asset(owner.asset).altname));
    };
    let asset = st.markets.asset(owner.asset).id.clone();
    match st.sequencer.execute(None, Command::ChainDeposit { owner, amount }, refid_of).await {
        Ok(r) => reply(StatusCode::OK, json!({ "refid": r, "asset": asset, "status": "Settled" })),
        Err(e) => bad(e),
    }
}

#[derive(Deserialize)]
pub struct Fail {
    refid: String,
}

/// `calamari chain fail REFID`: a deposit not yet credited, or a withdrawal not yet successful,
/// fails (holds released, debits refunded).
pub async fn fail(State(s): State<Shared>, ConnectInfo(peer): ConnectInfo<SocketAddr>, h: HeaderMap, Json(b): Json<Fail>) -> Response {
    crate::admin_guard!(s, peer, h);
    let Some(id) = s.state.ids.decode(IdKind::Funding, b.refid.trim()) else { return bad(format!("{:?} is not a funding refid", b.refid)) };
    match s.state.sequencer.execute(None, Command::FailFunding { refid: id }, refid_of).await {
        Ok(r) => reply(StatusCode::OK, json!({ "refid": r, "status": "Failure" })),
        Err(KrakenError::FundingUnknownReference) => bad(format!("{} is no deposit or withdrawal that can still fail", b.refid)),
        Err(e) => bad(e),
    }
}

#[derive(Deserialize)]
pub struct BookEntryReq {
    account: String,
    key: String,
    asset: String,
    method: Option<String>,
    address: String,
    tag: Option<String>,
    #[serde(default = "yes")]
    verified: bool,
}

fn yes() -> bool {
    true
}

/// `calamari address-book add`: adds or replaces an entry (verified unless `--unverified`).
pub async fn add_entry(
    State(s): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    h: HeaderMap,
    Json(b): Json<BookEntryReq>,
) -> Response {
    crate::admin_guard!(s, peer, h);
    let Ok(account) = s.account_id(&b.account).await else { return bad(format!("no account named {:?}", b.account)) };
    let Some(asset) = s.state.markets.asset_by_name(&b.asset) else { return bad(format!("unknown asset {:?}", b.asset)) };
    let id = &s.state.markets.asset(asset).id;
    let list = methods::methods(id);
    let method = match &b.method {
        None => list.first().map(|_| 0u8),
        Some(n) => methods::method_by_name(id, n).map(|(i, _)| i),
    };
    let Some(method) = method else { return bad(format!("{id} has no withdrawal method {:?}", b.method.as_deref().unwrap_or(""))) };
    let cmd = Command::SetWithdrawKey {
        account,
        key: b.key.clone(),
        asset,
        method,
        address: b.address.trim().to_string(),
        tag: b.tag.clone(),
        verified: b.verified,
    };
    match s.state.sequencer.execute(None, cmd, |_, _| ()).await {
        Ok(()) => reply(
            StatusCode::OK,
            json!({ "account": b.account, "key": b.key, "method": list[method as usize].name, "verified": b.verified }),
        ),
        Err(e) => bad(format!("{e} (address and tag must suit {}: a tag only for tagged methods)", list[method as usize].name)),
    }
}

#[derive(Deserialize)]
pub struct RemoveReq {
    account: String,
    key: String,
}

pub async fn remove_entry(
    State(s): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    h: HeaderMap,
    Json(b): Json<RemoveReq>,
) -> Response {
    crate::admin_guard!(s, peer, h);
    let Ok(account) = s.account_id(&b.account).await else { return bad(format!("no account named {:?}", b.account)) };
    match s.state.sequencer.execute(None, Command::RemoveWithdrawKey { account, key: b.key.clone() }, |_, _| ()).await {
        Ok(()) => reply(StatusCode::OK, json!({ "removed": true })),
        Err(_) => bad(format!("account {} has no withdrawal key {:?}", b.account, b.key)),
    }
}

#[derive(Deserialize)]
pub struct Who {
    account: String,
}

pub async fn list_entries(
    State(s): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    h: HeaderMap,
    Query(q): Query<Who>,
) -> Response {
    crate::admin_guard!(s, peer, h);
    let Ok(account) = s.account_id(&q.account).await else { return bad(format!("no account named {:?}", q.account)) };
    let list = s
        .state
        .sequencer
        .read(move |ex| {
            let entries = ex.funding.address_book.range((account, String::new())..).take_while(|((a, _), _)| *a == account);
            entries
                .map(|((_, key), e)| {
                    let method = ex.funding_method(e.asset, e.method).map(|m| m.name).unwrap_or("");
                    json!({ "key": key, "asset": ex.markets.asset(e.asset).id, "method": method, "address": e.address, "tag": e.tag, "verified": e.verified })
                })
                .collect::<Vec<_>>()
        })
        .await;
    match list {
        Ok(l) => reply(StatusCode::OK, json!({ "entries": l })),
        Err(e) => bad(e),
    }
}

#[derive(Deserialize)]
pub struct AdjustReq {
    account: String,
    asset: String,
    amount: String,
    reason: String,
}

/// `calamari adjust ACCOUNT ASSET AMOUNT --reason R`: a signed `adjustment` ledger entry.
pub async fn adjust(
    State(s): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    h: HeaderMap,
    Json(b): Json<AdjustReq>,
) -> Response {
    crate::admin_guard!(s, peer, h);
    if b.reason.trim().is_empty() || b.reason.len() > 256 {
        return bad("an adjustment needs a reason (1 to 256 characters)");
    }
    let Ok(account) = s.account_id(&b.account).await else { return bad(format!("no account named {:?}", b.account)) };
    let Some(asset) = s.state.markets.asset_by_name(&b.asset) else { return bad(format!("unknown asset {:?}", b.asset)) };
    let decimals = s.state.markets.asset(asset).decimals;
    let text = b.amount.trim();
    let (neg, mag) = text.strip_prefix('-').map_or((false, text), |m| (true, m));
    let Some(units) = parse_units(mag, decimals).filter(|u| *u > 0) else { return bad(format!("{:?} is not a non-zero amount", b.amount)) };
    let amount = if neg { -units } else { units };
    let cmd = Command::Adjust { account, asset, amount, reason: b.reason.clone() };
    match s.state.sequencer.execute(None, cmd, refid_of).await {
        Ok(r) => reply(StatusCode::OK, json!({ "refid": r })),
        Err(e) => bad(e),
    }
}
