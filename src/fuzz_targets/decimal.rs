//! Target: decimal parsing (`money::parse_units`) against a reference written another way (on
//! digit strings, no arithmetic until the end), at every number of decimals an asset or pair uses.

use crate::money::{format_units, parse_units, MAX_UNITS};

/// The input is the decimal text (lossy UTF-8). For every decimals 0..=18: `parse_units` agrees
/// with the reference (accepts exactly what it accepts, at the same value), an accepted value is
/// within 0..=MAX_UNITS, and parse → format → parse is the identity.
pub fn decimal(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for decimals in 0..=18 {
        let got = parse_units(&text, decimals);
        assert_eq!(got, reference_units(&text, decimals), "parse_units({text:?}, {decimals})");
        let Some(units) = got else { continue };
        assert!((0..=MAX_UNITS).contains(&units), "{text:?} at {decimals}: {units} out of range");
        let formatted = format_units(units, decimals);
        assert_eq!(parse_units(&formatted, decimals), Some(units), "{text:?} at {decimals}: format gave {formatted:?}");
        assert_eq!(normalized(&formatted), normalized(text.trim()), "{text:?} at {decimals} formats as {formatted:?}");
        if units > 0 {
            assert_eq!(parse_units(&format_units(-units, decimals), decimals), None, "a negative amount is refused");
        }
    }
}

/// What `parse_units` must return: plain digits with at most one `.`, at most `decimals`
/// significant fractional digits, at most 60 characters after trimming, value at most MAX_UNITS.
pub(crate) fn reference_units(text: &str, decimals: u32) -> Option<i128> {
    let t = text.trim();
    if t.len() > 60 {
        return None;
    }
    let (int_part, frac_part) = t.split_once('.').unwrap_or((t, ""));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if (int_part.is_empty() && frac_part.is_empty()) || !digits(int_part) || !digits(frac_part) {
        return None;
    }
    let significant = frac_part.trim_end_matches('0');
    if significant.len() > decimals as usize {
        return None;
    }
    let all = format!("{int_part}{significant:0<width$}", width = decimals as usize);
    let all = all.trim_start_matches('0');
    let max = MAX_UNITS.to_string();
    if all.len() > max.len() || (all.len() == max.len() && all > max.as_str()) {
        return None;
    }
    Some(if all.is_empty() { 0 } else { all.parse().expect("at most 19 digits") })
}

/// A decimal's digits without leading integer zeros or trailing fractional zeros ("007.50" → "7.5").
fn normalized(text: &str) -> String {
    let (i, f) = text.split_once('.').unwrap_or((text, ""));
    let (i, f) = (i.trim_start_matches('0'), f.trim_end_matches('0'));
    format!("{}.{f}", if i.is_empty() { "0" } else { i })
}
