//! Target: order validation (`parse_new_order`) on the built-in markets: an accepted order keeps
//! its pair's rules, a refused one is refused for a reason that holds.

use super::assert_kraken_error;
use super::decimal::reference_units;
use crate::api::params::Params;
use crate::api::private::orders::parse_new_order;
use crate::config::Config;
use crate::engine::markets::{Markets, Pair};
use crate::engine::order::{OrderKind, Side};
use crate::engine::{MAX_PRICE, MAX_VOLUME};
use crate::error::KrakenError;
use std::sync::OnceLock;

fn markets() -> &'static Markets {
    static MARKETS: OnceLock<Markets> = OnceLock::new();
    MARKETS.get_or_init(|| Markets::from_config(&Config::builtin()).expect("built-in markets"))
}

/// The input is an AddOrder body (form or JSON, as the server sniffs it; bodies that do not
/// parse are the body target's business).
///
/// Properties. Accepted: the pair, side and kind are the ones named; the volume is the text's
/// value in base units, a whole number of lots, at least `ordermin`, at most MAX_VOLUME; a limit
/// price is the text's value in ticks, a multiple of `tick_size`, at most MAX_PRICE, and its cost
/// is at least `costmin`; a market order has no price. Refused: a Kraken error, and the minimum,
/// cost, tick and decimals refusals only when that rule is really broken.
pub fn new_order(data: &[u8]) {
    let Ok(p) = Params::from_body(None, data) else { return };
    let m = markets();
    let got = parse_new_order(m, 7, &p);
    let field = |name| p.text(name).unwrap_or_default();
    let pair = m.pair_by_name(field("pair")).map(|i| (i, m.pair(i)));
    let volume = |pair: &Pair| reference_units(field("volume"), pair.base_decimals);
    let price = |pair: &Pair| reference_units(field("price"), pair.pair_decimals);
    let cost = |pair: &Pair, price: i128, volume: i128| price * volume / pair.cost_divisor;
    let plain_limit = matches!(field("ordertype"), "limit" | "iceberg" | "market") && !field("price").starts_with(['+', '-', '#']);
    let viqc = p.list("oflags", 8).is_ok_and(|f| f.iter().any(|f| f == "viqc"));
    let o = match got {
        Err(e) if !plain_limit && !matches!(e, KrakenError::UnknownAssetPair | KrakenError::OrderMinimumNotMet) => {
            return assert_kraken_error(&e);
        }
        Err(e) => {
            assert_kraken_error(&e);
            let ((_, pr), v) = match (&e, pair) {
                (KrakenError::UnknownAssetPair, pair) => return assert!(pair.is_none(), "{:?} is a pair", field("pair")),
                (KrakenError::InvalidArguments(Some(_)), _) => return,
                (KrakenError::CannotOpenPosition, _) => return assert!(!field("leverage").eq_ignore_ascii_case("none")),
                (KrakenError::ReduceOnlyNoPosition, _) => return assert!(p.flag("reduce_only").unwrap_or(false)),
                (KrakenError::CostMinimumNotMet, Some((_, pr))) if viqc => {
                    let spend = reference_units(field("volume"), pr.quote_decimals).expect("volume parsed");
                    return assert!(spend < pr.costmin, "viqc {spend} >= costmin {}", pr.costmin);
                }
                (e, None) => panic!("{e:?} without a pair"),
                (_, Some(pair)) => (pair, volume(pair.1).expect("volume parsed")),
            };
            match e {
                KrakenError::OrderMinimumNotMet => assert!(v < pr.ordermin, "volume {v} >= ordermin {}", pr.ordermin),
                KrakenError::TickSizeCheckFailed => assert_ne!(price(pr).expect("price parsed") % pr.tick as i128, 0),
                KrakenError::CostMinimumNotMet => assert!(cost(pr, price(pr).unwrap(), v) < pr.costmin, "cost met"),
                KrakenError::InvalidPrice(Some(_)) => {
                    let text = field("price");
                    let (int, frac) = text.split_once('.').unwrap_or((text, "-"));
                    let plain = format!("{int}{frac}").bytes().all(|b| b.is_ascii_digit());
                    let places = frac.trim_end_matches('0').len();
                    assert!(plain && places > pr.pair_decimals as usize, "{text:?} refused for its decimals");
                }
                e => panic!("unexpected refusal {e:?}"),
            }
            return;
        }
        Ok(o) => o,
    };
    let (idx, pair) = pair.expect("accepted order names a pair");
    assert_eq!((o.pair, o.account), (idx, 7));
    assert_eq!(o.side, if field("type") == "buy" { Side::Buy } else { Side::Sell });
    assert!(field("type") == "buy" || field("type") == "sell");
    let kind = match field("ordertype") {
        "limit" if o.rare().display_volume.is_none() => OrderKind::Limit,
        "limit" | "iceberg" => OrderKind::Iceberg,
        other => OrderKind::parse(other).expect("an accepted order type"),
    };
    assert_eq!(o.kind, kind);
    assert_eq!(o.quote_volume, viqc);
    if viqc {
        assert_eq!(reference_units(field("volume"), pair.quote_decimals), Some(o.volume), "viqc volume {:?}", field("volume"));
        assert!(o.volume >= pair.costmin && o.volume <= MAX_VOLUME, "viqc volume {}", o.volume);
        return;
    }
    assert_eq!(volume(pair), Some(o.volume), "volume {:?}", field("volume"));
    assert!(o.volume % pair.lot_step() == 0, "volume {} is not whole lots of {}", o.volume, pair.lot_step());
    assert!(o.volume >= pair.ordermin && o.volume > 0 && o.volume <= MAX_VOLUME, "volume {}", o.volume);
    if let Some(d) = o.rare().display_volume {
        assert!(d > 0 && d <= o.volume && d * 15 >= o.volume && d % pair.lot_step() == 0, "display {d} of {}", o.volume);
    }
    match o.kind {
        OrderKind::Market => assert_eq!((o.price, field("ordertype")), (0, "market")),
        OrderKind::Limit | OrderKind::Iceberg if o.rare().price_offset.is_none() => {
            assert_eq!(price(pair), Some(o.price as i128), "price {:?}", field("price"));
            assert!(o.price > 0 && o.price <= MAX_PRICE && o.price % pair.tick == 0, "price {} tick {}", o.price, pair.tick);
            let c = cost(pair, o.price as i128, o.volume);
            assert!(c >= pair.costmin, "cost {c} below costmin {}", pair.costmin);
        }
        _ => {}
    }
    assert_eq!(o.post_only, p.list("oflags", 8).unwrap().iter().any(|f| f == "post"));
}
