//! API-key two-factor authentication, as Kraken offers it per API key ("API key 2FA"): besides
//! the `API-Sign` signature, a key may require a one-time password that the client sends in the
//! request body field `otp`. A key's second factor is one of two kinds:
//!
//! - a static password chosen by the key owner: `otp` must equal it (compared in constant time);
//! - TOTP per RFC 6238 (HMAC-SHA1, 30-second step, 6 digits, T0 = 0): `otp` must be the code of
//!   the current step or of one step before or after (clock skew), and a code is accepted at most
//!   once per key (the verifier keeps the last accepted step, so replays and older codes fail).
//!
//! Time is an input: [`OtpVerifier::check`] and [`totp_code`] take the unix time in seconds and
//! there is no clock in this module, so tests run on a virtual clock and the caller decides which
//! clock counts. Base32 (RFC 4648, how authenticator apps show a TOTP secret) is written by hand
//! here rather than pulled in as a dependency.

use hmac::{Hmac, Mac};
use sha1::Sha1;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use subtle::ConstantTimeEq;

/// Length of a TOTP step in seconds (RFC 6238's X).
const STEP_SECS: u64 = 30;
/// Digits of a TOTP code.
const DIGITS: usize = 6;

/// A key's second factor, as configured by the operator.
pub enum SecondFactor {
    /// A static password: `otp` must equal these bytes.
    Password(Vec<u8>),
    /// A TOTP shared secret (raw bytes, not base32).
    Totp(Vec<u8>),
}

impl SecondFactor {
    fn kind(&self) -> &'static str {
        match self {
            SecondFactor::Password(_) => "Password",
            SecondFactor::Totp(_) => "Totp",
        }
    }
}

/// Shows only the kind, never the secret.
impl fmt::Debug for SecondFactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecondFactor::{}(..)", self.kind())
    }
}

/// Why an `otp` was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum OtpRefusal {
    /// No `otp` field, or an empty one.
    Missing,
    /// Not the password, or not a code of the accepted TOTP window.
    Wrong,
    /// A TOTP code of a step at or before the last accepted one for this key.
    Replayed,
}

/// Checks the `otp` of requests made with one key; shared by all requests of that key.
pub struct OtpVerifier {
    factor: SecondFactor,
    /// One more than the last accepted TOTP step; 0 when no code has been accepted yet
    /// (step 0 is a real step, so it cannot mean "none").
    next_step: AtomicU64,
}

/// Shows only the kind, never the secret.
impl fmt::Debug for OtpVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtpVerifier").field("kind", &self.factor.kind()).finish_non_exhaustive()
    }
}

impl OtpVerifier {
    pub fn new(f: SecondFactor) -> OtpVerifier {
        OtpVerifier { factor: f, next_step: AtomicU64::new(0) }
    }

    /// Checks the `otp` field of one request at unix time `now_secs`. Thread-safe (&self): of two
    /// concurrent requests with the same TOTP code at most one is accepted.
    pub fn check(&self, otp: Option<&str>, now_secs: u64) -> Result<(), OtpRefusal> {
        let otp = match otp {
            None | Some("") => return Err(OtpRefusal::Missing),
            Some(s) => s,
        };
        match &self.factor {
            // `ct_eq` on slices of different lengths is false; only the length can leak by timing.
            SecondFactor::Password(password) => {
                if bool::from(otp.as_bytes().ct_eq(password)) {
                    Ok(())
                } else {
                    Err(OtpRefusal::Wrong)
                }
            }
            SecondFactor::Totp(secret) => self.check_totp(secret, otp, now_secs),
        }
    }

    fn check_totp(&self, secret: &[u8], otp: &str, now_secs: u64) -> Result<(), OtpRefusal> {
        if otp.len() != DIGITS || !otp.bytes().all(|b| b.is_ascii_digit()) {
            return Err(OtpRefusal::Wrong);
        }
        let now = now_secs / STEP_SECS;
        // Compare against every step of the window (no early exit), oldest first.
        let window = [now.checked_sub(1), Some(now), now.checked_add(1)];
        let matches = window.map(|step| step.filter(|&s| bool::from(hotp(secret, s).as_bytes().ct_eq(otp.as_bytes()))));
        let mut matched = false;
        for step in matches.into_iter().flatten() {
            matched = true;
            // Consume the step: `fetch_max` is one atomic read-modify-write, so of several racing
            // requests with the same code exactly one sees a previous value at or below `step`.
            // `step + 1` cannot overflow: step <= u64::MAX / 30 + 1.
            if self.next_step.fetch_max(step + 1, Ordering::AcqRel) <= step {
                return Ok(());
            }
        }
        Err(if matched { OtpRefusal::Replayed } else { OtpRefusal::Wrong })
    }
}

/// HOTP (RFC 4226) with HMAC-SHA1, truncated to [`DIGITS`] digits, zero-padded.
fn hotp(secret: &[u8], counter: u64) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).expect("HMAC accepts a key of any length");
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = (digest[19] & 0x0f) as usize;
    let bin = u32::from_be_bytes([digest[offset], digest[offset + 1], digest[offset + 2], digest[offset + 3]]) & 0x7fff_ffff;
    format!("{:0width$}", bin % 10u32.pow(DIGITS as u32), width = DIGITS)
}

/// The TOTP code for a secret at a unix time (for tests and for the CLI to show the current code).
pub fn totp_code(secret: &[u8], unix_secs: u64) -> String {
    hotp(secret, unix_secs / STEP_SECS)
}

const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Parses a base32 (RFC 4648, no padding needed, case-insensitive, spaces ignored) TOTP secret as
/// authenticator apps show it. Trailing `=` padding is allowed; a length no byte string encodes to
/// (1, 3 or 6 characters past a multiple of 8) is refused. Unused low bits of the last character
/// are ignored, as authenticator apps do.
pub fn parse_base32(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches(['=', ' ']);
    let mut out = Vec::with_capacity(s.len() * 5 / 8);
    let (mut buffer, mut bits, mut chars) = (0u32, 0u32, 0usize);
    for c in s.bytes().filter(|&b| b != b' ') {
        let value = match c.to_ascii_uppercase() {
            c @ b'A'..=b'Z' => c - b'A',
            c @ b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        buffer = (buffer << 5) | u32::from(value);
        bits += 5;
        chars += 1;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    match chars % 8 {
        1 | 3 | 6 => None,
        _ => Some(out),
    }
}

/// Encodes bytes as base32 (RFC 4648 alphabet), uppercase, without padding.
pub fn to_base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(BASE32_ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(BASE32_ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;

    const RFC_SECRET: &[u8] = b"12345678901234567890";

    fn totp(secret: &[u8]) -> OtpVerifier {
        OtpVerifier::new(SecondFactor::Totp(secret.to_vec()))
    }

    #[test]
    fn rfc6238_sha1_vectors_truncated_to_six_digits() {
        let vectors = [
            (59, "94287082"),
            (1111111109, "07081804"),
            (1111111111, "14050471"),
            (1234567890, "89005924"),
            (2000000000, "69279037"),
            (20000000000, "65353130"),
        ];
        for (t, eight) in vectors {
            assert_eq!(totp_code(RFC_SECRET, t), &eight[2..], "t = {t}");
        }
        assert_eq!(totp_code(RFC_SECRET, 1111111109), "081804");
        assert_eq!(totp_code(RFC_SECRET, 1234567890), "005924");
    }

    #[test]
    fn rfc6238_vectors_accepted_by_the_verifier() {
        for (t, code) in [(59, "287082"), (1111111109, "081804"), (20000000000, "353130")] {
            assert_eq!(totp(RFC_SECRET).check(Some(code), t), Ok(()), "t = {t}");
        }
    }

    #[test]
    fn window_is_one_step_either_side_with_exact_boundaries() {
        let s = 1_000_000u64;
        let code = totp_code(RFC_SECRET, 30 * s);
        assert_eq!(code, totp_code(RFC_SECRET, 30 * s + 29));
        // Step s-2 ends at 30*s - 31; step s-1 starts at 30*s - 30.
        assert_eq!(totp(RFC_SECRET).check(Some(&code), 30 * s - 31), Err(OtpRefusal::Wrong));
        assert_eq!(totp(RFC_SECRET).check(Some(&code), 30 * s - 30), Ok(()));
        assert_eq!(totp(RFC_SECRET).check(Some(&code), 30 * s - 1), Ok(()));
        assert_eq!(totp(RFC_SECRET).check(Some(&code), 30 * s), Ok(()));
        assert_eq!(totp(RFC_SECRET).check(Some(&code), 30 * s + 29), Ok(()));
        assert_eq!(totp(RFC_SECRET).check(Some(&code), 30 * s + 30), Ok(()));
        // Step s+1 ends at 30*s + 59; step s+2 starts at 30*s + 60.
        assert_eq!(totp(RFC_SECRET).check(Some(&code), 30 * s + 59), Ok(()));
        assert_eq!(totp(RFC_SECRET).check(Some(&code), 30 * s + 60), Err(OtpRefusal::Wrong));
        assert_eq!(totp(RFC_SECRET).check(Some(&code), 30 * s - 60), Err(OtpRefusal::Wrong));
        assert_eq!(totp(RFC_SECRET).check(Some(&code), 30 * s + 89), Err(OtpRefusal::Wrong));
    }

    #[test]
    fn window_at_time_zero_and_far_future() {
        // Step 0 is a real step (no "no step yet" confusion) and there is no step -1.
        assert_eq!(totp(RFC_SECRET).check(Some(&totp_code(RFC_SECRET, 0)), 0), Ok(()));
        assert_eq!(totp(RFC_SECRET).check(Some(&totp_code(RFC_SECRET, 30)), 0), Ok(()));
        let v = totp(RFC_SECRET);
        assert_eq!(v.check(Some(&totp_code(RFC_SECRET, 0)), 5), Ok(()));
        assert_eq!(v.check(Some(&totp_code(RFC_SECRET, 0)), 6), Err(OtpRefusal::Replayed));
        // No overflow at the end of time.
        let end = u64::MAX;
        assert_eq!(totp(RFC_SECRET).check(Some(&totp_code(RFC_SECRET, end)), end), Ok(()));
    }

    #[test]
    fn same_code_twice_is_replayed() {
        let v = totp(RFC_SECRET);
        let t = 1_700_000_000;
        let code = totp_code(RFC_SECRET, t);
        assert_eq!(v.check(Some(&code), t), Ok(()));
        assert_eq!(v.check(Some(&code), t + 1), Err(OtpRefusal::Replayed));
        // Still replayed a step later, while the code is inside the window.
        assert_eq!(v.check(Some(&code), t + 30), Err(OtpRefusal::Replayed));
        // The next step's code is fine.
        assert_eq!(v.check(Some(&totp_code(RFC_SECRET, t + 30)), t + 30), Ok(()));
    }

    #[test]
    fn earlier_step_after_later_one_is_replayed() {
        let v = totp(RFC_SECRET);
        let t = 1_700_000_010; // step 56_666_667
        let later = totp_code(RFC_SECRET, t + 30);
        let current = totp_code(RFC_SECRET, t);
        let earlier = totp_code(RFC_SECRET, t - 30);
        assert_eq!(v.check(Some(&later), t), Ok(()));
        assert_eq!(v.check(Some(&current), t), Err(OtpRefusal::Replayed));
        assert_eq!(v.check(Some(&earlier), t), Err(OtpRefusal::Replayed));
        // Wrong codes stay Wrong, not Replayed.
        let wrong = if current == "000000" { "000001" } else { "000000" };
        assert_eq!(v.check(Some(wrong), t), Err(OtpRefusal::Wrong));
    }

    #[test]
    fn refusals_do_not_consume_the_step() {
        let v = totp(RFC_SECRET);
        let t = 1_700_000_000;
        let code = totp_code(RFC_SECRET, t);
        let wrong = if code == "123456" { "654321" } else { "123456" };
        assert_eq!(v.check(Some(wrong), t), Err(OtpRefusal::Wrong));
        assert_eq!(v.check(None, t), Err(OtpRefusal::Missing));
        assert_eq!(v.check(Some(&code), t), Ok(()));
    }

    #[test]
    fn totp_missing_and_malformed() {
        let v = totp(RFC_SECRET);
        let t = 59;
        assert_eq!(v.check(None, t), Err(OtpRefusal::Missing));
        assert_eq!(v.check(Some(""), t), Err(OtpRefusal::Missing));
        for bad in ["28708", "2870820", "94287082", "28708a", "abcdef", " 287082", "287082 ", "２87082", "-28708", "+28708"] {
            assert_eq!(v.check(Some(bad), t), Err(OtpRefusal::Wrong), "{bad:?}");
        }
        // None of those consumed anything.
        assert_eq!(v.check(Some("287082"), t), Ok(()));
    }

    #[test]
    fn static_password() {
        let v = OtpVerifier::new(SecondFactor::Password(b"correct horse".to_vec()));
        assert_eq!(v.check(Some("correct horse"), 0), Ok(()));
        // A password is not one-time: it may be used again, at any time.
        assert_eq!(v.check(Some("correct horse"), 1_700_000_000), Ok(()));
        assert_eq!(v.check(Some("wrong horse"), 0), Err(OtpRefusal::Wrong));
        assert_eq!(v.check(Some("correct"), 0), Err(OtpRefusal::Wrong));
        assert_eq!(v.check(Some("correct horse "), 0), Err(OtpRefusal::Wrong));
        assert_eq!(v.check(Some("Correct horse"), 0), Err(OtpRefusal::Wrong));
        assert_eq!(v.check(None, 0), Err(OtpRefusal::Missing));
        assert_eq!(v.check(Some(""), 0), Err(OtpRefusal::Missing));
    }

    #[test]
    fn racing_threads_accept_a_code_once() {
        let v = totp(RFC_SECRET);
        let t = 1_700_000_000;
        let code = totp_code(RFC_SECRET, t);
        let barrier = Barrier::new(64);
        let results: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..64)
                .map(|_| {
                    scope.spawn(|| {
                        barrier.wait();
                        v.check(Some(&code), t)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
        assert!(results.iter().all(|r| matches!(r, Ok(()) | Err(OtpRefusal::Replayed))));
    }

    #[test]
    fn debug_shows_only_the_kind() {
        let pw = SecondFactor::Password(b"hunter2".to_vec());
        let secret = SecondFactor::Totp(b"s3cr3t-bytes".to_vec());
        assert_eq!(format!("{pw:?}"), "SecondFactor::Password(..)");
        assert_eq!(format!("{secret:?}"), "SecondFactor::Totp(..)");
        let v = format!("{:?}", OtpVerifier::new(SecondFactor::Totp(b"s3cr3t-bytes".to_vec())));
        assert!(v.contains("Totp") && !v.contains("s3cr3t") && !v.contains("115"), "{v}");
        assert!(!format!("{:#?}", OtpVerifier::new(pw)).contains("hunter2"));
    }

    #[test]
    fn base32_rfc4648_vectors() {
        let vectors: [(&[u8], &str); 7] = [
            (b"", ""),
            (b"f", "MY"),
            (b"fo", "MZXQ"),
            (b"foo", "MZXW6"),
            (b"foob", "MZXW6YQ"),
            (b"fooba", "MZXW6YTB"),
            (b"foobar", "MZXW6YTBOI"),
        ];
        for (bytes, text) in vectors {
            assert_eq!(to_base32(bytes), text);
            assert_eq!(parse_base32(text).as_deref(), Some(bytes), "{text}");
        }
        // With RFC padding, lowercase, and spaces as apps group the secret.
        assert_eq!(parse_base32("MY======").unwrap(), b"f");
        assert_eq!(parse_base32("mzxw 6ytb oi").unwrap(), b"foobar");
        assert_eq!(parse_base32("GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ").unwrap(), RFC_SECRET);
        assert_eq!(to_base32(RFC_SECRET), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    }

    #[test]
    fn base32_refuses_garbage() {
        for bad in ["M", "MZX", "MZXW6Y", "MZ1Q", "MZ0Q", "MZ8Q", "MY=Q", "MY-", "MÿXQ"] {
            assert_eq!(parse_base32(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn base32_round_trip() {
        let mut bytes = Vec::new();
        for len in 0..64u32 {
            assert_eq!(parse_base32(&to_base32(&bytes)).as_deref(), Some(&bytes[..]), "len {len}");
            assert_eq!(parse_base32(&to_base32(&bytes).to_lowercase()).as_deref(), Some(&bytes[..]));
            bytes.push((len.wrapping_mul(0x9e37_79b9) >> 13) as u8);
        }
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(parse_base32(&to_base32(&all)).unwrap(), all);
    }
}
