//! Kraken's downloadable history files, both ways. OHLCVT files hold one interval each, one row
//! a candle: `timestamp,open,high,low,close,volume,trades` (unix seconds, no header); time-and-sales
//! files one row a trade: `timestamp,price,volume`. Values become integers of the pair's price and
//! volume units (extra decimals rounded half up); the rows are checked again by the engine.

use crate::engine::history::ImportRows;
use crate::engine::markets::Pair;
use crate::money::{div_round_half_up, format_units, parse_units};

/// A decimal in `decimals` places, rounding any further digits half up.
fn units(text: &str, decimals: u32) -> Option<i128> {
    let t = text.trim();
    if let Some(v) = parse_units(t, decimals) {
        return Some(v);
    }
    let extra = t.split_once('.').map_or(0, |(_, f)| f.len() as u32).saturating_sub(decimals);
    if extra == 0 || extra > 18 {
        return None;
    }
    parse_units(t, decimals + extra).map(|v| div_round_half_up(v, 10i128.pow(extra)))
}

/// Unix time in seconds (an integer, or with a fraction for trades) → nanoseconds.
fn time_ns(text: &str) -> Option<u64> {
    let (secs, frac) = text.trim().split_once('.').unwrap_or((text.trim(), ""));
    let frac = &frac[..frac.len().min(9)];
    if secs.is_empty() || !secs.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let nanos: u64 = if frac.is_empty() { 0 } else { frac.parse::<u64>().ok()? * 10u64.pow(9 - frac.len() as u32) };
    secs.parse::<u64>().ok()?.checked_mul(1_000_000_000)?.checked_add(nanos)
}

/// Parses a file; `interval` (minutes) names an OHLCVT file's interval, otherwise it is taken
/// from the name (`XBTUSD_60.csv`) or from the smallest gap between rows.
pub fn parse(pair: &Pair, text: &str, file_name: &str, interval: Option<u32>) -> Result<ImportRows, String> {
    let rows: Vec<Vec<&str>> =
        text.lines().map(str::trim).filter(|l| !l.is_empty()).map(|l| l.split(',').map(str::trim).collect()).collect();
    let first = rows.first().ok_or("the file has no rows")?;
    let bad = |n: usize, what: &str| format!("row {}: bad {what}", n + 1);
    match first.len() {
        3 => {
            let mut out = Vec::with_capacity(rows.len());
            for (n, r) in rows.iter().enumerate() {
                if r.len() != 3 {
                    return Err(bad(n, "column count (time-and-sales rows have 3)"));
                }
                let t = time_ns(r[0]).ok_or_else(|| bad(n, "timestamp"))?;
                let p = units(r[1], pair.pair_decimals).filter(|p| *p > 0).ok_or_else(|| bad(n, "price"))?;
                let v = units(r[2], pair.base_decimals).filter(|v| *v > 0).ok_or_else(|| bad(n, "volume"))?;
                out.push((t, p as u64, v));
            }
            Ok(ImportRows::Trades(out))
        }
        6 | 7 => {
            let mut out = Vec::with_capacity(rows.len());
            for (n, r) in rows.iter().enumerate() {
                if r.len() != first.len() {
                    return Err(bad(n, "column count (OHLCVT rows have 7)"));
                }
                let t: u64 = r[0].parse().map_err(|_| bad(n, "timestamp"))?;
                let p =
                    |i: usize, what: &str| units(r[i], pair.pair_decimals).filter(|p| *p > 0).map(|p| p as u64).ok_or_else(|| bad(n, what));
                let v = units(r[5], pair.base_decimals).filter(|v| *v >= 0).ok_or_else(|| bad(n, "volume"))?;
                let count = if r.len() == 7 { r[6].parse().map_err(|_| bad(n, "trades"))? } else { 0 };
                out.push((t, p(1, "open")?, p(2, "high")?, p(3, "low")?, p(4, "close")?, v, count));
            }
            let from_name = file_name
                .rsplit_once('_')
                .and_then(|(_, tail)| tail.trim_end_matches(".csv").parse::<u32>().ok())
                .filter(|m| crate::engine::market_data::INTERVALS.contains(&(*m as u64)));
            let from_gaps = out.windows(2).map(|w| w[1].0.saturating_sub(w[0].0)).filter(|g| *g > 0).min().map(|g| (g / 60) as u32);
            let interval = interval.or(from_name).or(from_gaps).ok_or("cannot tell the interval: pass --interval MINUTES")?;
            Ok(ImportRows::Candles { interval, rows: out })
        }
        n => Err(format!("row 1: {n} columns; Kraken's files have 3 (time and sales) or 7 (OHLCVT)")),
    }
}

/// The rows in Kraken's format (what `calamari market export` writes).
pub fn format(pair: &Pair, rows: &ImportRows) -> String {
    let price = |p: u64| format_units(p as i128, pair.pair_decimals);
    let volume = |v: i128| trim(&format_units(v, pair.base_decimals));
    let mut out = String::new();
    match rows {
        ImportRows::Trades(list) => {
            for (t, p, v) in list {
                let secs = trim(&format_units(*t as i128, 9));
                out.push_str(&format!("{secs},{},{}\n", price(*p), volume(*v)));
            }
        }
        ImportRows::Candles { rows, .. } => {
            for (t, o, h, l, c, v, n) in rows {
                out.push_str(&format!("{t},{},{},{},{},{},{n}\n", price(*o), price(*h), price(*l), price(*c), volume(*v)));
            }
        }
    }
    out
}

/// Drops trailing zeros of a fraction (and a bare point).
fn trim(s: &str) -> String {
    if !s.contains('.') {
        return s.to_string();
    }
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::engine::markets::Markets;

    fn xbt() -> Pair {
        let m = Markets::from_config(&Config::builtin()).unwrap();
        m.pair(m.pair_by_name("XBTUSD").unwrap()).clone()
    }

    #[test]
    fn reads_both_formats_and_writes_them_back() {
        let p = xbt();
        let trades = "1796035207,86789.8,0.02839361\n1796035208.25,86790.44,0.1\n";
        let rows = parse(&p, trades, "XBTUSD.csv", None).unwrap();
        // Prices round half up to the pair's decimals; fractional seconds are kept.
        assert_eq!(
            rows,
            ImportRows::Trades(vec![
                (1_796_035_207_000_000_000, 867_898, 283_936_100),
                (1_796_035_208_250_000_000, 867_904, 1_000_000_000)
            ])
        );
        assert_eq!(format(&p, &rows), "1796035207,86789.8,0.02839361\n1796035208.25,86790.4,0.1\n");
        let candles =
            "1793530800,114928.7,115820.5,114667.2,115686.1,14.93862422,450\n1793534400,115686.1,116401.6,115568.1,115937.9,15.87,668\n";
        let rows = parse(&p, candles, "XBTUSD_60.csv", None).unwrap();
        assert!(matches!(&rows, ImportRows::Candles { interval: 60, rows } if rows.len() == 2));
        assert_eq!(format(&p, &rows), candles);
        // The interval from the rows' spacing when the name does not say it.
        assert!(matches!(parse(&p, candles, "history.csv", None).unwrap(), ImportRows::Candles { interval: 60, .. }));
        assert!(parse(&p, "1,2\n", "x.csv", None).unwrap_err().contains("2 columns"));
        assert!(parse(&p, "x,86789.8,0.1\n", "x.csv", None).unwrap_err().contains("timestamp"));
        assert!(parse(&p, "1,-5,0.1\n", "x.csv", None).unwrap_err().contains("price"));
    }
}
