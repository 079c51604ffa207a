//! AddOrder's flags and options beyond the core fields, parsed and checked as Kraken does:
//! `oflags` (post, fcib, fciq, nompp, viqc), iceberg `displayvol`, `timeinforce` with
//! `expiretm`, `starttm`, `deadline`, and the margin parameters a spot account is refused.
//! Times are read against the request path's clock (`+n` is n seconds from now); the engine
//! checks expiry and start again at the time it applies the order, and the `deadline` is checked
//! again then (`EService:Deadline elapsed`, refused before anything is logged).

use crate::api::params::Params;
use crate::engine::markets::Pair;
use crate::engine::order::{OrderKind, TimeInForce};
use crate::error::KrakenError;
use crate::money::parse_units;

const NS: u64 = 1_000_000_000;
/// Kraken's `deadline` may be at most this far ahead.
pub const DEADLINE_MAX_NS: u64 = 60 * NS;
/// The latest time `starttm`/`expiretm` may name (year 9999), so that no sum overflows.
const MAX_TIME_S: u64 = 253_402_300_799;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct OrderFlags {
    pub post_only: bool,
    pub fee_in_base: bool,
    pub viqc: bool,
}

/// `oflags`: a comma list of post, fcib, fciq, nompp (accepted, ignored: Kraken deprecated it),
/// viqc. fcib with fciq is contradictory.
pub fn oflags(p: &Params) -> Result<OrderFlags, KrakenError> {
    let mut f = OrderFlags::default();
    let mut fciq = false;
    for flag in p.list("oflags", 8)? {
        match flag.as_str() {
            "post" => f.post_only = true,
            "fcib" => f.fee_in_base = true,
            "fciq" => fciq = true,
            "nompp" => {}
            "viqc" => f.viqc = true,
            _ => return Err(KrakenError::invalid("oflags")),
        }
    }
    if f.fee_in_base && fciq {
        return Err(KrakenError::invalid("oflags"));
    }
    Ok(f)
}

/// `ordertype=iceberg`, or `displayvol` on a limit order: the display volume in base units. At
/// least 1/15 of the volume (Kraken's rule), at most all of it, whole lots.
pub fn display_volume(p: &Params, pair: &Pair, kind: OrderKind, volume: i128) -> Result<(OrderKind, Option<i128>), KrakenError> {
    let text = p.text("displayvol").filter(|t| !t.is_empty());
    let kind = match (kind, text) {
        (OrderKind::Limit | OrderKind::Iceberg, Some(_)) => OrderKind::Iceberg,
        (OrderKind::Iceberg, None) | (_, Some(_)) => return Err(KrakenError::invalid("displayvol")),
        (kind, None) => return Ok((kind, None)),
    };
    let text = text.expect("matched above");
    let d = parse_units(text, pair.lot_decimals).ok_or_else(|| KrakenError::invalid("displayvol"))? * pair.lot_step();
    if d <= 0 || d > volume || d * crate::engine::order_flags::ICEBERG_MIN_FRACTION < volume {
        return Err(KrakenError::invalid("displayvol"));
    }
    Ok((kind, Some(d)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub time_in_force: TimeInForce,
    pub expire_ns: Option<u64>,
    pub start_ns: Option<u64>,
}

/// `timeinforce` (GTC, IOC, GTD), `expiretm` and `starttm` (`0` or absent: none/now, `+n`: n
/// seconds from now, else a unix time). GTD needs an expiry after now and after the start; an
/// `expiretm` without `timeinforce` is GTD (Kraken's older API had no `timeinforce`); with GTC
/// or IOC it is refused. A start in the past is now.
pub fn timing(p: &Params, now_ns: u64) -> Result<Timing, KrakenError> {
    let tif = match p.text("timeinforce").map(|s| s.to_ascii_uppercase()) {
        None => None,
        Some(s) if s == "GTC" => Some(TimeInForce::Gtc),
        Some(s) if s == "IOC" => Some(TimeInForce::Ioc),
        Some(s) if s == "GTD" => Some(TimeInForce::Gtd),
        Some(_) => return Err(KrakenError::invalid("timeinforce")),
    };
    let start_ns = time_param(p, "starttm", now_ns)?.filter(|s| *s > now_ns);
    let expire_ns = time_param(p, "expiretm", now_ns)?;
    let time_in_force = match (tif, expire_ns) {
        (None | Some(TimeInForce::Gtd), Some(_)) => TimeInForce::Gtd,
        (Some(TimeInForce::Gtd), None) | (Some(_), Some(_)) => return Err(KrakenError::invalid("expiretm")),
        (tif, None) => tif.unwrap_or(TimeInForce::Gtc),
    };
    if let Some(at) = expire_ns {
        if at <= now_ns.max(start_ns.unwrap_or(0)) {
            return Err(KrakenError::invalid("expiretm"));
        }
    }
    Ok(Timing { time_in_force, expire_ns, start_ns })
}

fn time_param(p: &Params, name: &str, now_ns: u64) -> Result<Option<u64>, KrakenError> {
    let Some(text) = p.text(name).map(str::trim).filter(|t| !t.is_empty() && *t != "0") else { return Ok(None) };
    let bad = || KrakenError::invalid(name);
    let (relative, digits) = match text.strip_prefix('+') {
        Some(d) => (true, d),
        None => (false, text),
    };
    if digits.is_empty() || digits.len() > 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let secs: u64 = digits.parse().map_err(|_| bad())?;
    let at = if relative { now_ns / NS + secs } else { secs };
    if at > MAX_TIME_S {
        return Err(bad());
    }
    Ok(Some(if relative { now_ns + secs * NS } else { secs * NS }))
}

/// `deadline`: an RFC 3339 time at most 60 s ahead; already past is Kraken's
/// `EService:Deadline elapsed`. The engine checks it again when it applies the order.
pub fn deadline(p: &Params, now_ns: u64) -> Result<Option<u64>, KrakenError> {
    let Some(text) = p.text("deadline").filter(|t| !t.is_empty()) else { return Ok(None) };
    let at = crate::calendar::parse_rfc3339(text.trim()).ok_or_else(|| KrakenError::invalid("deadline"))?;
    if at < now_ns {
        return Err(KrakenError::DeadlineElapsed);
    }
    if at > now_ns + DEADLINE_MAX_NS {
        return Err(KrakenError::invalid("deadline"));
    }
    Ok(Some(at))
}

/// The margin parameters on a spot account: `leverage` other than `none` is a margin order,
/// which Calamari's accounts are not eligible for (`EOrder:Cannot open position`); a
/// `reduce_only` order has no position to reduce (`EOrder:Reduce only:No position exists`).
pub fn margin(p: &Params) -> Result<(), KrakenError> {
    if let Some(l) = p.text("leverage").filter(|l| !l.eq_ignore_ascii_case("none")) {
        let n = l.strip_suffix(":1").unwrap_or(l);
        return match n.parse::<u32>() {
            Ok(n) if n >= 1 => Err(KrakenError::CannotOpenPosition),
            _ => Err(KrakenError::invalid("leverage")),
        };
    }
    if p.flag("reduce_only")? {
        return Err(KrakenError::ReduceOnlyNoPosition);
    }
    Ok(())
}
