//! A WebSocket v2 trading request's `params` as the REST method's parameters, so that the REST
//! handler reads them with its own rules. Numbers are taken as the exact text the client wrote
//! (serde_json's `RawValue`), never through a float. What v2 spells differently is converted here:
//! `order_qty` is `volume`, `side` is `type`, `limit_price`/`triggers` become `price`/`price2` by
//! the order type (a triggered order's `price` is its trigger), `pct`/`quote` price types become
//! REST's relative prices (`+5%`, `-100`), RFC 3339 `expire_time`/`effective_time` become unix
//! seconds, `post_only`/`fee_preference`/`no_mpp`/`cash_order_qty` become `oflags`, `stp_type`
//! names take dashes, `conditional` becomes `close[...]`. [`Translated::names`] maps each REST field
//! back to the v2 field it came from, for REST's `EGeneral:Invalid arguments:<field>`. The JSON
//! with exact numbers is [`super::json::J`].

pub use super::json::J;
use crate::api::params::Params;
use crate::error::KrakenError;
#[cfg(test)]
use std::collections::BTreeMap;
use std::collections::HashMap;

/// The REST method's parameters for one v2 request.
#[derive(Debug, Default)]
pub struct Translated {
    pub fields: Vec<(String, String)>,
    /// REST field -> the v2 field it was made from.
    pub names: HashMap<String, String>,
}

impl Translated {
    fn put(&mut self, rest: &str, ws: &str, value: String) {
        self.fields.retain(|(k, _)| k != rest);
        self.fields.push((rest.to_string(), value));
        self.names.insert(rest.to_string(), ws.to_string());
    }

    pub fn params(&self) -> Result<Params, KrakenError> {
        Params::from_pairs(self.fields.clone())
    }

    /// A REST error in v2's terms (the field named as the client named it).
    pub fn error(&self, e: &KrakenError) -> String {
        match e {
            KrakenError::InvalidArguments(Some(f)) => match self.names.get(f).map(String::as_str).or_else(|| default_name(f)) {
                Some(ws) => KrakenError::invalid(ws).as_kraken(),
                None => e.as_kraken(),
            },
            _ => e.as_kraken(),
        }
    }
}

/// The v2 name of a REST field the request did not carry (REST's "missing" errors).
fn default_name(rest: &str) -> Option<&'static str> {
    Some(match rest {
        "pair" => "symbol",
        "type" => "side",
        "ordertype" => "order_type",
        "volume" => "order_qty",
        "price" => "limit_price",
        "txid" => "order_id",
        "userref" => "order_userref",
        "displayvol" => "display_qty",
        "timeinforce" => "time_in_force",
        "expiretm" => "expire_time",
        "starttm" => "effective_time",
        "stptype" => "stp_type",
        _ => return None,
    })
}

fn bad(field: &str) -> String {
    KrakenError::invalid(field).as_kraken()
}

fn scalar(p: &J, name: &str) -> Result<Option<String>, String> {
    match p.get(name) {
        None | Some(J::Null) => Ok(None),
        Some(v) => v.text().map(Some).ok_or_else(|| bad(name)),
    }
}

fn flag(p: &J, name: &str) -> Result<bool, String> {
    match p.get(name) {
        None | Some(J::Null) => Ok(false),
        Some(J::Bool(b)) => Ok(*b),
        Some(_) => Err(bad(name)),
    }
}

/// A price of v2's `price_type`: `static` as is, `pct` and `quote` as REST's signed offsets.
fn priced(value: &str, kind: Option<&str>, type_field: &str) -> Result<String, String> {
    let signed = |v: &str| if v.starts_with('-') || v.starts_with('+') { v.to_string() } else { format!("+{v}") };
    match kind.unwrap_or("static") {
        "static" => Ok(value.to_string()),
        "pct" => Ok(format!("{}%", signed(value))),
        "quote" => Ok(signed(value)),
        _ => Err(bad(type_field)),
    }
}

fn triggered(order_type: &str) -> bool {
    matches!(order_type, "stop-loss" | "stop-loss-limit" | "take-profit" | "take-profit-limit" | "trailing-stop" | "trailing-stop-limit")
}

/// RFC 3339 to unix seconds (`up`: rounded up, for an expiry).
fn unix_secs(p: &J, name: &str, up: bool) -> Result<Option<String>, String> {
    let Some(text) = scalar(p, name)? else { return Ok(None) };
    let ns = crate::calendar::parse_rfc3339(text.trim()).ok_or_else(|| bad(name))?;
    let secs = if up { ns.div_ceil(1_000_000_000) } else { ns / 1_000_000_000 };
    Ok(Some(secs.to_string()))
}

/// `oflags` from v2's booleans and `fee_preference`, plus REST's `viqc` for `cash_order_qty`.
fn oflags(p: &J, t: &mut Translated, viqc: bool) -> Result<(), String> {
    let mut flags = Vec::new();
    if flag(p, "post_only")? {
        flags.push("post");
    }
    match scalar(p, "fee_preference")?.as_deref() {
        None => {}
        Some("base") => flags.push("fcib"),
        Some("quote") => flags.push("fciq"),
        Some(_) => return Err(bad("fee_preference")),
    }
    if flag(p, "no_mpp")? {
        flags.push("nompp");
    }
    if viqc {
        flags.push("viqc");
    }
    if !flags.is_empty() {
        t.put("oflags", "post_only", flags.join(","));
    }
    Ok(())
}

/// `price`/`price2` (and `trigger`) from `limit_price` and `triggers` by the order type.
fn prices(p: &J, order_type: &str, t: &mut Translated) -> Result<(), String> {
    let limit = scalar(p, "limit_price")?.map(|v| priced(&v, scalar(p, "limit_price_type")?.as_deref(), "limit_price_type")).transpose()?;
    let trig = match p.get("triggers") {
        None | Some(J::Null) => None,
        Some(tr @ J::Obj(_)) => {
            match scalar(tr, "reference")?.as_deref() {
                None => {}
                Some(r @ ("last" | "index")) => t.put("trigger", "triggers", r.to_string()),
                Some(_) => return Err(bad("triggers")),
            }
            scalar(tr, "price")?.map(|v| priced(&v, scalar(tr, "price_type")?.as_deref(), "triggers")).transpose()?
        }
        Some(_) => return Err(bad("triggers")),
    };
    if triggered(order_type) {
        if let Some(v) = trig {
            t.put("price", "triggers", v);
        }
        if let Some(v) = limit {
            t.put("price2", "limit_price", v);
        }
    } else {
        if trig.is_some() {
            return Err(bad("triggers"));
        }
        if let Some(v) = limit {
            t.put("price", "limit_price", v);
        }
    }
    Ok(())
}

/// `conditional` (a one-triggers-other close) as REST's `close[...]` fields.
fn conditional(p: &J, t: &mut Translated) -> Result<(), String> {
    let c = match p.get("conditional") {
        None | Some(J::Null) => return Ok(()),
        Some(c @ J::Obj(_)) => c,
        Some(_) => return Err(bad("conditional")),
    };
    let kind = scalar(c, "order_type")?.ok_or_else(|| bad("conditional"))?;
    let limit = scalar(c, "limit_price")?.map(|v| priced(&v, scalar(c, "limit_price_type")?.as_deref(), "conditional")).transpose()?;
    let trig = scalar(c, "trigger_price")?.map(|v| priced(&v, scalar(c, "trigger_price_type")?.as_deref(), "conditional")).transpose()?;
    let (price, price2) = if triggered(&kind) { (trig, limit) } else { (limit, None) };
    t.put("close[ordertype]", "conditional", kind);
    if let Some(v) = price {
        t.put("close[price]", "conditional", v);
    }
    if let Some(v) = price2 {
        t.put("close[price2]", "conditional", v);
    }
    Ok(())
}

/// The plain renames shared by several methods: v2 name -> REST name.
fn renames(p: &J, t: &mut Translated, list: &[(&str, &str)]) -> Result<(), String> {
    for (ws, rest) in list {
        if let Some(v) = scalar(p, ws)? {
            t.put(rest, ws, v);
        }
    }
    Ok(())
}

/// One order of `add_order` or `batch_add` as AddOrder's fields (`symbol` resolved by `pair`).
pub fn add_order(p: &J, pair: &dyn Fn(&str) -> String) -> Result<Translated, String> {
    if !matches!(p, J::Obj(_)) {
        return Err(bad("params"));
    }
    let mut t = Translated::default();
    let order_type = scalar(p, "order_type")?.unwrap_or_default();
    if let Some(s) = scalar(p, "symbol")? {
        t.put("pair", "symbol", pair(&s));
    }
    renames(p, &mut t, &[("order_type", "ordertype"), ("side", "type"), ("order_qty", "volume")])?;
    renames(p, &mut t, &[("cl_ord_id", "cl_ord_id"), ("order_userref", "userref"), ("display_qty", "displayvol")])?;
    renames(p, &mut t, &[("deadline", "deadline")])?;
    let cash = scalar(p, "cash_order_qty")?;
    if let Some(q) = &cash {
        if p.get("order_qty").is_some() {
            return Err(bad("cash_order_qty"));
        }
        t.put("volume", "cash_order_qty", q.clone());
    }
    oflags(p, &mut t, cash.is_some())?;
    prices(p, &order_type, &mut t)?;
    if let Some(tif) = scalar(p, "time_in_force")? {
        t.put("timeinforce", "time_in_force", tif.to_ascii_uppercase());
    }
    if let Some(s) = unix_secs(p, "expire_time", true)? {
        t.put("expiretm", "expire_time", s);
    }
    if let Some(s) = unix_secs(p, "effective_time", false)? {
        t.put("starttm", "effective_time", s);
    }
    match scalar(p, "stp_type")?.as_deref() {
        None => {}
        Some(s @ ("cancel_newest" | "cancel_oldest" | "cancel_both")) => t.put("stptype", "stp_type", s.replace('_', "-")),
        Some(_) => return Err(bad("stp_type")),
    }
    if flag(p, "reduce_only")? {
        t.put("reduce_only", "reduce_only", "true".into());
    }
    if flag(p, "margin")? {
        // A margin order: refused on a spot account as REST refuses leverage.
        t.put("leverage", "margin", "2".into());
    }
    if flag(p, "validate")? {
        t.put("validate", "validate", "true".into());
    }
    conditional(p, &mut t)?;
    Ok(t)
}

/// `amend_order` as AmendOrder's fields.
pub fn amend_order(p: &J) -> Result<Translated, String> {
    let mut t = Translated::default();
    renames(p, &mut t, &[("order_id", "txid"), ("cl_ord_id", "cl_ord_id"), ("order_qty", "order_qty"), ("display_qty", "display_qty")])?;
    renames(p, &mut t, &[("deadline", "deadline")])?;
    if let Some(v) = scalar(p, "limit_price")? {
        t.put("limit_price", "limit_price", priced(&v, scalar(p, "limit_price_type")?.as_deref(), "limit_price_type")?);
    }
    if let Some(v) = scalar(p, "trigger_price")? {
        t.put("trigger_price", "trigger_price", priced(&v, scalar(p, "trigger_price_type")?.as_deref(), "trigger_price_type")?);
    }
    if flag(p, "post_only")? {
        t.put("post_only", "post_only", "true".into());
    }
    Ok(t)
}

/// `edit_order` as EditOrder's fields.
pub fn edit_order(p: &J, pair: &dyn Fn(&str) -> String) -> Result<Translated, String> {
    let mut t = Translated::default();
    if let Some(s) = scalar(p, "symbol")? {
        t.put("pair", "symbol", pair(&s));
    }
    renames(p, &mut t, &[("order_id", "txid"), ("order_qty", "volume"), ("order_userref", "userref"), ("deadline", "deadline")])?;
    renames(p, &mut t, &[("cl_ord_id", "cl_ord_id")])?;
    oflags(p, &mut t, false)?;
    // A new trigger names the order's `price`, and then the limit is its `price2`.
    let kind = if p.get("triggers").is_some() { "stop-loss-limit" } else { "limit" };
    prices(p, kind, &mut t)?;
    if flag(p, "validate")? {
        t.put("validate", "validate", "true".into());
    }
    Ok(t)
}

/// `batch_add`: the batch's `symbol` and each order as AddOrder's fields, in REST's JSON form.
pub fn batch_add(p: &J, pair: &dyn Fn(&str) -> String) -> Result<(Translated, Vec<Translated>), String> {
    let mut t = Translated::default();
    let symbol = scalar(p, "symbol")?.ok_or_else(|| bad("symbol"))?;
    t.put("pair", "symbol", pair(&symbol));
    renames(p, &mut t, &[("deadline", "deadline")])?;
    if flag(p, "validate")? {
        t.put("validate", "validate", "true".into());
    }
    let Some(J::Arr(items)) = p.get("orders") else { return Err(bad("orders")) };
    let mut orders = Vec::with_capacity(items.len());
    for item in items {
        if item.get("symbol").is_some() {
            return Err(bad("symbol"));
        }
        orders.push(add_order(item, pair)?);
    }
    let list: Vec<serde_json::Value> = orders.iter().map(|o| rest_object(&o.fields)).collect();
    t.put("orders", "orders", serde_json::Value::Array(list).to_string());
    for o in &orders {
        for (rest, ws) in &o.names {
            t.names.entry(rest.clone()).or_insert_with(|| ws.clone());
        }
    }
    Ok((t, orders))
}

/// REST's JSON spelling of one batch order: `close[x]` as a nested `close` object.
fn rest_object(fields: &[(String, String)]) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    let mut close = serde_json::Map::new();
    for (k, v) in fields {
        match k.strip_prefix("close[").and_then(|r| r.strip_suffix(']')) {
            Some(inner) => {
                close.insert(inner.to_string(), v.clone().into());
            }
            None => {
                m.insert(k.clone(), v.clone().into());
            }
        }
    }
    if !close.is_empty() {
        m.insert("close".into(), close.into());
    }
    m.into()
}

/// `batch_cancel` as CancelOrderBatch's fields.
pub fn batch_cancel(p: &J) -> Result<Translated, String> {
    let mut t = Translated::default();
    for (ws, rest) in [("orders", "orders"), ("cl_ord_id", "cl_ord_ids")] {
        match p.get(ws) {
            None | Some(J::Null) => {}
            Some(v) => {
                let list = v.texts().ok_or_else(|| bad(ws))?;
                if list.iter().any(|s| s.contains(',')) {
                    return Err(bad(ws));
                }
                t.put(rest, ws, list.join(","));
            }
        }
    }
    Ok(t)
}

/// `cancel_all_orders_after`'s `timeout`.
pub fn dead_man(p: &J) -> Result<Translated, String> {
    let mut t = Translated::default();
    renames(p, &mut t, &[("timeout", "timeout")])?;
    Ok(t)
}

/// What `cancel_order` names: Kraken ids, client ids or user references (one kind per request).
#[derive(Debug, PartialEq)]
pub enum CancelIds {
    Orders(Vec<String>),
    ClOrdIds(Vec<String>),
    UserRefs(Vec<i32>),
}

/// Kraken's cap on the identifiers of one `cancel_order`.
pub const MAX_CANCEL_IDS: usize = 50;

pub fn cancel_ids(p: &J) -> Result<CancelIds, String> {
    let list = |name: &str| -> Result<Option<Vec<String>>, String> {
        match p.get(name) {
            None | Some(J::Null) => Ok(None),
            Some(v) => {
                let l = v.texts().ok_or_else(|| bad(name))?;
                if l.is_empty() || l.len() > MAX_CANCEL_IDS {
                    return Err(bad(name));
                }
                Ok(Some(l))
            }
        }
    };
    let (ids, cls, refs) = (list("order_id")?, list("cl_ord_id")?, list("order_userref")?);
    match (ids, cls, refs) {
        (Some(i), None, None) => Ok(CancelIds::Orders(i)),
        (None, Some(c), None) => Ok(CancelIds::ClOrdIds(c)),
        (None, None, Some(r)) => {
            r.iter().map(|s| s.parse::<i32>().map_err(|_| bad("order_userref"))).collect::<Result<_, _>>().map(CancelIds::UserRefs)
        }
        (None, None, None) => Err(bad("order_id")),
        _ => Err(bad("order_id")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(t: &Translated) -> BTreeMap<&str, &str> {
        t.fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }

    fn pair(s: &str) -> String {
        if s == "BTC/USD" {
            "XBTUSD".into()
        } else {
            s.into()
        }
    }

    #[test]
    fn add_order_limit() {
        let j = J::parse(
            r#"{"order_type":"limit","side":"buy","order_qty":0.12345678,"symbol":"BTC/USD","limit_price":26500.4,
                "time_in_force":"gtd","expire_time":"2026-12-01T12:00:00.5Z","post_only":true,"fee_preference":"base",
                "stp_type":"cancel_both","cl_ord_id":"abc","token":"T"}"#,
        )
        .unwrap();
        let t = add_order(&j, &pair).unwrap();
        let f = fields(&t);
        assert_eq!(f["pair"], "XBTUSD");
        assert_eq!(f["ordertype"], "limit");
        assert_eq!(f["type"], "buy");
        assert_eq!(f["volume"], "0.12345678");
        assert_eq!(f["price"], "26500.4");
        assert_eq!(f["timeinforce"], "GTD");
        // 2026-12-01T12:00:00.5Z rounded up to whole seconds.
        assert_eq!(f["expiretm"], "1796126401");
        assert_eq!(f["oflags"], "post,fcib");
        assert_eq!(f["stptype"], "cancel-both");
        assert_eq!(f["cl_ord_id"], "abc");
        assert!(!f.contains_key("token"));
        assert_eq!(t.error(&KrakenError::invalid("volume")), "EGeneral:Invalid arguments:order_qty");
        assert_eq!(t.error(&KrakenError::InsufficientFunds), "EOrder:Insufficient funds");
        // A field the request lacked is named as v2 names it too.
        assert_eq!(Translated::default().error(&KrakenError::invalid("pair")), "EGeneral:Invalid arguments:symbol");
    }

    #[test]
    fn add_order_triggers_and_conditional() {
        let j = J::parse(
            r#"{"order_type":"trailing-stop-limit","side":"sell","order_qty":1,"symbol":"XBTUSD",
                "triggers":{"reference":"index","price":2.5,"price_type":"pct"},"limit_price":-100,"limit_price_type":"quote",
                "conditional":{"order_type":"stop-loss-limit","trigger_price":5,"trigger_price_type":"pct","limit_price":29000}}"#,
        )
        .unwrap();
        let f = add_order(&j, &pair).unwrap();
        let f = fields(&f);
        assert_eq!((f["price"], f["price2"], f["trigger"]), ("+2.5%", "-100", "index"));
        assert_eq!((f["close[ordertype]"], f["close[price]"], f["close[price2]"]), ("stop-loss-limit", "+5%", "29000"));
        let cash = J::parse(r#"{"order_type":"market","side":"buy","cash_order_qty":100.5,"symbol":"X"}"#).unwrap();
        let f = add_order(&cash, &pair).unwrap();
        assert_eq!((fields(&f)["volume"], fields(&f)["oflags"]), ("100.5", "viqc"));
        let both = J::parse(r#"{"order_qty":1,"cash_order_qty":1}"#).unwrap();
        assert_eq!(add_order(&both, &pair).unwrap_err(), "EGeneral:Invalid arguments:cash_order_qty");
        let bad_stp = J::parse(r#"{"stp_type":"cancel-newest"}"#).unwrap();
        assert_eq!(add_order(&bad_stp, &pair).unwrap_err(), "EGeneral:Invalid arguments:stp_type");
        let limit_trig = J::parse(r#"{"order_type":"limit","triggers":{"price":1}}"#).unwrap();
        assert!(add_order(&limit_trig, &pair).is_err());
    }

    #[test]
    fn cancel_identifiers() {
        let ids = |s: &str| cancel_ids(&J::parse(s).unwrap());
        assert_eq!(ids(r#"{"order_id":["A","B"]}"#), Ok(CancelIds::Orders(vec!["A".into(), "B".into()])));
        assert_eq!(ids(r#"{"order_userref":[7,-2]}"#), Ok(CancelIds::UserRefs(vec![7, -2])));
        assert_eq!(ids(r#"{"cl_ord_id":["x"]}"#), Ok(CancelIds::ClOrdIds(vec!["x".into()])));
        assert!(ids(r#"{"order_id":["A"],"cl_ord_id":["x"]}"#).is_err());
        assert!(ids(r#"{}"#).is_err());
        assert!(ids(r#"{"order_userref":[1.5]}"#).is_err());
        let b = batch_cancel(&J::parse(r#"{"orders":["OA-B-C",12],"cl_ord_id":["k"]}"#).unwrap()).unwrap();
        assert_eq!(fields(&b)["orders"], "OA-B-C,12");
        assert_eq!(fields(&b)["cl_ord_ids"], "k");
    }

    #[test]
    fn batch_and_amend() {
        let j = J::parse(
            r#"{"symbol":"BTC/USD","validate":true,"orders":[
                {"order_type":"limit","side":"buy","order_qty":1,"limit_price":10,"order_userref":3},
                {"order_type":"limit","side":"sell","order_qty":2,"limit_price":20,"conditional":{"order_type":"limit","limit_price":15}}]}"#,
        )
        .unwrap();
        let (t, orders) = batch_add(&j, &pair).unwrap();
        let p = t.params().unwrap();
        assert_eq!(p.get("pair"), Some("XBTUSD"));
        let parsed = p.objects("orders").unwrap().unwrap();
        assert_eq!(parsed[0].get("userref"), Some("3"));
        assert_eq!(parsed[1].get("close[price]"), Some("15"));
        assert_eq!(orders.len(), 2);
        let a = amend_order(&J::parse(r#"{"order_id":"O1","order_qty":0.5,"limit_price":1.25,"post_only":true}"#).unwrap()).unwrap();
        let f = fields(&a);
        assert_eq!((f["txid"], f["order_qty"], f["limit_price"], f["post_only"]), ("O1", "0.5", "1.25", "true"));
        assert_eq!(a.error(&KrakenError::invalid("txid")), "EGeneral:Invalid arguments:order_id");
        let e = edit_order(&J::parse(r#"{"order_id":"O1","symbol":"BTC/USD","order_qty":3,"limit_price":9}"#).unwrap(), &pair).unwrap();
        let f = fields(&e);
        assert_eq!((f["txid"], f["pair"], f["volume"], f["price"]), ("O1", "XBTUSD", "3", "9"));
    }
}
