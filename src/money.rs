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
    let mut s = String::with_capacity(24);
    write_units(&mut s, units, decimals);
    s
}

/// [`format_units`] appended to `out` (the public market-data answers are written straight into
/// their body with it: no string per number).
pub fn write_units(out: &mut String, units: i128, decimals: u32) {
    if units < 0 {
        out.push('-');
    }
    let abs = units.unsigned_abs();
    let scale = 10u128.pow(decimals);
    let mut digits = [0u8; 40];
    write_digits(out, abs / scale, &mut digits, 0);
    if decimals > 0 {
        out.push('.');
        write_digits(out, abs % scale, &mut digits, decimals as usize);
    }
}

/// The decimal digits of `n`, left-padded with zeros to `width`.
fn write_digits(out: &mut String, mut n: u128, buf: &mut [u8; 40], width: usize) {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    while buf.len() - i < width.min(buf.len()) {
        i -= 1;
        buf[i] = b'0';
    }
    // Only ASCII digits were written.
    out.push_str(std::str::from_utf8(&buf[i..]).unwrap_or("0"));
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
    // In 64 bits when both fit and the sum does (every fill rounds four running totals: the
    // 128-bit division is a call into the software routine, ~60 instructions): the same quotient.
    if let (Ok(n), Ok(d)) = (u64::try_from(num), u64::try_from(den)) {
        if let Some(s) = n.checked_add(d / 2) {
            return i128::from(s / d);
        }
    }
    (num + den / 2) / den
}

/// Divides rounding up (for non-negative numerators and positive denominators).
pub fn div_ceil(num: i128, den: i128) -> i128 {
    debug_assert!(num >= 0 && den > 0);
    // Most holds and fees fit 64 bits, where the division is one instruction instead of a call
    // into the 128-bit software routine (every order's hold divides).
    if let (Ok(n), Ok(d)) = (u64::try_from(num), u64::try_from(den)) {
        return i128::from(n.div_ceil(d));
    }
    (num + den - 1) / den
}

/// Whether `v` is a whole number of `step`s (`step > 0`): in 64 bits when both fit, as
/// [`div_ceil`] (every order placed checks its volume against its lot step).
pub fn is_multiple(v: i128, step: i128) -> bool {
    debug_assert!(step > 0);
    match (u64::try_from(v), u64::try_from(step)) {
        (Ok(v), Ok(step)) => v % step == 0,
        _ => v % step == 0,
    }
}

/// Parses a percent such as `"0.40"` into parts per million (4000).
pub fn percent_to_ppm(text: &str) -> Option<i128> {
    parse_units(text, 4)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The 64-bit paths of the divisions give the 128-bit formulas' quotients, up to and
        /// past the edges where an operand or the rounding sum leaves 64 bits.
        #[test]
        fn divisions_in_64_bits_are_the_128_bit_formulas(num in 0i128..=i128::from(u64::MAX) * 4, den in 1i128..=i128::from(u64::MAX) * 2) {
            prop_assert_eq!(div_round_half_up(num, den), (num + den / 2) / den);
            prop_assert_eq!(div_ceil(num, den), (num + den - 1) / den);
        }
    }

    #[test]
    fn division_edges() {
        let max = i128::from(u64::MAX);
        for (num, den) in
            [(max, 1), (max, 2), (max, 3), (max - 1, 3), (max, max), (max - 1, max), (max + 1, 2), (7, 2), (5, 10), (4, 10), (0, 9)]
        {
            assert_eq!(div_round_half_up(num, den), (num + den / 2) / den, "{num} / {den}");
        }
    }

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

    /// The digit writer against std's formatting, signs, zeros and widths included.
    fn reference(units: i128, decimals: u32) -> String {
        let scale = 10u128.pow(decimals);
        let (sign, abs) = (if units < 0 { "-" } else { "" }, units.unsigned_abs());
        if decimals == 0 {
            return format!("{sign}{abs}");
        }
        format!("{sign}{}.{:0w$}", abs / scale, abs % scale, w = decimals as usize)
    }

    #[test]
    fn writes_the_extremes() {
        for (u, d) in [(i128::MAX, 0), (i128::MIN, 18), (i128::MIN, 0), (1, 38), (0, 0), (-1, 1), (10, 1)] {
            assert_eq!(format_units(u, d), reference(u, d), "{u} {d}");
        }
    }

    proptest! {
        #[test]
        fn writes_what_std_formats(units in any::<i128>(), decimals in 0u32..20) {
            prop_assert_eq!(format_units(units, decimals), reference(units, decimals));
        }

        #[test]
        fn is_multiple_agrees_with_the_wide_remainder(v in any::<i128>(), u in any::<u64>(), step in 1i128..=i128::MAX, small in 1i128..1_000) {
            // Any value and step (mostly the 128-bit path), and values that fit 64 bits against
            // small steps (the 64-bit path, multiples and not).
            prop_assert_eq!(is_multiple(v, step), v % step == 0);
            for w in [i128::from(u), i128::from(u) / small * small] {
                prop_assert_eq!(is_multiple(w, small), w % small == 0);
            }
        }

        #[test]
        fn format_then_parse_round_trips(units in 0i128..1_000_000_000_000_000, decimals in 0u32..12) {
            prop_assert_eq!(parse_units(&format_units(units, decimals), decimals), Some(units));
        }
    }
}
