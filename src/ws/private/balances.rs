//! The `balances` channel's JSON: the snapshot (each asset the account holds, with its one spot
//! wallet) and one update per ledger entry, at the asset's decimals as JSON numbers, v2 asset
//! names (`BTC`, `USD`). Pure functions of the exchange's state, called on the engine thread by
//! the account capture.

use super::executions::number;
use crate::engine::account::{LedgerEntry, RefId};
use crate::engine::ids::IdKind;
use crate::engine::Exchange;
use crate::ws::channels::{num, rfc3339, v2_asset};
use serde_json::{json, Value};

/// Every asset the account has a balance of (or a hold on).
pub fn snapshot(ex: &Exchange, account: u32) -> Vec<Value> {
    let Some(acct) = ex.accounts.get(account as usize) else { return Vec::new() };
    let mut out = Vec::new();
    for (i, a) in ex.markets.assets.iter().enumerate() {
        if acct.funds[i].balance == 0 && acct.funds[i].hold == 0 {
            continue;
        }
        let b = number(num(acct.funds[i].balance, a.decimals));
        out.push(json!({
            "asset": v2_asset(&a.altname),
            "asset_class": "currency",
            "balance": b,
            "wallets": [{"type": "spot", "id": "main", "balance": b}],
        }));
    }
    out
}

/// One ledger entry as an update.
pub fn entry(ex: &Exchange, e: &LedgerEntry) -> Value {
    let a = ex.markets.asset(e.asset);
    let ref_id = match e.refid {
        RefId::Trade(t) => ex.ids.encode(IdKind::Trade, t),
        RefId::Funding(f) => ex.ids.encode(IdKind::Funding, f),
    };
    json!({
        "ledger_id": ex.ids.encode(IdKind::Ledger, e.seq),
        "ref_id": ref_id,
        "timestamp": rfc3339(e.time_ns),
        "type": e.kind.as_str(),
        "subtype": "",
        "asset": v2_asset(&a.altname),
        "asset_class": "currency",
        "wallet_type": "spot",
        "wallet_id": "main",
        "amount": number(num(e.amount, a.decimals)),
        "fee": number(num(e.fee, a.decimals)),
        "balance": number(num(e.balance, a.decimals)),
        "category": e.kind.as_str(),
    })
}

/// `{"channel":"balances","type":…,"data":[…]}`.
pub fn message(kind: &str, data: Vec<Value>) -> String {
    json!({"channel": "balances", "type": kind, "data": data}).to_string()
}
