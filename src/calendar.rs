//! Civil (proleptic Gregorian, UTC) dates from days since 1970-01-01 and back, for the places
//! that print or read dates: Kraken's RFC 3339 times (printed, and read for `deadline`), the exports' CSV times, the console's
//! pages. Howard Hinnant's `days_from_civil` / `civil_from_days`, exact for any i64 day.

/// Days since 1970-01-01 of a date (month 1–12, day 1–31).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date (year, month 1–12, day 1–31) of a day since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Nanoseconds since 1970 of an RFC 3339 time (`2021-04-01T00:18:45Z`, with optional fraction
/// and `Z` or a `±HH:MM` offset), as Kraken's `deadline` takes it; `None` if it is not one.
pub fn parse_rfc3339(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if !text.is_ascii()
        || b.len() < 20
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[4] != b'-'
        || b[7] != b'-'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |s: &str| if s.bytes().all(|c| c.is_ascii_digit()) { s.parse::<i64>().ok() } else { None };
    let (y, mo, d) = (num(&text[0..4])?, num(&text[5..7])?, num(&text[8..10])?);
    let (h, mi, sec) = (num(&text[11..13])?, num(&text[14..16])?, num(&text[17..19])?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = &text[19..];
    let mut nanos = 0i64;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 9 {
            return None;
        }
        nanos = num(&frac[..digits])? * 10i64.pow(9 - digits as u32);
        rest = &frac[digits..];
    }
    let offset = match rest.as_bytes() {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (oh, om) = (num(&rest[1..3])?, num(&rest[4..6])?);
            if oh > 23 || om > 59 {
                return None;
            }
            (oh * 3600 + om * 60) * if *sign == b'+' { 1 } else { -1 }
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset;
    u64::try_from(secs).ok()?.checked_mul(1_000_000_000)?.checked_add(nanos as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_times() {
        assert_eq!(parse_rfc3339("2021-04-01T00:18:45Z"), Some(1_617_236_325_000_000_000));
        assert_eq!(parse_rfc3339("2021-04-01T02:18:45.5+02:00"), Some(1_617_236_325_500_000_000));
        for bad in [
            "2021-04-01",
            "2021-04-01T00:18:45",
            "2021-13-01T00:00:00Z",
            "2021-04-01T00:18:45.Z",
            "x021-04-01T00:18:45Z",
            "2021-04-01T00:18:4é5Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn round_trips_and_known_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        for d in -800_000..800_000i64 {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
    }
}
