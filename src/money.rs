//! Exact decimal money: Kraken sends and receives decimal strings; Calamari keeps integers of a
//! minimal unit (10^-decimals). Nothing here touches floating point.

/// Parses a plain non-negative decimal (`"12"`, `"0.5"`, `".5"`, `"12.340"`) into integer units of
/// 10^-decimals. Returns `None` for anything else: signs, exponents, more fractional digits than
/// `decimals` (unless they are zeros), empty strings, overflow.
pub fn parse_units(text: &str, decimals: u32) -> Option<i128> {
    let text = text.trim();
    if text.is_empty() || text.len() > 60 {
        return None;
    }
    let (int_part, frac_part) = match text.split_once('.') {
        Some((i, f)) => (i, f),
        None => (text, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if !int_part.bytes().all(|b| b.is_ascii_digit()) || !frac_part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac_trimmed = frac_part.trim_end_matches('0');
    if frac_trimmed.len() > decimals as usize {
        return None;
    }
    let mut value: i128 = 0;
    for b in int_part.bytes() {
        value = value.checked_mul(10)?.checked_add((b - b'0') as i128)?;
    }
    for i in 0..decimals as usize {
        let digit = frac_trimmed.as_bytes().get(i).map(|b| (b - b'0') as i128).unwrap_or(0);
        value = value.checked_mul(10)?.checked_add(digit)?;
    }
    if value > MAX_UNITS {
        return None;
    }
    Some(value)
}

/// Largest amount accepted from outside, in any unit: far above any real balance, far below
/// where products of two amounts could overflow i128 (10^18 × 10^18 < 1.7 × 10^38).
pub const MAX_UNITS: i128 = 1_000_000_000_000_000_000;

/// Formats integer units of 10^-decimals as a decimal string with exactly `decimals` places
/// (`format_units(12345, 4)` is `"1.2345"`, `format_units(-5, 2)` is `"-0.05"`).
pub fn format_units(units: i128, decimals: u32) -> String {
    let neg = units < 0;
    let abs = units.unsigned_abs();
    let scale = 10u128.pow(decimals);
    let int = abs / scale;
    let frac = abs % scale;
    let mut s = String::with_capacity(24);
    if neg {
        s.push('-');
    }
    s.push_str(&int.to_string());
    if decimals > 0 {
        s.push('.');
        let f = frac.to_string();
        for _ in f.len()..decimals as usize {
            s.push('0');
        }
        s.push_str(&f);
    }
    s
}

/// Re-expresses `units` of 10^-from as units of 10^-to, which must not lose digits when `to < from`
/// unless `round` says how: returns (value, exact).
pub fn rescale_floor(units: i128, from: u32, to: u32) -> i128 {
    if to >= from {
        units * 10i128.pow(to - from)
    } else {
        units.div_euclid(10i128.pow(from - to))
    }
}

/// Divides rounding half up (for non-negative numerators and positive denominators).
pub fn div_round_half_up(num: i128, den: i128) -> i128 {
    debug_assert!(num >= 0 && den > 0);
    (num + den / 2) / den
}

/// Divides rounding up (for non-negative numerators and positive denominators).
pub fn div_ceil(num: i128, den: i128) -> i128 {
    debug_assert!(num >= 0 && den > 0);
    (num + den - 1) / den
}

/// Parses a percent such as `"0.40"` into parts per million (4000).
pub fn percent_to_ppm(text: &str) -> Option<i128> {
    parse_units(text, 4)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_kraken_decimals() {
        assert_eq!(parse_units("1.25", 8), Some(125_000_000));
        assert_eq!(parse_units("37500", 1), Some(375_000));
        assert_eq!(parse_units(".5", 2), Some(50));
        assert_eq!(parse_units("0.10000000", 1), Some(1));
        assert_eq!(parse_units("0.123", 2), None);
        assert_eq!(parse_units("-1", 2), None);
        assert_eq!(parse_units("1e5", 2), None);
        assert_eq!(parse_units("", 2), None);
        assert_eq!(parse_units(".", 2), None);
        assert_eq!(parse_units("1.2.3", 2), None);
        assert_eq!(parse_units("99999999999999999999999999999", 8), None);
        assert_eq!(percent_to_ppm("0.40"), Some(4000));
    }

    #[test]
    fn formats_with_fixed_places() {
        assert_eq!(format_units(12345, 4), "1.2345");
        assert_eq!(format_units(-5, 2), "-0.05");
        assert_eq!(format_units(7, 0), "7");
        assert_eq!(format_units(0, 3), "0.000");
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(units in 0i128..1_000_000_000_000_000, decimals in 0u32..12) {
            prop_assert_eq!(parse_units(&format_units(units, decimals), decimals), Some(units));
        }
    }
}
