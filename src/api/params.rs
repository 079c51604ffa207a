//! Request parameters, however they arrive: query string, form body or JSON body. Kraken's
//! clients send all three (krakenex posts forms even to public endpoints, python-kraken-sdk
//! posts JSON for batch calls, booleans come as `true` or Python's `True`). Everything is
//! bounded: a body over the limit or with too many fields is refused before it is looked at.

use crate::error::KrakenError;
use std::collections::HashMap;

/// Fields in one request: a form-encoded AddOrderBatch of Kraken's 15 orders with every order
/// option (`orders[14][close][price2]` …) stays under it; the body's byte limit bounds the rest.
pub const MAX_FIELDS: usize = 512;
pub const MAX_VALUE_LEN: usize = 8192;

#[derive(Debug, Default, Clone)]
pub struct Params {
    map: HashMap<String, String>,
}

impl Params {
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Result<Params, KrakenError> {
        if pairs.len() > MAX_FIELDS {
            return Err(KrakenError::InvalidArguments(None));
        }
        let mut map = HashMap::with_capacity(pairs.len());
        for (k, v) in pairs {
            if k.len() > 128 || v.len() > MAX_VALUE_LEN {
                return Err(KrakenError::InvalidArguments(None));
            }
            map.insert(k, v);
        }
        Ok(Params { map })
    }

    /// Parses a query string or a form body.
    pub fn from_form(bytes: &[u8]) -> Result<Params, KrakenError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes).map_err(|_| KrakenError::InvalidArguments(None))?;
        Params::from_pairs(pairs)
    }

    /// Parses a JSON object body. Scalars become their text; arrays of scalars become a comma
    /// list (Kraken accepts `"txid": ["A","B"]` and `"txid": "A,B"` alike); an object of scalars
    /// becomes bracketed fields as a form would send them (`"close": {"ordertype": "limit"}` is
    /// `close[ordertype]=limit`); an array of objects (AddOrderBatch's `orders`) stays JSON text,
    /// for the method to read with [`Params::objects`].
    pub fn from_json(bytes: &[u8]) -> Result<Params, KrakenError> {
        let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|_| KrakenError::InvalidArguments(None))?;
        let obj = value.as_object().ok_or(KrakenError::InvalidArguments(None))?;
        Params::from_pairs(flatten(obj)?)
    }

    /// A field holding a JSON array of objects (see [`Params::from_json`]), each as its own
    /// parameters; `None` when the field is absent or is not such an array.
    pub fn objects(&self, name: &str) -> Option<Result<Vec<Params>, KrakenError>> {
        let text = self.text(name)?;
        let items: Vec<serde_json::Value> = serde_json::from_str(text).ok()?;
        Some(
            items
                .iter()
                .map(|item| item.as_object().ok_or_else(|| KrakenError::invalid(name)).and_then(|o| Params::from_pairs(flatten(o)?)))
                .collect(),
        )
    }

    /// Parses a body by its content type (JSON when it says so or looks like an object).
    pub fn from_body(content_type: Option<&str>, body: &[u8]) -> Result<Params, KrakenError> {
        let is_json = content_type.is_some_and(|c| c.trim().to_ascii_lowercase().starts_with("application/json"))
            || body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
        if is_json {
            Params::from_json(body)
        } else {
            Params::from_form(body)
        }
    }

    /// Adds fields from another source without overriding (query string beside a body).
    pub fn merge_missing(&mut self, other: Params) {
        for (k, v) in other.map {
            self.map.entry(k).or_insert(v);
        }
    }

    /// Every field, in no particular order (for the fuzz targets' checks).
    pub(crate) fn fields(&self) -> impl Iterator<Item = (&str, &str)> {
        self.map.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Sets a field (AddOrderBatch gives each order the batch's `pair`).
    pub fn set(&mut self, name: &str, value: &str) {
        self.map.insert(name.to_string(), value.to_string());
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.map.get(name).map(|s| s.as_str())
    }

    /// A present, non-empty field.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|s| !s.is_empty())
    }

    pub fn required(&self, name: &str) -> Result<&str, KrakenError> {
        self.text(name).ok_or_else(|| KrakenError::invalid(name))
    }

    /// Kraken's booleans in every spelling clients use: true/false, True/False, 1/0.
    pub fn flag(&self, name: &str) -> Result<bool, KrakenError> {
        match self.text(name) {
            None => Ok(false),
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Ok(true),
                "false" | "0" | "no" => Ok(false),
                _ => Err(KrakenError::invalid(name)),
            },
        }
    }

    pub fn int<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, KrakenError> {
        match self.text(name) {
            None => Ok(None),
            Some(v) => v.parse::<T>().map(Some).map_err(|_| KrakenError::invalid(name)),
        }
    }

    /// A comma-separated list (bounded).
    pub fn list(&self, name: &str, max: usize) -> Result<Vec<String>, KrakenError> {
        let Some(v) = self.text(name) else { return Ok(vec![]) };
        let items: Vec<String> = v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
        if items.len() > max {
            return Err(KrakenError::invalid(name));
        }
        Ok(items)
    }
}

/// One JSON object's fields as form fields (see [`Params::from_json`]).
fn flatten(obj: &serde_json::Map<String, serde_json::Value>) -> Result<Vec<(String, String)>, KrakenError> {
    let mut pairs = Vec::with_capacity(obj.len());
    for (k, v) in obj {
        match v {
            serde_json::Value::Object(inner) => {
                for (ik, iv) in inner {
                    let text = if iv.is_object() { None } else { json_text(iv) };
                    pairs.push((format!("{k}[{ik}]"), text.ok_or_else(|| KrakenError::invalid(k))?));
                }
            }
            serde_json::Value::Array(items) if items.iter().any(|i| i.is_object()) => {
                if !items.iter().all(|i| i.is_object()) {
                    return Err(KrakenError::invalid(k));
                }
                pairs.push((k.clone(), v.to_string()));
            }
            _ => pairs.push((k.clone(), json_text(v).ok_or_else(|| KrakenError::invalid(k))?)),
        }
    }
    Ok(pairs)
}

fn json_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        serde_json::Value::Null => Some(String::new()),
        serde_json::Value::Array(items) => {
            let parts: Option<Vec<String>> =
                items.iter().map(|i| if i.is_array() || i.is_object() { None } else { json_text(i) }).collect();
            parts.map(|p| p.join(","))
        }
        serde_json::Value::Object(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_json_and_booleans() {
        let p = Params::from_body(Some("application/x-www-form-urlencoded; charset=utf-8"), b"validate=False&pair=XBTUSD&nonce=1").unwrap();
        assert!(!p.flag("validate").unwrap());
        assert_eq!(p.get("pair"), Some("XBTUSD"));
        let j = Params::from_body(Some("application/json"), br#"{"nonce":"17","validate":true,"txid":["A","B"],"n":5}"#).unwrap();
        assert_eq!(j.get("nonce"), Some("17"));
        assert!(j.flag("validate").unwrap());
        assert_eq!(j.list("txid", 50).unwrap(), vec!["A", "B"]);
        assert_eq!(j.get("n"), Some("5"));
        assert!(Params::from_body(None, b"{not json").is_err());
        let nested =
            Params::from_body(None, br#"{"close":{"ordertype":"limit","price":"1"},"orders":[{"type":"buy"},{"type":"sell"}]}"#).unwrap();
        assert_eq!(nested.get("close[ordertype]"), Some("limit"));
        let orders = nested.objects("orders").unwrap().unwrap();
        assert_eq!(orders.iter().map(|o| o.get("type").unwrap()).collect::<Vec<_>>(), ["buy", "sell"]);
        assert!(Params::from_body(None, br#"{"a":{"b":{"c":1}}}"#).is_err());
        assert!(Params::from_body(None, br#"{"a":[{"b":1},2]}"#).is_err());
        // One level of nesting reads as the form spelling (`close[ordertype]`); more is refused.
        assert_eq!(Params::from_body(None, br#"{"a":{"b":1}}"#).unwrap().get("a[b]"), Some("1"));
        let fields = |n: usize| -> String { (0..n).map(|i| format!("k{i}=v&")).collect() };
        assert!(Params::from_form(fields(MAX_FIELDS).as_bytes()).is_ok());
        assert!(Params::from_form(fields(MAX_FIELDS + 1).as_bytes()).is_err());
    }
}
