//! WithdrawMethods, WithdrawAddresses, WithdrawInfo, Withdraw, WithdrawStatus and WithdrawCancel
//! (docs.kraken.com "Funding" section), and the answers of a spot-only, non-institutional venue to
//! WalletTransfer (no Futures wallet here), CreateSubaccount and AccountTransfer (Kraken offers
//! spot subaccounts to institutional clients only): `EGeneral:Permission denied`.

use super::deposits::{asset_param, chain_txid, paged, require_funding_tier, StatusFilter};
use crate::api::params::Params;
use crate::api::views::refid;
use crate::api::{ApiResult, Caller, Shared};
use crate::engine::account::RefId;
use crate::engine::funding::{methods, Status, WithdrawRequest};
use crate::engine::ids::IdKind;
use crate::engine::{Applied, Command};
use crate::error::KrakenError;
use crate::money::{format_units, parse_units};
use serde_json::{json, Value};

/// Withdrawals need a verified account (intermediate or pro), as the Withdraw Funds permission does.
fn require_withdraw_tier(st: &Shared, c: &Caller) -> Result<(i128, i128), KrakenError> {
    let tier = st.limits.tier(c.account());
    if !tier.is_verified() {
        return Err(KrakenError::PermissionDenied);
    }
    let (daily, monthly) = st.funding.limits(tier);
    let usd = 10i128.pow(st.markets.asset(st.markets.fee_volume_asset).decimals);
    Ok((daily as i128 * usd, monthly as i128 * usd))
}

fn amount_param(st: &Shared, p: &Params, name: &str, asset: u16) -> Result<i128, KrakenError> {
    let text = p.required(name)?;
    parse_units(text, st.markets.asset(asset).decimals).filter(|u| *u > 0).ok_or(KrakenError::FundingInvalidAmount)
}

pub async fn withdraw_methods(st: &Shared, c: &Caller, p: &Params) -> ApiResult {
    let asset = asset_param(st, p, false)?;
    let network = p.text("network").map(str::to_ascii_lowercase);
    require_funding_tier(st, c)?;
    let mut out = Vec::new();
    for (i, a) in st.markets.assets.iter().enumerate() {
        if asset.is_some_and(|x| x as usize != i) {
            continue;
        }
        for m in methods::methods(&a.id) {
            if network.as_ref().is_none_or(|n| *n == m.network.to_ascii_lowercase()) {
                out.push(json!({ "asset": a.id, "method": m.name, "network": m.network, "minimum": m.withdraw_min }));
            }
        }
    }
    Ok(Value::Array(out))
}

pub async fn withdraw_addresses(st: &Shared, c: &Caller, p: &Params) -> ApiResult {
    let asset = asset_param(st, p, false)?;
    let method = p.text("method").map(str::to_ascii_lowercase);
    let key = p.text("key").map(str::to_string);
    let verified = match p.text("verified") {
        None => None,
        Some(_) => Some(p.flag("verified")?),
    };
    require_funding_tier(st, c)?;
    let account = c.account();
    st.sequencer
        .read(move |ex| {
            let mut out = Vec::new();
            for ((_, name), e) in ex.funding.address_book.range((account, String::new())..).take_while(|((a, _), _)| *a == account) {
                let Some(m) = ex.funding_method(e.asset, e.method) else { continue };
                if asset.is_some_and(|x| x != e.asset)
                    || method.as_ref().is_some_and(|n| *n != m.name.to_ascii_lowercase())
                    || key.as_ref().is_some_and(|k| k != name)
                    || verified.is_some_and(|v| v != e.verified)
                {
                    continue;
                }
                let mut v = json!({ "address": e.address, "asset": ex.markets.asset(e.asset).id, "method": m.name, "key": name, "verified": e.verified });
                if let Some(t) = &e.tag {
                    v["tag"] = json!(t);
                }
                out.push(v);
            }
            Value::Array(out)
        })
        .await
}

pub async fn withdraw_info(st: &Shared, c: &Caller, p: &Params) -> ApiResult {
    let asset = asset_param(st, p, true)?.unwrap_or_default();
    let key = p.required("key")?.to_string();
    let amount = amount_param(st, p, "amount", asset)?;
    let (daily, monthly) = require_withdraw_tier(st, c)?;
    let account = c.account();
    let now = st.clock.now_us().saturating_mul(1000);
    st.sequencer
        .read(move |ex| {
            let (entry, fee, net) = ex.withdraw_quote(account, asset, &key, amount)?;
            let m = ex.funding_method(asset, entry.method).ok_or(KrakenError::FundingNoMethod)?;
            let a = ex.markets.asset(asset);
            let headroom_usd = ex.withdraw_headroom(account, daily, monthly, now.max(ex.now_ns));
            let one = 10i128.pow(a.decimals);
            let price_usd = ex.usd_value(asset, one);
            let by_limit = if price_usd > 0 { headroom_usd.checked_mul(one).map_or(i128::MAX, |v| v / price_usd) } else { i128::MAX };
            let limit = ex.accounts[account as usize].available(asset).min(by_limit).max(0);
            Ok(json!({
                "method": m.name,
                "limit": format_units(limit, a.decimals),
                "amount": format_units(net, a.decimals),
                "fee": format_units(fee, a.decimals),
            }))
        })
        .await?
}

pub async fn withdraw(st: &Shared, c: &Caller, p: &Params) -> ApiResult {
    let asset = asset_param(st, p, true)?.unwrap_or_default();
    let key = p.required("key")?.to_string();
    let amount = amount_param(st, p, "amount", asset)?;
    let max_fee = match p.text("max_fee") {
        None => None,
        Some(t) => Some(parse_units(t, st.markets.asset(asset).decimals).ok_or_else(|| KrakenError::invalid("max_fee"))?),
    };
    let address = p.text("address").map(str::to_string);
    let (daily_limit, monthly_limit) = require_withdraw_tier(st, c)?;
    let req = WithdrawRequest {
        account: c.account(),
        asset,
        key,
        amount,
        max_fee,
        address,
        daily_limit,
        monthly_limit,
        process_after_s: st.funding.withdraw_process_seconds,
        broadcast_after_s: st.funding.withdraw_broadcast_seconds,
    };
    st.sequencer
        .execute(c.key_nonce(), Command::Withdraw(req), |ex, applied| match applied {
            Applied::Funding(id) => json!({ "refid": refid(ex, RefId::Funding(*id)) }),
            _ => Value::Null,
        })
        .await
}

pub async fn withdraw_status(st: &Shared, c: &Caller, p: &Params) -> ApiResult {
    let filter = StatusFilter::parse(st, p, 500)?;
    let account = c.account();
    st.sequencer
        .read(move |ex| {
            let mine = ex.funding.account_withdrawals.get(&account).map_or(&[][..], |v| v.as_slice());
            let mut items = Vec::new();
            for w in mine.iter().rev().map(|i| &ex.funding.withdrawals[*i as usize]) {
                let Some(m) = ex.funding_method(w.asset, w.method) else { continue };
                if !filter.admits(w.asset, m.name, w.time_ns) {
                    continue;
                }
                let a = ex.markets.asset(w.asset);
                let broadcast = matches!(w.status, Status::Settled | Status::Success);
                let mut v = json!({
                    "method": m.name,
                    "network": m.network,
                    "aclass": "currency",
                    "asset": a.id,
                    "refid": refid(ex, RefId::Funding(w.id)),
                    "txid": if broadcast { json!(chain_txid(ex, &m, w.id)) } else { Value::Null },
                    "info": w.address,
                    "amount": format_units(w.amount, a.decimals),
                    "fee": format_units(w.fee, a.decimals),
                    "time": w.time_ns / 1_000_000_000,
                    "status": w.status.as_str(),
                });
                if let Some(prop) = w.prop {
                    v["status-prop"] = json!(prop);
                }
                v["key"] = json!(w.key);
                items.push((w.id, v));
            }
            paged(items, filter.cursor, filter.limit, "withdrawals")
        })
        .await
}

pub async fn withdraw_cancel(st: &Shared, c: &Caller, p: &Params) -> ApiResult {
    let asset = asset_param(st, p, true)?.unwrap_or_default();
    let text = p.required("refid")?;
    let id = st.ids.decode(IdKind::Funding, text).ok_or(KrakenError::FundingInvalidReference)?;
    let cmd = Command::WithdrawCancel { account: c.account(), asset, refid: id };
    st.sequencer.execute(c.key_nonce(), cmd, |_, _| json!(true)).await
}

/// WalletTransfer moves funds to Kraken Futures; this venue has no Futures wallet.
pub async fn wallet_transfer(st: &Shared, _c: &Caller, p: &Params) -> ApiResult {
    asset_param(st, p, true)?;
    Err(KrakenError::PermissionDenied)
}

/// CreateSubaccount and AccountTransfer: institutional master accounts only on Kraken Spot.
pub async fn institutional_only(_st: &Shared, _c: &Caller, _p: &Params) -> ApiResult {
    Err(KrakenError::PermissionDenied)
}
