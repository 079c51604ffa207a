//! Target: the request body parser (`api::params`), form and JSON, against references: a
//! hand-written form decoder and serde_json's own value tree.

use super::assert_kraken_error;
use crate::api::params::{Params, MAX_FIELDS, MAX_VALUE_LEN};
use crate::error::KrakenError;
use serde_json::Value;
use std::collections::BTreeMap;

type Parsed = Result<Params, KrakenError>;

/// The input is a request body. It is parsed as a form, as JSON and by content-type sniffing;
/// each must agree with its reference, and the typed getters must keep their promises.
pub fn request_body(data: &[u8]) {
    let form = Params::from_form(data);
    check_form(data, &form);
    let json = Params::from_json(data);
    check_json(data, &json);
    let looks_json = data.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    let sniffed = if looks_json { &json } else { &form };
    assert_eq!(fields(&Params::from_body(None, data)), fields(sniffed), "no content type");
    assert_eq!(fields(&Params::from_body(Some("application/x-www-form-urlencoded"), data)), fields(sniffed), "form content type");
    assert_eq!(fields(&Params::from_body(Some(" Application/JSON; charset=utf-8"), data)), fields(&json), "JSON content type");
    for p in [&form, &json].into_iter().flatten() {
        check_getters(p);
    }
}

/// The fields of a parse, sorted, or its error.
fn fields(r: &Parsed) -> Result<BTreeMap<String, String>, KrakenError> {
    r.as_ref().map(|p| p.fields().map(|(k, v)| (k.to_string(), v.to_string())).collect()).map_err(Clone::clone)
}

/// A form is `&`-separated `key=value` pieces, `+` a space, `%XX` a byte, invalid UTF-8 replaced;
/// the last of repeated keys wins. It is refused only for too many pieces or oversized ones.
fn check_form(data: &[u8], got: &Parsed) {
    let pairs = reference_form(data);
    let too_big = pairs.len() > MAX_FIELDS || pairs.iter().any(|(k, v)| k.len() > 128 || v.len() > MAX_VALUE_LEN);
    match got {
        Err(e) => assert!(too_big && *e == KrakenError::InvalidArguments(None), "form refused with {e:?}"),
        Ok(_) => {
            assert!(!too_big, "oversized form accepted");
            let want: BTreeMap<String, String> = pairs.into_iter().collect();
            assert_eq!(fields(got).unwrap(), want, "form fields");
            // Re-encoding what was read and parsing it again gives the same fields.
            let again = Params::from_form(serde_urlencoded::to_string(&want).unwrap().as_bytes());
            assert_eq!(fields(&again).as_ref(), Ok(&want), "form round trip");
        }
    }
}

fn reference_form(data: &[u8]) -> Vec<(String, String)> {
    let decode = |s: &[u8]| {
        let (mut out, mut i) = (Vec::with_capacity(s.len()), 0);
        while i < s.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            match s[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < s.len() && hex(s[i + 1]).is_some() && hex(s[i + 2]).is_some() => {
                    out.push((hex(s[i + 1]).unwrap() * 16 + hex(s[i + 2]).unwrap()) as u8);
                    i += 2;
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    data.split(|b| *b == b'&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| match piece.iter().position(|b| *b == b'=') {
            Some(i) => (decode(&piece[..i]), decode(&piece[i + 1..])),
            None => (decode(piece), String::new()),
        })
        .collect()
}

/// A JSON body must be an object; strings are read as they are, numbers, booleans and null as
/// their JSON text ("" for null), arrays of scalars as a comma list; an object of such values
/// becomes bracketed fields (`"close": {"price": "1"}` is `close[price]`), an array of objects
/// stays JSON text (AddOrderBatch's `orders`); anything nested deeper, or an array mixing
/// objects with other values, refuses the request naming its field.
fn check_json(data: &[u8], got: &Parsed) {
    let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(data) else {
        assert_eq!(got.as_ref().err(), Some(&KrakenError::InvalidArguments(None)), "not a JSON object");
        return;
    };
    let deep = |v: &Value| v.is_object() || v.as_array().is_some_and(|items| items.iter().any(|i| i.is_array() || i.is_object()));
    let refused = |v: &Value| match v {
        Value::Object(inner) => inner.values().any(deep),
        Value::Array(items) => {
            items.iter().any(Value::is_array) || (items.iter().any(Value::is_object) && !items.iter().all(Value::is_object))
        }
        _ => false,
    };
    if let Some((k, _)) = obj.iter().find(|(_, v)| refused(v)) {
        assert_eq!(got.as_ref().err(), Some(&KrakenError::invalid(k)), "nested value in {k:?}");
        return;
    }
    // The fields the body stands for, in order.
    let mut pairs: Vec<(String, &Value)> = Vec::new();
    for (k, v) in &obj {
        match v {
            Value::Object(inner) => pairs.extend(inner.iter().map(|(ik, iv)| (format!("{k}[{ik}]"), iv))),
            _ => pairs.push((k.clone(), v)),
        }
    }
    let p = match got {
        Err(e) => {
            let too_big = pairs.len() > MAX_FIELDS || pairs.iter().any(|(k, v)| k.len() > 128 || text_len(v) > MAX_VALUE_LEN);
            assert!(too_big && *e == KrakenError::InvalidArguments(None), "JSON object refused with {e:?}");
            return;
        }
        Ok(p) => p,
    };
    let distinct: std::collections::BTreeSet<&String> = pairs.iter().map(|(k, _)| k).collect();
    assert_eq!(p.fields().count(), distinct.len(), "one field per key");
    for (k, v) in &pairs {
        let text = p.get(k).unwrap_or_else(|| panic!("field {k:?} lost"));
        if pairs.iter().filter(|(other, _)| other == k).count() > 1 {
            continue; // `a[b]` given twice (nested and literally): the last one is kept
        }
        match v {
            Value::String(s) => assert_eq!(text, s),
            Value::Null => assert_eq!(text, ""),
            Value::Bool(b) => assert_eq!(text, b.to_string()),
            Value::Number(_) => assert_eq!(serde_json::from_str::<Value>(text).ok().as_ref(), Some(*v), "number {k:?}"),
            Value::Array(items) if items.iter().all(|i| i.as_str().is_some_and(|s| !s.contains(','))) => {
                let want: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
                assert_eq!(text, want.join(","), "list {k:?}");
            }
            Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_object) => {
                assert_eq!(serde_json::from_str::<Value>(text).ok().as_ref(), Some(*v), "objects {k:?}");
                // Read one by one by the method that takes them (deeper nesting is refused there).
                if let Some(Ok(objects)) = p.objects(k) {
                    assert_eq!(objects.len(), items.len(), "objects {k:?}");
                }
                assert!(p.objects(k).is_some(), "objects {k:?} not readable as such");
            }
            _ => {}
        }
    }
}

/// The length of a scalar or list value's text.
fn text_len(v: &Value) -> usize {
    match v {
        Value::Array(items) if items.iter().any(Value::is_object) => v.to_string().len(),
        Value::String(s) => s.len(),
        Value::Null => 0,
        Value::Array(items) => items.iter().map(text_len).sum::<usize>() + items.len().saturating_sub(1),
        other => other.to_string().len(),
    }
}

/// What the handlers rely on: booleans only from their spellings, lists bounded and without
/// empty items, numbers only when they parse, and every refusal names its field.
fn check_getters(p: &Params) {
    for (k, v) in p.fields() {
        assert_eq!(p.get(k), Some(v));
        let trimmed = v.trim();
        assert_eq!(p.text(k), Some(trimmed).filter(|t| !t.is_empty()));
        let named = |e: KrakenError| {
            assert_kraken_error(&e);
            assert_eq!(e, KrakenError::invalid(k), "refusal names its field");
        };
        match p.flag(k) {
            Ok(true) => assert!(["true", "1", "yes"].contains(&trimmed.to_ascii_lowercase().as_str()), "{v:?} read as true"),
            Ok(false) => assert!(["", "false", "0", "no"].contains(&trimmed.to_ascii_lowercase().as_str()), "{v:?} read as false"),
            Err(e) => named(e),
        }
        match p.list(k, 8) {
            Ok(items) => assert!(items.len() <= 8 && items.iter().all(|i| !i.is_empty() && !i.contains(',') && i.trim() == i)),
            Err(e) => named(e),
        }
        match p.int::<u64>(k) {
            Ok(Some(n)) => assert_eq!(trimmed.parse::<u64>().ok(), Some(n)),
            Ok(None) => assert!(trimmed.is_empty()),
            Err(e) => named(e),
        }
    }
}
