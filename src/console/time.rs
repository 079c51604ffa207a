//! Dates on the console's pages: unix seconds shown as UTC (`2026-12-01 10:41:24`) and read back
//! from the browser's `datetime-local` inputs (`2026-12-01T10:41`, taken as UTC) or as plain unix
//! seconds (civil dates from `crate::calendar`).

use crate::calendar::{civil_from_days, days_from_civil};

/// `YYYY-MM-DDTHH:MM` (the `datetime-local` value) of unix seconds; "" for 0.
pub fn input_value(secs: i64) -> String {
    if secs <= 0 {
        return String::new();
    }
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}", s / 3600, s % 3600 / 60)
}

/// `YYYY-MM-DD HH:MM:SS` UTC of unix seconds; "never" for 0.
pub fn display(secs: i64) -> String {
    if secs <= 0 {
        return "never".into();
    }
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60)
}

/// Unix seconds of a `datetime-local` value (UTC) or of plain digits; 0 for an empty field.
pub fn parse(text: &str) -> Result<i64, String> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(0);
    }
    if t.bytes().all(|b| b.is_ascii_digit()) && t.len() <= 12 {
        return t.parse().map_err(|_| format!("{t:?} is not a time"));
    }
    let bad = || format!("{t:?} is not a time (YYYY-MM-DDTHH:MM, UTC)");
    let (date, clock) = t.split_once(['T', ' ']).unwrap_or((t, "00:00"));
    let num = |s: &str| s.parse::<i64>().map_err(|_| bad());
    let d: Vec<&str> = date.split('-').collect();
    let c: Vec<&str> = clock.split(':').collect();
    if d.len() != 3 || !(2..=3).contains(&c.len()) {
        return Err(bad());
    }
    let (y, mo, da) = (num(d[0])?, num(d[1])?, num(d[2])?);
    let (h, mi, s) = (num(c[0])?, num(c[1])?, if c.len() == 3 { num(c[2])? } else { 0 });
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&mo) || !(1..=31).contains(&da) || h > 23 || mi > 59 || s > 59 {
        return Err(bad());
    }
    Ok(days_from_civil(y, mo, da) * 86_400 + h * 3600 + mi * 60 + s)
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trips() {
        assert_eq!(super::parse("1970-01-01T00:00"), Ok(0));
        assert_eq!(super::parse("2026-12-01T10:41"), Ok(1_796_121_660));
        assert_eq!(super::input_value(1_796_121_660), "2026-12-01T10:41");
        assert_eq!(super::display(1_796_121_684), "2026-12-01 10:41:24");
        assert_eq!(super::parse("2024-02-29T23:59:59"), Ok(1_709_251_199));
        assert_eq!(super::parse(""), Ok(0));
        assert_eq!(super::parse("1700000000"), Ok(1_700_000_000));
        assert!(super::parse("2026-13-01T00:00").is_err() && super::parse("x").is_err());
    }
}
