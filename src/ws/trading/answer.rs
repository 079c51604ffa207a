//! REST answers as v2 acks' `result`: AddOrder's `txid` list is `order_id` (with the request's
//! `cl_ord_id`/`order_userref` echoed), AmendOrder's `amend_id` comes with the order's
//! identifier as the request named it, EditOrder's `txid`/`originaltxid` are `order_id`/
//! `original_order_id`, AddOrderBatch's `orders` list is the result array in request order.
//! CancelAll, CancelAllOrdersAfter and CancelOrderBatch answer as REST does (`count`,
//! `currentTime`/`triggerTime`).

use super::params::{Translated, J};
use serde_json::{json, Map, Value};

/// The request's own client identifiers, as v2 types them (`order_userref` a number).
fn echo(m: &mut Map<String, Value>, p: &J) {
    if let Some(J::Str(c)) = p.get("cl_ord_id") {
        m.insert("cl_ord_id".into(), json!(c));
    }
    if let Some(r) = p.get("order_userref").and_then(J::text).and_then(|t| t.parse::<i64>().ok()) {
        m.insert("order_userref".into(), json!(r));
    }
}

pub fn add_order(p: &J, rest: &Value) -> Value {
    let mut m = Map::new();
    if let Some(id) = rest["txid"].get(0).and_then(Value::as_str) {
        m.insert("order_id".into(), json!(id));
    }
    echo(&mut m, p);
    Value::Object(m)
}

pub fn amend_order(p: &J, rest: &Value) -> Value {
    let mut m = Map::new();
    m.insert("amend_id".into(), rest["amend_id"].clone());
    match (p.get("order_id").and_then(J::text), p.get("cl_ord_id").and_then(J::text)) {
        (Some(id), _) => m.insert("order_id".into(), json!(id)),
        (None, Some(cl)) => m.insert("cl_ord_id".into(), json!(cl)),
        _ => None,
    };
    Value::Object(m)
}

pub fn edit_order(rest: &Value) -> Value {
    let mut m = Map::new();
    if let Some(id) = rest["txid"].as_str() {
        m.insert("order_id".into(), json!(id));
    }
    m.insert("original_order_id".into(), rest["originaltxid"].clone());
    Value::Object(m)
}

/// One entry per order, in request order: `order_id`, or that order's engine `error`.
pub fn batch_add(orders: &[Translated], rest: &Value) -> Value {
    let empty = vec![];
    let list = rest["orders"].as_array().unwrap_or(&empty);
    let entries = list.iter().zip(orders).map(|(r, o)| {
        let mut m = Map::new();
        if let Some(id) = r["txid"].as_str() {
            m.insert("order_id".into(), json!(id));
        }
        if let Some(e) = r["error"].as_str() {
            m.insert("error".into(), json!(e));
        }
        let field = |name: &str| o.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        if let Some(c) = field("cl_ord_id") {
            m.insert("cl_ord_id".into(), json!(c));
        }
        if let Some(r) = field("userref").and_then(|t| t.parse::<i64>().ok()) {
            m.insert("order_userref".into(), json!(r));
        }
        Value::Object(m)
    });
    Value::Array(entries.collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let p = J::parse(r#"{"cl_ord_id":"c1","order_userref":null}"#).unwrap();
        let r = add_order(&p, &json!({"txid": ["OABCDE-FGHIJ-KLMNOP"], "descr": {"order": "x"}}));
        assert_eq!(r, json!({"order_id": "OABCDE-FGHIJ-KLMNOP", "cl_ord_id": "c1"}));
        let p = J::parse(r#"{"order_userref":42}"#).unwrap();
        assert_eq!(add_order(&p, &json!({"descr": {}})), json!({"order_userref": 42}));
        let p = J::parse(r#"{"cl_ord_id":"c1"}"#).unwrap();
        assert_eq!(amend_order(&p, &json!({"amend_id": "TA"})), json!({"amend_id": "TA", "cl_ord_id": "c1"}));
        assert_eq!(edit_order(&json!({"txid": "ON", "originaltxid": "OO"})), json!({"order_id": "ON", "original_order_id": "OO"}));
        let mut o = Translated::default();
        o.fields.push(("userref".into(), "5".into()));
        let b = batch_add(&[o, Translated::default()], &json!({"orders": [{"txid": "O1"}, {"error": "EOrder:Insufficient funds"}]}));
        assert_eq!(b, json!([{"order_id": "O1", "order_userref": 5}, {"error": "EOrder:Insufficient funds"}]));
    }
}
