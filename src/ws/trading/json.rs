//! A request's JSON with every number kept as the text the client wrote (serde_json's
//! `RawValue`), so that `order_qty: 0.12345678` reaches REST's decimal parser as `0.12345678`,
//! never through a float; exponent forms (`1e-08`, as Python's `json` writes small floats) are
//! shifted into plain decimals by text.

use serde_json::value::RawValue;
use std::collections::BTreeMap;

/// A JSON value whose numbers keep their text.
#[derive(Debug, Clone, PartialEq)]
pub enum J {
    Num(String),
    Str(String),
    Bool(bool),
    Null,
    Arr(Vec<J>),
    Obj(BTreeMap<String, J>),
}

impl J {
    /// Parses JSON text, numbers kept as written.
    pub fn parse(text: &str) -> Option<J> {
        let raw: &RawValue = serde_json::from_str(text).ok()?;
        J::from_raw(raw)
    }

    fn from_raw(raw: &RawValue) -> Option<J> {
        let t = raw.get().trim();
        Some(match t.as_bytes().first()? {
            b'{' => {
                let m: BTreeMap<String, &RawValue> = serde_json::from_str(t).ok()?;
                J::Obj(m.into_iter().map(|(k, v)| Some((k, J::from_raw(v)?))).collect::<Option<_>>()?)
            }
            b'[' => {
                let v: Vec<&RawValue> = serde_json::from_str(t).ok()?;
                J::Arr(v.into_iter().map(J::from_raw).collect::<Option<_>>()?)
            }
            b'"' => J::Str(serde_json::from_str(t).ok()?),
            b't' => J::Bool(true),
            b'f' => J::Bool(false),
            b'n' => J::Null,
            _ => J::Num(plain(t)?),
        })
    }

    pub fn get(&self, name: &str) -> Option<&J> {
        match self {
            J::Obj(m) => m.get(name),
            _ => None,
        }
    }

    /// A scalar's text (a number as written, a string, a boolean).
    pub fn text(&self) -> Option<String> {
        match self {
            J::Num(n) => Some(n.clone()),
            J::Str(s) => Some(s.clone()),
            J::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// The texts of an array of scalars (a single scalar as a list of one).
    pub fn texts(&self) -> Option<Vec<String>> {
        match self {
            J::Arr(items) => items.iter().map(J::text).collect(),
            other => other.text().map(|t| vec![t]),
        }
    }
}

/// A JSON number's text as a plain decimal: exponents (`1e-8`, which Python's `json` writes for
/// small floats) shifted into the digits, by text, never through a float.
fn plain(t: &str) -> Option<String> {
    let (mantissa, exp) = match t.find(['e', 'E']) {
        None => return Some(t.to_string()),
        Some(i) => (&t[..i], t[i + 1..].parse::<i32>().ok()?),
    };
    if !(-40..=40).contains(&exp) {
        return None;
    }
    let (sign, m) = mantissa.strip_prefix('-').map_or(("", mantissa), |m| ("-", m));
    let (int, frac) = m.split_once('.').unwrap_or((m, ""));
    let digits = format!("{int}{frac}");
    // The decimal point's place in `digits`, moved by the exponent.
    let point = int.len() as i32 + exp;
    let (int, frac) = if point <= 0 {
        ("0".to_string(), format!("{}{digits}", "0".repeat((-point) as usize)))
    } else if point as usize >= digits.len() {
        (format!("{digits}{}", "0".repeat(point as usize - digits.len())), String::new())
    } else {
        (digits[..point as usize].to_string(), digits[point as usize..].to_string())
    };
    let int = int.trim_start_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let frac = frac.trim_end_matches('0');
    Some(if frac.is_empty() { format!("{sign}{int}") } else { format!("{sign}{int}.{frac}") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_their_text() {
        let j = J::parse(r#"{"a":0.1,"b":123456789.123456789,"c":1e-7,"d":[1,"x",true],"e":{"f":null}}"#).unwrap();
        assert_eq!(j.get("a"), Some(&J::Num("0.1".into())));
        assert_eq!(j.get("b"), Some(&J::Num("123456789.123456789".into())));
        assert_eq!(j.get("c"), Some(&J::Num("0.0000001".into())));
        for (text, want) in
            [("1e-08", "0.00000001"), ("1.5E+3", "1500"), ("-2.25e-1", "-0.225"), ("12.5e1", "125"), ("3e0", "3"), ("7", "7")]
        {
            assert_eq!(plain(text).as_deref(), Some(want), "{text}");
        }
        assert_eq!(plain("1e999"), None);
        assert_eq!(j.get("d").unwrap().texts().unwrap(), ["1", "x", "true"]);
        assert_eq!(j.get("e").unwrap().get("f"), Some(&J::Null));
        assert!(J::parse("{").is_none());
    }
}
