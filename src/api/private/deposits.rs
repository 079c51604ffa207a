//! DepositMethods, DepositAddresses and DepositStatus, with Kraken's fields (docs.kraken.com
//! "Get Deposit Methods", "Get Deposit Addresses", "Get Status of Recent Deposits"), and the
//! helpers the withdrawal endpoints share (asset lookup, tier gate, funding-list cursors).

use crate::api::params::Params;
use crate::api::views::refid;
use crate::api::{ApiResult, Caller, Shared};
use crate::engine::funding::addresses::{address_of, AddressOwner};
use crate::engine::funding::methods::{self, Method};
use crate::engine::funding::FundingId;
use crate::engine::markets::AssetIdx;
use crate::engine::{Command, Exchange};
use crate::error::KrakenError;
use crate::money::{format_units, parse_units};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The `asset` parameter (id or altname); `EFunding:Unknown asset` otherwise.
pub fn asset_param(st: &Shared, p: &Params, required: bool) -> Result<Option<AssetIdx>, KrakenError> {
    match p.text("asset") {
        None if required => Err(KrakenError::invalid("asset")),
        None => Ok(None),
        Some(name) => st.markets.asset_by_name(name).map(Some).ok_or(KrakenError::FundingUnknownAsset),
    }
}

/// Funding needs a verified identity at least at Starter; an unverified account has no funding
/// method (what Kraken answers such an account, as reported by API users).
pub fn require_funding_tier(st: &Shared, c: &Caller) -> Result<(), KrakenError> {
    match st.limits.tier(c.account()) {
        crate::limits::Tier::Unverified => Err(KrakenError::FundingNoMethod),
        _ => Ok(()),
    }
}

/// A method of the asset by name; `EFunding:No funding method` otherwise.
pub fn method_param(st: &Shared, asset: AssetIdx, name: &str) -> Result<(u8, &'static Method), KrakenError> {
    methods::method_by_name(&st.markets.asset(asset).id, name).ok_or(KrakenError::FundingNoMethod)
}

/// `start`/`end` of the funding lists: unix seconds, records strictly outside are left out.
fn time_bounds(p: &Params) -> Result<(u64, u64), KrakenError> {
    let secs = |name: &str| -> Result<Option<u64>, KrakenError> {
        match p.text(name) {
            None => Ok(None),
            Some(t) => t.split('.').next().unwrap_or("").parse::<u64>().map(Some).map_err(|_| KrakenError::invalid(name)),
        }
    };
    let start = secs("start")?.map_or(0, |s| s.saturating_mul(1_000_000_000));
    let end = secs("end")?.map_or(u64::MAX, |s| s.saturating_mul(1_000_000_000).saturating_add(999_999_999));
    Ok((start, end))
}

/// `cursor`: absent or false = a plain list; true = the first page; any other text = the page
/// starting at that funding id (what the previous page's `next_cursor` said).
pub enum Cursor {
    Off,
    From(Option<FundingId>),
}

fn cursor_param(p: &Params) -> Result<Cursor, KrakenError> {
    match p.text("cursor") {
        None => Ok(Cursor::Off),
        Some(v) => match v.to_ascii_lowercase().as_str() {
            "false" | "0" => Ok(Cursor::Off),
            "true" | "1" => Ok(Cursor::From(None)),
            _ => v.parse::<u64>().map(|id| Cursor::From(Some(id))).map_err(|_| KrakenError::invalid("cursor")),
        },
    }
}

/// The filters DepositStatus and WithdrawStatus share: `asset`, `method`, `start`/`end`,
/// `cursor` and `limit` (bounded; the default differs per list, as on Kraken).
pub struct StatusFilter {
    pub asset: Option<AssetIdx>,
    method: Option<String>,
    start: u64,
    end: u64,
    pub cursor: Cursor,
    pub limit: usize,
}

impl StatusFilter {
    pub fn parse(st: &Shared, p: &Params, default_limit: usize) -> Result<StatusFilter, KrakenError> {
        let asset = asset_param(st, p, false)?;
        let method = p.text("method").map(str::to_ascii_lowercase);
        let (start, end) = time_bounds(p)?;
        let cursor = cursor_param(p)?;
        let limit = p.int::<usize>("limit")?.unwrap_or(default_limit).clamp(1, 1000);
        Ok(StatusFilter { asset, method, start, end, cursor, limit })
    }

    /// Whether a record of `asset` by the method named `method`, made at `time_ns`, is listed.
    pub fn admits(&self, asset: AssetIdx, method: &str, time_ns: u64) -> bool {
        self.asset.is_none_or(|a| a == asset)
            && self.method.as_ref().is_none_or(|n| n.eq_ignore_ascii_case(method))
            && (self.start..=self.end).contains(&time_ns)
    }
}

/// Lists newest first, paged by `limit` (bounded) from a cursor; `key` names the list when paged.
pub fn paged(items: Vec<(FundingId, Value)>, cursor: Cursor, limit: usize, key: &str) -> Value {
    match cursor {
        Cursor::Off => Value::Array(items.into_iter().take(limit).map(|(_, v)| v).collect()),
        Cursor::From(from) => {
            let mut rest = items.into_iter().skip_while(|(id, _)| from.is_some_and(|f| *id > f)).peekable();
            let page: Vec<Value> = rest.by_ref().take(limit).map(|(_, v)| v).collect();
            let mut out = json!({ key: page });
            if let Some((next, _)) = rest.peek() {
                out["next_cursor"] = json!(next.to_string());
            }
            out
        }
    }
}

/// A transaction id as the method's chain writes them, derived from the funding id.
pub fn chain_txid(ex: &Exchange, method: &Method, id: FundingId) -> String {
    let digest = Sha256::digest(ex.ids.scramble(0x7478_6964_0000_0006, id).to_be_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    if method.format == methods::AddressFormat::Hex20 {
        format!("0x{hex}")
    } else {
        hex
    }
}

pub async fn deposit_methods(st: &Shared, c: &Caller, p: &Params) -> ApiResult {
    let asset = asset_param(st, p, true)?.unwrap_or_default();
    require_funding_tier(st, c)?;
    let a = st.markets.asset(asset);
    let list = methods::methods(&a.id);
    if list.is_empty() {
        return Err(KrakenError::FundingNoMethod);
    }
    let out: Vec<Value> = list
        .iter()
        .map(|m| {
            json!({
                "method": m.name,
                "limit": false,
                "fee": format_units(0, a.decimals),
                "address-setup-fee": format_units(0, a.decimals),
                "gen-address": true,
                "minimum": format_units(parse_units(m.deposit_min, a.decimals).unwrap_or(0), a.decimals),
            })
        })
        .collect();
    Ok(Value::Array(out))
}

pub async fn deposit_addresses(st: &Shared, c: &Caller, p: &Params) -> ApiResult {
    let asset = asset_param(st, p, true)?.unwrap_or_default();
    let (method_idx, method) = method_param(st, asset, p.required("method")?)?;
    let new = p.flag("new")?;
    require_funding_tier(st, c)?;
    let account = c.account();
    if new {
        let cmd = Command::NewDepositAddress { account, asset, method: method_idx };
        st.sequencer.execute(c.key_nonce(), cmd, |_, _| ()).await?;
    }
    let method = *method;
    st.sequencer
        .read(move |ex| {
            let n = ex.deposit_address_count(account, asset, method_idx);
            let used = |index: u16| {
                let mine = ex.funding.account_deposits.get(&account).map_or(&[][..], |v| v.as_slice());
                mine.iter().any(|i| {
                    let o = ex.funding.deposits[*i as usize].owner;
                    o.asset == asset && o.method == method_idx && o.index == index
                })
            };
            let out: Vec<Value> = (0..n)
                .rev()
                .map(|index| {
                    let owner = AddressOwner { account, asset, method: method_idx, index };
                    let (address, tag) = address_of(&ex.ids, &method, &owner);
                    let mut v = json!({ "address": address, "expiretm": "0" });
                    if !used(index) {
                        v["new"] = json!(true);
                    }
                    if let Some(t) = tag {
                        v["tag"] = json!(t);
                    }
                    v
                })
                .collect();
            Value::Array(out)
        })
        .await
}

pub async fn deposit_status(st: &Shared, c: &Caller, p: &Params) -> ApiResult {
    let filter = StatusFilter::parse(st, p, 25)?;
    let account = c.account();
    st.sequencer
        .read(move |ex| {
            let mine = ex.funding.account_deposits.get(&account).map_or(&[][..], |v| v.as_slice());
            let mut items = Vec::new();
            for d in mine.iter().rev().map(|i| &ex.funding.deposits[*i as usize]) {
                let Some(m) = ex.funding_method(d.owner.asset, d.owner.method) else { continue };
                if !filter.admits(d.owner.asset, m.name, d.time_ns) {
                    continue;
                }
                let a = ex.markets.asset(d.owner.asset);
                let (address, _) = address_of(&ex.ids, &m, &d.owner);
                let v = json!({
                    "method": m.name,
                    "aclass": "currency",
                    "asset": a.id,
                    "refid": refid(ex, crate::engine::account::RefId::Funding(d.id)),
                    "txid": chain_txid(ex, &m, d.id),
                    "info": address,
                    "amount": format_units(d.amount, a.decimals),
                    "fee": format_units(0, a.decimals),
                    "time": d.time_ns / 1_000_000_000,
                    "status": d.status.as_str(),
                });
                items.push((d.id, v));
            }
            paged(items, filter.cursor, filter.limit, "deposit")
        })
        .await
}
