//! AddOrder's price fields: `price` and `price2` in Kraken's absolute and relative forms
//! (`+`, `-`, `#` prefixes, `%` suffix), `trigger`, and the conditional close
//! (`close[ordertype]`, `close[price]`, `close[price2]`), checked against the order type as
//! Kraken checks them. Relative prices are kept relative: the engine resolves them against the
//! last trade at the order's place in the log.

use crate::api::params::Params;
use crate::engine::markets::Pair;
use crate::engine::order::{CloseOrder, Offset, OffsetSign, OrderKind, Trigger};
use crate::error::KrakenError;
use crate::money::parse_units;

/// A price field as given: absolute (ticks) or relative.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PriceField {
    Absolute(u64),
    Relative(Offset),
}

/// The price fields of an order, parsed and checked against its kind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Prices {
    pub price: u64,
    pub price_offset: Option<Offset>,
    pub price2: u64,
    pub price2_offset: Option<Offset>,
    pub trigger: Trigger,
    pub close: Option<CloseOrder>,
}

/// An absolute price in ticks, with Kraken's refusals (too many decimals, tick size, bounds).
pub fn absolute_price(pair: &Pair, text: &str, field: &str) -> Result<u64, KrakenError> {
    let ticks = parse_units(text, pair.pair_decimals).ok_or_else(|| {
        // A well-formed decimal with too many places; anything else ("1..5") is not a price.
        let (int, frac) = text.split_once('.').unwrap_or((text, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if text.contains('.') && digits(int) && digits(frac) && frac.trim_end_matches('0').len() > pair.pair_decimals as usize {
            KrakenError::InvalidPrice(Some(format!("{} price can only be specified up to {} decimals.", pair.altname, pair.pair_decimals)))
        } else {
            KrakenError::invalid(field)
        }
    })?;
    if ticks <= 0 || ticks > crate::engine::MAX_PRICE as i128 {
        return Err(KrakenError::invalid(field));
    }
    let ticks = ticks as u64;
    if !ticks.is_multiple_of(pair.tick) {
        return Err(KrakenError::TickSizeCheckFailed);
    }
    Ok(ticks)
}

/// `+100`, `-2.5%`, `#50`, or a plain price.
pub fn price_field(pair: &Pair, text: &str, field: &str) -> Result<PriceField, KrakenError> {
    let (sign, rest) = match text.as_bytes().first() {
        Some(b'+') => (OffsetSign::Plus, &text[1..]),
        Some(b'-') => (OffsetSign::Minus, &text[1..]),
        Some(b'#') => (OffsetSign::Auto, &text[1..]),
        _ if text.ends_with('%') => return Err(KrakenError::invalid(field)),
        _ => return absolute_price(pair, text, field).map(PriceField::Absolute),
    };
    let bad = || KrakenError::invalid(field);
    let (number, percent) = match rest.strip_suffix('%') {
        Some(n) => (n, true),
        None => (rest, false),
    };
    if number.is_empty() || number.starts_with(['+', '-']) {
        return Err(bad());
    }
    let value = if percent {
        // Parts per million of the price: four decimals of a percent.
        let v = parse_units(number, 4).ok_or_else(bad)?;
        if !(0..=1_000_000).contains(&v) {
            return Err(bad());
        }
        v as u64
    } else {
        let v = parse_units(number, pair.pair_decimals).ok_or_else(bad)?;
        if v < 0 || v > crate::engine::MAX_PRICE as i128 || !(v as u64).is_multiple_of(pair.tick) {
            return Err(bad());
        }
        v as u64
    };
    Ok(PriceField::Relative(Offset { sign, value, percent }))
}

fn split(f: PriceField) -> (u64, Option<Offset>) {
    match f {
        PriceField::Absolute(p) => (p, None),
        PriceField::Relative(o) => (0, Some(o)),
    }
}

/// `price` and `price2` of an order (or a close) of `kind`; `prefix` names the fields in errors.
fn prices_of(pair: &Pair, kind: OrderKind, price: Option<&str>, price2: Option<&str>, names: [&str; 2]) -> Result<Prices, KrakenError> {
    let mut out = Prices::default();
    if kind == OrderKind::Market {
        // Kraken ignores a market order's price; a price2 is refused like on a limit order.
        if price2.is_some() {
            return Err(KrakenError::invalid(names[1]));
        }
        return Ok(out);
    }
    let text = price.ok_or_else(|| KrakenError::invalid(names[0]))?;
    let field = price_field(pair, text, names[0])?;
    if kind.is_trailing() {
        // A trailing offset must be `+n` or `+n%`.
        match field {
            PriceField::Relative(o) if o.sign == OffsetSign::Plus => {}
            _ => return Err(KrakenError::invalid(names[0])),
        }
    }
    (out.price, out.price_offset) = split(field);
    match (kind.has_limit2(), price2) {
        (false, Some(_)) => return Err(KrakenError::invalid(names[1])),
        (false, None) => {}
        (true, None) => return Err(KrakenError::invalid(names[1])),
        (true, Some(text)) => {
            let field = price_field(pair, text, names[1])?;
            if kind.is_trailing() {
                // The limit's offset from the trigger: `+n`/`-n`, with or without `%`.
                match field {
                    PriceField::Relative(o) if o.sign != OffsetSign::Auto => {}
                    _ => return Err(KrakenError::invalid(names[1])),
                }
            }
            (out.price2, out.price2_offset) = split(field);
        }
    }
    Ok(out)
}

/// The price fields, `trigger` and the conditional close of an AddOrder request.
pub fn parse_prices(pair: &Pair, kind: OrderKind, p: &Params) -> Result<Prices, KrakenError> {
    let mut out = prices_of(pair, kind, p.text("price"), p.text("price2"), ["price", "price2"])?;
    out.trigger = match p.text("trigger") {
        None => Trigger::Last,
        Some(_) if !kind.is_triggered() => return Err(KrakenError::invalid("trigger")),
        Some("last") => Trigger::Last,
        Some("index") => Trigger::Index,
        Some(_) => return Err(KrakenError::invalid("trigger")),
    };
    let close_kind = p.text("close[ordertype]");
    out.close = match close_kind {
        None => {
            if p.text("close[price]").is_some() || p.text("close[price2]").is_some() {
                return Err(KrakenError::invalid("close[ordertype]"));
            }
            None
        }
        Some(k) => {
            let kind = OrderKind::parse(k).filter(|k| *k != OrderKind::Market).ok_or_else(|| KrakenError::invalid("close[ordertype]"))?;
            let c = prices_of(pair, kind, p.text("close[price]"), p.text("close[price2]"), ["close[price]", "close[price2]"])?;
            Some(CloseOrder { kind, price: c.price, price2: c.price2, price_offset: c.price_offset, price2_offset: c.price2_offset })
        }
    };
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::engine::markets::Markets;

    #[test]
    fn relative_forms() {
        let m = Markets::from_config(&Config::builtin()).unwrap();
        let pair = m.pair(m.pair_by_name("XBTUSD").unwrap());
        let rel = |t| price_field(pair, t, "price").unwrap();
        assert_eq!(rel("+50%"), PriceField::Relative(Offset { sign: OffsetSign::Plus, value: 500_000, percent: true }));
        assert_eq!(rel("-1.5"), PriceField::Relative(Offset { sign: OffsetSign::Minus, value: 15, percent: false }));
        assert_eq!(rel("#100"), PriceField::Relative(Offset { sign: OffsetSign::Auto, value: 1000, percent: false }));
        assert_eq!(rel("30000"), PriceField::Absolute(300_000));
        for bad in ["+", "+-5", "5%", "+101%", "+1.23"] {
            assert!(price_field(pair, bad, "price").is_err(), "{bad}");
        }
    }
}
