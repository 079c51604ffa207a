//! Balance, BalanceEx, TradeBalance, TradeVolume and OpenPositions.

use crate::api::params::Params;
use crate::api::{ApiResult, Caller, Shared};
use crate::engine::market_data::DAY_NS;
use crate::engine::markets::Markets;
use crate::error::KrakenError;
use crate::money::{div_round_half_up, format_units};
use serde_json::{json, Map, Value};

pub async fn balance(st: &Shared, c: &Caller) -> ApiResult {
    let account = c.account();
    // The durable balances, without a trip through the engine thread (`sequencer::BalanceView`):
    // the same entries as below, since a user account's hold never exceeds its balance. Not once
    // a `Tick` is due (a deposit confirmed on the clock): the engine logs it before its read.
    let now_ns = st.clock.now_us().saturating_mul(1_000);
    if account >= crate::engine::account::FIRST_USER && st.sequencer.serving() && st.sequencer.balances.current_at(now_ns) {
        let answer = st.sequencer.balances.with(account, |balances| {
            let mut m = Map::new();
            for (a, b) in st.markets.assets.iter().zip(balances) {
                if *b != 0 {
                    m.insert(a.id.clone(), json!(format_units(*b, a.decimals)));
                }
            }
            Value::Object(m)
        });
        if let Some(v) = answer {
            return Ok(v);
        }
    }
    st.sequencer
        .read(move |ex| {
            let acct = ex.user_account(account)?;
            let mut m = Map::new();
            for (i, a) in ex.markets.assets.iter().enumerate() {
                if acct.funds[i].balance != 0 || acct.funds[i].hold != 0 {
                    m.insert(a.id.clone(), json!(format_units(acct.funds[i].balance, a.decimals)));
                }
            }
            Ok(Value::Object(m))
        })
        .await?
}

pub async fn balance_ex(st: &Shared, c: &Caller) -> ApiResult {
    let account = c.account();
    st.sequencer
        .read(move |ex| {
            let acct = ex.user_account(account)?;
            let mut m = Map::new();
            for (i, a) in ex.markets.assets.iter().enumerate() {
                if acct.funds[i].balance != 0 || acct.funds[i].hold != 0 {
                    m.insert(
                        a.id.clone(),
                        json!({
                            "balance": format_units(acct.funds[i].balance, a.decimals),
                            "hold_trade": format_units(acct.funds[i].hold, a.decimals),
                        }),
                    );
                }
            }
            Ok(Value::Object(m))
        })
        .await?
}

/// Equity valued in one asset at the last traded prices (spot only: no positions, no margin).
pub async fn trade_balance(st: &Shared, c: &Caller, p: &Params) -> ApiResult {
    let account = c.account();
    let target = match p.text("asset") {
        None => st.markets.fee_volume_asset,
        Some(a) => st.markets.asset_by_name(a).ok_or(KrakenError::UnknownAsset)?,
    };
    st.sequencer
        .read(move |ex| {
            let acct = ex.user_account(account)?;
            let value_of = |asset: u16, units: i128| -> Option<i128> { value_in(ex, asset, units, target) };
            let mut equity = 0i128;
            for (i, f) in acct.funds.iter().enumerate() {
                equity += value_of(i as u16, f.balance).unwrap_or(0);
            }
            let mut unexecuted = 0i128;
            for seq in &acct.open_orders {
                let o = &ex.orders[*seq as usize];
                let pair = ex.markets.pair(o.req.pair);
                let quote = div_round_half_up(pair.exact_cost(o.req.price, o.remaining()), pair.cost_divisor);
                unexecuted += value_of(pair.quote, quote).unwrap_or(0);
            }
            let d = ex.markets.asset(target).decimals;
            let f = |v: i128| format_units(v, d);
            Ok(json!({
                "eb": f(equity), "tb": f(equity), "m": f(0), "n": f(0), "c": f(0), "v": f(0),
                "e": f(equity), "mf": f(equity), "uv": f(unexecuted),
            }))
        })
        .await?
}

/// Value of `units` of `asset` in `target`, through a pair between them at its last price.
fn value_in(ex: &crate::engine::Exchange, asset: u16, units: i128, target: u16) -> Option<i128> {
    let m = &ex.markets;
    if asset == target {
        return Some(units);
    }
    for (i, pair) in m.pairs.iter().enumerate() {
        let last = ex.market_data[i].last_price as i128;
        if pair.base == asset && pair.quote == target {
            return Some(div_round_half_up(units.abs() * last, pair.cost_divisor) * units.signum());
        }
        if pair.quote == asset && pair.base == target && last > 0 {
            let scale = 10i128.pow(pair.pair_decimals + pair.base_decimals - pair.quote_decimals);
            return Some(div_round_half_up(units.abs() * scale, last) * units.signum());
        }
    }
    None
}

pub async fn trade_volume(st: &Shared, c: &Caller, p: &Params) -> ApiResult {
    let account = c.account();
    let mut pairs = Vec::new();
    for name in p.list("pair", 100)? {
        pairs.push(st.markets.pair_by_name(&name).ok_or(KrakenError::UnknownAssetPair)?);
    }
    // The request path's clock (the test clock when one runs), as the engine stamps fills with:
    // the 30-day window must be counted on the same clock the volume was recorded on.
    let now = st.clock.now_us().saturating_mul(1000);
    st.sequencer
        .read(move |ex| {
            let acct = ex.user_account(account)?;
            let m = &ex.markets;
            let usd = m.asset(m.fee_volume_asset);
            let volume = acct.volume_30d(now / DAY_NS);
            let mut out = json!({ "currency": usd.id, "volume": format_units(volume, usd.decimals) });
            if !pairs.is_empty() {
                for (field, schedule) in [("fees", &m.taker_fees), ("fees_maker", &m.maker_fees)] {
                    let tier = Markets::tier(schedule, volume, usd.decimals);
                    let pct = |ppm: i128| format_units(ppm, 4);
                    let min = schedule.iter().map(|t| t.ppm).min().unwrap_or(0);
                    let max = schedule.iter().map(|t| t.ppm).max().unwrap_or(0);
                    let next = schedule.get(tier + 1);
                    let entry = json!({
                        "fee": pct(schedule[tier].ppm),
                        "minfee": pct(min),
                        "maxfee": pct(max),
                        "nextfee": next.map(|t| json!(pct(t.ppm))).unwrap_or(Value::Null),
                        "nextvolume": next.map(|t| json!(format_units(t.volume * 10i128.pow(usd.decimals), usd.decimals))).unwrap_or(Value::Null),
                        "tiervolume": format_units(schedule[tier].volume * 10i128.pow(usd.decimals), usd.decimals),
                    });
                    let mut map = Map::new();
                    for p in &pairs {
                        map.insert(m.pair(*p).id.clone(), entry.clone());
                    }
                    out[field] = Value::Object(map);
                }
            }
            Ok(out)
        })
        .await?
}

/// OpenPositions: spot has no margin positions, so `{}` (a list with `consolidation=market`,
/// which is what Kraken answers and what ccxt's fetch_positions reads).
pub async fn open_positions(_st: &Shared, _c: &Caller, p: &Params) -> ApiResult {
    p.flag("docalcs")?;
    p.list("txid", 50)?;
    match p.text("consolidation") {
        None => Ok(json!({})),
        Some("market") => Ok(json!([])),
        Some(_) => Err(KrakenError::invalid("consolidation")),
    }
}
